//! Compression settings without a codebook: what the SChunk's `vq` metalayer holds when
//! the predictive engine codes every block (the default: nothing to train).
//!
//! MessagePack map: `{"format": "blosc2-vq settings", "version": 1, "requested": <the bound
//! as the user gave it>, "bound": <the bound blocks are coded to>, "value_range": <max − min
//! used to resolve a range bound, or nil>}`. The `format` key tells settings from a codebook.
#![forbid(unsafe_code)]

use super::bound::{BlockBound, ErrorBound};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The `format` value of a settings metalayer.
pub const SETTINGS_FORMAT: &str = "blosc2-vq settings";
/// The settings version this build writes and reads.
pub const SETTINGS_VERSION: u32 = 1;

/// What a frame compressed by the predictive engine carries in its `vq` metalayer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    format: String,
    version: u32,
    /// The bound as the user gave it.
    pub requested: ErrorBound,
    /// The bound blocks are coded to (`max_error` or `pw_rel_error`).
    pub bound: ErrorBound,
    /// The value range `requested` was resolved with (range bounds only).
    pub value_range: Option<f64>,
}

impl Settings {
    /// Settings for `requested`, resolved with `value_range` (`max − min` over the whole
    /// array's finite values: needed by `rel_error` and `psnr`, ignored by the others).
    pub fn new(requested: ErrorBound, value_range: Option<f64>) -> Result<Self> {
        requested.check()?;
        let value_range = if requested.needs_range() {
            Some(value_range.ok_or_else(|| {
                Error::param(
                    "rel_error",
                    "a bound relative to the value range needs the data (its range)",
                )
            })?)
        } else {
            None
        };
        let bound = match requested.resolve(value_range.unwrap_or(0.0))? {
            BlockBound::Absolute { max_error } => ErrorBound::MaxError { max_error },
            BlockBound::PointwiseRelative { rel, floor } => ErrorBound::PwRelError {
                pw_rel_error: rel,
                max_error: floor,
            },
        };
        Ok(Settings {
            format: SETTINGS_FORMAT.into(),
            version: SETTINGS_VERSION,
            requested,
            bound,
            value_range,
        })
    }

    /// The bound blocks are coded to.
    pub fn block_bound(&self) -> Result<BlockBound> {
        let b = self.bound.resolve(0.0)?;
        b.check()?;
        Ok(b)
    }

    /// The MessagePack bytes (the `vq` metalayer's content).
    pub fn to_msgpack(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("settings serialize")
    }

    /// Whether `bytes` look like settings rather than a codebook (without validating them).
    pub fn is_settings(bytes: &[u8]) -> bool {
        // A codebook never holds this string; settings always do, near the front.
        let marker = SETTINGS_FORMAT.as_bytes();
        bytes.len() < 4096 && bytes.windows(marker.len()).take(64).any(|w| w == marker)
    }

    /// Parses and checks settings bytes.
    pub fn from_msgpack(bytes: &[u8]) -> Result<Self> {
        let bad = |why: String| Error::InvalidCodebook(format!("compression settings: {why}"));
        // python-blosc2 stores `meta={"vq": some_bytes}` wrapped in a MessagePack `bin`.
        let inner = crate::codebook::unwrap_bin(bytes).map_err(|e| bad(e.to_string()))?;
        let s: Settings = rmp_serde::from_slice(inner).map_err(|e| bad(e.to_string()))?;
        if s.format != SETTINGS_FORMAT {
            return Err(bad(format!("format {:?}", s.format)));
        }
        if s.version != SETTINGS_VERSION {
            return Err(Error::UnsupportedVersion {
                found: s.version,
                supported: SETTINGS_VERSION,
            });
        }
        s.requested.check().map_err(|e| bad(e.to_string()))?;
        if !matches!(
            s.bound,
            ErrorBound::MaxError { .. } | ErrorBound::PwRelError { .. }
        ) {
            return Err(bad(
                "the coded bound must be max_error or pw_rel_error".into()
            ));
        }
        s.block_bound().map_err(|e| bad(e.to_string()))?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_are_told_from_codebooks() {
        let s = Settings::new(ErrorBound::RelError { rel_error: 1e-3 }, Some(20.0)).unwrap();
        assert_eq!(
            s.block_bound().unwrap(),
            BlockBound::Absolute { max_error: 0.02 }
        );
        let bytes = s.to_msgpack();
        assert!(Settings::is_settings(&bytes));
        assert_eq!(Settings::from_msgpack(&bytes).unwrap(), s);
        assert!(Settings::new(ErrorBound::RelError { rel_error: 1e-3 }, None).is_err());
        let pw = Settings::new(
            ErrorBound::PwRelError {
                pw_rel_error: 0.1,
                max_error: 1e-20,
            },
            None,
        )
        .unwrap();
        assert_eq!(
            pw.block_bound().unwrap(),
            BlockBound::PointwiseRelative {
                rel: 0.1,
                floor: 1e-20
            }
        );
        // Corrupt settings are an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(Settings::from_msgpack(&bytes[..cut]).is_err());
        }
    }
}
