//! The codes of one block (format 2), before LZ4: what each codebook kind stores per tile,
//! bit-packed, and how tiles come back from it.
//!
//! | kind | streams, one after the other (each bit-packed, byte-aligned) |
//! |---|---|
//! | Fuzzy C-Means, Archetypal (dense) | `k × n_tiles` weights at `bits`, prototype-major |
//! | the same with `kept_weights = s` | `n_tiles × s` prototype indexes (largest weight first), then `n_tiles × (s - 1)` weights at `bits` (the first is 1 minus the others) |
//! | k-means | `n_tiles` codeword indexes |
//! | residual | `n_tiles` quantized means at `mean_bits` (if any), then `n_stages × n_tiles` indexes, stage-major |
//! | scalar | one level index per value |
//!
//! Indexes take `index_bits(k)` bits: the fewest that hold `k - 1`.

use super::bitpack::{pack, packed_len, unpack};
use super::sized;
use crate::codebook::{index_bits, ModelKind, PreparedCodebook};
use crate::error::{Error, Result};
use crate::weights::{quantize, WeightKernel};

/// Per-thread buffers for the codes.
#[derive(Default)]
pub(crate) struct CodeScratch {
    codes: Vec<u16>,
    extra: Vec<u16>,
    weights: Vec<f32>,
    kept: Vec<f32>,
    dots: Vec<f32>,
}

/// The bits field of a block header for this codebook: weight bits for weight kinds, index
/// bits otherwise.
pub(crate) fn header_bits(cb: &PreparedCodebook, weight_bits: u8) -> u8 {
    if cb.codebook.model.has_weights() {
        weight_bits
    } else {
        index_bits(cb.codebook.codewords_per_stage())
    }
}

/// The packed length of a block of `n_tiles` tiles, or `None` on overflow.
pub(crate) fn packed_size(cb: &PreparedCodebook, n_tiles: usize, bits: u8) -> Option<usize> {
    let k = cb.n_prototypes;
    let kept = cb.codebook.kept_weights as usize;
    let stream = |count: Option<usize>, b: u8| -> Option<usize> {
        let bits_total = count?.checked_mul(b as usize)?;
        Some(bits_total.div_ceil(8))
    };
    match cb.codebook.model {
        ModelKind::FuzzyCMeans { .. } | ModelKind::Archetypal if kept > 0 => {
            let idx = stream(n_tiles.checked_mul(kept), index_bits(k))?;
            let vals = stream(n_tiles.checked_mul(kept - 1), bits)?;
            idx.checked_add(vals)
        }
        ModelKind::FuzzyCMeans { .. } | ModelKind::Archetypal => {
            stream(n_tiles.checked_mul(k), bits)
        }
        ModelKind::Residual {
            n_stages,
            mean_bits,
            ..
        } => {
            let means = if mean_bits > 0 {
                stream(Some(n_tiles), mean_bits)?
            } else {
                0
            };
            let idx = stream(n_tiles.checked_mul(n_stages as usize), bits)?;
            means.checked_add(idx)
        }
        _ => stream(Some(n_tiles), bits),
    }
}

/// Codes standardized `tiles` (`n_tiles × p`; overwritten) into `packed`.
pub(crate) fn encode(
    cb: &PreparedCodebook,
    tiles: &mut [f32],
    bits: u8,
    scratch: &mut CodeScratch,
    packed: &mut Vec<u8>,
) {
    let (p, k) = (cb.n_features, cb.n_prototypes);
    let n_tiles = tiles.len() / p;
    packed.clear();
    match &cb.kernel {
        WeightKernel::Nearest(_) => {
            let idx = sized(&mut scratch.codes, n_tiles);
            cb.kernel
                .nearest(tiles, p, idx, sized(&mut scratch.dots, k));
            pack(idx, bits, packed);
        }
        WeightKernel::Scalar(levels) => {
            let idx = sized(&mut scratch.codes, n_tiles);
            for (o, &v) in idx.iter_mut().zip(tiles.iter()) {
                *o = levels.nearest(v);
            }
            pack(idx, bits, packed);
        }
        WeightKernel::Residual(stages) => {
            let means = sized(&mut scratch.extra, n_tiles);
            let idx = sized(&mut scratch.codes, n_tiles * stages.n_stages());
            stages.encode(tiles, means, idx);
            if stages.mean.bits > 0 {
                pack(means, stages.mean.bits, packed);
            }
            pack(idx, bits, packed);
        }
        WeightKernel::Fuzzy(_) | WeightKernel::Archetypal { .. } => {
            let kept = cb.codebook.kept_weights as usize;
            let step = quantize::levels(bits) as f32;
            let q = |w: f32| (w * step).round_ties_even().clamp(0.0, step) as u16;
            match &cb.sparse {
                Some(solver) if kept > 0 => {
                    // The best few prototypes per tile, not the largest dense weights.
                    let idx = sized(&mut scratch.codes, n_tiles * kept);
                    let vals = sized(&mut scratch.extra, n_tiles * (kept - 1));
                    let kept_w = sized(&mut scratch.kept, kept);
                    for (t, x) in tiles.chunks_exact(p).enumerate() {
                        solver.solve(x, &mut idx[t * kept..(t + 1) * kept], kept_w);
                        for (o, &v) in vals[t * (kept - 1)..(t + 1) * (kept - 1)]
                            .iter_mut()
                            .zip(&kept_w[1..])
                        {
                            *o = q(v);
                        }
                    }
                    pack(idx, index_bits(k), packed);
                    pack(vals, bits, packed);
                }
                _ => {
                    let weights = sized(&mut scratch.weights, n_tiles * k);
                    cb.kernel.compute(tiles, p, weights);
                    // Prototype-major: runs of one prototype's weights compress better.
                    let codes = sized(&mut scratch.codes, n_tiles * k);
                    for (t, w) in weights.chunks_exact(k).enumerate() {
                        for (j, &wj) in w.iter().enumerate() {
                            codes[j * n_tiles + t] = q(wj);
                        }
                    }
                    pack(codes, bits, packed);
                }
            }
        }
    }
}

