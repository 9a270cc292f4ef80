//! The codebook kinds and options of codebook format 2, through real c-blosc2, each on the
//! Olivetti faces (2-D, 4×4 tiles) and on smooth synthetic volumes (3-D, 4×4×4 tiles):
//! k-means with any k (bit-packed indexes), residual VQ with and without mean removal, the
//! three scalar quantizers, sparse weights, the log10 transform; the same bytes whatever the
//! thread count; bad parameters refused by name; codec_meta refused where there are no
//! weights; corrupt format-2 blocks refused.
#![allow(unsafe_code)] // edits SChunks through c-blosc2

mod common;

use blosc2_vq::block::{bitpack, decode_block, payload_checksum, BlockHeader, FLAG_RAW_PAYLOAD};
use blosc2_vq::codebook::{index_bits, ModelKind, PreparedCodebook, ScalarMethod, Transform};
use blosc2_vq::train::{
    ArchetypalParams, CodebookParams, FuzzyCMeansParams, KMeansParams, Metric, ModelParams,
    ResidualParams, ScalarParams,
};
use blosc2_vq::{Codebook, Error};
use common::*;
use ndarray::{s, Array4, ArrayD};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The two test sets. Both have blocks of 4096 values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Data {
    /// 40 Olivetti faces, (40, 64, 64), one face per block, 4 per chunk, 4×4 tiles.
    Faces,
    /// 8 smooth volumes, (8, 16, 16, 16), one volume per block, 2 per chunk, 4×4×4 tiles.
    Volume,
}

const BOTH: [Data; 2] = [Data::Faces, Data::Volume];
const BLOCK_VALUES: usize = 4096;

impl Data {
    fn values(self) -> &'static [f32] {
        static FACES: OnceLock<Vec<f32>> = OnceLock::new();
        static VOLUME: OnceLock<Vec<f32>> = OnceLock::new();
        match self {
            Data::Faces => {
                FACES.get_or_init(|| olivetti().slice(s![..40, .., ..]).iter().copied().collect())
            }
            Data::Volume => VOLUME.get_or_init(|| volumes().iter().copied().collect()),
        }
    }

    /// The test values as f64 in their shape (what scalar quantizers train on: every value).
    fn values_f64(self) -> ArrayD<f64> {
        let shape: Vec<usize> = self.shape().iter().map(|&d| d as usize).collect();
        ArrayD::from_shape_vec(shape, self.values().iter().map(|&v| f64::from(v)).collect())
            .unwrap()
    }

    /// Training data: other faces (40..240), or the volumes themselves.
    fn train(self) -> &'static ArrayD<f64> {
        static FACES: OnceLock<ArrayD<f64>> = OnceLock::new();
        static VOLUME: OnceLock<ArrayD<f64>> = OnceLock::new();
        match self {
            Data::Faces => FACES.get_or_init(|| {
                olivetti()
                    .slice(s![40..240, .., ..])
                    .mapv(f64::from)
                    .into_dyn()
            }),
            Data::Volume => VOLUME.get_or_init(|| volumes().mapv(f64::from).into_dyn()),
        }
    }

    fn shape(self) -> &'static [i64] {
        match self {
            Data::Faces => &[40, 64, 64],
            Data::Volume => &[8, 16, 16, 16],
        }
    }

    fn chunks(self) -> &'static [i32] {
        match self {
            Data::Faces => &[4, 64, 64],
            Data::Volume => &[2, 16, 16, 16],
        }
    }

    fn blocks(self) -> &'static [i32] {
        match self {
            Data::Faces => &[1, 64, 64],
            Data::Volume => &[1, 16, 16, 16],
        }
    }

    fn tile(self) -> &'static [usize] {
        match self {
            Data::Faces => &[4, 4],
            Data::Volume => &[4, 4, 4],
        }
    }

    fn tiles_per_block(self) -> usize {
        BLOCK_VALUES / self.tile().iter().product::<usize>()
    }

    fn n_blocks(self) -> usize {
        self.values().len() / BLOCK_VALUES
    }

    fn range(self) -> f64 {
        let v = self.values();
        let (lo, hi) = v
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        f64::from(hi - lo)
    }

    /// Trains `model` on this data's training set (its tile shape; 4000 training tiles).
    fn fit(self, model: ModelParams) -> Codebook {
        self.params(model).fit(&self.train().view()).unwrap()
    }

    fn params(self, model: ModelParams) -> CodebookParams {
        CodebookParams::new(model)
            .tile_shape(self.tile())
            .n_samples(4000)
    }

    /// Compresses the test values with `cb` and decompresses them.
    fn round_trip(self, cb: &Codebook, settings: &Settings) -> (Array, Vec<f32>) {
        let (arr, out) = round_trip(
            &f32_bytes(self.values()),
            &Geometry {
                shape: self.shape(),
                chunks: self.chunks(),
                blocks: self.blocks(),
                dtype: "<f4",
            },
            &cb.to_msgpack(),
            settings,
        );
        (arr, bytes_f32(&out))
    }

    fn psnr(self, rec: &[f32]) -> f64 {
        blosc2_vq::metrics::psnr(self.values(), rec, self.range())
    }
}

/// Smooth synthetic volumes: sums of three Gaussian blobs, a different set per volume.
fn volumes() -> Array4<f32> {
    let side = 16usize;
    Array4::from_shape_fn((8, side, side, side), |(v, z, y, x)| {
        let mut s = 0.0f32;
        for b in 0..3 {
            let c = ((v * 7 + b * 5) % 11) as f32 / 11.0 * side as f32;
            let w = 2.0 + ((v + b) % 4) as f32;
            let d2 = (z as f32 - c).powi(2)
                + (y as f32 - (side as f32 - c)).powi(2)
                + (x as f32 - c * 0.7).powi(2);
            s += (-d2 / (2.0 * w * w)).exp();
        }
        s
    })
}

/// Trains each codebook once per test binary, whichever test asks first (tests run on
/// several threads; the map's lock is not held while training).
fn cached(key: &str, train: impl FnOnce() -> Codebook) -> Codebook {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<OnceLock<Codebook>>>>> = OnceLock::new();
    let cell = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_default()
        .clone();
    cell.get_or_init(train).clone()
}

