#!/usr/bin/env bash
# The bitwise regression scenarios (tests/bitwise/README.md): a fixed set of small rmens
# runs, driven only through the CLI, whose outputs hash_outputs.py hashes.
#   scenarios.sh OUTDIR       (env: RMENS, MPIRUN, PYTHON, SRCDIR as ctest sets them)
# OUTDIR must not exist or be empty. Every scenario writes OUTDIR/<scenario>/ and runs with
# OUTDIR as the working directory and relative paths only (store=synth_demo/store.h5,
# output=<scenario>), so the path-valued attributes (store, members_file, the config text)
# are the same wherever OUTDIR is. Logs: OUTDIR/logs/<scenario>.log. A scenario that this
# binary cannot run by construction (trees without XGBoost) is listed in OUTDIR/SKIPPED
# as "<scenario> <reason>" and check_bitwise.sh leaves its reference lines out.
# Exit status: 0 when every scenario ran (or was skipped as above), 1 otherwise.
set -euo pipefail
: "${RMENS:?}" "${MPIRUN:?}" "${PYTHON:?}" "${SRCDIR:?}"
OUT="${1:?usage: scenarios.sh OUTDIR}"
mkdir -p "$OUT"
[ -z "$(ls -A "$OUT")" ] || { echo "scenarios.sh: $OUT is not empty" >&2; exit 1; }
cd "$OUT"
mkdir logs
: >SKIPPED
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# Nothing from the caller's environment may change what runs: the emulated bf16 backend
# is selected explicitly by the one scenario that wants it, the failure hook likewise.
unset RMENS_BF16_EMULATE RMENS_TEST_FAIL
export OPENBLAS_NUM_THREADS=1 # rmens runs single-threaded BLAS calls on its own threads

# The base configuration, fixed here rather than taken from configs/demo.cfg so that an
# edit of the demo does not move the reference. The synth section is the demo's store
# shape (configs/demo.cfg at e699003); training is cut to a few seconds in all.
cat >bitwise.cfg <<'CFG'
store  = "synth_demo/store.h5";
output = "unset";
seed   = 1;
synth = {
  train_prompts = 2000; train_responses = 10; test_prompts = 200; test_responses = 50; dim = 64;
  topics = 16; bench_pairs = 500; dtype = "float32"; seed = 1234; noise = 0.5;
};
pairs = {
  mode = "cross_prompt"; count = 2000; annotator_beta = 1.0; label_flip = 0.0; reward_scale = "std";
  sampling = "items"; per_prompt = 1; candidates = "all"; both_orders = false;
};
model = { hidden = [64, 32]; objective = "bt"; precision = "fp32"; };
train = {
  epochs = 3; batch_size = 256; learning_rate = 0.001; weight_decay = 0.0; val_fraction = 0.2; patience = 3;
  checkpoint_minutes = 10.0; restore_best = true; stop_rule = "no_improvement"; minibatches = "epoch"; val_split = "pairs";
};
ensemble = { members = 4; data = "full"; };
parallel = { ranks_per_member = 1; blas_threads = 1; read_chunk_mb = 64; };
eval = {
  bon_n = [1, 2, 4, 8, 16, 50]; uwo_lambda = [0.1, 0.5, 1.0]; ablation_sizes = []; ablation_subsets = 4;
  save_predictions = true; chunk_prompts = 64; calibration_pairs = 20000;
};
CFG
CFG=bitwise.cfg

