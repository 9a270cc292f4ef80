//! An optional value transform applied before tiling and inverted after decoding, for data
//! spanning many decades (plasma velocity distribution functions run from ~1e-16 to ~1e-12):
//! coding `log10(max(v, floor))` spends the codebook on the shape of the distribution, not on
//! its few largest values.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A value transform.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Transform {
    /// Values are coded as they are.
    #[default]
    Identity,
    /// Values are coded as `log10(max(v, floor))`; on decode `10^z`, and results below
    /// `√10 × floor` (half a decade above the floor, where an empty cell's reconstruction
    /// lands give or take the coding error) come back as 0: the floor stands for "empty".
    /// Set it about a decade below the smallest value that matters (Vlasiator's VDFs: floor
    /// 1e-16 for a 1e-15 sparsity threshold).
    Log10 {
        /// The smallest value kept (positive, finite).
        floor: f64,
    },
}

impl Transform {
    /// Whether this is the identity (the default, left out of the codebook's MessagePack).
    pub fn is_identity(&self) -> bool {
        matches!(self, Transform::Identity)
    }

    /// Checks the transform's parameters.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Transform::Identity => Ok(()),
            Transform::Log10 { floor } => {
                // The floor must survive the trip through f32.
                if floor.is_finite()
                    && floor > 0.0
                    && (floor as f32) > 0.0
                    && (floor as f32).is_finite()
                {
                    Ok(())
                } else {
                    Err(Error::InvalidCodebook(format!(
                        "log10 floor {floor:e} must be positive and finite in float32"
                    )))
                }
            }
        }
    }

    /// Applies the transform in place (f64, for training).
    pub fn forward_f64(&self, values: &mut [f64]) {
        if let Transform::Log10 { floor } = *self {
            for v in values {
                // NaN fails the comparison and is kept (training rejects it later).
                *v = if *v >= floor {
                    v.log10()
                } else if v.is_nan() {
                    *v
                } else {
                    floor.log10()
                };
            }
        }
    }

    /// Applies the transform in place (f32, for encoding).
    pub fn forward(&self, values: &mut [f32]) {
        if let Transform::Log10 { floor } = *self {
            let floor = floor as f32;
            let log_floor = floor.log10();
            for v in values {
                *v = if *v >= floor { v.log10() } else { log_floor };
            }
        }
    }

    /// Inverts the transform in place (f32, for decoding).
    pub fn inverse(&self, values: &mut [f32]) {
        if let Transform::Log10 { floor } = *self {
            let empty_below = (floor as f32).log10() + 0.5;
            for v in values {
                *v = if *v < empty_below {
                    0.0
                } else {
                    10f32.powf(*v)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log10_round_trips_above_the_floor_and_zeroes_below() {
        let t = Transform::Log10 { floor: 1e-16 };
        let mut v = [0.0f32, 1e-18, 1e-16, 3e-15, 2e-12, -5.0, 5e-16];
        t.forward(&mut v);
        assert_eq!(v[0], (1e-16f32).log10());
        assert_eq!(v[5], (1e-16f32).log10());
        // An empty cell coded a little high still decodes as empty.
        v[2] += 0.3;
        t.inverse(&mut v);
        assert_eq!(&v[..3], &[0.0, 0.0, 0.0]);
        assert!((v[6] / 5.0e-16 - 1.0).abs() < 1e-5, "{}", v[6]);
        assert!((v[3] / 3e-15 - 1.0).abs() < 1e-5, "{}", v[3]);
        assert!((v[4] / 2e-12 - 1.0).abs() < 1e-5, "{}", v[4]);
        assert_eq!(v[5], 0.0);
    }

    #[test]
    fn bad_floors_are_refused() {
        for floor in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
            assert!(Transform::Log10 { floor }.validate().is_err(), "{floor}");
        }
    }
}
