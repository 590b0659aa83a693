#!/usr/bin/env bash
# ensemble.kind = "shared_trunk" (issue 16): one trunk, E linear heads, trained jointly.
#  - a one-head shared trunk equals independent member 0 bitwise (ensemble.data full);
#  - 4 heads with bootstrap resamples: members.h5 and results.json bitwise identical for
#    1, 2 and 3 ranks (group 0 trains the unit, the others wait) and for 1 or 2 threads;
#  - data-parallel (parallel.ranks_per_member = 2) within float round-off of one rank;
#  - model.precision = bf16 trains and evaluates (the heads' layer stays fp32);
#  - the README's PyTorch snippet loads every head from the trunk stored once and
#    reproduces rmens's predictions (check_trunk.py), which eval computes with one forward
#    of the heads' unit per block;
#  - SIGTERM inside the unit's training (twice), then --resume on 2 ranks with periodic
#    checkpoints: members.h5 bitwise the uninterrupted run's;
#  - `rmens active` (dopt, on the heads' last hidden layer) with a shared trunk: active.h5
#    bitwise identical for 1 and 2 ranks;
#  - settings a trunk cannot have: one-line error naming the key, exit 2, nothing written.
# Usage: shared_trunk.sh [all|checks|resume]: `resume` is the SIGTERM and --resume part
# alone, `checks` everything else (ctest runs them as two tests: only the SIGTERM part
# needs to run alone, tests/CMakeLists.txt), `all` (the default) both.
MODE="${1:-all}"
case "$MODE" in all|checks|resume) ;; *) echo "usage: $0 [all|checks|resume]" >&2; exit 2 ;; esac
source "$(dirname "$0")/common.sh"
make_store || fail "synth"
TRUNK=(--set ensemble.kind=shared_trunk)
BOOT=("${TRUNK[@]}" --set ensemble.data=bootstrap)

run() { # run NP NAME [--set ...]: train + eval into $WORK/NAME
  local np="$1" name="$2"; shift 2
  run_mpi "$np" run "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/$name" --set eval.save_predictions=true --force \
    "$@" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "run $name"; }
}

checks_units() {
run 1 indep1 --set ensemble.members=1
run 1 trunk1 --set ensemble.members=1 "${TRUNK[@]}"
"$PYTHON" "$SRCDIR/tests/ensemble/check_trunk.py" "$SRCDIR/README.md" "$STORE" "$WORK/trunk1" \
  --independent "$WORK/indep1" || fail "one-head trunk != independent member 0"

for np in 1 2 3; do run "$np" "trunk4_$np" "${BOOT[@]}" --set parallel.blas_threads=$(( np % 2 + 1 )); done
grep -q 'shared trunk, heads 0-3 (mean) epoch 3/3' "$WORK/trunk4_1.log" || fail "no progress line of the unit"
grep -q 'shared trunk: the 4 heads are scored by one forward of their unit per block' "$WORK/trunk4_1.log" \
  || fail "eval did not score the heads through their unit"
grep -q 'warning: ensemble.kind = "shared_trunk" is one unit that group 0 trains: 2 group(s)' "$WORK/trunk4_3.log" \
  || fail "no warning about idle groups"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/trunk4_1/members.h5" "$WORK/trunk4_2/members.h5" \
  "$WORK/trunk4_3/members.h5" || fail "shared trunk members differ across rank counts"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_results.py" 0 "$WORK/trunk4_1/results.json" "$WORK/trunk4_2/results.json" \
  "$WORK/trunk4_3/results.json" || fail "shared trunk results differ across rank counts"
"$PYTHON" "$SRCDIR/tests/ensemble/check_trunk.py" "$SRCDIR/README.md" "$STORE" "$WORK/trunk4_1" || fail "check_trunk"

run 2 trunk4_dp "${BOOT[@]}" --set parallel.ranks_per_member=2
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" --tolerance 2e-3 "$WORK/trunk4_1/members.h5" \
  "$WORK/trunk4_dp/members.h5" || fail "data-parallel shared trunk far from one rank"

run 1 trunk4_bf16 "${BOOT[@]}" --set model.precision=bf16
"$PYTHON" - "$WORK/trunk4_1/results.json" "$WORK/trunk4_bf16/results.json" <<'PY' || fail "bf16 shared trunk"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
x, y = a["aggregators"]["mean"]["pair_accuracy"], b["aggregators"]["mean"]["pair_accuracy"]
assert b["provenance"]["precision"] == "bf16", b["provenance"]["precision"]
assert abs(x - y) < 0.05, (x, y)
print(f"bf16 shared trunk: mean pair accuracy {y:.4f} (fp32 {x:.4f})")
PY
}

