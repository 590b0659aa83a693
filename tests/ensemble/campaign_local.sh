#!/usr/bin/env bash
# jobs/campaign_local.sh: the demo sweep (3 annotator qualities) end to end without Slurm:
# store, 3 runs, campaign.csv with a row per run x aggregator x n, figures, report; a
# second call skips the finished points. Then on a tiny sweep (issue 30): a misspelt store
# path is one error naming it (nothing synthesised, nothing written, also through
# jobs/campaign.sh's dry run); `synth yes` synthesises and the report says "synthetic"
# with the store's path and uuid; a failing point shows rmens's own error line, the
# others finish, the report is written and the exit status is 1; the dry runs list the
# points with results; reruns redo only the failed point, then nothing.
source "$(dirname "$0")/common.sh"
export RMENS_CAMPAIGN_DIR="$WORK/campaign"
"$SRCDIR/jobs/campaign_local.sh" "$SRCDIR/configs/sweeps/demo.sweep" >"$WORK/c.log" 2>&1 || { cat "$WORK/c.log"; fail "campaign"; }
for f in campaign.csv ablation.csv report.md figures/bon_vs_kl.png figures/annotator_quality.png; do
  [ -s "$WORK/campaign/$f" ] || fail "missing $f"
done
"$PYTHON" - "$WORK/campaign" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/campaign.csv")))
betas = sorted({r["pairs.annotator_beta"] for r in rows})
assert betas == ["-1.0", "0.1", "1.0"], betas
for p in range(3):
    res = json.load(open(f"{d}/points/p{p:04d}/results.json"))
    mine = [r for r in rows if r["run"] == f"p{p:04d}" and r["aggregator"] == "mean"]
    assert mine, f"no rows for point {p}"
    for r in mine:
        assert abs(float(r["bon_reward"]) - res["aggregators"]["mean"]["bon"][r["n"]]) < 1e-9, r
print(f"campaign.csv: {len(rows)} rows, consistent with results.json")
PY
"$SRCDIR/jobs/campaign_local.sh" "$SRCDIR/configs/sweeps/demo.sweep" >"$WORK/c2.log" 2>&1 || fail "second call"
[ "$(grep -c "has results; skipped" "$WORK/c2.log")" = 3 ] || { cat "$WORK/c2.log"; fail "finished points not skipped"; }
grep -q "^\*\*Store:\*\* \`$WORK/campaign/store.h5\`.*\*\*synthetic\*\*" "$WORK/campaign/report.md" ||
  { head -8 "$WORK/campaign/report.md"; fail "demo report does not name its synthetic store"; }

# ---- the tiny sweep ----
tiny_sweep() { # tiny_sweep FILE STORE [SYNTH]: 3 points (seed 1-3) in $WORK/tiny
  cat >"$1" <<SWEEP
base    $SRCDIR/configs/demo.cfg
output  $WORK/tiny
store   $2
${3:+synth   $3}
set     synth.train_prompts = 300
set     synth.train_responses = 6
set     synth.test_prompts = 30
set     synth.test_responses = 12
set     synth.dim = 24
set     synth.bench_pairs = 50
set     model.hidden = [16, 8]
set     train.epochs = 3
set     train.batch_size = 64
set     pairs.count = 1200
set     ensemble.members = 3
set     parallel.blas_threads = 1
grid    seed = 1, 2, 3
SWEEP
}
unset RMENS_CAMPAIGN_DIR
# 1. A misspelt store path, no `synth yes`: one error naming the path; nothing written.
typo="$WORK/stores/gemma2b_helpfull.h5"
tiny_sweep "$WORK/typo.sweep" "$typo"
for script in campaign_local.sh campaign.sh; do
  for dry in 0 1; do
    [ "$script:$dry" != campaign.sh:0 ] || continue # submitting needs Slurm (tests/slurm/test_jobs.sh)
    status=0
    RMENS_DRY_RUN=$dry "$SRCDIR/jobs/$script" "$WORK/typo.sweep" >"$WORK/typo.log" 2>&1 || status=$?
    [ "$status" = 1 ] || { cat "$WORK/typo.log"; fail "$script (dry run $dry) with a misspelt store exited $status, not 1"; }
    [ "$(wc -l <"$WORK/typo.log")" = 1 ] && grep -q "^campaign: error: the store $typo does not exist ($WORK/typo.sweep:3);.*synth yes" "$WORK/typo.log" ||
      { cat "$WORK/typo.log"; fail "$script: the misspelt store is not one error naming its path"; }
    [ ! -e "$typo" ] && [ ! -e "$WORK/tiny" ] || fail "$script wrote something for a campaign whose store is missing"
  done
done
cat "$WORK/typo.log"
# RMENS_SYNTH=1 asks for synthesis as `synth yes` would (dry run: nothing written).
RMENS_SYNTH=1 RMENS_DRY_RUN=1 "$SRCDIR/jobs/campaign_local.sh" "$WORK/typo.sweep" >"$WORK/typo.log" 2>&1 ||
  { cat "$WORK/typo.log"; fail "RMENS_SYNTH=1 dry run"; }
grep -q "campaign: store $typo does not exist: rmens synth writes a SYNTHETIC store there (RMENS_SYNTH=1)" "$WORK/typo.log" ||
  { cat "$WORK/typo.log"; fail "RMENS_SYNTH=1 does not ask for a synthetic store"; }
[ ! -e "$typo" ] || fail "a dry run wrote the store"

