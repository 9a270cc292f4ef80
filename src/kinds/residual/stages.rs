//! Residual (multi-stage) vector quantization of standardized tiles: optionally remove the
//! tile's quantized mean, then let every stage pick the codeword nearest to what the stages
//! before it left.

use crate::kernels::{self, PackedCodewords};
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
    /// What the beam search needs (`None` for a greedy search).
    tables: Option<BeamTables>,
}

/// Precomputed products that turn the beam search into table additions (as FAISS's residual
/// quantizer does): a path's residual after codewords `c_{0,j0} … c_{s-1,js-1}` has
/// `r · c = x · c - Σ_i c_{i,ji} · c`, so one product of the tile with every codeword of every
/// stage, plus rows of codeword-by-codeword tables, give every distance the beam needs.
#[derive(Debug, Clone)]
struct BeamTables {
    /// Every codeword of every stage, packed for one product with the tile.
    all: PackedCodewords<f32>,
    /// `|c|²` of every codeword, stage after stage (`n_stages × k`).
    norms: Vec<f32>,
    /// For stages `s < m`, at `s * n_stages + m`: `c_{s,j} · c_{m,l}` (`k × k_pad`, row `j`).
    cross: Vec<Vec<f32>>,
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
        let stages: Vec<Memberships<f32>> = codewords
            .chunks_exact(k * p)
            .map(|c| Memberships::new(c.to_vec(), p, 2.0, Metric::Euclidean))
            .collect();
        let beam = beam.max(1);
        let tables = (beam > 1 && n_stages > 1).then(|| {
            let mut cross = vec![Vec::new(); n_stages * n_stages];
            for s in 0..n_stages {
                for m in s + 1..n_stages {
                    let packed = PackedCodewords::new(&codewords[m * k * p..(m + 1) * k * p], p);
                    let mut t = vec![0f32; k * packed.k_pad()];
                    kernels::dots(&codewords[s * k * p..(s + 1) * k * p], &packed, &mut t);
                    cross[s * n_stages + m] = t;
                }
            }
            BeamTables {
                all: PackedCodewords::new(&codewords, p),
                norms: codewords
                    .chunks_exact(p)
                    .map(|c| kernels::serial_dot(c, c))
                    .collect(),
                cross,
            }
        });
        ResidualStages {
            stages,
            codewords,
            k,
            p,
            mean,
            beam,
            tables,
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
        if self.mean.bits > 0 {
            for (z, mean) in tiles.chunks_exact_mut(p).zip(means.iter_mut()) {
                // A plain serial sum: same order, same bits, on every CPU.
                let m = z.iter().fold(0f32, |a, &v| a + v) / p as f32;
                let q = self.mean.quantize(m);
                *mean = q;
                let mq = self.mean.value(q);
                z.iter_mut().for_each(|v| *v -= mq);
            }
        }
        if let Some(tables) = &self.tables {
            let mut beam = BeamScratch::default();
            let mut x_dots = Vec::new();
            let stride = tables.all.k_pad();
            for (g, group) in tiles.chunks(GROUP * p).enumerate() {
                x_dots.resize(group.len() / p * stride, 0.0);
                kernels::dots(group, &tables.all, &mut x_dots);
                for (i, z) in group.chunks_exact(p).enumerate() {
                    let path = self.beam_search(tables, z, &x_dots[i * stride..], &mut beam);
                    for (s, &j) in path.iter().enumerate() {
                        indexes[s * n + g * GROUP + i] = j;
                    }
                }
            }
            return;
        }
        // Greedy: stage after stage over a group of tiles at once (the kernel's GEMM shape),
        // small enough to stay in the L1 cache.
        for (g, group) in tiles.chunks_mut(GROUP * p).enumerate() {
            let t0 = g * GROUP;
            let m = group.len() / p;
            for (s, stage) in self.stages.iter().enumerate() {
                let idx = &mut indexes[s * n + t0..s * n + t0 + m];
                stage.nearest_rows(group, idx);
                for (z, &j) in group.chunks_exact_mut(p).zip(idx.iter()) {
                    let row = (s * k + usize::from(j)) * p;
                    let c = &self.codewords[row..row + p];
                    z.iter_mut().zip(c).for_each(|(v, &cv)| *v -= cv);
                }
            }
        }
    }