fn kmeans(data: Data, k: usize) -> Codebook {
    cached(&format!("kmeans {data:?} {k}"), || {
        data.fit(ModelParams::KMeans(KMeansParams::new(k).max_iter(30)))
    })
}

fn residual(data: Data, n_stages: usize, k: usize, mean_bits: u8) -> Codebook {
    cached(
        &format!("residual {data:?} {n_stages} {k} {mean_bits}"),
        || {
            data.fit(ModelParams::Residual(
                ResidualParams::new(n_stages, k)
                    .mean_bits(mean_bits)
                    .max_iter(30),
            ))
        },
    )
}

fn archetypal(data: Data) -> Codebook {
    cached(&format!("archetypal {data:?}"), || {
        data.fit(ModelParams::Archetypal(
            ArchetypalParams::new(20).max_iter(40),
        ))
    })
}

fn cmeans(data: Data) -> Codebook {
    cached(&format!("cmeans {data:?}"), || {
        data.fit(ModelParams::FuzzyCMeans(
            FuzzyCMeansParams::new(12)
                .metric(Metric::Euclidean)
                .max_iter(40),
        ))
    })
}

/// Every codec block of every chunk of `arr`: its parsed header and its payload length.
fn blocks_of(arr: &Array) -> Vec<(BlockHeader, usize)> {
    (0..arr.nchunks())
        .flat_map(|c| chunk_blocks(&arr.chunk(c)))
        .map(|b| {
            let (h, hlen) = BlockHeader::read(&b)
                .unwrap_or_else(|e| panic!("not a codec block ({} bytes): {e}", b.len()));
            (h, b.len() - hlen)
        })
        .collect()
}

/// Every block stores `bits` per code and at most `packed` payload bytes: exactly that many
/// when stored raw, fewer when LZ4 helped. Returns the payload bytes of all blocks.
fn check_packing(arr: &Array, data: Data, bits: u8, packed: usize) -> usize {
    let blocks = blocks_of(arr);
    assert_eq!(blocks.len(), data.n_blocks());
    let mut total = 0;
    for (h, len) in blocks {
        assert_eq!(h.version, 2);
        assert_eq!(h.weight_bits, bits, "bits per code in {h:?}");
        if h.flags & FLAG_RAW_PAYLOAD != 0 {
            assert_eq!(len, packed, "raw payload of {h:?}");
        } else {
            assert!(
                len < packed,
                "LZ4 payload of {len} bytes >= {packed} packed"
            );
        }
        total += len;
    }
    total
}

fn scalar(data: Data, bits: u8, method: ScalarMethod) -> Codebook {
    cached(&format!("scalar {data:?} {bits} {method:?}"), || {
        // Every value trains the quantizer, so uniform levels span exactly the data's range.
        CodebookParams::new(ModelParams::Scalar(ScalarParams::new(bits, method)))
            .n_samples(data.values().len())
            .fit(&data.values_f64().view())
            .unwrap()
    })
}

#[test]
fn kmeans_indexes_take_ceil_log2_k_bits() {
    for data in BOTH {
        let mut runs = Vec::new();
        for (k, bits) in [(16usize, 4u8), (100, 7), (256, 8)] {
            let cb = kmeans(data, k);
            assert_eq!(cb.n_prototypes(), k);
            assert_eq!(index_bits(k), bits);
            let (arr, rec) = data.round_trip(&cb, &Settings::default());
            let p = data.psnr(&rec);
            let per_block = (data.tiles_per_block() * bits as usize).div_ceil(8);
            let payload = check_packing(&arr, data, bits, per_block);
            // n_tiles × bits / 8: indexes of these images barely compress (measured > 99%
            // of the packed size), so the payload is about that, never more.
            let ideal = data.n_blocks() * per_block;
            assert!(
                payload as f64 >= 0.8 * ideal as f64 && payload <= ideal,
                "k-means {data:?} k={k}: {payload} payload bytes for {ideal} packed"
            );
            // Around it: per chunk c-blosc2's 32-byte header, per block a 4-byte offset, a
            // 4-byte length and the codec's header (14 bytes + the shape's varints).
            let overhead = arr.nchunks() as usize * 32 + data.n_blocks() * (8 + 14 + 6);
            assert!(
                arr.cbytes() as usize <= ideal + overhead,
                "k-means {data:?} k={k}: {} bytes for {ideal} packed",
                arr.cbytes()
            );
            assert!(p > 22.0, "k-means {data:?} k={k}: {p:.2} dB");
            runs.push((k, arr.cbytes(), p));
        }
        // More codewords: more bytes and more quality.
        for w in runs.windows(2) {
            assert!(w[0].1 < w[1].1 && w[0].2 < w[1].2, "{data:?}: {runs:?}");
        }
    }
}

#[test]
fn residual_stages_and_mean_removal() {
    for data in BOTH {
        let one = residual(data, 1, 64, 0);
        let two = residual(data, 2, 64, 0);
        let two_mean = residual(data, 2, 64, 6);
        assert!(matches!(
            two.model(),
            ModelKind::Residual {
                n_stages: 2,
                mean_bits: 0,
                ..
            }
        ));
        let ModelKind::Residual {
            n_stages: 2,
            mean_bits: 6,
            mean_min,
            mean_max,
            ..
        } = two_mean.model()
        else {
            panic!("{:?}", two_mean.model())
        };
        assert!(mean_min < mean_max);
        assert_eq!((two.n_prototypes(), two.codewords_per_stage()), (128, 64));
        let tpb = data.tiles_per_block();
        let indexes = |stages: usize| (stages * tpb * 6).div_ceil(8);
        let mut psnr = Vec::new();
        for (cb, packed) in [
            (&one, indexes(1)),
            (&two, indexes(2)),
            (&two_mean, indexes(1) + indexes(2)),
        ] {
            let (arr, rec) = data.round_trip(cb, &Settings::default());
            // 64 codewords: 6-bit indexes (and 6-bit means).
            check_packing(&arr, data, 6, packed);
            psnr.push(data.psnr(&rec));
        }
        eprintln!("residual {data:?}: 1x64, 2x64, 2x64 + mean: {psnr:.2?} dB");
        // Measured: faces 26.4, 29.5, 31.6 dB; volumes 27.0, 32.0, 36.4 dB.
        assert!(psnr[0] > 24.0, "{data:?}: {psnr:?}");
        assert!(psnr[1] > psnr[0] + 2.0, "a second stage: {data:?} {psnr:?}");
        assert!(psnr[2] > psnr[1] + 1.0, "mean removal: {data:?} {psnr:?}");
    }
}

