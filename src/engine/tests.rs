//! Round trips of the predictive engine on hard data: every decoded value within its bound.

use super::bound::BlockBound;
use super::*;

/// A small deterministic generator (no dependency on `rand` streams for fixed data).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn to_bytes(dtype: Dtype, values: &[f64]) -> Vec<u8> {
    let mut out = vec![0u8; values.len() * dtype.size()];
    let rounded: Vec<f64> = values.iter().map(|&v| dtype.round_f64(v)).collect();
    dtype.write_f64(&rounded, &mut out);
    out
}

/// Encodes, decodes, and checks every value against the bound; returns the packed size.
fn round_trip(values: &[f64], dtype: Dtype, shape: &[usize], bound: BlockBound) -> usize {
    let input = to_bytes(dtype, values);
    let mut packed = vec![0u8; input.len() * 2 + 1024];
    let (len, _) = encode_block(&input, dtype, shape, bound, &mut packed)
        .unwrap()
        .expect("fits");
    let mut out = vec![0u8; input.len()];
    assert_eq!(
        decode_block(&packed[..len], Some(dtype.size()), &mut out).unwrap(),
        input.len()
    );
    let n = values.len();
    let mut orig = vec![0f64; n];
    dtype.read_f64(&input, &mut orig);
    let mut got = vec![0f64; n];
    dtype.read_f64(&out, &mut got);
    let size = dtype.size();
    for i in 0..n {
        let (x, y) = (orig[i], got[i]);
        if !x.is_finite() {
            assert_eq!(
                &out[i * size..(i + 1) * size],
                &input[i * size..(i + 1) * size],
                "non-finite value {i} not bit-exact"
            );
            continue;
        }
        let allowed = bound.allowed(x);
        assert!(
            (y - x).abs() <= allowed,
            "value {i}: {x:e} decoded as {y:e}, error {:e} over {allowed:e} ({bound:?}, {dtype:?}, {shape:?})",
            (y - x).abs()
        );
        if let BlockBound::PointwiseRelative { .. } = bound {
            if x == 0.0 {
                assert_eq!(y.to_bits(), x.to_bits(), "zero {i} not exact");
            }
        }
    }
    len
}

fn smooth(shape: &[usize], seed: u64) -> Vec<f64> {
    let n: usize = shape.iter().product();
    let mut rng = Lcg(seed);
    let (a, b) = (rng.next() * 3.0, rng.next() * 5.0);
    (0..n)
        .map(|i| {
            let (r, c) = (
                (i / shape[shape.len() - 1]) as f64,
                (i % shape[shape.len() - 1]) as f64,
            );
            (r * 0.05 + a).sin() * (c * 0.07 + b).cos() * 10.0 + 0.01 * rng.next()
        })
        .collect()
}

#[test]
fn smooth_fields_hold_the_bound_in_every_dtype_and_shape() {
    for shape in [
        vec![4096],
        vec![64, 64],
        vec![1, 40, 33],
        vec![16, 16, 16],
        vec![3, 5, 7, 9],
    ] {
        let values = smooth(&shape, 7);
        for dtype in [Dtype::Float32, Dtype::Float64, Dtype::Float16] {
            for e in [1e-1, 1e-3, 1e-6] {
                round_trip(
                    &values,
                    dtype,
                    &shape,
                    BlockBound::Absolute { max_error: e },
                );
            }
        }
    }
}

#[test]
fn smooth_data_compresses_far_below_raw() {
    let shape = [128, 128];
    let values = smooth(&shape, 3);
    let len = round_trip(
        &values,
        Dtype::Float32,
        &shape,
        BlockBound::Absolute { max_error: 1e-2 },
    );
    assert!(
        len * 8 < values.len() * 4,
        "{len} bytes for {} values",
        values.len()
    );
}

#[test]
fn noise_spikes_constants_and_tiny_bounds() {
    let shape = [50, 70];
    let n = 50 * 70;
    let mut rng = Lcg(11);
    let noise: Vec<f64> = (0..n).map(|_| rng.next() * 2.0 - 1.0).collect();
    let mut spikes = vec![0.0; n];
    for i in (0..n).step_by(97) {
        spikes[i] = 1e30 * if i % 2 == 0 { 1.0 } else { -1.0 };
    }
    let constant = vec![3.25; n];
    for values in [&noise, &spikes, &constant] {
        for dtype in [Dtype::Float32, Dtype::Float64] {
            // Bounds far finer than the data's spacing store values exactly.
            for e in [0.5, 1e-4, 1e-30, f64::MIN_POSITIVE] {
                round_trip(values, dtype, &shape, BlockBound::Absolute { max_error: e });
            }
        }
    }
    // Integers.
    let ints: Vec<f64> = (0..n).map(|i| (i % 251) as f64).collect();
    for e in [0.4, 1.0, 7.5] {
        round_trip(
            &ints,
            Dtype::Uint8,
            &shape,
            BlockBound::Absolute { max_error: e },
        );
        round_trip(
            &ints,
            Dtype::Uint16,
            &shape,
            BlockBound::Absolute { max_error: e },
        );
    }
}

