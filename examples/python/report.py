"""Side-by-side report: blosc2-vq against real peers (SZ3, JPEG-XL, ZFP through zfpy and
python-blosc2's built-in ZFP codecs) on the SAME held-out data, in one process.

    pip install ".[report]"      # from the repository root: the package and the peers (the `report` extra)
    python examples/python/report.py [--out DIR] [--quick]

Prints markdown tables and writes PNG plots to --out (default ./report):
faces_psnr_bpp.png, faces_bounded_bpp.png and vdf_bars.png.

Data
- Olivetti faces: ../shared/data/olivetti_faces_u8.npy next to the repository (or
  $BLOSC2_VQ_OLIVETTI), uint8 400x64x64; images = u8 / 242 as float32 (scikit-learn's
  faces.images, unshuffled). Codebooks are trained on the even faces [0::2], everything is
  measured on the 200 odd faces [1::2].
- Synthetic plasma velocity distribution functions (VDFs), the idea of tests/common/vdf.rs in
  numpy (not bit-identical): float64 cubes on a -4..4 thermal-speed grid, values ~1e-15..1e-12,
  cells below the 1e-15 sparsity threshold exactly 0. Three families: "maxwellian" (drifting
  bi-Maxwellian core and 0-2 field-aligned beams), "kappa" (the same populations as bi-kappa
  distributions of the same temperatures, kappa 2..6: sharper cores, power-law wings) and
  "ring" (a gyrotropic ring or a spherical shell around a small core). Training and test VDFs
  come from different seeds.

Measures (test data only)
- bpp: bits per value from the compressed bytes. For blosc2 containers (ours, blosc2 ZFP) the
  chunk bytes (schunk.cbytes); for ours also "file bpp", the size of the .b2nd file written
  with urlpath, which includes the codebook metalayer. zfpy and SZ3 streams carry their own
  headers, so their bpp is already the whole stream.
- faces: PSNR with peak 1.0, mean SSIM over the faces (skimage, data_range=1), max abs error.
- VDFs: relative L2 error, max abs error, fraction of the values above 1e-15 decoded within
  10 % relative error, fraction of the empty cells decoded as exactly 0, and the relative errors
  of the density, bulk velocity and temperature moments, mean over the VDFs (the bulk velocity
  error is |du| divided by the thermal speed sqrt(T): many VDFs have a bulk velocity near 0).
- encode / decode MB/s: wall clock of compressing / decompressing the whole test set, MB = 1e6
  bytes of input (float32 faces, float64 VDFs), the fastest of --repeats runs (default 3).
  blosc2 uses blosc2.nthreads threads; zfpy and SZ3 (pysz, no OpenMP) run on one thread;
  JPEG-XL uses imagecodecs' default threads. Training time is printed, not counted.

Peers and their settings
- SZ3 (pysz): absolute error bound (ABS). Faces both per image (2-D) and on the stack of test
  faces as one 3-D array (where it also exploits the similarity of neighbouring faces). VDFs
  per 32^3 VDF: what SZ3 users do for a point-wise relative bound (SZ3 has no point-wise
  relative mode; its REL is relative to the value range) is ABS on log10(max(v, 1e-16)) with
  bound log10(1.1), decoded values at or below the floor (+ bound) set to 0, as our codec's
  log10 transform does; plus plain ABS 1e-13 for a like-for-like with ZFP.
- zfpy: fixed accuracy (tolerance=), faces per image (2-D, smaller than 3-D on the stack),
  VDFs per 32^3 VDF (3-D) at tolerance 1e-13 (the reference notebook's setting).
- python-blosc2 ZFP_ACC / ZFP_RATE / ZFP_PREC: they refuse blocks with an axis shorter than
  ZFP's 4-value cell, such as (1, 64, 64), so the faces are given as a 2-D (n*64, 64) array
  with blocks (64, 64) (each block one face) and VDFs as (n*32, 32, 32) with blocks (32, 32, 32).
  ZFP_ACC's codec_meta is a signed power of ten (tolerance 10**meta), so a bound that is not a
  power of ten is run at the next power of ten below it; ZFP_RATE's is a percentage of the
  value's bits, ZFP_PREC's the bit planes kept.
- JPEG-XL (imagecodecs): the 200 test faces as one 640x1280 mosaic (10 rows x 20 faces),
  coded from float32 in [0, 1] (imagecodecs takes float images directly; it decodes to float32)
  at several Butteraugli distances (distance=, effort 7, the default).
- ours: residual VQ codebooks (256 codewords x 4 stages, 8-bit tile means). Faces: 4x8 tiles,
  blocks (1, 64, 64), chunks (16, 64, 64), error-bounded (max_error=bound) and, for the curve,
  without a bound at 1, 2 and 4 stages. VDFs: 4x4x4 tiles, log10_floor=1e-16,
  max_error=log10(1.1) (10 % relative, in decades), blocks (1, 32, 32, 32), chunks (8, ...).
  While the installed blosc2_vq has no max_error in compress/train, our rows are skipped with a
  warning and the peers still run.
"""
import argparse
import inspect
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FACES = ROOT.parent / "shared" / "data" / "olivetti_faces_u8.npy"

