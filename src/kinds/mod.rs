//! The codebook kinds, one room each: a kind's training parameters (with their defaults and
//! limits), its fit, the checks of its codebooks, its prepared form, and how it codes tiles
//! into a block's payload and back.
//!
//! | kind | module | payload streams, one after the other (each bit-packed, byte-aligned) |
//! |---|---|---|
//! | Fuzzy C-Means | [`fuzzy_cmeans`] | weights, dense or sparse (`weight_codes.rs`) |
//! | Archetypal Analysis | [`archetypal`] | weights, dense or sparse (`weight_codes.rs`) |
//! | k-means | [`kmeans`] | `n_tiles` codeword indexes |
//! | residual VQ | [`residual`] | `n_tiles` quantized means at `mean_bits` (if any), then `n_stages × n_tiles` indexes, stage-major |
//! | scalar quantizer | [`scalar`] | one level index per value |
//!
//! Indexes take [`index_bits`]`(k)` bits: the fewest that hold `k - 1`.
//!
//! Every surface (the block codec, the C API, the CLI, Python through the C API) reaches a
//! kind through [`Kind`]: [`Kind::ALL`] lists them and `Kind::room` is the one place that
//! maps a kind to its module. Adding a kind is one module here implementing the crate's
//! `Room`, `KindParams` and `Coder` traits, one variant of [`Kind`], of
//! [`ModelKind`] (the codebook's schema) and of
//! [`ModelParams`], and one `BLOSC2_VQ_MODEL_*` constant in `ffi`.
#![forbid(unsafe_code)]

pub mod archetypal;
pub mod fuzzy_cmeans;
pub mod kmeans;
mod options;
pub mod residual;
pub mod scalar;
pub(crate) mod weight_codes;

pub use options::TrainOptions;

use crate::codebook::{Codebook, ModelKind};
use crate::error::Result;
use crate::train::{ModelParams, Observer};

/// Bits needed to store an index below `n` (at least 1).
pub const fn index_bits(n: usize) -> u8 {
    if n <= 2 {
        1
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as u8
    }
}

/// A codebook kind. [`Kind::ALL`] is the list every surface offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// Fuzzy C-Means: weights are memberships.
    FuzzyCMeans,
    /// Archetypal Analysis: weights are simplex least-squares coefficients.
    Archetypal,
    /// k-means (hard vector quantization): one codeword index per tile.
    KMeans,
    /// Residual (multi-stage) vector quantization.
    Residual,
    /// A scalar quantizer: every value on its own.
    Scalar,
}

impl Kind {
    /// Every kind, in the order of their block codes.
    pub const ALL: [Kind; 5] = [
        Kind::FuzzyCMeans,
        Kind::Archetypal,
        Kind::KMeans,
        Kind::Residual,
        Kind::Scalar,
    ];

    /// The module that implements this kind: the registry.
    pub(crate) fn room(self) -> &'static dyn Room {
        match self {
            Kind::FuzzyCMeans => &fuzzy_cmeans::FuzzyCMeansRoom,
            Kind::Archetypal => &archetypal::ArchetypalRoom,
            Kind::KMeans => &kmeans::KMeansRoom,
            Kind::Residual => &residual::ResidualRoom,
            Kind::Scalar => &scalar::ScalarRoom,
        }
    }

    /// The one-byte code of this kind in block headers, which is also its
    /// `BLOSC2_VQ_MODEL_*` value in the C API.
    pub fn code(self) -> u8 {
        self.room().names().code
    }

    /// The kind's name in the codebook's MessagePack schema (`fuzzy_cmeans`, `archetypal`,
    /// `kmeans`, `residual`, `scalar`).
    pub fn name(self) -> &'static str {
        self.room().names().schema
    }

    /// The short name the CLI's `--model` and Python's `model=` take (`cmeans`, `aa`,
    /// `kmeans`, `residual`, `scalar`).
    pub fn short_name(self) -> &'static str {
        self.room().names().short
    }

    /// The kind with this short or schema name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.short_name() == name || k.name() == name)
    }

    /// The kind with this block code (`BLOSC2_VQ_MODEL_*` value).
    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether blocks hold weights (Fuzzy C-Means, Archetypal Analysis) rather than
    /// indexes: only these take a weight depth, `codec_meta` and sparse weights.
    pub fn has_weights(self) -> bool {
        self.room().names().has_weights
    }
}

