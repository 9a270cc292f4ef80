//! One call, no training step: given only an error bound, choose how to code an array.
//!
//! The predictive engine needs nothing trained and is the default. A residual VQ codebook
//! trained on a sample of the same array can code some data in fewer bytes (large stacks of
//! similar images at loose bounds), but it is stored with the array, so it must save more than
//! its own size. [`choose_coding`] measures both on the same blocks of the array, as c-blosc2
//! would code them, and keeps the codebook only when the whole array, codebook included, is
//! estimated smaller by at least [`MIN_SAVING`].
//!
//! - The codebook is trained on some whole blocks and measured on others (held out), so a
//!   codebook that merely memorised its sample does not win. Eight measured blocks: with four,
//!   the faces at 0.05 and 0.02 chose codebooks that made the file 1–4 % larger.
//! - Each candidate is screened by a quick codebook ([`QUICK_TILES`] tiles); only one within
//!   [`SCREEN_MARGIN`] of winning is trained fully, so a losing trial costs about a tenth.
//! - Candidates: 2 stages of 64 codewords with 8-bit mean removal, on 4×8 tiles, and on 4×4×4
//!   tiles for arrays of three or more dimensions. Larger codebooks cost more bytes than they
//!   saved on every array measured (REPORT.md's ablation).
//! - Not tried (the predictive engine is chosen without training) when the bound is
//!   point-wise relative (residual codebooks bound absolute errors), the dtype is not float32
//!   or float64, the array holds fewer than two whole blocks, or the codebook alone would
//!   outweigh [`MAX_PLAUSIBLE_SAVING`] of the predictive bytes.
//! - Deterministic: the blocks are picked by position and training is seeded, so the same array
//!   and bound give the same choice and the same bytes.
#![forbid(unsafe_code)]

use crate::codec::{self, EncodeCall};
use crate::engine::bound::BlockBound;
use crate::engine::settings::Settings;
use crate::error::{Error, Result};
use crate::kinds::residual::ResidualParams;
use crate::tiles::Dtype;
use crate::train::{CodebookParams, ModelParams};

/// The codebook must make the whole array (codebook included) at least this much smaller.
pub const MIN_SAVING: f64 = 0.02;
/// No codebook saved more than this fraction of the chunk bytes on the data measured (best:
/// 7 % on the faces); a codebook larger than this fraction of the predictive bytes is not
/// trained at all.
pub const MAX_PLAUSIBLE_SAVING: f64 = 0.25;
/// Whole blocks measured (and as many trained on), at most.
pub const MAX_SAMPLE_BLOCKS: usize = 8;
/// Tiles drawn from the training blocks.
pub const TRAINING_TILES: usize = 4096;
/// k-means iterations per stage (training stops earlier once it converges).
pub const TRAINING_ITERATIONS: u32 = 25;
/// Tiles and iterations of the quick codebook that screens each candidate.
pub const QUICK_TILES: usize = 1024;
/// See [`QUICK_TILES`].
pub const QUICK_ITERATIONS: u32 = 8;
/// A candidate whose quick codebook estimates the array more than this fraction larger than
/// the predictor is not trained fully.
pub const SCREEN_MARGIN: f64 = 0.05;
const STAGES: usize = 2;
const CODEWORDS: usize = 64;
const MEAN_BITS: u8 = 8;
/// c-blosc2's `BLOSC_NEVER_SPLIT`, which the codec requires.
const NEVER_SPLIT: i32 = 2;

/// What [`choose_coding`] decided, with the figures it decided on.
#[derive(Clone, PartialEq)]
pub struct CodingChoice {
    /// The codebook to store in the `vq` metalayer, or `None` for the predictive engine.
    pub codebook: Option<Vec<u8>>,
    /// Estimated chunk bytes of the whole array coded predictively (0 when not measured).
    pub predictive_bytes: u64,
    /// Estimated bytes with the best codebook: chunks plus the codebook (`None`: not tried).
    pub codebook_bytes: Option<u64>,
    /// One line saying what was chosen and why.
    pub reason: String,
}

