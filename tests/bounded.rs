//! Error-bounded blocks (format 3) through real c-blosc2: the bound holds on every value for
//! 2-D and 3-D data, float32 and float64 (and the other dtypes), with and without log10, on
//! the faces, VDFs and adversarial data; bad bounds are refused with a clear error; the bytes
//! do not depend on the thread count; a per-compression bound through `codec_params` works.

#![allow(unsafe_code)] // the codec_params struct is filled through the C API

mod common;

use blosc2_vq::codebook::{Codebook, Transform};
use blosc2_vq::ffi::{blosc2_vq_codec_params, blosc2_vq_codec_params_init};
use blosc2_vq::train::{CodebookParams, KMeansParams, ModelParams, ResidualParams};
use common::vdf::*;
use common::*;
use std::sync::OnceLock;

/// A residual codebook trained on the even faces (4×8 tiles, 4 stages of 64, 8-bit means).
fn faces_codebook() -> &'static Codebook {
    static CB: OnceLock<Codebook> = OnceLock::new();
    CB.get_or_init(|| {
        let even = olivetti()
            .slice(ndarray::s![0..;2, .., ..])
            .mapv(f64::from)
            .into_dyn();
        CodebookParams::new(ModelParams::Residual(
            ResidualParams::new(4, 64).mean_bits(8).max_iter(20),
        ))
        .tile_shape(&[4, 8])
        .n_samples(20_000)
        .fit(&even.view())
        .expect("training succeeds")
    })
}

fn odd_faces() -> Vec<f32> {
    olivetti()
        .slice(ndarray::s![1..;2, .., ..])
        .iter()
        .copied()
        .collect()
}

const FACE_SHAPE: [i64; 3] = [200, 64, 64];
const FACE_CHUNKS: [i32; 3] = [16, 64, 64];
const FACE_BLOCKS: [i32; 3] = [1, 64, 64];

fn faces_geometry(dtype: &str) -> Geometry<'_> {
    Geometry {
        shape: &FACE_SHAPE,
        chunks: &FACE_CHUNKS,
        blocks: &FACE_BLOCKS,
        dtype,
    }
}

fn max_abs_error(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn faces_meet_every_bound_and_cost_less_for_looser_ones() {
    let test = odd_faces();
    let original: Vec<f64> = test.iter().map(|&v| f64::from(v)).collect();
    let mut previous_bytes = 0;
    println!("| max_error | bpp (chunks) | max error | PSNR dB |");
    println!("|---:|---:|---:|---:|");
    for e in [0.01, 0.02, 0.05, 0.1] {
        let cb = faces_codebook()
            .clone()
            .with_max_error(e)
            .unwrap()
            .to_msgpack();
        let (arr, out) = round_trip(
            &f32_bytes(&test),
            &faces_geometry("<f4"),
            &cb,
            &Settings::default(),
        );
        let decoded: Vec<f64> = bytes_f32(&out).iter().map(|&v| f64::from(v)).collect();
        let worst = max_abs_error(&original, &decoded);
        let mse = original
            .iter()
            .zip(&decoded)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / original.len() as f64;
        let bpp = arr.cbytes() as f64 * 8.0 / original.len() as f64;
        println!(
            "| {e} | {bpp:.3} | {worst:.5} | {:.2} |",
            -10.0 * mse.log10()
        );
        assert!(worst <= e, "bound {e}: worst error {worst}");
        if previous_bytes > 0 {
            assert!(arr.cbytes() < previous_bytes, "a looser bound costs less");
        }
        previous_bytes = arr.cbytes();
    }
}

#[test]
fn a_bound_per_compression_through_codec_params_overrides_the_codebook() {
    let test = odd_faces();
    let mut params = blosc2_vq_codec_params {
        magic: 0,
        max_error: 0.0,
    };
    // SAFETY: a valid, writable struct.
    assert_eq!(unsafe { blosc2_vq_codec_params_init(&mut params, 0.03) }, 0);
    let settings = Settings {
        codec_params: (&mut params as *mut blosc2_vq_codec_params).cast(),
        ..Settings::default()
    };
    // The codebook itself has no bound (fixed-rate blocks without codec_params).
    let cb = faces_codebook().to_msgpack();
    let (_, out) = round_trip(&f32_bytes(&test), &faces_geometry("<f4"), &cb, &settings);
    let decoded = bytes_f32(&out);
    let worst = test
        .iter()
        .zip(&decoded)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 0.03, "worst {worst}");

    // A codec_params that is not ours is refused, naming the fix.
    let mut foreign = [0u8; 64];
    let settings = Settings {
        codec_params: foreign.as_mut_ptr().cast(),
        ..Settings::default()
    };
    let failed = compress_b2nd(
        &f32_bytes(&test),
        &FACE_SHAPE,
        &FACE_CHUNKS,
        &FACE_BLOCKS,
        "<f4",
        4,
        &[("vq", &cb)],
        &settings,
    );
    assert!(failed.is_err());
    assert!(
        last_error().contains("blosc2_vq_codec_params_init"),
        "{}",
        last_error()
    );
}