SPARSITY = 1e-15  # Vlasiator's threshold: smaller densities are not stored (0)
V_MAX = 4.0  # the velocity grid spans -V_MAX..V_MAX thermal speeds
PEAK = 1e-12  # typical peak density of a core population
ROUGHNESS = 0.03  # relative cell-to-cell roughness (uniform in +-ROUGHNESS)
LOG10_FLOOR = 1e-16  # floor of the log10 transform (ours and SZ3 on log10)
REL10_DECADES = math.log10(1.1)  # a 10 % relative bound, in decades

WARNINGS = []


def warn(message):
    if message not in WARNINGS:
        WARNINGS.append(message)
    print(f"warning: {message}", flush=True)


# ----------------------------------------------------------------------------------------------
# Data


def load_faces():
    """(train, test): the even and the odd faces, float32 in [0, 1]."""
    path = Path(os.environ.get("BLOSC2_VQ_OLIVETTI", DEFAULT_FACES))
    if not path.exists():
        sys.exit(f"the Olivetti faces are missing at {path}; set BLOSC2_VQ_OLIVETTI to their .npy file")
    images = np.load(path).astype(np.float32) / 242
    return np.ascontiguousarray(images[0::2]), np.ascontiguousarray(images[1::2])


def velocity_axis(side):
    """The centres of the velocity cells along one axis."""
    return -V_MAX + (np.arange(side) + 0.5) * (2 * V_MAX / side)


def velocity_grid(side):
    """(3, side, side, side): vx, vy, vz of every cell (vx slowest, as in tests/common/vdf.rs)."""
    c = velocity_axis(side)
    return np.stack(np.meshgrid(c, c, c, indexing="ij"))


def unit_vector(rng):
    while True:  # rejection from the cube gives a uniform direction
        v = rng.uniform(-1, 1, 3)
        n2 = v @ v
        if 1e-3 < n2 <= 1:
            return v / math.sqrt(n2)


def along_across(V, drift, axis):
    """Velocity relative to `drift`, split into the component along `axis` and |across|^2."""
    d = V - np.asarray(drift)[:, None, None, None]
    par = np.tensordot(axis, d, axes=1)
    return par, np.maximum((d * d).sum(0) - par * par, 0.0)


def bi_shape(V, amp, drift, axis, s_par, s_perp, kappa=None):
    """A drifting bi-Maxwellian with thermal spreads `s_par` (along `axis`) and `s_perp`, or,
    when `kappa` is given, the bi-kappa distribution of the same temperatures:
    `(1 + q / (2 kappa - 3))**-(kappa + 1)` with `q = v_par**2 / s_par**2 + v_perp**2 / s_perp**2`
    (kappa's theta**2 = (2 kappa - 3) / kappa * s**2): a sharper core and power-law wings."""
    par, perp2 = along_across(V, drift, axis)
    q = par * par / (s_par * s_par) + perp2 / (s_perp * s_perp)
    if kappa is None:
        return amp * np.exp(-q / 2)
    return amp * (1 + q / (2 * kappa - 3)) ** (-(kappa + 1))


