//! The codebook: what the encoder and decoder share, stored as MessagePack in the SChunk's
//! `vq` metalayer so that a frame carries everything needed to decompress it.
//!
//! Schema (a MessagePack map; see the README for the full table):
//! `format_version`, `model` (`{kind: "fuzzy_cmeans", fuzzifier, metric}` or
//! `{kind: "archetypal"}`, `{kind: "kmeans"}`, `{kind: "residual", n_stages, mean_bits, mean_min,
//! mean_max}` or `{kind: "scalar", method}`), `training` (how it was made), `tile_shape`,
//! `n_prototypes`, `scaler` (`{mean, scale}`), `prototypes` (row-major, standardized space),
//! `weight_bits`, then from format 2 and only when not their defaults `kept_weights` and
//! `transform`, and `fingerprint` (xxh3-64 of the map's MessagePack with `fingerprint = 0`).
//!
//! Fields added in format 2 are left out of the MessagePack when they hold their defaults, so
//! a format-1 codebook re-serializes to its own bytes and keeps its fingerprint.
#![forbid(unsafe_code)]

pub mod cache;
mod prepared;
mod scaler;
mod storage;
mod transform;

pub use crate::kinds::index_bits;
pub use crate::kinds::residual::{MAX_BEAM, MAX_MEAN_BITS, MAX_STAGES, MAX_STAGE_CODEWORDS};
pub use crate::kinds::scalar::MAX_SCALAR_BITS;
pub use crate::kinds::weight_codes::MAX_WEIGHT_BITS;
pub use prepared::PreparedCodebook;
pub use scaler::Scaler;
pub use transform::Transform;

use crate::error::{Error, Result};
use crate::kinds::Kind;
use crate::weights::Metric;
use serde::{Deserialize, Serialize};
pub use storage::PrototypeStorage;
use storage::Prototypes;

/// The newest codebook format this build writes and reads.
pub const CODEBOOK_FORMAT_VERSION: u32 = 3;
/// Most prototypes a weight codebook (Fuzzy C-Means, Archetypal Analysis) or a k-means
/// codebook may hold.
pub const MAX_PROTOTYPES: usize = 1024;
/// Most dimensions a tile may have.
pub const MAX_TILE_DIMS: usize = 3;
/// Most values a tile may hold.
pub const MAX_TILE_VALUES: usize = 4096;

/// Checks a tile shape: 1 to [`MAX_TILE_DIMS`] positive sides holding at most
/// [`MAX_TILE_VALUES`] values; returns the values per tile, or what is wrong.
pub fn check_tile_shape(tile_shape: &[usize]) -> std::result::Result<usize, String> {
    if tile_shape.is_empty() || tile_shape.len() > MAX_TILE_DIMS || tile_shape.contains(&0) {
        return Err(format!(
            "{tile_shape:?}: 1 to {MAX_TILE_DIMS} positive sides"
        ));
    }
    tile_shape
        .iter()
        .try_fold(1usize, |a, &t| a.checked_mul(t))
        .filter(|&v| v <= MAX_TILE_VALUES)
        .ok_or_else(|| format!("{tile_shape:?} holds more than {MAX_TILE_VALUES} values"))
}
/// Largest codebook accepted, in bytes (a guard against absurd metalayers).
pub const MAX_CODEBOOK_BYTES: usize = 64 << 20;

/// The kind of model a codebook was trained with, and what the encoder needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelKind {
    /// Fuzzy C-Means: weights are memberships.
    FuzzyCMeans {
        /// The fuzzifier `m > 1`.
        fuzzifier: f64,
        /// The distance used for memberships.
        metric: Metric,
    },
    /// Archetypal Analysis: weights are the simplex least-squares coefficients.
    Archetypal,
    /// K-means (hard vector quantization): one codeword index per tile.
    #[serde(rename = "kmeans")]
    KMeans,
    /// Residual (multi-stage) vector quantization: stage `s` quantizes what stages `0..s` left,
    /// one codeword index per tile and stage. The prototypes are the stages' codebooks one
    /// after the other (`n_stages × codewords per stage` rows).
    Residual {
        /// Number of stages.
        n_stages: u32,
        /// Bits of the per-tile mean removed before the first stage (0: none, plain
        /// residual VQ; otherwise mean-removed VQ).
        mean_bits: u8,
        /// Lowest quantized tile mean (standardized units).
        mean_min: f64,
        /// Highest quantized tile mean (standardized units).
        mean_max: f64,
        /// Encoder search: candidate paths kept from stage to stage (1: greedy, each stage
        /// its nearest codeword; more finds better combinations, slower). The decoder does
        /// not use it.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        beam: u32,
    },
    /// A scalar quantizer: every value on its own to the nearest of `n_prototypes` levels
    /// (the prototypes, ascending, on 1-value tiles).
    Scalar {
        /// How the levels were placed.
        method: ScalarMethod,
    },
}

