//! The C surface: c-blosc2's codec callbacks, the `info` symbol its plugin loader reads, and
//! a small training API. The only module with `unsafe`.
//!
//! Every export runs inside [`guard`], which catches panics, records the error message for
//! [`blosc2_vq_last_error_message`], prints it when `BLOSC_TRACE` is set (as c-blosc2 does)
//! and returns a negative `BLOSC2_ERROR_*` code.
#![allow(unsafe_code)]

pub mod abi;

use crate::codebook::{ScalarMethod, Transform};
use crate::codec::{self, DecodeCall, EncodeCall};
use crate::error::{Error, Result};
use crate::train::{
    ArchetypalParams, CodebookParams, FuzzyCMeansParams, KMeansParams, ModelParams, ResidualParams,
    ScalarParams,
};
use crate::weights::Metric;
use abi::{Blosc2CParams, Blosc2DParams};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

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
/// The codec id the examples register (any id in c-blosc2's user range 160..=255 works).
pub const BLOSC2_VQ_CODEC_ID: i32 = 185;

/// Parameters for [`blosc2_vq_codebook_train`]. Fill with [`blosc2_vq_train_params_init`],
/// then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct blosc2_vq_train_params {
    /// A `BLOSC2_VQ_MODEL_*` constant.
    pub model: i32,
    /// Number of prototypes (centres, archetypes or codewords), 1 to 1024; for
    /// `BLOSC2_VQ_MODEL_RESIDUAL` the codewords per stage, 1 to 4096.
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
}

/// The `info` structure c-blosc2's plugin loader reads (`codec_info`: the names of the
/// encoder and decoder symbols).
#[repr(C)]
pub struct CodecInfo {
    /// Name of the encoder symbol.
    pub encoder: *const c_char,
    /// Name of the decoder symbol.
    pub decoder: *const c_char,
}

// SAFETY: the pointers refer to immutable static strings.
unsafe impl Sync for CodecInfo {}

/// Read by c-blosc2's `fill_codec` after it dlopens `libblosc2_vq.so`.
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static info: CodecInfo = CodecInfo {
    encoder: c"blosc2_vq_encoder".as_ptr(),
    decoder: c"blosc2_vq_decoder".as_ptr(),
};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The last error of the encoder or decoder on any thread: c-blosc2 runs the codec in its
/// own worker threads, where the caller's thread-local message cannot reach.
static LAST_CODEC_ERROR: Mutex<String> = Mutex::new(String::new());

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, turning errors and panics into c-blosc2 error codes.
fn guard(what: &str, f: impl FnOnce() -> Result<c_int>) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Panic(msg))
    });
    match outcome {
        Ok(code) => {
            set_last_error("");
            code
        }
        Err(err) => {
            let message = format!("{what}: {err}");
            if std::env::var_os("BLOSC_TRACE").is_some() {
                eprintln!("[error] - blosc2-vq {message}");
            }
            set_last_error(&message);
            if what == "encoder" || what == "decoder" {
                *LAST_CODEC_ERROR
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = message;
            }
            err.blosc2_code()
        }
    }
}

/// A length from C, which must be non-negative.
fn len_from_c(len: i64, what: &'static str) -> Result<usize> {
    usize::try_from(len).map_err(|_| Error::param(what, format!("negative length {len}")))
}

