//! Every kind of input the codec accepts, through real c-blosc2: float64, float16 and uint8
//! data, a short last block, sides that are not multiples of the tile, 3-D volumes with
//! 4×4×4 tiles, codec_meta, and blocks holding NaN.
#![allow(unsafe_code)] // reads an SChunk's chunks through c-blosc2

mod common;

use blosc2_vq::train::Metric;
use blosc2_vq::train::{ArchetypalParams, CodebookParams, FuzzyCMeansParams, ModelParams};
use common::*;
use half::f16;
use ndarray::{s, Array4, ArrayD};
use std::sync::OnceLock;

/// A quick Archetypal codebook on the faces in [0, 1] (4×4 tiles).
fn faces_codebook() -> &'static [u8] {
    static CB: OnceLock<Vec<u8>> = OnceLock::new();
    CB.get_or_init(|| {
        let faces = olivetti().mapv(f64::from).into_dyn();
        CodebookParams::new(ModelParams::Archetypal(
            ArchetypalParams::new(24).max_iter(30),
        ))
        .fit(&faces.view())
        .unwrap()
        .to_msgpack()
    })
}

fn faces(n: usize) -> Vec<f32> {
    olivetti().slice(s![..n, .., ..]).iter().copied().collect()
}

fn psnr(a: &[f32], b: &[f32], range: f64) -> f64 {
    blosc2_vq::metrics::psnr(a, b, range)
}

#[test]
fn float64_and_float16_round_trip() {
    let orig = faces(40);
    let f64_bytes: Vec<u8> = orig
        .iter()
        .flat_map(|&v| f64::from(v).to_ne_bytes())
        .collect();
    let (arr, out) = round_trip(
        &f64_bytes,
        &Geometry {
            shape: &[40, 64, 64],
            chunks: &[4, 64, 64],
            blocks: &[1, 64, 64],
            dtype: "<f8",
        },
        faces_codebook(),
        &Settings::default(),
    );
    let rec: Vec<f32> = out
        .chunks_exact(8)
        .map(|c| f64::from_ne_bytes(c.try_into().unwrap()) as f32)
        .collect();
    let p64 = psnr(&orig, &rec, 1.0);
    assert!(p64 > 25.0, "float64 PSNR {p64}");
    assert!(arr.cratio() > 5.0, "float64 ratio {}", arr.cratio());

    let f16_bytes: Vec<u8> = orig
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_ne_bytes())
        .collect();
    let (_, out) = round_trip(
        &f16_bytes,
        &Geometry {
            shape: &[40, 64, 64],
            chunks: &[4, 64, 64],
            blocks: &[1, 64, 64],
            dtype: "<f2",
        },
        faces_codebook(),
        &Settings::default(),
    );
    let rec: Vec<f32> = out
        .chunks_exact(2)
        .map(|c| f16::from_ne_bytes([c[0], c[1]]).to_f32())
        .collect();
    let p16 = psnr(&orig, &rec, 1.0);
    assert!(
        (p16 - p64).abs() < 0.5,
        "float16 PSNR {p16} vs float64 {p64}"
    );
}

#[test]
fn uint8_round_trip_is_rounded_and_clamped() {
    let raw: Vec<u8> = olivetti()
        .slice(s![..40, .., ..])
        .iter()
        .map(|&v| (v * 242.0).round() as u8)
        .collect();
    let as_f64 = ArrayD::from_shape_vec(
        vec![40, 64, 64],
        raw.iter().map(|&v| f64::from(v)).collect(),
    )
    .unwrap();
    // One byte per value: 8×8 tiles (64 bytes) against 24 one-byte weights, so blocks shrink.
    let cb = CodebookParams::new(ModelParams::Archetypal(
        ArchetypalParams::new(24).max_iter(30),
    ))
    .tile_shape(&[8, 8])
    .fit(&as_f64.view())
    .unwrap()
    .to_msgpack();
    let (arr, out) = round_trip(
        &raw,
        &Geometry {
            shape: &[40, 64, 64],
            chunks: &[4, 64, 64],
            blocks: &[1, 64, 64],
            dtype: "|u1",
        },
        &cb,
        &Settings::default(),
    );
    let a: Vec<f32> = raw.iter().map(|&v| f32::from(v)).collect();
    let b: Vec<f32> = out.iter().map(|&v| f32::from(v)).collect();
    let p = psnr(&a, &b, 255.0);
    // Finite: the codec really ran (a raw-stored block would come back exact).
    assert!(p.is_finite() && p > 20.0, "uint8 PSNR {p}");
    assert!(arr.cratio() > 2.0, "uint8 ratio {}", arr.cratio());
}

