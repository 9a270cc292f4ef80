//! The domain the predictor works in, and the check of every decoded value against the bound.
//!
//! - [`Absolute`]: the values themselves; the working buffer holds what the decoder writes
//!   (rounded to the dtype), so the check is exact.
//! - [`Log`]: for point-wise relative bounds, `log2 |x|` with the sign kept aside: a bound
//!   `rel·|x|` becomes an absolute one in log space. `log2` and `exp2` are computed here with
//!   plain IEEE arithmetic (no libm), so that the encoder's check and the decoder's output
//!   agree on every platform.
#![forbid(unsafe_code)]

use crate::tiles::Dtype;

/// How values enter and leave the predictor's domain.
pub trait Domain {
    /// The domain value of the original `x` (finite, and for [`Log`] non-zero).
    fn forward(&self, x: f64) -> f64;
    /// What the working buffer holds for the domain value `v` (the decoder's state).
    fn keep(&self, v: f64) -> f64;
    /// The value the decoder writes for the kept domain value `kept` (`negative`: the sign).
    fn output(&self, kept: f64, negative: bool) -> f64;
    /// The quantization bound in the domain.
    fn domain_bound(&self) -> f64;
}

/// The identity domain under an absolute bound.
#[derive(Debug, Clone, Copy)]
pub struct Absolute {
    /// The dtype decoded values are rounded to.
    pub dtype: Dtype,
    /// The bound.
    pub max_error: f64,
}

impl Domain for Absolute {
    #[inline(always)]
    fn forward(&self, x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn keep(&self, v: f64) -> f64 {
        self.dtype.round_f64(v)
    }
    #[inline(always)]
    fn output(&self, kept: f64, _negative: bool) -> f64 {
        kept
    }
    fn domain_bound(&self) -> f64 {
        self.max_error
    }
}

/// `log2 |x|` under a point-wise relative bound.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    /// The dtype decoded values are rounded to.
    pub dtype: Dtype,
    /// The relative bound.
    pub rel: f64,
}

impl Domain for Log {
    #[inline(always)]
    fn forward(&self, x: f64) -> f64 {
        log2(x.abs())
    }
    #[inline(always)]
    fn keep(&self, v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn output(&self, kept: f64, negative: bool) -> f64 {
        let m = exp2(kept);
        self.dtype.round_f64(if negative { -m } else { m })
    }
    fn domain_bound(&self) -> f64 {
        // |log2 y − log2 x| ≤ δ gives y/x in [2^−δ, 2^δ]: within rel when 2^δ − 1 ≤ rel.
        // Rounding to the dtype is caught by the check, which makes the value exact.
        log2(1.0 + self.rel)
    }
}

const LN2: f64 = std::f64::consts::LN_2;

/// `log2 a` for positive finite `a` (subnormals included), to about 1e-15, with IEEE
/// operations only.
pub fn log2(a: f64) -> f64 {
    let (mut a, mut shift) = (a, 0i64);
    if a < f64::MIN_POSITIVE {
        a *= 18446744073709551616.0; // 2^64, exact
        shift = -64;
    }
    let bits = a.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64 - 1023 + shift;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        exp += 1;
    }
    // ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 19.0;
    for k in [17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        p = p * s2 + 1.0 / k;
    }
    exp as f64 + 2.0 * s * p / LN2
}

/// `2^t`, to about 1e-15 relative, with IEEE operations only (0 below the subnormals,
/// infinity above the largest double).
pub fn exp2(t: f64) -> f64 {
    if t.is_nan() {
        return t;
    }
    if t > 1024.0 {
        return f64::INFINITY;
    }
    if t < -1100.0 {
        return 0.0;
    }
    let n = t.round();
    let z = (t - n) * LN2; // |z| ≤ 0.347
    let mut p = 1.0;
    for k in (1..=14).rev() {
        p = 1.0 + p * z / f64::from(k);
    }
    let n = n as i64;
    // Scale by 2^n in up to two exact steps (each factor a normal power of two).
    let (first, second) = if n > 1000 {
        (1000, n - 1000)
    } else if n < -1000 {
        (-1000, n + 1000)
    } else {
        (n, 0)
    };
    p * pow2(first) * pow2(second)
}

fn pow2(n: i64) -> f64 {
    debug_assert!((-1022..=1023).contains(&n));
    f64::from_bits(((n + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_and_exp2_are_accurate() {
        for &a in &[
            1.0, 2.0, 3.0, 0.1, 1e-300, 5e-324, 1e300, 1e308, 1.41, 0.71, 123456.789,
        ] {
            let got = log2(a);
            let want = a.log2();
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                "{a}: {got} {want}"
            );
            let back = exp2(got);
            assert!(((back - a) / a).abs() < 1e-12 || a < 1e-307, "{a}: {back}");
        }
        assert_eq!(exp2(2000.0), f64::INFINITY);
        assert_eq!(exp2(-2000.0), 0.0);
        assert_eq!(exp2(0.0), 1.0);
        assert_eq!(exp2(10.0), 1024.0);
    }
}
