//! The C training API: `blosc2_vq_train_params` (the flat [`TrainOptions`] in C) and
//! training a codebook from C.

use super::guard;
use crate::codebook::{ScalarMethod, Transform};
use crate::error::{Error, Result};
use crate::kinds::{Kind, TrainOptions};
use crate::tiles::geometry::MAX_DIMS;
use crate::train::Metric;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ops::ControlFlow;

// The model constants are the kinds' block codes (`Kind::code`; a unit test checks them).

/// `blosc2_vq_train_params.model`: Fuzzy C-Means.
pub const BLOSC2_VQ_MODEL_FUZZY_CMEANS: i32 = 1;
/// `blosc2_vq_train_params.model`: Archetypal Analysis.
pub const BLOSC2_VQ_MODEL_ARCHETYPAL: i32 = 2;
/// `blosc2_vq_train_params.model`: k-means (hard vector quantization, one codeword index per
/// tile; `n_prototypes` codewords, at most 1024).
pub const BLOSC2_VQ_MODEL_KMEANS: i32 = 3;
/// `blosc2_vq_train_params.model`: residual (multi-stage) vector quantization: `n_stages`
/// stages of `n_prototypes` codewords (at most 4096), optionally after removing the tile
/// mean quantized to `mean_bits`.
pub const BLOSC2_VQ_MODEL_RESIDUAL: i32 = 4;
/// `blosc2_vq_train_params.model`: a scalar quantizer (every value to one of
/// `2^scalar_bits` levels; the tile shape is ignored).
pub const BLOSC2_VQ_MODEL_SCALAR: i32 = 5;
/// `blosc2_vq_train_params.scalar_method`: equal-width bins.
pub const BLOSC2_VQ_SCALAR_UNIFORM: i32 = 0;
/// `blosc2_vq_train_params.scalar_method`: equal-count bins (levels at the bins' medians).
pub const BLOSC2_VQ_SCALAR_QUANTILE: i32 = 1;
/// `blosc2_vq_train_params.scalar_method`: Lloyd-Max (levels minimizing squared error).
pub const BLOSC2_VQ_SCALAR_LLOYD_MAX: i32 = 2;
/// `blosc2_vq_train_params.metric`: euclidean distance.
pub const BLOSC2_VQ_METRIC_EUCLIDEAN: i32 = 0;
/// `blosc2_vq_train_params.metric`: cosine distance.
pub const BLOSC2_VQ_METRIC_COSINE: i32 = 1;
/// Data type of training data: `float`.
pub const BLOSC2_VQ_DTYPE_FLOAT32: i32 = 0;
/// Data type of training data: `double`.
pub const BLOSC2_VQ_DTYPE_FLOAT64: i32 = 1;

/// `blosc2_vq_codebook_train` returns this when its progress callback stopped it (not a
/// c-blosc2 code: below them all).
pub const BLOSC2_VQ_ERROR_CANCELLED: i32 = crate::error::blosc2_code::CANCELLED;

/// A training progress callback: `user_data` as given in `blosc2_vq_train_params`, the
/// training iterations done so far and the most the fit may run (`total`, for a progress
/// bar; a fit that converges stops earlier), and the model's current loss. Return 0 to go
/// on, anything else to stop training. Called on the thread that called
/// `blosc2_vq_codebook_train`, between iterations.
#[allow(non_camel_case_types)] // a C type name
pub type blosc2_vq_progress_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, done: i64, total: i64, loss: f64) -> c_int>;

