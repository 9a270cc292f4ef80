//! The C surface: c-blosc2's codec callbacks, the `info` symbol its plugin loader reads, and
//! a small training API. The only module with `unsafe`.
//!
//! Every export runs inside `guard`, which catches panics, records the error message for
//! [`blosc2_vq_last_error_message`], prints it when `BLOSC_TRACE` is set (as c-blosc2 does)
//! and returns a negative `BLOSC2_ERROR_*` code.
#![allow(unsafe_code)]

pub mod abi;
pub mod host;
mod inspect;
mod settings;
mod train;

pub use host::{blosc2_vq_host_blosc2_version, blosc2_vq_set_host_blosc2_version};
pub use inspect::*;
pub use settings::*;
pub use train::*;

use crate::codec::{self, DecodeCall, EncodeCall};
use crate::error::{Error, Result};
use abi::{Blosc2CParams, Blosc2DParams};
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

/// The codec id the examples register (any id in c-blosc2's user range 160..=255 works).
pub const BLOSC2_VQ_CODEC_ID: i32 = 185;

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
/// own worker threads, where the caller's thread-local message cannot reach. Each message
/// carries its sequence number, so a caller can tell whether it belongs to its own call.
static LAST_CODEC_ERROR: Mutex<(u64, String)> = Mutex::new((0, String::new()));

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
                let mut last = LAST_CODEC_ERROR
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *last = (last.0 + 1, message);
            }
            err.blosc2_code()
        }
    }
}

/// Array sides from C (`shape`, `blocks`), which must all be positive; `what` names them in
/// the error.
fn positive_sides<T: Copy + Into<i64> + std::fmt::Debug>(
    sides: &[T],
    what: &'static str,
) -> Result<Vec<usize>> {
    sides
        .iter()
        .map(|&d| usize::try_from(d.into()).ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::param(what, format!("{sides:?}: sides must be positive")))
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
        // SAFETY: NULL or, by the codec_params contract, a blosc2_vq_codec_params.
        let max_error = unsafe { codec_params_from_c(cp.codec_params) }?;
        let call = EncodeCall {
            input,
            codec_meta: meta,
            max_error,
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

/// Marks an initialized [`blosc2_vq_codec_params`] ("vq" and the struct's version).
pub const BLOSC2_VQ_CODEC_PARAMS_MAGIC: u32 = 0x7671_0001;

/// Settings of one compression with the vq codec, for C callers: fill with
/// [`blosc2_vq_codec_params_init`] and point `blosc2_cparams.codec_params` at it (it must
/// outlive the compression context). Not stored in the frame: every block records what
/// decoding needs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct blosc2_vq_codec_params {
    /// [`BLOSC2_VQ_CODEC_PARAMS_MAGIC`], set by [`blosc2_vq_codec_params_init`]; anything
    /// else is refused (the pointer is not one of ours).
    pub magic: u32,
    /// If positive, code every block to this error bound (a residual codebook's), overriding
    /// the codebook's; 0 uses the codebook's.
    pub max_error: f64,
}

/// Fills `params` for a compression with the error bound `max_error` (0: the codebook's).
/// Returns 0, or a negative code for a NULL pointer or a bad bound (negative, NaN, infinite).
///
/// # Safety
/// `params` must be NULL or point to writable memory for one `blosc2_vq_codec_params`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn blosc2_vq_codec_params_init(
    params: *mut blosc2_vq_codec_params,
    max_error: f64,
) -> c_int {
    guard("blosc2_vq_codec_params_init", || {
        if params.is_null() {
            return Err(Error::NullPointer("params"));
        }
        if max_error != 0.0 {
            crate::codebook::check_max_error(max_error)?;
        }
        // SAFETY: checked non-NULL; the caller passes writable memory for the struct.
        unsafe {
            params.write(blosc2_vq_codec_params {
                magic: BLOSC2_VQ_CODEC_PARAMS_MAGIC,
                max_error,
            })
        };
        Ok(0)
    })
}