/// c-blosc2 encoder callback (`blosc2_codec_encoder_cb`).
///
/// Compresses one block of `input_len` bytes into `output` (capacity `output_len`) using the
/// codebook in the SChunk's `vq` metalayer. Returns the compressed size, 0 when the block
/// should be stored raw (it does not shrink, or holds NaN/infinity), or a negative
/// `BLOSC2_ERROR_*` code (see `blosc2_vq_last_error_message`).
///
/// # Safety
/// c-blosc2 calls this with valid buffers of the given lengths and a valid `cparams`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_encoder(
    input: *const u8,
    input_len: i32,
    output: *mut u8,
    output_len: i32,
    meta: u8,
    cparams: *mut c_void,
    _chunk: *const c_void,
) -> c_int {
    guard("encoder", || {
        if input.is_null() {
            return Err(Error::NullPointer("input"));
        }
        if output.is_null() {
            return Err(Error::NullPointer("output"));
        }
        if cparams.is_null() {
            return Err(Error::NullPointer("cparams"));
        }
        let input_len = len_from_c(input_len.into(), "input_len")?;
        let output_len = len_from_c(output_len.into(), "output_len")?;
        // SAFETY: checked non-NULL; c-blosc2 passes its blosc2_cparams, same layout in 2.x and 3.x.
        let cp = unsafe { &*cparams.cast::<Blosc2CParams>() };
        // SAFETY: c-blosc2 keeps the schunk alive while the codec runs.
        let schunk = unsafe { abi::read_schunk(cp.schunk) }.map_err(Error::UnsupportedSettings)?;
        // SAFETY: c-blosc2 guarantees input_len readable bytes at input.
        let input = unsafe { std::slice::from_raw_parts(input, input_len) };
        // SAFETY: c-blosc2 guarantees output_len writable bytes at output, not aliasing input.
        let output = unsafe { std::slice::from_raw_parts_mut(output, output_len) };
        let call = EncodeCall {
            input,
            codec_meta: meta,
            typesize: len_from_c(cp.typesize.into(), "typesize")?,
            blocksize: len_from_c(cp.blocksize.into(), "blocksize")?,
            filters: cp.filters,
            splitmode: cp.splitmode,
            codebook: schunk.codebook,
            b2nd: schunk.b2nd,
            schunk_blockshape: schunk.blockshape,
        };
        let n = codec::encode(&call, output)?;
        Ok(n as c_int)
    })
}

/// c-blosc2 decoder callback (`blosc2_codec_decoder_cb`).
///
/// Decompresses one block from `input` into exactly `output_len` bytes at `output`, using the
/// codebook in the SChunk's `vq` metalayer. Returns `output_len` or a negative
/// `BLOSC2_ERROR_*` code.
///
/// # Safety
/// c-blosc2 calls this with valid buffers of the given lengths and a valid `dparams`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_decoder(
    input: *const u8,
    input_len: i32,
    output: *mut u8,
    output_len: i32,
    _meta: u8,
    dparams: *mut c_void,
    _chunk: *const c_void,
) -> c_int {
    guard("decoder", || {
        if input.is_null() {
            return Err(Error::NullPointer("input"));
        }
        if output.is_null() {
            return Err(Error::NullPointer("output"));
        }
        if dparams.is_null() {
            return Err(Error::NullPointer("dparams"));
        }
        let input_len = len_from_c(input_len.into(), "input_len")?;
        let output_len = len_from_c(output_len.into(), "output_len")?;
        // SAFETY: checked non-NULL; the leading fields are the same in 2.x and 3.x.
        let dp = unsafe { &*dparams.cast::<Blosc2DParams>() };
        // SAFETY: c-blosc2 keeps the schunk alive while the codec runs.
        let schunk = unsafe { abi::read_schunk(dp.schunk) }.map_err(Error::UnsupportedSettings)?;
        // SAFETY: c-blosc2 guarantees input_len readable bytes at input.
        let input = unsafe { std::slice::from_raw_parts(input, input_len) };
        // SAFETY: c-blosc2 guarantees output_len writable bytes at output, not aliasing input.
        let output = unsafe { std::slice::from_raw_parts_mut(output, output_len) };
        let call = DecodeCall {
            input,
            typesize: (!dp.schunk.is_null()).then_some(schunk.typesize),
            codebook: schunk.codebook,
        };
        let n = codec::decode(&call, output)?;
        Ok(n as c_int)
    })
}

