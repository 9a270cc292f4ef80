//! Predictors: each visits every value of a block once, in an order where the values it
//! predicts from are already decoded, and hands the quantizer a prediction.
//!
//! A predictor calls `visit(index, prediction, level)` for every value; `visit` returns the
//! value the decoder will hold there (the quantized reconstruction), which the predictor
//! writes into the working buffer before predicting anything else from it. Encoder and
//! decoder run the same traversal with different `visit`s, so they see the same
//! predictions bit for bit (plain IEEE additions and multiplications, never fused).
//!
//! - [`interpolation`]: SZ3's multilevel spline interpolation (linear or cubic, the order of
//!   the dimensions chosen per block); `level` is 1 for the finest level.
//! - [`lorenzo`]: the Lorenzo predictor (1-D to 3-D), better on rough or small blocks;
//!   `level` is always 1.
//! - per-slice interpolation: the same interpolation on each slice along the first dimension
//!   on its own, for stacks of unrelated items (images, velocity distributions) in one block.
#![forbid(unsafe_code)]

pub mod interpolation;
pub mod lorenzo;

/// A predictor and its settings, as recorded in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predictor {
    /// Lorenzo on the decoded neighbours (1-D to 3-D blocks).
    Lorenzo,
    /// Multilevel interpolation.
    Interpolation {
        /// Cubic splines (4 neighbours) rather than linear (2 neighbours).
        cubic: bool,
        /// Interpolate along the dimensions last to first instead of first to last.
        reversed: bool,
    },
    /// Multilevel interpolation of each slice along the first dimension on its own (blocks
    /// of two or more dimensions).
    Slices {
        /// Cubic splines rather than linear.
        cubic: bool,
    },
}

impl Predictor {
    /// The byte a block records.
    pub fn code(self) -> u8 {
        match self {
            Predictor::Lorenzo => 0,
            Predictor::Interpolation { cubic, reversed } => {
                1 + u8::from(cubic) + 2 * u8::from(reversed)
            }
            Predictor::Slices { cubic } => 5 + u8::from(cubic),
        }
    }

    /// The predictor of a recorded byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Predictor::Lorenzo,
            1..=4 => Predictor::Interpolation {
                cubic: (code - 1) & 1 == 1,
                reversed: (code - 1) & 2 == 2,
            },
            5 | 6 => Predictor::Slices { cubic: code == 6 },
            _ => return None,
        })
    }

    /// The candidates worth trying on a block of `ndim` dimensions (after squeezing).
    pub fn candidates(ndim: usize) -> &'static [Predictor] {
        const ONE: [Predictor; 3] = [
            Predictor::Interpolation {
                cubic: true,
                reversed: false,
            },
            Predictor::Interpolation {
                cubic: false,
                reversed: false,
            },
            Predictor::Lorenzo,
        ];
        // Linear interpolation in reverse order is left out: on the fields measured it was
        // never the cheapest where the others were tried.
        const MANY: [Predictor; 5] = [
            Predictor::Interpolation {
                cubic: true,
                reversed: false,
            },
            Predictor::Interpolation {
                cubic: true,
                reversed: true,
            },
            Predictor::Interpolation {
                cubic: false,
                reversed: false,
            },
            Predictor::Lorenzo,
            Predictor::Slices { cubic: true },
        ];
        const FOUR_AND_MORE: [Predictor; 4] = [MANY[0], MANY[1], MANY[2], MANY[4]];
        match ndim {
            0 | 1 => &ONE,
            // In 2-D a slice is a row: Lorenzo and the 2-D interpolations do better.
            2 => &MANY[..4],
            3 => &MANY,
            // Lorenzo is written for up to three dimensions.
            _ => &FOUR_AND_MORE,
        }
    }

    /// Whether this predictor can run on `ndim` dimensions.
    pub fn supports(self, ndim: usize) -> bool {
        match self {
            Predictor::Lorenzo => ndim <= 3,
            Predictor::Slices { .. } => ndim >= 2,
            Predictor::Interpolation { .. } => true,
        }
    }

    /// The number of levels the traversal of `shape` reports (levels run from this down to 1).
    pub fn levels(self, shape: &[usize]) -> u32 {
        match self {
            Predictor::Lorenzo => 1,
            Predictor::Interpolation { .. } => interpolation::levels(shape),
            Predictor::Slices { .. } => interpolation::levels(&shape[1..]),
        }
    }

    /// Visits every value of the block `shape` (C order, squeezed) in this predictor's order.
    pub fn traverse(
        self,
        shape: &[usize],
        work: &mut [f64],
        visit: impl FnMut(usize, f64, u32) -> f64,
    ) {
        debug_assert_eq!(work.len(), shape.iter().product::<usize>());
        match self {
            Predictor::Lorenzo => lorenzo::traverse(shape, work, visit),
            Predictor::Interpolation { cubic, reversed } => {
                interpolation::traverse(shape, work, cubic, reversed, visit)
            }
            Predictor::Slices { cubic } => {
                let mut visit = visit;
                let inner = &shape[1..];
                let len: usize = inner.iter().product();
                for (k, slice) in work.chunks_exact_mut(len).enumerate() {
                    let base = k * len;
                    interpolation::traverse(inner, slice, cubic, false, |i, pred, level| {
                        visit(base + i, pred, level)
                    });
                }
            }
        }
    }
}

