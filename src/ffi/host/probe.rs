//! Learning the `blosc2_schunk` layout of a c-blosc2 release that has no row in the table
//! ([`crate::ffi::abi`]), from that c-blosc2 itself.
//!
//! The probe asks the c-blosc2 to build SChunks and watches which bytes change, instead of
//! trusting a header it has never seen:
//!
//! 1. `blosc2_schunk_new` with a zeroed `blosc2_storage` (no file, and NULL `cparams`,
//!    `dparams` and `io`, which every release from 2.15 to 3.6 replaces with its defaults);
//!    the copy of the SChunk's bytes (as many as `malloc_usable_size` allows) is snapshot 0.
//! 2. `blosc2_schunk_get_cparams` / `_dparams` on it: their `schunk` field must hold the
//!    SChunk's address and `typesize` the default 8, where [`Blosc2CParams`] and
//!    [`Blosc2DParams`] say (the fields the codec reads from what c-blosc2 hands it).
//! 3. `blosc2_meta_add` of a `vq` metalayer (snapshot 1), then of a `b2nd` one (snapshot 2),
//!    then `blosc2_vlmeta_add` of a variable-length one (snapshot 3). Exactly one
//!    pointer-sized field must go from NULL to a pointer at each `meta_add` (the next slot of
//!    the metalayer table), each pointing to a `blosc2_metalayer` with the probe's name and
//!    content; exactly one 16-bit field must count 0, 1, 2, 2 (`nmetalayers`), right after
//!    the 16 slots; the same for the variable-length table and its count (0, 0, 0, 1). A
//!    pointer found in memory is never dereferenced: what it points to is read through a
//!    pipe (`write(2)` fails with EFAULT on an address the process cannot read).
//! 4. A second SChunk from a copy of the first one's cparams with typesize 2, blocksize 4096,
//!    no filters and NEVER_SPLIT: the one 32-bit field that reads 8 in the first SChunk and
//!    2 in this one is `typesize`, and `blosc2_schunk_get_cparams` must give the four values
//!    back at the offsets the codec reads.
//! 5. `ndim` and `blockshape` are never set by c-blosc2's API (only a user or the ZFP codec
//!    fills them), so they cannot be watched. Every release lays out the same fields after
//!    `nvlmetalayers` (`tuner_params`, `tuner_id`, `ndim`, `blockshape`, then `view` in late
//!    2.x and 3.x and, since 3.2, `change_tick`), so their offsets follow from
//!    `nvlmetalayers`; the plugin reads them only when that stretch is bracketed by fields
//!    the probe saw: the variable-length table right after the metalayer count, and
//!    `change_tick` (a counter that moves 0, 1, 2, 3 with the probe's three additions)
//!    exactly where the derivation puts it. Otherwise a layout learned this way reads no
//!    SChunk `blockshape` (b2nd arrays carry theirs in the `b2nd` metalayer, which is read).
//!    The releases without `change_tick` (2.15 to 2.23, 3.0, 3.1) are all in the table.
//! 6. Last, the plugin's own reader ([`read_schunk_as`]) reads both SChunks in the learned
//!    layout and must find the probe's metalayers and typesizes.
//!
//! Anything else is an error that says which step failed; both SChunks are freed on every
//! path. The functions come through [`Blosc2Api`], a table of function pointers, so tests
//! run the probe against blosc2-sys's static c-blosc2 or against a fake one.

use crate::ffi::abi::{
    read_schunk_as, Blosc2CParams, Blosc2DParams, Blosc2Metalayer, SchunkLayout, MAX_FILTERS,
    MAX_METALAYERS,
};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::mem::{offset_of, size_of};

/// `BLOSC2_MAX_VLMETALAYERS`, the same in every release.
const MAX_VLMETALAYERS: usize = 8 * 1024;
/// Bytes of a pointer (every slot of the metalayer tables).
const PTR: usize = size_of::<usize>();
/// A `blosc2_schunk` of any release is larger than this...
const MIN_SCHUNK_BYTES: usize = 256;
/// ...and smaller than this (they are about 64 KiB, the variable-length metalayer table).
const MAX_SCHUNK_BYTES: usize = 1 << 22;
/// The most bytes of a `blosc2_cparams` copied (theirs are 136).
const MAX_CPARAMS_BYTES: usize = 4096;
/// The only field offsets searched for `typesize` (it is at 8 in every release).
const TYPESIZE_WINDOW: usize = 64;
/// `BLOSC_NEVER_SPLIT`.
const NEVER_SPLIT: i32 = 2;

