"""The numcodecs codec (`blosc2_vq.numcodecs.VQ`), its entry points, zarr stores (zarr 2's API
when zarr 2 is installed, else zarr 3's, both formats) and xarray datasets written with it: the
bound on every value, NaN and infinities bit-exact."""

import json
import subprocess
import sys
from importlib.metadata import entry_points

import blosc2
import numpy as np
import pytest

import blosc2_vq

numcodecs = pytest.importorskip("numcodecs")
from blosc2_vq.numcodecs import CODEC_ID, VQ, ZARR3_CODEC_NAME  # noqa: E402 - needs numcodecs

pytestmark = pytest.mark.filterwarnings(
    # zarr 3 says so of every numcodecs codec in a zarr 3 array (its own ZFPY and PCodec too).
    "ignore:Numcodecs codecs are not in the Zarr version 3 specification",
    # xarray and zarr 3 on consolidated metadata in zarr 3 arrays.
    "ignore:Consolidated metadata is currently not part",
)

UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}
# NaN with payloads and a negative NaN, by their bits, and the infinities.
SPECIAL_BITS = {
    np.dtype(np.float32): [0x7FC00000, 0x7FC00001, 0xFFC00000, 0x7F800000, 0xFF800000],
    np.dtype(np.float64): [
        0x7FF8000000000000,
        0x7FF8000000000001,
        0xFFF8000000000000,
        0x7FF0000000000000,
        0xFFF0000000000000,
    ],
}


