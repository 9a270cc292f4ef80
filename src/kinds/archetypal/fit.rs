//! Archetypal Analysis (Cutler & Breiman; fitted as in Mørup & Hansen's PCHA): archetypes
//! `Z = C·X` are convex mixtures of the data, and every sample is approximated by a convex
//! mixture `S·Z` of archetypes.
//!
//! Fitting alternates two simplex-constrained least-squares problems: the sample weights `S`
//! (solved exactly per sample by the active-set [`SimplexSolver`]) and the archetype
//! definitions `C` (accelerated projected gradient, rows projected onto the simplex).

use crate::error::{Error, Result};
use crate::weights::{SimplexSolver, SimplexWorkspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows per parallel task: fixed, so results do not depend on the thread count.
const ROWS_PER_TASK: usize = 256;
/// Projected-gradient steps on `C` per outer iteration.
const C_STEPS: usize = 10;

/// Parameters of Archetypal Analysis. Build with [`ArchetypalParams::new`] and the by-value
/// setters; [`fit`](ArchetypalParams::fit) checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchetypalParams {
    n_archetypes: usize,
    n_init: u32,
    max_iter: u32,
    tol: f64,
    seed: u64,
}

impl ArchetypalParams {
    /// `n_archetypes` archetypes, 1 initialization, 100 iterations, tolerance 1e-6, seed 0.
    pub fn new(n_archetypes: usize) -> Self {
        ArchetypalParams {
            n_archetypes,
            n_init: 1,
            max_iter: 100,
            tol: 1e-6,
            seed: 0,
        }
    }

    /// Number of restarts from different initializations; the best fit is kept.
    pub fn n_init(mut self, n_init: u32) -> Self {
        self.n_init = n_init;
        self
    }

    /// Iteration limit per initialization.
    pub fn max_iter(mut self, max_iter: u32) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Stop when the relative improvement of the error falls below this.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Seed of the initializations.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of archetypes.
    pub fn n_archetypes(&self) -> usize {
        self.n_archetypes
    }

    /// The number of initializations.
    pub fn get_n_init(&self) -> u32 {
        self.n_init
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
        crate::train::check_count("n_archetypes", self.n_archetypes)?;
        if self.n_init == 0 {
            return Err(Error::param("n_init", "must be at least 1"));
        }
        crate::train::check_stopping(self.max_iter, self.tol)
    }

    /// Fits archetypes to standardized samples `x` (`n × p`, row-major).
    pub fn fit(&self, x: &[f64], p: usize) -> Result<Archetypal> {
        self.fit_observed(x, p, &mut crate::train::unobserved)
    }

