//! Fitting Fuzzy C-Means (Bezdek): soft clustering whose centres become the prototypes.

use crate::error::{Error, Result};
use crate::weights::{Memberships, Metric};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Parameters of Fuzzy C-Means. Build with [`FuzzyCMeansParams::new`] and the by-value
/// setters; [`fit`](FuzzyCMeansParams::fit) checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzyCMeansParams {
    n_prototypes: usize,
    fuzzifier: f64,
    metric: Metric,
    max_iter: u32,
    tol: f64,
    seed: u64,
}

impl FuzzyCMeansParams {
    /// `n_prototypes` centres, fuzzifier 2, cosine metric (the reference notebook's), 100
    /// iterations, tolerance 1e-6, seed 0.
    pub fn new(n_prototypes: usize) -> Self {
        FuzzyCMeansParams {
            n_prototypes,
            fuzzifier: 2.0,
            metric: Metric::Cosine,
            max_iter: 100,
            tol: 1e-6,
            seed: 0,
        }
    }

    /// The fuzzifier `m > 1`: the larger, the softer the memberships.
    pub fn fuzzifier(mut self, m: f64) -> Self {
        self.fuzzifier = m;
        self
    }

    /// The distance used for memberships.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Iteration limit.
    pub fn max_iter(mut self, max_iter: u32) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Stop when the memberships change by less than this (Frobenius norm).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Seed of the random initial memberships.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of prototypes.
    pub fn n_prototypes(&self) -> usize {
        self.n_prototypes
    }

    /// The fuzzifier.
    pub fn get_fuzzifier(&self) -> f64 {
        self.fuzzifier
    }

    /// The metric.
    pub fn get_metric(&self) -> Metric {
        self.metric
    }

    /// The iteration limit.
    pub fn get_max_iter(&self) -> u32 {
        self.max_iter
    }

    /// The tolerance.
    pub fn get_tol(&self) -> f64 {
        self.tol
    }

    /// The seed.
    pub fn get_seed(&self) -> u64 {
        self.seed
    }

    /// Validates every parameter, one error per bad field.
    pub fn check(&self) -> Result<()> {
        crate::train::check_count("n_prototypes", self.n_prototypes)?;
        if !(self.fuzzifier > 1.0 && self.fuzzifier.is_finite()) {
            return Err(Error::param(
                "fuzzifier",
                format!("{} must be finite and > 1", self.fuzzifier),
            ));
        }
        crate::train::check_stopping(self.max_iter, self.tol)
    }

    /// Fits the model to standardized samples `x` (`n × p`, row-major).
    pub fn fit(&self, x: &[f64], p: usize) -> Result<FuzzyCMeans> {
        self.fit_observed(x, p, &mut crate::train::unobserved)
    }

    /// [`fit`](Self::fit), calling `observe` after every iteration (`loss` is the change of
    /// the memberships).
    pub fn fit_observed(
        &self,
        x: &[f64],
        p: usize,
        observe: &mut crate::train::Observer<'_>,
    ) -> Result<FuzzyCMeans> {
        self.check()?;
        let k = self.n_prototypes;
        let n = crate::train::check_samples(x, p, k, "prototypes")?;
        let m = self.fuzzifier;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut u: Vec<f64> = (0..n * k).map(|_| rng.random::<f64>() + 1e-3).collect();
        for row in u.chunks_exact_mut(k) {
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= s);
        }
        let mut centers = vec![0.0; k * p];
        let mut u_new = vec![0.0; n * k];
        let mut iterations = 0;
        for _ in 0..self.max_iter {
            iterations += 1;
            update_centers(x, p, &u, k, m, &mut centers);
            let memb = Memberships::new(centers.clone(), p, m, self.metric);
            u_new
                .par_chunks_mut(k * 64)
                .zip(x.par_chunks(p * 64))
                .for_each_init(Vec::new, |scratch, (uu, xx)| {
                    memb.compute_rows(xx, uu, scratch)
                });
            let change: f64 = u
                .iter()
                .zip(&u_new)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            std::mem::swap(&mut u, &mut u_new);
            crate::train::report(
                observe,
                crate::train::Progress {
                    run: 0,
                    iteration: iterations,
                    loss: change,
                },
            )?;
            if change < self.tol {
                break;
            }
        }
        // Centres consistent with the final memberships.
        update_centers(x, p, &u, k, m, &mut centers);
        let loss = objective(x, p, &u, &centers, m);
        Ok(FuzzyCMeans {
            centers,
            n_features: p,
            params: self.clone(),
            iterations,
            loss,
        })
    }
}

