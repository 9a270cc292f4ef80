//! The blosc2_schunk / cparams / dparams offsets the plugin relies on, checked against
//! blosc2-sys's bindings (c-blosc2 2.15), and the recognition of the 3.x SChunk layout on a
//! hand-built 3.x-shaped SChunk.
#![allow(unsafe_code)]

use blosc2_sys as sys;
use blosc2_vq::ffi::abi::{
    self, Blosc2CParams, Blosc2DParams, Blosc2Metalayer, SCHUNK_LAYOUT_V2, SCHUNK_LAYOUT_V3,
};
use std::mem::{offset_of, size_of};

#[test]
fn schunk_offsets_match_blosc2_2_15() {
    let l = SCHUNK_LAYOUT_V2;
    assert_eq!(offset_of!(sys::blosc2_schunk, typesize), l.typesize);
    assert_eq!(offset_of!(sys::blosc2_schunk, metalayers), l.metalayers);
    assert_eq!(offset_of!(sys::blosc2_schunk, nmetalayers), l.nmetalayers);
    assert_eq!(offset_of!(sys::blosc2_schunk, ndim), l.ndim);
    assert_eq!(offset_of!(sys::blosc2_schunk, blockshape), l.blockshape);
    // c-blosc2 3.x inserts two bytes after chunksize, which alignment turns into 8.
    let shift = 8;
    assert_eq!(SCHUNK_LAYOUT_V3.metalayers, l.metalayers + shift);
    assert_eq!(SCHUNK_LAYOUT_V3.nmetalayers, l.nmetalayers + shift);
    assert_eq!(SCHUNK_LAYOUT_V3.ndim, l.ndim + shift);
    assert_eq!(SCHUNK_LAYOUT_V3.blockshape, l.blockshape + shift);
}

#[test]
fn params_mirror_blosc2_2_15() {
    assert_eq!(size_of::<Blosc2CParams>(), size_of::<sys::blosc2_cparams>());
    assert_eq!(
        offset_of!(Blosc2CParams, typesize),
        offset_of!(sys::blosc2_cparams, typesize)
    );
    assert_eq!(
        offset_of!(Blosc2CParams, blocksize),
        offset_of!(sys::blosc2_cparams, blocksize)
    );
    assert_eq!(
        offset_of!(Blosc2CParams, splitmode),
        offset_of!(sys::blosc2_cparams, splitmode)
    );
    assert_eq!(
        offset_of!(Blosc2CParams, schunk),
        offset_of!(sys::blosc2_cparams, schunk)
    );
    assert_eq!(
        offset_of!(Blosc2CParams, filters),
        offset_of!(sys::blosc2_cparams, filters)
    );
    assert_eq!(
        offset_of!(Blosc2DParams, schunk),
        offset_of!(sys::blosc2_dparams, schunk)
    );
    assert_eq!(size_of::<Blosc2DParams>(), size_of::<sys::blosc2_dparams>());
    assert_eq!(
        size_of::<Blosc2Metalayer>(),
        size_of::<sys::blosc2_metalayer>()
    );
    assert_eq!(
        offset_of!(Blosc2Metalayer, content_len),
        offset_of!(sys::blosc2_metalayer, content_len)
    );
}

/// A zeroed buffer the size of a 3.x blosc2_schunk, 8-byte aligned.
fn fake_schunk() -> Vec<u64> {
    vec![0u64; 65840 / 8]
}

fn put<T: Copy>(buf: &mut [u64], offset: usize, value: T) {
    let bytes = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: offset + size_of::<T>() lies inside the buffer in every call below.
    unsafe { bytes.add(offset).cast::<T>().write_unaligned(value) };
}

