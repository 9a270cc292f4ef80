//! The b2nd metalayer and block geometry as untrusted input. Input: [typesize, blocksize (4
//! bytes), metalayer...].
#![no_main]
use blosc2_vq::tiles::{resolve_layout, HostLayout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [ts, b0, b1, b2, b3, meta @ ..] = data else {
        return;
    };
    let host = HostLayout {
        typesize: *ts as usize,
        blocksize: Some(u32::from_le_bytes([*b0, *b1, *b2, *b3]) as usize),
        b2nd: Some(meta),
        schunk_blockshape: None,
    };
    if let Ok(layout) = resolve_layout(&host) {
        // A resolved layout is exactly the bytes c-blosc2 said.
        assert_eq!(
            layout.n_values() * layout.dtype.size(),
            host.blocksize.unwrap()
        );
    }
    let _ = blosc2_vq::tiles::parse_b2nd_meta(meta);
});
