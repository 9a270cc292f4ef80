//! Weights in `[0, 1]` to `bits`-bit integer levels and back, rounding to nearest.

/// Number of steps between 0 and 1 for `bits`-bit weights (`2^bits - 1`).
pub const fn levels(bits: u8) -> u32 {
    (1u32 << bits) - 1
}

/// The level nearest to weight `w` (clamped to `[0, 1]`; NaN gives 0) among the `steps + 1`
/// levels of [`levels`]`(bits)` steps. Ties go to even, which vectorizes.
#[inline]
pub fn level(w: f32, steps: f32) -> u16 {
    (w * steps).round_ties_even().clamp(0.0, steps) as u16
}

/// Quantizes each weight to the nearest of `2^bits` levels (see [`level`]; the tests' reference).
#[cfg(test)]
pub fn quantize(weights: &[f32], bits: u8, out: &mut [u16]) {
    let steps = levels(bits) as f32;
    for (q, &w) in out.iter_mut().zip(weights) {
        *q = level(w, steps);
    }
}

/// Dequantizes levels back to weights in `[0, 1]`.
pub fn dequantize<L: Copy + Into<f32>>(levels_in: &[L], bits: u8, out: &mut [f32]) {
    let inv = 1.0 / levels(bits) as f32;
    for (w, &q) in out.iter_mut().zip(levels_in) {
        *w = q.into() * inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_at_most_half_a_step() {
        for bits in 1..=8u8 {
            let step = 1.0 / levels(bits) as f32;
            let w: Vec<f32> = (0..=1000).map(|i| i as f32 / 1000.0).collect();
            let mut q = vec![0u16; w.len()];
            quantize(&w, bits, &mut q);
            let mut back = vec![0f32; w.len()];
            dequantize(&q, bits, &mut back);
            for (a, b) in w.iter().zip(&back) {
                assert!(
                    (a - b).abs() <= step / 2.0 + 1e-6,
                    "bits {bits}: {a} -> {b}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_is_clamped() {
        let mut q = [0u16; 3];
        quantize(&[-0.5, 1.7, f32::NAN], 8, &mut q);
        assert_eq!(q, [0, 255, 0]);
    }

    proptest::proptest! {
        #[test]
        fn quantization_errs_by_at_most_half_a_step(
            w in proptest::collection::vec(0.0f32..=1.0, 1..64),
            bits in 1u8..=8,
        ) {
            let mut q = vec![0u16; w.len()];
            quantize(&w, bits, &mut q);
            let mut back = vec![0f32; w.len()];
            dequantize(&q, bits, &mut back);
            let half_step = 0.5 / levels(bits) as f32;
            for (a, b) in w.iter().zip(&back) {
                proptest::prop_assert!((a - b).abs() <= half_step + 1e-6, "{} -> {} at {} bits", a, b, bits);
            }
        }
    }
}