#[test]
fn nan_and_infinities_come_back_bit_exact() {
    let shape = [64, 64];
    let mut values = smooth(&shape, 5);
    // Half the field masked (a "land mask"), plus scattered infinities and NaN payloads.
    for (i, v) in values.iter_mut().enumerate() {
        if (i / 64) < 32 && (i % 64) < 40 {
            *v = f64::NAN;
        }
        if i % 301 == 0 {
            *v = f64::INFINITY;
        }
        if i % 509 == 0 {
            *v = f64::NEG_INFINITY;
        }
    }
    for dtype in [Dtype::Float32, Dtype::Float64, Dtype::Float16] {
        round_trip(
            &values,
            dtype,
            &shape,
            BlockBound::Absolute { max_error: 1e-3 },
        );
        round_trip(
            &values,
            dtype,
            &shape,
            BlockBound::PointwiseRelative {
                rel: 1e-2,
                floor: 0.0,
            },
        );
    }
    // A NaN payload survives.
    let payload = f32::from_bits(0x7fc0_1234);
    let mut input = to_bytes(Dtype::Float32, &smooth(&[256], 1));
    input[40..44].copy_from_slice(&payload.to_ne_bytes());
    let mut packed = vec![0u8; 4096];
    let (len, _) = encode_block(
        &input,
        Dtype::Float32,
        &[256],
        BlockBound::Absolute { max_error: 0.1 },
        &mut packed,
    )
    .unwrap()
    .unwrap();
    let mut out = vec![0u8; input.len()];
    decode_block(&packed[..len], Some(4), &mut out).unwrap();
    assert_eq!(&out[40..44], &payload.to_ne_bytes());
}

#[test]
fn half_nan_costs_about_its_finite_half() {
    let shape = [128, 128];
    let values = smooth(&shape, 9);
    let bound = BlockBound::Absolute { max_error: 1e-3 };
    let half_shape = [64, 128];
    let finite_half = round_trip(&values[..64 * 128], Dtype::Float32, &half_shape, bound);
    let mut masked = values.clone();
    masked[64 * 128..].fill(f64::NAN);
    let with_nan = round_trip(&masked, Dtype::Float32, &shape, bound);
    assert!(
        (with_nan as f64) < finite_half as f64 * 1.2 + 64.0,
        "{with_nan} bytes with the NaN half, {finite_half} for the finite half alone"
    );
}

#[test]
fn pointwise_relative_spans_decades_and_keeps_zeros() {
    let shape = [32, 32, 32];
    let n = 32 * 32 * 32;
    let mut rng = Lcg(3);
    let values: Vec<f64> = (0..n)
        .map(|i| {
            let r2 = ((i / 1024) as f64 - 16.0).powi(2)
                + ((i / 32 % 32) as f64 - 16.0).powi(2)
                + ((i % 32) as f64 - 16.0).powi(2);
            let v = 1e-12 * (-r2 / 20.0).exp() * (1.0 + 0.03 * rng.next());
            if v < 1e-15 {
                0.0
            } else if i % 7 == 0 {
                -v
            } else {
                v
            }
        })
        .collect();
    for rel in [0.1, 1e-3] {
        for dtype in [Dtype::Float32, Dtype::Float64] {
            round_trip(
                &values,
                dtype,
                &shape,
                BlockBound::PointwiseRelative { rel, floor: 0.0 },
            );
        }
    }
    // 30 decades with an absolute floor.
    let decades: Vec<f64> = (0..4096)
        .map(|i| 10f64.powf(-15.0 + 30.0 * (i as f64 / 4096.0)))
        .collect();
    round_trip(
        &decades,
        Dtype::Float64,
        &[4096],
        BlockBound::PointwiseRelative {
            rel: 0.01,
            floor: 1e-10,
        },
    );
    round_trip(
        &decades,
        Dtype::Float64,
        &[64, 64],
        BlockBound::Absolute { max_error: 1e-3 },
    );
    let mut with_neg_zero = decades.clone();
    with_neg_zero[5] = -0.0;
    round_trip(
        &with_neg_zero,
        Dtype::Float64,
        &[4096],
        BlockBound::PointwiseRelative {
            rel: 0.01,
            floor: 0.0,
        },
    );
}

