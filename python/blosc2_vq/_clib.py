"""ctypes bindings to the plugin library (the functions declared in include/blosc2_vq.h).

The library is loaded when the package is imported. c-blosc2 looks for the plugin with
`dlopen("libblosc2_vq.so")` first; a library already loaded under that SONAME satisfies it,
so once `blosc2_vq` is imported c-blosc2 finds the codec whatever `PATH`, the virtualenv or
`LD_LIBRARY_PATH` say (its other way, asking `python -c "import blosc2_vq; ..."` on `PATH`,
fails for a venv that is not activated).
"""

from __future__ import annotations

import ctypes
import os
import re
from typing import Any

#: The name c-blosc2 asks `dlopen` for (its `load_lib`), the library's SONAME.
SONAME = "libblosc2_vq.so"
#: The library's file inside the package.
LIBPATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), SONAME)

MODEL_FUZZY_CMEANS = 1
MODEL_ARCHETYPAL = 2
MODEL_KMEANS = 3
MODEL_RESIDUAL = 4
MODEL_SCALAR = 5
SCALAR_UNIFORM = 0
SCALAR_QUANTILE = 1
SCALAR_LLOYD_MAX = 2
METRIC_EUCLIDEAN = 0
METRIC_COSINE = 1
DTYPE_FLOAT32 = 0
DTYPE_FLOAT64 = 1
#: `BLOSC2_VQ_ERROR_CANCELLED`: training stopped by its progress callback.
ERROR_CANCELLED = -100

#: `blosc2_vq_progress_fn`.
PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_double)


# The two structures mirror include/blosc2_vq.h field for field (same order, same C types):
# the library writes whole structs, so a missing field here means it writes past our buffer.
# python/tests/test_train_options.py compiles the header and compares sizes and offsets.


class TrainParams(ctypes.Structure):
    """blosc2_vq_train_params."""

    _fields_ = [
        ("model", ctypes.c_int32),
        ("n_prototypes", ctypes.c_int32),
        ("tile_ndim", ctypes.c_int32),
        ("tile_shape", ctypes.c_int32 * 3),
        ("n_samples", ctypes.c_int64),
        ("seed", ctypes.c_uint64),
        ("max_iter", ctypes.c_int32),
        ("tol", ctypes.c_double),
        ("fuzzifier", ctypes.c_double),
        ("metric", ctypes.c_int32),
        ("n_init", ctypes.c_int32),
        ("weight_bits", ctypes.c_int32),
        ("n_stages", ctypes.c_int32),
        ("mean_bits", ctypes.c_int32),
        ("scalar_method", ctypes.c_int32),
        ("scalar_bits", ctypes.c_int32),
        ("kept_weights", ctypes.c_int32),
        ("log10_floor", ctypes.c_double),
        ("beam", ctypes.c_int32),
        ("max_error", ctypes.c_double),
        ("progress", PROGRESS_FN),
        ("progress_user_data", ctypes.c_void_p),
    ]


class CodebookInfo(ctypes.Structure):
    """blosc2_vq_codebook_info."""

    _fields_ = [
        ("format_version", ctypes.c_int32),
        ("model", ctypes.c_int32),
        ("metric", ctypes.c_int32),
        ("fuzzifier", ctypes.c_double),
        ("n_prototypes", ctypes.c_int32),
        ("n_features", ctypes.c_int32),
        ("tile_ndim", ctypes.c_int32),
        ("tile_shape", ctypes.c_int32 * 3),
        ("weight_bits", ctypes.c_int32),
        ("fingerprint", ctypes.c_uint64),
        ("n_samples", ctypes.c_int64),
        ("iterations", ctypes.c_int32),
        ("loss", ctypes.c_double),
        ("n_stages", ctypes.c_int32),
        ("mean_bits", ctypes.c_int32),
        ("scalar_method", ctypes.c_int32),
        ("kept_weights", ctypes.c_int32),
        ("log10_floor", ctypes.c_double),
        ("beam", ctypes.c_int32),
        ("max_error", ctypes.c_double),
        ("prototype_bits", ctypes.c_int32),
    ]


