//! Sparse weights: a tile described by a few prototypes and convex weights on them.

/// Sparse weights chosen for reconstruction: the support and the convex weights on it that
/// best represent a tile (least squares on the simplex restricted to `s` prototypes). Picking
/// the largest dense weights chooses poorly (a dense Archetypal fit spreads over many
/// archetypes); this searches the support instead: every pair exhaustively (closed form),
/// then one prototype more at a time (forward selection).
#[derive(Debug, Clone)]
pub struct SparseSolver {
    /// Prototypes (`k × p`, standardized).
    prototypes: Vec<f64>,
    /// Their Gram matrix (`k × k`).
    gram: Vec<f64>,
    k: usize,
    p: usize,
}

/// Prototypes among which every pair is tried (the nearest to the tile, for bigger codebooks).
const PAIR_CANDIDATES: usize = 64;

/// Most prototypes a support may hold (its subsets are enumerated).
pub const MAX_KEPT: usize = 8;

impl SparseSolver {
    /// Prepares `prototypes` (`k × p`).
    pub fn new(prototypes: &[f64], p: usize) -> Self {
        let k = prototypes.len() / p;
        let mut gram = vec![0f64; k * k];
        for i in 0..k {
            for j in 0..=i {
                let g: f64 = prototypes[i * p..(i + 1) * p]
                    .iter()
                    .zip(&prototypes[j * p..(j + 1) * p])
                    .map(|(a, b)| a * b)
                    .sum();
                gram[i * k + j] = g;
                gram[j * k + i] = g;
            }
        }
        SparseSolver {
            prototypes: prototypes.to_vec(),
            gram,
            k,
            p,
        }
    }

    /// Chooses `indexes.len()` prototypes and their convex weights for tile `x`; writes them
    /// in descending weight order (ties to the lower index).
    pub fn solve(&self, x: &[f32], indexes: &mut [u16], values: &mut [f32]) {
        let (k, p) = (self.k, self.p);
        let s = indexes.len().min(k);
        // b = A x: every error below is xx - 2 w·b + wᵀ G w.
        let b: Vec<f64> = self
            .prototypes
            .chunks_exact(p)
            .map(|a| a.iter().zip(x).map(|(&av, &xv)| av * f64::from(xv)).sum())
            .collect();
        let g = |i: usize, j: usize| self.gram[i * k + j];
        let mut support: Vec<usize> = Vec::with_capacity(s);
        let mut weights: Vec<f64> = Vec::with_capacity(s);
        if s == 1 || k == 1 {
            // The single prototype nearest the tile: max 2 b_j - G_jj.
            let j = (0..k)
                .max_by(|&a, &c| {
                    (2.0 * b[a] - g(a, a))
                        .total_cmp(&(2.0 * b[c] - g(c, c)))
                        .then(c.cmp(&a))
                })
                .expect("k >= 1");
            support.push(j);
            weights.push(1.0);
        } else {
            // Every pair: the best t in [0, 1] for t a_i + (1 - t) a_j. Beyond
            // PAIR_CANDIDATES prototypes, pairs among the ones nearest the tile (k² per tile
            // would dominate the encoder).
            let mut cand: Vec<usize> = (0..k).collect();
            if k > PAIR_CANDIDATES {
                let score = |j: usize| 2.0 * b[j] - g(j, j);
                cand.sort_by(|&a, &c| score(c).total_cmp(&score(a)).then(a.cmp(&c)));
                cand.truncate(PAIR_CANDIDATES);
                cand.sort_unstable();
            }
            let mut best = (f64::INFINITY, 0, 0, 0.0);
            for (ci, &i) in cand.iter().enumerate() {
                for &j in &cand[ci + 1..] {
                    let den = g(i, i) - 2.0 * g(i, j) + g(j, j);
                    let t = if den > 0.0 {
                        ((b[i] - b[j] - g(i, j) + g(j, j)) / den).clamp(0.0, 1.0)
                    } else {
                        1.0
                    };
                    let u = 1.0 - t;
                    let err = -2.0 * (t * b[i] + u * b[j])
                        + t * t * g(i, i)
                        + 2.0 * t * u * g(i, j)
                        + u * u * g(j, j);
                    if err < best.0 {
                        best = (err, i, j, t);
                    }
                }
            }
            support.extend([best.1, best.2]);
            weights.extend([best.3, 1.0 - best.3]);
            while support.len() < s {
                let mut best: Option<(f64, usize, Vec<f64>)> = None;
                for j in 0..k {
                    if support.contains(&j) {
                        continue;
                    }
                    support.push(j);
                    let (err, w) = self.best_on_support(&support, &b);
                    support.pop();
                    if best.as_ref().is_none_or(|(e, _, _)| err < *e) {
                        best = Some((err, j, w));
                    }
                }
                let (_, j, w) = best.expect("k > s");
                support.push(j);
                weights = w;
            }
        }
        // Descending weight, ties to the lower index.
        let mut order: Vec<usize> = (0..support.len()).collect();
        order.sort_by(|&a, &c| {
            weights[c]
                .total_cmp(&weights[a])
                .then(support[a].cmp(&support[c]))
        });
        for (slot, &o) in order.iter().enumerate() {
            indexes[slot] = support[o] as u16;
            values[slot] = weights[o].max(0.0) as f32;
        }
        // Fewer prototypes than asked for (k < s): the rest weigh nothing.
        for slot in support.len()..indexes.len() {
            indexes[slot] = 0;
            values[slot] = 0.0;
        }
    }

