//! One Blosc2 block in, one packed block out (and back): transform → tile → standardize →
//! codes (each kind's coder in [`kinds`](crate::kinds)) → LZ4, behind a [`BlockHeader`].
#![forbid(unsafe_code)]

pub mod bitpack;
mod bounded;
pub mod header;

pub use header::{
    payload_checksum, BlockHeader, BLOCK_FORMAT_VERSION, BOUNDED_BLOCK_FORMAT_VERSION,
    FLAG_RAW_PAYLOAD,
};

use crate::codebook::PreparedCodebook;
use crate::error::{Error, Result};
use crate::kinds::{sized, CodeScratch};
use crate::tiles::{check_tile_fits, BlockLayout, Dtype, TileGrid};

/// Largest number of codes one block may hold (guards allocations on decode).
const MAX_WEIGHTS_PER_BLOCK: usize = 1 << 31;

/// Per-thread working buffers, reused from block to block: c-blosc2 calls the codec once per
/// block from a few long-lived threads, and fresh zeroed buffers cost as much as LZ4.
#[derive(Default)]
struct Scratch {
    values: Vec<f32>,
    tiles: Vec<f32>,
    levels: Vec<u8>,
    packed: Vec<u8>,
    codes: CodeScratch,
    // Error-bounded blocks (`bounded`).
    exact: Vec<f64>,
    exact_tiles: Vec<f64>,
    tile_codes: Vec<crate::kinds::residual::TileCode>,
    modes: Vec<u32>,
    tile_map: bounded::TileMap,
    corrections: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are in use, which only a
/// re-entrant call could cause).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    crate::scratch::with(&SCRATCH, f)
}

/// What [`encode_block`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// The block was packed into this many bytes.
    Packed(usize),
    /// The packed block would not fit in the output buffer; store the block raw.
    DoesNotFit,
    /// The block holds NaN or infinity, which prototypes cannot represent; store it raw so
    /// nothing is lost.
    NonFinite,
}

/// Encodes one block.
///
/// `layout` is the full block's shape and dtype; `input` may be shorter (c-blosc2's last
/// block of a chunk), in which case the leading dimension shrinks. `weight_bits` overrides
/// the codebook's bit depth when given (weight codebooks only). `max_error` overrides the
/// codebook's error bound when given (residual codebooks only); with a bound from either,
/// the block is error-bounded (format 3, see `block::bounded`).
pub fn encode_block(
    cb: &PreparedCodebook,
    layout: &BlockLayout,
    input: &[u8],
    weight_bits: Option<u8>,
    max_error: Option<f64>,
    output: &mut [u8],
) -> Result<Encoded> {
    let dtype = layout.dtype;
    let kind = cb.codebook.kind();
    if let Some(e) = max_error {
        crate::codebook::check_max_error(e)?;
    }
    let max_error = max_error.or(cb.codebook.max_error());
    if max_error.is_some() && cb.coder.adaptive().is_none() {
        return Err(Error::param(
            "max_error",
            format!(
                "error-bounded coding needs a residual codebook, not a {} one",
                kind.name()
            ),
        ));
    }
    if weight_bits.is_some() && !kind.has_weights() {
        return Err(Error::param(
            "codec_meta",
            format!(
                "sets the weight bits, but a {} codebook has no weights (leave codec_meta at 0)",
                kind.name()
            ),
        ));
    }
    let bits = weight_bits.unwrap_or(cb.codebook.weight_bits());
    crate::kinds::weight_codes::check_weight_bits("weight_bits", bits)?;
    let bits = cb.coder.header_bits(bits);
    if !input.len().is_multiple_of(dtype.size()) {
        return Err(Error::InvalidGeometry(format!(
            "{} bytes is not a whole number of {}-byte items",
            input.len(),
            dtype.size()
        )));
    }
    let n = input.len() / dtype.size();
    let full = layout.n_values();
    if n == 0 || n > full {
        return Err(Error::InvalidGeometry(format!(
            "{n} items handed over for a block of {full} ({:?})",
            layout.shape
        )));
    }
    check_tile_fits(&layout.shape, cb.tile_shape())?;
    let shape = if n == full {
        layout.shape.clone()
    } else {
        layout.partial_shape(n)
    };
    let grid = TileGrid::new(&shape, cb.tile_shape())?;
    if let (Some(e), Some(stages)) = (max_error, cb.coder.adaptive()) {
        return with_scratch(|scratch| {
            let mut payload = std::mem::take(&mut scratch.packed);
            let done =
                bounded::encode(cb, stages, &grid, dtype, n, input, e, scratch, &mut payload);
            let result = done.map(|encoded| match encoded {
                Encoded::Packed(len) => {
                    let header = BlockHeader {
                        version: BOUNDED_BLOCK_FORMAT_VERSION,
                        model: kind.code(),
                        weight_bits: bits,
                        dtype,
                        fingerprint32: cb.fingerprint32,
                        checksum: payload_checksum(&payload[..len]),
                        flags: 0,
                        shape,
                        max_error: Some(e),
                    };
                    let hlen = header.encoded_len();
                    match output.get_mut(hlen..hlen + len) {
                        Some(room) => {
                            room.copy_from_slice(&payload[..len]);
                            header.write(output).expect("room was checked above");
                            Encoded::Packed(hlen + len)
                        }
                        None => Encoded::DoesNotFit,
                    }
                }
                other => other,
            });
            scratch.packed = payload;
            result
        });
    }
    with_scratch(|scratch| encode_tiles(cb, &grid, dtype, n, input, bits, shape, output, scratch))
}

