#!/usr/bin/env bash
# Bad gbdt input gets one-line errors naming the key (or the member): unknown family or
# objective, out-of-range gbdt values, gbdt keys with MLPs only (a warning, the run goes
# on), and a members file whose tree model is corrupt (eval refuses, naming the member).
# The refusals, the warning run and the training the corrupt-model cases start from run at
# the same time, each with its own output directory and log (a run is mostly process and MPI
# start-up): a failed one fails the test as before.
source "$(dirname "$0")/../ensemble/common.sh"
make_store
RUN=(--set output="$WORK/run" --force)
# expect_error NAME PATTERN [args...]: rmens train fails, its error line matches PATTERN
expect_error() {
  local name="$1" pattern="$2"; shift 2
  if run_mpi 1 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/run_$name" --force "$@" >"$WORK/$name.log" 2>&1; then
    cat "$WORK/$name.log"; fail "$name: accepted"
  fi
  grep -q -- "$pattern" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: no error matching '$pattern'"; }
  [ "$(grep -c -i "error" "$WORK/$name.log")" -le 2 ] || { cat "$WORK/$name.log"; fail "$name: more than a one-line error"; }
}
pids=()
expect_error family "model.family' = \"forest\" is not one of mlp|gbdt" --set model.family=forest & pids+=($!)
expect_error families "ensemble.families' = \"trees\" is not one of mlp|gbdt" --set 'ensemble.families=["mlp","trees"]' & pids+=($!)
expect_error objective "model.objective' = \"rank\"" --set model.family=gbdt --set model.objective=rank & pids+=($!)
expect_error eta "gbdt.eta' = 2 is out of range" --set model.family=gbdt --set gbdt.eta=2 & pids+=($!)
expect_error depth "gbdt.max_depth' = 0 is out of range" --set model.family=gbdt --set gbdt.max_depth=0 & pids+=($!)
expect_error subsample "gbdt.subsample' = 0 is out of range" --set model.family=gbdt --set gbdt.subsample=0 & pids+=($!)
expect_error method "gbdt.tree_method' = \"exact\" is not one of hist" --set model.family=gbdt --set gbdt.tree_method=exact & pids+=($!)
expect_error warm "active.warm_start: tree members" --set model.family=gbdt --set active.warm_start=true & pids+=($!)

# gbdt keys with MLPs only: a warning, and the MLP run goes on
( run_mpi 1 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/run_warn" --force --set gbdt.rounds=50 >"$WORK/warn.log" 2>&1 || { cat "$WORK/warn.log"; fail "warn: run failed"; }
  grep -q "warning: gbdt.\* settings are given but no member is a tree model" "$WORK/warn.log" || { cat "$WORK/warn.log"; fail "no warning for gbdt keys"; }
) & pids+=($!)

# a corrupt tree model in members.h5: eval refuses, naming the member
( run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" --set 'ensemble.families=["mlp","gbdt"]' --set gbdt.rounds=10 \
    >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "train"; } ) & pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
(( failed == 0 )) || fail "see above"
for damage in truncate garbage; do
  cp "$WORK/run/members.h5" "$WORK/members_good.h5"
  "$PYTHON" - "$WORK/run/members.h5" "$damage" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    data = f["member_3/xgboost_json"][()]
    del f["member_3/xgboost_json"]
    bad = data[: len(data) // 2] if sys.argv[2] == "truncate" else np.frombuffer(b"{\"learner\": 7}", dtype=np.uint8)
    f["member_3"].create_dataset("xgboost_json", data=bad)
PY
  if run_mpi 2 eval "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" >"$WORK/eval_$damage.log" 2>&1; then
    cat "$WORK/eval_$damage.log"; fail "$damage: eval accepted a corrupt tree model"
  fi
  grep -q "member_3: corrupt xgboost_json" "$WORK/eval_$damage.log" || { cat "$WORK/eval_$damage.log"; fail "$damage: error does not name the member"; }
  # one line: no XGBoost stack trace after it
  ! grep -q "^  \[bt\]" "$WORK/eval_$damage.log" || { cat "$WORK/eval_$damage.log"; fail "$damage: more than a one-line error"; }
  mv "$WORK/members_good.h5" "$WORK/run/members.h5"
done
run_mpi 2 eval "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" >"$WORK/eval.log" 2>&1 || { cat "$WORK/eval.log"; fail "eval of the intact file"; }
echo "gbdt bad_inputs: ok"
