//! K-means (Lloyd's algorithm with k-means++ seeding): hard vector quantization, one codeword
//! index per tile.

use crate::error::Result;
use crate::kernels::{self, serial_dot, PackedCodewords};
use crate::weights::{Memberships, Metric};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows per parallel task: fixed, so results do not depend on the thread count.
const ROWS_PER_TASK: usize = 512;

/// Parameters of k-means. Build with [`KMeansParams::new`] and the by-value setters;
/// [`fit`](KMeansParams::fit) checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    n_codewords: usize,
    max_iter: u32,
    tol: f64,
    seed: u64,
}

impl KMeansParams {
    /// `n_codewords` centres, 100 iterations, tolerance 1e-6, seed 0.
    pub fn new(n_codewords: usize) -> Self {
        KMeansParams {
            n_codewords,
            max_iter: 100,
            tol: 1e-6,
            seed: 0,
        }
    }

    /// Iteration limit. With more than 256 samples per codeword
    /// it bounds each of the two phases (subsample, then all samples).
    pub fn max_iter(mut self, max_iter: u32) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Stop when the relative improvement of the error falls below this.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Seed of the k-means++ initialization.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Number of codewords.
    pub fn n_codewords(&self) -> usize {
        self.n_codewords
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
        crate::train::check_count("n_codewords", self.n_codewords)?;
        crate::train::check_stopping(self.max_iter, self.tol)
    }

    /// Fits codewords to standardized samples `x` (`n × p`, row-major).
    pub fn fit(&self, x: &[f64], p: usize) -> Result<KMeans> {
        self.fit_observed(x, p, &mut crate::train::unobserved)
    }

    /// [`fit`](Self::fit), calling `observe` after every iteration (`Break` cancels).
    pub fn fit_observed(
        &self,
        x: &[f64],
        p: usize,
        observe: &mut crate::train::Observer<'_>,
    ) -> Result<KMeans> {
        self.check()?;
        let k = self.n_codewords;
        let n = crate::train::check_samples(x, p, k, "codewords")?;
        let warm_n = WARM_SAMPLES_PER_CODEWORD * k;
        let mut iterations = 0;
        let centers = if n > warm_n {
            // Converge on a subsample first: the last iterations on all samples then only
            // polish (and k-means++ seeding, one pass over the data per codeword, stays cheap).
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ WARM_SEED);
            let mut pick = rand::seq::index::sample(&mut rng, n, warm_n).into_vec();
            pick.sort_unstable();
            let sub: Vec<f64> = pick
                .iter()
                .flat_map(|&i| x[i * p..(i + 1) * p].iter().copied())
                .collect();
            let seeds = plus_plus(&sub, warm_n, p, k, self.seed);
            self.lloyd(&sub, p, seeds, &mut iterations, observe)?.0
        } else {
            plus_plus(x, n, p, k, self.seed)
        };
        let (centers, loss) = self.lloyd(x, p, centers, &mut iterations, observe)?;
        Ok(KMeans {
            centers,
            iterations,
            loss,
        })
    }

    /// Lloyd's iterations from `centers` until the relative improvement falls below the
    /// tolerance or after `max_iter` of them (`iterations` counts them across both phases);
    /// returns the centres and the loss of the last assignment.
    fn lloyd(
        &self,
        x: &[f64],
        p: usize,
        mut centers: Vec<f64>,
        iterations: &mut u32,
        observe: &mut crate::train::Observer<'_>,
    ) -> Result<(Vec<f64>, f64)> {
        let n = x.len() / p;
        let mut labels = vec![0u32; n];
        let mut dist = vec![0f64; n];
        // Hamerly's bound: no centre but a sample's own is closer than `lower`.
        let mut lower = vec![0f64; n];
        let mut moved = Vec::new();
        let mut prev = f64::INFINITY;
        let mut loss = f64::INFINITY;
        for it in 0..self.max_iter {
            *iterations += 1;
            if it == 0 {
                let all: Vec<u32> = (0..n as u32).collect();
                search(x, p, &centers, &all, &mut labels, &mut lower, &mut dist);
            } else {
                reassign(x, p, &centers, &moved, &mut labels, &mut lower, &mut dist);
            }
            loss = dist.iter().sum::<f64>() / (n * p) as f64;
            crate::train::report(
                observe,
                crate::train::Progress {
                    run: 0,
                    iteration: *iterations,
                    loss,
                },
            )?;
            if prev.is_finite() && prev - loss <= self.tol * prev {
                break;
            }
            prev = loss;
            let old = centers.clone();
            update(x, p, &labels, &dist, &mut centers);
            moved = old
                .chunks_exact(p)
                .zip(centers.chunks_exact(p))
                .map(|(a, b)| sq_dist(a, b).sqrt())
                .collect();
        }
        Ok((centers, loss))
    }
}