fn encode_tiles(
    cb: &PreparedCodebook,
    grid: &TileGrid,
    dtype: Dtype,
    n: usize,
    input: &[u8],
    bits: u8,
    shape: Vec<usize>,
    output: &mut [u8],
    scratch: &mut Scratch,
) -> Result<Encoded> {
    let values = sized(&mut scratch.values, grid.n_values());
    dtype.read_f32(input, &mut values[..n]);
    if values[..n].iter().any(|v| !v.is_finite()) {
        return Ok(Encoded::NonFinite);
    }
    cb.codebook.transform().forward(&mut values[..n]);
    let last = values[n - 1];
    values[n..].fill(last);

    let p = cb.basis.p;
    let packed = &mut scratch.packed;
    packed.clear();
    if cb.coder.codes_single_values() {
        // One-value tiles with an identity scaler: the values are the tiles, in order.
        debug_assert_eq!(grid.n_tiles(), values.len());
        cb.coder
            .encode(&cb.basis, values, bits, &mut scratch.codes, packed);
    } else {
        let tiles = sized(&mut scratch.tiles, grid.n_tiles() * p);
        grid.extract(values, tiles);
        cb.basis.standardize(tiles);
        cb.coder
            .encode(&cb.basis, tiles, bits, &mut scratch.codes, packed);
    }

    let mut header = BlockHeader {
        version: BLOCK_FORMAT_VERSION,
        model: cb.codebook.kind().code(),
        weight_bits: bits,
        dtype,
        fingerprint32: cb.fingerprint32,
        checksum: 0,
        flags: 0,
        shape,
        max_error: None,
    };
    // The payload goes after the header, whose length depends only on the shape.
    let hlen = header.encoded_len();
    let Some(payload_room) = output.get_mut(hlen..) else {
        return Ok(Encoded::DoesNotFit);
    };
    // LZ4 when it helps; codes that look random (residual stages) are kept as they are.
    let payload_len = match lz4_flex::block::compress_into(packed, payload_room) {
        Ok(len) if len < packed.len() => len,
        _ if packed.len() <= payload_room.len() => {
            payload_room[..packed.len()].copy_from_slice(packed);
            header.flags |= FLAG_RAW_PAYLOAD;
            packed.len()
        }
        _ => return Ok(Encoded::DoesNotFit),
    };
    header.checksum = payload_checksum(&output[hlen..hlen + payload_len]);
    header.write(output).expect("room was checked above");
    Ok(Encoded::Packed(hlen + payload_len))
}

