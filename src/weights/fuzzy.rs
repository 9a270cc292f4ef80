//! Fuzzy C-Means memberships: the weight of every prototype for one tile.
//!
//! `u_j ∝ d_j^(-2/(m-1))`, normalised to sum to 1, where `d_j` is the distance from the tile
//! to prototype `j` (euclidean norm, or cosine distance `1 - cos`), as scikit-fuzzy defines it.

use crate::kernels::{self, PackedCodewords};
use num_traits::Float;
use serde::{Deserialize, Serialize};

/// The distance Fuzzy C-Means measures between a tile and a prototype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Euclidean distance.
    #[default]
    Euclidean,
    /// Cosine distance, `1 - x·c / (|x| |c|)`; a zero vector is at distance 1 from everything.
    Cosine,
}

/// Precomputed prototypes for computing memberships quickly.
#[derive(Debug, Clone)]
pub struct Memberships<F> {
    /// The centers packed for the dot-product kernel.
    centers: PackedCodewords<F>,
    /// Squared norms of the centers (euclidean) or their norms (cosine), padded with
    /// infinity to the kernel's row stride.
    norms: Vec<F>,
    metric: Metric,
    /// `2 / (m - 1)`: the power distances are raised to (as their inverse).
    exponent: F,
}

impl<F: Float> Memberships<F> {
    /// Prepares `centers` (`n_centers × n_features`, row-major) with fuzzifier `m > 1`.
    pub fn new(centers: Vec<F>, n_features: usize, fuzzifier: f64, metric: Metric) -> Self {
        assert!(n_features > 0 && centers.len().is_multiple_of(n_features));
        let mut norms = centers
            .chunks_exact(n_features)
            .map(|c| {
                let sq = dot(c, c);
                match metric {
                    Metric::Euclidean => sq,
                    Metric::Cosine => sq.sqrt(),
                }
            })
            .collect::<Vec<F>>();
        let centers = PackedCodewords::new(&centers, n_features);
        norms.resize(centers.k_pad(), F::infinity());
        Memberships {
            centers,
            norms,
            metric,
            exponent: F::from(2.0 / (fuzzifier - 1.0)).unwrap(),
        }
    }

    /// Number of centers.
    pub fn n_centers(&self) -> usize {
        self.centers.k()
    }

    /// The index of the center nearest to every row of `x` (`n × p`) in euclidean distance
    /// (ties to the lowest index) into `out` (`n`). Uses the
    /// squared norms, so build with [`Metric::Euclidean`].
    pub fn nearest_rows(&self, x: &[F], out: &mut [u16]) {
        kernels::nearest(x, &self.centers, &self.norms, out);
    }

    /// The index of the center nearest to `x` ([`nearest_rows`](Self::nearest_rows) for one
    /// row).
    pub fn nearest(&self, x: &[F]) -> usize {
        let mut j = [0u16];
        self.nearest_rows(x, &mut j);
        usize::from(j[0])
    }

    /// Writes the memberships of `x` into `out` (`n_centers` values summing to 1).
    #[cfg(test)]
    pub fn compute(&self, x: &[F], out: &mut [F]) {
        self.compute_rows(x, out, &mut Vec::new());
    }

    /// Writes the memberships of every row of `x` (`n × p`) into `out` (`n × n_centers`);
    /// `scratch` is resized as needed.
    pub fn compute_rows(&self, x: &[F], out: &mut [F], scratch: &mut Vec<F>) {
        let (p, k, stride) = (self.centers.p(), self.n_centers(), self.centers.k_pad());
        debug_assert_eq!(out.len(), x.len() / p * k);
        scratch.resize(x.len() / p * stride, F::zero());
        kernels::dots(x, &self.centers, scratch);
        for ((xi, dots), ui) in x
            .chunks_exact(p)
            .zip(scratch.chunks_exact(stride))
            .zip(out.chunks_exact_mut(k))
        {
            ui.copy_from_slice(&dots[..k]);
            self.memberships_from_dots(kernels::serial_dot(xi, xi), ui);
        }
    }

