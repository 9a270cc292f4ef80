//! Reading a codebook from C: what it holds and its arrays.

use super::train::{metric_to_c, scalar_method_to_c};
use super::{guard, hand_over, len_from_c};
use crate::codebook::{ModelKind, PrototypeStorage, Transform};
use crate::error::{Error, Result};
use std::ffi::c_int;

/// What a codebook holds, as filled by [`blosc2_vq_codebook_inspect`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct blosc2_vq_codebook_info {
    /// Codebook format version.
    pub format_version: i32,
    /// The kind: a `BLOSC2_VQ_MODEL_*` constant.
    pub model: i32,
    /// Fuzzy C-Means metric (`BLOSC2_VQ_METRIC_*`); 0 for other models.
    pub metric: i32,
    /// Fuzzy C-Means fuzzifier; 0 for other models.
    pub fuzzifier: f64,
    /// Number of prototypes `k`.
    pub n_prototypes: i32,
    /// Values per tile `p` (the product of the tile shape).
    pub n_features: i32,
    /// Number of tile dimensions.
    pub tile_ndim: i32,
    /// Tile sides (the first `tile_ndim` are set).
    pub tile_shape: [i32; 3],
    /// Bits per quantized weight.
    pub weight_bits: i32,
    /// The codebook's fingerprint (xxh3-64 of its content).
    pub fingerprint: u64,
    /// Training tiles used.
    pub n_samples: i64,
    /// Training iterations run.
    pub iterations: i32,
    /// Final training loss (mean squared error in standardized space).
    pub loss: f64,
    /// Residual VQ: number of stages (`n_prototypes` is the total); 1 for other models.
    pub n_stages: i32,
    /// Residual VQ: bits of the removed tile mean (0: none).
    pub mean_bits: i32,
    /// Scalar quantizer: `BLOSC2_VQ_SCALAR_*`; -1 for other models.
    pub scalar_method: i32,
    /// Sparse weights kept per tile (0: all).
    pub kept_weights: i32,
    /// The log10 transform's floor, or 0 without a transform.
    pub log10_floor: f64,
    /// Residual VQ: the encoder's beam width; 1 for other models.
    pub beam: i32,
    /// The error bound blocks are coded to, or 0 for fixed-rate blocks.
    pub max_error: f64,
    /// Bits per stored prototype value: 64 (formats 1 and 2), 32 or 16.
    pub prototype_bits: i32,
}

fn codebook_from_c(codebook: *const u8, len: i64) -> Result<crate::Codebook> {
    if codebook.is_null() {
        return Err(Error::NullPointer("codebook"));
    }
    let len = len_from_c(len, "codebook_len")?;
    // SAFETY: the caller passes len readable bytes at codebook.
    let bytes = unsafe { std::slice::from_raw_parts(codebook, len) };
    crate::Codebook::from_msgpack(bytes)
}

/// Validates codebook bytes and describes them in `out`. Returns 0, or a negative code when
/// the bytes are not a valid codebook (`blosc2_vq_last_error_message` says why).
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes and `out` to a writable struct.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_inspect(
    codebook: *const u8,
    codebook_len: i64,
    out: *mut blosc2_vq_codebook_info,
) -> c_int {
    guard("blosc2_vq_codebook_inspect", || {
        if out.is_null() {
            return Err(Error::NullPointer("out"));
        }
        let cb = codebook_from_c(codebook, codebook_len)?;
        let (metric, fuzzifier) = match *cb.model() {
            ModelKind::FuzzyCMeans { fuzzifier, metric } => (metric_to_c(metric), fuzzifier),
            _ => (0, 0.0),
        };
        let (n_stages, mean_bits, beam) = match *cb.model() {
            ModelKind::Residual {
                n_stages,
                mean_bits,
                beam,
                ..
            } => (n_stages as i32, i32::from(mean_bits), beam as i32),
            _ => (1, 0, 1),
        };
        let scalar_method = match *cb.model() {
            ModelKind::Scalar { method } => scalar_method_to_c(method),
            _ => -1,
        };
        let log10_floor = match cb.transform() {
            Transform::Log10 { floor } => floor,
            Transform::Identity => 0.0,
        };
        let mut tile_shape = [0i32; 3];
        for (t, &s) in tile_shape.iter_mut().zip(cb.tile_shape()) {
            *t = s as i32;
        }
        let training = cb.training();
        let described = blosc2_vq_codebook_info {
            format_version: cb.format_version() as i32,
            model: i32::from(cb.kind().code()),
            metric,
            fuzzifier,
            n_prototypes: cb.n_prototypes() as i32,
            n_features: cb.n_features() as i32,
            tile_ndim: cb.tile_shape().len() as i32,
            tile_shape,
            weight_bits: i32::from(cb.weight_bits()),
            fingerprint: cb.fingerprint(),
            n_samples: training.n_samples as i64,
            iterations: training.iterations as i32,
            loss: training.loss,
            n_stages,
            mean_bits,
            scalar_method,
            kept_weights: cb.kept_weights() as i32,
            log10_floor,
            beam,
            max_error: cb.max_error().unwrap_or(0.0),
            prototype_bits: match cb.prototype_storage() {
                PrototypeStorage::Float64 => 64,
                PrototypeStorage::Float32 => 32,
                PrototypeStorage::Float16 => 16,
            },
        };
        // SAFETY: checked non-NULL; the caller passes a writable struct.
        unsafe { out.write(described) };
        Ok(0)
    })
}