/// How a kind is named and what its blocks hold.
pub(crate) struct Names {
    /// Block code and C constant.
    pub code: u8,
    /// Schema name.
    pub schema: &'static str,
    /// CLI and Python name.
    pub short: &'static str,
    /// Blocks hold weights.
    pub has_weights: bool,
}

/// What one kind's module provides to the codebook and to the surfaces.
pub(crate) trait Room: Sync {
    /// Codes and names.
    fn names(&self) -> Names;
    /// The kind's default training parameters (the C, CLI and Python defaults too).
    fn default_params(&self) -> ModelParams;
    /// Training parameters from the flat options of the C API, the CLI and Python.
    fn params_from_options(&self, options: &TrainOptions) -> ModelParams;
    /// Writes `params` (of this kind) into the flat options: the inverse of
    /// [`params_from_options`](Self::params_from_options).
    fn write_options(&self, params: &ModelParams, options: &mut TrainOptions);
    /// Most prototypes (rows of `prototypes`) a codebook of this kind may hold.
    fn max_prototypes(&self) -> usize;
    /// The checks of a codebook of this kind, after the common ones passed (sizes agree,
    /// every value finite in float32).
    fn validate(&self, cb: &Codebook) -> Result<()>;
    /// The kind's prepared coder for a validated codebook.
    fn prepare(&self, cb: &Codebook, basis: &Basis) -> Box<dyn Coder>;
}

/// What a kind's fit gives back, for the codebook.
pub(crate) struct Fitted {
    /// The kind and its coding parameters.
    pub model: ModelKind,
    /// The prototypes in standardized space, row-major.
    pub prototypes: Vec<f64>,
    /// Restarts run (the best kept).
    pub n_init: u32,
    /// Iterations run by the kept fit.
    pub iterations: u32,
    /// The kept fit's final loss.
    pub loss: f64,
}

/// A kind's training parameters, as [`CodebookParams`](crate::train::CodebookParams) uses
/// them.
pub(crate) trait KindParams {
    /// One error per bad field.
    fn check(&self) -> Result<()>;
    /// Weights per tile for weight kinds (the bound of `kept_weights`), else `None`.
    fn n_weights(&self) -> Option<usize> {
        None
    }
    /// Iterations a fit may run at most (for progress bars).
    fn max_iterations(&self) -> u64;
    /// The model's seed (`None` for a model that draws nothing at random: the codebook then
    /// records the sampling seed), iteration limit and tolerance, for the training record.
    fn stopping(&self) -> (Option<u64>, u32, f64);
    /// Whether the kind codes single values (1-value tiles, identity scaler).
    fn codes_single_values(&self) -> bool {
        false
    }
    /// Fits standardized samples `x` (`n × p`).
    fn fit(&self, x: &[f64], p: usize, observe: &mut Observer<'_>) -> Result<Fitted>;
}

/// The prepared form of one kind: codes standardized tiles into a payload and back.
pub(crate) trait Coder: Send + Sync + std::fmt::Debug {
    /// The bits field of block headers: the weight depth for weight kinds, the index width
    /// otherwise.
    fn header_bits(&self, weight_bits: u8) -> u8;
    /// Checks a block header's bits field.
    fn check_header_bits(&self, bits: u8) -> Result<()>;
    /// The packed payload length for `n_tiles` tiles, `None` on overflow.
    fn packed_size(&self, n_tiles: usize, bits: u8) -> Option<usize>;
    /// Whether tiles are single values in block order (no tiling, identity scaler).
    fn codes_single_values(&self) -> bool {
        false
    }
    /// The stages that error-bounded blocks code tiles with (residual codebooks only).
    fn adaptive(&self) -> Option<&residual::ResidualStages> {
        None
    }
    /// Codes standardized `tiles` (`n_tiles × p`; may be overwritten) into `packed`.
    fn encode(
        &self,
        basis: &Basis,
        tiles: &mut [f32],
        bits: u8,
        scratch: &mut CodeScratch,
        packed: &mut Vec<u8>,
    );
    /// Rebuilds `tiles` (`n_tiles × p`, value space) from exactly
    /// [`packed_size`](Self::packed_size) bytes.
    fn decode(
        &self,
        basis: &Basis,
        packed: &[u8],
        bits: u8,
        scratch: &mut CodeScratch,
        tiles: &mut [f32],
    ) -> Result<()>;
    /// Format 1 (blosc2-vq 0.1): bytes per tile, for the kinds it had.
    fn v1_bytes_per_tile(&self) -> Option<usize> {
        None
    }
    /// Format 1: rebuilds `tiles` from the decompressed bytes.
    fn decode_v1(
        &self,
        basis: &Basis,
        bytes: &[u8],
        bits: u8,
        scratch: &mut CodeScratch,
        tiles: &mut [f32],
    ) -> Result<()> {
        let _ = (basis, bytes, bits, scratch, tiles);
        Err(crate::Error::CorruptBlock(
            "a format-1 block for a kind format 1 did not have".into(),
        ))
    }
}

/// What every kind's coder shares: the tile shape, the scaler in float32 and the prototypes
/// scaled to value space.
#[derive(Debug, Clone)]
pub(crate) struct Basis {
    /// The tile shape.
    pub tile_shape: Vec<usize>,
    /// Values per tile.
    pub p: usize,
    /// Number of prototypes (all stages for residual codebooks).
    pub k: usize,
    /// Per-value means (for standardizing and reconstructing).
    pub mean: Vec<f32>,
    /// Per-value `1 / scale`.
    pub inv_scale: Vec<f32>,
    /// Per-value scale.
    pub scale: Vec<f32>,
    /// Prototypes multiplied by the scale: a tile is `mean + Σ w_j basis_j`.
    pub decode_basis: Vec<f32>,
}

impl Basis {
    /// The shared prepared data of a validated codebook.
    pub fn new(cb: &Codebook) -> Self {
        let p = cb.n_features();
        let scaler = cb.scaler();
        Basis {
            tile_shape: cb.tile_shape_usize(),
            p,
            k: cb.n_prototypes(),
            mean: scaler.mean.iter().map(|&m| m as f32).collect(),
            inv_scale: scaler.scale.iter().map(|&s| (1.0 / s) as f32).collect(),
            scale: scaler.scale.iter().map(|&s| s as f32).collect(),
            decode_basis: cb
                .prototypes()
                .chunks_exact(p)
                .flat_map(|row| row.iter().zip(&scaler.scale).map(|(&z, &s)| (z * s) as f32))
                .collect(),
        }
    }

