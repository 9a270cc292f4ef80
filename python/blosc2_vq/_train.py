"""Training a codebook through the library: `train` and `train_defaults`."""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _clib
from ._checks import INT64, UINT64, VQError, bound, choice, integer, real
from ._codebook import KINDS, METRICS, SCALAR_METHODS, WEIGHT_KINDS

MODELS = {
    "aa": _clib.MODEL_ARCHETYPAL,
    "archetypal": _clib.MODEL_ARCHETYPAL,
    "cmeans": _clib.MODEL_FUZZY_CMEANS,
    "fuzzy_cmeans": _clib.MODEL_FUZZY_CMEANS,
    "kmeans": _clib.MODEL_KMEANS,
    "residual": _clib.MODEL_RESIDUAL,
    "scalar": _clib.MODEL_SCALAR,
}
_METRIC_CODES = {name: code for code, name in METRICS.items()}
_SCALAR_CODES = {name: code for code, name in SCALAR_METHODS.items()}


def _library_defaults(model_code: int) -> _clib.TrainParams:
    """A `TrainParams` filled with the library's defaults for `model_code`."""
    params = _clib.TrainParams()
    if _clib.LIB.blosc2_vq_train_params_init(ctypes.byref(params), model_code) < 0:
        raise VQError(_clib.last_error_message())
    return params


def train_defaults(model: str = "aa") -> dict[str, Any]:
    """The library's training defaults for `model`, by `train`'s keyword names: what `train`
    uses for every keyword left at None. They are read from the library
    (`blosc2_vq_train_params_init`) each time, never stored here. Every keyword is listed,
    also those that do not apply to `model` (`train` refuses some of them, see there)."""
    p = _library_defaults(choice("model", model, MODELS))
    return {
        "n_prototypes": p.n_prototypes,
        "tile": tuple(p.tile_shape[i] for i in range(p.tile_ndim)),
        "n_samples": p.n_samples,
        "seed": p.seed,
        "m": p.fuzzifier,
        "metric": METRICS.get(p.metric, p.metric),
        "n_init": p.n_init,
        "max_iter": p.max_iter,
        "tol": p.tol,
        "weight_bits": p.weight_bits,
        "n_stages": p.n_stages,
        "mean_bits": p.mean_bits,
        "beam": p.beam,
        "scalar_method": SCALAR_METHODS.get(p.scalar_method, p.scalar_method),
        "scalar_bits": p.scalar_bits,
        "kept_weights": p.kept_weights,
        "log10_floor": p.log10_floor if p.log10_floor > 0 else None,
    }


