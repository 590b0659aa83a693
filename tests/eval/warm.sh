#!/usr/bin/env bash
# The warm aggregator end to end (rmens/eval/warm.h). One mode per ctest test:
#   identical  members.h5 of shared-init members rewritten (h5py) so that every member is
#              member 0: aggregators.warm equals the single member exactly, in results.json
#              (the full ensemble and every ablation size) and results.h5
#   numpy      shared-init members (real training), eval on 1, 2, 3 ranks: results.json
#              byte-identical but for the provenance line, results.h5 figures bitwise
#              identical; warm checked against numpy (check_warm.py)
#   refused    eval.warm = true on members without shared_init: one clear line, non-zero
#              exit, nothing written; auto adds nothing there (results.json as before the
#              key, byte for byte against eval.warm = false); eval.warm = false on
#              shared-init members has no warm; members.h5 with shared_init = 2 refused;
#              ensemble.shared_init with trees or two views refused by train before
#              anything is written
#   recorded   members standardised on a sample (train.standardise_responses = 250): members.h5
#              records it; eval given another value warns once and standardises the warm
#              models as the members were (figures byte-identical to eval with 250); a
#              members.h5 without the attribute (older files) follows the config
#   init       shared initialisation through real training: one full-batch epoch (every
#              member sees the same gradient up to the summation order) leaves
#              shared-init members within float rounding of each other, independent ones far
#              apart; member 0 is bitwise the same with and without the key
MODE="${1:?usage: warm.sh identical|numpy|refused|recorded|init}"
source "$SRCDIR/tests/ensemble/common.sh" # WORK, CFG, STORE, COMMON_SETS, run_mpi, fail
SETS=("${COMMON_SETS[@]}" --set output="$WORK/run" --set "eval.bon_n=[1,2,3,5,12]" --set "eval.uwo_lambda=[0.5]"
      --set eval.ablation_subsets=3 --set eval.chunk_prompts=5 --set eval.calibration_pairs=2000)
SHARED=(--set ensemble.shared_init=true)

make_store || { cat "$WORK/synth.log"; fail "synth"; }
train() { run_mpi 2 train "$CFG" "${SETS[@]}" "$@" --force >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "train $*"; }; }
evaluate() { local np="$1"; shift; run_mpi "$np" eval "$CFG" "${SETS[@]}" "$@" --force >"$WORK/eval.log" 2>&1 || { cat "$WORK/eval.log"; fail "eval on $np ranks $*"; }; }
shared_attr() { "$PYTHON" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1], "r").attrs["shared_init"]))' "$1"; }

case "$MODE" in
identical)
  train "${SHARED[@]}"
  [ "$(shared_attr "$WORK/run/members.h5")" = 1 ] || fail "members.h5: shared_init is not 1"
  "$PYTHON" - "$WORK/run/members.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    src = f["member_0"]
    for m in range(1, int(f.attrs["n_members"])):
        g = f[f"member_{m}"]
        for name in ("score_mean", "score_std"):
            g.attrs[name] = src.attrs[name]
        for layer in (k for k in src if k.startswith("layer_")):
            for part in ("weight", "bias"):
                g[f"{layer}/{part}"][...] = src[f"{layer}/{part}"][()]
PY
  evaluate 2 --set eval.save_predictions=true
  grep -q "^warm " "$WORK/eval.log" || { cat "$WORK/eval.log"; fail "no warm row in the table"; }
  "$PYTHON" - "$WORK/run/results.json" "$WORK/run/results.h5" <<'PY'
import json, sys, h5py, numpy as np
r = json.load(open(sys.argv[1]))
fields = ["bon", "spearman", "pair_accuracy", "bench_accuracy", "proxy_bon", "pick_quantile", "above_median"]
def same(label, got, want):
    for k in fields:
        assert got[k] == want[k], f"{label}: {k} {got[k]} != {want[k]}"
# identical members: every member's figures are the same (std 0), and so are those of
# the mean aggregator (the mean of identical scores is the score), in the full ensemble
# and in every ablation entry, which averages its subsets as it averages the warm ones
assert all(v == 0 for v in r["single"]["std"]["bon"].values()), r["single"]["std"]
same("aggregators.warm", r["aggregators"]["warm"], r["aggregators"]["mean"])
for k, entry in r["ablation"].items():
    same(f"ablation {k} warm", entry["aggregators"]["warm"], entry["aggregators"]["mean"])
