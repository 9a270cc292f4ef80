//! Scalar quantizers: `2^bits` levels for single values, placed uniformly, by quantile or by
//! Lloyd-Max (1-D k-means), as in scikit-learn's KBinsDiscretizer and the Lloyd-Max
//! references.

use super::MAX_SCALAR_BITS;
use crate::codebook::ScalarMethod;
use crate::error::{Error, Result};

/// Parameters of a scalar quantizer. Build with [`ScalarParams::new`] and the by-value
/// setters; [`fit`](ScalarParams::fit) checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarParams {
    bits: u8,
    method: ScalarMethod,
    max_iter: u32,
    tol: f64,
}

impl ScalarParams {
    /// `2^bits` levels placed by `method`; Lloyd-Max runs at most 1000 iterations, stopping
    /// when no level moves by more than 1e-6 of the data's range.
    pub fn new(bits: u8, method: ScalarMethod) -> Self {
        ScalarParams {
            bits,
            method,
            max_iter: 1000,
            tol: 1e-6,
        }
    }

    /// Lloyd-Max iteration limit.
    pub fn max_iter(mut self, max_iter: u32) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Lloyd-Max tolerance (largest level move, relative to the data's range).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Bits per index.
    pub fn get_bits(&self) -> u8 {
        self.bits
    }

    /// How levels are placed.
    pub fn get_method(&self) -> ScalarMethod {
        self.method
    }

    /// The iteration limit.
    pub fn get_max_iter(&self) -> u32 {
        self.max_iter
    }

    /// The tolerance.
    pub fn get_tol(&self) -> f64 {
        self.tol
    }

    /// Validates every parameter, one error per bad field.
    pub fn check(&self) -> Result<()> {
        if self.bits == 0 || self.bits > MAX_SCALAR_BITS {
            return Err(Error::param(
                "scalar_bits",
                format!("{} outside 1..={MAX_SCALAR_BITS}", self.bits),
            ));
        }
        crate::train::check_stopping(self.max_iter, self.tol)
    }

    /// Places the levels for `values`; returns them ascending, with the iterations run.
    pub fn fit(&self, values: &[f64]) -> Result<ScalarFit> {
        self.check()?;
        let n_levels = 1usize << self.bits;
        crate::train::check_samples(values, 1, 1, "levels")?;
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
        let quantile = |q: f64| sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)];
        let uniform: Vec<f64> = (0..n_levels)
            .map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n_levels as f64)
            .collect();
        let quantiles: Vec<f64> = (0..n_levels)
            .map(|i| quantile((i as f64 + 0.5) / n_levels as f64))
            .collect();
        let (levels, iterations) = match self.method {
            ScalarMethod::Uniform => (uniform, 0),
            ScalarMethod::Quantile => (quantiles, 0),
            ScalarMethod::LloydMax => {
                // Lloyd's iterations only descend, into the local minimum nearest their start:
                // start from both the quantile and the uniform levels and keep the better, so
                // Lloyd-Max is never worse than uniform on the training values.
                let prefix: Vec<f64> = std::iter::once(0.0)
                    .chain(sorted.iter().scan(0.0, |acc, &v| {
                        *acc += v;
                        Some(*acc)
                    }))
                    .collect();
                let a = self.lloyd(&sorted, &prefix, quantiles, hi - lo);
                let b = self.lloyd(&sorted, &prefix, uniform, hi - lo);
                if mse(&sorted, &b.0) < mse(&sorted, &a.0) {
                    b
                } else {
                    a
                }
            }
        };
        let loss = mse(&sorted, &levels);
        Ok(ScalarFit {
            levels,
            iterations,
            loss,
        })
    }

    /// Lloyd's iterations from `levels` on ascending `sorted` values (with their prefix sums):
    /// thresholds at midpoints, levels to their cells' means. Returns the levels and the
    /// iterations run.
    fn lloyd(
        &self,
        sorted: &[f64],
        prefix: &[f64],
        mut levels: Vec<f64>,
        range: f64,
    ) -> (Vec<f64>, u32) {
        let n_levels = levels.len();
        let tol = self.tol * range.max(f64::MIN_POSITIVE);
        let mut iterations = 0;
        for _ in 0..self.max_iter {
            iterations += 1;
            let mut moved = 0f64;
            let mut start = 0;
            for i in 0..n_levels {
                let end = if i + 1 < n_levels {
                    let t = 0.5 * (levels[i] + levels[i + 1]);
                    sorted.partition_point(|&v| v < t)
                } else {
                    sorted.len()
                };
                if end > start {
                    let mean = (prefix[end] - prefix[start]) / (end - start) as f64;
                    moved = moved.max((mean - levels[i]).abs());
                    levels[i] = mean;
                }
                start = end.max(start);
            }
            levels.sort_by(f64::total_cmp);
            if moved <= tol {
                break;
            }
        }
        (levels, iterations)
    }
}

/// Mean squared error of ascending `sorted` values quantized to the nearest of `levels`.
fn mse(sorted: &[f64], levels: &[f64]) -> f64 {
    sorted
        .iter()
        .map(|&v| {
            let j = levels.partition_point(|&l| l < v);
            let below = if j > 0 {
                v - levels[j - 1]
            } else {
                f64::INFINITY
            };
            let above = levels.get(j).map_or(f64::INFINITY, |&l| l - v);
            below.min(above).powi(2)
        })
        .sum::<f64>()
        / sorted.len() as f64
}

/// Fitted scalar levels.
#[derive(Debug, Clone)]
pub struct ScalarFit {
    levels: Vec<f64>,
    iterations: u32,
    loss: f64,
}

impl ScalarFit {
    /// The levels, ascending.
    pub fn levels(&self) -> &[f64] {
        &self.levels
    }

    /// Lloyd-Max iterations run (0 for the other methods).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Mean squared quantization error on the training values.
    pub fn loss(&self) -> f64 {
        self.loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lloyd_max_beats_uniform_on_skewed_data() {
        let x: Vec<f64> = (0..5000).map(|i| ((i as f64) / 5000.0).powi(4)).collect();
        let fit = |m| ScalarParams::new(3, m).fit(&x).unwrap();
        let (u, q, l) = (
            fit(ScalarMethod::Uniform),
            fit(ScalarMethod::Quantile),
            fit(ScalarMethod::LloydMax),
        );
        assert_eq!(u.levels().len(), 8);
        assert!(l.levels().windows(2).all(|w| w[0] <= w[1]));
        assert!(
            l.loss() < u.loss() && l.loss() < q.loss(),
            "{} {} {}",
            l.loss(),
            u.loss(),
            q.loss()
        );
        assert!((u.levels()[0] - 1.0 / 16.0).abs() < 1e-3);
    }

    #[test]
    fn bad_parameters_are_named() {
        let x = vec![0.0; 10];
        let name = |p: ScalarParams| match p.fit(&x) {
            Err(Error::InvalidParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(ScalarParams::new(0, ScalarMethod::Uniform)),
            "scalar_bits"
        );
        assert_eq!(
            name(ScalarParams::new(13, ScalarMethod::LloydMax)),
            "scalar_bits"
        );
        assert_eq!(
            name(ScalarParams::new(2, ScalarMethod::LloydMax).tol(-1.0)),
            "tol"
        );
    }
}