/// Fills `params` with the defaults for `model` (`BLOSC2_VQ_MODEL_*`): 36 prototypes (256
/// codewords per stage for residual VQ), 4×4 tiles, 1000 training tiles, seed 0, 100
/// iterations, tolerance 1e-6 (1e-4 for residual VQ), fuzzifier 2, cosine metric, 1
/// initialization, 8-bit weights, 2 residual stages without mean removal searched with a
/// beam of 4, 4-bit Lloyd-Max
/// scalar levels, dense weights, no transform. Returns 0, or a negative code for a NULL
/// pointer or an unknown model.
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
        if ![
            BLOSC2_VQ_MODEL_FUZZY_CMEANS,
            BLOSC2_VQ_MODEL_ARCHETYPAL,
            BLOSC2_VQ_MODEL_KMEANS,
            BLOSC2_VQ_MODEL_RESIDUAL,
            BLOSC2_VQ_MODEL_SCALAR,
        ]
        .contains(&model)
        {
            return Err(Error::param("model", format!("unknown model {model}")));
        }
        let residual = model == BLOSC2_VQ_MODEL_RESIDUAL;
        let defaults = blosc2_vq_train_params {
            model,
            n_prototypes: if residual { 256 } else { 36 },
            tile_ndim: 2,
            tile_shape: [4, 4, 0],
            n_samples: 1000,
            seed: 0,
            max_iter: 100,
            tol: if residual { 1e-4 } else { 1e-6 },
            fuzzifier: 2.0,
            metric: BLOSC2_VQ_METRIC_COSINE,
            n_init: 1,
            weight_bits: 8,
            n_stages: 2,
            mean_bits: 0,
            scalar_method: BLOSC2_VQ_SCALAR_LLOYD_MAX,
            scalar_bits: 4,
            kept_weights: 0,
            log10_floor: 0.0,
            beam: 4,
        };
        // SAFETY: checked non-NULL; the caller provides writable memory.
        unsafe { params.write(defaults) };
        Ok(0)
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
        if !(1..=8).contains(&ndim) {
            return Err(Error::param("ndim", format!("{ndim} outside 1..=8")));
        }
        // SAFETY: checked non-NULL; the caller passes ndim integers.
        let dims = unsafe { std::slice::from_raw_parts(shape, ndim as usize) };
        let dims: Vec<usize> = dims
            .iter()
            .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::param("shape", format!("{dims:?}: sides must be positive")))?;
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
        let cb = codebook_params_from_c(&p)?.fit(&array)?;
        let bytes = cb.to_msgpack();
        // SAFETY: malloc of a positive size; checked for NULL below.
        let buf = unsafe { libc::malloc(bytes.len().max(1)) }.cast::<u8>();
        if buf.is_null() {
            return Err(Error::InvalidData("out of memory for the codebook".into()));
        }
        // SAFETY: buf has bytes.len() writable bytes; the regions do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
        // SAFETY: checked non-NULL; the caller passes valid output locations.
        unsafe {
            codebook.write(buf);
            codebook_len.write(bytes.len() as i64);
        }
        Ok(0)
    })
}