#[test]
fn scalar_quantizers() {
    for data in BOTH {
        let range = data.range();
        for bits in [3u8, 5] {
            let mut mse = Vec::new();
            for method in [
                ScalarMethod::Uniform,
                ScalarMethod::Quantile,
                ScalarMethod::LloydMax,
            ] {
                let cb = scalar(data, bits, method);
                assert_eq!(cb.tile_shape(), vec![1]);
                assert_eq!(cb.n_prototypes(), 1 << bits);
                assert_eq!(*cb.model(), ModelKind::Scalar { method });
                assert!(cb.prototypes().windows(2).all(|w| w[0] <= w[1]));
                let (arr, rec) = data.round_trip(&cb, &Settings::default());
                check_packing(&arr, data, bits, (BLOCK_VALUES * bits as usize).div_ceil(8));
                let step = range / f64::from(1u32 << bits);
                let m = blosc2_vq::metrics::mse(data.values(), &rec);
                assert!(m < step * step, "{data:?} {bits} bits {method:?}: MSE {m}");
                if method == ScalarMethod::Uniform {
                    // Levels at the centres of equal bins over the data's range: no value
                    // is further than half a bin from its level (up to float32 rounding).
                    let max_err = data
                        .values()
                        .iter()
                        .zip(&rec)
                        .map(|(&a, &b)| f64::from((a - b).abs()))
                        .fold(0f64, f64::max);
                    assert!(
                        max_err <= step / 2.0 + 1e-6,
                        "{data:?} {bits} bits: max error {max_err} > half step {}",
                        step / 2.0
                    );
                }
                mse.push(m);
            }
            eprintln!("scalar {data:?} {bits} bits: MSE uniform, quantile, Lloyd-Max {mse:?}");
            // Lloyd-Max minimizes the MSE.
            assert!(mse[2] <= mse[0], "{data:?} {bits} bits: {mse:?}");
        }
    }
}

/// Lloyd-Max is never worse than the uniform quantizer it improves on, at any bit depth.
/// Lloyd's iterations from the quantile levels alone stopped in a local minimum (faces,
/// 5 bits: 7.68e-5 against uniform's 7.62e-5) or at the iteration cap (volumes, 5 bits:
/// 3.36e-4 against 3.08e-4); a run from the uniform levels can only improve on them.
#[test]
fn lloyd_max_never_loses_to_uniform() {
    for data in BOTH {
        for bits in [3u8, 4, 5, 6] {
            let mse = |method| {
                let (_, rec) = data.round_trip(&scalar(data, bits, method), &Settings::default());
                blosc2_vq::metrics::mse(data.values(), &rec)
            };
            let (u, l) = (mse(ScalarMethod::Uniform), mse(ScalarMethod::LloydMax));
            assert!(
                l <= u,
                "{data:?} {bits} bits: Lloyd-Max MSE {l:.4e} > uniform {u:.4e}"
            );
        }
    }
}

#[test]
fn sparse_weights_take_fewer_bytes() {
    for data in BOTH {
        for (name, dense) in [("archetypal", archetypal(data)), ("cmeans", cmeans(data))] {
            let k = dense.n_prototypes();
            let (arr, rec) = data.round_trip(&dense, &Settings::default());
            let (dense_bytes, dense_p) = (arr.cbytes(), data.psnr(&rec));
            let mut runs = Vec::new();
            for kept in 1..=3u32 {
                let cb = dense.clone().with_kept_weights(kept).unwrap();
                assert_eq!(cb.prototypes(), dense.prototypes());
                assert_ne!(cb.fingerprint(), dense.fingerprint());
                let (arr, rec) = data.round_trip(&cb, &Settings::default());
                let kept = kept as usize;
                // Indexes at ceil(log2 k) bits (k = 20 and 12: 5 and 4 bits), then the
                // kept - 1 weights after the largest at 8 bits.
                let tpb = data.tiles_per_block();
                let packed = (tpb * kept * index_bits(k) as usize).div_ceil(8)
                    + (tpb * (kept - 1) * 8).div_ceil(8);
                check_packing(&arr, data, 8, packed);
                runs.push((arr.cbytes(), data.psnr(&rec)));
            }
            eprintln!(
                "{name} {data:?}: dense {dense_bytes} B {dense_p:.2} dB, kept 1..3 {runs:.2?}"
            );
            for (i, &(bytes, _)) in runs.iter().enumerate() {
                assert!(
                    bytes < dense_bytes,
                    "{name} {data:?} kept {}: {runs:?}",
                    i + 1
                );
            }
            assert!(runs[0].0 < runs[1].0 && runs[1].0 < runs[2].0);
            let p2 = runs[1].1;
            if name == "cmeans" {
                // Dense memberships blur (every centre pulls); a few chosen ones do as well
                // or better (measured +1.2 dB faces, +2.4 dB volumes).
                assert!(
                    (p2 - dense_p).abs() < 3.0,
                    "{name} {data:?}: {p2} vs {dense_p}"
                );
            } else {
                // Two archetypes already come close (measured -2.6 dB faces, -0.5 dB
                // volumes; the two largest dense weights, renormalized, gave -11.6 and
                // -5.2 dB), and one more weight helps again.
                assert!(p2 > dense_p - 4.0, "{name} {data:?}: {p2} vs {dense_p}");
                assert!(
                    runs[0].1 < p2 && p2 < runs[2].1,
                    "{name} {data:?}: {runs:?}"
                );
            }
        }
    }
}

