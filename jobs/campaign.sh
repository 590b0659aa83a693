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
# <campaign>/campaign.csv, <campaign>/figures/*.png and <campaign>/report.md exist.
# Logs go to <campaign>/logs/, the job ids to <campaign>/jobs.txt. Run it from the
# directory relative paths should be taken from (the repository root in the examples).
#
# Environment (defaults in brackets):
#   RMENS_CAMPAIGN_DIR    campaign directory [the sweep's `output`]
#   RMENS                 rmens binary [<repo>/build/rmens]
#   RMENS_RANKS           MPI ranks per run (sbatch --ntasks) [2]
#   RMENS_CPUS_PER_TASK   cores per rank = BLAS threads per rank [1]
#   RMENS_TIME            time limit of each run, train or eval (sbatch --time) [01:00:00]
#   RMENS_PARTITION       partition [the cluster's default]
#   RMENS_ARRAY_PARALLEL  at most this many grid points at once (--array=...%N) [no limit]
#   RMENS_SBATCH_ARGS     extra sbatch arguments for every job (e.g. "--account=x --qos=y")
#   RMENS_SYNTH           auto: write a synthetic store only when the sweep's store does
#                         not exist yet; 1: always (overwrites); 0: never [auto]
#   RMENS_VERBS           "train eval": separate train and eval arrays; "run": one array;
#                         "active": rmens active per point (configs/sweeps/active.sweep),
#                         reported by analysis/plot_active.py
#                         running both per point (fewer queue waits) ["train eval"]
#   RMENS_FORCE           1: pass --force (overwrite existing members/results) [0]
#   RMENS_DRY_RUN         1: print the sbatch commands instead of submitting [0]
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
export RMENS="${RMENS:-$ROOT/build/rmens}"
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
if [ "$dry" = 1 ]; then
  sweep="$(cd "$(dirname "$sweep_src")" && pwd)/$(basename "$sweep_src")" # a dry run writes nothing
else
  mkdir -p "$campaign/logs"
  cp "$sweep_src" "$sweep"
  : >"$campaign/jobs.txt"
fi
points="$("$PY" "$SWEEP_TOOL" count "$sweep")"
mapfile -t base_args < <("$PY" "$SWEEP_TOOL" base-args "$sweep")
store="$(printf '%s\n' "${base_args[@]}" | sed -n 's/^store=//p' | tail -n 1)"

site=() # where and on whose account every job runs
[ -z "${RMENS_PARTITION:-}" ] || site+=(--partition="$RMENS_PARTITION")
# shellcheck disable=SC2206 # a word list by design
site+=(${RMENS_SBATCH_ARGS:-})
common=(--parsable "${site[@]}" --ntasks="${RMENS_RANKS:-2}" --cpus-per-task="${RMENS_CPUS_PER_TASK:-1}" --time="${RMENS_TIME:-01:00:00}")
force=()
[ "${RMENS_FORCE:-0}" != 1 ] || force=(--force)
array="0-$(( points - 1 ))"
[ -z "${RMENS_ARRAY_PARALLEL:-}" ] || array+="%${RMENS_ARRAY_PARALLEL}"

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

previous=""
synth_mode="${RMENS_SYNTH:-auto}"
if [ "$synth_mode" = 1 ] || { [ "$synth_mode" = auto ] && [ ! -e "$store" ]; }; then
  synth_force=()
  [ ! -e "$store" ] || synth_force=(--force)
  previous="$(submit synth "${common[@]}" --ntasks=1 --job-name=rmens-synth --output="$campaign/logs/%x-%j.out" \
              "$ROOT/jobs/slurm/single_node.sbatch" synth "${base_args[@]}" "${synth_force[@]}")"
fi

read -r -a verbs <<<"${RMENS_VERBS:-train eval}"
for verb in "${verbs[@]}"; do
  case "$verb" in train|eval|run|active) ;; *) echo "campaign: RMENS_VERBS: '$verb' is not train, eval, run or active" >&2; exit 2 ;; esac
  dep="$(after "$previous")"
  previous="$(submit "$verb" "${common[@]}" --array="$array" --job-name="rmens-$verb" \
              --output="$campaign/logs/%x-%A_%a.out" ${dep:+"$dep"} \
              "$ROOT/jobs/slurm/sweep_array.sbatch" "$verb" "$sweep" "${force[@]}")"
done

dep="$(after "$previous")"
report="$(submit report --parsable "${site[@]}" --ntasks=1 --cpus-per-task=1 --time=00:30:00 \
          --job-name=rmens-report --output="$campaign/logs/%x-%j.out" ${dep:+"$dep"} \
          "$ROOT/jobs/slurm/report.sbatch" "$campaign" ${RMENS_VERBS:+"$RMENS_VERBS"})"

echo "campaign: $points points of $sweep_src -> $campaign" >&2
[ "$dry" = 1 ] || sed 's/^/campaign:   job /' "$campaign/jobs.txt" >&2
echo "campaign: when job $report ends: $campaign/report.md (logs in $campaign/logs/)" >&2
# The report job's id on stdout, for scripts that wait for the campaign.
echo "$report"
