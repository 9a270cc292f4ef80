//! Error bounds, named as scientists name them (SZ's modes), and the form a block codes to.
//!
//! | name (Rust, C, CLI, Python) | meaning |
//! |---|---|
//! | `max_error` | absolute: every value within `max_error` (SZ's ABS) |
//! | `rel_error` | relative to the value range: `max_error = rel_error × (max − min)` over the whole array's finite values (SZ's REL) |
//! | `pw_rel_error` | point-wise relative: `|y − x| ≤ max(max_error, pw_rel_error·|x|)`; zeros stay exactly 0, `max_error` (optional, default 0) is the absolute floor for the tails (SZ's PW_REL) |
//! | `psnr` | a PSNR target in dB over the value range: coded as the absolute bound whose uniform error gives that PSNR, `max_error = range·√3·10^(−psnr/20)` |
//!
//! `rel_error` and `psnr` need the whole array's range, which a Blosc2 block does not see: the
//! front ends (Rust [`ErrorBound::resolve`], C, the CLI, Python) turn them into an absolute
//! bound before compressing, and record what the user asked for.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest point-wise relative bound (a larger one would let values change sign or vanish).
pub const MAX_PW_REL_ERROR: f64 = 0.5;

/// An error bound as a user asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorBound {
    /// Every value within `max_error` of the original.
    MaxError {
        /// The absolute bound.
        max_error: f64,
    },
    /// Every value within `rel_error × (max − min)` of the original.
    RelError {
        /// The bound relative to the value range.
        rel_error: f64,
    },
    /// Every value within `max(max_error, pw_rel_error × |x|)` of the original `x`.
    PwRelError {
        /// The point-wise relative bound.
        pw_rel_error: f64,
        /// The absolute floor (0: none; zeros are always exact).
        #[serde(default)]
        max_error: f64,
    },
    /// A PSNR target in dB over the value range.
    Psnr {
        /// The target.
        psnr: f64,
    },
}

/// The bound a block is coded to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BlockBound {
    /// `|y − x| ≤ max_error`.
    Absolute {
        /// The bound.
        max_error: f64,
    },
    /// `|y − x| ≤ max(floor, rel·|x|)`.
    PointwiseRelative {
        /// The relative bound.
        rel: f64,
        /// The absolute floor.
        floor: f64,
    },
}

fn positive(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::param(
            name,
            format!("{v:e}: the bound must be positive and finite"),
        ))
    }
}

impl ErrorBound {
    /// Builds the bound from the names the C, CLI and Python surfaces take: exactly one of
    /// `max_error`, `rel_error`, `pw_rel_error` and `psnr`, except that `max_error` may go
    /// with `pw_rel_error` as its floor. `None` for a name not given.
    pub fn from_names(
        max_error: Option<f64>,
        rel_error: Option<f64>,
        pw_rel_error: Option<f64>,
        psnr: Option<f64>,
    ) -> Result<Self> {
        let bound = match (max_error, rel_error, pw_rel_error, psnr) {
            (Some(e), None, None, None) => ErrorBound::MaxError { max_error: e },
            (None, Some(r), None, None) => ErrorBound::RelError { rel_error: r },
            (e, None, Some(r), None) => ErrorBound::PwRelError {
                pw_rel_error: r,
                max_error: e.unwrap_or(0.0),
            },
            (None, None, None, Some(p)) => ErrorBound::Psnr { psnr: p },
            (None, None, None, None) => {
                return Err(Error::param(
                    "max_error",
                    "no error bound: give one of max_error, rel_error, pw_rel_error or psnr",
                ))
            }
            _ => {
                return Err(Error::param(
                    "max_error",
                    "give one of max_error, rel_error, pw_rel_error or psnr (max_error may go \
                     with pw_rel_error as its absolute floor)",
                ))
            }
        };
        bound.check()?;
        Ok(bound)
    }

    /// Checks the values: each bound positive and finite, a floor non-negative, a
    /// point-wise bound at most [`MAX_PW_REL_ERROR`].
    pub fn check(&self) -> Result<()> {
        match *self {
            ErrorBound::MaxError { max_error } => positive("max_error", max_error).map(drop),
            ErrorBound::RelError { rel_error } => positive("rel_error", rel_error).map(drop),
            ErrorBound::PwRelError {
                pw_rel_error,
                max_error,
            } => {
                positive("pw_rel_error", pw_rel_error)?;
                if pw_rel_error > MAX_PW_REL_ERROR {
                    return Err(Error::param(
                        "pw_rel_error",
                        format!(
                            "{pw_rel_error}: a point-wise relative bound must be at most \
                             {MAX_PW_REL_ERROR}"
                        ),
                    ));
                }
                if !(max_error.is_finite() && max_error >= 0.0) {
                    return Err(Error::param(
                        "max_error",
                        format!(
                            "{max_error:e}: the absolute floor of pw_rel_error must be 0 or \
                             positive and finite"
                        ),
                    ));
                }
                Ok(())
            }
            ErrorBound::Psnr { psnr } => {
                if psnr.is_finite() && psnr > 0.0 && psnr < 400.0 {
                    Ok(())
                } else {
                    Err(Error::param(
                        "psnr",
                        format!("{psnr}: a PSNR target must be between 0 and 400 dB"),
                    ))
                }
            }
        }
    }