/// Two kept archetypal weights reach the best convex mix of two archetypes per tile (an
/// exhaustive search over the 190 pairs, computed here: 2.6 dB below dense on the faces).
/// Keeping the two largest dense weights, renormalized, gave 17.2 dB against 28.7 dense:
/// the largest dense weights pick the wrong pair.
#[test]
fn sparse_archetypal_within_a_few_db() {
    let data = Data::Faces;
    let dense = archetypal(data);
    let (_, rec) = data.round_trip(&dense, &Settings::default());
    let dense_p = data.psnr(&rec);
    let best = best_pair_psnr(data, &dense);
    let (_, rec) = data.round_trip(
        &dense.clone().with_kept_weights(2).unwrap(),
        &Settings::default(),
    );
    let p2 = data.psnr(&rec);
    eprintln!(
        "archetypal faces: dense {dense_p:.2} dB, best pairs {best:.2} dB, kept 2 {p2:.2} dB"
    );
    assert!(
        best > dense_p - 4.0,
        "the bound itself: {best} vs {dense_p}"
    );
    assert!(
        p2 > best - 0.1 && p2 > dense_p - 4.0,
        "kept 2: {p2:.2} dB, dense {dense_p:.2} dB, best pairs {best:.2} dB"
    );
}

/// PSNR of the best convex combination of two prototypes for every 4×4 tile of the faces
/// (value space; what any 2-sparse archetypal code can reach).
fn best_pair_psnr(data: Data, cb: &Codebook) -> f64 {
    let p = 16;
    let k = cb.n_prototypes();
    let (mean, scale) = (&cb.scaler().mean, &cb.scaler().scale);
    // Prototypes in value space.
    let protos: Vec<f64> = cb
        .prototypes()
        .chunks_exact(p)
        .flat_map(|r| (0..p).map(move |f| mean[f] + r[f] * scale[f]))
        .collect();
    let v = data.values();
    let mut sse = 0.0;
    for img in 0..40 {
        for (ty, tx) in (0..16).flat_map(|y| (0..16).map(move |x| (y, x))) {
            let tile: Vec<f64> = (0..p)
                .map(|f| f64::from(v[img * 4096 + (ty * 4 + f / 4) * 64 + tx * 4 + f % 4]))
                .collect();
            let mut best = f64::MAX;
            for i in 0..k {
                for j in i..k {
                    let (a, b) = (&protos[i * p..(i + 1) * p], &protos[j * p..(j + 1) * p]);
                    // min over t in [0, 1] of |tile - b - t (a - b)|².
                    let (num, den) = (0..p).fold((0.0, 0.0), |(n, d), f| {
                        let diff = a[f] - b[f];
                        (n + (tile[f] - b[f]) * diff, d + diff * diff)
                    });
                    let t = if den > 0.0 {
                        (num / den).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let e: f64 = (0..p)
                        .map(|f| (tile[f] - b[f] - t * (a[f] - b[f])).powi(2))
                        .sum();
                    best = best.min(e);
                }
            }
            sse += best;
        }
    }
    let mse = sse / v.len() as f64;
    10.0 * (data.range().powi(2) / mse).log10()
}

#[test]
fn sparse_weights_from_training_params_match_resealing() {
    let data = Data::Faces;
    let model = ModelParams::Archetypal(ArchetypalParams::new(20).max_iter(40));
    let direct = data
        .params(model)
        .kept_weights(2)
        .fit(&data.train().view())
        .unwrap();
    assert_eq!(direct.kept_weights(), 2);
    assert_eq!(direct, archetypal(data).with_kept_weights(2).unwrap());
    // Still one weight fewer than prototypes at most.
    assert!(archetypal(data).with_kept_weights(20).is_err());
    assert!(kmeans(data, 16).with_kept_weights(1).is_err());
}

/// Positive values spanning six decades, like a plasma velocity distribution: two Gaussian
/// peaks at 1e-12, tails clamped at 1e-18; (8, 16, 16, 16) float64.
fn decades() -> Vec<f64> {
    let n = 16usize;
    Array4::from_shape_fn((8, n, n, n), |(v, z, y, x)| {
        let (z, y, x) = (z as f64, y as f64, x as f64);
        let c1 = 4.0 + v as f64;
        let r1 = (z - c1).powi(2) + (y - 7.5).powi(2) + (x - 6.0).powi(2);
        let r2 = (z - 10.0).powi(2) + (y - 4.0 - 0.5 * v as f64).powi(2) + (x - 11.0).powi(2);
        let w1 = 2.0 + 0.25 * v as f64;
        let g = (-r1 / (2.0 * w1 * w1)).exp() + 0.3 * (-r2 / 8.0).exp();
        (1e-12 * g).max(1e-18)
    })
    .into_iter()
    .collect()
}

fn decode_f64(out: &[u8]) -> Vec<f64> {
    out.chunks_exact(8)
        .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn log10_round_trip(model: &ModelParams, transform: Transform) -> Vec<f64> {
    let values = decades();
    let train = ArrayD::from_shape_vec(vec![8, 16, 16, 16], values.clone()).unwrap();
    let cb = CodebookParams::new(model.clone())
        .tile_shape(&[4, 4, 4])
        .n_samples(4000)
        .transform(transform)
        .fit(&train.view())
        .unwrap();
    assert_eq!(cb.transform(), transform);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let (_, out) = round_trip(
        &bytes,
        &Geometry {
            shape: &[8, 16, 16, 16],
            chunks: &[2, 16, 16, 16],
            blocks: &[1, 16, 16, 16],
            dtype: "<f8",
        },
        &cb.to_msgpack(),
        &Settings::default(),
    );
    decode_f64(&out)
}

/// Mean relative error of the values in `(lo, hi]`.
fn mean_rel_err(values: &[f64], rec: &[f64], lo: f64, hi: f64) -> f64 {
    let rel: Vec<f64> = values
        .iter()
        .zip(rec)
        .filter(|(&v, _)| v > lo && v <= hi)
        .map(|(&v, &r)| (r - v).abs() / v)
        .collect();
    rel.iter().sum::<f64>() / rel.len() as f64
}

fn log10_models() -> [(&'static str, ModelParams); 3] {
    [
        (
            "archetypal",
            ModelParams::Archetypal(ArchetypalParams::new(16).max_iter(40)),
        ),
        (
            "residual",
            ModelParams::Residual(ResidualParams::new(2, 64).mean_bits(6).max_iter(30)),
        ),
        (
            "scalar",
            ModelParams::Scalar(ScalarParams::new(5, ScalarMethod::LloydMax)),
        ),
    ]
}

const FLOOR: f64 = 1e-16;

#[test]
fn log10_transform_keeps_relative_precision_over_decades() {
    let values = decades();
    // The decoder compares in float32.
    let floor32 = f64::from(FLOOR as f32);
    // Measured mean relative errors above 1e-14: 0.40, 0.10, 0.071.
    for ((name, model), bound) in log10_models().into_iter().zip([0.5, 0.15, 0.1]) {
        let rec = log10_round_trip(&model, Transform::Log10 { floor: FLOOR });
        let linear = log10_round_trip(&model, Transform::Identity);
        // Exactly 0 (empty) or at least half a decade above the floor: never a negative
        // density, never a value in the band where empty cells land.
        for (&v, &r) in values.iter().zip(&rec) {
            assert!(
                r == 0.0 || r >= floor32 * 10f64.sqrt() * (1.0 - 1e-5),
                "{name}: {v:e} decoded as {r:e}"
            );
        }
        let above = mean_rel_err(&values, &rec, 1e-14, 1.0);
        assert!(
            above < bound,
            "{name}: mean relative error {above} above 1e-14"
        );
        // Between the floor and 1e-14 the linear codebook has no precision left (measured
        // 2.8, 3.8, 4.0 against 1.3, 0.24, 0.17 with log10, which zeroes the half decade
        // above the floor).
        let (mid_log, mid_lin) = (
            mean_rel_err(&values, &rec, FLOOR, 1e-14),
            mean_rel_err(&values, &linear, FLOOR, 1e-14),
        );
        eprintln!("log10 {name}: mean rel err > 1e-14 {above:.3}, floor..1e-14 {mid_log:.3} (linear {mid_lin:.3})");
        assert!(mid_log < mid_lin, "{name}: {mid_log} vs linear {mid_lin}");
        assert!(linear.iter().all(|r| r.is_finite()));
    }
}

/// The floor stands for "empty": values at or below it come back as 0, as long as their
/// reconstruction lands within half a decade of the floor (below √10 × floor). Residual and
/// scalar codes always do here (2238 of 2238); 16 archetypes on 4×4×4 tiles, whose
/// log-space error is larger, for 1928 of 2238. (When only decoded values at or below the
/// floor itself were zeroed: 327, 1239 and 0 of 2238; the scalar quantizer's lowest level
/// sat just above the floor and decoded every empty value as 1.007e-16.)
#[test]
fn log10_floor_values_decode_as_zero() {
    let values = decades();
    let below = values.iter().filter(|&&v| v <= FLOOR).count();
    assert!(below > 1000);
    for ((name, model), share) in log10_models().into_iter().zip([0.8, 1.0, 1.0]) {
        let rec = log10_round_trip(&model, Transform::Log10 { floor: FLOOR });
        let empty: Vec<f64> = values
            .iter()
            .zip(&rec)
            .filter(|(&v, _)| v <= FLOOR)
            .map(|(_, &r)| r)
            .collect();
        let zeroed = empty.iter().filter(|&&r| r == 0.0).count();
        let worst = empty.iter().copied().fold(0f64, f64::max);
        eprintln!("log10 {name}: {zeroed}/{below} empty values zeroed, worst {worst:.3e}");
        assert!(
            zeroed as f64 >= share * below as f64,
            "{name}: {zeroed} of {below} values at or below the floor decoded as 0"
        );
    }
}

/// A codebook must be usable as the codec uses it, in float32. Finite in float64 was not
/// enough: a residual mean_min of -1e300 decoded every value as NaN, one scale of 1e300 on
/// a k-means codebook 10240 of 163840 values as infinity, silently.
#[test]
fn codebooks_out_of_float32_range_are_refused() {
    // Each edit of a sound codebook's MessagePack, resealed with a valid fingerprint: only
    // the float32 check stands between it and the codec.
    type Edit = fn(&mut rmpv::Value);
    let cases: [(&str, Codebook, Edit); 3] = [
        ("mean_min -1e300", residual(Data::Faces, 2, 64, 6), |cb| {
            *field(field(cb, "model"), "mean_min") = (-1e300).into()
        }),
        ("scale 1e300", kmeans(Data::Faces, 16), |cb| {
            first(field(field(cb, "scaler"), "scale"))
        }),
        ("prototype value 1e300", kmeans(Data::Faces, 16), |cb| {
            first(field(cb, "prototypes"))
        }),
    ];
    for (name, cb, edit) in cases {
        assert_eq!(
            Codebook::from_msgpack(&resealed(&cb.to_msgpack(), |_| {})).unwrap(),
            cb,
            "resealing without an edit changes nothing"
        );
        let err = Codebook::from_msgpack(&resealed(&cb.to_msgpack(), edit)).unwrap_err();
        assert!(err.to_string().contains("float32"), "{name}: {err}");
    }
}

/// Sets the first element of a MessagePack array to 1e300 (float32 prototypes, a `bin`,
/// become an array of float64 first: a codebook may store either).
fn first(array: &mut rmpv::Value) {
    if let rmpv::Value::Binary(bytes) = array {
        *array = rmpv::Value::Array(
            bytes
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).into())
                .collect(),
        );
    }
    let rmpv::Value::Array(items) = array else {
        panic!("not an array: {array}")
    };
    items[0] = 1e300.into();
}

/// The value of `key` in a MessagePack map.
fn field<'a>(map: &'a mut rmpv::Value, key: &str) -> &'a mut rmpv::Value {
    let rmpv::Value::Map(entries) = map else {
        panic!("not a map: {map}")
    };
    &mut entries
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some(key))
        .unwrap_or_else(|| panic!("no {key}"))
        .1
}

