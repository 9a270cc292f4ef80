//! Any block and any valid bound through the predictive engine (block format 4): every
//! finite value decodes within its bound, NaN and infinities come back bit-exact, zeros stay
//! exact under a point-wise bound; and any byte string handed to the decoder is decoded or
//! refused, never a panic. Input: [mode, dtype, bound, shape, values...].
#![no_main]
use blosc2_vq::engine::{self, bound::BlockBound};
use blosc2_vq::tiles::Dtype;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, dt, bound, form, values @ ..] = data else {
        return;
    };
    // Anything as a block: decoded or refused.
    let mut sink = vec![0u8; 4096];
    let _ = engine::decode_block(data, None, &mut sink);

    let dtype = [Dtype::Float32, Dtype::Float64, Dtype::Float16, Dtype::Uint8][*dt as usize % 4];
    let size = dtype.size();
    let n = values.len() / size;
    if n == 0 {
        return;
    }
    let input = &values[..n * size];
    // 1e-9 to 1e5 in steps of a quarter decade; point-wise 1e-4 to 0.5.
    let e = 10f64.powf(f64::from(*bound % 57) / 4.0 - 9.0);
    let bound = if mode % 2 == 0 {
        BlockBound::Absolute { max_error: e }
    } else {
        BlockBound::PointwiseRelative {
            rel: (10f64.powf(f64::from(*bound % 17) / 4.0 - 4.0)).min(0.5),
            floor: if mode % 4 == 1 { 0.0 } else { e },
        }
    };
    // A 1-D, 2-D or 3-D block shape holding n values in its leading rows.
    let shape = match form % 3 {
        0 => vec![n],
        1 => vec![n.div_ceil(7), 7],
        _ => vec![n.div_ceil(12), 3, 4],
    };
    let mut packed = vec![0u8; input.len() * 3 + 4096];
    let Some((len, _)) = engine::encode_block(input, dtype, &shape, bound, &mut packed)
        .expect("a valid bound and shape encode")
    else {
        return;
    };
    let mut out = vec![0u8; input.len()];
    engine::decode_block(&packed[..len], Some(size), &mut out).expect("its own block decodes");
    let mut x = vec![0f64; n];
    let mut y = vec![0f64; n];
    dtype.read_f64(input, &mut x);
    dtype.read_f64(&out, &mut y);
    for i in 0..n {
        let (xi, yi) = (x[i], y[i]);
        if !xi.is_finite() {
            assert_eq!(input[i * size..(i + 1) * size], out[i * size..(i + 1) * size], "value {i}");
            continue;
        }
        assert!(
            (yi - xi).abs() <= bound.allowed(xi),
            "value {i}: {xi:e} decoded {yi:e}, {bound:?}"
        );
        if matches!(bound, BlockBound::PointwiseRelative { .. }) && xi == 0.0 {
            assert_eq!(xi.to_bits(), yi.to_bits(), "value {i}: zero");
        }
    }
});
