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
    /// Quantized mean (0 without mean removal).
    pub mean: u16,
    /// Stages used (0 to the codebook's).
    pub n_stages: u8,
    /// Codeword index per used stage.
    pub indexes: [u16; super::MAX_STAGES],
}

/// Estimated bits of a correction `q` once entropy-coded (category symbol plus its low
/// bits; a zero, by far the most common, is a fraction of a bit).
fn correction_bits(q: f32) -> f32 {
    let q = q.abs();
    if q < 0.5 {
        0.4
    } else {
        // zigzag(±q) has about log2(q) + 1 bits: the category (~2 bits) and log2(q) raw bits.
        2.0 + q.log2().max(0.0)
    }
}

impl ResidualStages {
    /// Chooses the code of one tile. `z` is the standardized tile (overwritten),
    /// `target_offset` what the correction must add in value units beyond the tile's values
    /// (non-zero for empty cells under log10), `scale` the per-value scale (value units per
    /// standardized unit) and `step` the correction step (twice the bound).
    pub(crate) fn code_adaptive(
        &self,
        z: &mut [f32],
        target_offset: &[f32],
        scale: &[f32],
        step: f32,
        dots: &mut Vec<f32>,
    ) -> TileCode {
        let p = self.p;
        let mut code = TileCode::default();
        if self.mean.bits > 0 {
            let m = z.iter().fold(0f32, |a, &v| a + v) / p as f32;
            code.mean = self.mean.quantize(m);
            let mq = self.mean.value(code.mean);
            z.iter_mut().for_each(|v| *v -= mq);
        }
        let inv_step = 1.0 / step;
        // The corrections' cost if the tile stopped here, and whether they are all zero.
        let cost = |r: &[f32]| {
            let mut bits = 0f32;
            let mut all_zero = true;
            for ((&ri, &s), &o) in r.iter().zip(scale).zip(target_offset) {
                let q = ((ri * s + o) * inv_step).round();
                all_zero &= q == 0.0;
                bits += correction_bits(q);
            }
            (bits, all_zero)
        };
        let stage_bits = f32::from(index_bits(self.k));
        let (mut best_bits, mut done) = cost(z);
        dots.resize(self.k, 0.0);
        for (s, stage) in self.stages.iter().enumerate() {
            if done {
                break;
            }
            let j = stage.nearest(z, dots);
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

    /// Rebuilds one tile in value units: `mean + m · scale + Σ_s codeword[s, j_s] · scale`.
    /// Every index must be below the codewords per stage.
    pub(crate) fn reconstruct_adaptive(&self, basis: &Basis, code: &TileCode, tile: &mut [f32]) {
        let p = basis.p;
        tile.copy_from_slice(&basis.mean);
        if self.mean.bits > 0 {
            let m = self.mean.value(code.mean);
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
