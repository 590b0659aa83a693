#!/usr/bin/env bash
# Run a whole campaign on this machine, without Slurm: the same sweep files, directories
# and outputs as jobs/campaign.sh, one grid point after another.
#
#   jobs/campaign_local.sh SWEEP      e.g. jobs/campaign_local.sh configs/sweeps/demo.sweep
#
# Writes the sweep's store with `rmens synth` if it does not exist, runs `rmens run` for
# every grid point into <campaign>/points/p<iiii>/ (through jobs/launch.sh: RMENS_RANKS
# ranks, BLAS threads = cores / ranks), then analysis/report.py: campaign.csv,
# figures/*.png and report.md. A point that already has results is skipped, so an
# interrupted campaign continues where it stopped.
#
# Environment: RMENS [build/rmens], RMENS_RANKS [2], RMENS_CAMPAIGN_DIR [the sweep's output],
# RMENS_VERBS [run]: "active" runs `rmens active` per point (configs/sweeps/active.sweep)
# and reports with analysis/plot_active.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
SWEEP_TOOL="$ROOT/jobs/slurm/sweep.py"
if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  [ $# -eq 1 ] && exit 0 || exit 2
fi
export RMENS="${RMENS:-$ROOT/build/rmens}"
[ -x "$RMENS" ] || { echo "campaign: rmens binary '$RMENS' is not executable (build it: jobs/setup.sh)" >&2; exit 1; }
"$PY" "$SWEEP_TOOL" check "$1" --rmens "$RMENS" >/dev/null
campaign="$("$PY" "$SWEEP_TOOL" campaign-dir "$1")"
export RMENS_CAMPAIGN_DIR="$campaign"
mkdir -p "$campaign/logs"
sweep="$campaign/sweep.txt"
if [ -f "$sweep" ] && ! cmp -s "$1" "$sweep"; then
  echo "campaign: $campaign already holds a different sweep ($sweep); use another RMENS_CAMPAIGN_DIR" >&2
  exit 1
fi
cp "$1" "$sweep"

mapfile -t base_args < <("$PY" "$SWEEP_TOOL" base-args "$sweep")
store="$("$PY" "$SWEEP_TOOL" base-args "$sweep" | sed -n 's/^store=//p' | tail -n 1)"
if [ -n "$store" ] && [ ! -e "$store" ]; then
  echo "campaign: writing the store $store" >&2
  "$RMENS" synth "${base_args[@]}" >"$campaign/logs/synth.log"
fi
points="$("$PY" "$SWEEP_TOOL" count "$sweep")"
verb="${RMENS_VERBS:-run}" result=results.json
case "$verb" in run) ;; active) result=active.json ;; *) echo "campaign: RMENS_VERBS: '$verb' is not run or active" >&2; exit 2 ;; esac
for ((i = 0; i < points; i++)); do
  mapfile -t args < <("$PY" "$SWEEP_TOOL" point-args "$sweep" "$i" --record)
  dir="$campaign/points/$(printf 'p%04d' "$i")"
  if [ -f "$dir/$result" ]; then echo "campaign: point $i has results; skipped" >&2; continue; fi
  echo "campaign: point $((i + 1))/$points" >&2
  "$ROOT/jobs/launch.sh" -n "${RMENS_RANKS:-2}" "$verb" "${args[@]}" --resume >"$campaign/logs/point_$i.log" 2>&1 \
    || { tail -5 "$campaign/logs/point_$i.log" >&2; echo "campaign: point $i failed (log: $campaign/logs/point_$i.log)" >&2; exit 1; }
done
if [ "$verb" = active ]; then
  "$PY" "$ROOT/analysis/plot_active.py" "$campaign"
  echo "campaign: $campaign/active_report.md" >&2
else
  "$PY" "$ROOT/analysis/report.py" "$campaign"
  echo "campaign: $campaign/report.md" >&2
fi
