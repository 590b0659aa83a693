#!/usr/bin/env bash
# The shipped Slurm scripts with the real rmens and the demo config, on a private one-node
# Slurm cluster (tests/slurm/cluster.sh):
#   1. jobs/slurm/single_node.sbatch: synth, then `run` on 2 ranks (afterok); the same
#      run through jobs/slurm/multi_node.sbatch (srun --mpi=pmix) on the one node;
#   2. jobs/slurm/sweep_array.sbatch: the 3 points of configs/sweeps/demo.sweep as a
#      3-task array, each writing its own point directory with the right overrides;
#   3. jobs/campaign.sh: the whole synth -> train array -> eval array -> report chain;
#      resubmitted when finished it submits nothing (no sbatch call at all); with one
#      point's results gone, only that point's eval and the report (issue 30).
# Checks the job states, the order the chain ran in, the outputs, that each grid point
# got its own annotator beta, and that the same configuration gives the same figures
# whichever way it was submitted.
set -euo pipefail
SRCDIR="${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export RMENS_ROOT="$SRCDIR" RMENS="${RMENS:-$SRCDIR/build/rmens}"
PY=/usr/bin/python3
# shellcheck source=tests/slurm/cluster.sh
source "$SRCDIR/tests/slurm/cluster.sh"
trap slurm_cluster_stop EXIT
trap 'exit 130' INT TERM

