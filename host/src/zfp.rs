//! ZFP (the lossy codec c-blosc2 ships as a plugin) through `zfp-sys`, as the peer blosc2-vq
//! is measured against:
//!
//! - 2-D float32 images ([`compress`], [`decompress`]): each image is compressed on its own, as
//!   c-blosc2 compresses each (1, 64, 64) block;
//! - 3-D float64 volumes ([`compress_3d_f64`], [`decompress_3d_f64`], and for a batch of volumes
//!   of one shape, such as `n` VDFs of `side³`, [`compress_volumes_f64`] and
//!   [`decompress_volumes_f64`]): one ZFP stream per volume, as `zfpy.compress_numpy` makes for a
//!   3-D array.
//!
//! The streams carry no ZFP header: the shape and [`ZfpMode`] live in the Rust value.

use zfp_sys as z;

/// How ZFP spends its bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZfpMode {
    /// A fixed number of bits per value.
    Rate(f64),
    /// An absolute error tolerance.
    Accuracy(f64),
}

impl std::fmt::Display for ZfpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZfpMode::Rate(r) => write!(f, "ZFP rate {r}"),
            ZfpMode::Accuracy(t) => write!(f, "ZFP accuracy {t}"),
        }
    }
}

/// Compressed images: one ZFP stream per image.
pub struct ZfpImages {
    /// One ZFP stream per image.
    pub streams: Vec<Vec<u8>>,
    /// Image height (rows).
    pub height: usize,
    /// Image width (the fastest axis).
    pub width: usize,
    /// The mode the streams were written with (decompression needs it).
    pub mode: ZfpMode,
}

impl ZfpImages {
    /// Total compressed bytes.
    pub fn nbytes(&self) -> usize {
        self.streams.iter().map(Vec::len).sum()
    }
}

/// Opens a ZFP stream (with no bit stream yet) set to `mode`, for values of type `ty` in
/// `dims` dimensions (fixed rate depends on both). The caller closes it.
fn open_zfp(mode: ZfpMode, ty: z::zfp_type, dims: u32) -> *mut z::zfp_stream {
    // SAFETY: a NULL bitstream is allowed at open; the setters only write the stream's fields.
    unsafe {
        let zfp = z::zfp_stream_open(std::ptr::null_mut());
        assert!(!zfp.is_null(), "zfp_stream_open failed");
        match mode {
            ZfpMode::Rate(r) => {
                z::zfp_stream_set_rate(zfp, r, ty, dims, 0);
            }
            ZfpMode::Accuracy(t) => {
                z::zfp_stream_set_accuracy(zfp, t);
            }
        }
        zfp
    }
}

/// Attaches `buffer` to `zfp` as its bit stream, rewound. The caller closes the returned
/// bitstream, before `buffer` goes.
fn attach_buffer(zfp: *mut z::zfp_stream, buffer: &mut [u8]) -> *mut z::bitstream {
    // SAFETY: zfp is an open stream; buffer outlives the bitstream (the callers' contract).
    unsafe {
        let bs = z::stream_open(buffer.as_mut_ptr().cast(), buffer.len());
        assert!(!bs.is_null(), "stream_open failed");
        z::zfp_stream_set_bit_stream(zfp, bs);
        z::zfp_stream_rewind(zfp);
        bs
    }
}

fn open_stream(mode: ZfpMode, buffer: &mut [u8]) -> (*mut z::zfp_stream, *mut z::bitstream) {
    // SAFETY: a NULL bitstream is allowed at open; buffer outlives the returned stream, which
    // the callers close before returning.
    unsafe {
        let zfp = z::zfp_stream_open(std::ptr::null_mut());
        match mode {
            ZfpMode::Rate(r) => {
                z::zfp_stream_set_rate(zfp, r, z::zfp_type_zfp_type_float, 2, 0);
            }
            ZfpMode::Accuracy(t) => {
                z::zfp_stream_set_accuracy(zfp, t);
            }
        }
        let bs = z::stream_open(buffer.as_mut_ptr().cast(), buffer.len());
        z::zfp_stream_set_bit_stream(zfp, bs);
        z::zfp_stream_rewind(zfp);
        (zfp, bs)
    }
}

