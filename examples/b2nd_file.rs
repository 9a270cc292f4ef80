//! Writes or reads the Olivetti faces as a persistent `.b2nd` frame compressed with the vq
//! codec, so that frames can be exchanged with python-blosc2 (and any other Blosc2 host).
//!
//!     cargo run --example b2nd_file -- write faces.b2nd [aa|cmeans]
//!     cargo run --example b2nd_file -- read faces.b2nd
//!
//! `read` prints the shape, compression ratio and PSNR against the original faces.

#[path = "../tests/common/mod.rs"]
mod common;

use blosc2_vq::train::Metric;
use blosc2_vq::train::{ArchetypalParams, CodebookParams, FuzzyCMeansParams, ModelParams};
use common::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: b2nd_file write PATH [aa|cmeans] | read PATH";
    let (mode, path) = match (args.get(1), args.get(2)) {
        (Some(m), Some(p)) => (m.as_str(), p.clone()),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let faces = olivetti();
    let original = faces.as_slice().unwrap();
    match mode {
        "write" => {
            let model = match args.get(3).map(String::as_str) {
                Some("cmeans") => {
                    ModelParams::FuzzyCMeans(FuzzyCMeansParams::new(36).metric(Metric::Cosine))
                }
                _ => ModelParams::Archetypal(ArchetypalParams::new(36)),
            };
            let cb = CodebookParams::new(model)
                .fit(&faces.mapv(f64::from).into_dyn().view())
                .expect("training succeeds")
                .to_msgpack();
            let _ = std::fs::remove_file(&path);
            let settings = Settings {
                urlpath: Some(path.clone()),
                ..Settings::default()
            };
            let arr = compress_b2nd(
                &f32_bytes(original),
                &[400, 64, 64],
                &[1, 64, 64],
                &[1, 64, 64],
                "<f4",
                4,
                &[("vq", &cb)],
                &settings,
            )
            .unwrap_or_else(|rc| {
                eprintln!("cannot write {path}: error {rc}: {}", last_error());
                std::process::exit(1)
            });
            println!("wrote {path} ratio {:.3}", arr.cratio());
        }
        "read" => {
            let arr = open_b2nd(&path).unwrap_or_else(|rc| {
                eprintln!("cannot open {path}: error {rc}");
                std::process::exit(1)
            });
            let (out, _) = arr.decompress().unwrap_or_else(|rc| {
                eprintln!("cannot decompress {path}: error {rc}: {}", last_error());
                std::process::exit(1)
            });
            let rec = bytes_f32(&out);
            if rec.len() != original.len() {
                eprintln!("{path} holds {} values, expected the 400 faces", rec.len());
                std::process::exit(1);
            }
            println!(
                "read {path} ratio {:.3} psnr {:.3}",
                arr.cratio(),
                blosc2_vq::metrics::psnr(original, &rec, 1.0)
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