def core_and_beams(rng, V, kappa=None):
    """tests/common/vdf.rs' populations: a core (peak 0.5e-12..1.6e-12, drift up to ~0.7,
    anisotropy 0.4..2.5) and 0 to 2 colder field-aligned beams at 3 % to 30 % of its peak."""
    axis = unit_vector(rng)
    s_perp = rng.uniform(0.55, 1.0)
    amp = PEAK * 10 ** rng.uniform(-0.3, 0.2)
    drift = rng.uniform(-0.4, 0.4, 3)
    s_par = s_perp * math.sqrt(rng.uniform(0.4, 2.5))
    f = bi_shape(V, amp, drift, axis, s_par, s_perp, kappa)
    for b in range(rng.integers(0, 3)):
        along = (1 if b == 0 else -1) * rng.uniform(1.4, 2.6)
        beam_drift = drift + along * axis + rng.uniform(-0.2, 0.2, 3)
        f += bi_shape(V, amp * 10 ** rng.uniform(-1.5, -0.5), beam_drift, axis,
                      rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.7), kappa)
    return f


def maxwellian_vdf(rng, V):
    return core_and_beams(rng, V)


def kappa_vdf(rng, V):
    return core_and_beams(rng, V, kappa=rng.uniform(2.0, 6.0))


def ring_vdf(rng, V):
    """A gyrotropic ring (around the field) or a spherical shell, around a small core."""
    axis = unit_vector(rng)
    drift = rng.uniform(-0.4, 0.4, 3)
    amp = PEAK * 10 ** rng.uniform(-0.3, 0.2)
    radius, width = rng.uniform(1.2, 2.6), rng.uniform(0.25, 0.5)
    par, perp2 = along_across(V, drift, axis)
    if rng.random() < 0.5:
        s_par = rng.uniform(0.3, 0.7)
        f = amp * np.exp(-(np.sqrt(perp2) - radius) ** 2 / (2 * width ** 2) - par * par / (2 * s_par ** 2))
    else:
        f = amp * np.exp(-(np.sqrt(perp2 + par * par) - radius) ** 2 / (2 * width ** 2))
    s_core = rng.uniform(0.3, 0.6)
    f += bi_shape(V, amp * 10 ** rng.uniform(-1.0, 0.0), drift, axis, s_core, s_core)
    return f


FAMILIES = {"maxwellian": maxwellian_vdf, "kappa": kappa_vdf, "ring": ring_vdf}


def make_vdfs(family, n, side, seed):
    """(n, side, side, side) float64 VDFs of `family`, with roughness and the sparsity cut."""
    rng = np.random.default_rng(seed)
    V = velocity_grid(side)
    out = np.empty((n, side, side, side))
    for i in range(n):
        f = FAMILIES[family](rng, V) * (1 + rng.uniform(-ROUGHNESS, ROUGHNESS, (side,) * 3))
        f[f < SPARSITY] = 0.0
        out[i] = f
    return out


# ----------------------------------------------------------------------------------------------
# Codecs: each codes the whole test set and returns a Coded.


class Coded(NamedTuple):
    rec: np.ndarray
    nbytes: int  # compressed bytes (chunk bytes for blosc2 containers)
    t_enc: float
    t_dec: float
    file_bytes: Optional[int] = None  # ours: the .b2nd file, codebook included


def per_item(data, encode, decode):
    """Codes every item of `data` on its own (`encode(item) -> bytes-like`,
    `decode(stream, item_shape) -> array`)."""
    t0 = time.perf_counter()
    streams = [encode(np.ascontiguousarray(x)) for x in data]
    t1 = time.perf_counter()
    rec = np.stack([decode(s, data.shape[1:]) for s in streams])
    t2 = time.perf_counter()
    return Coded(rec, sum(len(s) for s in streams), t1 - t0, t2 - t1)


def sz3_config(shape, abs_bound):
    from pysz import szConfig, szErrorBoundMode

    config = szConfig(shape)
    config.errorBoundMode = szErrorBoundMode.ABS
    config.absErrorBound = abs_bound
    return config


def sz3_abs(data, bound, stacked=False):
    """SZ3 with an absolute bound: per item, or on the whole array when `stacked`."""
    from pysz import sz

    def encode(x):
        return sz.compress(x, sz3_config(x.shape, bound))[0]

    def decode(stream, shape):
        return sz.decompress(stream, data.dtype, shape)[0]

    return whole(data, encode, decode) if stacked else per_item(data, encode, decode)


def whole(data, encode, decode):
    """Codes `data` as one array."""
    t0 = time.perf_counter()
    stream = encode(np.ascontiguousarray(data))
    t1 = time.perf_counter()
    rec = decode(stream, data.shape)
    t2 = time.perf_counter()
    return Coded(rec, len(stream), t1 - t0, t2 - t1)


