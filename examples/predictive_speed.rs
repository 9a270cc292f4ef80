//! Times the predictive engine on one .npy field (float32 or float64, any shape), block by
//! block as c-blosc2 would call it, on one thread:
//! `cargo run --release --example predictive_speed -- FIELD.npy REL_ERROR [BLOCK_VALUES]`.
use blosc2_vq::engine::{self, bound::BlockBound};
use blosc2_vq::tiles::Dtype;
use ndarray_npy::ReadNpyExt;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("FIELD.npy");
    let rel: f64 = args.get(2).map_or(1e-3, |s| s.parse().expect("a number"));
    let block_values: usize = args.get(3).map_or(1 << 16, |s| s.parse().expect("a count"));
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let a = ndarray::ArrayD::<f32>::read_npy(file).expect("a float32 .npy");
    let shape = a.shape().to_vec();
    let values: Vec<f32> = a.iter().copied().collect();
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let bound = BlockBound::Absolute {
        max_error: rel * f64::from(hi - lo),
    };
    // Blocks: whole rows of the leading dimension, about block_values values each.
    let row: usize = shape[1..].iter().product();
    let rows = (block_values / row).max(1);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let block_bytes = rows * row * 4;
    let mut block_shape = shape.clone();
    block_shape[0] = rows;
    let mut packed = vec![0u8; block_bytes * 2 + 4096];
    let mut blocks = Vec::new();
    let mut choices = std::collections::BTreeMap::new();
    let repeats = 5;
    let t = Instant::now();
    for r in 0..repeats {
        for chunk in bytes.chunks(block_bytes) {
            let (n, choice) =
                engine::encode_block(chunk, Dtype::Float32, &block_shape, bound, &mut packed)
                    .unwrap()
                    .unwrap();
            if r == 0 {
                *choices
                    .entry(format!(
                        "{:?} schedule {}",
                        choice.predictor, choice.schedule
                    ))
                    .or_insert(0) += 1;
                blocks.push(packed[..n].to_vec());
            }
        }
    }
    let enc = t.elapsed().as_secs_f64() / repeats as f64;
    let mut out = vec![0u8; block_bytes];
    let t = Instant::now();
    for _ in 0..repeats {
        for (b, chunk) in blocks.iter().zip(bytes.chunks(block_bytes)) {
            engine::decode_block(b, Some(4), &mut out[..chunk.len()]).unwrap();
        }
    }
    let dec = t.elapsed().as_secs_f64() / repeats as f64;
    let total: usize = blocks.iter().map(Vec::len).sum();
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{path} {shape:?} blocks {block_shape:?}: {:.3} bits/value, encode {:.1} MB/s, decode {:.1} MB/s",
        total as f64 * 8.0 / values.len() as f64,
        mb / enc,
        mb / dec
    );
    for (c, n) in choices {
        println!("  {n:4} blocks: {c}");
    }
}
