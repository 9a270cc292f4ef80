//! The codebook-free mode of `compress`: the error bound from the flags, the settings the
//! `vq` metalayer holds, the default geometry that gives the predictor room, and how `info`
//! and `compress` name a bound.

use crate::{npy, progress, CliResult};
use blosc2_vq::choose::CodingChoice;
use blosc2_vq::engine::bound::ErrorBound;
use blosc2_vq::engine::settings::Settings;
use blosc2_vq::tiles::Dtype;

/// The flags naming an error bound, as `compress` takes them.
#[derive(Clone, Copy, Debug, Default)]
pub struct BoundFlags {
    pub max_error: Option<f64>,
    pub rel_error: Option<f64>,
    pub pw_rel_error: Option<f64>,
    pub psnr: Option<f64>,
}

impl BoundFlags {
    /// Whether a flag of the codebook-free mode only (`--rel-error`, `--pw-rel-error`,
    /// `--psnr`) is given.
    pub fn has_range_or_pointwise(&self) -> bool {
        self.rel_error.is_some() || self.pw_rel_error.is_some() || self.psnr.is_some()
    }

    /// The bound of a compression without a codebook, where `--weight-bits` (a codebook's)
    /// must be left out.
    pub fn bound_without_codebook(&self, weight_bits: u8) -> CliResult<ErrorBound> {
        if weight_bits != 0 {
            return Err(format!(
                "--weight-bits {weight_bits} sets a codebook's weight bits; without --codebook \
                 leave it out"
            ));
        }
        self.bound()
    }

