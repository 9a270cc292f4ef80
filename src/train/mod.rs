//! Training codebooks: sample tiles, standardize them, fit a model, package the result.
#![forbid(unsafe_code)]

pub mod archetypal;
pub mod cmeans;
pub mod kmeans;
pub mod residual;
pub mod sampling;
pub mod scalar;

pub use archetypal::{Archetypal, ArchetypalParams};
pub use cmeans::{FuzzyCMeans, FuzzyCMeansParams};
pub use kmeans::{KMeans, KMeansParams};
pub use residual::{Residual, ResidualParams};
pub use sampling::sample_tiles;
pub use scalar::{ScalarFit, ScalarParams};

use crate::codebook::{Codebook, ModelKind, Scaler, TrainingInfo, Transform};
use crate::error::{Error, Result};
use ndarray::ArrayViewD;

/// Where a fit is, reported after every iteration by the `fit_observed` methods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Which initialization (0-based; Archetypal Analysis restarts `n_init` times).
    pub run: u32,
    /// Iterations done in this initialization (1-based).
    pub iteration: u32,
    /// The model's current objective (Archetypal Analysis: mean squared error; Fuzzy
    /// C-Means: change of the memberships).
    pub loss: f64,
}

/// The iteration limit and tolerance every model shares: at least one iteration, a finite
/// non-negative tolerance.
pub(crate) fn check_stopping(max_iter: u32, tol: f64) -> Result<()> {
    if max_iter == 0 {
        return Err(Error::param("max_iter", "must be at least 1"));
    }
    if !(tol >= 0.0 && tol.is_finite()) {
        return Err(Error::param(
            "tol",
            format!("{tol} must be finite and >= 0"),
        ));
    }
    Ok(())
}

/// A prototype count: 1 to [`MAX_PROTOTYPES`](crate::codebook::MAX_PROTOTYPES).
pub(crate) fn check_count(name: &'static str, k: usize) -> Result<()> {
    let max = crate::codebook::MAX_PROTOTYPES;
    if k == 0 || k > max {
        return Err(Error::param(name, format!("{k} outside 1..={max}")));
    }
    Ok(())
}

