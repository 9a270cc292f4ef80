"""One harness for the error-bounded peers: SZ3, ZFP, SPERR and TTHRESH.

    from peers import run_peers, NumcodecsWorker, errors
    with NumcodecsWorker() as worker:          # the numcodecs venv's python, one process
        for r in run_peers(x, e, repeats=3, worker=worker):
            name, nbytes, t_enc, t_dec, rec, *_ = r
            print(name, nbytes, errors(x, rec)["max_err"] / e, r.setting, r.note)

Every peer gets the array `x` (2-D or 3-D, float32 or float64) and the absolute error bound
`e`, codes the WHOLE array at its full dimensionality on ONE thread, and gives back a
PeerResult (name, compressed bytes, encode seconds, decode seconds, reconstruction, setting,
note): the fastest encode and the fastest decode of `repeats` runs. A peer that fails gives
rec=None and the reason in `note`; nothing is dropped silently. errors() measures what each
peer really did (max abs error, RMSE, PSNR over the finite values, NaN kept).

Peers and settings
- "SZ3 (pysz)": pysz (SZ3's own Python binding) ABS mode, absErrorBound=e, openmp off, the
  default algorithm (interpolation + Lorenzo). Stream = the bytes pysz returns (header
  included).
- "ZFP (zfpy)": zfpy.compress_numpy(x, tolerance=e): fixed-accuracy mode, serial execution,
  2-D ZFP for 2-D arrays and 3-D ZFP for 3-D ones. Stream includes zfpy's header.
- "SPERR", "TTHRESH", "SZ3 (numcodecs-wasm)": numcodecs-wasm-sperr / -tthresh / -sz3 in
  target/numcodecs-venv (numcodecs does not import next to zfpy's ".post0" version), run by
  numcodecs_worker.py in a subprocess: the array goes over as .npy, the reconstruction comes
  back as .npy and bytes/times as JSON, in a temp dir. SPERR: point-wise error mode pwe=e.
  SZ3 wasm: eb_mode abs, eb_abs=e (a cross-check of the pysz row). TTHRESH bounds no point-wise
  error: it gets an RMSE target of e/sqrt(3) (the RMSE of errors spread evenly over [-e, e]);
  2-D arrays go in as (1, H, W) because TTHRESH refuses 2-D. When TTHRESH misses that RMSE
  target by more than 10 % (it does on (1, H, W) arrays), a second row "TTHRESH (RMSE met)"
  lowers the target until the measured RMSE is at most e/sqrt(3) (an oracle search; only the
  final setting is timed). See numcodecs_worker.py for TTHRESH's brick fallback.
  The worker's python is $NUMCODECS_PYTHON, else target/numcodecs-venv/bin/python.

NaN
SZ3 (pysz and wasm) keeps NaN where they are and bounds the other values. zfpy codes arrays
with NaN without complaint but does not give NaN back; SPERR and TTHRESH refuse them. For an
array with NaN, every peer first runs on the raw array; each one that fails, loses NaN or
breaks the bound on the finite values runs again as "<peer> +NaN mask": NaN replaced by the
mean of the finite values, the peer's stream plus the NaN mask (np.packbits, zlib level 9)
counted in the bytes, NaN put back after decoding. Both rows are reported.
"""
from __future__ import annotations

import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().with_name("numcodecs_worker.py")
NUMCODECS_PEERS = ("sperr", "tthresh", "sz3")
NUMCODECS_NAMES = {"sperr": "SPERR", "tthresh": "TTHRESH", "sz3": "SZ3 (numcodecs-wasm)"}
TTHRESH_CALIBRATED = "TTHRESH (RMSE met)"
MASK_SUFFIX = " +NaN mask"


class PeerResult(NamedTuple):
    name: str
    nbytes: int | None
    t_enc: float | None  # seconds, fastest of the repeats
    t_dec: float | None
    rec: np.ndarray | None  # None when the peer failed (see note)
    setting: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.rec is not None


def failed(name: str, why: str, setting: str = "") -> PeerResult:
    return PeerResult(name, None, None, None, None, setting, why)


