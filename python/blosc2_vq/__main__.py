"""`python -m blosc2_vq --diagnose`: is this installation usable from this interpreter?

Prints the library's path and version, python-blosc2's and its c-blosc2's versions, whether
the plugin supports that c-blosc2, whether c-blosc2 finds the plugin from this interpreter,
and a compression round trip; exits non-zero when something is wrong. `--libpath` prints the
library's path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys


def diagnose() -> int:
    """Runs the checks, prints one line each, returns the exit status."""
    failures = 0

    def report(ok: bool, what: str, detail: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"[{'ok' if ok else 'FAIL'}] {what}: {detail}")

    # Importing the package loaded the library (or failed, naming the cause and the fix).
    import blosc2_vq
    from blosc2_vq import _clib

    print(f"python: {sys.executable} {sys.version.split()[0]}")
    report(True, "blosc2-vq", f"{blosc2_vq.__version__}, library {_clib.LIBPATH}")
    try:
        import blosc2
    except ImportError as e:
        report(False, "python-blosc2", f"{e} (pip install blosc2)")
        return 1
    report(True, "python-blosc2", f"{blosc2.__version__}, c-blosc2 {blosc2.blosclib_version}")
    try:
        declared = blosc2_vq._codec.declare_host()
        # Loaded only when the plugin had to learn the layout of a release not in its table.
        learned = _clib.loaded_python_blosc2_clib()
        how = "" if learned is None else f"; layout learned from {learned}"
        report(
            True,
            "c-blosc2 supported",
            f"the plugin reads SChunks of c-blosc2 {_clib.host_blosc2_version()} (declared {declared.split()[0]}{how})",
        )
    except blosc2_vq.VQError as e:
        report(False, "c-blosc2 supported", str(e))
    why = _clib.found_by_name()
    report(
        why is None,
        "c-blosc2 finds the plugin",
        f"dlopen({_clib.SONAME!r}) gets this package's library"
        if why is None
        else f"dlopen({_clib.SONAME!r}) fails: {why}",
    )
    # c-blosc2's fallback, `python -c "import blosc2_vq; ..."` with the `python` on PATH: not
    # needed once the package is imported, shown because it explains failures elsewhere.
    for name in ("python", "python3"):
        path = shutil.which(name)
        if path is None:
            continue
        found = subprocess.run(
            [path, "-c", "import blosc2_vq; blosc2_vq.print_libpath()"],
            capture_output=True,
            text=True,
            env=dict(os.environ, BLOSC_TRACE=""),
        )
        note = found.stdout.strip() if found.returncode == 0 else "does not have blosc2_vq"
        print(f"[info] `{name}` on PATH ({path}): {note} (c-blosc2's fallback; not needed here)")
        break
    try:
        import numpy as np

        rng = np.random.default_rng(0)
        images = (rng.random((8, 32, 32)) * 0.1 + np.linspace(0, 1, 32)).astype(np.float32)
        codebook = blosc2_vq.train(images, model="kmeans", n_prototypes=16, n_samples=256, progress=False)
        arr = blosc2_vq.compress(images, codebook, chunks=(4, 32, 32), blocks=(1, 32, 32))
        back = arr[:]
        worst = float(np.abs(back - images).max())
        ok = back.shape == images.shape and worst < 0.5
        report(
            ok,
            "round trip",
            f"{images.shape} float32 with a k-means codebook: ratio "
            f"{arr.schunk.nbytes / arr.schunk.cbytes:.2f}, max abs error {worst:.4f}",
        )
    except Exception as e:
        report(False, "round trip", f"{type(e).__name__}: {e}")
    # The one-call path most users take: no codebook, just a bound, which must hold everywhere.
    try:
        import numpy as np

        x = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
        x += np.random.default_rng(1).normal(0, 0.01, x.shape).astype(np.float32)
        arr = blosc2_vq.compress(x, max_error=1e-3)
        back = arr[:]
        worst = float(np.abs(back.astype(np.float64) - x).max())
        report(
            back.shape == x.shape and worst <= 1e-3,
            "round trip, no codebook",
            f"{x.shape} float32 at max_error=1e-3: ratio "
            f"{arr.schunk.nbytes / arr.schunk.cbytes:.2f}, max abs error {worst:.2e}",
        )
    except Exception as e:
        report(False, "round trip, no codebook", f"{type(e).__name__}: {e}")
    print("all checks passed" if not failures else f"{failures} check(s) failed")
    return 0 if not failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blosc2_vq", description=__doc__.split("\n\n")[0])
    parser.add_argument("--diagnose", action="store_true", help="check this installation (exit 1 on failure)")
    parser.add_argument("--libpath", action="store_true", help="print the plugin library's path")
    args = parser.parse_args(argv)
    if args.libpath:
        import blosc2_vq

        blosc2_vq.print_libpath()
        print()
        return 0
    if args.diagnose:
        return diagnose()
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
