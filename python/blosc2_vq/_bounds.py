"""Error bounds named as in Rust, C and the CLI (`max_error`, `rel_error`, `pw_rel_error`,
`psnr`), and the compression settings that make the codec work without a codebook."""

from __future__ import annotations

import ctypes
import numbers
from typing import Any

from . import _clib
from ._checks import VQError


class ErrorBound(ctypes.Structure):
    """blosc2_vq_error_bound (0 means "not given")."""

    _fields_ = [
        ("max_error", ctypes.c_double),
        ("rel_error", ctypes.c_double),
        ("pw_rel_error", ctypes.c_double),
        ("psnr", ctypes.c_double),
    ]


_settings_new = _clib.lib().blosc2_vq_settings_new
_settings_new.argtypes = [
    ctypes.POINTER(ErrorBound),
    ctypes.c_void_p,
    ctypes.c_int32,
    ctypes.c_int64,
    ctypes.POINTER(ctypes.POINTER(ctypes.c_uint8)),
    ctypes.POINTER(ctypes.c_int64),
]
_settings_new.restype = ctypes.c_int


def _given(name: str, value: float | None) -> float:
    if value is None:
        return 0.0
    # numbers.Real: numpy scalars too (a bound computed with numpy is an np.float32/64).
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VQError(f"invalid parameter `{name}`: {value!r} is not a number")
    if value == 0:
        raise VQError(f"invalid parameter `{name}`: 0: the bound must be positive (leave it out instead)")
    return float(value)


def settings(
    data: Any,
    max_error: float | None = None,
    rel_error: float | None = None,
    pw_rel_error: float | None = None,
    psnr: float | None = None,
) -> bytes:
    """The `vq` metalayer content that compresses `data` without a codebook to the bound:
    exactly one of `max_error`, `rel_error` (of the finite value range), `pw_rel_error`
    (point-wise, `max_error` then being its absolute floor) and `psnr` (dB over the range).
    `VQError` for a bad or missing bound."""
    import numpy as np

    bound = ErrorBound(
        _given("max_error", max_error),
        _given("rel_error", rel_error),
        _given("pw_rel_error", pw_rel_error),
        _given("psnr", psnr),
    )
    values = None
    if rel_error is not None or psnr is not None:
        values = np.ascontiguousarray(data)
        if values.dtype != np.float64:
            values = values.astype(np.float32 if values.dtype.itemsize <= 4 else np.float64)
    out = ctypes.POINTER(ctypes.c_uint8)()
    out_len = ctypes.c_int64()
    if values is None:
        rc = _settings_new(ctypes.byref(bound), None, 0, 0, ctypes.byref(out), ctypes.byref(out_len))
    else:
        dtype = _clib.DTYPE_FLOAT64 if values.dtype == np.float64 else _clib.DTYPE_FLOAT32
        rc = _settings_new(
            ctypes.byref(bound),
            values.ctypes.data_as(ctypes.c_void_p),
            dtype,
            values.size,
            ctypes.byref(out),
            ctypes.byref(out_len),
        )
    if rc < 0:
        raise VQError(_clib.last_error_message())
    return _clib.take(out, out_len)


class CodingChoice(ctypes.Structure):
    """blosc2_vq_coding_choice."""

    _fields_ = [
        ("codebook", ctypes.POINTER(ctypes.c_uint8)),
        ("codebook_len", ctypes.c_int64),
        ("predictive_bytes", ctypes.c_int64),
        ("codebook_bytes", ctypes.c_int64),
        ("reason", ctypes.c_char * 256),
    ]


_choose_coding = _clib.lib().blosc2_vq_choose_coding
_choose_coding.argtypes = [
    ctypes.c_void_p,
    ctypes.c_int32,
    ctypes.POINTER(ctypes.c_int64),
    ctypes.POINTER(ctypes.c_int32),
    ctypes.c_int32,
    ctypes.c_char_p,
    ctypes.c_int64,
    ctypes.POINTER(CodingChoice),
]
_choose_coding.restype = ctypes.c_int


