//! Residual (multi-stage) vector quantization: `n_stages` stages of `k` codewords, each
//! coding what the stages before it left, optionally after removing the tile's quantized
//! mean (mean-removed VQ). A block holds the quantized means (if any) and `n_stages`
//! indexes per tile, stage-major; the decoder adds one codeword per stage.

mod adaptive;
mod fit;
mod stages;

pub use fit::{Residual, ResidualParams};
pub use stages::MeanQuantizer;

use super::{
    bad_index, check_index_bits, codes_end_early, index_bits, sized, stream_len, Basis,
    CodeScratch, Coder, Fitted, KindParams, Names, Room, TrainOptions,
};
use crate::block::bitpack::{pack, packed_len, unpack};
use crate::codebook::{Codebook, ModelKind};
use crate::error::{Error, Result};
use crate::train::{ModelParams, Observer};
pub(crate) use adaptive::{TileCode, MAX_MEAN_CODE};
use multiversion::multiversion;
pub(crate) use stages::ResidualStages;

/// Most codewords one stage may hold (12-bit indexes).
pub const MAX_STAGE_CODEWORDS: usize = 4096;
/// Most stages.
pub const MAX_STAGES: usize = 16;
/// Widest beam the encoder may search with.
pub const MAX_BEAM: u32 = 64;
/// Most bits of the quantized tile mean.
pub const MAX_MEAN_BITS: u8 = 12;
/// Stages of a default residual codebook.
pub const DEFAULT_STAGES: usize = 2;
/// Codewords per stage of a default residual codebook.
pub const DEFAULT_CODEWORDS_PER_STAGE: usize = 256;

impl Default for ResidualParams {
    /// [`ResidualParams::new`] with [`DEFAULT_STAGES`] stages of
    /// [`DEFAULT_CODEWORDS_PER_STAGE`] codewords.
    fn default() -> Self {
        ResidualParams::new(DEFAULT_STAGES, DEFAULT_CODEWORDS_PER_STAGE)
    }
}

pub(crate) struct ResidualRoom;

impl Room for ResidualRoom {
    fn names(&self) -> Names {
        Names {
            code: 4,
            schema: "residual",
            short: "residual",
            has_weights: false,
        }
    }

    fn default_params(&self) -> ModelParams {
        ModelParams::Residual(ResidualParams::default())
    }

    fn params_from_options(&self, o: &TrainOptions) -> ModelParams {
        ModelParams::Residual(
            ResidualParams::new(o.n_stages, o.n_prototypes)
                .mean_bits(o.mean_bits)
                .beam(o.beam)
                .max_iter(o.max_iter)
                .tol(o.tol)
                .seed(o.seed),
        )
    }

    fn write_options(&self, params: &ModelParams, o: &mut TrainOptions) {
        if let ModelParams::Residual(p) = params {
            o.n_prototypes = p.codewords_per_stage();
            o.n_stages = p.n_stages();
            o.mean_bits = p.get_mean_bits();
            o.beam = p.get_beam();
            o.max_iter = p.get_max_iter();
            o.tol = p.get_tol();
        }
    }

    fn max_prototypes(&self) -> usize {
        MAX_STAGES * MAX_STAGE_CODEWORDS
    }

