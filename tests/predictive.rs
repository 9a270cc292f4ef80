//! The predictive engine (block format 4, no codebook) through real c-blosc2: every bound
//! mode holds on every value for 2-D and 3-D data, float32 and float64, on the faces and on
//! hard data (noise, spikes, constant blocks, 30 decades, NaN/inf patterns, bounds finer than
//! the data's spacing); NaN and infinities come back bit-exact; the bytes do not depend on
//! the thread count; bad bounds and missing settings are refused with clear errors.

#![allow(unsafe_code)] // settings and codec_params are built through the C API

mod common;

use blosc2_vq::engine::bound::{finite_range, BlockBound, ErrorBound};
use blosc2_vq::engine::settings::Settings as VqSettings;
use blosc2_vq::ffi::{
    blosc2_vq_codec_params, blosc2_vq_codec_params_init, blosc2_vq_error_bound, blosc2_vq_free,
    blosc2_vq_settings_new, BLOSC2_VQ_DTYPE_FLOAT32,
};
use common::host;
use common::*;
use host::Settings;

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

fn to_bytes(values: &[f64], dtype: &str) -> Vec<u8> {
    match dtype {
        "<f4" => values
            .iter()
            .flat_map(|&v| (v as f32).to_ne_bytes())
            .collect(),
        "<f8" => values.iter().flat_map(|&v| v.to_ne_bytes()).collect(),
        _ => unreachable!(),
    }
}

fn from_bytes(b: &[u8], dtype: &str) -> Vec<f64> {
    match dtype {
        "<f4" => bytes_f32(b).into_iter().map(f64::from).collect(),
        "<f8" => b
            .chunks_exact(8)
            .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
            .collect(),
        _ => unreachable!(),
    }
}

/// Compresses `values` with settings for `bound` (resolved on the values' range), decompresses
/// through c-blosc2 and checks every value; returns the compressed bytes (chunks).
fn check(
    values: &[f64],
    geometry: &Geometry<'_>,
    bound: ErrorBound,
    nthreads: i16,
) -> (i64, Vec<u8>) {
    let input = to_bytes(values, geometry.dtype);
    let stored = from_bytes(&input, geometry.dtype);
    let range = finite_range(stored.iter().copied()).map(|(lo, hi)| hi - lo);
    let settings = VqSettings::new(bound, range).unwrap();
    let block_bound = settings.block_bound().unwrap();
    let meta = settings.to_msgpack();
    let (arr, out) = round_trip(
        &input,
        geometry,
        &meta,
        &Settings {
            nthreads,
            ..Settings::default()
        },
    );
    let got = from_bytes(&out, geometry.dtype);
    let size = geometry.typesize() as usize;
    for (i, (&x, &y)) in stored.iter().zip(&got).enumerate() {
        if !x.is_finite() {
            assert_eq!(
                input[i * size..(i + 1) * size],
                out[i * size..(i + 1) * size],
                "value {i}: non-finite not bit-exact"
            );
            continue;
        }
        let allowed = block_bound.allowed(x);
        assert!(
            (y - x).abs() <= allowed,
            "value {i}: {x:e} came back as {y:e} (error {:e} > {allowed:e}, {bound:?}, {})",
            (y - x).abs(),
            geometry.dtype
        );
        if matches!(block_bound, BlockBound::PointwiseRelative { .. }) && x == 0.0 {
            assert_eq!(x.to_bits(), y.to_bits(), "value {i}: zero not exact");
        }
    }
    (arr.cbytes(), out)
}

fn hard_field(shape: &[usize], seed: u64) -> Vec<f64> {
    let n: usize = shape.iter().product();
    let last = *shape.last().unwrap();
    let mut s = seed;
    (0..n)
        .map(|i| {
            let (r, c) = ((i / last) as f64, (i % last) as f64);
            let region = (i * 7 / n) as u32; // seven bands of different character
            match region {
                0 => (r * 0.03).sin() * (c * 0.05).cos() * 100.0, // smooth
                1 => lcg(&mut s) * 2.0 - 1.0,                     // noise
                2 => 42.0,                                        // constant
                3 => {
                    if i % 31 == 0 {
                        1e20
                    } else {
                        0.5
                    }
                } // spikes
                4 => 10f64.powf(-15.0 + 30.0 * lcg(&mut s)),      // 30 decades
                5 => {
                    if i % 5 == 0 {
                        f64::NAN
                    } else if i % 17 == 0 {
                        f64::INFINITY
                    } else if i % 19 == 0 {
                        f64::NEG_INFINITY
                    } else {
                        c * 0.01
                    }
                } // NaN/inf patterns
                _ => 1.0 + 1e-9 * lcg(&mut s), // spacing finer than float32 resolves
            }
        })
        .collect()
}

