//! A codebook made ready for coding: everything the encoder and decoder need per block,
//! computed once.

use super::{Codebook, ModelKind};
use crate::error::Result;
use crate::weights::SparseSolver;
use crate::weights::{
    MeanQuantizer, Memberships, ResidualStages, ScalarLevels, SimplexSolver, WeightKernel,
};

/// A validated codebook with its per-block constants precomputed.
#[derive(Debug, Clone)]
pub struct PreparedCodebook {
    /// The codebook itself.
    pub codebook: Codebook,
    /// The tile shape.
    pub tile_shape: Vec<usize>,
    /// Values per tile.
    pub n_features: usize,
    /// Number of prototypes.
    pub n_prototypes: usize,
    /// Per-value means (for standardizing and reconstructing).
    pub mean: Vec<f32>,
    /// Per-value `1 / scale`.
    pub inv_scale: Vec<f32>,
    /// Per-value scale (a residual codebook's tile mean is `mean + m · scale`).
    pub scale: Vec<f32>,
    /// Prototypes multiplied by the scale: a tile is `mean + Σ w_j basis_j`.
    pub decode_basis: Vec<f32>,
    /// Whole decoded tiles `mean + basis_j`, one per prototype (k-means decodes by lookup).
    pub codeword_tiles: Vec<f32>,
    /// The per-tile weight computation.
    pub kernel: WeightKernel,
    /// The support search of sparse weights (codebooks with `kept_weights > 0`).
    pub sparse: Option<SparseSolver>,
    /// The low 32 bits of the codebook fingerprint, stamped into every block.
    pub fingerprint32: u32,
}

impl PreparedCodebook {
    /// Parses, validates and prepares codebook bytes (see [`Codebook::from_msgpack`]).
    pub fn from_msgpack(bytes: &[u8]) -> Result<Self> {
        Ok(Self::new(Codebook::from_msgpack(bytes)?))
    }

    /// Prepares a validated codebook.
    pub fn new(codebook: Codebook) -> Self {
        let p = codebook.n_features();
        let k = codebook.n_prototypes as usize;
        let mean: Vec<f32> = codebook.scaler.mean.iter().map(|&m| m as f32).collect();
        let scale = codebook.scaler.scale.iter().map(|&s| s as f32).collect();
        let inv_scale = codebook
            .scaler
            .scale
            .iter()
            .map(|&s| (1.0 / s) as f32)
            .collect();
        let decode_basis: Vec<f32> = codebook
            .prototypes
            .chunks_exact(p)
            .flat_map(|row| {
                row.iter()
                    .zip(&codebook.scaler.scale)
                    .map(|(&z, &s)| (z * s) as f32)
            })
            .collect();
        let kernel = match codebook.model {
            ModelKind::FuzzyCMeans { fuzzifier, metric } => WeightKernel::Fuzzy(Memberships::new(
                codebook.prototypes.iter().map(|&v| v as f32).collect(),
                p,
                fuzzifier,
                metric,
            )),
            ModelKind::KMeans => WeightKernel::Nearest(Memberships::new(
                codebook.prototypes.iter().map(|&v| v as f32).collect(),
                p,
                2.0,
                crate::weights::Metric::Euclidean,
            )),
            ModelKind::Archetypal => WeightKernel::Archetypal {
                archetypes: codebook.prototypes.clone(),
                solver: SimplexSolver::new(&codebook.prototypes, k, p),
            },
            ModelKind::Residual {
                n_stages,
                mean_bits,
                mean_min,
                mean_max,
                beam,
            } => WeightKernel::Residual(ResidualStages::new(
                codebook.prototypes.iter().map(|&v| v as f32).collect(),
                n_stages as usize,
                p,
                MeanQuantizer {
                    bits: mean_bits,
                    min: mean_min as f32,
                    max: mean_max as f32,
                },
                beam as usize,
            )),
            ModelKind::Scalar { .. } => WeightKernel::Scalar(ScalarLevels::new(
                codebook.prototypes.iter().map(|&v| v as f32).collect(),
            )),
        };
        let codeword_tiles = decode_basis
            .chunks_exact(p)
            .flat_map(|b| b.iter().zip(&mean).map(|(&bv, &m)| m + bv))
            .collect();
        let sparse = (codebook.kept_weights > 0 && codebook.model.has_weights())
            .then(|| SparseSolver::new(&codebook.prototypes, p));
        PreparedCodebook {
            sparse,
            codeword_tiles,
            tile_shape: codebook.tile_shape_usize(),
            n_features: p,
            n_prototypes: k,
            mean,
            inv_scale,
            scale,
            decode_basis,
            kernel,
            fingerprint32: codebook.fingerprint as u32,
            codebook,
        }
    }

