//! `.npy` files read and written piece by piece, so that `compress`, `decompress` and `train`
//! work on arrays larger than memory.
//!
//! The header is parsed with `py_literal` (the parser ndarray-npy uses) and written by
//! ndarray-npy; the data are read and written at their offsets with positioned I/O. Not a
//! memory map: mapped pages count toward the process's resident memory until the kernel
//! evicts them, so mapping a 4 GiB file and reading it through keeps up to 4 GiB resident.

use crate::CliResult;
use blosc2_vq::train::ValueSource;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The element types the codec handles, as `.npy` stores them (little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
    U8,
    U16,
}

impl Dtype {
    /// The dtype of a NumPy type string (`<f4`, `|u1`, ...), if the codec handles it.
    pub fn from_numpy(descr: &str) -> Option<Self> {
        // '=' is native order: little-endian on every platform the plugin builds for.
        let (order, code) = match descr.as_bytes().first() {
            Some(b'<' | b'>' | b'=' | b'|') => descr.split_at(1),
            _ => ("", descr),
        };
        if order == ">" && code != "u1" {
            return None;
        }
        match code {
            "f4" => Some(Dtype::F32),
            "f8" => Some(Dtype::F64),
            "u1" => Some(Dtype::U8),
            "u2" => Some(Dtype::U16),
            _ => None,
        }
    }

    /// The NumPy type string c-blosc2's b2nd layer stores.
    pub fn numpy(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
            Dtype::U8 => "|u1",
            Dtype::U16 => "<u2",
        }
    }

    pub fn itemsize(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::U8 => 1,
            Dtype::U16 => 2,
        }
    }

    /// Converts little-endian values to f64.
    fn to_f64(self, bytes: &[u8], out: &mut [f64]) {
        match self {
            Dtype::F32 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes(b.try_into().unwrap()).into();
                }
            }
            Dtype::F64 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = f64::from_le_bytes(b.try_into().unwrap());
                }
            }
            Dtype::U8 => {
                for (o, &b) in out.iter_mut().zip(bytes) {
                    *o = b.into();
                }
            }
            Dtype::U16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = u16::from_le_bytes(b.try_into().unwrap()).into();
                }
            }
        }
    }
}

/// A `.npy` file open for reading: its header, and its data read on demand.
pub struct NpyReader {
    path: PathBuf,
    file: File,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Where the data start in the file.
    data_offset: u64,
    /// Bytes of one read, kept for [`ValueSource::read`].
    scratch: Vec<u8>,
}

impl NpyReader {
    /// Opens `path` and reads its header: a C-order array of float32, float64, uint8 or
    /// uint16 whose data are all there.
    pub fn open(path: &Path) -> CliResult<Self> {
        let fail = |e: String| format!("{}: {e}", path.display());
        let mut file = File::open(path).map_err(|e| fail(e.to_string()))?;
        let mut lead = [0u8; 12];
        file.read_exact(&mut lead[..10])
            .map_err(|_| fail("not a .npy file (too short)".into()))?;
        if &lead[..6] != b"\x93NUMPY" {
            return Err(fail("not a .npy file (no \\x93NUMPY magic)".into()));
        }
        let (header_len, header_start) = match lead[6] {
            1 => (u16::from_le_bytes([lead[8], lead[9]]) as u64, 10u64),
            2 | 3 => {
                file.read_exact(&mut lead[10..12])
                    .map_err(|_| fail("truncated .npy header".into()))?;
                (
                    u32::from_le_bytes(lead[8..12].try_into().unwrap()) as u64,
                    12,
                )
            }
            v => return Err(fail(format!(".npy format version {v} is not supported"))),
        };
        if header_len > 1 << 20 {
            return Err(fail(format!(".npy header of {header_len} bytes")));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header)
            .map_err(|_| fail("truncated .npy header".into()))?;
        let header =
            String::from_utf8(header).map_err(|_| fail("the .npy header is not text".into()))?;
        let (descr, fortran, shape) = parse_header(&header).map_err(fail)?;
        if fortran {
            return Err(fail(
                "Fortran-order array: save it in C order (numpy.ascontiguousarray)".into(),
            ));
        }
        let dtype = Dtype::from_numpy(&descr).ok_or_else(|| {
            fail(format!(
                "dtype {descr}: the codec takes float32, float64, uint8 or uint16 (little-endian)"
            ))
        })?;
        let data_offset = header_start + header_len;
        let nbytes = shape
            .iter()
            .try_fold(dtype.itemsize() as u64, |a, &d| a.checked_mul(d as u64))
            .ok_or_else(|| fail(format!("shape {shape:?} is too large")))?;
        let len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        if len < data_offset + nbytes {
            return Err(fail(format!(
                "truncated: {shape:?} {descr} needs {nbytes} data bytes, the file holds {}",
                len.saturating_sub(data_offset)
            )));
        }
        Ok(NpyReader {
            path: path.to_path_buf(),
            file,
            dtype,
            shape,
            data_offset,
            scratch: Vec::new(),
        })
    }