/// How a scalar quantizer places its levels (scikit-learn's KBinsDiscretizer strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ScalarMethod {
    /// Equal-width bins between the minimum and the maximum, each level at its bin's centre.
    Uniform,
    /// Equal-count bins, each level at the median of its bin.
    Quantile,
    /// Lloyd-Max: the levels minimizing mean squared error (1-D k-means).
    LloydMax,
}

impl ModelKind {
    /// The kind, which every surface dispatches on.
    pub fn kind(&self) -> Kind {
        match self {
            ModelKind::FuzzyCMeans { .. } => Kind::FuzzyCMeans,
            ModelKind::Archetypal => Kind::Archetypal,
            ModelKind::KMeans => Kind::KMeans,
            ModelKind::Residual { .. } => Kind::Residual,
            ModelKind::Scalar { .. } => Kind::Scalar,
        }
    }

    /// The one-byte code of this kind in block headers ([`Kind::code`]).
    pub fn code(&self) -> u8 {
        self.kind().code()
    }

    /// The kind's name in the MessagePack schema ([`Kind::name`]).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether blocks hold weights rather than indexes ([`Kind::has_weights`]).
    pub fn has_weights(&self) -> bool {
        self.kind().has_weights()
    }
}

/// How a codebook was trained (informative; the codec does not need it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainingInfo {
    /// Number of training tiles.
    pub n_samples: u64,
    /// The random seed.
    pub seed: u64,
    /// Iteration limit.
    pub max_iter: u32,
    /// Convergence tolerance.
    pub tol: f64,
    /// Restarts (Archetypal Analysis); 1 for Fuzzy C-Means.
    pub n_init: u32,
    /// Iterations run by the kept fit.
    pub iterations: u32,
    /// Final objective of the kept fit (mean squared error in standardized space).
    pub loss: f64,
}

/// A trained codebook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codebook {
    /// Format version ([`CODEBOOK_FORMAT_VERSION`]).
    format_version: u32,
    /// The model kind and its encoding parameters.
    model: ModelKind,
    /// How it was trained.
    training: TrainingInfo,
    /// The tile shape (1 to 3 dimensions).
    tile_shape: Vec<u32>,
    /// Number of prototypes.
    n_prototypes: u32,
    /// The per-value standardization applied to tiles.
    scaler: Scaler,
    /// Prototypes in standardized space, `n_prototypes × tile values`, row-major (float32
    /// from format 3).
    prototypes: Prototypes,
    /// Bits per quantized weight (1 to 8; weight codebooks only).
    weight_bits: u8,
    /// Sparse weights: how many of the largest weights of a tile are kept (renormalized to
    /// sum to 1, stored as index and value); 0 keeps them all. Weight codebooks only.
    #[serde(default, skip_serializing_if = "is_zero")]
    kept_weights: u32,
    /// The value transform applied before tiling (and inverted after decoding).
    #[serde(default, skip_serializing_if = "Transform::is_identity")]
    transform: Transform,
    /// The error bound blocks are coded to (residual codebooks; format 3): every decoded
    /// value within this of the original, in data units, or in decades under a log10
    /// transform. `None`: no bound (fixed-rate blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_error: Option<f64>,
    /// xxh3-64 of this codebook's MessagePack with `fingerprint = 0`.
    fingerprint: u64,
}

impl Codebook {
    /// Assembles a codebook, validates it and computes its fingerprint.
    pub fn new(
        model: ModelKind,
        training: TrainingInfo,
        tile_shape: Vec<u32>,
        scaler: Scaler,
        prototypes: Vec<f64>,
        weight_bits: u8,
    ) -> Result<Self> {
        let n_features: usize = tile_shape.iter().map(|&t| t as usize).product();
        let n_prototypes = prototypes.len().checked_div(n_features).unwrap_or(0) as u32;
        let mut cb = Codebook {
            format_version: CODEBOOK_FORMAT_VERSION,
            model,
            training,
            tile_shape,
            n_prototypes,
            scaler,
            prototypes: Prototypes::stored_as(prototypes, PrototypeStorage::Float32),
            weight_bits,
            kept_weights: 0,
            transform: Transform::Identity,
            max_error: None,
            fingerprint: 0,
        };
        cb.validate()?;
        cb.fingerprint = cb.compute_fingerprint();
        Ok(cb)
    }