def numcodecs_python() -> str:
    return os.environ.get("NUMCODECS_PYTHON") or str(ROOT / "target" / "numcodecs-venv" / "bin" / "python")


# ----------------------------------------------------------------------------------------------
# Measures


def errors(x: np.ndarray, rec: np.ndarray | None) -> dict:
    """max_err, rmse (over the finite values of x; inf when rec is not finite there), psnr
    (peak = the finite value range of x), nan_kept (fraction of x's NaN decoded as NaN, None
    when x has none) and nonfinite_out (finite values of x decoded as NaN or inf)."""
    if rec is None:
        return {"max_err": None, "rmse": None, "psnr": None, "nan_kept": None, "nonfinite_out": None}
    finite = np.isfinite(x)
    xf = x[finite].astype(np.float64)
    rf = np.asarray(rec)[finite].astype(np.float64)
    bad = int((~np.isfinite(rf)).sum())
    if bad:
        max_err = rmse = math.inf
    else:
        d = np.abs(rf - xf)
        max_err = float(d.max()) if d.size else 0.0
        rmse = float(np.sqrt(np.mean(d * d))) if d.size else 0.0
    value_range = float(xf.max() - xf.min()) if xf.size else 0.0
    if rmse == 0:
        psnr = math.inf
    elif math.isinf(rmse) or value_range == 0:
        psnr = -math.inf
    else:
        psnr = 20 * math.log10(value_range / rmse)
    nan = np.isnan(x)
    nan_kept = float(np.isnan(np.asarray(rec)[nan]).mean()) if nan.any() else None
    return {"max_err": max_err, "rmse": rmse, "psnr": psnr, "nan_kept": nan_kept, "nonfinite_out": bad}


def _timed(fn, repeats):
    """Runs fn() -> (nbytes, rec, t_enc, t_dec) `repeats` times: the last result with the
    fastest encode and decode."""
    runs = [fn() for _ in range(max(1, repeats))]
    return runs[-1][0], runs[-1][1], min(r[2] for r in runs), min(r[3] for r in runs)


# ----------------------------------------------------------------------------------------------
# In-process peers


def sz3(x: np.ndarray, e: float, repeats: int = 3) -> PeerResult:
    name, setting = "SZ3 (pysz)", f"ABS {e:.6g}, openmp off"
    try:
        from pysz import sz, szConfig, szErrorBoundMode
    except ImportError as ex:
        return failed(name, f"pysz not installed ({ex})", setting)

    def once():
        config = szConfig(x.shape)
        config.errorBoundMode = szErrorBoundMode.ABS
        config.absErrorBound = float(e)
        config.openmp = False
        t0 = time.perf_counter()
        stream = sz.compress(x, config)[0]
        t1 = time.perf_counter()
        rec = sz.decompress(stream, x.dtype, x.shape)[0]
        t2 = time.perf_counter()
        return len(stream), rec, t1 - t0, t2 - t1

    try:
        nbytes, rec, te, td = _timed(once, repeats)
    except Exception as ex:
        return failed(name, f"{type(ex).__name__}: {ex}", setting)
    return PeerResult(name, nbytes, te, td, rec, setting)


def zfp(x: np.ndarray, e: float, repeats: int = 3) -> PeerResult:
    name, setting = "ZFP (zfpy)", f"fixed accuracy, tolerance {e:.6g}, {x.ndim}-D"
    try:
        import zfpy
    except ImportError as ex:
        return failed(name, f"zfpy not installed ({ex})", setting)

    def once():
        t0 = time.perf_counter()
        stream = zfpy.compress_numpy(x, tolerance=float(e))
        t1 = time.perf_counter()
        rec = zfpy.decompress_numpy(stream)
        t2 = time.perf_counter()
        return len(stream), rec, t1 - t0, t2 - t1

    try:
        nbytes, rec, te, td = _timed(once, repeats)
    except Exception as ex:
        return failed(name, f"{type(ex).__name__}: {ex}", setting)
    return PeerResult(name, nbytes, te, td, rec.reshape(x.shape), setting)


IN_PROCESS = {"sz3": sz3, "zfp": zfp}


# ----------------------------------------------------------------------------------------------
# numcodecs peers in their own venv