/// `shape` without its dimensions of length 1 (at least one dimension is kept).
pub fn squeeze(shape: &[usize]) -> Vec<usize> {
    let s: Vec<usize> = shape.iter().copied().filter(|&d| d > 1).collect();
    if s.is_empty() {
        vec![1]
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(p: Predictor, shape: &[usize]) -> Vec<usize> {
        let n = shape.iter().product();
        let mut work = vec![0.0; n];
        let mut seen = Vec::new();
        p.traverse(shape, &mut work, |i, _, level| {
            assert!(level >= 1 && level <= p.levels(shape));
            seen.push(i);
            1.0
        });
        seen
    }

    #[test]
    fn every_value_is_visited_once() {
        for shape in [
            vec![1],
            vec![7],
            vec![64],
            vec![5, 3],
            vec![64, 64],
            vec![3, 17, 9],
            vec![2, 3, 4, 5],
        ] {
            for &p in Predictor::candidates(shape.len()) {
                let mut seen = order(p, &shape);
                seen.sort_unstable();
                let n: usize = shape.iter().product();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{p:?} on {shape:?}");
            }
        }
    }

    #[test]
    fn predictions_use_only_visited_values() {
        // A value not yet visited holds NaN: any prediction reading it is NaN.
        for shape in [vec![9], vec![13, 6], vec![5, 9, 7]] {
            for &p in Predictor::candidates(shape.len()) {
                let n: usize = shape.iter().product();
                let mut work = vec![f64::NAN; n];
                p.traverse(&shape, &mut work, |i, pred, _| {
                    assert!(
                        !pred.is_nan(),
                        "{p:?} on {shape:?} read an unvisited value at {i}"
                    );
                    i as f64
                });
            }
        }
    }

    #[test]
    fn codes_round_trip() {
        for code in 0..7 {
            assert_eq!(Predictor::from_code(code).unwrap().code(), code);
        }
        assert!(Predictor::from_code(7).is_none());
    }

    #[test]
    fn linear_and_cubic_fields_are_predicted_exactly_inside() {
        // A plane is predicted exactly by linear interpolation away from the far edges.
        let shape = [17, 17];
        let mut work = vec![0.0; 17 * 17];
        let mut worst: f64 = 0.0;
        let truth = |i: usize| {
            let (r, c) = (i / 17, i % 17);
            2.0 * r as f64 - 3.0 * c as f64 + 1.0
        };
        Predictor::Interpolation {
            cubic: false,
            reversed: false,
        }
        .traverse(&shape, &mut work, |i, pred, level| {
            if level < 4 {
                worst = worst.max((pred - truth(i)).abs());
            }
            truth(i)
        });
        assert!(worst < 1e-9, "{worst}");
    }
}