/// The probe's metalayers: names the plugin's reader looks for, contents nothing else has.
const META: [(&CStr, &[u8]); 2] = [
    (
        c"vq",
        b"blosc2-vq layout probe: metalayer 0 \x00\x01\xfe\xff",
    ),
    (
        c"b2nd",
        b"blosc2-vq layout probe: metalayer 1, a bit longer \x7f\x80",
    ),
];
const VLMETA: (&CStr, &[u8]) = (c"blosc2-vq-probe", b"blosc2-vq layout probe: vlmetalayer");

/// The c-blosc2 functions the probe calls, all from one c-blosc2, and the allocator's.
#[derive(Clone, Copy)]
pub struct Blosc2Api {
    /// `const char *blosc2_get_version_string(void)`.
    pub get_version_string: unsafe extern "C" fn() -> *const c_char,
    /// `void blosc2_init(void)` (which returns at once when already initialized).
    pub init: unsafe extern "C" fn(),
    /// `blosc2_schunk *blosc2_schunk_new(blosc2_storage *storage)`.
    pub schunk_new: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    /// `int blosc2_schunk_free(blosc2_schunk *schunk)`.
    pub schunk_free: unsafe extern "C" fn(*mut c_void) -> c_int,
    /// `int blosc2_meta_add(blosc2_schunk *schunk, const char *name, uint8_t *content,
    /// int32_t content_len)`.
    pub meta_add: unsafe extern "C" fn(*mut c_void, *const c_char, *mut u8, i32) -> c_int,
    /// `int blosc2_vlmeta_add(blosc2_schunk *schunk, const char *name, uint8_t *content,
    /// int32_t content_len, blosc2_cparams *cparams)`.
    pub vlmeta_add:
        unsafe extern "C" fn(*mut c_void, *const c_char, *mut u8, i32, *mut c_void) -> c_int,
    /// `int blosc2_schunk_get_cparams(blosc2_schunk *schunk, blosc2_cparams **cparams)`.
    pub schunk_get_cparams: unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> c_int,
    /// `int blosc2_schunk_get_dparams(blosc2_schunk *schunk, blosc2_dparams **dparams)`.
    pub schunk_get_dparams: unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> c_int,
    /// `free`, for what `blosc2_schunk_get_cparams` and `_dparams` allocate.
    pub free: unsafe extern "C" fn(*mut c_void),
    /// `malloc_usable_size`: how many bytes of a c-blosc2 allocation may be read.
    pub usable_size: unsafe extern "C" fn(*mut c_void) -> usize,
}

/// The C names of the functions [`Blosc2Api`] holds, in its field order (the last two are
/// the C library's).
pub const BLOSC2_SYMBOLS: [&CStr; 8] = [
    c"blosc2_get_version_string",
    c"blosc2_init",
    c"blosc2_schunk_new",
    c"blosc2_schunk_free",
    c"blosc2_meta_add",
    c"blosc2_vlmeta_add",
    c"blosc2_schunk_get_cparams",
    c"blosc2_schunk_get_dparams",
];

impl Blosc2Api {
    /// The table from the addresses of [`BLOSC2_SYMBOLS`] (in that order), with the C
    /// library's `free` and `malloc_usable_size`.
    ///
    /// # Safety
    /// Each address must be the function of that name of one c-blosc2 (2.x or 3.x
    /// signatures, which are the same for these functions).
    pub unsafe fn from_symbols(symbols: [*mut c_void; 8]) -> Result<Self, String> {
        if let Some(i) = symbols.iter().position(|s| s.is_null()) {
            return Err(format!(
                "{} is missing",
                BLOSC2_SYMBOLS[i].to_string_lossy()
            ));
        }
        // SAFETY: each non-NULL address is the named function (caller's contract), whose C
        // signature is the fn pointer type it is transmuted to.
        unsafe {
            Ok(Blosc2Api {
                get_version_string: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn() -> *const c_char,
                >(symbols[0]),
                init: std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(symbols[1]),
                schunk_new: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(*mut c_void) -> *mut c_void,
                >(symbols[2]),
                schunk_free: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(*mut c_void) -> c_int,
                >(symbols[3]),
                meta_add: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(*mut c_void, *const c_char, *mut u8, i32) -> c_int,
                >(symbols[4]),
                vlmeta_add: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(
                        *mut c_void,
                        *const c_char,
                        *mut u8,
                        i32,
                        *mut c_void,
                    ) -> c_int,
                >(symbols[5]),
                schunk_get_cparams: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> c_int,
                >(symbols[6]),
                schunk_get_dparams: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> c_int,
                >(symbols[7]),
                free: libc::free,
                usable_size: libc::malloc_usable_size,
            })
        }
    }