/// Parameters for [`blosc2_vq_codebook_train`]. Fill with [`blosc2_vq_train_params_init`],
/// then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct blosc2_vq_train_params {
    /// A `BLOSC2_VQ_MODEL_*` constant.
    pub model: i32,
    /// Number of prototypes (centres, archetypes or codewords), 1 to 1024; for
    /// `BLOSC2_VQ_MODEL_RESIDUAL` the codewords per stage, 1 to 4096; ignored by
    /// `BLOSC2_VQ_MODEL_SCALAR` (which has `2^scalar_bits` levels).
    pub n_prototypes: i32,
    /// Number of tile dimensions, 1 to 3 (the data's last axes).
    pub tile_ndim: i32,
    /// Tile sides; the first `tile_ndim` are used.
    pub tile_shape: [i32; 3],
    /// Number of random training tiles.
    pub n_samples: i64,
    /// Seed for tile sampling and model initialization.
    pub seed: u64,
    /// Iteration limit.
    pub max_iter: i32,
    /// Convergence tolerance.
    pub tol: f64,
    /// Fuzzy C-Means fuzzifier (> 1).
    pub fuzzifier: f64,
    /// Fuzzy C-Means metric: `BLOSC2_VQ_METRIC_EUCLIDEAN` or `BLOSC2_VQ_METRIC_COSINE`.
    pub metric: i32,
    /// Archetypal Analysis restarts (best kept).
    pub n_init: i32,
    /// Bits per quantized weight, 1 to 8.
    pub weight_bits: i32,
    /// Residual VQ: number of stages, 1 to 16.
    pub n_stages: i32,
    /// Residual VQ: bits of the tile mean removed first (0: none), 0 to 12.
    pub mean_bits: i32,
    /// Scalar quantizer: `BLOSC2_VQ_SCALAR_*`.
    pub scalar_method: i32,
    /// Scalar quantizer: bits per value (`2^scalar_bits` levels), 1 to 12.
    pub scalar_bits: i32,
    /// Fuzzy C-Means and Archetypal Analysis: keep only this many of each tile's largest
    /// weights (sparse weights); 0 keeps them all.
    pub kept_weights: i32,
    /// If positive, code `log10(max(value, log10_floor))` (values at or below the floor
    /// decode as 0); 0 codes values as they are.
    pub log10_floor: f64,
    /// Residual VQ: candidate paths the encoder keeps from stage to stage (1: greedy), 1 to 64.
    pub beam: i32,
    /// Residual VQ: if positive, seal this error bound into the codebook: every decoded value
    /// within it of the original (in decades when `log10_floor` is set: `log10(1.1)` is
    /// 10 %); 0 leaves blocks fixed-rate.
    pub max_error: f64,
    /// Called after every training iteration (NULL: not called); returning non-zero stops
    /// training, and `blosc2_vq_codebook_train` returns `BLOSC2_VQ_ERROR_CANCELLED`.
    pub progress: blosc2_vq_progress_fn,
    /// Passed to `progress` as is.
    pub progress_user_data: *mut c_void,
}

/// The kind of a `BLOSC2_VQ_MODEL_*` value.
pub(crate) fn kind_from_c(model: i32) -> Result<Kind> {
    u8::try_from(model)
        .ok()
        .and_then(Kind::from_code)
        .ok_or_else(|| Error::param("model", format!("unknown model {model}")))
}

/// The C value of a metric.
pub(crate) fn metric_to_c(metric: Metric) -> i32 {
    match metric {
        Metric::Euclidean => BLOSC2_VQ_METRIC_EUCLIDEAN,
        Metric::Cosine => BLOSC2_VQ_METRIC_COSINE,
    }
}

/// The C value of a scalar method.
pub(crate) fn scalar_method_to_c(method: ScalarMethod) -> i32 {
    match method {
        ScalarMethod::Uniform => BLOSC2_VQ_SCALAR_UNIFORM,
        ScalarMethod::Quantile => BLOSC2_VQ_SCALAR_QUANTILE,
        ScalarMethod::LloydMax => BLOSC2_VQ_SCALAR_LLOYD_MAX,
    }
}

/// A count that C holds as an `int32_t`, saturated (every default fits).
fn to_i32(v: impl TryInto<i32>) -> i32 {
    v.try_into().unwrap_or(i32::MAX)
}