def train(
    data: npt.ArrayLike,
    model: str = "aa",
    n_prototypes: int | None = None,
    tile: tuple[int, ...] | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    *,
    m: float | None = None,
    metric: str | None = None,
    n_init: int | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
    weight_bits: int | None = None,
    n_stages: int | None = None,
    mean_bits: int | None = None,
    beam: int | None = None,
    scalar_method: str | None = None,
    scalar_bits: int | None = None,
    kept_weights: int | None = None,
    log10_floor: float | None = None,
    max_error: float | None = None,
    progress: bool | None = None,
) -> bytes:
    """Trains a codebook on `data` and returns its bytes, ready for `meta={"vq": ...}`
    (`Codebook.from_bytes` reads them).

    Every keyword left at None takes the library's default for `model`
    (`blosc2_vq_train_params_init`; `train_defaults(model)` lists them); only the keywords
    given change anything. The values quoted below are the library's at the time of writing.

    `data` is a float32 or float64 array whose last `len(tile)` axes are image axes (leading
    axes index images); `n_samples` random tiles (currently 1000, of 4x4 values) are drawn
    with `seed`. `model` is one of:

    - "aa" (Archetypal Analysis; `n_init` restarts) or "cmeans" (Fuzzy C-Means; fuzzifier
      `m`, `metric` "euclidean" or "cosine"): `n_prototypes` prototypes (currently 36), blocks
      hold each tile's weights at `weight_bits` bits (currently 8). `kept_weights=s` keeps
      only each tile's `s` largest weights (sparse weights, `s` below `n_prototypes`; 0, the
      default, keeps all).
    - "kmeans" (hard vector quantization): `n_prototypes` codewords (currently 36, at most
      1024), one index per tile.
    - "residual" (multi-stage vector quantization): `n_stages` stages (currently 2, 1 to 16)
      of `n_prototypes` codewords each (currently 256, at most 4096), one index per tile and
      stage; `mean_bits` (currently 0, at most 12) first removes each tile's mean quantized to
      that many bits (mean-removed VQ). The encoder keeps `beam` candidate paths from stage to
      stage (1 to 64; 1 is greedy): wider finds better codes, slower; decoding is the same.
    - "scalar": every value on its own to one of `2**scalar_bits` levels (1 to 12 bits) placed
      by `scalar_method`: "uniform" (equal-width bins), "quantile" (equal-count bins) or
      "lloyd_max" (least squared error; currently the default). `tile` and `n_prototypes` do
      not apply; `n_samples` values are drawn.

    `max_error=e` ("residual" only) seals an error bound into the codebook: every value of
    the blocks it codes decodes within `e` of the original (in decades with `log10_floor`:
    `log10(1.1)` is 10 %), each tile getting the stages it needs; None (the default) leaves
    blocks fixed-rate. `Codebook.with_max_error` and `compress(..., max_error=e)` set it
    without retraining.

    `max_iter` and `tol` bound the fits (the library's defaults depend on the model).
    `log10_floor=f` (positive) codes `log10(max(value, f))` instead of the values, for data
    spanning many decades; values at or below `f` decode as 0. None (the default) codes the
    values as they are.

    `progress`: a tqdm progress bar of the training iterations (tqdm is optional: `pip install
    tqdm`). None (the default) shows one when tqdm is installed and stderr is a terminal;
    True always (tqdm required); False never. Ctrl-C stops training cleanly between two
    iterations and raises `KeyboardInterrupt`; nothing is returned or half-written.

    Options that do not apply to `model` (such as `n_stages` for "aa") raise `VQError`, a
    `ValueError`, as do values the library rejects (with its message).
    """
    arr = np.asarray(data)
    if arr.dtype == np.float32:
        dtype = _clib.DTYPE_FLOAT32
    elif arr.dtype == np.float64:
        dtype = _clib.DTYPE_FLOAT64
    else:
        raise VQError(f"train takes float32 or float64 arrays, not {arr.dtype}")
    arr = np.ascontiguousarray(arr)
    model_code = choice("model", model, MODELS)
    kind = KINDS[model_code]
    # Options of one kind given to another would be silently ignored by the library: refuse
    # them, since the caller surely meant something else.
    for name, value, kinds in (
        ("n_stages", n_stages, ("residual",)),
        ("mean_bits", mean_bits, ("residual",)),
        ("beam", beam, ("residual",)),
        ("max_error", max_error, ("residual",)),
        ("scalar_method", scalar_method, ("scalar",)),
        ("scalar_bits", scalar_bits, ("scalar",)),
    ):
        if value is not None and kind not in kinds:
            raise VQError(f"{name} applies to model {kinds[0]!r} only, not {model!r}")
    if kind == "scalar" and n_prototypes is not None:
        raise VQError("a scalar quantizer has 2**scalar_bits levels: give scalar_bits, not n_prototypes")
    if kept_weights is not None:
        kept_weights = integer("kept_weights", kept_weights)
        if kept_weights < 0:
            raise VQError(f"kept_weights {kept_weights} must be >= 0 (0 keeps all weights)")
        if kept_weights and kind not in WEIGHT_KINDS:
            raise VQError(f"kept_weights applies to models 'aa' and 'cmeans' (which have weights), not {model!r}")
    if log10_floor is not None:
        log10_floor = real("log10_floor", log10_floor)
        # 0 would mean "no transform" to the C API: refuse it rather than silently ignore it.
        if not (log10_floor > 0 and np.isfinite(log10_floor)):
            raise VQError(f"log10_floor {log10_floor} must be positive and finite (None: no transform)")
    if tile is not None:
        try:
            tile = tuple(integer("tile side", t) for t in tile)  # may be given as a list
        except TypeError:
            raise VQError(f"tile {tile!r} must be a sequence of 1 to 3 sides") from None
        if not 1 <= len(tile) <= 3:
            raise VQError(f"tile {tile} must have 1 to 3 sides")
    if progress is not None and not isinstance(progress, bool):
        raise VQError(f"progress must be True, False or None, not {progress!r}")
    # The library's defaults for the model; the keywords given (checked and converted to the
    # C field's type) replace them, the others stay as the library set them.
    params = _library_defaults(model_code)
    if tile is not None:
        params.tile_ndim = len(tile)
        for i, t in enumerate(tile):
            params.tile_shape[i] = t
    fields: tuple[tuple[str, object, Any], ...] = (
        ("n_prototypes", n_prototypes, lambda v: integer("n_prototypes", v)),
        ("n_samples", n_samples, lambda v: integer("n_samples", v, INT64)),
        ("seed", seed, lambda v: integer("seed", v, UINT64)),
        ("max_iter", max_iter, lambda v: integer("max_iter", v)),
        ("tol", tol, lambda v: real("tol", v)),
        ("fuzzifier", m, lambda v: real("m", v)),
        ("metric", metric, lambda v: choice("metric", v, _METRIC_CODES)),
        ("n_init", n_init, lambda v: integer("n_init", v)),
        ("weight_bits", weight_bits, lambda v: integer("weight_bits", v)),
        ("n_stages", n_stages, lambda v: integer("n_stages", v)),
        ("mean_bits", mean_bits, lambda v: integer("mean_bits", v)),
        ("beam", beam, lambda v: integer("beam", v)),
        ("scalar_method", scalar_method, lambda v: choice("scalar_method", v, _SCALAR_CODES)),
        ("scalar_bits", scalar_bits, lambda v: integer("scalar_bits", v)),
        ("max_error", max_error, bound),
        ("kept_weights", kept_weights, lambda v: v),  # checked above
        ("log10_floor", log10_floor, lambda v: v),
    )  # checked above
    for field, given, convert in fields:
        if given is not None:
            setattr(params, field, convert(given))
    return _Training(arr, dtype, params, _progress_bar(progress)).run()


