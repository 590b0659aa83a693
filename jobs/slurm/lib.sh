# shellcheck shell=bash
# Shared by the batch scripts in jobs/slurm/ (sourced, not run). It finds the repository
# and the rmens binary, sets BLAS threads from the allocation, launches one rmens verb with
# mpirun or srun, forwards the preemption signals to it, and requeues the job when the
# training checkpointed and asked to be continued (exit status 75).
#
# Environment (all optional):
#   RMENS_ROOT          repository root (default: two levels above the submitted script,
#                       which the job record keeps: the running copy sits in slurmd's spool)
#   RMENS               rmens binary (default: $RMENS_ROOT/build/rmens, or P/bin/rmens in an
#                       installed tree P/share/rmens, or the rmens on PATH)
#   RMENS_WORKDIR       directory the verb runs in; relative paths in configs are relative
#                       to it (default: the directory sbatch was called from)
#   RMENS_MPIRUN_ARGS   extra mpirun arguments (single-node launcher)
#   RMENS_SRUN_ARGS     extra srun arguments (multi-node launcher)
#   RMENS_REQUEUE       1 (default): requeue on exit 75; 0: end the job with status 75
#   RMENS_MAX_RESTARTS  give up requeueing after this many restarts (default 20), so a run
#                       that checkpoints without progress cannot loop forever
#
# Exit status 75 (EX_TEMPFAIL from sysexits.h) is rmens' documented "checkpoint written,
# run me again with --resume" status (train and run). On a restarted job
# (SLURM_RESTART_COUNT > 0) train and run get --resume, and --force is dropped: a restart
# continues the interrupted run instead of discarding its checkpoint.

RMENS_EXIT_CHECKPOINTED=75

rmens_job_log() { echo "[$(date '+%F %T')] rmens-job ${SLURM_JOB_ID:-?}: $*" >&2; }

# Check RMENS_ROOT (set by the batch script's preamble, see single_node.sbatch) and RMENS.
rmens_job_find_root() {
  if [ -z "${RMENS_ROOT:-}" ] || [ ! -f "$RMENS_ROOT/jobs/slurm/lib.sh" ]; then
    rmens_job_log "cannot find the rmens repository (RMENS_ROOT='${RMENS_ROOT:-}'): set RMENS_ROOT"
    return 1
  fi
  export RMENS_ROOT
  source "$RMENS_ROOT/jobs/find_rmens.sh"
  export RMENS="${RMENS:-$(rmens_default_binary "$RMENS_ROOT")}"
  if [ ! -x "$RMENS" ]; then
    rmens_job_log "rmens binary '$RMENS' is not executable: build it (jobs/setup.sh) or set RMENS"
    return 1
  fi
}

# BLAS threads per rank come from the allocation: --cpus-per-task cores per rank.
rmens_job_threads() {
  local threads="${SLURM_CPUS_PER_TASK:-1}"
  [[ "$threads" =~ ^[0-9]+$ ]] && (( threads >= 1 )) || threads=1
  echo "$threads"
}

