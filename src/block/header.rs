//! The small header in front of every compressed block.
//!
//! Format 3 (written by this build for error-bounded blocks): format 2's layout with version
//! byte 3, followed after the shape by the bound, float64 little-endian (8 bytes). Its
//! payload is `block::bounded`'s, never LZ4-compressed (flags 0).
//!
//! Format 2 (written by this build for fixed-rate blocks):
//!
//! ```text
//! byte 0      format version (2)
//! byte 1      model kind (1 fuzzy C-means, 2 archetypal, 3 k-means, 4 residual, 5 scalar)
//! byte 2      bits per stored weight (weight kinds) or per index (index kinds), 1..=16
//! byte 3      dtype (1 f16, 2 f32, 3 f64, 4 u8, 5 u16)
//! byte 4      flags: bit 0 set when the payload is stored as is rather than LZ4-compressed
//! bytes 5..9  low 32 bits of the codebook fingerprint, little-endian
//! bytes 9..13 checksum of the payload (low 32 bits of its xxh3-64), little-endian
//! byte 13     ndim of the coded shape (1..=8)
//! then        ndim LEB128 varints: the coded shape
//! then        the payload: bit-packed codes (see `block::payload`)
//! ```
//!
//! Format 1 (still read):
//!
//! ```text
//! byte 0      format version (1)
//! byte 1      model kind (1 fuzzy C-means, 2 archetypal, 3 k-means)
//! byte 2      weight bits (1..=8; k-means blocks carry the codebook's, unused)
//! byte 3      dtype (1 f16, 2 f32, 3 f64, 4 u8, 5 u16)
//! bytes 4..8  low 32 bits of the codebook fingerprint, little-endian
//! bytes 8..12 checksum of the LZ4 payload (low 32 bits of its xxh3-64), little-endian
//! byte 12     ndim of the coded shape (1..=8)
//! then        ndim × u32 little-endian: the coded shape (squeezed; a short block's rows)
//! then        the LZ4 block of one byte per quantized weight, prototype-major (k-means:
//!             one 1-byte index per tile, 2 bytes little-endian above 256 codewords)
//! ```
//! Storing the coded shape makes a block decodable without trusting the host's geometry, and
//! lets the decoder check it against the output size it is given. The checksum turns a
//! corrupted payload, which LZ4 might otherwise decode into plausible values, into an error.

use crate::error::{Error, Result};
use crate::tiles::geometry::MAX_DIMS;
use crate::tiles::Dtype;

/// The block format this build writes for fixed-rate blocks (and reads).
pub const BLOCK_FORMAT_VERSION: u8 = 2;
/// The block format of error-bounded blocks, the newest this build reads.
pub const BOUNDED_BLOCK_FORMAT_VERSION: u8 = 3;

/// Flag: the payload is stored as is (LZ4 would not have made it smaller).
pub const FLAG_RAW_PAYLOAD: u8 = 1;

/// A parsed block header.
#[derive(Debug, Clone, PartialEq)]
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
    /// Format 2 flags ([`FLAG_RAW_PAYLOAD`]); 0 in format 1.
    pub flags: u8,
    /// The coded shape.
    pub shape: Vec<usize>,
    /// The error bound (format 3 only).
    pub max_error: Option<f64>,
}

fn dtype_code(d: Dtype) -> u8 {
    d.code()
}

fn dtype_from_code(c: u8) -> Option<Dtype> {
    Dtype::from_code(c)
}

impl BlockHeader {
    /// Format 1 header length in bytes for a shape of `ndim` dimensions.
    pub const fn len_for(ndim: usize) -> usize {
        13 + 4 * ndim
    }

    /// This header's length in bytes.
    pub fn encoded_len(&self) -> usize {
        if self.version == 1 {
            return Self::len_for(self.shape.len());
        }
        let bound = if self.version == BOUNDED_BLOCK_FORMAT_VERSION {
            8
        } else {
            0
        };
        14 + bound
            + self
                .shape
                .iter()
                .map(|&d| varint_len(d as u64))
                .sum::<usize>()
    }

