"""The Python surface of the codebook kinds and options: the ctypes structures against the C
header, the library's defaults, what `Codebook` reports for each kind, and bad arguments."""

import ctypes
import re
import shutil
import subprocess

import blosc2
import msgpack
import numpy as np
import pytest

import blosc2_vq
from blosc2_vq import _clib

C_TYPES = {
    "int32_t": ctypes.c_int32,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "double": ctypes.c_double,
    "void*": ctypes.c_void_p,
    "blosc2_vq_progress_fn": _clib.PROGRESS_FN,
}


def header_fields(header, name):
    """(C type, field, array length or None) of `typedef struct { ... } name;` in the header."""
    body = re.search(r"typedef struct \{([^{}]*)\} " + name + ";", header)
    assert body, f"{name} not in the header"
    fields = []
    for line in body.group(1).splitlines():
        line = line.split("//")[0].strip()
        if line:
            m = re.fullmatch(r"(\w+) (\*?)(\w+)(?:\[(\d+)\])?;", line)
            assert m, f"unexpected line {line!r} in {name}"
            fields.append((m.group(1) + m.group(2), m.group(3), int(m.group(4)) if m.group(4) else None))
    return fields


@pytest.mark.parametrize(
    "c_name, mirror", [("blosc2_vq_train_params", _clib.TrainParams), ("blosc2_vq_codebook_info", _clib.CodebookInfo)]
)
def test_ctypes_structures_mirror_the_header(repo_root, tmp_path, c_name, mirror):
    include = repo_root / "include"
    fields = header_fields((include / "blosc2_vq.h").read_text(), c_name)
    # Same fields, in the same order, with the same types.
    assert [f for f, _ in mirror._fields_] == [f for _, f, _ in fields]
    for (ctype, field, length), (_, py_type) in zip(fields, mirror._fields_, strict=True):
        expected = C_TYPES[ctype] * length if length else C_TYPES[ctype]
        assert ctypes.sizeof(py_type) == ctypes.sizeof(expected), field
        if length:
            assert py_type._type_ is C_TYPES[ctype] and py_type._length_ == length, field
        else:
            assert py_type is C_TYPES[ctype], field
    # And the same layout as the C compiler gives the header's struct.
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc) to check the structure layout with")
    src = tmp_path / "layout.c"
    lines = [f'  printf("{f} %zu\\n", offsetof({c_name}, {f}));' for _, f, _ in fields]
    src.write_text(
        '#include <stddef.h>\n#include <stdio.h>\n#include "blosc2_vq.h"\nint main(void) {\n'
        + "\n".join(lines)
        + f'\n  printf("sizeof %zu\\n", sizeof({c_name}));\n  return 0;\n}}\n'
    )
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c99", "-I", str(include), str(src), "-o", str(exe)], check=True)
    out = dict(
        line.split()
        for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    )
    for field, _ in mirror._fields_:
        assert int(out[field]) == getattr(mirror, field).offset, field
    assert int(out["sizeof"]) == ctypes.sizeof(mirror)


def canary_buffer(struct_type, extra=64):
    """A struct followed by `extra` bytes of 0xAB, to catch the library writing past it."""
    raw = (ctypes.c_uint8 * (ctypes.sizeof(struct_type) + extra))(*([0xAB] * (ctypes.sizeof(struct_type) + extra)))
    return raw, struct_type.from_buffer(raw)


def test_the_library_writes_exactly_our_structures(codebooks):
    lib = _clib.lib()
    raw, params = canary_buffer(_clib.TrainParams)
    assert lib.blosc2_vq_train_params_init(ctypes.byref(params), _clib.MODEL_RESIDUAL) == 0
    assert bytes(raw[ctypes.sizeof(_clib.TrainParams) :]) == b"\xab" * 64
    raw, info = canary_buffer(_clib.CodebookInfo)
    cb = codebooks["aa"]
    assert lib.blosc2_vq_codebook_inspect(cb, len(cb), ctypes.byref(info)) == 0
    assert bytes(raw[ctypes.sizeof(_clib.CodebookInfo) :]) == b"\xab" * 64


