//! Least squares on the probability simplex: the weights of a tile against archetypes.
//!
//! Solves `min_w |x - wᵀZ|²` subject to `w ≥ 0, Σw = 1`, written as the quadratic program
//! `min ½ wᵀGw - bᵀw` with `G = Z Zᵀ` (precomputed once per codebook) and `b = Z x`.
//! A primal active-set method (Lawson–Hanson style) finds the exact optimum in a handful of
//! small Cholesky solves, because the optimum uses few archetypes. A tiny ridge on `G` makes
//! the problem strictly convex, so the answer is unique and deterministic even when the
//! archetypes are linearly dependent (more archetypes than tile values).

/// A prepared solver for one set of archetypes.
#[derive(Debug, Clone)]
pub struct SimplexSolver {
    /// `G + δI`, `k × k`, row-major.
    gram: Vec<f64>,
    k: usize,
    /// Optimality tolerance on the gradient.
    eps: f64,
}

/// Scratch space for [`SimplexSolver::solve`], reused across tiles to avoid allocation.
#[derive(Debug, Clone, Default)]
pub struct SimplexWorkspace {
    grad: Vec<f64>,
    /// Active coordinates, in the order of the rows of `chol`.
    active: Vec<usize>,
    is_active: Vec<bool>,
    /// Lower Cholesky factor of `G[active, active]`, row stride `k`.
    chol: Vec<f64>,
    y1: Vec<f64>,
    y2: Vec<f64>,
    v: Vec<f64>,
}

impl SimplexSolver {
    /// Prepares the solver for archetypes `z` (`k × p`, row-major).
    pub fn new(z: &[f64], k: usize, p: usize) -> Self {
        assert_eq!(z.len(), k * p);
        let mut gram = vec![0.0; k * k];
        for i in 0..k {
            for j in 0..=i {
                let g = super::fuzzy::dot(&z[i * p..(i + 1) * p], &z[j * p..(j + 1) * p]);
                gram[i * k + j] = g;
                gram[j * k + i] = g;
            }
        }
        let mean_diag = (0..k).map(|i| gram[i * k + i]).sum::<f64>() / k.max(1) as f64;
        let scale = mean_diag.max(f64::MIN_POSITIVE);
        for i in 0..k {
            gram[i * k + i] += 1e-9 * scale;
        }
        SimplexSolver {
            gram,
            k,
            eps: 1e-10 * scale,
        }
    }

    /// Number of archetypes.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `b = Z x` for a tile `x`, the linear term of the program.
    pub fn linear_term(z: &[f64], x: &[f64], b: &mut [f64]) {
        let p = x.len();
        for (bj, zj) in b.iter_mut().zip(z.chunks_exact(p)) {
            *bj = super::fuzzy::dot(zj, x);
        }
    }

    /// Writes the optimal simplex weights for linear term `b` into `w`.
    pub fn solve(&self, b: &[f64], w: &mut [f64], ws: &mut SimplexWorkspace) {
        let k = self.k;
        let g = &self.gram;
        ws.grad.resize(k, 0.0);
        ws.chol.resize(k * k, 0.0);
        ws.is_active.clear();
        ws.is_active.resize(k, false);
        ws.active.clear();
        w.fill(0.0);
        // Start from the best vertex.
        let start = (0..k)
            .min_by(|&i, &j| {
                let fi = 0.5 * g[i * k + i] - b[i];
                let fj = 0.5 * g[j * k + j] - b[j];
                fi.total_cmp(&fj)
            })
            .unwrap_or(0);
        w[start] = 1.0;
        if !self.push_active(ws, start) {
            return;
        }
        for _ in 0..4 * k + 8 {
            // grad = G w - b, as a sum of G's (symmetric) rows over the active set: contiguous
            // runs, which vectorize (w is zero off the active set).
            for (gi, &bi) in ws.grad.iter_mut().zip(b) {
                *gi = -bi;
            }
            for &a in &ws.active {
                let wa = w[a];
                for (gi, &gv) in ws.grad.iter_mut().zip(&g[a * k..(a + 1) * k]) {
                    *gi += wa * gv;
                }
            }
            let level: f64 = ws.active.iter().map(|&a| w[a] * ws.grad[a]).sum();
            // The inactive coordinate that most wants to enter.
            let mut enter = None;
            let mut best = level - self.eps * (1.0 + level.abs());
            for (i, &gi) in ws.grad.iter().enumerate() {
                if !ws.is_active[i] && gi < best {
                    best = gi;
                    enter = Some(i);
                }
            }
            let Some(t) = enter else { return };
            if !self.push_active(ws, t) || !self.descend(b, w, ws, t) {
                return;
            }
        }
    }

