"""Residual, scalar, sparse-weight, k-means and log10 codebooks trained from Python, through
python-blosc2 (b2nd arrays and plain SChunks) with the vq codec: quality on held-out Olivetti
faces, and identical bytes whatever the thread count.

The floors are the figures measured when these kinds were added (in the comments), less a
small margin; bits per value are measured on the compressed arrays (32 / cratio).
"""

import blosc2
import numpy as np
import pytest

import blosc2_vq


def psnr(a, b, data_range=1.0):
    return float(10 * np.log10(data_range**2 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def bits_per_value(arr):
    return 32 / arr.schunk.cratio


@pytest.fixture(scope="module")
def halves(faces):
    """Training and test faces: every other image (each person appears in both)."""
    return faces[::2], faces[1::2]


# name: (train keyword arguments, bits-per-value ceiling, PSNR floor in dB)
KINDS = {
    # measured 1.014 bpp, 31.75 dB (beam 4; 31.42 dB with the greedy encoder of ce326ec)
    "residual": (dict(model="residual", n_samples=8000), 1.08, 31.2),
    # measured 1.376 bpp, 33.76 dB: 6 more bits per 16-value tile buy 2 dB
    "residual_mean": (dict(model="residual", n_samples=8000, mean_bits=6), 1.45, 33.2),
    # measured 3.387 bpp, 35.65 dB
    "scalar_uniform": (dict(model="scalar", scalar_method="uniform", n_samples=20000), 3.55, 35.1),
    # measured 3.613 bpp, 34.90 dB
    "scalar_quantile": (dict(model="scalar", scalar_method="quantile", n_samples=20000), 3.75, 34.4),
    # measured 3.615 bpp, 36.28 dB
    "scalar_lloyd_max": (dict(model="scalar", scalar_method="lloyd_max", n_samples=20000), 3.75, 35.8),
    # measured 1.255 bpp, 18.09 dB (dense: 9.3 bpp, 31.9 dB); see test_sparse_weights_shrink_blocks
    "aa_sparse": (dict(model="aa", kept_weights=2), 1.33, 17.6),
    # measured 0.533 bpp, 27.94 dB
    "kmeans": (dict(model="kmeans", n_prototypes=256, n_samples=8000), 0.57, 27.4),
}


@pytest.fixture(scope="module")
def trained(halves):
    """Codebooks of KINDS trained on the training half, each once."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = blosc2_vq.train(halves[0], seed=0, **KINDS[name][0])
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(KINDS))
def test_held_out_faces_reach_the_floor(halves, trained, name):
    _, test = halves
    _, max_bpp, min_psnr = KINDS[name]
    cb = trained(name)
    arr = blosc2.asarray(
        test,
        chunks=(16, 64, 64),
        blocks=(1, 64, 64),
        meta={"vq": cb},
        cparams=blosc2_vq.cparams(nthreads=2),
        dparams={"nthreads": 2},
    )
    rec = arr[:]
    bpp, quality = bits_per_value(arr), psnr(test, rec)
    print(f"{name}: {bpp:.3f} bits/value, PSNR {quality:.2f} dB, codebook {len(cb)} bytes")
    assert rec.shape == test.shape and rec.dtype == np.float32
    assert bpp <= max_bpp and quality >= min_psnr, (bpp, quality)
    # The codebook travels in the frame and reads back as what was trained.
    stored = blosc2_vq.Codebook.from_bytes(arr.schunk.meta["vq"])
    assert stored.fingerprint == blosc2_vq.Codebook.from_bytes(cb).fingerprint


def block_streams(chunk):
    """The compressed blocks of a c-blosc2 chunk, in block order. With several threads
    c-blosc2 writes blocks in the order they finish (the `bstarts` offsets say where each
    went), so whole chunks may differ between thread counts while every block is the same.
    Layout: a 32-byte header (nbytes, blocksize, cbytes at byte 4), `bstarts` (one int32 per
    block), then per block (NEVER_SPLIT: one stream) an int32 size and that many bytes."""
    import struct

    nbytes, blocksize, cbytes = struct.unpack_from("<iii", chunk, 4)
    assert cbytes == len(chunk)
    n = -(-nbytes // blocksize)
    starts = struct.unpack_from(f"<{n}i", chunk, 32)
    blocks = []
    for start in starts:
        (size,) = struct.unpack_from("<i", chunk, start)
        blocks.append(bytes(chunk[start : start + 4 + max(size, 0)]))
    # Every byte accounted for: the parse matches the format.
    assert 32 + 4 * n + sum(map(len, blocks)) == cbytes
    return blocks


@pytest.mark.parametrize("name", list(KINDS))
def test_one_and_two_threads_give_identical_bytes(halves, trained, name):
    test = halves[1][:32]
    cb = trained(name)
    arrays = [
        blosc2.asarray(
            test,
            chunks=(8, 64, 64),
            blocks=(1, 64, 64),
            meta={"vq": cb},
            cparams=blosc2_vq.cparams(nthreads=n),
            dparams={"nthreads": n},
        )
        for n in (1, 2)
    ]
    assert arrays[0].schunk.nchunks == arrays[1].schunk.nchunks == 4
    for i in range(4):
        one, two = (block_streams(a.schunk.get_chunk(i)) for a in arrays)
        assert len(one) == 8 and one == two, f"chunk {i} differs"
    one, two = arrays[0][:], arrays[1][:]
    np.testing.assert_array_equal(one, two)
    # Decoding with the other thread count changes nothing either.
    arrays[0].schunk.dparams = blosc2.DParams(nthreads=2)
    np.testing.assert_array_equal(arrays[0][:], one)


def test_training_the_new_kinds_is_deterministic(halves, trained):
    for name in ("residual_mean", "scalar_lloyd_max"):
        assert blosc2_vq.train(halves[0], seed=0, **KINDS[name][0]) == trained(name), name
    # The seed draws the training values.
    assert blosc2_vq.train(halves[0], seed=1, **KINDS["scalar_lloyd_max"][0]) != trained("scalar_lloyd_max")


def test_mean_removal_and_lloyd_max_pay_off(halves, trained):
    """What each option is for: mean removal and beam search improve residual VQ, Lloyd-Max
    levels have the least squared error of the three scalar methods."""
    test = halves[1][:50]

    def quality(name):
        arr = blosc2_vq.compress(test, trained(name), chunks=(10, 64, 64), blocks=(1, 64, 64))
        return psnr(test, arr[:])

    assert quality("residual_mean") > quality("residual") + 1.0
    # The default beam of 4 finds better codes than greedy search (beam 1).
    greedy = blosc2_vq.train(halves[0], seed=0, beam=1, **KINDS["residual"][0])
    arr = blosc2_vq.compress(test, greedy, chunks=(10, 64, 64), blocks=(1, 64, 64))
    assert quality("residual") > psnr(test, arr[:])
    lloyd = quality("scalar_lloyd_max")
    assert lloyd > quality("scalar_uniform") and lloyd > quality("scalar_quantile")


def test_sparse_weights_shrink_blocks(halves, trained, codebooks):
    """kept_weights=2 stores two prototype indexes and one weight per tile instead of 36
    weights: blocks at least 6 times smaller than with the (dense) session AA codebook's
    (measured 7.6)."""
    test = halves[1][:20]
    sizes = {}
    for name, cb in (("dense", codebooks["aa"]), ("sparse", trained("aa_sparse"))):
        sizes[name] = blosc2_vq.compress(test, cb, chunks=(10, 64, 64), blocks=(1, 64, 64)).schunk.cbytes
    assert sizes["dense"] >= 6 * sizes["sparse"], sizes


def test_plain_schunk_with_square_blocks(halves, trained):
    """A plain SChunk (no b2nd metalayer): the codec takes each 64x64 float32 block as one
    image, as the reference notebook did."""
    test = np.ascontiguousarray(halves[1][:16])
    params = blosc2_vq.cparams(nthreads=2, typesize=4, blocksize=64 * 64 * 4)
    for name in ("residual_mean", "scalar_quantile"):
        schunk = blosc2.SChunk(
            chunksize=4 * 64 * 64 * 4, data=test, cparams=params, dparams={"nthreads": 2}, meta={"vq": trained(name)}
        )
        assert schunk.nchunks == 4 and schunk.cratio > 8
        rec = np.frombuffer(schunk[:], dtype=np.float32).reshape(test.shape)
        via_array = blosc2_vq.compress(test, trained(name), chunks=(4, 64, 64), blocks=(1, 64, 64))[:]
        # The same tiles, so the same reconstruction as through a b2nd array.
        np.testing.assert_array_equal(rec, via_array)
        assert psnr(test, rec) >= KINDS[name][2]


@pytest.fixture(scope="module")
def volumes(faces):
    """3-D data: each person's 10 faces as one (10, 64, 64) volume, 40 volumes; even ones
    for training, odd ones for testing."""
    vol = faces.reshape(40, 10, 64, 64)
    return vol[::2], vol[1::2]


@pytest.mark.parametrize(
    "model, kwargs, max_bpp, min_psnr",
    [
        # measured 0.782 bpp, 29.48 dB
        ("residual", dict(n_prototypes=64, n_stages=3, mean_bits=6, n_samples=5000), 0.82, 28.9),
        # measured 0.250 bpp, 24.23 dB
        ("kmeans", dict(n_prototypes=128, n_samples=5000), 0.265, 23.7),
    ],
)
def test_3d_tiles(volumes, model, kwargs, max_bpp, min_psnr):
    train, test = volumes
    cb = blosc2_vq.train(train, model=model, tile=(2, 4, 4), seed=0, **kwargs)
    assert blosc2_vq.Codebook.from_bytes(cb).tile_shape == (2, 4, 4)
    arrays = [
        blosc2.asarray(
            test,
            chunks=(1, 10, 64, 64),
            blocks=(1, 10, 32, 32),
            meta={"vq": cb},
            cparams=blosc2_vq.cparams(nthreads=n),
            dparams={"nthreads": n},
        )
        for n in (1, 2)
    ]
    rec = arrays[0][:]
    np.testing.assert_array_equal(rec, arrays[1][:])
    bpp, quality = bits_per_value(arrays[0]), psnr(test, rec)
    print(f"3-D {model}: {bpp:.3f} bits/value, PSNR {quality:.2f} dB")
    assert bpp <= max_bpp and quality >= min_psnr, (bpp, quality)


def test_2d_array_mosaic(faces):
    """A 2-D array (100 faces as a 640x640 mosaic) with 2-D blocks that are not whole faces."""
    mosaic = np.ascontiguousarray(faces[:100].reshape(10, 10, 64, 64).transpose(0, 2, 1, 3).reshape(640, 640))
    for model, kwargs, min_psnr in (
        ("residual", dict(n_samples=8000), 31.9),  # measured 32.39 dB
        ("scalar", dict(scalar_method="uniform", scalar_bits=5), 41.7),
    ):  # 42.25
        cb = blosc2_vq.train(mosaic, model=model, seed=0, **kwargs)
        arrays = [
            blosc2.asarray(
                mosaic,
                chunks=(128, 640),
                blocks=(64, 64),
                meta={"vq": cb},
                cparams=blosc2_vq.cparams(nthreads=n),
                dparams={"nthreads": n},
            )
            for n in (1, 2)
        ]
        rec = arrays[0][:]
        np.testing.assert_array_equal(rec, arrays[1][:])
        assert rec.shape == (640, 640)
        assert psnr(mosaic, rec) >= min_psnr, (model, psnr(mosaic, rec))


@pytest.fixture(scope="module")
def decades(faces):
    """Positive data over five decades (as plasma distribution functions are): the faces as
    10**(-16 + 5 f), 3-D (400, 64, 64), with the darkest pixels empty (0)."""
    values = np.where(faces < 0.08, 0.0, 10.0 ** (-16 + 5 * faces.astype(np.float64))).astype(np.float32)
    assert 0 < (values == 0).mean() < 0.01 and values.max() / values[values > 0].min() > 1e4
    return values[::2], values[1::2]


def test_log10_transform_on_data_spanning_decades(decades):
    train, test = decades
    floor = 1e-16
    kwargs = dict(model="residual", mean_bits=6, n_samples=8000, seed=0)
    cb = blosc2_vq.train(train, log10_floor=floor, **kwargs)
    info = blosc2_vq.Codebook.from_bytes(cb)
    assert info.transform == "log10" and info.log10_floor == floor
    arrays = [
        blosc2.asarray(
            test,
            chunks=(16, 64, 64),
            blocks=(1, 64, 64),
            meta={"vq": cb},
            cparams=blosc2_vq.cparams(nthreads=n),
            dparams={"nthreads": n},
        )
        for n in (1, 2)
    ]
    rec = arrays[0][:]
    np.testing.assert_array_equal(rec, arrays[1][:])
    assert np.isfinite(rec).all() and rec.min() >= 0
    # Decoded values at or below the floor are "empty": 0, never a tiny positive value.
    assert not ((rec > 0) & (rec <= np.float32(floor))).any()
    log_test, log_rec = (np.log10(np.maximum(v.astype(np.float64), floor)) for v in (test, rec))
    nonzero = test > 0
    rel = np.abs(rec[nonzero].astype(np.float64) - test[nonzero]) / test[nonzero]
    # measured: log-domain PSNR 33.68 dB, median relative error 0.103
    assert psnr(log_test, log_rec, np.ptp(log_test)) >= 33.1
    assert np.median(rel) <= 0.12
    # Without the transform the codebook spends itself on the largest values: measured median
    # relative error 0.170.
    plain = blosc2_vq.compress(test, blosc2_vq.train(train, **kwargs), chunks=(16, 64, 64), blocks=(1, 64, 64))[:]
    plain_rel = np.abs(plain[nonzero].astype(np.float64) - test[nonzero]) / test[nonzero]
    assert np.median(rel) < 0.75 * np.median(plain_rel), (np.median(rel), np.median(plain_rel))
