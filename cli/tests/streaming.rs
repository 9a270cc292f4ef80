//! `train`, `compress` and `decompress` on a `.npy` larger than the memory they may use,
//! measured as the user would (`/usr/bin/time -v`'s maximum resident set size), on data unlike
//! the faces (smooth random fields with noise).
//!
//! The file is `BLOSC2_VQ_STREAM_MIB` MiB (default 640); each command must stay under
//! `RSS_LIMIT_MIB`. What comes back must equal, byte for byte, what the in-memory path gives
//! on the same images (the same chunks are coded the same way).

mod common;

use blosc2_host as host;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What each command may hold resident, in MiB: well under the file.
const RSS_LIMIT_MIB: u64 = 256;
const SIDE: usize = 64;

fn tmp(name: &str) -> PathBuf {
    common::scratch("streaming", name)
}

/// Image `i` of the field: a few random plane waves and blobs plus 1 % noise, float32.
fn image(i: usize, out: &mut [f32]) {
    // splitmix64: a deterministic stream per image, no dependency.
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let waves: Vec<[f64; 4]> = (0..3)
        .map(|_| [next() * 0.4, next() * 0.4, next() * 6.3, 0.2 + 0.3 * next()])
        .collect();
    let (cx, cy, w) = (next() * 64.0, next() * 64.0, 4.0 + 12.0 * next());
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (fx, fy) = (x as f64, y as f64);
            let mut v = 0.5 * (-((fx - cx).powi(2) + (fy - cy).powi(2)) / (2.0 * w * w)).exp();
            for [kx, ky, phase, a] in &waves {
                v += a * (kx * fx + ky * fy + phase).sin();
            }
            v += 0.01 * (next() - 0.5);
            out[y * SIDE + x] = v as f32;
        }
    }
}

/// Writes `n` images to a float32 `.npy`, a slab at a time.
fn write_field(path: &Path, n: usize) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {SIDE}, {SIDE}), }}");
    // Version 1.0: magic, version, header length; the header padded to 64 bytes with a newline.
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    let padded = format!("{header:<width$}\n", width = total - 10 - 1);
    file.write_all(b"\x93NUMPY\x01\x00").unwrap();
    file.write_all(&(padded.len() as u16).to_le_bytes())
        .unwrap();
    file.write_all(padded.as_bytes()).unwrap();
    let mut values = vec![0f32; SIDE * SIDE];
    for i in 0..n {
        image(i, &mut values);
        for v in &values {
            file.write_all(&v.to_le_bytes()).unwrap();
        }
    }
    file.flush().unwrap();
}

/// Runs the CLI under `/usr/bin/time -v`; returns its output and maximum resident set size
/// in MiB.
/// Runs one step with [`run_measured`], notes it in `report`, and checks its peak memory.
fn measured_step(report: &mut Vec<String>, label: &str, args: &[&str]) {
    let (text, rss) = run_measured(args);
    report.push(format!("{label}: {rss} MiB; {}", text.trim()));
    assert!(rss < RSS_LIMIT_MIB, "{label} held {rss} MiB");
}

fn run_measured(args: &[&str]) -> (String, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "/usr/bin/time is missing (Debian package `time`): run scripts/setup.sh"
    );
    let out = Command::new(time)
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_blosc2-vq"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "blosc2-vq {args:?} failed:\n{stdout}{stderr}"
    );
    let kib: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maximum resident set size in:\n{stderr}"));
    (stdout, kib / 1024)
}

