# Shared set-up for the ensemble tests: a scratch directory removed on exit, a tiny
# synthetic store, and helpers. Expects RMENS, MPIRUN, PYTHON, SRCDIR (set by ctest).
set -euo pipefail
: "${RMENS:?}" "${MPIRUN:?}" "${PYTHON:?}" "${SRCDIR:?}"
# RMENS_TEST_TMP: where the scratch directory goes (/tmp by default). The Slurm multi-node
# tests put it under /var/tmp, because each simulated node has its own /tmp.
WORK="$(mktemp -d "${RMENS_TEST_TMP:-/tmp}/rmens_test.XXXXXX")"
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
CFG="$SRCDIR/configs/demo.cfg"
STORE="$WORK/store.h5"
# Small and quick: 300 prompts x 6 responses at D = 24, a 2-layer MLP, 3 epochs.
COMMON_SETS=(--set store="$STORE" --set synth.train_prompts=300 --set synth.train_responses=6
             --set synth.test_prompts=30 --set synth.test_responses=12 --set synth.dim=24
             --set synth.bench_pairs=50 --set model.hidden=[16,8] --set train.epochs=3
             --set train.batch_size=64 --set pairs.count=1200 --set ensemble.members=4
             --set parallel.blas_threads=1)

make_store() { "$RMENS" synth "$CFG" "${COMMON_SETS[@]}" --force >"$WORK/synth.log"; }

# run_mpi NP VERB [args...]: rmens under mpirun with a bounded wall time.
run_mpi() {
  local np="$1"; shift
  timeout 300 "$MPIRUN" --oversubscribe --bind-to none -n "$np" "$RMENS" "$@"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# sigterm_until_done POINT OUT START RANKS_OF DELAY CHECK: the preemption tests' loop. Runs
# `START OUT [--resume]` (which starts a run in the background and sets $pid, mpirun's)
# until it exits 0; the first two attempts get SIGTERM on their ranks (`RANKS_OF $pid`)
# after `DELAY` seconds (a function printing them), the later ones may finish. Exit 75 (a
# checkpoint) adds to $interrupted, any other failure fails the test; `CHECK POINT OUT
# STATUS` judges each attempt. Leaves the attempts made in $attempts.
# An optional 7th argument READY is a pattern of a line the run prints once its signal
# handlers are armed: the delay counts from that line's next appearance in OUT.log, so that
# a loaded machine's slow start-up cannot turn the SIGTERM into a kill before main().
sigterm_until_done() {
  local point="$1" out="$2" start="$3" ranks_of="$4" delay="$5" check="$6" ready="${7:-}"
  local status=1 ranks args=() seen
  attempts=0
  while [ "$status" -ne 0 ]; do
    attempts=$((attempts + 1)); (( attempts <= 8 )) || fail "point $point: no completion after 8 attempts"
    seen=$(grep -c -- "$ready" "$out.log" 2>/dev/null || true)
    "$start" "$out" "${args[@]}"
    if (( attempts <= 2 )); then
      if [ -n "$ready" ]; then
        for _ in $(seq 1 600); do
          (( $(grep -c -- "$ready" "$out.log" 2>/dev/null || true) > ${seen:-0} )) && break
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.1
        done
      fi
      sleep "$("$delay")"
      ranks=$("$ranks_of" "$pid")
      [ -n "$ranks" ] && kill -TERM $ranks 2>/dev/null || true
    fi
    status=0; wait "$pid" || status=$?
    case "$status" in
      0) ;;
      75) interrupted=$((interrupted + 1)) ;;
      *) cat "$out.log"; fail "point $point: exit $status" ;;
    esac
    "$check" "$point" "$out" "$status"
    args=(--resume)
  done
}