_u8p = ctypes.POINTER(ctypes.c_uint8)
_dp = ctypes.POINTER(ctypes.c_double)
_i64p = ctypes.POINTER(ctypes.c_int64)
# Every re-seal function: (codebook, codebook_len, value, out, out_len) -> int.
_RESEAL = {
    "blosc2_vq_codebook_with_max_error": ctypes.c_double,
    "blosc2_vq_codebook_with_prototype_bits": ctypes.c_int32,
    "blosc2_vq_codebook_with_stages": ctypes.c_int32,
    "blosc2_vq_codebook_with_beam": ctypes.c_int32,
    "blosc2_vq_codebook_with_weight_bits": ctypes.c_int32,
    "blosc2_vq_codebook_with_kept_weights": ctypes.c_int32,
}
_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "blosc2_vq_train_params_init": ([ctypes.POINTER(TrainParams), ctypes.c_int32], ctypes.c_int),
    "blosc2_vq_codebook_train": (
        [
            ctypes.c_void_p,
            ctypes.c_int32,
            _i64p,
            ctypes.c_int32,
            ctypes.POINTER(TrainParams),
            ctypes.POINTER(_u8p),
            _i64p,
        ],
        ctypes.c_int,
    ),
    "blosc2_vq_free": ([ctypes.c_void_p], None),
    "blosc2_vq_last_error_message": ([], ctypes.c_char_p),
    "blosc2_vq_last_codec_error": ([ctypes.c_char_p, ctypes.c_int64], ctypes.c_int64),
    "blosc2_vq_codec_error_count": ([], ctypes.c_uint64),
    "blosc2_vq_codebook_inspect": ([ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(CodebookInfo)], ctypes.c_int),
    "blosc2_vq_codebook_arrays": ([ctypes.c_char_p, ctypes.c_int64, _dp, _dp, _dp], ctypes.c_int),
    "blosc2_vq_set_host_blosc2_version": ([ctypes.c_char_p], ctypes.c_int),
    "blosc2_vq_host_blosc2_version": ([ctypes.c_char_p, ctypes.c_int64], ctypes.c_int64),
    **{
        name: ([ctypes.c_char_p, ctypes.c_int64, value, ctypes.POINTER(_u8p), _i64p], ctypes.c_int)
        for name, value in _RESEAL.items()
    },
}


class LibraryLoadError(ImportError):
    """The plugin library cannot be loaded (missing, or built for another platform)."""


def _load() -> ctypes.CDLL:
    if not os.path.exists(LIBPATH):
        raise LibraryLoadError(
            f"blosc2-vq's plugin library is missing at {LIBPATH}: the package was installed "
            "without it (a source checkout on sys.path?). Install it with `pip install blosc2-vq` "
            "or `pip install .` in the repository."
        )
    try:
        lib = ctypes.CDLL(LIBPATH)
    except OSError as e:
        raise LibraryLoadError(
            f"cannot load blosc2-vq's plugin library {LIBPATH}: {e}. It was built for another "
            "platform or is damaged: reinstall blosc2-vq for this interpreter."
        ) from e
    for name, (argtypes, restype) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype
    return lib


#: The loaded library: loading it at import is what lets c-blosc2 find the plugin by name.
LIB = _load()


def lib() -> ctypes.CDLL:
    """The loaded plugin library."""
    return LIB


def take(out: Any, out_len: ctypes.c_int64) -> bytes:
    """A buffer the library handed over (`*out`, `*out_len` bytes) as bytes, freed."""
    try:
        return ctypes.string_at(out, out_len.value)
    finally:
        LIB.blosc2_vq_free(out)


def last_error_message() -> str:
    """The calling thread's last error from the library."""
    message: bytes | None = LIB.blosc2_vq_last_error_message()
    return (message or b"").decode("utf-8", "replace")


def codec_error_count() -> int:
    """How many encoder/decoder errors the process has seen so far, on any thread. Read it
    before a compression: if it has not grown after a failure, `last_codec_error` is an
    older, unrelated message (the library never clears it)."""
    return int(LIB.blosc2_vq_codec_error_count())


