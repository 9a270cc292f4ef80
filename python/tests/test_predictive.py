"""The codebook-free mode from Python: `compress(data, max_error=/rel_error=/pw_rel_error=/psnr=)`
through python-blosc2's c-blosc2. Every finite value comes back within the bound, NaN and
infinities bit for bit; `info()` says what the frame holds; the default chunks and blocks are
`default_blocks` (the CLI's too); bad bounds are refused with `VQError`; a frame on disk
reads back in a fresh process."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import blosc2
import numpy as np
import numpy.typing as npt
import pytest

import blosc2_vq

Array = npt.NDArray[Any]
#: Keyword arguments naming a bound (Any: they go to `compress` as **kwargs).
Bound = dict[str, Any]

#: Each bound name (and pw_rel_error with its absolute floor), as `compress` takes them.
BOUNDS: list[Bound] = [
    {"max_error": 1e-3},
    {"rel_error": 1e-4},
    {"pw_rel_error": 1e-2},
    {"pw_rel_error": 1e-3, "max_error": 1e-4},
    {"psnr": 70.0},
]
BOUND_IDS = ["max_error", "rel_error", "pw_rel_error", "pw_rel_error+floor", "psnr"]


def finite_range(data: Array) -> float:
    """max - min over the finite values, in float64 (what the library resolves against)."""
    x = data.astype(np.float64)
    x = x[np.isfinite(x)]
    return float(x.max() - x.min()) if x.size else 0.0


def allowed(data: Array, bound: Bound) -> Array:
    """The error each value may have under `bound`."""
    x = data.astype(np.float64)
    if "pw_rel_error" in bound:
        floor, rel = float(bound.get("max_error", 0.0)), float(bound["pw_rel_error"])
        return np.maximum(floor, rel * np.abs(x))
    if "rel_error" in bound:
        return np.full(x.shape, bound["rel_error"] * finite_range(data))
    if "psnr" in bound:
        return np.full(x.shape, finite_range(data) * math.sqrt(3) * 10 ** (-bound["psnr"] / 20))
    return np.full(x.shape, bound["max_error"])


def check_bound(data: Array, rec: Array, bound: Bound) -> float:
    """Every finite value within the bound, every NaN and infinity bit-exact at its place;
    returns the PSNR over the finite range."""
    assert rec.shape == data.shape and rec.dtype == data.dtype
    bits = np.uint32 if data.dtype == np.float32 else np.uint64
    finite = np.isfinite(data)
    np.testing.assert_array_equal(rec[~finite].view(bits), data[~finite].view(bits))
    err = np.abs(rec[finite].astype(np.float64) - data[finite].astype(np.float64))
    limit = allowed(data, bound)[finite]
    beyond = err > limit
    assert not beyond.any(), (
        f"{int(beyond.sum())} values beyond {bound}, worst by {float((err - limit).max()):.3e} "
        f"at {data[finite][beyond][:5]} -> {rec[finite][beyond][:5]}"
    )
    rng = finite_range(data)
    mse = float(np.mean(err**2))
    return math.inf if mse == 0 else 10 * math.log10(rng * rng / mse)


def requested(bound: Bound) -> dict[str, Any]:
    """The bound as the user gave it, as `info()["requested"]` gives it."""
    if "pw_rel_error" in bound:
        return {"mode": "pw_rel_error", "pw_rel_error": bound["pw_rel_error"], "max_error": bound.get("max_error", 0.0)}
    return {"mode": next(iter(bound)), **bound}


def expected_coded(data: Array, bound: Bound) -> dict[str, Any]:
    """The bound blocks are coded to, as `info()["bound"]` gives it."""
    if "pw_rel_error" in bound:
        return requested(bound)
    return {"mode": "max_error", "max_error": float(allowed(data, bound).flat[0])}


def assert_coded(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The same coded bound: the same mode and keys, the numbers to rounding (the library
    resolves a range bound in its own order of operations)."""
    assert got.keys() == want.keys() and got["mode"] == want["mode"], (got, want)
    for key, value in want.items():
        if key != "mode":
            assert got[key] == pytest.approx(value, rel=1e-12, abs=0), (key, got, want)


