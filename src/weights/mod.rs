//! Tiles to weights: how much of each prototype a (standardized) tile holds, and the
//! quantization of those weights to bytes.
#![forbid(unsafe_code)]

pub mod fuzzy;
pub mod quantize;
pub mod residual;
pub mod scalar;
pub mod simplex;
pub mod sparse;

pub use fuzzy::{Memberships, Metric};
pub use residual::{MeanQuantizer, ResidualStages};
pub use scalar::ScalarLevels;
pub use simplex::{SimplexSolver, SimplexWorkspace};
pub use sparse::SparseSolver;

/// The per-tile weight computation of one codebook.
#[derive(Debug, Clone)]
pub enum WeightKernel {
    /// Fuzzy C-Means memberships.
    Fuzzy(Memberships<f32>),
    /// K-means: the nearest codeword (a one-hot weight vector).
    Nearest(Memberships<f32>),
    /// Archetypal Analysis: least squares on the simplex.
    Archetypal {
        /// The archetypes (`k × p`, standardized space).
        archetypes: Vec<f64>,
        /// The prepared solver.
        solver: SimplexSolver,
    },
    /// Residual VQ: one nearest codeword per stage.
    Residual(ResidualStages),
    /// A scalar quantizer: the nearest level of every value.
    Scalar(ScalarLevels),
}

impl WeightKernel {
    /// Number of prototypes (weights per tile).
    pub fn n_prototypes(&self) -> usize {
        match self {
            WeightKernel::Fuzzy(m) | WeightKernel::Nearest(m) => m.n_centers(),
            WeightKernel::Archetypal { solver, .. } => solver.k(),
            WeightKernel::Residual(r) => r.k() * r.n_stages(),
            WeightKernel::Scalar(s) => s.len(),
        }
    }

    /// For k-means codebooks: the index of the nearest codeword of every tile (`n × p`,
    /// standardized) into `out` (`n`); `scratch` holds `k` values.
    pub fn nearest(&self, tiles: &[f32], p: usize, out: &mut [u16], scratch: &mut [f32]) {
        let WeightKernel::Nearest(m) = self else {
            panic!("nearest() needs a k-means codebook")
        };
        for (x, o) in tiles.chunks_exact(p).zip(out.iter_mut()) {
            *o = m.nearest(x, scratch) as u16;
        }
    }

    /// Computes the weights of every tile in `tiles` (`n × p`, standardized) into `out`
    /// (`n × k`).
    pub fn compute(&self, tiles: &[f32], p: usize, out: &mut [f32]) {
        let k = self.n_prototypes();
        debug_assert_eq!(tiles.len() / p, out.len() / k);
        match self {
            WeightKernel::Residual(_) | WeightKernel::Scalar(_) => {
                panic!("compute() needs a weight or k-means codebook")
            }
            WeightKernel::Nearest(m) => {
                let mut scratch = vec![0f32; k];
                for (x, w) in tiles.chunks_exact(p).zip(out.chunks_exact_mut(k)) {
                    w.fill(0.0);
                    w[m.nearest(x, &mut scratch)] = 1.0;
                }
            }
            WeightKernel::Fuzzy(m) => {
                for (x, w) in tiles.chunks_exact(p).zip(out.chunks_exact_mut(k)) {
                    m.compute(x, w);
                }
            }
            WeightKernel::Archetypal { archetypes, solver } => {
                let mut ws = SimplexWorkspace::default();
                let mut x = vec![0f64; p];
                let mut b = vec![0f64; k];
                let mut w = vec![0f64; k];
                for (tile, out_w) in tiles.chunks_exact(p).zip(out.chunks_exact_mut(k)) {
                    for (xi, &t) in x.iter_mut().zip(tile) {
                        *xi = f64::from(t);
                    }
                    SimplexSolver::linear_term(archetypes, &x, &mut b);
                    solver.solve(&b, &mut w, &mut ws);
                    for (o, &v) in out_w.iter_mut().zip(&w) {
                        *o = v as f32;
                    }
                }
            }
        }
    }
}