/// Copies a codebook's arrays into caller buffers: the scaler's `mean` and `scale`
/// (`n_features` doubles each) and the `prototypes` (`n_prototypes × n_features` doubles,
/// row-major, standardized space); sizes as [`blosc2_vq_codebook_inspect`] reports. Any of
/// the three may be NULL to skip it. Returns 0 or a negative code.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; each non-NULL buffer must have room for
/// its array.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_arrays(
    codebook: *const u8,
    codebook_len: i64,
    mean: *mut f64,
    scale: *mut f64,
    prototypes: *mut f64,
) -> c_int {
    guard("blosc2_vq_codebook_arrays", || {
        let cb = codebook_from_c(codebook, codebook_len)?;
        for (dst, src) in [
            (mean, cb.scaler().mean.as_slice()),
            (scale, cb.scaler().scale.as_slice()),
            (prototypes, cb.prototypes()),
        ] {
            if !dst.is_null() {
                // SAFETY: the caller provides room for src.len() doubles at dst.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
            }
        }
        Ok(0)
    })
}

/// Re-seals a residual codebook with an error bound (no retraining): every value of the
/// blocks it codes decodes within `max_error` of the original (in decades under its log10
/// transform: `log10(1.1)` is 10 %). `max_error` 0 removes the bound (fixed-rate blocks).
/// On success `*out` holds a new codebook of `*out_len` bytes, to free with
/// `blosc2_vq_free`. Returns 0, or a negative code for a bad bound or codebook.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_with_max_error(
    codebook: *const u8,
    codebook_len: i64,
    max_error: f64,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_with_max_error", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            resealed(codebook, codebook_len, out, out_len, |cb| {
                if max_error == 0.0 {
                    cb.without_max_error()
                } else {
                    cb.with_max_error(max_error)
                }
            })
        }
    })
}

/// Re-seals a codebook with its prototypes stored in `bits` (16, 32 or 64) bits per value (no
/// retraining): 16 halves a float32 codebook and moves each prototype by up to 2^-11 of
/// itself (error-bounded blocks keep their bound; fixed-rate blocks change a little). On
/// success `*out` holds the new codebook of `*out_len` bytes, to free with `blosc2_vq_free`.
/// Returns 0 or a negative code.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_with_prototype_bits(
    codebook: *const u8,
    codebook_len: i64,
    bits: i32,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_with_prototype_bits", || {
        let storage = match bits {
            16 => PrototypeStorage::Float16,
            32 => PrototypeStorage::Float32,
            64 => PrototypeStorage::Float64,
            other => {
                return Err(Error::param(
                    "bits",
                    format!("{other}: prototypes are stored in 16, 32 or 64 bits"),
                ))
            }
        };
        // SAFETY: the caller's contract, passed on.
        unsafe {
            resealed(codebook, codebook_len, out, out_len, |cb| {
                cb.with_prototype_storage(storage)
            })
        }
    })
}

