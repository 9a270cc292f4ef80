"""blosc2-vq: a vector-quantization lossy codec plugin for Blosc2.

    import blosc2, blosc2_vq
    arr = blosc2_vq.compress(field, max_error=1e-3)        # no training: every value within 1e-3
    rec = arr[:]
    blosc2_vq.info(arr)                                    # the bound, the mode, bits per value

    cb = blosc2_vq.train(images, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0)
    arr = blosc2_vq.compress(images, cb, chunks=(1, 64, 64), blocks=(1, 64, 64))

The codec itself is the package's `libblosc2_vq.so`, loaded when the package is imported:
c-blosc2 then finds it by name (`dlopen("libblosc2_vq.so")`), from any interpreter, activated
virtualenv or not. Everything here calls that library through ctypes; nothing is
reimplemented in Python. `python -m blosc2_vq --diagnose` checks an installation.
"""

from __future__ import annotations

from . import _clib  # noqa: F401 - loads the library: how c-blosc2 finds the plugin
from ._bounds import default_blocks
from ._checks import VQError
from ._codebook import Codebook, CodebookLike
from ._codec import (
    CODEC_NAME,
    DEFAULT_CODEC_ID,
    codec_error_count,
    compress,
    cparams,
    info,
    last_error,
    libpath,
    print_libpath,
    register,
)
from ._train import train, train_defaults

__version__ = "0.1.0"

__all__ = [
    "CODEC_NAME",
    "DEFAULT_CODEC_ID",
    "Codebook",
    "CodebookLike",
    "VQError",
    "codec_error_count",
    "compress",
    "cparams",
    "default_blocks",
    "info",
    "last_error",
    "libpath",
    "print_libpath",
    "register",
    "train",
    "train_defaults",
]


def _register_default() -> None:
    """Registers the codec under its default id, so that a process that only imports
    blosc2_vq reads vq frames. A failure (python-blosc2 missing, a c-blosc2 the plugin cannot
    read) is left for `register()`, `compress()` and `python -m blosc2_vq --diagnose` to
    report with their messages."""
    try:
        register()
    except Exception:  # reported by register(), compress() and --diagnose
        pass


_register_default()
