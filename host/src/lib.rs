//! c-blosc2 from Rust for blosc2-vq's tests, examples, benchmarks and command-line tool: a
//! small safe layer over `blosc2-sys` (c-blosc2 2.15, linked statically) plus the few `b2nd_*`
//! functions its bindings lack. The plugin library itself never links this.

#![allow(unsafe_code)] // a binding crate: calling c-blosc2 and ZFP is what it is for

pub mod zfp;

pub use blosc2_sys as sys;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Once;

/// The codec id blosc2-vq's tools register the codec under (any user id 160..=255 works);
/// [`Settings::default`] compresses with it.
pub const VQ_ID: u8 = 185;

/// Initializes c-blosc2 once per process.
pub fn init() {
    static ONCE: Once = Once::new();
    // SAFETY: blosc2_init has no preconditions.
    ONCE.call_once(|| unsafe { sys::blosc2_init() });
}

/// The version of the c-blosc2 this crate links (`blosc2_get_version_string`), which a
/// program linking the plugin declares with `blosc2_vq_set_host_blosc2_version`.
pub fn blosc2_version() -> String {
    // SAFETY: returns a static NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(sys::blosc2_get_version_string()) };
    text.to_string_lossy().into_owned()
}

/// Our callbacks' signature, with `void *` params.
pub type UntypedCallback =
    unsafe extern "C" fn(*const u8, i32, *mut u8, i32, u8, *mut c_void, *const c_void) -> c_int;
/// c-blosc2's callback signature with typed params `P` (cparams or dparams).
type TypedCallback<P> =
    unsafe extern "C" fn(*const u8, i32, *mut u8, i32, u8, *mut P, *const c_void) -> c_int;

/// # Safety
/// Only the pointee type of one pointer argument changes; the ABI is the same.
unsafe fn typed_callback<P>(f: UntypedCallback) -> TypedCallback<P> {
    // SAFETY: function pointers of these two types have the same size and calling convention.
    unsafe { std::mem::transmute::<UntypedCallback, TypedCallback<P>>(f) }
}

/// Registers a user codec with c-blosc2. With callbacks, they are used directly; with `None`,
/// c-blosc2 loads `lib<name>.so`'s `info` symbol on first use (a dynamic plugin).
/// Returns c-blosc2's result (0 on success; re-registering the same id and name succeeds).
pub fn register_codec(
    id: u8,
    name: &str,
    callbacks: Option<(UntypedCallback, UntypedCallback)>,
) -> i32 {
    init();
    // c-blosc2 keeps the name pointer: leak it.
    let name: &'static CString = Box::leak(Box::new(CString::new(name).unwrap()));
    let mut codec = sys::blosc2_codec {
        compcode: id,
        compname: name.as_ptr() as *mut c_char,
        complib: id,
        version: 1,
        // SAFETY: the callbacks have c-blosc2's signatures with `void *` params (same ABI).
        encoder: callbacks.map(|(e, _)| unsafe { typed_callback(e) }),
        // SAFETY: as above.
        decoder: callbacks.map(|(_, d)| unsafe { typed_callback(d) }),
    };
    // SAFETY: codec is fully initialized; c-blosc2 copies it.
    unsafe { sys::blosc2_register_codec(&mut codec) }
}

/// How to compress.
#[derive(Debug, Clone)]
pub struct Settings {
    pub nthreads: i16,
    pub filters: [u8; 6],
    pub filters_meta: [u8; 6],
    pub splitmode: i32,
    pub codec_meta: u8,
    pub codec: u8,
    pub clevel: u8,
    /// Write a persistent frame there instead of keeping the array in memory.
    pub urlpath: Option<String>,
    /// `cparams.codec_params` (e.g. a `blosc2_vq_codec_params`; it must outlive the call).
    pub codec_params: *mut std::ffi::c_void,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nthreads: 1,
            filters: [0; 6],
            filters_meta: [0; 6],
            splitmode: sys::BLOSC_NEVER_SPLIT as i32,
            codec_meta: 0,
            codec: VQ_ID,
            clevel: 5,
            urlpath: None,
            codec_params: std::ptr::null_mut(),
        }
    }
}