def test_library_defaults_per_model():
    lib = _clib.lib()
    defaults = {}
    for model in ("aa", "residual", "scalar"):
        p = _clib.TrainParams()
        assert lib.blosc2_vq_train_params_init(ctypes.byref(p), blosc2_vq._train.MODELS[model]) == 0
        defaults[model] = {f: getattr(p, f) for f, _ in p._fields_ if f != "tile_shape"}
    r, s = defaults["residual"], defaults["scalar"]
    assert (r["n_prototypes"], r["tol"], r["n_stages"], r["mean_bits"], r["beam"]) == (256, 1e-4, 2, 0, 4)
    assert (s["scalar_method"], s["scalar_bits"]) == (_clib.SCALAR_LLOYD_MAX, 4)
    assert defaults["aa"]["n_prototypes"] == 36 and defaults["aa"]["tol"] == 1e-6
    for d in defaults.values():
        assert d["kept_weights"] == 0 and d["log10_floor"] == 0.0


def test_train_defaults_are_the_library_s():
    lib = _clib.lib()
    for model, code in blosc2_vq._train.MODELS.items():
        p = _clib.TrainParams()
        assert lib.blosc2_vq_train_params_init(ctypes.byref(p), code) == 0
        d = blosc2_vq.train_defaults(model)
        assert d["tile"] == tuple(p.tile_shape[: p.tile_ndim])
        assert (
            d["n_prototypes"],
            d["n_samples"],
            d["seed"],
            d["max_iter"],
            d["tol"],
            d["m"],
            d["n_init"],
            d["weight_bits"],
            d["n_stages"],
            d["mean_bits"],
            d["beam"],
            d["scalar_bits"],
            d["kept_weights"],
        ) == (
            p.n_prototypes,
            p.n_samples,
            p.seed,
            p.max_iter,
            p.tol,
            p.fuzzifier,
            p.n_init,
            p.weight_bits,
            p.n_stages,
            p.mean_bits,
            p.beam,
            p.scalar_bits,
            p.kept_weights,
        )
        assert blosc2_vq._train._METRIC_CODES[d["metric"]] == p.metric
        assert blosc2_vq._train._SCALAR_CODES[d["scalar_method"]] == p.scalar_method
        assert d["log10_floor"] is None and p.log10_floor == 0.0


@pytest.mark.parametrize("model", ["aa", "kmeans"])
def test_train_takes_every_unset_option_from_the_library(faces, monkeypatch, model):
    # Stand in for a library whose defaults changed: train must follow them, for every
    # keyword it was not given, and only the keywords given may override them.
    lib = _clib.lib()
    real_init = lib.blosc2_vq_train_params_init

    def changed_defaults(params, code):
        rc = real_init(params, code)
        p = params._obj
        p.n_prototypes, p.tile_ndim, p.n_samples, p.max_iter, p.weight_bits = 5, 2, 300, 7, 6
        p.tile_shape[0], p.tile_shape[1] = 2, 2
        return rc

    monkeypatch.setattr(lib, "blosc2_vq_train_params_init", changed_defaults)
    d = blosc2_vq.train_defaults(model)
    assert (d["n_prototypes"], d["tile"], d["n_samples"], d["max_iter"]) == (5, (2, 2), 300, 7)
    cb = blosc2_vq.Codebook.from_bytes(blosc2_vq.train(faces[:20], model=model))
    assert (cb.n_prototypes, cb.tile_shape, cb.training["n_samples"]) == (5, (2, 2), 300)
    assert cb.training["iterations"] <= 7
    if cb.has_weights:
        assert cb.weight_bits == 6
    given = blosc2_vq.Codebook.from_bytes(blosc2_vq.train(faces[:20], model=model, n_prototypes=4, n_samples=200))
    assert (given.n_prototypes, given.tile_shape, given.training["n_samples"]) == (4, (2, 2), 200)


@pytest.fixture(scope="module")
def small(faces):
    """Quick codebooks of every kind on 100 faces."""
    data = faces[:100]
    return {
        "residual": blosc2_vq.train(data, model="residual", n_prototypes=16, n_stages=3, mean_bits=5, n_samples=2000),
        "residual_defaults": blosc2_vq.train(data, model="residual", n_samples=2000, max_iter=5),
        "residual_greedy": blosc2_vq.train(data, model="residual", n_prototypes=16, beam=1, n_samples=2000),
        "kmeans": blosc2_vq.train(data, model="kmeans", n_prototypes=16, n_samples=2000),
        "aa_sparse": blosc2_vq.train(data, model="aa", n_prototypes=8, kept_weights=3, n_samples=500),
        "cmeans_sparse": blosc2_vq.train(data, model="cmeans", n_prototypes=8, kept_weights=1, n_samples=500),
        **{
            f"scalar_{m}": blosc2_vq.train(data, model="scalar", scalar_method=m, scalar_bits=3, n_samples=5000)
            for m in ("uniform", "quantile", "lloyd_max")
        },
        "log10": blosc2_vq.train(
            10.0 ** (-12 + 4 * data), model="kmeans", n_prototypes=16, n_samples=2000, log10_floor=1e-13
        ),
    }