/// Decodes one block into `output`, which must be exactly the block's size in bytes.
///
/// `host_typesize`, when known, must match the dtype recorded in the block.
pub fn decode_block(
    cb: &PreparedCodebook,
    input: &[u8],
    host_typesize: Option<usize>,
    output: &mut [u8],
) -> Result<usize> {
    let (header, hlen) = BlockHeader::read(input)?;
    if header.fingerprint32 != cb.fingerprint32 || header.model != cb.codebook.kind().code() {
        return Err(Error::CorruptBlock(format!(
            "the block was encoded with another codebook (fingerprint {:#010x}, this codebook's is {:#010x})",
            header.fingerprint32, cb.fingerprint32
        )));
    }
    let payload = &input[hlen..];
    if payload_checksum(payload) != header.checksum {
        return Err(Error::CorruptBlock(
            "payload checksum mismatch: the block is corrupt or truncated".into(),
        ));
    }
    let dtype: Dtype = header.dtype;
    if let Some(ts) = host_typesize {
        if ts != dtype.size() {
            return Err(Error::CorruptBlock(format!(
                "block holds {}-byte {:?} items but the SChunk's typesize is {ts}",
                dtype.size(),
                dtype
            )));
        }
    }
    if !output.len().is_multiple_of(dtype.size()) {
        return Err(Error::InvalidGeometry(format!(
            "output of {} bytes is not a whole number of {}-byte items",
            output.len(),
            dtype.size()
        )));
    }
    let n = output.len() / dtype.size();
    let shape = &header.shape;
    let total = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&t| t <= i32::MAX as usize)
        .ok_or_else(|| Error::CorruptBlock(format!("shape {shape:?} overflows")))?;
    let row = total / shape[0];
    // The coded shape holds exactly the rows needed for `n` items.
    if n == 0 || n > total || n <= total - row {
        return Err(Error::CorruptBlock(format!(
            "block shape {shape:?} does not match an output of {n} items"
        )));
    }
    let grid = TileGrid::new(shape, cb.tile_shape())?;
    let n_tiles = grid.n_tiles();
    let too_big = || {
        Error::CorruptBlock(format!(
            "shape {shape:?} needs more codes than a {}-byte payload can hold",
            payload.len()
        ))
    };
    // LZ4 expands at most about 255:1, so a block cannot honestly hold more codes than that:
    // checking it before allocating keeps a forged shape from claiming gigabytes.
    let fits = |len: usize, raw: bool| {
        len <= MAX_WEIGHTS_PER_BLOCK
            && if raw {
                len == payload.len()
            } else {
                len <= payload.len().saturating_mul(255).saturating_add(16)
            }
    };
    if header.version == 1 {
        let n_levels = cb
            .coder
            .v1_bytes_per_tile()
            .and_then(|per_tile| n_tiles.checked_mul(per_tile))
            .ok_or_else(|| {
                Error::CorruptBlock("a format-1 block for a kind format 1 did not have".into())
            })?;
        if !fits(n_levels, false) {
            return Err(too_big());
        }
        return with_scratch(|scratch| {
            decode_tiles_v1(cb, &grid, &header, payload, n_levels, n, output, scratch)
        });
    }
    cb.coder.check_header_bits(header.weight_bits)?;
    if let Some(e) = header.max_error {
        let stages = cb.coder.adaptive().ok_or_else(|| {
            Error::CorruptBlock(format!(
                "an error-bounded block for a {} codebook",
                cb.codebook.kind().name()
            ))
        })?;
        return with_scratch(|scratch| {
            bounded::decode(cb, stages, &grid, dtype, e, payload, n, output, scratch)
        })
        .map(|()| output.len());
    }
    let raw = header.flags & FLAG_RAW_PAYLOAD != 0;
    let packed_len = cb
        .coder
        .packed_size(n_tiles, header.weight_bits)
        .filter(|&l| fits(l, raw))
        .ok_or_else(too_big)?;
    with_scratch(|scratch| {
        let packed = if raw {
            payload
        } else {
            let packed = sized(&mut scratch.packed, packed_len);
            let got = lz4_flex::block::decompress_into(payload, packed)
                .map_err(|e| Error::CorruptBlock(format!("codes do not decompress: {e}")))?;
            if got != packed_len {
                return Err(Error::TruncatedBlock(format!(
                    "{got} bytes of codes decompressed, {packed_len} expected"
                )));
            }
            &scratch.packed[..packed_len]
        };
        let p = cb.basis.p;
        let values = sized(&mut scratch.values, grid.n_values());
        let bits = header.weight_bits;
        if cb.coder.codes_single_values() {
            cb.coder
                .decode(&cb.basis, packed, bits, &mut scratch.codes, values)?;
        } else {
            let tiles = sized(&mut scratch.tiles, n_tiles * p);
            cb.coder
                .decode(&cb.basis, packed, bits, &mut scratch.codes, tiles)?;
            grid.assemble(tiles, values);
        }
        cb.codebook.transform().inverse(&mut values[..n]);
        dtype.write_f32(&values[..n], output);
        Ok(output.len())
    })
}

