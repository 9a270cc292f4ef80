//! Archetypal Analysis: the prototypes are convex mixtures of training tiles and a tile's
//! weights are the exact least-squares solution on the simplex, coded as
//! the weight codes shared with Fuzzy C-Means (`weight_codes.rs`).

mod fit;

pub use fit::{Archetypal, ArchetypalParams};

use super::weight_codes::{Weigher, WeightCoder};
use super::{Basis, Coder, Fitted, KindParams, Names, Room, TrainOptions};
use crate::codebook::{Codebook, ModelKind, MAX_PROTOTYPES};
use crate::error::Result;
use crate::train::{ModelParams, Observer};
use crate::weights::{SimplexSolver, SimplexWorkspace};

/// Archetypes of a default Archetypal Analysis codebook.
pub const DEFAULT_ARCHETYPES: usize = 36;

impl Default for ArchetypalParams {
    /// [`ArchetypalParams::new`] with [`DEFAULT_ARCHETYPES`].
    fn default() -> Self {
        ArchetypalParams::new(DEFAULT_ARCHETYPES)
    }
}

pub(crate) struct ArchetypalRoom;

impl Room for ArchetypalRoom {
    fn names(&self) -> Names {
        Names {
            code: 2,
            schema: "archetypal",
            short: "aa",
            has_weights: true,
        }
    }

    fn default_params(&self) -> ModelParams {
        ModelParams::Archetypal(ArchetypalParams::default())
    }

    fn params_from_options(&self, o: &TrainOptions) -> ModelParams {
        ModelParams::Archetypal(
            ArchetypalParams::new(o.n_prototypes)
                .n_init(o.n_init)
                .max_iter(o.max_iter)
                .tol(o.tol)
                .seed(o.seed),
        )
    }

    fn write_options(&self, params: &ModelParams, o: &mut TrainOptions) {
        if let ModelParams::Archetypal(p) = params {
            o.n_prototypes = p.n_archetypes();
            o.n_init = p.get_n_init();
            o.max_iter = p.get_max_iter();
            o.tol = p.get_tol();
        }
    }

    fn max_prototypes(&self) -> usize {
        MAX_PROTOTYPES
    }

    fn validate(&self, _cb: &Codebook) -> Result<()> {
        Ok(())
    }

    fn prepare(&self, cb: &Codebook, basis: &Basis) -> Box<dyn Coder> {
        let weigher = SimplexWeigher {
            archetypes: cb.prototypes().to_vec(),
            solver: SimplexSolver::new(cb.prototypes(), basis.k, basis.p),
        };
        Box::new(WeightCoder::new(cb, weigher))
    }
}

/// Least squares on the simplex as weights.
#[derive(Debug)]
struct SimplexWeigher {
    /// The archetypes (`k × p`, standardized space).
    archetypes: Vec<f64>,
    solver: SimplexSolver,
}

impl Weigher for SimplexWeigher {
    fn weigh(&self, tiles: &[f32], p: usize, out: &mut [f32]) {
        let k = self.solver.k();
        let mut ws = SimplexWorkspace::default();
        let mut x = vec![0f64; p];
        let mut b = vec![0f64; k];
        let mut w = vec![0f64; k];
        for (tile, out_w) in tiles.chunks_exact(p).zip(out.chunks_exact_mut(k)) {
            for (xi, &t) in x.iter_mut().zip(tile) {
                *xi = f64::from(t);
            }
            SimplexSolver::linear_term(&self.archetypes, &x, &mut b);
            self.solver.solve(&b, &mut w, &mut ws);
            for (o, &v) in out_w.iter_mut().zip(&w) {
                *o = v as f32;
            }
        }
    }
}

impl KindParams for ArchetypalParams {
    fn check(&self) -> Result<()> {
        ArchetypalParams::check(self)
    }

    fn n_weights(&self) -> Option<usize> {
        Some(self.n_archetypes())
    }

    fn max_iterations(&self) -> u64 {
        u64::from(self.get_max_iter()) * u64::from(self.get_n_init())
    }

    fn stopping(&self) -> (Option<u64>, u32, f64) {
        (Some(self.get_seed()), self.get_max_iter(), self.get_tol())
    }

    fn fit(&self, x: &[f64], p: usize, observe: &mut Observer<'_>) -> Result<Fitted> {
        let fit = self.fit_observed(x, p, observe)?;
        Ok(Fitted {
            model: ModelKind::Archetypal,
            prototypes: fit.archetypes().to_vec(),
            n_init: self.get_n_init(),
            iterations: fit.iterations(),
            loss: fit.loss(),
        })
    }
}
