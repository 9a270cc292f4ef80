"""The codebook kinds side by side on the Olivetti faces: train on every other face, compress
the others with python-blosc2 and the vq codec, and print bits per value, PSNR and codebook
size for each.

    python examples/python/codebook_kinds.py

The faces are read from ../shared/data/olivetti_faces_u8.npy next to the repository (or
$BLOSC2_VQ_OLIVETTI).
"""
import os
import sys
import time
from pathlib import Path

import blosc2
import numpy as np

import blosc2_vq

ROOT = Path(__file__).resolve().parents[2]
FACES = Path(os.environ.get("BLOSC2_VQ_OLIVETTI", ROOT.parent / "shared" / "data" / "olivetti_faces_u8.npy"))

# name: train() arguments (4x4 tiles unless said otherwise).
KINDS = {
    # One 8-bit weight per prototype and tile.
    "aa (dense)": dict(model="aa", n_prototypes=36),
    # Only each tile's 2 largest weights: 2 indexes and 1 weight per tile.
    "aa, kept_weights=2": dict(model="aa", n_prototypes=36, kept_weights=2),
    # One 8-bit codeword index per tile.
    "kmeans 256": dict(model="kmeans", n_prototypes=256, n_samples=8000),
    # Two stages of 256 codewords: two 8-bit indexes per tile.
    "residual 2x256": dict(model="residual", n_stages=2, n_prototypes=256, n_samples=8000),
    # A 6-bit tile mean removed first, then three stages of 64 codewords.
    "residual 3x64, mean_bits=6": dict(model="residual", n_stages=3, n_prototypes=64, mean_bits=6, n_samples=8000),
    # Every value on its own: 16 levels (4 bits), placed by Lloyd-Max or equal-width bins.
    "scalar lloyd_max 4 bits": dict(model="scalar", scalar_method="lloyd_max", scalar_bits=4, n_samples=20000),
    "scalar uniform 4 bits": dict(model="scalar", scalar_method="uniform", scalar_bits=4, n_samples=20000),
}


def main():
    if not FACES.exists():
        sys.exit(f"the Olivetti faces are missing at {FACES}; set BLOSC2_VQ_OLIVETTI")
    faces = np.load(FACES).astype(np.float32) / 242
    train, test = faces[::2], faces[1::2]
    blosc2_vq.register()
    print(f"{'codebook':28s} {'bits/value':>10s} {'PSNR dB':>8s} {'codebook B':>10s} {'train s':>8s}")
    for name, kwargs in KINDS.items():
        t0 = time.perf_counter()
        cb = blosc2_vq.train(train, seed=0, **kwargs)
        seconds = time.perf_counter() - t0
        arr = blosc2.asarray(test, chunks=(20, 64, 64), blocks=(1, 64, 64), meta={"vq": cb},
                             cparams=blosc2_vq.cparams(nthreads=2))
        rec = arr[:]
        psnr = 10 * np.log10(1 / np.mean((test.astype(np.float64) - rec) ** 2))
        print(f"{name:28s} {32 / arr.schunk.cratio:10.3f} {psnr:8.2f} {len(cb):10d} {seconds:8.2f}")
    print(blosc2_vq.Codebook.from_bytes(cb))


if __name__ == "__main__":
    main()
