#!/usr/bin/env bash
# rmens active --resume: interrupted by SIGTERM at random times (inside a round's training
# or between rounds) and by SIGKILL after a periodic checkpoint, every continued run ends
# with an active.h5 identical (outside /run) to the uninterrupted run's, and the same
# members.h5. past_dopt with warm starts: the selection needs the labelled set, the last
# round's members and their weights. Shared initialisation: the rounds' warm figures
# (aggregators.warm) go through the resume state too.
source "$(dirname "$0")/common.sh"
# Under the sanitizers (tests/run.sh's second pass, ~4x slower a step) 12 epochs a round
# instead of 24: the same rounds, checkpoints and resumes in a run still long enough (~10 s
# there) for the SIGTERMs to land inside a round's training or between rounds.
EPOCHS=24
[ -n "${RMENS_SANITIZER_BUILD:-}" ] && EPOCHS=12
SETS=("${COMMON_SETS[@]}" --set synth.dim=256 --set synth.train_prompts=600 --set model.hidden=[256,64]
      --set ensemble.members=2 --set train.epochs="$EPOCHS" --set train.batch_size=64 --set train.patience=0
      --set active.pool=6000 --set active.initial=2000 --set active.batch=500 --set active.rounds=3
      --set active.strategy=past_dopt --set active.warm_start=true --set ensemble.shared_init=true)
"$RMENS" synth "$CFG" "${SETS[@]}" --force >/dev/null
start=$(date +%s.%N)
run_mpi 2 active "$CFG" "${SETS[@]}" --set output="$WORK/reference" >"$WORK/reference.log" 2>&1 \
  || { cat "$WORK/reference.log"; fail "reference run"; }
reference_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "uninterrupted run: ${reference_seconds}s"
"$PYTHON" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r"); assert all("warm" in f[f"round_{r}/aggregators"] for r in range(4))' \
  "$WORK/reference/active.h5" || fail "the reference has no warm figures"

start_active() { # OUTPUT [extra args]
  local out="$1"; shift
  "$MPIRUN" --oversubscribe --bind-to none -n 2 "$RMENS" active "$CFG" "${SETS[@]}" --set output="$out" "$@" >>"$out.log" 2>&1 &
  pid=$!
}
ranks_of() { pgrep -P "$1" -f "rmens active" || true; }
# SIGTERM inside the middle half of a run (in a round's training or between rounds)
sigterm_delay() { awk -v r="$RANDOM" -v t="$reference_seconds" 'BEGIN { printf "%.2f", t * (0.25 + 0.5 * r / 32767) }'; }
check_attempt() { # POINT OUT STATUS
  [ "$3" != 75 ] || grep -q "exit 75" "$2.log" || fail "point $1: no checkpoint message"
}

interrupted=0
points=3
[ -n "${RMENS_SANITIZER_BUILD:-}" ] && points=1 # the sanitizer pass: the code paths once, not the odds
for point in $(seq 1 "$points"); do
  out="$WORK/sigterm_$point"
  mkdir -p "$out"
  sigterm_until_done "$point" "$out" start_active ranks_of sigterm_delay check_attempt
  "$PYTHON" "$SRCDIR/tests/active/compare_active.py" "$WORK/reference/active.h5" "$out/active.h5"
  "$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$out/members.h5"
  ls "$out" | grep -q -e active_state -e active_members -e checkpoint -e partial && fail "point $point: files left behind: $(ls "$out")"
  echo "point $point: $((attempts - 1)) interruption(s); $(grep -c 'resuming' "$out.log" || true) resume message(s)"
done
(( interrupted >= (points == 1 ? 1 : 2) )) || fail "only $interrupted of the SIGTERMs interrupted the run (too short?)"

# SIGKILL after a periodic checkpoint inside training: no clean stop at all.
out="$WORK/sigkill"
mkdir -p "$out"
start_active "$out" --set train.checkpoint_minutes=0.002
for _ in $(seq 1 100); do [ -f "$out/checkpoint.h5" ] || [ -f "$out/active_state.h5" ] && break; sleep 0.1; done
sleep 0.3
ranks=$(ranks_of "$pid")
kill -KILL $ranks "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
run_mpi 2 active "$CFG" "${SETS[@]}" --set output="$out" --resume >>"$out.log" 2>&1 || { cat "$out.log"; fail "resume after SIGKILL"; }
"$PYTHON" "$SRCDIR/tests/active/compare_active.py" "$WORK/reference/active.h5" "$out/active.h5"
# a complete run resumes to nothing
run_mpi 2 active "$CFG" "${SETS[@]}" --set output="$out" --resume 2>&1 | grep -q "complete already" || fail "resume of a complete run"
echo "active resume: ok"