/// Rebuilds `tiles` (`n_tiles × p`, value space) from `packed` (exactly
/// [`packed_size`] bytes).
pub(crate) fn decode(
    cb: &PreparedCodebook,
    packed: &[u8],
    bits: u8,
    scratch: &mut CodeScratch,
    tiles: &mut [f32],
) -> Result<()> {
    let (p, k) = (cb.n_features, cb.n_prototypes);
    let n_tiles = tiles.len() / p;
    let short = || Error::TruncatedBlock("the codes end early".into());
    let bad_index = |j: u16, of: usize| Error::CorruptBlock(format!("codeword index {j} of {of}"));
    match &cb.kernel {
        WeightKernel::Scalar(levels) => {
            let idx = sized(&mut scratch.codes, n_tiles);
            unpack(packed, bits, idx).ok_or_else(short)?;
            let levels = levels.levels();
            for (v, &j) in tiles.iter_mut().zip(idx.iter()) {
                *v = *levels
                    .get(j as usize)
                    .ok_or_else(|| bad_index(j, levels.len()))?;
            }
        }
        WeightKernel::Nearest(_) => {
            let idx = sized(&mut scratch.codes, n_tiles);
            unpack(packed, bits, idx).ok_or_else(short)?;
            for (tile, &j) in tiles.chunks_exact_mut(p).zip(idx.iter()) {
                let j = j as usize;
                let cw = cb
                    .codeword_tiles
                    .get(j * p..(j + 1) * p)
                    .ok_or_else(|| bad_index(j as u16, k))?;
                tile.copy_from_slice(cw);
            }
        }
        WeightKernel::Residual(stages) => {
            let (s, ks) = (stages.n_stages(), stages.k());
            let mb = stages.mean.bits;
            let means = sized(&mut scratch.extra, n_tiles);
            let mut rest = packed;
            if mb > 0 {
                unpack(rest, mb, means).ok_or_else(short)?;
                rest = &rest[packed_len(n_tiles, mb)..];
            } else {
                means.fill(0);
            }
            let idx = sized(&mut scratch.codes, n_tiles * s);
            unpack(rest, bits, idx).ok_or_else(short)?;
            if let Some(&j) = idx.iter().find(|&&j| j as usize >= ks) {
                return Err(bad_index(j, ks));
            }
            cb.reconstruct_residual(means, idx, tiles);
        }
        WeightKernel::Fuzzy(_) | WeightKernel::Archetypal { .. } => {
            let kept = cb.codebook.kept_weights as usize;
            let inv = 1.0 / quantize::levels(bits) as f32;
            if kept == 0 {
                let codes = sized(&mut scratch.codes, n_tiles * k);
                unpack(packed, bits, codes).ok_or_else(short)?;
                let weights = sized(&mut scratch.weights, n_tiles * k);
                for (w, &c) in weights.iter_mut().zip(codes.iter()) {
                    *w = f32::from(c) * inv;
                }
                cb.reconstruct(weights, n_tiles, tiles);
            } else {
                let idx = sized(&mut scratch.codes, n_tiles * kept);
                unpack(packed, index_bits(k), idx).ok_or_else(short)?;
                let vals = sized(&mut scratch.extra, n_tiles * (kept - 1));
                unpack(
                    &packed[packed_len(n_tiles * kept, index_bits(k))..],
                    bits,
                    vals,
                )
                .ok_or_else(short)?;
                if let Some(&j) = idx.iter().find(|&&j| j as usize >= k) {
                    return Err(bad_index(j, k));
                }
                let w = sized(&mut scratch.kept, kept);
                for (t, tile) in tiles.chunks_exact_mut(p).enumerate() {
                    let mut rest = 0f32;
                    for (o, &c) in w[1..].iter_mut().zip(&vals[t * (kept - 1)..]) {
                        *o = f32::from(c) * inv;
                        rest += *o;
                    }
                    w[0] = (1.0 - rest).max(0.0);
                    cb.reconstruct_sparse(&idx[t * kept..(t + 1) * kept], w, tile);
                }
            }
        }
    }
    Ok(())
}
