"""`Codebook`: a codebook's content, read, validated and re-sealed through the library."""

from __future__ import annotations

import ctypes
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _clib
from ._checks import VQError, bound, integer

#: Codebook kinds by the C API's model code (names as in the codebook's MessagePack schema).
KINDS = {
    _clib.MODEL_FUZZY_CMEANS: "fuzzy_cmeans",
    _clib.MODEL_ARCHETYPAL: "archetypal",
    _clib.MODEL_KMEANS: "kmeans",
    _clib.MODEL_RESIDUAL: "residual",
    _clib.MODEL_SCALAR: "scalar",
}
#: Kinds whose blocks hold weights (the others hold codeword indexes).
WEIGHT_KINDS = ("fuzzy_cmeans", "archetypal")
METRICS = {_clib.METRIC_EUCLIDEAN: "euclidean", _clib.METRIC_COSINE: "cosine"}
SCALAR_METHODS = {
    _clib.SCALAR_UNIFORM: "uniform",
    _clib.SCALAR_QUANTILE: "quantile",
    _clib.SCALAR_LLOYD_MAX: "lloyd_max",
}

#: What the package takes as a codebook: its bytes (or another buffer of them), the dict
#: python-blosc2 reads back for a metalayer stored as a MessagePack map, or a `Codebook`.
CodebookLike = Union[bytes, bytearray, memoryview, "dict[str, Any]", "Codebook"]


def codebook_bytes(codebook: CodebookLike) -> bytes:
    """The MessagePack of a codebook in any form the package takes. A dict is packed again:
    the library computes the fingerprint from the content it parses, not from these bytes,
    so the repacked map is the same codebook. Not validated here (the library does that)."""
    if isinstance(codebook, Codebook):
        return codebook.raw
    if isinstance(codebook, dict):
        import msgpack

        packed: bytes = msgpack.packb(codebook, use_bin_type=True)
        return packed
    try:
        # Not bytes(): bytes(5) would be five zero bytes.
        return memoryview(codebook).tobytes()
    except TypeError:
        raise VQError(
            f"a codebook is bytes, a dict (a metalayer read back) or a Codebook, not {type(codebook).__name__}"
        ) from None


def _unwrap_bin(raw: bytes) -> bytes:
    """A validated codebook's map without the MessagePack `bin` around it, if it has one (the
    raw content of a metalayer python-blosc2 wrote from bytes): python-blosc2 would wrap such
    bytes once more when storing them, which the codec does not unwrap."""
    if raw[:1] in (b"\xc4", b"\xc5", b"\xc6"):
        import msgpack

        inner: bytes = msgpack.unpackb(raw)
        return inner
    return raw


def _resealed(function: str, raw: bytes, value: float) -> bytes:
    """The codebook bytes `raw` re-sealed by the library's `function` with `value`."""
    out = ctypes.POINTER(ctypes.c_uint8)()
    out_len = ctypes.c_int64()
    rc = getattr(_clib.LIB, function)(raw, len(raw), value, ctypes.byref(out), ctypes.byref(out_len))
    if rc < 0:
        raise VQError(_clib.last_error_message())
    return _clib.take(out, out_len)