    /// [`fit`](Self::fit), calling `observe` after every iteration (of every initialization).
    pub fn fit_observed(
        &self,
        x: &[f64],
        p: usize,
        observe: &mut crate::train::Observer<'_>,
    ) -> Result<Archetypal> {
        self.check()?;
        let k = self.n_archetypes;
        let n = crate::train::check_samples(x, p, k, "archetypes")?;
        let mut best: Option<Archetypal> = None;
        for run in 0..self.n_init {
            let seed = self
                .seed
                .wrapping_add(u64::from(run).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let fit = self.fit_once(x, n, p, seed, run, observe)?;
            if best.as_ref().is_none_or(|b| fit.loss < b.loss) {
                best = Some(fit);
            }
        }
        Ok(best.expect("n_init >= 1"))
    }

    fn fit_once(
        &self,
        x: &[f64],
        n: usize,
        p: usize,
        seed: u64,
        run: u32,
        observe: &mut crate::train::Observer<'_>,
    ) -> Result<Archetypal> {
        let k = self.n_archetypes;
        let mut c = vec![0.0; k * n];
        for (j, &i) in furthest_sum(x, n, p, k, seed).iter().enumerate() {
            c[j * n + i] = 1.0;
        }
        let mut z = mat_mul(&c, x, k, n, p);
        let mut s = vec![0.0; n * k];
        // λmax(XᵀX), constant through the fit.
        let xtx = gram_t(x, n, p);
        let lx = largest_eigenvalue(&xtx, p);
        let mut prev = f64::INFINITY;
        let mut iterations = 0;
        for _ in 0..self.max_iter {
            iterations += 1;
            solve_weights(x, p, &z, k, &mut s);
            let loss = residual_sse(x, p, &s, &z, k) / (n * p) as f64;
            crate::train::report(
                observe,
                crate::train::Progress {
                    run,
                    iteration: iterations,
                    loss,
                },
            )?;
            if prev.is_finite() && prev - loss < self.tol * prev {
                break;
            }
            prev = loss;
            update_c(x, n, p, &s, k, lx, &mut c);
            z = mat_mul(&c, x, k, n, p);
        }
        // Weights and loss for the final archetypes.
        solve_weights(x, p, &z, k, &mut s);
        let final_loss = residual_sse(x, p, &s, &z, k) / (n * p) as f64;
        Ok(Archetypal {
            archetypes: z,
            n_features: p,
            params: self.clone(),
            iterations,
            loss: final_loss,
        })
    }
}

/// Furthest-sum initialization (PCHA): start at a random sample, repeatedly add the sample
/// with the largest summed distance to those chosen, then re-choose the random start.
fn furthest_sum(x: &[f64], n: usize, p: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let first = rng.random_range(0..n);
    let dist = |a: usize| -> Vec<f64> {
        let xa = &x[a * p..(a + 1) * p];
        x.par_chunks(p)
            .map(|xi| {
                xi.iter()
                    .zip(xa)
                    .map(|(u, v)| (u - v) * (u - v))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    };
    let mut chosen = vec![first];
    let mut sum = dist(first);
    let pick = |sum: &[f64], chosen: &[usize]| -> usize {
        let mut best = usize::MAX;
        for i in 0..n {
            if !chosen.contains(&i) && (best == usize::MAX || sum[i] > sum[best]) {
                best = i;
            }
        }
        best
    };
    while chosen.len() < k {
        let next = pick(&sum, &chosen);
        chosen.push(next);
        for (s, d) in sum.iter_mut().zip(dist(next)) {
            *s += d;
        }
    }
    if k > 1 {
        // The random start is rarely extreme: replace it by the furthest from the others.
        for (s, d) in sum.iter_mut().zip(dist(first)) {
            *s -= d;
        }
        let rest: Vec<usize> = chosen[1..].to_vec();
        let replacement = pick(&sum, &rest);
        chosen[0] = if replacement == usize::MAX {
            first
        } else {
            replacement
        };
    }
    chosen
}

/// Exact simplex weights of every sample against archetypes `z`.
fn solve_weights(x: &[f64], p: usize, z: &[f64], k: usize, s: &mut [f64]) {
    let solver = SimplexSolver::new(z, k, p);
    s.par_chunks_mut(k * ROWS_PER_TASK)
        .zip(x.par_chunks(p * ROWS_PER_TASK))
        .for_each(|(ss, xx)| {
            let mut ws = SimplexWorkspace::default();
            let mut b = vec![0.0; k];
            for (si, xi) in ss.chunks_exact_mut(k).zip(xx.chunks_exact(p)) {
                SimplexSolver::linear_term(z, xi, &mut b);
                solver.solve(&b, si, &mut ws);
            }
        });
}

/// `|X - S Z|²`.
fn residual_sse(x: &[f64], p: usize, s: &[f64], z: &[f64], k: usize) -> f64 {
    let parts: Vec<f64> = x
        .par_chunks(p * ROWS_PER_TASK)
        .zip(s.par_chunks(k * ROWS_PER_TASK))
        .map(|(xx, ss)| {
            let mut r = vec![0.0; p];
            let mut sse = 0.0;
            for (xi, si) in xx.chunks_exact(p).zip(ss.chunks_exact(k)) {
                r.copy_from_slice(xi);
                for (&w, zj) in si.iter().zip(z.chunks_exact(p)) {
                    if w != 0.0 {
                        for (rv, &zv) in r.iter_mut().zip(zj) {
                            *rv -= w * zv;
                        }
                    }
                }
                sse += r.iter().map(|v| v * v).sum::<f64>();
            }
            sse
        })
        .collect();
    parts.iter().sum()
}

/// Accelerated projected-gradient steps on `½|X - S C X|²` over `C` with simplex rows.
fn update_c(x: &[f64], n: usize, p: usize, s: &[f64], k: usize, lx: f64, c: &mut Vec<f64>) {
    let sts = gram_t(s, n, k);
    let lipschitz = largest_eigenvalue(&sts, k) * lx;
    if !(lipschitz > 0.0) {
        return;
    }
    let step = 1.0 / lipschitz;
    let mut y = c.clone();
    let mut prev = c.clone();
    let mut t = 1.0f64;
    for _ in 0..C_STEPS {
        // grad = Sᵀ (S (Y X) - X) Xᵀ, formed as ((SᵀS)(YX) - SᵀX) Xᵀ.
        let yx = mat_mul(&y, x, k, n, p);
        let stx = mat_t_mul(s, x, n, k, p);
        let mut m = mat_mul(&sts, &yx, k, k, p);
        for (mv, &v) in m.iter_mut().zip(&stx) {
            *mv -= v;
        }
        // grad (k × n) = M (k × p) · Xᵀ; take the step and project each row.
        let mut next = y.clone();
        next.par_chunks_mut(n).enumerate().for_each(|(j, row)| {
            let mj = &m[j * p..(j + 1) * p];
            for (i, r) in row.iter_mut().enumerate() {
                let g: f64 = mj
                    .iter()
                    .zip(&x[i * p..(i + 1) * p])
                    .map(|(a, b)| a * b)
                    .sum();
                *r -= step * g;
            }
            project_simplex(row);
        });
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let beta = (t - 1.0) / t_next;
        for ((yv, &nv), &pv) in y.iter_mut().zip(&next).zip(&prev) {
            *yv = nv + beta * (nv - pv);
        }
        // Keep y feasible for the gradient: momentum may step off the simplex.
        y.par_chunks_mut(n).for_each(project_simplex);
        prev = next;
        t = t_next;
    }
    *c = prev;
}

/// Euclidean projection of `v` onto the probability simplex (sort-based, Duchi et al.).
pub(crate) fn project_simplex(v: &mut [f64]) {
    let mut u: Vec<f64> = v.to_vec();
    u.sort_unstable_by(|a, b| b.total_cmp(a));
    let mut cumsum = 0.0;
    let mut theta = 0.0;
    for (i, &ui) in u.iter().enumerate() {
        cumsum += ui;
        let t = (cumsum - 1.0) / (i + 1) as f64;
        if ui - t > 0.0 {
            theta = t;
        }
    }
    for x in v.iter_mut() {
        *x = (*x - theta).max(0.0);
    }
}

/// `A (r × m) · B (m × c)`.
fn mat_mul(a: &[f64], b: &[f64], r: usize, m: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    out.par_chunks_mut(c).enumerate().for_each(|(i, row)| {
        for (t, &av) in a[i * m..(i + 1) * m].iter().enumerate() {
            if av != 0.0 {
                for (o, &bv) in row.iter_mut().zip(&b[t * c..(t + 1) * c]) {
                    *o += av * bv;
                }
            }
        }
    });
    out
}

/// `Aᵀ (c × r) · B (r × q)` for row-major `A (r × c)`, summed in fixed chunks of rows.
fn mat_t_mul(a: &[f64], b: &[f64], r: usize, c: usize, q: usize) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = a
        .par_chunks(c * ROWS_PER_TASK)
        .zip(b.par_chunks(q * ROWS_PER_TASK))
        .map(|(aa, bb)| {
            let mut acc = vec![0.0; c * q];
            for (ai, bi) in aa.chunks_exact(c).zip(bb.chunks_exact(q)) {
                for (j, &av) in ai.iter().enumerate() {
                    if av != 0.0 {
                        for (o, &bv) in acc[j * q..(j + 1) * q].iter_mut().zip(bi) {
                            *o += av * bv;
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let mut out = vec![0.0; c * q];
    for part in parts {
        for (o, v) in out.iter_mut().zip(part) {
            *o += v;
        }
    }
    debug_assert_eq!(r * c, a.len());
    out
}

/// `AᵀA` for row-major `A (r × c)`.
fn gram_t(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    mat_t_mul(a, a, r, c, c)
}

/// Largest eigenvalue of a symmetric positive semi-definite `m × m` matrix (power iteration
/// from a fixed start, then a safety margin so a step of 1/λ never overshoots).
fn largest_eigenvalue(a: &[f64], m: usize) -> f64 {
    let mut v = vec![1.0 / (m as f64).sqrt(); m];
    let mut lambda = 0.0;
    for _ in 0..100 {
        let mut w = vec![0.0; m];
        for i in 0..m {
            w[i] = (0..m).map(|j| a[i * m + j] * v[j]).sum();
        }
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(norm > 0.0) {
            return 0.0;
        }
        lambda = norm;
        v = w.into_iter().map(|x| x / norm).collect();
    }
    lambda * 1.01
}

/// A fitted Archetypal Analysis model.
#[derive(Debug, Clone)]
pub struct Archetypal {
    archetypes: Vec<f64>,
    n_features: usize,
    params: ArchetypalParams,
    iterations: u32,
    loss: f64,
}

impl Archetypal {
    /// The archetypes (`k × p`, row-major, standardized space).
    pub fn archetypes(&self) -> &[f64] {
        &self.archetypes
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> &ArchetypalParams {
        &self.params
    }

    /// Iterations run by the kept initialization.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Mean squared error of the training samples' best convex reconstruction.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Simplex weights of samples `x` (`n × p`) into `out` (`n × k`).
    pub fn transform(&self, x: &[f64], out: &mut [f64]) {
        solve_weights(
            x,
            self.n_features,
            &self.archetypes,
            self.params.n_archetypes,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_corners_of_a_triangle() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let corners = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]];
        let mut x = Vec::new();
        for c in corners {
            x.extend_from_slice(&c);
        }
        for _ in 0..300 {
            let mut w: [f64; 3] = [rng.random(), rng.random(), rng.random()];
            let s: f64 = w.iter().sum();
            w.iter_mut().for_each(|v| *v /= s);
            let point = [0, 1].map(|d| (0..3).map(|j| w[j] * corners[j][d]).sum::<f64>());
            x.extend_from_slice(&point);
        }
        let model = ArchetypalParams::new(3).max_iter(200).fit(&x, 2).unwrap();
        for c in corners {
            let nearest = model
                .archetypes()
                .chunks(2)
                .map(|a| ((a[0] - c[0]).powi(2) + (a[1] - c[1]).powi(2)).sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!(
                nearest < 0.2,
                "corner {c:?} missed: {:?}",
                model.archetypes()
            );
        }
        assert!(model.loss() < 1e-3, "loss {}", model.loss());
    }

    #[test]
    fn projection_lands_on_the_simplex() {
        let mut v = vec![0.3, -1.0, 2.0, 0.9];
        project_simplex(&mut v);
        assert!(v.iter().all(|&x| x >= 0.0));
        assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut on = vec![0.2, 0.3, 0.5];
        project_simplex(&mut on);
        assert_eq!(on, vec![0.2, 0.3, 0.5]);
    }

    #[test]
    fn bad_parameters_are_named() {
        let x = vec![0.0; 20];
        let name = |p: ArchetypalParams| match p.fit(&x, 2) {
            Err(Error::InvalidParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(ArchetypalParams::new(0)), "n_archetypes");
        assert_eq!(name(ArchetypalParams::new(2).n_init(0)), "n_init");
        assert_eq!(name(ArchetypalParams::new(2).max_iter(0)), "max_iter");
        assert_eq!(name(ArchetypalParams::new(2).tol(-1.0)), "tol");
    }
}