fail() {
  echo "test_jobs: FAIL: $*" >&2
  local f
  for f in "$work"/single/*.out "$work"/array/logs/*.out "$work"/chain/logs/*.out; do
    [ -f "$f" ] && { echo "----- $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
# expect_completed JOBID...: every job (every task of an array) ended COMPLETED.
expect_completed() {
  local id states
  for id in "$@"; do
    states="$(slurm_job_state "$id" | sort -u | tr '\n' ' ')"
    [ "$states" = "COMPLETED " ] || fail "job $id ended ${states:-unknown}, expected COMPLETED"
  done
}
job_time() { scontrol show job "$1" | sed -n "s/.* $2=\([0-9T:-]*\).*/\1/p" | sort | { if [ "$3" = last ]; then tail -n 1; else head -n 1; fi; }; }
# The mean aggregator's best-of-n figures of a results.json, for comparisons.
bon_of() { "$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["aggregators"]["mean"]["bon"], sort_keys=True))' "$1"; }

[ -x "$RMENS" ] || { echo "test_jobs: FAIL: rmens binary $RMENS is not built" >&2; exit 1; }
slurm_cluster_start
work="$SLURM_CLUSTER_DIR/work"
mkdir -p "$work/single"
cd "$work"
demo="$SRCDIR/configs/demo.cfg"

# ---- 1. single-node script: synth (1 rank), then run (2 ranks) after it ----
synth_job="$(sbatch --parsable -n 1 --output="$work/single/synth.out" "$SRCDIR/jobs/slurm/single_node.sbatch" \
             synth "$demo" --set store="$work/single/store.h5")"
run_job="$(sbatch --parsable -n 2 --dependency=afterok:"$synth_job" --output="$work/single/run.out" \
           "$SRCDIR/jobs/slurm/single_node.sbatch" run "$demo" --set store="$work/single/store.h5" --set output="$work/single")"
slurm_wait_jobs 300 "$synth_job" "$run_job" || fail "single-node jobs did not finish"
expect_completed "$synth_job" "$run_job"
[ -s "$work/single/results.json" ] || fail "single-node run wrote no results.json"
grep -q '2 ranks x 1 BLAS threads' "$work/single/run.out" || fail "the run job did not launch 2 ranks x 1 BLAS thread"
ranks="$("$PY" -c 'import h5py,sys; print(int(h5py.File(sys.argv[1])["/"].attrs["ranks"]))' "$work/single/results.h5")"
[ "$ranks" = 2 ] || fail "results.h5 records $ranks ranks, expected 2"
members="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["members"])' "$work/single/results.json")"
[ "$members" = 4 ] || fail "results.json has $members members, expected 4 (configs/demo.cfg)"
echo "test_jobs: single-node script: synth job $synth_job + run job $run_job on 2 ranks OK"

# ---- 1b. the multi-node script's srun --mpi=pmix launch, on the one node there is here ----
mkdir -p "$work/srun"
srun_job="$(sbatch --parsable -N 1 --ntasks-per-node=2 --output="$work/srun/run.out" "$SRCDIR/jobs/slurm/multi_node.sbatch" \
            run "$demo" --set store="$work/single/store.h5" --set output="$work/srun")"
slurm_wait_jobs 300 "$srun_job" || fail "multi-node script job did not finish"
expect_completed "$srun_job"
grep -q 'srun --mpi=pmix --ntasks=2 --cpus-per-task=1' "$work/srun/run.out" || fail "multi_node.sbatch did not launch with srun --mpi=pmix"
[ "$(bon_of "$work/srun/results.json")" = "$(bon_of "$work/single/results.json")" ] ||
  fail "the srun-launched run differs from the mpirun-launched one"
echo "test_jobs: multi-node script (srun --mpi=pmix, 1 node x 2 ranks): job $srun_job OK, same figures as mpirun"

# ---- 2. sweep array: 3 tasks, one grid point each ----
export RMENS_CAMPAIGN_DIR="$work/array"
mkdir -p "$RMENS_CAMPAIGN_DIR/logs"
cp "$work/single/store.h5" "$RMENS_CAMPAIGN_DIR/store.h5" # the sweep's store: <campaign>/store.h5
points="$("$PY" "$SRCDIR/jobs/slurm/sweep.py" count "$SRCDIR/configs/sweeps/demo.sweep")"
[ "$points" = 3 ] || fail "demo.sweep has $points points, expected 3"
array_job="$(sbatch --parsable --array=0-2 -n 1 --output="$RMENS_CAMPAIGN_DIR/logs/%x-%A_%a.out" \
             "$SRCDIR/jobs/slurm/sweep_array.sbatch" run "$SRCDIR/configs/sweeps/demo.sweep")"
slurm_wait_jobs 300 "$array_job" || fail "array job did not finish"
[ "$(slurm_job_state "$array_job" | wc -l)" = 3 ] || fail "array job $array_job does not have 3 tasks"
expect_completed "$array_job"
i=0
for beta in -1.0 1.0 0.1; do
  point="$RMENS_CAMPAIGN_DIR/points/p000$i"
  [ -s "$point/results.json" ] || fail "array task $i wrote no $point/results.json"
  got="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["grid"]["pairs.annotator_beta"])' "$point/point.json")"
  [ "$got" = "$beta" ] || fail "point $i records annotator_beta $got, expected $beta"
  # The run itself must have used it: its merged config says so.
  "$PY" - "$point/results.h5" "$beta" <<'EOF' || fail "point $i's results.h5 config does not hold annotator_beta = $beta"
import re, sys, h5py
text = h5py.File(sys.argv[1])["/"].attrs["config"]
text = text.decode() if isinstance(text, bytes) else str(text)
m = re.search(r"annotator_beta\s*=\s*([-0-9.eE+]+)", text)
sys.exit(0 if m and float(m.group(1)) == float(sys.argv[2]) else 1)
EOF
  i=$(( i + 1 ))
done
# demo.cfg's own beta is 1.0: point p0001 is the single-node run's configuration
# (1 rank here, 2 there; rmens promises identical figures), p0000 is not.
[ "$(bon_of "$RMENS_CAMPAIGN_DIR/points/p0001/results.json")" = "$(bon_of "$work/single/results.json")" ] ||
  fail "array point p0001 (beta 1.0, 1 rank) differs from the single-node run (beta 1.0, 2 ranks)"
[ "$(bon_of "$RMENS_CAMPAIGN_DIR/points/p0000/results.json")" != "$(bon_of "$work/single/results.json")" ] ||
  fail "array point p0000 (perfect labels) equals the beta 1.0 run: the override was not applied"
echo "test_jobs: sweep array: job $array_job, 3 tasks, points with beta -1.0/1.0/0.1 OK"

# ---- 3. the chain: synth -> train array -> eval array -> merge + plots + report ----
export RMENS_CAMPAIGN_DIR="$work/chain" RMENS_RANKS=1 RMENS_TIME=00:10:00
report_job="$("$SRCDIR/jobs/campaign.sh" "$SRCDIR/configs/sweeps/demo.sweep")" || fail "jobs/campaign.sh failed"
chain="$RMENS_CAMPAIGN_DIR"
mapfile -t steps < <(cut -d' ' -f1 "$chain/jobs.txt")
mapfile -t ids < <(cut -d' ' -f2 "$chain/jobs.txt")
[ "${steps[*]}" = "synth train eval report" ] || fail "the chain submitted '${steps[*]}', expected synth train eval report"
[ "${ids[3]}" = "$report_job" ] || fail "campaign.sh printed $report_job, jobs.txt has report ${ids[3]}"
slurm_wait_jobs 600 "${ids[@]}" || fail "the chain did not finish"
expect_completed "${ids[@]}"
# afterok: each step started only after every task of the previous one had ended.
for s in 1 2 3; do
  prev_end="$(job_time "${ids[$((s - 1))]}" EndTime last)"
  start="$(job_time "${ids[$s]}" StartTime first)"
  [[ "$start" > "$prev_end" || "$start" == "$prev_end" ]] ||
    fail "${steps[$s]} started at $start, before ${steps[$((s - 1))]} ended at $prev_end"
done
[ -s "$chain/store.h5" ] || fail "the chain's synth step wrote no $chain/store.h5"
for i in 0 1 2; do
  [ -s "$chain/points/p000$i/members.h5" ] && [ -s "$chain/points/p000$i/results.json" ] ||
    fail "chain point p000$i lacks members.h5 or results.json"
  [ "$(bon_of "$chain/points/p000$i/results.json")" = "$(bon_of "$RMENS_CAMPAIGN_DIR/../array/points/p000$i/results.json")" ] ||
    fail "chain point p000$i (train then eval) differs from the array's (run)"
done
# The merged CSV: one row per run x (aggregators + single + oracle) x n, beta as a column.
"$PY" - "$chain" <<'EOF' || fail "campaign.csv does not match the three runs' results.json"
import csv, json, os, sys
chain = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(chain, "campaign.csv"))))
want = 0
for i in range(3):
    res = json.load(open(os.path.join(chain, "points", f"p000{i}", "results.json")))
    want += (len(res["aggregators"]) + 2) * len(res["oracle_bon"])
    mine = [r for r in rows if r["run"] == f"p000{i}"]
    for r in mine:
        if r["aggregator"] in res["aggregators"]:
            assert abs(float(r["bon_reward"]) - res["aggregators"][r["aggregator"]]["bon"][r["n"]]) < 1e-12, r
