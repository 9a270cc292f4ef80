//! Plasma velocity distribution functions (VDFs) through c-blosc2 with the vq codec, as the
//! Vlasiator compression notebook does with zlib, ZFP and MLPs: 64 synthetic VDFs
//! (32×32×32 float64, 1e-15..~1e-12 and empty cells at 0, see `tests/common/vdf.rs`), codebooks
//! trained on 4×4×4 tiles of the first 32, measured on the other 32. Prints a markdown table.
//!
//!     cargo run --release --example vdf
//!
//! Frames: shape (32, 32, 32, 32), chunks (8, 32, 32, 32), blocks = one VDF (1, 32, 32, 32),
//! codebook in the `vq` metalayer, 2 threads. Settings: mean-removed residual VQ (8 stages of
//! 256 codewords, beam 4, 8-bit tile means; cut to 2, 4 and 8 stages with
//! `Codebook::with_stages`) on the values and on `log10(max(v, 1e-16))`, k-means 256 and
//! Archetypal Analysis (36) on log10; the same residual codebook on log10 with a 10 % error
//! bound; 3-D ZFP; lossless LZ4 and ZSTD with byte shuffle.
//!
//! ZFP is real 3-D float64 ZFP (the host crate's `compress_volumes_f64`, one stream per VDF,
//! fixed accuracy as zfpy's `tolerance=`). Its log10 rows follow the notebook (clamp to 1e-16,
//! log10, reconstructions <= 1e-16 set to 0); the vq codec's log10 decoder zeroes below
//! √10 × floor instead (fixed-rate blocks) or below the floor (error-bounded blocks).

// The generator is `tests/common/vdf.rs`, reached as `common::vdf` (loading it again with its
// own `#[path]` would compile it twice, as two distinct modules).
#[path = "../tests/common/mod.rs"]
mod common;

use blosc2_host::zfp::{self, ZfpMode};
use blosc2_vq::codebook::{Codebook, Transform};
use blosc2_vq::train::{
    ArchetypalParams, CodebookParams, KMeansParams, ModelParams, ResidualParams,
};
use common::vdf::*;
use common::*;
use std::time::Instant;

const N: usize = 64;
const N_TRAIN: usize = 32;
const SIDE: usize = 32;
const SEED: u64 = 2024;
/// The notebook's log10 floor: values are clamped to it before log10 (the codec decodes
/// results below √10 × floor as 0, the notebook's ZFP rows at or below the floor).
const FLOOR: f64 = 1e-16;
const NTHREADS: i16 = 2;

struct Row {
    name: String,
    compressed: usize,
    codebook: usize,
    q: Quality,
    encode_mbs: f64,
    decode_mbs: f64,
    train_s: Option<f64>,
}

fn train(
    model: ModelParams,
    transform: Transform,
    data: &ndarray::ArrayViewD<'_, f64>,
) -> (Codebook, f64) {
    let t0 = Instant::now();
    let cb = CodebookParams::new(model)
        .tile_shape(&[4, 4, 4])
        .n_samples(6000)
        .seed(0)
        .transform(transform)
        .fit(data)
        .unwrap_or_else(|e| panic!("training failed: {e}"));
    (cb, t0.elapsed().as_secs_f64())
}

/// Compresses the test VDFs through c-blosc2 with `cb` and measures the reconstruction.
fn vq_row(name: &str, cb: &Codebook, train_s: f64, test: &[f64], shape: &[i64]) -> Row {
    let bytes = f64_bytes(test);
    let meta = cb.to_msgpack();
    let settings = Settings {
        nthreads: NTHREADS,
        ..Settings::default()
    };
    let arr = compress_b2nd(
        &bytes,
        shape,
        &[8, SIDE as i32, SIDE as i32, SIDE as i32],
        &[1, SIDE as i32, SIDE as i32, SIDE as i32],
        "<f8",
        8,
        &[("vq", &meta)],
        &settings,
    )
    .unwrap_or_else(|rc| panic!("{name}: compression failed ({rc}): {}", last_error()));
    let (out, dsecs) = arr
        .decompress()
        .unwrap_or_else(|rc| panic!("{name}: decompression failed ({rc}): {}", last_error()));
    let mb = bytes.len() as f64 / 1e6;
    Row {
        name: name.into(),
        compressed: arr.cbytes() as usize,
        codebook: meta.len(),
        q: quality(test, &bytes_f64(&out)),
        encode_mbs: mb / arr.encode_seconds,
        decode_mbs: mb / dsecs,
        train_s: Some(train_s),
    }
}

