//! Where a block's shape and dtype come from, treated as untrusted input.
//!
//! In order of preference: the `b2nd` metalayer (blockshape and dtype), the SChunk's own
//! `ndim`/`blockshape` fields (hosts such as HDF5 set those without a b2nd layer), else a
//! square 2-D block as the reference notebook assumed. Every size is checked: dimensions
//! positive, products without overflow, and the block must be exactly the bytes c-blosc2
//! hands over.

use super::dtype::Dtype;
use crate::error::{Error, Result};

/// Largest number of dimensions accepted (b2nd's own limit is 8).
pub const MAX_DIMS: usize = 8;

/// The parts of a `b2nd` metalayer the codec uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2ndMeta {
    /// Metalayer format version.
    pub version: u8,
    /// The array's shape.
    pub shape: Vec<i64>,
    /// The chunk shape.
    pub chunkshape: Vec<i32>,
    /// The block shape.
    pub blockshape: Vec<i32>,
    /// The NumPy dtype string, when the metalayer carries one (version ≥ 1, format 0).
    pub dtype: Option<String>,
}

/// Fields of a `b2nd` metalayer that must be there (up to the blockshape).
const MIN_B2ND_FIELDS: u32 = 5;
/// Most fields of a `b2nd` metalayer accepted.
const MAX_B2ND_FIELDS: u32 = 16;

fn bad(what: impl std::fmt::Display) -> Error {
    Error::InvalidGeometry(format!("corrupt b2nd metalayer: {what}"))
}

/// Parses the MessagePack `b2nd` metalayer (c-blosc2's README_B2ND_METALAYER):
/// `[version, ndim, shape, chunkshape, blockshape, dtype_format, dtype]`.
pub fn parse_b2nd_meta(bytes: &[u8]) -> Result<B2ndMeta> {
    use rmp::decode;
    let mut rd = bytes;
    let n = decode::read_array_len(&mut rd).map_err(bad)?;
    // Five fields up to the blockshape are needed; c-blosc2 writes seven, and later
    // versions may append more, which are ignored (up to a sane bound).
    if !(MIN_B2ND_FIELDS..=MAX_B2ND_FIELDS).contains(&n) {
        return Err(bad(format!(
            "{n} fields, expected {MIN_B2ND_FIELDS} to {MAX_B2ND_FIELDS}"
        )));
    }
    let version: u8 = decode::read_int(&mut rd).map_err(bad)?;
    let ndim: usize = decode::read_int(&mut rd).map_err(bad)?;
    if ndim == 0 || ndim > MAX_DIMS {
        return Err(bad(format!("ndim {ndim} outside 1..={MAX_DIMS}")));
    }
    let mut read_dims = |what: &str| -> Result<Vec<i64>> {
        let len = decode::read_array_len(&mut rd).map_err(bad)? as usize;
        if len != ndim {
            return Err(bad(format!("{what} has {len} dimensions, ndim is {ndim}")));
        }
        (0..len)
            .map(|_| decode::read_int::<i64, _>(&mut rd).map_err(bad))
            .collect()
    };
    let shape = read_dims("shape")?;
    let to_i32 = |v: Vec<i64>, what: &str| -> Result<Vec<i32>> {
        v.into_iter()
            .map(|d| i32::try_from(d).map_err(|_| bad(format!("{what} dimension {d}"))))
            .collect()
    };
    let chunkshape = to_i32(read_dims("chunkshape")?, "chunkshape")?;
    let blockshape = to_i32(read_dims("blockshape")?, "blockshape")?;
    let mut dtype = None;
    if n >= 7 {
        let format: u8 = decode::read_int(&mut rd).map_err(bad)?;
        let len = decode::read_str_len(&mut rd).map_err(bad)? as usize;
        if len > rd.len() || len > 1024 {
            return Err(bad("dtype string longer than the metalayer"));
        }
        let s = std::str::from_utf8(&rd[..len]).map_err(|_| bad("dtype is not UTF-8"))?;
        if format == 0 {
            dtype = Some(s.to_owned());
        } else {
            return Err(Error::UnsupportedDtype(format!(
                "b2nd dtype format {format} (`{s}`); only NumPy dtype strings (format 0) are read"
            )));
        }
    }
    Ok(B2ndMeta {
        version,
        shape,
        chunkshape,
        blockshape,
        dtype,
    })
}

