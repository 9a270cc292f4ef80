//! Heavy load: 2000 chunks (4000 blocks) compressed with 1, 2, 8 and 16 threads give the same bytes,
//! several codebooks in use at once from several threads do not interfere, and the codebook
//! cache stays bounded.

mod common;

use blosc2_vq::codebook::cache;
use blosc2_vq::train::Metric;
use blosc2_vq::train::{CodebookParams, FuzzyCMeansParams, ModelParams};
use common::*;
use ndarray::s;

fn codebook(seed: u64, k: usize) -> Vec<u8> {
    let faces = olivetti()
        .slice(s![..100, .., ..])
        .mapv(f64::from)
        .into_dyn();
    CodebookParams::new(ModelParams::FuzzyCMeans(
        FuzzyCMeansParams::new(k)
            .metric(Metric::Cosine)
            .max_iter(15)
            .seed(seed),
    ))
    .seed(seed)
    .fit(&faces.view())
    .unwrap()
    .to_msgpack()
}

/// The faces repeated ten times: 4000 images, 4000 chunks of one block (65 MB of float32).
fn many_faces() -> Vec<u8> {
    let one = f32_bytes(olivetti().as_slice().unwrap());
    one.repeat(10)
}

#[test]
fn two_thousand_chunks_are_identical_for_1_2_8_16_threads() {
    let data = many_faces();
    let cb = codebook(1, 16);
    let mut reference: Option<(Vec<Vec<u8>>, Vec<u8>)> = None;
    for nthreads in [1i16, 2, 8, 16] {
        let s = Settings {
            nthreads,
            ..Settings::default()
        };
        // 32 blocks per chunk: c-blosc2 spreads the blocks of each chunk over its threads.
        let arr = compress_b2nd(
            &data,
            &[4000, 64, 64],
            &[32, 64, 64],
            &[1, 64, 64],
            "<f4",
            4,
            &[("vq", &cb)],
            &s,
        )
        .unwrap_or_else(|rc| panic!("{rc}: {}", last_error()));
        assert_eq!(arr.nchunks(), 125);
        let blocks: Vec<Vec<u8>> = (0..arr.nchunks())
            .flat_map(|n| chunk_blocks(&arr.chunk(n)))
            .collect();
        assert_eq!(blocks.len(), 4000);
        let (out, dsecs) = arr.decompress().unwrap();
        println!(
            "nthreads {nthreads:>2}: 2000 chunks, encode {:.0} MB/s, decode {:.0} MB/s, ratio {:.2}",
            data.len() as f64 / 1e6 / arr.encode_seconds,
            data.len() as f64 / 1e6 / dsecs,
            arr.cratio()
        );
        match &reference {
            None => reference = Some((blocks, out)),
            Some((b1, o1)) => {
                assert!(
                    blocks == *b1,
                    "compressed blocks differ with {nthreads} threads"
                );
                assert!(
                    out == *o1,
                    "decompressed data differ with {nthreads} threads"
                );
            }
        }
    }
}

#[test]
fn several_codebooks_in_use_at_once_from_several_threads() {
    let faces = f32_bytes(olivetti().as_slice().unwrap());
    let books: Vec<Vec<u8>> = (0..4)
        .map(|seed| codebook(seed + 10, 8 + seed as usize * 4))
        .collect();
    // Each codebook's result alone, then all of them at once, each with 4 c-blosc2 threads.
    let alone: Vec<Vec<u8>> = books
        .iter()
        .map(|cb| {
            round_trip(
                &faces,
                &Geometry {
                    shape: &[400, 64, 64],
                    chunks: &[16, 64, 64],
                    blocks: &[1, 64, 64],
                    dtype: "<f4",
                },
                cb,
                &Settings::default(),
            )
            .1
        })
        .collect();
    let together: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = books
            .iter()
            .map(|cb| {
                let faces = &faces;
                scope.spawn(move || {
                    let s = Settings {
                        nthreads: 4,
                        ..Settings::default()
                    };
                    // Three compressions in a row, all racing the other threads; the
                    // last one is compared.
                    let mut last = Vec::new();
                    for _ in 0..3 {
                        last = round_trip(
                            faces,
                            &Geometry {
                                shape: &[400, 64, 64],
                                chunks: &[16, 64, 64],
                                blocks: &[1, 64, 64],
                                dtype: "<f4",
                            },
                            cb,
                            &s,
                        )
                        .1;
                    }
                    last
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (a, b)) in alone.iter().zip(&together).enumerate() {
        assert!(
            a == b,
            "codebook {i} gave other data when used alongside the others"
        );
    }
}

#[test]
fn the_codebook_cache_stays_bounded() {
    let faces = f32_bytes(&olivetti().as_slice().unwrap()[..8 * 4096]);
    for seed in 0..(cache::CACHE_CAPACITY as u64 + 6) {
        let cb = codebook(100 + seed, 4);
        round_trip(
            &faces,
            &Geometry {
                shape: &[8, 64, 64],
                chunks: &[8, 64, 64],
                blocks: &[1, 64, 64],
                dtype: "<f4",
            },
            &cb,
            &Settings::default(),
        );
        assert!(
            cache::len() <= cache::CACHE_CAPACITY,
            "cache holds {} codebooks",
            cache::len()
        );
    }
    assert_eq!(cache::len(), cache::CACHE_CAPACITY);
}