def field(shape, dtype, seed=0):
    """A smooth field with noise (the predictor has something to do), NaN/inf at a few places."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 3, n) for n in shape], indexing="ij")
    x = 10 * np.sin(sum(grids)) + rng.normal(scale=0.3, size=shape) + 5
    x = x.astype(dtype)
    flat = x.reshape(-1)
    bits = np.array(SPECIAL_BITS[np.dtype(dtype)], dtype=UINT[np.dtype(dtype)]).view(dtype)
    places = rng.choice(flat.size, size=len(bits), replace=False)
    flat[places] = bits
    return x


def assert_bounded(x, y, bound, pw_rel=None):
    """Same shape and dtype; non-finite values bit-exact at their places; every finite value
    within `bound` (or max(bound, pw_rel * |x|))."""
    assert y.shape == x.shape and y.dtype == x.dtype
    special = ~np.isfinite(x)
    uint = UINT.get(np.dtype(x.dtype).newbyteorder("="))
    if uint is not None and special.any():
        xb = np.ascontiguousarray(x).astype(x.dtype.newbyteorder("=")).view(uint)
        yb = np.ascontiguousarray(y).astype(y.dtype.newbyteorder("=")).view(uint)
        assert np.array_equal(xb[special], yb[special])
    assert np.array_equal(np.isfinite(y), ~special)
    xf = x[~special].astype(np.float64)
    err = np.abs(y[~special].astype(np.float64) - xf)
    allowed = np.full_like(xf, bound) if pw_rel is None else np.maximum(bound, pw_rel * np.abs(xf))
    worst = np.max(err - allowed) if err.size else 0.0
    assert worst <= 0, f"a value is off by {worst:g} more than the bound"


def finite_range(x):
    v = x[np.isfinite(x)].astype(np.float64)
    return float(v.max() - v.min())


def recorded_bound(blob):
    """The absolute bound the frame records (the codec's own reading of the request)."""
    return blosc2_vq.info(blosc2.ndarray_from_cframe(bytes(blob)))["bound"]


# -- the codec ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(97, 131), (9, 40, 33)])
@pytest.mark.parametrize(
    "bound",
    [{"max_error": 1e-2}, {"rel_error": 1e-3}, {"pw_rel_error": 1e-2, "max_error": 1e-4}, {"psnr": 60.0}],
    ids=["max_error", "rel_error", "pw_rel_error", "psnr"],
)
def test_round_trip_bounded(dtype, shape, bound):
    x = field(shape, dtype)
    codec = VQ(**bound)
    blob = codec.encode(x)
    assert isinstance(blob, bytes)
    assert len(blob) < x.nbytes / 2
    y = codec.decode(blob)
    recorded = recorded_bound(blob)
    if "rel_error" in bound:
        # Relative to the chunk's finite range, as SZ3's numcodecs codec does.
        assert recorded["max_error"] <= bound["rel_error"] * finite_range(x) * (1 + 1e-12)
        assert_bounded(x, y, recorded["max_error"])
    elif "psnr" in bound:
        target = finite_range(x) * np.sqrt(3) * 10 ** (-bound["psnr"] / 20)
        assert recorded["max_error"] <= target * (1 + 1e-12)
        assert_bounded(x, y, recorded["max_error"])
    elif "pw_rel_error" in bound:
        assert_bounded(x, y, bound["max_error"], pw_rel=bound["pw_rel_error"])
    else:
        assert recorded["max_error"] == bound["max_error"]
        assert_bounded(x, y, bound["max_error"])


def test_rel_error_is_per_chunk():
    """Each chunk's own range: a chunk ten times wider gets a bound ten times larger."""
    codec = VQ(rel_error=1e-3)
    narrow = field((64, 64), np.float64)
    wide = narrow * 10
    b_narrow = recorded_bound(codec.encode(narrow))["max_error"]
    b_wide = recorded_bound(codec.encode(wide))["max_error"]
    assert b_wide == pytest.approx(10 * b_narrow, rel=1e-9)


def test_decode_into_out_and_layouts():
    codec = VQ(max_error=1e-3)
    x = field((40, 56), np.float32)
    blob = codec.encode(x)
    out = np.empty_like(x)
    assert codec.decode(blob, out=out) is out
    assert_bounded(x, out, 1e-3)
    # A flat buffer of the chunk's size gets its bytes (numcodecs' convention).
    raw = bytearray(x.nbytes)
    codec.decode(blob, out=raw)
    assert_bounded(x, np.frombuffer(raw, dtype=x.dtype).reshape(x.shape), 1e-3)

    # Fortran order (zarr 2's order="F"): coded in memory order, decoded to F order, so that
    # both the values and the memory (what zarr 2 reshapes) come back.
    xf = np.asfortranarray(x)
    y = codec.decode(codec.encode(xf))
    assert y.flags.f_contiguous
    assert_bounded(x, y, 1e-3)
    assert_bounded(x, np.frombuffer(y.tobytes(order="A"), x.dtype).reshape(x.shape, order="F"), 1e-3)
    outf = np.empty(x.shape, x.dtype, order="F")
    codec.decode(codec.encode(xf), out=outf)
    assert_bounded(x, outf, 1e-3)

    # Big-endian and strided chunks.
    xb = x.astype(">f4")
    y = codec.decode(codec.encode(xb))
    assert y.dtype == np.dtype(">f4")
    assert_bounded(xb, y, 1e-3)
    y = codec.decode(codec.encode(x[:, ::3]))
    assert_bounded(x[:, ::3], y, 1e-3)

    # Images: uint8 and uint16 go through; an empty chunk too, whatever the bound.
    img = (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)
    assert np.array_equal(codec.decode(codec.encode(img)), img)
    for bound in [{"rel_error": 1e-2}, {"psnr": 40.0}, {"max_error": 0.5}]:
        empty = np.zeros((0, 5), np.float32)
        y = VQ(**bound).decode(VQ(**bound).encode(empty))
        assert y.shape == (0, 5) and y.dtype == np.float32


def test_blob_is_a_blosc2_frame():
    x = field((30, 30), np.float64)
    blob = VQ(max_error=1e-3).encode(x)
    arr = blosc2.ndarray_from_cframe(blob)
    assert arr.shape == x.shape and arr.dtype == x.dtype
    assert blosc2_vq.info(arr)["mode"] == "predictive"
    assert_bounded(x, arr[:], 1e-3)


def test_bad_input():
    codec = VQ(max_error=1e-3)
    with pytest.raises(blosc2_vq.VQError, match="unsupported data type"):
        codec.encode(np.arange(100, dtype=np.int32).reshape(10, 10))
    with pytest.raises(blosc2_vq.VQError, match="not a blosc2-vq chunk"):
        codec.decode(b"not a frame at all" * 8)
    plain = blosc2.asarray(np.arange(100.0)).to_cframe()
    with pytest.raises(blosc2_vq.VQError, match="no `vq` metalayer"):
        codec.decode(plain)


# -- configuration and registry ----------------------------------------------------------------


def test_config_round_trip():
    for params in [
        {"max_error": 1e-3},
        {"rel_error": 1e-4},
        {"pw_rel_error": 0.01, "max_error": 1e-6},
        {"psnr": 80.0},
    ]:
        codec = VQ(**params)
        config = codec.get_config()
        assert config == {"id": CODEC_ID, **params}
        assert json.loads(json.dumps(config)) == config
        again = VQ.from_config({k: v for k, v in config.items() if k != "id"})
        assert again == codec and again.get_config() == config
        assert VQ.from_config(config) == codec  # with its id too
        assert numcodecs.get_codec(dict(config)) == codec
        assert repr(codec).startswith("VQ(")
    assert VQ(max_error=1).get_config() == {"id": CODEC_ID, "max_error": 1.0}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "no error bound"),
        ({"max_error": -1.0}, "max_error"),
        ({"max_error": float("nan")}, "max_error"),
        ({"max_error": 0}, "must be positive"),
        ({"rel_error": 1e-3, "psnr": 40.0}, "give one of"),
        ({"pw_rel_error": 0.7}, "at most 0.5"),
        ({"psnr": -3.0}, "psnr"),
        ({"max_error": "1e-3"}, "not a number"),
        ({"max_error": True}, "not a number"),
    ],
)
def test_bad_parameters_at_construction(params, message):
    with pytest.raises(blosc2_vq.VQError, match=message):
        VQ(**params)
    with pytest.raises(blosc2_vq.VQError, match=message):
        numcodecs.get_codec({"id": CODEC_ID, **params})


