#!/usr/bin/env bash
# Test double for the preemption test (test_requeue.sh): behaves like `rmens train` does
# under a Slurm time limit or preemption, as the reliability issue specifies it, so the
# job scripts' signal forwarding and requeue path can be tested on their own:
#   - without --resume: announce itself in $MARKER_DIR/started.<rank>, then wait for
#     SIGUSR1 or SIGTERM (at most 120 s); on the signal write checkpoint.<rank> and exit
#     75 ("checkpointed, run me again with --resume");
#   - with --resume: require the checkpoint, write resumed.<rank>, exit 0.
# Every invocation appends its arguments to $MARKER_DIR/calls.
set -euo pipefail
rank="${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}"
dir="${MARKER_DIR:?MARKER_DIR must name the test directory}"
echo "$*" >>"$dir/calls"
resume=0
for a in "$@"; do [ "$a" = --resume ] && resume=1; done
if (( resume )); then
  [ -f "$dir/checkpoint.$rank" ] || { echo "rank $rank: --resume without a checkpoint" >&2; exit 1; }
  touch "$dir/resumed.$rank"
  exit 0
fi
checkpoint() { echo "rank $rank: SIG$1: checkpoint written" >&2; touch "$dir/checkpoint.$rank"; exit 75; }
trap 'checkpoint USR1' USR1
trap 'checkpoint TERM' TERM
touch "$dir/started.$rank"
for _ in $(seq 1 1200); do sleep 0.1; done
echo "rank $rank: no signal within 120 s" >&2
exit 1
