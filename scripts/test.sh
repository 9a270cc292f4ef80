#!/usr/bin/env bash
# The whole test suite: Rust (unit, c-blosc2 round trips, C example) and Python (the package
# installed into a fresh virtual environment, tested from outside the source tree against
# python-blosc2 from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cargo test
cargo build --examples   # the Python tests exchange frames with examples/b2nd_file.rs

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