def last_codec_error() -> str:
    """The most recent encoder/decoder error on any thread ('' if none). It is never cleared:
    compare `codec_error_count` before and after a call to know whether it is that call's."""
    n = LIB.blosc2_vq_last_codec_error(None, 0)
    buf = ctypes.create_string_buffer(int(n) + 1)
    LIB.blosc2_vq_last_codec_error(buf, len(buf))
    return buf.value.decode("utf-8", "replace")


def host_blosc2_version() -> str:
    """The c-blosc2 version the plugin reads SChunks for ('' if it knows none yet)."""
    buf = ctypes.create_string_buffer(64)
    LIB.blosc2_vq_host_blosc2_version(buf, len(buf))
    return buf.value.decode("ascii", "replace")


def set_host_blosc2_version(version: str) -> None:
    """Tells the plugin which c-blosc2 runs it; raises ValueError (with the library's
    message, naming the supported versions) for one it does not support.

    A version outside the plugin's table is supported when the plugin can learn its SChunk
    layout from a shared c-blosc2 of that version in the process. python-blosc2 links its
    c-blosc2 statically (hidden), but its wheels ship the same release as
    `blosc2/lib/libblosc2.so`: that copy is loaded (privately, RTLD_LOCAL) for the plugin to
    learn from, only when the first attempt fails."""
    encoded = version.encode("utf-8", "replace")
    # The first attempt may fail only for want of a library to learn from: it must not print
    # an error under BLOSC_TRACE (the library prints its errors there, as c-blosc2 does).
    trace = os.environ.pop("BLOSC_TRACE", None)
    try:
        first = LIB.blosc2_vq_set_host_blosc2_version(encoded)
    finally:
        if trace is not None:
            os.environ["BLOSC_TRACE"] = trace
    if first >= 0:
        return
    message = last_error_message()
    # Something that is not a version stays refused without loading anything.
    if (
        re.match(r"\s*\d+\.\d+", version)
        and load_python_blosc2_clib() is not None
        and LIB.blosc2_vq_set_host_blosc2_version(encoded) >= 0
    ):
        return
    raise ValueError(last_error_message() or message)


#: python-blosc2's shared c-blosc2 once loaded for the plugin to learn its SChunk layout from
#: (kept referenced: the plugin may probe it again for another version), and its path.
_BLOSC2_CLIB: tuple[ctypes.CDLL, str] | None = None


def python_blosc2_clib_paths() -> list[str]:
    """The shared c-blosc2 libraries python-blosc2 ships (`blosc2/lib/libblosc2.so*`); []
    when it ships none or is not installed."""
    try:
        import blosc2
    except ImportError:
        return []
    libdir = os.path.join(os.path.dirname(os.path.abspath(blosc2.__file__)), "lib")
    try:
        names = os.listdir(libdir)
    except OSError:
        return []
    # The plugin looks for loaded objects named libblosc2.so* (Linux).
    return [os.path.join(libdir, n) for n in sorted(names) if n.startswith("libblosc2.so")]


def load_python_blosc2_clib() -> str | None:
    """Loads python-blosc2's shared c-blosc2 (once; RTLD_LOCAL, so nothing else in the
    process binds to it) and returns its path, or None if there is none or it cannot be
    loaded. Only the plugin calls into it, to learn the SChunk layout of its release."""
    global _BLOSC2_CLIB
    if _BLOSC2_CLIB is not None:
        return _BLOSC2_CLIB[1]
    for path in python_blosc2_clib_paths():
        try:
            _BLOSC2_CLIB = (ctypes.CDLL(path, mode=os.RTLD_LOCAL), path)
        except OSError:
            continue
        return path
    return None


def loaded_python_blosc2_clib() -> str | None:
    """The path of python-blosc2's shared c-blosc2 if it was loaded for the plugin, else None."""
    return None if _BLOSC2_CLIB is None else _BLOSC2_CLIB[1]


def found_by_name() -> str | None:
    """None if `dlopen("libblosc2_vq.so")`, c-blosc2's first way to find the plugin,
    succeeds in this process (it gets this library); else why not."""
    try:
        ctypes.CDLL(SONAME)
    except OSError as e:
        return str(e)
    return None
