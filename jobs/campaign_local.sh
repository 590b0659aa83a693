#!/usr/bin/env bash
# Run a whole campaign on this machine, without Slurm: the same sweep files, directories
# and outputs as jobs/campaign.sh, one grid point after another.
#
#   jobs/campaign_local.sh SWEEP      e.g. jobs/campaign_local.sh configs/sweeps/demo.sweep
#
# Checks the sweep's store first: a store that does not exist is an error naming its path,
# unless the sweep says `synth yes` (or RMENS_SYNTH=1), and then `rmens synth` writes a
# synthetic one. Runs `rmens run` for every grid point into <campaign>/points/p<iiii>/
# (through jobs/launch.sh: RMENS_RANKS ranks, BLAS threads = cores / ranks), then
# analysis/report.py: campaign.csv, figures/*.png and report.md, which name the store and
# say whether it is synthetic. A point whose results are complete is skipped, so an
# interrupted campaign continues where it stopped. A point that fails is reported with
# rmens's own error line (its log in <campaign>/logs/) and the others still run; the report
# covers the points that finished, and the exit status is 1 if any point failed. Points
# are numbered from 1 ("point 3 of 30"); p<iiii> directories count from 0 (p0002).
#
# Environment: RMENS [build/rmens; installed: P/bin/rmens], RMENS_RANKS [2], RMENS_CAMPAIGN_DIR [the sweep's output],
# RMENS_SYNTH [the sweep's `synth yes|no`]: 1 synthesises a missing store, 0 never does,
# RMENS_FORCE=1 redoes every point (rmens --force), RMENS_DRY_RUN=1 prints the plan (the
# store, and which points have results) and runs nothing,
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
source "$ROOT/jobs/find_rmens.sh"
export RMENS="${RMENS:-$(rmens_default_binary "$ROOT")}"
[ -x "$RMENS" ] || { echo "campaign: rmens binary '$RMENS' is not executable (build it: jobs/setup.sh)" >&2; exit 1; }
verb="${RMENS_VERBS:-run}"
case "$verb" in run|active) ;; *) echo "campaign: RMENS_VERBS: '$verb' is not run or active" >&2; exit 2 ;; esac
dry="${RMENS_DRY_RUN:-0}"
"$PY" "$SWEEP_TOOL" check "$1" --rmens "$RMENS" >/dev/null
campaign="$("$PY" "$SWEEP_TOOL" campaign-dir "$1")"
export RMENS_CAMPAIGN_DIR="$campaign"
sweep="$campaign/sweep.txt"
if [ -f "$sweep" ] && ! cmp -s "$1" "$sweep"; then
  echo "campaign: $campaign already holds a different sweep ($sweep); use another RMENS_CAMPAIGN_DIR" >&2
  exit 1
fi
points="$("$PY" "$SWEEP_TOOL" count "$1")"
todo_list="$("$PY" "$SWEEP_TOOL" todo "$1" --verbs "$verb")"
mapfile -t todo <<<"$todo_list"
[ -n "$todo_list" ] || todo=()
# The store, before anything is written: missing and not asked to be synthetic = an error.
store_line="$("$PY" "$SWEEP_TOOL" store "$1")"
store_state="${store_line%%$'\t'*}" store_text="${store_line#*$'\t'}"
if [ "$store_state" = missing ] && (( ${#todo[@]} > 0 )); then
  echo "campaign: error: $store_text" >&2
  exit 1
fi
if [ "$dry" = 1 ]; then
  echo "campaign: dry run of $points points of $1 -> $campaign (nothing is written)" >&2
  case "$store_state" in
    exists) echo "campaign: store $store_text" >&2 ;;
    synth)  echo "campaign: store $store_text" >&2 ;;
    *)      echo "campaign: store: $store_text (not needed: every point has results)" >&2 ;;
  esac
  "$PY" "$SWEEP_TOOL" status "$1" --verbs "$verb" | sed 's/^/campaign: /' >&2
  [ "${RMENS_FORCE:-0}" != 1 ] || echo "campaign: RMENS_FORCE=1: every point would be redone" >&2
  echo "campaign: ${#todo[@]} of $points points would run" >&2
  exit 0
