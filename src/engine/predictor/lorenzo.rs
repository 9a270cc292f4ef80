//! The Lorenzo predictor: each value from its already-decoded neighbours by
//! inclusion–exclusion (`a` in 1-D, `a + b - c` in 2-D, seven terms in 3-D), neighbours
//! outside the block counting as 0. Values are visited in C order.

/// Visits every value of `shape` (1 to 3 dimensions, C order) in C order.
pub fn traverse(shape: &[usize], work: &mut [f64], mut visit: impl FnMut(usize, f64, u32) -> f64) {
    match *shape {
        [n] => {
            let mut prev = 0.0;
            for (i, w) in work[..n].iter_mut().enumerate() {
                prev = visit(i, prev, 1);
                *w = prev;
            }
        }
        [n0, n1] => {
            for i in 0..n0 {
                for j in 0..n1 {
                    let idx = i * n1 + j;
                    let left = if j > 0 { work[idx - 1] } else { 0.0 };
                    let pred = if i > 0 {
                        let up = work[idx - n1];
                        let diag = if j > 0 { work[idx - n1 - 1] } else { 0.0 };
                        left + up - diag
                    } else {
                        left
                    };
                    work[idx] = visit(idx, pred, 1);
                }
            }
        }
        [n0, n1, n2] => {
            let plane = n1 * n2;
            let get =
                |work: &[f64], i: usize, j: usize, k: usize, di: usize, dj: usize, dk: usize| {
                    if i < di || j < dj || k < dk {
                        0.0
                    } else {
                        work[(i - di) * plane + (j - dj) * n2 + (k - dk)]
                    }
                };
            for i in 0..n0 {
                for j in 0..n1 {
                    for k in 0..n2 {
                        let idx = i * plane + j * n2 + k;
                        let pred = get(work, i, j, k, 1, 0, 0)
                            + get(work, i, j, k, 0, 1, 0)
                            + get(work, i, j, k, 0, 0, 1)
                            - get(work, i, j, k, 1, 1, 0)
                            - get(work, i, j, k, 1, 0, 1)
                            - get(work, i, j, k, 0, 1, 1)
                            + get(work, i, j, k, 1, 1, 1);
                        work[idx] = visit(idx, pred, 1);
                    }
                }
            }
        }
        _ => unreachable!("Lorenzo runs on 1 to 3 dimensions (Predictor::supports)"),
    }
}
