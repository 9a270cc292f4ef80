//! c-blosc2's structures as the plugin sees them, and reading the SChunk safely.
//!
//! `blosc2_cparams` and `blosc2_dparams` (up to `schunk`) have the same layout in c-blosc2
//! 2.15 to 3.6 (compared field by field in the `blosc2.h` of 2.15.0, 2.23.1, 3.0.0, 3.1.5,
//! 3.2.3, 3.3.2 and 3.6.1; `dparams` gained a trailing `typesize` in 2.x, which the plugin
//! does not read). `blosc2_schunk` does not: 3.x inserts `flags2` and `use_dict` after
//! `chunksize`, moving every later field by 8 bytes (3.2 appends `change_tick`; 3.2.3, 3.3.2
//! and 3.6.1 are identical).
//! The plugin is loaded into hosts of both (blosc2-sys vendors 2.15.2; python-blosc2 3.12
//! bundles 2.22, 4.14 bundles 3.3, 4.15 bundles 3.6.1), so it reads an SChunk only in the
//! layout of the host's c-blosc2 ([`super::host`]): from the table below for the releases it
//! was built knowing, or learned from the host's c-blosc2 itself for others
//! ([`super::host::probe`]). Either way it checks that the metalayer table fits the layout
//! before following any pointer in it.
//!
//! Offsets on 64-bit targets, the same in every release of each line (compiled from each
//! release's `blosc2.h`, 2.15.0 to 2.23.1 and 3.0.0 to 3.3.2; `tests/abi_layout.rs` checks the
//! 2.15 ones against `blosc2-sys`'s bindings, `tests/schunk_probe.rs` that probing gives them):
//!
//! | field          | 2.15–2.23 | 3.0–3.3 |
//! |----------------|-----------|---------|
//! | typesize       | 8     | 8     |
//! | metalayers\[16\] | 112   | 120   |
//! | nmetalayers    | 240   | 248   |
//! | ndim           | 65804 | 65812 |
//! | blockshape     | 65808 | 65816 |

// Fields mirror c-blosc2's own structs; blosc2.h documents them.
#![allow(missing_docs)]

use std::ffi::{c_char, c_int, c_void};

/// `BLOSC2_MAX_FILTERS`.
pub const MAX_FILTERS: usize = 6;
/// `BLOSC2_MAX_METALAYERS`.
pub const MAX_METALAYERS: usize = 16;
/// `BLOSC2_METALAYER_NAME_MAXLEN`.
const METALAYER_NAME_MAXLEN: usize = 31;

/// c-blosc2's `blosc2_cparams` (identical in 2.15 to 3.6).
#[repr(C)]
#[derive(Debug)]
pub struct Blosc2CParams {
    pub compcode: u8,
    pub compcode_meta: u8,
    pub clevel: u8,
    pub use_dict: c_int,
    pub typesize: i32,
    pub nthreads: i16,
    pub blocksize: i32,
    pub splitmode: i32,
    pub schunk: *mut c_void,
    pub filters: [u8; MAX_FILTERS],
    pub filters_meta: [u8; MAX_FILTERS],
    pub prefilter: *mut c_void,
    pub preparams: *mut c_void,
    pub tuner_params: *mut c_void,
    pub tuner_id: c_int,
    pub instr_codec: bool,
    pub codec_params: *mut c_void,
    pub filter_params: [*mut c_void; MAX_FILTERS],
}

/// The leading fields of c-blosc2's `blosc2_dparams` (3.x appends `typesize`, which the
/// plugin does not read so that 2.15 hosts work too).
#[repr(C)]
#[derive(Debug)]
pub struct Blosc2DParams {
    pub nthreads: i16,
    pub schunk: *mut c_void,
    pub postfilter: *mut c_void,
    pub postparams: *mut c_void,
}

/// c-blosc2's `blosc2_metalayer`.
#[repr(C)]
#[derive(Debug)]
pub struct Blosc2Metalayer {
    pub name: *const c_char,
    pub content: *const u8,
    pub content_len: i32,
}

/// Offsets of the `blosc2_schunk` fields the plugin reads, for one c-blosc2 layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchunkLayout {
    /// A name for messages.
    pub name: &'static str,
    pub typesize: usize,
    pub metalayers: usize,
    pub nmetalayers: usize,
    pub ndim: usize,
    pub blockshape: usize,
    /// Whether `ndim` and `blockshape` are read: true for the table's layouts, and for a
    /// learned one only when the probe could bracket them ([`super::host::probe`]).
    pub reads_blockshape: bool,
}

/// c-blosc2 2.x (2.15).
pub const SCHUNK_LAYOUT_V2: SchunkLayout = SchunkLayout {
    name: "c-blosc2 2.x",
    typesize: 8,
    metalayers: 112,
    nmetalayers: 240,
    ndim: 65804,
    blockshape: 65808,
    reads_blockshape: true,
};

/// c-blosc2 3.x.
pub const SCHUNK_LAYOUT_V3: SchunkLayout = SchunkLayout {
    name: "c-blosc2 3.x",
    typesize: 8,
    metalayers: 120,
    nmetalayers: 248,
    ndim: 65812,
    blockshape: 65816,
    reads_blockshape: true,
};

/// What the plugin found in an SChunk: copies of the metalayers it needs and the geometry
/// fields. Borrowing nothing keeps the unsafe reads in one place.
#[derive(Debug, Default)]
pub struct SchunkView<'a> {
    pub typesize: usize,
    pub codebook: Option<&'a [u8]>,
    pub b2nd: Option<&'a [u8]>,
    pub blockshape: Option<Vec<i64>>,
}