    /// Writes the header into the front of `out`; returns its length, or `None` if `out` is
    /// too short.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        if self.version != 1 {
            return self.write_v2(out);
        }
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

    fn write_v2(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        out[0] = self.version;
        out[1] = self.model;
        out[2] = self.weight_bits;
        out[3] = dtype_code(self.dtype);
        out[4] = self.flags;
        out[5..9].copy_from_slice(&self.fingerprint32.to_le_bytes());
        out[9..13].copy_from_slice(&self.checksum.to_le_bytes());
        out[13] = self.shape.len() as u8;
        let mut pos = 14;
        for &d in &self.shape {
            let mut v = d as u64;
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                out[pos] = if v > 0 { byte | 0x80 } else { byte };
                pos += 1;
                if v == 0 {
                    break;
                }
            }
        }
        if self.version == BOUNDED_BLOCK_FORMAT_VERSION {
            out[pos..pos + 8].copy_from_slice(&self.max_error.unwrap_or(0.0).to_le_bytes());
        }
        Some(len)
    }

    fn read_v2(input: &[u8]) -> Result<(Self, usize)> {
        let truncated = || {
            Error::TruncatedBlock(format!(
                "{} bytes, shorter than a block header",
                input.len()
            ))
        };
        let fixed = input.get(..14).ok_or_else(truncated)?;
        let dtype = dtype_from_code(fixed[3])
            .ok_or_else(|| Error::CorruptBlock(format!("unknown dtype code {}", fixed[3])))?;
        if !(1..=16).contains(&fixed[2]) {
            return Err(Error::CorruptBlock(format!("bits {}", fixed[2])));
        }
        if fixed[4] & !FLAG_RAW_PAYLOAD != 0 {
            return Err(Error::CorruptBlock(format!(
                "unknown flags {:#04x}",
                fixed[4]
            )));
        }
        let ndim = fixed[13] as usize;
        if ndim == 0 || ndim > MAX_DIMS {
            return Err(Error::CorruptBlock(format!("ndim {ndim}")));
        }
        let mut pos = 14;
        let mut shape = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let byte = *input.get(pos).ok_or_else(truncated)?;
                pos += 1;
                v |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 28 {
                    return Err(Error::CorruptBlock("a dimension over 32 bits".into()));
                }
            }
            if v == 0 || v > u64::from(u32::MAX) {
                return Err(Error::CorruptBlock(format!(
                    "dimension {v} in the coded shape"
                )));
            }
            shape.push(v as usize);
        }
        let version = fixed[0];
        let max_error = if version == BOUNDED_BLOCK_FORMAT_VERSION {
            let b = input.get(pos..pos + 8).ok_or_else(truncated)?;
            pos += 8;
            let e = f64::from_le_bytes(b.try_into().expect("8 bytes"));
            crate::codebook::check_max_error(e)
                .map_err(|_| Error::CorruptBlock(format!("error bound {e:e}")))?;
            if fixed[4] != 0 {
                return Err(Error::CorruptBlock(format!(
                    "flags {:#04x} on an error-bounded block",
                    fixed[4]
                )));
            }
            Some(e)
        } else {
            None
        };
        Ok((
            BlockHeader {
                version,
                max_error,
                model: fixed[1],
                weight_bits: fixed[2],
                dtype,
                fingerprint32: u32::from_le_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]),
                checksum: u32::from_le_bytes([fixed[9], fixed[10], fixed[11], fixed[12]]),
                flags: fixed[4],
                shape,
            },
            pos,
        ))
    }

    /// The low 32 bits of the codebook fingerprint a block names, read without parsing the
    /// rest (None for input too short or of an unknown format: [`read`](Self::read) says why).
    pub fn peek_fingerprint32(input: &[u8]) -> Option<u32> {
        let at = match *input.first()? {
            1 => 4,
            2..=BOUNDED_BLOCK_FORMAT_VERSION => 5,
            _ => return None,
        };
        let bytes = input.get(at..at + 4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
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
        if version == 0 || version > BOUNDED_BLOCK_FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: u32::from(version),
                supported: u32::from(BOUNDED_BLOCK_FORMAT_VERSION),
            });
        }
        if version >= 2 {
            return Self::read_v2(input);
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
                flags: 0,
                shape,
                max_error: None,
            },
            len,
        ))
    }
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
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
        for version in [1, 2] {
            let h = BlockHeader {
                version,
                model: 2,
                weight_bits: 8,
                dtype: Dtype::Float32,
                fingerprint32: 0xdead_beef,
                checksum: 7,
                flags: 0,
                shape: vec![1, 64, 300, 70000],
                max_error: None,
            };
            let mut buf = [0u8; 40];
            let n = h.write(&mut buf).unwrap();
            assert_eq!(n, if version == 1 { 29 } else { 14 + 1 + 1 + 2 + 3 });
            assert_eq!(BlockHeader::read(&buf[..n]).unwrap(), (h.clone(), n));
            for cut in 0..n {
                assert!(BlockHeader::read(&buf[..cut]).is_err());
            }
            assert!(h.write(&mut buf[..10]).is_none());
        }
    }

    #[test]
    fn v1_round_trip() {
        let h = BlockHeader {
            version: 1,
            flags: 0,
            model: 2,
            weight_bits: 8,
            dtype: Dtype::Float32,
            fingerprint32: 0xdead_beef,
            checksum: 7,
            shape: vec![64, 64],
            max_error: None,
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
