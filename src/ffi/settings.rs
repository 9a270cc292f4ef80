//! Compression settings without a codebook, for C callers: an error bound named as in Rust,
//! the CLI and Python, turned into the `vq` metalayer's content.

use super::guard;
use super::train::{BLOSC2_VQ_DTYPE_FLOAT32, BLOSC2_VQ_DTYPE_FLOAT64};
use crate::engine::bound::{finite_range, ErrorBound};
use crate::engine::settings::Settings;
use crate::error::{Error, Result};
use std::ffi::{c_int, c_void};

/// An error bound: set exactly one field (0 means "not given"), except that `max_error` may
/// go with `pw_rel_error` as its absolute floor.
///
/// - `max_error`: every value within `max_error` (absolute);
/// - `rel_error`: within `rel_error × (max − min)` of the array's finite values;
/// - `pw_rel_error`: within `max(max_error, pw_rel_error × |x|)` (zeros stay exact);
/// - `psnr`: the absolute bound whose uniform error gives this PSNR (dB) over the range.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct blosc2_vq_error_bound {
    /// Absolute bound (or the floor of `pw_rel_error`); 0: not given.
    pub max_error: f64,
    /// Bound relative to the value range; 0: not given.
    pub rel_error: f64,
    /// Point-wise relative bound; 0: not given.
    pub pw_rel_error: f64,
    /// PSNR target in dB; 0: not given.
    pub psnr: f64,
}

fn given(v: f64) -> Option<f64> {
    (v != 0.0).then_some(v)
}

/// The user's bound from the C struct.
pub fn error_bound_from_c(b: &blosc2_vq_error_bound) -> Result<ErrorBound> {
    ErrorBound::from_names(
        given(b.max_error),
        given(b.rel_error),
        given(b.pw_rel_error),
        given(b.psnr),
    )
}

/// Builds the `vq` metalayer content that makes the codec compress without a codebook, to
/// `bound`. `data` (`n_values` values of `dtype`, `BLOSC2_VQ_DTYPE_FLOAT32` or `_FLOAT64`)
/// is read only by `rel_error` and `psnr`, for the value range; it may be NULL otherwise.
/// On success `*out` holds `*out_len` bytes to store as the SChunk's `vq` metalayer, to
/// free with `blosc2_vq_free`. Returns 0, or a negative code for a bad bound (the message
/// from `blosc2_vq_last_error_message` names the field).
///
/// # Safety
/// `bound` must point to a `blosc2_vq_error_bound`; `data` must be NULL or point to
/// `n_values` values of `dtype`; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_settings_new(
    bound: *const blosc2_vq_error_bound,
    data: *const c_void,
    dtype: i32,
    n_values: i64,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_settings_new", || {
        if bound.is_null() {
            return Err(Error::NullPointer("bound"));
        }
        if out.is_null() {
            return Err(Error::NullPointer("out"));
        }
        if out_len.is_null() {
            return Err(Error::NullPointer("out_len"));
        }
        // SAFETY: checked non-NULL; the caller passes a valid struct.
        let requested = error_bound_from_c(unsafe { &*bound })?;
        let range = if requested.needs_range() {
            if data.is_null() {
                return Err(Error::NullPointer(
                    "data (rel_error and psnr read the value range)",
                ));
            }
            let n = usize::try_from(n_values)
                .ok()
                .filter(|&n| n > 0 && n <= isize::MAX as usize / 8)
                .ok_or_else(|| Error::param("n_values", format!("{n_values}")))?;
            let range = match dtype {
                BLOSC2_VQ_DTYPE_FLOAT32 => {
                    // SAFETY: the caller passes n floats at data; every bit pattern is a float.
                    let s = unsafe { std::slice::from_raw_parts(data.cast::<f32>(), n) };
                    finite_range(s.iter().map(|&v| f64::from(v)))
                }
                BLOSC2_VQ_DTYPE_FLOAT64 => {
                    // SAFETY: the caller passes n doubles at data.
                    let s = unsafe { std::slice::from_raw_parts(data.cast::<f64>(), n) };
                    finite_range(s.iter().copied())
                }
                other => {
                    return Err(Error::UnsupportedDtype(format!(
                        "dtype {other}: use BLOSC2_VQ_DTYPE_FLOAT32 or BLOSC2_VQ_DTYPE_FLOAT64"
                    )))
                }
            };
            // A span wider than the largest double (±1e308 data) counts as the largest double.
            Some(range.map_or(0.0, |(lo, hi)| (hi - lo).min(f64::MAX)))
        } else {
            None
        };
        let settings = Settings::new(requested, range)?;
        // SAFETY: both checked non-NULL; the caller passes writable locations.
        unsafe { super::hand_over(&settings.to_msgpack(), out, out_len) }
    })
}
