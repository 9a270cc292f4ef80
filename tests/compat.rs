//! Old formats keep decoding: frames written by blosc2-vq 0.1 (block format 1, codebook
//! format 1), kept in `tests/fixtures/v1`, still decompress through c-blosc2 to the values
//! they gave then.

mod common;

use common::{bytes_f32, open_b2nd};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v1")
        .join(name)
}

#[test]
fn format_1_frames_still_decode_to_the_same_values() {
    for name in ["cmeans", "aa", "aa_4bit", "kmeans"] {
        let path = fixture(&format!("{name}.b2nd"));
        let arr = open_b2nd(path.to_str().unwrap())
            .unwrap_or_else(|rc| panic!("{}: open failed ({rc})", path.display()));
        let (bytes, _) = arr.decompress().unwrap_or_else(|rc| {
            panic!(
                "{name}: decompression failed ({rc}): {}",
                common::last_error()
            )
        });
        let got = bytes_f32(&bytes);
        let expected: ndarray::Array3<f32> =
            ndarray_npy::read_npy(fixture(&format!("{name}.expected.npy"))).unwrap();
        let expected = expected.as_slice().unwrap();
        assert_eq!(got.len(), expected.len(), "{name}");
        let worst = got
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Same build settings give the same bits; allow for FMA differences between CPUs.
        assert!(worst <= 1e-5, "{name}: values moved by up to {worst}");
    }
}
