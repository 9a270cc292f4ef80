//! Residual vector quantization: `n_stages` k-means codebooks, each trained on what the
//! stages before it could not represent; optionally on tiles whose quantized mean was
//! removed first (mean-removed VQ).

use super::stages::MeanQuantizer;
use crate::error::{Error, Result};
use crate::kinds::kmeans::{nearest_all, KMeansParams};
use rayon::prelude::*;

/// Parameters of residual VQ. Build with [`ResidualParams::new`] and the by-value setters;
/// [`fit`](ResidualParams::fit) checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualParams {
    n_stages: usize,
    codewords_per_stage: usize,
    mean_bits: u8,
    max_iter: u32,
    tol: f64,
    seed: u64,
    refine_iter: u32,
    beam: u32,
}

impl ResidualParams {
    /// `n_stages` stages of `codewords_per_stage` codewords, no mean removal, 100
    /// iterations per stage, tolerance 1e-4, seed 0.
    pub fn new(n_stages: usize, codewords_per_stage: usize) -> Self {
        ResidualParams {
            n_stages,
            codewords_per_stage,
            mean_bits: 0,
            max_iter: 100,
            tol: 1e-4,
            seed: 0,
            refine_iter: 10,
            beam: 4,
        }
    }

    /// Candidate paths the encoder keeps from stage to stage (1: greedy). Stored in the
    /// codebook; 4 gains about 0.3 dB at two stages and 0.6 dB at three over greedy on the
    /// Olivetti faces, for about a third of the encoding speed.
    pub fn beam(mut self, beam: u32) -> Self {
        self.beam = beam;
        self
    }

    /// The encoder's beam width.
    pub fn get_beam(&self) -> u32 {
        self.beam
    }

    /// Rounds of joint refinement after the greedy stage-by-stage training: every round codes
    /// the samples as the encoder does, then moves each codeword to the mean of what its
    /// stage was asked to represent given the other stages' choices. 0 keeps the greedy
    /// codebooks.
    pub fn refine_iter(mut self, rounds: u32) -> Self {
        self.refine_iter = rounds;
        self
    }

    /// The refinement rounds.
    pub fn get_refine_iter(&self) -> u32 {
        self.refine_iter
    }

    /// Bits of the per-tile mean removed before the first stage (0 = none).
    pub fn mean_bits(mut self, bits: u8) -> Self {
        self.mean_bits = bits;
        self
    }

    /// Iteration limit of each stage's k-means.
    pub fn max_iter(mut self, max_iter: u32) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Relative improvement below which a stage's k-means stops.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Seed of the k-means++ initializations (stage `s` uses `seed + s`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Number of stages.
    pub fn n_stages(&self) -> usize {
        self.n_stages
    }

    /// Codewords per stage.
    pub fn codewords_per_stage(&self) -> usize {
        self.codewords_per_stage
    }

    /// Bits of the quantized tile mean.
    pub fn get_mean_bits(&self) -> u8 {
        self.mean_bits
    }

    /// The iteration limit.
    pub fn get_max_iter(&self) -> u32 {
        self.max_iter
    }

    /// The tolerance.
    pub fn get_tol(&self) -> f64 {
        self.tol
    }

    /// The seed.
    pub fn get_seed(&self) -> u64 {
        self.seed
    }

    /// Validates every parameter, one error per bad field.
    pub fn check(&self) -> Result<()> {
        use super::{MAX_BEAM, MAX_MEAN_BITS, MAX_STAGES, MAX_STAGE_CODEWORDS};
        if self.n_stages == 0 || self.n_stages > MAX_STAGES {
            return Err(Error::param(
                "n_stages",
                format!("{} outside 1..={MAX_STAGES}", self.n_stages),
            ));
        }
        if self.codewords_per_stage == 0 || self.codewords_per_stage > MAX_STAGE_CODEWORDS {
            return Err(Error::param(
                "codewords_per_stage",
                format!(
                    "{} outside 1..={MAX_STAGE_CODEWORDS}",
                    self.codewords_per_stage
                ),
            ));
        }
        if self.beam == 0 || self.beam > MAX_BEAM {
            return Err(Error::param(
                "beam",
                format!("{} outside 1..={}", self.beam, MAX_BEAM),
            ));
        }
        if self.mean_bits > MAX_MEAN_BITS {
            return Err(Error::param(
                "mean_bits",
                format!("{} outside 0..={MAX_MEAN_BITS}", self.mean_bits),
            ));
        }
        crate::train::check_stopping(self.max_iter, self.tol)
    }

