//! Bad input gets a negative c-blosc2 error code and a message, never a crash or wrong data.
#![allow(unsafe_code)]

mod common;

use blosc2_sys as sys;
use blosc2_vq::train::{ArchetypalParams, CodebookParams, FuzzyCMeansParams, ModelParams};
use common::*;
use ndarray::s;
use std::sync::OnceLock;

fn codebook(seed: u64) -> Vec<u8> {
    let faces = olivetti()
        .slice(s![..50, .., ..])
        .mapv(f64::from)
        .into_dyn();
    CodebookParams::new(ModelParams::FuzzyCMeans(
        FuzzyCMeansParams::new(8).max_iter(20).seed(seed),
    ))
    .seed(seed)
    .fit(&faces.view())
    .unwrap()
    .to_msgpack()
}

fn cb_a() -> &'static [u8] {
    static CB: OnceLock<Vec<u8>> = OnceLock::new();
    CB.get_or_init(|| codebook(1))
}

fn cb_b() -> &'static [u8] {
    static CB: OnceLock<Vec<u8>> = OnceLock::new();
    CB.get_or_init(|| codebook(2))
}

fn faces4() -> Vec<u8> {
    f32_bytes(
        &olivetti()
            .slice(s![..4, .., ..])
            .iter()
            .copied()
            .collect::<Vec<_>>(),
    )
}

fn compress(meta: &[(&str, &[u8])], dtype: &str, settings: &Settings) -> Result<Array, i32> {
    compress_b2nd(
        &faces4(),
        &[4, 64, 64],
        &[1, 64, 64],
        &[1, 64, 64],
        dtype,
        4,
        meta,
        settings,
    )
}

/// Compression must fail, and the codec's message must contain `needle`.
fn assert_fails(result: Result<Array, i32>, needle: &str) {
    match result {
        Ok(_) => panic!("compression succeeded; expected an error mentioning {needle:?}"),
        Err(rc) => {
            assert!(rc < 0);
            let msg = last_error();
            assert!(
                msg.contains(needle),
                "error {rc}: {msg:?} does not mention {needle:?}"
            );
        }
    }
}

#[test]
fn missing_codebook() {
    assert_fails(
        compress(&[], "<f4", &Settings::default()),
        "no `vq` metalayer",
    );
}

#[test]
fn garbage_and_truncated_codebooks() {
    assert_fails(
        compress(
            &[("vq", b"definitely not msgpack")],
            "<f4",
            &Settings::default(),
        ),
        "invalid codebook",
    );
    let cb = cb_a();
    for cut in [1, cb.len() / 3, cb.len() - 1] {
        assert_fails(
            compress(&[("vq", &cb[..cut])], "<f4", &Settings::default()),
            "invalid codebook",
        );
    }
    // A bin-wrapped codebook whose length prefix lies.
    let mut wrapped = Vec::new();
    rmp::encode::write_bin(&mut wrapped, cb).unwrap();
    wrapped.pop();
    assert_fails(
        compress(&[("vq", &wrapped)], "<f4", &Settings::default()),
        "truncated",
    );
}

#[test]
fn codebook_whose_tile_does_not_fit_the_block() {
    let vol =
        ndarray::Array4::<f64>::from_shape_fn((2, 8, 8, 8), |(a, b, c, d)| (a + b * c + d) as f64);
    let cb3 = CodebookParams::new(ModelParams::Archetypal(
        ArchetypalParams::new(4).max_iter(5),
    ))
    .tile_shape(&[4, 4, 4])
    .fit(&vol.into_dyn().view())
    .unwrap()
    .to_msgpack();
    // 3-D tiles on 64×64 blocks.
    assert_fails(
        compress(&[("vq", &cb3)], "<f4", &Settings::default()),
        "does not fit",
    );
    // 4×4 tiles on 2×64 blocks.
    let thin = compress_b2nd(
        &faces4(),
        &[128, 128],
        &[2, 128],
        &[2, 64],
        "<f4",
        4,
        &[("vq", cb_a())],
        &Settings::default(),
    );
    assert_fails(thin, "does not fit");
}

