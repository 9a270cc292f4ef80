//! `compress` without a codebook (the predictive engine), run as a user runs it: every bound
//! name on float32 and float64 arrays in 2-D and 3-D, with NaN and infinities, decompressed
//! and checked on every value; the errors a user meets; what `info` says.

use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};
mod common;

use common::{bin, compress, decompress, fails, ok, scratch};

fn tmp(name: &str) -> PathBuf {
    scratch("predictive", name)
}

/// A smooth field over `shape` (sums of sines, values of both signs, a few decades of
/// magnitude), with exact zeros, a NaN box, scattered NaN (one with a payload) and ±inf.
fn field(shape: &[usize]) -> Vec<f64> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for flat in 0..n {
        let mut rem = flat;
        for d in (0..shape.len()).rev() {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        let x: Vec<f64> = idx
            .iter()
            .zip(shape)
            .map(|(&i, &s)| i as f64 / s as f64)
            .collect();
        let phase: f64 = x.iter().enumerate().map(|(k, v)| (k + 2) as f64 * v).sum();
        let v = 3.0 * (2.5 * phase).sin() + (7.0 * x[0]).cos() * x[x.len() - 1]
            - 0.5 * x.iter().map(|v| v * v).sum::<f64>();
        out.push(v);
    }
    // Exact zeros (kept exact by pw_rel_error), scattered.
    for i in (5..n).step_by(997) {
        out[i] = 0.0;
    }
    // A NaN box (a "land mask") in the middle of the first axis' range.
    let (lo, hi) = (shape[0] / 3, shape[0] / 3 + 4.min(shape[0]));
    let inner: usize = shape[1..].iter().product();
    for (i, v) in out.iter_mut().enumerate() {
        let first = i / inner;
        if first >= lo && first < hi && (i % inner) < inner / 3 {
            *v = f64::NAN;
        }
    }
    out[7] = f64::NAN;
    out[n / 2 + 11] = f64::INFINITY;
    out[n - 3] = f64::NEG_INFINITY;
    out[n - 1] = f64::NAN;
    out
}

/// Values as stored in a `.npy` of one float type.
#[derive(Clone, Debug)]
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    fn as_f64(&self) -> Vec<f64> {
        match self {
            Values::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Values::F64(v) => v.clone(),
        }
    }

    /// The bit pattern of value `i` (for non-finite values: bit-exact).
    fn bits(&self, i: usize) -> u64 {
        match self {
            Values::F32(v) => u64::from(v[i].to_bits()),
            Values::F64(v) => v[i].to_bits(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }
}

fn write_npy(path: &Path, shape: &[usize], values: &[f64], f32s: bool) -> Values {
    if f32s {
        let mut v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        v[7] = f32::from_bits(0x7fc0_0123); // a NaN with a payload
        let a = ArrayD::from_shape_vec(IxDyn(shape), v.clone()).unwrap();
        ndarray_npy::write_npy(path, &a).unwrap();
        Values::F32(v)
    } else {
        let mut v = values.to_vec();
        v[7] = f64::from_bits(0x7ff8_0000_0000_4567);
        let a = ArrayD::from_shape_vec(IxDyn(shape), v.clone()).unwrap();
        ndarray_npy::write_npy(path, &a).unwrap();
        Values::F64(v)
    }
}

fn read_npy(path: &Path, f32s: bool, shape: &[usize]) -> Values {
    let values = if f32s {
        let a: ArrayD<f32> = ndarray_npy::read_npy(path).unwrap();
        assert_eq!(a.shape(), shape);
        Values::F32(a.into_raw_vec_and_offset().0)
    } else {
        let a: ArrayD<f64> = ndarray_npy::read_npy(path).unwrap();
        assert_eq!(a.shape(), shape);
        Values::F64(a.into_raw_vec_and_offset().0)
    };
    values
}

/// Every finite value within `allowed(x)` of the original `x`, every non-finite value back
/// bit for bit at its place. Returns the worst error and the PSNR over the finite range.
fn check(original: &Values, decoded: &Values, allowed: impl Fn(f64) -> f64, what: &str) -> f64 {
    assert_eq!(original.len(), decoded.len());
    let (a, b) = (original.as_f64(), decoded.as_f64());
    let (mut lo, mut hi, mut sq, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for i in 0..a.len() {
        if a[i].is_finite() {
            let err = (b[i] - a[i]).abs();
            assert!(
                err <= allowed(a[i]),
                "{what}: value {i}: {} decoded as {} (error {err:e} > {:e})",
                a[i],
                b[i],
                allowed(a[i])
            );
            lo = lo.min(a[i]);
            hi = hi.max(a[i]);
            sq += err * err;
            n += 1;
        } else {
            assert_eq!(
                original.bits(i),
                decoded.bits(i),
                "{what}: non-finite value {i} ({}) came back as {}",
                a[i],
                b[i]
            );
        }
    }
    let mse = sq / n as f64;
    let psnr = 10.0 * ((hi - lo) * (hi - lo) / mse).log10();
    eprintln!("{what}: PSNR {psnr:.2} dB");
    psnr
}

fn finite_range(v: &Values) -> f64 {
    let (lo, hi) = v
        .as_f64()
        .into_iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        });
    hi - lo
}