/// Training samples `x` (`n × p`): at least `k` of them, all finite. Returns `n`.
pub(crate) fn check_samples(x: &[f64], p: usize, k: usize, noun: &str) -> Result<usize> {
    let n = x.len() / p.max(1);
    if p == 0 || n < k {
        return Err(Error::InvalidData(format!(
            "{n} samples for {k} {noun}: need at least as many samples as {noun}"
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidData("samples contain NaN or infinity".into()));
    }
    Ok(n)
}

/// Which model to train, with its parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ModelParams {
    /// Fuzzy C-Means.
    FuzzyCMeans(FuzzyCMeansParams),
    /// Archetypal Analysis.
    Archetypal(ArchetypalParams),
    /// K-means (hard vector quantization).
    KMeans(KMeansParams),
    /// Residual (multi-stage, optionally mean-removed) vector quantization.
    Residual(ResidualParams),
    /// A scalar quantizer (tiles of one value; the tile shape is ignored).
    Scalar(ScalarParams),
}

impl ModelParams {
    /// The seed, iteration limit and tolerance of the fit (`sampling_seed` for models that
    /// draw nothing at random themselves: the scalar quantizer).
    fn stopping(&self, sampling_seed: u64) -> (u64, u32, f64) {
        match self {
            ModelParams::FuzzyCMeans(p) => (p.get_seed(), p.get_max_iter(), p.get_tol()),
            ModelParams::Archetypal(p) => (p.get_seed(), p.get_max_iter(), p.get_tol()),
            ModelParams::KMeans(p) => (p.get_seed(), p.get_max_iter(), p.get_tol()),
            ModelParams::Residual(p) => (p.get_seed(), p.get_max_iter(), p.get_tol()),
            ModelParams::Scalar(p) => (sampling_seed, p.get_max_iter(), p.get_tol()),
        }
    }
}

/// Everything needed to train a codebook from an array.
#[derive(Debug, Clone, PartialEq)]
pub struct CodebookParams {
    model: ModelParams,
    tile_shape: Vec<usize>,
    n_samples: usize,
    seed: u64,
    weight_bits: u8,
    kept_weights: u32,
    transform: Transform,
}

impl CodebookParams {
    /// A codebook of `model` on 4×4 tiles, 1000 training tiles, seed 0, 8-bit weights.
    pub fn new(model: ModelParams) -> Self {
        CodebookParams {
            model,
            tile_shape: vec![4, 4],
            n_samples: 1000,
            seed: 0,
            weight_bits: 8,
            kept_weights: 0,
            transform: Transform::Identity,
        }
    }

    /// Sparse weights (Fuzzy C-Means, Archetypal Analysis): keep the `kept` largest weights
    /// of each tile, renormalized; 0 keeps them all.
    pub fn kept_weights(mut self, kept: u32) -> Self {
        self.kept_weights = kept;
        self
    }

    /// A value transform applied before training and coding (e.g. [`Transform::Log10`] for
    /// data spanning many decades).
    pub fn transform(mut self, transform: Transform) -> Self {
        self.transform = transform;
        self
    }

    /// The tile shape (1 to 3 dimensions; the array's last axes).
    pub fn tile_shape(mut self, tile_shape: &[usize]) -> Self {
        self.tile_shape = tile_shape.to_vec();
        self
    }

    /// How many random tiles to train on.
    pub fn n_samples(mut self, n_samples: usize) -> Self {
        self.n_samples = n_samples;
        self
    }

    /// Seed of the tile sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Bits per quantized weight (1 to 8).
    pub fn weight_bits(mut self, bits: u8) -> Self {
        self.weight_bits = bits;
        self
    }

    /// The model parameters.
    pub fn model(&self) -> &ModelParams {
        &self.model
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<()> {
        let t = &self.tile_shape;
        if t.is_empty() || t.len() > 3 || t.contains(&0) || t.iter().any(|&s| s > u32::MAX as usize)
        {
            return Err(Error::param(
                "tile_shape",
                format!("{t:?}: 1 to 3 positive sides"),
            ));
        }
        let values = t.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
        if values.is_none_or(|v| v > crate::codebook::MAX_TILE_VALUES) {
            return Err(Error::param(
                "tile_shape",
                format!(
                    "{t:?} holds more than {} values",
                    crate::codebook::MAX_TILE_VALUES
                ),
            ));
        }
        if self.n_samples == 0 {
            return Err(Error::param("n_samples", "must be at least 1"));
        }
        if !(1..=8).contains(&self.weight_bits) {
            return Err(Error::param(
                "weight_bits",
                format!("{} outside 1..=8", self.weight_bits),
            ));
        }
        self.transform
            .validate()
            .map_err(|e| Error::param("transform", e.to_string()))?;
        let k = match &self.model {
            ModelParams::FuzzyCMeans(p) => p.check().map(|_| p.n_prototypes()),
            ModelParams::Archetypal(p) => p.check().map(|_| p.n_archetypes()),
            ModelParams::KMeans(p) => p.check().map(|_| 0),
            ModelParams::Residual(p) => p.check().map(|_| 0),
            ModelParams::Scalar(p) => p.check().map(|_| 0),
        }?;
        let max_kept = crate::weights::sparse::MAX_KEPT;
        if self.kept_weights as usize > max_kept {
            return Err(Error::param(
                "kept_weights",
                format!("{} over {max_kept}", self.kept_weights),
            ));
        }
        if self.kept_weights != 0 && (k == 0 || self.kept_weights as usize >= k) {
            return Err(Error::param(
                "kept_weights",
                if k == 0 {
                    "only Fuzzy C-Means and Archetypal Analysis have weights to keep".to_string()
                } else {
                    format!(
                        "{} must be below the {k} prototypes (0 keeps all)",
                        self.kept_weights
                    )
                },
            ));
        }
        Ok(())
    }

    /// Trains a codebook on `data`, whose last `tile_shape.len()` axes are image axes.
    pub fn fit(&self, data: &ArrayViewD<'_, f64>) -> Result<Codebook> {
        self.fit_observed(data, &mut |_| {})
    }

    /// Iterations a fit may run at most (for progress bars): `max_iter × n_init`.
    pub fn max_iterations(&self) -> u64 {
        match &self.model {
            ModelParams::FuzzyCMeans(p) => u64::from(p.get_max_iter()),
            ModelParams::Archetypal(p) => u64::from(p.get_max_iter()) * u64::from(p.get_n_init()),
            ModelParams::KMeans(p) => u64::from(p.get_max_iter()),
            ModelParams::Residual(p) => u64::from(p.get_max_iter()) * p.n_stages() as u64,
            ModelParams::Scalar(p) => u64::from(p.get_max_iter()),
        }
    }

    /// [`fit`](Self::fit), calling `observe` after every training iteration.
    pub fn fit_observed(
        &self,
        data: &ArrayViewD<'_, f64>,
        observe: &mut dyn FnMut(Progress),
    ) -> Result<Codebook> {
        self.check()?;
        let scalar = matches!(self.model, ModelParams::Scalar(_));
        // A scalar quantizer codes single values, as they are.
        let tile_shape = if scalar {
            vec![1]
        } else {
            self.tile_shape.clone()
        };
        let (mut x, p) = sample_tiles(data, &tile_shape, self.n_samples, self.seed)?;
        self.transform.forward_f64(&mut x);
        let n = x.len() / p;
        let scaler = if scalar {
            Scaler {
                mean: vec![0.0],
                scale: vec![1.0],
            }
        } else {
            Scaler::fit(&x, p)
        };
        scaler.transform(&mut x);
        let (seed, max_iter, tol) = self.model.stopping(self.seed);
        // Each model: its kind, its prototypes, and how its fit went (restarts, iterations,
        // final loss) for the codebook's `training` record.
        let (model, prototypes, n_init, iterations, loss) = match &self.model {
            ModelParams::FuzzyCMeans(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let kind = ModelKind::FuzzyCMeans {
                    fuzzifier: params.get_fuzzifier(),
                    metric: params.get_metric(),
                };
                (
                    kind,
                    fit.centers().to_vec(),
                    1,
                    fit.iterations(),
                    fit.loss(),
                )
            }
            ModelParams::KMeans(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let centers = fit.centers().to_vec();
                (ModelKind::KMeans, centers, 1, fit.iterations(), fit.loss())
            }
            ModelParams::Archetypal(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let archetypes = fit.archetypes().to_vec();
                let n_init = params.get_n_init();
                (
                    ModelKind::Archetypal,
                    archetypes,
                    n_init,
                    fit.iterations(),
                    fit.loss(),
                )
            }
            ModelParams::Residual(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let mean = fit.mean_quantizer();
                let kind = ModelKind::Residual {
                    n_stages: params.n_stages() as u32,
                    mean_bits: mean.bits,
                    mean_min: f64::from(mean.min),
                    mean_max: f64::from(mean.max),
                    beam: params.get_beam(),
                };
                (
                    kind,
                    fit.codewords().to_vec(),
                    1,
                    fit.iterations(),
                    fit.loss(),
                )
            }
            ModelParams::Scalar(params) => {
                let fit = params.fit(&x)?;
                observe(Progress {
                    run: 0,
                    iteration: fit.iterations(),
                    loss: fit.loss(),
                });
                let kind = ModelKind::Scalar {
                    method: params.get_method(),
                };
                (kind, fit.levels().to_vec(), 1, fit.iterations(), fit.loss())
            }
        };
        let info = TrainingInfo {
            n_samples: n as u64,
            seed,
            max_iter,
            tol,
            n_init,
            iterations,
            loss,
        };
        Codebook::new(
            model,
            info,
            tile_shape.iter().map(|&t| t as u32).collect(),
            scaler,
            prototypes,
            self.weight_bits,
        )?
        .with_kept_weights(self.kept_weights)?
        .with_transform(self.transform)
    }
}