/// Reads the SChunk behind `schunk` (which may be NULL: a bare context has no SChunk) in the
/// layout of the host's c-blosc2 ([`super::host`]): refused when that version is unknown, or
/// neither in the table nor learnable, or when the metalayer table does not fit the layout.
///
/// # Safety
/// `schunk`, when not NULL, must point to a live `blosc2_schunk` of the host's c-blosc2 that
/// stays alive and unmodified for `'a` (c-blosc2 guarantees this while a codec runs).
pub unsafe fn read_schunk<'a>(schunk: *const c_void) -> Result<SchunkView<'a>, String> {
    if schunk.is_null() {
        return Ok(SchunkView::default());
    }
    let layout = super::host::host_schunk_layout()?;
    // SAFETY: the caller guarantees a live schunk of this layout.
    unsafe { read_schunk_as(schunk, layout) }
}

/// [`read_schunk`] in a given layout.
///
/// # Safety
/// `schunk` must point to a live `blosc2_schunk` of `layout` that stays alive and unmodified
/// for `'a`.
pub unsafe fn read_schunk_as<'a>(
    schunk: *const c_void,
    layout: &SchunkLayout,
) -> Result<SchunkView<'a>, String> {
    let base = schunk.cast::<u8>();
    // SAFETY: the caller guarantees a live schunk of this layout, larger than the offsets read.
    let Some(n) = (unsafe { metalayer_count(base, layout) }) else {
        return Err(format!(
            "the SChunk's metalayer table does not fit the {} layout (this blosc2-vq reads \
             {}): not read",
            layout.name,
            super::host::SUPPORTED_BLOSC2
        ));
    };
    // SAFETY: typesize is an i32 inside the struct for this layout.
    let typesize = unsafe { base.add(layout.typesize).cast::<i32>().read_unaligned() };
    let mut view = SchunkView {
        typesize: usize::try_from(typesize).map_err(|_| format!("SChunk typesize {typesize}"))?,
        ..SchunkView::default()
    };
    for i in 0..n {
        // SAFETY: metalayer_count checked that the first n slots hold non-NULL pointers.
        let meta = unsafe {
            base.add(layout.metalayers + 8 * i)
                .cast::<*const Blosc2Metalayer>()
                .read_unaligned()
        };
        // SAFETY: a non-NULL slot points to a blosc2_metalayer c-blosc2 allocated.
        let meta = unsafe { &*meta };
        if meta.name.is_null() || meta.content.is_null() || meta.content_len < 0 {
            continue;
        }
        // SAFETY: c-blosc2 stores NUL-terminated names of at most 31 bytes.
        let name = unsafe { read_name(meta.name) };
        // SAFETY: content points to content_len bytes owned by the schunk.
        let content =
            unsafe { std::slice::from_raw_parts(meta.content, meta.content_len as usize) };
        match name.as_slice() {
            b"vq" => view.codebook = Some(content),
            b"b2nd" => view.b2nd = Some(content),
            _ => {}
        }
    }
    if !layout.reads_blockshape {
        return Ok(view);
    }
    // SAFETY: ndim is an i8 inside the struct for this layout.
    let ndim = unsafe { base.add(layout.ndim).cast::<i8>().read() };
    if (1..=8).contains(&ndim) {
        // SAFETY: blockshape is a pointer field inside the struct for this layout.
        let shape = unsafe {
            base.add(layout.blockshape)
                .cast::<*const i64>()
                .read_unaligned()
        };
        if !shape.is_null() {
            // SAFETY: when ndim is set, c-blosc2 allocates blockshape with ndim entries.
            let dims = unsafe { std::slice::from_raw_parts(shape, ndim as usize) };
            view.blockshape = Some(dims.to_vec());
        }
    }
    Ok(view)
}

/// The number of metalayers if `layout` fits what is in memory: a count of 0 to 16, that
/// many non-NULL, 8-byte-aligned pointers, then only NULLs.
///
/// # Safety
/// `base` must point to at least `layout.metalayers + 128` readable bytes.
unsafe fn metalayer_count(base: *const u8, layout: &SchunkLayout) -> Option<usize> {
    // SAFETY: inside the struct per the caller's guarantee.
    let n = unsafe { base.add(layout.nmetalayers).cast::<u16>().read_unaligned() } as usize;
    if n > MAX_METALAYERS {
        return None;
    }
    for i in 0..MAX_METALAYERS {
        // SAFETY: slot i of the 16-pointer array lies inside the struct.
        let p = unsafe {
            base.add(layout.metalayers + 8 * i)
                .cast::<usize>()
                .read_unaligned()
        };
        let fits = if i < n { p != 0 && p % 8 == 0 } else { p == 0 };
        if !fits {
            return None;
        }
    }
    Some(n)
}

/// Copies a NUL-terminated metalayer name (at most 31 bytes are looked at).
///
/// # Safety
/// `name` must point to a NUL-terminated string.
unsafe fn read_name(name: *const c_char) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..=METALAYER_NAME_MAXLEN {
        // SAFETY: we stop at the terminating NUL, which the caller guarantees exists.
        let c = unsafe { name.add(i).cast::<u8>().read() };
        if c == 0 {
            break;
        }
        out.push(c);
    }
    out
}
