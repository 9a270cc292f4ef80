//! Fuzzy C-Means: the prototypes are the centres of a soft clustering and a tile's weights are
//! its memberships (`u_j ∝ d_j^(-2/(m-1))`), coded as the
//! weight codes shared with Archetypal Analysis (`weight_codes.rs`).

mod fit;

pub use fit::{FuzzyCMeans, FuzzyCMeansParams};

use super::weight_codes::{Weigher, WeightCoder};
use super::{Basis, Coder, Fitted, KindParams, Names, Room, TrainOptions};
use crate::codebook::{Codebook, ModelKind, MAX_PROTOTYPES};
use crate::error::{Error, Result};
use crate::train::{ModelParams, Observer};
use crate::weights::Memberships;

/// Prototypes of a default Fuzzy C-Means codebook.
pub const DEFAULT_PROTOTYPES: usize = 36;

impl Default for FuzzyCMeansParams {
    /// [`FuzzyCMeansParams::new`] with [`DEFAULT_PROTOTYPES`].
    fn default() -> Self {
        FuzzyCMeansParams::new(DEFAULT_PROTOTYPES)
    }
}

pub(crate) struct FuzzyCMeansRoom;

impl Room for FuzzyCMeansRoom {
    fn names(&self) -> Names {
        Names {
            code: 1,
            schema: "fuzzy_cmeans",
            short: "cmeans",
            has_weights: true,
        }
    }

    fn default_params(&self) -> ModelParams {
        ModelParams::FuzzyCMeans(FuzzyCMeansParams::default())
    }

    fn params_from_options(&self, o: &TrainOptions) -> ModelParams {
        ModelParams::FuzzyCMeans(
            FuzzyCMeansParams::new(o.n_prototypes)
                .fuzzifier(o.fuzzifier)
                .metric(o.metric)
                .max_iter(o.max_iter)
                .tol(o.tol)
                .seed(o.seed),
        )
    }

    fn write_options(&self, params: &ModelParams, o: &mut TrainOptions) {
        if let ModelParams::FuzzyCMeans(p) = params {
            o.n_prototypes = p.n_prototypes();
            o.fuzzifier = p.get_fuzzifier();
            o.metric = p.get_metric();
            o.max_iter = p.get_max_iter();
            o.tol = p.get_tol();
        }
    }

    fn max_prototypes(&self) -> usize {
        MAX_PROTOTYPES
    }

    fn validate(&self, cb: &Codebook) -> Result<()> {
        if let ModelKind::FuzzyCMeans { fuzzifier, .. } = *cb.model() {
            if !(fuzzifier > 1.0 && fuzzifier.is_finite()) {
                return Err(Error::InvalidCodebook(format!(
                    "fuzzifier {fuzzifier} must be finite and > 1"
                )));
            }
        }
        Ok(())
    }

    fn prepare(&self, cb: &Codebook, basis: &Basis) -> Box<dyn Coder> {
        let ModelKind::FuzzyCMeans { fuzzifier, metric } = *cb.model() else {
            unreachable!("the registry hands this room its own kind")
        };
        let memberships = Memberships::new(
            cb.prototypes().iter().map(|&v| v as f32).collect(),
            basis.p,
            fuzzifier,
            metric,
        );
        Box::new(WeightCoder::new(cb, FuzzyWeigher(memberships)))
    }
}

/// Memberships as weights.
#[derive(Debug)]
struct FuzzyWeigher(Memberships<f32>);

impl Weigher for FuzzyWeigher {
    fn weigh(&self, tiles: &[f32], p: usize, out: &mut [f32]) {
        debug_assert_eq!(out.len(), tiles.len() / p * self.0.n_centers());
        self.0.compute_rows(tiles, out, &mut Vec::new());
    }
}

impl KindParams for FuzzyCMeansParams {
    fn check(&self) -> Result<()> {
        FuzzyCMeansParams::check(self)
    }

    fn n_weights(&self) -> Option<usize> {
        Some(self.n_prototypes())
    }

    fn max_iterations(&self) -> u64 {
        u64::from(self.get_max_iter())
    }

    fn stopping(&self) -> (Option<u64>, u32, f64) {
        (Some(self.get_seed()), self.get_max_iter(), self.get_tol())
    }

    fn fit(&self, x: &[f64], p: usize, observe: &mut Observer<'_>) -> Result<Fitted> {
        let fit = self.fit_observed(x, p, observe)?;
        Ok(Fitted {
            model: ModelKind::FuzzyCMeans {
                fuzzifier: self.get_fuzzifier(),
                metric: self.get_metric(),
            },
            prototypes: fit.centers().to_vec(),
            n_init: 1,
            iterations: fit.iterations(),
            loss: fit.loss(),
        })
    }
}