/// Codebook bytes edited by `edit` and given the fingerprint of their new content, as an
/// attacker (or a careless tool) could write them.
fn resealed(bytes: &[u8], edit: impl FnOnce(&mut rmpv::Value)) -> Vec<u8> {
    let encode = |v: &rmpv::Value| {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    };
    let mut cb = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
    edit(&mut cb);
    *field(&mut cb, "fingerprint") = 0.into();
    let fingerprint = xxhash_rust::xxh3::xxh3_64(&encode(&cb));
    *field(&mut cb, "fingerprint") = fingerprint.into();
    encode(&cb)
}

#[test]
fn same_bytes_with_one_and_two_threads() {
    for data in BOTH {
        for (name, cb) in [
            ("residual 2x64 + mean", residual(data, 2, 64, 6)),
            (
                "archetypal kept 2",
                archetypal(data).with_kept_weights(2).unwrap(),
            ),
        ] {
            let run = |nthreads| {
                let (arr, out) = data.round_trip(
                    &cb,
                    &Settings {
                        nthreads,
                        ..Settings::default()
                    },
                );
                // Block by block: with several threads c-blosc2 lays the blocks out in a
                // chunk in the order they finish, so only the blocks themselves must agree.
                let blocks: Vec<Vec<u8>> = (0..arr.nchunks())
                    .flat_map(|c| chunk_blocks(&arr.chunk(c)))
                    .collect();
                (blocks, out)
            };
            let (one, out1) = run(1);
            let (two, out2) = run(2);
            assert_eq!(one.len(), data.n_blocks());
            for (i, (a, b)) in one.iter().zip(&two).enumerate() {
                assert!(
                    a == b,
                    "{name} {data:?}: block {i} differs between 1 and 2 threads"
                );
            }
            assert!(
                out1.iter()
                    .zip(&out2)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name} {data:?}: decoded values differ between 1 and 2 threads"
            );
        }
    }
}