    /// The same codebook with sparse weights: keep the `kept` largest weights of every tile
    /// (0 keeps them all). Re-validated and re-fingerprinted; no retraining.
    pub fn with_kept_weights(self, kept: u32) -> Result<Self> {
        self.resealed(|cb| cb.kept_weights = kept)
    }

    /// A residual codebook cut to its first `n_stages` stages. Each stage was trained on what
    /// the stages before it left, so the first stages are themselves a complete (coarser)
    /// residual codebook: one training gives a whole range of rates.
    pub fn with_stages(self, n_stages: u32) -> Result<Self> {
        let ModelKind::Residual {
            n_stages: total, ..
        } = self.model
        else {
            return Err(Error::param(
                "n_stages",
                format!("a {} codebook has no stages", self.model.name()),
            ));
        };
        if n_stages == 0 || n_stages > total {
            return Err(Error::param(
                "n_stages",
                format!("{n_stages} outside 1..={total}"),
            ));
        }
        let per_stage = self.codewords_per_stage();
        let keep = per_stage * n_stages as usize;
        let p = self.n_features();
        self.resealed(|cb| {
            if let ModelKind::Residual { n_stages: s, .. } = &mut cb.model {
                *s = n_stages;
            }
            cb.n_prototypes = keep as u32;
            cb.prototypes.values.truncate(keep * p);
        })
    }

    /// A residual codebook whose encoder keeps `beam` candidate paths (1: greedy). Blocks
    /// decode the same either way; only the encoder's choices change.
    pub fn with_beam(self, beam: u32) -> Result<Self> {
        if !matches!(self.model, ModelKind::Residual { .. }) {
            return Err(Error::param(
                "beam",
                format!("a {} codebook has no stages to search", self.model.name()),
            ));
        }
        self.resealed(|cb| {
            if let ModelKind::Residual { beam: b, .. } = &mut cb.model {
                *b = beam;
            }
        })
    }

    /// The same residual codebook with an error bound: its blocks are then coded adaptively
    /// (each tile gets the stages it needs, what is left is quantized so that every decoded
    /// value is within `max_error` of the original; see [`crate::block`]). `max_error` is in
    /// data units, or in decades under a log10 transform (`log10(1.1)`: 10 %). No
    /// retraining; the fingerprint changes.
    pub fn with_max_error(self, max_error: f64) -> Result<Self> {
        check_max_error(max_error)?;
        self.resealed(|cb| cb.max_error = Some(max_error))
    }

    /// The same codebook without an error bound (fixed-rate blocks).
    pub fn without_max_error(self) -> Result<Self> {
        self.resealed(|cb| cb.max_error = None)
    }

    /// The same codebook with its prototypes stored as `storage` (no retraining): float16
    /// halves a float32 codebook's bytes and moves each prototype value by up to 2^-11 of it,
    /// which costs a little quality in fixed-rate blocks and a little rate in error-bounded
    /// ones (whose bound still holds: the encoder checks every value). The fingerprint changes.
    pub fn with_prototype_storage(self, storage: PrototypeStorage) -> Result<Self> {
        self.resealed(|cb| {
            let values = std::mem::take(&mut cb.prototypes.values);
            cb.prototypes = Prototypes::stored_as(values, storage);
        })
    }

    /// The same codebook with another weight bit depth (1 to 8).
    pub fn with_weight_bits(self, bits: u8) -> Result<Self> {
        if !self.model.has_weights() {
            // The field would be stored and never used: say so rather than seal it.
            return Err(Error::param(
                "weight_bits",
                format!("a {} codebook has no weights", self.model.name()),
            ));
        }
        self.resealed(|cb| cb.weight_bits = bits)
    }

    /// The same codebook with a value transform. Only meaningful before training: the
    /// scaler and prototypes live in the transformed space.
    pub(crate) fn with_transform(self, transform: Transform) -> Result<Self> {
        self.resealed(|cb| cb.transform = transform)
    }

