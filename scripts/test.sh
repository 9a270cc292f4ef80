#!/usr/bin/env bash
# The whole test suite: Rust (unit, c-blosc2 round trips, C example) and Python (the package
# installed into a fresh virtual environment, tested from outside the source tree against
# python-blosc2 from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Elapsed time at each stage, so that the whole stays within CI's 30 minutes.
stage() { echo "== [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }

# Set-up first (what is already there is skipped), so that this is a first command too.
stage set-up
bash scripts/setup.sh

stage formatting, lints, docs
# Habits first: formatting, lints (warnings are errors), and the docs of the public API.
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet -p blosc2-vq
# The kernels pick SIMD at run time on x86-64; the library must also build for aarch64 (the
# aarch64 wheel itself is built by scripts/build_wheels.sh, not here: it costs a full build).
CARGO_TARGET_DIR=target/aarch64-check cargo check --lib --quiet --target aarch64-unknown-linux-gnu

stage cargo test
cargo test
cargo build --examples   # the Python tests exchange frames with examples/b2nd_file.rs

# Fuzzing, each target for a short, bounded time so that regressions show (long runs are
# local: see README). Seeds come from real Olivetti blocks and codebooks.
stage fuzzing
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

# Python: the package built as users get it (manylinux2014 wheels, linked against glibc 2.17
# with zig, checked by auditwheel; an sdist), installed into fresh virtual environments of
# CPython 3.10 to 3.13 and tested from outside the source tree with the venv never activated
# and no venv on PATH.
python=${PYTHON:-python3}
stage wheels
bash scripts/build_wheels.sh x86_64
wheel=$(ls "$root"/target/python-dist/wheelhouse/blosc2_vq-*-py3-none-manylinux2014_x86_64*.whl)

# CPython X.Y: pyenv's newest 3.X (these machines keep 3.10 to 3.13 there), else python3.X on
# PATH, else (said loudly) the default python3.
cpython() {
  local found
  found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/"python$1" 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ] && command -v "python$1" >/dev/null 2>&1 && "python$1" -c '' 2>/dev/null; then
    found=$(command -v "python$1")
  fi
  if [ -z "$found" ]; then
    echo "warning: no CPython $1 here (neither in pyenv nor on PATH): testing with $("$python" --version) instead" >&2
    found=$(command -v "$python")
  fi
  echo "$found"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# Every test, on the oldest and the newest of everything the package accepts:
#   oldest: CPython 3.10, python-blosc2 3.12.2 (c-blosc2 2.22), numpy 1.26.4, msgpack 1.0.5 (and
#           zarr 2, the last zarr for 3.10);
#   newest: CPython 3.13, what pip picks today (python-blosc2 4.15.0, c-blosc2 3.6.1: a layout
#           learned by probing), zarr 3.
# Between them, 3.11 and 3.12 as a user installs: python-blosc2 4.15.0 first, then the wheel,
# which must keep it; then the installation tests and round trips (with and without a
# codebook, reopened in fresh processes).
for env in oldest:3.10 newest:3.13 between:3.11 between:3.12; do
  kind=${env%%:*} version=${env#*:}
  stage "Python $version ($kind)"
  venv="$root/target/pyvenv-$version"
  rm -rf "$venv" && "$(cpython "$version")" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  case $kind in
    oldest) pins=("blosc2==3.12.2" "numpy==1.26.4" "msgpack==1.0.5") ;;
    *) pins=("blosc2==4.15.0") ;;
  esac
  "$venv/bin/pip" install -q "${pins[@]}"
  if [ "$kind" = between ]; then
    "$venv/bin/pip" install -q "$wheel" pytest
    kept=$("$venv/bin/python" -c 'import blosc2; print(blosc2.__version__)')
    [ "$kept" = 4.15.0 ] || { echo "error: installing the wheel changed python-blosc2 4.15.0 to $kept" >&2; exit 1; }
  else
    # The pins go with the wheel too: the test extra (zarr, xarray) would otherwise upgrade numpy.
    "$venv/bin/pip" install -q "$wheel[test]" "${pins[@]}"
  fi
  "$venv/bin/pip" check
  echo "== Python tests, $kind: $("$venv/bin/python" -c 'import sys, blosc2; print("CPython", sys.version.split()[0], "python-blosc2", blosc2.__version__, "c-blosc2", blosc2.blosclib_version)')"
  PATH=/usr/bin:/bin "$venv/bin/python" -m blosc2_vq --diagnose
  tests=("$root/python/tests")
  if [ "$kind" = newest ]; then
    (cd "$root" && "$venv/bin/mypy" --strict && "$venv/bin/ruff" check python && "$venv/bin/ruff" format --check python)
  elif [ "$kind" = between ]; then
    tests=("$root/python/tests/"test_{installation,persistence,predictive}.py)
  fi
  # Deliberately not the venv's bin on PATH: c-blosc2 must find the plugin anyway.
  PATH=/usr/bin:/bin BLOSC_TRACE=1 BLOSC2_VQ_ROOT="$root" \
    "$venv/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib -q "${tests[@]}"
done
stage done