failed=0
note() { echo "scenarios: $*"; }
# rmens_np NP LOG VERB [args...]: one rmens job on NP ranks (1: --bind-to none; 2: also
# --oversubscribe), appending to LOG, bounded in time.
rmens_np() {
  local np="$1" log="$2"; shift 2
  local flags=(--bind-to none -n "$np")
  [ "$np" -gt 1 ] && flags=(--oversubscribe "${flags[@]}")
  echo "+ mpirun ${flags[*]} rmens $*" >>"$log"
  timeout 300 "$MPIRUN" "${flags[@]}" "$RMENS" "$@" >>"$log" 2>&1
}
# scenario NAME NP VERB [--set ...]: VERB (run | train | eval | active) into NAME/.
# A scenario with tree members that this rmens refuses for want of XGBoost is skipped.
scenario() {
  local name="$1" np="$2" verb="$3"; shift 3
  local t0=$SECONDS
  if rmens_np "$np" "logs/$name.log" "$verb" "$CFG" --set output="$name" "$@"; then
    # log.jsonl (issue 30): the progress log, with wall times and rates; provenance, not output
    [ -f "$name/log.jsonl" ] && mv "$name/log.jsonl" "logs/$name.log.jsonl"
    note "$name ($verb, $np rank(s)) $((SECONDS - t0))s"
  elif grep "XGBoost" "logs/$name.log" | grep -q "built without"; then
    rm -rf "$name"
    skip "$name" "this rmens was built without XGBoost (Debian: libxgboost-dev): its tree members are not checked"
  else
    note "FAILED: $name ($verb, $np rank(s)); last lines of logs/$name.log:"
    tail -n 15 "logs/$name.log" | sed 's/^/    /'
    failed=1
  fi
}
skip() { echo "$1 $2" >>SKIPPED; note "SKIPPED: $1: $2"; }

t_start=$SECONDS
# -- stores (rmens synth): the demo's shape; and the same with two more views (3 in all,
#    D 64, 48, 80), stored as float16
for s in synth_demo synth_views; do mkdir -p "$s"; done
"$RMENS" synth "$CFG" --set store=synth_demo/store.h5 >logs/synth_demo.log 2>&1 || { note "FAILED: synth_demo"; cat logs/synth_demo.log; exit 1; }
"$RMENS" synth "$CFG" --set store=synth_views/store.h5 --set synth.views=2 --set "synth.view_dims=[48,80]" \
  --set synth.dtype=float16 >logs/synth_views.log 2>&1 || { note "FAILED: synth_views"; cat logs/synth_views.log; exit 1; }
note "synth_demo, synth_views (synth) $((SECONDS - t_start))s"

# -- independent MLP members, train + eval (rmens run), fp32 and bf16, 1 rank x 2 threads
#    and 2 ranks x 1 thread; a first hidden layer of 300 units and minibatches of 512 rows,
#    so that products span several 256-row tiles
WIDE=(--set "model.hidden=[300,32]")
scenario mlp_fp32_np1 1 run "${WIDE[@]}" --set parallel.blas_threads=2
scenario mlp_fp32_np2 2 run "${WIDE[@]}"
scenario mlp_bf16_np1 1 run "${WIDE[@]}" --set model.precision=bf16 --set parallel.blas_threads=2
scenario mlp_bf16_np2 2 run "${WIDE[@]}" --set model.precision=bf16
# the emulated bf16 backend (what AVX2-only CPUs run): bf16 rounding multiplied with sgemm
RMENS_BF16_EMULATE=1 scenario mlp_bf16emu_np2 2 run "${WIDE[@]}" --set model.precision=bf16
# data-parallel members: 2 ranks per member, the gradient allreduced every step
scenario dp_np2 2 run --set parallel.ranks_per_member=2 --set ensemble.members=2
# -- train and eval as separate verbs, eval in another precision and rank count than
#    train; classification objective, label flips, bootstrap resamples
SPLIT=(--set model.objective=clf --set pairs.label_flip=0.1 --set ensemble.data=bootstrap --set ensemble.members=3)
scenario split_np2 2 train "${SPLIT[@]}"
[ -f split_np2/members.h5 ] && scenario split_np2 1 eval "${SPLIT[@]}" --set model.precision=bf16 --set parallel.blas_threads=2
# -- the seed lab's training rules and other pair designs: within-prompt pairs from
#    sampled prompts, both orders, last weights, the rise rule, fresh draws, per-entry
#    validation split, a fixed reward scale, weight decay, perfect annotator; explicit
#    ablation sizes
scenario protocol_np2 2 run --set pairs.mode=within_prompt --set pairs.sampling=prompts --set pairs.per_prompt=2 \
  --set pairs.both_orders=true --set pairs.reward_scale=6.0 --set pairs.annotator_beta=-1.0 \
  --set train.restore_best=false --set train.stop_rule=rise --set train.minibatches=draw --set train.val_split=entries \
  --set train.weight_decay=0.01 --set train.epochs=4 --set train.patience=1 --set "eval.ablation_sizes=[1,3]"