fi
mkdir -p "$campaign/logs"
cp "$1" "$sweep"

mapfile -t base_args < <("$PY" "$SWEEP_TOOL" base-args "$sweep")
if [ "$store_state" = synth ] && (( ${#todo[@]} > 0 )); then
  echo "campaign: store $store_text" >&2
  # on the points' ranks: synth writes the same store on any rank count, 1.6x faster on 2
  "$ROOT/jobs/launch.sh" -n "${RMENS_RANKS:-2}" synth "${base_args[@]}" >"$campaign/logs/synth.log" 2>&1 || {
    grep -h 'rmens[a-z ]*: error:' "$campaign/logs/synth.log" | awk '!seen[$0]++' >&2 || tail -n 5 "$campaign/logs/synth.log" >&2
    echo "campaign: rmens synth failed (log: $campaign/logs/synth.log)" >&2
    exit 1
  }
  store_line="$("$PY" "$SWEEP_TOOL" store "$sweep")"
  store_state="${store_line%%$'\t'*}" store_text="${store_line#*$'\t'}"
fi
echo "campaign: store $store_text" >&2

force=(--resume) # an interrupted point continues from its checkpoint
[ "${RMENS_FORCE:-0}" != 1 ] || force=(--force)
failed=() ran=0
for ((i = 0; i < points; i++)); do
  label="point $((i + 1)) of $points ($(printf 'p%04d' "$i"))"
  if ! printf '%s\n' "${todo[@]}" | grep -qx "$i"; then echo "campaign: $label has results; skipped" >&2; continue; fi
  mapfile -t args < <("$PY" "$SWEEP_TOOL" point-args "$sweep" "$i" --record)
  log="$campaign/logs/$(printf 'p%04d' "$i").log"
  echo "campaign: $label: rmens $verb" >&2
  status=0
  "$ROOT/jobs/launch.sh" -n "${RMENS_RANKS:-2}" "$verb" "${args[@]}" "${force[@]}" >"$log" 2>&1 || status=$?
  if [ "$status" = 0 ]; then ran=$((ran + 1)); continue; fi
  # rmens's own error lines (each rank may print the same one), not Open MPI's boilerplate
  errors="$(grep -h "rmens[a-z ]*: error:" "$log" | awk '!seen[$0]++' | head -n 5 || true)"
  [ -n "$errors" ] || errors="$(tail -n 5 "$log")"
  printf '%s\n' "$errors" | sed "s/^/campaign: $label: /" >&2
  if [ "$status" = 75 ] || [ "$status" = 130 ] || [ "$status" = 143 ]; then
    echo "campaign: $label was interrupted (exit $status; log: $log): run the campaign again to continue" >&2
    exit "$status"
  fi
  echo "campaign: $label failed (exit $status; log: $log); going on with the other points" >&2
  failed+=("$((i + 1))")
done

finished=$(( points - ${#failed[@]} ))
if (( finished > 0 )); then
  if [ "$verb" = active ]; then
    "$PY" "$ROOT/analysis/plot_active.py" "$campaign"
    echo "campaign: $campaign/active_report.md" >&2
  else
    "$PY" "$ROOT/analysis/report.py" "$campaign"
    echo "campaign: $campaign/report.md" >&2
  fi
fi
if (( ${#failed[@]} > 0 )); then
  list="$(printf '%s, ' "${failed[@]}")"
  echo "campaign: ${#failed[@]} of $points points failed (point${failed[1]:+s} ${list%, }); the report covers the $finished that finished" >&2
  exit 1
fi
echo "campaign: all $points points have results ($ran run now)" >&2