    /// Codes one tile `z` keeping the `beam` best partial paths from stage to stage, from
    /// its products `x_dots` with every codeword; returns the best full path's indexes (ties
    /// go to the earlier path, then the lower index).
    fn beam_search<'s>(
        &self,
        tables: &BeamTables,
        z: &[f32],
        x_dots: &[f32],
        bs: &'s mut BeamScratch,
    ) -> &'s [u16] {
        let (p, k, b) = (self.p, self.k, self.beam);
        let n_stages = self.stages.len();
        let BeamScratch {
            res,
            next_res,
            err,
            ids,
            next_ids,
            cross,
            next_cross,
            candidates,
            best,
        } = bs;
        res.resize(b * p, 0.0);
        next_res.resize(b * p, 0.0);
        err.resize(b, 0.0);
        ids.resize(b * n_stages, 0);
        next_ids.resize(b * n_stages, 0);
        // Per path, `Σ_i c_{i,ji} · c` for every codeword of every stage.
        cross.resize(b * n_stages * k, 0.0);
        next_cross.resize(b * n_stages * k, 0.0);
        // Path 0 is the tile itself.
        res[..p].copy_from_slice(z);
        err[0] = z.iter().map(|v| v * v).sum();
        let mut n_paths = 1;
        for s in 0..n_stages {
            // Every extension's squared error: |r|² + |c|² - 2 r·c.
            candidates.resize(n_paths * k, 0.0);
            let norms = &tables.norms[s * k..(s + 1) * k];
            let xd = &x_dots[s * k..(s + 1) * k];
            for (pi, row) in candidates.chunks_exact_mut(k).enumerate() {
                let e0 = err[pi];
                if s == 0 {
                    for ((o, &cc), &d) in row.iter_mut().zip(norms).zip(xd) {
                        *o = e0 + (cc - (d + d));
                    }
                } else {
                    let cr = &cross[(pi * n_stages + s) * k..(pi * n_stages + s + 1) * k];
                    for (((o, &cc), &d), &c) in row.iter_mut().zip(norms).zip(xd).zip(cr) {
                        let dot = d - c;
                        *o = e0 + (cc - (dot + dot));
                    }
                }
            }
            select_smallest(candidates, b, best);
            for (q, &(_, flat)) in best.iter().enumerate() {
                let (pi, j) = (flat as usize / k, flat as usize % k);
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
                // The exact error of the new residual (the sums above drift).
                err[q] = e;
                next_ids[q * n_stages..q * n_stages + s]
                    .copy_from_slice(&ids[pi * n_stages..pi * n_stages + s]);
                next_ids[q * n_stages + s] = j as u16;
                for m in s + 1..n_stages {
                    let t = &tables.cross[s * n_stages + m];
                    let stride = t.len() / k;
                    let add = &t[j * stride..j * stride + k];
                    let out = &mut next_cross[(q * n_stages + m) * k..(q * n_stages + m + 1) * k];
                    if s == 0 {
                        out.copy_from_slice(add);
                    } else {
                        let from = &cross[(pi * n_stages + m) * k..(pi * n_stages + m + 1) * k];
                        for ((o, &f), &a) in out.iter_mut().zip(from).zip(add) {
                            *o = f + a;
                        }
                    }
                }
            }
            n_paths = best.len();
            std::mem::swap(res, next_res);
            std::mem::swap(ids, next_ids);
            std::mem::swap(cross, next_cross);
        }
        let mut winner = 0;
        for q in 1..n_paths {
            if err[q] < err[winner] {
                winner = q;
            }
        }
        &ids[winner * n_stages..(winner + 1) * n_stages]
    }
}

/// Tiles coded together: one kernel call for their products with the codewords.
const GROUP: usize = 8;

/// Values per chunk in [`select_smallest`]'s first pass.
const CHUNK: usize = 16;

/// The `b` smallest of `v` as `(value, index)`, ascending, ties to the lower index: what
/// inserting every value in order into a sorted list of `b` gives, without visiting most of
/// them. Position `l` of the column minima is the smallest of `v[l], v[l + 16], …`; these are
/// distinct entries, so the `b`-th smallest of them bounds the `b`-th smallest value, and only
/// chunks holding a value within the bound are searched. NaN is never selected.
fn select_smallest(v: &[f32], b: usize, best: &mut Vec<(f32, u32)>) {
    best.clear();
    let chunks = v.chunks_exact(CHUNK);
    let tail = chunks.remainder();
    let mut bound = f32::INFINITY;
    if b <= CHUNK && v.len() >= CHUNK {
        let mut col = [f32::INFINITY; CHUNK];
        for c in chunks.clone() {
            for l in 0..CHUNK {
                col[l] = if c[l] < col[l] { c[l] } else { col[l] };
            }
        }
        col.sort_unstable_by(f32::total_cmp);
        bound = col[b - 1];
    }
    let mut visit = |start: usize, c: &[f32]| {
        for (l, &e) in c.iter().enumerate() {
            if !(e <= bound) || (best.len() == b && !(e < best[b - 1].0)) {
                continue;
            }
            let pos = best.partition_point(|&(be, _)| be <= e);
            best.insert(pos, (e, (start + l) as u32));
            best.truncate(b);
        }
    };
    for (ci, c) in chunks.enumerate() {
        let mut hit = false;
        for &e in c {
            hit |= e <= bound;
        }
        if hit {
            visit(ci * CHUNK, c);
        }
    }
    visit(v.len() - tail.len(), tail);
}