class Codebook:
    """A codebook's content, read through the library (which validates it). Immutable: the
    `with_*` methods return a re-sealed copy (validated and fingerprinted again, no
    retraining), as `Codebook::with_*` do in Rust; `bytes(cb)` gives what to store.

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
    - `max_error`: the error bound blocks are coded to (None: fixed-rate blocks).
    - `prototype_bits`: 32 (the default), 16 (half the bytes) or 64 (formats 1 and 2).
    - `mean` and `scale` (the scaler, shaped like a tile), `prototypes` (n_prototypes x tile
      values, standardized space), `training` (n_samples, iterations, loss).
    - `raw`: the codebook's MessagePack map (bytes), what `compress` stores in the metalayer.
    """

    kind: str
    format_version: int
    fingerprint: int
    tile_shape: tuple[int, ...]
    n_prototypes: int
    weight_bits: int
    kept_weights: int
    fuzzifier: float | None
    metric: str | None
    n_stages: int | None
    codewords_per_stage: int | None
    mean_bits: int | None
    mean_range: tuple[float, float] | None
    beam: int | None
    scalar_method: str | None
    levels: npt.NDArray[np.float64] | None
    transform: str
    log10_floor: float | None
    max_error: float | None
    prototype_bits: int
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    prototypes: npt.NDArray[np.float64]
    training: dict[str, float]
    raw: bytes

    def __init__(self, raw: CodebookLike) -> None:
        data = codebook_bytes(raw)
        info = _clib.CodebookInfo()
        if _clib.LIB.blosc2_vq_codebook_inspect(data, len(data), ctypes.byref(info)) < 0:
            raise VQError(_clib.last_error_message())
        if info.model not in KINDS:
            raise VQError(f"the library reports model {info.model}, which this package does not know: upgrade it")
        k, p = info.n_prototypes, info.n_features
        mean = np.empty(p)
        scale = np.empty(p)
        prototypes = np.empty((k, p))
        dp = ctypes.POINTER(ctypes.c_double)
        rc = _clib.LIB.blosc2_vq_codebook_arrays(
            data, len(data), mean.ctypes.data_as(dp), scale.ctypes.data_as(dp), prototypes.ctypes.data_as(dp)
        )
        if rc < 0:
            raise VQError(_clib.last_error_message())
        self.raw = _unwrap_bin(data)
        self.format_version = info.format_version
        self.kind = KINDS[info.model]
        self.tile_shape = tuple(info.tile_shape[i] for i in range(info.tile_ndim))
        self.mean = mean.reshape(self.tile_shape)
        self.scale = scale.reshape(self.tile_shape)
        self.prototypes = prototypes
        self.n_prototypes = k
        self.weight_bits = info.weight_bits
        self.kept_weights = info.kept_weights
        self.fingerprint = info.fingerprint
        fcm = self.kind == "fuzzy_cmeans"
        self.fuzzifier = info.fuzzifier if fcm else None
        self.metric = METRICS[info.metric] if fcm else None
        residual = self.kind == "residual"
        self.n_stages = info.n_stages if residual else None
        self.codewords_per_stage = k // info.n_stages if residual else None
        self.mean_bits = info.mean_bits if residual else None
        self.beam = info.beam if residual else None
        self.mean_range = None
        if residual:
            # The C API does not report the mean quantizer's range: read it from the map.
            import msgpack

            model = msgpack.unpackb(self.raw, raw=False, strict_map_key=False)["model"]
            self.mean_range = (float(model["mean_min"]), float(model["mean_max"]))
        scalar = self.kind == "scalar"
        self.scalar_method = SCALAR_METHODS[info.scalar_method] if scalar else None
        self.levels = self.prototypes[:, 0].copy() if scalar else None
        self.log10_floor = info.log10_floor if info.log10_floor > 0 else None
        self.transform = "identity" if self.log10_floor is None else "log10"
        self.max_error = info.max_error if info.max_error > 0 else None
        self.prototype_bits = info.prototype_bits
        self.training = {"n_samples": info.n_samples, "iterations": info.iterations, "loss": info.loss}

    @classmethod
    def from_bytes(cls, raw: CodebookLike) -> Codebook:
        """Parses and validates a codebook: the bytes `train` returns (or a bytearray or
        memoryview of them), what `array.schunk.meta["vq"]` gives back (bytes, or a dict for
        codebooks stored as a MessagePack map by C or Rust programs), or a `Codebook`."""
        return cls(raw)

    def to_bytes(self) -> bytes:
        """The codebook's bytes (its MessagePack map): what `meta={"vq": ...}` stores and
        `from_bytes` reads back into an equal codebook."""
        return self.raw

    def __bytes__(self) -> bytes:
        return self.raw

    def __eq__(self, other: object) -> bool:
        """Two codebooks are equal when their content is (the fingerprint hashes all of it)."""
        if not isinstance(other, Codebook):
            return NotImplemented
        return self.fingerprint == other.fingerprint and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def with_max_error(self, max_error: float | None) -> Codebook:
        """The same residual codebook sealed with an error bound (None removes it): every
        decoded value within `max_error` of the original, in decades under a log10 transform."""
        value = 0.0 if max_error is None else bound(max_error)
        return Codebook(_resealed("blosc2_vq_codebook_with_max_error", self.raw, value))

    def with_prototype_bits(self, bits: int) -> Codebook:
        """The same codebook with its prototypes stored in `bits` (16, 32 or 64) bits per
        value: 16 halves a float32 codebook (error-bounded blocks keep their bound; fixed-rate
        blocks change a little)."""
        return Codebook(_resealed("blosc2_vq_codebook_with_prototype_bits", self.raw, integer("bits", bits)))

    def with_stages(self, n_stages: int) -> Codebook:
        """A residual codebook cut to its first `n_stages` stages: each stage corrects the
        ones before it, so one training gives a whole range of rates."""
        return Codebook(_resealed("blosc2_vq_codebook_with_stages", self.raw, integer("n_stages", n_stages)))

    def with_beam(self, beam: int) -> Codebook:
        """A residual codebook whose encoder keeps `beam` candidate paths (1 to 64; 1 is
        greedy). Blocks decode the same whatever the beam."""
        return Codebook(_resealed("blosc2_vq_codebook_with_beam", self.raw, integer("beam", beam)))

    def with_weight_bits(self, bits: int) -> Codebook:
        """A weight codebook ("archetypal", "fuzzy_cmeans") with its weights quantized to
        `bits` bits (1 to 8)."""
        return Codebook(_resealed("blosc2_vq_codebook_with_weight_bits", self.raw, integer("bits", bits)))

    def with_kept_weights(self, kept: int) -> Codebook:
        """A weight codebook keeping each tile's `kept` largest weights (sparse weights; 0
        keeps all)."""
        return Codebook(_resealed("blosc2_vq_codebook_with_kept_weights", self.raw, integer("kept", kept)))

    @property
    def has_weights(self) -> bool:
        """Whether blocks hold weights ("fuzzy_cmeans", "archetypal"), which `weight_bits`
        and `codec_meta` set, rather than codeword indexes."""
        return self.kind in WEIGHT_KINDS

    def prototype_tiles(self) -> npt.NDArray[np.float64]:
        """The prototypes in data space, shaped (n_prototypes, *tile_shape) (in log10 space
        for a codebook with the log10 transform). For "residual", where only the first stage
        is made of tiles, see `stage_codewords`."""
        if self.kind == "residual":
            raise VQError("residual codewords are corrections, not tiles: use stage_codewords()")
        tiles = self.prototypes * self.scale.reshape(-1) + self.mean.reshape(-1)
        return tiles.reshape((self.n_prototypes, *self.tile_shape))

    def stage_codewords(self) -> npt.NDArray[np.float64]:
        """A residual codebook's codewords in standardized space, shaped
        (n_stages, codewords_per_stage, *tile_shape): stage s corrects what stages 0..s-1
        (and the removed tile mean) left."""
        if self.n_stages is None or self.codewords_per_stage is None:
            raise VQError(f"a {self.kind} codebook has no stages")
        return self.prototypes.reshape((self.n_stages, self.codewords_per_stage, *self.tile_shape))

    def __repr__(self) -> str:
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
        return f"Codebook(kind={self.kind!r}, n_prototypes={self.n_prototypes}, tile_shape={self.tile_shape}{extra})"
