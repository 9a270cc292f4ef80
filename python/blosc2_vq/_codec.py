"""The codec in python-blosc2: registering it, its cparams, and `compress`."""

from __future__ import annotations

from typing import Any

from . import _clib
from ._checks import VQError
from ._codebook import Codebook, CodebookLike

#: The codec id the package registers by default (c-blosc2's user range is 160..255).
DEFAULT_CODEC_ID = 185
#: The codec's name, which c-blosc2 turns into the library name `libblosc2_vq.so`.
CODEC_NAME = "vq"
#: The variable-length metalayer where `compress` records whether it chose a codebook, and why.
CHOICE_VLMETA = "blosc2_vq_choice"


def libpath() -> str:
    """Absolute path of the plugin library inside this package."""
    return _clib.LIBPATH


def print_libpath() -> None:
    """Prints the library's absolute path and nothing else (c-blosc2's plugin loader reads it)."""
    print(_clib.LIBPATH, end="")


def declare_host() -> str:
    """Tells the plugin which c-blosc2 python-blosc2 bundles (it reads SChunks in that
    release's layout) and returns its version; `VQError` for one the plugin does not know."""
    import blosc2

    version = str(blosc2.blosclib_version)
    try:
        _clib.set_host_blosc2_version(version)
    except ValueError as e:
        raise VQError(f"python-blosc2 {blosc2.__version__} bundles c-blosc2 {version}: {e}") from None
    return version


def register(codec_id: int = DEFAULT_CODEC_ID) -> int:
    """Registers the codec with python-blosc2 under `codec_id` and tells the plugin which
    c-blosc2 runs it. Needed once per process, also to read frames written earlier. Calling
    it again with the same id does nothing. Raises `VQError` when python-blosc2 bundles a
    c-blosc2 the plugin does not support (the message names those it does)."""
    import blosc2

    declare_host()
    blosc2.register_codec(CODEC_NAME, codec_id)
    return codec_id


def cparams(
    codec_id: int = DEFAULT_CODEC_ID, nthreads: int | None = None, codec_meta: int = 0, **extra: Any
) -> dict[str, Any]:
    """Compression parameters the codec needs: no filters (python-blosc2's default SHUFFLE
    would scramble the bytes before a lossy codec) and NEVER_SPLIT. `codec_meta` 1..8
    overrides the codebook's weight bits (weight codebooks only: "aa", "cmeans"; the codec
    refuses it for the others). Extra keys are passed through."""
    import blosc2

    params: dict[str, Any] = {
        "codec": codec_id,
        "codec_meta": codec_meta,
        "filters": [],
        "filters_meta": [],
        "splitmode": blosc2.SplitMode.NEVER_SPLIT,
        "nthreads": blosc2.nthreads if nthreads is None else nthreads,
    }
    params.update(extra)
    return params


def codec_error_count() -> int:
    """How many encoder/decoder errors the process has seen so far (on any thread): read it
    before a call and pass it to `last_error(since=...)` afterwards."""
    return _clib.codec_error_count()


def last_error(since: int | None = None) -> str:
    """The most recent encoder/decoder error, from whichever thread c-blosc2 ran it on ('' if
    none). The library never clears it, so on its own it may describe an earlier failure:
    with `since=codec_error_count()` read before a call, it is '' unless the codec failed
    after that read."""
    if since is not None and _clib.codec_error_count() <= since:
        return ""
    return _clib.last_codec_error()


