//! A real b2nd array through c-blosc2 whose codec blocks are then corrupted by the input:
//! c-blosc2 hands the mutated blocks to our decoder, which must fail cleanly or decode.
//! Input: [selector, (offset u16, xor) pairs...]; the selector picks the array (one per 2-D
//! codebook, `% n`) and its chunk (`/ n`).
#![no_main]
use blosc2_host::{
    self as host, chunk_blocks, schunk_chunk, schunk_decompress_chunk, schunk_update_chunk,
    Settings,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    array: host::Array,
    chunks: Vec<Vec<u8>>,
}

// SAFETY: libFuzzer runs the target on one thread; the array is never used from two at once.
unsafe impl Sync for Fixture {}

fn fixtures() -> &'static [Fixture] {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let rc = host::register_codec(
            host::VQ_ID,
            "vq",
            Some((
                blosc2_vq::ffi::blosc2_vq_encoder,
                blosc2_vq::ffi::blosc2_vq_decoder,
            )),
        );
        assert!(rc >= 0);
        blosc2_vq::ffi::host::set_host_blosc2_version(&host::blosc2_version()).unwrap();
        let values: Vec<u8> = (0..4 * 32 * 32)
            .flat_map(|i| (((i % 97) as f32 / 97.0).sin()).to_ne_bytes())
            .collect();
        blosc2_vq_fuzz::PLANAR
            .iter()
            .map(|&i| {
                let cb = &blosc2_vq_fuzz::codebooks()[i];
                let array = host::compress_b2nd(
                    &values,
                    &[4, 32, 32],
                    &[2, 32, 32],
                    &[1, 32, 32],
                    "<f4",
                    4,
                    &[("vq", cb)],
                    &Settings::default(),
                )
                .expect("the fixture compresses");
                let chunks = (0..array.nchunks()).map(|n| array.chunk(n)).collect();
                Fixture { array, chunks }
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let fixtures = fixtures();
    let [sel, edits @ ..] = data else { return };
    let f = &fixtures[*sel as usize % fixtures.len()];
    let n = (*sel as usize / fixtures.len() % f.chunks.len()) as i64;
    let mut chunk = f.chunks[n as usize].clone();
    // Corrupt only the codec's bytes (after each block's 4-byte length): c-blosc2's own
    // headers are c-blosc2's business.
    let blocks = chunk_blocks(&chunk);
    let payload_start = chunk.len() - blocks.iter().map(|b| b.len() + 4).sum::<usize>();
    let span = chunk.len() - payload_start;
    for e in edits.chunks_exact(3) {
        let off = u16::from_le_bytes([e[0], e[1]]) as usize % span;
        let pos = payload_start + off;
        let in_length_field = blocks
            .iter()
            .scan(payload_start, |start, b| {
                let s = *start;
                *start += b.len() + 4;
                Some(s)
            })
            .any(|s| pos >= s && pos < s + 4);
        if !in_length_field {
            chunk[pos] ^= e[2];
        }
    }
    let sc = f.array.schunk();
    assert!(unsafe { schunk_update_chunk(sc, n, &chunk) } >= 0);
    let mut out = vec![0u8; 2 * 32 * 32 * 4];
    let _ = unsafe { schunk_decompress_chunk(sc, n, &mut out) };
    let _ = unsafe { schunk_chunk(sc, n) };
});