/// What the host (c-blosc2) tells the codec about the data, as plain values.
#[derive(Debug, Clone, Default)]
pub struct HostLayout<'a> {
    /// The SChunk's or context's typesize in bytes.
    pub typesize: usize,
    /// Bytes in a full block, when known (the encoder always knows it).
    pub blocksize: Option<usize>,
    /// The raw `b2nd` metalayer, if the SChunk has one.
    pub b2nd: Option<&'a [u8]>,
    /// The SChunk's `blockshape` field, when it has `ndim > 0`.
    pub schunk_blockshape: Option<Vec<i64>>,
}

/// A full block's shape (leading 1-sized dimensions squeezed away) and dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLayout {
    /// The block's shape, C order, at least one dimension.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: Dtype,
}

impl BlockLayout {
    /// Elements in a full block.
    pub fn n_values(&self) -> usize {
        self.shape.iter().product()
    }

    /// The shape of a block holding only the first `n_values` elements (c-blosc2's short
    /// last block): the leading dimension shrinks to the rows needed, the last row is padded.
    pub fn partial_shape(&self, n_values: usize) -> Vec<usize> {
        let row: usize = self.shape[1..].iter().product();
        let mut shape = self.shape.clone();
        shape[0] = n_values.div_ceil(row.max(1)).max(1);
        shape
    }
}

/// Works out the full block layout from what the host provides (see the module docs).
pub fn resolve_layout(host: &HostLayout<'_>) -> Result<BlockLayout> {
    let typesize = host.typesize;
    if typesize == 0 {
        return Err(Error::UnsupportedDtype("typesize 0".into()));
    }
    if let Some(raw) = host.b2nd {
        let meta = parse_b2nd_meta(raw)?;
        let dtype = match &meta.dtype {
            Some(s) => Dtype::from_numpy_str(s)?,
            None => Dtype::from_typesize(typesize)?,
        };
        if dtype.size() != typesize {
            return Err(Error::UnsupportedDtype(format!(
                "b2nd dtype {:?} has {} bytes but the SChunk's typesize is {typesize}",
                dtype,
                dtype.size()
            )));
        }
        let dims: Vec<i64> = meta.blockshape.iter().map(|&d| i64::from(d)).collect();
        return checked_layout(&dims, dtype, host.blocksize, "b2nd blockshape");
    }
    let dtype = Dtype::from_typesize(typesize)?;
    if let Some(dims) = &host.schunk_blockshape {
        return checked_layout(dims, dtype, host.blocksize, "SChunk blockshape");
    }
    let Some(blocksize) = host.blocksize else {
        return Err(Error::InvalidGeometry(
            "no b2nd metalayer, no SChunk blockshape and no blocksize: cannot tell the block's shape"
                .into(),
        ));
    };
    let n = blocksize / typesize;
    let side = n.isqrt();
    if blocksize % typesize != 0 || side * side != n || n == 0 {
        return Err(Error::InvalidGeometry(format!(
            "no b2nd metalayer and no SChunk blockshape, and a {blocksize}-byte block of \
             {typesize}-byte items is not a square image: create a b2nd array (or set the \
             blockshape) so the codec knows the block's shape"
        )));
    }
    Ok(BlockLayout {
        shape: vec![side, side],
        dtype,
    })
}

