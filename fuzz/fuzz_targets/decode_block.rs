//! Decoding arbitrary bytes as a block, with a valid codebook: errors are fine, panics and
//! out-of-bounds accesses are not. Input: [selector, output size (2 bytes), block...]. The
//! selector's low 7 bits pick the codebook (`% n`) and the host typesize (`/ n % 5`); when
//! its high bit is set the target fixes up the payload checksum first, so that the fuzzer
//! also reaches what lies behind it (LZ4, shapes, codes, reconstruction).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, a, b, rest @ ..] = data else { return };
    let cbs = blosc2_vq_fuzz::prepared();
    let low = (*sel & 0x7f) as usize;
    let cb = &cbs[low % cbs.len()];
    let out_len = u16::from_le_bytes([*a, *b]) as usize;
    let mut out = vec![0u8; out_len];
    let typesize = [None, Some(1), Some(2), Some(4), Some(8)][low / cbs.len() % 5];
    let mut block = rest.to_vec();
    if sel & 0x80 != 0 {
        if let Ok((header, hlen)) = blosc2_vq::block::BlockHeader::read(&block) {
            let sum = blosc2_vq::block::payload_checksum(&block[hlen..]);
            block[blosc2_vq_fuzz::checksum_range(header.version)]
                .copy_from_slice(&sum.to_le_bytes());
        }
    }
    if let Ok(n) = blosc2_vq::block::decode_block(cb, &block, typesize, &mut out) {
        assert_eq!(n, out_len);
    }
});
