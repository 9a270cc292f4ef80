//! Writes seed corpora for the fuzz targets from real Olivetti blocks and real codebooks:
//!     cargo run --release --bin make_corpus -- ../../shared/data/olivetti_faces_u8.npy corpus
use blosc2_vq::block::{encode_block, Encoded};
use blosc2_vq::tiles::{BlockLayout, Dtype};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (faces, out) = (Path::new(&args[1]), Path::new(&args[2]));
    let u8s: ndarray::Array3<u8> = ndarray_npy::read_npy(faces).expect("the Olivetti faces");
    let f: Vec<f32> = u8s.iter().map(|&v| f32::from(v) / 242.0).collect();
    let write = |target: &str, name: String, bytes: &[u8]| {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    // Real 32×32 face crops encoded with every 2-D fuzz codebook. The decode_block selector
    // picks codebook `sel % n` and typesize index `sel / n % 5` (3: four bytes), with the
    // checksum fix-up bit set.
    let n_cb = blosc2_vq_fuzz::codebooks().len();
    for &sel in &blosc2_vq_fuzz::PLANAR {
        let cb = &blosc2_vq_fuzz::prepared()[sel];
        let layout = BlockLayout {
            shape: vec![32, 32],
            dtype: Dtype::Float32,
        };
        for img in 0..4 {
            let crop: Vec<u8> = (0..32)
                .flat_map(|y| (0..32).map(move |x| (y, x)))
                .flat_map(|(y, x)| f[img * 4096 + (y + 16) * 64 + x + 16].to_ne_bytes())
                .collect();
            let mut packed = vec![0u8; crop.len()];
            if let Ok(Encoded::Packed(n)) =
                encode_block(cb, &layout, &crop, None, None, &mut packed)
            {
                let mut input = vec![(sel + n_cb * 3) as u8 | 0x80];
                input.extend_from_slice(&(crop.len() as u16).to_le_bytes());
                input.extend_from_slice(&packed[..n]);
                write("decode_block", format!("face{sel}_{img}"), &input);
            }
            let mut enc = vec![sel as u8, 0, 1, 31, 31, 0];
            enc.extend_from_slice(&crop);
            write("encoder", format!("face{sel}_{img}"), &enc);
        }
    }
    // Error-bounded (format 3) blocks of the same crops, for decode_block.
    for &sel in &blosc2_vq_fuzz::BOUNDED {
        let cb = &blosc2_vq_fuzz::prepared()[sel];
        let layout = BlockLayout {
            shape: vec![32, 32],
            dtype: Dtype::Float32,
        };
        let bound = if cb.codebook().transform().is_identity() {
            0.02
        } else {
            0.04
        };
        for img in 0..2 {
            let crop: Vec<u8> = (0..32)
                .flat_map(|y| (0..32).map(move |x| (y, x)))
                .flat_map(|(y, x)| f[img * 4096 + (y + 16) * 64 + x + 16].to_ne_bytes())
                .collect();
            let mut packed = vec![0u8; crop.len() * 2];
            if let Ok(Encoded::Packed(n)) =
                encode_block(cb, &layout, &crop, None, Some(bound), &mut packed)
            {
                let mut input = vec![(sel + n_cb * 3) as u8 | 0x80];
                input.extend_from_slice(&(crop.len() as u16).to_le_bytes());
                input.extend_from_slice(&packed[..n]);
                write("decode_block", format!("bounded{sel}_{img}"), &input);
            }
        }
    }
    // A 16×16×16 volume for the 3-D codebooks.
    let vol: Vec<u8> = (0..16 * 16 * 16)
        .flat_map(|i: usize| {
            let (z, y, x) = ((i / 256) as f32, (i / 16 % 16) as f32, (i % 16) as f32);
            ((z * 0.4).sin() * (y * 0.3).cos() + x / 16.0).to_ne_bytes()
        })
        .collect();
    for sel in (0..n_cb).filter(|s| !blosc2_vq_fuzz::PLANAR.contains(s)) {
        let layout = BlockLayout {
            shape: vec![16, 16, 16],
            dtype: Dtype::Float32,
        };
        let mut packed = vec![0u8; vol.len()];
        let cb = &blosc2_vq_fuzz::prepared()[sel];
        if let Ok(Encoded::Packed(n)) = encode_block(cb, &layout, &vol, None, None, &mut packed) {
            let mut input = vec![(sel + n_cb * 3) as u8 | 0x80];
            input.extend_from_slice(&(vol.len() as u16).to_le_bytes());
            input.extend_from_slice(&packed[..n]);
            write("decode_block", format!("volume{sel}"), &input);
        }
        let mut enc = vec![sel as u8, 0, 2, 15, 15, 15, 0];
        enc.extend_from_slice(&vol);
        write("encoder", format!("volume{sel}"), &enc);
    }
    for (i, cb) in blosc2_vq_fuzz::codebooks().iter().enumerate() {
        write("codebook", format!("codebook{i}"), cb);
        let mut wrapped = vec![0xc5];
        wrapped.extend_from_slice(&(cb.len() as u16).to_be_bytes());
        wrapped.extend_from_slice(cb);
        write("codebook", format!("codebook{i}_bin"), &wrapped);
    }
    let mut geo = vec![4u8];
    geo.extend_from_slice(&(64u32 * 64 * 4).to_le_bytes());
    geo.extend_from_slice(&[
        0x97, 0x00, 0x03, 0x93, 0xd3, 0, 0, 0, 0, 0, 0, 1, 0x90, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0x40,
        0xd3, 0, 0, 0, 0, 0, 0, 0, 0x40,
    ]);
    geo.extend_from_slice(&[
        0x93, 0xd2, 0, 0, 0, 1, 0xd2, 0, 0, 0, 0x40, 0xd2, 0, 0, 0, 0x40,
    ]);
    geo.extend_from_slice(&[
        0x93, 0xd2, 0, 0, 0, 1, 0xd2, 0, 0, 0, 0x40, 0xd2, 0, 0, 0, 0x40, 0x00, 0xdb, 0, 0, 0, 3,
        b'<', b'f', b'4',
    ]);
    write("b2nd_geometry", "faces".into(), &geo);
    // One seed per frame fixture (2-D codebook) and chunk.
    for sel in 0..2 * blosc2_vq_fuzz::PLANAR.len() as u8 {
        write("frame_round_trip", format!("none{sel}"), &[sel]);
        write(
            "frame_round_trip",
            format!("one_flip{sel}"),
            &[sel, 10, 0, 0x40],
        );
    }
    // Error-bounded blocks: smooth images and a few decades, both dtypes, a loose and a tight
    // bound, each codebook.
    for sel in 0..2u8 {
        for (dt, bound) in [(0u8, 40u8), (1, 8)] {
            let mut seed = vec![sel, dt, bound];
            for i in 0..256u32 {
                let v = ((i % 17) as f64 / 17.0).powi(3) * 10f64.powi((i / 64) as i32 - 2);
                if dt == 0 {
                    seed.extend_from_slice(&(v as f32).to_ne_bytes());
                } else {
                    seed.extend_from_slice(&v.to_ne_bytes());
                }
            }
            write("bounded", format!("ramp{sel}_{dt}"), &seed);
        }
    }
    // Predictive blocks: real face crops (f32) and the same with a NaN hole, every mode, form
    // and dtype code the target reads; and its own encoded blocks as decoder input.
    for (k, (mode, dt, form)) in [(0u8, 0u8, 1u8), (1, 0, 1), (2, 1, 0), (3, 0, 2)].into_iter().enumerate() {
        let mut seed = vec![mode, dt, 30, form];
        for (i, v) in f[..1024].iter().enumerate() {
            let v = if k == 3 && (200..260).contains(&i) { f32::NAN } else { *v };
            if dt == 0 {
                seed.extend_from_slice(&v.to_ne_bytes());
            } else {
                seed.extend_from_slice(&f64::from(v).to_ne_bytes());
            }
        }
        write("predictive", format!("face{k}"), &seed);
    }
    {
        let crop: Vec<u8> = f[..4096].iter().flat_map(|v| v.to_ne_bytes()).collect();
        let mut packed = vec![0u8; crop.len() * 2];
        let bound = blosc2_vq::engine::bound::BlockBound::Absolute { max_error: 0.01 };
        if let Ok(Some((n, _))) =
            blosc2_vq::engine::encode_block(&crop, Dtype::Float32, &[64, 64], bound, &mut packed)
        {
            write("predictive", "block".into(), &packed[..n]);
        }
    }
    println!("corpora written to {}", out.display());
}
