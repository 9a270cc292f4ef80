//! Old formats keep decoding: frames written by blosc2-vq 0.1 (block format 1, codebook
//! format 1), kept in `tests/fixtures/v1`, still decompress through c-blosc2 to the values
//! they gave then.

mod common;

use common::{bytes_f32, host, open_b2nd};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v1")
        .join(name)
}

#[test]
fn format_1_frames_still_decode_to_the_same_values() {
    for name in ["cmeans", "aa", "aa_4bit", "kmeans"] {
        let path = fixture(&format!("{name}.b2nd"));
        let arr = open_b2nd(path.to_str().unwrap())
            .unwrap_or_else(|rc| panic!("{}: open failed ({rc})", path.display()));
        let (bytes, _) = arr.decompress().unwrap_or_else(|rc| {
            panic!(
                "{name}: decompression failed ({rc}): {}",
                common::last_error()
            )
        });
        let got = bytes_f32(&bytes);
        let expected: ndarray::Array3<f32> =
            ndarray_npy::read_npy(fixture(&format!("{name}.expected.npy"))).unwrap();
        let expected = expected.as_slice().unwrap();
        assert_eq!(got.len(), expected.len(), "{name}");
        let worst = got
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Same build settings give the same bits; allow for FMA differences between CPUs.
        assert!(worst <= 1e-5, "{name}: values moved by up to {worst}");
    }
}

/// Frames of every later block format, written once by this build and kept in
/// `tests/fixtures/v2-v4`: format 2 (k-means, fixed rate), format 3 (residual VQ to an error
/// bound) and format 4 (the predictive engine, no codebook, with NaN), from synthetic images.
/// They must keep decoding to the same bytes (the decoders are identical on every CPU) and
/// within their bounds of the originals. `BLOSC2_VQ_WRITE_FIXTURES=1` writes them anew (only when a
/// format is deliberately changed).
#[test]
fn later_format_frames_still_decode_to_the_same_bytes() {
    use blosc2_vq::engine::bound::ErrorBound;
    use blosc2_vq::engine::settings::Settings as VqSettings;
    use blosc2_vq::train::{CodebookParams, KMeansParams, ModelParams, ResidualParams};

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-v4");
    // Synthetic images (no data set goes into the repository): smooth waves with a little
    // texture; the first holds a NaN square (format 4 keeps it).
    let clean: Vec<f32> = (0..8 * 4096)
        .map(|i| {
            let (k, y, x) = (i / 4096, (i / 64) % 64, i % 64);
            let t = (x as f32 * 0.11 + k as f32).sin() * (y as f32 * 0.07).cos();
            0.5 + 0.4 * t + 0.01 * ((i * 7919 % 101) as f32 / 101.0)
        })
        .collect();
    let mut data = clean.clone();
    for y in 10..20 {
        for x in 30..40 {
            data[y * 64 + x] = f32::NAN;
        }
    }
    let train = ndarray::Array3::from_shape_vec((8, 64, 64), clean.clone())
        .unwrap()
        .mapv(f64::from)
        .into_dyn();
    let cases: [(&str, u8, Option<f64>); 3] = [
        ("kmeans_v2", 2, None),
        ("residual_v3", 3, Some(0.05)),
        ("predictive_v4", 4, Some(0.01)),
    ];
    for (name, format, bound) in cases {
        let path = dir.join(format!("{name}.b2nd"));
        let digest_path = dir.join(format!("{name}.xxh3"));
        if std::env::var_os("BLOSC2_VQ_WRITE_FIXTURES").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            let _ = std::fs::remove_file(&path);
            let (meta, input): (Vec<u8>, &[f32]) = match format {
                2 => (
                    CodebookParams::new(ModelParams::KMeans(KMeansParams::new(16)))
                        .tile_shape(&[4, 4])
                        .n_samples(2000)
                        .fit(&train.view())
                        .unwrap()
                        .to_msgpack(),
                    &clean,
                ),
                3 => (
                    CodebookParams::new(ModelParams::Residual(
                        ResidualParams::new(2, 16).mean_bits(8),
                    ))
                    .tile_shape(&[4, 8])
                    .n_samples(2000)
                    .fit(&train.view())
                    .unwrap()
                    .with_max_error(bound.unwrap())
                    .unwrap()
                    .to_msgpack(),
                    &clean,
                ),
                _ => (
                    VqSettings::new(
                        ErrorBound::MaxError {
                            max_error: bound.unwrap(),
                        },
                        None,
                    )
                    .unwrap()
                    .to_msgpack(),
                    &data,
                ),
            };
            let arr = common::compress_b2nd(
                &common::f32_bytes(input),
                &[8, 64, 64],
                &[4, 64, 64],
                &[2, 64, 64],
                "<f4",
                4,
                &[("vq", &meta)],
                &host::Settings {
                    urlpath: Some(path.to_string_lossy().into_owned()),
                    ..host::Settings::default()
                },
            )
            .unwrap_or_else(|rc| panic!("{name}: {rc} {}", common::last_error()));
            let (bytes, _) = arr.decompress().unwrap();
            std::fs::write(
                &digest_path,
                format!("{:016x}\n", xxhash_rust::xxh3::xxh3_64(&bytes)),
            )
            .unwrap();
        }
        let arr = open_b2nd(path.to_str().unwrap())
            .unwrap_or_else(|rc| panic!("{}: open failed ({rc})", path.display()));
        let (bytes, _) = arr.decompress().unwrap_or_else(|rc| {
            panic!(
                "{name}: decompression failed ({rc}): {}",
                common::last_error()
            )
        });
        // The first block's format byte is the one named.
        let chunk = arr.chunk(0);
        let blocks = host::chunk_blocks(&chunk);
        assert_eq!(blocks[0][0], format, "{name}: block format");
        let want = std::fs::read_to_string(&digest_path).unwrap();
        assert_eq!(
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)),
            want.trim(),
            "{name}: decoded bytes changed"
        );
        let got = bytes_f32(&bytes);
        let original = if format == 4 { &data } else { &clean };
        for (i, (x, y)) in original.iter().zip(&got).enumerate() {
            if x.is_nan() {
                assert!(y.is_nan(), "{name}: value {i}");
            } else if let Some(e) = bound {
                assert!(
                    f64::from((x - y).abs()) <= e,
                    "{name}: value {i}: {x} -> {y}"
                );
            }
        }
    }
}