/// Lossless c-blosc2 (byte shuffle + `codec`), the notebook's zlib baseline.
fn lossless_row(name: &str, codec: u32, test: &[f64], shape: &[i64]) -> Row {
    let bytes = f64_bytes(test);
    let settings = Settings {
        nthreads: NTHREADS,
        codec: codec as u8,
        clevel: 5,
        filters: [0, 0, 0, 0, 0, sys::BLOSC_SHUFFLE as u8],
        splitmode: sys::BLOSC_AUTO_SPLIT as i32,
        ..Settings::default()
    };
    let arr = host::compress_b2nd(
        &bytes,
        shape,
        &[8, SIDE as i32, SIDE as i32, SIDE as i32],
        &[1, SIDE as i32, SIDE as i32, SIDE as i32],
        "<f8",
        8,
        &[],
        &settings,
    )
    .unwrap_or_else(|rc| panic!("{name} compression failed ({rc})"));
    let (out, dsecs) = arr.decompress().expect("lossless decompression");
    let rec = bytes_f64(&out);
    assert_eq!(rec, test, "{name} is lossless");
    let mb = bytes.len() as f64 / 1e6;
    Row {
        name: name.into(),
        compressed: arr.cbytes() as usize,
        codebook: 0,
        q: quality(test, &rec),
        encode_mbs: mb / arr.encode_seconds,
        decode_mbs: mb / dsecs,
        train_s: None,
    }
}

/// 3-D float64 ZFP, one stream per VDF, on the values or, as the notebook's MLP and DCT runs
/// do, on `log10(max(v, FLOOR))` with results at or below the floor set to 0.
fn zfp_row(tolerance: f64, log: bool, test: &[f64]) -> Row {
    let input: Vec<f64> = test
        .iter()
        .map(|&v| if log { v.max(FLOOR).log10() } else { v })
        .collect();
    let mode = ZfpMode::Accuracy(tolerance);
    let n = test.len() / (SIDE * SIDE * SIDE);
    let t0 = Instant::now();
    let packed = zfp::compress_volumes_f64(&input, n, SIDE, SIDE, SIDE, mode);
    let enc = t0.elapsed().as_secs_f64();
    let mut out = vec![0f64; input.len()];
    let t1 = Instant::now();
    zfp::decompress_volumes_f64(&packed, &mut out);
    let rec: Vec<f64> = out
        .iter()
        .map(|&z| {
            if log {
                let v = 10f64.powf(z);
                if v <= FLOOR {
                    0.0
                } else {
                    v
                }
            } else {
                z
            }
        })
        .collect();
    let dec = t1.elapsed().as_secs_f64();
    let mb = test.len() as f64 * 8.0 / 1e6;
    Row {
        name: if log {
            format!("ZFP 3-D f64, log10, tolerance {tolerance} (decades)")
        } else {
            format!("ZFP 3-D f64, tolerance {tolerance:e}")
        },
        compressed: packed.nbytes(),
        codebook: 0,
        q: quality(test, &rec),
        encode_mbs: mb / enc,
        decode_mbs: mb / dec,
        train_s: None,
    }
}