/// The C struct of flat options.
fn options_to_c(o: &TrainOptions) -> blosc2_vq_train_params {
    let mut tile_shape = [0i32; 3];
    for (t, &s) in tile_shape.iter_mut().zip(&o.tile_shape) {
        *t = to_i32(s);
    }
    blosc2_vq_train_params {
        model: i32::from(o.kind.code()),
        n_prototypes: to_i32(o.n_prototypes),
        tile_ndim: to_i32(o.tile_shape.len()),
        tile_shape,
        n_samples: i64::try_from(o.n_samples).unwrap_or(i64::MAX),
        seed: o.seed,
        max_iter: to_i32(o.max_iter),
        tol: o.tol,
        fuzzifier: o.fuzzifier,
        metric: metric_to_c(o.metric),
        n_init: to_i32(o.n_init),
        weight_bits: i32::from(o.weight_bits),
        n_stages: to_i32(o.n_stages),
        mean_bits: i32::from(o.mean_bits),
        scalar_method: scalar_method_to_c(o.scalar_method),
        scalar_bits: i32::from(o.scalar_bits),
        kept_weights: to_i32(o.kept_weights),
        log10_floor: match o.transform {
            Transform::Log10 { floor } => floor,
            Transform::Identity => 0.0,
        },
        beam: to_i32(o.beam),
        max_error: o.max_error.unwrap_or(0.0),
        progress: None,
        progress_user_data: std::ptr::null_mut(),
    }
}

/// Flat options from the C struct: every field converted with its range named; the
/// meaningful limits are checked when training.
fn options_from_c(p: &blosc2_vq_train_params) -> Result<TrainOptions> {
    fn field<T: TryFrom<i64>>(v: impl Into<i64>, name: &'static str, rule: &str) -> Result<T> {
        let v = v.into();
        T::try_from(v).map_err(|_| Error::param(name, format!("{v} {rule}")))
    }
    // Counts that must be positive are refused as such here, under their C names (the
    // kinds' own checks would name their Rust parameters).
    fn positive<T: TryFrom<i64>>(v: impl Into<i64>, name: &'static str) -> Result<T> {
        let v = v.into();
        if v > 0 {
            field(v, name, "must be positive")
        } else {
            Err(Error::param(name, format!("{v} must be positive")))
        }
    }
    let positive_rule = "must be positive";
    let max_dims = crate::codebook::MAX_TILE_DIMS;
    let tile_ndim = usize::try_from(p.tile_ndim)
        .ok()
        .filter(|n| (1..=max_dims).contains(n))
        .ok_or_else(|| {
            Error::param(
                "tile_ndim",
                format!("{} outside 1..={max_dims}", p.tile_ndim),
            )
        })?;
    let tile_shape = p.tile_shape[..tile_ndim]
        .iter()
        .map(|&t| positive::<usize>(t, "tile_shape"))
        .collect::<Result<_>>()?;
    let metric = match p.metric {
        BLOSC2_VQ_METRIC_EUCLIDEAN => Metric::Euclidean,
        BLOSC2_VQ_METRIC_COSINE => Metric::Cosine,
        other => return Err(Error::param("metric", format!("unknown metric {other}"))),
    };
    let scalar_method = match p.scalar_method {
        BLOSC2_VQ_SCALAR_UNIFORM => ScalarMethod::Uniform,
        BLOSC2_VQ_SCALAR_QUANTILE => ScalarMethod::Quantile,
        BLOSC2_VQ_SCALAR_LLOYD_MAX => ScalarMethod::LloydMax,
        other => {
            return Err(Error::param(
                "scalar_method",
                format!("unknown method {other}"),
            ))
        }
    };
    Ok(TrainOptions {
        kind: kind_from_c(p.model)?,
        n_prototypes: positive(p.n_prototypes, "n_prototypes")?,
        tile_shape,
        n_samples: field(p.n_samples, "n_samples", positive_rule)?,
        seed: p.seed,
        max_iter: positive(p.max_iter, "max_iter")?,
        tol: p.tol,
        weight_bits: field(p.weight_bits, "weight_bits", "outside 1..=8")?,
        kept_weights: field(p.kept_weights, "kept_weights", "must be >= 0")?,
        transform: if p.log10_floor == 0.0 {
            Transform::Identity
        } else {
            Transform::Log10 {
                floor: p.log10_floor,
            }
        },
        fuzzifier: p.fuzzifier,
        metric,
        n_init: positive(p.n_init, "n_init")?,
        n_stages: positive(p.n_stages, "n_stages")?,
        mean_bits: field(p.mean_bits, "mean_bits", "outside 0..=12")?,
        beam: field(p.beam, "beam", "outside 1..=64")?,
        scalar_method,
        scalar_bits: field(p.scalar_bits, "scalar_bits", "outside 1..=12")?,
        // 0 means none; anything else is checked as a bound (negative and NaN refused).
        max_error: (p.max_error != 0.0).then_some(p.max_error),
    })
}