    /// The version string of this c-blosc2 (None if it returns NULL).
    ///
    /// # Safety
    /// `self.get_version_string` must be c-blosc2's.
    pub unsafe fn version_string(&self) -> Option<String> {
        // SAFETY: c-blosc2's function takes nothing and returns a static string or NULL.
        let text = unsafe { (self.get_version_string)() };
        if text.is_null() {
            return None;
        }
        // SAFETY: non-NULL: a NUL-terminated string that c-blosc2 keeps.
        let text = unsafe { CStr::from_ptr(text) };
        Some(text.to_string_lossy().into_owned())
    }
}

/// What the probe learned about one c-blosc2's `blosc2_schunk` (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedLayout {
    /// The probed c-blosc2's `blosc2_get_version_string()`.
    pub version: String,
    /// Readable bytes of its SChunk allocation (at least `sizeof(blosc2_schunk)`).
    pub schunk_bytes: usize,
    /// `typesize` (seen: 8 by default, 2 when asked).
    pub typesize: usize,
    /// `metalayers[16]` (seen: its first two slots filled, in order).
    pub metalayers: usize,
    /// `nmetalayers` (seen: counting 0, 1, 2).
    pub nmetalayers: usize,
    /// `vlmetalayers[8192]` (seen: its first slot filled).
    pub vlmetalayers: usize,
    /// `nvlmetalayers` (seen: counting 0, 1).
    pub nvlmetalayers: usize,
    /// `change_tick` (seen counting 0, 1, 2, 3; c-blosc2 3.2 and later), if there is one.
    pub change_tick: Option<usize>,
    /// `ndim`, derived from `nvlmetalayers` (the fields between them are the same in every
    /// release).
    pub ndim: usize,
    /// `blockshape`, derived as `ndim` is.
    pub blockshape: usize,
    /// Whether `ndim` and `blockshape` are bracketed by fields the probe saw (see the module
    /// docs): only then does the learned layout read them.
    pub blockshape_bracketed: bool,
}

impl ProbedLayout {
    /// The layout for [`read_schunk_as`], named `name`.
    pub fn schunk_layout(&self, name: &'static str) -> SchunkLayout {
        SchunkLayout {
            name,
            typesize: self.typesize,
            metalayers: self.metalayers,
            nmetalayers: self.nmetalayers,
            ndim: self.ndim,
            blockshape: self.blockshape,
            reads_blockshape: self.blockshape_bracketed,
        }
    }
}