    /// Least squares on the simplex over `support` (at most [`MAX_KEPT`] prototypes): every
    /// subset's equality-constrained solution, the best feasible one. Returns the error (less
    /// `|x|²`) and the weights in support order.
    fn best_on_support(&self, support: &[usize], b: &[f64]) -> (f64, Vec<f64>) {
        const DIM: usize = MAX_KEPT + 1;
        let m = support.len();
        debug_assert!(m <= MAX_KEPT);
        let k = self.k;
        let mut best = (f64::INFINITY, [0f64; MAX_KEPT]);
        let mut sub = [0usize; MAX_KEPT];
        let mut a = [0f64; DIM * (DIM + 1)];
        for mask in 1u32..(1 << m) {
            let mut n = 0;
            for i in 0..m {
                if mask & (1 << i) != 0 {
                    sub[n] = i;
                    n += 1;
                }
            }
            // KKT system [G 1; 1ᵀ 0] [w; λ] = [b; 1].
            let dim = n + 1;
            let a = &mut a[..dim * (dim + 1)];
            a.fill(0.0);
            for r in 0..n {
                for c in 0..n {
                    a[r * (dim + 1) + c] = self.gram[support[sub[r]] * k + support[sub[c]]];
                }
                a[r * (dim + 1) + n] = 1.0;
                a[r * (dim + 1) + dim] = b[support[sub[r]]];
                a[n * (dim + 1) + r] = 1.0;
            }
            a[n * (dim + 1) + dim] = 1.0;
            let mut sol = [0f64; DIM];
            if !solve_dense(a, dim, &mut sol[..dim]) || sol[..n].iter().any(|&w| w < -1e-12) {
                continue;
            }
            let mut w = [0f64; MAX_KEPT];
            for r in 0..n {
                w[sub[r]] = sol[r].max(0.0);
            }
            let mut err = 0.0;
            for i in 0..m {
                err -= 2.0 * w[i] * b[support[i]];
                for j in 0..m {
                    err += w[i] * w[j] * self.gram[support[i] * k + support[j]];
                }
            }
            if err < best.0 {
                best = (err, w);
            }
        }
        (best.0, best.1[..m].to_vec())
    }
}

/// Solves the `n × n` system stored row-major with its right-hand side as column `n` of an
/// `n × (n + 1)` matrix (Gaussian elimination, partial pivoting) into `x`; false if
/// singular.
fn solve_dense(a: &mut [f64], n: usize, x: &mut [f64]) -> bool {
    let w = n + 1;
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&r, &s| a[r * w + col].abs().total_cmp(&a[s * w + col].abs()))
            .unwrap_or(col);
        if a[piv * w + col].abs() < 1e-12 {
            return false;
        }
        if piv != col {
            for c in 0..w {
                a.swap(piv * w + c, col * w + c);
            }
        }
        for r in col + 1..n {
            let f = a[r * w + col] / a[col * w + col];
            for c in col..w {
                a[r * w + c] -= f * a[col * w + c];
            }
        }
    }
    for r in (0..n).rev() {
        let mut v = a[r * w + n];
        for c in r + 1..n {
            v -= a[r * w + c] * x[c];
        }
        x[r] = v / a[r * w + r];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_exact_mix_of_two_prototypes() {
        // Four corners of a square; x is 0.3 a0 + 0.7 a2.
        let protos = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let s = SparseSolver::new(&protos, 2);
        let x = [0.3 * 0.0 + 0.7 * 1.0, 0.3 * 0.0 + 0.7 * 1.0];
        let mut idx = [0u16; 2];
        let mut w = [0f32; 2];
        s.solve(&x, &mut idx, &mut w);
        assert_eq!(idx, [2, 0]);
        assert!(
            (w[0] - 0.7).abs() < 1e-6 && (w[1] - 0.3).abs() < 1e-6,
            "{w:?}"
        );
        let mut idx3 = [0u16; 3];
        let mut w3 = [0f32; 3];
        s.solve(&[0.5, 0.25], &mut idx3, &mut w3);
        assert!((w3.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{w3:?}");
        let rec: Vec<f32> = (0..2)
            .map(|f| {
                idx3.iter()
                    .zip(&w3)
                    .map(|(&j, &wv)| wv * protos[j as usize * 2 + f] as f32)
                    .sum()
            })
            .collect();
        assert!(
            (rec[0] - 0.5).abs() < 1e-5 && (rec[1] - 0.25).abs() < 1e-5,
            "{rec:?}"
        );
    }
}
