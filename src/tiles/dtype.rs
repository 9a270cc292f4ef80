//! Element types the codec reads and writes, and their conversion to the `f32` the kernels use.

use crate::error::{Error, Result};
use half::f16;

/// The element type of the values in a Blosc2 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dtype {
    /// IEEE 754 binary16 (`<f2`).
    Float16,
    /// IEEE 754 binary32 (`<f4`).
    Float32,
    /// IEEE 754 binary64 (`<f8`).
    Float64,
    /// Unsigned 8-bit integers (`|u1`); decoded values are rounded and clamped.
    Uint8,
    /// Unsigned 16-bit integers (`<u2`); decoded values are rounded and clamped.
    Uint16,
}

impl Dtype {
    /// The code blocks record for this dtype (1 f16, 2 f32, 3 f64, 4 u8, 5 u16).
    pub const fn code(self) -> u8 {
        match self {
            Dtype::Float16 => 1,
            Dtype::Float32 => 2,
            Dtype::Float64 => 3,
            Dtype::Uint8 => 4,
            Dtype::Uint16 => 5,
        }
    }

    /// The dtype of a recorded [`code`](Self::code).
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Dtype::Float16,
            2 => Dtype::Float32,
            3 => Dtype::Float64,
            4 => Dtype::Uint8,
            5 => Dtype::Uint16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::Float16 | Dtype::Uint16 => 2,
            Dtype::Float32 => 4,
            Dtype::Float64 => 8,
            Dtype::Uint8 => 1,
        }
    }

    /// The dtype a bare typesize implies when nothing else says (as the reference notebook did):
    /// 2 → float16, 4 → float32, 8 → float64. Integers need a b2nd dtype to be recognised.
    pub fn from_typesize(typesize: usize) -> Result<Self> {
        match typesize {
            2 => Ok(Dtype::Float16),
            4 => Ok(Dtype::Float32),
            8 => Ok(Dtype::Float64),
            other => Err(Error::UnsupportedDtype(format!(
                "typesize {other} without a b2nd dtype; the codec reads float16/32/64 \
                 (typesize 2/4/8), and uint8/uint16 when the b2nd metalayer says so"
            ))),
        }
    }

    /// Parses a NumPy array-protocol type string as stored in the b2nd metalayer
    /// (`<f4`, `=f8`, `|u1`, ...). Big-endian types are refused: Blosc2 stores native
    /// little-endian data on every platform this plugin supports.
    pub fn from_numpy_str(s: &str) -> Result<Self> {
        let unsupported = || {
            Error::UnsupportedDtype(format!(
                "b2nd dtype `{s}`; supported: <f2, <f4, <f8, |u1, <u2"
            ))
        };
        let (order, code) = match s.as_bytes() {
            [o @ (b'<' | b'>' | b'=' | b'|'), rest @ ..] => (*o, rest),
            rest => (b'=', rest),
        };
        if order == b'>' {
            return Err(unsupported());
        }
        match code {
            b"f2" | b"e" => Ok(Dtype::Float16),
            b"f4" | b"f" => Ok(Dtype::Float32),
            b"f8" | b"d" => Ok(Dtype::Float64),
            b"u1" | b"B" => Ok(Dtype::Uint8),
            b"u2" | b"H" => Ok(Dtype::Uint16),
            _ => Err(unsupported()),
        }
    }

    /// Reads `bytes` (whole elements, native endianness) into `out` as `f32`.
    pub fn read_f32(self, bytes: &[u8], out: &mut [f32]) {
        debug_assert_eq!(bytes.len(), out.len() * self.size());
        match self {
            Dtype::Float32 => read_each(bytes, out, |b: [u8; 4]| f32::from_ne_bytes(b)),
            Dtype::Float64 => read_each(bytes, out, |b: [u8; 8]| f64::from_ne_bytes(b) as f32),
            Dtype::Float16 => read_each(bytes, out, |b: [u8; 2]| f16::from_ne_bytes(b).to_f32()),
            Dtype::Uint8 => {
                for (o, &b) in out.iter_mut().zip(bytes) {
                    *o = f32::from(b);
                }
            }
            Dtype::Uint16 => read_each(bytes, out, |b: [u8; 2]| f32::from(u16::from_ne_bytes(b))),
        }
    }

    /// Reads `bytes` (whole elements, native endianness) into `out` exactly, as `f64`.
    pub fn read_f64(self, bytes: &[u8], out: &mut [f64]) {
        debug_assert_eq!(bytes.len(), out.len() * self.size());
        let each = |b: &[u8]| -> f64 {
            match self {
                Dtype::Float32 => f64::from(f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::Float64 => f64::from_ne_bytes(b.try_into().expect("8 bytes")),
                Dtype::Float16 => f16::from_ne_bytes([b[0], b[1]]).to_f64(),
                Dtype::Uint8 => f64::from(b[0]),
                Dtype::Uint16 => f64::from(u16::from_ne_bytes([b[0], b[1]])),
            }
        };
        for (o, chunk) in out.iter_mut().zip(bytes.chunks_exact(self.size())) {
            *o = each(chunk);
        }
    }

    /// What [`write_f32`](Self::write_f32) stores for `v`, read back exactly as `f64`.
    pub fn stored(self, v: f32) -> f64 {
        let mut b = [0u8; 8];
        let b = &mut b[..self.size()];
        self.write_f32(&[v], b);
        let mut out = [0f64];
        self.read_f64(b, &mut out);
        out[0]
    }

    /// What writing `v` in this dtype stores, read back exactly as `f64` (floats round to
    /// nearest, integers are rounded and clamped to their range; NaN stays NaN for floats).
    #[inline(always)]
    pub fn round_f64(self, v: f64) -> f64 {
        match self {
            Dtype::Float64 => v,
            Dtype::Float32 => f64::from(v as f32),
            Dtype::Float16 => f16::from_f64(v).to_f64(),
            // `as` saturates and maps NaN to 0, which is the clamp we want.
            Dtype::Uint8 => f64::from(v.round() as u8),
            Dtype::Uint16 => f64::from(v.round() as u16),
        }
    }

    /// Writes `values` (each already representable: see [`round_f64`](Self::round_f64))
    /// into `bytes` in this dtype.
    pub fn write_f64(self, values: &[f64], bytes: &mut [u8]) {
        debug_assert_eq!(bytes.len(), values.len() * self.size());
        let size = self.size();
        for (b, &v) in bytes.chunks_exact_mut(size).zip(values) {
            match self {
                Dtype::Float64 => b.copy_from_slice(&v.to_ne_bytes()),
                Dtype::Float32 => b.copy_from_slice(&(v as f32).to_ne_bytes()),
                Dtype::Float16 => b.copy_from_slice(&f16::from_f64(v).to_ne_bytes()),
                Dtype::Uint8 => b[0] = v.round() as u8,
                Dtype::Uint16 => b.copy_from_slice(&(v.round() as u16).to_ne_bytes()),
            }
        }
    }

    /// Whether the element whose bytes are `b` is a float NaN or infinity (never for integers).
    #[inline]
    pub fn is_non_finite(self, b: &[u8]) -> bool {
        match self {
            Dtype::Float64 => !f64::from_ne_bytes(b.try_into().expect("8 bytes")).is_finite(),
            Dtype::Float32 => !f32::from_ne_bytes([b[0], b[1], b[2], b[3]]).is_finite(),
            Dtype::Float16 => !f16::from_ne_bytes([b[0], b[1]]).is_finite(),
            Dtype::Uint8 | Dtype::Uint16 => false,
        }
    }

    /// Writes `values` into `bytes` in this dtype; integers are rounded and clamped to their range.
    pub fn write_f32(self, values: &[f32], bytes: &mut [u8]) {
        debug_assert_eq!(bytes.len(), values.len() * self.size());
        match self {
            Dtype::Float32 => write_each(values, bytes, |v| v.to_ne_bytes()),
            Dtype::Float64 => write_each(values, bytes, |v| f64::from(v).to_ne_bytes()),
            Dtype::Float16 => write_each(values, bytes, |v| f16::from_f32(v).to_ne_bytes()),
            Dtype::Uint8 => {
                for (b, &v) in bytes.iter_mut().zip(values) {
                    // `as` saturates and maps NaN to 0, which is the clamp we want.
                    *b = v.round() as u8;
                }
            }
            Dtype::Uint16 => write_each(values, bytes, |v| (v.round() as u16).to_ne_bytes()),
        }
    }
}