#[test]
fn unsupported_dtypes() {
    assert_fails(
        compress(&[("vq", cb_a())], "<i4", &Settings::default()),
        "unsupported data type",
    );
    assert_fails(
        compress(&[("vq", cb_a())], ">f4", &Settings::default()),
        "unsupported data type",
    );
    // No b2nd layer and a typesize the codec cannot interpret.
    let sc = plain_schunk(3, 3 * 64 * 64, &[("vq", cb_a())], &Settings::default());
    // Not all zeros: c-blosc2 stores runs of one value itself, without calling the codec.
    let data: Vec<u8> = (0..3 * 64 * 64).map(|i| (i * 7 % 251) as u8).collect();
    assert!(sc.append(&data) < 0);
    assert!(last_error().contains("typesize 3"), "{}", last_error());
}

#[test]
fn byte_reordering_filters_and_split_streams_are_refused() {
    let shuffle = Settings {
        filters: [0, 0, 0, 0, 0, sys::BLOSC_SHUFFLE as u8],
        ..Settings::default()
    };
    assert_fails(compress(&[("vq", cb_a())], "<f4", &shuffle), "filters: []");
    let delta = Settings {
        filters: [sys::BLOSC_DELTA as u8, 0, 0, 0, 0, 0],
        ..Settings::default()
    };
    assert_fails(compress(&[("vq", cb_a())], "<f4", &delta), "DELTA");
    let split = Settings {
        splitmode: sys::BLOSC_ALWAYS_SPLIT as i32,
        ..Settings::default()
    };
    assert_fails(compress(&[("vq", cb_a())], "<f4", &split), "NEVER_SPLIT");
    // Precision truncation keeps values intact, so it may run before the codec.
    let trunc = Settings {
        filters: [0, 0, 0, 0, 0, sys::BLOSC_TRUNC_PREC as u8],
        filters_meta: [0, 0, 0, 0, 0, 16],
        ..Settings::default()
    };
    assert!(
        compress(&[("vq", cb_a())], "<f4", &trunc).is_ok(),
        "{}",
        last_error()
    );
}

/// Decompressing chunk 0 of `arr` into a fresh buffer.
fn decompress_chunk0(arr: &Array) -> i32 {
    let mut out = vec![0u8; 64 * 64 * 4];
    unsafe { schunk_decompress_chunk(arr.schunk(), 0, &mut out) }
}

#[test]
fn corrupted_blocks_are_errors() {
    let arr = compress(&[("vq", cb_a())], "<f4", &Settings::default()).unwrap();
    let chunk = arr.chunk(0);
    let block = chunk_blocks(&chunk).remove(0);
    let payload_start = chunk.len() - block.len();
    assert!(decompress_chunk0(&arr) > 0);
    // Flip bytes across the codec's block (its header and its payload).
    let mut failures = 0;
    let positions: Vec<usize> = (payload_start..chunk.len()).step_by(7).collect();
    for &pos in &positions {
        let mut bad = chunk.clone();
        bad[pos] ^= 0x5a;
        assert!(unsafe { schunk_update_chunk(arr.schunk(), 0, &bad) } >= 0);
        let rc = decompress_chunk0(&arr);
        assert!(rc < 0, "corruption at byte {pos} decoded silently");
        failures += 1;
    }
    assert_eq!(failures, positions.len());
}

/// Calls the decoder callback directly, as c-blosc2 would, with a real dparams.
fn call_decoder(arr: &Array, input: &[u8], output: &mut [u8]) -> i32 {
    // SAFETY: plain data; all-zero is valid.
    let mut dp: sys::blosc2_dparams = unsafe { std::mem::zeroed() };
    dp.nthreads = 1;
    dp.schunk = arr.schunk().cast();
    // SAFETY: input/output are valid for their lengths; dp points to a live schunk.
    unsafe {
        blosc2_vq::ffi::blosc2_vq_decoder(
            input.as_ptr(),
            input.len() as i32,
            output.as_mut_ptr(),
            output.len() as i32,
            0,
            (&mut dp as *mut sys::blosc2_dparams).cast(),
            std::ptr::null(),
        )
    }
}

