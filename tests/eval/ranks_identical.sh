#!/usr/bin/env bash
# rmens eval end to end: a tiny synthetic store, 4 members trained once, then eval on
# P = 1, 2, 3 ranks with uneven pieces. results.json must be byte-identical, every figure
# and /predictions in results.h5 bitwise identical; the figures are recomputed
# independently from /predictions (numpy/scipy) and the predictions from members.h5, the
# calibration figures from the pairs of calibration_pairs_dump ($1) with scikit-learn.
set -euo pipefail
: "${RMENS:?}" "${MPIRUN:?}" "${PYTHON:?}" "${SRCDIR:?}"
PAIRS_DUMP="${1:?usage: ranks_identical.sh CALIBRATION_PAIRS_DUMP [views]}"
# views: a store with two extra views of other D and members dealt over three views
# (member m on view m mod 3), each scored on its own view's test split and bench.
VIEWS="${2:-}"
WORK="$(mktemp -d /tmp/rmens_eval.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run_mpi() { local np="$1"; shift; timeout 300 "$MPIRUN" --oversubscribe --bind-to none -n "$np" "$RMENS" "$@"; }

CFG="$SRCDIR/configs/demo.cfg"
SETS=(--set store="$WORK/store.h5" --set output="$WORK/run" --set synth.train_prompts=300
      --set synth.train_responses=6 --set synth.test_prompts=29 --set synth.test_responses=11
      --set synth.dim=24 --set synth.bench_pairs=41 --set model.hidden=[16,8] --set train.epochs=3
      --set train.batch_size=64 --set pairs.count=1200 --set ensemble.members=4
      --set parallel.blas_threads=1 --set "eval.bon_n=[1,2,3,5,11,40]" --set "eval.uwo_lambda=[0.5]"
      --set eval.ablation_subsets=3 --set eval.save_predictions=true --set eval.chunk_prompts=5
      --set pairs.label_flip=0.1 --set eval.calibration_pairs=20000)
if [ "$VIEWS" = views ]; then
  SETS+=(--set synth.views=2 --set "synth.view_dims=[16,32]" --set 'ensemble.views=["view2","default","view1"]')
fi

"$RMENS" synth "$CFG" "${SETS[@]}" --force >"$WORK/synth.log" 2>&1 || { cat "$WORK/synth.log"; fail "synth"; }
run_mpi 2 train "$CFG" "${SETS[@]}" --force >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "train"; }

for np in 1 2 3; do
  run_mpi "$np" eval "$CFG" "${SETS[@]}" --force >"$WORK/eval_$np.log" 2>&1 || { cat "$WORK/eval_$np.log"; fail "eval on $np ranks"; }
  grep -q "AUROC(disagreement" "$WORK/eval_$np.log" || { cat "$WORK/eval_$np.log"; fail "$np ranks: no table"; }
  grep -q "^calibration of P(a preferred) on 20000" "$WORK/eval_$np.log" && grep -q "^overoptimization at n = 11" "$WORK/eval_$np.log" \
    || { cat "$WORK/eval_$np.log"; fail "$np ranks: no overoptimization or calibration table"; }
  cp "$WORK/run/results.json" "$WORK/results_$np.json"
  cp "$WORK/run/results.h5" "$WORK/results_$np.h5"
done
# Every figure byte-identical; only the provenance line (ranks) tells the runs apart.
for np in 1 2 3; do
  grep -q "^\"provenance\": {.*\"precision\": \"fp32\".*\"ranks\": $np}" "$WORK/results_$np.json" \
    || fail "results.json of $np ranks: no provenance line with precision fp32 and ranks $np"
  grep -v '^"provenance": ' "$WORK/results_$np.json" >"$WORK/figures_$np.json"
done
cmp "$WORK/figures_1.json" "$WORK/figures_2.json" || fail "results.json differs between 1 and 2 ranks"
cmp "$WORK/figures_1.json" "$WORK/figures_3.json" || fail "results.json differs between 1 and 3 ranks"

# Existing results are not overwritten without --force, and stay intact.
if run_mpi 2 eval "$CFG" "${SETS[@]}" >"$WORK/refuse.log" 2>&1; then fail "eval overwrote results without --force"; fi
grep -q "already exist" "$WORK/refuse.log" || { cat "$WORK/refuse.log"; fail "no clear refusal message"; }
cmp "$WORK/run/results.json" "$WORK/results_3.json" || fail "refused eval touched results.json"
ls -a "$WORK/run" | grep -q "tmp" && fail "temporary files left behind"

"$PYTHON" "$SRCDIR/tests/eval/check_results.py" --pairs-dump "$PAIRS_DUMP" "$WORK/store.h5" "$WORK/run/members.h5" \
  "$WORK/results_1.h5" "$WORK/results_2.h5" "$WORK/results_3.h5" "$WORK/results_1.json"
if [ "$VIEWS" = views ]; then
  "$PYTHON" - "$WORK/run/members.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    got = [(f[f"member_{m}"].attrs["view"], int(f[f"member_{m}"].attrs["dim"])) for m in range(4)]
assert got == [("view2", 32), ("default", 24), ("view1", 16), ("view2", 32)], got
print("member views ok")
PY
fi
echo "eval ranks_identical ${VIEWS}: ok"
