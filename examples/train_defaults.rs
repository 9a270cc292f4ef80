//! Trains one codebook of every kind with the library's defaults and nothing else, from the
//! Rust API, and writes each to `OUT_DIR/<model>.vq` (the model's short name: `aa.vq`,
//! `cmeans.vq`, ...). The Python suite compares these with what the C API, the CLI and
//! Python train from the same data: the four surfaces must agree byte for byte.
//!
//!     cargo run --example train_defaults -- DATA.npy OUT_DIR
//!
//! `DATA.npy` is a float32 array whose last two axes are the images.

use blosc2_vq::train::{CodebookParams, Kind, ModelParams};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(data), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: train_defaults DATA.npy OUT_DIR");
        std::process::exit(2);
    };
    let file = std::fs::File::open(data).unwrap_or_else(|e| panic!("{data}: {e}"));
    let values = ArrayD::<f32>::read_npy(file).unwrap_or_else(|e| panic!("{data}: {e}"));
    let values = values.mapv(f64::from);
    for kind in Kind::ALL {
        let cb = CodebookParams::new(ModelParams::defaults(kind))
            .fit(&values.view())
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let path = PathBuf::from(out).join(format!("{}.vq", kind.short_name()));
        std::fs::write(&path, cb.to_msgpack()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    }
}
