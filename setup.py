"""Two small settings setuptools-rust (configured in pyproject.toml) leaves to us.

- The library's file name: `libblosc2_vq.so`, its SONAME, rather than a Python extension
  name (`libblosc2_vq.cpython-311-x86_64-linux-gnu.so`): it is not a Python extension but the
  plain C plugin c-blosc2 loads, which C programs may also link against (`-lblosc2_vq`).
- The wheel's tag: with no libpython in the library, one wheel serves every CPython 3, so it
  is tagged py3-none-<platform> (auditwheel then makes the platform a manylinux one).
"""

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext

class PluginName(build_ext):
    def get_ext_filename(self, fullname: str) -> str:
        # `fullname` is the module's last part here (build_ext.get_ext_fullpath's call).
        if fullname.split(".")[-1] == "libblosc2_vq":
            return "libblosc2_vq.so"
        return str(super().get_ext_filename(fullname))


class PlatformWheel(bdist_wheel):
    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_ext": PluginName, "bdist_wheel": PlatformWheel})
