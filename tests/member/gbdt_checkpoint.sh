#!/usr/bin/env bash
# A finished tree member survives a checkpoint: a mixed ensemble ["gbdt", "mlp", "gbdt"]
# on one rank checkpoints every few milliseconds of MLP training (train.checkpoint_minutes),
# is made to fail when it starts member 2 (RMENS_TEST_FAIL), and resumes with --resume:
# member 0's trees come back from checkpoint.h5 (not regrown: no progress lines for it),
# and members.h5 is bitwise that of an uninterrupted run. (Trees never stop half-grown: a
# member that was not finished is grown again from scratch, the same trees.)
source "$(dirname "$0")/../ensemble/common.sh"
make_store
SETS=("${COMMON_SETS[@]}" --set ensemble.members=3 --set 'ensemble.families=["gbdt","mlp","gbdt"]' --set gbdt.rounds=20
      --set train.epochs=6)
run_mpi 1 train "$CFG" "${SETS[@]}" --set output="$WORK/reference" >"$WORK/reference.log" 2>&1 || { cat "$WORK/reference.log"; fail "reference"; }
if RMENS_TEST_FAIL=0:2 run_mpi 1 train "$CFG" "${SETS[@]}" --set output="$WORK/run" --set train.checkpoint_minutes=0.00005 \
     >"$WORK/failed.log" 2>&1; then
  fail "the injected failure did not stop the run"
fi
grep -q "injected failure" "$WORK/failed.log" || { cat "$WORK/failed.log"; fail "no injected failure"; }
[ -f "$WORK/run/checkpoint.h5" ] || { cat "$WORK/failed.log"; fail "no checkpoint written"; }
"$PYTHON" - "$WORK/run/checkpoint.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    g = f["member_0"]
    assert int(g.attrs["status"]) == 2, dict(g.attrs)  # finished
    assert "xgboost_json" in g and "params" not in g, list(g)
    assert "params" in f["member_1"], list(f["member_1"])
print("checkpoint holds the finished tree member")
PY
run_mpi 1 train "$CFG" "${SETS[@]}" --set output="$WORK/run" --resume >"$WORK/resumed.log" 2>&1 || { cat "$WORK/resumed.log"; fail "resume"; }
! grep -q "member 0 (" "$WORK/resumed.log" || { cat "$WORK/resumed.log"; fail "member 0 was trained again"; }
grep -q "member 2 (" "$WORK/resumed.log" || { cat "$WORK/resumed.log"; fail "member 2 was not trained on resume"; }
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$WORK/run/members.h5"
echo "gbdt checkpoint: ok"
