"""The codec for numcodecs, zarr and xarray: `VQ(max_error=..., rel_error=..., pw_rel_error=...,
psnr=...)`, the codebook-free mode of `blosc2_vq.compress` applied to one chunk at a time.

    from blosc2_vq.numcodecs import VQ
    codec = VQ(max_error=1e-3)                              # every value within 1e-3
    blob = codec.encode(chunk)                              # bytes: a python-blosc2 frame
    codec.decode(blob)                                      # the chunk, same shape and dtype

numcodecs finds it by its id, `"blosc2_vq.vq"` (`numcodecs.get_codec({"id": "blosc2_vq.vq",
"max_error": 1e-3})`), through the package's `numcodecs.codecs` entry point: nothing needs
importing first. In zarr 2 arrays it is the compressor (zarr 2 hands it the chunk as an array):

    zarr.open("field.zarr", mode="w", shape=x.shape, chunks=(64, 64), dtype=x.dtype,
              compressor=VQ(max_error=1e-3))                                  # zarr 2
    zarr.create_array("field.zarr", shape=x.shape, chunks=(64, 64), dtype=x.dtype,
                      zarr_format=2, compressors=VQ(max_error=1e-3))          # zarr 3
    ds.to_zarr("ds.zarr", encoding={"t": {"compressor": VQ(max_error=1e-3)}})  # xarray, zarr 2
    ds.to_zarr("ds.zarr", zarr_format=2, encoding={"t": {"compressors": VQ(max_error=1e-3)}})

With zarr 3 arrays (`zarr_format=3`) the codec needs the chunk's values, not its bytes, so it is
the array-to-bytes codec, the `serializer`, wrapped as zarr wraps numcodecs' ZFPY and PCodec
(`zarr.codecs.numcodecs`): `VQZarr3`, named `"numcodecs.blosc2_vq.vq"` in `zarr.json` and found
by zarr through the package's `zarr.codecs` entry point. Its output is compressed already: pass
`compressors=None` (zarr would otherwise run Zstandard over it):

    zarr.create_array("field.zarr", shape=x.shape, chunks=(64, 64), dtype=x.dtype,
                      serializer=VQZarr3(max_error=1e-3), compressors=None)
    ds.to_zarr("ds.zarr", encoding={"t": {"serializer": VQZarr3(max_error=1e-3), "compressors": None}})

The bounds are those of `blosc2_vq.compress`. NaN and infinities come back bit-exact, so a NaN
fill value (xarray's default for floats) stays one. Two things follow from numcodecs handing a
codec one chunk at a time:

- `rel_error` and `psnr` are relative to the finite value range **of each chunk**, as SZ3's
  numcodecs codec (`numcodecs-wasm-sz3`, whose SZ3 converts a relative bound with the range of
  the data it is given) does: the bound differs from chunk to chunk, and is the array's only
  when it has one chunk. For one bound over the whole array, compute it once and pass
  `max_error=rel_error * (max - min)`. zarr pads the chunks at the array's edges with the fill
  value, which then counts in their range unless it is NaN.
- Every chunk is coded once when written whole. A write that covers only part of a stored chunk
  makes zarr decode the chunk, update it and code it again: the values not written are coded
  once more, and their errors may add up (one bound per rewrite). Write whole chunks (or the
  whole array at once) to keep the bound.

The encoded chunk is a python-blosc2 frame (`blosc2.ndarray_from_cframe` opens it, and
`blosc2_vq.info` tells its bound). Supported dtypes are those of the codec (float32, float64,
float16, uint8, uint16), in either byte order; a Fortran-ordered chunk (zarr 2's `order="F"`)
is coded in its memory order and decoded to the same order.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any

import numpy as np

try:
    from numcodecs import register_codec as _register_numcodec  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from numcodecs.abc import Codec as _Codec  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from numcodecs.compat import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        ensure_bytes,
        ensure_ndarray,
        ndarray_copy,
    )
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "blosc2_vq.numcodecs needs numcodecs (`pip install numcodecs`; zarr and xarray install it too)"
    ) from _e

from . import _bounds, _codec
from ._checks import VQError

# VQZarr3 too, built on first access (it imports zarr): not in __all__, for `import *` not to need zarr.
__all__ = ["CODEC_ID", "VQ", "ZARR3_CODEC_NAME"]

#: The codec's id in numcodecs (its `get_config()["id"]` and the `numcodecs.codecs` entry point).
CODEC_ID = "blosc2_vq.vq"
#: The name of `VQZarr3` in a zarr 3 array's metadata (zarr's convention for numcodecs codecs).
ZARR3_CODEC_NAME = f"numcodecs.{CODEC_ID}"

_BOUNDS = ("max_error", "rel_error", "pw_rel_error", "psnr")
# The metalayer that records how the encoder laid the chunk out, when it differs from C order
# and native byte order (absent otherwise).
_LAYOUT = "vq_layout"
# A tiny array to check the bounds on (rel_error and psnr need a range).
_PROBE = np.array([0.0, 1.0])


class VQ(_Codec):  # type: ignore[misc,unused-ignore]  # numcodecs has no type information
    """blosc2-vq's codebook-free, error-bounded compression as a numcodecs codec.

    Exactly one bound, as `blosc2_vq.compress` takes them: `max_error` (absolute),
    `rel_error` (of each chunk's finite value range), `pw_rel_error` (point-wise relative,
    zeros exact; `max_error` may go with it as the absolute floor) or `psnr` (dB over each
    chunk's range, a target). A bad or missing bound raises `VQError` (a `ValueError`) here,
    with the library's message. See the module's documentation for zarr and xarray."""

    codec_id = CODEC_ID

    def __init__(
        self,
        max_error: float | None = None,
        rel_error: float | None = None,
        pw_rel_error: float | None = None,
        psnr: float | None = None,
    ) -> None:
        # The library's own checks and messages (one bound, positive, finite, in range).
        _bounds.settings(_PROBE, max_error=max_error, rel_error=rel_error, pw_rel_error=pw_rel_error, psnr=psnr)
        self.max_error = None if max_error is None else float(max_error)
        self.rel_error = None if rel_error is None else float(rel_error)
        self.pw_rel_error = None if pw_rel_error is None else float(pw_rel_error)
        self.psnr = None if psnr is None else float(psnr)

    def _given(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in _BOUNDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def get_config(self) -> dict[str, Any]:
        """`{"id": "blosc2_vq.vq", <the bounds given>}` (JSON-serializable)."""
        return {"id": self.codec_id, **self._given()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VQ:
        """The codec of a `get_config()` dict (with or without its `id`)."""
        params = dict(config)
        codec_id = params.pop("id", cls.codec_id)
        if codec_id != cls.codec_id:
            raise VQError(f"a {cls.__name__} configuration has id {cls.codec_id!r}, not {codec_id!r}")
        unknown = sorted(set(params) - set(_BOUNDS))
        if unknown:
            raise VQError(f"unknown {cls.__name__} parameter(s) {unknown}: it takes {', '.join(_BOUNDS)}")
        return cls(**params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._given().items())})"

    def encode(self, buf: Any) -> bytes:
        """The chunk `buf` (an array, as numcodecs and zarr pass it) compressed to the bound:
        the bytes of a python-blosc2 frame that records its shape and dtype."""
        arr = ensure_ndarray(buf)
        layout: dict[str, str] = {}
        if arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous:
            # Coded in memory order (the transpose is C-ordered, no copy); decoded back to F.
            arr = arr.T
            layout["order"] = "F"
        if not arr.dtype.isnative:
            layout["dtype"] = arr.dtype.str
            arr = arr.astype(arr.dtype.newbyteorder("="))
        bounds = self._given()
        if arr.size == 0 and ("rel_error" in bounds or "psnr" in bounds):
            bounds = {"max_error": 1.0}  # no values, no range: any bound codes nothing
        meta = {_LAYOUT: layout} if layout else None
        compressed = _codec.compress(
            arr,
            meta=meta,
            max_error=bounds.get("max_error"),
            rel_error=bounds.get("rel_error"),
            pw_rel_error=bounds.get("pw_rel_error"),
            psnr=bounds.get("psnr"),
            # A zarr chunk is small and coded on its own: a codebook stored in every chunk
            # would not pay for itself, and training it would slow every write.
            codebook_trial=False,
        )
        return bytes(compressed.to_cframe())

    def decode(self, buf: Any, out: Any = None) -> Any:
        """The chunk of an `encode` result, with its shape and dtype; copied into `out` (a
        buffer of the chunk's size, as numcodecs' codecs take it) when given."""
        import blosc2

        _register()
        errors_before = _codec.codec_error_count()
        try:
            # A copy: without one, python-blosc2 3.x reads the frame in place from a buffer it
            # does not keep alive.
            arr = blosc2.ndarray_from_cframe(ensure_bytes(buf), copy=True)
        except RuntimeError as e:
            raise VQError(f"not a blosc2-vq chunk: python-blosc2 cannot read it as a frame ({e})") from e
        meta = arr.schunk.meta
        if _codec.CODEC_NAME not in meta.keys():
            raise VQError("not a blosc2-vq chunk: the frame has no `vq` metalayer")
        try:
            dec = arr[()]
        except RuntimeError as e:
            message = _codec.last_error(since=errors_before)
            raise VQError(message or f"c-blosc2 could not decompress the chunk ({e})") from e
        dec = np.asarray(dec)
        if _LAYOUT in meta.keys():
            layout = meta[_LAYOUT]
            if layout.get("order") == "F":
                dec = dec.T
            if "dtype" in layout:
                dec = dec.astype(np.dtype(layout["dtype"]))
        if out is not None:
            return ndarray_copy(dec, out)
        return dec


_register_numcodec(VQ)


@functools.cache
def _register() -> None:
    """Registers the codec with python-blosc2 once (importing blosc2_vq tries it too, but
    leaves the message of a failure to the first use)."""
    _codec.register()


def __getattr__(name: str) -> Any:
    if name == "VQZarr3":
        return _zarr3_codec()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _zarr3_codec() -> Any:
    """`VQZarr3`, built on first use (it imports zarr): zarr's wrapper of a numcodecs
    array-to-bytes codec (`zarr.codecs.numcodecs`, zarr >= 3.1.3; `numcodecs.zarr3` before),
    registered with zarr under `numcodecs.blosc2_vq.vq`."""
    base = None
    for module in ("zarr.codecs.numcodecs", "numcodecs.zarr3"):
        try:
            base = getattr(importlib.import_module(module), "_NumcodecsArrayBytesCodec", None)
        except ImportError:
            continue
        if base is not None:
            break
    if base is None:
        raise ImportError(
            "VQZarr3 needs zarr 3 (zarr >= 3.1.3, or an earlier zarr 3 with numcodecs' zarr3 module); "
            "with zarr 2 or zarr_format=2, use VQ as the compressor"
        )

    def __init__(self: Any, **codec_config: Any) -> None:
        VQ.from_config({"id": CODEC_ID, **codec_config})  # a bad bound fails here, not at the first write
        base.__init__(self, **codec_config)

    cls = type(
        "VQZarr3",
        (base,),
        {
            "__init__": __init__,
            "__module__": __name__,
            "__qualname__": "VQZarr3",
        },
        codec_name=CODEC_ID,
    )
    # (after the wrapper's __init_subclass__, which writes its own)
    cls.__doc__ = "`VQ` as a zarr 3 array-to-bytes codec (`serializer=VQZarr3(max_error=...)`); same parameters."
    importlib.import_module("zarr.registry").register_codec(ZARR3_CODEC_NAME, cls)
    return cls


if "zarr.registry" in sys.modules:
    # zarr is there already: register VQZarr3 now, so that arrays written with it open even
    # where the package's entry points are not installed (a source tree on the path).
    try:
        _zarr3_codec()
    except ImportError:  # zarr 2, or a zarr 3 without the numcodecs wrappers
        pass