/// A residual codebook cut to its first `n_stages` stages (1 to its stage count; each
/// stage corrects the ones before it, so the first stages are a complete, coarser codebook). No retraining. On success `*out` holds the new codebook of
/// `*out_len` bytes, to free with `blosc2_vq_free`. Returns 0, or a negative code for a bad
/// value (the message says which) or codebook.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_with_stages(
    codebook: *const u8,
    codebook_len: i64,
    n_stages: i32,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_with_stages", || {
        let n = u32::try_from(n_stages)
            .map_err(|_| Error::param("n_stages", format!("{n_stages} is out of range")))?;
        // SAFETY: the caller's contract, passed on.
        unsafe { resealed(codebook, codebook_len, out, out_len, |cb| cb.with_stages(n)) }
    })
}

/// A residual codebook whose encoder keeps `beam` candidate paths (1 to 64; 1 is greedy).
/// Blocks decode the same whatever the beam. No retraining. On success `*out` holds the new codebook of
/// `*out_len` bytes, to free with `blosc2_vq_free`. Returns 0, or a negative code for a bad
/// value (the message says which) or codebook.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_with_beam(
    codebook: *const u8,
    codebook_len: i64,
    beam: i32,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_with_beam", || {
        let n = u32::try_from(beam)
            .map_err(|_| Error::param("beam", format!("{beam} is out of range")))?;
        // SAFETY: the caller's contract, passed on.
        unsafe { resealed(codebook, codebook_len, out, out_len, |cb| cb.with_beam(n)) }
    })
}

/// A weight codebook (Archetypal Analysis, Fuzzy C-Means) with its weights quantized to
/// `bits` bits (1 to 8). No retraining. On success `*out` holds the new codebook of
/// `*out_len` bytes, to free with `blosc2_vq_free`. Returns 0, or a negative code for a bad
/// value (the message says which) or codebook.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_with_weight_bits(
    codebook: *const u8,
    codebook_len: i64,
    bits: i32,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_with_weight_bits", || {
        let n = u8::try_from(bits)
            .map_err(|_| Error::param("bits", format!("{bits} is out of range")))?;
        // SAFETY: the caller's contract, passed on.
        unsafe {
            resealed(codebook, codebook_len, out, out_len, |cb| {
                cb.with_weight_bits(n)
            })
        }
    })
}

/// A weight codebook keeping each tile's `kept` largest weights (sparse weights; 0 keeps
/// all, else below the prototype count). No retraining. On success `*out` holds the new codebook of
/// `*out_len` bytes, to free with `blosc2_vq_free`. Returns 0, or a negative code for a bad
/// value (the message says which) or codebook.
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_with_kept_weights(
    codebook: *const u8,
    codebook_len: i64,
    kept: i32,
    out: *mut *mut u8,
    out_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_with_kept_weights", || {
        let n = u32::try_from(kept)
            .map_err(|_| Error::param("kept", format!("{kept} is out of range")))?;
        // SAFETY: the caller's contract, passed on.
        unsafe {
            resealed(codebook, codebook_len, out, out_len, |cb| {
                cb.with_kept_weights(n)
            })
        }
    })
}

/// Reads a codebook from C, applies `edit` and hands the re-sealed codebook over in
/// `*out`/`*out_len` (the body of every `blosc2_vq_codebook_with_*`).
///
/// # Safety
/// `codebook` must point to `codebook_len` bytes; `out` and `out_len` must be NULL (refused)
/// or writable.
unsafe fn resealed(
    codebook: *const u8,
    codebook_len: i64,
    out: *mut *mut u8,
    out_len: *mut i64,
    edit: impl FnOnce(crate::Codebook) -> Result<crate::Codebook>,
) -> Result<c_int> {
    if out.is_null() {
        return Err(Error::NullPointer("out"));
    }
    if out_len.is_null() {
        return Err(Error::NullPointer("out_len"));
    }
    let cb = edit(codebook_from_c(codebook, codebook_len)?)?;
    // SAFETY: both checked non-NULL; the caller passes writable locations.
    unsafe { hand_over(&cb.to_msgpack(), out, out_len) }
}