fn cparams(typesize: i32, s: &Settings) -> sys::blosc2_cparams {
    // SAFETY: blosc2_cparams is plain data (integers, pointers, Option<fn>); all-zero is valid.
    let mut cp: sys::blosc2_cparams = unsafe { std::mem::zeroed() };
    cp.compcode = s.codec;
    cp.compcode_meta = s.codec_meta;
    cp.clevel = s.clevel;
    cp.typesize = typesize;
    cp.nthreads = s.nthreads;
    cp.splitmode = s.splitmode;
    cp.filters = s.filters;
    cp.filters_meta = s.filters_meta;
    cp.codec_params = s.codec_params;
    cp
}

fn dparams(nthreads: i16) -> sys::blosc2_dparams {
    // SAFETY: plain data; all-zero is valid.
    let mut dp: sys::blosc2_dparams = unsafe { std::mem::zeroed() };
    dp.nthreads = nthreads;
    dp
}

#[repr(C)]
pub struct B2ndContext {
    _private: [u8; 0],
}

/// The leading fields of c-blosc2 2.15's `b2nd_array_t` (`B2ND_MAX_DIM` = 8), up to `ndim`;
/// the rest is not read.
#[repr(C)]
pub struct B2ndArrayHead {
    pub sc: *mut sys::blosc2_schunk,
    pub shape: [i64; 8],
    pub chunkshape: [i32; 8],
    pub extshape: [i64; 8],
    pub blockshape: [i32; 8],
    pub extchunkshape: [i64; 8],
    /// Items in the array (without chunk padding).
    pub nitems: i64,
    pub chunknitems: i32,
    pub extnitems: i64,
    pub blocknitems: i32,
    pub extchunknitems: i64,
    pub ndim: i8,
}

extern "C" {
    fn b2nd_create_ctx(
        storage: *const sys::blosc2_storage,
        ndim: i8,
        shape: *const i64,
        chunkshape: *const i32,
        blockshape: *const i32,
        dtype: *const c_char,
        dtype_format: i8,
        metalayers: *const sys::blosc2_metalayer,
        nmetalayers: i32,
    ) -> *mut B2ndContext;
    fn b2nd_free_ctx(ctx: *mut B2ndContext) -> c_int;
    fn b2nd_from_cbuffer(
        ctx: *mut B2ndContext,
        array: *mut *mut B2ndArrayHead,
        buffer: *const c_void,
        buffersize: i64,
    ) -> c_int;
    fn b2nd_to_cbuffer(array: *const B2ndArrayHead, buffer: *mut c_void, buffersize: i64) -> c_int;
    fn b2nd_free(array: *mut B2ndArrayHead) -> c_int;
    fn b2nd_open(urlpath: *const c_char, array: *mut *mut B2ndArrayHead) -> c_int;
    fn b2nd_empty(ctx: *mut B2ndContext, array: *mut *mut B2ndArrayHead) -> c_int;
    fn b2nd_set_slice_cbuffer(
        buffer: *const c_void,
        buffershape: *const i64,
        buffersize: i64,
        start: *const i64,
        stop: *const i64,
        array: *mut B2ndArrayHead,
    ) -> c_int;
    fn b2nd_get_slice_cbuffer(
        array: *const B2ndArrayHead,
        start: *const i64,
        stop: *const i64,
        buffer: *mut c_void,
        buffershape: *const i64,
        buffersize: i64,
    ) -> c_int;
}

/// Opens a persistent b2nd array (a `.b2nd` frame on disk).
pub fn open_b2nd(path: &str) -> Result<Array, i32> {
    init();
    let c = CString::new(path).unwrap();
    let mut arr: *mut B2ndArrayHead = std::ptr::null_mut();
    // SAFETY: c is a valid path string; arr receives a new array on success.
    let rc = unsafe { b2nd_open(c.as_ptr(), &mut arr) };
    if rc < 0 {
        return Err(rc);
    }
    // SAFETY: a successfully opened array has a live schunk and its item count set.
    let nbytes = unsafe { (*arr).nitems as usize * (*(*arr).sc).typesize as usize };
    Ok(Array {
        ptr: arr,
        nbytes,
        encode_seconds: 0.0,
    })
}

/// A compressed b2nd array in memory.
pub struct Array {
    ptr: *mut B2ndArrayHead,
    pub nbytes: usize,
    pub encode_seconds: f64,
}

