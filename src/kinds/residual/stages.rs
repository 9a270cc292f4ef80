//! Residual (multi-stage) vector quantization of standardized tiles: optionally remove the
//! tile's quantized mean, then let every stage pick the codeword nearest to what the stages
//! before it left.

use crate::weights::{Memberships, Metric};

/// A uniform quantizer of tile means over `[min, max]` with `2^bits` levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanQuantizer {
    /// Bits per quantized mean (0: no mean removal).
    pub bits: u8,
    /// Lowest level.
    pub min: f32,
    /// Highest level.
    pub max: f32,
}

impl MeanQuantizer {
    fn steps(&self) -> f32 {
        ((1u32 << self.bits) - 1) as f32
    }

    /// The level nearest to `m`.
    pub fn quantize(&self, m: f32) -> u16 {
        let width = self.max - self.min;
        if width <= 0.0 {
            return 0;
        }
        let q = ((m - self.min) / width * self.steps()).round_ties_even();
        q.clamp(0.0, self.steps()) as u16
    }

    /// The value of level `q`.
    pub fn value(&self, q: u16) -> f32 {
        if self.bits == 0 {
            return 0.0;
        }
        self.min + (self.max - self.min) * (f32::from(q) / self.steps())
    }
}

/// Prepared stages of a residual codebook.
#[derive(Debug, Clone)]
pub struct ResidualStages {
    /// One nearest-codeword searcher per stage.
    pub(super) stages: Vec<Memberships<f32>>,
    /// All codewords, stage after stage (`n_stages × k × p`, standardized).
    pub(super) codewords: Vec<f32>,
    pub(super) k: usize,
    pub(super) p: usize,
    /// The mean quantizer (`bits == 0`: none).
    pub mean: MeanQuantizer,
    /// Candidate paths kept from stage to stage (1: greedy).
    beam: usize,
}

impl ResidualStages {
    /// Prepares `n_stages` stages from `codewords` (`n_stages × k × p`), searched with
    /// `beam` candidate paths (1: greedy, each stage its nearest codeword).
    pub fn new(
        codewords: Vec<f32>,
        n_stages: usize,
        p: usize,
        mean: MeanQuantizer,
        beam: usize,
    ) -> Self {
        let k = codewords.len() / (n_stages * p);
        let stages = codewords
            .chunks_exact(k * p)
            .map(|c| Memberships::new(c.to_vec(), p, 2.0, Metric::Euclidean))
            .collect();
        ResidualStages {
            stages,
            codewords,
            k,
            p,
            mean,
            beam: beam.max(1),
        }
    }

    /// Number of stages.
    pub fn n_stages(&self) -> usize {
        self.stages.len()
    }

    /// Codewords per stage.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Codes every tile of `tiles` (`n × p`, standardized; used as scratch). Writes the
    /// quantized means into `means` (`n`, untouched without mean removal) and the indexes
    /// stage-major into `indexes` (`n_stages × n`).
    pub fn encode(&self, tiles: &mut [f32], means: &mut [u16], indexes: &mut [u16]) {
        let (p, k) = (self.p, self.k);
        let n = tiles.len() / p;
        let mut dots = vec![0f32; k];
        let mut beam = BeamScratch::default();
        for (t, z) in tiles.chunks_exact_mut(p).enumerate() {
            if self.mean.bits > 0 {
                // A plain serial sum: same order, same bits, on every CPU.
                let m = z.iter().fold(0f32, |a, &v| a + v) / p as f32;
                let q = self.mean.quantize(m);
                means[t] = q;
                let mq = self.mean.value(q);
                z.iter_mut().for_each(|v| *v -= mq);
            }
            if self.beam > 1 && self.stages.len() > 1 {
                self.beam_search(z, t, n, indexes, &mut beam);
                continue;
            }
            for (s, stage) in self.stages.iter().enumerate() {
                let j = stage.nearest(z, &mut dots);
                indexes[s * n + t] = j as u16;
                let c = &self.codewords[(s * k + j) * p..(s * k + j + 1) * p];
                z.iter_mut().zip(c).for_each(|(v, &cv)| *v -= cv);
            }
        }
    }

