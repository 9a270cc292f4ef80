//! The C surface: the committed header is what cbindgen generates and compiles on its own; the
//! shared library exports only our symbols; and the C example, compiled with `cc`, trains a
//! codebook (Archetypal Analysis, Fuzzy C-Means, or mean-removed residual VQ set through the
//! new `blosc2_vq_train_params` fields) and round-trips the faces with c-blosc2 loading the
//! codec dynamically, also under valgrind.

mod common;

use common::blosc2_prefix;
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cdylib() -> PathBuf {
    common::plugin_dir().join("libblosc2_vq.so")
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn committed_header_matches_cbindgen() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/blosc2_vq.h"));
    let committed = std::fs::read_to_string(manifest_dir().join("include/blosc2_vq.h")).unwrap();
    assert!(
        generated == committed,
        "include/blosc2_vq.h is out of date: run `BLOSC2_VQ_UPDATE_HEADER=1 cargo build` and commit it"
    );
}

#[test]
fn header_compiles_alone_and_after_blosc2_h() {
    let include = manifest_dir().join("include");
    let alone = tmp("header_alone.c");
    std::fs::write(&alone, "#include \"blosc2_vq.h\"\nint main(void) { return blosc2_vq_last_error_message() == 0; }\n").unwrap();
    run(Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(&include)
        .arg(&alone));
    let typed = tmp("header_typed.c");
    std::fs::write(
        &typed,
        "#include <blosc2.h>\n#include \"blosc2_vq.h\"\n\
         static blosc2_codec_encoder_cb enc = blosc2_vq_encoder;\n\
         static blosc2_codec_decoder_cb dec = blosc2_vq_decoder;\n\
         int main(void) { return enc == 0 || dec == 0; }\n",
    )
    .unwrap();
    run(Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-I"])
        .arg(&include)
        .arg("-I")
        .arg(blosc2_prefix().join("include"))
        .arg(&typed));
}

#[test]
fn shared_library_exports_only_its_own_symbols() {
    let text = run(Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(cdylib()));
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    for expected in [
        "info",
        "blosc2_vq_encoder",
        "blosc2_vq_decoder",
        "blosc2_vq_codebook_train",
        "blosc2_vq_free",
        "blosc2_vq_last_error_message",
    ] {
        assert!(names.contains(&expected), "{expected} is not exported");
    }
    let foreign: Vec<&&str> = names
        .iter()
        .filter(|n| {
            (n.starts_with("blosc") || n.starts_with("b2nd_")) && !n.starts_with("blosc2_vq_")
        })
        .collect();
    assert!(
        foreign.is_empty(),
        "libblosc2_vq.so carries c-blosc2 symbols: {foreign:?}"
    );
}

/// Compiles examples/c/olivetti.c once per test run (tests share the binary).
fn compile_example() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(compile_example_now).clone()
}

fn compile_example_now() -> PathBuf {
    compile_against_static_blosc2("examples/c/olivetti.c", "olivetti_c", "-O2")
}

/// Compiles `source` (relative to the repository) into `tmp(exe)`, linked with the plugin
/// and blosc2-sys's static c-blosc2.
fn compile_against_static_blosc2(source: &str, exe: &str, opt: &str) -> PathBuf {
    let prefix = blosc2_prefix();
    let exe = tmp(exe);
    run(Command::new("cc")
        .args(["-std=c99", opt, "-Wall", "-Werror"])
        .arg(manifest_dir().join(source))
        .arg("-I")
        .arg(prefix.join("include"))
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-L")
        .arg(common::plugin_dir())
        .arg("-lblosc2_vq")
        .arg(prefix.join("lib/libblosc2.a"))
        .args(["-lpthread", "-lm", "-ldl", "-o"])
        .arg(&exe));
    exe
}

fn figure(text: &str, key: &str) -> f64 {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == key {
            return words.next().unwrap().parse().unwrap();
        }
    }
    panic!("no {key} in {text:?}")
}