fn main() {
    let start = Instant::now();
    let all = vdfs(N, SIDE, SEED);
    let per = SIDE * SIDE * SIDE;
    let (train_vals, test) = all.split_at(N_TRAIN * per);
    let train_data =
        ndarray::ArrayD::from_shape_vec(vec![N_TRAIN, SIDE, SIDE, SIDE], train_vals.to_vec())
            .unwrap();
    let train_view = train_data.view();
    let n_test = N - N_TRAIN;
    let shape = [n_test as i64, SIDE as i64, SIDE as i64, SIDE as i64];
    let log = Transform::Log10 { floor: FLOOR };
    let max = test.iter().cloned().fold(0.0, f64::max);
    let min_pos = test
        .iter()
        .cloned()
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min);
    println!(
        "{N} synthetic VDFs {SIDE}³ float64 (seed {SEED}), trained on {N_TRAIN}, measured on {n_test}: \
         {:.1}% empty cells, values {min_pos:.2e}..{max:.2e}",
        100.0 * empty_fraction(test)
    );
    println!();

    let mut rows = Vec::new();
    let residual = |stages| {
        ModelParams::Residual(
            ResidualParams::new(stages, 256)
                .beam(4)
                .mean_bits(8)
                .max_iter(20)
                .refine_iter(5)
                .seed(0),
        )
    };
    for (transform, label) in [(Transform::Identity, "linear"), (log, "log10")] {
        let (cb, secs) = train(residual(8), transform, &train_view);
        // The first stages of a residual codebook are a coarser codebook of their own.
        for stages in [2u32, 4, 8] {
            let cut = cb.clone().with_stages(stages).unwrap();
            rows.push(vq_row(
                &format!("vq residual {stages}×256 beam 4 mean 8 bits, {label}"),
                &cut,
                secs,
                test,
                &shape,
            ));
        }
        if transform == log {
            // Error-bounded: every stored value within 10 %, every empty cell exactly 0.
            let bounded = cb.clone().with_max_error(1.1f64.log10()).unwrap();
            rows.push(vq_row(
                "vq residual 8×256 mean 8 bits, log10, 10 % error bound",
                &bounded,
                secs,
                test,
                &shape,
            ));
        }
    }
    let (cb, secs) = train(
        ModelParams::KMeans(KMeansParams::new(256).max_iter(30).seed(0)),
        log,
        &train_view,
    );
    rows.push(vq_row("vq k-means 256, log10", &cb, secs, test, &shape));
    let (cb, secs) = train(
        ModelParams::Archetypal(ArchetypalParams::new(36).max_iter(30).seed(0)),
        log,
        &train_view,
    );
    rows.push(vq_row(
        "vq AA 36 archetypes, log10",
        &cb,
        secs,
        test,
        &shape,
    ));

    for tol in [1e-13, 1e-14, 1e-15] {
        rows.push(zfp_row(tol, false, test));
    }
    for tol in [0.05, 0.2, 1.0] {
        rows.push(zfp_row(tol, true, test));
    }
    rows.push(lossless_row(
        "LZ4 + shuffle (lossless)",
        sys::BLOSC_LZ4,
        test,
        &shape,
    ));
    rows.push(lossless_row(
        "ZSTD + shuffle (lossless)",
        sys::BLOSC_ZSTD,
        test,
        &shape,
    ));

    let nbytes = test.len() * 8;
    println!("| setting | ratio | ratio with codebook | bits/value | rel. L2 error | max abs error | zeros kept (exact 0) | zeros < 1e-15 | values > 1e-14 within 10% | mean rel. err (1e-15, 1e-13] | stored values lost | encode MB/s | decode MB/s | train s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let ratio = nbytes as f64 / r.compressed as f64;
        println!(
            "| {} | {:.1} | {:.1} | {:.3} | {:.2e} | {:.2e} | {:.4} | {:.4} | {:.4} | {:.3} | {:.4} | {:.1} | {:.1} | {} |",
            r.name,
            ratio,
            nbytes as f64 / (r.compressed + r.codebook) as f64,
            64.0 / ratio,
            r.q.rel_l2,
            r.q.max_abs,
            r.q.zeros_kept,
            r.q.zeros_below_threshold,
            r.q.good_above_1e14,
            r.q.small_rel_err,
            r.q.lost,
            r.encode_mbs,
            r.decode_mbs,
            r.train_s.map_or("–".into(), |s| format!("{s:.1}")),
        );
    }
    println!();
    println!(
        "ratio: {n_test} VDFs × {per} float64 over the compressed chunks (ZFP: its streams); \
         with codebook also counts the `vq` metalayer (one codebook can serve many frames). \
         zeros: of the empty cells, decoded as exactly 0 / below the 1e-15 sparsity threshold. \
         stored values lost: of the cells >= 1e-15, decoded below 1e-15. train s: the 2-, 4- \
         and 8-stage rows are cuts of one 8-stage training. Total run {:.1} s.",
        start.elapsed().as_secs_f64()
    );
}