def smooth_field(shape: tuple[int, int, int] = (40, 48, 56), dtype: npt.DTypeLike = np.float64) -> Array:
    """A smooth 3-D field of both signs with exact zeros, a NaN box (a land mask), NaN with
    a payload, and both infinities."""
    z, y, x = np.meshgrid(*(np.linspace(0.0, 1.0, n) for n in shape), indexing="ij")
    f = 3 * np.sin(2.5 * (2 * z + 3 * y + 4 * x)) + np.cos(7 * z) * x - 0.5 * (x * x + y * y + z * z)
    f = np.ascontiguousarray(f.astype(dtype))
    flat = f.reshape(-1)
    flat[5::997] = 0
    f[13:17, :16, :] = np.nan
    if f.dtype == np.float64:
        flat[7] = np.array([0x7FF8_0000_0000_4567], dtype=np.uint64).view(np.float64)[0]
    else:
        flat[7] = np.array([0x7FC0_0123], dtype=np.uint32).view(np.float32)[0]
    flat[flat.size // 2 + 11] = np.inf
    flat[-3] = -np.inf
    flat[-1] = np.nan
    return f


@pytest.mark.parametrize("bound", BOUNDS, ids=BOUND_IDS)
def test_every_bound_on_the_faces(faces: Array, bound: Bound) -> None:
    arr = blosc2_vq.compress(faces, **bound)
    psnr = check_bound(faces, arr[:], bound)
    info = blosc2_vq.info(arr)
    assert info["mode"] == "predictive" and info["requested"] == requested(bound)
    assert_coded(info["bound"], expected_coded(faces, bound))
    if "psnr" in bound:
        # Errors spread within the bound give about the target, never far below it.
        assert psnr > bound["psnr"] - 1, psnr
    # Lossy for real: well under the 32 bits of float32.
    assert info["bits_per_value"] < 16, info


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("bound", BOUNDS, ids=BOUND_IDS)
def test_every_bound_on_a_smooth_field_with_nan_and_inf(bound: Bound, dtype: npt.DTypeLike) -> None:
    field = smooth_field(dtype=dtype)
    assert np.isnan(field).sum() > 1000 and np.isinf(field).sum() == 2
    arr = blosc2_vq.compress(field, **bound)
    assert tuple(arr.blocks) != tuple(arr.shape)  # several blocks, cut at the edges
    psnr = check_bound(field, arr[:], bound)
    info = blosc2_vq.info(arr)
    assert_coded(info["bound"], expected_coded(field, bound))
    if "rel_error" in bound or "psnr" in bound:
        # The range of the finite values only: NaN and infinities are left out.
        assert info["value_range"] == finite_range(field)
    else:
        assert info["value_range"] is None
    if "psnr" in bound:
        assert psnr > bound["psnr"] - 1, psnr
    # Zeros stay exact under a point-wise bound without a floor.
    if bound == {"pw_rel_error": 1e-2}:
        zeros = field == 0
        assert zeros.sum() > 50 and (arr[:][zeros] == 0).all()


def test_info_says_what_the_frame_holds(faces: Array) -> None:
    arr = blosc2_vq.compress(faces, rel_error=1e-3)
    info = blosc2_vq.info(arr)
    rng = finite_range(faces)
    assert info["mode"] == "predictive"
    assert info["requested"] == {"mode": "rel_error", "rel_error": 1e-3}
    assert info["bound"]["mode"] == "max_error"
    assert info["bound"]["max_error"] == pytest.approx(1e-3 * rng, rel=1e-12)
    assert info["value_range"] == rng
    assert (info["chunks"], info["blocks"]) == blosc2_vq.default_blocks(faces.shape, 4) == ((256, 64, 64), (16, 64, 64))
    assert info["cbytes"] == arr.schunk.cbytes
    assert info["bits_per_value"] == pytest.approx(8 * arr.schunk.cbytes / faces.size)
    assert 0 < info["bits_per_value"] < 8

    floor = blosc2_vq.info(blosc2_vq.compress(faces[:8], pw_rel_error=0.01, max_error=1e-6))
    assert floor["requested"] == {"mode": "pw_rel_error", "pw_rel_error": 0.01, "max_error": 1e-6}
    assert floor["bound"] == floor["requested"] and floor["value_range"] is None
    psnr = blosc2_vq.info(blosc2_vq.compress(faces[:8], psnr=60))
    assert psnr["requested"] == {"mode": "psnr", "psnr": 60.0}
    assert psnr["bound"]["max_error"] == pytest.approx(finite_range(faces[:8]) * math.sqrt(3) * 1e-3, rel=1e-12)

    cb = blosc2_vq.train(faces[:40], model="kmeans", n_prototypes=16, n_samples=500)
    coded = blosc2_vq.info(blosc2_vq.compress(faces[:8], cb, chunks=(4, 64, 64), blocks=(1, 64, 64)))
    assert coded["mode"] == "codebook" and coded["kind"] == "kmeans"
    assert (coded["chunks"], coded["blocks"]) == ((4, 64, 64), (1, 64, 64))
    assert coded["bits_per_value"] > 0


@pytest.mark.parametrize(
    ("shape", "chunks", "blocks"),
    [
        ((400, 64, 64), (256, 64, 64), (16, 64, 64)),
        ((24, 32, 32, 32), (24, 32, 32, 32), (2, 32, 32, 32)),
        ((40, 50, 60), (40, 50, 60), (16, 50, 60)),
        ((300, 500), (300, 500), (256, 256)),
        ((2000, 3000), (1024, 1024), (256, 256)),
        ((512, 512, 512), (64, 128, 128), (32, 32, 64)),
        ((3, 100000), (3, 100000), (3, 16384)),
        ((100, 100, 100, 100), (32, 32, 32, 32), (16, 16, 16, 16)),
        ((1000,), (1000,), (1000,)),
    ],
)
def test_default_blocks(shape: tuple[int, ...], chunks: tuple[int, ...], blocks: tuple[int, ...]) -> None:
    # The same table as the CLI's unit test (cli/src/predictive.rs): one rule, two front ends.
    assert blosc2_vq.default_blocks(shape, 4) == (chunks, blocks)
    assert blosc2_vq.default_blocks(shape, 8) == (chunks, blocks)
    assert math.prod(blocks) <= 1 << 16 and math.prod(chunks) <= 1 << 20


def test_compress_uses_the_default_blocks_unless_told(faces: Array) -> None:
    field = smooth_field()
    arr = blosc2_vq.compress(field, max_error=1e-3)
    assert (tuple(arr.chunks), tuple(arr.blocks)) == blosc2_vq.default_blocks(field.shape, 8)
    arr = blosc2_vq.compress(field, max_error=1e-3, chunks=(20, 48, 56), blocks=(10, 16, 28))
    assert (tuple(arr.chunks), tuple(arr.blocks)) == ((20, 48, 56), (10, 16, 28))
    check_bound(field, arr[:], {"max_error": 1e-3})
    arr = blosc2_vq.compress(faces[:4], max_error=1e-2, chunks=(2, 64, 64), blocks=(1, 64, 64))
    assert (tuple(arr.chunks), tuple(arr.blocks)) == ((2, 64, 64), (1, 64, 64))
    check_bound(faces[:4], arr[:], {"max_error": 1e-2})


def test_missing_bound(faces: Array) -> None:
    with pytest.raises(blosc2_vq.VQError, match="max_error, rel_error, pw_rel_error or psnr"):
        blosc2_vq.compress(faces[:4])


@pytest.mark.parametrize(
    "bounds",
    [
        {"max_error": 0.1, "rel_error": 0.1},
        {"max_error": 0.1, "psnr": 40.0},
        {"rel_error": 0.1, "psnr": 40.0},
        {"rel_error": 0.1, "pw_rel_error": 0.1},
        {"pw_rel_error": 0.1, "psnr": 40.0},
    ],
    ids=lambda b: "+".join(b),
)
def test_two_bounds(faces: Array, bounds: Bound) -> None:
    with pytest.raises(blosc2_vq.VQError, match="one of max_error, rel_error, pw_rel_error or psnr"):
        blosc2_vq.compress(faces[:4], **bounds)


@pytest.mark.parametrize("bad", [-1.0, math.nan, 0, 0.0, math.inf, -math.inf], ids=repr)
@pytest.mark.parametrize("name", ["max_error", "rel_error", "pw_rel_error", "psnr"])
def test_bad_bound_values(faces: Array, name: str, bad: float) -> None:
    with pytest.raises(blosc2_vq.VQError, match=name):
        blosc2_vq.compress(faces[:4], **Bound({name: bad}))


def test_other_bad_bounds(faces: Array) -> None:
    with pytest.raises(blosc2_vq.VQError, match="pw_rel_error"):
        blosc2_vq.compress(faces[:4], pw_rel_error=0.9)  # at most 0.5
    with pytest.raises(blosc2_vq.VQError, match="max_error"):
        blosc2_vq.compress(faces[:4], pw_rel_error=0.1, max_error=-1.0)  # a negative floor
    with pytest.raises(blosc2_vq.VQError, match="psnr"):
        blosc2_vq.compress(faces[:4], psnr=500.0)
    with pytest.raises(blosc2_vq.VQError, match="rel_error"):
        blosc2_vq.compress(faces[:4], rel_error="0.1")  # type: ignore[arg-type]
    with pytest.raises(blosc2_vq.VQError, match="max_error"):
        blosc2_vq.compress(faces[:4], max_error=True)
    with pytest.raises(blosc2_vq.VQError, match="codec_meta"):
        blosc2_vq.compress(faces[:4], max_error=0.1, codec_meta=4)


def test_range_and_pointwise_bounds_take_no_codebook(faces: Array) -> None:
    cb = blosc2_vq.train(faces[:40], model="residual", n_prototypes=16, n_stages=2, n_samples=500, max_iter=5)
    for name, value in (("rel_error", 1e-3), ("pw_rel_error", 1e-2), ("psnr", 50.0)):
        with pytest.raises(blosc2_vq.VQError, match="codebook"):
            blosc2_vq.compress(faces[:4], cb, **Bound({name: value}))
    # max_error with a residual codebook still re-seals it.
    arr = blosc2_vq.compress(faces[:4], cb, chunks=(1, 64, 64), blocks=(1, 64, 64), max_error=0.05)
    assert blosc2_vq.info(arr)["mode"] == "codebook"
    assert np.abs(arr[:] - faces[:4]).max() <= 0.05


# A fresh interpreter reading a frame: the package imported and the codec registered (needed
# once per process, also to read), nothing else.
READ_SCRIPT = (
    "import sys, numpy as np, blosc2, blosc2_vq\n"
    "blosc2_vq.register()\n"
    "np.save(sys.argv[2], blosc2.open(sys.argv[1])[:])\n"
)


@pytest.mark.parametrize("bound", [BOUNDS[1], BOUNDS[3], BOUNDS[4]], ids=["rel_error", "pw_rel_error+floor", "psnr"])
def test_a_fresh_process_reads_a_frame_on_disk(tmp_path: Path, bound: Bound) -> None:
    field = smooth_field()
    path = tmp_path / "field.b2nd"
    arr = blosc2_vq.compress(field, urlpath=str(path), mode="w", **bound)
    expected = arr[:]
    del arr
    out = tmp_path / "read.npy"
    subprocess.run([sys.executable, "-c", READ_SCRIPT, str(path), str(out)], check=True, cwd=tmp_path)
    rec = np.load(out)
    check_bound(field, rec, bound)
    np.testing.assert_array_equal(rec.view(np.uint64), expected.view(np.uint64))
    # The settings travel with the frame.
    info = blosc2_vq.info(blosc2.open(str(path)))
    assert info["mode"] == "predictive" and info["requested"] == requested(bound)


def test_cli_and_python_frames_interoperate(tmp_path: Path, cli_bin: Path) -> None:
    field = smooth_field(dtype=np.float32)
    npy = tmp_path / "field.npy"
    np.save(npy, field)
    frame = tmp_path / "cli.b2nd"
    subprocess.run([str(cli_bin), "compress", str(npy), "-o", str(frame), "--rel-error", "1e-4"], check=True)
    opened = blosc2.open(str(frame))
    # Both front ends pick the same chunks and blocks, and resolve the same bound.
    assert (tuple(opened.chunks), tuple(opened.blocks)) == blosc2_vq.default_blocks(field.shape, 4)
    check_bound(field, opened[:], {"rel_error": 1e-4})
    from_cli = blosc2_vq.info(opened)
    from_python = blosc2_vq.info(blosc2_vq.compress(field, rel_error=1e-4))
    for key in ("mode", "requested", "bound", "value_range", "chunks", "blocks"):
        assert from_cli[key] == from_python[key], key

    py_frame = tmp_path / "python.b2nd"
    blosc2_vq.compress(field, pw_rel_error=1e-3, max_error=1e-5, urlpath=str(py_frame), mode="w")
    back = tmp_path / "back.npy"
    subprocess.run([str(cli_bin), "decompress", str(py_frame), "-o", str(back)], check=True)
    check_bound(field, np.load(back), {"pw_rel_error": 1e-3, "max_error": 1e-5})
    text = subprocess.run([str(cli_bin), "info", str(py_frame)], check=True, capture_output=True, text=True).stdout
    assert "predictive" in text and "pw_rel_error 0.001 (floor max_error 1e-5)" in text, text


def test_one_call_keeps_a_trained_codebook_only_when_it_pays(tmp_path: Path, faces: Array) -> None:
    # The 400 faces at 0.1: a residual codebook trained on them saves more than its own bytes.
    path, plain = tmp_path / "chosen.b2nd", tmp_path / "plain.b2nd"
    arr = blosc2_vq.compress(faces, max_error=0.1, urlpath=str(path), mode="w")
    info = blosc2_vq.info(arr)
    assert info["mode"] == "codebook" and info["kind"] == "residual", info
    choice = info["choice"]
    assert choice["chosen"] == "codebook" and choice["reason"].startswith("residual codebook"), choice
    assert choice["codebook_bytes"] < choice["predictive_bytes"], choice
    expected = arr[:]
    check_bound(faces, expected, {"max_error": 0.1})
    blosc2_vq.compress(faces, max_error=0.1, codebook_trial=False, urlpath=str(plain), mode="w")
    # What a user pays: the whole file, codebook and all.
    assert path.stat().st_size < plain.stat().st_size, (path.stat().st_size, plain.stat().st_size)
    # The codebook and the choice travel with the frame.
    del arr
    out = tmp_path / "read.npy"
    subprocess.run([sys.executable, "-c", READ_SCRIPT, str(path), str(out)], check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out).view(np.uint32), expected.view(np.uint32))
    assert blosc2_vq.info(blosc2.open(str(path)))["choice"] == choice
    # Deterministic: the same codebook, and with one thread (c-blosc2's threads may order a
    # chunk's blocks differently) the same chunks, byte for byte.
    again = blosc2_vq.compress(faces, max_error=0.1)
    reopened = blosc2.open(str(path))  # kept in a name: python-blosc2 frees a temporary's SChunk
    assert bytes(again.schunk.meta["vq"]) == bytes(reopened.schunk.meta["vq"])
    one, other = (blosc2_vq.compress(faces, max_error=0.1, nthreads=1) for _ in range(2))
    assert all(one.schunk.get_chunk(i) == other.schunk.get_chunk(i) for i in range(one.schunk.nchunks))

    # At 0.01 the codebook is measured and loses: nothing of it is stored.
    tight = blosc2_vq.info(blosc2_vq.compress(faces, max_error=0.01))
    assert tight["mode"] == "predictive" and tight["choice"]["chosen"] == "predictive", tight
    assert tight["choice"]["codebook_bytes"] > 0.98 * tight["choice"]["predictive_bytes"], tight
    # Too small for any codebook to pay, or a point-wise bound: nothing trained, nothing
    # recorded, the same bytes as with codebook_trial=False.
    for data, bound in ((faces[:8], {"max_error": 0.1}), (faces, {"pw_rel_error": 0.1})):
        tried = blosc2_vq.compress(data, nthreads=1, **bound)
        info = blosc2_vq.info(tried)
        assert info["mode"] == "predictive" and "choice" not in info, info
        plain = blosc2_vq.compress(data, nthreads=1, codebook_trial=False, **bound)
        assert bytes(tried.schunk.to_cframe()) == bytes(plain.schunk.to_cframe())
