//! Error-bounded coding measured side by side with ZFP's fixed-accuracy mode, in one run, on
//! held-out data: the faces (residual codebook trained on the even faces, measured on the
//! odd; ZFP 2-D per image at the same tolerance) and synthetic VDFs of four families
//! (`tests/common/vdf.rs`: Maxwellian, kappa, ring, shell; 24 trained on, 24 measured; our
//! log10 mode with a 10 % relative bound against 3-D ZFP, float64, at the reference
//! notebook's tolerance 1e-13). Prints markdown tables; SZ3 and JPEG-XL are in the Python
//! report (`examples/python/report.py`).
//!
//!     cargo run --release --example bounded [-- --quick]
//!
//! bpp counts what a user pays: "chunks" is the SChunk's compressed bytes, "file" the whole
//! frame on disk with its codebook. Encode and decode run on one thread.

#[path = "../tests/common/mod.rs"]
mod common;

use blosc2_host::zfp::{self, ZfpMode};
use blosc2_vq::codebook::{Codebook, PrototypeStorage, Transform};
use blosc2_vq::train::{CodebookParams, ModelParams, ResidualParams};
use common::vdf::*;
use common::*;
use std::time::Instant;

const SIDE: usize = 32;
const FLOOR: f64 = 1e-16;

struct Measured {
    chunk_bytes: usize,
    file_bytes: usize,
    decoded: Vec<u8>,
    encode_mbs: f64,
    decode_mbs: f64,
}

