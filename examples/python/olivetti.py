"""The reference notebook's flow with the blosc2-vq plugin: train Archetypal Analysis and Fuzzy
C-Means codebooks on 1000 random 4x4 tiles of the Olivetti faces, compress the faces with
python-blosc2, print the SSIM summary and the compression ratios (and speeds with 1 and 2
threads), and save the originals / AA / CMeans figure as a PNG.

    python examples/python/olivetti.py [figure.png]

The faces are read from ../shared/data/olivetti_faces_u8.npy next to the repository (or
$BLOSC2_VQ_OLIVETTI), scaled and shuffled exactly as scikit-learn's
fetch_olivetti_faces(shuffle=True, random_state=0) returns them.
"""
import os
import sys
import time
from pathlib import Path

import blosc2
import imageio.v3 as iio
import numpy as np
from skimage.metrics import structural_similarity

import blosc2_vq

ROOT = Path(__file__).resolve().parents[2]
FACES = Path(os.environ.get("BLOSC2_VQ_OLIVETTI", ROOT.parent / "shared" / "data" / "olivetti_faces_u8.npy"))


def load_faces():
    if not FACES.exists():
        sys.exit(f"the Olivetti faces are missing at {FACES}; set BLOSC2_VQ_OLIVETTI")
    images = np.load(FACES).astype(np.float32) / 242
    return images[np.random.RandomState(0).permutation(len(images))]


def main():
    out_png = sys.argv[1] if len(sys.argv) > 1 else "compression_faces.png"
    data = load_faces()
    codec_id = blosc2_vq.register()

    codebooks = {}
    for name, model, extra in (("AA", "aa", {"n_init": 1}), ("CMeans", "cmeans", {"m": 2.0, "metric": "cosine"})):
        t0 = time.perf_counter()
        codebooks[name] = blosc2_vq.train(data, model=model, n_prototypes=36, tile=(4, 4), n_samples=1000, seed=0,
                                          max_iter=100, tol=1e-6, **extra)
        print(f"{name} trained in {1e3 * (time.perf_counter() - t0):.0f} ms")

    compressed, speeds = {}, []
    for name, cb in codebooks.items():
        for nthreads in (1, 2):
            t0 = time.perf_counter()
            arr = blosc2.asarray(data, chunks=(1, 64, 64), blocks=(1, 64, 64), meta={"vq": cb},
                                 cparams=blosc2_vq.cparams(codec_id, nthreads=nthreads), dparams={"nthreads": nthreads})
            t1 = time.perf_counter()
            rec = arr[:]
            t2 = time.perf_counter()
            speeds.append((name, nthreads, data.nbytes / 1e6 / (t1 - t0), data.nbytes / 1e6 / (t2 - t1)))
            compressed[name] = (arr, rec)

    ssim = {name: [structural_similarity(o, r, data_range=1) for o, r in zip(data, rec)]
            for name, (_, rec) in compressed.items()}
    print("\nSSIM Summary Statistics:")
    print(f"{'':8}{'Min':>7}{'P25':>7}{'P75':>7}{'Max':>7}{'Mean':>7}{'Std':>7}")
    for name in ("CMeans", "AA"):
        s = np.asarray(ssim[name])
        row = (s.min(), np.percentile(s, 25), np.percentile(s, 75), s.max(), s.mean(), s.std())
        print(f"{name:8}" + "".join(f"{v:7.2f}" for v in row))

    print("\nCompression Ratios:")
    for name in ("CMeans", "AA"):
        arr, rec = compressed[name]
        psnr = 10 * np.log10(1 / np.mean((data - rec) ** 2))
        print(f"  {name}: {arr.schunk.cratio:.2f}x  ({32 / arr.schunk.cratio:.2f} bits per pixel, PSNR {psnr:.2f} dB)")

    print("\nSpeed (MB/s of float32 faces):")
    for name, nthreads, enc, dec in speeds:
        print(f"  {name:6} nthreads={nthreads}: encode {enc:8.1f}  decode {dec:8.1f}")

    # Originals, AA, CMeans for ten random faces, as the notebook's figure.
    idx = np.random.RandomState(2).choice(len(data), 10)
    rows = [data[idx], compressed["AA"][1][idx], compressed["CMeans"][1][idx]]
    gap = 2
    canvas = np.ones((3 * (64 + gap) + gap, 10 * (64 + gap) + gap), dtype=np.float32)
    for r, faces in enumerate(rows):
        for c, face in enumerate(faces):
            y, x = gap + r * (64 + gap), gap + c * (64 + gap)
            canvas[y:y + 64, x:x + 64] = np.clip(face, 0, 1)
    iio.imwrite(out_png, (canvas * 255).round().astype(np.uint8))
    print(f"\nrows: original, AA, CMeans -> {out_png}")


if __name__ == "__main__":
    main()
