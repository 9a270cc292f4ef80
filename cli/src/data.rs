//! `.npy` arrays of the dtypes the codec handles, and their bytes.

use crate::CliResult;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;

/// An array read from (or written to) a `.npy` file.
pub enum Data {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    U8(ArrayD<u8>),
    U16(ArrayD<u16>),
}

impl Data {
    /// Reads a `.npy` of float32, float64, uint8 or uint16 (C order).
    pub fn read(path: &Path) -> CliResult<Self> {
        if !path.exists() {
            return Err(format!("{}: no such file", path.display()));
        }
        let fail = |e: String| format!("{}: {e}", path.display());
        if let Ok(a) = read_npy::<_, ArrayD<f32>>(path) {
            return Ok(Data::F32(a));
        }
        if let Ok(a) = read_npy::<_, ArrayD<f64>>(path) {
            return Ok(Data::F64(a));
        }
        if let Ok(a) = read_npy::<_, ArrayD<u8>>(path) {
            return Ok(Data::U8(a));
        }
        match read_npy::<_, ArrayD<u16>>(path) {
            Ok(a) => Ok(Data::U16(a)),
            Err(e) => Err(fail(format!(
                "not a float32/float64/uint8/uint16 .npy array ({e})"
            ))),
        }
    }

    /// Builds an array from raw native-endian bytes of a NumPy dtype.
    pub fn from_bytes(dtype: &str, shape: &[usize], bytes: &[u8]) -> Result<Self, String> {
        fn collect<T, const N: usize>(
            shape: &[usize],
            bytes: &[u8],
            f: fn([u8; N]) -> T,
        ) -> Result<ArrayD<T>, String> {
            let v: Vec<T> = bytes
                .chunks_exact(N)
                .map(|c| f(c.try_into().unwrap()))
                .collect();
            ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| e.to_string())
        }
        Ok(match dtype.trim_start_matches(['<', '=', '|']) {
            "f4" => Data::F32(collect(shape, bytes, f32::from_ne_bytes)?),
            "f8" => Data::F64(collect(shape, bytes, f64::from_ne_bytes)?),
            "u1" => Data::U8(collect(shape, bytes, |b: [u8; 1]| b[0])?),
            "u2" => Data::U16(collect(shape, bytes, u16::from_ne_bytes)?),
            other => return Err(format!("dtype {other} cannot be written as .npy here")),
        })
    }

    pub fn write(&self, path: &Path) -> CliResult<()> {
        let r = match self {
            Data::F32(a) => write_npy(path, a),
            Data::F64(a) => write_npy(path, a),
            Data::U8(a) => write_npy(path, a),
            Data::U16(a) => write_npy(path, a),
        };
        r.map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Data::F32(a) => a.shape(),
            Data::F64(a) => a.shape(),
            Data::U8(a) => a.shape(),
            Data::U16(a) => a.shape(),
        }
    }

    pub fn itemsize(&self) -> usize {
        match self {
            Data::F32(_) => 4,
            Data::F64(_) => 8,
            Data::U8(_) => 1,
            Data::U16(_) => 2,
        }
    }

    pub fn nbytes(&self) -> usize {
        self.shape().iter().product::<usize>() * self.itemsize()
    }

    /// The NumPy dtype string c-blosc2's b2nd layer stores.
    pub fn dtype_str(&self) -> &'static str {
        match self {
            Data::F32(_) => "<f4",
            Data::F64(_) => "<f8",
            Data::U8(_) => "|u1",
            Data::U16(_) => "<u2",
        }
    }

    /// The values as native-endian bytes, C order.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
            Data::F64(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
            Data::U8(a) => a.iter().copied().collect(),
            Data::U16(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        }
    }

    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Data::F32(a) => a.mapv(f64::from),
            Data::F64(a) => a.clone(),
            Data::U8(a) => a.mapv(f64::from),
            Data::U16(a) => a.mapv(f64::from),
        }
    }
}