/// Compresses `npy` with `flags`, checks what `info` says, decompresses.
fn round_trip(
    npy: &Path,
    name: &str,
    flags: &[&str],
    f32s: bool,
    shape: &[usize],
) -> (Values, String) {
    let frame = tmp(&format!("{name}.b2nd"));
    let back = tmp(&format!("{name}_back.npy"));
    let text = compress(npy, &frame, flags);
    assert!(text.contains("predictive"), "{text}");
    let info = ok(bin().arg("info").arg(&frame).output().unwrap());
    decompress(&frame, &back);
    (read_npy(&back, f32s, shape), info)
}

/// The number after `key` in `text` (up to a comma, space or line end).
fn number_after(text: &str, key: &str) -> f64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {text}"))
        + key.len();
    let word: String = text[at..]
        .chars()
        .take_while(|c| !matches!(c, ',' | ' ' | '\n' | ')'))
        .collect();
    word.parse()
        .unwrap_or_else(|_| panic!("{word:?} after {key:?} in {text}"))
}

fn every_bound_on(shape: &[usize], f32s: bool) {
    let ty = if f32s { "f32" } else { "f64" };
    let dims = shape.len();
    let name = format!("field{dims}d_{ty}");
    let npy = tmp(&format!("{name}.npy"));
    let original = write_npy(&npy, shape, &field(shape), f32s);
    let range = finite_range(&original);

    // max_error: absolute.
    let e = 1e-3;
    let (back, info) = round_trip(
        &npy,
        &format!("{name}_abs"),
        &["--max-error", "1e-3"],
        f32s,
        shape,
    );
    check(&original, &back, |_| e, &format!("{name} max_error"));
    assert!(
        info.contains("requested max_error 0.001, coded max_error 0.001")
            && info.contains("value range not needed"),
        "{info}"
    );

    // rel_error: of the finite range, which the CLI read in a first pass.
    let (back, info) = round_trip(
        &npy,
        &format!("{name}_rel"),
        &["--rel-error", "1e-4"],
        f32s,
        shape,
    );
    assert_eq!(number_after(&info, "value range "), range, "{info}");
    assert!(info.contains("requested rel_error 0.0001"), "{info}");
    let coded = number_after(&info, "coded max_error ");
    assert!((coded - 1e-4 * range).abs() <= 1e-12 * range, "{info}");
    check(
        &original,
        &back,
        |_| 1e-4 * range,
        &format!("{name} rel_error"),
    );

    // pw_rel_error alone: zeros exact; with a floor.
    let (back, info) = round_trip(
        &npy,
        &format!("{name}_pw"),
        &["--pw-rel-error", "0.01"],
        f32s,
        shape,
    );
    assert!(
        info.contains("requested pw_rel_error 0.01, coded pw_rel_error 0.01"),
        "{info}"
    );
    check(
        &original,
        &back,
        |x| 0.01 * x.abs(),
        &format!("{name} pw_rel_error"),
    );
    let (back, info) = round_trip(
        &npy,
        &format!("{name}_pwfloor"),
        &["--pw-rel-error", "0.001", "--max-error", "1e-4"],
        f32s,
        shape,
    );
    assert!(
        info.contains("pw_rel_error 0.001 (floor max_error 0.0001)"),
        "{info}"
    );
    check(
        &original,
        &back,
        |x| (0.001 * x.abs()).max(1e-4),
        &format!("{name} pw_rel_error with a floor"),
    );

    // psnr: the absolute bound whose uniform error gives the target.
    let target = 70.0;
    let e = range * 3f64.sqrt() * 10f64.powf(-target / 20.0);
    let (back, info) = round_trip(
        &npy,
        &format!("{name}_psnr"),
        &["--psnr", "70"],
        f32s,
        shape,
    );
    assert!(info.contains("requested psnr 70 dB"), "{info}");
    assert_eq!(number_after(&info, "value range "), range, "{info}");
    let psnr = check(&original, &back, |_| e, &format!("{name} psnr"));
    // Errors spread within ±e give about the target; never far below it.
    assert!(
        psnr > target - 1.0,
        "{name}: PSNR {psnr} for a {target} dB target"
    );
}

