//! The codes of the two weight kinds (Fuzzy C-Means and Archetypal Analysis), which differ
//! only in how a tile's weights are found ([`Weigher`]).
//!
//! | weights | streams |
//! |---|---|
//! | dense | `k × n_tiles` weights at `bits`, prototype-major (runs of one prototype's weights compress better) |
//! | sparse (`kept_weights = s`) | `n_tiles × s` prototype indexes (largest weight first), then `n_tiles × (s - 1)` weights at `bits` (the first is 1 minus the others) |
//!
//! Format 1 stored one byte per dense weight.

use super::{bad_index, codes_end_early, index_bits, sized, stream_len, Basis, CodeScratch, Coder};
use crate::block::bitpack::{pack, packed_len, unpack};
use crate::codebook::Codebook;
use crate::error::{Error, Result};
use crate::weights::{quantize, SparseSolver};
use multiversion::multiversion;

/// Most bits of a quantized weight.
pub const MAX_WEIGHT_BITS: u8 = 8;

/// Checks a weight depth: 1 to [`MAX_WEIGHT_BITS`].
pub(crate) fn check_weight_bits(name: &'static str, bits: u8) -> Result<()> {
    if (1..=MAX_WEIGHT_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(Error::param(
            name,
            format!("{bits} outside 1..={MAX_WEIGHT_BITS}"),
        ))
    }
}

/// How a weight kind finds the weights of standardized tiles.
pub(crate) trait Weigher: Send + Sync + std::fmt::Debug {
    /// The weights of every tile (`n × p`) into `out` (`n × k`, tile-major).
    fn weigh(&self, tiles: &[f32], p: usize, out: &mut [f32]);
}

/// The coder of a weight kind.
#[derive(Debug)]
pub(crate) struct WeightCoder<W> {
    weigher: W,
    k: usize,
    /// Weights kept per tile (0: dense).
    kept: usize,
    /// The support search of sparse weights.
    sparse: Option<SparseSolver>,
}

impl<W: Weigher> WeightCoder<W> {
    /// The coder of `cb` with `weigher`.
    pub fn new(cb: &Codebook, weigher: W) -> Self {
        let kept = cb.kept_weights() as usize;
        WeightCoder {
            weigher,
            k: cb.n_prototypes(),
            kept,
            sparse: (kept > 0).then(|| SparseSolver::new(cb.prototypes(), cb.n_features())),
        }
    }
}

impl<W: Weigher> Coder for WeightCoder<W> {
    fn header_bits(&self, weight_bits: u8) -> u8 {
        weight_bits
    }

    fn check_header_bits(&self, bits: u8) -> Result<()> {
        if (1..=MAX_WEIGHT_BITS).contains(&bits) {
            Ok(())
        } else {
            Err(Error::CorruptBlock(format!(
                "{bits} bits per code, but weights take 1 to {MAX_WEIGHT_BITS}"
            )))
        }
    }

    fn packed_size(&self, n_tiles: usize, bits: u8) -> Option<usize> {
        let (k, kept) = (self.k, self.kept);
        if kept == 0 {
            return stream_len(n_tiles.checked_mul(k), bits);
        }
        let idx = stream_len(n_tiles.checked_mul(kept), index_bits(k))?;
        let vals = stream_len(n_tiles.checked_mul(kept - 1), bits)?;
        idx.checked_add(vals)
    }

