#!/usr/bin/env bash
# A tree member loaded by python3-xgboost from members.h5 (/member_<m>/xgboost_json)
# predicts exactly what rmens predicts on the test split: rmens eval's standardised
# /predictions against XGBoost's own margins, standardised with the member's score_mean /
# score_std, bit for bit. Both objectives; a mixed ensemble's MLP members are left alone.
source "$(dirname "$0")/../ensemble/common.sh"
make_store
for objective in bt clf; do
  run="$WORK/run_$objective"
  run_mpi 2 run "$CFG" "${COMMON_SETS[@]}" --set output="$run" --force --set model.objective=$objective \
    --set 'ensemble.families=["gbdt","mlp"]' --set gbdt.rounds=30 --set eval.save_predictions=true \
    >"$WORK/run_$objective.log" 2>&1 || { cat "$WORK/run_$objective.log"; fail "run ($objective)"; }
  "$PYTHON" - "$run/members.h5" "$run/results.h5" "$STORE" <<'PY'
import sys, json
import h5py, numpy as np, xgboost as xgb
members, results, store = sys.argv[1:]
with h5py.File(store, "r") as s:
    X = s["test/embeddings"][()]
N, K, D = X.shape
with h5py.File(members, "r") as f, h5py.File(results, "r") as r:
    pred = r["predictions"][()]
    trees = 0
    for m in range(int(f.attrs["n_members"])):
        g = f[f"member_{m}"]
        if g.attrs.get("family", "mlp") != "gbdt":
            assert "layer_0" in g, m
            continue
        trees += 1
        booster = xgb.Booster()
        booster.load_model(bytearray(g["xgboost_json"][()].tobytes()))
        raw = booster.predict(xgb.DMatrix(X.reshape(N * K, D)), output_margin=True)
        z = ((raw.astype(np.float64) - g.attrs["score_mean"]) / g.attrs["score_std"]).astype(np.float32)
        got = pred[m].reshape(N * K)
        bad = np.flatnonzero(z.view(np.uint32) != got.view(np.uint32))
        assert bad.size == 0, f"member {m}: {bad.size} of {z.size} predictions differ, e.g. {z[bad[:3]]} vs {got[bad[:3]]}"
        assert json.loads(booster.save_config())["learner"]["gradient_booster"]["name"] == "gbtree"
        assert booster.num_boosted_rounds() == int(g.attrs["best_epoch"]), (booster.num_boosted_rounds(), g.attrs["best_epoch"])
    assert trees == 2, trees
print("python3-xgboost predicts what rmens predicts")
PY
done
echo "gbdt python_predict: ok"