    /// Appends `t` to the active set, extending the Cholesky factor by one row (O(m²)).
    /// Returns false (leaving the set unchanged) if the factor would not stay positive.
    fn push_active(&self, ws: &mut SimplexWorkspace, t: usize) -> bool {
        let (k, m) = (self.k, ws.active.len());
        let mut d = self.gram[t * k + t];
        for r in 0..m {
            let mut s = self.gram[ws.active[r] * k + t];
            for c in 0..r {
                s -= ws.chol[r * k + c] * ws.chol[m * k + c];
            }
            let l = s / ws.chol[r * k + r];
            ws.chol[m * k + r] = l;
            d -= l * l;
        }
        if !(d > 0.0) {
            return false;
        }
        ws.chol[m * k + m] = d.sqrt();
        ws.active.push(t);
        ws.is_active[t] = true;
        true
    }

    /// Removes the coordinates whose weight reached zero and refactors (O(m³), rare).
    fn drop_zeros(&self, w: &mut [f64], ws: &mut SimplexWorkspace) {
        let kept: Vec<usize> = ws.active.iter().copied().filter(|&a| w[a] > 0.0).collect();
        for &a in &ws.active {
            if w[a] <= 0.0 {
                w[a] = 0.0;
                ws.is_active[a] = false;
            }
        }
        ws.active.clear();
        for a in kept {
            ws.is_active[a] = false;
            if !self.push_active(ws, a) {
                w[a] = 0.0;
            }
        }
    }

    /// Moves `w` to the optimum over the active set, dropping coordinates that hit zero.
    /// Returns false when no progress is possible (numerically optimal).
    fn descend(&self, b: &[f64], w: &mut [f64], ws: &mut SimplexWorkspace, entered: usize) -> bool {
        for _ in 0..self.k + 1 {
            if !self.equality_solution(b, ws) {
                return false;
            }
            if ws.v.iter().all(|&v| v > 0.0) {
                for (&a, &v) in ws.active.iter().zip(&ws.v) {
                    w[a] = v;
                }
                return true;
            }
            // Walk from w towards v until the first coordinate reaches zero.
            let mut alpha = 1.0f64;
            let mut blocking = 0;
            for (idx, (&a, &v)) in ws.active.iter().zip(&ws.v).enumerate() {
                if v <= 0.0 {
                    let step = w[a] / (w[a] - v);
                    if step < alpha {
                        alpha = step;
                        blocking = idx;
                    }
                }
            }
            if alpha <= 0.0 && ws.active[blocking] == entered {
                // The entering coordinate cannot move: numerically optimal already.
                ws.is_active[entered] = false;
                ws.active.pop();
                return false;
            }
            for (&a, &v) in ws.active.iter().zip(&ws.v) {
                w[a] += alpha * (v - w[a]);
            }
            w[ws.active[blocking]] = 0.0;
            self.drop_zeros(w, ws);
            if ws.active.is_empty() {
                // Cannot happen with exact arithmetic; recover a vertex.
                w.fill(0.0);
                w[entered] = 1.0;
                self.push_active(ws, entered);
                return false;
            }
        }
        false
    }