#[test]
fn truncated_blocks_and_wrong_sizes_are_errors() {
    let arr = compress(&[("vq", cb_a())], "<f4", &Settings::default()).unwrap();
    let block = chunk_blocks(&arr.chunk(0)).remove(0);
    let mut out = vec![0u8; 64 * 64 * 4];
    assert_eq!(
        call_decoder(&arr, &block, &mut out),
        out.len() as i32,
        "{}",
        last_error()
    );
    for cut in 0..block.len() {
        let rc = call_decoder(&arr, &block[..cut], &mut out);
        assert!(rc < 0, "a block cut to {cut} bytes decoded");
    }
    // The right block, but an output of another size.
    let mut small = vec![0u8; 64 * 60 * 4];
    assert!(call_decoder(&arr, &block, &mut small) < 0);
    let mut odd = vec![0u8; 64 * 64 * 4 - 1];
    assert!(call_decoder(&arr, &block, &mut odd) < 0);
    // NULL pointers.
    // SAFETY: deliberately passing NULLs; the decoder must refuse them.
    let rc = unsafe {
        blosc2_vq::ffi::blosc2_vq_decoder(
            std::ptr::null(),
            10,
            out.as_mut_ptr(),
            10,
            0,
            std::ptr::null_mut(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, -32);
    assert!(last_error().contains("NULL"), "{}", last_error());
}

#[test]
fn a_chunk_decoded_with_another_codebook_is_an_error() {
    let a = compress(&[("vq", cb_a())], "<f4", &Settings::default()).unwrap();
    let b = compress(&[("vq", cb_b())], "<f4", &Settings::default()).unwrap();
    assert!(decompress_chunk0(&b) > 0);
    assert!(unsafe { schunk_update_chunk(b.schunk(), 0, &a.chunk(0)) } >= 0);
    let rc = decompress_chunk0(&b);
    assert!(
        rc < 0,
        "a chunk made with codebook A decoded with codebook B"
    );
    assert!(
        last_error().contains("another codebook"),
        "{}",
        last_error()
    );
}

#[test]
fn codebook_inspection_through_the_c_api() {
    use blosc2_vq::ffi::{
        blosc2_vq_codebook_arrays, blosc2_vq_codebook_info, blosc2_vq_codebook_inspect,
    };
    let cb = cb_a();
    let mut info = blosc2_vq_codebook_info::default();
    // SAFETY: cb is a live slice; info is writable.
    assert_eq!(
        unsafe { blosc2_vq_codebook_inspect(cb.as_ptr(), cb.len() as i64, &mut info) },
        0
    );
    assert_eq!(
        (
            info.model,
            info.n_prototypes,
            info.n_features,
            info.tile_ndim
        ),
        (1, 8, 16, 2)
    );
    assert_eq!(&info.tile_shape[..2], &[4, 4]);
    let (mut mean, mut scale, mut protos) = (vec![0.0; 16], vec![0.0; 16], vec![0.0; 8 * 16]);
    // SAFETY: buffers sized as inspect reported.
    let rc = unsafe {
        blosc2_vq_codebook_arrays(
            cb.as_ptr(),
            cb.len() as i64,
            mean.as_mut_ptr(),
            scale.as_mut_ptr(),
            protos.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0);
    let parsed = blosc2_vq::Codebook::from_msgpack(cb).unwrap();
    assert_eq!(mean, parsed.scaler().mean);
    assert_eq!(protos, parsed.prototypes());
    // Garbage is an error with a message, not a crash.
    // SAFETY: a live 3-byte slice.
    assert!(unsafe { blosc2_vq_codebook_inspect(b"abc".as_ptr(), 3, &mut info) } < 0);
    assert!(
        last_error().contains("invalid codebook"),
        "{}",
        last_error()
    );
}
