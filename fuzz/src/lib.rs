//! Shared pieces of the fuzz targets: fixed codebooks, and the decoding of a fuzz input into
//! block geometry. Everything is deterministic, so the seed corpus (`make_corpus`) and the
//! targets agree on the codebooks.

use blosc2_vq::codebook::PreparedCodebook;
use blosc2_vq::train::{
    ArchetypalParams, CodebookParams, FuzzyCMeansParams, KMeansParams, ModelParams,
};
use blosc2_vq::weights::Metric;
use ndarray::{ArrayD, IxDyn};
use std::sync::OnceLock;

/// Smooth synthetic images (no data file needed inside the fuzzers).
fn images() -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[8, 32, 32]), |ix| {
        let (i, y, x) = (ix[0] as f64, ix[1] as f64, ix[2] as f64);
        ((x * 0.3 + i).sin() * (y * 0.2 - i).cos() + 1.0) / 2.0
    })
}

/// The codebooks the targets use: Fuzzy C-Means (2-D tiles), Archetypal (2-D), k-means (2-D)
/// and a 3-D Archetypal one.
pub fn codebooks() -> &'static [Vec<u8>] {
    static CB: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CB.get_or_init(|| {
        let img = images();
        let vol = ArrayD::from_shape_fn(IxDyn(&[2, 8, 8, 8]), |ix| {
            ((ix[1] * 3 + ix[2] * 2 + ix[3]) % 7) as f64 / 7.0
        });
        vec![
            CodebookParams::new(ModelParams::FuzzyCMeans(
                FuzzyCMeansParams::new(8)
                    .metric(Metric::Cosine)
                    .max_iter(10),
            ))
            .n_samples(200)
            .fit(&img.view())
            .unwrap()
            .to_msgpack(),
            CodebookParams::new(ModelParams::Archetypal(
                ArchetypalParams::new(6).max_iter(10),
            ))
            .n_samples(200)
            .fit(&img.view())
            .unwrap()
            .to_msgpack(),
            CodebookParams::new(ModelParams::KMeans(KMeansParams::new(16).max_iter(10)))
                .n_samples(300)
                .fit(&img.view())
                .unwrap()
                .to_msgpack(),
            CodebookParams::new(ModelParams::Archetypal(
                ArchetypalParams::new(4).max_iter(5),
            ))
            .tile_shape(&[4, 4, 4])
            .n_samples(100)
            .fit(&vol.view())
            .unwrap()
            .to_msgpack(),
        ]
    })
}

/// The prepared form of [`codebooks`].
pub fn prepared() -> &'static [PreparedCodebook] {
    static P: OnceLock<Vec<PreparedCodebook>> = OnceLock::new();
    P.get_or_init(|| {
        codebooks()
            .iter()
            .map(|b| PreparedCodebook::from_msgpack(b).unwrap())
            .collect()
    })
}
