//! SZ3's multilevel interpolation predictor, in any number of dimensions.
//!
//! The value at the origin comes first (predicted as 0). Then, from the coarsest stride
//! `s = 2^(L-1)` down to 1, and within a level one dimension after the other, every value
//! whose coordinate along that dimension is an odd multiple of `s` (already-visited
//! dimensions of the level at multiples of `s`, the others at multiples of `2s`) is
//! predicted from its neighbours at `±s` and `±3s` along it: a cubic spline
//! `(-a + 9b + 9c - d) / 16` when all four exist, a quadratic near the ends, the mean of two,
//! or a linear extrapolation past the last one. Coarse levels predict from far apart and are
//! few; the finest level holds half the values and predicts from neighbours one apart.

/// The number of levels for `shape`: `ceil(log2(largest dimension))`, at least 1.
pub fn levels(shape: &[usize]) -> u32 {
    let largest = shape.iter().copied().max().unwrap_or(1).max(2);
    (usize::BITS - (largest - 1).leading_zeros()).max(1)
}

/// Visits every value of `shape` (C order) in interpolation order; see the module docs.
pub fn traverse(
    shape: &[usize],
    work: &mut [f64],
    cubic: bool,
    reversed: bool,
    mut visit: impl FnMut(usize, f64, u32) -> f64,
) {
    let nd = shape.len();
    let mut strides = vec![1usize; nd];
    for d in (0..nd.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let top = levels(shape);
    work[0] = visit(0, 0.0, top);
    let order: Vec<usize> = if reversed {
        (0..nd).rev().collect()
    } else {
        (0..nd).collect()
    };
    // The dimensions other than the interpolated one: (number of positions, offset step).
    let mut outer: Vec<(usize, usize)> = Vec::with_capacity(nd);
    let mut counter: Vec<usize> = vec![0; nd];
    for level in (1..=top).rev() {
        let s = 1usize << (level - 1);
        for (k, &d) in order.iter().enumerate() {
            let n = shape[d];
            if s >= n {
                continue; // no odd multiple of s inside this dimension
            }
            outer.clear();
            for (j, &e) in order.iter().enumerate() {
                if e == d {
                    continue;
                }
                let step = if j < k { s } else { 2 * s };
                outer.push((shape[e].div_ceil(step), step * strides[e]));
            }
            // Odometer over the outer positions.
            counter[..outer.len()].fill(0);
            let mut base = 0usize;
            'lines: loop {
                line(work, base, strides[d], n, s, cubic, level, &mut visit);
                for (c, &(count, step)) in counter.iter_mut().zip(&outer) {
                    *c += 1;
                    base += step;
                    if *c < count {
                        continue 'lines;
                    }
                    base -= count * step;
                    *c = 0;
                }
                break;
            }
        }
    }
}

/// Predicts the odd multiples of `s` along one line (elements `base + i * es`, `i < n`).
#[inline(always)]
fn line(
    work: &mut [f64],
    base: usize,
    es: usize,
    n: usize,
    s: usize,
    cubic: bool,
    level: u32,
    visit: &mut impl FnMut(usize, f64, u32) -> f64,
) {
    let at = |work: &[f64], i: usize| work[base + i * es];
    let mut i = s;
    while i < n {
        let has_right = i + s < n;
        let pred = if has_right {
            let (b, c) = (at(work, i - s), at(work, i + s));
            let far_left = i >= 3 * s;
            let far_right = i + 3 * s < n;
            if cubic && far_left && far_right {
                (-at(work, i - 3 * s) + 9.0 * b + 9.0 * c - at(work, i + 3 * s)) * 0.0625
            } else if cubic && far_right {
                (3.0 * b + 6.0 * c - at(work, i + 3 * s)) * 0.125
            } else if cubic && far_left {
                (-at(work, i - 3 * s) + 6.0 * b + 3.0 * c) * 0.125
            } else {
                (b + c) * 0.5
            }
        } else if i >= 3 * s {
            1.5 * at(work, i - s) - 0.5 * at(work, i - 3 * s)
        } else {
            at(work, i - s)
        };
        let idx = base + i * es;
        work[idx] = visit(idx, pred, level);
        i += 2 * s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_counts() {
        assert_eq!(levels(&[1]), 1);
        assert_eq!(levels(&[2]), 1);
        assert_eq!(levels(&[3]), 2);
        assert_eq!(levels(&[64, 64]), 6);
        assert_eq!(levels(&[65, 3]), 7);
    }
}
