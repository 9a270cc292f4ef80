//! Random training tiles from images or volumes, like scikit-learn's `PatchExtractor`
//! followed by a seeded random choice.

use crate::error::{Error, Result};
use ndarray::ArrayViewD;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
    crate::codebook::check_tile_shape(tile_shape)
        .map_err(|reason| Error::param("tile_shape", reason))?;
    let t = tile_shape.len();
    let shape = data.shape();
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
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidData(
            "the data contain NaN or infinity".into(),
        ));
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

    // Work on a standard-layout copy so that positions map to flat offsets.
    let data = data.as_standard_layout();
    let flat = data.as_slice().expect("standard layout");
    let image_len: usize = spatial.iter().product();
    let p: usize = tile_shape.iter().product();
    let mut strides = vec![1usize; t];
    for i in (0..t.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * spatial[i + 1];
    }
    let mut out = Vec::with_capacity(chosen.len() * p);
    let mut origin = vec![0usize; t];
    let mut offset = vec![0usize; t];
    for &c in &chosen {
        let image = c / per_image;
        let mut rem = c % per_image;
        for i in (0..t).rev() {
            origin[i] = rem % positions[i];
            rem /= positions[i];
        }
        let base = image * image_len;
        offset.iter_mut().for_each(|o| *o = 0);
        for _ in 0..p {
            let idx: usize = (0..t).map(|i| (origin[i] + offset[i]) * strides[i]).sum();
            out.push(flat[base + idx]);
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
    Ok((out, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

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

    #[test]
    fn bad_data_is_an_error() {
        let data = ArrayD::from_elem(IxDyn(&[3, 3]), f64::NAN);
        assert!(sample_tiles(&data.view(), &[2, 2], 4, 0).is_err());
        let data = ArrayD::from_elem(IxDyn(&[3, 3]), 0.0);
        assert!(sample_tiles(&data.view(), &[4, 4], 4, 0).is_err());
        assert!(sample_tiles(&data.view(), &[2, 2, 2], 4, 0).is_err());
    }
}