/// `c_j = Σ_i u_ij^m x_i / Σ_i u_ij^m`, one centre per task (deterministic order).
fn update_centers(x: &[f64], p: usize, u: &[f64], k: usize, m: f64, centers: &mut [f64]) {
    centers.par_chunks_mut(p).enumerate().for_each(|(j, c)| {
        c.fill(0.0);
        let mut total = 0.0;
        for (xi, ui) in x.chunks_exact(p).zip(u.chunks_exact(k)) {
            let w = if m == 2.0 {
                ui[j] * ui[j]
            } else {
                ui[j].powf(m)
            };
            total += w;
            for (cv, &xv) in c.iter_mut().zip(xi) {
                *cv += w * xv;
            }
        }
        if total > 0.0 {
            c.iter_mut().for_each(|v| *v /= total);
        }
    });
}

/// Mean squared reconstruction error of `x ≈ Σ u_j c_j`, the quantity the codec cares about.
fn objective(x: &[f64], p: usize, u: &[f64], centers: &[f64], _m: f64) -> f64 {
    let k = centers.len() / p;
    let mut sse = 0.0;
    let mut r = vec![0.0; p];
    for (xi, ui) in x.chunks_exact(p).zip(u.chunks_exact(k)) {
        r.fill(0.0);
        for (&w, c) in ui.iter().zip(centers.chunks_exact(p)) {
            for (rv, &cv) in r.iter_mut().zip(c) {
                *rv += w * cv;
            }
        }
        sse += xi
            .iter()
            .zip(&r)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
    }
    sse / x.len().max(1) as f64
}

/// A fitted Fuzzy C-Means model.
#[derive(Debug, Clone)]
pub struct FuzzyCMeans {
    centers: Vec<f64>,
    n_features: usize,
    params: FuzzyCMeansParams,
    iterations: u32,
    loss: f64,
}

impl FuzzyCMeans {
    /// The centres (`k × p`, row-major, standardized space).
    pub fn centers(&self) -> &[f64] {
        &self.centers
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &FuzzyCMeansParams {
        &self.params
    }

    /// Iterations run.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Mean squared error of reconstructing the training samples from their memberships.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Memberships of samples `x` (`n × p`) into `out` (`n × k`).
    pub fn transform(&self, x: &[f64], out: &mut [f64]) {
        let memb = Memberships::new(
            self.centers.clone(),
            self.n_features,
            self.params.fuzzifier,
            self.params.metric,
        );
        memb.compute_rows(x, out, &mut Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_well_separated_clusters() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let truth = [[-5.0, -5.0], [5.0, 5.0], [5.0, -5.0]];
        let x: Vec<f64> = (0..300)
            .flat_map(|i| {
                let c = truth[i % 3];
                [
                    c[0] + rng.random_range(-0.5..0.5),
                    c[1] + rng.random_range(-0.5..0.5),
                ]
            })
            .collect();
        let model = FuzzyCMeansParams::new(3).seed(1).fit(&x, 2).unwrap();
        for t in truth {
            let nearest = model
                .centers()
                .chunks(2)
                .map(|c| ((c[0] - t[0]).powi(2) + (c[1] - t[1]).powi(2)).sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!(nearest < 0.5, "no centre near {t:?}: {:?}", model.centers());
        }
        let again = FuzzyCMeansParams::new(3).seed(1).fit(&x, 2).unwrap();
        assert_eq!(model.centers(), again.centers());
    }

    #[test]
    fn bad_parameters_are_named() {
        let x = vec![0.0; 20];
        let err = |p: FuzzyCMeansParams| match p.fit(&x, 2) {
            Err(Error::InvalidParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(FuzzyCMeansParams::new(0)), "n_prototypes");
        assert_eq!(err(FuzzyCMeansParams::new(2).fuzzifier(1.0)), "fuzzifier");
        assert_eq!(err(FuzzyCMeansParams::new(2).max_iter(0)), "max_iter");
        assert_eq!(err(FuzzyCMeansParams::new(2).tol(f64::NAN)), "tol");
        assert!(matches!(
            FuzzyCMeansParams::new(20).fit(&x, 2),
            Err(Error::InvalidData(_))
        ));
    }
}