def test_bad_configuration():
    with pytest.raises(blosc2_vq.VQError, match="unknown VQ parameter"):
        VQ.from_config({"id": CODEC_ID, "max_error": 1e-3, "tolerance": 1})
    with pytest.raises(blosc2_vq.VQError, match="has id"):
        VQ.from_config({"id": "zfpy", "max_error": 1e-3})


def _installed(group, name):
    return any(e.name == name for e in entry_points(group=group))


def _run(code, *args):
    """A fresh interpreter (the same one, whatever its PATH)."""
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_numcodecs_finds_it_through_the_entry_point():
    if not _installed("numcodecs.codecs", CODEC_ID):
        pytest.skip(
            "blosc2-vq's entry points are not installed (a source tree on the path): install the package "
            "(pip install .) to test them; scripts/test.sh tests the installed wheel"
        )
    # A fresh process that imports nothing of blosc2_vq: numcodecs loads it by the codec's id.
    out = _run(
        "import sys, numpy as np, numcodecs\n"
        "assert 'blosc2_vq' not in sys.modules\n"
        f"codec = numcodecs.get_codec({{'id': {CODEC_ID!r}, 'max_error': 0.01}})\n"
        "x = np.linspace(0, 1, 1000, dtype=np.float32).reshape(20, 50)\n"
        "y = codec.decode(codec.encode(x))\n"
        "assert np.abs(y - x).max() <= 0.01\n"
        "print(type(codec).__module__, type(codec).__name__)\n"
    )
    assert out.split() == ["blosc2_vq.numcodecs", "VQ"]


# -- zarr --------------------------------------------------------------------------------------


def _zarr():
    zarr = pytest.importorskip("zarr")
    return zarr, int(zarr.__version__.split(".")[0])


def test_zarr3_entry_point():
    zarr, major = _zarr()
    if major < 3:
        pytest.skip(f"zarr {zarr.__version__}: zarr 2 takes VQ itself as the compressor")
    if not _installed("zarr.codecs", ZARR3_CODEC_NAME):
        pytest.skip("blosc2-vq's entry points are not installed (a source tree on the path): install the package")
    out = _run(
        "import sys, zarr.registry\n"
        f"cls = zarr.registry.get_codec_class({ZARR3_CODEC_NAME!r})\n"
        "print(cls.__module__, cls.__name__)\n"
    )
    assert out.split() == ["blosc2_vq.numcodecs", "VQZarr3"]


# Reads a store in a fresh interpreter. With the entry points installed it imports nothing but
# zarr (zarr and numcodecs find the codec); from a source tree it imports the module first.
READ_STORE = """
import sys, numpy as np, zarr
if sys.argv[3] == "import":
    import blosc2_vq.numcodecs
np.save(sys.argv[2], zarr.open(sys.argv[1], mode="r")[...])
"""


