#!/usr/bin/env bash
# One-time setup: the system tools the build needs (cmake, for c-blosc2 inside blosc2-sys; a C
# compiler and nm for the C tests), then a build of the plugin and of everything the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v nm >/dev/null 2>&1 || missing+=(binutils)
# libclang: zfp-sys (the ZFP peer in benchmarks and `blosc2-vq eval`) generates its bindings.
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || missing+=(libclang-dev)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
# Open MPI: tests/mpi.rs builds examples/mpi/vdf_mpi.c with mpicc and runs it with mpirun (both
# in openmpi-bin; mpi.h, which mpicc needs, in libopenmpi-dev).
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
{ command -v mpicc >/dev/null 2>&1 && pkg-config --exists ompi-c 2>/dev/null; } || missing+=(libopenmpi-dev)
# GNU time: the streaming test reads the CLI's maximum resident set size from `time -v`.
[ -x /usr/bin/time ] || missing+=(time)
# fontconfig and a font: plotters draws the labels of `blosc2-vq eval`'s rd.png.
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists fontconfig 2>/dev/null || missing+=(libfontconfig1-dev)
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rustup target add aarch64-unknown-linux-gnu   # test.sh checks the aarch64 build; build_wheels.sh makes its wheel
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz   # the fuzzers
cargo build --release                # target/release/libblosc2_vq.so and target/release/blosc2-vq
cargo test --no-run                  # builds c-blosc2 (blosc2-sys), ZFP (zfp-sys) and the tests
