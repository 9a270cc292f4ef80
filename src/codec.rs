//! The Blosc2 codec contract in safe Rust: what the encoder and decoder callbacks do once the
//! C layer has turned c-blosc2's pointers into slices and plain values.
//!
//! - The encoder returns the packed size (> 0), or 0 for "cannot compress, store the block
//!   raw" (c-blosc2 then copies it verbatim), or an error.
//! - The decoder returns exactly the block size, or an error.
//! - `codec_meta` (stored by c-blosc2 with every chunk): 0 uses the codebook's weight bits;
//!   1 to 8 override them for this encoding (the decoder reads the bits from each block).
//! - `codec_params` (C callers; not stored): a `blosc2_vq_codec_params` whose `max_error`
//!   overrides the codebook's (or the settings') error bound for this compression (each
//!   block records its bound, so decoding needs nothing).
//! - The `vq` metalayer holds either a codebook or [`Settings`] (an error bound, no
//!   codebook). Without a codebook, or with no metalayer but a `max_error` in
//!   `codec_params`, blocks go to the predictive engine ([`engine`], block format 4).
#![forbid(unsafe_code)]

use crate::block::{decode_block, encode_block, Encoded};
use crate::codebook::cache;
use crate::engine::{self, bound::BlockBound, settings::Settings};
use crate::error::{Error, Result};
use crate::tiles::{resolve_layout, HostLayout};

/// Name of the SChunk metalayer that holds the codebook.
pub const CODEBOOK_METALAYER: &str = "vq";
/// Name of c-blosc2's n-dimensional array metalayer.
pub const B2ND_METALAYER: &str = "b2nd";

/// c-blosc2's filter codes that keep values intact (no filter, and float precision
/// truncation, which leaves valid values behind).
const VALUE_PRESERVING_FILTERS: [u8; 2] = [0, 4];
/// c-blosc2's `BLOSC_ALWAYS_SPLIT`.
const ALWAYS_SPLIT: i32 = 1;

/// One call of the encoder callback.
#[derive(Debug, Clone)]
pub struct EncodeCall<'a> {
    /// The block's bytes (after c-blosc2's filters).
    pub input: &'a [u8],
    /// `codec_meta` from the compression parameters.
    pub codec_meta: u8,
    /// An error bound for this compression (`blosc2_vq_codec_params` in
    /// `cparams.codec_params`), overriding the codebook's.
    pub max_error: Option<f64>,
    /// The context's typesize.
    pub typesize: usize,
    /// The context's (full) block size in bytes.
    pub blocksize: usize,
    /// The filter pipeline that ran before the codec.
    pub filters: [u8; 6],
    /// The context's split mode.
    pub splitmode: i32,
    /// The `vq` metalayer, if the SChunk has one.
    pub codebook: Option<&'a [u8]>,
    /// The `b2nd` metalayer, if the SChunk has one.
    pub b2nd: Option<&'a [u8]>,
    /// The SChunk's own `blockshape` field, when set.
    pub schunk_blockshape: Option<Vec<i64>>,
}

/// One call of the decoder callback.
#[derive(Debug, Clone)]
pub struct DecodeCall<'a> {
    /// The packed block.
    pub input: &'a [u8],
    /// The SChunk's typesize, when there is an SChunk.
    pub typesize: Option<usize>,
    /// The `vq` metalayer, if the SChunk has one.
    pub codebook: Option<&'a [u8]>,
}

/// Runs the encoder: returns the packed size, or 0 to have c-blosc2 store the block raw.
pub fn encode(call: &EncodeCall<'_>, output: &mut [u8]) -> Result<usize> {
    if let Some(&f) = call
        .filters
        .iter()
        .find(|f| !VALUE_PRESERVING_FILTERS.contains(f))
    {
        return Err(Error::UnsupportedSettings(format!(
            "filter {f} ({}) runs before the lossy vq codec and reorders or transforms the bytes, \
             which would destroy the data; use `filters: []` (no filters) with the vq codec",
            filter_name(f)
        )));
    }
    if call.splitmode == ALWAYS_SPLIT && call.typesize > 1 {
        return Err(Error::UnsupportedSettings(
            "the block is split into byte streams (ALWAYS_SPLIT) before the vq codec sees it; \
             use splitmode NEVER_SPLIT (blosc2.SplitMode.NEVER_SPLIT / BLOSC_NEVER_SPLIT)"
                .into(),
        ));
    }
    let layout = || {
        resolve_layout(&HostLayout {
            typesize: call.typesize,
            blocksize: Some(call.blocksize),
            b2nd: call.b2nd,
            schunk_blockshape: call.schunk_blockshape.clone(),
        })
    };
    // No codebook: the predictive engine, to the settings' bound or the call's.
    let settings = match call.codebook {
        Some(bytes) if Settings::is_settings(bytes) => Some(Settings::from_msgpack(bytes)?),
        _ => None,
    };
    if settings.is_some() || call.codebook.is_none() {
        let bound = match (call.max_error, &settings) {
            (Some(max_error), _) => {
                let b = BlockBound::Absolute { max_error };
                b.check()?;
                b
            }
            (None, Some(s)) => s.block_bound()?,
            (None, None) => return Err(Error::MissingCodebook),
        };
        if call.codec_meta != 0 {
            return Err(Error::param(
                "codec_meta",
                format!(
                    "{}: codec_meta sets a codebook's weight bits; without a codebook leave it at 0",
                    call.codec_meta
                ),
            ));
        }
        let layout = layout()?;
        return match engine::encode_block(call.input, layout.dtype, &layout.shape, bound, output)? {
            Some((n, _)) if n < call.input.len() => Ok(n),
            _ => Ok(0),
        };
    }
    let codebook = call.codebook.ok_or(Error::MissingCodebook)?;
    let cb = cache::prepared(codebook)?;
    let layout = resolve_layout(&HostLayout {
        typesize: call.typesize,
        blocksize: Some(call.blocksize),
        b2nd: call.b2nd,
        schunk_blockshape: call.schunk_blockshape.clone(),
    })?;
    let bits = match call.codec_meta {
        0 => None,
        b @ 1..=8 => Some(b),
        other => {
            return Err(Error::param(
                "codec_meta",
                format!("{other}: 0 uses the codebook's weight bits, 1..=8 overrides them"),
            ))
        }
    };
    match encode_block(&cb, &layout, call.input, bits, call.max_error, output)? {
        Encoded::Packed(n) if n < call.input.len() => Ok(n),
        // Not smaller than the input, too big for the buffer, or not representable:
        // c-blosc2 stores the block as it is, losing nothing.
        Encoded::Packed(_) | Encoded::DoesNotFit | Encoded::NonFinite => Ok(0),
    }
}

/// Runs the decoder: fills `output` (exactly one block) and returns its length.
pub fn decode(call: &DecodeCall<'_>, output: &mut [u8]) -> Result<usize> {
    if engine::is_predictive_block(call.input) {
        return engine::decode_block(call.input, call.typesize, output);
    }
    let codebook = call.codebook.ok_or(Error::MissingCodebook)?;
    let cb = cache::prepared_for_block(codebook, call.input)?;
    decode_block(&cb, call.input, call.typesize, output)
}

fn filter_name(code: u8) -> &'static str {
    match code {
        1 => "SHUFFLE",
        2 => "BITSHUFFLE",
        3 => "DELTA",
        32 => "NDCELL",
        33 => "NDMEAN",
        34 | 35 => "BYTEDELTA",
        36 => "INT_TRUNC",
        _ => "a user filter",
    }
}