/// Samples per codeword beyond which k-means first converges on a subsample of this many per
/// codeword (FAISS caps its training set the same way, `max_points_per_centroid`).
const WARM_SAMPLES_PER_CODEWORD: usize = 256;

/// Mixed into the seed for drawing the subsample.
const WARM_SEED: u64 = 0x5eed_5ab5_a3b1_e000;

/// k-means++: each new centre drawn with probability proportional to the squared distance to
/// the nearest chosen one.
fn plus_plus(x: &[f64], n: usize, p: usize, k: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut centers = Vec::with_capacity(k * p);
    let first = rng.random_range(0..n);
    centers.extend_from_slice(&x[first * p..(first + 1) * p]);
    let mut d2: Vec<f64> = x
        .par_chunks(p)
        .map(|xi| sq_dist(xi, &centers[..p]))
        .collect();
    for _ in 1..k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            rng.random_range(0..n)
        };
        let c = x[pick * p..(pick + 1) * p].to_vec();
        d2.par_iter_mut()
            .zip(x.par_chunks(p))
            .for_each(|(d, xi)| *d = d.min(sq_dist(xi, &c)));
        centers.extend_from_slice(&c);
    }
    centers
}

/// Squared distance, summed in four interleaved lanes (a fixed order that vectorizes).
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (u, v) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            acc[l] += (u[l] - v[l]) * (u[l] - v[l]);
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (u, v) in ca.remainder().iter().zip(cb.remainder()) {
        s += (u - v) * (u - v);
    }
    s
}

/// One Lloyd assignment after the centres moved by `moved` (distances), with Hamerly's
/// bounds: a sample keeps its centre without a search when its exact distance to it is below
/// half the distance from that centre to any other, or below its lower bound on every other
/// centre (lowered by the most any other centre moved). Only the others are searched, so late
/// iterations, where few samples change cluster, cost little more than the update. `dist`
/// gets every sample's squared distance to its centre.
fn reassign(
    x: &[f64],
    p: usize,
    centers: &[f64],
    moved: &[f64],
    labels: &mut [u32],
    lower: &mut [f64],
    dist: &mut [f64],
) {
    let k = centers.len() / p;
    // Half the distance from each centre to its closest other centre.
    let half: Vec<f64> = (0..k)
        .into_par_iter()
        .map(|j| {
            let cj = &centers[j * p..(j + 1) * p];
            let closest = (0..k)
                .filter(|&m| m != j)
                .map(|m| sq_dist(cj, &centers[m * p..(m + 1) * p]))
                .fold(f64::INFINITY, f64::min);
            0.5 * closest.sqrt()
        })
        .collect();
    // The largest move, and the largest of the others for the centre that made it.
    let (mut first, mut second, mut at) = (0f64, 0f64, usize::MAX);
    for (j, &d) in moved.iter().enumerate() {
        if d > first {
            (second, first, at) = (first, d, j);
        } else if d > second {
            second = d;
        }
    }
    let stale: Vec<Vec<u32>> = labels
        .par_chunks(ROWS_PER_TASK)
        .zip(lower.par_chunks_mut(ROWS_PER_TASK))
        .zip(dist.par_chunks_mut(ROWS_PER_TASK))
        .zip(x.par_chunks(p * ROWS_PER_TASK))
        .enumerate()
        .map(|(task, (((ls, lo), ds), xs))| {
            let mut stale = Vec::new();
            let rows = ls.iter().zip(lo.iter_mut()).zip(ds.iter_mut());
            for (i, (((&l, b), d), xi)) in rows.zip(xs.chunks_exact(p)).enumerate() {
                let a = l as usize;
                *b -= if a == at { second } else { first };
                *d = sq_dist(xi, &centers[a * p..(a + 1) * p]);
                let u = d.sqrt();
                if !(u < half[a] || u < *b) {
                    stale.push((task * ROWS_PER_TASK + i) as u32);
                }
            }
            stale
        })
        .collect();
    let stale: Vec<u32> = stale.concat();
    search(x, p, centers, &stale, labels, lower, dist);
}

