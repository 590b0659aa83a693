#!/usr/bin/env bash
# Preemption under a real (private, one-node) Slurm cluster: the single-node job script
# must forward the time-limit warning signal to the ranks, requeue the job when they exit
# 75 (checkpointed), and run the verb again with --resume (and without --force).
# The ranks are tests/slurm/checkpointing_rmens.sh, which checkpoints on the signal the
# way `rmens train` does; the script under test is the shipped jobs/slurm/single_node.sbatch.
set -euo pipefail
SRCDIR="${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=tests/slurm/cluster.sh
source "$SRCDIR/tests/slurm/cluster.sh"
trap slurm_cluster_stop EXIT
trap 'exit 130' INT TERM

fail() { echo "test_requeue: FAIL: $*" >&2; [ -z "${log:-}" ] || { echo "--- job log:" >&2; cat "$log" >&2 || true; }; exit 1; }

slurm_cluster_start
export MARKER_DIR="$SLURM_CLUSTER_DIR/requeue"
mkdir -p "$MARKER_DIR"
log="$MARKER_DIR/job.out"
export RMENS_ROOT="$SRCDIR" RMENS="$SRCDIR/tests/slurm/checkpointing_rmens.sh"

job="$(sbatch --parsable -n 2 --output="$log" "$SRCDIR/jobs/slurm/single_node.sbatch" \
        train "$SRCDIR/configs/demo.cfg" --force)"

# Wait (bounded) until both ranks run, then send the warning the way --signal=B:USR1@120
# does: to the batch shell only.
for _ in $(seq 1 600); do
  [ -f "$MARKER_DIR/started.0" ] && [ -f "$MARKER_DIR/started.1" ] && break
  sleep 0.1
done
[ -f "$MARKER_DIR/started.0" ] && [ -f "$MARKER_DIR/started.1" ] || fail "the 2 ranks did not start within 60 s"
scancel --batch --signal=USR1 "$job"

# Slurm gives a requeued batch job a begin time about two minutes ahead; once it is back in
# the queue, move that to now so the test does not sit idle.
for _ in $(seq 1 300); do
  if scontrol show job "$job" | grep -q 'Restarts=1' && [ "$(slurm_job_state "$job")" = PENDING ]; then
    scontrol update JobId="$job" StartTime=now
    break
  fi
  sleep 0.2
done

slurm_wait_jobs 180 "$job" || fail "job $job did not finish"
state="$(slurm_job_state "$job")"
restarts="$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')"
[ "$state" = COMPLETED ] || fail "job state $state, expected COMPLETED after the restart"
[ "$restarts" = 1 ] || fail "job restarted $restarts times, expected 1"
for r in 0 1; do
  [ -f "$MARKER_DIR/checkpoint.$r" ] || fail "rank $r wrote no checkpoint: the signal was not forwarded"
  [ -f "$MARKER_DIR/resumed.$r" ] || fail "rank $r did not run with --resume after the requeue"
done
# First attempt: the submitted arguments; second: --resume added and --force dropped.
first="$(grep -c -- '--force' "$MARKER_DIR/calls" || true)"
second="$(grep -- '--resume' "$MARKER_DIR/calls" | grep -vc -- '--force' || true)"
[ "$first" = 2 ] || fail "expected 2 first-attempt calls with --force, got $first: $(cat "$MARKER_DIR/calls")"
[ "$second" = 2 ] || fail "expected 2 resumed calls with --resume and no --force, got $second: $(cat "$MARKER_DIR/calls")"
grep -q 'requeueing job' "$log" || fail "the job log does not record the requeue"
grep -q 'restart 1: continuing from the checkpoint' "$log" || fail "the log of the second attempt is missing (open-mode=append)"
echo "test_requeue: PASS: USR1 forwarded to 2 ranks, exit 75 requeued job $job once, resumed with --resume, COMPLETED"