def sz3_log10(data, decades, floor=LOG10_FLOOR):
    """SZ3 ABS on log10(max(v, floor)) per item; decoded values within the bound of the floor
    are 0 (the empty cells), the others 10**x."""
    from pysz import sz

    def encode(x):
        logx = np.log10(np.maximum(x, floor))
        return sz.compress(logx, sz3_config(x.shape, decades))[0]

    def decode(stream, shape):
        logx = sz.decompress(stream, np.float64, shape)[0]
        return np.where(logx <= math.log10(floor) + decades, 0.0, 10.0 ** logx)

    return per_item(data, encode, decode)


def zfpy_accuracy(data, tolerance):
    """zfpy fixed accuracy, every item on its own (2-D faces, 3-D VDFs)."""
    import zfpy

    return per_item(data, lambda x: zfpy.compress_numpy(x, tolerance=tolerance),
                    lambda s, shape: zfpy.decompress_numpy(s))


def blosc2_zfp(data, codec_name, meta, items_per_chunk):
    """python-blosc2's built-in ZFP codec `codec_name` with `codec_meta=meta` (a signed value
    for ZFP_ACC is passed as its uint8 two's complement). Items are stacked along the first axis
    so that each block is one item with no axis shorter than ZFP's cell."""
    import blosc2

    item = data.shape[1:]
    flat = data.reshape((-1,) + item[1:])
    cparams = {"codec": getattr(blosc2.Codec, codec_name), "codec_meta": meta & 0xFF, "filters": [],
               "filters_meta": [], "splitmode": blosc2.SplitMode.NEVER_SPLIT}
    t0 = time.perf_counter()
    arr = blosc2.asarray(flat, chunks=(items_per_chunk * item[0],) + item[1:], blocks=item, cparams=cparams)
    t1 = time.perf_counter()
    rec = arr[...]
    t2 = time.perf_counter()
    return Coded(rec.reshape(data.shape), arr.schunk.cbytes, t1 - t0, t2 - t1)


def mosaic_shape(n):
    """(rows, cols) of a mosaic of n tiles, about twice as wide as high (10 x 20 for 200)."""
    cols = next(c for c in range(max(1, math.ceil(math.sqrt(2 * n))), n + 1) if n % c == 0)
    return n // cols, cols


def jpegxl_mosaic(images, distance):
    """JPEG-XL on all images as one float32 mosaic at Butteraugli `distance`."""
    import imagecodecs

    n, h, w = images.shape
    rows, cols = mosaic_shape(n)
    t0 = time.perf_counter()
    mosaic = np.ascontiguousarray(images.reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w))
    stream = imagecodecs.jpegxl_encode(mosaic, distance=distance)
    t1 = time.perf_counter()
    dec = imagecodecs.jpegxl_decode(stream).astype(np.float32)
    rec = dec.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(n, h, w)
    t2 = time.perf_counter()
    return Coded(rec, len(stream), t1 - t0, t2 - t1)


