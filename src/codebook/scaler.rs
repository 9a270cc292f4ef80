//! Per-value standardization of tiles, as scikit-learn's `StandardScaler`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Subtracts a per-value mean and divides by a per-value standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Mean of each tile value over the training tiles.
    pub mean: Vec<f64>,
    /// Population standard deviation of each value (a zero deviation is stored as 1).
    pub scale: Vec<f64>,
}

impl Scaler {
    /// The scaler that changes nothing, for `p` values.
    pub fn identity(p: usize) -> Self {
        Scaler {
            mean: vec![0.0; p],
            scale: vec![1.0; p],
        }
    }

    /// Fits the scaler to `samples` (`n × p`, row-major).
    pub fn fit(samples: &[f64], p: usize) -> Self {
        let n = (samples.len() / p).max(1) as f64;
        let mut mean = vec![0.0; p];
        for row in samples.chunks_exact(p) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; p];
        for row in samples.chunks_exact(p) {
            for ((s, &v), &m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let scale = var
            .into_iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Scaler { mean, scale }
    }

    /// Standardizes `samples` in place.
    pub fn transform(&self, samples: &mut [f64]) {
        let p = self.mean.len();
        for row in samples.chunks_exact_mut(p) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / s;
            }
        }
    }

    pub(crate) fn validate(&self, p: usize) -> Result<()> {
        if self.mean.len() != p || self.scale.len() != p {
            return Err(Error::InvalidCodebook(format!(
                "scaler has {} means and {} scales for tiles of {p} values",
                self.mean.len(),
                self.scale.len()
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(Error::InvalidCodebook(
                "scaler means must be finite and scales finite and positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardizes_like_scikit_learn() {
        let x = [1.0, 5.0, 3.0, 5.0];
        let s = Scaler::fit(&x, 2);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.scale, vec![1.0, 1.0]); // second column is constant: scale 1
        let mut y = x;
        s.transform(&mut y);
        assert_eq!(y, [-1.0, 0.0, 1.0, 0.0]);
    }
}