# Open MPI refuses root unless told; CI and containers run as root.
rmens_job_mpi_env() {
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

# Arguments for the verb on this attempt: add --resume and drop --force on a restart.
# Usage: rmens_job_verb_args VERB ARGS... ; result in the array RMENS_JOB_ARGS.
rmens_job_verb_args() {
  local verb="$1" a
  shift
  RMENS_JOB_ARGS=()
  if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && { [ "$verb" = train ] || [ "$verb" = run ]; }; then
    for a in "$@"; do [ "$a" = --force ] || [ "$a" = --resume ] || RMENS_JOB_ARGS+=("$a"); done
    RMENS_JOB_ARGS+=(--resume)
    rmens_job_log "restart ${SLURM_RESTART_COUNT}: continuing from the checkpoint (--resume)"
  else
    RMENS_JOB_ARGS=("$@")
  fi
}

# Run a command in the background, forward USR1 (the --signal warning) and TERM
# (preemption, scancel) to it, and wait for it. Sets RMENS_JOB_STATUS.
_rmens_job_forward() {
  local sig="$1"
  _rmens_job_got_signal=1
  rmens_job_log "received SIG$sig: forwarding it so rmens writes a checkpoint and exits $RMENS_EXIT_CHECKPOINTED"
  kill -s "$sig" "$_rmens_job_child" 2>/dev/null || true
}

rmens_job_run_forwarding() {
  "$@" &
  _rmens_job_child=$!
  # Both arrive as USR1: rmens checkpoints on either, but mpirun turns a SIGTERM into a
  # job abort (exit 1, measured with Open MPI 4.1) while it forwards SIGUSR1 to the ranks,
  # which then exit 75; srun forwards both.
  trap '_rmens_job_forward USR1' USR1
  trap '_rmens_job_forward USR1' TERM
  local rc
  while :; do
    _rmens_job_got_signal=0
    rc=0
    wait "$_rmens_job_child" || rc=$?
    # wait returns early (status > 128) when a trapped signal arrives; the child is
    # still running then, so wait for it again.
    if (( _rmens_job_got_signal )) && (( rc > 128 )) && kill -0 "$_rmens_job_child" 2>/dev/null; then
      continue
    fi
    break
  done
  trap - USR1 TERM
  RMENS_JOB_STATUS=$rc
}

# After the verb ended: requeue on 75, otherwise exit with its status.
rmens_job_finish() {
  local status="$1"
  if (( status == RMENS_EXIT_CHECKPOINTED )); then
    local restarts="${SLURM_RESTART_COUNT:-0}"
    if [ "${RMENS_REQUEUE:-1}" != 1 ]; then
      rmens_job_log "checkpointed (exit 75); RMENS_REQUEUE=0, so not requeueing"
      exit "$status"
    fi
    if (( restarts >= ${RMENS_MAX_RESTARTS:-20} )); then
      rmens_job_log "checkpointed (exit 75) but already restarted $restarts times (RMENS_MAX_RESTARTS); giving up"
      exit "$status"
    fi
    rmens_job_log "checkpointed (exit 75): requeueing job $SLURM_JOB_ID to continue with --resume"
    if ! scontrol requeue "$SLURM_JOB_ID"; then
      rmens_job_log "scontrol requeue $SLURM_JOB_ID failed (is the job --requeue and JobRequeue allowed?)"
      exit "$status"
    fi
    # The controller now ends this attempt and queues the job again; this attempt's own
    # exit status is not recorded as the job's result.
    exit 0
  fi
  if (( status != 0 )); then rmens_job_log "rmens exited with status $status"; fi
  exit "$status"
}

# Launch VERB CONFIG ARGS... with LAUNCHER (mpirun | srun) over the job's tasks and finish.
rmens_job_launch() {
  local launcher="$1" verb="$2"
  shift 2
  rmens_job_find_root
  rmens_job_mpi_env
  local threads ranks
  threads="$(rmens_job_threads)"
  ranks="${SLURM_NTASKS:-1}"
  export OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
  cd "${RMENS_WORKDIR:-${SLURM_SUBMIT_DIR:-.}}" || { rmens_job_log "cannot enter the working directory"; exit 1; }
  rmens_job_verb_args "$verb" "$@"
  local cmd=()
  case "$launcher" in
    mpirun)
      # Inside the allocation mpirun takes the hosts and slots from Slurm. Binding is left
      # to the threads: a rank with several BLAS threads must not be pinned to one core.
      # shellcheck disable=SC2206 # RMENS_MPIRUN_ARGS is a word list by design
      cmd=(mpirun -n "$ranks" --bind-to none -x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS ${RMENS_MPIRUN_ARGS:-}) ;;
    srun)
      # shellcheck disable=SC2206
      cmd=(srun --mpi=pmix --ntasks="$ranks" --cpus-per-task="$threads" --kill-on-bad-exit=1 ${RMENS_SRUN_ARGS:-}) ;;
    *) rmens_job_log "unknown launcher '$launcher'"; exit 2 ;;
  esac
  cmd+=("$RMENS" "$verb" "${RMENS_JOB_ARGS[@]}" --set "parallel.blas_threads=$threads")
  rmens_job_log "$(hostname -s): $ranks ranks x $threads BLAS threads: ${cmd[*]}"
  rmens_job_run_forwarding "${cmd[@]}"
  rmens_job_finish "$RMENS_JOB_STATUS"
}