impl std::fmt::Debug for CodingChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodingChoice")
            .field(
                "codebook",
                &self.codebook.as_ref().map(|c| format!("{} bytes", c.len())),
            )
            .field("predictive_bytes", &self.predictive_bytes)
            .field("codebook_bytes", &self.codebook_bytes)
            .field("reason", &self.reason)
            .finish()
    }
}

impl CodingChoice {
    fn predictive(predictive_bytes: u64, codebook_bytes: Option<u64>, reason: String) -> Self {
        CodingChoice {
            codebook: None,
            predictive_bytes,
            codebook_bytes,
            reason,
        }
    }
}

/// Chooses between the predictive engine and a residual codebook trained on the array, for
/// an array of `shape` and `dtype` cut into `blocks`, to `settings`' bound.
///
/// `read(offset, out)` fills `out` with the values that start at flat C-order index
/// `offset` of the array (native byte order): one row of a block at a time, for at most
/// `2 × MAX_SAMPLE_BLOCKS` whole blocks, so an array on disk is never read whole.
pub fn choose_coding(
    shape: &[usize],
    blocks: &[usize],
    dtype: Dtype,
    settings: &Settings,
    read: &mut dyn FnMut(usize, &mut [u8]) -> Result<()>,
) -> Result<CodingChoice> {
    if shape.len() != blocks.len() || shape.is_empty() || blocks.contains(&0) {
        return Err(Error::InvalidGeometry(format!(
            "blocks {blocks:?} for an array of shape {shape:?}"
        )));
    }
    let max_error = match settings.block_bound()? {
        BlockBound::Absolute { max_error } => max_error,
        BlockBound::PointwiseRelative { .. } => return Ok(CodingChoice::predictive(
            0,
            None,
            "predictive: residual codebooks bound absolute errors, not point-wise relative ones"
                .into(),
        )),
    };
    if !matches!(dtype, Dtype::Float32 | Dtype::Float64) {
        return Ok(CodingChoice::predictive(
            0,
            None,
            format!("predictive: codebooks are tried for float32 and float64 only, not {dtype:?}"),
        ));
    }
    let grid: Vec<usize> = shape.iter().zip(blocks).map(|(s, b)| s / b).collect();
    let whole_blocks: usize = grid.iter().product();
    if whole_blocks < 2 {
        return Ok(CodingChoice::predictive(
            0,
            None,
            "predictive: the array holds fewer than two whole blocks, too little for a codebook to pay"
                .into(),
        ));
    }
    let k = MAX_SAMPLE_BLOCKS.min(whole_blocks / 2);
    // Held out: measured blocks at odd multiples of G/2k, training blocks at even ones
    // (distinct, as G ≥ 2k).
    let pick = |i: usize| -> Vec<usize> {
        let mut rest = i;
        let mut origin = vec![0; grid.len()];
        for d in (0..grid.len()).rev() {
            origin[d] = (rest % grid[d]) * blocks[d];
            rest /= grid[d];
        }
        origin
    };
    let block_values: usize = blocks.iter().product();
    let block_len = block_values * dtype.size();
    let mut block_at = |i: usize| -> Result<Vec<u8>> {
        let mut buf = vec![0u8; block_len];
        read_block(shape, blocks, &pick(i), dtype.size(), &mut buf, read)?;
        Ok(buf)
    };
    let measured: Vec<Vec<u8>> = (0..k)
        .map(|j| block_at((2 * j + 1) * whole_blocks / (2 * k)))
        .collect::<Result<_>>()?;
    let total_values: f64 = shape.iter().map(|&s| s as f64).product();
    let scale = total_values / (k * block_values) as f64;

    let settings_bytes = settings.to_msgpack();
    let predictive = coded_bytes(&measured, &settings_bytes, dtype, blocks)? as f64 * scale;
    let predictive_bytes = predictive.round() as u64;
    let candidates = tile_candidates(shape.len());
    let smallest_codebook = candidates
        .iter()
        .map(|t| 4 * STAGES * CODEWORDS * t.iter().product::<usize>())
        .min()
        .unwrap_or(0) as f64;
    if smallest_codebook > MAX_PLAUSIBLE_SAVING * predictive {
        return Ok(CodingChoice::predictive(
            predictive_bytes,
            None,
            format!(
                "predictive: a codebook (at least {} bytes) would outweigh what it could save on about {predictive_bytes} bytes",
                smallest_codebook as u64
            ),
        ));
    }

    let training: Vec<f64> = (0..k)
        .map(|j| block_at(j * whole_blocks / k))
        .collect::<Result<Vec<_>>>()?
        .iter()
        .flat_map(|b| {
            let mut v = vec![0.0; b.len() / dtype.size()];
            dtype.read_f64(b, &mut v);
            v
        })
        .collect();
    let mut training_shape = vec![k];
    training_shape.extend_from_slice(blocks);
    let training = ndarray::ArrayViewD::from_shape(training_shape, &training)
        .map_err(|e| Error::InvalidData(e.to_string()))?;
    let mut best: Option<(f64, Vec<u8>, &str)> = None;
    let mut failures = Vec::new();
    for tile in &candidates {
        // A quick codebook first: when even it is far from winning, the full training (ten
        // times the work) is skipped. A quick codebook codes worse than a full one, so the
        // margin only errs towards training.
        let quick = match train(&training, tile, max_error, QUICK_TILES, QUICK_ITERATIONS) {
            Ok(cb) => cb,
            // NaN in the training blocks, too few tiles: this candidate is out.
            Err(e) => {
                failures.push(format!("tile {tile:?}: {e}"));
                continue;
            }
        };
        let quick_total =
            coded_bytes(&measured, &quick, dtype, blocks)? as f64 * scale + quick.len() as f64;
        let (total, codebook, how) = if quick_total > (1.0 + SCREEN_MARGIN) * predictive {
            (quick_total, quick, "quickly trained")
        } else {
            let full = train(
                &training,
                tile,
                max_error,
                TRAINING_TILES,
                TRAINING_ITERATIONS,
            )?;
            let total =
                coded_bytes(&measured, &full, dtype, blocks)? as f64 * scale + full.len() as f64;
            (total, full, "trained")
        };
        if best.as_ref().is_none_or(|(b, _, _)| total < *b) {
            best = Some((total, codebook, how));
        }
    }
    let Some((with_codebook, codebook, how)) = best else {
        return Ok(CodingChoice::predictive(
            predictive_bytes,
            None,
            format!(
                "predictive: no codebook could be trained ({})",
                failures.join("; ")
            ),
        ));
    };
    let codebook_bytes = Some(with_codebook.round() as u64);
    let cb_len = codebook.len();
    if with_codebook <= (1.0 - MIN_SAVING) * predictive {
        Ok(CodingChoice {
            codebook: Some(codebook),
            predictive_bytes,
            codebook_bytes,
            reason: format!(
                "residual codebook: about {} bytes with its {cb_len}-byte codebook, against {predictive_bytes} predictive",
                with_codebook.round() as u64
            ),
        })
    } else {
        Ok(CodingChoice::predictive(
            predictive_bytes,
            codebook_bytes,
            format!(
                "predictive: about {predictive_bytes} bytes, against {} with a {how} {cb_len}-byte codebook",
                with_codebook.round() as u64
            ),
        ))
    }
}