/// Compresses `images` (`n × height × width`, C order) image by image.
pub fn compress(images: &[f32], height: usize, width: usize, mode: ZfpMode) -> ZfpImages {
    let plane = height * width;
    let streams = images
        .chunks_exact(plane)
        .map(|img| {
            let mut buf = vec![0u8; plane * 4 * 2 + 1024];
            let (zfp, bs) = open_stream(mode, &mut buf);
            // SAFETY: img holds height × width floats (ZFP only reads them when compressing);
            // field, stream and bitstream are freed here.
            let n = unsafe {
                let field = z::zfp_field_2d(
                    img.as_ptr() as *mut _,
                    z::zfp_type_zfp_type_float,
                    width,
                    height,
                );
                let n = z::zfp_compress(zfp, field);
                z::zfp_field_free(field);
                z::zfp_stream_close(zfp);
                z::stream_close(bs);
                n
            };
            assert!(n > 0, "zfp_compress failed");
            buf.truncate(n);
            buf
        })
        .collect();
    ZfpImages {
        streams,
        height,
        width,
        mode,
    }
}

/// Decompresses every image into `out` (`n × height × width`).
pub fn decompress(images: &ZfpImages, out: &mut [f32]) {
    let plane = images.height * images.width;
    for (stream, img) in images.streams.iter().zip(out.chunks_exact_mut(plane)) {
        let mut buf = stream.clone();
        let (zfp, bs) = open_stream(images.mode, &mut buf);
        // SAFETY: img has room for height × width floats; everything opened here is freed here.
        let n = unsafe {
            let field = z::zfp_field_2d(
                img.as_mut_ptr().cast(),
                z::zfp_type_zfp_type_float,
                images.width,
                images.height,
            );
            let n = z::zfp_decompress(zfp, field);
            z::zfp_field_free(field);
            z::zfp_stream_close(zfp);
            z::stream_close(bs);
            n
        };
        assert!(n > 0, "zfp_decompress failed");
    }
}

/// One compressed 3-D float64 volume: a single ZFP stream, C order (`nx` the fastest axis).
#[derive(Debug, Clone, PartialEq)]
pub struct ZfpVolume {
    /// The ZFP stream (no header).
    pub stream: Vec<u8>,
    /// Slowest axis.
    pub nz: usize,
    /// Middle axis.
    pub ny: usize,
    /// Fastest axis (contiguous in memory).
    pub nx: usize,
    /// The mode the stream was written with (decompression needs it).
    pub mode: ZfpMode,
}

impl ZfpVolume {
    /// Compressed bytes.
    pub fn nbytes(&self) -> usize {
        self.stream.len()
    }

    /// Number of values in the volume (`nz · ny · nx`).
    pub fn len(&self) -> usize {
        self.nz * self.ny * self.nx
    }

    /// Whether the volume holds no values (never, for what [`compress_3d_f64`] returns).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Uncompressed bytes over compressed bytes.
    pub fn ratio(&self) -> f64 {
        (self.len() * 8) as f64 / self.nbytes() as f64
    }
}