/// A 3.x- or 2.x-shaped SChunk holding a `b2nd` and a `vq` metalayer, with ndim 3.
fn schunk_of(
    layout: abi::SchunkLayout,
    metas: &[Blosc2Metalayer],
    blockshape: &[i64; 3],
) -> Vec<u64> {
    let mut sc = fake_schunk();
    put(&mut sc, layout.typesize, 4i32);
    if layout == SCHUNK_LAYOUT_V3 {
        // 3.x's dctx sits where 2.x's first metalayer was: a non-NULL pointer.
        put(&mut sc, SCHUNK_LAYOUT_V2.metalayers, 0x1000usize);
    }
    for (i, m) in metas.iter().enumerate() {
        put(
            &mut sc,
            layout.metalayers + 8 * i,
            m as *const Blosc2Metalayer,
        );
    }
    put(&mut sc, layout.nmetalayers, metas.len() as u16);
    put(&mut sc, layout.ndim, 3i8);
    put(&mut sc, layout.blockshape, blockshape.as_ptr());
    sc
}

#[test]
fn schunks_are_read_in_the_host_versions_layout_only() {
    let content = b"codebook bytes";
    let b2nd = b"b2nd bytes";
    let metas = [
        Blosc2Metalayer {
            name: c"b2nd".as_ptr(),
            content: b2nd.as_ptr(),
            content_len: b2nd.len() as i32,
        },
        Blosc2Metalayer {
            name: c"vq".as_ptr(),
            content: content.as_ptr(),
            content_len: content.len() as i32,
        },
    ];
    let blockshape = [1i64, 64, 64];
    let v2 = schunk_of(SCHUNK_LAYOUT_V2, &metas, &blockshape);
    let v3 = schunk_of(SCHUNK_LAYOUT_V3, &metas, &blockshape);
    let read = |sc: &Vec<u64>| {
        // SAFETY: the buffer is as large as a 3.x schunk and its pointers are live.
        unsafe { abi::read_schunk(sc.as_ptr().cast()) }
    };
    // This test binary links c-blosc2 statically without exporting it and declares nothing
    // (no other test here does): the plugin cannot tell the layout, so it reads nothing.
    let err = read(&v2).unwrap_err();
    assert!(err.contains("cannot tell which c-blosc2"), "{err}");
    assert!(
        err.contains(blosc2_vq::ffi::host::SUPPORTED_BLOSC2),
        "{err}"
    );
    // A NULL SChunk (a bare context) is not an error.
    // SAFETY: NULL is allowed.
    assert!(unsafe { abi::read_schunk(std::ptr::null()) }
        .unwrap()
        .codebook
        .is_none());
    // Future releases are refused when declared, and leave nothing declared.
    for future in ["3.4.0", "4.0.0", "2.24.0"] {
        let err = blosc2_vq::ffi::host::set_host_blosc2_version(future)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not supported") && err.contains(blosc2_vq::ffi::host::SUPPORTED_BLOSC2),
            "{err}"
        );
    }
    assert!(blosc2_vq::ffi::host::host_blosc2_version().is_none());
    for (declared, good, other) in [
        ("3.3.5 ($Date:: 2026-09-24 #$)", &v3, &v2),
        ("2.22.1.dev", &v2, &v3),
    ] {
        blosc2_vq::ffi::host::set_host_blosc2_version(declared).unwrap();
        let view = read(good).unwrap_or_else(|e| panic!("{declared}: {e}"));
        assert_eq!(view.typesize, 4, "{declared}");
        assert_eq!(view.codebook, Some(&content[..]), "{declared}");
        assert_eq!(view.b2nd, Some(&b2nd[..]), "{declared}");
        assert_eq!(view.blockshape, Some(vec![1, 64, 64]), "{declared}");
        // The other line's SChunk does not fit this layout: refused, not dereferenced.
        let err = read(other).unwrap_err();
        assert!(err.contains("does not fit"), "{declared}: {err}");
    }
    // No metalayers at all: no codebook, no error.
    let sc = fake_schunk();
    assert!(read(&sc).unwrap().codebook.is_none());
    // A table that fits no layout is refused, not dereferenced.
    let mut sc = fake_schunk();
    put(&mut sc, SCHUNK_LAYOUT_V2.nmetalayers, 3u16);
    put(&mut sc, SCHUNK_LAYOUT_V3.nmetalayers, 3u16);
    assert!(read(&sc).is_err());
}