/// Full searches for the samples `rows`: the nearest centre (the float32 kernel's choice, as
/// [`nearest_all`] makes it) into `labels`, and a lower bound on the distance to every other
/// centre into `lower` (the float32 second-smallest distance, less its worst rounding), and
/// the exact squared distance to the nearest into `dist`.
fn search(
    x: &[f64],
    p: usize,
    centers: &[f64],
    rows: &[u32],
    labels: &mut [u32],
    lower: &mut [f64],
    dist: &mut [f64],
) {
    let c32: Vec<f32> = centers.iter().map(|&v| v as f32).collect();
    let packed = PackedCodewords::new(&c32, p);
    let mut norms: Vec<f32> = c32.chunks_exact(p).map(|c| serial_dot(c, c)).collect();
    let max_norm = norms.iter().fold(0f32, |a, &v| a.max(v)) as f64;
    norms.resize(packed.k_pad(), f32::INFINITY);
    // A float32 sum of p products is within about p·ε·Σ|x_l c_l| ≤ p·ε·(|x|² + |c|²)/2 of the
    // exact value; the rounding of the centres to float32 adds as much again. Four times that
    // keeps the bound safe; too wide a margin only costs searches.
    let slack = 4.0 * p as f64 * f64::from(f32::EPSILON);
    let found: Vec<(u32, f64, f64)> = rows
        .par_chunks(ROWS_PER_TASK)
        .flat_map_iter(|rs| {
            let x32: Vec<f32> = rs
                .iter()
                .flat_map(|&i| {
                    x[i as usize * p..(i as usize + 1) * p]
                        .iter()
                        .map(|&v| v as f32)
                })
                .collect();
            let (mut at, mut next) = (vec![0u16; rs.len()], vec![0f32; rs.len()]);
            kernels::nearest_two(&x32, &packed, &norms, &mut at, &mut next);
            let x = &x;
            rs.iter()
                .zip(at)
                .zip(next)
                .map(|((&i, at), next)| {
                    let xi = &x[i as usize * p..(i as usize + 1) * p];
                    let xx = xi.iter().map(|v| v * v).sum::<f64>();
                    let d2 = f64::from(next) + xx - slack * (xx + max_norm);
                    let j = usize::from(at);
                    let exact = sq_dist(xi, &centers[j * p..(j + 1) * p]);
                    (u32::from(at), d2.max(0.0).sqrt(), exact)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (&i, (l, b, d)) in rows.iter().zip(found) {
        labels[i as usize] = l;
        lower[i as usize] = b;
        dist[i as usize] = d;
    }
}

/// The index of the centre nearest to every sample of `x` (`n × p`) into `labels` (`n`).
///
/// The search runs in float32 through the GEMM-shaped kernel (twice the lanes of float64;
/// the samples are converted one task of rows at a time, so memory grows by one task per
/// thread). Only near-ties can choose differently from a float64 search, and they cost the
/// same error. Tasks have a fixed size, so the result does not depend on the thread count.
pub(crate) fn nearest_all(x: &[f64], p: usize, centers: &[f64], labels: &mut [u32]) {
    let search = Memberships::new(
        centers.iter().map(|&v| v as f32).collect(),
        p,
        2.0,
        Metric::Euclidean,
    );
    labels
        .par_chunks_mut(ROWS_PER_TASK)
        .zip(x.par_chunks(p * ROWS_PER_TASK))
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(x32, idx): &mut (Vec<f32>, Vec<u16>), (ls, xs)| {
                x32.clear();
                x32.extend(xs.iter().map(|&v| v as f32));
                idx.resize(ls.len(), 0);
                search.nearest_rows(x32, idx);
                for (l, &j) in ls.iter_mut().zip(idx.iter()) {
                    *l = u32::from(j);
                }
            },
        );
}

/// Index and squared distance of the centre nearest to `x`.
#[cfg(test)]
fn nearest(x: &[f64], centers: &[f64], p: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centers.chunks_exact(p).enumerate() {
        let d = sq_dist(x, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// Centres to the means of their samples; an empty cluster takes the sample farthest from
/// its centre (deterministically, the first such).
fn update(x: &[f64], p: usize, labels: &[u32], dist: &[f64], centers: &mut [f64]) {
    let k = centers.len() / p;
    // Partial sums over fixed runs of samples, added in order: the same for every thread count.
    const SAMPLES_PER_SUM: usize = 16 * ROWS_PER_TASK;
    let partial: Vec<(Vec<f64>, Vec<usize>)> = x
        .par_chunks(p * SAMPLES_PER_SUM)
        .zip(labels.par_chunks(SAMPLES_PER_SUM))
        .map(|(xs, ls)| {
            let mut sums = vec![0f64; k * p];
            let mut counts = vec![0usize; k];
            for (xi, &l) in xs.chunks_exact(p).zip(ls) {
                let l = l as usize;
                counts[l] += 1;
                for (s, &v) in sums[l * p..(l + 1) * p].iter_mut().zip(xi) {
                    *s += v;
                }
            }
            (sums, counts)
        })
        .collect();
    let mut sums = vec![0f64; k * p];
    let mut counts = vec![0usize; k];
    for (ps, pc) in &partial {
        for (s, v) in sums.iter_mut().zip(ps) {
            *s += v;
        }
        for (c, v) in counts.iter_mut().zip(pc) {
            *c += v;
        }
    }
    let mut taken = vec![false; labels.len()];
    for j in 0..k {
        let c = &mut centers[j * p..(j + 1) * p];
        if counts[j] > 0 {
            for (cv, &s) in c.iter_mut().zip(&sums[j * p..(j + 1) * p]) {
                *cv = s / counts[j] as f64;
            }
        } else if let Some(far) = (0..labels.len())
            .filter(|&i| !taken[i])
            .max_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(b.cmp(&a)))
        {
            taken[far] = true;
            c.copy_from_slice(&x[far * p..(far + 1) * p]);
        }
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone)]
pub struct KMeans {
    centers: Vec<f64>,
    iterations: u32,
    loss: f64,
}

impl KMeans {
    /// The codewords (`k × p`, row-major, standardized space).
    pub fn centers(&self) -> &[f64] {
        &self.centers
    }

    /// Iterations run.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Mean squared quantization error of the training samples (per value).
    pub fn loss(&self) -> f64 {
        self.loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn finds_separated_clusters_and_is_deterministic() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let truth = [[-4.0, 0.0], [4.0, 0.0], [0.0, 6.0]];
        let x: Vec<f64> = (0..300)
            .flat_map(|i| {
                let c = truth[i % 3];
                [
                    c[0] + rng.random_range(-0.3..0.3),
                    c[1] + rng.random_range(-0.3..0.3),
                ]
            })
            .collect();
        let m = KMeansParams::new(3).seed(2).fit(&x, 2).unwrap();
        for t in truth {
            let (_, d) = nearest(&t, m.centers(), 2);
            assert!(d < 0.05, "no codeword near {t:?}: {:?}", m.centers());
        }
        assert_eq!(
            m.centers(),
            KMeansParams::new(3).seed(2).fit(&x, 2).unwrap().centers()
        );
    }

    /// Lloyd's iterations without bounds: every sample searched every iteration.
    fn plain_lloyd(x: &[f64], p: usize, mut centers: Vec<f64>, max_iter: u32) -> (Vec<f64>, f64) {
        let n = x.len() / p;
        let (mut labels, mut dist) = (vec![0u32; n], vec![0f64; n]);
        let (mut prev, mut loss) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..max_iter {
            nearest_all(x, p, &centers, &mut labels);
            for ((d, &l), xi) in dist.iter_mut().zip(&labels).zip(x.chunks_exact(p)) {
                *d = sq_dist(xi, &centers[l as usize * p..(l as usize + 1) * p]);
            }
            loss = dist.iter().sum::<f64>() / (n * p) as f64;
            if prev.is_finite() && prev - loss <= 0.0 {
                break;
            }
            prev = loss;
            update(x, p, &labels, &dist, &mut centers);
        }
        (centers, loss)
    }

    #[test]
    fn bounds_skip_only_searches_that_cannot_change_the_centre() {
        // Overlapping clusters, so many samples sit near a boundary, and some centres start
        // far from every sample, so clusters empty and centres jump.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, p, k) = (6000, 8, 40);
        let means: Vec<f64> = (0..12 * p).map(|_| rng.random_range(-2.0..2.0)).collect();
        let x: Vec<f64> = (0..n)
            .flat_map(|i| {
                let c = (i * 7) % 12;
                let m = means[c * p..(c + 1) * p].to_vec();
                m.into_iter()
                    .map(|v| v + rng.random_range(-1.0..1.0))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut init = plus_plus(&x, n, p, k - 4, 1);
        init.extend((0..4 * p).map(|i| 50.0 + i as f64));
        let params = KMeansParams::new(k).tol(0.0).max_iter(60);
        let mut iterations = 0;
        let (fast, fast_loss) = params
            .lloyd(
                &x,
                p,
                init.clone(),
                &mut iterations,
                &mut crate::train::unobserved,
            )
            .unwrap();
        let (plain, plain_loss) = plain_lloyd(&x, p, init, 60);
        assert!(iterations > 10, "converged after {iterations} iterations");
        assert_eq!(fast_loss, plain_loss);
        assert_eq!(fast, plain);
    }

    #[test]
    fn bad_parameters_are_named() {
        let x = vec![0.0; 20];
        let name = |p: KMeansParams| match p.fit(&x, 2) {
            Err(Error::InvalidParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(KMeansParams::new(0)), "n_codewords");
        assert_eq!(name(KMeansParams::new(2).max_iter(0)), "max_iter");
        assert_eq!(name(KMeansParams::new(2).tol(f64::NAN)), "tol");
    }
}