#[test]
fn every_bound_float32_2d() {
    every_bound_on(&[300, 500], true);
}

#[test]
fn every_bound_float64_2d() {
    every_bound_on(&[300, 500], false);
}

#[test]
fn every_bound_float32_3d() {
    every_bound_on(&[40, 50, 60], true);
}

#[test]
fn every_bound_float64_3d() {
    every_bound_on(&[40, 50, 60], false);
}

/// The default chunks and blocks (as Python's `default_blocks`), and explicit ones.
#[test]
fn geometry_defaults_and_explicit_shapes() {
    let shape = [40, 50, 60];
    let npy = tmp("geometry.npy");
    let original = write_npy(&npy, &shape, &field(&shape), true);
    let frame = tmp("geometry.b2nd");
    let text = ok(bin()
        .arg("compress")
        .arg(&npy)
        .arg("-o")
        .arg(&frame)
        .args(["--max-error", "0.01"])
        .output()
        .unwrap());
    assert!(
        text.contains("chunks [40, 50, 60] blocks [16, 50, 60]"),
        "{text}"
    );
    let info = ok(bin().arg("info").arg(&frame).output().unwrap());
    assert!(
        info.contains("shape [40, 50, 60], chunks [40, 50, 60], blocks [16, 50, 60], dtype <f4"),
        "{info}"
    );
    // Explicit chunks and blocks: several chunks, blocks cut at the edges.
    for (flags, expect) in [
        (
            &["--chunks", "16x50x60", "--blocks", "8x16x32"][..],
            "chunks [16, 50, 60], blocks [8, 16, 32]",
        ),
        // Chunks alone: the default blocks, never larger than the chunks.
        (
            &["--chunks", "8x20x60"][..],
            "chunks [8, 20, 60], blocks [8, 20, 60]",
        ),
        // Blocks alone: the default chunks.
        (
            &["--blocks", "4x8x8"][..],
            "chunks [40, 50, 60], blocks [4, 8, 8]",
        ),
    ] {
        let back = tmp("geometry_back.npy");
        ok(bin()
            .arg("compress")
            .arg(&npy)
            .arg("-o")
            .arg(&frame)
            .args(["--max-error", "0.01"])
            .args(flags)
            .output()
            .unwrap());
        let info = ok(bin().arg("info").arg(&frame).output().unwrap());
        assert!(info.contains(expect), "{flags:?}: {info}");
        ok(bin()
            .arg("decompress")
            .arg(&frame)
            .arg("-o")
            .arg(&back)
            .output()
            .unwrap());
        check(
            &original,
            &read_npy(&back, true, &shape),
            |_| 0.01,
            &format!("{flags:?}"),
        );
    }
}

#[test]
fn info_says_the_mode_the_bound_and_the_rate() {
    let shape = [64, 96];
    let npy = tmp("info.npy");
    write_npy(&npy, &shape, &field(&shape), false);
    let frame = tmp("info.b2nd");
    ok(bin()
        .arg("compress")
        .arg(&npy)
        .arg("-o")
        .arg(&frame)
        .args(["--psnr", "50"])
        .output()
        .unwrap());
    let info = ok(bin().arg("info").arg(&frame).output().unwrap());
    for needle in [
        "Blosc2 frame",
        "bits per value",
        "shape [64, 96], chunks [64, 96], blocks [64, 96], dtype <f8",
        "vq mode predictive (codebook-free): requested psnr 50 dB, coded max_error ",
        "value range ",
    ] {
        assert!(info.contains(needle), "{needle:?} not in {info}");
    }
    let ratio = number_after(&info, "ratio ");
    assert!(ratio > 1.0, "{info}");
    let bpv = {
        let at = info.find(" bits per value").unwrap();
        let start = info[..at].rfind(' ').unwrap() + 1;
        info[start..at].parse::<f64>().unwrap()
    };
    assert!(bpv > 0.0 && bpv < 64.0, "{info}");
    let size = std::fs::metadata(&frame).unwrap().len() as f64;
    // The frame holds the chunks plus headers and metalayers.
    assert!(
        bpv * (64.0 * 96.0) / 8.0 <= size,
        "{bpv} bits per value, {size} bytes: {info}"
    );

    // A codebook frame says its kind.
    let finite = tmp("info_finite.npy");
    let values: Vec<f64> = field(&shape)
        .into_iter()
        .map(|v| if v.is_finite() { v } else { 0.0 })
        .collect();
    let a = ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap();
    ndarray_npy::write_npy(&finite, &a).unwrap();
    let cb = tmp("info.vq");
    ok(bin()
        .arg("train")
        .arg(&finite)
        .arg("-o")
        .arg(&cb)
        .args(["--model", "kmeans", "--prototypes", "8", "--samples", "200"])
        .output()
        .unwrap());
    let cb_frame = tmp("info_cb.b2nd");
    ok(bin()
        .arg("compress")
        .arg(&finite)
        .arg("-c")
        .arg(&cb)
        .arg("-o")
        .arg(&cb_frame)
        .output()
        .unwrap());
    let info = ok(bin().arg("info").arg(&cb_frame).output().unwrap());
    assert!(
        info.contains("vq mode codebook, kind kmeans") && info.contains("bits per value"),
        "{info}"
    );
}