    /// Values in the array.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes of data.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype.itemsize()
    }

    /// Reads the raw bytes of the values at flat offsets `offset..` into `out`.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) -> CliResult<()> {
        let at = self.data_offset + (offset * self.dtype.itemsize()) as u64;
        self.file
            .read_exact_at(out, at)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

impl NpyReader {
    /// The smallest and largest finite values of the whole array (`None` when none is
    /// finite), read `piece` values at a time in file order: what `rel_error` and `psnr`
    /// resolve against, without holding the array. `progress` is told the values read.
    pub fn finite_range(
        &self,
        piece: usize,
        mut progress: impl FnMut(usize),
    ) -> CliResult<Option<(f64, f64)>> {
        let n = self.len();
        let piece = piece.max(1).min(n.max(1));
        let mut bytes = vec![0u8; piece * self.dtype.itemsize()];
        let mut values = vec![0f64; piece];
        let mut range: Option<(f64, f64)> = None;
        let mut at = 0;
        while at < n {
            let len = piece.min(n - at);
            let raw = &mut bytes[..len * self.dtype.itemsize()];
            self.read_bytes(at, raw)?;
            self.dtype.to_f64(raw, &mut values[..len]);
            if let Some((lo, hi)) =
                blosc2_vq::engine::bound::finite_range(values[..len].iter().copied())
            {
                range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
            at += len;
            progress(len);
        }
        Ok(range)
    }
}

impl ValueSource for NpyReader {
    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn read(&mut self, offset: usize, out: &mut [f64]) -> blosc2_vq::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(out.len() * self.dtype.itemsize(), 0);
        let read = self.read_bytes(offset, &mut scratch);
        self.dtype.to_f64(&scratch, out);
        self.scratch = scratch;
        read.map_err(blosc2_vq::Error::InvalidData)
    }
}