def test_residual_codebook_fields(small):
    cb = blosc2_vq.Codebook.from_bytes(small["residual"])
    assert cb.kind == "residual" and cb.format_version == 3 and cb.tile_shape == (4, 4)
    assert (cb.n_stages, cb.codewords_per_stage, cb.n_prototypes, cb.mean_bits) == (3, 16, 48, 5)
    lo, hi = cb.mean_range
    assert np.isfinite([lo, hi]).all() and lo < hi
    assert cb.stage_codewords().shape == (3, 16, 4, 4)
    np.testing.assert_array_equal(cb.stage_codewords().reshape(48, 16), cb.prototypes)
    with pytest.raises(blosc2_vq.VQError, match="stage_codewords"):
        cb.prototype_tiles()
    assert not cb.has_weights and cb.kept_weights == 0
    assert cb.scalar_method is None and cb.levels is None and cb.fuzzifier is None and cb.metric is None
    assert cb.transform == "identity" and cb.log10_floor is None
    assert cb.training["n_samples"] == 2000
    assert "kind='residual'" in repr(cb) and "n_stages=3" in repr(cb) and "mean_bits=5" in repr(cb)
    # The library's defaults: two stages of 256 codewords, no mean removal, a beam of 4.
    d = blosc2_vq.Codebook.from_bytes(small["residual_defaults"])
    assert (d.n_stages, d.codewords_per_stage, d.mean_bits, d.beam) == (2, 256, 0, 4)
    assert d.mean_range is not None
    greedy = blosc2_vq.Codebook.from_bytes(small["residual_greedy"])
    assert greedy.beam == 1 and "beam=1" in repr(greedy)


@pytest.mark.parametrize("method", ["uniform", "quantile", "lloyd_max"])
def test_scalar_codebook_fields(small, faces, method):
    cb = blosc2_vq.Codebook.from_bytes(small[f"scalar_{method}"])
    assert cb.kind == "scalar" and cb.scalar_method == method
    assert cb.tile_shape == (1,) and cb.n_prototypes == 8 and cb.levels.shape == (8,)
    assert (np.diff(cb.levels) > 0).all()
    assert faces[:100].min() - 1e-6 <= cb.levels[0] and cb.levels[-1] <= faces[:100].max() + 1e-6
    # The scaler is the identity: prototypes are the levels themselves.
    assert cb.mean.tolist() == [0.0] and cb.scale.tolist() == [1.0]
    np.testing.assert_array_equal(cb.prototype_tiles()[:, 0], cb.levels)
    assert cb.n_stages is None and not cb.has_weights
    assert f"scalar_method={method!r}" in repr(cb)


def test_scalar_methods_place_levels_differently(small):
    levels = {
        m: blosc2_vq.Codebook.from_bytes(small[f"scalar_{m}"]).levels for m in ("uniform", "quantile", "lloyd_max")
    }
    # Uniform levels are equally spaced; the others follow the data.
    assert np.allclose(np.diff(levels["uniform"]), np.diff(levels["uniform"])[0])
    assert not np.allclose(np.diff(levels["quantile"]), np.diff(levels["quantile"])[0], rtol=0.05)
    assert not np.allclose(levels["lloyd_max"], levels["quantile"])


def test_sparse_and_kmeans_and_transform_fields(small):
    aa = blosc2_vq.Codebook.from_bytes(small["aa_sparse"])
    assert aa.kind == "archetypal" and aa.kept_weights == 3 and aa.has_weights and aa.weight_bits == 8
    assert "kept_weights=3" in repr(aa)
    cm = blosc2_vq.Codebook.from_bytes(small["cmeans_sparse"])
    assert cm.kind == "fuzzy_cmeans" and cm.kept_weights == 1 and cm.metric == "cosine"
    km = blosc2_vq.Codebook.from_bytes(small["kmeans"])
    assert km.kind == "kmeans" and km.kept_weights == 0 and km.n_stages is None and not km.has_weights
    assert km.beam is None and aa.beam is None
    log = blosc2_vq.Codebook.from_bytes(small["log10"])
    assert log.transform == "log10" and log.log10_floor == 1e-13 and "log10_floor=1e-13" in repr(log)
    # The codebook lives in log10 space: prototypes between log10 of the data's extremes.
    tiles = log.prototype_tiles()
    assert tiles.min() >= -12.01 and tiles.max() <= -12 + 4 * 1.06