# 2. `synth yes`, point 2 failing (a members.h5 that is not HDF5 in its directory).
tiny_sweep "$WORK/tiny.sweep" store.h5 yes
mkdir -p "$WORK/tiny/points/p0001"
echo "not HDF5" >"$WORK/tiny/points/p0001/members.h5"
status=0
"$SRCDIR/jobs/campaign_local.sh" "$WORK/tiny.sweep" >"$WORK/t1.log" 2>&1 || status=$?
cat "$WORK/t1.log"
[ "$status" = 1 ] || fail "a campaign with a failed point exited $status, not 1"
grep -q "^campaign: point 2 of 3 (p0001): rmens run: error: $WORK/tiny/points/p0001/members.h5: cannot open" "$WORK/t1.log" ||
  fail "the failed point's rmens error line is not shown"
grep -q "^campaign: 1 of 3 points failed (point 2); the report covers the 2 that finished" "$WORK/t1.log" || fail "no failure summary"
! grep -Eqi "open mpi|mpirun detected|MPI_ABORT|prterun|^-----" "$WORK/t1.log" || fail "Open MPI boilerplate in the campaign output"
! grep -Eq "point 0|points? [0-9]+/" "$WORK/t1.log" || fail "a point numbered from 0, or as i/n"
for p in p0000 p0002; do [ -s "$WORK/tiny/points/$p/results.json" ] || fail "$p did not finish after point 2 failed"; done
grep -q "missing (no results.json yet): p0001" "$WORK/tiny/report.md" || fail "the report does not list p0001 as missing"
uuid="$("$PYTHON" -c 'import h5py,sys; print(h5py.File(sys.argv[1])["/"].attrs["store_uuid"])' "$WORK/tiny/store.h5")"
grep -q "^\*\*Store:\*\* \`$WORK/tiny/store.h5\` (store_uuid \`$uuid\`), \*\*synthetic\*\*" "$WORK/tiny/report.md" ||
  { head -8 "$WORK/tiny/report.md"; fail "the report does not say the store ($uuid) is synthetic"; }
grep -q "^Store: $WORK/tiny/store.h5 (store_uuid $uuid), synthetic" "$WORK/t1.log" || fail "report.py does not print the store"
# The dry runs list the points that have results (and write nothing).
for script in campaign_local.sh campaign.sh; do
  RMENS_DRY_RUN=1 "$SRCDIR/jobs/$script" "$WORK/tiny.sweep" >"$WORK/dry.log" 2>&1 || { cat "$WORK/dry.log"; fail "$script dry run"; }
  for want in "point 1 of 3 (p0000): has results (results.json)" "point 2 of 3 (p0001): to run" \
              "point 3 of 3 (p0002): has results (results.json)"; do
    grep -qF "campaign: $want" "$WORK/dry.log" || { cat "$WORK/dry.log"; fail "$script dry run: no '$want'"; }
  done
done
# campaign.sh would run only point 2: train and eval arrays of index 1.
grep -q -- "--array=1 .*sweep_array.sbatch train .* --resume" "$WORK/dry.log" &&
  grep -q -- "--array=1 .*sweep_array.sbatch eval" "$WORK/dry.log" || { cat "$WORK/dry.log"; fail "campaign.sh dry run: arrays are not just point 2"; }

# 3. Fixed, then rerun: only point 2 runs; a third call runs nothing.
rm "$WORK/tiny/points/p0001/members.h5"
"$SRCDIR/jobs/campaign_local.sh" "$WORK/tiny.sweep" >"$WORK/t2.log" 2>&1 || { cat "$WORK/t2.log"; fail "rerun"; }
[ "$(grep -c "has results; skipped" "$WORK/t2.log")" = 2 ] && grep -q "point 2 of 3 (p0001): rmens run" "$WORK/t2.log" ||
  { cat "$WORK/t2.log"; fail "the rerun did not run exactly the failed point"; }
grep -q "none missing" "$WORK/tiny/report.md" || fail "the rerun's report still misses a point"
before="$(stat -c %Y "$WORK/tiny/points/p0000/results.json")"
"$SRCDIR/jobs/campaign_local.sh" "$WORK/tiny.sweep" >"$WORK/t3.log" 2>&1 || { cat "$WORK/t3.log"; fail "third call"; }
[ "$(grep -c "has results; skipped" "$WORK/t3.log")" = 3 ] && ! grep -q "rmens run" "$WORK/t3.log" ||
  { cat "$WORK/t3.log"; fail "the third call redid a point"; }
[ "$(stat -c %Y "$WORK/tiny/points/p0000/results.json")" = "$before" ] || fail "p0000's results were rewritten"
RMENS_DRY_RUN=1 "$SRCDIR/jobs/campaign.sh" "$WORK/tiny.sweep" >"$WORK/dry.log" 2>&1 || { cat "$WORK/dry.log"; fail "campaign.sh dry run"; }
grep -q "nothing submitted" "$WORK/dry.log" && ! grep -q "^sbatch" "$WORK/dry.log" ||
  { cat "$WORK/dry.log"; fail "campaign.sh would submit something for a finished campaign"; }
# RMENS_FORCE=1 would redo them all.
RMENS_FORCE=1 RMENS_DRY_RUN=1 "$SRCDIR/jobs/campaign.sh" "$WORK/tiny.sweep" >"$WORK/dry.log" 2>&1 || { cat "$WORK/dry.log"; fail "forced dry run"; }
grep -q -- "--array=0-2 .*sweep_array.sbatch train .* --force" "$WORK/dry.log" || { cat "$WORK/dry.log"; fail "RMENS_FORCE=1 does not redo every point"; }
echo "campaign_local: ok"