/// Learns the SChunk layout of the c-blosc2 behind `api` (see the module docs). Creates and
/// frees two SChunks in it; calls `blosc2_init` first (which does nothing when the library
/// is initialized already).
///
/// # Safety
/// `api`'s functions must be those of one c-blosc2 (or behave as they do), safe to call
/// from this thread, and `free`/`usable_size` those of the allocator it uses.
pub unsafe fn probe_schunk_layout(api: &Blosc2Api) -> Result<ProbedLayout, String> {
    // SAFETY: the caller's contract.
    let version = unsafe { api.version_string() }
        .ok_or_else(|| "blosc2_get_version_string() returned NULL".to_string())?;
    // SAFETY: blosc2_init takes nothing and returns at once when called before.
    unsafe { (api.init)() };

    // SAFETY: the caller's contract; NULL cparams: the library's defaults.
    let first = unsafe { ProbeSchunk::new(api, std::ptr::null_mut()) }?;
    let size = first.size;
    let mut snaps = vec![first.snapshot()];
    // SAFETY: a live SChunk of this library.
    let cparams_image = unsafe { check_params(api, &first, 8, 0, None) }
        .map_err(|e| format!("a fresh SChunk (default parameters): {e}"))?;
    for (i, (name, content)) in META.iter().enumerate() {
        let mut bytes = content.to_vec();
        // SAFETY: a live SChunk, a NUL-terminated name, content.len() readable bytes.
        let rc = unsafe {
            (api.meta_add)(
                first.ptr,
                name.as_ptr(),
                bytes.as_mut_ptr(),
                bytes.len() as i32,
            )
        };
        if rc != i as c_int {
            return Err(format!(
                "blosc2_meta_add of metalayer {i} returned {rc}, expected {i}"
            ));
        }
        snaps.push(first.snapshot());
    }
    let mut vl = VLMETA.1.to_vec();
    // SAFETY: as above; NULL cparams: compressed with the defaults.
    let rc = unsafe {
        (api.vlmeta_add)(
            first.ptr,
            VLMETA.0.as_ptr(),
            vl.as_mut_ptr(),
            vl.len() as i32,
            std::ptr::null_mut(),
        )
    };
    if rc != 0 {
        return Err(format!("blosc2_vlmeta_add returned {rc}, expected 0"));
    }
    snaps.push(first.snapshot());

    // A second SChunk, from the first one's cparams with other values in the fields the
    // codec reads.
    let mut cparams = vec![0u64; MAX_CPARAMS_BYTES / 8];
    let image = cparams.as_mut_ptr().cast::<u8>();
    // SAFETY: the image is at most MAX_CPARAMS_BYTES long, the size of the buffer; each
    // field written lies inside the first size_of::<Blosc2CParams>() bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(cparams_image.as_ptr(), image, cparams_image.len());
        put(image, offset_of!(Blosc2CParams, typesize), 2i32);
        put(image, offset_of!(Blosc2CParams, blocksize), 4096i32);
        put(image, offset_of!(Blosc2CParams, splitmode), NEVER_SPLIT);
        put(
            image,
            offset_of!(Blosc2CParams, schunk),
            std::ptr::null_mut::<c_void>(),
        );
        put(
            image,
            offset_of!(Blosc2CParams, filters),
            [0u8; MAX_FILTERS],
        );
        put(
            image,
            offset_of!(Blosc2CParams, filters_meta),
            [0u8; MAX_FILTERS],
        );
    }
    // SAFETY: a cparams image c-blosc2 made, in a buffer larger than its blosc2_cparams.
    let second = unsafe { ProbeSchunk::new(api, cparams.as_mut_ptr().cast()) }?;
    if second.size != size {
        return Err(format!(
            "two SChunks of the same library have {size} and {} readable bytes",
            second.size
        ));
    }
    let other = second.snapshot();
    // SAFETY: a live SChunk of this library.
    unsafe { check_params(api, &second, 2, 4096, Some(NEVER_SPLIT)) }.map_err(|e| {
        format!("an SChunk made with typesize 2, blocksize 4096, no filters, NEVER_SPLIT: {e}")
    })?;

    // Both SChunks live until the end of this function.
    let probed = analyze(&version, &snaps, &other)?;

    // The plugin's own reader, in the learned layout, on both SChunks.
    let layout = probed.schunk_layout("the probed layout");
    // SAFETY: both are live SChunks of this layout (just learned), unmodified meanwhile.
    let (a, b) = unsafe {
        (
            read_schunk_as(first.ptr, &layout),
            read_schunk_as(second.ptr, &layout),
        )
    };
    let a = a.map_err(|e| format!("reading the probe's SChunk in the learned layout: {e}"))?;
    let b = b.map_err(|e| format!("reading the second SChunk in the learned layout: {e}"))?;
    if a.typesize != 8
        || a.codebook != Some(META[0].1)
        || a.b2nd != Some(META[1].1)
        || a.blockshape.is_some()
        || b.typesize != 2
        || b.codebook.is_some()
        || b.b2nd.is_some()
    {
        return Err(format!(
            "the plugin's reader does not find in the learned layout what the probe put in \
             the SChunks (typesizes {} and {}, metalayers found: {}, {})",
            a.typesize,
            b.typesize,
            a.codebook.is_some(),
            a.b2nd.is_some()
        ));
    }
    Ok(probed)
}

/// An SChunk the probe made, freed when dropped.
struct ProbeSchunk<'a> {
    api: &'a Blosc2Api,
    ptr: *mut c_void,
    /// Readable bytes at `ptr`.
    size: usize,
}

/// c-blosc2's `blosc2_storage` (the same in 2.15 to 3.6), inside zeroed room for fields a
/// later release might append.
#[repr(C)]
struct Storage {
    contiguous: bool,
    urlpath: *mut c_char,
    cparams: *mut c_void,
    dparams: *mut c_void,
    io: *mut c_void,
    spare: [u64; 27],
}

