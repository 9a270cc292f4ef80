//! Training codebooks: sample tiles, standardize them, fit a model, package the result. Each
//! kind's parameters and fit live in its room under [`kinds`](crate::kinds); this module
//! holds what they share.
#![forbid(unsafe_code)]

pub mod sampling;

pub use crate::kinds::archetypal::{Archetypal, ArchetypalParams};
pub use crate::kinds::fuzzy_cmeans::{FuzzyCMeans, FuzzyCMeansParams};
pub use crate::kinds::kmeans::{KMeans, KMeansParams};
pub use crate::kinds::residual::{MeanQuantizer, Residual, ResidualParams};
pub use crate::kinds::scalar::{ScalarFit, ScalarParams};
pub use crate::kinds::{Kind, TrainOptions};
pub use crate::weights::Metric;
pub use sampling::{sample_tiles, sample_tiles_from, ValueSource};

use crate::codebook::{Codebook, Scaler, TrainingInfo, Transform};
use crate::error::{Error, Result};
use crate::kinds::weight_codes::check_weight_bits;
use crate::kinds::KindParams;
use ndarray::ArrayViewD;
use std::ops::ControlFlow;

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

/// What the `fit_observed` methods call after every iteration; `Break` stops training with
/// [`Error::Cancelled`].
pub type Observer<'a> = dyn FnMut(Progress) -> ControlFlow<()> + 'a;

/// Hands `progress` to `observe`: [`Error::Cancelled`] once it asks to stop.
pub(crate) fn report(observe: &mut Observer<'_>, progress: Progress) -> Result<()> {
    match observe(progress) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Error::Cancelled),
    }
}

