#!/usr/bin/env bash
# Ctrl-C without mpirun (issue 30): a plain `rmens train` (1 rank, no mpirun) that gets
# SIGINT in the middle checkpoints at its next step boundary and exits 75 with the
# "continue with --resume" line; --resume gives members bitwise identical to an
# uninterrupted run, and log.jsonl then holds every epoch once, as members.h5's history.
# A second SIGINT ends the process at once (by the signal: status 130), with no members.h5.
source "$(dirname "$0")/../ensemble/common.sh"
set -m # background jobs of this script keep SIGINT (without job control they ignore it)
# Long enough to be interrupted in the middle (several seconds on one core): D = 512,
# a 512-256 MLP, 4 members x 4 epochs.
SETS=("${COMMON_SETS[@]}" --set synth.dim=512 --set synth.train_prompts=600 --set model.hidden=[512,256]
      --set train.epochs=4 --set train.batch_size=64 --set pairs.count="${INTERRUPT_PAIRS:-8000}" --set train.patience=0)
"$RMENS" synth "$CFG" "${SETS[@]}" --force >/dev/null
start=$SECONDS
timeout 300 "$RMENS" train "$CFG" "${SETS[@]}" --set output="$WORK/reference" >"$WORK/reference.log" 2>&1 \
  || { cat "$WORK/reference.log"; fail "reference run"; }
echo "uninterrupted run: $(( SECONDS - start ))s"
"$PYTHON" "$SRCDIR/tests/reliability/check_log.py" "$WORK/reference"

# start OUT [args]: rmens train in the background ($pid), not under mpirun
start() { local out="$1"; shift; "$RMENS" train "$CFG" "${SETS[@]}" --set output="$out" "$@" >>"$out.log" 2>&1 & pid=$!; }
# wait_for OUT PATTERN: until the run's log has the line (the run is then in its middle)
wait_for() {
  for _ in $(seq 1200); do grep -q "$2" "$1.log" && return 0; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  cat "$1.log"; fail "no '$2' line in $1.log"
}

# One SIGINT in the middle (member 1's first epoch done: 2 of 4 members to go)
out="$WORK/interrupted"
start "$out"
wait_for "$out" "member 1 (2/4) epoch 1/4"
kill -INT "$pid"
status=0; wait "$pid" || status=$?
[ "$status" = 75 ] || { cat "$out.log"; fail "SIGINT: exit $status, not 75"; }
[ -f "$out/checkpoint.h5" ] || fail "SIGINT: exit 75 without a checkpoint"
[ ! -e "$out/members.h5" ] || fail "SIGINT: members.h5 written by an interrupted run"
grep -q "rmens: interrupt: stopping at the next step boundary" "$out.log" || fail "SIGINT: no interrupt line"
grep -q "stopping on signal (exit 75): continue with rmens train --resume" "$out.log" || fail "SIGINT: no resume hint"
! ls -a "$out" | grep -q "tmp" || fail "SIGINT: temporary file left behind"
timeout 300 "$RMENS" train "$CFG" "${SETS[@]}" --set output="$out" --resume >>"$out.log" 2>&1 \
  || { cat "$out.log"; fail "resume after SIGINT"; }
grep -q "resuming from" "$out.log" || fail "the resume did not use the checkpoint"
[ ! -e "$out/checkpoint.h5" ] || fail "checkpoint left after completion"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$out/members.h5"
"$PYTHON" "$SRCDIR/tests/reliability/check_log.py" "$out"

# Two SIGINTs: the second ends the process at once. The second must arrive before the
# first's checkpoint is complete (a few ms apart; a try where the checkpoint won is retried).
for try in 1 2 3; do
  out="$WORK/twice_$try"
  start "$out"
  wait_for "$out" "member 1 (2/4) epoch 1/4"
  t0=$("$PYTHON" -c 'import os, signal, sys, time; p = int(sys.argv[1]); os.kill(p, signal.SIGINT); time.sleep(0.002); t = time.time(); os.kill(p, signal.SIGINT); print(t)' "$pid")
  status=0; wait "$pid" || status=$?
  elapsed=$("$PYTHON" -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.2f}")' "$t0")
  [ "$status" != 75 ] || { echo "try $try: the checkpoint came first (exit 75); again"; continue; }
  [ "$status" = 130 ] || { cat "$out.log"; fail "double SIGINT: exit $status, not 130 (killed by SIGINT)"; }
  "$PYTHON" -c 'import sys; sys.exit(float(sys.argv[1]) > 2.0)' "$elapsed" || fail "double SIGINT: ended ${elapsed}s after the second"
  [ ! -e "$out/members.h5" ] || fail "double SIGINT: members.h5 written"
  ! ls -a "$out" | grep -q "members.h5" || fail "double SIGINT: a partial members.h5 left"
  echo "double SIGINT: exit $status ${elapsed}s after the second"
  echo "interrupt: ok"
  exit 0
done
fail "double SIGINT: every try checkpointed before the second SIGINT"
