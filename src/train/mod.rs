//! Training codebooks: sample tiles, standardize them, fit a model, package the result.
#![forbid(unsafe_code)]

pub mod archetypal;
pub mod cmeans;
pub mod kmeans;
pub mod sampling;

pub use archetypal::{Archetypal, ArchetypalParams};
pub use cmeans::{FuzzyCMeans, FuzzyCMeansParams};
pub use kmeans::{KMeans, KMeansParams};
pub use sampling::sample_tiles;

use crate::codebook::{Codebook, ModelKind, Scaler, TrainingInfo};
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
}

/// Everything needed to train a codebook from an array.
#[derive(Debug, Clone, PartialEq)]
pub struct CodebookParams {
    model: ModelParams,
    tile_shape: Vec<usize>,
    n_samples: usize,
    seed: u64,
    weight_bits: u8,
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
        }
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
        match &self.model {
            ModelParams::FuzzyCMeans(p) => p.check(),
            ModelParams::Archetypal(p) => p.check(),
            ModelParams::KMeans(p) => p.check(),
        }
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
        }
    }

    /// [`fit`](Self::fit), calling `observe` after every training iteration.
    pub fn fit_observed(
        &self,
        data: &ArrayViewD<'_, f64>,
        observe: &mut dyn FnMut(Progress),
    ) -> Result<Codebook> {
        self.check()?;
        let (mut x, p) = sample_tiles(data, &self.tile_shape, self.n_samples, self.seed)?;
        let n = x.len() / p;
        let scaler = Scaler::fit(&x, p);
        scaler.transform(&mut x);
        // How a fit went, for the codebook's `training` record.
        let info = |seed: u64, max_iter: u32, tol: f64, n_init: u32, iterations: u32, loss: f64| {
            TrainingInfo {
                n_samples: n as u64,
                seed,
                max_iter,
                tol,
                n_init,
                iterations,
                loss,
            }
        };
        let (model, prototypes, info) = match &self.model {
            ModelParams::FuzzyCMeans(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let kind = ModelKind::FuzzyCMeans {
                    fuzzifier: params.get_fuzzifier(),
                    metric: params.get_metric(),
                };
                let record = info(
                    params.get_seed(),
                    params.get_max_iter(),
                    params.get_tol(),
                    1,
                    fit.iterations(),
                    fit.loss(),
                );
                (kind, fit.centers().to_vec(), record)
            }
            ModelParams::KMeans(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let record = info(
                    params.get_seed(),
                    params.get_max_iter(),
                    params.get_tol(),
                    1,
                    fit.iterations(),
                    fit.loss(),
                );
                (ModelKind::KMeans, fit.centers().to_vec(), record)
            }
            ModelParams::Archetypal(params) => {
                let fit = params.fit_observed(&x, p, observe)?;
                let record = info(
                    params.get_seed(),
                    params.get_max_iter(),
                    params.get_tol(),
                    params.get_n_init(),
                    fit.iterations(),
                    fit.loss(),
                );
                (ModelKind::Archetypal, fit.archetypes().to_vec(), record)
            }
        };
        Codebook::new(
            model,
            info,
            self.tile_shape.iter().map(|&t| t as u32).collect(),
            scaler,
            prototypes,
            self.weight_bits,
        )
    }
}
