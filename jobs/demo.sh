#!/usr/bin/env bash
# The main job on the built-in demo (README): set up and build, write a small synthetic
# store, train a 4-member ensemble on 2 MPI ranks, evaluate it, print the report and draw
# the run's figures (analysis/plot_run.py). Output goes to runs/demo/ (override with DEMO_DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/jobs/setup.sh"
cd "$ROOT"
dir="${DEMO_DIR:-runs/demo}"
mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
start=$(date +%s)
build/rmens synth configs/demo.cfg --set store="$dir/store.h5" --force
jobs/launch.sh -n 2 run configs/demo.cfg --set store="$dir/store.h5" --set output="$dir" --force
echo "demo: finished in $(( $(date +%s) - start ))s; results in $dir/results.json"
echo "demo: figures:"
/usr/bin/python3 analysis/plot_run.py "$dir" | sed 's/^/  /'