/// The name in an [`Error::InvalidParam`], or a panic with what came instead.
fn param_name(result: Result<Codebook, Error>) -> &'static str {
    match result {
        Err(Error::InvalidParam { name, .. }) => name,
        other => panic!("expected a named parameter error, got {other:?}"),
    }
}

#[test]
fn bad_parameters_are_named() {
    let data = ArrayD::from_shape_fn(vec![4, 16, 16], |ix| (ix[1] * 16 + ix[2]) as f64 / 256.0);
    let fit = |p: CodebookParams| param_name(p.fit(&data.view()));
    let res = |p: ResidualParams| fit(CodebookParams::new(ModelParams::Residual(p)));
    assert_eq!(res(ResidualParams::new(0, 8)), "n_stages");
    assert_eq!(res(ResidualParams::new(17, 8)), "n_stages");
    assert_eq!(res(ResidualParams::new(2, 0)), "codewords_per_stage");
    assert_eq!(res(ResidualParams::new(2, 5000)), "codewords_per_stage");
    assert_eq!(res(ResidualParams::new(2, 8).mean_bits(13)), "mean_bits");
    assert_eq!(res(ResidualParams::new(2, 8).beam(0)), "beam");
    assert_eq!(res(ResidualParams::new(2, 8).beam(65)), "beam");
    let sc = |bits| {
        fit(CodebookParams::new(ModelParams::Scalar(ScalarParams::new(
            bits,
            ScalarMethod::Uniform,
        ))))
    };
    assert_eq!(sc(0), "scalar_bits");
    assert_eq!(sc(13), "scalar_bits");
    let aa = || CodebookParams::new(ModelParams::Archetypal(ArchetypalParams::new(8)));
    let fcm = || CodebookParams::new(ModelParams::FuzzyCMeans(FuzzyCMeansParams::new(8)));
    for kept in [8, 9, 1000] {
        assert_eq!(fit(aa().kept_weights(kept)), "kept_weights");
        assert_eq!(fit(fcm().kept_weights(kept)), "kept_weights");
    }
    // Kinds without weights have none to keep.
    for model in [
        ModelParams::KMeans(KMeansParams::new(8)),
        ModelParams::Residual(ResidualParams::new(2, 8)),
        ModelParams::Scalar(ScalarParams::new(3, ScalarMethod::LloydMax)),
    ] {
        assert_eq!(
            fit(CodebookParams::new(model).kept_weights(1)),
            "kept_weights"
        );
    }
    for floor in [0.0, -1e-16, f64::NAN, f64::INFINITY, 1e-300] {
        assert_eq!(
            fit(aa().transform(Transform::Log10 { floor })),
            "transform",
            "floor {floor}"
        );
    }
    // The valid neighbours train.
    for p in [
        aa().kept_weights(7),
        CodebookParams::new(ModelParams::Residual(
            ResidualParams::new(16, 2).mean_bits(12),
        )),
        CodebookParams::new(ModelParams::Scalar(ScalarParams::new(
            12,
            ScalarMethod::Quantile,
        ))),
        aa().transform(Transform::Log10 { floor: 1e-30 }),
    ] {
        p.fit(&data.view()).unwrap();
    }
}

#[test]
fn codec_meta_is_refused_without_weights() {
    let data = Data::Faces;
    let meta4 = Settings {
        codec_meta: 4,
        ..Settings::default()
    };
    for (name, cb) in [
        ("kmeans", kmeans(data, 16)),
        ("residual", residual(data, 2, 64, 0)),
        ("scalar", scalar(data, 3, ScalarMethod::Uniform)),
    ] {
        let res = compress_b2nd(
            &f32_bytes(data.values()),
            data.shape(),
            data.chunks(),
            data.blocks(),
            "<f4",
            4,
            &[("vq", &cb.to_msgpack())],
            &meta4,
        );
        match res {
            Ok(_) => panic!("{name}: codec_meta 4 accepted"),
            Err(rc) => assert!(rc < 0),
        }
        let msg = last_error();
        assert!(msg.contains("codec_meta"), "{name}: {msg}");
        assert!(msg.contains(name), "{name}: {msg}");
    }
    // Sparse weights are weights: codec_meta sets their bits.
    let cb = archetypal(data).with_kept_weights(2).unwrap();
    let (arr8, _) = data.round_trip(&cb, &Settings::default());
    let (arr4, rec) = data.round_trip(&cb, &meta4);
    let k = cb.n_prototypes();
    let tpb = data.tiles_per_block();
    check_packing(
        &arr4,
        data,
        4,
        (tpb * 2 * index_bits(k) as usize).div_ceil(8) + (tpb * 4).div_ceil(8),
    );
    assert!(arr4.cbytes() < arr8.cbytes());
    assert!(data.psnr(&rec) > 15.0);
}

