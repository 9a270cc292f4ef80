//! The small header in front of every compressed block.
//!
//! ```text
//! byte 0      format version (1)
//! byte 1      model kind (1 fuzzy C-means, 2 archetypal)
//! byte 2      weight bits (1..=8)
//! byte 3      dtype (1 f16, 2 f32, 3 f64, 4 u8, 5 u16)
//! bytes 4..8  low 32 bits of the codebook fingerprint, little-endian
//! bytes 8..12 checksum of the LZ4 payload (low 32 bits of its xxh3-64), little-endian
//! byte 12     ndim of the coded shape (1..=8)
//! then        ndim × u32 little-endian: the coded shape (squeezed; a short block's rows)
//! then        the LZ4 block of the quantized weights, prototype-major
//! ```
//! Storing the coded shape makes a block decodable without trusting the host's geometry, and
//! lets the decoder check it against the output size it is given. The checksum turns a
//! corrupted payload, which LZ4 might otherwise decode into plausible values, into an error.

use crate::error::{Error, Result};
use crate::tiles::geometry::MAX_DIMS;
use crate::tiles::Dtype;

/// The block format this build writes and reads.
pub const BLOCK_FORMAT_VERSION: u8 = 1;

/// A parsed block header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block format version.
    pub version: u8,
    /// The model kind code ([`crate::codebook::ModelKind::code`]).
    pub model: u8,
    /// Bits per weight.
    pub weight_bits: u8,
    /// The element type of the data.
    pub dtype: Dtype,
    /// Low 32 bits of the codebook's fingerprint.
    pub fingerprint32: u32,
    /// Checksum of the payload that follows the header ([`payload_checksum`]).
    pub checksum: u32,
    /// The coded shape.
    pub shape: Vec<usize>,
}

fn dtype_code(d: Dtype) -> u8 {
    match d {
        Dtype::Float16 => 1,
        Dtype::Float32 => 2,
        Dtype::Float64 => 3,
        Dtype::Uint8 => 4,
        Dtype::Uint16 => 5,
    }
}

fn dtype_from_code(c: u8) -> Option<Dtype> {
    Some(match c {
        1 => Dtype::Float16,
        2 => Dtype::Float32,
        3 => Dtype::Float64,
        4 => Dtype::Uint8,
        5 => Dtype::Uint16,
        _ => return None,
    })
}

impl BlockHeader {
    /// Header length in bytes for a shape of `ndim` dimensions.
    pub const fn len_for(ndim: usize) -> usize {
        13 + 4 * ndim
    }

    /// Writes the header into the front of `out`; returns its length, or `None` if `out` is
    /// too short.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        let len = Self::len_for(self.shape.len());
        let out = out.get_mut(..len)?;
        out[0] = self.version;
        out[1] = self.model;
        out[2] = self.weight_bits;
        out[3] = dtype_code(self.dtype);
        out[4..8].copy_from_slice(&self.fingerprint32.to_le_bytes());
        out[8..12].copy_from_slice(&self.checksum.to_le_bytes());
        out[12] = self.shape.len() as u8;
        for (chunk, &d) in out[13..].chunks_exact_mut(4).zip(&self.shape) {
            chunk.copy_from_slice(&(d as u32).to_le_bytes());
        }
        Some(len)
    }

    /// Parses a header; returns it and its length. Validates everything it can on its own.
    pub fn read(input: &[u8]) -> Result<(Self, usize)> {
        let truncated = || {
            Error::TruncatedBlock(format!(
                "{} bytes, shorter than a block header",
                input.len()
            ))
        };
        let fixed = input.get(..13).ok_or_else(truncated)?;
        let version = fixed[0];
        if version == 0 || version > BLOCK_FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: u32::from(version),
                supported: u32::from(BLOCK_FORMAT_VERSION),
            });
        }
        let dtype = dtype_from_code(fixed[3])
            .ok_or_else(|| Error::CorruptBlock(format!("unknown dtype code {}", fixed[3])))?;
        if !(1..=8).contains(&fixed[2]) {
            return Err(Error::CorruptBlock(format!("weight bits {}", fixed[2])));
        }
        let ndim = fixed[12] as usize;
        if ndim == 0 || ndim > MAX_DIMS {
            return Err(Error::CorruptBlock(format!("ndim {ndim}")));
        }
        let len = Self::len_for(ndim);
        let dims = input.get(13..len).ok_or_else(truncated)?;
        let shape: Vec<usize> = dims
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        if shape.contains(&0) {
            return Err(Error::CorruptBlock(format!(
                "zero dimension in shape {shape:?}"
            )));
        }
        Ok((
            BlockHeader {
                version,
                model: fixed[1],
                weight_bits: fixed[2],
                dtype,
                fingerprint32: u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
                checksum: u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
                shape,
            },
            len,
        ))
    }
}

/// The checksum stored in the header: the low 32 bits of the payload's xxh3-64.
pub fn payload_checksum(payload: &[u8]) -> u32 {
    xxhash_rust::xxh3::xxh3_64(payload) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let h = BlockHeader {
            version: 1,
            model: 2,
            weight_bits: 8,
            dtype: Dtype::Float32,
            fingerprint32: 0xdead_beef,
            checksum: 7,
            shape: vec![64, 64],
        };
        let mut buf = [0u8; 32];
        let n = h.write(&mut buf).unwrap();
        assert_eq!(n, 21);
        assert_eq!(BlockHeader::read(&buf[..n]).unwrap(), (h.clone(), n));
        for cut in 0..n {
            assert!(BlockHeader::read(&buf[..cut]).is_err());
        }
        assert!(h.write(&mut buf[..10]).is_none());
    }
}
