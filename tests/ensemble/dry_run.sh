#!/bin/bash
# --dry-run on train, eval, run and active (issue 30): on a tiny synthetic store and on the
# committed hh-rlhf pair store, with 1 and 2 ranks, each verb exits 0 and prints a plan
# naming the store's uuid, the ranks, the members and the memory, and writes nothing (the
# output directory is not created, or is byte- and mtime-identical afterwards); bad
# settings fail with one error line and write nothing either.
source "$SRCDIR/tests/ensemble/common.sh"

DATA="$SRCDIR/tests/data/real/hh_rlhf_harmless_use_tail"
PAIRS="$WORK/stores/pairs.h5"
mkdir -p "$WORK/stores" "$WORK/runs" "$WORK/logs"
STORE="$WORK/stores/store.h5"
COMMON_SETS=("${COMMON_SETS[@]/#store=*/store=$STORE}")
make_store
"$RMENS" import --output "$PAIRS" --float16 --train-chosen "$DATA/train_chosen.npy" \
  --train-rejected "$DATA/train_rejected.npy" --test-chosen "$DATA/test_chosen.npy" \
  --test-rejected "$DATA/test_rejected.npy" --train-groups "$DATA/train_group.npy" \
  --test-groups "$DATA/test_group.npy" >"$WORK/logs/import.log"

uuid_of() { "$RMENS" inspect "$1" | awk '$1 == "store_uuid" { print $2 }'; }
SYNTH_UUID=$(uuid_of "$STORE")
PAIRS_UUID=$(uuid_of "$PAIRS")
[ -n "$SYNTH_UUID" ] && [ -n "$PAIRS_UUID" ] || fail "no store_uuid from rmens inspect"

# Per store: the config and settings of each verb (active: a small pool).
synth_sets=("$CFG" "${COMMON_SETS[@]}" --set eval.bon_n=[1,2,4])
synth_active=(--set ensemble.members=3 --set train.batch_size=32 --set active.pool=2000 --set active.initial=200
              --set active.batch=100 --set active.rounds=2)
pairs_sets=("$SRCDIR/configs/pairs.cfg" --set store="$PAIRS" --set train.epochs=2 --set ensemble.members=3
            --set parallel.blas_threads=1)
pairs_active=(--set active.pool=1850 --set active.initial=200 --set active.batch=150 --set active.rounds=2
              --set train.batch_size=64 --set active.strategy=past_dopt)