#[test]
fn short_last_block_of_a_plain_schunk() {
    // No b2nd layer: 64×64 float blocks (square fallback), and a chunk of 2 blocks plus 2000
    // values, so c-blosc2 hands the codec a short last block that ends mid-row.
    let orig = faces(3);
    let n = 2 * 4096 + 2000;
    let data = f32_bytes(&orig[..n]);
    let sc = plain_schunk(
        4,
        4096 * 4,
        &[("vq", faces_codebook())],
        &Settings::default(),
    );
    assert_eq!(sc.append(&data), 1, "{}", last_error());
    let mut out = vec![0u8; data.len()];
    let rc = unsafe { schunk_decompress_chunk(sc.ptr, 0, &mut out) };
    assert_eq!(rc as usize, data.len(), "{}", last_error());
    let rec = bytes_f32(&out);
    let full = psnr(&orig[..8192], &rec[..8192], 1.0);
    let tail = psnr(&orig[8192..n], &rec[8192..n], 1.0);
    assert!(
        full > 25.0 && tail > 20.0,
        "PSNR full blocks {full}, short block {tail}"
    );
    let blocks = chunk_blocks(&unsafe { schunk_chunk(sc.ptr, 0) });
    assert_eq!(blocks.len(), 3);
}

#[test]
fn sides_not_divisible_by_the_tile() {
    let crop: Vec<f32> = olivetti()
        .slice(s![..20, ..30, ..45])
        .iter()
        .copied()
        .collect();
    let (_, out) = round_trip(
        &f32_bytes(&crop),
        &Geometry {
            shape: &[20, 30, 45],
            chunks: &[1, 30, 45],
            blocks: &[1, 30, 45],
            dtype: "<f4",
        },
        faces_codebook(),
        &Settings::default(),
    );
    let rec = bytes_f32(&out);
    let p = psnr(&crop, &rec, 1.0);
    assert!(p > 25.0, "PSNR {p}");
    // The right-most column (edge-replicated padding) is as good as the rest.
    let edge_a: Vec<f32> = crop.chunks(45).map(|r| r[44]).collect();
    let edge_b: Vec<f32> = rec.chunks(45).map(|r| r[44]).collect();
    assert!(psnr(&edge_a, &edge_b, 1.0) > 20.0);
}

/// Smooth synthetic volumes: sums of Gaussian blobs.
fn volumes(n: usize, side: usize) -> Array4<f32> {
    Array4::from_shape_fn((n, side, side, side), |(v, z, y, x)| {
        let mut s = 0.0f32;
        for b in 0..3 {
            let c = ((v * 7 + b * 5) % 11) as f32 / 11.0 * side as f32;
            let w = 3.0 + ((v + b) % 4) as f32;
            let d2 = (z as f32 - c).powi(2)
                + (y as f32 - (side as f32 - c)).powi(2)
                + (x as f32 - c * 0.7).powi(2);
            s += (-d2 / (2.0 * w * w)).exp();
        }
        s
    })
}

#[test]
fn volumes_with_4x4x4_tiles() {
    let vols = volumes(8, 32);
    let train = vols.mapv(f64::from).into_dyn();
    for model in [
        ModelParams::Archetypal(ArchetypalParams::new(16).max_iter(40)),
        ModelParams::FuzzyCMeans(
            FuzzyCMeansParams::new(16)
                .metric(Metric::Euclidean)
                .max_iter(40),
        ),
    ] {
        let cb = CodebookParams::new(model)
            .tile_shape(&[4, 4, 4])
            .n_samples(2000)
            .fit(&train.view())
            .unwrap();
        assert_eq!(cb.tile_shape(), vec![4, 4, 4]);
        let bytes = cb.to_msgpack();
        let data: Vec<f32> = vols.iter().copied().collect();
        let (arr, out) = round_trip(
            &f32_bytes(&data),
            &Geometry {
                shape: &[8, 32, 32, 32],
                chunks: &[1, 32, 32, 32],
                blocks: &[1, 16, 16, 16],
                dtype: "<f4",
            },
            &bytes,
            &Settings::default(),
        );
        let rec = bytes_f32(&out);
        let range = data.iter().copied().fold(f32::MIN, f32::max)
            - data.iter().copied().fold(f32::MAX, f32::min);
        let p = psnr(&data, &rec, f64::from(range));
        assert!(p > 25.0, "3-D PSNR {p}");
        assert!(arr.cratio() > 4.0, "3-D ratio {}", arr.cratio());
    }
}

