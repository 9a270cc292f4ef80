//! The adaptive mode of residual VQ, used by error-bounded blocks: every tile gets the number
//! of stages that minimizes its estimated rate (stage indexes plus the corrections the block
//! codec will need to meet the bound; see `block::bounded`), and tiles are rebuilt from a
//! variable number of stages with plain float32 arithmetic (no fused multiply-add, so the
//! encoder's simulation of the decoder is exact on every CPU).

use super::stages::ResidualStages;
use crate::kinds::{index_bits, Basis};

/// How one tile was coded: its quantized mean (if the codebook removes means), how many
/// stages it uses and their codeword indexes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TileCode {
    /// The tile mean in steps of [`ResidualStages::bounded_mean_step`] (0 without mean
    /// removal).
    pub mean: i32,
    /// Stages used (0 to the codebook's).
    pub n_stages: u8,
    /// Codeword index per used stage.
    pub indexes: [u16; super::MAX_STAGES],
}

/// Largest tile mean code, in steps (beyond it the mean is clamped; corrections or escapes
/// take the rest).
pub(crate) const MAX_MEAN_CODE: i32 = 1 << 20;

/// Estimated bits of a zero correction (by far the most common: a small fraction of a bit)
/// and of a correction of one step, once entropy-coded; each doubling of a larger correction
/// adds about two bits (one of category, one raw). Measured on the faces' blocks; the
/// choices they drive are not sensitive to them (±30 % moves the rate by under 0.5 %).
const ZERO_BITS: f32 = 0.15;
const NONZERO_BITS: f32 = 4.5;
/// Tile means in error-bounded blocks move values by this fraction of a correction step: the
/// faces' rate is lowest between 0.25 and 0.35 (a coarser mean pushes values out of the
/// zero bin, a finer one costs bits).
const MEAN_STEP_FACTOR: f32 = 0.3;

/// Estimated bits of a correction `q` once entropy-coded.
fn correction_bits(q: f32) -> f32 {
    let q = q.abs();
    if q < 0.5 {
        ZERO_BITS
    } else {
        // zigzag(±q) has about log2(q) + 1 bits: the category (~2 bits) and log2(q) raw bits.
        NONZERO_BITS + 2.0 * q.log2().max(0.0)
    }
}

impl ResidualStages {
    /// Chooses the code of one tile. `z` is the standardized tile (overwritten); `below`
    /// marks the values that only have to decode below their own value (empty cells under
    /// log10, whose value is the floor's); `scale` is the per-value scale (value units per
    /// standardized unit), `step` the correction step (twice the bound) and `mean_step` that
    /// of tile means.
    pub(crate) fn code_adaptive(
        &self,
        z: &mut [f32],
        below: &[bool],
        scale: &[f32],
        step: f32,
        mean_step: f32,
    ) -> TileCode {
        let p = self.p;
        let mut code = TileCode::default();
        if self.mean.bits > 0 {
            let m = z.iter().fold(0f32, |a, &v| a + v) / p as f32;
            let q = (m / mean_step).round();
            code.mean = q.clamp(-MAX_MEAN_CODE as f32, MAX_MEAN_CODE as f32) as i32;
            let mq = code.mean as f32 * mean_step;
            z.iter_mut().for_each(|v| *v -= mq);
        }
        let inv_step = 1.0 / step;
        // The corrections' cost if the tile stopped here, and whether they are all zero.
        let cost = |r: &[f32]| {
            let mut bits = 0f32;
            let mut all_zero = true;
            for ((&ri, &s), &b) in r.iter().zip(scale).zip(below) {
                let err = ri * s;
                let q = if b {
                    // Only has to decode below its value: free while the prediction is below.
                    if err > 0.0 {
                        0.0
                    } else {
                        (err * inv_step).floor() - 1.0
                    }
                } else {
                    (err * inv_step).round()
                };
                all_zero &= q == 0.0;
                bits += correction_bits(q);
            }
            (bits, all_zero)
        };
        let stage_bits = f32::from(index_bits(self.k));
        let (mut best_bits, mut done) = cost(z);
        for (s, stage) in self.stages.iter().enumerate() {
            if done {
                break;
            }
            let j = stage.nearest(z);
            code.indexes[s] = j as u16;
            let c = &self.codewords[(s * self.k + j) * p..(s * self.k + j + 1) * p];
            z.iter_mut().zip(c).for_each(|(v, &cv)| *v -= cv);
            let (bits, all_zero) = cost(z);
            let bits = bits + (s + 1) as f32 * stage_bits;
            done = all_zero;
            if bits < best_bits {
                best_bits = bits;
                code.n_stages = (s + 1) as u8;
            }
        }
        code
    }

    /// The step of tile means in error-bounded blocks (standardized units): one step moves the
    /// tile's values by [`MEAN_STEP_FACTOR`] of a correction step on average (the codebook's
    /// own `mean_bits` levels are for fixed-rate blocks; there `mean_bits > 0` only says that
    /// means are removed).
    pub(crate) fn bounded_mean_step(basis: &Basis, step: f32) -> f32 {
        let mean_scale = basis.scale.iter().fold(0f32, |a, &s| a + s) / basis.p as f32;
        step * MEAN_STEP_FACTOR / mean_scale
    }

    /// Rebuilds one tile in value units: `mean + m · scale + Σ_s codeword[s, j_s] · scale`.
    /// Every index must be below the codewords per stage.
    pub(crate) fn reconstruct_adaptive(
        &self,
        basis: &Basis,
        code: &TileCode,
        mean_step: f32,
        tile: &mut [f32],
    ) {
        let p = basis.p;
        tile.copy_from_slice(&basis.mean);
        if self.mean.bits > 0 {
            let m = code.mean as f32 * mean_step;
            for (a, &s) in tile.iter_mut().zip(&basis.scale) {
                *a += m * s;
            }
        }
        for (s, &j) in code.indexes[..code.n_stages as usize].iter().enumerate() {
            let row = (s * self.k + j as usize) * p;
            for (a, &b) in tile.iter_mut().zip(&basis.decode_basis[row..row + p]) {
                *a += b;
            }
        }
    }
}
