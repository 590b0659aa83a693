#!/usr/bin/env bash
# Preemption under a real (private, one-node) Slurm cluster, with the real rmens: a 2-rank
# `rmens train` submitted through the shipped jobs/slurm/single_node.sbatch gets the
# time-limit warning (USR1 to the batch shell, as --signal=B:USR1@120 sends it) in the
# middle of training. The script must forward it to the ranks, which write a checkpoint
# and exit 75; the script requeues the job (scontrol requeue); the restarted job runs
# `rmens train ... --resume` (without --force) and completes. The members must be bitwise
# identical to those of an uninterrupted 2-rank run.
source "$(dirname "$0")/../ensemble/common.sh"
# shellcheck source=tests/slurm/cluster.sh
source "$SRCDIR/tests/slurm/cluster.sh"
trap 'slurm_cluster_stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

log="$WORK/job.out"
fail() {
  echo "test_requeue: FAIL: $*" >&2
  [ ! -f "$log" ] || { echo "----- job log:" >&2; cat "$log" >&2; }
  if [ -n "${SLURM_CLUSTER_DIR:-}" ] && [ -n "${job:-}" ]; then
    scontrol show job "$job" >&2 || true
    slurm_cluster_dump_logs
  fi
  exit 1
}

# Long enough to be signalled mid-way (about 6 s on 2 ranks): D = 512, a 512-256 MLP,
# 16000 pairs, 4 epochs (no early stopping), as tests/reliability/kill_resume.sh.
SETS=("${COMMON_SETS[@]}" --set synth.dim=512 --set synth.train_prompts=600 --set 'model.hidden=[512,256]'
      --set train.epochs=4 --set train.batch_size=64 --set pairs.count=16000 --set train.patience=0)
"$RMENS" synth "$CFG" "${SETS[@]}" --force >"$WORK/synth.log" || fail "synth"
start=$SECONDS
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$WORK/reference" >"$WORK/reference.log" 2>&1 ||
  { cat "$WORK/reference.log"; fail "uninterrupted reference run"; }
echo "test_requeue: uninterrupted 2-rank training: $((SECONDS - start)) s"

slurm_cluster_start || fail "the Slurm cluster did not start"
export RMENS_ROOT="$SRCDIR"
job="$(sbatch --parsable -n 2 --output="$log" "$SRCDIR/jobs/slurm/single_node.sbatch" \
        train "$CFG" "${SETS[@]}" --set output="$WORK/job" --force)" || fail "sbatch refused the job"

# Signal once both ranks train (the first epoch finished: rmens' signal handlers are in
# place and a member is part-way), the way --signal=B:USR1@120 does: to the batch shell only.
# (Only an end state stops the wait early: a busy controller may briefly answer nothing.)
for _ in $(seq 1 1200); do
  grep -q "epoch 1/4" "$log" 2>/dev/null && break
  case "$(slurm_job_state "$job")" in COMPLETED|FAILED|CANCELLED*|TIMEOUT|NODE_FAIL) break ;; esac
  sleep 0.1
done
grep -q "epoch 1/4" "$log" || fail "training did not get through an epoch within 120 s (job $(slurm_job_state "$job"))"
scancel --batch --signal=USR1 "$job"

# Slurm gives a requeued batch job a begin time about two minutes ahead; once it is back
# in the queue, move that to 2 s from now so the test does not sit idle. Not to "now":
# slurmd revoked the first attempt's credential when it ended, and it compares times in
# whole seconds, so a relaunch within the same second is refused ("Job credential
# revoked") and the job ends FAILED.
for _ in $(seq 1 300); do
  if scontrol show job "$job" | grep -q 'Restarts=1' && [ "$(slurm_job_state "$job")" = PENDING ]; then
    scontrol update JobId="$job" StartTime=now+2
    break
  fi
  sleep 0.2
done

slurm_wait_jobs 240 "$job" || fail "job $job did not finish"
state="$(slurm_job_state "$job")"
restarts="$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')"
[ "$state" = COMPLETED ] || fail "job state $state, expected COMPLETED after the restart"
[ "$restarts" = 1 ] || fail "job restarted $restarts times, expected 1"

# The first attempt: interrupted by the forwarded signal, checkpointed, exited 75, requeued.
grep -q "received SIGUSR1: forwarding it" "$log" || fail "the batch script did not forward USR1"
grep -q "stopping on signal (exit 75)" "$log" || fail "rmens did not checkpoint on the forwarded signal"
grep -q "requeueing job $job" "$log" || fail "the job log does not record the requeue"
# The second attempt (same log: --open-mode=append): --resume, no --force, from the checkpoint.
grep -q "restart 1: continuing from the checkpoint" "$log" || fail "the second attempt's log is missing"
launches="$(grep -c "ranks x 1 BLAS threads: mpirun" "$log")"
[ "$launches" = 2 ] || fail "expected 2 launches, got $launches"
grep "ranks x 1 BLAS threads: mpirun" "$log" | head -n 1 | grep -q -- "--force" || fail "first attempt without --force"
grep "ranks x 1 BLAS threads: mpirun" "$log" | tail -n 1 | grep -- "--resume" | grep -vq -- "--force" ||
  fail "second attempt not run with --resume and without --force"
grep -q "resuming from $WORK/job/checkpoint.h5" "$log" || fail "the second attempt did not resume from the checkpoint"
grep "resuming from" "$log"
[ ! -e "$WORK/job/checkpoint.h5" ] || fail "checkpoint.h5 left after completion"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$WORK/job/members.h5" ||
  fail "members of the preempted and resumed job differ from the uninterrupted run"
echo "test_requeue: PASS: USR1 forwarded to 2 rmens ranks, exit 75, job $job requeued once, --resume, COMPLETED, members bitwise identical"