    /// Fits the stages to standardized samples `x` (`n × p`, row-major).
    pub fn fit(&self, x: &[f64], p: usize) -> Result<Residual> {
        self.fit_observed(x, p, &mut crate::train::unobserved)
    }

    /// [`fit`](Self::fit), calling `observe` after every k-means iteration (`run` is the
    /// stage).
    pub fn fit_observed(
        &self,
        x: &[f64],
        p: usize,
        observe: &mut crate::train::Observer<'_>,
    ) -> Result<Residual> {
        self.check()?;
        let k = self.codewords_per_stage;
        let n = crate::train::check_samples(x, p, k, "codewords per stage")?;
        // Samples with their quantized means removed: what the stages code.
        let mut r = x.to_vec();
        let mut mean = MeanQuantizer {
            bits: self.mean_bits,
            min: 0.0,
            max: 0.0,
        };
        if self.mean_bits > 0 {
            let means: Vec<f64> = r
                .chunks_exact(p)
                .map(|t| t.iter().sum::<f64>() / p as f64)
                .collect();
            let (lo, hi) = means
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &m| (a.min(m), b.max(m)));
            // The encoder quantizes in f32: keep the range exactly representable.
            mean.min = lo as f32;
            mean.max = hi as f32;
            for t in r.chunks_exact_mut(p) {
                let m = t.iter().map(|&v| v as f32).fold(0f32, |a, v| a + v) / p as f32;
                let mq = f64::from(mean.value(mean.quantize(m)));
                t.iter_mut().for_each(|v| *v -= mq);
            }
        }
        // What the refinement re-codes: the samples themselves unless means were removed.
        let base: std::borrow::Cow<'_, [f64]> = if self.mean_bits > 0 {
            r.clone().into()
        } else {
            x.into()
        };
        let mut codewords = Vec::with_capacity(self.n_stages * k * p);
        // Stage-major indexes of the greedy coding, recorded as the stages are trained.
        let mut idx = vec![0u32; n * self.n_stages];
        let mut iterations = 0;
        for s in 0..self.n_stages {
            let fit = KMeansParams::new(k)
                .max_iter(self.max_iter)
                .tol(self.tol)
                .seed(self.seed.wrapping_add(s as u64))
                .fit_observed(&r, p, &mut |mut pr| {
                    pr.run = s as u32;
                    observe(pr)
                })?;
            iterations += fit.iterations();
            let c = fit.centers();
            subtract_nearest(&mut r, c, p, &mut idx[s * n..(s + 1) * n]);
            codewords.extend_from_slice(c);
        }
        let mut coded = Coded::new(idx, r);
        for round in 0..self.refine_iter {
            // The residuals are not needed after the move (a losing round stops), so the move
            // updates them in place instead of holding a copy.
            let residuals = std::mem::take(&mut coded.r);
            let moved = move_codewords(&codewords, &coded.idx, residuals, p, k, self.n_stages);
            let next = encode_all(&base, p, k, self.n_stages, &moved);
            crate::train::report(
                observe,
                crate::train::Progress {
                    run: self.n_stages as u32,
                    iteration: round + 1,
                    loss: next.loss,
                },
            )?;
            // The greedy encoder is not the optimal one, so a round can in principle lose:
            // keep it only if it helped, and stop once rounds stop helping.
            let converged = next.loss >= coded.loss * (1.0 - self.tol);
            if next.loss < coded.loss {
                codewords = moved;
                coded = next;
            }
            if converged {
                break;
            }
        }
        Ok(Residual {
            codewords,
            mean,
            iterations,
            loss: coded.loss,
        })
    }
}

/// Replaces every row of `r` (`n × p`) by its residual after the nearest of `centers`, whose
/// index goes into `idx` (`n`).
fn subtract_nearest(r: &mut [f64], centers: &[f64], p: usize, idx: &mut [u32]) {
    nearest_all(r, p, centers, idx);
    r.par_chunks_mut(p).zip(idx.par_iter()).for_each(|(t, &j)| {
        let j = j as usize;
        t.iter_mut()
            .zip(&centers[j * p..(j + 1) * p])
            .for_each(|(v, &cv)| *v -= cv);
    });
}

/// Samples coded greedily: stage-major indexes, final residuals and their mean square.
struct Coded {
    idx: Vec<u32>,
    r: Vec<f64>,
    loss: f64,
}

impl Coded {
    fn new(idx: Vec<u32>, r: Vec<f64>) -> Self {
        let loss = r.iter().map(|v| v * v).sum::<f64>() / r.len().max(1) as f64;
        Coded { idx, r, loss }
    }
}

