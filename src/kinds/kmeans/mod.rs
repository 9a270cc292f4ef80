//! k-means (hard vector quantization): one codeword index per tile, bit-packed at
//! [`index_bits`]`(k)` bits, decoded by lookup of whole tiles.

mod fit;

pub(crate) use fit::nearest_all;
pub use fit::{KMeans, KMeansParams};

use super::{
    bad_index, check_index_bits, codes_end_early, index_bits, sized, stream_len, Basis,
    CodeScratch, Coder, Fitted, KindParams, Names, Room, TrainOptions,
};
use crate::block::bitpack::{pack, unpack};
use crate::codebook::{Codebook, ModelKind, MAX_PROTOTYPES};
use crate::error::Result;
use crate::train::{Metric, ModelParams, Observer};
use crate::weights::Memberships;

/// Codewords of a default k-means codebook.
pub const DEFAULT_CODEWORDS: usize = 36;

impl Default for KMeansParams {
    /// [`KMeansParams::new`] with [`DEFAULT_CODEWORDS`].
    fn default() -> Self {
        KMeansParams::new(DEFAULT_CODEWORDS)
    }
}

pub(crate) struct KMeansRoom;

impl Room for KMeansRoom {
    fn names(&self) -> Names {
        Names {
            code: 3,
            schema: "kmeans",
            short: "kmeans",
            has_weights: false,
        }
    }

    fn default_params(&self) -> ModelParams {
        ModelParams::KMeans(KMeansParams::default())
    }

    fn params_from_options(&self, o: &TrainOptions) -> ModelParams {
        ModelParams::KMeans(
            KMeansParams::new(o.n_prototypes)
                .max_iter(o.max_iter)
                .tol(o.tol)
                .seed(o.seed),
        )
    }

    fn write_options(&self, params: &ModelParams, o: &mut TrainOptions) {
        if let ModelParams::KMeans(p) = params {
            o.n_prototypes = p.n_codewords();
            o.max_iter = p.get_max_iter();
            o.tol = p.get_tol();
        }
    }

    fn max_prototypes(&self) -> usize {
        MAX_PROTOTYPES
    }

    fn validate(&self, _cb: &Codebook) -> Result<()> {
        Ok(())
    }

    fn prepare(&self, cb: &Codebook, basis: &Basis) -> Box<dyn Coder> {
        let p = basis.p;
        Box::new(KMeansCoder {
            search: Memberships::new(
                cb.prototypes().iter().map(|&v| v as f32).collect(),
                p,
                2.0,
                Metric::Euclidean,
            ),
            codeword_tiles: basis
                .decode_basis
                .chunks_exact(p)
                .flat_map(|b| b.iter().zip(&basis.mean).map(|(&bv, &m)| m + bv))
                .collect(),
            k: basis.k,
        })
    }
}

/// The prepared k-means codebook.
#[derive(Debug)]
struct KMeansCoder {
    /// Nearest-codeword search in standardized space.
    search: Memberships<f32>,
    /// Whole decoded tiles `mean + basis_j`, one per codeword.
    codeword_tiles: Vec<f32>,
    k: usize,
}

impl KMeansCoder {
    fn lookup(&self, j: usize, p: usize) -> Result<&[f32]> {
        self.codeword_tiles
            .get(j * p..(j + 1) * p)
            .ok_or_else(|| bad_index(j as u16, self.k))
    }
}

impl Coder for KMeansCoder {
    fn header_bits(&self, _weight_bits: u8) -> u8 {
        index_bits(self.k)
    }

    fn check_header_bits(&self, bits: u8) -> Result<()> {
        check_index_bits(bits, index_bits(self.k))
    }

    fn packed_size(&self, n_tiles: usize, bits: u8) -> Option<usize> {
        stream_len(Some(n_tiles), bits)
    }

    fn encode(
        &self,
        basis: &Basis,
        tiles: &mut [f32],
        bits: u8,
        scratch: &mut CodeScratch,
        packed: &mut Vec<u8>,
    ) {
        let p = basis.p;
        let idx = sized(&mut scratch.codes, tiles.len() / p);
        self.search.nearest_rows(tiles, idx);
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
        let p = basis.p;
        let idx = sized(&mut scratch.codes, tiles.len() / p);
        unpack(packed, bits, idx).ok_or_else(codes_end_early)?;
        for (tile, &j) in tiles.chunks_exact_mut(p).zip(idx.iter()) {
            tile.copy_from_slice(self.lookup(j as usize, p)?);
        }
        Ok(())
    }

    fn v1_bytes_per_tile(&self) -> Option<usize> {
        Some(v1_index_width(self.k))
    }

    fn decode_v1(
        &self,
        basis: &Basis,
        bytes: &[u8],
        _bits: u8,
        _scratch: &mut CodeScratch,
        tiles: &mut [f32],
    ) -> Result<()> {
        let (p, width) = (basis.p, v1_index_width(self.k));
        for (tile, chunk) in tiles.chunks_exact_mut(p).zip(bytes.chunks_exact(width)) {
            let mut b = [0u8; 2];
            b[..width].copy_from_slice(chunk);
            tile.copy_from_slice(self.lookup(u16::from_le_bytes(b) as usize, p)?);
        }
        Ok(())
    }
}

/// Bytes per codeword index in format-1 blocks.
fn v1_index_width(k: usize) -> usize {
    if k <= 256 {
        1
    } else {
        2
    }
}

impl KindParams for KMeansParams {
    fn check(&self) -> Result<()> {
        KMeansParams::check(self)
    }

    fn max_iterations(&self) -> u64 {
        u64::from(self.get_max_iter())
    }

    fn stopping(&self) -> (Option<u64>, u32, f64) {
        (Some(self.get_seed()), self.get_max_iter(), self.get_tol())
    }

    fn fit(&self, x: &[f64], p: usize, observe: &mut Observer<'_>) -> Result<Fitted> {
        let fit = self.fit_observed(x, p, observe)?;
        Ok(Fitted {
            model: ModelKind::KMeans,
            prototypes: fit.centers().to_vec(),
            n_init: 1,
            iterations: fit.iterations(),
            loss: fit.loss(),
        })
    }
}
