#!/usr/bin/env bash
# Submit a whole campaign to Slurm as a dependency chain:
#
#   synth (if needed) -> train array -> eval array -> merge + plots + report
#
#   jobs/campaign.sh SWEEP            e.g. jobs/campaign.sh configs/sweeps/demo.sweep
#
# Each step starts only when the previous one succeeded (--dependency=afterok; for an
# array, when every task succeeded). One array task per grid point of the sweep file
# (format: jobs/slurm/sweep.py); point i writes <campaign>/points/p<iiii>/. At the end
# <campaign>/campaign.csv, <campaign>/figures/*.png and <campaign>/report.md exist; the
# report names the store (path, store_uuid) and says whether it is synthetic.
# Logs go to <campaign>/logs/, the job ids of the last submission to <campaign>/jobs.txt.
# Run it from the directory relative paths should be taken from (the repository root in
# the examples).
#
# The store: a store that does not exist is an error naming its path, unless the sweep
# says `synth yes` (or RMENS_SYNTH=1): then the chain starts with `rmens synth`.
#
# Resubmitting resumes: a point whose results are complete (results.json, or active.json
# for RMENS_VERBS=active, parses and has its main keys) is left out of the arrays, and a
# point with members.h5 out of the train array; train/run/active continue from a
# checkpoint (--resume), eval overwrites a point's partial results. When every point is
# done, only the report job is submitted, and not even that when report.md is newer than
# every result: then nothing is submitted and nothing is printed on stdout. Refused while
# jobs of the last submission (jobs.txt) are still queued or running.
#
# Environment (defaults in brackets):
#   RMENS_CAMPAIGN_DIR    campaign directory [the sweep's `output`]
#   RMENS                 rmens binary [<repo>/build/rmens; installed: P/bin/rmens]
#   RMENS_RANKS           MPI ranks per run (sbatch --ntasks) [2]
#   RMENS_CPUS_PER_TASK   cores per rank = BLAS threads per rank [1]
#   RMENS_TIME            time limit of each run, train or eval (sbatch --time) [01:00:00]
#   RMENS_PARTITION       partition [the cluster's default]
#   RMENS_ARRAY_PARALLEL  at most this many grid points at once (--array=...%N) [no limit]
#   RMENS_SBATCH_ARGS     extra sbatch arguments for every job (e.g. "--account=x --qos=y")
#   RMENS_SYNTH           1: write a synthetic store when the sweep's store does not exist
#                         (as `synth yes`); 0: never, whatever the sweep says
#                         [the sweep's `synth yes|no`, default no]
#   RMENS_VERBS           "train eval": separate train and eval arrays; "run": one array
#                         running both per point (fewer queue waits); "active": rmens
#                         active per point (configs/sweeps/active.sweep), reported by
#                         analysis/plot_active.py ["train eval"]
#   RMENS_FORCE           1: redo every point, with --force (overwrite existing
#                         members/results) [0: skip the points that are done]
#   RMENS_DRY_RUN         1: print the store, which points have results, and the sbatch
#                         commands, instead of submitting [0]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
SWEEP_TOOL="$ROOT/jobs/slurm/sweep.py"

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  [ $# -eq 1 ] && exit 0 || exit 2
fi
sweep_src="$1"
export RMENS_ROOT="$ROOT"
source "$ROOT/jobs/find_rmens.sh"
export RMENS="${RMENS:-$(rmens_default_binary "$ROOT")}"
[ -x "$RMENS" ] || { echo "campaign: rmens binary '$RMENS' is not executable (build it: jobs/setup.sh)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

# Validate the sweep (syntax, key names against this rmens) before anything is queued:
# a misspelt key should fail here, not after hours in the queue.
"$PY" "$SWEEP_TOOL" check "$sweep_src" --rmens "$RMENS" >/dev/null
campaign="$("$PY" "$SWEEP_TOOL" campaign-dir "$sweep_src")"
export RMENS_CAMPAIGN_DIR="$campaign"
dry="${RMENS_DRY_RUN:-0}"

# The jobs read the campaign's own copy of the sweep, so editing the original while the
# campaign is queued changes nothing. A campaign directory belongs to one sweep.
sweep="$campaign/sweep.txt"
if [ -f "$sweep" ] && ! cmp -s "$sweep_src" "$sweep"; then
  echo "campaign: $campaign already holds a different sweep ($sweep); use another RMENS_CAMPAIGN_DIR" >&2
  exit 1
fi
# Plan from the original (the copy is written only once the plan holds); a dry run's
# jobs would read the original too, as it writes nothing.
plan="$(cd "$(dirname "$sweep_src")" && pwd)/$(basename "$sweep_src")"
[ "$dry" != 1 ] || sweep="$plan"
points="$("$PY" "$SWEEP_TOOL" count "$plan")"
mapfile -t base_args < <("$PY" "$SWEEP_TOOL" base-args "$plan")
read -r -a verbs <<<"${RMENS_VERBS:-train eval}"
for verb in "${verbs[@]}"; do
  case "$verb" in train|eval|run|active) ;; *) echo "campaign: RMENS_VERBS: '$verb' is not train, eval, run or active" >&2; exit 2 ;; esac