class Ours:
    """blosc2_vq, if the installed package has the error-bounded API (`max_error`)."""

    def __init__(self, tmpdir):
        self.tmpdir = Path(tmpdir)
        self.vq = None
        try:
            import blosc2_vq
        except ImportError as e:
            warn(f"blosc2_vq is not installed ({e}): our rows are skipped")
            return
        missing = [f.__name__ for f in (blosc2_vq.train, blosc2_vq.compress)
                   if "max_error" not in inspect.signature(f).parameters]
        if missing:
            names = " and ".join(f"blosc2_vq.{name}" for name in missing)
            warn(f"{names} take(s) no max_error yet: our rows are skipped")
            return
        blosc2_vq.register()
        self.vq = blosc2_vq
        self.files = 0

    def train(self, data, **kwargs):
        """A codebook (bytes), or None (with a warning) when the API refuses the call."""
        if self.vq is None:
            return None
        t0 = time.perf_counter()
        try:
            cb = self.vq.train(data, **kwargs)
        except (TypeError, KeyError) as e:
            warn(f"blosc2_vq.train refused the report's keywords ({type(e).__name__}: {e}): our rows are skipped")
            self.vq = None
            return None
        except Exception as e:  # e.g. VQError: this codebook's rows are left out
            warn(f"blosc2_vq.train {kwargs} on {data.shape} failed ({type(e).__name__}: {e})")
            return None
        print(f"ours: trained {kwargs} on {data.shape} in {time.perf_counter() - t0:.1f} s, "
              f"codebook {len(cb)} bytes", flush=True)
        return cb

    def code(self, data, codebook, max_error, chunks, blocks):
        """Codes `data` in memory (timed, best_of) and again into a .b2nd file (for its size)."""
        if self.vq is None or codebook is None:
            return None
        return best_of(self._code, data, codebook, max_error, chunks, blocks)

    def _code(self, data, codebook, max_error, chunks, blocks):
        if self.vq is None:
            return None
        try:
            t0 = time.perf_counter()
            arr = self.vq.compress(data, codebook, chunks=chunks, blocks=blocks, max_error=max_error)
            t1 = time.perf_counter()
            rec = arr[...]
            t2 = time.perf_counter()
            self.files += 1
            path = self.tmpdir / f"ours{self.files}.b2nd"
            self.vq.compress(data, codebook, chunks=chunks, blocks=blocks, max_error=max_error,
                             urlpath=str(path), mode="w")
        except (TypeError, KeyError) as e:
            warn(f"blosc2_vq.compress refused max_error ({type(e).__name__}: {e}): our rows are skipped")
            self.vq = None
            return None
        except Exception as e:  # e.g. VQError: this row is left out
            warn(f"blosc2_vq.compress with max_error={max_error} on {data.shape} failed ({type(e).__name__}: {e})")
            return None
        return Coded(rec, arr.schunk.cbytes, t1 - t0, t2 - t1, path.stat().st_size)


REPEATS = 1  # set by --repeats


def best_of(fn, *args, **kwargs):
    """`fn(...)` run REPEATS times: the last result, with the fastest encode and decode times."""
    runs = []
    for _ in range(REPEATS):
        runs.append(fn(*args, **kwargs))
        if runs[-1] is None:  # failed (and said so): not again
            return None
    return runs[-1]._replace(t_enc=min(r.t_enc for r in runs), t_dec=min(r.t_dec for r in runs))


def attempt(name, fn, *args, **kwargs):
    """Runs one peer (best_of); a failure is reported once per peer and that row is left out."""
    try:
        return best_of(fn, *args, **kwargs)
    except Exception as e:  # a peer that does not work is reported, not fatal
        key = f"{name}: {type(e).__name__}: {e}"
        if key not in WARNINGS:  # once per peer and message
            warn(key)
        return None


# ----------------------------------------------------------------------------------------------
# Measures


def speed_and_size(data, coded):
    bits_per_byte = 8 / data.size  # per value
    return {
        "bpp": coded.nbytes * bits_per_byte,
        "file_bpp": None if coded.file_bytes is None else coded.file_bytes * bits_per_byte,
        "enc": data.nbytes / 1e6 / coded.t_enc,
        "dec": data.nbytes / 1e6 / coded.t_dec,
    }


def face_row(codec, setting, test, coded, bound=None):
    from skimage.metrics import structural_similarity

    rec = coded.rec.astype(np.float64)
    orig = test.astype(np.float64)
    err = np.abs(rec - orig).max()
    mse = np.mean((rec - orig) ** 2)
    row = {"codec": codec, "setting": setting, "bound": bound,
           "psnr": 10 * math.log10(1 / mse) if mse > 0 else math.inf,
           "ssim": float(np.mean([structural_similarity(o, r, data_range=1) for o, r in zip(orig, rec)])),
           "max_err": err, "holds": None if bound is None else ("yes" if err <= bound else "NO")}
    row.update(speed_and_size(test, coded))
    return row


def moments(f, side):
    """Density, bulk velocity (3) and temperature of each VDF (grid units, dv^3 = 1)."""
    c = velocity_axis(side)
    n = f.sum(axis=(1, 2, 3))
    u = np.stack([(f.sum(axis=(2, 3)) * c).sum(1), (f.sum(axis=(1, 3)) * c).sum(1),
                  (f.sum(axis=(1, 2)) * c).sum(1)], axis=1) / n[:, None]
    v2 = (c ** 2)
    second = (f.sum(axis=(2, 3)) * v2).sum(1) + (f.sum(axis=(1, 3)) * v2).sum(1) + (f.sum(axis=(1, 2)) * v2).sum(1)
    temperature = (second / n - (u ** 2).sum(1)) / 3
    return n, u, temperature


