#!/usr/bin/env bash
# The whole test suite: Rust (unit, c-blosc2 round trips, C example) and Python (the package
# installed into a fresh virtual environment, tested from outside the source tree against
# python-blosc2 from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Habits first: formatting, lints (warnings are errors), and the docs of the public API.
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet -p blosc2-vq

cargo test
cargo build --examples   # the Python tests exchange frames with examples/b2nd_file.rs

# Fuzzing, each target for a short, bounded time so that regressions show (long runs are
# local: see README). Seeds come from real Olivetti blocks and codebooks.
faces=${BLOSC2_VQ_OLIVETTI:-"$root/../shared/data/olivetti_faces_u8.npy"}
export RUSTC_BOOTSTRAP=1   # cargo-fuzz passes -Z flags (sanitizer) to the stable compiler
cargo fuzz build --fuzz-dir fuzz
corpus="$root/target/fuzz-corpus"
cargo run --quiet --release --manifest-path fuzz/Cargo.toml --bin make_corpus -- "$faces" "$corpus"
for target in decode_block codebook b2nd_geometry encoder frame_round_trip bounded; do
  log="$root/target/fuzz-$target.log"
  if ! cargo fuzz run --fuzz-dir fuzz "$target" "$corpus/$target" -- -max_total_time="${FUZZ_SECONDS:-30}" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed (input saved under fuzz/artifacts/$target)"
    exit 1
  fi
  echo "fuzz $target: $(grep -E '^Done' "$log")"
done
unset RUSTC_BOOTSTRAP

venv="$root/target/pyvenv"
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q blosc2 numpy pytest scikit-image
"$venv/bin/pip" install -q "$root"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# c-blosc2 finds the plugin with `python -c "import blosc2_vq; ..."`: the venv's python first.
PATH="$venv/bin:$PATH" BLOSC_TRACE=1 BLOSC2_VQ_ROOT="$root" \
  "$venv/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib -v "$root/python/tests"