#[test]
fn a_missing_or_bad_bound_is_refused_and_writes_nothing() {
    let shape = [30, 40];
    let npy = tmp("errors.npy");
    write_npy(&npy, &shape, &field(&shape), true);
    let frame = tmp("errors.b2nd");
    let _ = std::fs::remove_file(&frame);
    let compress = |flags: &[&str]| {
        bin()
            .arg("compress")
            .arg(&npy)
            .arg("-o")
            .arg(&frame)
            .args(flags)
            .output()
            .unwrap()
    };
    // No codebook, no bound: the four options named.
    let err = fails(compress(&[]), "--max-error");
    for flag in ["--rel-error", "--pw-rel-error", "--psnr", "--codebook"] {
        assert!(err.contains(flag), "{err}");
    }
    for (flags, needle) in [
        (&["--max-error", "-1"][..], "--max-error"),
        (&["--max-error", "0"][..], "--max-error"),
        (&["--max-error", "NaN"][..], "--max-error"),
        (&["--max-error", "inf"][..], "--max-error"),
        (&["--rel-error", "-0.001"][..], "--rel-error"),
        (&["--rel-error", "nan"][..], "--rel-error"),
        (&["--pw-rel-error", "0.9"][..], "--pw-rel-error"),
        (&["--pw-rel-error", "-0.1"][..], "--pw-rel-error"),
        (
            &["--pw-rel-error", "0.1", "--max-error", "-1"][..],
            "--max-error",
        ),
        (&["--psnr", "-3"][..], "--psnr"),
        (&["--psnr", "NaN"][..], "--psnr"),
        // Two bounds (max_error goes with pw_rel_error only).
        (
            &["--max-error", "0.1", "--rel-error", "0.1"][..],
            "give one error bound",
        ),
        (
            &["--psnr", "40", "--max-error", "0.1"][..],
            "give one error bound",
        ),
        (
            &["--rel-error", "0.1", "--pw-rel-error", "0.1"][..],
            "give one error bound",
        ),
        // Weight bits are a codebook's.
        (
            &["--max-error", "0.1", "--weight-bits", "4"][..],
            "--weight-bits",
        ),
    ] {
        fails(compress(flags), needle);
        assert!(!frame.exists(), "{flags:?} left a frame behind");
    }
    // Not a number at all: clap says so.
    fails(compress(&["--psnr", "high"]), "--psnr");
    // A codebook takes no range or point-wise bound.
    let cb = tmp("errors.vq");
    let finite = tmp("errors_finite.npy");
    let values: Vec<f64> = field(&shape)
        .into_iter()
        .map(|v| if v.is_finite() { v } else { 0.0 })
        .collect();
    ndarray_npy::write_npy(
        &finite,
        &ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(),
    )
    .unwrap();
    ok(bin()
        .arg("train")
        .arg(&finite)
        .arg("-o")
        .arg(&cb)
        .args(["--model", "scalar", "--samples", "100"])
        .output()
        .unwrap());
    for flag in ["--rel-error", "--pw-rel-error", "--psnr"] {
        let out = bin()
            .arg("compress")
            .arg(&finite)
            .arg("-c")
            .arg(&cb)
            .arg("-o")
            .arg(&frame)
            .args([flag, "0.01"])
            .output()
            .unwrap();
        fails(out, "leave --codebook out");
        assert!(!frame.exists());
    }
}

/// Constant data and data without any finite value: a range bound still works (no error
/// allowed), the values come back exactly.
#[test]
fn constant_and_all_nan_data_under_a_range_bound() {
    for (name, fill) in [("constant", 2.5f64), ("all_nan", f64::NAN)] {
        let shape = [20, 30];
        let npy = tmp(&format!("{name}.npy"));
        let values = vec![fill; 600];
        let a = ArrayD::from_shape_vec(IxDyn(&shape), values.clone()).unwrap();
        ndarray_npy::write_npy(&npy, &a).unwrap();
        let (back, info) = round_trip(&npy, name, &["--rel-error", "0.01"], false, &shape);
        assert!(info.contains("value range 0"), "{info}");
        check(&Values::F64(values), &back, |_| 0.0, name);
    }
}