/// Buffers of the beam search, reused from tile to tile.
#[derive(Default)]
struct BeamScratch {
    res: Vec<f32>,
    next_res: Vec<f32>,
    err: Vec<f32>,
    ids: Vec<u16>,
    next_ids: Vec<u16>,
    cross: Vec<f32>,
    next_cross: Vec<f32>,
    candidates: Vec<f32>,
    best: Vec<(f32, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kernels::serial_dot;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Inserting every value in order into a sorted list of `b`: what
    /// [`select_smallest`] promises to return.
    fn insert_all(v: &[f32], b: usize) -> Vec<(f32, u32)> {
        let mut best: Vec<(f32, u32)> = Vec::new();
        for (i, &e) in v.iter().enumerate() {
            if best.len() == b && !(e < best[b - 1].0) {
                continue;
            }
            let pos = best.partition_point(|&(be, _)| be <= e);
            best.insert(pos, (e, i as u32));
            best.truncate(b);
        }
        best
    }

    #[test]
    fn selection_equals_inserting_everything() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut best = Vec::new();
        for len in [1, 5, 16, 17, 100, 256, 1024, 1030] {
            for b in [1, 2, 4, 7, 16, 17, 64] {
                for coarse in [false, true] {
                    let v: Vec<f32> = (0..len)
                        .map(|_| {
                            if coarse {
                                rng.random_range(0..6) as f32
                            } else {
                                rng.random_range(-1.0..1.0)
                            }
                        })
                        .collect();
                    select_smallest(&v, b, &mut best);
                    assert_eq!(best, insert_all(&v, b), "len {len} b {b}");
                }
            }
        }
    }

    /// The beam search as it was before the tables: every path's distances computed from
    /// its residual, every candidate inserted.
    fn exhaustive_beam(r: &ResidualStages, z: &[f32]) -> (Vec<u16>, f32) {
        let (p, k, b, n_stages) = (r.p, r.k, r.beam, r.n_stages());
        let mut paths = vec![(z.to_vec(), serial_dot(z, z), Vec::new())];
        for s in 0..n_stages {
            let mut cand = Vec::new();
            for (res, err, _) in &paths {
                for j in 0..k {
                    let c = &r.codewords[(s * k + j) * p..(s * k + j + 1) * p];
                    let dot = serial_dot(res, c);
                    cand.push(err + (serial_dot(c, c) - (dot + dot)));
                }
            }
            paths = insert_all(&cand, b)
                .into_iter()
                .map(|(_, flat)| {
                    let (pi, j) = (flat as usize / k, flat as usize % k);
                    let c = &r.codewords[(s * k + j) * p..(s * k + j + 1) * p];
                    let res: Vec<f32> = paths[pi].0.iter().zip(c).map(|(v, cv)| v - cv).collect();
                    let err = res.iter().map(|v| v * v).sum();
                    let mut ids = paths[pi].2.clone();
                    ids.push(j as u16);
                    (res, err, ids)
                })
                .collect();
        }
        let best = paths
            .iter()
            .enumerate()
            .fold(0, |w, (q, path)| if path.1 < paths[w].1 { q } else { w });
        (paths[best].2.clone(), paths[best].1)
    }

    #[test]
    fn the_table_beam_matches_the_exhaustive_one() {
        // Random codebooks and tiles; the tables change only rounding, so codes agree except
        // on near-ties, where the errors do.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let none = MeanQuantizer {
            bits: 0,
            min: 0.0,
            max: 0.0,
        };
        for (n_stages, k, p, beam) in [(2, 16, 8, 2), (4, 64, 16, 4), (3, 256, 32, 8)] {
            let cw: Vec<f32> = (0..n_stages * k * p)
                .map(|i| rng.random_range(-1.0..1.0f32) / (1 + i / (k * p)) as f32)
                .collect();
            let r = ResidualStages::new(cw, n_stages, p, none, beam);
            let n = 200;
            let mut tiles: Vec<f32> = (0..n * p).map(|_| rng.random_range(-1.5..1.5)).collect();
            let original = tiles.clone();
            let mut idx = vec![0u16; n_stages * n];
            r.encode(&mut tiles, &mut [], &mut idx);
            let mut same = 0;
            for t in 0..n {
                let z = &original[t * p..(t + 1) * p];
                let (want, want_err) = exhaustive_beam(&r, z);
                let got: Vec<u16> = (0..n_stages).map(|s| idx[s * n + t]).collect();
                let mut res = z.to_vec();
                for (s, &j) in got.iter().enumerate() {
                    let c = &r.codewords[(s * k + j as usize) * p..(s * k + j as usize + 1) * p];
                    res.iter_mut().zip(c).for_each(|(v, cv)| *v -= cv);
                }
                let err: f32 = res.iter().map(|v| v * v).sum();
                assert!(
                    err <= want_err * (1.0 + 1e-4) + 1e-6,
                    "tile {t}: {err} vs {want_err}"
                );
                same += usize::from(got == want);
            }
            assert!(same * 100 >= n * 99, "{same} of {n} tiles agree");
        }
    }

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