#[test]
fn short_last_blocks_decode_to_their_length() {
    let shape = [16, 64];
    let values = smooth(&shape, 2);
    for n in [1, 63, 64, 65, 500, 1023] {
        let input = to_bytes(Dtype::Float32, &values[..n]);
        let mut packed = vec![0u8; 8192];
        let (len, _) = encode_block(
            &input,
            Dtype::Float32,
            &shape,
            BlockBound::Absolute { max_error: 1e-3 },
            &mut packed,
        )
        .unwrap()
        .unwrap();
        let mut out = vec![0u8; input.len()];
        decode_block(&packed[..len], Some(4), &mut out).unwrap();
        let mut got = vec![0f64; n];
        Dtype::Float32.read_f64(&out, &mut got);
        let mut orig = vec![0f64; n];
        Dtype::Float32.read_f64(&input, &mut orig);
        assert!(
            got.iter().zip(&orig).all(|(a, b)| (a - b).abs() <= 1e-3),
            "{n}"
        );
        // The wrong output size is refused.
        let mut wrong = vec![0u8; input.len() + 64 * 4];
        assert!(decode_block(&packed[..len], Some(4), &mut wrong).is_err());
    }
}

#[test]
fn output_is_deterministic_and_corruption_is_an_error() {
    let shape = [64, 64];
    let values = smooth(&shape, 4);
    let input = to_bytes(Dtype::Float32, &values);
    let bound = BlockBound::Absolute { max_error: 1e-3 };
    let mut a = vec![0u8; 65536];
    let mut b = vec![0u8; 65536];
    let (la, _) = encode_block(&input, Dtype::Float32, &shape, bound, &mut a)
        .unwrap()
        .unwrap();
    let (lb, _) = std::thread::spawn(move || {
        let mut b2 = vec![0u8; 65536];
        let r = encode_block(&input, Dtype::Float32, &shape, bound, &mut b2)
            .unwrap()
            .unwrap();
        (r, b2)
    })
    .join()
    .map(|(r, b2)| {
        b.copy_from_slice(&b2);
        r
    })
    .unwrap();
    assert_eq!(&a[..la], &b[..lb]);
    let mut out = vec![0u8; 64 * 64 * 4];
    // Every truncation and every single-byte flip is refused or decodes; never a panic.
    for cut in 0..la {
        assert!(decode_block(&a[..cut], Some(4), &mut out).is_err());
    }
    for i in 0..la {
        let mut bad = a[..la].to_vec();
        bad[i] ^= 0x5a;
        let _ = decode_block(&bad, Some(4), &mut out);
    }
    // A wrong typesize is refused.
    assert!(decode_block(&a[..la], Some(8), &mut out).is_err());
}

#[test]
fn bad_bounds_are_refused() {
    let input = to_bytes(Dtype::Float32, &[1.0; 16]);
    let mut out = vec![0u8; 1024];
    for bound in [
        BlockBound::Absolute { max_error: 0.0 },
        BlockBound::Absolute {
            max_error: f64::NAN,
        },
        BlockBound::Absolute { max_error: -1.0 },
        BlockBound::PointwiseRelative {
            rel: 0.0,
            floor: 0.0,
        },
        BlockBound::PointwiseRelative {
            rel: 0.1,
            floor: -1.0,
        },
    ] {
        assert!(
            encode_block(&input, Dtype::Float32, &[16], bound, &mut out).is_err(),
            "{bound:?}"
        );
    }
}

#[test]
fn a_block_codes_the_same_whatever_the_thread_coded_before() {
    // c-blosc2's threads take blocks in any order: the scratch a thread reuses must not leak
    // from one block into the next.
    let mut rng = Lcg(17);
    let blocks: Vec<Vec<f64>> = (0..4)
        .map(|k| {
            (0..16 * 128)
                .map(|i| match (i + k * 7) % 9 {
                    0 => f64::NAN,
                    1 => rng.next() * 100.0,
                    _ => (i as f64 * 0.01 + k as f64).sin(),
                })
                .collect()
        })
        .collect();
    fn encode(values: &[f64]) -> Vec<u8> {
        let bound = BlockBound::Absolute { max_error: 1e-3 };
        let input = to_bytes(Dtype::Float32, values);
        let mut out = vec![0u8; input.len() * 2 + 1024];
        let (n, _) = encode_block(&input, Dtype::Float32, &[16, 128], bound, &mut out)
            .unwrap()
            .unwrap();
        out.truncate(n);
        out
    }
    let alone: Vec<Vec<u8>> = blocks
        .iter()
        .map(|b| {
            let b = b.clone();
            std::thread::spawn(move || encode(&b)).join().unwrap()
        })
        .collect();
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
        for &k in &order {
            assert_eq!(encode(&blocks[k]), alone[k], "block {k} after others");
        }
    }
}
