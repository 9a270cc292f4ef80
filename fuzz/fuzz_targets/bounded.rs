//! Any finite block and any valid bound: the error-bounded encoder then the decoder, and every
//! decoded value within the bound (the guarantee of `block::bounded`). Input: [codebook, dtype,
//! bound, values...]; the block is 16 × 16 (fewer rows when the input is short).
#![no_main]
use blosc2_vq::block::{decode_block, encode_block, Encoded};
use blosc2_vq::codebook::Transform;
use blosc2_vq::tiles::{BlockLayout, Dtype};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, dt, bound, values @ ..] = data else {
        return;
    };
    let cb = &blosc2_vq_fuzz::prepared()[blosc2_vq_fuzz::BOUNDED[*sel as usize % 2]];
    let dtype = if dt % 2 == 0 {
        Dtype::Float32
    } else {
        Dtype::Float64
    };
    let size = dtype.size();
    // 1e-6 to 10, in 8 steps per decade.
    let max_error = 10f64.powf(f64::from(*bound % 56) / 8.0 - 6.0);
    let rows = (values.len() / size / 16).min(16);
    if rows < 4 {
        return;
    }
    let input = &values[..rows * 16 * size];
    let mut original = vec![0f64; rows * 16];
    dtype.read_f64(input, &mut original);
    if original.iter().any(|v| !v.is_finite()) {
        return;
    }
    let layout = BlockLayout {
        shape: vec![16, 16],
        dtype,
    };
    let mut packed = vec![0u8; input.len() * 3 + 4096];
    let n = match encode_block(cb, &layout, input, None, Some(max_error), &mut packed) {
        Ok(Encoded::Packed(n)) => n,
        Ok(_) => return,
        Err(e) => panic!("a finite block and a valid bound must encode: {e}"),
    };
    let mut out = vec![0u8; input.len()];
    decode_block(cb, &packed[..n], Some(size), &mut out).expect("its own block decodes");
    let mut decoded = vec![0f64; rows * 16];
    dtype.read_f64(&out, &mut decoded);
    for (i, (&x, &y)) in original.iter().zip(&decoded).enumerate() {
        let ok = match cb.codebook().transform() {
            Transform::Log10 { floor } if x >= floor => {
                y > 0.0 && (y.log10() - x.log10()).abs() <= max_error
            }
            Transform::Log10 { .. } if x >= 0.0 => y == 0.0,
            Transform::Log10 { .. } => y == x,
            _ => (y - x).abs() <= max_error,
        };
        assert!(ok, "value {i}: {x:e} decoded {y:e}, bound {max_error:e}");
    }
});
