#!/usr/bin/env bash
# The package against every python-blosc2 minor release it accepts (pyproject.toml's pin):
# for the latest patch of each minor (found with `pip index versions blosc2`), a fresh
# virtual environment with that python-blosc2 and this package's wheel (built once, here),
# then, with the venv not activated and no venv on PATH:
#   - `python -m blosc2_vq --diagnose`;
#   - a round trip: a residual codebook trained with a 0.05 error bound on a small float32
#     array, compressed into a frame on disk, read back and checked against the bound, and
#     the frame reopened in a fresh process (the decoder's path);
#   - with cargo at hand, the SChunk layout probe run on the libblosc2.so that release
#     ships (tests/schunk_probe.rs): for a c-blosc2 in the plugin's table, the probe must
#     give the table's offsets.
# Prints a table: python-blosc2, its c-blosc2, where the layout came from, the probe, pass/fail.
# Local only: CI (scripts/test.sh) tests the oldest and the newest release.
#
#   scripts/python_blosc2_versions.sh             every minor release in the pin's range
#   scripts/python_blosc2_versions.sh 4.15.0 ...  these releases only
#
# PYTHON picks the interpreter (python3), NO_PROBE=1 skips the probe column, KEEP_VENVS=1
# keeps the venvs (target/python-blosc2-versions/venv-*).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
work="$root/target/python-blosc2-versions"
mkdir -p "$work"