/// Compresses one `nz × ny × nx` float64 volume (C order: `values[(z · ny + y) · nx + x]`) as a
/// single ZFP stream. With [`ZfpMode::Accuracy`]`(t)` every value comes back within `t` (ZFP's
/// fixed-accuracy mode, zfpy's `tolerance=t`); with [`ZfpMode::Rate`]`(r)`, the stream takes
/// `r` bits per value (rounded up to whole 4×4×4 blocks).
///
/// # Panics
/// If `values.len() != nz · ny · nx`, an axis is 0, or ZFP fails.
pub fn compress_3d_f64(
    values: &[f64],
    nz: usize,
    ny: usize,
    nx: usize,
    mode: ZfpMode,
) -> ZfpVolume {
    assert!(nz > 0 && ny > 0 && nx > 0, "empty volume {nz}×{ny}×{nx}");
    assert_eq!(
        values.len(),
        nz * ny * nx,
        "values for a {nz}×{ny}×{nx} volume"
    );
    let ty = z::zfp_type_zfp_type_double;
    let zfp = open_zfp(mode, ty, 3);
    // SAFETY: values holds nx·ny·nz doubles, which ZFP only reads when compressing (the *mut is
    // what the C signature asks for); field, bitstream and stream are freed here, and buf
    // outlives the bitstream.
    let (n, mut buf) = unsafe {
        // ZFP's x is the fastest axis, so (nx, ny, nz) describes a C-order (nz, ny, nx) array.
        let field = z::zfp_field_3d(values.as_ptr() as *mut _, ty, nx, ny, nz);
        assert!(!field.is_null(), "zfp_field_3d failed");
        let max = z::zfp_stream_maximum_size(zfp, field);
        let mut buf = vec![0u8; max.max(64)];
        let bs = attach_buffer(zfp, &mut buf);
        let n = z::zfp_compress(zfp, field);
        z::zfp_field_free(field);
        z::zfp_stream_close(zfp);
        z::stream_close(bs);
        (n, buf)
    };
    assert!(n > 0, "zfp_compress failed");
    buf.truncate(n);
    ZfpVolume {
        stream: buf,
        nz,
        ny,
        nx,
        mode,
    }
}

/// Decompresses `volume` into `out` (`nz · ny · nx` values, C order).
///
/// # Panics
/// If `out` is not the volume's size, or ZFP fails.
pub fn decompress_3d_f64(volume: &ZfpVolume, out: &mut [f64]) {
    assert_eq!(out.len(), volume.len(), "room for the volume's values");
    let ty = z::zfp_type_zfp_type_double;
    let zfp = open_zfp(volume.mode, ty, 3);
    let mut buf = volume.stream.clone();
    // SAFETY: out has room for nx·ny·nz doubles; everything opened here is freed here, and buf
    // outlives the bitstream.
    let n = unsafe {
        let bs = attach_buffer(zfp, &mut buf);
        let field = z::zfp_field_3d(out.as_mut_ptr().cast(), ty, volume.nx, volume.ny, volume.nz);
        assert!(!field.is_null(), "zfp_field_3d failed");
        let n = z::zfp_decompress(zfp, field);
        z::zfp_field_free(field);
        z::zfp_stream_close(zfp);
        z::stream_close(bs);
        n
    };
    assert!(n > 0, "zfp_decompress failed");
}

/// A batch of compressed 3-D float64 volumes of one shape (say `n` VDFs of `side³`), one ZFP
/// stream each.
#[derive(Debug, Clone, PartialEq)]
pub struct ZfpVolumes {
    /// One compressed volume per input volume, in order.
    pub volumes: Vec<ZfpVolume>,
}

impl ZfpVolumes {
    /// Total compressed bytes.
    pub fn nbytes(&self) -> usize {
        self.volumes.iter().map(ZfpVolume::nbytes).sum()
    }

    /// Number of volumes.
    pub fn len(&self) -> usize {
        self.volumes.len()
    }

    /// Whether there are no volumes.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }

    /// Total number of values (`n · nz · ny · nx`).
    pub fn values(&self) -> usize {
        self.volumes.iter().map(ZfpVolume::len).sum()
    }

    /// Uncompressed bytes over compressed bytes, for the whole batch.
    pub fn ratio(&self) -> f64 {
        (self.values() * 8) as f64 / self.nbytes() as f64
    }
}

/// Compresses `n` volumes of `nz × ny × nx` float64 (`values` is C order `(n, nz, ny, nx)`),
/// each as its own stream with [`compress_3d_f64`]. [`ZfpVolumes::nbytes`] is the total.
///
/// # Panics
/// If `values.len() != n · nz · ny · nx`, or as [`compress_3d_f64`] does.
pub fn compress_volumes_f64(
    values: &[f64],
    n: usize,
    nz: usize,
    ny: usize,
    nx: usize,
    mode: ZfpMode,
) -> ZfpVolumes {
    let per = nz * ny * nx;
    assert_eq!(
        values.len(),
        n * per,
        "values for {n} volumes of {nz}×{ny}×{nx}"
    );
    let volumes = if n == 0 {
        Vec::new()
    } else {
        values
            .chunks_exact(per)
            .map(|v| compress_3d_f64(v, nz, ny, nx, mode))
            .collect()
    };
    ZfpVolumes { volumes }
}