@pytest.mark.parametrize("name", ["residual", "scalar_quantile", "aa_sparse", "log10"])
def test_codebooks_read_back_from_frames_and_as_maps(small, faces, name):
    raw = small[name]
    data = 10.0 ** (-12 + 4 * faces[:8]) if name == "log10" else faces[:8]
    arr = blosc2_vq.compress(data, raw, chunks=(4, 64, 64), blocks=(1, 64, 64))
    stored = arr.schunk.meta["vq"]
    expected = blosc2_vq.Codebook.from_bytes(raw)
    # As the metalayer gives it back, and as the map C and Rust programs store (python-blosc2
    # hands it over as a dict): the library re-checks the fingerprint of the repacked map.
    for form in (stored, msgpack.unpackb(raw)):
        cb = blosc2_vq.Codebook.from_bytes(form)
        assert cb.fingerprint == expected.fingerprint and repr(cb) == repr(expected)
        assert (cb.kept_weights, cb.log10_floor, cb.n_stages, cb.scalar_method) == (
            expected.kept_weights,
            expected.log10_floor,
            expected.n_stages,
            expected.scalar_method,
        )


@pytest.mark.parametrize("name", ["aa_sparse", "residual", "scalar_quantile", "log10"])
def test_compress_takes_every_codebook_form(small, faces, name):
    raw = small[name]
    data = 10.0 ** (-12 + 4 * faces[:8]) if name == "log10" else faces[:8]
    geometry = dict(chunks=(4, 64, 64), blocks=(1, 64, 64))
    first = blosc2_vq.compress(data, raw, **geometry)
    expected = first[:]
    fingerprint = blosc2_vq.Codebook.from_bytes(raw).fingerprint
    # A codebook stored as a MessagePack map (as C and Rust programs store it): python-blosc2
    # reads it back as a dict.
    as_map = blosc2.asarray(data, meta={"vq": msgpack.unpackb(raw)}, cparams=blosc2_vq.cparams(), **geometry)
    assert isinstance(as_map.schunk.meta["vq"], dict)
    forms = {
        "read back": first.schunk.meta["vq"],
        "read back as a map": as_map.schunk.meta["vq"],
        "dict": msgpack.unpackb(raw),
        "bytearray": bytearray(raw),
        "memoryview": memoryview(raw),
        "Codebook": blosc2_vq.Codebook.from_bytes(raw),
        "Codebook of a map": blosc2_vq.Codebook.from_bytes(msgpack.unpackb(raw)),
        "bin-wrapped": msgpack.packb(raw),
    }
    for form, codebook in forms.items():
        again = blosc2_vq.compress(data, codebook, **geometry)
        np.testing.assert_array_equal(again[:], expected, err_msg=form)
        assert blosc2_vq.Codebook.from_bytes(again.schunk.meta["vq"]).fingerprint == fingerprint, form
        # And once more from what that array stored.
        third = blosc2_vq.compress(data, again.schunk.meta["vq"], **geometry)
        np.testing.assert_array_equal(third[:], expected, err_msg=form)
    for bad in (16, "codebook"):
        with pytest.raises(blosc2_vq.VQError, match="a codebook is bytes"):
            blosc2_vq.compress(data, bad, **geometry)
    # No codebook means the codebook-free mode, which needs a bound.
    with pytest.raises(blosc2_vq.VQError, match="no error bound"):
        blosc2_vq.compress(data, None, **geometry)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        # Checked in Python.
        (dict(model="rvq"), "unknown model 'rvq'"),
        (dict(model="scalar", scalar_method="median"), "unknown scalar_method 'median'"),
        (dict(model="aa", n_stages=2), "n_stages applies to model 'residual' only"),
        (dict(model="kmeans", mean_bits=4), "mean_bits applies to model 'residual' only"),
        (dict(model="aa", beam=2), "beam applies to model 'residual' only"),
        (dict(model="residual", scalar_bits=3), "scalar_bits applies to model 'scalar' only"),
        (dict(model="cmeans", scalar_method="uniform"), "scalar_method applies to model 'scalar' only"),
        (dict(model="scalar", n_prototypes=16), "give scalar_bits, not n_prototypes"),
        (dict(model="kmeans", kept_weights=2), "kept_weights applies to models 'aa' and 'cmeans'"),
        (dict(model="residual", kept_weights=1), "kept_weights applies to models 'aa' and 'cmeans'"),
        (dict(model="scalar", kept_weights=1), "kept_weights applies to models 'aa' and 'cmeans'"),
        (dict(model="aa", kept_weights=-1), "kept_weights -1 must be >= 0"),
        # ctypes would silently wrap these to 2 and truncate to 2.
        (dict(model="aa", kept_weights=2**32 + 2), "kept_weights 4294967298 is out of range"),
        (dict(model="aa", kept_weights=2.0), "kept_weights must be an integer"),
        (dict(model="residual", n_stages=True), "n_stages must be an integer"),
        (dict(model="residual", n_stages=2.5), "n_stages must be an integer"),
        (dict(model="kmeans", tile=(4, 4.5)), "tile side must be an integer"),
        (dict(model="kmeans", seed=-1), "seed -1 is out of range"),
        # 0 means "no transform" to the C API: refused rather than silently ignored.
        (dict(model="kmeans", log10_floor=0), "log10_floor 0.0 must be positive"),
        (dict(model="kmeans", log10_floor=-1e-3), "must be positive"),
        (dict(model="kmeans", log10_floor=float("nan")), "must be positive"),
        (dict(model="kmeans", log10_floor=float("inf")), "must be positive"),
        (dict(model="kmeans", log10_floor="1e-3"), "log10_floor must be a number"),
        # Checked by the library, whose message comes through.
        (dict(model="residual", n_stages=0), "`n_stages`: 0 must be positive"),
        (dict(model="residual", n_stages=17), "`n_stages`: 17 outside 1..=16"),
        (dict(model="residual", mean_bits=13), "`mean_bits`: 13 outside 0..=12"),
        (dict(model="residual", mean_bits=-1), "`mean_bits`: -1 outside 0..=12"),
        (dict(model="residual", beam=0), "`beam`: 0 outside 1..=64"),
        (dict(model="residual", beam=65), "`beam`: 65 outside 1..=64"),
        (dict(model="residual", n_prototypes=5000), "5000 outside 1..=4096"),
        (dict(model="scalar", scalar_bits=0), "0 outside 1..=12"),
        (dict(model="scalar", scalar_bits=13), "13 outside 1..=12"),
        (dict(model="aa", n_prototypes=6, kept_weights=6), "`kept_weights`: 6 must be below the 6 prototypes"),
        (dict(model="aa", kept_weights=9), "`kept_weights`: 9 over 8"),
        (dict(model="kmeans", log10_floor=1e-50), "positive and finite in float32"),
        (dict(model="residual", n_prototypes=64, n_samples=10), "10 samples for 64 codewords per stage"),
    ],
)
def test_bad_options_raise_value_errors(faces, kwargs, match):
    with pytest.raises(blosc2_vq.VQError, match=re.escape(match)) as err:
        blosc2_vq.train(faces[:10], **kwargs)
    assert isinstance(err.value, ValueError)


def test_codec_meta_only_for_weight_codebooks(faces, small):
    data = faces[:4]
    with pytest.raises(blosc2_vq.VQError, match="residual codebook has no weights"):
        blosc2_vq.compress(data, small["residual"], chunks=(2, 64, 64), blocks=(1, 64, 64), codec_meta=4)
    # The codec itself refuses it too, when python-blosc2 is used directly.
    with pytest.raises(RuntimeError):
        blosc2.asarray(
            data,
            chunks=(2, 64, 64),
            blocks=(1, 64, 64),
            meta={"vq": small["scalar_uniform"]},
            cparams=blosc2_vq.cparams(codec_meta=4),
        )
    assert "codec_meta" in blosc2_vq.last_error() and "no weights" in blosc2_vq.last_error()
    # Sparse weights take the override: fewer bits, smaller blocks.
    sizes = [
        blosc2_vq.compress(
            data, small["aa_sparse"], chunks=(2, 64, 64), blocks=(1, 64, 64), codec_meta=bits
        ).schunk.cbytes
        for bits in (0, 2)
    ]
    assert sizes[1] < sizes[0]