#[test]
fn c_example_trains_and_round_trips_with_the_dynamically_loaded_codec() {
    let exe = compile_example();
    let faces = common::olivetti_path();
    assert!(
        Path::new(&faces).exists(),
        "Olivetti faces missing at {}",
        faces.display()
    );
    // (model, minimum ratio, minimum PSNR, what blosc2_vq_codebook_inspect reports: total
    // prototypes, stages, mean bits). Residual measured: ratio 19.88, PSNR 34.29 dB.
    for (model, min_ratio, min_psnr, layout) in [
        ("aa", 2.40, 23.4, [36.0, 1.0, 0.0]),
        ("cmeans", 2.56, 20.3, [36.0, 1.0, 0.0]),
        ("residual", 19.0, 33.7, [192.0, 3.0, 6.0]),
    ] {
        let out = run(Command::new(&exe)
            .arg(&faces)
            .arg(model)
            .env("LD_LIBRARY_PATH", common::plugin_dir())
            .env("BLOSC_TRACE", "1"));
        println!("{out}");
        assert!(
            out.contains("Successfully loaded libblosc2_vq.so"),
            "c-blosc2 did not load the plugin dynamically:\n{out}"
        );
        assert!(out.contains(&format!("model {model} images 400 ")), "{out}");
        let (ratio, psnr) = (figure(&out, "ratio"), figure(&out, "psnr"));
        assert!(
            ratio >= min_ratio && psnr >= min_psnr,
            "{model}: ratio {ratio}, PSNR {psnr}"
        );
        let inspected = ["prototypes", "stages", "mean_bits"].map(|k| figure(&out, k));
        assert_eq!(inspected, layout, "{model}: {out}");
    }
    let bad = Command::new(&exe)
        .arg(&faces)
        .arg("kmedoids")
        .env("LD_LIBRARY_PATH", common::plugin_dir())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown model kmedoids"));
}

/// Runs the C example with `args` under valgrind's memcheck and returns its output.
fn run_example_under_valgrind(args: &[&str]) -> String {
    let exe = compile_example();
    let faces = common::olivetti_path();
    let out = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=no",
            "--track-origins=no",
            "--quiet",
        ])
        .arg(&exe)
        .arg(&faces)
        .args(args)
        .env("LD_LIBRARY_PATH", common::plugin_dir())
        .output()
        .expect("valgrind runs (scripts/setup.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "valgrind reported errors:\n{text}");
    assert!(text.contains("ratio"), "{text}");
    text
}

/// The C example (training through the C API, c-blosc2 loading the plugin dynamically,
/// compression with two threads, decompression) under valgrind's memcheck: no invalid read
/// or write, no use of uninitialised memory, anywhere in the process.
#[test]
fn c_example_is_clean_under_valgrind() {
    run_example_under_valgrind(&["cmeans"]);
}

/// The same with a residual codebook (the train parameters' and codebook info's new fields
/// read and written from C, bit-packed indexes and quantized means), on 40 faces to keep
/// valgrind's run short.
#[test]
fn c_residual_example_is_clean_under_valgrind() {
    let out = run_example_under_valgrind(&["residual", "40"]);
    assert!(out.contains("model residual images 40 "), "{out}");
    assert_eq!(figure(&out, "stages"), 3.0, "{out}");
    // measured 33.71 dB
    assert!(figure(&out, "psnr") >= 33.1, "{out}");
}

/// tests/c/host_version.c, linked with blosc2-sys's static c-blosc2 and the plugin (the
/// Python tests link it with python-blosc2's shared c-blosc2 2.22 and 3.3).
fn compile_host_version() -> PathBuf {
    compile_against_static_blosc2("tests/c/host_version.c", "host_version_static", "-O1")
}

fn run_host_version(exe: &Path, mode: &str) -> String {
    run(Command::new(exe)
        .arg(mode)
        .env("LD_LIBRARY_PATH", common::plugin_dir()))
}

#[test]
fn the_plugin_reads_schunks_only_for_a_c_blosc2_it_knows() {
    let linked = blosc2_host::blosc2_version();
    let linked = blosc2_vq::ffi::host::Blosc2Version::parse(&linked)
        .unwrap()
        .to_string();
    let exe = compile_host_version();
    // Declared: found, and the round trip works.
    let out = run_host_version(&exe, "declare");
    assert!(out.contains(&format!("version '{linked}'")), "{out}");
    assert!(out.contains("compress 1 \n"), "{out}");
    assert!(out.contains("decompress 16384 "), "{out}");
    // Static c-blosc2 (its symbols hidden), nothing declared: the codec refuses, saying what
    // to do, and nothing is read on a guess.
    let out = run_host_version(&exe, "none");
    assert!(out.contains("version ''"), "{out}");
    assert!(out.contains("compress -"), "{out}");
    assert!(
        out.contains("cannot tell which c-blosc2 runs this plugin")
            && out.contains("blosc2_vq_set_host_blosc2_version")
            && out.contains(blosc2_vq::ffi::host::SUPPORTED_BLOSC2),
        "{out}"
    );
    // A future c-blosc2 (or garbage) is refused when declared, and declares nothing.
    let out = run_host_version(&exe, "future");
    assert!(
        out.contains("future rc -")
            && out.contains("c-blosc2 3.9.0 is not supported")
            && out.contains("c-blosc2 4.0.0 is not supported")
            && out.contains("garbage rc -")
            && out.contains("version ''")
            && out.contains("compress -"),
        "{out}"
    );
}