    /// Applies `edit`, then brings the format version up to date, validates and
    /// re-fingerprints.
    fn resealed(mut self, edit: impl FnOnce(&mut Self)) -> Result<Self> {
        edit(&mut self);
        self.format_version = CODEBOOK_FORMAT_VERSION;
        self.validate()?;
        self.fingerprint = self.compute_fingerprint();
        Ok(self)
    }

    /// The format version it was written in.
    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    /// The model kind and its coding parameters.
    pub fn model(&self) -> &ModelKind {
        &self.model
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.model.kind()
    }

    /// How it was trained.
    pub fn training(&self) -> &TrainingInfo {
        &self.training
    }

    /// The tile shape (1 to 3 sides).
    pub fn tile_shape(&self) -> &[u32] {
        &self.tile_shape
    }

    /// Number of prototypes (all stages' codewords for residual codebooks, levels for
    /// scalar quantizers).
    pub fn n_prototypes(&self) -> usize {
        self.n_prototypes as usize
    }

    /// The per-value standardization of tiles.
    pub fn scaler(&self) -> &Scaler {
        &self.scaler
    }

    /// The prototypes in standardized space, `n_prototypes × n_features`, row-major.
    pub fn prototypes(&self) -> &[f64] {
        &self.prototypes.values
    }

    /// How the prototypes are stored (float32 for codebooks trained by this build).
    pub fn prototype_storage(&self) -> PrototypeStorage {
        self.prototypes.storage
    }

    /// The error bound its blocks are coded to, if any ([`Codebook::with_max_error`]).
    pub fn max_error(&self) -> Option<f64> {
        self.max_error
    }

    /// Bits per quantized weight (weight kinds).
    pub fn weight_bits(&self) -> u8 {
        self.weight_bits
    }

    /// Sparse weights kept per tile; 0 keeps all (weight kinds).
    pub fn kept_weights(&self) -> u32 {
        self.kept_weights
    }

    /// The value transform applied before tiling.
    pub fn transform(&self) -> Transform {
        self.transform
    }

    /// xxh3-64 of the codebook's MessagePack with `fingerprint = 0`.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Codewords per stage (residual codebooks) or prototypes.
    pub fn codewords_per_stage(&self) -> usize {
        match self.model {
            ModelKind::Residual { n_stages, .. } => {
                self.n_prototypes as usize / (n_stages as usize).max(1)
            }
            _ => self.n_prototypes as usize,
        }
    }

    /// Values per tile.
    pub fn n_features(&self) -> usize {
        self.tile_shape.iter().map(|&t| t as usize).product()
    }

    /// The tile shape as `usize`s.
    pub fn tile_shape_usize(&self) -> Vec<usize> {
        self.tile_shape.iter().map(|&t| t as usize).collect()
    }

    /// Serializes to MessagePack (a map with named fields, readable from any language).
    pub fn to_msgpack(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("a codebook always serializes")
    }