    /// Whether resolving needs the value range.
    pub fn needs_range(&self) -> bool {
        matches!(self, ErrorBound::RelError { .. } | ErrorBound::Psnr { .. })
    }

    /// The bound blocks are coded to, given the whole array's finite value range
    /// (`max − min`; only [`RelError`](Self::RelError) and [`Psnr`](Self::Psnr) read it).
    /// A range of 0 (constant data) asks for no error: the smallest positive bound.
    pub fn resolve(&self, range: f64) -> Result<BlockBound> {
        self.check()?;
        let from_range = |e: f64| -> Result<BlockBound> {
            if !(range.is_finite() && range >= 0.0) {
                return Err(Error::param(
                    "rel_error",
                    format!("value range {range:e}: the data has no finite range"),
                ));
            }
            Ok(BlockBound::Absolute {
                max_error: if e > 0.0 { e } else { f64::MIN_POSITIVE },
            })
        };
        match *self {
            ErrorBound::MaxError { max_error } => Ok(BlockBound::Absolute { max_error }),
            ErrorBound::RelError { rel_error } => from_range(rel_error * range),
            ErrorBound::Psnr { psnr } => from_range(range * 3f64.sqrt() * 10f64.powf(-psnr / 20.0)),
            ErrorBound::PwRelError {
                pw_rel_error,
                max_error,
            } => Ok(BlockBound::PointwiseRelative {
                rel: pw_rel_error,
                floor: max_error,
            }),
        }
    }
}

impl BlockBound {
    /// Checks a bound read from a block or a metalayer.
    pub fn check(&self) -> Result<()> {
        match *self {
            BlockBound::Absolute { max_error } => positive("max_error", max_error).map(drop),
            BlockBound::PointwiseRelative { rel, floor } => ErrorBound::PwRelError {
                pw_rel_error: rel,
                max_error: floor,
            }
            .check(),
        }
    }

    /// The error allowed at the original value `x`.
    #[inline]
    pub fn allowed(&self, x: f64) -> f64 {
        match *self {
            BlockBound::Absolute { max_error } => max_error,
            BlockBound::PointwiseRelative { rel, floor } => floor.max(rel * x.abs()),
        }
    }
}

/// The finite minimum and maximum of `values` (`None` when none is finite).
pub fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_combine_as_documented() {
        assert_eq!(
            ErrorBound::from_names(Some(0.1), None, None, None).unwrap(),
            ErrorBound::MaxError { max_error: 0.1 }
        );
        assert_eq!(
            ErrorBound::from_names(Some(1e-9), None, Some(0.01), None).unwrap(),
            ErrorBound::PwRelError {
                pw_rel_error: 0.01,
                max_error: 1e-9
            }
        );
        for bad in [
            ErrorBound::from_names(None, None, None, None),
            ErrorBound::from_names(Some(0.1), Some(0.1), None, None),
            ErrorBound::from_names(Some(-1.0), None, None, None),
            ErrorBound::from_names(Some(f64::NAN), None, None, None),
            ErrorBound::from_names(None, Some(0.0), None, None),
            ErrorBound::from_names(None, None, Some(0.9), None),
            ErrorBound::from_names(Some(-1.0), None, Some(0.1), None),
            ErrorBound::from_names(None, None, None, Some(f64::INFINITY)),
        ] {
            assert!(matches!(bad, Err(Error::InvalidParam { .. })), "{bad:?}");
        }
    }

    #[test]
    fn range_bounds_resolve() {
        let rel = ErrorBound::RelError { rel_error: 1e-3 };
        assert_eq!(
            rel.resolve(10.0).unwrap(),
            BlockBound::Absolute { max_error: 1e-2 }
        );
        // Constant data: no error allowed, but a valid bound.
        assert!(matches!(
            rel.resolve(0.0).unwrap(),
            BlockBound::Absolute { max_error } if max_error > 0.0
        ));
        let psnr = ErrorBound::Psnr { psnr: 60.0 };
        let BlockBound::Absolute { max_error } = psnr.resolve(1.0).unwrap() else {
            panic!()
        };
        // Uniform error in ±e: MSE e²/3.
        let got = 10.0 * (1.0 / (max_error * max_error / 3.0)).log10();
        assert!((got - 60.0).abs() < 1e-9, "{got}");
        assert!(rel.resolve(f64::NAN).is_err());
    }
}
