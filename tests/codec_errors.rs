//! The process-wide codec error: c-blosc2 runs the encoder in worker threads, so the caller's
//! thread-local message cannot carry it. Alone in its binary: no other test's codec errors
//! can overwrite the message between the failure and the check.
#![allow(unsafe_code)]

mod common;

use blosc2_sys as sys;
use blosc2_vq::train::{CodebookParams, FuzzyCMeansParams, ModelParams};
use common::*;
use ndarray::s;

fn cb_a() -> Vec<u8> {
    let faces = olivetti()
        .slice(s![..50, .., ..])
        .mapv(f64::from)
        .into_dyn();
    CodebookParams::new(ModelParams::FuzzyCMeans(
        FuzzyCMeansParams::new(8).max_iter(20),
    ))
    .fit(&faces.view())
    .unwrap()
    .to_msgpack()
}

#[test]
fn codec_errors_from_worker_threads_are_kept_for_the_caller() {
    let shuffle = Settings {
        nthreads: 4,
        filters: [0, 0, 0, 0, 0, sys::BLOSC_SHUFFLE as u8],
        ..Settings::default()
    };
    let data = f32_bytes(
        &olivetti()
            .slice(s![..16, .., ..])
            .iter()
            .copied()
            .collect::<Vec<_>>(),
    );
    let res = compress_b2nd(
        &data,
        &[16, 64, 64],
        &[16, 64, 64],
        &[1, 64, 64],
        "<f4",
        4,
        &[("vq", &cb_a())],
        &shuffle,
    );
    assert!(res.is_err());
    let mut buf = vec![0 as std::ffi::c_char; 512];
    // SAFETY: buf has 512 writable bytes.
    let len =
        unsafe { blosc2_vq::ffi::blosc2_vq_last_codec_error(buf.as_mut_ptr(), buf.len() as i64) };
    assert!(len > 0);
    // SAFETY: the function NUL-terminates within the buffer.
    let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    assert!(msg.contains("filters: []"), "{msg}");
    // A tiny buffer gets a truncated, terminated prefix and the full length.
    let mut tiny = [1 as std::ffi::c_char; 4];
    // SAFETY: tiny has 4 writable bytes.
    let full = unsafe { blosc2_vq::ffi::blosc2_vq_last_codec_error(tiny.as_mut_ptr(), 4) };
    assert!(full >= len && tiny[3] == 0);
}