def _write_zarr(zarr, major, path, x, chunks, codec, zarr_format, order="C"):
    if major < 3:
        z = zarr.open(str(path), mode="w", shape=x.shape, chunks=chunks, dtype=x.dtype, compressor=codec, order=order)
    elif zarr_format == 2:
        z = zarr.create_array(
            store=str(path),
            shape=x.shape,
            chunks=chunks,
            dtype=x.dtype,
            compressors=codec,
            zarr_format=2,
            order=order,
        )
    else:
        from blosc2_vq.numcodecs import VQZarr3

        z = zarr.create_array(
            store=str(path),
            shape=x.shape,
            chunks=chunks,
            dtype=x.dtype,
            serializer=VQZarr3(**{k: v for k, v in codec.get_config().items() if k != "id"}),
            compressors=None,
        )
    z[...] = x  # whole chunks, written once
    return z


def stored_codec(array_path):
    """The codec an array's metadata names: its zarr 2 compressor's id, or its zarr 3 codecs'
    names (so that a test fails if a library silently dropped the codec for its default)."""
    if (array_path / ".zarray").exists():
        compressor = json.loads((array_path / ".zarray").read_text())["compressor"]
        return compressor and compressor["id"]
    codecs = json.loads((array_path / "zarr.json").read_text())["codecs"]
    return [c["name"] for c in codecs]


def _zarr_cases():
    try:
        import zarr
    except ImportError:
        return [pytest.param(None, marks=pytest.mark.skip(reason="zarr is not installed"))]
    if int(zarr.__version__.split(".")[0]) < 3:
        return [pytest.param((2, "C"), id="zarr2-C"), pytest.param((2, "F"), id="zarr2-F")]
    return [pytest.param((3, "C"), id="v3"), pytest.param((2, "C"), id="v2"), pytest.param((2, "F"), id="v2-F")]


@pytest.mark.parametrize("case", _zarr_cases())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zarr_store_round_trip(tmp_path, case, dtype):
    zarr, major = _zarr()
    zarr_format, order = case
    x = field((70, 90, 20), dtype, seed=3)  # edge chunks on every axis
    path = tmp_path / "field.zarr"
    z = _write_zarr(zarr, major, path, x, (32, 32, 16), VQ(max_error=1e-2), zarr_format, order)
    assert stored_codec(path) == (CODEC_ID if zarr_format == 2 else [ZARR3_CODEC_NAME])
    stored = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert stored < x.nbytes / 2

    # A fresh handle in this process...
    back = zarr.open(str(path), mode="r")
    assert back.shape == x.shape and back.dtype == x.dtype
    assert_bounded(x, back[...], 1e-2)
    assert_bounded(x[5:40, 60:, 3], back[5:40, 60:, 3], 1e-2)
    del z
    # ... and a fresh interpreter.
    installed = _installed("numcodecs.codecs", CODEC_ID) and (major < 3 or _installed("zarr.codecs", ZARR3_CODEC_NAME))
    _run(READ_STORE, path, tmp_path / "read.npy", "none" if installed else "import")
    assert_bounded(x, np.load(tmp_path / "read.npy"), 1e-2)


def test_zarr_rel_error_per_chunk(tmp_path):
    """rel_error in a store: each chunk within rel_error of its own range."""
    zarr, major = _zarr()
    x = field((64, 96), np.float32, seed=5)
    x[:, 48:] *= 20  # the right chunks are wider
    _write_zarr(zarr, major, tmp_path / "rel.zarr", x, (32, 48), VQ(rel_error=1e-3), 2 if major < 3 else 3)
    y = zarr.open(str(tmp_path / "rel.zarr"), mode="r")[...]
    for i in range(0, 64, 32):
        for j in range(0, 96, 48):
            cx, cy = x[i : i + 32, j : j + 48], y[i : i + 32, j : j + 48]
            assert_bounded(cx, cy, 1e-3 * finite_range(cx) * (1 + 1e-12))