/// Reads images `first..first + n` of a float32 `.npy` written by numpy or the CLI.
fn read_images(path: &Path, first: usize, n: usize) -> Vec<f32> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).unwrap();
    let mut lead = [0u8; 10];
    file.read_exact(&mut lead).unwrap();
    assert_eq!(&lead[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([lead[8], lead[9]]) as u64;
    let image_bytes = (SIDE * SIDE * 4) as u64;
    file.seek(SeekFrom::Start(
        10 + header_len + first as u64 * image_bytes,
    ))
    .unwrap();
    let mut bytes = vec![0u8; n * SIDE * SIDE * 4];
    file.read_exact(&mut bytes).unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn a_file_larger_than_the_memory_allowed_streams_through() {
    let mib: usize = std::env::var("BLOSC2_VQ_STREAM_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(640);
    let n = mib * (1 << 20) / (SIDE * SIDE * 4);
    let (input, codebook, frame, back) = (
        tmp("field.npy"),
        tmp("field.vq"),
        tmp("field.b2nd"),
        tmp("field_back.npy"),
    );
    write_field(&input, n);
    let file_mib = std::fs::metadata(&input).unwrap().len() >> 20;
    assert!(
        file_mib > RSS_LIMIT_MIB,
        "the test file must exceed the limit"
    );

    let mut report = vec![];
    measured_step(
        &mut report,
        "train",
        &[
            "train",
            input.to_str().unwrap(),
            "-o",
            codebook.to_str().unwrap(),
            "--model",
            "kmeans",
            "--prototypes",
            "256",
            "--tile",
            "4x8",
            "--samples",
            "200000",
        ],
    );

    measured_step(
        &mut report,
        "compress",
        &[
            "compress",
            input.to_str().unwrap(),
            "-c",
            codebook.to_str().unwrap(),
            "-o",
            frame.to_str().unwrap(),
            "--nthreads",
            "2",
        ],
    );

    measured_step(
        &mut report,
        "decompress",
        &[
            "decompress",
            frame.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ],
    );
    eprintln!(
        "{file_mib} MiB file, {n} images of {SIDE}x{SIDE} float32:\n{}",
        report.join("\n")
    );
    assert_eq!(
        std::fs::metadata(&back).unwrap().len(),
        std::fs::metadata(&input).unwrap().len()
    );

    // The streamed result equals the in-memory path's on the same images: compress a slice
    // of whole chunks (the default chunk holds 64 images) with the same codebook and geometry.
    let (first, count) = (n / 2 / 64 * 64, 128);
    let original = read_images(&input, first, count);
    let streamed = read_images(&back, first, count);
    let cb = std::fs::read(&codebook).unwrap();
    register();
    let bytes: Vec<u8> = original.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let arr = host::compress_b2nd(
        &bytes,
        &[count as i64, SIDE as i64, SIDE as i64],
        &[64, SIDE as i32, SIDE as i32],
        &[1, SIDE as i32, SIDE as i32],
        "<f4",
        4,
        &[("vq", &cb)],
        &host::Settings::default(),
    )
    .expect("in-memory compression");
    let (decoded, _) = arr.decompress().unwrap();
    let in_memory: Vec<f32> = decoded
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
        .collect();
    assert!(
        in_memory == streamed,
        "streamed and in-memory results differ"
    );
    // And it is a real reconstruction, not zeros or noise.
    let mse = original
        .iter()
        .zip(&streamed)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / original.len() as f64;
    let var = {
        let mean = original.iter().map(|&v| f64::from(v)).sum::<f64>() / original.len() as f64;
        original
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / original.len() as f64
    };
    assert!(mse < 0.05 * var, "mse {mse} against variance {var}");

    // Without a codebook, to a bound relative to the value range: the range pass and the
    // predictive engine stream too, and every value is within the bound.
    let mut report = vec![];
    measured_step(
        &mut report,
        "compress --rel-error",
        &[
            "compress",
            input.to_str().unwrap(),
            "-o",
            frame.to_str().unwrap(),
            "--rel-error",
            "1e-3",
            "--nthreads",
            "2",
        ],
    );
    measured_step(
        &mut report,
        "decompress",
        &[
            "decompress",
            frame.to_str().unwrap(),
            "-o",
            back.to_str().unwrap(),
        ],
    );
    eprintln!("predictive:\n{}", report.join("\n"));
    let step = 1024;
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for first in (0..n).step_by(step) {
        for v in read_images(&input, first, step.min(n - first)) {
            (lo, hi) = (lo.min(v), hi.max(v));
        }
    }
    let bound = 1e-3 * (f64::from(hi) - f64::from(lo));
    let mut worst = 0f64;
    for first in (0..n).step_by(step) {
        let count = step.min(n - first);
        let a = read_images(&input, first, count);
        let b = read_images(&back, first, count);
        for (x, y) in a.iter().zip(&b) {
            worst = worst.max((f64::from(*x) - f64::from(*y)).abs());
        }
    }
    assert!(
        worst <= bound,
        "worst error {worst} above the bound {bound}"
    );
    for p in [input, frame, back] {
        let _ = std::fs::remove_file(p);
    }
}

fn register() {
    let rc = host::register_codec(
        host::VQ_ID,
        "vq",
        Some((
            blosc2_vq::ffi::blosc2_vq_encoder,
            blosc2_vq::ffi::blosc2_vq_decoder,
        )),
    );
    assert!(rc >= 0, "cannot register the vq codec: {rc}");
    blosc2_vq::ffi::host::set_host_blosc2_version(&host::blosc2_version()).unwrap();
}
