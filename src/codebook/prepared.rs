//! A codebook made ready for coding: everything the encoder and decoder need per block,
//! computed once.

use super::Codebook;
use crate::error::Result;
use crate::kinds::{Basis, Coder};

/// A validated codebook with its per-block constants precomputed (the scaler in float32,
/// the prototypes in value space, and its kind's search structures).
#[derive(Debug)]
pub struct PreparedCodebook {
    pub(crate) codebook: Codebook,
    pub(crate) basis: Basis,
    pub(crate) coder: Box<dyn Coder>,
    /// The low 32 bits of the codebook fingerprint, stamped into every block.
    pub(crate) fingerprint32: u32,
}

impl PreparedCodebook {
    /// Parses, validates and prepares codebook bytes (see [`Codebook::from_msgpack`]).
    pub fn from_msgpack(bytes: &[u8]) -> Result<Self> {
        // Loading validated it already.
        Ok(Self::prepare(Codebook::from_msgpack(bytes)?))
    }

    /// Validates and prepares a codebook.
    pub fn new(codebook: Codebook) -> Result<Self> {
        codebook.validate()?;
        Ok(Self::prepare(codebook))
    }

    /// Prepares a validated codebook.
    fn prepare(codebook: Codebook) -> Self {
        let basis = Basis::new(&codebook);
        let coder = codebook.kind().room().prepare(&codebook, &basis);
        PreparedCodebook {
            fingerprint32: codebook.fingerprint() as u32,
            codebook,
            basis,
            coder,
        }
    }

    /// The codebook itself.
    pub fn codebook(&self) -> &Codebook {
        &self.codebook
    }

    /// The tile shape.
    pub fn tile_shape(&self) -> &[usize] {
        &self.basis.tile_shape
    }

    /// The low 32 bits of the fingerprint, which every block carries.
    pub fn fingerprint32(&self) -> u32 {
        self.fingerprint32
    }
}