def _progress_bar(progress: bool | None) -> Any:
    """A tqdm class to show progress with, or None."""
    if progress is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if progress:
            raise VQError("progress=True needs tqdm: pip install tqdm") from None
        return None
    if progress is None and not sys.stderr.isatty():
        return None
    return tqdm


class _Training:
    """One call of `blosc2_vq_codebook_train`, run on a worker thread so that the calling
    thread stays responsive: it draws the progress bar and, when Ctrl-C arrives, asks the
    library (through the progress callback) to stop between two iterations."""

    def __init__(self, arr: npt.NDArray[Any], dtype: int, params: _clib.TrainParams, bar: Any) -> None:
        self.arr = arr
        self.dtype = dtype
        self.params = params
        self.bar_class = bar
        self.stop = threading.Event()
        self.done = 0
        self.total = 0
        self.loss = float("nan")
        self.rc = 0
        self.message = ""
        self.result = b""
        # Kept on self: ctypes must not free the callback while the library may call it.
        self.callback = _clib.PROGRESS_FN(self._on_progress)
        params.progress = self.callback
        params.progress_user_data = None

    def _on_progress(self, _user_data: object, done: int, total: int, loss: float) -> int:
        self.done, self.total, self.loss = done, total, loss
        return 1 if self.stop.is_set() else 0

    def _work(self) -> None:
        arr = self.arr
        shape = (ctypes.c_int64 * arr.ndim)(*arr.shape)
        out = ctypes.POINTER(ctypes.c_uint8)()
        out_len = ctypes.c_int64()
        self.rc = _clib.LIB.blosc2_vq_codebook_train(
            arr.ctypes.data_as(ctypes.c_void_p),
            self.dtype,
            shape,
            arr.ndim,
            ctypes.byref(self.params),
            ctypes.byref(out),
            ctypes.byref(out_len),
        )
        if self.rc < 0:
            self.message = _clib.last_error_message()  # thread-local: read on this thread
            return
        self.result = _clib.take(out, out_len)

    def run(self) -> bytes:
        worker = threading.Thread(target=self._work, name="blosc2_vq.train", daemon=True)
        bar = None
        try:
            worker.start()
            while worker.is_alive():
                worker.join(0.1)
                if self.bar_class is not None and self.total:
                    if bar is None:
                        bar = self.bar_class(total=self.total, desc="training", unit="it", leave=False)
                    bar.n = self.done
                    bar.set_postfix(loss=f"{self.loss:.4g}", refresh=False)
                    bar.refresh()
        except KeyboardInterrupt:
            self.stop.set()
            worker.join()  # the library stops at the next iteration
            raise
        finally:
            if bar is not None:
                bar.close()
        if self.rc < 0:
            raise VQError(self.message)
        return self.result