/// Fills `params` with the library's defaults for `model` (`BLOSC2_VQ_MODEL_*`): the Rust
/// parameter types' defaults, the same as the CLI's and Python's (36 prototypes, or 256
/// codewords per stage in 2 stages for residual VQ; 4×4 tiles, 1000 training tiles, seed 0,
/// 8-bit weights, fuzzifier 2 and the cosine metric, a beam of 4, 4-bit Lloyd-Max scalar
/// levels, dense weights, no transform). Returns 0, or a negative code for a NULL pointer or
/// an unknown model.
///
/// # Safety
/// `params` must be NULL or point to writable memory for one `blosc2_vq_train_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_train_params_init(
    params: *mut blosc2_vq_train_params,
    model: i32,
) -> c_int {
    guard("blosc2_vq_train_params_init", || {
        if params.is_null() {
            return Err(Error::NullPointer("params"));
        }
        let defaults = options_to_c(&TrainOptions::defaults(kind_from_c(model)?));
        // SAFETY: checked non-NULL; the caller provides writable memory.
        unsafe { params.write(defaults) };
        Ok(0)
    })
}

/// The `BLOSC2_VQ_MODEL_*` value of a model name: the short names the CLI and Python take
/// (`"aa"`, `"cmeans"`, `"kmeans"`, `"residual"`, `"scalar"`) or the codebook schema's
/// (`"archetypal"`, `"fuzzy_cmeans"`). Returns a negative code for an unknown name.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_model_from_name(name: *const c_char) -> c_int {
    guard("blosc2_vq_model_from_name", || {
        if name.is_null() {
            return Err(Error::NullPointer("name"));
        }
        // SAFETY: checked non-NULL; the caller passes a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        let kind = Kind::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.short_name()).collect();
            Error::param(
                "model",
                format!("unknown model {name:?}: use one of {}", names.join(", ")),
            )
        })?;
        Ok(c_int::from(kind.code()))
    })
}