# snapshot DIR: every path under DIR (the directory included) with its size and mtime in
# nanoseconds, and every file's content hash; "absent" when DIR does not exist.
snapshot() {
  if [ -e "$1" ]; then
    (cd "$1" && find . -printf '%p %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort)
  else echo "absent"; fi
}
# The stores' files (not their directory, nor the <file>.locktest.<rank> files: opening a
# file with MPI-IO makes Open MPI create and delete them beside it, which any run does, and
# the refusals below run beside the other checks).
stores() { (cd "$WORK/stores" && find . -type f ! -name '*.locktest.*' -printf '%p %s %T@\n' | sort && sha256sum ./*.h5); }

# dry NAME NP VERB SETS... : a dry run that must succeed without touching $out (and the stores).
dry() {
  local name="$1" np="$2" verb="$3"; shift 3
  local log="$WORK/logs/$name.log" before after status=0
  before=$(snapshot "$out"; stores)
  touch "$WORK/logs/stamp"; sleep 0.05
  run_mpi "$np" "$verb" "$@" --set output="$out" --dry-run >"$log" 2>"$log.err" || status=$?
  [ "$status" -eq 0 ] || { cat "$log" "$log.err"; fail "$name: exit $status"; }
  after=$(snapshot "$out"; stores)
  [ "$before" == "$after" ] || fail "$name: the dry run changed $out or the stores"
  [ -z "$(find "$WORK/runs" "$WORK/stores"/*.h5 -newer "$WORK/logs/stamp" 2>/dev/null)" ] || fail "$name: files newer than the dry run"
  grep -q "^rmens $verb --dry-run" "$log" || fail "$name: no plan header"
  grep -q "uuid $uuid" "$log" || fail "$name: the plan does not name the store uuid $uuid"
  grep -q "^  ranks      $np rank(s)" "$log" || fail "$name: the plan does not give $np rank(s)"
  grep -q "^  members " "$log" || fail "$name: no members line"
  grep -q "^  memory " "$log" || fail "$name: no memory estimate"
  grep -q "^  output     $out" "$log" || fail "$name: no output section"
  grep -q "^dry run: everything checks" "$log" || fail "$name: no closing line"
  echo "ok   $name"
}

# refused NAME NEEDLE NP VERB SETS... : exit non-zero, one error line naming NEEDLE, $out untouched.
refused() {
  local name="$1" needle="$2" np="$3" verb="$4"; shift 4
  local log="$WORK/logs/$name.log" before after status=0
  before=$(snapshot "$out")
  run_mpi "$np" "$verb" "$@" --set output="$out" --dry-run >"$log" 2>"$log.err" || status=$?
  after=$(snapshot "$out")
  [ "$status" -ne 0 ] || { cat "$log"; fail "$name: exit 0"; }
  local errors
  errors=$(grep -c "^rmens $verb: error: " "$log.err" || true)
  [ "$errors" -eq 1 ] || { cat "$log.err"; fail "$name: $errors error lines, want 1"; }
  grep "^rmens $verb: error: " "$log.err" | grep -qF -- "$needle" || { cat "$log.err"; fail "$name: the error does not name '$needle'"; }
  grep -q "rmens.*error" "$log" && fail "$name: an error on standard output"
  [ "$before" == "$after" ] || fail "$name: the refused dry run changed $out"
  [ -s "$log" ] && grep -q "^dry run:" "$log" && fail "$name: a plan was printed"
  echo "ok   $name (refused: $(grep "^rmens $verb: error: " "$log.err"))"
}

# Bad settings: one error line, nothing written (the output directory does not exist).
# These refusals share nothing with the checks above (their own output directory; they
# write nothing, as the checks above verify of every dry run), and each is mostly mpirun's
# launch and its ~2 s wait after a rank exits with an error: they run beside the per-store
# checks, in the background, their lines printed after those.
bad_settings() {
  local out="$WORK/runs/refused"
  for verb in train run active; do
    refused "$verb-ranks_per_member" "parallel.ranks_per_member = 3 does not divide the 2 ranks" 2 $verb "${synth_sets[@]}" \
      "${synth_active[@]}" --set parallel.ranks_per_member=3
    refused "$verb-ranks_per_member-np1" "parallel.ranks_per_member = 2 does not divide the 1 ranks" 1 $verb "${synth_sets[@]}" \
      "${synth_active[@]}" --set parallel.ranks_per_member=2
    refused "$verb-missing-store" "$WORK/stores/missing.h5" 2 $verb "${synth_sets[@]}" "${synth_active[@]}" \
      --set store="$WORK/stores/missing.h5"
  done
  for verb in train run; do
    refused "$verb-bad-input-view" "no view 'nope'" 2 $verb "${synth_sets[@]}" --set 'model.inputs=["default","nope"]'
    refused "$verb-bad-view" "no view 'nope'" 1 $verb "${synth_sets[@]}" --set 'ensemble.views=["nope"]'
    refused "$verb-pairs-golden" "set pairs.source = \"store\"" 2 $verb "${pairs_sets[@]}" --set pairs.source=golden
  done
  refused "active-pool" "active.pool" 2 active "${synth_sets[@]}" "${synth_active[@]}" --set active.pool=2000000 --set active.initial=100
  refused "active-views" "ensemble.views" 1 active "${synth_sets[@]}" "${synth_active[@]}" --set 'ensemble.views=["default"]'
  refused "eval-no-members" "members.h5 does not exist" 2 eval "${synth_sets[@]}"
  [ ! -e "$out" ] || fail "the refused dry runs created $out"
}
bad_settings >"$WORK/logs/bad_settings.out" 2>&1 &
bad_pid=$!
trap 'kill "$bad_pid" 2>/dev/null || true; wait "$bad_pid" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

for kind in synth pairs; do
  if [ "$kind" = synth ]; then uuid=$SYNTH_UUID; sets=("${synth_sets[@]}"); active=("${synth_active[@]}")
  else uuid=$PAIRS_UUID; sets=("${pairs_sets[@]}"); active=("${pairs_active[@]}"); fi
  for np in 1 2; do
    # a fresh output directory: not created
    out="$WORK/runs/$kind-fresh"
    dry "$kind-train-np$np" "$np" train "${sets[@]}"
    dry "$kind-run-np$np" "$np" run "${sets[@]}"
    dry "$kind-active-np$np" "$np" active "${sets[@]}" "${active[@]}"
    [ ! -e "$out" ] || fail "$kind np$np: the dry runs created $out"
    grep -q "does not exist: it would be created" "$WORK/logs/$kind-train-np$np.log" || fail "$kind: no 'would be created'"
    grep -q "group 0, rank 0:" "$WORK/logs/$kind-train-np$np.log" || fail "$kind: no deal"
    if [ "$np" = 2 ]; then
      grep -q "group 1, rank 1:" "$WORK/logs/$kind-train-np$np.log" || fail "$kind np2: rank 1 trains nothing in the plan"
    fi
  done
  # eval needs members.h5: a real (short) training, then the dry runs in a directory that exists
  out="$WORK/runs/$kind-trained"
  run_mpi 1 train "${sets[@]}" --set output="$out" >"$WORK/logs/$kind-train.log" 2>&1 || fail "$kind: training"
  for np in 1 2; do
    dry "$kind-eval-np$np" "$np" eval "${sets[@]}"
    grep -q "members.h5: 3 member(s).*(this store)" "$WORK/logs/$kind-eval-np$np.log" \
      || grep -q "members.h5: 4 member(s).*(this store)" "$WORK/logs/$kind-eval-np$np.log" || fail "$kind: eval plan's members"
    dry "$kind-train-force-np$np" "$np" train "${sets[@]}" --force
    grep -q "members.h5   exists: overwritten (--force)" "$WORK/logs/$kind-train-force-np$np.log" || fail "$kind: --force"
    dry "$kind-train-resume-np$np" "$np" train "${sets[@]}" --resume
    grep -q "complete already" "$WORK/logs/$kind-train-resume-np$np.log" || fail "$kind: --resume of a finished run"
  done
  # existing results are refused as the verb refuses them; and so are existing members
  refused "$kind-train-exists" "members.h5 already exists (use --force" 2 train "${sets[@]}"
  refused "$kind-run-exists" "members.h5 already exists (use --force" 1 run "${sets[@]}"
done

bad_status=0
wait "$bad_pid" || bad_status=$?
cat "$WORK/logs/bad_settings.out"
[ "$bad_status" -eq 0 ] || fail "bad settings (above)"
# eval on a trained directory: a missing store, a store of another D; the directory unchanged
out="$WORK/runs/synth-trained"
refused "eval-missing-store" "missing.h5" 1 eval "${synth_sets[@]}" --set store="$WORK/stores/missing.h5"
refused "eval-wrong-store" "members have dim 24 but the store has dim 512" 2 eval "${pairs_sets[@]}"
echo "dry_run: all checks passed"