    /// Parses and validates a codebook from MessagePack: the map itself, or a MessagePack
    /// `bin` that wraps it (what python-blosc2 stores for `meta={"vq": some_bytes}`).
    pub fn from_msgpack(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_CODEBOOK_BYTES {
            return Err(Error::InvalidCodebook(format!(
                "{} bytes is over the {MAX_CODEBOOK_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let inner = unwrap_bin(bytes)?;
        // Peek at the version first so a newer codebook gets a clear message.
        let cb: Codebook = rmp_serde::from_slice(inner).map_err(|e| match peek_version(inner) {
            Some(v) if v > CODEBOOK_FORMAT_VERSION => Error::UnsupportedVersion {
                found: v,
                supported: CODEBOOK_FORMAT_VERSION,
            },
            _ => Error::InvalidCodebook(format!("not a blosc2-vq codebook ({e})")),
        })?;
        // The values a `bin` of prototypes must hold; a shape that overflows is left for
        // `validate` to name.
        let n_values = cb
            .tile_shape
            .iter()
            .try_fold(cb.n_prototypes as usize, |a, &t| a.checked_mul(t as usize));
        let mut cb = cb;
        if let Some(n) = n_values {
            cb.prototypes.resolve(n).map_err(Error::InvalidCodebook)?;
        }
        cb.validate()?;
        let expected = cb.compute_fingerprint();
        if cb.fingerprint != expected {
            return Err(Error::InvalidCodebook(format!(
                "fingerprint {:#018x} does not match the content ({expected:#018x}): the codebook is corrupt or was edited",
                cb.fingerprint
            )));
        }
        Ok(cb)
    }

    fn compute_fingerprint(&self) -> u64 {
        let mut unsealed = self.clone();
        unsealed.fingerprint = 0;
        xxhash_rust::xxh3::xxh3_64(&unsealed.to_msgpack())
    }

    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidCodebook(m));
        if self.format_version == 0 || self.format_version > CODEBOOK_FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: self.format_version,
                supported: CODEBOOK_FORMAT_VERSION,
            });
        }
        let n_features = check_tile_shape(&self.tile_shape_usize())
            .map_err(|reason| Error::InvalidCodebook(format!("tile_shape {reason}")))?;
        let room = self.kind().room();
        let k = self.n_prototypes as usize;
        let max_k = room.max_prototypes();
        if k == 0 || k > max_k {
            return bad(format!("n_prototypes {k} outside 1..={max_k}"));
        }
        if self.prototypes.values.len() != k * n_features {
            return bad(format!(
                "{} prototype values for {k} prototypes of {n_features} values",
                self.prototypes.values.len()
            ));
        }
        if self.prototypes.values.iter().any(|v| !v.is_finite()) {
            return bad("prototypes contain NaN or infinity".into());
        }
        self.scaler.validate(n_features)?;
        self.validate_f32(n_features)?;
        if !(1..=MAX_WEIGHT_BITS).contains(&self.weight_bits) {
            return bad(format!(
                "weight_bits {} outside 1..={MAX_WEIGHT_BITS}",
                self.weight_bits
            ));
        }
        room.validate(self)?;
        if self.kept_weights != 0 {
            if !self.model.has_weights() {
                return bad(format!(
                    "kept_weights {} on a {:?} codebook, which has no weights",
                    self.kept_weights, self.model
                ));
            }
            if self.kept_weights as usize > crate::weights::sparse::MAX_KEPT {
                return bad(format!(
                    "kept_weights {} over {}",
                    self.kept_weights,
                    crate::weights::sparse::MAX_KEPT
                ));
            }
            if self.kept_weights as usize >= k {
                return bad(format!(
                    "kept_weights {} must be below n_prototypes {k} (0 keeps all)",
                    self.kept_weights
                ));
            }
        }
        self.transform.validate()?;
        if let Some(e) = self.max_error {
            check_max_error(e).map_err(|err| Error::InvalidCodebook(err.to_string()))?;
            if self.kind() != Kind::Residual {
                return bad(format!(
                    "max_error on a {} codebook: error-bounded coding needs a residual codebook",
                    self.model.name()
                ));
            }
        }
        if self.format_version < 3
            && (self.max_error.is_some() || self.prototypes.storage != PrototypeStorage::Float64)
        {
            return bad(format!(
                "format {} cannot hold an error bound or float32/float16 prototypes",
                self.format_version
            ));
        }
        if self.format_version < 2
            && (self.kept_weights != 0
                || !self.transform.is_identity()
                || matches!(
                    self.model,
                    ModelKind::Residual { .. } | ModelKind::Scalar { .. }
                ))
        {
            return bad(format!(
                "format {} cannot hold residual or scalar kinds, sparse weights or transforms",
                self.format_version
            ));
        }
        Ok(())
    }

    /// The codec computes in float32: every number it derives from the codebook (scaled
    /// prototypes, whole codewords, inverse scales; each kind checks its own, such as the
    /// residual mean range) must be finite there, or blocks would silently decode to
    /// infinities and NaN.
    fn validate_f32(&self, p: usize) -> Result<()> {
        let finite = |v: f64| (v as f32).is_finite();
        let scaler_ok = self
            .scaler
            .mean
            .iter()
            .zip(&self.scaler.scale)
            .all(|(&m, &s)| finite(m) && finite(s) && finite(1.0 / s) && (s as f32) > 0.0);
        let prototypes_ok = self.prototypes.values.chunks_exact(p).all(|row| {
            row.iter()
                .zip(self.scaler.mean.iter().zip(&self.scaler.scale))
                .all(|(&z, (&m, &s))| finite(z) && finite(z * s) && finite(m + z * s))
        });
        if scaler_ok && prototypes_ok {
            Ok(())
        } else {
            Err(Error::InvalidCodebook(
                "values out of float32 range: the codec computes in float32".into(),
            ))
        }
    }
}

