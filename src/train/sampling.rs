//! Random training tiles from images or volumes, like scikit-learn's `PatchExtractor`
//! followed by a seeded random choice.

use crate::error::{Error, Result};
use ndarray::ArrayViewD;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Values of a C-order array that training reads its tiles from without holding the array:
/// a file read piece by piece (the CLI's `.npy` reader), a memory map, a simulation's buffers.
pub trait ValueSource {
    /// The array's shape.
    fn shape(&self) -> &[usize];
    /// Fills `out` with the values at flat (C-order) offsets `offset..offset + out.len()`.
    fn read(&mut self, offset: usize, out: &mut [f64]) -> Result<()>;
}

/// Which tiles a seeded draw takes from an array: their flat positions, and the geometry to
/// turn a position into an image and an origin.
struct Draw {
    /// Tile positions, in the order the tiles are returned.
    chosen: Vec<usize>,
    /// Tile positions per image axis (`image side - tile side + 1`).
    positions: Vec<usize>,
    per_image: usize,
    /// Values per image.
    image_len: usize,
    /// Strides of the image axes, in values.
    strides: Vec<usize>,
    /// Values per tile.
    p: usize,
}

impl Draw {
    fn new(shape: &[usize], tile_shape: &[usize], n_samples: usize, seed: u64) -> Result<Self> {
        crate::codebook::check_tile_shape(tile_shape)
            .map_err(|reason| Error::param("tile_shape", reason))?;
        let t = tile_shape.len();
        if shape.len() < t {
            return Err(Error::InvalidData(format!(
                "a {}-D array cannot hold {t}-D tiles {tile_shape:?}",
                shape.len()
            )));
        }
        let split = shape.len() - t;
        let spatial = &shape[split..];
        if spatial.iter().zip(tile_shape).any(|(&d, &s)| s > d) {
            return Err(Error::InvalidData(format!(
                "tiles {tile_shape:?} are larger than the images {spatial:?}"
            )));
        }
        let n_images: usize = shape[..split].iter().product();
        let positions: Vec<usize> = spatial
            .iter()
            .zip(tile_shape)
            .map(|(&d, &s)| d - s + 1)
            .collect();
        let per_image: usize = positions.iter().product();
        let total = n_images
            .checked_mul(per_image)
            .ok_or_else(|| Error::InvalidData("too many tile positions".into()))?;
        if total == 0 {
            return Err(Error::InvalidData("the data hold no tile".into()));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let chosen: Vec<usize> = if n_samples >= total {
            (0..total).collect()
        } else {
            rand::seq::index::sample(&mut rng, total, n_samples).into_vec()
        };
        let mut strides = vec![1usize; t];
        for i in (0..t.saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * spatial[i + 1];
        }
        Ok(Draw {
            chosen,
            positions,
            per_image,
            image_len: spatial.iter().product(),
            strides,
            p: tile_shape.iter().product(),
        })
    }

    /// The image of tile position `c`, and the tile's origin in it.
    fn locate(&self, c: usize, origin: &mut [usize]) -> usize {
        let mut rem = c % self.per_image;
        for i in (0..origin.len()).rev() {
            origin[i] = rem % self.positions[i];
            rem /= self.positions[i];
        }
        c / self.per_image
    }

    /// Copies the tile at `origin` out of `values`, whose element 0 is the image's value at
    /// flat offset `base` (an image or a band of rows of it), to `out`.
    fn copy_tile(
        &self,
        tile_shape: &[usize],
        values: &[f64],
        base: usize,
        origin: &[usize],
        out: &mut [f64],
    ) {
        let t = tile_shape.len();
        let mut offset = [0usize; crate::codebook::MAX_TILE_DIMS];
        for v in out.iter_mut() {
            let idx: usize = (0..t)
                .map(|i| (origin[i] + offset[i]) * self.strides[i])
                .sum();
            *v = values[idx - base];
            // Advance the odometer over the tile, last axis fastest (C order).
            for i in (0..t).rev() {
                offset[i] += 1;
                if offset[i] < tile_shape[i] {
                    break;
                }
                offset[i] = 0;
            }
        }
    }
}

/// Draws `n_samples` distinct tiles of `tile_shape` from `data`, uniformly over every
/// position (stride 1) of every image, and returns them as rows (`n × tile values`).
///
/// The last `tile_shape.len()` axes of `data` are the image axes; leading axes index images.
/// When fewer positions exist than `n_samples`, every position is used.
pub fn sample_tiles(
    data: &ArrayViewD<'_, f64>,
    tile_shape: &[usize],
    n_samples: usize,
    seed: u64,
) -> Result<(Vec<f64>, usize)> {
    let draw = Draw::new(data.shape(), tile_shape, n_samples, seed)?;
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidData(
            "the data contain NaN or infinity".into(),
        ));
    }
    // Work on a standard-layout copy so that positions map to flat offsets.
    let data = data.as_standard_layout();
    let flat = data.as_slice().expect("standard layout");
    let p = draw.p;
    let mut out = vec![0.0; draw.chosen.len() * p];
    let mut origin = vec![0usize; tile_shape.len()];
    for (&c, tile) in draw.chosen.iter().zip(out.chunks_exact_mut(p)) {
        let image = draw.locate(c, &mut origin);
        let values = &flat[image * draw.image_len..(image + 1) * draw.image_len];
        draw.copy_tile(tile_shape, values, 0, &origin, tile);
    }
    Ok((out, p))
}

/// Images up to this many values are read whole by [`sample_tiles_from`]; larger ones a band
/// of rows (the tile's height) at a time.
const WHOLE_IMAGE_VALUES: usize = 1 << 20;