fn checked_layout(
    dims: &[i64],
    dtype: Dtype,
    blocksize: Option<usize>,
    what: &str,
) -> Result<BlockLayout> {
    if dims.is_empty() || dims.len() > MAX_DIMS {
        return Err(Error::InvalidGeometry(format!(
            "{what} has {} dimensions",
            dims.len()
        )));
    }
    let mut shape = Vec::with_capacity(dims.len());
    for &d in dims {
        if d <= 0 || d > i64::from(i32::MAX) {
            return Err(Error::InvalidGeometry(format!(
                "{what} {dims:?}: dimension {d}"
            )));
        }
        shape.push(d as usize);
    }
    let bytes = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .filter(|&b| b <= i32::MAX as usize)
        .ok_or_else(|| Error::InvalidGeometry(format!("{what} {dims:?} overflows")))?;
    if let Some(bs) = blocksize {
        if bs != bytes {
            return Err(Error::InvalidGeometry(format!(
                "{what} {dims:?} of {}-byte items is {bytes} bytes, but the blocks are {bs} bytes",
                dtype.size()
            )));
        }
    }
    // Leading 1-sized dimensions carry no structure: (1, 64, 64) is a 64x64 image.
    let first = shape
        .iter()
        .position(|&d| d != 1)
        .unwrap_or(shape.len() - 1);
    shape.drain(..first);
    Ok(BlockLayout { shape, dtype })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b2nd_bytes(block: &[i32], dtype: &str) -> Vec<u8> {
        let mut v = Vec::new();
        rmp::encode::write_array_len(&mut v, 7).unwrap();
        rmp::encode::write_uint(&mut v, 0).unwrap();
        rmp::encode::write_uint(&mut v, block.len() as u64).unwrap();
        for _ in 0..2 {
            rmp::encode::write_array_len(&mut v, block.len() as u32).unwrap();
            for &d in block {
                rmp::encode::write_i64(&mut v, i64::from(d)).unwrap();
            }
        }
        rmp::encode::write_array_len(&mut v, block.len() as u32).unwrap();
        for &d in block {
            rmp::encode::write_i32(&mut v, d).unwrap();
        }
        rmp::encode::write_uint(&mut v, 0).unwrap();
        rmp::encode::write_str(&mut v, dtype).unwrap();
        v
    }

    #[test]
    fn b2nd_layout_is_squeezed() {
        let raw = b2nd_bytes(&[1, 64, 64], "<f4");
        let host = HostLayout {
            typesize: 4,
            blocksize: Some(64 * 64 * 4),
            b2nd: Some(&raw),
            schunk_blockshape: None,
        };
        let l = resolve_layout(&host).unwrap();
        assert_eq!(l.shape, vec![64, 64]);
        assert_eq!(l.dtype, Dtype::Float32);
    }

    #[test]
    fn hostile_b2nd_is_rejected() {
        for (block, dtype, typesize, blocksize) in [
            (vec![0, 64], "<f4", 4, 0),
            (vec![-1, 64], "<f4", 4, 0),
            (vec![i32::MAX, i32::MAX, i32::MAX], "<f4", 4, 16),
            (vec![64, 64], "<f4", 4, 1000),
            (vec![64, 64], "<f8", 4, 64 * 64 * 4),
            (vec![64, 64], "<i4", 4, 64 * 64 * 4),
        ] {
            let raw = b2nd_bytes(&block, dtype);
            let host = HostLayout {
                typesize,
                blocksize: Some(blocksize),
                b2nd: Some(&raw),
                schunk_blockshape: None,
            };
            assert!(resolve_layout(&host).is_err(), "{block:?} {dtype}");
        }
        let raw = b2nd_bytes(&[64, 64], "<f4");
        for cut in 0..raw.len() {
            assert!(parse_b2nd_meta(&raw[..cut]).is_err());
        }
    }

    #[test]
    fn square_fallback() {
        let host = HostLayout {
            typesize: 4,
            blocksize: Some(32 * 32 * 4),
            ..Default::default()
        };
        assert_eq!(resolve_layout(&host).unwrap().shape, vec![32, 32]);
        let host = HostLayout {
            typesize: 4,
            blocksize: Some(32 * 33 * 4),
            ..Default::default()
        };
        assert!(resolve_layout(&host).is_err());
    }

    #[test]
    fn partial_shapes() {
        let l = BlockLayout {
            shape: vec![64, 64],
            dtype: Dtype::Float32,
        };
        assert_eq!(l.partial_shape(64 * 10), vec![10, 64]);
        assert_eq!(l.partial_shape(64 * 10 + 1), vec![11, 64]);
        assert_eq!(l.partial_shape(3), vec![1, 64]);
    }
}
