#!/usr/bin/env bash
# rmens active with active.strategy = random and active.rounds = 0 trains on the pool's
# first active.initial pairs only: the same members, bit for bit, as rmens train with
# pairs.count = active.initial (same pairs, labels and validation split), on 1 and 2 ranks;
# and its round-0 figures are those rmens eval computes for those members (but for eval's
# calibration figures, which active does not compute).
source "$(dirname "$0")/common.sh"
make_store
for np in 1 2; do
  run_mpi "$np" train "$CFG" "${ACTIVE_SETS[@]}" --set output="$WORK/train" --set pairs.count=200 --force \
    >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "train"; }
  run_mpi "$np" eval "$CFG" "${ACTIVE_SETS[@]}" --set output="$WORK/train" --force >"$WORK/eval.log" 2>&1 \
    || { cat "$WORK/eval.log"; fail "eval"; }
  run_mpi "$np" active "$CFG" "${ACTIVE_SETS[@]}" --set output="$WORK/active" --set active.rounds=0 --force \
    >"$WORK/active.log" 2>&1 || { cat "$WORK/active.log"; fail "active"; }
  "$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/train/members.h5" "$WORK/active/members.h5"
  "$PYTHON" - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
res, act = json.load(open(f"{w}/train/results.json")), json.load(open(f"{w}/active/active.json"))
assert len(act["rounds"]) == 1 and act["rounds"][0]["labels"] == 200, act["rounds"][0]["labels"]
r0 = act["rounds"][0]
# active evaluates without eval.calibration_pairs (the calibration and the error by
# disagreement are rmens eval's alone); everything else must be the same numbers
CAL = {"calibration", "error_by_disagreement"}
strip = lambda d: {k: v for k, v in d.items() if k not in CAL}
for name, agg in res["aggregators"].items():
    assert r0["aggregators"][name] == strip(agg), (name, r0["aggregators"][name], agg)
assert r0["agreement"] == res["agreement"] and r0["uncertainty"] == strip(res["uncertainty"])
print("round 0 figures = rmens eval's")
PY
done
echo "active train_equivalence: ok"
