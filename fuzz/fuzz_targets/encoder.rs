//! The full encoder on arbitrary bytes with arbitrary geometry, then the decoder on what it
//! produced. Input: [codebook, dtype, ndim, dims (ndim bytes), meta, values...].
#![no_main]
use blosc2_vq::codec::{decode, encode, DecodeCall, EncodeCall};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, dt, nd, rest @ ..] = data else {
        return;
    };
    let ndim = 1 + *nd as usize % 4;
    if rest.len() < ndim + 1 {
        return;
    }
    let (dims, rest) = rest.split_at(ndim);
    let (meta, values) = (rest[0], &rest[1..]);
    let (dtype, typesize) = [
        ("<f4", 4usize),
        ("<f8", 8),
        ("<f2", 2),
        ("|u1", 1),
        ("<u2", 2),
        ("<i4", 4),
    ][*dt as usize % 6];
    let shape: Vec<i32> = dims.iter().map(|&d| 1 + i32::from(d % 40)).collect();
    let blocksize = shape.iter().map(|&d| d as usize).product::<usize>() * typesize;
    // A b2nd metalayer for this geometry, as c-blosc2 writes it.
    let mut b2nd = vec![0x97, 0x00, ndim as u8];
    for width in [9usize, 5, 5] {
        b2nd.push(0x90 + ndim as u8);
        for &d in &shape {
            if width == 9 {
                b2nd.push(0xd3);
                b2nd.extend_from_slice(&i64::from(d).to_be_bytes());
            } else {
                b2nd.push(0xd2);
                b2nd.extend_from_slice(&d.to_be_bytes());
            }
        }
    }
    b2nd.extend_from_slice(&[0x00, 0xdb, 0, 0, 0, 3]);
    b2nd.extend_from_slice(dtype.as_bytes());
    let input = &values[..values.len().min(blocksize)];
    let codebooks = blosc2_vq_fuzz::codebooks();
    let codebook = &codebooks[*sel as usize % codebooks.len()];
    let call = EncodeCall {
        input,
        codec_meta: meta % 10,
        // The top bit asks for an error bound (residual codebooks take it, others refuse it).
        max_error: (meta & 0x80 != 0).then(|| f64::from(meta & 0x7f) / 64.0 + 1e-3),
        typesize,
        blocksize,
        filters: [0; 6],
        splitmode: 2,
        codebook: Some(codebook),
        b2nd: Some(&b2nd),
        schunk_blockshape: None,
    };
    let mut out = vec![0u8; input.len()];
    if let Ok(n) = encode(&call, &mut out) {
        if n > 0 {
            let mut back = vec![0u8; input.len()];
            let d = DecodeCall {
                input: &out[..n],
                typesize: Some(typesize),
                codebook: Some(codebook),
            };
            assert_eq!(
                decode(&d, &mut back),
                Ok(input.len()),
                "a block the encoder made must decode"
            );
        }
    }
});
