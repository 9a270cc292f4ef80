//! A process-wide, thread-safe cache of prepared codebooks, keyed by the metalayer's bytes,
//! so that blocks do not re-parse the codebook. Bounded: the least recently used entry goes.

use super::PreparedCodebook;
use crate::error::Result;
use std::sync::{Arc, Mutex, PoisonError};

/// Codebooks kept prepared at once.
pub const CACHE_CAPACITY: usize = 16;

struct Entry {
    hash: u64,
    bytes: Box<[u8]>,
    prepared: Arc<PreparedCodebook>,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The prepared codebook for these metalayer bytes, parsing them on first sight.
pub fn prepared(bytes: &[u8]) -> Result<Arc<PreparedCodebook>> {
    let hash = xxhash_rust::xxh3::xxh3_64(bytes);
    {
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pos) = cache
            .iter()
            .position(|e| e.hash == hash && *e.bytes == *bytes)
        {
            // Move to the back: most recently used.
            let entry = cache.remove(pos);
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
            prepared: Arc::clone(&prepared),
        });
    }
    Ok(prepared)
}

/// Number of codebooks currently cached.
pub fn len() -> usize {
    CACHE.lock().unwrap_or_else(PoisonError::into_inner).len()
}