/// Decompresses every volume into `out` (C order `(n, nz, ny, nx)`).
///
/// # Panics
/// If `out` is not the batch's size, or ZFP fails.
pub fn decompress_volumes_f64(volumes: &ZfpVolumes, out: &mut [f64]) {
    assert_eq!(out.len(), volumes.values(), "room for the batch's values");
    let mut rest = out;
    for v in &volumes.volumes {
        let (head, tail) = rest.split_at_mut(v.len());
        decompress_3d_f64(v, head);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth field of order 1 on an `nz × ny × nx` grid.
    fn smooth(nz: usize, ny: usize, nx: usize, phase: f64) -> Vec<f64> {
        let mut v = Vec::with_capacity(nz * ny * nx);
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let (x, y, zz) = (
                        i as f64 / nx as f64,
                        j as f64 / ny as f64,
                        k as f64 / nz as f64,
                    );
                    v.push(
                        (-(x - 0.5).powi(2) * 4.0
                            - (y - 0.4).powi(2) * 6.0
                            - (zz - 0.6).powi(2) * 3.0)
                            .exp()
                            + 0.3 * (6.0 * x + phase).sin() * (4.0 * y).cos() * (1.0 + zz),
                    );
                }
            }
        }
        v
    }

    fn max_err(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn accuracy_round_trip_3d() {
        // Axes of different lengths, not multiples of 4, so that a swapped axis or a partial
        // block would show.
        let (nz, ny, nx) = (18, 25, 33);
        let values = smooth(nz, ny, nx, 0.0);
        let tol = 1e-3;
        let vol = compress_3d_f64(&values, nz, ny, nx, ZfpMode::Accuracy(tol));
        let mut out = vec![0.0; values.len()];
        decompress_3d_f64(&vol, &mut out);
        let err = max_err(&values, &out);
        assert!(err <= tol, "max error {err} > {tol}");
        assert!(err > 0.0, "lossy at this tolerance");
        let raw = values.len() * 8;
        assert!(vol.nbytes() * 8 < raw, "{} bytes of {raw}", vol.nbytes());
        assert!(vol.ratio() > 8.0);
    }

    #[test]
    fn values_land_in_place() {
        // Each value encodes its (z, y, x), on axes that are not multiples of 4 (partial blocks
        // on every side): a tight tolerance must give every value back at its own index.
        let (nz, ny, nx) = (5, 7, 9);
        let values: Vec<f64> = (0..nz * ny * nx)
            .map(|i| {
                (i % nx) as f64 + 10.0 * ((i / nx) % ny) as f64 + 100.0 * (i / (ny * nx)) as f64
            })
            .collect();
        let vol = compress_3d_f64(&values, nz, ny, nx, ZfpMode::Accuracy(1e-9));
        let mut out = vec![0.0; values.len()];
        decompress_3d_f64(&vol, &mut out);
        assert!(max_err(&values, &out) <= 1e-9);
    }

    #[test]
    fn rate_and_batch() {
        let side = 16;
        let per = side * side * side;
        let values: Vec<f64> = (0..3)
            .flat_map(|p| smooth(side, side, side, p as f64))
            .collect();
        let batch = compress_volumes_f64(&values, 3, side, side, side, ZfpMode::Rate(8.0));
        assert_eq!(batch.len(), 3);
        // Fixed rate: 8 bits per value, exactly, for sides that are multiples of 4.
        assert_eq!(batch.nbytes(), 3 * per);
        let mut out = vec![0.0; values.len()];
        decompress_volumes_f64(&batch, &mut out);
        let err = max_err(&values, &out);
        assert!(err < 1e-2, "max error {err} at rate 8");
        // Each volume is its own stream: decompressing the second alone gives the same values.
        let mut second = vec![0.0; per];
        decompress_3d_f64(&batch.volumes[1], &mut second);
        assert_eq!(second, out[per..2 * per]);
    }
}
