//! The reference notebook's experiment in Rust: train Archetypal Analysis and Fuzzy C-Means
//! codebooks on 1000 random 4×4 tiles of the Olivetti faces, compress all 400 faces through
//! c-blosc2 with the vq codec, print ratio / bpp / PSNR / SSIM / speed, and write a PNG with
//! originals, AA and CMeans reconstructions.
//!
//!     cargo run --release --example olivetti [-- OUTPUT.png]
//!
//! The faces are read from ../shared/data/olivetti_faces_u8.npy (or $BLOSC2_VQ_OLIVETTI).

#[path = "../tests/common/mod.rs"]
mod common;

use blosc2_vq::train::Metric;
use blosc2_vq::train::{ArchetypalParams, CodebookParams, FuzzyCMeansParams, ModelParams};
use common::*;
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let out_png = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "olivetti_reconstructions.png".into());
    let faces = olivetti();
    let original = faces.as_slice().unwrap();
    let bytes = f32_bytes(original);
    let train_data = faces.mapv(f64::from).into_dyn();

    let models = [
        (
            "AA",
            ModelParams::Archetypal(
                ArchetypalParams::new(36)
                    .n_init(1)
                    .max_iter(100)
                    .tol(1e-6)
                    .seed(0),
            ),
        ),
        (
            "CMeans",
            ModelParams::FuzzyCMeans(
                FuzzyCMeansParams::new(36)
                    .fuzzifier(2.0)
                    .metric(Metric::Cosine)
                    .max_iter(100)
                    .tol(1e-6)
                    .seed(0),
            ),
        ),
    ];
    println!("Olivetti faces, 400 × 64×64 float32, chunks = blocks = (1, 64, 64)");
    println!("| model  | threads | ratio | bpp   | PSNR dB | mean SSIM | encode MB/s | decode MB/s | train ms |");
    println!("|--------|---------|-------|-------|---------|-----------|-------------|-------------|----------|");
    let mut reconstructions = Vec::new();
    for (name, model) in models {
        let start = Instant::now();
        let codebook = CodebookParams::new(model)
            .tile_shape(&[4, 4])
            .n_samples(1000)
            .seed(0)
            .fit(&train_data.view())
            .expect("training succeeds");
        let train_ms = start.elapsed().as_secs_f64() * 1e3;
        let cb = codebook.to_msgpack();
        for nthreads in [1i16, 2] {
            let settings = Settings {
                nthreads,
                ..Settings::default()
            };
            let arr = compress_b2nd(
                &bytes,
                &[400, 64, 64],
                &[1, 64, 64],
                &[1, 64, 64],
                "<f4",
                4,
                &[("vq", &cb)],
                &settings,
            )
            .unwrap_or_else(|rc| panic!("compression failed ({rc}): {}", last_error()));
            let (out, dsecs) = arr.decompress().expect("decompression succeeds");
            let rec = bytes_f32(&out);
            let mb = bytes.len() as f64 / 1e6;
            println!(
                "| {name:<6} | {nthreads:>7} | {:>5.2} | {:>5.2} | {:>7.2} | {:>9.3} | {:>11.1} | {:>11.1} | {:>8.0} |",
                arr.cratio(),
                32.0 / arr.cratio(),
                blosc2_vq::metrics::psnr(original, &rec, 1.0),
                mean_ssim(original, &rec, 64, 64),
                mb / arr.encode_seconds,
                mb / dsecs,
                train_ms
            );
            if nthreads == 1 {
                reconstructions.push(rec);
            }
        }
    }

    // Ten random faces: originals, AA, CMeans (as the notebook's figure).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let picks: Vec<usize> = (0..10).map(|_| rng.random_range(0..400)).collect();
    let rows = [original, &reconstructions[0][..], &reconstructions[1][..]];
    let (gap, side) = (2usize, 64usize);
    let width = 10 * (side + gap) + gap;
    let height = rows.len() * (side + gap) + gap;
    let mut pixels = vec![255u8; width * height];
    for (r, data) in rows.iter().enumerate() {
        for (c, &face) in picks.iter().enumerate() {
            for y in 0..side {
                for x in 0..side {
                    let v = data[face * side * side + y * side + x].clamp(0.0, 1.0);
                    pixels[(gap + r * (side + gap) + y) * width + gap + c * (side + gap) + x] =
                        (v * 255.0).round() as u8;
                }
            }
        }
    }
    let file = std::fs::File::create(&out_png).expect("can write the PNG");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&pixels)
        .unwrap();
    println!("rows: original, AA, CMeans -> {out_png}");
}
