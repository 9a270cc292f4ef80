//! Shared pieces of the fuzz targets: fixed codebooks, and the decoding of a fuzz input into
//! block geometry. Everything is deterministic, so the seed corpus (`make_corpus`) and the
//! targets agree on the codebooks.

use blosc2_vq::codebook::{PreparedCodebook, ScalarMethod, Transform};
use blosc2_vq::train::Metric;
use blosc2_vq::train::{
    ArchetypalParams, CodebookParams, FuzzyCMeansParams, KMeansParams, ModelParams, ResidualParams,
    ScalarParams,
};
use ndarray::{ArrayD, IxDyn};
use std::sync::OnceLock;

/// Smooth synthetic images (no data file needed inside the fuzzers).
fn images() -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[8, 32, 32]), |ix| {
        let (i, y, x) = (ix[0] as f64, ix[1] as f64, ix[2] as f64);
        ((x * 0.3 + i).sin() * (y * 0.2 - i).cos() + 1.0) / 2.0
    })
}

/// The residual codebooks of [`codebooks`] on 2-D tiles (which error-bounded blocks need).
pub const BOUNDED: [usize; 2] = [4, 10];

/// Which of [`codebooks`] work on 2-D blocks (4×4 tiles, or single values).
pub const PLANAR: [usize; 8] = [0, 1, 2, 4, 5, 6, 7, 8];

/// The codebooks the targets use, one of each kind and option:
/// 0. Fuzzy C-Means (2-D tiles);
/// 1. Archetypal (2-D);
/// 2. k-means (2-D);
/// 3. Archetypal on 4×4×4 tiles;
/// 4. residual, 2 stages of 12 codewords (4-bit indexes with unused values), 5-bit means;
/// 5. scalar, Lloyd-Max, 3 bits;
/// 6. Archetypal with sparse weights (2 of 6 kept, 5-bit weights);
/// 7. k-means (k = 10) on log10 values with floor 1e-3;
/// 8. Fuzzy C-Means with sparse weights (3 of 5 kept) on log10 values;
/// 9. residual on 4×4×4 tiles, 1 stage of 5 codewords, no mean;
/// 10. residual on log10 values (floor 1e-3), 3 stages of 8 codewords, 4-bit means, sealed
///     with a 10 % error bound.
pub fn codebooks() -> &'static [Vec<u8>] {
    static CB: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CB.get_or_init(|| {
        let img = images();
        let vol = ArrayD::from_shape_fn(IxDyn(&[2, 8, 8, 8]), |ix| {
            ((ix[1] * 3 + ix[2] * 2 + ix[3]) % 7) as f64 / 7.0
        });
        let fit = |p: CodebookParams, data: &ArrayD<f64>| p.fit(&data.view()).unwrap().to_msgpack();
        let log10 = Transform::Log10 { floor: 1e-3 };
        vec![
            fit(
                CodebookParams::new(ModelParams::FuzzyCMeans(
                    FuzzyCMeansParams::new(8)
                        .metric(Metric::Cosine)
                        .max_iter(10),
                ))
                .n_samples(200),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::Archetypal(
                    ArchetypalParams::new(6).max_iter(10),
                ))
                .n_samples(200),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::KMeans(KMeansParams::new(16).max_iter(10)))
                    .n_samples(300),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::Archetypal(
                    ArchetypalParams::new(4).max_iter(5),
                ))
                .tile_shape(&[4, 4, 4])
                .n_samples(100),
                &vol,
            ),
            fit(
                CodebookParams::new(ModelParams::Residual(
                    ResidualParams::new(2, 12).mean_bits(5).max_iter(10),
                ))
                .n_samples(300),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::Scalar(ScalarParams::new(
                    3,
                    ScalarMethod::LloydMax,
                )))
                .n_samples(500),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::Archetypal(
                    ArchetypalParams::new(6).max_iter(10),
                ))
                .n_samples(200)
                .weight_bits(5)
                .kept_weights(2),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::KMeans(KMeansParams::new(10).max_iter(10)))
                    .n_samples(300)
                    .transform(log10),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::FuzzyCMeans(
                    FuzzyCMeansParams::new(5).max_iter(10),
                ))
                .n_samples(200)
                .kept_weights(3)
                .transform(log10),
                &img,
            ),
            fit(
                CodebookParams::new(ModelParams::Residual(ResidualParams::new(1, 5).max_iter(5)))
                    .tile_shape(&[4, 4, 4])
                    .n_samples(100),
                &vol,
            ),
            fit(
                CodebookParams::new(ModelParams::Residual(
                    ResidualParams::new(3, 8).mean_bits(4).max_iter(5),
                ))
                .n_samples(300)
                .transform(log10)
                .max_error(Some(1.1f64.log10())),
                &img,
            ),
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

/// The byte range of a block header's payload checksum, by block format version (format 1:
/// bytes 8..12; format 2 has a flags byte before the fingerprint: 9..13).
pub fn checksum_range(version: u8) -> std::ops::Range<usize> {
    if version == 1 {
        8..12
    } else {
        9..13
    }
}