with h5py.File(sys.argv[2], "r") as h:
    # and the single member's own figures, bit for bit
    z = h["predictions"][()]
    assert all(z[m].tobytes() == z[0].tobytes() for m in range(z.shape[0])), "members are not identical"
    w = h["aggregators/warm"]
    assert w["bon"][()].tobytes() == h["single/bon"][0].tobytes(), "results.h5 warm bon"
    assert w["proxy_bon"][()].tobytes() == h["single/proxy_bon"][0].tobytes(), "results.h5 warm proxy_bon"
    for a in ("spearman", "pair_accuracy", "bench_accuracy"):
        assert w.attrs[a] == h[f"single/{a}"][0], f"results.h5 warm {a}"
    for k in h["ablation"]:
        assert h[f"ablation/{k}/aggregators/warm/bon"][()].tobytes() == h["single/bon"][0].tobytes(), k
print("warm of identical members is the member: ok")
PY
  ;;
numpy)
  train "${SHARED[@]}"
  for np in 1 2 3; do
    evaluate "$np"
    cp "$WORK/run/results.json" "$WORK/results_$np.json"
    cp "$WORK/run/results.h5" "$WORK/results_$np.h5"
    grep -v '^"provenance": ' "$WORK/results_$np.json" >"$WORK/figures_$np.json"
  done
  grep -q '"warm": {"bon"' "$WORK/figures_1.json" || fail "results.json has no aggregators.warm"
  cmp "$WORK/figures_1.json" "$WORK/figures_2.json" || fail "results.json differs between 1 and 2 ranks"
  cmp "$WORK/figures_1.json" "$WORK/figures_3.json" || fail "results.json differs between 1 and 3 ranks"
  evaluate 1 --set eval.warm=true # asked for explicitly: the same as found by auto
  grep -v '^"provenance": ' "$WORK/run/results.json" | cmp - "$WORK/figures_1.json" || fail "eval.warm = true differs from auto"
  "$PYTHON" "$SRCDIR/tests/eval/check_warm.py" "$STORE" "$WORK/run/members.h5" \
    "$WORK/results_1.h5" "$WORK/results_2.h5" "$WORK/results_3.h5" "$WORK/results_1.json"
  ;;
refused)
  train
  [ "$(shared_attr "$WORK/run/members.h5")" = 0 ] || fail "members.h5 without the key: shared_init is not 0"
  before="$(ls -A "$WORK/run")"
  if run_mpi 2 eval "$CFG" "${SETS[@]}" --set eval.warm=true --force >"$WORK/refuse.log" 2>&1; then fail "eval.warm = true accepted without shared_init"; fi
  grep -q "error: .*eval.warm = true: members.h5 has no shared_init = 1" "$WORK/refuse.log" || { cat "$WORK/refuse.log"; fail "no clear refusal"; }
  [ "$(grep -c "error" "$WORK/refuse.log")" = 1 ] || { cat "$WORK/refuse.log"; fail "the refusal is not one line"; }
  [ "$(ls -A "$WORK/run")" = "$before" ] || fail "refused eval changed the run directory: $(ls -A "$WORK/run")"
  [ ! -e "$WORK/run/results.json" ] && [ ! -e "$WORK/run/results.h5" ] || fail "refused eval wrote results"
  evaluate 2
  grep -q '"warm"' "$WORK/run/results.json" && fail "warm reported without shared_init"
  grep -v '^"provenance": ' "$WORK/run/results.json" >"$WORK/auto.json"
  evaluate 2 --set eval.warm=false
  grep -v '^"provenance": ' "$WORK/run/results.json" >"$WORK/off.json"
  cmp "$WORK/auto.json" "$WORK/off.json" || fail "eval.warm = auto changed results without shared_init"
  train "${SHARED[@]}"
  evaluate 1 --set eval.warm=false
  grep -q '"warm"' "$WORK/run/results.json" && fail "eval.warm = false reported warm"
  # a shared_init that is neither 0 nor 1 is refused when members.h5 is read
  rm -f "$WORK/run/results.json" "$WORK/run/results.h5"
  "$PYTHON" -c 'import sys, h5py; h5py.File(sys.argv[1], "r+").attrs["shared_init"] = 2' "$WORK/run/members.h5"
  if run_mpi 1 eval "$CFG" "${SETS[@]}" --force >"$WORK/bad.log" 2>&1; then fail "eval accepted shared_init = 2"; fi
  grep -q "error: .*members.h5.*shared_init = 2: expected 0 or 1" "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "no clear refusal of shared_init = 2"; }
  [ ! -e "$WORK/run/results.json" ] && [ ! -e "$WORK/run/results.h5" ] || fail "eval wrote results from a bad members.h5"
  # training refuses shared initialisation it cannot honour, before writing anything
  rm -rf "$WORK/run"
  for bad in 'model.family="gbdt"' 'ensemble.views=["default","view1"]'; do
    if run_mpi 1 train "$CFG" "${SETS[@]}" "${SHARED[@]}" --set "$bad" --force >"$WORK/bad.log" 2>&1; then fail "train accepted shared_init with $bad"; fi
    grep -q "error: .*ensemble.shared_init = true" "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "no clear refusal of shared_init with $bad"; }
    [ ! -e "$WORK/run/members.h5" ] || fail "refused train wrote members.h5 ($bad)"
  done
  echo "warm refusals: ok"
  ;;
