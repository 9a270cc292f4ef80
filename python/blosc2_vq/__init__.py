"""blosc2-vq: a vector-quantization lossy codec plugin for Blosc2.

    import blosc2, blosc2_vq
    blosc2_vq.register()                                   # blosc2.register_codec("vq", 185)
    cb = blosc2_vq.train(images, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0)
    # or model="cmeans", "kmeans", "residual" (n_stages=, mean_bits=, beam=), "scalar" (scalar_bits=,
    # scalar_method=); kept_weights= for sparse weights, log10_floor= for data spanning decades
    arr = blosc2.asarray(images, chunks=(1, 64, 64), blocks=(1, 64, 64), meta={"vq": cb},
                         cparams=blosc2_vq.cparams(nthreads=4))
    rec = arr[:]

The codec itself is the package's `libblosc2_vq.so`, which c-blosc2 finds through
`python -c "import blosc2_vq; blosc2_vq.print_libpath()"` and loads as a dynamic plugin.
Everything here calls that library (through ctypes); nothing is reimplemented in Python.
"""
import ctypes

from . import _clib

__version__ = "0.1.0"

#: The codec id the package registers by default (c-blosc2's user range is 160..255).
DEFAULT_CODEC_ID = 185
#: The codec's name, which c-blosc2 turns into the library name `libblosc2_vq.so`.
CODEC_NAME = "vq"

__all__ = [
    "Codebook",
    "VQError",
    "codec_error_count",
    "compress",
    "cparams",
    "last_error",
    "libpath",
    "print_libpath",
    "register",
    "train",
    "train_defaults",
]


class VQError(ValueError):
    """An error reported by the blosc2-vq library (bad parameters, codebook or data)."""


def libpath():
    """Absolute path of the plugin library inside this package."""
    return _clib.LIBPATH


def print_libpath():
    """Prints the library's absolute path and nothing else (c-blosc2's plugin loader reads it)."""
    print(_clib.LIBPATH, end="")


def register(codec_id=DEFAULT_CODEC_ID):
    """Registers the codec with python-blosc2 under `codec_id` (c-blosc2 loads the library on
    first use). Calling it again with the same id does nothing."""
    import blosc2

    blosc2.register_codec(CODEC_NAME, codec_id)
    return codec_id


def cparams(codec_id=DEFAULT_CODEC_ID, nthreads=None, codec_meta=0, **extra):
    """Compression parameters the codec needs: no filters (python-blosc2's default SHUFFLE
    would scramble the bytes before a lossy codec) and NEVER_SPLIT. `codec_meta` 1..8
    overrides the codebook's weight bits (weight codebooks only: "aa", "cmeans"; the codec
    refuses it for the others). Extra keys are passed through."""
    import blosc2

    params = {
        "codec": codec_id,
        "codec_meta": codec_meta,
        "filters": [],
        "filters_meta": [],
        "splitmode": blosc2.SplitMode.NEVER_SPLIT,
        "nthreads": blosc2.nthreads if nthreads is None else nthreads,
    }
    params.update(extra)
    return params


def codec_error_count():
    """How many encoder/decoder errors the process has seen so far (on any thread): read it
    before a call and pass it to `last_error(since=...)` afterwards."""
    return _clib.codec_error_count()


def last_error(since=None):
    """The most recent encoder/decoder error, from whichever thread c-blosc2 ran it on ('' if
    none). The library never clears it, so on its own it may describe an earlier failure:
    with `since=codec_error_count()` read before a call, it is '' unless the codec failed
    after that read."""
    if since is not None and _clib.codec_error_count() <= since:
        return ""
    return _clib.last_codec_error()


_MODELS = {"aa": _clib.MODEL_ARCHETYPAL, "archetypal": _clib.MODEL_ARCHETYPAL,
           "cmeans": _clib.MODEL_FUZZY_CMEANS, "fuzzy_cmeans": _clib.MODEL_FUZZY_CMEANS,
           "kmeans": _clib.MODEL_KMEANS, "residual": _clib.MODEL_RESIDUAL, "scalar": _clib.MODEL_SCALAR}
