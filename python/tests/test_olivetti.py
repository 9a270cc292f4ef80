"""The Olivetti faces through python-blosc2 with the plugin, against the reference notebook."""

import time

import blosc2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

import blosc2_vq

# Reference notebook (Python codec): ratio, mean SSIM.
FLOORS = {"cmeans": (2.56, 0.706), "aa": (2.40, 0.920)}


def mean_ssim(a, b):
    return float(np.mean([structural_similarity(x, y, data_range=1) for x, y in zip(a, b, strict=True)]))


@pytest.mark.parametrize("model", ["cmeans", "aa"])
def test_round_trip_reaches_the_reference(faces, codebooks, model):
    t0 = time.perf_counter()
    arr = blosc2.asarray(
        faces,
        chunks=(1, 64, 64),
        blocks=(1, 64, 64),
        meta={"vq": codebooks[model]},
        cparams=blosc2_vq.cparams(nthreads=1),
    )
    t1 = time.perf_counter()
    rec = arr[:]
    t2 = time.perf_counter()
    ratio, ssim = arr.schunk.cratio, mean_ssim(faces, rec)
    psnr = 10 * np.log10(1 / np.mean((faces - rec) ** 2))
    print(
        f"{model}: ratio {ratio:.2f} PSNR {psnr:.2f} SSIM {ssim:.3f} "
        f"encode {faces.nbytes / 1e6 / (t1 - t0):.1f} MB/s decode {faces.nbytes / 1e6 / (t2 - t1):.1f} MB/s"
    )
    assert rec.shape == faces.shape and rec.dtype == np.float32
    assert ratio >= FLOORS[model][0]
    assert ssim >= FLOORS[model][1]


@pytest.mark.parametrize("model", ["cmeans", "aa"])
def test_one_and_four_threads_give_identical_data(faces, codebooks, model):
    arrays = [
        blosc2.asarray(
            faces[:100],
            chunks=(1, 64, 64),
            blocks=(1, 64, 64),
            meta={"vq": codebooks[model]},
            cparams=blosc2_vq.cparams(nthreads=n),
            dparams={"nthreads": n},
        )
        for n in (1, 4)
    ]
    assert arrays[0].schunk.nchunks == arrays[1].schunk.nchunks == 100
    for i in range(100):
        assert arrays[0].schunk.get_chunk(i) == arrays[1].schunk.get_chunk(i), f"chunk {i} differs"
    # Several blocks per chunk, so c-blosc2's threads really share the work.
    multi = [
        blosc2.asarray(
            faces[:64],
            chunks=(16, 64, 64),
            blocks=(1, 64, 64),
            meta={"vq": codebooks[model]},
            cparams=blosc2_vq.cparams(nthreads=n),
            dparams={"nthreads": n},
        )
        for n in (1, 4)
    ]
    np.testing.assert_array_equal(multi[0][:], multi[1][:])


def test_codebook_inspection(codebooks):
    aa = blosc2_vq.Codebook.from_bytes(codebooks["aa"])
    assert aa.kind == "archetypal" and aa.n_prototypes == 36 and aa.tile_shape == (4, 4)
    assert aa.prototypes.shape == (36, 16) and aa.mean.shape == (4, 4) and aa.scale.shape == (4, 4)
    assert aa.weight_bits == 8 and aa.training["n_samples"] == 1000
    cm = blosc2_vq.Codebook.from_bytes(codebooks["cmeans"])
    assert cm.kind == "fuzzy_cmeans" and cm.metric == "cosine" and cm.fuzzifier == 2.0
    # Archetypes are convex mixtures of training tiles: they stay inside the data's range.
    tiles = aa.prototype_tiles()
    assert tiles.shape == (36, 4, 4) and tiles.min() >= -0.01 and tiles.max() <= 1.01


def test_training_is_deterministic(faces, codebooks):
    again = blosc2_vq.train(faces, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0)
    assert again == codebooks["aa"]
    other = blosc2_vq.train(faces, model="aa", n_prototypes=36, tile=(4, 4), n_samples=1000, seed=1)
    assert other != codebooks["aa"]


def test_float64_and_3d_tiles(faces):
    vol = np.stack(
        [np.outer(np.hanning(32), np.hanning(32))[None] * np.hanning(32)[:, None, None] * (i + 1) for i in range(4)]
    ).astype(np.float64)
    cb = blosc2_vq.train(vol, model="cmeans", n_prototypes=16, tile=(4, 4, 4), n_samples=2000, metric="euclidean")
    arr = blosc2_vq.compress(vol, cb, chunks=(1, 32, 32, 32), blocks=(1, 16, 16, 16), nthreads=2)
    rec = arr[:]
    assert rec.dtype == np.float64 and rec.shape == vol.shape
    psnr = 10 * np.log10(np.ptp(vol) ** 2 / np.mean((vol - rec) ** 2))
    assert psnr > 25, psnr


def test_kmeans_hard_vq(faces):
    cb = blosc2_vq.train(faces[::2], model="kmeans", n_prototypes=256, n_samples=20000, seed=0)
    assert blosc2_vq.Codebook.from_bytes(cb).kind == "kmeans"
    test = faces[1::2]
    arr = blosc2_vq.compress(test, cb, chunks=(16, 64, 64), blocks=(1, 64, 64))
    rec = arr[:]
    bpp = 32 / arr.schunk.cratio
    psnr = 10 * np.log10(1 / np.mean((test - rec) ** 2))
    assert bpp < 0.6 and psnr > 26, (bpp, psnr)