done
# Which points each step must still run for (all of them with RMENS_FORCE=1).
declare -A arrays
pending=0
for verb in "${verbs[@]}"; do
  arrays[$verb]="$("$PY" "$SWEEP_TOOL" todo "$plan" --verbs "${verbs[*]}" --verb "$verb" --array)"
done
pending_list="$("$PY" "$SWEEP_TOOL" todo "$plan" --verbs "${verbs[*]}")"
[ -z "$pending_list" ] || pending="$(wc -l <<<"$pending_list")"
store_line="$("$PY" "$SWEEP_TOOL" store "$plan")"
store_state="${store_line%%$'\t'*}" store_text="${store_line#*$'\t'}"
if [ "$store_state" = missing ] && (( pending > 0 )); then
  echo "campaign: error: $store_text" >&2
  exit 1
fi
if [ "$dry" = 1 ]; then
  echo "campaign: dry run of $points points of $sweep_src -> $campaign (nothing is submitted or written)" >&2
  "$PY" "$SWEEP_TOOL" status "$plan" --verbs "${verbs[*]}" | sed 's/^/campaign: /' >&2
  [ "${RMENS_FORCE:-0}" != 1 ] || echo "campaign: RMENS_FORCE=1: every point would be redone" >&2
fi
# Jobs of the previous submission still in the queue would run the same points twice.
if [ "$dry" != 1 ] && [ -s "$campaign/jobs.txt" ] && command -v squeue >/dev/null; then
  mapfile -t old_ids < <(cut -d' ' -f2 "$campaign/jobs.txt")
  active="$(squeue -h -o '%i' 2>/dev/null | sed 's/_.*//' | sort -u | grep -xF -f <(printf '%s\n' "${old_ids[@]}") | tr '\n' ' ' || true)"
  if [ -n "$active" ]; then
    echo "campaign: jobs ${active% } of the last submission ($campaign/jobs.txt) are still queued or running; wait for them or scancel them" >&2
    exit 1
  fi
fi
# Report only when something is new: a point to run, or a result newer than report.md.
report_md="$campaign/report.md"
[ "${verbs[*]}" != active ] || report_md="$campaign/active_report.md" # analysis/plot_active.py's
report_stale=1
if (( pending == 0 )) && [ -f "$report_md" ] && [ "${RMENS_FORCE:-0}" != 1 ] &&
   [ -z "$(find "$campaign/points" -name 'results.json' -newer "$report_md" -o -name 'active.json' -newer "$report_md" 2>/dev/null | head -n 1)" ]; then
  report_stale=0