    fn encode(
        &self,
        basis: &Basis,
        tiles: &mut [f32],
        bits: u8,
        scratch: &mut CodeScratch,
        packed: &mut Vec<u8>,
    ) {
        let (p, k, kept) = (basis.p, self.k, self.kept);
        let n_tiles = tiles.len() / p;
        let steps = quantize::levels(bits) as f32;
        let q = |w: f32| quantize::level(w, steps);
        match &self.sparse {
            Some(solver) => {
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
            None => {
                let weights = sized(&mut scratch.weights, n_tiles * k);
                self.weigher.weigh(tiles, p, weights);
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

    fn decode(
        &self,
        basis: &Basis,
        packed: &[u8],
        bits: u8,
        scratch: &mut CodeScratch,
        tiles: &mut [f32],
    ) -> Result<()> {
        let (p, k, kept) = (basis.p, self.k, self.kept);
        let n_tiles = tiles.len() / p;
        let inv = 1.0 / quantize::levels(bits) as f32;
        if kept == 0 {
            let codes = sized(&mut scratch.codes, n_tiles * k);
            unpack(packed, bits, codes).ok_or_else(codes_end_early)?;
            let weights = sized(&mut scratch.weights, n_tiles * k);
            quantize::dequantize(codes, bits, weights);
            reconstruct(basis, weights, n_tiles, tiles);
            return Ok(());
        }
        let idx = sized(&mut scratch.codes, n_tiles * kept);
        unpack(packed, index_bits(k), idx).ok_or_else(codes_end_early)?;
        let vals = sized(&mut scratch.extra, n_tiles * (kept - 1));
        let rest = packed
            .get(packed_len(n_tiles * kept, index_bits(k))..)
            .ok_or_else(codes_end_early)?;
        unpack(rest, bits, vals).ok_or_else(codes_end_early)?;
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
            reconstruct_sparse(basis, &idx[t * kept..(t + 1) * kept], w, tile);
        }
        Ok(())
    }

    fn v1_bytes_per_tile(&self) -> Option<usize> {
        Some(self.k)
    }

    fn decode_v1(
        &self,
        basis: &Basis,
        bytes: &[u8],
        bits: u8,
        scratch: &mut CodeScratch,
        tiles: &mut [f32],
    ) -> Result<()> {
        // Weights stay prototype-major, as stored.
        let weights = sized(&mut scratch.weights, bytes.len());
        quantize::dequantize(bytes, bits, weights);
        reconstruct(basis, weights, tiles.len() / basis.p, tiles);
        Ok(())
    }
}

/// Rebuilds tiles from dense weights: `tile = mean + Σ_j w_j · basis_j`.
///
/// `weights` is prototype-major (`k × n_tiles`, as blocks store them); `tiles` receives
/// `n_tiles × p` values.
// Cloned for AVX widths like the search kernels (`crate::kernels`); the sums are plain `+=` of
// products in one order, never fused, so the decoded values are the same on every CPU.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+avx"))]
fn reconstruct(basis: &Basis, weights: &[f32], n_tiles: usize, tiles: &mut [f32]) {
    debug_assert_eq!(weights.len(), basis.k * n_tiles);
    debug_assert_eq!(tiles.len(), basis.p * n_tiles);
    // Tiles of 16 (4×4) and 64 (4×4×4) values keep their sums in registers.
    match basis.p {
        16 => reconstruct_fixed::<16>(basis, weights, n_tiles, tiles),
        64 => reconstruct_fixed::<64>(basis, weights, n_tiles, tiles),
        _ => reconstruct_any(basis, weights, n_tiles, tiles),
    }
}

#[inline(always)]
fn reconstruct_fixed<const P: usize>(
    basis: &Basis,
    weights: &[f32],
    n_tiles: usize,
    tiles: &mut [f32],
) {
    let mean: [f32; P] = basis.mean[..].try_into().expect("P values per tile");
    let (prototypes, _) = basis.decode_basis.as_chunks::<P>();
    let (out, _) = tiles.as_chunks_mut::<P>();
    for (t, tile) in out.iter_mut().enumerate() {
        let mut acc = mean;
        // No test for zero weights: a branch that mispredicts costs more than the
        // multiply-adds it would skip.
        for (j, b) in prototypes.iter().enumerate() {
            let w = weights[j * n_tiles + t];
            for (a, &bv) in acc.iter_mut().zip(b) {
                *a += w * bv;
            }
        }
        *tile = acc;
    }
}

#[inline(always)]
fn reconstruct_any(basis: &Basis, weights: &[f32], n_tiles: usize, tiles: &mut [f32]) {
    let p = basis.p;
    for (t, tile) in tiles.chunks_exact_mut(p).enumerate() {
        tile.copy_from_slice(&basis.mean);
        for (j, b) in basis.decode_basis.chunks_exact(p).enumerate() {
            let w = weights[j * n_tiles + t];
            if w != 0.0 {
                for (a, &bv) in tile.iter_mut().zip(b) {
                    *a += w * bv;
                }
            }
        }
    }
}

/// Rebuilds one tile from sparse weights: `mean + Σ_i w_i · basis[idx_i]` (indexes checked
/// below `k`).
fn reconstruct_sparse(basis: &Basis, indexes: &[u16], weights: &[f32], tile: &mut [f32]) {
    let p = basis.p;
    tile.copy_from_slice(&basis.mean);
    for (&j, &w) in indexes.iter().zip(weights) {
        let j = j as usize;
        for (a, &bv) in tile.iter_mut().zip(&basis.decode_basis[j * p..(j + 1) * p]) {
            *a += w * bv;
        }
    }
}