recorded)
  SAMPLE=(--set train.standardise_responses=250)
  train "${SHARED[@]}" "${SAMPLE[@]}"
  "$PYTHON" -c 'import sys, h5py; v = int(h5py.File(sys.argv[1], "r").attrs["standardise_responses"]); assert v == 250, v' \
    "$WORK/run/members.h5" || fail "members.h5 does not record standardise_responses = 250"
  evaluate 2 "${SAMPLE[@]}"
  grep -q "warning: .*standardise_responses" "$WORK/eval.log" && { cat "$WORK/eval.log"; fail "warned with the members' own value"; }
  grep -v '^"provenance": ' "$WORK/run/results.json" >"$WORK/same.json"
  grep -q '"warm": {"bon"' "$WORK/same.json" || fail "results.json has no aggregators.warm"
  evaluate 2 --set train.standardise_responses=0
  [ "$(grep -c "warning: eval.warm: the members were standardised with train.standardise_responses = 250; the config has 0" "$WORK/eval.log")" = 1 ] ||
    { cat "$WORK/eval.log"; fail "no single warning that the config's standardise_responses differs from the members'"; }
  grep -v '^"provenance": ' "$WORK/run/results.json" | cmp - "$WORK/same.json" || fail "warm followed the config, not the members"
  # an older members.h5 (no attribute): the config's value, which here moves warm's figures
  "$PYTHON" -c 'import sys, h5py; del h5py.File(sys.argv[1], "r+").attrs["standardise_responses"]' "$WORK/run/members.h5"
  evaluate 2 --set train.standardise_responses=0
  grep -q "warning: .*standardise_responses" "$WORK/eval.log" && { cat "$WORK/eval.log"; fail "warned without a recorded value"; }
  grep -v '^"provenance": ' "$WORK/run/results.json" | cmp -s - "$WORK/same.json" && fail "without the attribute, warm did not follow the config"
  echo "warm standardisation follows the members: ok"
  ;;
init)
  # 1200 pairs, 20% validation: 960 training pairs in one batch
  ONE_BATCH=(--set train.epochs=1 --set train.batch_size=960 --set ensemble.data=full)
  train "${ONE_BATCH[@]}" "${SHARED[@]}"
  cp "$WORK/run/members.h5" "$WORK/shared.h5"
  train "${ONE_BATCH[@]}"
  cp "$WORK/run/members.h5" "$WORK/own.h5"
  "$PYTHON" - "$WORK/shared.h5" "$WORK/own.h5" <<'PY'
import sys, h5py, numpy as np
def params(f, m):
    g = f[f"member_{m}"]
    layers = sorted((k for k in g if k.startswith("layer_")), key=lambda s: int(s.split("_")[1]))
    return np.concatenate([np.concatenate([g[l]["weight"][()].ravel(), g[l]["bias"][()].ravel()]) for l in layers])
with h5py.File(sys.argv[1], "r") as shared, h5py.File(sys.argv[2], "r") as own:
    assert int(shared.attrs["shared_init"]) == 1 and int(own.attrs["shared_init"]) == 0
    assert params(shared, 0).tobytes() == params(own, 0).tobytes(), "member 0 differs with shared_init"
    for m in range(1, int(shared.attrs["n_members"])):
        near = np.abs(params(shared, m) - params(shared, 0)).max()
        far = np.abs(params(own, m) - params(own, 0)).max()
        print(f"member {m}: max |w_m - w_0| shared {near:.3g}, independent {far:.3g}")
        assert near < 1e-4, f"shared-init member {m} is {near} from member 0 after one full-batch epoch"
        assert far > 1e-2, f"independent member {m} is only {far} from member 0"
print("shared initialisation through training: ok")
PY
  ;;
*) fail "unknown mode $MODE" ;;
esac
echo "warm $MODE: ok"