def test_zarr3_codec_refuses_bad_bounds():
    zarr, major = _zarr()
    if major < 3:
        pytest.skip(f"zarr {zarr.__version__} has no zarr 3 codecs")
    from blosc2_vq.numcodecs import VQZarr3

    with pytest.raises(blosc2_vq.VQError, match="give one of"):
        VQZarr3(max_error=1e-3, psnr=40.0)
    codec = VQZarr3(rel_error=1e-3)
    assert codec.to_dict() == {"name": ZARR3_CODEC_NAME, "configuration": {"rel_error": 1e-3}}
    assert type(codec).from_dict(codec.to_dict()) == codec


# -- xarray ------------------------------------------------------------------------------------


def _dataset(xr, pd):
    rng = np.random.default_rng(7)
    lat = np.linspace(-60, 60, 25)
    lon = np.arange(0, 360, 10.0)
    time = pd.date_range("2021-01-01", periods=8, freq="D")
    base = 280 + 20 * np.cos(np.deg2rad(lat))[None, :, None] + 3 * np.sin(np.deg2rad(lon))[None, None, :]
    t = (base + rng.normal(scale=0.5, size=(8, 25, 36))).astype(np.float32)
    t[0, :3, :4] = np.nan  # missing values
    p = (1000 + np.cumsum(rng.normal(size=(8, 25, 36)), axis=2)).astype(np.float64)
    p[2, 5, 6] = np.inf
    return xr.Dataset(
        {
            "t": (("time", "lat", "lon"), t, {"units": "K", "long_name": "temperature"}),
            "p": (("time", "lat", "lon"), p, {"units": "hPa"}),
        },
        coords={"time": time, "lat": ("lat", lat, {"units": "degrees_north"}), "lon": lon},
        attrs={"title": "blosc2-vq through xarray", "source": "synthetic"},
    )


def _xarray_cases():
    try:
        import zarr
    except ImportError:
        return [pytest.param(None, marks=pytest.mark.skip(reason="zarr is not installed"))]
    return [2] if int(zarr.__version__.split(".")[0]) < 3 else [3, 2]


@pytest.mark.parametrize("zarr_format", _xarray_cases())
def test_xarray_dataset_round_trip(tmp_path, zarr_format):
    xr = pytest.importorskip("xarray")
    pd = pytest.importorskip("pandas")
    _, major = _zarr()
    ds = _dataset(xr, pd)
    bounds = {"t": 0.05, "p": 1e-3}
    chunks = (4, 13, 18)
    if zarr_format == 3:
        from blosc2_vq.numcodecs import VQZarr3

        encoding = {
            name: {"serializer": VQZarr3(max_error=e), "compressors": None, "chunks": chunks}
            for name, e in bounds.items()
        }
    else:
        # zarr 2 takes one `compressor` (xarray passes `compressors` on, and zarr 2 would drop
        # it); xarray with zarr 3 takes `compressors`, also for zarr_format=2.
        key = "compressor" if major < 3 else "compressors"
        encoding = {name: {key: VQ(max_error=e), "chunks": chunks} for name, e in bounds.items()}
    path = tmp_path / "ds.zarr"
    kwargs = {"zarr_format": zarr_format} if major >= 3 else {}
    ds.to_zarr(path, encoding=encoding, **kwargs)
    for name in bounds:
        assert stored_codec(path / name) == (CODEC_ID if zarr_format == 2 else [ZARR3_CODEC_NAME])

    back = xr.open_zarr(path).load()
    assert back.attrs == ds.attrs
    assert dict(back.sizes) == dict(ds.sizes)
    for name in ["time", "lat", "lon"]:
        assert np.array_equal(back[name].values, ds[name].values)
    assert back["lat"].attrs == ds["lat"].attrs
    for name, e in bounds.items():
        assert back[name].dims == ds[name].dims
        assert back[name].attrs == ds[name].attrs
        x, y = ds[name].values, back[name].values
        # xarray masks its NaN fill value on reading (any NaN comes back as NaN, payload aside):
        # NaN places and infinities are checked here, the bits in the codec's tests.
        assert np.array_equal(np.isnan(y), np.isnan(x))
        assert np.array_equal(y[np.isinf(x)], x[np.isinf(x)])
        finite = np.isfinite(x)
        assert np.abs(y[finite].astype(np.float64) - x[finite]).max() <= e