/// Compresses through real c-blosc2 into a frame on disk and reads it back.
fn through_blosc2(data: &[u8], g: &Geometry<'_>, codebook: &[u8], name: &str) -> Measured {
    let path = std::env::temp_dir().join(format!(
        "blosc2-vq-bounded-{}-{name}.b2nd",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let settings = Settings {
        urlpath: Some(path.to_string_lossy().into_owned()),
        ..Settings::default()
    };
    let (arr, decoded) = round_trip(data, g, codebook, &settings);
    let (_, dsecs) = arr.decompress().expect("decodes");
    let mb = data.len() as f64 / 1e6;
    let m = Measured {
        chunk_bytes: arr.cbytes() as usize,
        file_bytes: std::fs::metadata(&path)
            .map(|m| m.len() as usize)
            .unwrap_or(0),
        decoded,
        encode_mbs: mb / arr.encode_seconds,
        decode_mbs: mb / dsecs,
    };
    drop(arr);
    let _ = std::fs::remove_file(&path);
    m
}

fn psnr(a: &[f64], b: &[f64]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64;
    -10.0 * mse.log10()
}

fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn faces(quick: bool) {
    let even = olivetti()
        .slice(ndarray::s![0..;2, .., ..])
        .mapv(f64::from)
        .into_dyn();
    let test: Vec<f32> = olivetti()
        .slice(ndarray::s![1..;2, .., ..])
        .iter()
        .copied()
        .collect();
    let original: Vec<f64> = test.iter().map(|&v| f64::from(v)).collect();
    let (stages, k, samples) = if quick {
        (4, 64, 20_000)
    } else {
        (4, 256, 50_000)
    };
    let t0 = Instant::now();
    let cb = CodebookParams::new(ModelParams::Residual(
        ResidualParams::new(stages, k).mean_bits(8),
    ))
    .tile_shape(&[4, 8])
    .n_samples(samples)
    .fit(&even.view())
    .expect("training succeeds");
    println!(
        "\n### Faces: 200 held-out 64×64 images (float32), residual {stages}×{k} on 4×8 tiles, trained in {:.1} s\n",
        t0.elapsed().as_secs_f64()
    );
    let n = original.len() as f64;
    let half = cb
        .clone()
        .with_prototype_storage(PrototypeStorage::Float16)
        .unwrap();
    println!(
        "codebook {} bytes (float32 prototypes), {} bytes with float16\n",
        cb.to_msgpack().len(),
        half.to_msgpack().len()
    );
    println!("| codec | bound | bpp chunks | bpp file | PSNR dB | max error | bound holds | encode MB/s | decode MB/s |");
    println!("|---|---:|---:|---:|---:|---:|---|---:|---:|");
    for (e, base, label) in [
        (0.1, &cb, "vq error-bounded"),
        (0.05, &cb, "vq error-bounded"),
        (0.05, &half, "vq error-bounded, float16 codebook"),
        (0.02, &cb, "vq error-bounded"),
        (0.01, &cb, "vq error-bounded"),
    ] {
        let sealed = base.clone().with_max_error(e).unwrap().to_msgpack();
        let g = Geometry {
            shape: &[200, 64, 64],
            chunks: &[16, 64, 64],
            blocks: &[1, 64, 64],
            dtype: "<f4",
        };
        let m = through_blosc2(&f32_bytes(&test), &g, &sealed, "faces");
        let rec: Vec<f64> = bytes_f32(&m.decoded)
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let worst = max_abs(&original, &rec);
        println!(
            "| {label} | {e} | {:.3} | {:.3} | {:.2} | {worst:.4} | {} | {:.1} | {:.0} |",
            m.chunk_bytes as f64 * 8.0 / n,
            m.file_bytes as f64 * 8.0 / n,
            psnr(&original, &rec),
            if worst <= e { "yes" } else { "NO" },
            m.encode_mbs,
            m.decode_mbs
        );
        if base.prototype_storage() == PrototypeStorage::Float16 {
            continue;
        }
        let t = Instant::now();
        let z = zfp::compress(&test, 64, 64, ZfpMode::Accuracy(e));
        let enc = t.elapsed().as_secs_f64();
        let mut back = vec![0f32; test.len()];
        let t = Instant::now();
        zfp::decompress(&z, &mut back);
        let dec = t.elapsed().as_secs_f64();
        let rec: Vec<f64> = back.iter().map(|&v| f64::from(v)).collect();
        let worst = max_abs(&original, &rec);
        println!(
            "| ZFP 2-D fixed accuracy | {e} | {:.3} | | {:.2} | {worst:.4} | {} | {:.1} | {:.0} |",
            z.nbytes() as f64 * 8.0 / n,
            psnr(&original, &rec),
            if worst <= e { "yes" } else { "NO" },
            test.len() as f64 * 4.0 / 1e6 / enc,
            test.len() as f64 * 4.0 / 1e6 / dec
        );
    }
}

/// Relative errors of the moments, averaged over the VDFs.
fn moment_errors(orig: &[f64], rec: &[f64]) -> (f64, f64, f64) {
    let n3 = SIDE * SIDE * SIDE;
    let (mut dn, mut du, mut dt, mut count) = (0.0, 0.0, 0.0, 0.0);
    for (o, r) in orig.chunks_exact(n3).zip(rec.chunks_exact(n3)) {
        let (n0, u0, t0) = moments(o, SIDE);
        let (n1, u1, t1) = moments(r, SIDE);
        if n0 == 0.0 {
            continue;
        }
        let speed = (u0.iter().map(|v| v * v).sum::<f64>() + t0).sqrt();
        dn += ((n1 - n0) / n0).abs();
        du += u0
            .iter()
            .zip(&u1)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
            / speed;
        dt += ((t1 - t0) / t0).abs();
        count += 1.0;
    }
    (dn / count, du / count, dt / count)
}

/// Of the values at or above the sparsity threshold, the fraction within 10 %, and the
/// largest relative error.
fn relative(orig: &[f64], rec: &[f64]) -> (f64, f64) {
    let (mut within, mut total, mut worst) = (0usize, 0usize, 0f64);
    for (&x, &y) in orig.iter().zip(rec) {
        if x >= 1e-15 {
            total += 1;
            let r = ((y - x) / x).abs();
            worst = worst.max(r);
            within += usize::from(r <= 0.1);
        }
    }
    (within as f64 / total as f64, worst)
}

fn vdfs_table(quick: bool) {
    let n = if quick { 8 } else { 24 };
    let n3 = SIDE * SIDE * SIDE;
    let bound = 1.1f64.log10();
    let (stages, k) = if quick { (3, 64) } else { (4, 256) };
    println!(
        "\n### VDFs: {n} held-out 32³ VDFs per family (float64), residual {stages}×{k} on 4×4×4 tiles of log10 (floor {FLOOR:e}), bound log10(1.1) = 10 %; 3-D ZFP fixed accuracy 1e-13\n"
    );
    println!("| family | codec | ratio chunks | ratio file | bpp file | rel L2 | ≥1e-15 within 10 % | worst rel | empty exact 0 | density err | bulk v err | T err | encode MB/s | decode MB/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for family in [
        VdfFamily::Maxwellian,
        VdfFamily::Kappa,
        VdfFamily::Ring,
        VdfFamily::Shell,
    ] {
        let data = family_vdfs(family, 2 * n, SIDE, 2026);
        let (train, test) = data.split_at(n * n3);
        let train =
            ndarray::ArrayD::from_shape_vec(vec![n, SIDE, SIDE, SIDE], train.to_vec()).unwrap();
        let cb: Codebook = CodebookParams::new(ModelParams::Residual(
            ResidualParams::new(stages, k).mean_bits(8),
        ))
        .tile_shape(&[4, 4, 4])
        .n_samples(20_000)
        .transform(Transform::Log10 { floor: FLOOR })
        .max_error(Some(bound))
        .fit(&train.view())
        .expect("training succeeds");
        let g = Geometry {
            shape: &[n as i64, SIDE as i64, SIDE as i64, SIDE as i64],
            chunks: &[8, SIDE as i32, SIDE as i32, SIDE as i32],
            blocks: &[1, SIDE as i32, SIDE as i32, SIDE as i32],
            dtype: "<f8",
        };
        let bytes = f64_bytes(test);
        let m = through_blosc2(&bytes, &g, &cb.to_msgpack(), family.name());
        let rec = bytes_f64(&m.decoded);
        let row = |name: &str,
                   rec: &[f64],
                   chunk: usize,
                   file: Option<usize>,
                   enc: f64,
                   dec: f64| {
            let q = quality(test, rec);
            let (within, worst) = relative(test, rec);
            let (dn, du, dt) = moment_errors(test, rec);
            println!(
                "| {} | {name} | {:.1} | {} | {} | {:.2e} | {:.4} | {:.3} | {:.4} | {:.2e} | {:.2e} | {:.2e} | {enc:.1} | {dec:.0} |",
                family.name(),
                bytes.len() as f64 / chunk as f64,
                file.map_or(String::new(), |f| format!("{:.1}", bytes.len() as f64 / f as f64)),
                file.map_or(String::new(), |f| format!("{:.3}", f as f64 * 8.0 / test.len() as f64)),
                q.rel_l2,
                within,
                worst,
                q.zeros_kept,
                dn,
                du,
                dt
            );
        };
        row(
            "vq log10, 10 % bound",
            &rec,
            m.chunk_bytes,
            Some(m.file_bytes),
            m.encode_mbs,
            m.decode_mbs,
        );
        let half = cb
            .clone()
            .with_prototype_storage(PrototypeStorage::Float16)
            .unwrap();
        let m = through_blosc2(&bytes, &g, &half.to_msgpack(), family.name());
        row(
            "vq log10, 10 %, float16 codebook",
            &bytes_f64(&m.decoded),
            m.chunk_bytes,
            Some(m.file_bytes),
            m.encode_mbs,
            m.decode_mbs,
        );
        let t = Instant::now();
        let z = zfp::compress_volumes_f64(test, n, SIDE, SIDE, SIDE, ZfpMode::Accuracy(1e-13));
        let enc = t.elapsed().as_secs_f64();
        let mut back = vec![0f64; test.len()];
        let t = Instant::now();
        zfp::decompress_volumes_f64(&z, &mut back);
        let dec = t.elapsed().as_secs_f64();
        let mb = bytes.len() as f64 / 1e6;
        row(
            "3-D ZFP accuracy 1e-13",
            &back,
            z.nbytes(),
            None,
            mb / enc,
            mb / dec,
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    faces(quick);
    vdfs_table(quick);
}
