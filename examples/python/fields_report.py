"""Error-bounded codecs on real scientific fields that nobody trained for: ours against SZ3,
ZFP, SPERR and TTHRESH, in one run.

    bash examples/python/setup_peers.sh                       # once: target/report-venv, target/numcodecs-venv
    target/report-venv/bin/python examples/python/fields_report.py [--quick] [--json OUT]
        [--repeats N] [--fields a,b,...] [--whole] [--timeout S]

For our rows blosc2_vq must be importable in target/report-venv (`setup_peers.sh --ours`
pip-installs this repository there); without it, or while its compress() takes no max_error,
our rows are skipped with a warning and the peers still run.

Data: the fields of fields.py (real fields shipped inside PyPI packages; 2-D and one 3-D).
Every codec is measured on the TEST half of each field (fields.split: the second half along
the longest axis), so that a codec trained on the first half is measured on data it never
saw; --whole measures the whole field instead. The fields are small (10 k to 0.5 M values),
so none is subsampled; the whole report runs in a few minutes on 2 cores.

Bounds: for rel in 1e-2, 1e-3, 1e-4 (--quick: 1e-3 only), the absolute bound is
e = rel x (max - min) over the finite values of the measured array. Every codec gets e as an
absolute bound (see peers.py for each peer's setting; TTHRESH has no max-error mode and gets
the RMSE target e/sqrt(3)).

Columns (one markdown table per field)
- bits/value: compressed bytes x 8 / number of values (NaN included). Peers: their whole
  stream (headers included). Ours: the blosc2 chunk bytes (schunk.cbytes); "file bits/value"
  is the size of the .b2nd file written with urlpath= (metalayers and frame included).
- ratio: input bytes / compressed bytes (float32 or float64 input as the field comes).
- max err / bound: max |decoded - original| over the finite values, divided by e. Above 1
  means the bound was broken (expected only for TTHRESH, which bounds no max error).
- PSNR: 20 log10(range / RMSE) over the finite values, range = max - min of the finite values.
- enc / dec MB/s: MB = 1e6 bytes of input; the fastest of --repeats runs (default 3); ONE
  thread everywhere (pysz without OpenMP, serial zfpy, the wasm codecs have no threads,
  blosc2 with nthreads=1).
- NaN kept (fields with NaN only): the fraction of the NaN positions decoded as NaN.
- notes: failures and their messages, TTHRESH's reshape/bricks/calibration, NaN masks.

NaN: see peers.py. SZ3 keeps NaN; zfpy runs but loses them; SPERR and TTHRESH refuse (or
garble) them; each such peer gets a second row "+NaN mask" (NaN filled with the finite mean,
the zlib-compressed bit mask added to its bytes). Ours gets the raw array with its NaN.

--json OUT writes every row (and the fields, versions and settings) as JSON.

full_report.py runs this report (run_fields) as its first section, next to the ablation of the
learned codebook, the faces and the VDFs, and adds the summary against SZ3 and SPERR.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fields
import peers
from peers import PeerResult

RELS = (1e-2, 1e-3, 1e-4)
QUICK_RELS = (1e-3,)
WARNINGS: list[str] = []


def warn(message: str) -> None:
    WARNINGS.append(message)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


# ================================================================================================
# HOOK: our codec. blosc2_vq.compress(x, max_error=e) without a codebook (the error-bounded
# predictive engine). While that API is missing (ImportError, or TypeError for max_error) our
# rows are skipped with one warning; any other failure leaves out that one row, with its message.
# ================================================================================================

OURS_NAME = "ours (blosc2_vq)"
_ours_skip: str | None = None
OURS_LAYOUTS: dict[tuple, tuple] = {}  # (shape, dtype) -> (chunks, blocks) that compress() used


def ours(x: np.ndarray, e: float, repeats: int = 3) -> tuple[PeerResult, int | None] | None:
    """(PeerResult with the chunk bytes, file bytes of the .b2nd written with urlpath=), or
    None while our rows are skipped."""
    global _ours_skip
    if _ours_skip is not None:
        return None
    try:
        import blosc2

        import blosc2_vq
    except ImportError as ex:
        _ours_skip = f"blosc2_vq is not importable ({ex}): our rows are skipped (setup_peers.sh --ours installs it)"
        warn(_ours_skip)
        return None
    blosc2.set_nthreads(1)  # one thread, as the peers (decoding uses the default dparams)
    kwargs = {"max_error": float(e)}
    if "nthreads" in inspect.signature(blosc2_vq.compress).parameters:
        kwargs["nthreads"] = 1
    try:
        if hasattr(blosc2_vq, "register"):
            blosc2_vq.register()
        runs = []
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            arr = blosc2_vq.compress(x, **kwargs)
            t1 = time.perf_counter()
            rec = arr[:]
            t2 = time.perf_counter()
            runs.append((t1 - t0, t2 - t1))
        chunk_bytes = int(arr.schunk.cbytes)
        OURS_LAYOUTS[(tuple(x.shape), str(x.dtype))] = (tuple(arr.chunks), tuple(arr.blocks))
        with tempfile.TemporaryDirectory(prefix="fields-report-") as tmp:
            path = os.path.join(tmp, "ours.b2nd")
            blosc2_vq.compress(x, urlpath=path, **kwargs)
            file_bytes = os.path.getsize(path)
    except (TypeError, ImportError) as ex:
        _ours_skip = (f"blosc2_vq.compress(x, max_error=e) is not available yet ({type(ex).__name__}: {ex}): "
                      "our rows are skipped")
        warn(_ours_skip)
        return None
    except Exception as ex:  # e.g. VQError on this field: this row only
        r = peers.failed(OURS_NAME, f"{type(ex).__name__}: {ex}", f"max_error {e:.6g}")
        return r, None
    setting = (f"max_error {e:.6g}, no codebook" + (", nthreads 1" if "nthreads" in kwargs else "")
               + f", blocks {tuple(arr.blocks)}")
    result = PeerResult(OURS_NAME, chunk_bytes, min(r[0] for r in runs), min(r[1] for r in runs),
                        np.asarray(rec).reshape(x.shape), setting)
    return result, file_bytes


# ================================================================================================


def row(field: fields.Field, x: np.ndarray, rel: float, e: float, r: PeerResult,
        file_bytes: int | None = None) -> dict:
    m = peers.errors(x, r.rec)
    mb = x.nbytes / 1e6
    ok = r.ok
    return {
        "field": field.name, "shape": list(x.shape), "dtype": str(x.dtype), "codec": r.name, "rel": rel,
        "bound": e, "ok": ok, "nbytes": r.nbytes, "file_nbytes": file_bytes,
        "bpv": 8 * r.nbytes / x.size if ok else None,
        "file_bpv": 8 * file_bytes / x.size if file_bytes else None,
        "ratio": x.nbytes / r.nbytes if ok and r.nbytes else None,
        "max_err": m["max_err"], "max_err_over_bound": m["max_err"] / e if ok and e > 0 else None,
        "rmse": m["rmse"], "psnr": m["psnr"], "nan_kept": m["nan_kept"], "nonfinite_out": m["nonfinite_out"],
        "t_enc": r.t_enc, "t_dec": r.t_dec,
        "enc_MBps": mb / r.t_enc if ok and r.t_enc else None,
        "dec_MBps": mb / r.t_dec if ok and r.t_dec else None,
        "setting": r.setting, "note": r.note, "finite_min": float(np.nanmin(x)), "finite_max": float(np.nanmax(x)),
    }


def jsonable(v):
    """Strict JSON: inf / -inf / nan as the strings "inf", "-inf", "nan"."""
    if isinstance(v, dict):
        return {k: jsonable(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(w) for w in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def fmt(v, spec: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, spec)


def print_table(field: fields.Field, x: np.ndarray, rows: list[dict]) -> None:
    has_nan = bool(np.isnan(x).any())
    lo, hi = fields.finite_range(x)
    print(f"\n### {field.name}: {x.shape} {x.dtype}, finite range [{lo:.6g}, {hi:.6g}]"
          + (f", NaN {100 * np.isnan(x).mean():.1f} %" if has_nan else ""))
    print(f"\n{field.provenance}" + (f" ({field.notes})" if field.notes else "") + "\n")
    cols = ["codec", "bound (rel)", "bits/value", "file bits/value", "ratio", "max err / bound", "PSNR dB",
            "enc MB/s", "dec MB/s"] + (["NaN kept"] if has_nan else []) + ["notes"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join(" --- " for _ in cols) + "|")
    for r in rows:
        cells = [r["codec"], f"{r['bound']:.4g} ({r['rel']:g})", fmt(r["bpv"], ".3f"), fmt(r["file_bpv"], ".3f"),
                 fmt(r["ratio"], ".1f"), fmt(r["max_err_over_bound"], ".3f"), fmt(r["psnr"], ".1f"),
                 fmt(r["enc_MBps"], ".1f"), fmt(r["dec_MBps"], ".1f")]
        if has_nan:
            cells.append(fmt(r["nan_kept"], ".2f"))
        if r["ok"]:
            note = r["note"]
        elif "skipped:" in r["note"]:
            note = "SKIPPED: " + r["note"].split("skipped:", 1)[1].strip()
        else:
            note = f"FAILED: {r['note']}"
        cells.append(note.replace("|", "/"))
        print("| " + " | ".join(cells) + " |")
    sys.stdout.flush()


def run_fields(loaded: list[fields.Field], rels, repeats: int, whole: bool, worker: peers.NumcodecsWorker,
               numcodecs=peers.NUMCODECS_PEERS) -> tuple[list[dict], list[dict]]:
    """Every codec on every field and bound; prints one table per field as it goes.
    (rows, field_info)."""
    all_rows: list[dict] = []
    field_info = []
    for field in loaded:
        x = field.data if whole else fields.split(field.data)[1]
        lo, hi = fields.finite_range(x)
        field_info.append({"name": field.name, "field_shape": list(field.data.shape),
                           "measured_shape": list(x.shape),
                           "dtype": str(x.dtype), "nan_fraction": float(np.isnan(x).mean()),
                           "finite_min": lo, "finite_max": hi, "provenance": field.provenance,
                           "package": field.package, "notes": field.notes})
        rows = []
        t0 = time.perf_counter()
        for rel in rels:
            e = rel * (hi - lo)
            for r in peers.run_peers(x, e, repeats=repeats, worker=worker, numcodecs=numcodecs):
                rows.append(row(field, x, rel, e, r))
            got = ours(x, e, repeats)
            if got is not None:
                rows.append(row(field, x, rel, e, got[0], got[1]))
        print_table(field, x, rows)
        print(f"\n({field.name}: {time.perf_counter() - t0:.1f} s)", flush=True)
        all_rows.extend(rows)
    return all_rows, field_info


def broken_bounds(rows: list[dict]) -> list[dict]:
    """Rows (not TTHRESH, which bounds no max error) whose max error exceeds the bound."""
    return [r for r in rows if r["ok"] and not r["codec"].startswith("TTHRESH")
            and r["max_err_over_bound"] is not None and r["max_err_over_bound"] > 1]


def print_broken(broken: list[dict]) -> None:
    for r in broken:
        # How far over, in units of the spacing of the field's dtype at its largest magnitude:
        # an excess below one such step is float rounding of the decoded value, not the codec's model.
        x_max = max(abs(r["finite_min"]), abs(r["finite_max"]))
        step = float(np.spacing(np.array(x_max, dtype=r["dtype"])))
        excess = r["max_err"] - r["bound"]
        print(f"- BOUND BROKEN: {r['field']} {r['codec']} rel {r['rel']:g}: max err / bound "
              f"{r['max_err_over_bound']:.6g}, excess {excess:.3g} = {excess / step:.3g} x the {r['dtype']} "
              f"spacing at the largest |value|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only rel 1e-3")
    ap.add_argument("--json", metavar="OUT", help="write every row as JSON to OUT")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs per codec (fastest counts), default 3")
    ap.add_argument("--fields", help=f"comma-separated subset of: {', '.join(fields.FIELDS)}")
    ap.add_argument("--whole", action="store_true", help="measure the whole field, not its test half")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per numcodecs worker job, default 600")
    ap.add_argument("--no-numcodecs", action="store_true", help="skip SPERR, TTHRESH and the wasm SZ3")
    args = ap.parse_args()

    names = args.fields.split(",") if args.fields else fields.FIELDS
    unknown = [n for n in names if n not in fields.LOADERS]
    if unknown:
        ap.error(f"unknown field(s) {unknown}; known: {fields.FIELDS}")
    rels = QUICK_RELS if args.quick else RELS
    loaded = fields.load_all(names, on_error=lambda n, e: warn(f"field {n} not loaded: {type(e).__name__}: {e}"))

    t_start = time.perf_counter()
    print("# Error-bounded codecs on real scientific fields (one thread)\n")
    print(f"Measured on the {'whole field' if args.whole else 'test half (fields.split)'}; bound = rel x finite range; "
          f"times: fastest of {args.repeats}. Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cores; peers: {peers.versions()}.")
    numcodecs = () if args.no_numcodecs else peers.NUMCODECS_PEERS
    worker = peers.NumcodecsWorker(timeout=args.timeout)
    if numcodecs and worker.unavailable:
        warn(f"numcodecs peers not run: {worker.unavailable}")
    try:
        all_rows, field_info = run_fields(loaded, rels, args.repeats, args.whole, worker, numcodecs)
    finally:
        numcodecs_versions = worker.versions
        worker.close()

    broken = broken_bounds(all_rows)
    print(f"\nTotal {time.perf_counter() - t_start:.1f} s. Rows: {len(all_rows)}; failed: "
          f"{sum(not r['ok'] for r in all_rows)}; bound broken (not TTHRESH): {len(broken)}.")
    print_broken(broken)
    if WARNINGS:
        print("\nWarnings:\n" + "\n".join(f"- {w}" for w in WARNINGS))
    if args.json:
        out = {"args": vars(args), "rels": list(rels), "python": platform.python_version(),
               "cores": os.cpu_count(), "versions": {**peers.versions(), **numcodecs_versions},
               "fields": field_info, "rows": all_rows, "warnings": WARNINGS}
        Path(args.json).write_text(json.dumps(jsonable(out), indent=1, allow_nan=False))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