impl<'a> ProbeSchunk<'a> {
    /// `blosc2_schunk_new` of an in-memory SChunk with these cparams (NULL: defaults).
    ///
    /// # Safety
    /// `api` as for [`probe_schunk_layout`]; `cparams` NULL or a `blosc2_cparams` of this
    /// c-blosc2 in a buffer of at least its size.
    unsafe fn new(api: &'a Blosc2Api, cparams: *mut c_void) -> Result<Self, String> {
        let mut storage = Storage {
            contiguous: false,
            urlpath: std::ptr::null_mut(),
            cparams,
            dparams: std::ptr::null_mut(),
            io: std::ptr::null_mut(),
            spare: [0; 27],
        };
        // SAFETY: a storage c-blosc2 copies (its size is less than ours), no file.
        let ptr = unsafe { (api.schunk_new)((&mut storage as *mut Storage).cast()) };
        if ptr.is_null() {
            return Err("blosc2_schunk_new returned NULL".into());
        }
        // Freed by drop from here on, on every path.
        let mut schunk = ProbeSchunk { api, ptr, size: 0 };
        // SAFETY: ptr is the SChunk c-blosc2 allocated (with calloc, in every release).
        let size = unsafe { (api.usable_size)(ptr) };
        if !(MIN_SCHUNK_BYTES..=MAX_SCHUNK_BYTES).contains(&size) {
            return Err(format!(
                "blosc2_schunk_new gave an allocation of {size} bytes (expected \
                 {MIN_SCHUNK_BYTES} to {MAX_SCHUNK_BYTES})"
            ));
        }
        schunk.size = size;
        Ok(schunk)
    }

    /// A copy of the SChunk's readable bytes.
    fn snapshot(&self) -> Vec<u8> {
        let mut copy = vec![0u8; self.size];
        // SAFETY: the allocation has `size` readable bytes (malloc_usable_size); the
        // regions do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.cast::<u8>(), copy.as_mut_ptr(), self.size)
        };
        copy
    }
}

impl Drop for ProbeSchunk<'_> {
    fn drop(&mut self) {
        // SAFETY: an SChunk this c-blosc2 made, freed once.
        unsafe { (self.api.schunk_free)(self.ptr) };
    }
}

/// Memory from `blosc2_schunk_get_cparams` / `_dparams`, freed when dropped.
struct Freed<'a>(&'a Blosc2Api, *mut c_void);

impl Drop for Freed<'_> {
    fn drop(&mut self) {
        // SAFETY: allocated by c-blosc2 with calloc, freed once.
        unsafe { (self.0.free)(self.1) };
    }
}