    /// Refuses the flags a codebook does not take (it takes `--max-error` only).
    pub fn check_with_codebook(&self) -> CliResult<()> {
        if self.has_range_or_pointwise() {
            return Err(
                "--rel-error, --pw-rel-error and --psnr are bounds of the codebook-free mode: \
                 leave --codebook out (a codebook takes --max-error)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The bound, checked by the library (exactly one, except `--max-error` as the floor of
    /// `--pw-rel-error`; positive and finite).
    pub fn bound(&self) -> CliResult<ErrorBound> {
        if self.max_error.is_none() && !self.has_range_or_pointwise() {
            return Err(
                "no codebook and no error bound: give one of --max-error, --rel-error, \
                 --pw-rel-error or --psnr (or --codebook FILE from `blosc2-vq train`)"
                    .into(),
            );
        }
        let given = [self.rel_error, self.pw_rel_error, self.psnr]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given > 1 || (given == 1 && self.max_error.is_some() && self.pw_rel_error.is_none()) {
            return Err(
                "give one error bound: --max-error, --rel-error, --pw-rel-error or \
                 --psnr (--max-error may go with --pw-rel-error as its absolute floor)"
                    .into(),
            );
        }
        ErrorBound::from_names(self.max_error, self.rel_error, self.pw_rel_error, self.psnr)
            .map_err(|e| match e {
                blosc2_vq::Error::InvalidParam { name, reason } => {
                    format!("--{}: {reason}", name.replace('_', "-"))
                }
                other => format!("error bound: {other}"),
            })
    }
}

/// The `vq` metalayer content for `bound` on the array behind `source`: a bound relative to
/// the value range (`rel_error`, `psnr`) first reads the whole array once, a piece at a
/// time, for its finite minimum and maximum.
pub fn settings_for(
    source: &npy::NpyReader,
    bound: ErrorBound,
    piece: usize,
) -> CliResult<Settings> {
    let range = if bound.needs_range() {
        let bar = progress(source.len() as u64, "range");
        let range = source.finite_range(piece, |n| bar.inc(n as u64))?;
        bar.finish_and_clear();
        // No finite value at all: the range is 0, as the C API and Python take it.
        Some(range.map_or(0.0, |(lo, hi)| hi - lo))
    } else {
        None
    };
    Settings::new(bound, range).map_err(|e| format!("error bound: {e}"))
}

/// The library's choice between the predictive engine and a residual codebook trained on
/// the array ([`blosc2_vq::choose`]), reading only the sampled blocks from the file.
pub fn choose_coding(
    source: &npy::NpyReader,
    blocks: &[usize],
    settings: &Settings,
) -> CliResult<CodingChoice> {
    let dtype = Dtype::from_numpy_str(source.dtype.numpy()).map_err(|e| e.to_string())?;
    let mut read = |offset: usize, out: &mut [u8]| {
        source
            .read_bytes(offset, out)
            .map_err(blosc2_vq::Error::InvalidData)
    };
    blosc2_vq::choose::choose_coding(&source.shape, blocks, dtype, settings, &mut read)
        .map_err(|e| format!("choosing a coding: {e}"))
}

/// Default chunk and block shapes of the codebook-free mode, the same as Python's
/// `blosc2_vq.default_blocks`: blocks of about 2^16 values, chunks of about 2^20 (never
/// smaller than a block); an array of three or more dimensions whose items (all but the
/// first dimension) fit in a block gets blocks of whole items, others blocks as cubic as the
/// shape allows (the last dimensions filled first). `itemsize` does not change them.
pub fn default_geometry(shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    // Three or more dimensions whose items (all but the first) fit in a block: whole items.
    let items = shape.len() >= 3 && shape[1..].iter().product::<usize>() <= 1 << 16;
    let blocks = grow(shape, 1 << 16, items);
    let chunks = grow(shape, 1 << 20, items)
        .into_iter()
        .zip(&blocks)
        .map(|(c, &b)| c.max(b))
        .collect();
    (chunks, blocks)
}

/// The chunks and blocks of a compression without a codebook: the explicit ones, else
/// [`default_geometry`]'s; explicit chunks alone keep the default blocks within them,
/// explicit blocks alone keep the default chunks at least as large. (Shapes of the wrong
/// dimensionality are passed on for the caller to refuse.)
pub fn geometry(
    shape: &[usize],
    chunks: Option<&[usize]>,
    blocks: Option<&[usize]>,
) -> (Vec<usize>, Vec<usize>) {
    let (dc, db) = default_geometry(shape);
    match (chunks, blocks) {
        (Some(c), Some(b)) => (c.to_vec(), b.to_vec()),
        (Some(c), None) => {
            let b = db.iter().zip(c).map(|(&b, &c)| b.min(c)).collect();
            (c.to_vec(), b)
        }
        (None, Some(b)) => (
            dc.iter().zip(b).map(|(&c, &b)| c.max(b)).collect(),
            b.to_vec(),
        ),
        (None, None) => (dc, db),
    }
}

/// Grows every dimension in turn (last first) by doubling, capped by the shape, as long as
/// the product stays within `target` (Python's `_bounds._grow`).
fn grow(shape: &[usize], target: usize, items: bool) -> Vec<usize> {
    let mut out = vec![1usize; shape.len()];
    if items {
        out[1..].copy_from_slice(&shape[1..]);
    }
    let mut changed = true;
    while changed {
        changed = false;
        for d in (0..shape.len()).rev() {
            if out[d] < shape[d] {
                let next = (out[d] * 2).min(shape[d]);
                let product: usize = out.iter().product();
                if product / out[d] * next <= target {
                    out[d] = next;
                    changed = true;
                }
            }
        }
    }
    out
}

/// A number as a user would write it: plain in the usual range, else in exponent form.
pub fn number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A bound by its flag name and value(s): `max_error 0.001`, `pw_rel_error 0.01 (floor
/// max_error 1e-9)`, `psnr 60 dB`.
pub fn describe_bound(bound: &ErrorBound) -> String {
    match *bound {
        ErrorBound::MaxError { max_error } => format!("max_error {}", number(max_error)),
        ErrorBound::RelError { rel_error } => format!("rel_error {}", number(rel_error)),
        ErrorBound::PwRelError {
            pw_rel_error,
            max_error,
        } if max_error > 0.0 => format!(
            "pw_rel_error {} (floor max_error {})",
            number(pw_rel_error),
            number(max_error)
        ),
        ErrorBound::PwRelError { pw_rel_error, .. } => {
            format!("pw_rel_error {}", number(pw_rel_error))
        }
        ErrorBound::Psnr { psnr } => format!("psnr {} dB", number(psnr)),
        ref other => format!("{other:?}"),
    }
}

/// What `info` says about settings: the requested bound, the coded one, the value range.
pub fn describe_settings(s: &Settings) -> String {
    let range = s
        .value_range
        .map_or_else(|| "not needed".to_string(), number);
    format!(
        "predictive (codebook-free): requested {}, coded {}, value range {range}",
        describe_bound(&s.requested),
        describe_bound(&s.bound)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values Python's `blosc2_vq.default_blocks(shape, 4)` gives (printed by it).
    #[test]
    fn default_geometry_is_pythons() {
        for (shape, chunks, blocks) in [
            (&[400, 64, 64][..], &[256, 64, 64][..], &[16, 64, 64][..]),
            (&[40, 50, 60], &[40, 50, 60], &[16, 50, 60]),
            (&[24, 32, 32, 32], &[24, 32, 32, 32], &[2, 32, 32, 32]),
            (&[300, 500], &[300, 500], &[256, 256]),
            (&[1000], &[1000], &[1000]),
            (&[1], &[1], &[1]),
            (&[2000, 3000], &[1024, 1024], &[256, 256]),
            (&[7, 1, 9, 1000], &[7, 1, 9, 1000], &[7, 1, 9, 1000]),
            (&[512, 512, 512], &[64, 128, 128], &[32, 32, 64]),
            (&[3, 100000], &[3, 100000], &[3, 16384]),
            (&[100, 100, 100, 100], &[32, 32, 32, 32], &[16, 16, 16, 16]),
        ] {
            let (c, b) = default_geometry(shape);
            assert_eq!((&c[..], &b[..]), (chunks, blocks), "{shape:?}");
        }
    }

    #[test]
    fn explicit_shapes_win() {
        let shape = [40, 50, 60];
        assert_eq!(
            geometry(&shape, Some(&[8, 20, 60]), None),
            (vec![8, 20, 60], vec![8, 20, 60])
        );
        assert_eq!(
            geometry(&shape, None, Some(&[4, 8, 8])),
            (vec![40, 50, 60], vec![4, 8, 8])
        );
        assert_eq!(
            geometry(&shape, Some(&[16, 50, 60]), Some(&[8, 16, 32])),
            (vec![16, 50, 60], vec![8, 16, 32])
        );
        assert_eq!(geometry(&shape, None, None), default_geometry(&shape));
    }

    #[test]
    fn flags_name_the_bound() {
        let none = BoundFlags::default();
        let err = none.bound().unwrap_err();
        for flag in ["--max-error", "--rel-error", "--pw-rel-error", "--psnr"] {
            assert!(err.contains(flag), "{err}");
        }
        let two = BoundFlags {
            max_error: Some(0.1),
            psnr: Some(40.0),
            ..BoundFlags::default()
        };
        assert!(two.bound().is_err());
        let floor = BoundFlags {
            max_error: Some(1e-9),
            pw_rel_error: Some(0.01),
            ..BoundFlags::default()
        };
        assert_eq!(
            describe_bound(&floor.bound().unwrap()),
            "pw_rel_error 0.01 (floor max_error 1e-9)"
        );
    }
}
