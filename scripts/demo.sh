#!/usr/bin/env bash
# The main job, from a fresh machine: set up (scripts/setup.sh), install the package and the
# peers into target/report-venv (examples/python/setup_peers.sh --ours), then compress the
# embedded data side by side with SZ3, SPERR, TTHRESH, ZFP, JPEG-XL and LZ4 and print the
# tables: the Olivetti faces from ../shared/data, the velocity-distribution families, nine real
# fields shipped in PyPI packages, and the ablation of the trained codebook. Plots, REPORT.md
# and report.json go to ./report (or $1). FULL=1 runs the full report (about 6 minutes)
# instead of the quick one (about 1 minute after set-up).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/report"}
bash "$root/scripts/setup.sh"
bash "$root/examples/python/setup_peers.sh" --ours
mode=(--quick)
[ "${FULL:-0}" = 1 ] && mode=()
"$root/target/report-venv/bin/python" "$root/examples/python/full_report.py" "${mode[@]}" --out "$out"
echo "tables above; plots, REPORT.md and report.json in $out"