/// A residual codebook trained on `tiles` tiles drawn from `training` (seeded), sealed with
/// `max_error`; its bytes.
fn train(
    training: &ndarray::ArrayViewD<'_, f64>,
    tile: &[usize],
    max_error: f64,
    tiles: usize,
    iterations: u32,
) -> Result<Vec<u8>> {
    CodebookParams::new(ModelParams::Residual(
        ResidualParams::new(STAGES, CODEWORDS)
            .mean_bits(MEAN_BITS)
            .max_iter(iterations),
    ))
    .tile_shape(tile)
    .n_samples(tiles)
    .seed(0)
    .max_error(Some(max_error))
    .fit(training)
    .map(|cb| cb.to_msgpack())
}

/// Reads the whole block at `origin` into `out` (C order), a row of its last axis at a time.
fn read_block(
    shape: &[usize],
    blocks: &[usize],
    origin: &[usize],
    item: usize,
    out: &mut [u8],
    read: &mut dyn FnMut(usize, &mut [u8]) -> Result<()>,
) -> Result<()> {
    let nd = shape.len();
    let row = blocks[nd - 1] * item;
    let rows: usize = blocks[..nd - 1].iter().product();
    let mut index = vec![0usize; nd - 1];
    for r in 0..rows {
        let mut offset = 0usize;
        for d in 0..nd {
            let within = if d + 1 == nd { 0 } else { index[d] };
            offset = offset * shape[d] + origin[d] + within;
        }
        read(offset, &mut out[r * row..(r + 1) * row])?;
        for d in (0..nd - 1).rev() {
            index[d] += 1;
            if index[d] < blocks[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(())
}

/// Tile shapes tried: images (4×8 on the last two axes), and volumes for 3-D and up.
fn tile_candidates(ndim: usize) -> Vec<Vec<usize>> {
    match ndim {
        1 => vec![vec![32]],
        2 => vec![vec![4, 8]],
        _ => vec![vec![4, 8], vec![4, 4, 4]],
    }
}

/// Bytes of `blocks_bytes` coded through the codec with `vq_meta` as the metalayer, as
/// c-blosc2 stores them (a block the codec cannot shrink costs its raw size).
fn coded_bytes(
    blocks_bytes: &[Vec<u8>],
    vq_meta: &[u8],
    dtype: Dtype,
    blocks: &[usize],
) -> Result<usize> {
    let blockshape: Vec<i64> = blocks.iter().map(|&b| b as i64).collect();
    let mut out = Vec::new();
    let mut total = 0;
    for input in blocks_bytes {
        out.resize(input.len() + 4096, 0);
        let call = EncodeCall {
            input,
            codec_meta: 0,
            max_error: None,
            typesize: dtype.size(),
            blocksize: input.len(),
            filters: [0; 6],
            splitmode: NEVER_SPLIT,
            codebook: Some(vq_meta),
            b2nd: None,
            schunk_blockshape: Some(blockshape.clone()),
        };
        total += match codec::encode(&call, &mut out)? {
            0 => input.len(),
            n => n,
        };
    }
    Ok(total)
}

/// [`choose_coding`] on an array held in memory (C order, native byte order).
pub fn choose_coding_in_memory(
    data: &[u8],
    shape: &[usize],
    blocks: &[usize],
    dtype: Dtype,
    settings: &Settings,
) -> Result<CodingChoice> {
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|c| c.checked_mul(dtype.size()));
    if count != Some(data.len()) {
        return Err(Error::InvalidGeometry(format!(
            "{} bytes for an array of shape {shape:?} of {dtype:?}",
            data.len()
        )));
    }
    let item = dtype.size();
    let mut read = |offset: usize, out: &mut [u8]| -> Result<()> {
        out.copy_from_slice(&data[offset * item..offset * item + out.len()]);
        Ok(())
    };
    choose_coding(shape, blocks, dtype, settings, &mut read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::bound::ErrorBound;

    fn settings(max_error: f64) -> Settings {
        Settings::new(ErrorBound::MaxError { max_error }, None).unwrap()
    }

    fn bytes_f32(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    /// An image made of 4×8 tiles drawn from 16 random patterns: what a codebook codes as
    /// indices and a predictor finds unpredictable.
    fn patterned(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let patterns: Vec<Vec<f32>> = (0..16).map(|_| (0..32).map(|_| next()).collect()).collect();
        let mut out = vec![0f32; rows * cols];
        for tr in 0..rows / 4 {
            for tc in 0..cols / 8 {
                let p = &patterns[(next() * 16.0) as usize % 16];
                for i in 0..4 {
                    for j in 0..8 {
                        out[(tr * 4 + i) * cols + tc * 8 + j] = p[i * 8 + j];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn a_codebook_that_pays_is_chosen_the_same_every_time() {
        let (rows, cols) = (1024, 1024);
        let data = bytes_f32(&patterned(rows, cols, 1));
        let choose = || {
            choose_coding_in_memory(
                &data,
                &[rows, cols],
                &[256, 256],
                Dtype::Float32,
                &settings(0.01),
            )
            .unwrap()
        };
        let choice = choose();
        assert!(choice.codebook.is_some(), "{choice:?}");
        let with_codebook = choice.codebook_bytes.unwrap() as f64;
        assert!(
            with_codebook <= (1.0 - MIN_SAVING) * choice.predictive_bytes as f64,
            "{choice:?}"
        );
        assert!(
            choice.reason.starts_with("residual codebook"),
            "{}",
            choice.reason
        );
        // The same array and bound: the same choice, byte for byte.
        assert_eq!(choose(), choice);
    }

    #[test]
    fn smooth_data_stays_predictive() {
        let (rows, cols) = (512, 512);
        let v: Vec<f32> = (0..rows * cols)
            .map(|i| ((i / cols) as f32 * 0.01).sin() + ((i % cols) as f32 * 0.02).cos())
            .collect();
        let choice = choose_coding_in_memory(
            &bytes_f32(&v),
            &[rows, cols],
            &[256, 256],
            Dtype::Float32,
            &settings(1e-3),
        )
        .unwrap();
        assert!(choice.codebook.is_none(), "{choice:?}");
        assert!(choice.predictive_bytes > 0);
        assert!(choice.reason.starts_with("predictive"), "{}", choice.reason);
    }

    #[test]
    fn untried_cases_say_why() {
        let v = bytes_f32(&patterned(64, 64, 2));
        let small =
            choose_coding_in_memory(&v, &[64, 64], &[64, 64], Dtype::Float32, &settings(0.01))
                .unwrap();
        assert!(small.codebook.is_none() && small.reason.contains("fewer than two whole blocks"));
        let pw = Settings::new(
            ErrorBound::PwRelError {
                pw_rel_error: 0.01,
                max_error: 0.0,
            },
            None,
        )
        .unwrap();
        let pointwise =
            choose_coding_in_memory(&v, &[64, 64], &[32, 32], Dtype::Float32, &pw).unwrap();
        assert!(pointwise.codebook.is_none() && pointwise.reason.contains("point-wise"));
        let tiny =
            choose_coding_in_memory(&v, &[64, 64], &[16, 16], Dtype::Float32, &settings(0.01))
                .unwrap();
        assert!(
            tiny.codebook.is_none() && tiny.reason.contains("outweigh"),
            "{}",
            tiny.reason
        );
        assert!(choose_coding_in_memory(
            &v[1..],
            &[64, 64],
            &[16, 16],
            Dtype::Float32,
            &settings(0.01)
        )
        .is_err());
    }

    #[test]
    fn blocks_are_read_where_they_lie() {
        // 3-D, values equal to their flat index: every block read must hold its own values.
        let shape = [6, 8, 10];
        let v: Vec<f64> = (0..480).map(|i| i as f64).collect();
        let data: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
        let blocks = [2, 4, 5];
        let mut block = vec![0u8; 40 * 8];
        let mut from_memory = |offset: usize, out: &mut [u8]| -> Result<()> {
            out.copy_from_slice(&data[offset * 8..offset * 8 + out.len()]);
            Ok(())
        };
        read_block(&shape, &blocks, &[4, 4, 5], 8, &mut block, &mut from_memory).unwrap();
        let mut got = vec![0.0; 40];
        Dtype::Float64.read_f64(&block, &mut got);
        let mut expect = Vec::new();
        for a in 4..6 {
            for b in 4..8 {
                for c in 5..10 {
                    expect.push(((a * 8 + b) * 10 + c) as f64);
                }
            }
        }
        assert_eq!(got, expect);
        let mut reads = 0;
        let mut counting = |offset: usize, out: &mut [u8]| -> Result<()> {
            reads += 1;
            out.copy_from_slice(&data[offset * 8..offset * 8 + out.len()]);
            Ok(())
        };
        let via_reader = choose_coding(
            &shape,
            &blocks,
            Dtype::Float64,
            &settings(0.5),
            &mut counting,
        )
        .unwrap();
        let in_memory =
            choose_coding_in_memory(&data, &shape, &blocks, Dtype::Float64, &settings(0.5))
                .unwrap();
        assert!(reads > 0);
        assert_eq!(via_reader, in_memory);
    }
}
