//! Per-thread working buffers: c-blosc2 calls the codec once per block from a few long-lived
//! threads, and fresh zeroed buffers cost as much as the coding itself.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Runs `f` with this thread's buffers in `key` (fresh ones if they are in use, which only a
/// re-entrant call could cause).
pub(crate) fn with<S: Default + 'static, T>(
    key: &'static LocalKey<RefCell<S>>,
    f: impl FnOnce(&mut S) -> T,
) -> T {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut S::default()),
    })
}
