//! How prototype values are stored in the codebook's MessagePack: an array of float64 (formats
//! 1 and 2, still read and re-written as they were so their fingerprints hold), or, from
//! format 3, one MessagePack `bin` of little-endian float32 (the default: the codec computes in
//! float32, so nothing is lost) or float16 (half the bytes again; the prototypes move by up to
//! 2^-11 relative, which error-bounded blocks absorb in their corrections). The two `bin`
//! forms are told apart by their length: `k × p` values of 4 or 2 bytes.

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How prototype values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrototypeStorage {
    /// A MessagePack array of float64 (formats 1 and 2).
    Float64,
    /// A `bin` of little-endian float32 (format 3's default).
    Float32,
    /// A `bin` of little-endian float16.
    Float16,
}

/// Prototype values, with the storage they were read in (or are to be written in).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prototypes {
    /// The values (exactly representable in `storage`).
    pub values: Vec<f64>,
    /// How they are stored.
    pub storage: PrototypeStorage,
    /// A `bin` read but not yet decoded ([`Prototypes::resolve`] needs the value count).
    raw: Option<Vec<u8>>,
}

impl Prototypes {
    /// `values` rounded to `storage`, once, so that what is fingerprinted is what is stored.
    pub fn stored_as(values: Vec<f64>, storage: PrototypeStorage) -> Self {
        let values = match storage {
            PrototypeStorage::Float64 => values,
            PrototypeStorage::Float32 => values.into_iter().map(|v| v as f32 as f64).collect(),
            PrototypeStorage::Float16 => values
                .into_iter()
                .map(|v| half::f16::from_f64(v).to_f64())
                .collect(),
        };
        Prototypes {
            values,
            storage,
            raw: None,
        }
    }

    /// Decodes a `bin` read from MessagePack, given the number of values the codebook
    /// declares (`n_prototypes × n_features`); its length says float32 or float16.
    pub fn resolve(&mut self, n: usize) -> Result<(), String> {
        let Some(raw) = self.raw.take() else {
            return Ok(());
        };
        if Some(raw.len()) == n.checked_mul(4) {
            self.storage = PrototypeStorage::Float32;
            self.values = raw
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect();
        } else if Some(raw.len()) == n.checked_mul(2) {
            self.storage = PrototypeStorage::Float16;
            self.values = raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect();
        } else {
            return Err(format!(
                "a {}-byte prototypes bin for {n} values (float32 needs {}, float16 {})",
                raw.len(),
                n.saturating_mul(4),
                n.saturating_mul(2)
            ));
        }
        Ok(())
    }
}

impl Serialize for Prototypes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.storage {
            PrototypeStorage::Float64 => self.values.serialize(s),
            PrototypeStorage::Float32 => {
                let bytes: Vec<u8> = self
                    .values
                    .iter()
                    .flat_map(|&v| (v as f32).to_le_bytes())
                    .collect();
                s.serialize_bytes(&bytes)
            }
            PrototypeStorage::Float16 => {
                let bytes: Vec<u8> = self
                    .values
                    .iter()
                    .flat_map(|&v| half::f16::from_f64(v).to_le_bytes())
                    .collect();
                s.serialize_bytes(&bytes)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Prototypes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PrototypesVisitor)
    }
}

struct PrototypesVisitor;

impl<'de> Visitor<'de> for PrototypesVisitor {
    type Value = Prototypes;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of float64 or a bin of little-endian float32 or float16")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Prototypes, A::Error> {
        // The length comes from the input: cap the reservation (the codebook size limit
        // bounds the rest).
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(v) = seq.next_element::<f64>()? {
            values.push(v);
        }
        Ok(Prototypes {
            values,
            storage: PrototypeStorage::Float64,
            raw: None,
        })
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Prototypes, E> {
        self.visit_byte_buf(bytes.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Prototypes, E> {
        Ok(Prototypes {
            values: Vec::new(),
            storage: PrototypeStorage::Float32,
            raw: Some(bytes),
        })
    }
}