/// Checks that `blosc2_schunk_get_cparams` and `_dparams` fill the fields the codec reads
/// where [`Blosc2CParams`] and [`Blosc2DParams`] have them, and returns the cparams' bytes.
///
/// # Safety
/// `schunk` is a live SChunk of `api`'s c-blosc2.
unsafe fn check_params(
    api: &Blosc2Api,
    schunk: &ProbeSchunk<'_>,
    typesize: i32,
    blocksize: i32,
    never_split: Option<i32>,
) -> Result<Vec<u8>, String> {
    let mut cp: *mut c_void = std::ptr::null_mut();
    // SAFETY: a live SChunk and a place for the pointer.
    let rc = unsafe { (api.schunk_get_cparams)(schunk.ptr, &mut cp) };
    if rc < 0 || cp.is_null() {
        return Err(format!("blosc2_schunk_get_cparams returned {rc}"));
    }
    let cp = Freed(api, cp);
    // SAFETY: an allocation c-blosc2 made.
    let n = unsafe { (api.usable_size)(cp.1) };
    if !(size_of::<Blosc2CParams>()..=MAX_CPARAMS_BYTES).contains(&n) {
        return Err(format!(
            "blosc2_schunk_get_cparams gave {n} bytes, not a blosc2_cparams of {} bytes",
            size_of::<Blosc2CParams>()
        ));
    }
    let mut image = vec![0u8; n];
    // SAFETY: n readable bytes; the regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(cp.1.cast::<u8>(), image.as_mut_ptr(), n) };
    let at = |offset| image.as_ptr().wrapping_add(offset);
    // SAFETY: every offset is inside Blosc2CParams, which fits in the n bytes copied.
    let (got_schunk, got_typesize, got_blocksize, got_splitmode, got_filters) = unsafe {
        (
            get::<*mut c_void>(at(offset_of!(Blosc2CParams, schunk))),
            get::<i32>(at(offset_of!(Blosc2CParams, typesize))),
            get::<i32>(at(offset_of!(Blosc2CParams, blocksize))),
            get::<i32>(at(offset_of!(Blosc2CParams, splitmode))),
            get::<[u8; MAX_FILTERS]>(at(offset_of!(Blosc2CParams, filters))),
        )
    };
    if got_schunk != schunk.ptr {
        return Err(format!(
            "the blosc2_cparams from blosc2_schunk_get_cparams does not hold the SChunk's \
             address at offset {} (its layout is not the one the codec reads)",
            offset_of!(Blosc2CParams, schunk)
        ));
    }
    if got_typesize != typesize || got_blocksize != blocksize {
        return Err(format!(
            "blosc2_cparams holds typesize {got_typesize} and blocksize {got_blocksize} at \
             offsets {} and {}, expected {typesize} and {blocksize}",
            offset_of!(Blosc2CParams, typesize),
            offset_of!(Blosc2CParams, blocksize)
        ));
    }
    if let Some(split) = never_split {
        if got_splitmode != split || got_filters != [0; MAX_FILTERS] {
            return Err(format!(
                "blosc2_cparams holds splitmode {got_splitmode} and filters {got_filters:?} \
                 at offsets {} and {}, expected {split} and no filters",
                offset_of!(Blosc2CParams, splitmode),
                offset_of!(Blosc2CParams, filters)
            ));
        }
    }
    let mut dp: *mut c_void = std::ptr::null_mut();
    // SAFETY: a live SChunk and a place for the pointer.
    let rc = unsafe { (api.schunk_get_dparams)(schunk.ptr, &mut dp) };
    if rc < 0 || dp.is_null() {
        return Err(format!("blosc2_schunk_get_dparams returned {rc}"));
    }
    let dp = Freed(api, dp);
    // SAFETY: an allocation c-blosc2 made.
    let n = unsafe { (api.usable_size)(dp.1) };
    if n < size_of::<Blosc2DParams>() {
        return Err(format!(
            "blosc2_schunk_get_dparams gave {n} bytes, less than a blosc2_dparams"
        ));
    }
    // SAFETY: the field lies inside the n readable bytes.
    let got =
        unsafe { get::<*mut c_void>(dp.1.cast::<u8>().add(offset_of!(Blosc2DParams, schunk))) };
    if got != schunk.ptr {
        return Err(format!(
            "the blosc2_dparams from blosc2_schunk_get_dparams does not hold the SChunk's \
             address at offset {} (its layout is not the one the codec reads)",
            offset_of!(Blosc2DParams, schunk)
        ));
    }
    Ok(image)
}

/// Reads a `T` at `p`, unaligned.
///
/// # Safety
/// `size_of::<T>()` readable bytes at `p`, a valid `T` whatever they hold.
unsafe fn get<T: Copy>(p: *const u8) -> T {
    // SAFETY: the caller's contract.
    unsafe { p.cast::<T>().read_unaligned() }
}

/// Writes a `T` at `p`, unaligned.
///
/// # Safety
/// `size_of::<T>()` writable bytes at `p`.
unsafe fn put<T: Copy>(p: *mut u8, offset: usize, value: T) {
    // SAFETY: the caller's contract.
    unsafe { p.add(offset).cast::<T>().write_unaligned(value) };
}

/// A snapshot's word (pointer-sized), 16- or 32-bit field at `offset`.
fn word(snap: &[u8], offset: usize) -> usize {
    usize::from_ne_bytes(snap[offset..offset + PTR].try_into().unwrap_or([0; PTR]))
}
fn half(snap: &[u8], offset: usize) -> u16 {
    u16::from_ne_bytes([snap[offset], snap[offset + 1]])
}
fn int(snap: &[u8], offset: usize) -> i32 {
    i32::from_ne_bytes(snap[offset..offset + 4].try_into().unwrap_or([0; 4]))
}

fn align(offset: usize, to: usize) -> usize {
    offset.div_ceil(to) * to
}