    /// Codes one tile keeping the `beam` best partial paths from stage to stage; writes the
    /// best full path's indexes (ties go to the earlier path, then the lower index).
    fn beam_search(
        &self,
        z: &[f32],
        t: usize,
        n: usize,
        indexes: &mut [u16],
        bs: &mut BeamScratch,
    ) {
        let (p, k, b) = (self.p, self.k, self.beam);
        let n_stages = self.stages.len();
        let BeamScratch {
            dots,
            res,
            next_res,
            err,
            ids,
            next_ids,
            best,
        } = bs;
        dots.resize(k, 0.0);
        res.resize(b * p, 0.0);
        next_res.resize(b * p, 0.0);
        err.resize(b, 0.0);
        ids.resize(b * n_stages, 0);
        next_ids.resize(b * n_stages, 0);
        // Path 0 is the tile itself.
        res[..p].copy_from_slice(z);
        err[0] = z.iter().map(|v| v * v).sum();
        let mut n_paths = 1;
        for (s, stage) in self.stages.iter().enumerate() {
            // The b best (error, path, codeword) extensions, ascending.
            best.clear();
            for pi in 0..n_paths {
                stage.partial_sq_distances(&res[pi * p..(pi + 1) * p], dots);
                for (j, &d) in dots.iter().enumerate() {
                    let e = err[pi] + d;
                    if best.len() == b && !(e < best[b - 1].0) {
                        continue;
                    }
                    let pos = best.partition_point(|&(be, _, _)| be <= e);
                    best.insert(pos, (e, pi, j));
                    best.truncate(b);
                }
            }
            for (q, &(_, pi, j)) in best.iter().enumerate() {
                let c = &self.codewords[(s * k + j) * p..(s * k + j + 1) * p];
                let mut e = 0f32;
                for ((o, &v), &cv) in next_res[q * p..(q + 1) * p]
                    .iter_mut()
                    .zip(&res[pi * p..(pi + 1) * p])
                    .zip(c)
                {
                    *o = v - cv;
                    e += *o * *o;
                }
                // The exact error of the new residual (the sum above drifts).
                err[q] = e;
                next_ids[q * n_stages..q * n_stages + s]
                    .copy_from_slice(&ids[pi * n_stages..pi * n_stages + s]);
                next_ids[q * n_stages + s] = j as u16;
            }
            n_paths = best.len();
            std::mem::swap(res, next_res);
            std::mem::swap(ids, next_ids);
        }
        let mut winner = 0;
        for q in 1..n_paths {
            if err[q] < err[winner] {
                winner = q;
            }
        }
        for s in 0..n_stages {
            indexes[s * n + t] = ids[winner * n_stages + s];
        }
    }
}

/// Buffers of the beam search, reused from tile to tile.
#[derive(Default)]
struct BeamScratch {
    dots: Vec<f32>,
    res: Vec<f32>,
    next_res: Vec<f32>,
    err: Vec<f32>,
    ids: Vec<u16>,
    next_ids: Vec<u16>,
    best: Vec<(f32, usize, usize)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_levels_cover_the_range() {
        let q = MeanQuantizer {
            bits: 3,
            min: -1.0,
            max: 1.0,
        };
        assert_eq!(q.quantize(-5.0), 0);
        assert_eq!(q.quantize(5.0), 7);
        assert_eq!(q.value(0), -1.0);
        assert_eq!(q.value(7), 1.0);
        assert!((q.value(q.quantize(0.1)) - 0.1).abs() <= 1.0 / 7.0);
    }

    #[test]
    fn two_stages_refine_the_first() {
        // Stage 1: {0, 10}; stage 2: {-1, 1}: 9 codes as 10 - 1.
        let cw = vec![0.0f32, 10.0, -1.0, 1.0];
        let r = ResidualStages::new(
            cw,
            2,
            1,
            MeanQuantizer {
                bits: 0,
                min: 0.0,
                max: 0.0,
            },
            1,
        );
        let mut tiles = vec![9.0f32, 0.8];
        let mut idx = vec![0u16; 4];
        r.encode(&mut tiles, &mut [0; 2], &mut idx);
        assert_eq!(idx, vec![1, 0, 0, 1]);
    }

    #[test]
    fn the_beam_finds_what_greedy_misses() {
        // Stage 1 {0, 4}, stage 2 {-3, 3}: x = 3.2 greedily takes 4 then -3 (error 2.2²);
        // 0 then 3 is exact up to 0.2.
        let cw = vec![0.0f32, 4.0, -3.0, 3.0];
        let none = MeanQuantizer {
            bits: 0,
            min: 0.0,
            max: 0.0,
        };
        let mut idx = vec![0u16; 2];
        ResidualStages::new(cw.clone(), 2, 1, none, 1).encode(&mut [3.2], &mut [0], &mut idx);
        assert_eq!(idx, vec![1, 0]);
        ResidualStages::new(cw, 2, 1, none, 2).encode(&mut [3.2], &mut [0], &mut idx);
        assert_eq!(idx, vec![0, 1]);
    }
}
