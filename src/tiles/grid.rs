//! Cutting a block into tiles and putting it back together.
//!
//! A block of shape `(b..., d1, ..., dt)` is cut into tiles of shape `(t1, ..., tt)` over its
//! last `t` dimensions; leading dimensions are a batch. Sides that are not multiples of the
//! tile are padded by edge replication on the way in and cropped on the way out.

use crate::error::{Error, Result};

/// The tiling of one block: which tile covers which values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileGrid {
    /// Product of the leading (batch) dimensions.
    batch: usize,
    /// The tiled dimensions, padded to 3 with leading 1s.
    dims: [usize; 3],
    /// The tile shape, padded to 3 with leading 1s.
    tile: [usize; 3],
    /// Tiles along each of the 3 dimensions.
    counts: [usize; 3],
}

impl TileGrid {
    /// The grid for a block of `block_shape` (C order) and tiles of `tile_shape`.
    ///
    /// Fails when the tile has more dimensions than the block or when a size is zero. A tile
    /// side larger than the block's is padded (a short last block needs that); whether a
    /// codebook suits a full block is [`check_tile_fits`]'s question.
    pub fn new(block_shape: &[usize], tile_shape: &[usize]) -> Result<Self> {
        let t = tile_shape.len();
        if t == 0 || t > crate::codebook::MAX_TILE_DIMS {
            return Err(Error::InvalidGeometry(format!(
                "tile shape {tile_shape:?} must have 1 to {} dimensions",
                crate::codebook::MAX_TILE_DIMS
            )));
        }
        if block_shape.len() < t {
            return Err(Error::InvalidGeometry(format!(
                "the codebook's {t}-D tile {tile_shape:?} does not fit the {}-D block {block_shape:?}",
                block_shape.len()
            )));
        }
        if block_shape.contains(&0) || tile_shape.contains(&0) {
            return Err(Error::InvalidGeometry(format!(
                "zero-sized block {block_shape:?} or tile {tile_shape:?}"
            )));
        }
        let split = block_shape.len() - t;
        let batch = block_shape[..split]
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Error::InvalidGeometry("block shape overflows".into()))?;
        let mut dims = [1usize; 3];
        let mut tile = [1usize; 3];
        dims[3 - t..].copy_from_slice(&block_shape[split..]);
        tile[3 - t..].copy_from_slice(tile_shape);
        let counts = [0, 1, 2].map(|i| dims[i].div_ceil(tile[i]));
        // Make every later product safe to compute unchecked.
        let product = |v: &[usize]| v.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let values = product(&dims).and_then(|v| v.checked_mul(batch));
        let padded = product(&counts)
            .and_then(|c| c.checked_mul(batch))
            .and_then(|c| c.checked_mul(product(&tile)?));
        if values.and(padded).is_none() {
            return Err(Error::InvalidGeometry(format!(
                "block {block_shape:?} with tile {tile_shape:?} overflows"
            )));
        }
        let grid = TileGrid {
            batch,
            dims,
            tile,
            counts,
        };
        Ok(grid)
    }

    /// Number of tiles in the block.
    pub fn n_tiles(&self) -> usize {
        self.batch * self.counts.iter().product::<usize>()
    }

    /// Tiles along the block's last dimension (consecutive tiles are neighbours along it;
    /// tile `t - tiles_per_row` is above tile `t` unless `t` starts a new plane or batch).
    pub fn tiles_per_row(&self) -> usize {
        self.counts[2]
    }

    /// The length of the block's rows (its last dimension).
    pub fn row_len(&self) -> usize {
        self.dims[2]
    }

    /// Values per tile.
    pub fn tile_len(&self) -> usize {
        self.tile.iter().product()
    }

    /// Values in the block (before padding).
    pub fn n_values(&self) -> usize {
        self.batch * self.dims.iter().product::<usize>()
    }

    /// Copies `values` (the block, C order) into `tiles` (`n_tiles × tile_len`, row-major),
    /// replicating edge values into the padding.
    pub fn extract<T: Copy>(&self, values: &[T], tiles: &mut [T]) {
        assert_eq!(values.len(), self.n_values());
        assert_eq!(tiles.len(), self.n_tiles() * self.tile_len());
        self.for_each_tile_row(|src_start, dst_start, len_in, len_out| {
            let row = &values[src_start..src_start + len_in];
            let out = &mut tiles[dst_start..dst_start + len_out];
            out[..len_in].copy_from_slice(row);
            let last = row[len_in - 1];
            out[len_in..].fill(last);
        });
    }

    /// Writes `tiles` back into `values`, dropping the padding.
    pub fn assemble<T: Copy>(&self, tiles: &[T], values: &mut [T]) {
        assert_eq!(values.len(), self.n_values());
        assert_eq!(tiles.len(), self.n_tiles() * self.tile_len());
        self.for_each_tile_row(|src_start, dst_start, len_in, _| {
            values[src_start..src_start + len_in]
                .copy_from_slice(&tiles[dst_start..dst_start + len_in]);
        });
    }

    /// Calls `f(block_offset, tile_offset, valid_len, tile_row_len)` for every row (innermost
    /// run) of every tile. Rows of padding (beyond the block's edge in the outer dimensions)
    /// point at the last valid row, which is what edge replication means.
    fn for_each_tile_row(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        let [d0, d1, d2] = self.dims;
        let [t0, t1, t2] = self.tile;
        let [c0, c1, c2] = self.counts;
        let plane = d0 * d1 * d2;
        let mut tile_index = 0;
        for b in 0..self.batch {
            for i0 in 0..c0 {
                for i1 in 0..c1 {
                    for i2 in 0..c2 {
                        let tile_base = tile_index * t0 * t1 * t2;
                        let x2 = i2 * t2;
                        let len_in = t2.min(d2 - x2);
                        for r0 in 0..t0 {
                            let y0 = (i0 * t0 + r0).min(d0 - 1);
                            for r1 in 0..t1 {
                                let y1 = (i1 * t1 + r1).min(d1 - 1);
                                let src = b * plane + (y0 * d1 + y1) * d2 + x2;
                                let dst = tile_base + (r0 * t1 + r1) * t2;
                                f(src, dst, len_in, t2);
                            }
                        }
                        tile_index += 1;
                    }
                }
            }
        }
    }
}

