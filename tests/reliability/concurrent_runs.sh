#!/usr/bin/env bash
# Concurrent runs on one output directory (issue 18): a run holds an exclusive flock on
# <output>/rmens.lock recording its holder; eval holds a shared one.
#  1. a second train while a real 2-rank train runs fails at once (< 15 s), naming the
#     holder's verb, pid and host; an eval fails the same way; the first run completes;
#  2. holders simulated with Python's fcntl.flock: an exclusive holder blocks train, run
#     and eval; a shared holder (a reader) lets eval through and blocks train;
#  3. a holder that died (record left, no flock) is taken over with a warning naming it;
#  4. after a SIGKILL'd train (every rank), a new train takes over and succeeds.
source "$(dirname "$0")/../ensemble/common.sh"
make_store
OUT="$WORK/run"
# slow enough to be still running while the others are refused (~30 s; killed after)
LONG=(--set train.epochs=400 --set train.patience=0 --set pairs.count=6000 --set model.hidden=[512,512])
host="$(hostname)"

"$MPIRUN" --oversubscribe --bind-to none -n 2 "$RMENS" train "$CFG" "${COMMON_SETS[@]}" "${LONG[@]}" \
  --set output="$OUT" >"$WORK/first.log" 2>&1 &
first=$!
for _ in $(seq 100); do grep -q "verb=train" "$OUT/rmens.lock" 2>/dev/null && break; sleep 0.1; done
grep -q "verb=train" "$OUT/rmens.lock" || { cat "$WORK/first.log"; fail "the first train never recorded its lock"; }
holder_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' "$OUT/rmens.lock")"

expect_refused() { # NAME FRAGMENT VERB [args...]
  local name="$1" fragment="$2"; shift 2
  local t0=$SECONDS
  if run_mpi 2 "$@" >"$WORK/$name.log" 2>&1; then cat "$WORK/$name.log"; fail "$name: succeeded on a locked directory"; fi
  (( SECONDS - t0 < 15 )) || fail "$name: took $((SECONDS - t0))s to refuse (must fail at once)"
  grep -q "error: .*$fragment" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: no error naming '$fragment'"; }
  [ "$(grep -c 'error:' "$WORK/$name.log")" -eq 1 ] || { cat "$WORK/$name.log"; fail "$name: not exactly one error line"; }
  echo "$name: refused: $(grep 'error:' "$WORK/$name.log")"
}
expect_refused second_train "is in use by rmens train (pid $holder_pid on host $host" train "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force
expect_refused eval_during_train "is in use by rmens train (pid $holder_pid" eval "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force
kill -0 "$first" 2>/dev/null || fail "the first train died while others were refused"

# 4 (on the real run): SIGKILL every rank, then a new train takes the lock over.
# only this test's run: other tests (ctest -j) train on the same config at the same time
pkill -9 -f "rmens train $CFG .*output=$OUT\$" || true
wait "$first" 2>/dev/null || true
run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force >"$WORK/after_kill.log" 2>&1 \
  || { cat "$WORK/after_kill.log"; fail "train after a SIGKILL'd holder"; }
grep -q "warning: .*taking over the lock of rmens train (pid $holder_pid on host $host" "$WORK/after_kill.log" \
  || { cat "$WORK/after_kill.log"; fail "no take-over warning naming the killed holder"; }
[ ! -s "$OUT/rmens.lock" ] || fail "a finished run left its record in the lock file"
echo "after SIGKILL: taken over with a warning, run completed"

# 2: simulated holders. hold MODE RECORD: hold the lock in the background until killed.
hold() {
  "$PYTHON" - "$OUT/rmens.lock" "$1" "$2" <<'PY' &
import fcntl, os, sys, time
path, mode, record = sys.argv[1:]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX if mode == "ex" else fcntl.LOCK_SH)
if record:
    os.ftruncate(fd, 0); os.pwrite(fd, record.encode() + b"\n", 0)
open(path + ".held", "w").close()
time.sleep(600)
PY
  holder=$!
  for _ in $(seq 100); do [ -e "$OUT/rmens.lock.held" ] && break; sleep 0.05; done
  rm -f "$OUT/rmens.lock.held"
}
hold ex "host=nodeA17 pid=4242 started=2026-12-01T10:00:00Z verb=run slurm_job=777"
expect_refused held_train "is in use by rmens run (pid 4242 on host nodeA17 since 2026-12-01T10:00:00Z, Slurm job 777)" train "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force
expect_refused held_run "is in use by rmens run (pid 4242" run "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force
expect_refused held_eval "is in use by rmens run (pid 4242" eval "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force
kill "$holder"; wait "$holder" 2>/dev/null || true

: >"$OUT/rmens.lock"  # the killed simulated writer's record goes, as a clean release would
hold sh ""
run_mpi 2 eval "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force >"$WORK/shared_eval.log" 2>&1 \
  || { cat "$WORK/shared_eval.log"; fail "eval beside another reader"; }
expect_refused train_beside_reader "is in use by another rmens run" train "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force
kill "$holder"; wait "$holder" 2>/dev/null || true
echo "shared holder: eval ran beside it, train refused"

# 3: a dead holder's record (no flock held) is taken over with a warning.
printf 'host=%s pid=999999 started=2026-11-30T08:00:00Z verb=train slurm_job=-\n' "$host" >"$OUT/rmens.lock"
run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$OUT" --force >"$WORK/stale.log" 2>&1 \
  || { cat "$WORK/stale.log"; fail "train over a stale record"; }
grep -q "warning: .*taking over the lock of rmens train (pid 999999 on host $host since 2026-11-30T08:00:00Z)" "$WORK/stale.log" \
  || { cat "$WORK/stale.log"; fail "no warning naming the stale holder"; }
echo "concurrent_runs: all checks passed"