#[test]
fn every_bound_mode_holds_on_hard_data_in_2d_and_3d() {
    let g2 = |dtype| Geometry {
        shape: &[96, 80],
        chunks: &[48, 80],
        blocks: &[24, 40],
        dtype,
    };
    let g3 = |dtype| Geometry {
        shape: &[20, 24, 28],
        chunks: &[10, 24, 28],
        blocks: &[5, 12, 28],
        dtype,
    };
    let bounds = [
        ErrorBound::MaxError { max_error: 1e-2 },
        ErrorBound::MaxError { max_error: 1e-12 }, // finer than float32's spacing
        ErrorBound::RelError { rel_error: 1e-3 },
        ErrorBound::PwRelError {
            pw_rel_error: 1e-2,
            max_error: 0.0,
        },
        ErrorBound::PwRelError {
            pw_rel_error: 0.1,
            max_error: 1e-10,
        },
        ErrorBound::Psnr { psnr: 80.0 },
    ];
    for dtype in ["<f4", "<f8"] {
        for geometry in [g2(dtype), g3(dtype)] {
            let shape: Vec<usize> = geometry.shape.iter().map(|&d| d as usize).collect();
            let values = hard_field(&shape, 1);
            for bound in bounds {
                check(&values, &geometry, bound, 1);
            }
        }
    }
}

#[test]
fn faces_hold_the_bound_and_shrink() {
    let faces: Vec<f64> = olivetti().iter().map(|&v| f64::from(v)).collect();
    let geometry = Geometry {
        shape: &[400, 64, 64],
        chunks: &[32, 64, 64],
        blocks: &[16, 64, 64],
        dtype: "<f4",
    };
    for (e, max_bits) in [(0.1, 1.5), (0.01, 5.0)] {
        let (cbytes, _) = check(&faces, &geometry, ErrorBound::MaxError { max_error: e }, 2);
        let bits = cbytes as f64 * 8.0 / faces.len() as f64;
        assert!(bits < max_bits, "{bits} bits per value at {e}");
    }
}

#[test]
fn bytes_do_not_depend_on_the_thread_count() {
    let geometry = Geometry {
        shape: &[64, 128],
        chunks: &[64, 128],
        blocks: &[16, 128],
        dtype: "<f4",
    };
    let values = hard_field(&[64, 128], 5);
    let bound = ErrorBound::MaxError { max_error: 1e-3 };
    let chunks = |nthreads| {
        let settings = VqSettings::new(bound, None).unwrap().to_msgpack();
        let arr = compress_b2nd(
            &to_bytes(&values, "<f4"),
            geometry.shape,
            geometry.chunks,
            geometry.blocks,
            "<f4",
            4,
            &[("vq", &settings)],
            &Settings {
                nthreads,
                ..Settings::default()
            },
        )
        .unwrap();
        (0..arr.nchunks()).map(|c| arr.chunk(c)).collect::<Vec<_>>()
    };
    // c-blosc2's threads may lay the blocks out in another order inside a chunk (its block
    // start table says where each is): the blocks themselves must be the same bytes.
    let blocks = |chunks: Vec<Vec<u8>>| -> Vec<Vec<Vec<u8>>> {
        chunks.iter().map(|c| host::chunk_blocks(c)).collect()
    };
    assert_eq!(blocks(chunks(1)), blocks(chunks(2)));
}