# -- shared trunk (one unit, 4 heads, bootstrap weights); on 2 ranks group 0 trains it
scenario trunk_np1 1 run --set ensemble.kind=shared_trunk --set ensemble.data=bootstrap --set parallel.blas_threads=2
scenario trunk_np2 2 run --set ensemble.kind=shared_trunk --set ensemble.data=bootstrap
# -- shared initialisation: eval adds the WARM aggregator (weight average), ablation too
scenario warm_np1 1 run --set ensemble.shared_init=true --set parallel.blas_threads=2
scenario warm_np2 2 run --set ensemble.shared_init=true
# -- the 3-view store: members dealt to views round-robin (member m on view m mod 3)
scenario views_np2 2 run --set store=synth_views/store.h5 --set 'ensemble.views=["default","view1","view2"]'
# -- gradient-boosted tree members mixed with MLPs (member m: families[m mod 2]); one
#    thread per rank (XGBoost promises rank-count independence at a fixed thread count)
GBDT=(--set 'ensemble.families=["mlp","gbdt"]' --set gbdt.rounds=20 --set gbdt.subsample=0.7 --set gbdt.colsample=0.7)
scenario gbdt_np1 1 run "${GBDT[@]}"
scenario gbdt_np2 2 run "${GBDT[@]}"
# -- active labelling: 3 rounds (initial 200, then 2 x 100 from a pool of 2000), 3 members:
#    past_dopt with shared_init (warm figures every round), 2 ranks, fp32; bald with
#    warm-started members, 1 rank, bf16; dopt on a shared trunk's heads; entropy over
#    mixed MLP and tree members
ACTIVE=(--set ensemble.members=3 --set train.batch_size=32 --set active.pool=2000 --set active.initial=200
        --set active.batch=100 --set active.rounds=2)
scenario active_dopt_np2 2 active "${ACTIVE[@]}" --set active.strategy=past_dopt --set ensemble.shared_init=true
scenario active_bald_np1 1 active "${ACTIVE[@]}" --set active.strategy=bald --set active.warm_start=true \
  --set model.precision=bf16 --set parallel.blas_threads=2
scenario active_trunk_np2 2 active "${ACTIVE[@]}" --set active.strategy=dopt --set ensemble.kind=shared_trunk
scenario active_gbdt_np2 2 active "${ACTIVE[@]}" --set active.strategy=entropy "${GBDT[@]}"
# -- a checkpoint at a deterministic point: a checkpoint after every step (the period,
#    1e-9 min = 60 ns, is over before any step ends), and the rank fails when it starts
#    member 2 (RMENS_TEST_FAIL, rmens's test hook); the last checkpoint then holds member 0
#    finished and member 1 after its last step. checkpoint.h5 (its fingerprint, the members'
#    state) is kept as ckpt_np1/checkpoint_at_failure.h5; then --resume finishes members.h5.
CKPT=(--set ensemble.members=3 --set train.checkpoint_minutes=0.000000001)
mkdir -p ckpt_np1
if RMENS_TEST_FAIL=0:2 rmens_np 1 logs/ckpt_np1.log train "$CFG" --set output=ckpt_np1 "${CKPT[@]}"; then
  note "FAILED: ckpt_np1: the injected failure did not stop the run"; failed=1
elif ! grep -q "injected failure" logs/ckpt_np1.log || [ ! -f ckpt_np1/checkpoint.h5 ]; then
  note "FAILED: ckpt_np1: no injected failure or no checkpoint.h5"; tail -n 15 logs/ckpt_np1.log | sed 's/^/    /'; failed=1
else
  cp ckpt_np1/checkpoint.h5 ckpt_np1/checkpoint_at_failure.h5
  scenario ckpt_np1 1 train "${CKPT[@]}" --resume
  grep -q "resuming from .*: 1 member(s) finished, 1 in progress" logs/ckpt_np1.log \
    || { note "FAILED: ckpt_np1: the resume did not continue member 1 in progress"; failed=1; }
fi

# run directories' lock files are not outputs
find . -name rmens.lock -delete
note "all scenarios: $((SECONDS - t_start))s$([ "$failed" = 0 ] || echo ", SOME FAILED")"
exit "$failed"