    /// Turns the dot products `out` of one tile of squared norm `xx` with every center into
    /// its memberships.
    fn memberships_from_dots(&self, xx: F, out: &mut [F]) {
        // Distances, in `out`; the memberships overwrite them.
        match self.metric {
            Metric::Euclidean => {
                // d² = |x|² - 2 x·c + |c|², raised to exponent/2 below.
                for (o, &cc) in out.iter_mut().zip(&self.norms) {
                    *o = (xx - (*o + *o) + cc).max(F::zero());
                }
            }
            Metric::Cosine => {
                let xn = xx.sqrt();
                for (o, &cn) in out.iter_mut().zip(&self.norms) {
                    *o = if xn > F::zero() && cn > F::zero() {
                        (F::one() - *o / (xn * cn)).max(F::zero())
                    } else {
                        F::one()
                    };
                }
            }
        }
        let d_min = lanes(out, F::infinity(), F::min);
        let tiny = F::epsilon() * F::from(16.0).unwrap();
        if !(d_min > tiny) {
            // The tile sits on one or more prototypes: they share all the membership.
            let hits = out.iter().filter(|&&d| !(d > tiny)).count();
            let share = F::one() / F::from(hits).unwrap();
            for o in out.iter_mut() {
                *o = if !(*o > tiny) { share } else { F::zero() };
            }
            return;
        }
        // (d_min / d_j)^e keeps every term in (0, 1], so nothing overflows.
        let two = F::from(2.0).unwrap();
        let power = match self.metric {
            Metric::Euclidean => self.exponent / two, // on squared distances
            Metric::Cosine => self.exponent,
        };
        if power == two {
            for o in out.iter_mut() {
                let r = d_min / *o;
                *o = r * r;
            }
        } else if power == F::one() {
            for o in out.iter_mut() {
                *o = d_min / *o;
            }
        } else {
            for o in out.iter_mut() {
                *o = (d_min / *o).powf(power);
            }
        }
        let sum = lanes(out, F::zero(), |a, b| a + b);
        let inv = F::one() / sum;
        for o in out.iter_mut() {
            *o = *o * inv;
        }
    }
}

/// Folds `v` with `op` in 8 interleaved lanes combined pairwise: a fixed association order
/// (so results are the same on every CPU) that still vectorizes, unlike a serial fold.
#[inline]
fn lanes<F: Float>(v: &[F], init: F, op: impl Fn(F, F) -> F) -> F {
    let mut acc = [init; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            acc[i] = op(acc[i], c[i]);
        }
    }
    for (i, &x) in chunks.remainder().iter().enumerate() {
        acc[i] = op(acc[i], x);
    }
    let a = [
        op(acc[0], acc[4]),
        op(acc[1], acc[5]),
        op(acc[2], acc[6]),
        op(acc[3], acc[7]),
    ];
    op(op(a[0], a[2]), op(a[1], a[3]))
}

/// Dot product with a fixed association order (deterministic on every platform).
#[inline]
pub(crate) fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    let mut acc = [F::zero(); 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..4 {
            acc[i] = acc[i] + x[i] * y[i];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        s = s + x * y;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_sum_to_one_and_prefer_the_nearest() {
        let centers = vec![0.0f64, 0.0, 10.0, 0.0, 0.0, 10.0];
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let m = Memberships::new(centers.clone(), 2, 2.0, metric);
            let mut u = [0.0; 3];
            m.compute(&[9.0, 1.0], &mut u);
            assert!((u.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(u[1] > u[2], "{metric:?} {u:?}");
        }
    }

    #[test]
    fn euclidean_matches_the_textbook_formula() {
        let centers = vec![0.0f64, 0.0, 3.0, 0.0, 0.0, 4.0];
        let m = Memberships::new(centers.clone(), 2, 3.0, Metric::Euclidean);
        let x = [1.0, 1.0];
        let mut u = [0.0; 3];
        m.compute(&x, &mut u);
        let d: Vec<f64> = centers
            .chunks(2)
            .map(|c| ((x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2)).sqrt())
            .collect();
        for j in 0..3 {
            let expect = 1.0
                / d.iter()
                    .map(|dl| (d[j] / dl).powf(2.0 / (3.0 - 1.0)))
                    .sum::<f64>();
            assert!((u[j] - expect).abs() < 1e-12, "{j}: {} vs {expect}", u[j]);
        }
    }

    #[test]
    fn a_tile_on_a_prototype_belongs_to_it() {
        let m = Memberships::new(vec![1.0f32, 2.0, 5.0, 5.0], 2, 2.0, Metric::Euclidean);
        let mut u = [0.0; 2];
        m.compute(&[1.0, 2.0], &mut u);
        assert_eq!(u, [1.0, 0.0]);
        let c = Memberships::new(vec![1.0f32, 2.0, 5.0, 5.0], 2, 2.0, Metric::Cosine);
        c.compute(&[0.0, 0.0], &mut u);
        assert_eq!(u, [0.5, 0.5]);
    }
}