#[test]
fn settings_from_c_and_codec_params_without_a_metalayer() {
    let values: Vec<f32> = (0..64 * 64).map(|i| ((i as f32) * 0.01).sin()).collect();
    let data = f32_bytes(&values);
    // blosc2_vq_settings_new: a bound relative to the range reads the data.
    let bound = blosc2_vq_error_bound {
        rel_error: 1e-3,
        ..Default::default()
    };
    let (mut out, mut len) = (std::ptr::null_mut(), 0i64);
    // SAFETY: valid pointers; data holds 4096 floats.
    let rc = unsafe {
        blosc2_vq_settings_new(
            &bound,
            values.as_ptr().cast(),
            BLOSC2_VQ_DTYPE_FLOAT32,
            4096,
            &mut out,
            &mut len,
        )
    };
    assert_eq!(rc, 0, "{}", last_error());
    // SAFETY: the library handed over len bytes at out.
    let meta = unsafe { std::slice::from_raw_parts(out, len as usize) }.to_vec();
    // SAFETY: from the library's malloc.
    unsafe { blosc2_vq_free(out.cast()) };
    let settings = VqSettings::from_msgpack(&meta).unwrap();
    assert_eq!(settings.requested, ErrorBound::RelError { rel_error: 1e-3 });
    let e = match settings.block_bound().unwrap() {
        BlockBound::Absolute { max_error } => max_error,
        other => panic!("{other:?}"),
    };
    assert!((e - 2e-3).abs() < 1e-6, "{e}");
    // Bad bounds are refused, naming the field.
    for (bad, field) in [
        (
            blosc2_vq_error_bound {
                max_error: -1.0,
                ..Default::default()
            },
            "max_error",
        ),
        (
            blosc2_vq_error_bound {
                pw_rel_error: 2.0,
                ..Default::default()
            },
            "pw_rel_error",
        ),
        (
            blosc2_vq_error_bound {
                psnr: f64::NAN,
                ..Default::default()
            },
            "psnr",
        ),
        (blosc2_vq_error_bound::default(), "max_error"),
        (
            blosc2_vq_error_bound {
                max_error: 1.0,
                rel_error: 1.0,
                ..Default::default()
            },
            "max_error",
        ),
    ] {
        // SAFETY: valid pointers.
        let rc = unsafe {
            blosc2_vq_settings_new(
                &bad,
                values.as_ptr().cast(),
                BLOSC2_VQ_DTYPE_FLOAT32,
                4096,
                &mut out,
                &mut len,
            )
        };
        assert!(rc < 0);
        assert!(last_error().contains(field), "{}", last_error());
    }
    // No metalayer, a bound through codec_params: the predictive engine.
    let mut params = std::mem::MaybeUninit::<blosc2_vq_codec_params>::uninit();
    // SAFETY: writable memory for the struct.
    assert_eq!(
        unsafe { blosc2_vq_codec_params_init(params.as_mut_ptr(), 1e-3) },
        0
    );
    let mut params = unsafe { params.assume_init() };
    let arr = compress_b2nd(
        &data,
        &[64, 64],
        &[64, 64],
        &[32, 64],
        "<f4",
        4,
        &[],
        &Settings {
            codec_params: (&mut params as *mut blosc2_vq_codec_params).cast(),
            ..Settings::default()
        },
    )
    .unwrap_or_else(|rc| panic!("{rc}: {}", last_error()));
    let (out, _) = arr.decompress().unwrap();
    let got = bytes_f32(&out);
    assert!(values.iter().zip(&got).all(|(a, b)| (a - b).abs() <= 1e-3));
    assert!(arr.cbytes() < (data.len() / 4) as i64);
    // Neither a metalayer nor a bound: a clear error.
    let err = compress_b2nd(
        &data,
        &[64, 64],
        &[64, 64],
        &[32, 64],
        "<f4",
        4,
        &[],
        &Settings::default(),
    );
    assert!(err.is_err());
    let message = blosc2_vq::ffi::last_codec_error_message();
    assert!(message.contains("no `vq` metalayer"), "{message}");
}

#[test]
fn corrupt_settings_are_refused() {
    let values: Vec<f32> = (0..1024).map(|i| i as f32).collect();
    let good = VqSettings::new(ErrorBound::MaxError { max_error: 0.5 }, None)
        .unwrap()
        .to_msgpack();
    // A different format marker, and a cut-short map.
    let bad: Vec<u8> = String::from_utf8_lossy(&good)
        .replace("settings", "settingz")
        .into_bytes();
    let mut wrong_version = good.clone();
    let at = wrong_version
        .windows(7)
        .position(|w| w == b"version")
        .unwrap()
        + 7;
    wrong_version[at] = 9;
    for meta in [&good[..good.len() - 4], &wrong_version[..]] {
        let r = compress_b2nd(
            &f32_bytes(&values),
            &[1024],
            &[1024],
            &[256],
            "<f4",
            4,
            &[("vq", meta)],
            &Settings::default(),
        );
        assert!(r.is_err());
        let message = blosc2_vq::ffi::last_codec_error_message();
        assert!(
            message.contains("settings") || message.contains("version"),
            "{message}"
        );
    }
    // Not settings, not a codebook either.
    let r = compress_b2nd(
        &f32_bytes(&values),
        &[1024],
        &[1024],
        &[256],
        "<f4",
        4,
        &[("vq", &bad)],
        &Settings::default(),
    );
    assert!(r.is_err());
}

#[test]
fn frames_reopen_from_disk() {
    let dir = std::env::temp_dir().join(format!("vq-predictive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("field.b2nd");
    let _ = std::fs::remove_file(&path);
    let values: Vec<f64> = hard_field(&[32, 32, 32], 9);
    let meta = VqSettings::new(ErrorBound::MaxError { max_error: 1e-4 }, None)
        .unwrap()
        .to_msgpack();
    let input = to_bytes(&values, "<f8");
    let arr = compress_b2nd(
        &input,
        &[32, 32, 32],
        &[16, 32, 32],
        &[8, 16, 32],
        "<f8",
        8,
        &[("vq", &meta)],
        &Settings {
            urlpath: Some(path.to_string_lossy().into_owned()),
            ..Settings::default()
        },
    )
    .unwrap();
    drop(arr);
    let back = open_b2nd(&path.to_string_lossy()).unwrap();
    assert_eq!(back.metalayer("vq").unwrap(), meta);
    let (out, _) = back.decompress().unwrap();
    let got = from_bytes(&out, "<f8");
    for (i, (x, y)) in values.iter().zip(&got).enumerate() {
        if x.is_finite() {
            assert!((x - y).abs() <= 1e-4, "{i}");
        } else {
            assert_eq!(x.to_bits(), y.to_bits());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