class NumcodecsWorker:
    """numcodecs_worker.py --serve under the numcodecs venv's python: one process for many
    jobs (the wasm modules compile once). A worker that dies or times out is ended (it is our
    own child, ended by its pid) and started again for the next job."""

    def __init__(self, python: str | None = None, timeout: float = 600.0):
        self.python = python or numcodecs_python()
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="numcodecs-peers-"))
        self.jobs = 0
        self.unavailable: str | None = None
        self.versions: dict = {}
        if not Path(self.python).exists():
            self.unavailable = (f"no python at {self.python} (run examples/python/setup_peers.sh, "
                                f"or set NUMCODECS_PYTHON)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _log_tail(self, n=800) -> str:
        try:
            text = (self.dir / "worker.log").read_text(errors="replace")
        except OSError:
            return ""
        return " ".join(text[-n:].split())

    def _readline(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline()

    def _start(self):
        log = open(self.dir / "worker.log", "ab")
        self.proc = subprocess.Popen([self.python, str(WORKER), "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        log.close()
        line = self._readline(self.timeout)
        if line != "ready\n":
            self._stop()
            raise RuntimeError(f"numcodecs worker did not start ({line!r}); log: {self._log_tail()}")

    def _stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()  # our own child, by its pid
            self.proc.wait()
            self.proc = None

    def close(self):
        if self.proc is not None and self.proc.poll() is None and self.proc.stdin:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_tasks(self, x: np.ndarray, tasks: list[dict]) -> list[dict]:
        """Runs tasks ({"codec", "bound", "repeats", ...}) on x; one result dict per task
        ("ok", "nbytes", "t_enc", "t_dec", "rec", "setting", "note" or "error")."""
        if self.unavailable:
            return [{"ok": False, "error": self.unavailable} for _ in tasks]
        self.jobs += 1
        job_dir = self.dir / f"job{self.jobs}"
        job_dir.mkdir()
        np.save(job_dir / "x.npy", x)
        job_tasks = [dict(t, id=f"t{i}", output=f"rec_t{i}.npy") for i, t in enumerate(tasks)]
        job = {"input": "x.npy", "result": "result.json", "tasks": job_tasks}
        (job_dir / "job.json").write_text(json.dumps(job))
        try:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write(f"{job_dir / 'job.json'}\n")
            self.proc.stdin.flush()
            line = self._readline(self.timeout)
            if line is None:
                self._stop()
                raise RuntimeError(f"numcodecs worker timed out after {self.timeout:.0f} s")
            if not line.startswith("done "):
                self._stop()
                raise RuntimeError(f"numcodecs worker died ({line!r}); log: {self._log_tail()}")
            answer = json.loads((job_dir / "result.json").read_text())
        except Exception as ex:
            shutil.rmtree(job_dir, ignore_errors=True)
            return [{"ok": False, "error": f"{type(ex).__name__}: {ex}"} for _ in tasks]
        self.versions = answer.get("versions", {})
        out = []
        for task, r in zip(job_tasks, answer["results"], strict=True):
            if r.get("ok"):
                r["rec"] = np.load(job_dir / task["output"])
            out.append(r)
        shutil.rmtree(job_dir, ignore_errors=True)
        return out

    def run(self, x: np.ndarray, e: float, codecs=NUMCODECS_PEERS, repeats: int = 3,
            calibrate_tthresh: bool = True) -> list[PeerResult]:
        tasks = [{"codec": c, "bound": float(e), "repeats": repeats} for c in codecs]
        results = []
        for c, r in zip(codecs, self.run_tasks(x, tasks), strict=True):
            results.append(_numcodecs_result(NUMCODECS_NAMES[c], r))
        if calibrate_tthresh and "tthresh" in codecs:
            r = results[list(codecs).index("tthresh")]
            goal = e / math.sqrt(3.0)
            # Not on raw arrays with NaN: TTHRESH codes them into garbage; the "+NaN mask" pass
            # (NaN filled) calibrates instead.
            if r.ok and not np.isnan(x).any() and errors(x, r.rec)["rmse"] > 1.1 * goal:
                [again] = self.run_tasks(x, [{"codec": "tthresh", "bound": float(e), "repeats": repeats,
                                              "calibrate": True}])
                results.append(_numcodecs_result(TTHRESH_CALIBRATED, again))
        return results


def _numcodecs_result(name: str, r: dict) -> PeerResult:
    if not r.get("ok"):
        return failed(name, r.get("error", "failed"), r.get("setting", ""))
    return PeerResult(name, r["nbytes"], r["t_enc"], r["t_dec"], r["rec"], r.get("setting", ""), r.get("note", ""))


# ----------------------------------------------------------------------------------------------
# All peers, with NaN handling


def nan_mask_bytes(mask: np.ndarray) -> int:
    """Bytes of the NaN mask as a user would store it next to the stream."""
    return len(zlib.compress(np.packbits(mask.ravel()).tobytes(), 9))


def _needs_mask(x: np.ndarray, e: float, r: PeerResult) -> bool:
    if not r.ok:
        return True
    m = errors(x, r.rec)
    bounded = r.name.startswith("TTHRESH") or m["max_err"] <= e  # TTHRESH bounds no max error
    return not bounded or m["nan_kept"] != 1.0 or m["nonfinite_out"] > 0


def _masked(x: np.ndarray, mask: np.ndarray, r: PeerResult, extra: int) -> PeerResult:
    name = r.name + MASK_SUFFIX
    if not r.ok:
        return failed(name, r.note, r.setting)
    rec = np.array(r.rec, copy=True)
    rec[mask] = np.nan
    note = f"NaN -> mean of finite values, +{extra} B zlib mask" + (f"; {r.note}" if r.note else "")
    return PeerResult(name, r.nbytes + extra, r.t_enc, r.t_dec, rec, r.setting, note)


def run_peers(x: np.ndarray, e: float, repeats: int = 3, worker: NumcodecsWorker | None = None,
              in_process=("sz3", "zfp"), numcodecs=NUMCODECS_PEERS, calibrate_tthresh: bool = True,
              nan_mask: bool = True) -> list[PeerResult]:
    """Every peer on x with the absolute bound e (see the module doc). Without a worker the
    numcodecs peers are reported as failed (not run)."""
    x = np.ascontiguousarray(x)
    results = [IN_PROCESS[p](x, e, repeats) for p in in_process]
    if numcodecs:
        if worker is None:
            results += [failed(NUMCODECS_NAMES[c], "no numcodecs worker") for c in numcodecs]
        else:
            results += worker.run(x, e, numcodecs, repeats, calibrate_tthresh)
    mask = np.isnan(x)
    if not (nan_mask and mask.any()):
        return results
    redo = [r for r in results if r.name != TTHRESH_CALIBRATED and _needs_mask(x, e, r)]
    if not redo:
        return results
    filled = np.array(x, copy=True)
    filled[mask] = np.nanmean(x)
    extra = nan_mask_bytes(mask)
    again: list[PeerResult] = []
    for p in in_process:
        r = IN_PROCESS[p](filled, e, repeats)
        if any(q.name == r.name for q in redo):
            again.append(_masked(x, mask, r, extra))
    wanted = [c for c in numcodecs if any(q.name == NUMCODECS_NAMES[c] for q in redo)]
    if wanted and worker is not None:
        for r in worker.run(filled, e, wanted, repeats, calibrate_tthresh):
            again.append(_masked(x, mask, r, extra))
    return results + again


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pysz", "zfpy", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


if __name__ == "__main__":  # smoke test on one field
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fields

    f = fields.load(sys.argv[1] if len(sys.argv) > 1 else "topobathy")
    lo, hi = fields.finite_range(f.data)
    bound = 1e-3 * (hi - lo)
    with NumcodecsWorker() as w:
        for r in run_peers(f.data, bound, repeats=1, worker=w):
            m = errors(f.data, r.rec)
            bpv = f"{8 * r.nbytes / f.data.size:.3f}" if r.ok else "-"
            err = f"{m['max_err'] / bound:.3f}" if r.ok else "-"
            print(f"{r.name:32s} bpv {bpv:>7s}  maxerr/bound {err:>7s}  NaN kept {m['nan_kept']}  "
                  f"{r.setting}  {r.note}")
