//! # blosc2-vq
//!
//! A lossy vector-quantization codec for [Blosc2](https://www.blosc.org), loaded by c-blosc2
//! as a user codec (dynamically, as `libblosc2_vq.so`, or registered by hand).
//!
//! The pipeline, one module per step:
//! - [`train`]: sample tiles from data, standardize them, fit a model → a
//!   [`codebook::Codebook`];
//! - [`kinds`]: one room per codebook kind (Fuzzy C-Means, Archetypal Analysis, k-means,
//!   residual VQ, scalar quantizers): its parameters and defaults, its fit, its checks, and
//!   how it codes tiles;
//! - [`codebook`]: the codebook's MessagePack form (the SChunk's `vq` metalayer), validation,
//!   and a cache of prepared codebooks;
//! - [`tiles`]: a block's geometry (from the `b2nd` metalayer) and its cut into tiles;
//! - [`block`]: the packed block (header + bit-packed, LZ4-compressed codes) and back;
//! - [`codec`]: c-blosc2's codec contract in safe Rust;
//! - [`ffi`]: the C surface (the only place with `unsafe`).
//!
//! ```no_run
//! use blosc2_vq::train::{CodebookParams, ModelParams, ArchetypalParams};
//! # let images = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[400, 64, 64]));
//! let codebook = CodebookParams::new(ModelParams::Archetypal(ArchetypalParams::new(36)))
//!     .tile_shape(&[4, 4])
//!     .n_samples(1000)
//!     .fit(&images.view())?;
//! let metalayer: Vec<u8> = codebook.to_msgpack(); // store as the SChunk's "vq" metalayer
//! # Ok::<(), blosc2_vq::Error>(())
//! ```

#![deny(missing_docs)]

pub mod block;
pub mod choose;
pub mod codebook;
pub mod codec;
pub mod engine;
pub mod entropy;
pub mod error;
pub mod ffi;
pub mod kernels;
pub mod kinds;
pub mod metrics;
mod scratch;
pub mod tiles;
pub mod train;
mod weights;

pub use codebook::Codebook;
pub use error::{Error, Result};
