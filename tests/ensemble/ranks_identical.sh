#!/usr/bin/env bash
# With parallel.ranks_per_member = 1, members.h5 holds bitwise-identical members for
# 1, 2, 3 and 4 ranks (members dealt over the ranks differently each time), and the
# node-shared window holds exactly one copy of the train split. The thread count per rank
# differs too (2, 1, 2, 1), with products large enough to be cut into several tiles
# (minibatches of 600 rows, a first hidden layer of 300 units): the bits must not move.
# Usage: ranks_identical.sh [fp32|bf16] (model.precision; RMENS_BF16_EMULATE=1 selects the
# emulated bf16 backend where oneDNN would run).
source "$(dirname "$0")/common.sh"
PRECISION="${1:-fp32}"
NPS=(1 2 3 4)
# Under the sanitizers (RMENS_SANITIZER_BUILD, tests/run.sh's second pass) the bf16 runs take
# 2 and 3 ranks only: what bf16 changes is the products, which run the same on any rank
# count and here with 1 thread (2 ranks) and 2 threads (3 ranks); dealing members over 1-4
# ranks is the same code in every precision, and the fp32 test runs it on all four.
[ -n "${RMENS_SANITIZER_BUILD:-}" ] && [ "$PRECISION" != fp32 ] && NPS=(2 3)
make_store
for np in "${NPS[@]}"; do
  run_mpi "$np" train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/run" --force \
    --set train.batch_size=300 --set model.hidden=[300,8] --set parallel.blas_threads=$(( np % 2 + 1 )) --set model.precision="$PRECISION" \
    >"$WORK/train_$np.log" 2>&1 \
    || { cat "$WORK/train_$np.log"; fail "train with $np ranks"; }
  mv "$WORK/run/members.h5" "$WORK/members_$np.h5"
  # One shared window per node (one node here), sized for the split, whatever the rank count.
  expected=$(( (300 * 6 * 24 + 300 * 6) * 4 ))
  windows=$(grep -c "in one shared window of $expected bytes for $np rank(s)" "$WORK/train_$np.log" || true)
  [ "$windows" = 1 ] || { cat "$WORK/train_$np.log"; fail "$np ranks: expected one shared window of $expected bytes"; }
  # Every member trained exactly once, by some rank, with per-epoch progress lines.
  for m in 0 1 2 3; do
    grep -q "member $m (.*) epoch 3/3" "$WORK/train_$np.log" || grep -q "member $m (.*) epoch [0-9]*/3" "$WORK/train_$np.log" \
      || fail "$np ranks: no progress line for member $m"
  done
  grep -q "peak memory" "$WORK/train_$np.log" || fail "$np ranks: no per-rank summary"
  grep -q "precision $PRECISION (" "$WORK/train_$np.log" || { cat "$WORK/train_$np.log"; fail "$np ranks: not trained in $PRECISION"; }
done
files=(); for np in "${NPS[@]}"; do files+=("$WORK/members_$np.h5"); done
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "${files[@]}"
# The run record differs: ranks are recorded for provenance.
"$PYTHON" - "$WORK/members_3.h5" "$PRECISION" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    run = f["run"].attrs
    assert run["precision"] == sys.argv[2] and run["precision_requested"] == sys.argv[2], dict(run)
    assert len(run["cpu"]) > 0 and len(run["matmul_kernel"]) > 0, dict(run)
    assert f.attrs["format"] == "rmens-members", f.attrs["format"]
    assert int(f["run"].attrs["ranks"]) == 3
    assert len(f.attrs["store_uuid"]) > 0 and "learning_rate" in f.attrs["config"]
    owners = sorted(set(f["run/member_owner_rank"][()].astype(int)))
    assert owners == [0, 1, 2], owners
print("provenance ok")
PY
echo "ranks_identical ($PRECISION): ok"