// SAFETY: the array is only used from one thread at a time (owned value).
unsafe impl Send for Array {}

/// A `b2nd_context_t` and what it points to: b2nd_create_ctx copies the storage struct,
/// the compression parameters and the metalayer entries, but keeps their pointers (the path,
/// the decompression parameters, the metalayers' names and contents).
struct Context<'a> {
    ptr: *mut B2ndContext,
    _urlpath: Option<CString>,
    _dparams: Box<sys::blosc2_dparams>,
    _names: Vec<CString>,
    _contents: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> Context<'a> {
    fn new(
        shape: &[i64],
        chunks: &[i32],
        blocks: &[i32],
        dtype: &str,
        typesize: i32,
        metalayers: &[(&str, &'a [u8])],
        settings: &Settings,
    ) -> Result<Self, i32> {
        init();
        let mut cp = cparams(typesize, settings);
        let mut dp = Box::new(dparams(settings.nthreads));
        let urlpath = settings
            .urlpath
            .as_ref()
            .map(|p| CString::new(p.as_str()).unwrap());
        let storage = sys::blosc2_storage {
            contiguous: true,
            urlpath: urlpath
                .as_ref()
                .map_or(std::ptr::null_mut(), |p| p.as_ptr() as *mut c_char),
            cparams: &mut cp,
            dparams: &mut *dp,
            io: std::ptr::null_mut(),
        };
        let names: Vec<CString> = metalayers
            .iter()
            .map(|(n, _)| CString::new(*n).unwrap())
            .collect();
        let metas: Vec<sys::blosc2_metalayer> = metalayers
            .iter()
            .zip(&names)
            .map(|((_, content), name)| sys::blosc2_metalayer {
                name: name.as_ptr() as *mut c_char,
                content: content.as_ptr() as *mut u8,
                content_len: content.len() as i32,
            })
            .collect();
        let dtype_c = CString::new(dtype).unwrap();
        // SAFETY: every pointer refers to live locals of the right lengths (ndim entries).
        let ctx = unsafe {
            b2nd_create_ctx(
                &storage,
                shape.len() as i8,
                shape.as_ptr(),
                chunks.as_ptr(),
                blocks.as_ptr(),
                dtype_c.as_ptr(),
                0,
                metas.as_ptr(),
                metas.len() as i32,
            )
        };
        if ctx.is_null() {
            return Err(-1);
        }
        Ok(Context {
            ptr: ctx,
            _urlpath: urlpath,
            _dparams: dp,
            _names: names,
            _contents: std::marker::PhantomData,
        })
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: ptr came from b2nd_create_ctx and is freed once.
        unsafe { b2nd_free_ctx(self.ptr) };
    }
}

/// Creates an empty b2nd array (a frame on disk with `settings.urlpath`) to be filled with
/// [`Array::set_slice`], so that data larger than memory can be compressed piece by piece.
pub fn create_b2nd(
    shape: &[i64],
    chunks: &[i32],
    blocks: &[i32],
    dtype: &str,
    typesize: i32,
    metalayers: &[(&str, &[u8])],
    settings: &Settings,
) -> Result<Array, i32> {
    let ctx = Context::new(shape, chunks, blocks, dtype, typesize, metalayers, settings)?;
    let mut arr: *mut B2ndArrayHead = std::ptr::null_mut();
    // SAFETY: ctx is valid; arr receives a new array on success.
    let rc = unsafe { b2nd_empty(ctx.ptr, &mut arr) };
    if rc < 0 {
        return Err(rc);
    }
    Ok(Array {
        ptr: arr,
        nbytes: shape.iter().product::<i64>() as usize * typesize as usize,
        encode_seconds: 0.0,
    })
}

/// Compresses `data` (C order, `dtype` a NumPy string) as a b2nd array with the given chunk
/// and block shapes and metalayers. Returns c-blosc2's error code on failure.
pub fn compress_b2nd(
    data: &[u8],
    shape: &[i64],
    chunks: &[i32],
    blocks: &[i32],
    dtype: &str,
    typesize: i32,
    metalayers: &[(&str, &[u8])],
    settings: &Settings,
) -> Result<Array, i32> {
    let ctx = Context::new(shape, chunks, blocks, dtype, typesize, metalayers, settings)?;
    let mut arr: *mut B2ndArrayHead = std::ptr::null_mut();
    let start = std::time::Instant::now();
    // SAFETY: ctx is valid; data holds data.len() bytes.
    let rc =
        unsafe { b2nd_from_cbuffer(ctx.ptr, &mut arr, data.as_ptr().cast(), data.len() as i64) };
    let encode_seconds = start.elapsed().as_secs_f64();
    if rc < 0 {
        return Err(rc);
    }
    Ok(Array {
        ptr: arr,
        nbytes: data.len(),
        encode_seconds,
    })
}

impl Array {
    /// The SChunk.
    pub fn schunk(&self) -> *mut sys::blosc2_schunk {
        // SAFETY: ptr is a live b2nd array.
        unsafe { (*self.ptr).sc }
    }

    /// Compressed bytes (chunks with their headers).
    pub fn cbytes(&self) -> i64 {
        // SAFETY: the schunk is alive while self is.
        unsafe { (*self.schunk()).cbytes }
    }

    /// Uncompressed over compressed size.
    pub fn cratio(&self) -> f64 {
        self.nbytes as f64 / self.cbytes() as f64
    }

    /// Decompresses the whole array (with the thread count it was created with); returns
    /// the bytes and the seconds it took.
    pub fn decompress(&self) -> Result<(Vec<u8>, f64), i32> {
        let mut out = vec![0u8; self.nbytes];
        let start = std::time::Instant::now();
        // SAFETY: out has nbytes bytes, the array's uncompressed size.
        let rc = unsafe { b2nd_to_cbuffer(self.ptr, out.as_mut_ptr().cast(), out.len() as i64) };
        let secs = start.elapsed().as_secs_f64();
        if rc < 0 {
            return Err(rc);
        }
        Ok((out, secs))
    }

    /// The array's shape.
    pub fn shape(&self) -> Vec<i64> {
        // SAFETY: ptr is a live b2nd array; ndim entries of shape are set.
        unsafe { (&(*self.ptr).shape)[..self.ndim()].to_vec() }
    }

    /// The array's chunk shape.
    pub fn chunkshape(&self) -> Vec<i32> {
        // SAFETY: as above.
        unsafe { (&(*self.ptr).chunkshape)[..self.ndim()].to_vec() }
    }

    fn ndim(&self) -> usize {
        // SAFETY: ptr is a live b2nd array.
        unsafe { (*self.ptr).ndim as usize }
    }

    /// Writes `data` (C order, the slice's shape) to the box `start..stop`; chunks the box
    /// covers wholly are compressed once.
    pub fn set_slice(&mut self, start: &[i64], stop: &[i64], data: &[u8]) -> Result<(), i32> {
        let nd = self.ndim();
        if start.len() != nd || stop.len() != nd {
            return Err(-1);
        }
        let shape: Vec<i64> = start.iter().zip(stop).map(|(a, b)| b - a).collect();
        // SAFETY: the slice vectors hold ndim entries; data holds data.len() bytes.
        let rc = unsafe {
            b2nd_set_slice_cbuffer(
                data.as_ptr().cast(),
                shape.as_ptr(),
                data.len() as i64,
                start.as_ptr(),
                stop.as_ptr(),
                self.ptr,
            )
        };
        if rc < 0 {
            return Err(rc);
        }
        Ok(())
    }

    /// Reads the box `start..stop` into `out` (C order, the slice's shape).
    pub fn get_slice(&self, start: &[i64], stop: &[i64], out: &mut [u8]) -> Result<(), i32> {
        let nd = self.ndim();
        if start.len() != nd || stop.len() != nd {
            return Err(-1);
        }
        let shape: Vec<i64> = start.iter().zip(stop).map(|(a, b)| b - a).collect();
        // SAFETY: the slice vectors hold ndim entries; out holds out.len() bytes.
        let rc = unsafe {
            b2nd_get_slice_cbuffer(
                self.ptr,
                start.as_ptr(),
                stop.as_ptr(),
                out.as_mut_ptr().cast(),
                shape.as_ptr(),
                out.len() as i64,
            )
        };
        if rc < 0 {
            return Err(rc);
        }
        Ok(())
    }

    /// A copy of the metalayer `name`, if the SChunk has one.
    pub fn metalayer(&self, name: &str) -> Option<Vec<u8>> {
        // SAFETY: the schunk is alive; c-blosc2 keeps `nmetalayers` valid entries.
        unsafe {
            let sc = &*self.schunk();
            sc.metalayers[..sc.nmetalayers as usize]
                .iter()
                .find_map(|&m| {
                    let m = &*m;
                    let this = std::ffi::CStr::from_ptr(m.name).to_bytes();
                    (this == name.as_bytes()).then(|| {
                        std::slice::from_raw_parts(m.content, m.content_len as usize).to_vec()
                    })
                })
        }
    }

    /// Number of chunks.
    pub fn nchunks(&self) -> i64 {
        // SAFETY: the schunk is alive.
        unsafe { (*self.schunk()).nchunks }
    }

    /// The compressed bytes of chunk `n`.
    pub fn chunk(&self, n: i64) -> Vec<u8> {
        // SAFETY: this array's SChunk lives as long as `self`.
        unsafe { schunk_chunk(self.schunk(), n) }
    }
}

impl Drop for Array {
    fn drop(&mut self) {
        // SAFETY: ptr came from b2nd_from_cbuffer and is freed once.
        unsafe { b2nd_free(self.ptr) };
    }
}

/// A copy of the compressed chunk `n` of `schunk`.
///
/// # Safety
/// `schunk` must be a live SChunk for the whole call (`Array::schunk()` or
/// `PlainSchunk::ptr` of a value still in scope).
pub unsafe fn schunk_chunk(schunk: *mut sys::blosc2_schunk, n: i64) -> Vec<u8> {
    let mut chunk: *mut u8 = std::ptr::null_mut();
    let mut needs_free = false;
    // SAFETY: schunk is live; c-blosc2 returns a pointer to cbytes bytes.
    let len = unsafe { sys::blosc2_schunk_get_chunk(schunk, n, &mut chunk, &mut needs_free) };
    assert!(len > 0, "blosc2_schunk_get_chunk({n}) = {len}");
    // SAFETY: chunk points to len bytes.
    let bytes = unsafe { std::slice::from_raw_parts(chunk, len as usize) }.to_vec();
    if needs_free {
        // SAFETY: c-blosc2 asked us to free it with free().
        unsafe { libc::free(chunk.cast()) };
    }
    bytes
}

/// Replaces chunk `n` of `schunk` with `chunk` (copied).
///
/// # Safety
/// `schunk` must be a live SChunk for the whole call (`Array::schunk()` or
/// `PlainSchunk::ptr` of a value still in scope).
pub unsafe fn schunk_update_chunk(schunk: *mut sys::blosc2_schunk, n: i64, chunk: &[u8]) -> i64 {
    // SAFETY: schunk is live; copy=true so c-blosc2 copies the bytes.
    unsafe { sys::blosc2_schunk_update_chunk(schunk, n, chunk.as_ptr() as *mut u8, true) }
}

/// Decompresses chunk `n` of `schunk` into `out`; returns c-blosc2's result.
///
/// # Safety
/// `schunk` must be a live SChunk for the whole call (`Array::schunk()` or
/// `PlainSchunk::ptr` of a value still in scope).
pub unsafe fn schunk_decompress_chunk(
    schunk: *mut sys::blosc2_schunk,
    n: i64,
    out: &mut [u8],
) -> i32 {
    // SAFETY: schunk is live; out has out.len() writable bytes.
    unsafe {
        sys::blosc2_schunk_decompress_chunk(schunk, n, out.as_mut_ptr().cast(), out.len() as i32)
    }
}

/// A plain SChunk (no b2nd layer) with the given block size and metalayers.
pub struct PlainSchunk {
    pub ptr: *mut sys::blosc2_schunk,
}

impl PlainSchunk {
    pub fn new(
        typesize: i32,
        blocksize: i32,
        metalayers: &[(&str, &[u8])],
        settings: &Settings,
    ) -> Self {
        init();
        let mut cp = cparams(typesize, settings);
        cp.blocksize = blocksize;
        let mut dp = dparams(settings.nthreads);
        let mut storage = sys::blosc2_storage {
            contiguous: true,
            urlpath: std::ptr::null_mut(),
            cparams: &mut cp,
            dparams: &mut dp,
            io: std::ptr::null_mut(),
        };
        // SAFETY: storage points to live params; c-blosc2 copies them.
        let ptr = unsafe { sys::blosc2_schunk_new(&mut storage) };
        assert!(!ptr.is_null());
        for (name, content) in metalayers {
            let name = CString::new(*name).unwrap();
            // SAFETY: live schunk; content has content.len() bytes; c-blosc2 copies both.
            let rc = unsafe {
                sys::blosc2_meta_add(
                    ptr,
                    name.as_ptr(),
                    content.as_ptr() as *mut u8,
                    content.len() as i32,
                )
            };
            assert!(rc >= 0, "blosc2_meta_add: {rc}");
        }
        PlainSchunk { ptr }
    }

    /// Appends one chunk of `data`; returns the new chunk count or c-blosc2's error.
    pub fn append(&self, data: &[u8]) -> i64 {
        // SAFETY: live schunk; data has data.len() bytes.
        unsafe {
            sys::blosc2_schunk_append_buffer(
                self.ptr,
                data.as_ptr() as *mut c_void,
                data.len() as i32,
            )
        }
    }
}

impl Drop for PlainSchunk {
    fn drop(&mut self) {
        // SAFETY: ptr came from blosc2_schunk_new and is freed once.
        unsafe { sys::blosc2_schunk_free(self.ptr) };
    }
}

/// The compressed stream of each block of a c-blosc2 chunk, in block order (c-blosc2 may lay
/// blocks out in completion order when several threads compress, so compare these, not the
/// raw chunk bytes). Expects an extended (Blosc2) header and unsplit blocks.
pub fn chunk_blocks(chunk: &[u8]) -> Vec<Vec<u8>> {
    let i32_at = |o: usize| i32::from_le_bytes(chunk[o..o + 4].try_into().unwrap());
    let nbytes = i32_at(4) as usize;
    let blocksize = i32_at(8) as usize;
    let nblocks = nbytes.div_ceil(blocksize);
    (0..nblocks)
        .map(|b| {
            let start = i32_at(32 + 4 * b) as usize;
            let csize = i32_at(start) as usize;
            chunk[start + 4..start + 4 + csize].to_vec()
        })
        .collect()
}

/// Compresses `data` as one chunk with c-blosc2's own codecs (`codec` is a `BLOSC_*` compressor
/// code such as `sys::BLOSC_LZ4`), as a plain buffer without SChunk. Returns the chunk.
pub fn compress_chunk(
    data: &[u8],
    typesize: i32,
    blocksize: i32,
    settings: &Settings,
) -> Result<Vec<u8>, i32> {
    init();
    let mut cp = cparams(typesize, settings);
    cp.blocksize = blocksize;
    // SAFETY: cp is fully initialized; c-blosc2 copies it.
    let ctx = unsafe { sys::blosc2_create_cctx(cp) };
    let mut out = vec![0u8; data.len() + sys::BLOSC2_MAX_OVERHEAD as usize];
    // SAFETY: ctx is valid; buffers have the stated lengths.
    let n = unsafe {
        sys::blosc2_compress_ctx(
            ctx,
            data.as_ptr().cast(),
            data.len() as i32,
            out.as_mut_ptr().cast(),
            out.len() as i32,
        )
    };
    // SAFETY: ctx came from blosc2_create_cctx.
    unsafe { sys::blosc2_free_ctx(ctx) };
    if n <= 0 {
        return Err(n);
    }
    out.truncate(n as usize);
    Ok(out)
}

/// Decompresses a chunk made by [`compress_chunk`] into `out` (its exact size).
pub fn decompress_chunk(chunk: &[u8], out: &mut [u8], nthreads: i16) -> Result<(), i32> {
    init();
    let dp = dparams(nthreads);
    // SAFETY: dp is fully initialized.
    let ctx = unsafe { sys::blosc2_create_dctx(dp) };
    // SAFETY: buffers have the stated lengths.
    let n = unsafe {
        sys::blosc2_decompress_ctx(
            ctx,
            chunk.as_ptr().cast(),
            chunk.len() as i32,
            out.as_mut_ptr().cast(),
            out.len() as i32,
        )
    };
    // SAFETY: ctx came from blosc2_create_dctx.
    unsafe { sys::blosc2_free_ctx(ctx) };
    if n as usize != out.len() {
        return Err(n.min(-1));
    }
    Ok(())
}
