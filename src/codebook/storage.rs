//! How prototype values are stored in the codebook's MessagePack: an array of float64 (formats
//! 1 and 2, still read and re-written as they were so their fingerprints hold), or, from
//! format 3, one MessagePack `bin` of little-endian float32 — half the bytes, and no loss for
//! the codec, which computes in float32 anyway.

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prototype values, with the storage they were read in (or are to be written in).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prototypes {
    /// The values (exactly float32 values when `float32`).
    pub values: Vec<f64>,
    /// Stored as a `bin` of little-endian float32.
    pub float32: bool,
}

impl Prototypes {
    /// Float32 storage: the values are rounded to float32 here, once, so that what is
    /// fingerprinted is what is stored.
    pub fn float32(values: Vec<f64>) -> Self {
        Prototypes {
            values: values.into_iter().map(|v| v as f32 as f64).collect(),
            float32: true,
        }
    }
}

impl Serialize for Prototypes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.float32 {
            let bytes: Vec<u8> = self
                .values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect();
            s.serialize_bytes(&bytes)
        } else {
            self.values.serialize(s)
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
        f.write_str("an array of float64 or a bin of little-endian float32")
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
            float32: false,
        })
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Prototypes, E> {
        if !bytes.len().is_multiple_of(4) {
            return Err(E::custom(format!(
                "float32 prototypes: {} bytes is not a whole number of float32",
                bytes.len()
            )));
        }
        let values = bytes
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        Ok(Prototypes {
            values,
            float32: true,
        })
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Prototypes, E> {
        self.visit_bytes(&bytes)
    }
}