/// Trains a codebook on an N-D array and returns its bytes (MessagePack), ready to be stored
/// as the `vq` metalayer.
///
/// - `data`: C-order array of `dtype` (`BLOSC2_VQ_DTYPE_FLOAT32` or `_FLOAT64`) with `ndim`
///   dimensions `shape[0..ndim]`; the last `tile_ndim` axes are image axes, leading axes
///   index images.
/// - On success, `*codebook` receives a buffer allocated by this library and
///   `*codebook_len` its length; release it with `blosc2_vq_free`. Returns 0.
/// - On failure returns a negative `BLOSC2_ERROR_*` code, leaves the outputs untouched, and
///   `blosc2_vq_last_error_message` says why.
///
/// # Safety
/// `data` must point to `prod(shape)` elements of `dtype`; `shape` to `ndim` integers;
/// `params`, `codebook` and `codebook_len` to valid objects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codebook_train(
    data: *const c_void,
    dtype: i32,
    shape: *const i64,
    ndim: i32,
    params: *const blosc2_vq_train_params,
    codebook: *mut *mut u8,
    codebook_len: *mut i64,
) -> c_int {
    guard("blosc2_vq_codebook_train", || {
        if data.is_null() {
            return Err(Error::NullPointer("data"));
        }
        if shape.is_null() {
            return Err(Error::NullPointer("shape"));
        }
        if params.is_null() {
            return Err(Error::NullPointer("params"));
        }
        if codebook.is_null() {
            return Err(Error::NullPointer("codebook"));
        }
        if codebook_len.is_null() {
            return Err(Error::NullPointer("codebook_len"));
        }
        if !(1..=MAX_DIMS as i32).contains(&ndim) {
            return Err(Error::param(
                "ndim",
                format!("{ndim} outside 1..={MAX_DIMS}"),
            ));
        }
        // SAFETY: checked non-NULL; the caller passes ndim integers.
        let dims = unsafe { std::slice::from_raw_parts(shape, ndim as usize) };
        let dims = super::positive_sides(dims, "shape")?;
        let count = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&c| c <= isize::MAX as usize / 8)
            .ok_or_else(|| Error::param("shape", format!("{dims:?} overflows")))?;
        let values: Vec<f64> = match dtype {
            BLOSC2_VQ_DTYPE_FLOAT32 => {
                // SAFETY: the caller passes prod(shape) floats at data; float has no invalid bit patterns.
                let s = unsafe { std::slice::from_raw_parts(data.cast::<f32>(), count) };
                s.iter().map(|&v| f64::from(v)).collect()
            }
            BLOSC2_VQ_DTYPE_FLOAT64 => {
                // SAFETY: the caller passes prod(shape) doubles at data.
                unsafe { std::slice::from_raw_parts(data.cast::<f64>(), count) }.to_vec()
            }
            other => {
                return Err(Error::UnsupportedDtype(format!(
                    "training dtype {other}: use BLOSC2_VQ_DTYPE_FLOAT32 or BLOSC2_VQ_DTYPE_FLOAT64"
                )))
            }
        };
        // SAFETY: checked non-NULL; the caller passes a valid params struct.
        let p = unsafe { *params };
        let array = ndarray::ArrayViewD::from_shape(dims.as_slice(), &values)
            .map_err(|e| Error::InvalidData(e.to_string()))?;
        let params = options_from_c(&p)?.codebook_params();
        let total = i64::try_from(params.max_iterations()).unwrap_or(i64::MAX);
        let mut done = 0i64;
        let cb = params.fit_observed(&array, &mut |progress| {
            done += 1;
            let Some(callback) = p.progress else {
                return ControlFlow::Continue(());
            };
            // SAFETY: the caller's callback, with its own user data, on this thread.
            let rc =
                unsafe { callback(p.progress_user_data, done.min(total), total, progress.loss) };
            if rc == 0 {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })?;
        // SAFETY: checked non-NULL; the caller passes valid output locations.
        unsafe { super::hand_over(&cb.to_msgpack(), codebook, codebook_len) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_constants_are_the_kinds_codes() {
        let constants = [
            (BLOSC2_VQ_MODEL_FUZZY_CMEANS, Kind::FuzzyCMeans),
            (BLOSC2_VQ_MODEL_ARCHETYPAL, Kind::Archetypal),
            (BLOSC2_VQ_MODEL_KMEANS, Kind::KMeans),
            (BLOSC2_VQ_MODEL_RESIDUAL, Kind::Residual),
            (BLOSC2_VQ_MODEL_SCALAR, Kind::Scalar),
        ];
        assert_eq!(constants.len(), Kind::ALL.len());
        for (c, kind) in constants {
            assert_eq!(kind_from_c(c).unwrap(), kind);
        }
    }

    #[test]
    fn c_defaults_are_the_rust_defaults() {
        for kind in Kind::ALL {
            let o = TrainOptions::defaults(kind);
            assert_eq!(options_from_c(&options_to_c(&o)).unwrap(), o, "{kind:?}");
        }
    }
}
