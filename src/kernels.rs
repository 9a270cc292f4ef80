//! The dot-product kernel every search runs on: many tiles against many codewords at once,
//! shaped like a small GEMM (`X · Cᵀ`) so that the codewords are read once per group of tiles
//! and the sums stay in registers.
//!
//! Hand-written rather than a GEMM crate because the bytes the codec writes depend on these
//! sums: every output is the plain serial sum `((x₀c₀ + x₁c₁) + x₂c₂) + …` over the features in
//! order, with no fused multiply-add. SIMD lanes only run different codewords side by side, so
//! the result is the same bit for bit on every CPU, SIMD width (scalar, SSE2, AVX2, AVX-512,
//! NEON) and thread count; a GEMM crate picks FMA and blocking orders per CPU. The wider
//! instruction sets are chosen at run time (`multiversion`); the code itself is safe Rust that
//! the compiler vectorizes.

use multiversion::multiversion;
use num_traits::Float;

/// Codewords per register block: the padded codeword count is a multiple of this.
pub const LANES: usize = 16;

/// Codewords laid out for [`dots`]: transposed (`p × k_pad`), `k` rounded up to [`LANES`]
/// with zero codewords.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedCodewords<F> {
    t: Vec<F>,
    k: usize,
    k_pad: usize,
    p: usize,
}

impl<F: Float> PackedCodewords<F> {
    /// Packs `codewords` (`k × p`, row-major).
    pub fn new(codewords: &[F], p: usize) -> Self {
        assert!(p > 0 && codewords.len().is_multiple_of(p));
        let k = codewords.len() / p;
        let k_pad = k.div_ceil(LANES).max(1) * LANES;
        let mut t = vec![F::zero(); p * k_pad];
        for (j, c) in codewords.chunks_exact(p).enumerate() {
            for (f, &v) in c.iter().enumerate() {
                t[f * k_pad + j] = v;
            }
        }
        PackedCodewords { t, k, k_pad, p }
    }

    /// Number of codewords.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Row stride of the output of [`dots`]: `k` rounded up to [`LANES`].
    pub fn k_pad(&self) -> usize {
        self.k_pad
    }

    /// Values per codeword.
    pub fn p(&self) -> usize {
        self.p
    }
}

