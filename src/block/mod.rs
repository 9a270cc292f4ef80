//! One Blosc2 block in, one packed block out (and back): tile → standardize → weights →
//! quantize → LZ4, behind a [`BlockHeader`].
#![forbid(unsafe_code)]

pub mod header;

pub use header::{payload_checksum, BlockHeader, BLOCK_FORMAT_VERSION};

use crate::codebook::{ModelKind, PreparedCodebook};
use crate::error::{Error, Result};
use crate::tiles::{check_tile_fits, BlockLayout, Dtype, TileGrid};
use crate::weights::quantize;

/// Largest number of quantized weights one block may hold (guards allocations on decode).
const MAX_WEIGHTS_PER_BLOCK: usize = 1 << 31;

/// Bytes per codeword index for a k-means codebook of `k` codewords.
fn index_width(k: usize) -> usize {
    if k <= 256 {
        1
    } else {
        2
    }
}

/// Per-thread working buffers, reused from block to block: c-blosc2 calls the codec once per
/// block from a few long-lived threads, and fresh zeroed buffers cost as much as LZ4.
#[derive(Default)]
struct Scratch {
    values: Vec<f32>,
    tiles: Vec<f32>,
    weights: Vec<f32>,
    levels: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if they are in use, which only a
/// re-entrant call could cause).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// `buf` resized to `len` (contents unspecified: every caller overwrites all of it).
fn sized<T: Copy + Default>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    buf.resize(len, T::default());
    &mut buf[..len]
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
/// the codebook's bit depth when given.
pub fn encode_block(
    cb: &PreparedCodebook,
    layout: &BlockLayout,
    input: &[u8],
    weight_bits: Option<u8>,
    output: &mut [u8],
) -> Result<Encoded> {
    let dtype = layout.dtype;
    let bits = weight_bits.unwrap_or(cb.codebook.weight_bits);
    if !(1..=8).contains(&bits) {
        return Err(Error::param("weight_bits", format!("{bits} outside 1..=8")));
    }
    if input.len() % dtype.size() != 0 {
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
    check_tile_fits(&layout.shape, &cb.tile_shape)?;
    let shape = if n == full {
        layout.shape.clone()
    } else {
        layout.partial_shape(n)
    };
    let grid = TileGrid::new(&shape, &cb.tile_shape)?;
    with_scratch(|scratch| encode_tiles(cb, &grid, dtype, n, input, bits, shape, output, scratch))
}

#[allow(clippy::too_many_arguments)]
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
    let last = values[n - 1];
    values[n..].fill(last);

    let (p, k) = (cb.n_features, cb.n_prototypes);
    let n_tiles = grid.n_tiles();
    let tiles = sized(&mut scratch.tiles, n_tiles * p);
    grid.extract(values, tiles);
    cb.standardize(tiles);
    let (levels, bits) = if matches!(cb.codebook.model, ModelKind::KMeans) {
        // Hard VQ: one codeword index per tile, little-endian, 1 byte up to 256 codewords
        // (the index width, not weight bits, is what the header's bits field means here).
        let width = index_width(k);
        let mut idx = vec![0u16; n_tiles];
        let mut dots = vec![0f32; k];
        cb.kernel.nearest(tiles, p, &mut idx, &mut dots);
        let levels = sized(&mut scratch.levels, n_tiles * width);
        for (chunk, &i) in levels.chunks_exact_mut(width).zip(&idx) {
            chunk.copy_from_slice(&i.to_le_bytes()[..width]);
        }
        (&*levels, 8)
    } else {
        let weights = sized(&mut scratch.weights, n_tiles * k);
        cb.kernel.compute(tiles, p, weights);
        // Prototype-major order: runs of one prototype's weights compress better.
        let levels = sized(&mut scratch.levels, n_tiles * k);
        let mut row = vec![0u8; k];
        for (t, w) in weights.chunks_exact(k).enumerate() {
            quantize::quantize(w, bits, &mut row);
            for (j, &q) in row.iter().enumerate() {
                levels[j * n_tiles + t] = q;
            }
        }
        (&*levels, bits)
    };

    // The payload goes after the header, whose length depends only on ndim.
    let hlen = BlockHeader::len_for(shape.len());
    let Some(payload_room) = output.get_mut(hlen..) else {
        return Ok(Encoded::DoesNotFit);
    };
    let Ok(payload_len) = lz4_flex::block::compress_into(levels, payload_room) else {
        return Ok(Encoded::DoesNotFit);
    };
    let header = BlockHeader {
        version: BLOCK_FORMAT_VERSION,
        model: cb.codebook.model.code(),
        weight_bits: bits,
        dtype,
        fingerprint32: cb.fingerprint32,
        checksum: payload_checksum(&output[hlen..hlen + payload_len]),
        shape,
    };
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
    if header.fingerprint32 != cb.fingerprint32 || header.model != cb.codebook.model.code() {
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
    if output.len() % dtype.size() != 0 {
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
    let grid = TileGrid::new(shape, &cb.tile_shape)?;
    let k = cb.n_prototypes;
    let n_tiles = grid.n_tiles();
    // LZ4 expands at most about 255:1, so a block cannot honestly hold more weights than that:
    // checking it before allocating keeps a forged shape from claiming gigabytes.
    let per_tile = if matches!(cb.codebook.model, ModelKind::KMeans) {
        index_width(k)
    } else {
        k
    };
    let n_levels = n_tiles
        .checked_mul(per_tile)
        .filter(|&l| {
            l <= MAX_WEIGHTS_PER_BLOCK && l <= payload.len().saturating_mul(255).saturating_add(16)
        })
        .ok_or_else(|| {
            Error::CorruptBlock(format!(
                "shape {shape:?} needs more weights than a {}-byte payload can hold",
                payload.len()
            ))
        })?;
    with_scratch(|scratch| decode_tiles(cb, &grid, &header, payload, n_levels, n, output, scratch))
}

#[allow(clippy::too_many_arguments)]
fn decode_tiles(
    cb: &PreparedCodebook,
    grid: &TileGrid,
    header: &BlockHeader,
    payload: &[u8],
    n_levels: usize,
    n: usize,
    output: &mut [u8],
    scratch: &mut Scratch,
) -> Result<usize> {
    let (p, n_tiles) = (cb.n_features, grid.n_tiles());
    let levels = sized(&mut scratch.levels, n_levels);
    let got = lz4_flex::block::decompress_into(payload, levels)
        .map_err(|e| Error::CorruptBlock(format!("weights do not decompress: {e}")))?;
    if got != n_levels {
        return Err(Error::TruncatedBlock(format!(
            "{got} weights decompressed, {n_levels} expected"
        )));
    }

    if matches!(cb.codebook.model, ModelKind::KMeans) {
        let (k, width) = (cb.n_prototypes, index_width(cb.n_prototypes));
        let tiles = sized(&mut scratch.tiles, n_tiles * p);
        for (tile, chunk) in tiles.chunks_exact_mut(p).zip(levels.chunks_exact(width)) {
            let mut b = [0u8; 2];
            b[..width].copy_from_slice(chunk);
            let j = u16::from_le_bytes(b) as usize;
            if j >= k {
                return Err(Error::CorruptBlock(format!("codeword index {j} of {k}")));
            }
            tile.copy_from_slice(&cb.codeword_tiles[j * p..(j + 1) * p]);
        }
        let values = sized(&mut scratch.values, grid.n_values());
        grid.assemble(tiles, values);
        header.dtype.write_f32(&values[..n], output);
        return Ok(output.len());
    }
    // Weights stay prototype-major, as stored.
    let weights = sized(&mut scratch.weights, n_levels);
    quantize::dequantize(levels, header.weight_bits, weights);
    let tiles = sized(&mut scratch.tiles, n_tiles * p);
    cb.reconstruct(weights, n_tiles, tiles);
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
    }

    /// Found by the decode_block fuzzer: a header claiming a (1, 2^31 - 1) shape made the
    /// decoder allocate gigabytes before LZ4 could fail.
    #[test]
    fn forged_huge_shape_is_refused_before_allocating() {
        let cb = tiny_codebook();
        let payload = [0u8; 8];
        let header = BlockHeader {
            version: BLOCK_FORMAT_VERSION,
            model: cb.codebook.model.code(),
            weight_bits: 8,
            dtype: Dtype::Uint8,
            fingerprint32: cb.fingerprint32,
            checksum: payload_checksum(&payload),
            shape: vec![1, i32::MAX as usize],
        };
        let mut block = vec![0u8; BlockHeader::len_for(2)];
        header.write(&mut block).unwrap();
        block.extend_from_slice(&payload);
        let mut out = [0u8; 100];
        let err = decode_block(&cb, &block, Some(1), &mut out).unwrap_err();
        assert!(matches!(err, Error::CorruptBlock(_)), "{err}");
    }

    #[test]
    fn a_codeword_index_out_of_range_is_an_error() {
        let mut cb = tiny_codebook().codebook;
        cb.model = ModelKind::KMeans;
        let cb = PreparedCodebook::new(
            Codebook::new(
                cb.model,
                cb.training,
                cb.tile_shape,
                cb.scaler,
                cb.prototypes,
                8,
            )
            .unwrap(),
        );
        // Two codewords; a 2×2 block is one tile, whose index byte says 7.
        let payload = lz4_flex::block::compress(&[7u8]);
        let header = BlockHeader {
            version: BLOCK_FORMAT_VERSION,
            model: 3,
            weight_bits: 8,
            dtype: Dtype::Float32,
            fingerprint32: cb.fingerprint32,
            checksum: payload_checksum(&payload),
            shape: vec![2, 2],
        };
        let mut block = vec![0u8; BlockHeader::len_for(2)];
        header.write(&mut block).unwrap();
        block.extend_from_slice(&payload);
        let mut out = [0u8; 16];
        let err = decode_block(&cb, &block, Some(4), &mut out).unwrap_err();
        assert!(err.to_string().contains("codeword index 7"), "{err}");
    }

    #[test]
    fn decoding_never_writes_past_the_output() {
        let cb = tiny_codebook();
        let layout = BlockLayout {
            shape: vec![6, 6],
            dtype: Dtype::Float32,
        };
        let values: Vec<u8> = (0..36)
            .flat_map(|i| (i as f32 / 36.0).to_ne_bytes())
            .collect();
        let mut packed = vec![0u8; 1024];
        let Encoded::Packed(n) = encode_block(&cb, &layout, &values, None, &mut packed).unwrap()
        else {
            panic!("expected a packed block")
        };
        let mut guarded = vec![0xAAu8; values.len() + 64];
        let (out, tail) = guarded.split_at_mut(values.len());
        decode_block(&cb, &packed[..n], Some(4), out).unwrap();
        assert!(tail.iter().all(|&b| b == 0xAA));
    }
}