/// Format 1: one byte per weight (or 1–2 bytes per k-means index), always LZ4, no
/// transform.
fn decode_tiles_v1(
    cb: &PreparedCodebook,
    grid: &TileGrid,
    header: &BlockHeader,
    payload: &[u8],
    n_levels: usize,
    n: usize,
    output: &mut [u8],
    scratch: &mut Scratch,
) -> Result<usize> {
    let levels = sized(&mut scratch.levels, n_levels);
    let got = lz4_flex::block::decompress_into(payload, levels)
        .map_err(|e| Error::CorruptBlock(format!("weights do not decompress: {e}")))?;
    if got != n_levels {
        return Err(Error::TruncatedBlock(format!(
            "{got} weights decompressed, {n_levels} expected"
        )));
    }
    let tiles = sized(&mut scratch.tiles, grid.n_tiles() * cb.basis.p);
    cb.coder.decode_v1(
        &cb.basis,
        levels,
        header.weight_bits,
        &mut scratch.codes,
        tiles,
    )?;
    let values = sized(&mut scratch.values, grid.n_values());
    grid.assemble(tiles, values);
    header.dtype.write_f32(&values[..n], output);
    Ok(output.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codebook::{Codebook, ModelKind, Scaler, TrainingInfo};
    use crate::weights::Metric;

    fn tiny_codebook() -> PreparedCodebook {
        PreparedCodebook::new(
            Codebook::new(
                ModelKind::FuzzyCMeans {
                    fuzzifier: 2.0,
                    metric: Metric::Euclidean,
                },
                TrainingInfo::default(),
                vec![2, 2],
                Scaler {
                    mean: vec![0.0; 4],
                    scale: vec![1.0; 4],
                },
                vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
                8,
            )
            .unwrap(),
        )
        .unwrap()
    }

    /// Found by the decode_block fuzzer: a header claiming a (1, 2^31 - 1) shape made the
    /// decoder allocate gigabytes before LZ4 could fail.
    #[test]
    fn forged_huge_shape_is_refused_before_allocating() {
        let cb = tiny_codebook();
        let payload = [0u8; 8];
        for version in [1, 2] {
            let header = BlockHeader {
                version,
                model: cb.codebook.kind().code(),
                weight_bits: 8,
                dtype: Dtype::Uint8,
                fingerprint32: cb.fingerprint32,
                checksum: payload_checksum(&payload),
                flags: 0,
                shape: vec![1, i32::MAX as usize],
                max_error: None,
            };
            let mut block = vec![0u8; header.encoded_len()];
            header.write(&mut block).unwrap();
            block.extend_from_slice(&payload);
            let mut out = [0u8; 100];
            let err = decode_block(&cb, &block, Some(1), &mut out).unwrap_err();
            assert!(matches!(err, Error::CorruptBlock(_)), "{err}");
        }
    }

    fn kmeans_codebook(prototypes: Vec<f64>) -> PreparedCodebook {
        PreparedCodebook::new(
            Codebook::new(
                ModelKind::KMeans,
                TrainingInfo::default(),
                vec![2, 2],
                Scaler {
                    mean: vec![0.0; 4],
                    scale: vec![1.0; 4],
                },
                prototypes,
                8,
            )
            .unwrap(),
        )
        .unwrap()
    }

    fn block_with(
        version: u8,
        bits: u8,
        cb: &PreparedCodebook,
        payload: &[u8],
        flags: u8,
    ) -> Vec<u8> {
        let header = BlockHeader {
            version,
            model: 3,
            weight_bits: bits,
            dtype: Dtype::Float32,
            fingerprint32: cb.fingerprint32,
            checksum: payload_checksum(payload),
            flags,
            shape: vec![2, 2],
            max_error: None,
        };
        let mut block = vec![0u8; header.encoded_len()];
        header.write(&mut block).unwrap();
        block.extend_from_slice(payload);
        block
    }

    #[test]
    fn a_codeword_index_out_of_range_is_an_error() {
        // Format 1, two codewords; a 2×2 block is one tile, whose index byte says 7.
        let cb = kmeans_codebook(vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        let block = block_with(1, 8, &cb, &lz4_flex::block::compress(&[7u8]), 0);
        let mut out = [0u8; 16];
        let err = decode_block(&cb, &block, Some(4), &mut out).unwrap_err();
        assert!(err.to_string().contains("codeword index 7"), "{err}");
        // Format 2, three codewords in 2-bit indexes: index 3 does not exist.
        let cb = kmeans_codebook((0..12).map(f64::from).collect());
        let block = block_with(2, 2, &cb, &[3u8], FLAG_RAW_PAYLOAD);
        let err = decode_block(&cb, &block, Some(4), &mut out).unwrap_err();
        assert!(err.to_string().contains("codeword index 3 of 3"), "{err}");
        // The bits field must be the codebook's index width.
        let block = block_with(2, 8, &cb, &[1u8], FLAG_RAW_PAYLOAD);
        let err = decode_block(&cb, &block, Some(4), &mut out).unwrap_err();
        assert!(err.to_string().contains("bits per code"), "{err}");
    }
    // That the decoder never writes past the block is tested through the C entry point,
    // where a write past `output_len` could happen: tests/properties.rs.
}