resume_part() {
# Interrupted inside the unit: every head's checkpoint slot holds its part of the unit.
LONG=("${BOOT[@]}" --set train.epochs=150 --set train.patience=0 --set train.batch_size=16)
t0=$(date +%s.%N)
run_mpi 1 train "$CFG" "${COMMON_SETS[@]}" "${LONG[@]}" --set output="$WORK/long_ref" --force >"$WORK/long_ref.log" 2>&1 \
  || { cat "$WORK/long_ref.log"; fail "uninterrupted long trunk"; }
long_seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "uninterrupted shared trunk: ${long_seconds}s"
start_long() { # OUT [--resume]: 2 ranks (group 1 waits), a checkpoint every ~12 ms
  local out="$1"; shift
  "$MPIRUN" --oversubscribe --bind-to none -n 2 "$RMENS" train "$CFG" "${COMMON_SETS[@]}" "${LONG[@]}" \
    --set output="$out" --set train.checkpoint_minutes=0.0002 "$@" >>"$out.log" 2>&1 &
  pid=$!
}
ranks_of() { pgrep -P "$1" -f "rmens train" || true; }
long_delay() { # inside the unit's training: once this attempt has logged 5 more epochs
  local n0 n
  n0=$(grep -c " epoch " "$WORK/long.log" || true)
  for _ in $(seq 1 500); do
    n=$(grep -c " epoch " "$WORK/long.log" || true)
    (( n >= n0 + 5 )) && break
    sleep 0.01
  done
  echo 0
}
check_long() { [ "$3" != 75 ] || grep -q "stopping on signal" "$2.log" || fail "point $1: exit 75 without a checkpoint"; }
interrupted=0
sigterm_until_done 1 "$WORK/long" start_long ranks_of long_delay check_long
(( interrupted >= 1 )) || fail "no SIGTERM interrupted the shared trunk (too short a run?)"
grep -q "resuming from .*: 0 member(s) finished, 4 in progress" "$WORK/long.log" || { cat "$WORK/long.log"; fail "no resume of the heads"; }
# an attempt (from its "node" line) that logged an epoch of the unit before stopping on the signal
awk '/ node /{e = 0} / epoch /{e = 1} /stopping on signal/ && e {ok = 1} END {exit !ok}' "$WORK/long.log" \
  || { cat "$WORK/long.log"; fail "no stop after an epoch of the unit"; }
grep -q "checkpoint [0-9]* written" "$WORK/long.log" || fail "no checkpoint written"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/long_ref/members.h5" "$WORK/long/members.h5" \
  || fail "an interrupted shared trunk differs from the uninterrupted one"
echo "shared trunk resumed bitwise after $interrupted interruption(s), $(grep -c 'checkpoint [0-9]* written' "$WORK/long.log") checkpoint(s)"
}

checks_active_and_refusals() {
ACTIVE=(--set ensemble.members=3 --set train.batch_size=32 --set active.pool=2000 --set active.initial=200
        --set active.batch=100 --set active.rounds=2 --set active.strategy=dopt "${TRUNK[@]}")
for np in 1 2; do
  run_mpi "$np" active "$CFG" "${COMMON_SETS[@]}" "${ACTIVE[@]}" --set output="$WORK/active_$np" --force \
    >"$WORK/active_$np.log" 2>&1 || { cat "$WORK/active_$np.log"; fail "active with a shared trunk, $np ranks"; }
done
"$PYTHON" "$SRCDIR/tests/active/compare_active.py" "$WORK/active_1/active.h5" "$WORK/active_2/active.h5" \
  || fail "active with a shared trunk: ranks differ"

# bad settings: exit 2, the key named, no output directory content
bad() { # bad KEY_IN_MESSAGE [--set ...]
  local key="$1"; shift
  local out="$WORK/bad_$RANDOM"
  set +e
  run_mpi 1 train "$CFG" "${COMMON_SETS[@]}" --set output="$out" "$@" >"$WORK/bad.log" 2>&1
  local rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "accepted: $*"
  grep -q "$key" "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "message does not name $key: $*"; }
  [ ! -e "$out/members.h5" ] || fail "members.h5 written for: $*"
}
bad 'ensemble.kind' --set ensemble.kind=bagged
bad 'model.hidden' "${TRUNK[@]}" --set 'model.hidden=[]'
bad 'ensemble.families' "${TRUNK[@]}" --set 'ensemble.families=["mlp","gbdt"]'
bad 'ensemble.shared_init' "${TRUNK[@]}" --set ensemble.shared_init=true
}

if [ "$MODE" != resume ]; then checks_units; fi
if [ "$MODE" != checks ]; then resume_part; fi
if [ "$MODE" != resume ]; then checks_active_and_refusals; fi
echo "shared_trunk ($MODE): all checks passed"