def vdf_row(family, codec, setting, test, coded):
    rec = coded.rec.astype(np.float64)
    side = test.shape[1]
    diff = rec - test
    stored = test > SPARSITY
    empty = test == 0
    n0, u0, t0 = moments(test, side)
    n1, u1, t1 = moments(rec, side)
    row = {"family": family, "codec": codec, "setting": setting,
           "rel_l2": float(np.linalg.norm(diff) / np.linalg.norm(test)),
           "max_err": float(np.abs(diff).max()),
           "within10": float(np.mean(np.abs(diff[stored]) < 0.1 * test[stored])),
           "zeros": float(np.mean(rec[empty] == 0)) if empty.any() else 1.0,
           "n_err": float(np.mean(np.abs(n1 - n0) / n0)),
           "u_err": float(np.mean(np.linalg.norm(u1 - u0, axis=1) / np.sqrt(t0))),
           "t_err": float(np.mean(np.abs(t1 - t0) / t0))}
    row.update(speed_and_size(test, coded))
    return row


# ----------------------------------------------------------------------------------------------
# Output


def fmt(value, spec):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return format(value, spec)


def print_table(title, rows, columns):
    """A markdown table of `rows` (dicts); `columns` is [(header, key, format spec)]."""
    print(f"\n### {title}\n")
    cells = [[fmt(r.get(key), spec) for _, key, spec in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _, _) in enumerate(columns)]
    print("| " + " | ".join(h.ljust(w) for (h, _, _), w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.ljust(w) if not spec else v.rjust(w)
                                for v, w, (_, _, spec) in zip(c, widths, columns)) + " |")
    sys.stdout.flush()


FACE_COLUMNS = [("codec", "codec", ""), ("setting", "setting", ""), ("bpp", "bpp", ".3f"),
                ("file bpp", "file_bpp", ".3f"), ("PSNR dB", "psnr", ".2f"), ("SSIM", "ssim", ".4f"),
                ("max err", "max_err", ".4g")]
SPEED_COLUMNS = [("enc MB/s", "enc", ".1f"), ("dec MB/s", "dec", ".1f")]
BOUND_COLUMNS = (FACE_COLUMNS[:2] + [("bound", "bound", "g")] + FACE_COLUMNS[2:] + [("holds", "holds", "")]
                 + SPEED_COLUMNS)
CURVE_COLUMNS = FACE_COLUMNS + SPEED_COLUMNS
VDF_COLUMNS = [("family", "family", ""), ("codec", "codec", ""), ("setting", "setting", ""),
               ("bpp", "bpp", ".3f"), ("file bpp", "file_bpp", ".3f"), ("rel L2", "rel_l2", ".2e"),
               ("max abs", "max_err", ".2e"), ("≤10 % rel", "within10", ".4f"), ("zeros exact", "zeros", ".4f"),
               ("density err", "n_err", ".2e"), ("bulk v err", "u_err", ".2e"),
               ("T err", "t_err", ".2e")] + SPEED_COLUMNS


