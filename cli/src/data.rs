//! `.npy` arrays of the dtypes the codec handles, read whole (for `eval`; `compress`,
//! `decompress` and `train` stream them through [`crate::npy`]).

use crate::CliResult;
use ndarray::ArrayD;
use ndarray_npy::read_npy;
use std::path::Path;

/// An array read from a `.npy` file.
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

    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Data::F32(a) => a.mapv(f64::from),
            Data::F64(a) => a.clone(),
            Data::U8(a) => a.mapv(f64::from),
            Data::U16(a) => a.mapv(f64::from),
        }
    }
}