fn codebook_params_from_c(p: &blosc2_vq_train_params) -> Result<CodebookParams> {
    let positive = |v: i32, name: &'static str| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| Error::param(name, format!("{v} must be positive")))
    };
    let tile_ndim = usize::try_from(p.tile_ndim)
        .ok()
        .filter(|n| (1..=3).contains(n))
        .ok_or_else(|| Error::param("tile_ndim", format!("{} outside 1..=3", p.tile_ndim)))?;
    let tile: Vec<usize> = p.tile_shape[..tile_ndim]
        .iter()
        .map(|&t| positive(t, "tile_shape"))
        .collect::<Result<_>>()?;
    let k = positive(p.n_prototypes, "n_prototypes")?;
    let max_iter = positive(p.max_iter, "max_iter")? as u32;
    let model = match p.model {
        BLOSC2_VQ_MODEL_FUZZY_CMEANS => {
            let metric = match p.metric {
                BLOSC2_VQ_METRIC_EUCLIDEAN => Metric::Euclidean,
                BLOSC2_VQ_METRIC_COSINE => Metric::Cosine,
                other => return Err(Error::param("metric", format!("unknown metric {other}"))),
            };
            ModelParams::FuzzyCMeans(
                FuzzyCMeansParams::new(k)
                    .fuzzifier(p.fuzzifier)
                    .metric(metric)
                    .max_iter(max_iter)
                    .tol(p.tol)
                    .seed(p.seed),
            )
        }
        BLOSC2_VQ_MODEL_ARCHETYPAL => ModelParams::Archetypal(
            ArchetypalParams::new(k)
                .n_init(positive(p.n_init, "n_init")? as u32)
                .max_iter(max_iter)
                .tol(p.tol)
                .seed(p.seed),
        ),
        BLOSC2_VQ_MODEL_KMEANS => ModelParams::KMeans(
            KMeansParams::new(k)
                .max_iter(max_iter)
                .tol(p.tol)
                .seed(p.seed),
        ),
        BLOSC2_VQ_MODEL_RESIDUAL => ModelParams::Residual(
            ResidualParams::new(positive(p.n_stages, "n_stages")?, k)
                .mean_bits(u8::try_from(p.mean_bits).map_err(|_| {
                    Error::param("mean_bits", format!("{} outside 0..=12", p.mean_bits))
                })?)
                .beam(
                    u32::try_from(p.beam)
                        .map_err(|_| Error::param("beam", format!("{} outside 1..=64", p.beam)))?,
                )
                .max_iter(max_iter)
                .tol(p.tol)
                .seed(p.seed),
        ),
        BLOSC2_VQ_MODEL_SCALAR => {
            let method = match p.scalar_method {
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
            let bits = u8::try_from(p.scalar_bits).map_err(|_| {
                Error::param("scalar_bits", format!("{} outside 1..=12", p.scalar_bits))
            })?;
            ModelParams::Scalar(
                ScalarParams::new(bits, method)
                    .max_iter(max_iter)
                    .tol(p.tol),
            )
        }
        other => return Err(Error::param("model", format!("unknown model {other}"))),
    };
    let kept = u32::try_from(p.kept_weights)
        .map_err(|_| Error::param("kept_weights", format!("{} must be >= 0", p.kept_weights)))?;
    let transform = if p.log10_floor == 0.0 {
        Transform::Identity
    } else {
        Transform::Log10 {
            floor: p.log10_floor,
        }
    };
    let bits = u8::try_from(p.weight_bits)
        .map_err(|_| Error::param("weight_bits", format!("{} outside 1..=8", p.weight_bits)))?;
    let n_samples = usize::try_from(p.n_samples)
        .map_err(|_| Error::param("n_samples", format!("{} must be positive", p.n_samples)))?;
    Ok(CodebookParams::new(model)
        .tile_shape(&tile)
        .n_samples(n_samples)
        .seed(p.seed)
        .weight_bits(bits)
        .kept_weights(kept)
        .transform(transform))
}

/// Frees a buffer this library allocated (such as a codebook from
/// `blosc2_vq_codebook_train`). NULL is ignored.
///
/// # Safety
/// `ptr` must be NULL or a pointer this library returned and that was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_free(ptr: *mut c_void) {
    // SAFETY: the caller passes NULL or a pointer from our malloc.
    unsafe { libc::free(ptr) };
}

/// The message of the last error on the calling thread ("" when the last call succeeded).
/// The string belongs to the library and stays valid until the next call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn blosc2_vq_last_error_message() -> *const c_char {
    // try_with: during thread teardown the slot may be gone; never panic across the boundary.
    LAST_ERROR
        .try_with(|e| e.try_borrow().map(|s| s.as_ptr()).unwrap_or(c"".as_ptr()))
        .unwrap_or(c"".as_ptr())
}