/// Codebooks whose blocks the corruption tests damage: every kind of format-2 payload, and
/// index widths with unused values (k = 100 in 7 bits, 48 codewords in 6, 20 archetypes in
/// 5).
fn corruption_cases() -> Vec<(&'static str, Data, Codebook)> {
    vec![
        ("kmeans k=100", Data::Faces, kmeans(Data::Faces, 100)),
        ("kmeans k=100 3-D", Data::Volume, kmeans(Data::Volume, 100)),
        (
            "residual 2x48 + mean",
            Data::Faces,
            residual(Data::Faces, 2, 48, 6),
        ),
        (
            "residual 2x48 3-D",
            Data::Volume,
            residual(Data::Volume, 2, 48, 0),
        ),
        (
            "scalar 5 bits",
            Data::Faces,
            scalar(Data::Faces, 5, ScalarMethod::LloydMax),
        ),
        (
            "archetypal kept 2",
            Data::Faces,
            archetypal(Data::Faces).with_kept_weights(2).unwrap(),
        ),
        (
            "cmeans kept 3 3-D",
            Data::Volume,
            cmeans(Data::Volume).with_kept_weights(3).unwrap(),
        ),
    ]
}

/// Chunk 0 of `data` compressed with `cb`, the offset of its first block's codec bytes in
/// the chunk, and those bytes.
fn first_block(data: Data, cb: &Codebook) -> (Array, Vec<u8>, usize, Vec<u8>) {
    let (arr, _) = data.round_trip(cb, &Settings::default());
    let chunk = arr.chunk(0);
    // c-blosc2's block offsets follow its 32-byte chunk header; each block is a 4-byte
    // length, then (one stream: NEVER_SPLIT) the codec's bytes.
    let start = i32::from_le_bytes(chunk[32..36].try_into().unwrap()) as usize + 4;
    let block = chunk_blocks(&chunk).remove(0);
    assert_eq!(&chunk[start..start + block.len()], &block[..]);
    (arr, chunk, start, block)
}

fn decode(cb: &PreparedCodebook, block: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; BLOCK_VALUES * 4];
    decode_block(cb, block, Some(4), &mut out).map(|n| {
        assert_eq!(n, out.len());
        out
    })
}

/// `header` (its checksum replaced) followed by `payload`.
fn block_with(header: &BlockHeader, payload: &[u8]) -> Vec<u8> {
    let mut h = header.clone();
    h.checksum = payload_checksum(payload);
    let mut block = vec![0u8; h.encoded_len()];
    h.write(&mut block).unwrap();
    block.extend_from_slice(payload);
    block
}

#[test]
fn flipped_and_truncated_blocks_are_errors() {
    for (name, data, cb) in corruption_cases() {
        let (arr, _, _, block) = first_block(data, &cb);
        let pc = PreparedCodebook::new(cb).unwrap();
        let good = decode(&pc, &block).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (all, _) = arr.decompress().unwrap();
        assert_eq!(
            good,
            all[..good.len()],
            "{name}: block 0 as c-blosc2 decodes it"
        );
        // Every bit pattern of every byte: header fields, varints, payload.
        let mut decoded = Vec::new();
        for pos in 0..block.len() {
            for mask in [0x01u8, 0x02, 0x10, 0x80, 0xff] {
                let mut bad = block.clone();
                bad[pos] ^= mask;
                if let Ok(out) = decode(&pc, &bad) {
                    decoded.push((pos, mask, out == good));
                }
            }
        }
        assert!(decoded.is_empty(), "{name}: flips decoded: {decoded:?}");
        for cut in 0..block.len() {
            assert!(decode(&pc, &block[..cut]).is_err(), "{name}: cut at {cut}");
        }
        let mut longer = block.clone();
        longer.push(0);
        assert!(decode(&pc, &longer).is_err(), "{name}: a trailing byte");
    }
}

#[test]
fn malformed_format2_headers_are_errors() {
    for (name, data, cb) in corruption_cases() {
        let (_, _, _, block) = first_block(data, &cb);
        let pc = PreparedCodebook::new(cb).unwrap();
        let (header, hlen) = BlockHeader::read(&block).unwrap();
        assert_eq!(hlen, 14 + header.shape.len(), "{name}: one-byte varints");
        let payload = &block[hlen..];
        // A header with its shape's varints replaced, the payload (and checksum) intact.
        let with_dims = |ndim: u8, dims: &[u8]| {
            let mut b = block[..13].to_vec();
            b.push(ndim);
            b.extend_from_slice(dims);
            b.extend_from_slice(payload);
            b
        };
        let err = |b: &[u8]| match decode(&pc, b) {
            Err(e) => e,
            Ok(_) => panic!("{name}: decoded {:?}", &b[..b.len().min(24)]),
        };
        let dims = &block[14..hlen];
        assert!(decode(&pc, &with_dims(header.shape.len() as u8, dims)).is_ok());
        // The last varint says "more follows", and the block ends there.
        let mut open = block[..hlen].to_vec();
        open[hlen - 1] |= 0x80;
        assert!(
            matches!(err(&open), Error::TruncatedBlock(_)),
            "{name}: {:?}",
            err(&open)
        );
        // ... or the payload's first byte is taken for the varint's next one.
        let mut open = block.clone();
        open[hlen - 1] |= 0x80;
        err(&open);
        // A varint of more than 32 bits; one of exactly 2^32 - 1; a zero side.
        let e = err(&with_dims(1, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]));
        assert!(e.to_string().contains("over 32 bits"), "{name}: {e}");
        err(&with_dims(1, &[0xff, 0xff, 0xff, 0xff, 0x0f]));
        let mut zero = dims.to_vec();
        zero[0] = 0;
        let e = err(&with_dims(header.shape.len() as u8, &zero));
        assert!(e.to_string().contains("dimension 0"), "{name}: {e}");
        // ndim 0 and 9 (one more than b2nd has), and a shape one dimension short.
        err(&with_dims(0, &[]));
        err(&with_dims(9, &[1, 1, 1, 1, 1, 1, 1, 1, 1]));
        err(&with_dims(header.shape.len() as u8 - 1, &dims[1..]));
        // Flags this build does not know.
        for bit in 1..8 {
            let mut b = block.clone();
            b[4] |= 1 << bit;
            let e = err(&b);
            assert!(e.to_string().contains("unknown flags"), "{name}: {e}");
        }
        // A payload the raw flag misdescribes: LZ4 bytes taken as codes or the reverse.
        let mut b = block.clone();
        b[4] ^= FLAG_RAW_PAYLOAD;
        err(&b);
    }
}