assert len(rows) == want, f"{len(rows)} rows, expected {want}"
assert "pairs.annotator_beta" in rows[0], "the swept key is not a column"
assert sorted({r["pairs.annotator_beta"] for r in rows}) == ["-1.0", "0.1", "1.0"], {r["pairs.annotator_beta"] for r in rows}
print(f"campaign.csv: {len(rows)} rows OK")
EOF
for fig in bon_vs_kl ensemble_size annotator_quality uncertainty_vs_error; do
  [ -s "$chain/figures/$fig.png" ] || fail "the report step drew no figures/$fig.png"
  grep -q "](figures/$fig.png)" "$chain/report.md" || fail "report.md does not embed $fig.png"
done
grep -q '| p0002 |' "$chain/report.md" || fail "report.md has no row for p0002"
grep -q "^\*\*Store:\*\* \`$chain/store.h5\`.*\*\*synthetic\*\*" "$chain/report.md" || fail "report.md does not name its synthetic store"

echo "test_jobs: chain: ${steps[*]} = jobs ${ids[*]} ran in order, CSV + 4 figures + report OK"

# ---- 3b. resubmitting resumes: a finished campaign submits nothing ----
shim="$work/shim"
mkdir -p "$shim"
printf '#!/bin/sh\necho "$*" >>"%s"\nexec %s "$@"\n' "$work/sbatch_calls" "$(command -v sbatch)" >"$shim/sbatch"
chmod +x "$shim/sbatch"
cp "$chain/jobs.txt" "$work/jobs_before.txt"
out="$(PATH="$shim:$PATH" "$SRCDIR/jobs/campaign.sh" "$SRCDIR/configs/sweeps/demo.sweep" 2>"$work/resubmit.log")" ||
  { cat "$work/resubmit.log" >&2; fail "resubmitting the finished campaign failed"; }
[ -z "$out" ] && [ ! -e "$work/sbatch_calls" ] || { cat "$work/resubmit.log" >&2; fail "resubmitting a finished campaign submitted '$out'"; }
grep -q "nothing submitted" "$work/resubmit.log" || { cat "$work/resubmit.log" >&2; fail "no 'nothing submitted' message"; }
cmp -s "$chain/jobs.txt" "$work/jobs_before.txt" || fail "jobs.txt changed although nothing was submitted"
# One point's results gone: only its eval (it still has members.h5), then the report.
before="$(bon_of "$chain/points/p0001/results.json")"
rm "$chain/points/p0001/results.json" # results.h5 stays: eval overwrites a point's partial results
report_job="$(PATH="$shim:$PATH" "$SRCDIR/jobs/campaign.sh" "$SRCDIR/configs/sweeps/demo.sweep" 2>"$work/resubmit.log")" ||
  { cat "$work/resubmit.log" >&2; fail "resubmitting with one point's results gone failed"; }
mapfile -t steps2 < <(cut -d' ' -f1 "$chain/jobs.txt")
mapfile -t ids2 < <(cut -d' ' -f2 "$chain/jobs.txt")
[ "${steps2[*]}" = "eval report" ] || { cat "$work/resubmit.log" >&2; fail "the resumed campaign submitted '${steps2[*]}', expected eval report"; }
grep -q -- "--array=1 " "$work/sbatch_calls" || fail "the eval array is not point 2 alone: $(cat "$work/sbatch_calls")"
slurm_wait_jobs 300 "${ids2[@]}" || fail "the resumed campaign did not finish"
expect_completed "${ids2[@]}"
[ "$(slurm_job_state "${ids2[0]}" | wc -l)" = 1 ] || fail "the eval array of the resumed campaign has more than one task"
[ "$(bon_of "$chain/points/p0001/results.json")" = "$before" ] || fail "p0001 re-evaluated differs from its first evaluation"
grep -q "none missing" "$chain/report.md" || fail "the resumed campaign's report misses a point"
echo "test_jobs: resubmitted: finished -> nothing submitted; p0001 without results -> eval of point 2 + report (${ids2[*]}) OK"
if [ -n "${RMENS_SLURM_TEST_KEEP:-}" ]; then
  rm -rf "$RMENS_SLURM_TEST_KEEP" && cp -r "$chain" "$RMENS_SLURM_TEST_KEEP"
  echo "test_jobs: chain campaign copied to $RMENS_SLURM_TEST_KEEP"
fi
echo "test_jobs: PASS"