    /// Standardizes tiles in place: `(x - mean) / scale`.
    pub fn standardize(&self, tiles: &mut [f32]) {
        for row in tiles.chunks_exact_mut(self.p) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.inv_scale) {
                *v = (*v - m) * s;
            }
        }
    }
}

/// Per-thread buffers for the codes, reused from block to block.
#[derive(Default)]
pub(crate) struct CodeScratch {
    pub codes: Vec<u16>,
    pub extra: Vec<u16>,
    pub weights: Vec<f32>,
    pub kept: Vec<f32>,
}

/// `buf` resized to `len` (contents unspecified: every caller overwrites all of it).
pub(crate) fn sized<T: Copy + Default>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    buf.resize(len, T::default());
    &mut buf[..len]
}

/// Bytes of a stream of `count` codes of `bits` bits, `None` on overflow.
pub(crate) fn stream_len(count: Option<usize>, bits: u8) -> Option<usize> {
    Some(count?.checked_mul(bits as usize)?.div_ceil(8))
}

/// The error for a truncated code stream.
pub(crate) fn codes_end_early() -> crate::Error {
    crate::Error::TruncatedBlock("the codes end early".into())
}

/// The error for an index past the codewords.
pub(crate) fn bad_index(j: u16, of: usize) -> crate::Error {
    crate::Error::CorruptBlock(format!("codeword index {j} of {of}"))
}

/// Checks that an index-kind block header carries this codebook's index width.
pub(crate) fn check_index_bits(bits: u8, expected: u8) -> Result<()> {
    if bits == expected {
        Ok(())
    } else {
        Err(crate::Error::CorruptBlock(format!(
            "{bits} bits per code, but this codebook's blocks use {expected}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_are_unique_and_round_trip() {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind.code() as usize, i + 1);
            assert_eq!(Kind::from_code(kind.code()), Some(kind));
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
            assert_eq!(Kind::from_name(kind.short_name()), Some(kind));
            assert_eq!(kind.room().default_params().kind(), kind);
        }
        assert_eq!(Kind::from_name("nope"), None);
    }

    /// The flat options of the C API, the CLI and Python map back to the very parameters
    /// they were made from: defaults cannot drift between the surfaces.
    #[test]
    fn default_options_give_the_default_parameters() {
        for kind in Kind::ALL {
            let options = TrainOptions::defaults(kind);
            assert_eq!(
                options.model_params(),
                kind.room().default_params(),
                "{kind:?}"
            );
            assert_eq!(
                options.codebook_params(),
                crate::train::CodebookParams::new(ModelParams::defaults(kind)),
                "{kind:?}"
            );
        }
    }
}