def compress(
    data: Any,
    codebook: CodebookLike | None = None,
    chunks: tuple[int, ...] | None = None,
    blocks: tuple[int, ...] | None = None,
    codec_id: int = DEFAULT_CODEC_ID,
    nthreads: int | None = None,
    codec_meta: int = 0,
    max_error: float | None = None,
    *,
    rel_error: float | None = None,
    pw_rel_error: float | None = None,
    psnr: float | None = None,
    codebook_trial: bool = True,
    **kwargs: Any,
) -> Any:
    """Compresses `data` with the vq codec into a `blosc2.NDArray` (`blosc2.asarray` with
    the codec's cparams and the `vq` metalayer).

    Without a codebook (the default) it needs an error bound, named as SZ names them:
    `max_error` (absolute), `rel_error` (of the finite value range), `pw_rel_error`
    (point-wise relative; zeros stay exact, and `max_error` may go with it as the absolute
    floor) or `psnr` (dB over the range). Blocks are then predicted from their decoded
    neighbours and coded so that every value is within the bound; NaN and infinities come
    back bit-exact. Chunks and blocks default to shapes that give the predictor room
    (`default_blocks`). Unless `codebook_trial=False`, a residual codebook is also trained on
    a sample of `data` and measured against the predictor on other blocks of it; it is kept
    only when the whole array, codebook included, comes out smaller (for most arrays it is not
    trained at all: it could not pay for itself). When one was trained,
    `info(array)["choice"]` says what was chosen and why.

    With a `codebook` (any form `Codebook.from_bytes` takes) the codebook codes the blocks;
    `max_error=e` then re-seals a residual codebook with that bound.

    A failure of c-blosc2 raises `VQError` with the codec's message when the codec failed
    during this call. Extra keyword arguments (e.g. `urlpath`) go to `blosc2.asarray`."""
    import blosc2
    import numpy as np

    from . import _bounds

    meta = dict(kwargs.pop("meta", {}) or {})
    choice: dict[str, Any] | None = None
    if codebook is None:
        if codec_meta:
            raise VQError(f"codec_meta {codec_meta} sets a codebook's weight bits; without a codebook leave it at 0")
        meta[CODEC_NAME] = _bounds.settings(
            data, max_error=max_error, rel_error=rel_error, pw_rel_error=pw_rel_error, psnr=psnr
        )
        if chunks is None or blocks is None:
            shape = tuple(np.shape(data))
            itemsize = np.dtype(getattr(data, "dtype", np.float64)).itemsize
            default_chunks, default_blocks = _bounds.default_blocks(shape, itemsize)
            # One given: the default other fits it (blocks inside chunks), as the CLI does.
            if chunks is None and blocks is not None:
                chunks = tuple(max(c, b) for c, b in zip(default_chunks, blocks, strict=True))
            elif blocks is None and chunks is not None:
                blocks = tuple(min(b, c) for b, c in zip(default_blocks, chunks, strict=True))
            else:
                chunks, blocks = default_chunks, default_blocks
        if codebook_trial and blocks is not None:
            trained, choice = _bounds.choose_coding(data, tuple(blocks), meta[CODEC_NAME])
            if trained is not None:
                meta[CODEC_NAME] = trained
    else:
        if rel_error is not None or pw_rel_error is not None or psnr is not None:
            raise VQError(
                "rel_error, pw_rel_error and psnr are bounds of the codebook-free mode: leave the "
                "codebook out (a codebook takes max_error)"
            )
        parsed = Codebook.from_bytes(codebook)  # a clear error before any compression starts
        if max_error is not None:
            parsed = parsed.with_max_error(max_error)
        if codec_meta and not parsed.has_weights:
            raise VQError(
                f"codec_meta {codec_meta} sets the weight bits, but a {parsed.kind} codebook has no "
                "weights (leave codec_meta at 0)"
            )
        meta[CODEC_NAME] = parsed.raw  # the bytes the library just validated
    register(codec_id)
    errors_before = codec_error_count()
    try:
        array = blosc2.asarray(
            data, chunks=chunks, blocks=blocks, meta=meta, cparams=cparams(codec_id, nthreads, codec_meta), **kwargs
        )
    except RuntimeError as e:
        # The codec's last message is never cleared: it is this call's only if the count grew
        # (or another thread's codec failed meanwhile: the count is process-wide).
        message = last_error(since=errors_before)
        if message:
            raise VQError(message) from e
        raise VQError(f"c-blosc2 failed without a codec error ({type(e).__name__}: {e}){_loading_hint()}") from e
    if choice is not None and choice.get("codebook_bytes") is not None:
        # Kept with the array (a persistent frame too), for `info`, when a codebook was
        # trained: about 200 bytes, which would weigh on the small arrays never tried.
        array.schunk.vlmeta[CHOICE_VLMETA] = choice
    return array


def info(array: Any) -> dict[str, Any]:
    """What a compressed array carries: `{"mode": "predictive", "requested": ..., "bound":
    ..., "value_range": ...}` for the codebook-free mode, `{"mode": "codebook", "kind":
    ...}` for a codebook, plus `chunks`, `blocks`, `cbytes` and `bits_per_value` (chunks), and
    for an array for which `compress` trained a codebook from just a bound, `choice`:
    `chosen` ("predictive" or "codebook"), `reason`, and the estimated bytes of both."""
    from . import _bounds

    schunk = array.schunk
    meta = schunk.meta[CODEC_NAME]
    described = _bounds.describe(meta)
    out: dict[str, Any]
    if described is not None:
        out = {
            "mode": "predictive",
            "requested": described.get("requested"),
            "bound": described.get("bound"),
            "value_range": described.get("value_range"),
        }
    else:
        out = {"mode": "codebook", "kind": Codebook.from_bytes(meta).kind}
    if CHOICE_VLMETA in schunk.vlmeta:
        out["choice"] = dict(schunk.vlmeta[CHOICE_VLMETA])
    out.update(
        chunks=tuple(array.chunks),
        blocks=tuple(array.blocks),
        cbytes=int(schunk.cbytes),
        bits_per_value=8.0 * schunk.cbytes / max(1, array.size),
    )
    return out


def _loading_hint() -> str:
    """Why c-blosc2 may not have reached the codec at all, if it can be told from here."""
    why = _clib.found_by_name()
    if why is None:
        return ""
    return f"; c-blosc2 cannot load the plugin by name ({why}): run `python -m blosc2_vq --diagnose` to see why"