    /// Standardizes tiles in place: `(x - mean) / scale`.
    pub fn standardize(&self, tiles: &mut [f32]) {
        for row in tiles.chunks_exact_mut(self.n_features) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.inv_scale) {
                *v = (*v - m) * s;
            }
        }
    }

    /// Rebuilds tiles from weights: `tile = mean + Σ_j w_j · basis_j`.
    ///
    /// `weights` is prototype-major (`k × n_tiles`, as blocks store them); `tiles` receives
    /// `n_tiles × p` values.
    pub fn reconstruct(&self, weights: &[f32], n_tiles: usize, tiles: &mut [f32]) {
        debug_assert_eq!(weights.len(), self.n_prototypes * n_tiles);
        debug_assert_eq!(tiles.len(), self.n_features * n_tiles);
        // Tiles of 16 (4×4) and 64 (4×4×4) values keep their sums in registers.
        match self.n_features {
            16 => self.reconstruct_fixed::<16>(weights, n_tiles, tiles),
            64 => self.reconstruct_fixed::<64>(weights, n_tiles, tiles),
            _ => self.reconstruct_any(weights, n_tiles, tiles),
        }
    }

    fn reconstruct_fixed<const P: usize>(
        &self,
        weights: &[f32],
        n_tiles: usize,
        tiles: &mut [f32],
    ) {
        let mean: [f32; P] = self.mean[..].try_into().expect("P values per tile");
        let (basis, _) = self.decode_basis.as_chunks::<P>();
        let (out, _) = tiles.as_chunks_mut::<P>();
        for (t, tile) in out.iter_mut().enumerate() {
            let mut acc = mean;
            // No test for zero weights: a branch that mispredicts costs more than the
            // multiply-adds it would skip.
            for (j, b) in basis.iter().enumerate() {
                let w = weights[j * n_tiles + t];
                for (a, &bv) in acc.iter_mut().zip(b) {
                    *a = mul_add(w, bv, *a);
                }
            }
            *tile = acc;
        }
    }

    /// Rebuilds residual-VQ tiles: `mean + m_t · scale + Σ_s basis[s, j_st]`, with `means`
    /// the quantized tile means (`n_tiles`) and `indexes` stage-major (`n_stages × n_tiles`,
    /// every index checked below the codewords per stage).
    pub fn reconstruct_residual(&self, means: &[u16], indexes: &[u16], tiles: &mut [f32]) {
        match self.n_features {
            16 => self.reconstruct_residual_fixed::<16>(means, indexes, tiles),
            32 => self.reconstruct_residual_fixed::<32>(means, indexes, tiles),
            64 => self.reconstruct_residual_fixed::<64>(means, indexes, tiles),
            _ => self.reconstruct_residual_any(means, indexes, tiles),
        }
    }

    fn residual_parts(&self) -> (crate::weights::MeanQuantizer, usize) {
        match &self.kernel {
            WeightKernel::Residual(r) => (r.mean, r.k()),
            _ => unreachable!("a residual codebook has residual stages"),
        }
    }

    fn reconstruct_residual_fixed<const P: usize>(
        &self,
        means: &[u16],
        indexes: &[u16],
        tiles: &mut [f32],
    ) {
        let (mq, k) = self.residual_parts();
        let mean: [f32; P] = self.mean[..].try_into().expect("P values per tile");
        let scale: [f32; P] = self.scale[..].try_into().expect("P values per tile");
        let (basis, _) = self.decode_basis.as_chunks::<P>();
        let (out, _) = tiles.as_chunks_mut::<P>();
        let n = out.len();
        for (t, tile) in out.iter_mut().enumerate() {
            let mut acc = mean;
            if mq.bits > 0 {
                let m = mq.value(means[t]);
                for (a, &s) in acc.iter_mut().zip(&scale) {
                    *a = mul_add(m, s, *a);
                }
            }
            for (s, stage_idx) in indexes.chunks_exact(n).enumerate() {
                let b = &basis[s * k + stage_idx[t] as usize];
                for (a, &bv) in acc.iter_mut().zip(b) {
                    *a += bv;
                }
            }
            *tile = acc;
        }
    }

    fn reconstruct_residual_any(&self, means: &[u16], indexes: &[u16], tiles: &mut [f32]) {
        let (mq, k) = self.residual_parts();
        let p = self.n_features;
        let n = tiles.len() / p;
        for (t, tile) in tiles.chunks_exact_mut(p).enumerate() {
            tile.copy_from_slice(&self.mean);
            if mq.bits > 0 {
                let m = mq.value(means[t]);
                for (a, &s) in tile.iter_mut().zip(&self.scale) {
                    *a = mul_add(m, s, *a);
                }
            }
            for (s, stage_idx) in indexes.chunks_exact(n).enumerate() {
                let j = s * k + stage_idx[t] as usize;
                for (a, &bv) in tile.iter_mut().zip(&self.decode_basis[j * p..(j + 1) * p]) {
                    *a += bv;
                }
            }
        }
    }

    /// Rebuilds one tile from sparse weights: `mean + Σ_i w_i · basis[idx_i]` (indexes
    /// checked below `n_prototypes`).
    pub fn reconstruct_sparse(&self, indexes: &[u16], weights: &[f32], tile: &mut [f32]) {
        let p = self.n_features;
        tile.copy_from_slice(&self.mean);
        for (&j, &w) in indexes.iter().zip(weights) {
            let j = j as usize;
            for (a, &bv) in tile.iter_mut().zip(&self.decode_basis[j * p..(j + 1) * p]) {
                *a = mul_add(w, bv, *a);
            }
        }
    }

    fn reconstruct_any(&self, weights: &[f32], n_tiles: usize, tiles: &mut [f32]) {
        let p = self.n_features;
        for (t, tile) in tiles.chunks_exact_mut(p).enumerate() {
            tile.copy_from_slice(&self.mean);
            for (j, basis) in self.decode_basis.chunks_exact(p).enumerate() {
                let w = weights[j * n_tiles + t];
                if w != 0.0 {
                    for (a, &bv) in tile.iter_mut().zip(basis) {
                        *a = mul_add(w, bv, *a);
                    }
                }
            }
        }
    }
}

/// `w * b + a`, fused where the target has FMA (decoding only: the encoder never fuses, so
/// compressed bytes do not depend on the CPU).
#[inline(always)]
fn mul_add(w: f32, b: f32, a: f32) -> f32 {
    #[cfg(target_feature = "fma")]
    {
        w.mul_add(b, a)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        w * b + a
    }
}