fn read_each<const N: usize>(bytes: &[u8], out: &mut [f32], f: impl Fn([u8; N]) -> f32) {
    for (o, chunk) in out.iter_mut().zip(bytes.chunks_exact(N)) {
        let mut b = [0u8; N];
        b.copy_from_slice(chunk);
        *o = f(b);
    }
}

fn write_each<const N: usize>(values: &[f32], bytes: &mut [u8], f: impl Fn(f32) -> [u8; N]) {
    for (chunk, &v) in bytes.chunks_exact_mut(N).zip(values) {
        chunk.copy_from_slice(&f(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_strings() {
        assert_eq!(Dtype::from_numpy_str("<f4").unwrap(), Dtype::Float32);
        assert_eq!(Dtype::from_numpy_str("|u1").unwrap(), Dtype::Uint8);
        assert_eq!(Dtype::from_numpy_str("<f2").unwrap(), Dtype::Float16);
        assert!(Dtype::from_numpy_str(">f4").is_err());
        assert!(Dtype::from_numpy_str("<i4").is_err());
        assert!(Dtype::from_numpy_str("").is_err());
    }

    #[test]
    fn integer_writes_round_and_clamp() {
        let mut b = [0u8; 4];
        Dtype::Uint8.write_f32(&[-3.0, 2.6, 300.0, f32::NAN], &mut b);
        assert_eq!(b, [0, 3, 255, 0]);
        let mut b = [0u8; 4];
        Dtype::Uint16.write_f32(&[70000.0, 1.4], &mut b);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 65535);
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), 1);
    }

    #[test]
    fn float_round_trip() {
        for dt in [Dtype::Float16, Dtype::Float32, Dtype::Float64] {
            let v = [0.5f32, -1.25, 3.0];
            let mut b = vec![0u8; 3 * dt.size()];
            dt.write_f32(&v, &mut b);
            let mut back = [0f32; 3];
            dt.read_f32(&b, &mut back);
            assert_eq!(back, v);
        }
    }
}