    /// Solves the equality-constrained program on the active set into `ws.v`:
    /// `v = G⁻¹(b - μ1)` with `μ` chosen so that `Σv = 1`.
    fn equality_solution(&self, b: &[f64], ws: &mut SimplexWorkspace) -> bool {
        let m = ws.active.len();
        ws.y1.clear();
        ws.y1.extend(ws.active.iter().map(|&a| b[a]));
        ws.y2.clear();
        ws.y2.resize(m, 1.0);
        cholesky_solve(&ws.chol, self.k, m, &mut ws.y1);
        cholesky_solve(&ws.chol, self.k, m, &mut ws.y2);
        let s2: f64 = ws.y2.iter().sum();
        if !(s2 > 0.0) {
            return false;
        }
        let mu = (ws.y1.iter().sum::<f64>() - 1.0) / s2;
        ws.v.clear();
        ws.v.extend(ws.y1.iter().zip(&ws.y2).map(|(a, c)| a - mu * c));
        true
    }
}

/// Solves `L Lᵀ y = rhs` in place for the `m × m` factor stored with row stride `stride`.
fn cholesky_solve(l: &[f64], stride: usize, m: usize, y: &mut [f64]) {
    for i in 0..m {
        let row = &l[i * stride..i * stride + i];
        let s: f64 = y[i] - row.iter().zip(&y[..i]).map(|(a, b)| a * b).sum::<f64>();
        y[i] = s / l[i * stride + i];
    }
    for i in (0..m).rev() {
        let mut s = y[i];
        for t in i + 1..m {
            s -= l[t * stride + i] * y[t];
        }
        y[i] = s / l[i * stride + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn objective(z: &[f64], p: usize, x: &[f64], w: &[f64]) -> f64 {
        (0..p)
            .map(|f| {
                let r: f64 = w.iter().enumerate().map(|(j, wj)| wj * z[j * p + f]).sum();
                (x[f] - r).powi(2)
            })
            .sum()
    }

    #[test]
    fn finds_the_optimum_on_the_simplex() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for &(k, p) in &[(3usize, 2usize), (36, 16), (8, 64), (20, 3)] {
            let z: Vec<f64> = (0..k * p).map(|_| rng.random_range(-2.0..2.0)).collect();
            let solver = SimplexSolver::new(&z, k, p);
            let mut ws = SimplexWorkspace::default();
            for _ in 0..50 {
                let x: Vec<f64> = (0..p).map(|_| rng.random_range(-3.0..3.0)).collect();
                let mut b = vec![0.0; k];
                SimplexSolver::linear_term(&z, &x, &mut b);
                let mut w = vec![0.0; k];
                solver.solve(&b, &mut w, &mut ws);
                assert!(w.iter().all(|&v| v >= 0.0));
                assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                let best = objective(&z, p, &x, &w);
                // No random feasible perturbation does better.
                for _ in 0..200 {
                    let i = rng.random_range(0..k);
                    let j = rng.random_range(0..k);
                    let t = rng.random_range(0.0..=1.0) * w[i];
                    let mut u = w.clone();
                    u[i] -= t;
                    u[j] += t;
                    assert!(objective(&z, p, &x, &u) >= best - 1e-7, "k={k} p={p}");
                }
            }
        }
    }

    #[test]
    fn a_point_inside_the_hull_is_reconstructed_exactly() {
        let z = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let solver = SimplexSolver::new(&z, 3, 2);
        let mut b = vec![0.0; 3];
        SimplexSolver::linear_term(&z, &[0.25, 0.5], &mut b);
        let mut w = vec![0.0; 3];
        solver.solve(&b, &mut w, &mut SimplexWorkspace::default());
        for (a, e) in w.iter().zip([0.25, 0.25, 0.5]) {
            assert!((a - e).abs() < 1e-6, "{w:?}");
        }
    }
}
