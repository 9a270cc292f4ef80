//! SZ-style linear quantization of what the predictor leaves, so that the bound holds by
//! construction: `q = round((x − p) / 2e)`, reconstruction `p + 2e·q`, checked against the
//! bound on the value the decoder will write; a value that fails the check (rounding to the
//! dtype, a residual beyond the quantizer's range) is *unpredictable* and stored exactly.
//!
//! Level-wise bounds (QoZ): level `l` (1 the finest) quantizes with
//! `e_l = e / min(α^(l−1), β)`, tighter at the coarse levels so that the fine levels, which
//! hold most values, predict from better values. (α, β) is chosen per block from
//! [`LEVEL_SCHEDULES`].
//!
//! Symbols: 0 is "unpredictable"; `u = zigzag(q)` below `DIRECT − 1` is symbol `u + 1`;
//! larger ones are symbol `DIRECT + k` followed by `k` raw bits (`v + 1 = 2^k + raw` for
//! `v = u − (DIRECT − 1)`), so the alphabet stays small for any residual.
#![forbid(unsafe_code)]

/// Residuals `|q|` at or beyond this are unpredictable.
pub const RADIUS: i64 = 1 << 24;
/// Symbols coded directly (the rest are a bit length and raw bits).
pub const DIRECT: u32 = 512;
/// The symbol of an unpredictable value.
pub const UNPREDICTABLE: u16 = 0;
/// The size of the symbol alphabet.
pub const ALPHABET: usize = DIRECT as usize + 27;

/// The (α, β) level schedules a block may use: index 0 is a single bound for every level.
pub const LEVEL_SCHEDULES: [(f64, f64); 4] = [(1.0, 1.0), (1.25, 2.0), (1.5, 3.0), (2.0, 4.0)];

/// Quantization steps per level.
#[derive(Debug, Clone)]
pub struct LevelSteps {
    /// `2·e_l` for level `l` (index 0 unused).
    pub step: Vec<f64>,
    /// `1 / step`.
    pub inv_step: Vec<f64>,
}

impl LevelSteps {
    /// The steps for levels `1..=levels` with bound `e` and schedule `LEVEL_SCHEDULES[schedule]`.
    pub fn new(e: f64, levels: u32, schedule: usize) -> Self {
        let (alpha, beta) = LEVEL_SCHEDULES[schedule];
        let mut step = vec![0.0; levels as usize + 1];
        let mut inv_step = vec![0.0; levels as usize + 1];
        for l in 1..=levels as usize {
            let div = alpha.powi(l as i32 - 1).min(beta);
            let s = 2.0 * (e / div);
            step[l] = s;
            inv_step[l] = 1.0 / s;
        }
        LevelSteps { step, inv_step }
    }
}

/// `v` rounded to an integer (ties to even), for `|v| < 2^51`: adding and removing 1.5·2^52
/// rounds in the FPU's default mode with two additions, where `f64::round` is a libm call on
/// baseline x86-64. (Only the encoder rounds; the decoder reads the integer.)
#[inline(always)]
pub fn round(v: f64) -> f64 {
    const SHIFT: f64 = 6755399441055744.0;
    (v + SHIFT) - SHIFT
}

/// Zigzag: 0, −1, 1, −2, … → 0, 1, 2, 3, …
#[inline]
pub fn zigzag(q: i64) -> u64 {
    ((q << 1) ^ (q >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(u: u64) -> i64 {
    (u >> 1) as i64 ^ -((u & 1) as i64)
}

/// The symbol of residual `q` (`|q| < RADIUS`), and its raw bits (value, count).
#[inline]
pub fn to_symbol(q: i64) -> (u16, u32, u32) {
    let u = zigzag(q);
    if u < u64::from(DIRECT - 1) {
        (u as u16 + 1, 0, 0)
    } else {
        let v1 = u - u64::from(DIRECT - 1) + 1;
        let k = 63 - v1.leading_zeros();
        ((DIRECT + k) as u16, (v1 - (1 << k)) as u32, k)
    }
}

/// The residual of a non-[`UNPREDICTABLE`] symbol, given its raw bits (read with
/// [`raw_bits`]). `None` for a symbol outside the alphabet.
#[inline]
pub fn from_symbol(symbol: u16, raw: u32) -> i64 {
    let s = u32::from(symbol);
    let u = if s < DIRECT {
        u64::from(s - 1)
    } else {
        let k = s - DIRECT;
        (1u64 << k) + u64::from(raw) - 1 + u64::from(DIRECT - 1)
    };
    unzigzag(u)
}

/// How many raw bits follow `symbol`.
#[inline]
pub fn raw_bits(symbol: u16) -> u32 {
    u32::from(symbol).saturating_sub(DIRECT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_round_trip() {
        for q in (-5000..5000).chain([RADIUS - 1, -(RADIUS - 1), 1 << 20, -(1 << 21)]) {
            let (s, raw, n) = to_symbol(q);
            assert_ne!(s, UNPREDICTABLE);
            assert!((s as usize) < ALPHABET, "{q}");
            assert_eq!(raw_bits(s), n);
            assert!(n == 0 || raw < (1 << n));
            assert_eq!(from_symbol(s, raw), q, "{q}");
        }
    }

    #[test]
    fn rounding_matches_the_nearest_integer() {
        for v in [
            0.0,
            0.49,
            0.5,
            1.5,
            2.5,
            -0.5,
            -0.51,
            -2.5,
            1e6 + 0.3,
            -(1 << 24) as f64 + 0.7,
        ] {
            let r = round(v);
            assert!((r - v).abs() <= 0.5 && r == r.trunc(), "{v} -> {r}");
        }
    }

    #[test]
    fn schedules_tighten_coarse_levels_only() {
        let steps = LevelSteps::new(0.5, 6, 2);
        assert_eq!(steps.step[1], 1.0);
        assert!(steps.step[2] < steps.step[1]);
        assert!((steps.step[6] - 1.0 / 3.0).abs() < 1e-12);
        let flat = LevelSteps::new(0.5, 6, 0);
        assert!(flat.step[1..].iter().all(|&s| s == 1.0));
    }
}