    fn validate(&self, cb: &Codebook) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidCodebook(m));
        let ModelKind::Residual {
            n_stages,
            mean_bits,
            mean_min,
            mean_max,
            beam,
        } = *cb.model()
        else {
            unreachable!("the registry hands this room its own kind")
        };
        let k = cb.n_prototypes();
        if beam == 0 || beam > MAX_BEAM {
            return bad(format!("beam {beam} outside 1..={MAX_BEAM}"));
        }
        let s = n_stages as usize;
        if s == 0 || s > MAX_STAGES || !k.is_multiple_of(s) {
            return bad(format!(
                "n_stages {s}: 1..={MAX_STAGES}, dividing n_prototypes {k}"
            ));
        }
        if k / s > MAX_STAGE_CODEWORDS {
            return bad(format!(
                "{} codewords per stage, over {MAX_STAGE_CODEWORDS}",
                k / s
            ));
        }
        if mean_bits > MAX_MEAN_BITS {
            return bad(format!("mean_bits {mean_bits} outside 0..={MAX_MEAN_BITS}"));
        }
        if !(mean_min.is_finite() && mean_max.is_finite() && mean_min <= mean_max) {
            return bad(format!("mean range [{mean_min}, {mean_max}]"));
        }
        // The codec computes in float32: the mean range, and the range in value units,
        // must be finite there.
        let finite = |v: f64| (v as f32).is_finite();
        let range_ok = finite(mean_min)
            && finite(mean_max)
            && finite(mean_max - mean_min)
            && cb
                .scaler()
                .scale
                .iter()
                .all(|&s| finite(mean_min * s) && finite(mean_max * s));
        if !range_ok {
            return bad("values out of float32 range: the codec computes in float32".into());
        }
        Ok(())
    }

    fn prepare(&self, cb: &Codebook, basis: &Basis) -> Box<dyn Coder> {
        let ModelKind::Residual {
            n_stages,
            mean_bits,
            mean_min,
            mean_max,
            beam,
        } = *cb.model()
        else {
            unreachable!("the registry hands this room its own kind")
        };
        Box::new(ResidualCoder(ResidualStages::new(
            cb.prototypes().iter().map(|&v| v as f32).collect(),
            n_stages as usize,
            basis.p,
            MeanQuantizer {
                bits: mean_bits,
                min: mean_min as f32,
                max: mean_max as f32,
            },
            beam as usize,
        )))
    }
}

/// The prepared residual codebook.
#[derive(Debug)]
struct ResidualCoder(ResidualStages);

impl Coder for ResidualCoder {
    fn adaptive(&self) -> Option<&ResidualStages> {
        Some(&self.0)
    }

    fn header_bits(&self, _weight_bits: u8) -> u8 {
        index_bits(self.0.k())
    }

    fn check_header_bits(&self, bits: u8) -> Result<()> {
        check_index_bits(bits, index_bits(self.0.k()))
    }

    fn packed_size(&self, n_tiles: usize, bits: u8) -> Option<usize> {
        let mean_bits = self.0.mean.bits;
        let means = if mean_bits > 0 {
            stream_len(Some(n_tiles), mean_bits)?
        } else {
            0
        };
        let idx = stream_len(n_tiles.checked_mul(self.0.n_stages()), bits)?;
        means.checked_add(idx)
    }

    fn encode(
        &self,
        basis: &Basis,
        tiles: &mut [f32],
        bits: u8,
        scratch: &mut CodeScratch,
        packed: &mut Vec<u8>,
    ) {
        let n_tiles = tiles.len() / basis.p;
        let means = sized(&mut scratch.extra, n_tiles);
        let idx = sized(&mut scratch.codes, n_tiles * self.0.n_stages());
        self.0.encode(tiles, means, idx);
        if self.0.mean.bits > 0 {
            pack(means, self.0.mean.bits, packed);
        }
        pack(idx, bits, packed);
    }

    fn decode(
        &self,
        basis: &Basis,
        packed: &[u8],
        bits: u8,
        scratch: &mut CodeScratch,
        tiles: &mut [f32],
    ) -> Result<()> {
        let n_tiles = tiles.len() / basis.p;
        let (s, k) = (self.0.n_stages(), self.0.k());
        let mb = self.0.mean.bits;
        let means = sized(&mut scratch.extra, n_tiles);
        let mut rest = packed;
        if mb > 0 {
            unpack(rest, mb, means).ok_or_else(codes_end_early)?;
            rest = rest
                .get(packed_len(n_tiles, mb)..)
                .ok_or_else(codes_end_early)?;
        } else {
            means.fill(0);
        }
        let idx = sized(&mut scratch.codes, n_tiles * s);
        unpack(rest, bits, idx).ok_or_else(codes_end_early)?;
        if let Some(&j) = idx.iter().find(|&&j| j as usize >= k) {
            return Err(bad_index(j, k));
        }
        reconstruct(self.0.mean, k, basis, means, idx, tiles);
        Ok(())
    }
}

