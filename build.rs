//! Generates the C header with cbindgen into OUT_DIR; `tests/c_api.rs` fails when
//! `include/blosc2_vq.h` differs from it. Set BLOSC2_VQ_UPDATE_HEADER=1 to refresh the
//! committed header.
use std::path::PathBuf;

fn main() {
    // The SONAME c-blosc2 asks for: `load_lib` first tries `dlopen("libblosc2_vq.so")`, which
    // a copy already loaded under that SONAME satisfies (the Python package preloads it, so
    // c-blosc2 finds the plugin whatever `PATH` says). On macOS the install name plays that part.
    match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libblosc2_vq.so")
        }
        Ok("windows") => {}
        _ => println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libblosc2_vq.so"),
    }
    println!("cargo:rerun-if-changed=src/ffi");
    // The C surface: every file of src/ffi that exports functions, types or constants.
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=BLOSC2_VQ_UPDATE_HEADER");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("blosc2_vq.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        // cbindgen follows mod.rs's `mod` declarations into the other files itself (naming
        // them here too declared their functions twice).
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen can read src/ffi/mod.rs");
    bindings.write_to_file(&out);
    if std::env::var_os("BLOSC2_VQ_UPDATE_HEADER").is_some() {
        std::fs::copy(&out, crate_dir.join("include/blosc2_vq.h")).unwrap();
    }
}
