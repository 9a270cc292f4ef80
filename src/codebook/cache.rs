//! A process-wide, thread-safe cache of prepared codebooks, keyed by the metalayer's bytes,
//! so that blocks do not re-parse the codebook. Bounded: the least recently used entry goes.
//!
//! Finding an entry by its bytes costs a hash and a comparison of the whole metalayer (289
//! KiB for a 4×256 residual codebook: as long as decoding a 16 KiB block). Decoding skips
//! that: the metalayer c-blosc2 passes stays at the same address for as long as its SChunk
//! lives, and every block names the low 32 bits of its codebook's fingerprint. So a decoder
//! given the same address and length, the same first and last bytes, and a block naming that
//! entry's fingerprint, takes the entry as it is. Anything else (another SChunk, a freed and
//! reused address holding another codebook, a block from another codebook) goes the full way.

use super::PreparedCodebook;
use crate::block::header::BlockHeader;
use crate::error::Result;
use std::sync::{Arc, Mutex, PoisonError};

/// Codebooks kept prepared at once.
pub const CACHE_CAPACITY: usize = 16;

/// Bytes compared at each end of a metalayer on the decoder's fast path.
const EDGE: usize = 32;

struct Entry {
    hash: u64,
    bytes: Box<[u8]>,
    /// Where the decoder last saw these bytes (0: not yet).
    address: usize,
    prepared: Arc<PreparedCodebook>,
}

impl Entry {
    /// Whether `bytes` at their address are, by the cheap checks, this entry's.
    fn seen_at(&self, bytes: &[u8]) -> bool {
        let n = bytes.len();
        self.address == bytes.as_ptr() as usize
            && self.bytes.len() == n
            && bytes[..EDGE.min(n)] == self.bytes[..EDGE.min(n)]
            && bytes[n.saturating_sub(EDGE)..] == self.bytes[n.saturating_sub(EDGE)..]
    }
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

#[cfg(test)]
thread_local! {
    /// Lookups on this thread that hashed the metalayer.
    static FULL_LOOKUPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The prepared codebook for these metalayer bytes, parsing them on first sight.
pub fn prepared(bytes: &[u8]) -> Result<Arc<PreparedCodebook>> {
    lookup(bytes, None)
}

/// [`prepared`] for decoding `block`: without hashing the metalayer when the checks above
/// hold (a block of another codebook, or a corrupt one, goes the full way and is then
/// refused by the decoder as before).
pub fn prepared_for_block(bytes: &[u8], block: &[u8]) -> Result<Arc<PreparedCodebook>> {
    lookup(bytes, BlockHeader::peek_fingerprint32(block))
}

fn lookup(bytes: &[u8], block_fingerprint: Option<u32>) -> Result<Arc<PreparedCodebook>> {
    if let Some(fingerprint) = block_fingerprint {
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        // The recency order is left alone here: a hit means the entry is in steady use.
        if let Some(entry) = cache
            .iter()
            .rev()
            .find(|e| e.prepared.fingerprint32() == fingerprint && e.seen_at(bytes))
        {
            return Ok(Arc::clone(&entry.prepared));
        }
    }
    #[cfg(test)]
    FULL_LOOKUPS.with(|n| n.set(n.get() + 1));
    let address = if block_fingerprint.is_some() {
        bytes.as_ptr() as usize
    } else {
        0
    };
    let hash = xxhash_rust::xxh3::xxh3_64(bytes);
    {
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pos) = cache
            .iter()
            .position(|e| e.hash == hash && *e.bytes == *bytes)
        {
            // Move to the back: most recently used.
            let mut entry = cache.remove(pos);
            if address != 0 {
                entry.address = address;
            }
            let prepared = Arc::clone(&entry.prepared);
            cache.push(entry);
            return Ok(prepared);
        }
    }
    // Parse outside the lock; two threads may both parse, with the same result.
    let prepared = Arc::new(PreparedCodebook::from_msgpack(bytes)?);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if !cache.iter().any(|e| e.hash == hash && *e.bytes == *bytes) {
        if cache.len() >= CACHE_CAPACITY {
            cache.remove(0);
        }
        cache.push(Entry {
            hash,
            bytes: bytes.into(),
            address,
            prepared: Arc::clone(&prepared),
        });
    }
    Ok(prepared)
}

/// Number of codebooks currently cached.
pub fn len() -> usize {
    CACHE.lock().unwrap_or_else(PoisonError::into_inner).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{CodebookParams, KMeansParams, ModelParams};

    fn codebook(seed: u64) -> Vec<u8> {
        let data = ndarray::Array3::from_shape_fn((4, 16, 16), |(i, j, k)| {
            ((i * 7 + j * 3 + k) as f64 * 0.37 + seed as f64).sin()
        });
        CodebookParams::new(ModelParams::KMeans(KMeansParams::new(4).seed(seed)))
            .n_samples(200)
            .fit(&data.view().into_dyn())
            .unwrap()
            .to_msgpack()
    }

    fn block_naming(fingerprint32: u32) -> Vec<u8> {
        let mut block = vec![2u8, 3, 2, 2, 0];
        block.extend_from_slice(&fingerprint32.to_le_bytes());
        block.extend_from_slice(&[0; 8]);
        block
    }

    #[test]
    fn the_fast_path_never_hands_out_another_codebook() {
        let (a, b) = (codebook(1), codebook(2));
        assert_eq!(
            a.len(),
            b.len(),
            "two codebooks of one length, to reuse one buffer"
        );
        let pa = prepared(&a).unwrap();
        let pb = prepared(&b).unwrap();
        assert_ne!(pa.fingerprint32(), pb.fingerprint32());
        // One buffer, as a metalayer c-blosc2 frees and another SChunk's reuses.
        let mut buf = a.clone();
        let full = || FULL_LOOKUPS.with(|n| n.get());
        // First sight at this address: the full way, recording it.
        let before = full();
        let got = prepared_for_block(&buf, &block_naming(pa.fingerprint32())).unwrap();
        assert!(Arc::ptr_eq(&got, &pa));
        assert_eq!(full(), before + 1);
        // Then the fast path: no hashing.
        for _ in 0..3 {
            let got = prepared_for_block(&buf, &block_naming(pa.fingerprint32())).unwrap();
            assert!(Arc::ptr_eq(&got, &pa));
        }
        assert_eq!(full(), before + 1, "the fast path hashed the metalayer");
        // b's bytes at a's address, decoding b's blocks: b, never a.
        buf.copy_from_slice(&b);
        let got = prepared_for_block(&buf, &block_naming(pb.fingerprint32())).unwrap();
        assert!(Arc::ptr_eq(&got, &pb));
        // a's bytes again, with a block naming b: a's codebook (the decoder then refuses the
        // block as another codebook's).
        buf.copy_from_slice(&a);
        let got = prepared_for_block(&buf, &block_naming(pb.fingerprint32())).unwrap();
        assert!(Arc::ptr_eq(&got, &pa));
        // Truncated or unknown blocks go the full way.
        assert!(Arc::ptr_eq(&prepared_for_block(&a, &[2, 0]).unwrap(), &pa));
        assert!(Arc::ptr_eq(&prepared_for_block(&a, &[]).unwrap(), &pa));
        assert!(Arc::ptr_eq(&prepared_for_block(&a, &[9; 20]).unwrap(), &pa));
    }
}