#[test]
fn codeword_indexes_beyond_k_are_errors() {
    use bitpack::{pack, packed_len, unpack};
    let data = Data::Faces;
    let n = data.tiles_per_block();
    for (name, cb, codes) in [
        ("kmeans k=100", kmeans(data, 100), 0),
        ("residual 2x48 + mean", residual(data, 2, 48, 6), 1),
        (
            "archetypal kept 2",
            archetypal(data).with_kept_weights(2).unwrap(),
            2,
        ),
    ] {
        let (_, _, _, block) = first_block(data, &cb);
        let (mut header, _) = BlockHeader::read(&block).unwrap();
        header.flags = FLAG_RAW_PAYLOAD;
        let pc = PreparedCodebook::new(cb.clone()).unwrap();
        let k = cb.codewords_per_stage();
        let bits = index_bits(k);
        // A raw payload of valid codes, with index `at` of its index stream set to `bad`.
        let payload = |at: usize, bad: u16| {
            let mut out = Vec::new();
            match codes {
                0 => {
                    let mut idx: Vec<u16> = (0..n).map(|t| (t % k) as u16).collect();
                    idx[at] = bad;
                    pack(&idx, bits, &mut out);
                }
                1 => {
                    let means: Vec<u16> = (0..n).map(|t| (t % 64) as u16).collect();
                    pack(&means, 6, &mut out);
                    let mut idx: Vec<u16> = (0..2 * n).map(|t| (t * 7 % k) as u16).collect();
                    idx[at] = bad;
                    pack(&idx, bits, &mut out);
                }
                _ => {
                    let mut idx: Vec<u16> =
                        (0..2 * n).map(|i| ((i / 2 + i % 2) % k) as u16).collect();
                    idx[at] = bad;
                    pack(&idx, bits, &mut out);
                    pack(&vec![100u16; n], 8, &mut out);
                }
            }
            out
        };
        let ok = block_with(&header, &payload(0, 0));
        decode(&pc, &ok).unwrap_or_else(|e| panic!("{name}: valid raw codes: {e}"));
        let last = if codes == 0 { n - 1 } else { 2 * n - 1 };
        for at in [0, 17, last] {
            for bad in [k as u16, (1u16 << bits) - 1] {
                let e = decode(&pc, &block_with(&header, &payload(at, bad))).unwrap_err();
                assert!(
                    matches!(&e, Error::CorruptBlock(m) if m.contains(&format!("codeword index {bad} of {k}"))),
                    "{name}: index {bad} at {at}: {e}"
                );
            }
        }
    }

    // A real residual block (raw: stage indexes look random to LZ4), one index raised,
    // checksum fixed: an error from decode_block and from c-blosc2.
    let cb = residual(data, 2, 48, 6);
    let (arr, mut chunk, start, block) = first_block(data, &cb);
    let (header, hlen) = BlockHeader::read(&block).unwrap();
    assert_ne!(
        header.flags & FLAG_RAW_PAYLOAD,
        0,
        "residual blocks are stored raw"
    );
    let payload = &block[hlen..];
    let means_len = packed_len(n, 6);
    let mut idx = vec![0u16; 2 * n];
    unpack(&payload[means_len..], 6, &mut idx).unwrap();
    assert!(idx.iter().all(|&j| j < 48));
    idx[n + 3] = 55;
    let mut edited = payload[..means_len].to_vec();
    pack(&idx, 6, &mut edited);
    assert_eq!(edited.len(), payload.len());
    let bad = block_with(&header, &edited);
    let pc = PreparedCodebook::new(cb).unwrap();
    let e = decode(&pc, &bad).unwrap_err();
    assert!(e.to_string().contains("codeword index 55 of 48"), "{e}");
    chunk[start..start + bad.len()].copy_from_slice(&bad);
    assert!(unsafe { schunk_update_chunk(arr.schunk(), 0, &chunk) } >= 0);
    let mut out = vec![0u8; 4 * BLOCK_VALUES * 4];
    let rc = unsafe { schunk_decompress_chunk(arr.schunk(), 0, &mut out) };
    assert!(rc < 0, "c-blosc2 decoded the edited chunk ({rc})");
    assert!(
        last_error().contains("codeword index 55"),
        "{}",
        last_error()
    );
}

#[test]
fn corrupted_chunks_fail_through_cblosc2() {
    for (name, data, cb) in corruption_cases() {
        let (arr, chunk, start, _) = first_block(data, &cb);
        let chunk_values = data.chunks()[0] as usize * BLOCK_VALUES;
        let mut out = vec![0u8; chunk_values * 4];
        let sc = arr.schunk();
        assert_eq!(
            unsafe { schunk_decompress_chunk(sc, 0, &mut out) },
            out.len() as i32
        );
        // Only the codec's bytes: the first block's, skipping nothing of them.
        let block_len = chunk_blocks(&chunk)[0].len();
        for pos in (start..start + block_len).step_by(5) {
            let mut bad = chunk.clone();
            bad[pos] ^= 0x5a;
            assert!(unsafe { schunk_update_chunk(sc, 0, &bad) } >= 0);
            let rc = unsafe { schunk_decompress_chunk(sc, 0, &mut out) };
            assert!(
                rc < 0,
                "{name}: byte {} of the block flipped, decoded",
                pos - start
            );
        }
        assert!(unsafe { schunk_update_chunk(sc, 0, &chunk) } >= 0);
        assert_eq!(
            unsafe { schunk_decompress_chunk(sc, 0, &mut out) },
            out.len() as i32
        );
    }
}
