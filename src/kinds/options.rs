//! Every training option of every kind in one flat struct: what the C API's
//! `blosc2_vq_train_params`, the CLI's `train` flags and Python's `train` keywords carry.
//! Their defaults are [`TrainOptions::defaults`], made from the Rust parameter types, so the
//! four surfaces cannot disagree.

use super::Kind;
use crate::codebook::{ScalarMethod, Transform};
use crate::train::{CodebookParams, Metric, ModelParams};

/// Training options of every kind, flat. Start from [`TrainOptions::defaults`], change what
/// you need, then [`codebook_params`](Self::codebook_params). Fields of other kinds are
/// ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// The kind to train.
    pub kind: Kind,
    /// Prototypes, centres, archetypes or codewords (codewords per stage for residual VQ;
    /// ignored by the scalar quantizer).
    pub n_prototypes: usize,
    /// The tile shape (the data's last axes; ignored by the scalar quantizer).
    pub tile_shape: Vec<usize>,
    /// Training tiles drawn at random.
    pub n_samples: usize,
    /// Seed of the tile sampling and of the model's initialization.
    pub seed: u64,
    /// Iteration limit.
    pub max_iter: u32,
    /// Convergence tolerance.
    pub tol: f64,
    /// Bits per quantized weight (weight kinds).
    pub weight_bits: u8,
    /// Sparse weights kept per tile; 0 keeps all (weight kinds).
    pub kept_weights: u32,
    /// The value transform.
    pub transform: Transform,
    /// The error bound sealed into the codebook (residual VQ), if any.
    pub max_error: Option<f64>,
    /// Fuzzy C-Means: the fuzzifier `m > 1`.
    pub fuzzifier: f64,
    /// Fuzzy C-Means: the distance of the memberships.
    pub metric: Metric,
    /// Archetypal Analysis: restarts, the best kept.
    pub n_init: u32,
    /// Residual VQ: stages.
    pub n_stages: usize,
    /// Residual VQ: bits of the tile mean removed first (0: none).
    pub mean_bits: u8,
    /// Residual VQ: candidate paths of the encoder's beam search (1: greedy).
    pub beam: u32,
    /// Scalar quantizer: how levels are placed.
    pub scalar_method: ScalarMethod,
    /// Scalar quantizer: bits per value (`2^bits` levels).
    pub scalar_bits: u8,
}

impl TrainOptions {
    /// The defaults for `kind`: [`CodebookParams::new`]'s and the kind's default parameters;
    /// the fields of other kinds hold their kinds' defaults.
    pub fn defaults(kind: Kind) -> Self {
        let base = CodebookParams::new(ModelParams::defaults(kind));
        let mut options = TrainOptions {
            kind,
            n_prototypes: 0,
            tile_shape: base.get_tile_shape().to_vec(),
            n_samples: base.get_n_samples(),
            seed: base.get_seed(),
            max_iter: 0,
            tol: 0.0,
            weight_bits: base.get_weight_bits(),
            kept_weights: base.get_kept_weights(),
            transform: base.get_transform(),
            max_error: base.get_max_error(),
            fuzzifier: 0.0,
            metric: Metric::Cosine,
            n_init: 0,
            n_stages: 0,
            mean_bits: 0,
            beam: 0,
            scalar_method: ScalarMethod::LloydMax,
            scalar_bits: 0,
        };
        // Every kind writes its own fields; `kind` last, so that the shared ones (prototype
        // count, iteration limit, tolerance) are its own.
        for other in Kind::ALL.into_iter().filter(|&k| k != kind).chain([kind]) {
            let room = other.room();
            room.write_options(&room.default_params(), &mut options);
        }
        options
    }

    /// The kind's training parameters these options describe.
    pub fn model_params(&self) -> ModelParams {
        self.kind.room().params_from_options(self)
    }

    /// The codebook parameters these options describe (checked when fitting).
    pub fn codebook_params(&self) -> CodebookParams {
        CodebookParams::new(self.model_params())
            .tile_shape(&self.tile_shape)
            .n_samples(self.n_samples)
            .seed(self.seed)
            .weight_bits(self.weight_bits)
            .kept_weights(self.kept_weights)
            .transform(self.transform)
            .max_error(self.max_error)
    }
}
