"""Builds the Rust cdylib with cargo and ships it inside the `blosc2_vq` package.

The library has no Python dependency (it is the same plain C plugin c-blosc2 loads), so the
wheel is tagged py3-none-<platform>: one wheel serves every CPython.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = Path(__file__).parent.resolve()
LIBNAME = "libblosc2_vq.so"


class BuildWithCargo(build_py):
    """Runs `cargo build --release --lib` and copies the library into the package."""

    def run(self):
        super().run()
        target = Path(os.environ.get("BLOSC2_VQ_CARGO_TARGET_DIR", ROOT / "target" / "plugin"))
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.run(
            [cargo, "build", "--release", "--lib", "--manifest-path", str(ROOT / "Cargo.toml"),
             "--target-dir", str(target)],
            check=True,
        )
        dest = Path(self.build_lib) / "blosc2_vq"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target / "release" / LIBNAME, dest / LIBNAME)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildWithCargo, "bdist_wheel": PlatformWheel}, distclass=BinaryDistribution)