#[test]
fn bad_bounds_are_refused_with_the_field_named() {
    for e in [0.0, -0.1, f64::NAN, f64::INFINITY, 1e-300, 1e300] {
        let err = faces_codebook().clone().with_max_error(e).unwrap_err();
        assert!(err.to_string().contains("max_error"), "{e}: {err}");
        let mut params = blosc2_vq_codec_params {
            magic: 0,
            max_error: 0.0,
        };
        if e != 0.0 {
            // SAFETY: a valid, writable struct.
            assert!(
                unsafe { blosc2_vq_codec_params_init(&mut params, e) } < 0,
                "{e}"
            );
        }
    }
    // Only residual codebooks code to a bound.
    let faces = olivetti().mapv(f64::from).into_dyn();
    let kmeans = CodebookParams::new(ModelParams::KMeans(KMeansParams::new(8).max_iter(5)))
        .n_samples(500)
        .fit(&faces.view())
        .unwrap();
    let err = kmeans.with_max_error(0.1).unwrap_err();
    assert!(err.to_string().contains("residual"), "{err}");
}

#[test]
fn the_bytes_do_not_depend_on_the_thread_count() {
    let test = odd_faces();
    let cb = faces_codebook()
        .clone()
        .with_max_error(0.02)
        .unwrap()
        .to_msgpack();
    let chunks = |nthreads| {
        let (arr, _) = round_trip(
            &f32_bytes(&test),
            &faces_geometry("<f4"),
            &cb,
            &Settings {
                nthreads,
                ..Settings::default()
            },
        );
        // Block by block: with several threads c-blosc2 lays blocks out in completion order.
        (0..arr.nchunks())
            .flat_map(|i| chunk_blocks(&arr.chunk(i)))
            .collect::<Vec<_>>()
    };
    let (one, two) = (chunks(1), chunks(2));
    assert_eq!(one.len(), two.len());
    for (i, (a, b)) in one.iter().zip(&two).enumerate() {
        let first = a.iter().zip(b).position(|(x, y)| x != y);
        assert!(
            a == b,
            "block {i}: {} and {} bytes, first difference at {first:?}",
            a.len(),
            b.len()
        );
    }
}

/// Trains a small residual codebook on `train` (a `(n, …)` array of tiles' worth of data).
fn small_codebook(train: ndarray::ArrayD<f64>, tile: &[usize], transform: Transform) -> Codebook {
    CodebookParams::new(ModelParams::Residual(
        ResidualParams::new(3, 32).mean_bits(6).max_iter(10),
    ))
    .tile_shape(tile)
    .n_samples(2000)
    .transform(transform)
    .fit(&train.view())
    .expect("training succeeds")
}

fn check_log_bound(original: &[f64], decoded: &[f64], e: f64, floor: f64) {
    for (i, (&x, &y)) in original.iter().zip(decoded).enumerate() {
        if x >= floor {
            assert!(
                y > 0.0 && (y.log10() - x.log10()).abs() <= e,
                "value {i}: {x:e} decoded {y:e}"
            );
        } else if x >= 0.0 {
            assert_eq!(y, 0.0, "empty value {i}: {x:e} decoded {y:e}");
        } else {
            assert_eq!(y, x, "negative value {i}");
        }
    }
}