#[test]
fn codec_meta_overrides_the_weight_bits() {
    let orig = faces(20);
    let run = |meta: u8| {
        let s = Settings {
            codec_meta: meta,
            ..Settings::default()
        };
        let (arr, out) = round_trip(
            &f32_bytes(&orig),
            &Geometry {
                shape: &[20, 64, 64],
                chunks: &[1, 64, 64],
                blocks: &[1, 64, 64],
                dtype: "<f4",
            },
            faces_codebook(),
            &s,
        );
        (arr.cratio(), psnr(&orig, &bytes_f32(&out), 1.0))
    };
    let (r8, p8) = run(0);
    let (r4, p4) = run(4);
    assert!(r4 > r8, "4-bit ratio {r4} <= 8-bit {r8}");
    assert!(p4 < p8, "4-bit PSNR {p4} >= 8-bit {p8}");
    let s = Settings {
        codec_meta: 9,
        ..Settings::default()
    };
    assert!(compress_b2nd(
        &f32_bytes(&orig),
        &[20, 64, 64],
        &[1, 64, 64],
        &[1, 64, 64],
        "<f4",
        4,
        &[("vq", faces_codebook())],
        &s
    )
    .is_err());
    assert!(last_error().contains("codec_meta"), "{}", last_error());
}

#[test]
fn blocks_with_nan_are_stored_losslessly() {
    let mut orig = faces(4);
    orig[4096 + 17] = f32::NAN;
    orig[2 * 4096 + 5] = f32::INFINITY;
    let (_, out) = round_trip(
        &f32_bytes(&orig),
        &Geometry {
            shape: &[4, 64, 64],
            chunks: &[4, 64, 64],
            blocks: &[1, 64, 64],
            dtype: "<f4",
        },
        faces_codebook(),
        &Settings::default(),
    );
    let rec = bytes_f32(&out);
    // Blocks 1 and 2 came back bit for bit; blocks 0 and 3 went through the codec.
    assert_eq!(
        f32_bytes(&rec[4096..3 * 4096]),
        f32_bytes(&orig[4096..3 * 4096])
    );
    assert_ne!(rec[..4096], orig[..4096]);
    assert!(psnr(&orig[..4096], &rec[..4096], 1.0) > 25.0);
}

#[test]
fn kmeans_hard_vq_round_trips_in_2d_and_3d() {
    use blosc2_vq::train::KMeansParams;
    let faces = olivetti();
    let train = faces.slice(s![..200, .., ..]).mapv(f64::from).into_dyn();
    let cb = CodebookParams::new(ModelParams::KMeans(KMeansParams::new(256).seed(0)))
        .n_samples(20_000)
        .fit(&train.view())
        .unwrap();
    assert_eq!(cb.n_prototypes(), 256);
    let test: Vec<f32> = faces.slice(s![200.., .., ..]).iter().copied().collect();
    let (arr, out) = round_trip(
        &f32_bytes(&test),
        &Geometry {
            shape: &[200, 64, 64],
            chunks: &[16, 64, 64],
            blocks: &[1, 64, 64],
            dtype: "<f4",
        },
        &cb.to_msgpack(),
        &Settings::default(),
    );
    let p = psnr(&test, &bytes_f32(&out), 1.0);
    let bpp = 32.0 / arr.cratio();
    // One byte per 4×4 tile before LZ4: at most 0.5 bits per pixel plus headers.
    assert!(bpp < 0.6 && p > 26.0, "k-means: {bpp:.3} bpp, {p:.2} dB");

    let vols = volumes(4, 32);
    let cb3 = CodebookParams::new(ModelParams::KMeans(KMeansParams::new(32)))
        .tile_shape(&[4, 4, 4])
        .n_samples(2000)
        .fit(&vols.mapv(f64::from).into_dyn().view())
        .unwrap()
        .to_msgpack();
    let data: Vec<f32> = vols.iter().copied().collect();
    let (_, out) = round_trip(
        &f32_bytes(&data),
        &Geometry {
            shape: &[4, 32, 32, 32],
            chunks: &[1, 32, 32, 32],
            blocks: &[1, 16, 16, 16],
            dtype: "<f4",
        },
        &cb3,
        &Settings::default(),
    );
    let range = data.iter().copied().fold(f32::MIN, f32::max)
        - data.iter().copied().fold(f32::MAX, f32::min);
    assert!(psnr(&data, &bytes_f32(&out), f64::from(range)) > 20.0);
}
