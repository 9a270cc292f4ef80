//! What every CLI test file shares: the binary, a scratch directory per test file, and the
//! checks of a run's outcome.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `blosc2-vq` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_blosc2-vq"))
}

/// `name` in the scratch directory `dir` under cargo's target tmpdir (created).
pub fn scratch(dir: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The run's stdout and stderr, after checking that it succeeded.
pub fn ok(out: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "failed: {text}");
    text
}

/// The run's stderr, after checking that it failed with a message mentioning `needle`.
pub fn fails(out: Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "succeeded; expected an error mentioning {needle:?}"
    );
    assert!(err.contains(needle), "{err:?} does not mention {needle:?}");
    err
}

/// `blosc2-vq compress INPUT -o FRAME FLAGS…`, which must succeed; its output.
pub fn compress(input: &Path, frame: &Path, flags: &[&str]) -> String {
    ok(bin()
        .arg("compress")
        .arg(input)
        .arg("-o")
        .arg(frame)
        .args(flags)
        .output()
        .unwrap())
}

/// `blosc2-vq decompress FRAME -o OUTPUT`, which must succeed; its output.
pub fn decompress(frame: &Path, output: &Path) -> String {
    ok(bin()
        .arg("decompress")
        .arg(frame)
        .arg("-o")
        .arg(output)
        .output()
        .unwrap())
}