/// Checks an error bound: positive and finite, and such that twice it (the quantization step
/// of what the stages leave) is a normal float32.
pub fn check_max_error(max_error: f64) -> Result<()> {
    let step = (2.0 * max_error) as f32;
    if max_error.is_finite() && max_error > 0.0 && step.is_normal() && step.is_finite() {
        Ok(())
    } else {
        Err(Error::param(
            "max_error",
            format!(
                "{max_error:e}: the error bound must be positive and finite, between {:e} and {:e}",
                f32::MIN_POSITIVE,
                f32::MAX / 4.0
            ),
        ))
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn one() -> u32 {
    1
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

/// Strips a MessagePack `bin` header if the bytes are one whole `bin` object.
pub(crate) fn unwrap_bin(bytes: &[u8]) -> Result<&[u8]> {
    let (len, header) = match bytes.first() {
        Some(0xc4) if bytes.len() >= 2 => (bytes[1] as usize, 2),
        Some(0xc5) if bytes.len() >= 3 => (u16::from_be_bytes([bytes[1], bytes[2]]) as usize, 3),
        Some(0xc6) if bytes.len() >= 5 => (
            u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize,
            5,
        ),
        Some(0xc4..=0xc6) => {
            return Err(Error::InvalidCodebook(
                "truncated MessagePack bin header".into(),
            ))
        }
        Some(_) => return Ok(bytes),
        None => return Err(Error::InvalidCodebook("the `vq` metalayer is empty".into())),
    };
    if bytes.len() - header != len {
        return Err(Error::InvalidCodebook(format!(
            "MessagePack bin says {len} bytes but holds {}: the metalayer is truncated or padded",
            bytes.len() - header
        )));
    }
    Ok(&bytes[header..])
}

fn peek_version(bytes: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Versioned {
        format_version: u32,
    }
    rmp_serde::from_slice::<Versioned>(bytes)
        .ok()
        .map(|v| v.format_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> Codebook {
        Codebook::new(
            ModelKind::FuzzyCMeans {
                fuzzifier: 2.0,
                metric: Metric::Cosine,
            },
            TrainingInfo::default(),
            vec![2, 2],
            Scaler {
                mean: vec![0.5; 4],
                scale: vec![2.0; 4],
            },
            vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0],
            8,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_plain_and_bin_wrapped() {
        let cb = tiny();
        let bytes = cb.to_msgpack();
        assert_eq!(Codebook::from_msgpack(&bytes).unwrap(), cb);
        let mut wrapped = Vec::new();
        rmp::encode::write_bin(&mut wrapped, &bytes).unwrap();
        assert_eq!(Codebook::from_msgpack(&wrapped).unwrap(), cb);
    }

    #[test]
    fn corrupt_and_truncated_codebooks_are_errors() {
        let bytes = tiny().to_msgpack();
        for cut in 0..bytes.len() {
            assert!(
                Codebook::from_msgpack(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = 0;
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            if Codebook::from_msgpack(&b).is_err() {
                flipped += 1;
            }
        }
        // A flip in a float's low bit changes the content, so the fingerprint catches it.
        assert_eq!(flipped, bytes.len());
        assert!(Codebook::from_msgpack(b"garbage").is_err());
    }

    #[test]
    fn prototypes_round_trip_in_every_storage() {
        let cb = tiny();
        assert_eq!(cb.prototype_storage(), PrototypeStorage::Float32);
        for storage in [
            PrototypeStorage::Float16,
            PrototypeStorage::Float64,
            PrototypeStorage::Float32,
        ] {
            let stored = cb.clone().with_prototype_storage(storage).unwrap();
            let back = Codebook::from_msgpack(&stored.to_msgpack()).unwrap();
            assert_eq!(back.prototype_storage(), storage);
            assert_eq!(back, stored);
        }
        let half = cb
            .clone()
            .with_prototype_storage(PrototypeStorage::Float16)
            .unwrap();
        assert!(half.to_msgpack().len() < cb.to_msgpack().len());
    }

    #[test]
    fn newer_versions_are_named() {
        let mut cb = tiny();
        cb.format_version = 99;
        let err = Codebook::from_msgpack(&cb.to_msgpack()).unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedVersion { found: 99, .. }),
            "{err}"
        );
    }
}
