//! ZFP (the lossy codec c-blosc2 ships as a plugin) on 2-D float32 images, through `zfp-sys`,
//! as the peer blosc2-vq is measured against. Each image is compressed on its own, as c-blosc2
//! compresses each (1, 64, 64) block.

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
    pub streams: Vec<Vec<u8>>,
    pub height: usize,
    pub width: usize,
    pub mode: ZfpMode,
}

impl ZfpImages {
    /// Total compressed bytes.
    pub fn nbytes(&self) -> usize {
        self.streams.iter().map(Vec::len).sum()
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
