#!/usr/bin/env bash
# Preemption and resume (issue 8): training killed with SIGTERM at random points (and once
# with SIGKILL) and resumed with --resume until done gives members bitwise identical to
# an uninterrupted run; a SIGTERM'd run exits 75 with a checkpoint; kills never leave a
# torn file. Ranks: 2 (members dealt over them), and the SIGKILL case on 1 rank.
# Usage: kill_resume.sh [fp32|bf16]: model.precision of every run (bf16: the rounded
# weights are remade from the checkpointed fp32 master weights on resume).
source "$(dirname "$0")/../ensemble/common.sh"
PRECISION="${1:-fp32}"
# Under the sanitizers (tests/run.sh's second pass) every step runs ~4x slower: a third of
# the pairs still gives runs long enough to be interrupted at random points.
# The SIGTERM points there: the code paths once, not the odds (the main pass runs three).
points=3
[ -n "${RMENS_SANITIZER_BUILD:-}" ] && KILL_RESUME_PAIRS=6000 points=1
# Long enough to be interrupted at random points (several seconds): D = 512, 512-256 MLP.
SETS=("${COMMON_SETS[@]}" --set synth.dim=512 --set synth.train_prompts=600 --set model.hidden=[512,256]
      --set train.epochs=4 --set train.batch_size=64 --set pairs.count="${KILL_RESUME_PAIRS:-16000}" --set train.patience=0
      --set model.precision="$PRECISION")
"$RMENS" synth "$CFG" "${SETS[@]}" --force >/dev/null
start=$SECONDS
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$WORK/reference" >"$WORK/reference.log" 2>&1 || { cat "$WORK/reference.log"; fail "reference run"; }
reference_seconds=$(( SECONDS - start ))
echo "uninterrupted run: ${reference_seconds}s"

# Start a 2-rank training in the background of this shell (so that `wait` can reap it);
# mpirun's pid in $pid.
start_training() { # OUTPUT [extra args]
  local out="$1"; shift
  "$MPIRUN" --oversubscribe --bind-to none -n 2 "$RMENS" train "$CFG" "${SETS[@]}" --set output="$out" "$@" \
    >>"$out.log" 2>&1 &
  pid=$!
}
ranks_of() { pgrep -P "$1" -f "rmens train" || true; }
# A random moment of the first two thirds of a run (in 0.1 s steps)
sigterm_delay() { awk -v r="$RANDOM" -v t="$reference_seconds" 'BEGIN { printf "%.1f", 0.2 + (r / 32767) * t * 0.66 }'; }
check_attempt() { # POINT OUT STATUS
  if [ "$3" = 75 ]; then
    [ -f "$2/checkpoint.h5" ] || fail "point $1: exit 75 without a checkpoint"
    grep -q "stopping on signal (exit 75)" "$2.log" || fail "point $1: no checkpoint message"
  fi
  ! ls -a "$2" | grep -q "tmp" || fail "point $1: temporary file left behind"
}

interrupted=0
for point in $(seq 1 "$points"); do
  out="$WORK/sigterm_$point"
  mkdir -p "$out"
  # from the node's "train split ... in one shared window" line: the handlers are armed by then
  sigterm_until_done "$point" "$out" start_training ranks_of sigterm_delay check_attempt "\] node .* shared window"
  [ ! -e "$out/checkpoint.h5" ] || fail "point $point: checkpoint left after completion"
  "$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$out/members.h5"
  echo "point $point: $((attempts - 1)) interruption(s), $(grep -c 'resuming from' "$out.log" || true) resume(s)"
done
(( interrupted >= (points > 1 ? 2 : 1) )) || fail "only $interrupted of the SIGTERMs interrupted training (the run may be too short)"

# SIGKILL: no chance to save; periodic checkpoints (every 0.3 s) are what resume uses.
out="$WORK/sigkill"
mkdir -p "$out"
start_training "$out" --set train.checkpoint_minutes=0.005
for _ in $(seq 1 100); do [ -f "$out/checkpoint.h5" ] && break; sleep 0.1; done
[ -f "$out/checkpoint.h5" ] || fail "no periodic checkpoint appeared"
sleep 0.5
ranks=$(ranks_of "$pid")
kill -KILL $ranks "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ ! -e "$out/members.h5" ] || echo "note: the run completed before SIGKILL"
"$PYTHON" - "$out/checkpoint.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:   # must be a complete, readable file: never torn
    assert f.attrs["format"] == "rmens-checkpoint"
    status = [int(f[f"member_{m}"].attrs["status"]) for m in range(int(f.attrs["n_members"]))]
print("checkpoint after SIGKILL: member status", status)
PY
run_mpi 1 train "$CFG" "${SETS[@]}" --set output="$out" --resume >>"$out.log" 2>&1 || { cat "$out.log"; fail "resume after SIGKILL"; }
grep -q "resuming from" "$out.log" || fail "SIGKILL resume did not use the checkpoint"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$out/members.h5"

# Resuming a finished run is a no-op; a checkpoint of other settings is refused.
run_mpi 1 train "$CFG" "${SETS[@]}" --set output="$out" --resume >"$WORK/again.log" 2>&1 || fail "resume of a finished run"
grep -q "complete already" "$WORK/again.log" || fail "finished run not recognised"
echo "kill_resume: ok ($interrupted SIGTERM interruptions)"