/// Greedy residual coding of `x` with `codewords`.
fn encode_all(x: &[f64], p: usize, k: usize, n_stages: usize, codewords: &[f64]) -> Coded {
    let n = x.len() / p;
    let mut r = x.to_vec();
    let mut idx = vec![0u32; n * n_stages];
    for s in 0..n_stages {
        let c = &codewords[s * k * p..(s + 1) * k * p];
        subtract_nearest(&mut r, c, p, &mut idx[s * n..(s + 1) * n]);
    }
    Coded::new(idx, r)
}

/// Joint refinement: moves every codeword of every stage to the mean of its targets (its
/// samples' final residual `r` plus itself, with `idx` the stage-major indexes), stage by
/// stage, each update seeing the stages already moved (Gauss-Seidel).
fn move_codewords(
    codewords: &[f64],
    idx: &[u32],
    mut r: Vec<f64>,
    p: usize,
    k: usize,
    n_stages: usize,
) -> Vec<f64> {
    let n = r.len() / p;
    let mut out = codewords.to_vec();
    for s in 0..n_stages {
        let ids = &idx[s * n..(s + 1) * n];
        let mut sums = vec![0f64; k * p];
        let mut counts = vec![0usize; k];
        for (t, &j) in r.chunks_exact(p).zip(ids) {
            let j = j as usize;
            counts[j] += 1;
            let c = &out[(s * k + j) * p..(s * k + j + 1) * p];
            for ((acc, &v), &cv) in sums[j * p..(j + 1) * p].iter_mut().zip(t).zip(c) {
                *acc += v + cv;
            }
        }
        let old: Vec<f64> = out[s * k * p..(s + 1) * k * p].to_vec();
        for j in (0..k).filter(|&j| counts[j] > 0) {
            let row = (s * k + j) * p;
            for (f, cv) in out[row..row + p].iter_mut().enumerate() {
                *cv = sums[j * p + f] / counts[j] as f64;
            }
        }
        // The residuals follow the moved codewords.
        let new = &out[s * k * p..(s + 1) * k * p];
        for (t, &j) in r.chunks_exact_mut(p).zip(ids) {
            let j = j as usize;
            for ((v, &o), &nw) in t
                .iter_mut()
                .zip(&old[j * p..(j + 1) * p])
                .zip(&new[j * p..(j + 1) * p])
            {
                *v += o - nw;
            }
        }
    }
    out
}

/// A fitted residual quantizer.
#[derive(Debug, Clone)]
pub struct Residual {
    codewords: Vec<f64>,
    mean: MeanQuantizer,
    iterations: u32,
    loss: f64,
}

impl Residual {
    /// All stages' codewords, stage after stage (`n_stages × k × p`, standardized space).
    pub fn codewords(&self) -> &[f64] {
        &self.codewords
    }

    /// The tile-mean quantizer (`bits == 0`: none).
    pub fn mean_quantizer(&self) -> MeanQuantizer {
        self.mean
    }

    /// k-means iterations over all stages.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Mean squared error left after the last stage (per value, standardized).
    pub fn loss(&self) -> f64 {
        self.loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn every_stage_lowers_the_error() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let x: Vec<f64> = (0..4000).map(|_| rng.random_range(-1.0..1.0)).collect();
        let losses: Vec<f64> = (1..=3)
            .map(|s| ResidualParams::new(s, 8).fit(&x, 4).unwrap().loss())
            .collect();
        assert!(losses[0] > losses[1] && losses[1] > losses[2], "{losses:?}");
        let with_mean = ResidualParams::new(1, 8).mean_bits(6).fit(&x, 4).unwrap();
        assert_eq!(with_mean.codewords().len(), 8 * 4);
        assert!(with_mean.mean_quantizer().min < with_mean.mean_quantizer().max);
    }

    #[test]
    fn bad_parameters_are_named() {
        let x = vec![0.0; 64];
        let name = |p: ResidualParams| match p.fit(&x, 2) {
            Err(Error::InvalidParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(ResidualParams::new(0, 4)), "n_stages");
        assert_eq!(name(ResidualParams::new(17, 4)), "n_stages");
        assert_eq!(name(ResidualParams::new(2, 0)), "codewords_per_stage");
        assert_eq!(name(ResidualParams::new(2, 5000)), "codewords_per_stage");
        assert_eq!(name(ResidualParams::new(2, 4).mean_bits(13)), "mean_bits");
        assert_eq!(name(ResidualParams::new(2, 4).max_iter(0)), "max_iter");
    }
}