# Tools: pip, packaging (version ranges), the wheel built once.
tools="$work/tools"
[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
"$tools/bin/pip" install -q --upgrade pip packaging
rm -rf "$work/wheel" && mkdir -p "$work/wheel"
echo "== building the wheel"
"$tools/bin/pip" wheel -q --no-deps -w "$work/wheel" "$root"
wheel=$(ls "$work"/wheel/blosc2_vq-*.whl)

# The releases: the arguments, or the latest patch of each minor release the pin accepts.
if [ $# -gt 0 ]; then
  versions=("$@")
else
  available=$("$tools/bin/pip" index versions blosc2 2>/dev/null | sed -n 's/^Available versions: //p')
  [ -n "$available" ] || { echo "pip index versions blosc2 listed nothing"; exit 1; }
  mapfile -t versions < <("$tools/bin/python" - "$root/pyproject.toml" "$available" <<'EOF'
import re, sys
from packaging.requirements import Requirement
from packaging.version import Version
pin = re.search(r'"(blosc2[<>=!~][^"]*)"', open(sys.argv[1]).read()).group(1)
spec = Requirement(pin).specifier
latest = {}
for v in (Version(s.strip()) for s in sys.argv[2].split(",")):
    if v.is_prerelease or v not in spec:
        continue
    key = (v.major, v.minor)
    latest[key] = max(latest.get(key, v), v)
for key in sorted(latest):
    print(latest[key])
EOF
  )
fi
echo "== python-blosc2 releases: ${versions[*]}"

# The probe test binary, built once (the probe itself runs per release, on its libblosc2.so).
probe=1
if [ "${NO_PROBE:-}" = 1 ] || ! command -v cargo >/dev/null 2>&1; then
  probe=0
elif ! cargo test -q --test schunk_probe --no-run 2>/dev/null; then
  echo "(tests/schunk_probe.rs does not build: no probe column)"
  probe=0
fi

# The round trip, in two processes: write and check, then reopen (argument: a directory).
write_frame='
import sys, numpy as np, blosc2, blosc2_vq
blosc2_vq.register()
rng = np.random.default_rng(1)
x = (np.sin(np.linspace(0, 40, 16 * 32 * 32)).reshape(16, 32, 32)
     + 0.05 * rng.standard_normal((16, 32, 32))).astype(np.float32)
cb = blosc2_vq.train(x, model="residual", n_prototypes=16, n_stages=2, max_error=0.05, seed=0, progress=False)
arr = blosc2_vq.compress(x, cb, chunks=(8, 32, 32), blocks=(1, 32, 32), urlpath=sys.argv[1] + "/x.b2nd", mode="w")
back = arr[:]
worst = float(np.abs(back - x).max())
assert worst <= 0.05 * (1 + 1e-6), worst
np.save(sys.argv[1] + "/back.npy", back)
print(f"ratio {x.nbytes / arr.schunk.cbytes:.1f}, max error {worst:.4f} <= 0.05")
'
read_frame='
import sys, numpy as np, blosc2, blosc2_vq
blosc2_vq.register()
again = blosc2.open(sys.argv[1] + "/x.b2nd")
assert np.array_equal(again[:], np.load(sys.argv[1] + "/back.npy")), "reopened frame differs"
print("reopened in a fresh process: same values")
'

rows=()
failures=0
for version in "${versions[@]}"; do
  venv="$work/venv-$version"
  log="$work/log-$version.txt"
  rm -rf "$venv" && "$python" -m venv "$venv"
  echo "== python-blosc2 $version (log: $log)"
  status=pass
  clib="-" layout="-" probed="-" diag=FAIL trip=FAIL
  {
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q "blosc2==$version"
    "$venv/bin/pip" install -q "$wheel"
  } >"$log" 2>&1 || { status="FAIL (install)"; }
  if [ "$status" = pass ]; then
    kept=$("$venv/bin/python" -c 'import blosc2; print(blosc2.__version__)')
    clib=$("$venv/bin/python" -c 'import blosc2; print(blosc2.blosclib_version.split()[0])')
    if [ "$kept" != "$version" ]; then
      status="FAIL (pip replaced python-blosc2 $version by $kept)"
    fi
    if (cd "$work" && PATH=/usr/bin:/bin "$venv/bin/python" -m blosc2_vq --diagnose) >>"$log" 2>&1; then
      diag=ok
    fi
    if grep -q "layout learned from" "$log"; then layout=learned; else layout=table; fi
    frames=$(mktemp -d)
    if (cd "$frames" && PATH=/usr/bin:/bin "$venv/bin/python" -c "$write_frame" "$frames" \
        && PATH=/usr/bin:/bin "$venv/bin/python" -c "$read_frame" "$frames") >>"$log" 2>&1; then
      trip=ok
    fi
    rm -rf "$frames"
    if [ $probe = 1 ]; then
      site=$("$venv/bin/python" -c 'import blosc2, os; print(os.path.dirname(os.path.dirname(blosc2.__file__)))')
      lib=$(ls "$site"/blosc2/lib/libblosc2.so "$site"/lib64/libblosc2.so "$site"/lib/libblosc2.so \
              "$venv"/lib64/libblosc2.so "$venv"/lib/libblosc2.so 2>/dev/null | head -n 1 || true)
      if [ -z "$lib" ]; then
        probed="no libblosc2.so"
      elif out=$(BLOSC2_VQ_TEST_LIBBLOSC2="$lib" cargo test -q --test schunk_probe \
                   a_loaded_libblosc2_is_probed -- --nocapture 2>&1); then
        echo "$out" | grep "^probe:" >>"$log"
        case "$out" in
          *"agrees with the table"*) probed="= table" ;;
          *"not in the table"*) probed="learned" ;;
          *) probed="?" ;;
        esac
        case "$out" in *"read true"*) probed="$probed, blockshape" ;; esac
      else
        echo "$out" >>"$log"
        probed=FAIL
      fi
    fi
    if [ "$diag" != ok ] || [ "$trip" != ok ] || [ "$probed" = FAIL ]; then
      [ "$status" = pass ] && status=FAIL
    fi
  fi
  [ "$status" = pass ] || failures=$((failures + 1))
  rows+=("$(printf '%-15s %-12s %-8s %-19s %-9s %-11s %s' "$version" "$clib" "$layout" "$probed" "$diag" "$trip" "$status")")
  [ "${KEEP_VENVS:-}" = 1 ] || rm -rf "$venv"
done

echo
printf '%-15s %-12s %-8s %-19s %-9s %-11s %s\n' python-blosc2 c-blosc2 layout probe diagnose "round trip" result
for row in "${rows[@]}"; do echo "$row"; done
echo
echo "layout: where the plugin took the SChunk layout from (its table, or learned from the"
echo "libblosc2.so python-blosc2 ships); probe: the probe on that libblosc2.so (= table: same"
echo "offsets as the table; blockshape: ndim and blockshape bracketed and read). Logs: $work/log-*.txt"
[ $failures = 0 ] || { echo "$failures release(s) failed"; exit 1; }