/// The most recent encoder or decoder error on any thread ("" if none), for Rust callers.
pub fn last_codec_error_message() -> String {
    LAST_CODEC_ERROR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Copies the most recent encoder or decoder error, from whichever thread it happened on,
/// into `buffer` (at most `buffer_len - 1` bytes and a terminating NUL). Returns the full
/// message length in bytes (0 when the codec has not failed in this process), or a negative
/// code for a NULL `buffer` with a positive `buffer_len`. Useful after c-blosc2 reports a
/// failure from its worker threads.
///
/// # Safety
/// `buffer` must point to `buffer_len` writable bytes (it may be NULL when `buffer_len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_last_codec_error(buffer: *mut c_char, buffer_len: i64) -> i64 {
    let message = LAST_CODEC_ERROR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let code = guard("blosc2_vq_last_codec_error", || {
        if buffer_len <= 0 {
            return Ok(0);
        }
        if buffer.is_null() {
            return Err(Error::NullPointer("buffer"));
        }
        let n = message.len().min(buffer_len as usize - 1);
        // SAFETY: buffer has buffer_len > n bytes; the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(message.as_ptr(), buffer.cast::<u8>(), n);
            buffer.add(n).write(0);
        }
        Ok(0)
    });
    if code < 0 {
        i64::from(code)
    } else {
        message.len() as i64
    }
}

/// What a codebook holds, as filled by [`blosc2_vq_codebook_inspect`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct blosc2_vq_codebook_info {
    /// Codebook format version.
    pub format_version: i32,
    /// `BLOSC2_VQ_MODEL_FUZZY_CMEANS` or `BLOSC2_VQ_MODEL_ARCHETYPAL`.
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
        let (model, metric, fuzzifier) = match cb.model {
            crate::codebook::ModelKind::FuzzyCMeans { fuzzifier, metric } => (
                BLOSC2_VQ_MODEL_FUZZY_CMEANS,
                match metric {
                    Metric::Euclidean => BLOSC2_VQ_METRIC_EUCLIDEAN,
                    Metric::Cosine => BLOSC2_VQ_METRIC_COSINE,
                },
                fuzzifier,
            ),
            crate::codebook::ModelKind::Archetypal => (BLOSC2_VQ_MODEL_ARCHETYPAL, 0, 0.0),
            crate::codebook::ModelKind::KMeans => (BLOSC2_VQ_MODEL_KMEANS, 0, 0.0),
            crate::codebook::ModelKind::Residual { .. } => (BLOSC2_VQ_MODEL_RESIDUAL, 0, 0.0),
            crate::codebook::ModelKind::Scalar { .. } => (BLOSC2_VQ_MODEL_SCALAR, 0, 0.0),
        };
        let (n_stages, mean_bits, beam) = match cb.model {
            crate::codebook::ModelKind::Residual {
                n_stages,
                mean_bits,
                beam,
                ..
            } => (n_stages as i32, i32::from(mean_bits), beam as i32),
            _ => (1, 0, 1),
        };
        let scalar_method = match cb.model {
            crate::codebook::ModelKind::Scalar { method } => match method {
                ScalarMethod::Uniform => BLOSC2_VQ_SCALAR_UNIFORM,
                ScalarMethod::Quantile => BLOSC2_VQ_SCALAR_QUANTILE,
                ScalarMethod::LloydMax => BLOSC2_VQ_SCALAR_LLOYD_MAX,
            },
            _ => -1,
        };
        let log10_floor = match cb.transform {
            Transform::Log10 { floor } => floor,
            Transform::Identity => 0.0,
        };
        let mut tile_shape = [0i32; 3];
        for (t, &s) in tile_shape.iter_mut().zip(&cb.tile_shape) {
            *t = s as i32;
        }
        let described = blosc2_vq_codebook_info {
            format_version: cb.format_version as i32,
            model,
            metric,
            fuzzifier,
            n_prototypes: cb.n_prototypes as i32,
            n_features: cb.n_features() as i32,
            tile_ndim: cb.tile_shape.len() as i32,
            tile_shape,
            weight_bits: i32::from(cb.weight_bits),
            fingerprint: cb.fingerprint,
            n_samples: cb.training.n_samples as i64,
            iterations: cb.training.iterations as i32,
            loss: cb.training.loss,
            n_stages,
            mean_bits,
            scalar_method,
            kept_weights: cb.kept_weights as i32,
            log10_floor,
            beam,
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
            (mean, &cb.scaler.mean),
            (scale, &cb.scaler.scale),
            (prototypes, &cb.prototypes),
        ] {
            if !dst.is_null() {
                // SAFETY: the caller provides room for src.len() doubles at dst.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
            }
        }
        Ok(0)
    })
}