/// The pointer-aligned offsets whose words are NULL in the snapshots before `step` and the
/// same value from `step` on, a value that can be the address of a heap allocation
/// (aligned, past the first page; counters that start moving are not).
fn new_pointers(snaps: &[Vec<u8>], step: usize) -> Vec<(usize, usize)> {
    let size = snaps[0].len();
    (0..size / PTR)
        .map(|i| i * PTR)
        .filter_map(|o| {
            let value = word(&snaps[step], o);
            let fits = value >= 4096
                && value.is_multiple_of(PTR)
                && snaps[..step].iter().all(|s| word(s, o) == 0)
                && snaps[step..].iter().all(|s| word(s, o) == value);
            fits.then_some((o, value))
        })
        .collect()
}

/// The 2-aligned offsets whose 16-bit values across the snapshots are `counts`.
fn counters(snaps: &[Vec<u8>], counts: &[u16]) -> Vec<usize> {
    let size = snaps[0].len();
    (0..size / 2)
        .map(|i| i * 2)
        .filter(|&o| snaps.iter().zip(counts).all(|(s, &c)| half(s, o) == c))
        .collect()
}

/// Reads memory at addresses found in memory without trusting them: the bytes go through a
/// pipe, and the kernel answers EFAULT for an address the process cannot read instead of
/// the process faulting.
struct Peek {
    read_end: c_int,
    write_end: c_int,
}

impl Peek {
    fn new() -> Result<Self, String> {
        let mut fds = [0 as c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!(
                "cannot create a pipe to read memory safely: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Peek {
            read_end: fds[0],
            write_end: fds[1],
        })
    }

    /// The `len` bytes at `addr` (at most 4096, what a pipe takes in one write), or None if
    /// any of them cannot be read.
    fn bytes(&self, addr: usize, len: usize) -> Option<Vec<u8>> {
        if len == 0 || len > 4096 || addr.checked_add(len).is_none() {
            return None;
        }
        // SAFETY: write(2) only reads the range, and fails with EFAULT rather than faulting
        // when it is not readable; the pipe is empty, so a write this small is whole.
        let written = unsafe { libc::write(self.write_end, addr as *const c_void, len) };
        if usize::try_from(written).ok()? != len {
            return None;
        }
        let mut out = vec![0u8; len];
        // SAFETY: `out` has len writable bytes; the pipe holds exactly len bytes.
        let got = unsafe { libc::read(self.read_end, out.as_mut_ptr().cast(), len) };
        (usize::try_from(got).ok()? == len).then_some(out)
    }
}

impl Drop for Peek {
    fn drop(&mut self) {
        // SAFETY: descriptors this struct opened, closed once.
        unsafe {
            libc::close(self.read_end);
            libc::close(self.write_end);
        }
    }
}

/// Whether `ptr` points to a `blosc2_metalayer` named `name` holding `content` (any
/// non-empty content when None). Reads only through `peek`.
fn is_metalayer(peek: &Peek, ptr: usize, name: &CStr, content: Option<&[u8]>) -> bool {
    if !ptr.is_multiple_of(std::mem::align_of::<Blosc2Metalayer>()) {
        return false;
    }
    let Some(meta) = peek.bytes(ptr, size_of::<Blosc2Metalayer>()) else {
        return false;
    };
    let field = |offset: usize| word(&meta, offset);
    let name_ptr = field(offset_of!(Blosc2Metalayer, name));
    let content_ptr = field(offset_of!(Blosc2Metalayer, content));
    let content_len = int(&meta, offset_of!(Blosc2Metalayer, content_len));
    let name = name.to_bytes_with_nul();
    if peek.bytes(name_ptr, name.len()).as_deref() != Some(name) {
        return false;
    }
    let Ok(len) = usize::try_from(content_len) else {
        return false;
    };
    match content {
        None => len > 0 && content_ptr != 0,
        Some(content) => {
            len == content.len() && peek.bytes(content_ptr, len).as_deref() == Some(content)
        }
    }
}

