"""Error-bounded coding from Python: `train(..., max_error=)`, `compress(..., max_error=)` and
`Codebook.with_max_error` through python-blosc2's c-blosc2; the bound holds on every value, in
this process and in a fresh one reading the frame; bad bounds are refused."""

import subprocess
import sys

import numpy as np
import pytest

import blosc2_vq


@pytest.fixture(scope="module")
def residual(faces):
    return blosc2_vq.train(
        faces[0::2],
        model="residual",
        n_prototypes=32,
        n_stages=3,
        mean_bits=6,
        tile=(4, 8),
        n_samples=5000,
        max_iter=10,
    )


@pytest.mark.parametrize("bound", [0.1, 0.02])
def test_compress_meets_the_bound_on_every_value(faces, residual, bound):
    test = faces[1::2]
    arr = blosc2_vq.compress(test, residual, chunks=(16, 64, 64), blocks=(1, 64, 64), max_error=bound)
    assert np.abs(arr[:] - test).max() <= bound
    assert blosc2_vq.Codebook.from_bytes(arr.schunk.meta["vq"]).max_error == bound


def test_a_sealed_bound_and_a_fresh_process(tmp_path, faces):
    sealed = blosc2_vq.train(
        faces[0::2],
        model="residual",
        n_prototypes=16,
        n_stages=2,
        mean_bits=4,
        n_samples=2000,
        max_iter=5,
        max_error=0.05,
    )
    cb = blosc2_vq.Codebook.from_bytes(sealed)
    assert cb.max_error == 0.05 and "max_error=0.05" in repr(cb)
    assert cb.with_max_error(None).max_error is None
    assert cb.with_max_error(0.01).with_max_error(0.05).raw == cb.raw  # re-sealing round-trips
    assert cb.prototype_bits == 32
    half = cb.with_prototype_bits(16)
    assert half.prototype_bits == 16 and len(half.raw) < len(cb.raw) and half.max_error == 0.05
    with pytest.raises(blosc2_vq.VQError, match="16, 32 or 64"):
        cb.with_prototype_bits(8)
    sealed = half.raw
    path = tmp_path / "bounded.b2nd"
    test = faces[1::2]
    blosc2_vq.compress(test, sealed, chunks=(8, 64, 64), blocks=(1, 64, 64), urlpath=str(path), mode="w")
    out = tmp_path / "read.npy"
    script = (
        "import sys, numpy as np, blosc2, blosc2_vq\n"
        "blosc2_vq.register()\n"
        "np.save(sys.argv[2], blosc2.open(sys.argv[1])[:])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path), str(out)], check=True, cwd=tmp_path)
    assert np.abs(np.load(out) - test).max() <= 0.05


def test_log10_gives_a_relative_bound_and_exact_zeros(faces, residual):
    data = np.where(faces[1::2] < 0.3, 0.0, 10.0 ** (-15 + 3 * faces[1::2])).astype(np.float64)
    cb = blosc2_vq.train(
        data, model="residual", n_prototypes=16, n_stages=2, mean_bits=4, n_samples=2000, max_iter=5, log10_floor=1e-16
    )
    bound = np.log10(1.1)
    rec = blosc2_vq.compress(data, cb, chunks=(8, 64, 64), blocks=(1, 64, 64), max_error=bound)[:]
    assert (rec[data == 0] == 0).all()
    kept = data > 0
    assert np.abs(np.log10(rec[kept]) - np.log10(data[kept])).max() <= bound


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_bounds_are_refused(faces, residual, bad):
    with pytest.raises(blosc2_vq.VQError, match="max_error"):
        blosc2_vq.compress(faces[:4], residual, max_error=bad)
    with pytest.raises(blosc2_vq.VQError, match="max_error"):
        blosc2_vq.train(faces[:20], model="residual", n_samples=100, max_error=bad)


def test_only_residual_codebooks_take_a_bound(faces, codebooks):
    with pytest.raises(blosc2_vq.VQError, match="max_error applies to model 'residual'"):
        blosc2_vq.train(faces[:20], model="aa", n_samples=100, max_error=0.1)
    with pytest.raises(blosc2_vq.VQError, match="residual"):
        blosc2_vq.compress(faces[:4], codebooks["aa"], max_error=0.1)