/// An observer that lets training run to its end (what the plain `fit` methods pass).
pub(crate) fn unobserved(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
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
    /// The default parameters of `kind` (also the C API's, the CLI's and Python's).
    pub fn defaults(kind: Kind) -> Self {
        kind.room().default_params()
    }

    /// The kind these parameters train.
    pub fn kind(&self) -> Kind {
        match self {
            ModelParams::FuzzyCMeans(_) => Kind::FuzzyCMeans,
            ModelParams::Archetypal(_) => Kind::Archetypal,
            ModelParams::KMeans(_) => Kind::KMeans,
            ModelParams::Residual(_) => Kind::Residual,
            ModelParams::Scalar(_) => Kind::Scalar,
        }
    }

    /// The kind's own parameters, behind the trait every kind implements.
    fn kind_params(&self) -> &dyn KindParams {
        match self {
            ModelParams::FuzzyCMeans(p) => p,
            ModelParams::Archetypal(p) => p,
            ModelParams::KMeans(p) => p,
            ModelParams::Residual(p) => p,
            ModelParams::Scalar(p) => p,
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
    max_error: Option<f64>,
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
            max_error: None,
        }
    }

    /// Seal an error bound into the codebook (residual codebooks; see
    /// [`Codebook::with_max_error`]); `None` (the default) leaves blocks fixed-rate.
    pub fn max_error(mut self, max_error: Option<f64>) -> Self {
        self.max_error = max_error;
        self
    }

    /// The error bound sealed into the codebook, if any.
    pub fn get_max_error(&self) -> Option<f64> {
        self.max_error
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

    /// The tile shape.
    pub fn get_tile_shape(&self) -> &[usize] {
        &self.tile_shape
    }

    /// Training tiles drawn.
    pub fn get_n_samples(&self) -> usize {
        self.n_samples
    }

    /// Seed of the tile sampling.
    pub fn get_seed(&self) -> u64 {
        self.seed
    }

    /// Bits per quantized weight.
    pub fn get_weight_bits(&self) -> u8 {
        self.weight_bits
    }

    /// Sparse weights kept per tile (0: all).
    pub fn get_kept_weights(&self) -> u32 {
        self.kept_weights
    }

    /// The value transform.
    pub fn get_transform(&self) -> Transform {
        self.transform
    }

    /// Validates the parameters, one error per bad field.
    pub fn check(&self) -> Result<()> {
        crate::codebook::check_tile_shape(&self.tile_shape)
            .map_err(|reason| Error::param("tile_shape", reason))?;
        if self.n_samples == 0 {
            return Err(Error::param("n_samples", "must be at least 1"));
        }
        check_weight_bits("weight_bits", self.weight_bits)?;
        self.transform
            .validate()
            .map_err(|e| Error::param("transform", e.to_string()))?;
        if let Some(e) = self.max_error {
            crate::codebook::check_max_error(e)?;
            if self.model.kind() != crate::kinds::Kind::Residual {
                return Err(Error::param(
                    "max_error",
                    format!(
                        "error-bounded coding needs a residual codebook, not {}",
                        self.model.kind().name()
                    ),
                ));
            }
        }
        let kind = self.model.kind_params();
        kind.check()?;
        let max_kept = crate::weights::sparse::MAX_KEPT;
        if self.kept_weights as usize > max_kept {
            return Err(Error::param(
                "kept_weights",
                format!("{} over {max_kept}", self.kept_weights),
            ));
        }
        if self.kept_weights != 0 {
            match kind.n_weights() {
                None => {
                    return Err(Error::param(
                        "kept_weights",
                        "only Fuzzy C-Means and Archetypal Analysis have weights to keep",
                    ))
                }
                Some(k) if self.kept_weights as usize >= k => {
                    return Err(Error::param(
                        "kept_weights",
                        format!(
                            "{} must be below the {k} prototypes (0 keeps all)",
                            self.kept_weights
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Trains a codebook on `data`, whose last `tile_shape.len()` axes are image axes.
    pub fn fit(&self, data: &ArrayViewD<'_, f64>) -> Result<Codebook> {
        self.fit_observed(data, &mut unobserved)
    }

    /// Iterations a fit may run at most (for progress bars): `max_iter × n_init`.
    pub fn max_iterations(&self) -> u64 {
        self.model.kind_params().max_iterations()
    }

    /// [`fit`](Self::fit), calling `observe` after every training iteration; when it
    /// returns `Break`, training stops with [`Error::Cancelled`] (nothing is returned).
    pub fn fit_observed(
        &self,
        data: &ArrayViewD<'_, f64>,
        observe: &mut Observer<'_>,
    ) -> Result<Codebook> {
        self.check()?;
        let tile_shape = self.sampled_tile_shape();
        let (x, p) = sample_tiles(data, &tile_shape, self.n_samples, self.seed)?;
        self.fit_sample(x, p, observe)
    }

    /// [`fit_observed`](Self::fit_observed) on an array read through `source` instead of
    /// held in memory: the same tiles are drawn, so the same codebook comes out (only the
    /// drawn tiles are checked for NaN and infinity). See [`sample_tiles_from`].
    pub fn fit_source(
        &self,
        source: &mut dyn ValueSource,
        observe: &mut Observer<'_>,
    ) -> Result<Codebook> {
        self.check()?;
        let tile_shape = self.sampled_tile_shape();
        let (x, p) = sample_tiles_from(source, &tile_shape, self.n_samples, self.seed)?;
        self.fit_sample(x, p, observe)
    }

    /// The tiles training draws: a scalar quantizer codes single values, as they are.
    fn sampled_tile_shape(&self) -> Vec<usize> {
        if self.model.kind_params().codes_single_values() {
            vec![1]
        } else {
            self.tile_shape.clone()
        }
    }

    /// Fits the model on drawn tiles (`p` values each) and packages the codebook.
    fn fit_sample(
        &self,
        mut x: Vec<f64>,
        p: usize,
        observe: &mut Observer<'_>,
    ) -> Result<Codebook> {
        let kind = self.model.kind_params();
        let single = kind.codes_single_values();
        let tile_shape = self.sampled_tile_shape();
        self.transform.forward_f64(&mut x);
        let n = x.len() / p;
        let scaler = if single {
            Scaler::identity(1)
        } else {
            Scaler::fit(&x, p)
        };
        scaler.transform(&mut x);
        let fitted = kind.fit(&x, p, observe)?;
        let (seed, max_iter, tol) = kind.stopping();
        let training = TrainingInfo {
            n_samples: n as u64,
            seed: seed.unwrap_or(self.seed),
            max_iter,
            tol,
            n_init: fitted.n_init,
            iterations: fitted.iterations,
            loss: fitted.loss,
        };
        let codebook = Codebook::new(
            fitted.model,
            training,
            tile_shape.iter().map(|&t| t as u32).collect(),
            scaler,
            fitted.prototypes,
            self.weight_bits,
        )?
        .with_kept_weights(self.kept_weights)?
        .with_transform(self.transform)?;
        match self.max_error {
            Some(e) => codebook.with_max_error(e),
            None => Ok(codebook),
        }
    }
}