/// The layout from the snapshots of the first SChunk (fresh, after each metalayer, after
/// the variable-length one) and of the second (typesize 2).
///
/// The SChunks snapshot must be alive, so that the metalayers their pointers point to are
/// the probe's (a stale pointer would only fail the checks: every read goes through [`Peek`]).
fn analyze(version: &str, snaps: &[Vec<u8>], other: &[u8]) -> Result<ProbedLayout, String> {
    let size = snaps[0].len();
    let peek = Peek::new()?;
    // The metalayer table: one new pointer per blosc2_meta_add, each to the probe's own.
    let mut slots = Vec::new();
    for (i, (name, content)) in META.iter().enumerate() {
        let found = new_pointers(snaps, i + 1);
        let [(offset, value)] = found[..] else {
            return Err(format!(
                "blosc2_meta_add turned {} pointer-sized fields of the SChunk from NULL into \
                 something else, expected exactly one (the next slot of the metalayer table)",
                found.len()
            ));
        };
        if !is_metalayer(&peek, value, name, Some(content)) {
            return Err(format!(
                "the field at offset {offset} that blosc2_meta_add set does not point to a \
                 blosc2_metalayer named {name:?} with the probe's content"
            ));
        }
        slots.push(offset);
    }
    let metalayers = slots[0];
    if slots[1] != metalayers + PTR {
        return Err(format!(
            "the two metalayers went to offsets {} and {}, not to consecutive slots",
            slots[0], slots[1]
        ));
    }
    let nmetalayers = one(
        counters(snaps, &[0, 1, 2, 2]),
        "a 16-bit field counting the metalayers (0, 1, 2)",
    )?;
    if nmetalayers != metalayers + MAX_METALAYERS * PTR {
        return Err(format!(
            "the metalayer count is at offset {nmetalayers}, not right after a table of \
             {MAX_METALAYERS} slots at {metalayers}"
        ));
    }
    // The variable-length table and its count.
    let found = new_pointers(snaps, 3);
    let [(vlmetalayers, value)] = found[..] else {
        return Err(format!(
            "blosc2_vlmeta_add turned {} pointer-sized fields of the SChunk from NULL into \
             something else, expected exactly one",
            found.len()
        ));
    };
    // Its content is compressed: any non-empty content.
    if !is_metalayer(&peek, value, VLMETA.0, None) {
        return Err(format!(
            "the field at offset {vlmetalayers} that blosc2_vlmeta_add set does not point to \
             the variable-length metalayer"
        ));
    }
    let nvlmetalayers = one(
        counters(snaps, &[0, 0, 0, 1]),
        "a 16-bit field counting the variable-length metalayers (0, 1)",
    )?;
    // change_tick (3.2 and later): a pointer-aligned 64-bit counter of the three additions.
    let ticks: Vec<usize> = (0..size / PTR)
        .map(|i| i * PTR)
        .filter(|&o| snaps.iter().enumerate().all(|(n, s)| word(s, o) == n))
        .collect();
    let change_tick = match ticks[..] {
        [o] => Some(o),
        _ => None,
    };
    // typesize: 8 in the first SChunk, 2 in the second, among the leading fields.
    let typesize = one(
        (0..TYPESIZE_WINDOW.min(size) / 4)
            .map(|i| i * 4)
            .filter(|&o| int(&snaps[0], o) == 8 && int(other, o) == 2)
            .collect(),
        "a 32-bit field holding the typesize (8 by default, 2 when asked)",
    )?;
    // ndim and blockshape: after nvlmetalayers come tuner_params (a pointer), tuner_id (an
    // int), ndim (int8) and blockshape (a pointer), then view (bool) and change_tick.
    let tuner_params = align(nvlmetalayers + 2, PTR);
    let ndim = tuner_params + PTR + 4;
    let blockshape = align(ndim + 1, PTR);
    let untouched = blockshape + PTR <= size
        && snaps
            .iter()
            .map(Vec::as_slice)
            .chain([other])
            .all(|s| s[ndim] == 0 && word(s, blockshape) == 0);
    let blockshape_bracketed = untouched
        && vlmetalayers == align(nmetalayers + 2, PTR)
        && nvlmetalayers == vlmetalayers + MAX_VLMETALAYERS * PTR
        && change_tick == Some(blockshape + 2 * PTR);
    Ok(ProbedLayout {
        version: version.to_string(),
        schunk_bytes: size,
        typesize,
        metalayers,
        nmetalayers,
        vlmetalayers,
        nvlmetalayers,
        change_tick,
        ndim,
        blockshape,
        blockshape_bracketed,
    })
}

/// The single offset found, or an error saying how many there were.
fn one(found: Vec<usize>, what: &str) -> Result<usize, String> {
    match found[..] {
        [o] => Ok(o),
        [] => Err(format!("found no {what}")),
        _ => Err(format!(
            "found {} candidates for {what} (at {:?}), expected one",
            found.len(),
            &found[..found.len().min(8)]
        )),
    }
}
