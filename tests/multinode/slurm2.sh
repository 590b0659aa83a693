#!/usr/bin/env bash
# A private two-node Slurm cluster on this machine (issue 10): one slurmctld, and one
# slurmd per simulated node (n1 on 127.0.0.2, n2 on 127.0.0.3), each in its own UTS and
# mount namespaces with its own hostname and its own /tmp. Built on tests/slurm/cluster.sh
# (SLURM_CLUSTER_NODES=2), which documents the set-up and the teardown.
#
#   tests/multinode/slurm2.sh COMMAND [ARGS...]
#       start the cluster, run COMMAND with SLURM_CONF exported, tear the cluster down,
#       exit with COMMAND's status.
#   source tests/multinode/slurm2.sh; slurm2_start; ...; slurm2_stop
#       the same as functions (test scripts should `trap slurm2_stop EXIT`).
#
# Files the two nodes share (store, outputs, configs, job logs) must live outside /tmp:
# each node sees its own /tmp. The cluster's directory defaults to /var/tmp/rmslurm.XXXXXX.
#
# The nodes reach each other over loopback only, which Open MPI's TCP transports leave out
# by default: slurm2_start exports OMPI_MCA_btl_tcp_if_include=lo and
# OMPI_MCA_oob_tcp_if_include=lo, OMPI_MCA_mpi_yield_when_idle=1 (the nodes share the
# cores) and the root permission variables; sbatch passes the submitting environment on
# to the jobs.
#
# If the namespaces or the daemons cannot be created, start fails with the reason; a test
# built on it fails, it never skips.
_SLURM2_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/slurm/cluster.sh
source "$_SLURM2_DIR/../slurm/cluster.sh"
# shellcheck source=tests/multinode/harness.sh
source "$_SLURM2_DIR/harness.sh"

slurm2_start() {
  mn_check || return 1
  SLURM_CLUSTER_NODES=2
  export SLURM_CLUSTER_NODES
  slurm_cluster_start || return 1
  export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
  # The simulated nodes share this machine's cores: ranks waiting in MPI must yield them
  # (see harness.sh).
  export OMPI_MCA_mpi_yield_when_idle=1
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
}

slurm2_stop() { slurm_cluster_stop; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ $# -lt 1 ]; then
    sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
  fi
  trap slurm2_stop EXIT
  trap 'exit 130' INT TERM
  slurm2_start
  status=0
  "$@" || status=$?
  exit "$status"
fi