#[test]
fn vdfs_under_log10_hold_a_relative_bound_and_empty_cells_stay_empty() {
    const SIDE: usize = 32;
    let floor = 1e-16;
    let data = vdfs(8, SIDE, 5);
    let n3 = SIDE * SIDE * SIDE;
    let train = ndarray::ArrayD::from_shape_vec(vec![4, SIDE, SIDE, SIDE], data[..4 * n3].to_vec())
        .unwrap();
    let e = 1.1f64.log10();
    let cb = small_codebook(train, &[4, 4, 4], Transform::Log10 { floor })
        .with_max_error(e)
        .unwrap()
        .to_msgpack();
    let test = &data[4 * n3..];
    let (arr, out) = round_trip(
        &f64_bytes(test),
        &Geometry {
            shape: &[4, SIDE as i64, SIDE as i64, SIDE as i64],
            chunks: &[2, SIDE as i32, SIDE as i32, SIDE as i32],
            blocks: &[1, SIDE as i32, SIDE as i32, SIDE as i32],
            dtype: "<f8",
        },
        &cb,
        &Settings::default(),
    );
    let decoded = bytes_f64(&out);
    check_log_bound(test, &decoded, e, floor);
    println!(
        "VDFs, log10 10 %: ratio {:.1}, {:.3} bits per value",
        arr.cratio(),
        arr.cbytes() as f64 * 8.0 / test.len() as f64
    );
    // Most cells are empty: far fewer bits than a fixed-rate 4-stage code.
    assert!(arr.cratio() > 20.0, "ratio {}", arr.cratio());
}

/// Adversarial float data: white noise, spikes, constant and zero blocks, values spanning 30
/// decades, and a bound far below the data's spacing.
fn adversarial(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| match (i / 256) % 6 {
            0 => next() * 2.0 - 1.0, // white noise
            1 => {
                if next() < 0.02 {
                    1e4
                } else {
                    0.0
                }
            } // spikes in zeros
            2 => 0.75,               // a constant block
            3 => 0.0,                // an empty block
            4 => 10f64.powf(next() * 30.0 - 20.0), // 30 decades
            _ => (i as f64 * 0.01).sin() + 1e-7 * next(), // smooth with tiny noise
        })
        .collect()
}

fn adversarial_round_trip(dtype: &str, e: f64, transform: Transform, three_d: bool) {
    let n = 16 * 64 * 64;
    let data = adversarial(n, 7);
    let (shape, chunks, blocks, tile): (Vec<i64>, Vec<i32>, Vec<i32>, Vec<usize>) = if three_d {
        (
            vec![4, 16, 16, 16, 4],
            vec![2, 16, 16, 16, 4],
            vec![1, 16, 16, 16, 4],
            vec![4, 4, 4],
        )
    } else {
        (
            vec![16, 64, 64],
            vec![4, 64, 64],
            vec![1, 64, 64],
            vec![4, 4],
        )
    };
    let mut dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    if three_d {
        // Train on 4×4×4 tiles of the last three axes.
        dims = vec![4 * 16, 16, 16, 4];
    }
    let train = ndarray::ArrayD::from_shape_vec(dims, data.clone()).unwrap();
    let cb = small_codebook(train, &tile, transform)
        .with_max_error(e)
        .unwrap()
        .to_msgpack();
    type Decode = fn(&[u8]) -> Vec<f64>;
    let (bytes, decode): (Vec<u8>, Decode) = match dtype {
        "<f8" => (f64_bytes(&data), bytes_f64),
        "<f4" => (
            f32_bytes(&data.iter().map(|&v| v as f32).collect::<Vec<_>>()),
            |b| bytes_f32(b).iter().map(|&v| f64::from(v)).collect(),
        ),
        _ => unreachable!(),
    };
    let original = decode(&bytes);
    let (_, out) = round_trip(
        &bytes,
        &Geometry {
            shape: &shape,
            chunks: &chunks,
            blocks: &blocks,
            dtype,
        },
        &cb,
        &Settings::default(),
    );
    let decoded = decode(&out);
    match transform {
        Transform::Log10 { floor } => check_log_bound(&original, &decoded, e, floor),
        _ => {
            for (i, (&x, &y)) in original.iter().zip(&decoded).enumerate() {
                assert!(
                    (x - y).abs() <= e,
                    "{dtype} value {i}: {x} decoded {y} (bound {e})"
                );
            }
        }
    }
}

#[test]
fn adversarial_data_meets_the_bound_2d_and_3d_f32_and_f64() {
    for three_d in [false, true] {
        for dtype in ["<f4", "<f8"] {
            for e in [0.5, 1e-3, 1e-9] {
                adversarial_round_trip(dtype, e, Transform::Identity, three_d);
            }
            adversarial_round_trip(dtype, 0.01, Transform::Log10 { floor: 1e-18 }, three_d);
            // A bound too fine for the stages' reach: values escape, empty cells still
            // decode to exactly 0 (the fuzzer's find).
            adversarial_round_trip(dtype, 1e-6, Transform::Log10 { floor: 1e-18 }, three_d);
        }
    }
}
