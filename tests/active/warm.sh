#!/usr/bin/env bash
# rmens active with ensemble.shared_init = true reports the warm aggregator (the members'
# weight average, rmens/eval/warm.h) in every round: active.json and active.h5 carry
# aggregators.warm; the last round's equals what rmens eval reports for the same
# members.h5 bit for bit; 1 and 3 ranks give identical active.h5; eval.warm = false
# leaves it out. (The resume of warm figures: tests/active/resume.sh.)
source "$(dirname "$0")/common.sh"
make_store
SETS=("${ACTIVE_SETS[@]}" --set ensemble.shared_init=true --set active.strategy=entropy)
for np in 1 3; do
  run_mpi "$np" active "$CFG" "${SETS[@]}" --set output="$WORK/warm$np" >"$WORK/warm$np.log" 2>&1 \
    || { cat "$WORK/warm$np.log"; fail "active with shared_init on $np ranks"; }
done
grep -q "(warm)" "$WORK/warm3.log" || { cat "$WORK/warm3.log"; fail "no warm figures in the round lines"; }
"$PYTHON" "$SRCDIR/tests/active/compare_active.py" "$WORK/warm1/active.h5" "$WORK/warm3/active.h5" || fail "1 and 3 ranks differ"
run_mpi 2 eval "$CFG" "${SETS[@]}" --set output="$WORK/warm3" >"$WORK/eval.log" 2>&1 || { cat "$WORK/eval.log"; fail "rmens eval"; }
run_mpi 2 active "$CFG" "${SETS[@]}" --set output="$WORK/nowarm" --set eval.warm=false >"$WORK/nowarm.log" 2>&1 \
  || { cat "$WORK/nowarm.log"; fail "eval.warm = false"; }
"$PYTHON" - "$WORK" <<'PY'
import json, sys, h5py
import numpy as np
work = sys.argv[1]
active = json.load(open(f"{work}/warm3/active.json"))
for r in active["rounds"]:
    w = r["aggregators"]["warm"]
    assert set(w) >= {"bon", "spearman", "pair_accuracy", "bench_accuracy"}, w.keys()
    assert 0 < w["pair_accuracy"] <= 1 and -1 <= w["spearman"] <= 1, w
# the warm model differs from every member and from the ensemble mean's figures
assert active["rounds"][-1]["aggregators"]["warm"] != active["rounds"][-1]["aggregators"]["mean"]
evaluated = json.load(open(f"{work}/warm3/results.json"))["aggregators"]["warm"]
last = active["rounds"][-1]["aggregators"]["warm"]
for key in ("bon", "spearman", "pair_accuracy", "bench_accuracy"):
    assert last[key] == evaluated[key], (key, last[key], evaluated[key])
with h5py.File(f"{work}/warm3/active.h5", "r") as f:
    for r in range(3):
        g = f[f"round_{r}/aggregators/warm"]
        assert g.attrs["pair_accuracy"] == active["rounds"][r]["aggregators"]["warm"]["pair_accuracy"]
none = json.load(open(f"{work}/nowarm/active.json"))
assert all("warm" not in r["aggregators"] for r in none["rounds"])
# shared_init alone changes nothing but the figures' extra aggregator
for a, b in zip(none["rounds"], active["rounds"]):
    assert a["selected"] == b["selected"] and a["aggregators"]["mean"] == b["aggregators"]["mean"]
print("warm in every round; the last equals rmens eval's")
PY
echo "active warm: ok"
