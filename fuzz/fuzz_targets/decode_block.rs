//! Decoding arbitrary bytes as a block, with a valid codebook: errors are fine, panics and
//! out-of-bounds accesses are not. Input: [codebook selector, output size (2 bytes), block...].
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, a, b, rest @ ..] = data else { return };
    let cb = &blosc2_vq_fuzz::prepared()[*sel as usize % 3];
    let out_len = u16::from_le_bytes([*a, *b]) as usize;
    let mut out = vec![0u8; out_len];
    let typesize = [None, Some(1), Some(2), Some(4), Some(8)][*sel as usize / 3 % 5];
    if let Ok(n) = blosc2_vq::block::decode_block(cb, rest, typesize, &mut out) {
        assert_eq!(n, out_len);
    }
});
