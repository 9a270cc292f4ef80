//! Decoding arbitrary bytes as a block, with a valid codebook: errors are fine, panics and
//! out-of-bounds accesses are not. Input: [selector, output size (2 bytes), block...]. When
//! the selector's high bit is set the target fixes up the payload checksum first, so that the
//! fuzzer also reaches what lies behind it (LZ4, shapes, reconstruction).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, a, b, rest @ ..] = data else { return };
    let cb = &blosc2_vq_fuzz::prepared()[*sel as usize % 4];
    let out_len = u16::from_le_bytes([*a, *b]) as usize;
    let mut out = vec![0u8; out_len];
    let typesize = [None, Some(1), Some(2), Some(4), Some(8)][(*sel as usize & 0x7f) / 4 % 5];
    let mut block = rest.to_vec();
    if sel & 0x80 != 0 {
        if let Ok((_, hlen)) = blosc2_vq::block::BlockHeader::read(&block) {
            let sum = blosc2_vq::block::payload_checksum(&block[hlen..]);
            block[8..12].copy_from_slice(&sum.to_le_bytes());
        }
    }
    if let Ok(n) = blosc2_vq::block::decode_block(cb, &block, typesize, &mut out) {
        assert_eq!(n, out_len);
    }
});