/// [`sample_tiles`] from a [`ValueSource`]: the same tiles in the same order for the same
/// array, while holding only the tiles and one image (or one band of an image's rows, for
/// images over 2^20 values). Each image or band holding a drawn tile is read once.
///
/// Only the drawn tiles are checked for NaN and infinity (the encoder checks every block).
pub fn sample_tiles_from(
    source: &mut dyn ValueSource,
    tile_shape: &[usize],
    n_samples: usize,
    seed: u64,
) -> Result<(Vec<f64>, usize)> {
    let draw = Draw::new(source.shape(), tile_shape, n_samples, seed)?;
    let p = draw.p;
    let t = tile_shape.len();
    let whole = draw.image_len <= WHOLE_IMAGE_VALUES;
    // A band: tile_shape[0] rows along the first image axis, starting at the tile's origin.
    let band_len = tile_shape[0] * draw.strides[0];
    let mut origin = vec![0usize; t];
    // The unit each tile is read in (image, or image and first-axis origin), then the tile's
    // place in the output.
    let mut order: Vec<(usize, usize)> = draw
        .chosen
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let image = draw.locate(c, &mut origin);
            let unit = if whole {
                image
            } else {
                image * draw.positions[0] + origin[0]
            };
            (unit, k)
        })
        .collect();
    order.sort_unstable();
    let mut out = vec![0.0; draw.chosen.len() * p];
    let mut buffer = vec![0.0; if whole { draw.image_len } else { band_len }];
    let mut loaded = usize::MAX;
    let mut base = 0;
    for &(unit, k) in &order {
        let image = draw.locate(draw.chosen[k], &mut origin);
        if unit != loaded {
            base = if whole {
                0
            } else {
                origin[0] * draw.strides[0]
            };
            source.read(image * draw.image_len + base, &mut buffer)?;
            loaded = unit;
        }
        let tile = &mut out[k * p..(k + 1) * p];
        draw.copy_tile(tile_shape, &buffer, base, &origin, tile);
        if tile.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidData(
                "the data contain NaN or infinity".into(),
            ));
        }
    }
    Ok((out, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, Dimension, IxDyn};

    #[test]
    fn tiles_are_real_windows() {
        let data = ArrayD::from_shape_fn(IxDyn(&[3, 6, 5]), |ix| {
            (ix[0] * 100 + ix[1] * 10 + ix[2]) as f64
        });
        let (tiles, p) = sample_tiles(&data.view(), &[2, 2], 10, 1).unwrap();
        assert_eq!(p, 4);
        for t in tiles.chunks(4) {
            assert_eq!(t[1] - t[0], 1.0);
            assert_eq!(t[2] - t[0], 10.0);
            assert_eq!(t[3] - t[0], 11.0);
        }
        let again = sample_tiles(&data.view(), &[2, 2], 10, 1).unwrap().0;
        assert_eq!(tiles, again);
        let all = sample_tiles(&data.view(), &[2, 2], 10_000, 1).unwrap().0;
        assert_eq!(all.len(), 3 * 5 * 4 * 4);
    }

    /// An array behind [`ValueSource`], counting the values read.
    struct Counted<'a> {
        shape: Vec<usize>,
        flat: &'a [f64],
        read: usize,
    }

    impl ValueSource for Counted<'_> {
        fn shape(&self) -> &[usize] {
            &self.shape
        }
        fn read(&mut self, offset: usize, out: &mut [f64]) -> Result<()> {
            out.copy_from_slice(&self.flat[offset..offset + out.len()]);
            self.read += out.len();
            Ok(())
        }
    }

    #[test]
    fn a_source_gives_the_tiles_of_the_array() {
        for (shape, tile) in [
            (vec![7, 9, 11], vec![2, 3]),
            (vec![3, 5, 6, 7], vec![2, 2, 3]),
            (vec![40], vec![1]),
            (vec![2, 1100, 1000], vec![4, 4]),
        ] {
            let data = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
                (0..ix.ndim()).fold(0.0, |a, i| a * 31.0 + ix[i] as f64)
            });
            for n in [5, 50, 1_000_000] {
                let (want, p) = sample_tiles(&data.view(), &tile, n, 3).unwrap();
                let mut source = Counted {
                    shape: shape.clone(),
                    flat: data.as_slice().unwrap(),
                    read: 0,
                };
                let (got, q) = sample_tiles_from(&mut source, &tile, n, 3).unwrap();
                assert_eq!((got, q), (want, p), "{shape:?} {tile:?} {n}");
                // Never more than the array plus one band per drawn tile.
                assert!(
                    source.read <= data.len() * tile[0],
                    "{shape:?}: read {}",
                    source.read
                );
            }
        }
    }

    #[test]
    fn bad_data_is_an_error() {
        let data = ArrayD::from_elem(IxDyn(&[3, 3]), f64::NAN);
        assert!(sample_tiles(&data.view(), &[2, 2], 4, 0).is_err());
        let data = ArrayD::from_elem(IxDyn(&[3, 3]), 0.0);
        assert!(sample_tiles(&data.view(), &[4, 4], 4, 0).is_err());
        assert!(sample_tiles(&data.view(), &[2, 2, 2], 4, 0).is_err());
        let mut nan = vec![0.0; 16];
        nan[5] = f64::NAN;
        let mut source = Counted {
            shape: vec![4, 4],
            flat: &nan,
            read: 0,
        };
        assert!(sample_tiles_from(&mut source, &[4, 4], 1, 0).is_err());
    }
}