def plot_curves(rows, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for codec in dict.fromkeys(r["codec"] for r in rows):
        pts = sorted((r["bpp"], r["psnr"]) for r in rows if r["codec"] == codec and math.isfinite(r["psnr"]))
        ax.plot(*zip(*pts), marker="o", label=codec)
    ax.set_xlabel("bits per pixel (compressed bytes)")
    ax.set_ylabel("PSNR (dB, peak 1.0)")
    ax.set_title("Olivetti faces, 200 held-out faces")
    ax.set_xlim(0, 8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_bounded(rows, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for codec in dict.fromkeys(r["codec"] for r in rows):
        pts = sorted((r["bound"], r["bpp"]) for r in rows if r["codec"] == codec)
        ax.plot(*zip(*pts), marker="o", label=codec)
    ax.set_xscale("log")
    ax.set_xlabel("absolute error bound")
    ax.set_ylabel("bits per pixel")
    ax.set_title("Olivetti faces: bits needed for an absolute error bound")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_vdf_bars(rows, path):
    import matplotlib.pyplot as plt

    families = list(dict.fromkeys(r["family"] for r in rows))
    labels = list(dict.fromkeys(f"{r['codec']} {r['setting']}" for r in rows))
    panels = [("bpp", "bits per value", False), ("within10", "fraction of stored values within 10 %", False),
              ("rel_l2", "relative L2 error", True), ("t_err", "temperature relative error", True)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    width = 0.8 / max(1, len(labels))
    for ax, (key, title, log) in zip(axes.flat, panels):
        for j, label in enumerate(labels):
            vals = [next((r[key] for r in rows if r["family"] == fam and f"{r['codec']} {r['setting']}" == label),
                         np.nan) for fam in families]
            if log:
                vals = [max(v, 1e-12) for v in vals]
            ax.bar(np.arange(len(families)) + (j - (len(labels) - 1) / 2) * width, vals, width, label=label)
        ax.set_xticks(np.arange(len(families)), families)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Synthetic VDFs, held-out test set")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# The report


def faces_report(args, ours, out):
    train, test = load_faces()
    print(f"faces: train {train.shape}, test {test.shape} float32")
    bounds = [0.1, 0.05, 0.02, 0.01]
    cb = ours.train(train, model="residual", n_prototypes=256, n_stages=4, tile=(4, 8),
                    n_samples=args.n_samples, mean_bits=8, max_error=None, log10_floor=None)
    layout = {"chunks": (16, 64, 64), "blocks": (1, 64, 64)}

    rows = []
    for b in bounds:
        acc_exp = math.floor(math.log10(b) + 1e-9)
        for codec, setting, coded in (
                ("ours", "residual 4x8, max_error", ours.code(test, cb, b, **layout)),
                ("SZ3 2-D", "ABS, per face", attempt("SZ3", sz3_abs, test, b)),
                ("SZ3 3-D", "ABS, stack of faces", attempt("SZ3", sz3_abs, test, b, stacked=True)),
                ("zfpy 2-D", "tolerance, per face", attempt("zfpy", zfpy_accuracy, test, b)),
                ("blosc2 ZFP_ACC", f"codec_meta {acc_exp} (tol 1e{acc_exp})",
                 attempt("blosc2 ZFP_ACC", blosc2_zfp, test, "ZFP_ACC", acc_exp, 16))):
            if coded is not None:
                rows.append(face_row(codec, setting, test, coded, bound=b))
    print_table("Faces: absolute error bounds (200 held-out faces)", rows, BOUND_COLUMNS)
    plot_bounded(rows, out / "faces_bounded_bpp.png")

    curve = []
    curve_bounds = ([0.2, 0.1, 0.05, 0.03, 0.02, 0.01] if args.quick
                    else [0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.005])
    for b in curve_bounds:
        coded = ours.code(test, cb, b, **layout)
        if coded is not None:
            curve.append(face_row("ours max_error", f"residual 4x8, max_error {b}", test, coded))
    stage_books = {4: cb}
    for s in (1, 2):
        if ours.vq is not None:
            stage_books[s] = ours.train(train, model="residual", n_prototypes=256, n_stages=s, tile=(4, 8),
                                        n_samples=args.n_samples, mean_bits=8, max_error=None, log10_floor=None)
    for s in sorted(stage_books):
        coded = ours.code(test, stage_books[s], None, **layout)
        if coded is not None:
            curve.append(face_row("ours no bound", f"residual 4x8, {s} stage(s)", test, coded))
    mosaic_rows, mosaic_cols = mosaic_shape(len(test))
    mosaic = f"float32 {mosaic_rows * test.shape[1]}x{mosaic_cols * test.shape[2]} mosaic"
    for d in ([0.5, 1, 2, 4, 8] if args.quick else [0.3, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8]):
        coded = attempt("JPEG-XL", jpegxl_mosaic, test, d)
        if coded is not None:
            curve.append(face_row("JPEG-XL", f"distance {d}, {mosaic}", test, coded))
    for b in [0.2, 0.1, 0.05, 0.02, 0.01, 0.005]:
        for codec, setting, coded in (("SZ3 2-D", f"ABS {b}, per face", attempt("SZ3", sz3_abs, test, b)),
                                      ("SZ3 3-D", f"ABS {b}, stack", attempt("SZ3", sz3_abs, test, b, stacked=True))):
            if coded is not None:
                curve.append(face_row(codec, setting, test, coded))
    for t in [0.4, 0.2, 0.1, 0.05]:
        coded = attempt("zfpy", zfpy_accuracy, test, t)
        if coded is not None:
            curve.append(face_row("zfpy 2-D", f"tolerance {t}, per face", test, coded))
    for pct in [3, 6, 9, 12]:
        coded = attempt("blosc2 ZFP_RATE", blosc2_zfp, test, "ZFP_RATE", pct, 16)
        if coded is not None:
            curve.append(face_row("blosc2 ZFP_RATE", f"codec_meta {pct} ({pct} % of 32 bits)", test, coded))
    for prec in [2, 3, 4, 5]:
        coded = attempt("blosc2 ZFP_PREC", blosc2_zfp, test, "ZFP_PREC", prec, 16)
        if coded is not None:
            curve.append(face_row("blosc2 ZFP_PREC", f"codec_meta {prec} (bit planes)", test, coded))
    print_table("Faces: PSNR against bits per pixel (200 held-out faces)", curve, CURVE_COLUMNS)
    plot_curves(curve, out / "faces_psnr_bpp.png")


def vdf_report(args, ours, out):
    side = args.vdf_side
    layout = {"chunks": (min(8, args.vdf_test), side, side, side), "blocks": (1, side, side, side)}
    rows = []
    for k, family in enumerate(FAMILIES):
        train = make_vdfs(family, args.vdf_train, side, args.seed + 2 * k)
        test = make_vdfs(family, args.vdf_test, side, args.seed + 2 * k + 1)
        print(f"VDFs {family}: train {train.shape}, test {test.shape} float64, "
              f"{np.mean(test == 0):.1%} of the test cells empty", flush=True)
        cb = ours.train(train, model="residual", n_prototypes=256, n_stages=4, tile=(4, 4, 4),
                        n_samples=args.n_samples, mean_bits=8, max_error=REL10_DECADES, log10_floor=LOG10_FLOOR)
        for codec, setting, coded in (
                ("ours", "log10, max_error log10(1.1)", ours.code(test, cb, REL10_DECADES, **layout)),
                ("SZ3", "ABS log10(1.1) on log10", attempt("SZ3", sz3_log10, test, REL10_DECADES)),
                ("SZ3", "ABS 1e-13", attempt("SZ3", sz3_abs, test, 1e-13)),
                ("zfpy 3-D", "tolerance 1e-13", attempt("zfpy", zfpy_accuracy, test, 1e-13)),
                ("blosc2 ZFP_ACC", "codec_meta -13", attempt("blosc2 ZFP_ACC", blosc2_zfp, test, "ZFP_ACC", -13,
                                                              layout["chunks"][0]))):
            if coded is not None:
                rows.append(vdf_row(family, codec, setting, test, coded))
    print_table(f"VDFs: {args.vdf_test} held-out {side}^3 VDFs per family", rows, VDF_COLUMNS)
    plot_vdf_bars(rows, out / "vdf_bars.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="report", help="folder for the PNG plots (default ./report)")
    parser.add_argument("--quick", action="store_true", help="fewer VDFs, fewer curve points, fewer training samples")
    parser.add_argument("--vdf-train", type=int, help="training VDFs per family (default 24, quick 8)")
    parser.add_argument("--vdf-test", type=int, help="test VDFs per family (default 24, quick 8)")
    parser.add_argument("--vdf-side", type=int, default=32, help="VDF grid side (default 32)")
    parser.add_argument("--n-samples", type=int, help="training tiles for our codebooks (default 50000, quick 20000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic VDFs")
    parser.add_argument("--repeats", type=int, help="timed runs per setting, the fastest kept (default 3, quick 1)")
    parser.add_argument("--skip-faces", action="store_true")
    parser.add_argument("--skip-vdfs", action="store_true")
    args = parser.parse_args()
    args.vdf_train = args.vdf_train or (8 if args.quick else 24)
    args.vdf_test = args.vdf_test or (8 if args.quick else 24)
    args.n_samples = args.n_samples or (20000 if args.quick else 50000)
    global REPEATS
    REPEATS = max(1, args.repeats or (1 if args.quick else 3))

    import blosc2

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"blosc2 {blosc2.__version__} with {blosc2.nthreads} threads, numpy {np.__version__}, "
          f"{os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="blosc2-vq-report-") as tmp:
        ours = Ours(tmp)
        if not args.skip_faces:
            faces_report(args, ours, out)
        if not args.skip_vdfs:
            vdf_report(args, ours, out)
    print(f"\nplots in {out.resolve()}; total {time.perf_counter() - t0:.0f} s")
    if WARNINGS:
        print("\nwarnings:\n" + "\n".join(f"- {w}" for w in WARNINGS))


if __name__ == "__main__":
    main()
