#!/usr/bin/env bash
# Tree members are dealt over ranks exactly as MLP members: members.h5 is bitwise the same
# for 1, 2 and 3 ranks at a fixed thread count (parallel.blas_threads = 1, XGBoost's
# nthread), for an all-gbdt ensemble with subsampling (members differ by seed) and for a
# mixed ["mlp", "gbdt"] one (member m is family m mod 2). Also: tree members differ from
# each other, and ranks_per_member = 2 (the group's first rank grows the trees) gives the
# same trees (the standardisation sums in another order: round-off).
source "$(dirname "$0")/../ensemble/common.sh"
make_store
for kind in gbdt mixed; do
  if [ "$kind" = gbdt ]; then family=(--set model.family=gbdt); else family=(--set 'ensemble.families=["mlp","gbdt"]'); fi
  for np in 1 2 3; do
    run_mpi "$np" train "$CFG" "${COMMON_SETS[@]}" "${family[@]}" --set output="$WORK/run" --force \
      --set gbdt.rounds=25 --set gbdt.subsample=0.7 --set gbdt.colsample=0.7 >"$WORK/train_${kind}_$np.log" 2>&1 \
      || { cat "$WORK/train_${kind}_$np.log"; fail "$kind: train with $np ranks"; }
    mv "$WORK/run/members.h5" "$WORK/${kind}_$np.h5"
  done
  "$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/${kind}_1.h5" "$WORK/${kind}_2.h5" "$WORK/${kind}_3.h5"
done
run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set model.family=gbdt --set output="$WORK/run" --force \
  --set gbdt.rounds=25 --set gbdt.subsample=0.7 --set gbdt.colsample=0.7 --set parallel.ranks_per_member=2 \
  >"$WORK/train_group.log" 2>&1 || { cat "$WORK/train_group.log"; fail "train with 2 ranks per member"; }
# the trees bitwise; score_mean/std sum the group's shares in another order (round-off)
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" --tolerance 1e-12 "$WORK/gbdt_1.h5" "$WORK/run/members.h5"
"$PYTHON" - "$WORK/gbdt_1.h5" "$WORK/mixed_2.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    models = [f[f"member_{m}/xgboost_json"][()].tobytes() for m in range(4)]
    assert len(set(models)) == 4, "tree members do not differ by seed"
    assert all(f[f"member_{m}"].attrs["family"] == "gbdt" for m in range(4))
with h5py.File(sys.argv[2], "r") as f:
    kinds = ["gbdt" if "xgboost_json" in f[f"member_{m}"] else "mlp" for m in range(4)]
    assert kinds == ["mlp", "gbdt", "mlp", "gbdt"], kinds
    assert "family" not in f["member_0"].attrs  # MLP members are written as before the families
print("members differ by seed; mixed members dealt round-robin")
PY
echo "gbdt ranks_identical: ok"