/// `descr`, `fortran_order` and `shape` of a `.npy` header dictionary.
fn parse_header(header: &str) -> Result<(String, bool, Vec<usize>), String> {
    use py_literal::Value;
    let bad = |what: &str| format!("bad .npy header ({what}): {}", header.trim_end());
    let Value::Dict(items) = header
        .trim_end()
        .parse::<Value>()
        .map_err(|e| bad(&e.to_string()))?
    else {
        return Err(bad("not a dictionary"));
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in items {
        match (key, value) {
            (Value::String(k), Value::String(v)) if k == "descr" => descr = Some(v),
            (Value::String(k), Value::Boolean(v)) if k == "fortran_order" => fortran = Some(v),
            (Value::String(k), Value::Tuple(dims)) if k == "shape" => {
                shape = Some(
                    dims.iter()
                        .map(|d| match d {
                            Value::Integer(i) => i.to_string().parse::<usize>().ok(),
                            _ => None,
                        })
                        .collect::<Option<Vec<usize>>>()
                        .ok_or_else(|| bad("shape"))?,
                )
            }
            _ => return Err(bad("unexpected entry")),
        }
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        _ => Err(bad("descr, fortran_order and shape are required")),
    }
}

/// A `.npy` file being written piece by piece: its header first, then the data at their
/// offsets.
pub struct NpyWriter {
    path: PathBuf,
    file: File,
    data_offset: u64,
    itemsize: usize,
}

impl NpyWriter {
    /// Creates `path` holding a zeroed C-order array of `dtype` and `shape` (sparse on
    /// file systems that can), to be filled with [`write_bytes`](Self::write_bytes).
    pub fn create(path: &Path, dtype: Dtype, shape: &[usize]) -> CliResult<Self> {
        use ndarray::IxDyn;
        use ndarray_npy::write_zeroed_npy;
        let fail = |e: String| format!("{}: {e}", path.display());
        let file = File::create(path).map_err(|e| fail(e.to_string()))?;
        let dim = IxDyn(shape);
        match dtype {
            Dtype::F32 => write_zeroed_npy::<f32, _>(&file, dim),
            Dtype::F64 => write_zeroed_npy::<f64, _>(&file, dim),
            Dtype::U8 => write_zeroed_npy::<u8, _>(&file, dim),
            Dtype::U16 => write_zeroed_npy::<u16, _>(&file, dim),
        }
        .map_err(|e| fail(e.to_string()))?;
        let len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let nbytes = (shape.iter().product::<usize>() * dtype.itemsize()) as u64;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            file,
            data_offset: len - nbytes,
            itemsize: dtype.itemsize(),
        })
    }

    /// Writes raw little-endian values at flat offsets `offset..`.
    pub fn write_bytes(&self, offset: usize, bytes: &[u8]) -> CliResult<()> {
        let at = self.data_offset + (offset * self.itemsize) as u64;
        self.file
            .write_all_at(bytes, at)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// Boxes of whole chunks that cover an array in C order, each holding at most about `budget`
/// values: how `compress` and `decompress` go through an array without holding it.
///
/// A box spans one chunk on the axes before `axis`, `step` elements (a multiple of the chunk)
/// on `axis`, and everything after it; `axis` is the first at which one chunk's worth fits the
/// budget (the last axis when none does: one chunk, which c-blosc2 holds anyway).
#[derive(Debug)]
pub struct Boxes {
    shape: Vec<usize>,
    chunks: Vec<usize>,
    axis: usize,
    step: usize,
}

impl Boxes {
    pub fn new(shape: &[usize], chunks: &[usize], budget: usize) -> Self {
        let nd = shape.len();
        let size = |k: usize| -> usize {
            chunks[..=k].iter().product::<usize>() * shape[k + 1..].iter().product::<usize>()
        };
        let axis = (0..nd).find(|&k| size(k) <= budget).unwrap_or(nd - 1);
        let step = chunks[axis] * (budget / size(axis).max(1)).max(1);
        Boxes {
            shape: shape.to_vec(),
            chunks: chunks.to_vec(),
            axis,
            step,
        }
    }

    /// The boxes, as `(start, stop)` per axis.
    pub fn iter(&self) -> impl Iterator<Item = (Vec<usize>, Vec<usize>)> + '_ {
        let k = self.axis;
        // Steps per axis up to `axis`; the box grid in C order.
        let steps: Vec<usize> = (0..=k)
            .map(|i| if i == k { self.step } else { self.chunks[i] })
            .collect();
        let counts: Vec<usize> = (0..=k).map(|i| self.shape[i].div_ceil(steps[i])).collect();
        let total: usize = counts.iter().product();
        (0..total).map(move |mut n| {
            let mut start = vec![0; self.shape.len()];
            let mut stop = self.shape.clone();
            for i in (0..=k).rev() {
                start[i] = (n % counts[i]) * steps[i];
                stop[i] = (start[i] + steps[i]).min(self.shape[i]);
                n /= counts[i];
            }
            (start, stop)
        })
    }

    /// How many boxes there are.
    pub fn count(&self) -> usize {
        self.iter().count()
    }

    /// The contiguous runs of a box in the C-order array: `(flat offset, values)`, in the
    /// order of the box's own C-order layout.
    pub fn runs(&self, start: &[usize], stop: &[usize]) -> Vec<(usize, usize)> {
        let k = self.axis;
        let nd = self.shape.len();
        let mut strides = vec![1usize; nd];
        for i in (0..nd - 1).rev() {
            strides[i] = strides[i + 1] * self.shape[i + 1];
        }
        let run = (stop[k] - start[k]) * strides[k];
        let outer: Vec<usize> = (0..k).map(|i| stop[i] - start[i]).collect();
        let n: usize = outer.iter().product();
        (0..n)
            .map(|mut m| {
                let mut offset = start[k] * strides[k];
                for i in (0..k).rev() {
                    offset += (start[i] + m % outer[i]) * strides[i];
                    m /= outer[i];
                }
                (offset, run)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element is in exactly one box, and runs cover each box in its C order.
    #[test]
    fn boxes_cover_the_array_once() {
        for (shape, chunks, budget) in [
            (vec![10, 7, 9], vec![3, 7, 9], 200),
            (vec![10, 7, 9], vec![3, 4, 5], 50),
            (vec![10, 7, 9], vec![3, 4, 5], 10),
            (vec![5, 6], vec![2, 6], 1000),
            (vec![17], vec![4], 9),
        ] {
            let boxes = Boxes::new(&shape, &chunks, budget);
            let total: usize = shape.iter().product();
            let mut seen = vec![0u8; total];
            for (start, stop) in boxes.iter() {
                let size: usize = start.iter().zip(&stop).map(|(a, b)| b - a).product();
                let runs = boxes.runs(&start, &stop);
                assert_eq!(runs.iter().map(|r| r.1).sum::<usize>(), size);
                for (offset, len) in runs {
                    seen[offset..offset + len].iter_mut().for_each(|s| *s += 1);
                }
                // Whole chunks, except at the array's end.
                for i in 0..shape.len() {
                    assert_eq!(start[i] % chunks[i], 0, "{shape:?} {chunks:?}");
                    assert!(stop[i] == shape[i] || stop[i] % chunks[i] == 0);
                }
            }
            assert!(
                seen.iter().all(|&s| s == 1),
                "{shape:?} {chunks:?} {budget}"
            );
            assert_eq!(boxes.count(), boxes.iter().count());
        }
    }

    /// The range pass gives the same minimum and maximum whatever the piece size, skips
    /// NaN and infinities, and says when nothing is finite.
    #[test]
    fn finite_range_streams_over_pieces() {
        let dir = std::env::temp_dir().join(format!("blosc2-vq-cli-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("range.npy");
        let mut values: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 - 50.5).collect();
        values[3] = f32::NAN;
        values[500] = f32::INFINITY;
        values[999] = f32::NEG_INFINITY;
        values[640] = -70.25;
        values[10] = 80.5;
        let a = ndarray::Array2::from_shape_vec((10, 100), values).unwrap();
        ndarray_npy::write_npy(&path, &a).unwrap();
        let reader = NpyReader::open(&path).unwrap();
        for piece in [1, 7, 100, 999, 1000, 1 << 20] {
            let mut seen = 0;
            let range = reader.finite_range(piece, |n| seen += n).unwrap();
            assert_eq!(range, Some((-70.25, 80.5)), "piece {piece}");
            assert_eq!(seen, 1000);
        }
        let nan = ndarray::Array1::from_elem(5, f64::NAN);
        ndarray_npy::write_npy(&path, &nan).unwrap();
        let reader = NpyReader::open(&path).unwrap();
        assert_eq!(reader.finite_range(2, |_| ()).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn headers_parse_or_say_why() {
        let (d, f, s) = parse_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (400, 64, 64), }    \n",
        )
        .unwrap();
        assert_eq!((d.as_str(), f, s), ("<f4", false, vec![400, 64, 64]));
        assert_eq!(
            parse_header("{'descr': '|u1', 'fortran_order': True, 'shape': (), }")
                .unwrap()
                .2,
            Vec::<usize>::new()
        );
        assert!(parse_header("{'descr': '<f4', 'shape': (3,), }").is_err());
        assert!(parse_header("[1, 2]").is_err());
        assert!(
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }").is_err()
        );
        assert_eq!(Dtype::from_numpy("<f8"), Some(Dtype::F64));
        assert_eq!(Dtype::from_numpy(">f8"), None);
        assert_eq!(Dtype::from_numpy("<i4"), None);
    }
}
