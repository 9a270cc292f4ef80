//! Blocks as tiles: the block's geometry and dtype, and the cut into tiles and back.
#![forbid(unsafe_code)]

pub mod dtype;
pub mod geometry;
pub mod grid;

pub use dtype::Dtype;
pub use geometry::{parse_b2nd_meta, resolve_layout, B2ndMeta, BlockLayout, HostLayout};
pub use grid::{check_tile_fits, TileGrid};