fi
if [ "$dry" != 1 ]; then
  mkdir -p "$campaign/logs"
  cp "$sweep_src" "$sweep"
  if (( pending > 0 )) || (( report_stale )); then : >"$campaign/jobs.txt"; fi
fi

site=() # where and on whose account every job runs
[ -z "${RMENS_PARTITION:-}" ] || site+=(--partition="$RMENS_PARTITION")
# shellcheck disable=SC2206 # a word list by design
site+=(${RMENS_SBATCH_ARGS:-})
common=(--parsable "${site[@]}" --ntasks="${RMENS_RANKS:-2}" --cpus-per-task="${RMENS_CPUS_PER_TASK:-1}" --time="${RMENS_TIME:-01:00:00}")
force=()
[ "${RMENS_FORCE:-0}" != 1 ] || force=(--force)
parallel=""
[ -z "${RMENS_ARRAY_PARALLEL:-}" ] || parallel="%${RMENS_ARRAY_PARALLEL}"

# submit NAME SBATCH_ARGS... -- prints the job id (or the command, on a dry run).
submit() {
  local name="$1" id
  shift
  if [ "$dry" = 1 ]; then
    echo "sbatch $*" >&2
    echo "DRY-$name"
    return
  fi
  id="$(sbatch "$@")" || { echo "campaign: sbatch for '$name' failed" >&2; return 1; }
  id="${id%%;*}" # --parsable prints "id" or "id;cluster"
  echo "$name $id" >>"$campaign/jobs.txt"
  echo "$id"
}
after() { if [ -n "$1" ]; then echo "--dependency=afterok:$1"; fi; }

echo "campaign: store $store_text" >&2
previous=""
if [ "$store_state" = synth ] && (( pending > 0 )); then
  previous="$(submit synth "${common[@]}" --ntasks=1 --job-name=rmens-synth --output="$campaign/logs/%x-%j.out" \
              "$ROOT/jobs/slurm/single_node.sbatch" synth "${base_args[@]}")"
fi

for verb in "${verbs[@]}"; do
  if [ -z "${arrays[$verb]}" ]; then
    echo "campaign: $verb: every point is done; no $verb array" >&2
    continue
  fi
  resume=()
  # (eval runs only for points without complete results: what it overwrites is partial)
  case "$verb" in train|run|active) [ "${RMENS_FORCE:-0}" = 1 ] || resume=(--resume) ;; eval) [ "${RMENS_FORCE:-0}" = 1 ] || resume=(--force) ;; esac
  dep="$(after "$previous")"
  previous="$(submit "$verb" "${common[@]}" --array="${arrays[$verb]}$parallel" --job-name="rmens-$verb" \
              --output="$campaign/logs/%x-%A_%a.out" ${dep:+"$dep"} \
              "$ROOT/jobs/slurm/sweep_array.sbatch" "$verb" "$sweep" "${force[@]}" "${resume[@]}")"
done

report=""
if (( report_stale )); then
  dep="$(after "$previous")"
  report="$(submit report --parsable "${site[@]}" --ntasks=1 --cpus-per-task=1 --time=00:30:00 \
            --job-name=rmens-report --output="$campaign/logs/%x-%j.out" ${dep:+"$dep"} \
            "$ROOT/jobs/slurm/report.sbatch" "$campaign" ${RMENS_VERBS:+"$RMENS_VERBS"})"
fi

if [ -z "$report" ]; then
  echo "campaign: all $points points of $sweep_src have results and $report_md is up to date: nothing submitted (RMENS_FORCE=1 redoes them)" >&2
  exit 0
fi
echo "campaign: $points points of $sweep_src -> $campaign ($pending to run)" >&2
[ "$dry" = 1 ] || sed 's/^/campaign:   job /' "$campaign/jobs.txt" >&2
echo "campaign: when job $report ends: $report_md (logs in $campaign/logs/)" >&2
# The report job's id on stdout, for scripts that wait for the campaign.
echo "$report"
