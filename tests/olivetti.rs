//! The Olivetti faces through real c-blosc2, against the reference notebook's figures
//! (CMeans: ratio 2.56, PSNR 20.3 dB, mean SSIM 0.706; AA: ratio 2.40, PSNR 23.4 dB, mean SSIM
//! 0.920), with the notebook's settings: 36 prototypes, 1000 random 4×4 training tiles, seed 0.

mod common;

use blosc2_vq::train::Metric;
use blosc2_vq::train::{ArchetypalParams, CodebookParams, FuzzyCMeansParams, ModelParams};
use blosc2_vq::Codebook;
use common::*;
use std::sync::OnceLock;
use std::time::Instant;

struct Trained {
    bytes: Vec<u8>,
    seconds: f64,
}

fn train(model: ModelParams) -> Trained {
    let faces = olivetti().mapv(f64::from).into_dyn();
    let start = Instant::now();
    let cb = CodebookParams::new(model)
        .tile_shape(&[4, 4])
        .n_samples(1000)
        .seed(0)
        .fit(&faces.view())
        .expect("training succeeds");
    Trained {
        seconds: start.elapsed().as_secs_f64(),
        bytes: cb.to_msgpack(),
    }
}

fn cmeans() -> &'static Trained {
    static CB: OnceLock<Trained> = OnceLock::new();
    CB.get_or_init(|| {
        train(ModelParams::FuzzyCMeans(
            FuzzyCMeansParams::new(36)
                .fuzzifier(2.0)
                .metric(Metric::Cosine)
                .max_iter(100)
                .tol(1e-6)
                .seed(0),
        ))
    })
}

fn archetypal() -> &'static Trained {
    static CB: OnceLock<Trained> = OnceLock::new();
    CB.get_or_init(|| {
        train(ModelParams::Archetypal(
            ArchetypalParams::new(36)
                .n_init(1)
                .max_iter(100)
                .tol(1e-6)
                .seed(0),
        ))
    })
}

struct Measured {
    ratio: f64,
    psnr: f64,
    ssim: f64,
    encode_mbs: f64,
    decode_mbs: f64,
}

fn measure(
    codebook: &[u8],
    shape: &[i64],
    chunks: &[i32],
    blocks: &[i32],
    nthreads: i16,
) -> Measured {
    let faces = olivetti();
    let original = faces.as_slice().unwrap();
    let bytes = f32_bytes(original);
    let settings = Settings {
        nthreads,
        ..Settings::default()
    };
    let arr = compress_b2nd(
        &bytes,
        shape,
        chunks,
        blocks,
        "<f4",
        4,
        &[("vq", codebook)],
        &settings,
    )
    .unwrap_or_else(|rc| panic!("compression failed ({rc}): {}", last_error()));
    let (out, dsecs) = arr.decompress().expect("decompression succeeds");
    let rec = bytes_f32(&out);
    let mb = bytes.len() as f64 / 1e6;
    Measured {
        ratio: arr.cratio(),
        psnr: blosc2_vq::metrics::psnr(original, &rec, 1.0),
        ssim: mean_ssim(original, &rec, 64, 64),
        encode_mbs: mb / arr.encode_seconds,
        decode_mbs: mb / dsecs,
    }
}

fn report(name: &str, layout: &str, t: &Trained, m: &Measured) {
    println!(
        "| {name:<7} | {layout:<22} | {:>5.2} | {:>5.2} | {:>6.2} | {:>6.3} | {:>8.1} | {:>8.1} | {:>8.1} |",
        m.ratio,
        32.0 / m.ratio,
        m.psnr,
        m.ssim,
        m.encode_mbs,
        m.decode_mbs,
        t.seconds * 1e3
    );
}

fn check(m: &Measured, ratio: f64, psnr: f64, ssim: f64) {
    assert!(m.ratio >= ratio, "ratio {:.3} < {ratio}", m.ratio);
    assert!(m.psnr >= psnr, "PSNR {:.2} < {psnr}", m.psnr);
    assert!(m.ssim >= ssim, "mean SSIM {:.4} < {ssim}", m.ssim);
}

#[test]
fn cmeans_faces_as_3d_b2nd_beat_the_reference() {
    let m = measure(
        &cmeans().bytes,
        &[400, 64, 64],
        &[1, 64, 64],
        &[1, 64, 64],
        1,
    );
    report("CMeans", "(400,64,64) / (1,64,64)", cmeans(), &m);
    check(&m, 2.56, 20.3, 0.706);
}

#[test]
fn archetypal_faces_as_3d_b2nd_beat_the_reference() {
    let m = measure(
        &archetypal().bytes,
        &[400, 64, 64],
        &[1, 64, 64],
        &[1, 64, 64],
        1,
    );
    report("AA", "(400,64,64) / (1,64,64)", archetypal(), &m);
    check(&m, 2.40, 23.4, 0.920);
}

#[test]
fn faces_as_2d_array_with_64x64_blocks() {
    for (name, t, floor) in [
        ("CMeans", cmeans(), (2.56, 20.3, 0.706)),
        ("AA", archetypal(), (2.40, 23.4, 0.920)),
    ] {
        let m = measure(&t.bytes, &[25600, 64], &[640, 64], &[64, 64], 1);
        report(name, "(25600,64) / (64,64)", t, &m);
        check(&m, floor.0, floor.1, floor.2);
    }
}

#[test]
fn one_and_four_threads_give_identical_chunks() {
    let faces = olivetti();
    let bytes = f32_bytes(faces.as_slice().unwrap());
    for t in [cmeans(), archetypal()] {
        let arrays: Vec<_> = [1i16, 4]
            .iter()
            .map(|&nthreads| {
                let s = Settings {
                    nthreads,
                    ..Settings::default()
                };
                // 8 blocks per chunk so that threads really split the work.
                compress_b2nd(
                    &bytes,
                    &[400, 64, 64],
                    &[8, 64, 64],
                    &[1, 64, 64],
                    "<f4",
                    4,
                    &[("vq", &t.bytes)],
                    &s,
                )
                .expect("compresses")
            })
            .collect();
        assert_eq!(arrays[0].nchunks(), 50);
        for n in 0..arrays[0].nchunks() {
            let (one, four) = (
                chunk_blocks(&arrays[0].chunk(n)),
                chunk_blocks(&arrays[1].chunk(n)),
            );
            assert_eq!(one.len(), 8);
            assert!(
                one == four,
                "chunk {n}: a block's bytes differ between 1 and 4 threads"
            );
        }
        let (a, _) = arrays[0].decompress().unwrap();
        let (b, _) = arrays[1].decompress().unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn training_is_deterministic() {
    let again = train(ModelParams::Archetypal(
        ArchetypalParams::new(36)
            .n_init(1)
            .max_iter(100)
            .tol(1e-6)
            .seed(0),
    ));
    assert_eq!(again.bytes, archetypal().bytes);
    let cb = Codebook::from_msgpack(&cmeans().bytes).unwrap();
    assert_eq!(cb.n_prototypes(), 36);
    assert_eq!(cb.tile_shape(), vec![4, 4]);
    assert_eq!(cb.training().n_samples, 1000);
}