/// Rebuilds tiles: `mean + m_t · scale + Σ_s basis[s, j_st]`, with `means` the quantized tile
/// means (`n_tiles`) and `indexes` stage-major (`n_stages × n_tiles`, every index checked below
/// the `k` codewords per stage). Cloned for AVX widths like the search kernels; the sums are in
/// one order and never fused, so the values are the same on every CPU.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+avx"))]
fn reconstruct(
    mq: MeanQuantizer,
    k: usize,
    basis: &Basis,
    means: &[u16],
    indexes: &[u16],
    tiles: &mut [f32],
) {
    match basis.p {
        16 => reconstruct_fixed::<16>(mq, k, basis, means, indexes, tiles),
        32 => reconstruct_fixed::<32>(mq, k, basis, means, indexes, tiles),
        64 => reconstruct_fixed::<64>(mq, k, basis, means, indexes, tiles),
        _ => reconstruct_any(mq, k, basis, means, indexes, tiles),
    }
}

// Tiles of 16, 32 and 64 values keep their sums in registers.
#[inline(always)]
fn reconstruct_fixed<const P: usize>(
    mq: MeanQuantizer,
    k: usize,
    basis: &Basis,
    means: &[u16],
    indexes: &[u16],
    tiles: &mut [f32],
) {
    let mean: [f32; P] = basis.mean[..].try_into().expect("P values per tile");
    let scale: [f32; P] = basis.scale[..].try_into().expect("P values per tile");
    let (codewords, _) = basis.decode_basis.as_chunks::<P>();
    let (out, _) = tiles.as_chunks_mut::<P>();
    let n = out.len();
    for (t, tile) in out.iter_mut().enumerate() {
        let mut acc = mean;
        if mq.bits > 0 {
            let m = mq.value(means[t]);
            for (a, &s) in acc.iter_mut().zip(&scale) {
                *a += m * s;
            }
        }
        for (s, stage_idx) in indexes.chunks_exact(n).enumerate() {
            let b = &codewords[s * k + stage_idx[t] as usize];
            for (a, &bv) in acc.iter_mut().zip(b) {
                *a += bv;
            }
        }
        *tile = acc;
    }
}

#[inline(always)]
fn reconstruct_any(
    mq: MeanQuantizer,
    k: usize,
    basis: &Basis,
    means: &[u16],
    indexes: &[u16],
    tiles: &mut [f32],
) {
    let p = basis.p;
    let n = tiles.len() / p;
    for (t, tile) in tiles.chunks_exact_mut(p).enumerate() {
        tile.copy_from_slice(&basis.mean);
        if mq.bits > 0 {
            let m = mq.value(means[t]);
            for (a, &s) in tile.iter_mut().zip(&basis.scale) {
                *a += m * s;
            }
        }
        for (s, stage_idx) in indexes.chunks_exact(n).enumerate() {
            let j = s * k + stage_idx[t] as usize;
            for (a, &bv) in tile.iter_mut().zip(&basis.decode_basis[j * p..(j + 1) * p]) {
                *a += bv;
            }
        }
    }
}

impl KindParams for ResidualParams {
    fn check(&self) -> Result<()> {
        ResidualParams::check(self)
    }

    fn max_iterations(&self) -> u64 {
        u64::from(self.get_max_iter()) * self.n_stages() as u64
    }

    fn stopping(&self) -> (Option<u64>, u32, f64) {
        (Some(self.get_seed()), self.get_max_iter(), self.get_tol())
    }

    fn fit(&self, x: &[f64], p: usize, observe: &mut Observer<'_>) -> Result<Fitted> {
        let fit = self.fit_observed(x, p, observe)?;
        let mean = fit.mean_quantizer();
        Ok(Fitted {
            model: ModelKind::Residual {
                n_stages: self.n_stages() as u32,
                mean_bits: mean.bits,
                mean_min: f64::from(mean.min),
                mean_max: f64::from(mean.max),
                beam: self.get_beam(),
            },
            prototypes: fit.codewords().to_vec(),
            n_init: 1,
            iterations: fit.iterations(),
            loss: fit.loss(),
        })
    }
}