_METRICS = {"euclidean": _clib.METRIC_EUCLIDEAN, "cosine": _clib.METRIC_COSINE}
_SCALAR_METHODS = {"uniform": _clib.SCALAR_UNIFORM, "quantile": _clib.SCALAR_QUANTILE,
                   "lloyd_max": _clib.SCALAR_LLOYD_MAX}
#: Codebook kinds by the C API's model code (names as in the codebook's MessagePack schema).
_KINDS = {_clib.MODEL_FUZZY_CMEANS: "fuzzy_cmeans", _clib.MODEL_ARCHETYPAL: "archetypal",
          _clib.MODEL_KMEANS: "kmeans", _clib.MODEL_RESIDUAL: "residual", _clib.MODEL_SCALAR: "scalar"}
#: Kinds whose blocks hold weights (the others hold codeword indexes).
_WEIGHT_KINDS = ("fuzzy_cmeans", "archetypal")

_INT32 = (-(2 ** 31), 2 ** 31 - 1)
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_UINT64 = (0, 2 ** 64 - 1)


def _integer(name, value, bounds=_INT32):
    """`value` as a Python int that fits the C field. ctypes would silently wrap an integer
    that does not fit (2**32 + 2 becomes 2) and truncate a float, so both are refused here;
    the library checks the meaningful ranges and names them in its message."""
    import operator

    if isinstance(value, bool):
        raise VQError(f"{name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise VQError(f"{name} must be an integer, not {value!r}") from None
    lo, hi = bounds
    if not lo <= value <= hi:
        raise VQError(f"{name} {value} is out of range")
    return value


def _real(name, value):
    """`value` as a float (ctypes would raise a bare TypeError for a string)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VQError(f"{name} must be a number, not {value!r}")
    return float(value)


def _choice(name, value, options):
    if not isinstance(value, str) or value not in options:
        names = ", ".join(repr(o) for o in options)
        raise VQError(f"unknown {name} {value!r}: use one of {names}")
    return options[value]


def _library_defaults(model_code):
    """A `TrainParams` filled with the library's defaults for `model_code`."""
    params = _clib.TrainParams()
    if _clib.lib().blosc2_vq_train_params_init(ctypes.byref(params), model_code) < 0:
        raise VQError(_clib.last_error_message())
    return params


def train_defaults(model="aa"):
    """The library's training defaults for `model`, by `train`'s keyword names: what `train`
    uses for every keyword left at None. They are read from the library
    (`blosc2_vq_train_params_init`) each time, never stored here. Every keyword is listed,
    also those that do not apply to `model` (`train` refuses some of them, see there)."""
    p = _library_defaults(_choice("model", model, _MODELS))
    return {
        "n_prototypes": p.n_prototypes,
        "tile": tuple(p.tile_shape[i] for i in range(p.tile_ndim)),
        "n_samples": p.n_samples,
        "seed": p.seed,
        "m": p.fuzzifier,
        "metric": {v: n for n, v in _METRICS.items()}.get(p.metric, p.metric),
        "n_init": p.n_init,
        "max_iter": p.max_iter,
        "tol": p.tol,
        "weight_bits": p.weight_bits,
        "n_stages": p.n_stages,
        "mean_bits": p.mean_bits,
        "beam": p.beam,
        "scalar_method": {v: n for n, v in _SCALAR_METHODS.items()}.get(p.scalar_method, p.scalar_method),
        "scalar_bits": p.scalar_bits,
        "kept_weights": p.kept_weights,
        "log10_floor": p.log10_floor if p.log10_floor > 0 else None,
    }


def train(data, model="aa", n_prototypes=None, tile=None, n_samples=None, seed=None, *,
          m=None, metric=None, n_init=None, max_iter=None, tol=None, weight_bits=None,
          n_stages=None, mean_bits=None, beam=None, scalar_method=None, scalar_bits=None,
          kept_weights=None, log10_floor=None, max_error=None):
    """Trains a codebook on `data` and returns its bytes, ready for `meta={"vq": ...}`.

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

    Options that do not apply to `model` (such as `n_stages` for "aa") raise `VQError`, a
    `ValueError`, as do values the library rejects (with its message).
    """
    import numpy as np

    arr = np.asarray(data)
    if arr.dtype == np.float32:
        dtype = _clib.DTYPE_FLOAT32
    elif arr.dtype == np.float64:
        dtype = _clib.DTYPE_FLOAT64
    else:
        raise VQError(f"train takes float32 or float64 arrays, not {arr.dtype}")
    arr = np.ascontiguousarray(arr)
    model_code = _choice("model", model, _MODELS)
    kind = _KINDS[model_code]
    # Options of one kind given to another would be silently ignored by the library: refuse
    # them, since the caller surely meant something else.
    for name, value, kinds in (("n_stages", n_stages, ("residual",)), ("mean_bits", mean_bits, ("residual",)),
                               ("beam", beam, ("residual",)), ("max_error", max_error, ("residual",)),
                               ("scalar_method", scalar_method, ("scalar",)),
                               ("scalar_bits", scalar_bits, ("scalar",))):
        if value is not None and kind not in kinds:
            raise VQError(f"{name} applies to model {kinds[0]!r} only, not {model!r}")
    if kind == "scalar" and n_prototypes is not None:
        raise VQError("a scalar quantizer has 2**scalar_bits levels: give scalar_bits, not n_prototypes")
    if kept_weights is not None:
        kept_weights = _integer("kept_weights", kept_weights)
        if kept_weights < 0:
            raise VQError(f"kept_weights {kept_weights} must be >= 0 (0 keeps all weights)")
        if kept_weights and kind not in _WEIGHT_KINDS:
            raise VQError(f"kept_weights applies to models 'aa' and 'cmeans' (which have weights), not {model!r}")
    if log10_floor is not None:
        log10_floor = _real("log10_floor", log10_floor)
        # 0 would mean "no transform" to the C API: refuse it rather than silently ignore it.
        if not (log10_floor > 0 and np.isfinite(log10_floor)):
            raise VQError(f"log10_floor {log10_floor} must be positive and finite (None: no transform)")
    if tile is not None:
        try:
            tile = tuple(_integer("tile side", t) for t in tile)
        except TypeError:
            raise VQError(f"tile {tile!r} must be a sequence of 1 to 3 sides") from None
        if not 1 <= len(tile) <= 3:
            raise VQError(f"tile {tile} must have 1 to 3 sides")
    # The library's defaults for the model; the keywords given (checked and converted to the
    # C field's type) replace them, the others stay as the library set them.
    params = _library_defaults(model_code)
    if tile is not None:
        params.tile_ndim = len(tile)
        for i, t in enumerate(tile):
            params.tile_shape[i] = t
    for field, value, convert in (
            ("n_prototypes", n_prototypes, lambda v: _integer("n_prototypes", v)),
            ("n_samples", n_samples, lambda v: _integer("n_samples", v, _INT64)),
            ("seed", seed, lambda v: _integer("seed", v, _UINT64)),
            ("max_iter", max_iter, lambda v: _integer("max_iter", v)),
            ("tol", tol, lambda v: _real("tol", v)),
            ("fuzzifier", m, lambda v: _real("m", v)),
            ("metric", metric, lambda v: _choice("metric", v, _METRICS)),
            ("n_init", n_init, lambda v: _integer("n_init", v)),
            ("weight_bits", weight_bits, lambda v: _integer("weight_bits", v)),
            ("n_stages", n_stages, lambda v: _integer("n_stages", v)),
            ("mean_bits", mean_bits, lambda v: _integer("mean_bits", v)),
            ("beam", beam, lambda v: _integer("beam", v)),
            ("scalar_method", scalar_method, lambda v: _choice("scalar_method", v, _SCALAR_METHODS)),
            ("scalar_bits", scalar_bits, lambda v: _integer("scalar_bits", v)),
            ("max_error", max_error, lambda v: _bound(v)),
            ("kept_weights", kept_weights, lambda v: v),  # checked above
            ("log10_floor", log10_floor, lambda v: v)):   # checked above
        if value is not None:
            setattr(params, field, convert(value))
    lib = _clib.lib()
    shape = (ctypes.c_int64 * arr.ndim)(*arr.shape)
    out = ctypes.POINTER(ctypes.c_uint8)()
    out_len = ctypes.c_int64()
    rc = lib.blosc2_vq_codebook_train(arr.ctypes.data_as(ctypes.c_void_p), dtype, shape, arr.ndim,
                                      ctypes.byref(params), ctypes.byref(out), ctypes.byref(out_len))
    if rc < 0:
        raise VQError(_clib.last_error_message())
    try:
        return ctypes.string_at(out, out_len.value)
    finally:
        lib.blosc2_vq_free(out)


def _bound(value):
    """An error bound: a positive, finite real (None is "no bound" before this is called)."""
    import math

    value = _real("max_error", value)
    if not (value > 0 and math.isfinite(value)):
        raise VQError(f"max_error {value} must be positive and finite (None: no bound)")
    return value


def _resealed(function, raw, value):
    """The codebook bytes `raw` re-sealed by the library's `function` with `value`."""
    lib = _clib.lib()
    out = ctypes.POINTER(ctypes.c_uint8)()
    out_len = ctypes.c_int64()
    rc = function(raw, len(raw), value, ctypes.byref(out), ctypes.byref(out_len))
    if rc < 0:
        raise VQError(_clib.last_error_message())
    try:
        return ctypes.string_at(out, out_len.value)
    finally:
        lib.blosc2_vq_free(out)


def _codebook_bytes(codebook):
    """The MessagePack of a codebook in any form the package takes: bytes, bytearray,
    memoryview (or another buffer), the dict python-blosc2 gives back for a metalayer stored
    as a MessagePack map (by C or Rust programs), or a `Codebook`. A dict is packed again:
    the library computes the fingerprint from the content it parses, not from these bytes,
    so the repacked map is the same codebook. Not validated here (the library does that)."""
    if isinstance(codebook, Codebook):
        return codebook.raw
    if isinstance(codebook, dict):
        import msgpack

        return msgpack.packb(codebook, use_bin_type=True)
    try:
        # Not bytes(): bytes(5) would be five zero bytes.
        return memoryview(codebook).tobytes()
    except TypeError:
        raise VQError(f"a codebook is bytes, a dict (a metalayer read back) or a Codebook, not "
                      f"{type(codebook).__name__}") from None


def _unwrap_bin(raw):
    """A validated codebook's map without the MessagePack `bin` around it, if it has one (the
    raw content of a metalayer python-blosc2 wrote from bytes): python-blosc2 would wrap such
    bytes once more when storing them, which the codec does not unwrap."""
    if raw[:1] in (b"\xc4", b"\xc5", b"\xc6"):
        import msgpack

        return msgpack.unpackb(raw)
    return raw


def _unpack_map(raw):
    """The codebook's MessagePack map (`raw` as `Codebook.raw` holds it: validated, no `bin`)."""
    import msgpack

    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


class Codebook:
    """A codebook's content, read through the library (which validates it).

    Attributes:

    - `kind`: "fuzzy_cmeans", "archetypal", "kmeans", "residual" or "scalar" (the names of
      the MessagePack schema); `format_version`, `fingerprint`, `tile_shape`.
    - `n_prototypes`: prototypes, codewords (all stages together for "residual") or levels.
    - `weight_bits` (bits per quantized weight; used by "fuzzy_cmeans" and "archetypal") and
      `kept_weights` (sparse weights kept per tile; 0: all).
    - `fuzzifier`, `metric`: Fuzzy C-Means only, else None.
    - `n_stages`, `codewords_per_stage`, `mean_bits`, `mean_range` ((lowest, highest)
      quantized tile mean, standardized units), `beam` (the encoder's search width):
      "residual" only, else None.
    - `scalar_method` ("uniform", "quantile" or "lloyd_max") and `levels` (ascending):
      "scalar" only, else None.
    - `transform` ("identity" or "log10") and `log10_floor` (None without a transform).
    - `max_error`: the error bound blocks are coded to (None: fixed-rate blocks);
      `with_max_error(e)` re-seals the codebook with another.
    - `prototype_bits`: 32 (the default), 16 (`with_prototype_bits(16)`: half the bytes) or 64
      (codebooks of formats 1 and 2).
    - `mean` and `scale` (the scaler, shaped like a tile), `prototypes` (n_prototypes x tile
      values, standardized space), `training` (n_samples, iterations, loss).
    - `raw`: the codebook's MessagePack map (bytes), what `compress` stores in the metalayer.
    """

    def __init__(self, raw):
        import numpy as np

        raw = _codebook_bytes(raw)
        lib = _clib.lib()
        info = _clib.CodebookInfo()
        if lib.blosc2_vq_codebook_inspect(raw, len(raw), ctypes.byref(info)) < 0:
            raise VQError(_clib.last_error_message())
        if info.model not in _KINDS:
            raise VQError(f"the library reports model {info.model}, which this package does not know: upgrade it")
        k, p = info.n_prototypes, info.n_features
        self.mean = np.empty(p)
        self.scale = np.empty(p)
        self.prototypes = np.empty((k, p))
        dp = ctypes.POINTER(ctypes.c_double)
        rc = lib.blosc2_vq_codebook_arrays(raw, len(raw), self.mean.ctypes.data_as(dp),
                                           self.scale.ctypes.data_as(dp), self.prototypes.ctypes.data_as(dp))
        if rc < 0:
            raise VQError(_clib.last_error_message())
        self.raw = _unwrap_bin(raw)
        self.format_version = info.format_version
        self.kind = _KINDS[info.model]
        self.tile_shape = tuple(info.tile_shape[i] for i in range(info.tile_ndim))
        self.mean = self.mean.reshape(self.tile_shape)
        self.scale = self.scale.reshape(self.tile_shape)
        self.n_prototypes = k
        self.weight_bits = info.weight_bits
        self.kept_weights = info.kept_weights
        self.fingerprint = info.fingerprint
        fcm = self.kind == "fuzzy_cmeans"
        self.fuzzifier = info.fuzzifier if fcm else None
        self.metric = {v: n for n, v in _METRICS.items()}[info.metric] if fcm else None
        residual = self.kind == "residual"
        self.n_stages = info.n_stages if residual else None
        self.codewords_per_stage = k // info.n_stages if residual else None
        self.mean_bits = info.mean_bits if residual else None
        self.beam = info.beam if residual else None
        self.mean_range = None
        if residual:
            # The C API does not report the mean quantizer's range: read it from the map.
            model = _unpack_map(self.raw)["model"]
            self.mean_range = (float(model["mean_min"]), float(model["mean_max"]))
        scalar = self.kind == "scalar"
        self.scalar_method = ({v: n for n, v in _SCALAR_METHODS.items()}[info.scalar_method]
                              if scalar else None)
        self.levels = self.prototypes[:, 0].copy() if scalar else None
        self.log10_floor = info.log10_floor if info.log10_floor > 0 else None
        self.transform = "identity" if self.log10_floor is None else "log10"
        self.max_error = info.max_error if info.max_error > 0 else None
        self.prototype_bits = info.prototype_bits
        self.training = {"n_samples": info.n_samples, "iterations": info.iterations, "loss": info.loss}

    @classmethod
    def from_bytes(cls, raw):
        """Parses and validates a codebook: the bytes `train` returns (or a bytearray or
        memoryview of them), what `array.schunk.meta["vq"]` gives back (bytes, or a dict for
        codebooks stored as a MessagePack map by C or Rust programs), or a `Codebook`."""
        return cls(raw)

    def with_max_error(self, max_error):
        """The same codebook sealed with an error bound (None removes it), no retraining:
        every decoded value within `max_error` of the original, in decades under a log10
        transform ("residual" codebooks only)."""
        bound = 0.0 if max_error is None else _bound(max_error)
        return Codebook(_resealed(_clib.lib().blosc2_vq_codebook_with_max_error, self.raw, bound))

    def with_prototype_bits(self, bits):
        """The same codebook with its prototypes stored in `bits` (16, 32 or 64) bits per
        value, no retraining: 16 halves a float32 codebook (error-bounded blocks keep their
        bound; fixed-rate blocks change a little)."""
        return Codebook(_resealed(_clib.lib().blosc2_vq_codebook_with_prototype_bits, self.raw,
                                  _integer("bits", bits)))

    @property
    def has_weights(self):
        """Whether blocks hold weights ("fuzzy_cmeans", "archetypal"), which `weight_bits`
        and `codec_meta` set, rather than codeword indexes."""
        return self.kind in _WEIGHT_KINDS

    def prototype_tiles(self):
        """The prototypes in data space, shaped (n_prototypes, *tile_shape) (in log10 space
        for a codebook with the log10 transform). For "residual", where only the first stage
        is made of tiles, see `stage_codewords`."""
        if self.kind == "residual":
            raise VQError("residual codewords are corrections, not tiles: use stage_codewords()")
        tiles = self.prototypes * self.scale.reshape(-1) + self.mean.reshape(-1)
        return tiles.reshape((self.n_prototypes, *self.tile_shape))

    def stage_codewords(self):
        """A residual codebook's codewords in standardized space, shaped
        (n_stages, codewords_per_stage, *tile_shape): stage s corrects what stages 0..s-1
        (and the removed tile mean) left."""
        if self.kind != "residual":
            raise VQError(f"a {self.kind} codebook has no stages")
        return self.prototypes.reshape((self.n_stages, self.codewords_per_stage, *self.tile_shape))

    def __repr__(self):
        extra = ""
        if self.kind == "residual":
            extra = f", n_stages={self.n_stages}, mean_bits={self.mean_bits}, beam={self.beam}"
        elif self.kind == "scalar":
            extra = f", scalar_method={self.scalar_method!r}"
        elif self.has_weights:
            extra = f", weight_bits={self.weight_bits}"
            if self.kept_weights:
                extra += f", kept_weights={self.kept_weights}"
        if self.log10_floor is not None:
            extra += f", log10_floor={self.log10_floor!r}"
        if self.max_error is not None:
            extra += f", max_error={self.max_error!r}"
        return (f"Codebook(kind={self.kind!r}, n_prototypes={self.n_prototypes}, "
                f"tile_shape={self.tile_shape}{extra})")


def compress(data, codebook, chunks=None, blocks=None, codec_id=DEFAULT_CODEC_ID, nthreads=None,
             codec_meta=0, max_error=None, **kwargs):
    """`blosc2.asarray(data, ...)` with the vq codec and `codebook` in the `vq` metalayer.
    `codebook` is any form `Codebook.from_bytes` takes (bytes, bytearray, memoryview, the dict
    `arr.schunk.meta["vq"]` gives back, or a `Codebook`). A failure of c-blosc2 raises
    `VQError`: with the codec's message when the codec failed during this call, else saying
    that c-blosc2 failed without a codec error (and naming its exception). `max_error=e`
    codes every block to that error bound (a residual codebook; the frame stores the codebook
    re-sealed with it), overriding the codebook's. Extra keyword arguments (e.g. `urlpath`)
    go to `blosc2.asarray`."""
    import blosc2

    parsed = Codebook.from_bytes(codebook)  # a clear error before any compression starts
    if max_error is not None:
        parsed = parsed.with_max_error(max_error)
    if codec_meta and not parsed.has_weights:
        raise VQError(f"codec_meta {codec_meta} sets the weight bits, but a {parsed.kind} codebook has no "
                      "weights (leave codec_meta at 0)")
    register(codec_id)
    meta = dict(kwargs.pop("meta", {}) or {})
    meta[CODEC_NAME] = parsed.raw  # the bytes the library just validated
    errors_before = codec_error_count()
    try:
        return blosc2.asarray(data, chunks=chunks, blocks=blocks, meta=meta,
                              cparams=cparams(codec_id, nthreads, codec_meta), **kwargs)
    except RuntimeError as e:
        # The codec's last message is never cleared: it is this call's only if the count grew
        # (or another thread's codec failed meanwhile: the count is process-wide).
        message = last_error(since=errors_before)
        if message:
            raise VQError(message) from e
        raise VQError(f"c-blosc2 failed without a codec error ({type(e).__name__}: {e})") from e