/// With <blosc2.h> and <b2nd.h> first, the header also defines its static inline c-blosc2
/// helpers, and they compile with `-Wall -Werror` (included twice, too); with <blosc2.h> only
/// after it, they are left out.
#[test]
fn header_compiles_after_blosc2_h_and_b2nd_h_with_its_helpers() {
    let include = manifest_dir().join("include");
    let blosc2_include = blosc2_prefix().join("include");
    let helpers = tmp("header_helpers.c");
    std::fs::write(
        &helpers,
        "#include <blosc2.h>\n#include <b2nd.h>\n#include \"blosc2_vq.h\"\n#include \"blosc2_vq.h\"\n\
         static int (*reg)(void) = blosc2_vq_codec_register;\n\
         static int (*compress)(const char *, const uint8_t *, int64_t, const void *, int8_t,\n\
                                const int64_t *, const int32_t *, const int32_t *, const char *,\n\
                                int16_t, b2nd_array_t **) = blosc2_vq_b2nd_compress;\n\
         int main(void) { return reg == 0 || compress == 0; }\n",
    )
    .unwrap();
    let late = tmp("header_helpers_late.c");
    std::fs::write(
        &late,
        "#include \"blosc2_vq.h\"\n#include <blosc2.h>\n#include <b2nd.h>\n#include \"blosc2_vq.h\"\n\
         #if defined(BLOSC2_VQ_CODEC_REGISTER_DEFINED) || defined(BLOSC2_VQ_B2ND_COMPRESS_DEFINED)\n\
         #error the helpers need <blosc2.h> before the first blosc2_vq.h\n\
         #endif\n\
         int main(void) { return blosc2_vq_last_error_message() == 0; }\n",
    )
    .unwrap();
    for source in [&helpers, &late] {
        run(Command::new("cc")
            .args(["-std=c99", "-Wall", "-Werror", "-fsyntax-only", "-I"])
            .arg(&include)
            .arg("-I")
            .arg(&blosc2_include)
            .arg(source));
    }
}

/// tests/c/helpers.c: the helpers round-trip in memory and through a frame file within the
/// codebook's bound, and fail with the documented codes (bad arguments, an existing file, a
/// codebook the codec refuses), leaving `*array` NULL and no file of theirs behind.
#[test]
fn header_helpers_round_trip_and_fail_as_documented() {
    let exe = compile_against_static_blosc2("tests/c/helpers.c", "helpers_static", "-O1");
    let scratch = tmp("helpers_scratch.b2nd");
    let _ = std::fs::remove_file(&scratch);
    let out = run(Command::new(&exe)
        .arg(&scratch)
        .env("LD_LIBRARY_PATH", common::plugin_dir()));
    assert!(out.contains("helpers ok"), "{out}");
    assert!(!scratch.exists(), "helpers.c leaves no file behind");
}

/// tests/c/predictive.c: compressing from C without a codebook (blosc2_vq_settings_new with a
/// bound relative to the range, then the header's blosc2_vq_b2nd_compress), reopening the
/// frame and checking every value, NaN in place; bad bounds refused naming the field.
#[test]
fn c_compresses_without_a_codebook_to_a_bound() {
    let exe = compile_against_static_blosc2("tests/c/predictive.c", "predictive_static", "-O1");
    let scratch = tmp("predictive_scratch.b2nd");
    let _ = std::fs::remove_file(&scratch);
    let out = run(Command::new(&exe)
        .arg(&scratch)
        .env("LD_LIBRARY_PATH", common::plugin_dir()));
    assert!(out.contains("predictive ok"), "{out}");
}