def choose_coding(data: Any, blocks: tuple[int, ...], settings_bytes: bytes) -> tuple[bytes | None, dict[str, Any]]:
    """The library's one-call choice (`blosc2_vq_choose_coding`): a residual codebook trained
    on a sample of `data` when it measures smaller than the codebook-free `settings_bytes`,
    counting its own bytes, else None; and what was measured (`chosen`, `reason`,
    `predictive_bytes`, `codebook_bytes`: estimates for the whole array). Arrays that are not
    float32/float64 numpy arrays are left to the settings without trying."""
    import numpy as np

    if not isinstance(data, np.ndarray) or data.dtype not in (np.float32, np.float64) or data.ndim == 0:
        return None, {"chosen": "predictive", "reason": "predictive: codebooks are tried on float numpy arrays only"}
    values = np.ascontiguousarray(data)
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    shape = (ctypes.c_int64 * values.ndim)(*values.shape)
    block = (ctypes.c_int32 * values.ndim)(*blocks)
    out = CodingChoice()
    rc = _choose_coding(
        values.ctypes.data_as(ctypes.c_void_p),
        _clib.DTYPE_FLOAT64 if values.dtype == np.float64 else _clib.DTYPE_FLOAT32,
        shape,
        block,
        values.ndim,
        settings_bytes,
        len(settings_bytes),
        ctypes.byref(out),
    )
    if rc < 0:
        raise VQError(_clib.last_error_message())
    codebook = _clib.take(out.codebook, ctypes.c_int64(out.codebook_len)) if out.codebook else None
    report: dict[str, Any] = {
        "chosen": "codebook" if codebook is not None else "predictive",
        "reason": out.reason.decode("utf-8", "replace"),
        "predictive_bytes": int(out.predictive_bytes),
        "codebook_bytes": None if out.codebook_bytes < 0 else int(out.codebook_bytes),
    }
    return codebook, report


def describe(meta: Any) -> dict[str, Any] | None:
    """The settings of a `vq` metalayer as a dict (`requested`, `bound`, `value_range`), or
    None when it holds a codebook."""
    import msgpack

    raw = bytes(meta) if isinstance(meta, (bytes, bytearray, memoryview)) else None
    if raw is None:
        if isinstance(meta, dict) and meta.get("format") == "blosc2-vq settings":
            return dict(meta)
        return None
    if b"blosc2-vq settings" not in raw[:256]:
        return None
    parsed = msgpack.unpackb(raw, raw=False)
    return dict(parsed) if isinstance(parsed, dict) else None


def default_blocks(shape: tuple[int, ...], itemsize: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Chunk and block shapes that give the predictor room: blocks of about 2^16 values and
    chunks of about 2^20 (4 MiB of float32). An array of three or more dimensions whose items
    (all but the first dimension) fit in a block is a stack of items: blocks hold whole items
    (faces, velocity distributions), which the engine can predict one by one. Otherwise blocks
    are as cubic as the shape allows (the last dimensions filled first). The CLI picks the
    same."""
    items = len(shape) >= 3 and _prod(list(shape[1:])) <= 1 << 16
    blocks = _grow(shape, 1 << 16, items)
    chunks = tuple(max(c, b) for c, b in zip(_grow(shape, 1 << 20, items), blocks, strict=True))
    return chunks, blocks


def _grow(shape: tuple[int, ...], target: int, items: bool) -> tuple[int, ...]:
    nd = len(shape)
    if nd == 0:
        return ()
    out = [1] * nd
    if items:
        out[1:] = shape[1:]  # whole items
    # Grow every dimension in turn (last first) by doubling, as long as the product stays
    # within the target.
    changed = True
    while changed:
        changed = False
        for d in reversed(range(nd)):
            if out[d] < shape[d]:
                nxt = min(out[d] * 2, shape[d])
                if _prod(out) // out[d] * nxt <= target:
                    out[d] = nxt
                    changed = True
    return tuple(out)


def _prod(v: list[int]) -> int:
    p = 1
    for x in v:
        p *= x
    return p