/// The error bound a `codec_params` pointer asks for.
///
/// # Safety
/// `ptr` must be NULL or point to a readable `blosc2_vq_codec_params`.
unsafe fn codec_params_from_c(ptr: *mut c_void) -> Result<Option<f64>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract; read unaligned in case the struct was packed.
    let params = unsafe { ptr.cast::<blosc2_vq_codec_params>().read_unaligned() };
    if params.magic != BLOSC2_VQ_CODEC_PARAMS_MAGIC {
        return Err(Error::UnsupportedSettings(format!(
            "cparams.codec_params does not point at a blosc2_vq_codec_params (magic {:#x}, \
             expected {BLOSC2_VQ_CODEC_PARAMS_MAGIC:#x}): fill it with blosc2_vq_codec_params_init",
            params.magic
        )));
    }
    if params.max_error == 0.0 {
        return Ok(None);
    }
    crate::codebook::check_max_error(params.max_error)?;
    Ok(Some(params.max_error))
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

/// Copies `bytes` into a buffer from `malloc` (which the caller releases with
/// [`blosc2_vq_free`]) and stores it and its length at `out` and `out_len`.
///
/// # Safety
/// `out` and `out_len` must be valid for writes.
unsafe fn hand_over(bytes: &[u8], out: *mut *mut u8, out_len: *mut i64) -> Result<c_int> {
    // SAFETY: malloc of a positive size; checked for NULL below.
    let buf = unsafe { libc::malloc(bytes.len().max(1)) }.cast::<u8>();
    if buf.is_null() {
        return Err(Error::OutOfMemory(bytes.len()));
    }
    // SAFETY: buf has bytes.len() writable bytes; the regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
    // SAFETY: the caller passes valid output locations.
    unsafe {
        out.write(buf);
        out_len.write(bytes.len() as i64);
    }
    Ok(0)
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
        .1
        .clone()
}

/// How many encoder or decoder errors this process has seen, for Rust callers (see
/// [`blosc2_vq_codec_error_count`]).
pub fn codec_error_count() -> u64 {
    LAST_CODEC_ERROR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .0
}

/// How many encoder or decoder errors this process has seen so far (on any thread). Read it
/// before a compression and again after a failure: when it has not grown, the failure was
/// not the codec's, and `blosc2_vq_last_codec_error` holds an older, unrelated message.
#[unsafe(no_mangle)]
pub extern "C" fn blosc2_vq_codec_error_count() -> u64 {
    // Reading a counter cannot panic, but nothing may unwind into C.
    catch_unwind(codec_error_count).unwrap_or(0)
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
    // SAFETY: the caller's contract, passed on.
    unsafe {
        write_c_string(
            "blosc2_vq_last_codec_error",
            &last_codec_error_message(),
            buffer,
            buffer_len,
        )
    }
}

/// Copies `text` into a caller's `buffer` of `buffer_len` bytes (at most `buffer_len - 1`
/// bytes and a NUL; nothing when `buffer_len` is 0 or less) and returns its full length, or a
/// negative code for a NULL `buffer` with a positive `buffer_len`: the body of the exports
/// that hand out strings.
///
/// # Safety
/// `buffer` must point to `buffer_len` writable bytes when `buffer_len` is positive.
unsafe fn write_c_string(what: &str, text: &str, buffer: *mut c_char, buffer_len: i64) -> i64 {
    let code = guard(what, || {
        if buffer_len <= 0 {
            return Ok(0);
        }
        if buffer.is_null() {
            return Err(Error::NullPointer("buffer"));
        }
        let n = text.len().min(buffer_len as usize - 1);
        // SAFETY: buffer has buffer_len > n bytes; the regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buffer.cast::<u8>(), n);
            buffer.add(n).write(0);
        }
        Ok(0)
    });
    if code < 0 {
        i64::from(code)
    } else {
        text.len() as i64
    }
}