/// Writes `x_i · c_j` for every row `i` of `x` (`n × p`) and codeword `j` into `out`
/// (`n × k_pad`; the padding columns get 0).
pub fn dots<F: Float>(x: &[F], cw: &PackedCodewords<F>, out: &mut [F]) {
    let (p, k_pad) = (cw.p, cw.k_pad);
    assert!(x.len().is_multiple_of(p) && out.len() == x.len() / p * k_pad);
    dots_dispatch(x, p, &cw.t, k_pad, out);
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+avx"))]
fn dots_dispatch<F: Float>(x: &[F], p: usize, t: &[F], k_pad: usize, out: &mut [F]) {
    // Four rows at a time for f32 (4 × 16 sums: 8 AVX2 registers), two for f64.
    let rows = if std::mem::size_of::<F>() <= 4 { 4 } else { 2 };
    let mut xs = x.chunks_exact(rows * p);
    let mut os = out.chunks_exact_mut(rows * k_pad);
    for (xr, or) in (&mut xs).zip(&mut os) {
        if rows == 4 {
            rows_block::<F, 4>(xr, p, t, k_pad, or);
        } else {
            rows_block::<F, 2>(xr, p, t, k_pad, or);
        }
    }
    for (xr, or) in xs
        .remainder()
        .chunks_exact(p)
        .zip(os.into_remainder().chunks_exact_mut(k_pad))
    {
        rows_block::<F, 1>(xr, p, t, k_pad, or);
    }
}

/// `R` rows of `x` against all codewords, [`LANES`] codewords at a time.
#[inline(always)]
fn rows_block<F: Float, const R: usize>(x: &[F], p: usize, t: &[F], k_pad: usize, out: &mut [F]) {
    let xi = interleave::<F, R>(x, p);
    for j0 in (0..k_pad).step_by(LANES) {
        let acc = sums(&xi, t, k_pad, j0);
        for (r, a) in acc.iter().enumerate() {
            out[r * k_pad + j0..r * k_pad + j0 + LANES].copy_from_slice(a);
        }
    }
}

/// `R` rows of `x` (`R × p`) feature by feature: `[x_0f, x_1f, …]` for every feature `f`.
#[inline(always)]
fn interleave<F: Float, const R: usize>(x: &[F], p: usize) -> Vec<[F; R]> {
    (0..p)
        .map(|f| std::array::from_fn(|r| x[r * p + f]))
        .collect()
}

/// The sums `x_r · c_j` of `R` interleaved rows with codewords `j0 .. j0 + LANES`, kept in
/// registers: a local array indexed only by constants.
#[inline(always)]
fn sums<F: Float, const R: usize>(
    xi: &[[F; R]],
    t: &[F],
    k_pad: usize,
    j0: usize,
) -> [[F; LANES]; R] {
    let mut acc = [[F::zero(); LANES]; R];
    for (xf, col) in xi.iter().zip(t[j0..].chunks(k_pad)) {
        let c: &[F; LANES] = col[..LANES].try_into().expect("a whole block of codewords");
        for r in 0..R {
            for l in 0..LANES {
                acc[r][l] = acc[r][l] + xf[r] * c[l];
            }
        }
    }
    acc
}

/// For every row of `x` (`n × p`), the codeword minimizing `norms[j] - 2 x·c_j` (the squared
/// distance less `|x|²` when `norms` holds the codewords' squared norms; `k_pad` values,
/// padding `+∞`), ties to the lowest index, written into `out` (`n`). The same sums as
/// [`dots`], a few rows at a time; each row's minimum is found in SIMD lanes.
pub fn nearest<F: Float>(x: &[F], cw: &PackedCodewords<F>, norms: &[F], out: &mut [u16]) {
    let (p, k_pad) = (cw.p, cw.k_pad);
    assert!(x.len().is_multiple_of(p) && out.len() == x.len() / p && norms.len() == k_pad);
    nearest_dispatch(x, p, &cw.t, norms, k_pad, out);
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+avx"))]
fn nearest_dispatch<F: Float>(
    x: &[F],
    p: usize,
    t: &[F],
    norms: &[F],
    k_pad: usize,
    out: &mut [u16],
) {
    distance_rows(x, p, t, k_pad, |i, row| {
        out[i] = argmin_distance(row, norms) as u16;
    });
}

/// Hands `each(i, d)` every row `i` of `x` with `d[j] = x_i·c_j` for every padded
/// codeword, computed a block of rows at a time: the loop [`nearest`] and [`nearest_two`]
/// share. Inlined into their CPU-specific clones.
#[inline(always)]
fn distance_rows<F: Float>(
    x: &[F],
    p: usize,
    t: &[F],
    k_pad: usize,
    mut each: impl FnMut(usize, &mut [F]),
) {
    let rows = if std::mem::size_of::<F>() <= 4 { 4 } else { 2 };
    let mut table = vec![F::zero(); rows * k_pad];
    for (block, xr) in x.chunks(rows * p).enumerate() {
        let n = xr.len() / p;
        let d = &mut table[..n * k_pad];
        match n {
            4 => rows_block::<F, 4>(xr, p, t, k_pad, d),
            2 => rows_block::<F, 2>(xr, p, t, k_pad, d),
            _ => {
                for (xi, di) in xr.chunks_exact(p).zip(d.chunks_exact_mut(k_pad)) {
                    rows_block::<F, 1>(xi, p, t, k_pad, di);
                }
            }
        }
        for (r, row) in d.chunks_exact_mut(k_pad).enumerate() {
            each(block * rows + r, row);
        }
    }
}

/// [`nearest`], and for every row the second-smallest `norms[j] - 2 x·c_j` over the other
/// codewords into `runner_up` (`n`; equal to the smallest when two codewords tie): what
/// k-means' bounds need to know how far the next codeword is.
pub fn nearest_two<F: Float>(
    x: &[F],
    cw: &PackedCodewords<F>,
    norms: &[F],
    out: &mut [u16],
    runner_up: &mut [F],
) {
    let (p, k_pad) = (cw.p, cw.k_pad);
    assert!(x.len().is_multiple_of(p) && out.len() == x.len() / p && norms.len() == k_pad);
    assert_eq!(runner_up.len(), out.len());
    nearest_two_dispatch(x, p, &cw.t, norms, k_pad, out, runner_up);
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2", "x86_64+avx"))]
fn nearest_two_dispatch<F: Float>(
    x: &[F],
    p: usize,
    t: &[F],
    norms: &[F],
    k_pad: usize,
    out: &mut [u16],
    runner_up: &mut [F],
) {
    distance_rows(x, p, t, k_pad, |i, row| {
        (out[i], runner_up[i]) = two_smallest_distances(row, norms);
    });
}

/// The first index minimizing `norms[j] - 2 dots[j]` (written over `dots`) and the smallest
/// value at any other index: the two smallest in each of [`LANES`] lanes with selects, then
/// the lanes combined.
#[inline(always)]
fn two_smallest_distances<F: Float>(dots: &mut [F], norms: &[F]) -> (u16, F) {
    let mut m1 = [F::infinity(); LANES];
    let mut m2 = [F::infinity(); LANES];
    for (dc, nc) in dots.chunks_exact_mut(LANES).zip(norms.chunks_exact(LANES)) {
        for l in 0..LANES {
            let d = nc[l] - (dc[l] + dc[l]);
            dc[l] = d;
            let lower = d < m1[l];
            m2[l] = if lower {
                m1[l]
            } else if d < m2[l] {
                d
            } else {
                m2[l]
            };
            m1[l] = if lower { d } else { m1[l] };
        }
    }
    let (mut best, mut lane) = (F::infinity(), 0);
    for (l, &v) in m1.iter().enumerate() {
        if v < best {
            (best, lane) = (v, l);
        }
    }
    let mut second = m2[lane];
    for (l, &v) in m1.iter().enumerate() {
        if l != lane && v < second {
            second = v;
        }
    }
    if !(best < F::infinity()) {
        return (0, second);
    }
    let at = dots.iter().position(|&d| d == best).unwrap_or(0);
    (at as u16, second)
}

/// The first index minimizing `norms[j] - 2 dots[j]` (written over `dots`): the minimum
/// in [`LANES`] lanes with selects (which vectorize), then its first position.
#[inline(always)]
fn argmin_distance<F: Float>(dots: &mut [F], norms: &[F]) -> usize {
    let mut m = [F::infinity(); LANES];
    for (dc, nc) in dots.chunks_exact_mut(LANES).zip(norms.chunks_exact(LANES)) {
        for l in 0..LANES {
            let d = nc[l] - (dc[l] + dc[l]);
            dc[l] = d;
            m[l] = if d < m[l] { d } else { m[l] };
        }
    }
    let min = m
        .iter()
        .fold(F::infinity(), |a, &v| if v < a { v } else { a });
    if !(min < F::infinity()) {
        return 0;
    }
    dots.iter().position(|&d| d == min).unwrap_or(0)
}

/// The serial dot product [`dots`] computes, one pair at a time: the reference the kernel
/// is tested against, and what code outside the kernel uses to agree with it bit for bit.
#[inline]
pub fn serial_dot<F: Float>(a: &[F], b: &[F]) -> F {
    a.iter().zip(b).fold(F::zero(), |s, (&u, &v)| s + u * v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn check<F: Float + std::fmt::Debug>(n: usize, k: usize, p: usize, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |len: usize| -> Vec<F> {
            (0..len)
                .map(|_| F::from(rng.random_range(-3.0..3.0f64)).unwrap())
                .collect()
        };
        let x = draw(n * p);
        let c = draw(k * p);
        let cw = PackedCodewords::new(&c, p);
        let mut out = vec![F::nan(); n * cw.k_pad()];
        dots(&x, &cw, &mut out);
        for i in 0..n {
            for j in 0..cw.k_pad() {
                let expect = if j < k {
                    serial_dot(&x[i * p..(i + 1) * p], &c[j * p..(j + 1) * p])
                } else {
                    F::zero()
                };
                // Bit for bit: the kernel promises the serial order.
                assert_eq!(out[i * cw.k_pad() + j], expect, "row {i} codeword {j}");
            }
        }
    }

    #[test]
    fn nearest_is_the_first_minimum_of_the_serial_distances() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for (n, k, p) in [(1, 1, 3), (7, 20, 5), (130, 256, 32), (33, 64, 16)] {
            // Coarse values make exact ties common.
            let x: Vec<f32> = (0..n * p)
                .map(|_| rng.random_range(-2..=2) as f32)
                .collect();
            let c: Vec<f32> = (0..k * p)
                .map(|_| rng.random_range(-2..=2) as f32)
                .collect();
            let cw = PackedCodewords::new(&c, p);
            let mut norms: Vec<f32> = c.chunks(p).map(|c| serial_dot(c, c)).collect();
            norms.resize(cw.k_pad(), f32::INFINITY);
            let mut got = vec![0u16; n];
            nearest(&x, &cw, &norms, &mut got);
            let (mut got_two, mut runner_up) = (vec![0u16; n], vec![0f32; n]);
            nearest_two(&x, &cw, &norms, &mut got_two, &mut runner_up);
            for i in 0..n {
                let xi = &x[i * p..(i + 1) * p];
                let d: Vec<f32> = (0..k)
                    .map(|j| {
                        let dot = serial_dot(xi, &c[j * p..(j + 1) * p]);
                        norms[j] - (dot + dot)
                    })
                    .collect();
                let mut want = (0, f32::INFINITY);
                for (j, &dj) in d.iter().enumerate() {
                    if dj < want.1 {
                        want = (j, dj);
                    }
                }
                let second = (0..k)
                    .filter(|&j| j != want.0)
                    .map(|j| d[j])
                    .fold(f32::INFINITY, f32::min);
                assert_eq!(usize::from(got[i]), want.0, "row {i}");
                assert_eq!(usize::from(got_two[i]), want.0, "row {i}");
                assert_eq!(runner_up[i], second, "row {i}");
            }
        }
    }

    #[test]
    fn every_shape_matches_the_serial_sum_bit_for_bit() {
        for (n, k, p) in [
            (1, 1, 1),
            (3, 5, 7),
            (4, 16, 16),
            (9, 33, 32),
            (130, 256, 32),
        ] {
            check::<f32>(n, k, p, n as u64);
            check::<f64>(n, k, p, k as u64);
        }
    }
}