/// Checks that tiles of `tile_shape` suit full blocks of `block_shape`: no more dimensions than
/// the block and no side longer than the block's.
pub fn check_tile_fits(block_shape: &[usize], tile_shape: &[usize]) -> Result<()> {
    let t = tile_shape.len();
    let fits = t >= 1
        && block_shape.len() >= t
        && block_shape[block_shape.len() - t..]
            .iter()
            .zip(tile_shape)
            .all(|(&d, &s)| s >= 1 && s <= d);
    if fits {
        Ok(())
    } else {
        Err(Error::InvalidGeometry(format!(
            "the codebook's tile {tile_shape:?} does not fit the block {block_shape:?}: \
             train a codebook with a tile of at most the block's last dimensions"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_padding() {
        for (shape, tile) in [
            (vec![6usize, 7], vec![4usize, 4]),
            (vec![3, 5, 9, 10], vec![4, 4, 4]),
            (vec![2, 13], vec![4]),
            (vec![8, 8], vec![4, 4]),
            (vec![2, 5, 6], vec![4, 4]),
        ] {
            let grid = TileGrid::new(&shape, &tile).unwrap();
            let n = grid.n_values();
            let values: Vec<f32> = (0..n).map(|v| v as f32).collect();
            let mut tiles = vec![f32::NAN; grid.n_tiles() * grid.tile_len()];
            grid.extract(&values, &mut tiles);
            assert!(tiles.iter().all(|v| v.is_finite()));
            let mut back = vec![-1.0; n];
            grid.assemble(&tiles, &mut back);
            assert_eq!(back, values, "shape {shape:?} tile {tile:?}");
        }
    }

    #[test]
    fn tile_layout_and_edge_replication() {
        // A 2x3 block cut into 2x2 tiles: the second tile repeats the last column.
        let grid = TileGrid::new(&[2, 3], &[2, 2]).unwrap();
        let mut tiles = vec![0.0; 8];
        grid.extract(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut tiles);
        assert_eq!(tiles, [1.0, 2.0, 4.0, 5.0, 3.0, 3.0, 6.0, 6.0]);
        // A 3x2 block: the bottom tile repeats the last row.
        let grid = TileGrid::new(&[3, 2], &[2, 2]).unwrap();
        let mut tiles = vec![0.0; 8];
        grid.extract(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut tiles);
        assert_eq!(tiles, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 5.0, 6.0]);
    }

    #[test]
    fn rejects_tiles_that_do_not_fit() {
        assert!(TileGrid::new(&[64], &[4, 4]).is_err());
        assert!(check_tile_fits(&[2, 64], &[4, 4]).is_err());
        assert!(check_tile_fits(&[64], &[4, 4]).is_err());
        assert!(check_tile_fits(&[8, 64, 64], &[4, 4]).is_ok());
        assert!(TileGrid::new(&[2, 64], &[4, 4]).is_ok());
        assert!(TileGrid::new(&[0, 64], &[4, 4]).is_err());
        assert!(TileGrid::new(&[usize::MAX, 64, 64], &[4, 4]).is_err());
    }
}
