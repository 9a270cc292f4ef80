"""blosc2-vq: a vector-quantization lossy codec plugin for Blosc2.

    import blosc2, blosc2_vq
    blosc2_vq.register()                                   # blosc2.register_codec("vq", 185)
    cb = blosc2_vq.train(images, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0)
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
    "compress",
    "cparams",
    "last_error",
    "libpath",
    "print_libpath",
    "register",
    "train",
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
    overrides the codebook's weight bits. Extra keys are passed through."""
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


def last_error():
    """The most recent encoder/decoder error, from whichever thread c-blosc2 ran it on."""
    return _clib.last_codec_error()


_MODELS = {"aa": _clib.MODEL_ARCHETYPAL, "archetypal": _clib.MODEL_ARCHETYPAL,
           "cmeans": _clib.MODEL_FUZZY_CMEANS, "fuzzy_cmeans": _clib.MODEL_FUZZY_CMEANS,
           "kmeans": _clib.MODEL_KMEANS}
_METRICS = {"euclidean": _clib.METRIC_EUCLIDEAN, "cosine": _clib.METRIC_COSINE}


def train(data, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0, *,
          m=2.0, metric="cosine", n_init=1, max_iter=100, tol=1e-6, weight_bits=8):
    """Trains a codebook on `data` and returns its bytes, ready for `meta={"vq": ...}`.

    `data` is a float32 or float64 array whose last `len(tile)` axes are image axes (leading
    axes index images). `model` is "aa" (Archetypal Analysis; `n_init` restarts), "cmeans"
    (Fuzzy C-Means; fuzzifier `m`, `metric` "euclidean" or "cosine") or "kmeans" (hard vector
    quantization: `n_prototypes` codewords, one index per tile). `n_samples` random tiles
    are drawn with `seed`.
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
    if model not in _MODELS:
        raise VQError(f"unknown model {model!r}: use 'aa' or 'cmeans'")
    if metric not in _METRICS:
        raise VQError(f"unknown metric {metric!r}: use 'euclidean' or 'cosine'")
    tile = tuple(int(t) for t in tile)
    if not 1 <= len(tile) <= 3:
        raise VQError(f"tile {tile} must have 1 to 3 sides")
    lib = _clib.lib()
    params = _clib.TrainParams()
    if lib.blosc2_vq_train_params_init(ctypes.byref(params), _MODELS[model]) < 0:
        raise VQError(_clib.last_error_message())
    params.n_prototypes = n_prototypes
    params.tile_ndim = len(tile)
    for i, t in enumerate(tile):
        params.tile_shape[i] = t
    params.n_samples = n_samples
    params.seed = seed
    params.max_iter = max_iter
    params.tol = tol
    params.fuzzifier = m
    params.metric = _METRICS[metric]
    params.n_init = n_init
    params.weight_bits = weight_bits
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


class Codebook:
    """A codebook's content, read through the library (which validates it).

    Attributes: `kind` ("fuzzy_cmeans" or "archetypal"), `tile_shape`, `n_prototypes`,
    `weight_bits`, `fuzzifier` and `metric` (Fuzzy C-Means), `fingerprint`, `mean` and
    `scale` (the scaler, shaped like a tile), `prototypes` (n_prototypes × tile values,
    standardized space), and `training` (n_samples, iterations, loss).
    """

    def __init__(self, raw):
        import numpy as np

        if isinstance(raw, dict):
            # python-blosc2 decodes a MessagePack-map metalayer (as the Rust and C sides write
            # it) into a dict: pack it again; the library re-checks the content's fingerprint.
            import msgpack

            raw = msgpack.packb(raw, use_bin_type=True)
        raw = bytes(raw)
        lib = _clib.lib()
        info = _clib.CodebookInfo()
        if lib.blosc2_vq_codebook_inspect(raw, len(raw), ctypes.byref(info)) < 0:
            raise VQError(_clib.last_error_message())
        k, p = info.n_prototypes, info.n_features
        self.mean = np.empty(p)
        self.scale = np.empty(p)
        self.prototypes = np.empty((k, p))
        dp = ctypes.POINTER(ctypes.c_double)
        rc = lib.blosc2_vq_codebook_arrays(raw, len(raw), self.mean.ctypes.data_as(dp),
                                           self.scale.ctypes.data_as(dp), self.prototypes.ctypes.data_as(dp))
        if rc < 0:
            raise VQError(_clib.last_error_message())
        self.raw = raw
        self.format_version = info.format_version
        self.kind = {_clib.MODEL_ARCHETYPAL: "archetypal", _clib.MODEL_KMEANS: "kmeans"}.get(info.model, "fuzzy_cmeans")
        self.tile_shape = tuple(info.tile_shape[i] for i in range(info.tile_ndim))
        self.mean = self.mean.reshape(self.tile_shape)
        self.scale = self.scale.reshape(self.tile_shape)
        self.n_prototypes = k
        self.weight_bits = info.weight_bits
        self.fingerprint = info.fingerprint
        self.fuzzifier = info.fuzzifier if self.kind == "fuzzy_cmeans" else None
        self.metric = ({v: n for n, v in _METRICS.items()}[info.metric]
                       if self.kind == "fuzzy_cmeans" else None)
        self.training = {"n_samples": info.n_samples, "iterations": info.iterations, "loss": info.loss}

    @classmethod
    def from_bytes(cls, raw):
        """Parses and validates a codebook: the bytes `train` returns, or what
        `array.schunk.meta["vq"]` gives back (bytes, or a dict for codebooks stored as a
        MessagePack map by C or Rust programs)."""
        return cls(raw)

    def prototype_tiles(self):
        """The prototypes in data space, shaped (n_prototypes, *tile_shape)."""
        tiles = self.prototypes * self.scale.reshape(-1) + self.mean.reshape(-1)
        return tiles.reshape((self.n_prototypes, *self.tile_shape))

    def __repr__(self):
        return (f"Codebook(kind={self.kind!r}, n_prototypes={self.n_prototypes}, "
                f"tile_shape={self.tile_shape}, weight_bits={self.weight_bits})")


def compress(data, codebook, chunks=None, blocks=None, codec_id=DEFAULT_CODEC_ID, nthreads=None,
             codec_meta=0, **kwargs):
    """`blosc2.asarray(data, ...)` with the vq codec and `codebook` in the `vq` metalayer;
    errors from the codec are raised as `VQError` with the library's message. Extra keyword
    arguments (e.g. `urlpath`) go to `blosc2.asarray`."""
    import blosc2

    Codebook.from_bytes(codebook)  # a clear error before any compression starts
    register(codec_id)
    meta = dict(kwargs.pop("meta", {}) or {})
    meta[CODEC_NAME] = bytes(codebook)
    try:
        return blosc2.asarray(data, chunks=chunks, blocks=blocks, meta=meta,
                              cparams=cparams(codec_id, nthreads, codec_meta), **kwargs)
    except RuntimeError as e:
        message = last_error()
        if message:
            raise VQError(message) from e
        raise
