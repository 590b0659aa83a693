#!/usr/bin/env bash
# A private Slurm cluster on localhost, for tests: Debian's slurm-wlm + munge. One node
# (this machine) by default; two simulated nodes with SLURM_CLUSTER_NODES=2. The one
# cluster set-up of the test suite: the Slurm tests (tests/slurm/) and the multi-node ones
# (tests/multinode/slurm_run.sh) both start their cluster here.
#
#   tests/slurm/cluster.sh COMMAND [ARGS...]
#   SLURM_CLUSTER_NODES=2 tests/slurm/cluster.sh COMMAND [ARGS...]
#       start the cluster, run COMMAND with SLURM_CONF exported (so sbatch, squeue,
#       scontrol... talk to it), tear the cluster down, exit with COMMAND's status.
#   source tests/slurm/cluster.sh; slurm_cluster_start; ...; slurm_cluster_stop
#       the same as functions, for test scripts (they should `trap slurm_cluster_stop EXIT`).
#
# Environment:
#   SLURM_CLUSTER_DIR   directory for the cluster's config, state, logs and munge socket
#                       (default: a new mktemp -d under /tmp; removed at stop unless
#                       SLURM_CLUSTER_KEEP=1). Keep its path short: the munge socket path
#                       must fit in 108 bytes.
#   SLURM_CLUSTER_KEEP  1: keep the directory (logs) after stop.
#   SLURM_CLUSTER_NODE_CPUS  CPUs each node declares (default: this machine's, from
#                       `slurmd -C`). More than the machine has lets a test ask for
#                       `-c 2` per rank on several ranks per node (config_overrides: the
#                       cores are then shared, which tests of correctness accept).
#   SLURM_CLUSTER_NODES 1 (default): one node named after this host, on 127.0.0.1.
#                       2: two simulated nodes n1 (127.0.0.2) and n2 (127.0.0.3) for the
#                       multi-node tests (issue 10; tests/multinode/slurm_run.sh). Each node's
#                       slurmd runs in its own UTS and mount namespaces, with its own
#                       hostname and its own /tmp (a bind mount of <dir>/nodes/NODE/tmp):
#                       the PMIx plugin makes per-step directories in /tmp, which two nodes
#                       must not share. So every file the nodes share (this directory, the
#                       store, outputs, configs, job logs) must live outside /tmp; the
#                       default directory is then a mktemp -d under /var/tmp. Exceptions,
#                       bound into each node's /tmp at the same path: this checkout and the
#                       rmens binary's directory (a CI clone under /tmp), and
#                       SLURM_CLUSTER_SHARED_PATHS. Start first runs the two-node checks of
#                       tests/multinode/harness.sh (mn_check: namespaces, loopback). The
#                       nodes reach each other over loopback only, which Open MPI's TCP
#                       transports leave out by default: start then exports
#                       OMPI_MCA_btl_tcp_if_include=lo and OMPI_MCA_oob_tcp_if_include=lo,
#                       OMPI_MCA_mpi_yield_when_idle=1 (the nodes share the cores; see
#                       harness.sh) and the root permission variables; sbatch passes the
#                       submitting environment on to the jobs.
#
# Everything is private: its own munge key, munged socket and pid file, ports picked free
# on 127.0.0.1, state and spool directories inside SLURM_CLUSTER_DIR. Each node gets this
# machine's cores and memory as `slurmd -C` reports them (two simulated nodes share them).
# Nothing system-wide (/etc/slurm, /etc/munge, /run/munge) is used or changed. Teardown
# cancels the cluster's jobs and stops only the daemons this script started, by the pids
# in their own pid files, with bounded waits. A simulated node's namespaces end with the
# last process in them; a process still inside one after its slurmd stopped (a job step
# that outlived it) is ours by construction and is killed, so nothing holds the node's
# /tmp mount. Any failure to start prints the reason and the daemon log tail and returns
# non-zero: a test built on this fails, never skips.
#
# Runs as root (SlurmUser=root), as CI and the dev containers do.

# Seconds to wait for a daemon to come up or go down before giving up.
SLURM_CLUSTER_WAIT="${SLURM_CLUSTER_WAIT:-30}"
# This script's directory (absolute: a test may cd before it starts the cluster).
_SLURM_CLUSTER_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_slurm_cluster_log() { echo "slurm-cluster: $*" >&2; }

# Print the last lines of the cluster's logs, to explain a failure.
slurm_cluster_dump_logs() {
  local f
  for f in "$SLURM_CLUSTER_DIR"/log/*.log "$SLURM_CLUSTER_DIR"/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 25 "$f" >&2
  done
}

# A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it).
_slurm_cluster_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until the pid file exists and names a live process; print the pid.
_slurm_cluster_wait_pidfile() {
  local file="$1" name="$2" waited=0 pid
  while (( waited < SLURM_CLUSTER_WAIT * 10 )); do
    if [ -s "$file" ]; then
      pid="$(cat "$file")"
      if kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
    fi
    sleep 0.1; waited=$(( waited + 1 ))
  done
  _slurm_cluster_log "$name did not start within ${SLURM_CLUSTER_WAIT}s (no live pid in $file)"
  return 1
}

# Send SIGTERM to a pid we started, wait a bounded time, then SIGKILL.
_slurm_cluster_kill_pid() {
  local pid="$1" name="$2" waited=0
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && (( waited < SLURM_CLUSTER_WAIT * 10 )); do
    sleep 0.1; waited=$(( waited + 1 ))
  done
  if kill -0 "$pid" 2>/dev/null; then
    _slurm_cluster_log "$name (pid $pid) ignored SIGTERM for ${SLURM_CLUSTER_WAIT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# The nodes of the cluster: names, addresses and slurmd ports (arrays, set by start).
_slurm_cluster_plan_nodes() {
  local i port used=" "
  case "${SLURM_CLUSTER_NODES:-1}" in
    1) SLURM_CLUSTER_NODE_NAMES=("$(hostname -s)"); SLURM_CLUSTER_NODE_ADDRS=(127.0.0.1) ;;
    # Two loopback addresses other than 127.0.0.1, so neither Slurm nor Open MPI takes a
    # simulated node for the host slurmctld runs on.
    2) SLURM_CLUSTER_NODE_NAMES=(n1 n2); SLURM_CLUSTER_NODE_ADDRS=(127.0.0.2 127.0.0.3) ;;
    *) _slurm_cluster_log "SLURM_CLUSTER_NODES must be 1 or 2, not '${SLURM_CLUSTER_NODES}'"; return 1 ;;
  esac
  SLURM_CLUSTER_CTLD_PORT="$(_slurm_cluster_free_port)"
  used+="$SLURM_CLUSTER_CTLD_PORT "
  SLURM_CLUSTER_NODE_PORTS=()
  for i in "${!SLURM_CLUSTER_NODE_NAMES[@]}"; do
    port="$(_slurm_cluster_free_port)"
    while [[ "$used" == *" $port "* ]]; do port="$(_slurm_cluster_free_port)"; done
    used+="$port "
    SLURM_CLUSTER_NODE_PORTS[i]="$port"
  done
  # The first node: where a batch script runs.
  export SLURM_CLUSTER_NODE="${SLURM_CLUSTER_NODE_NAMES[0]}"
}

_slurm_cluster_write_conf() {
  local d="$SLURM_CLUSTER_DIR" hw cpus mem i node_lines="" names
  # `slurmd -C` prints "NodeName=host CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=..
  # ThreadsPerCore=.. RealMemory=.."; keep the hardware fields, name the node ourselves.
  hw="$(slurmd -C | head -n 1)" || { _slurm_cluster_log "slurmd -C failed"; return 1; }
  hw="$(echo "$hw" | tr ' ' '\n' | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | tr '\n' ' ')"
  cpus="$(echo "$hw" | tr ' ' '\n' | sed -n 's/^CPUs=//p')"
  mem="$(echo "$hw" | tr ' ' '\n' | sed -n 's/^RealMemory=//p')"
  if [ -z "$cpus" ] || [ -z "$mem" ]; then
    _slurm_cluster_log "could not read CPUs and RealMemory from slurmd -C"; return 1
  fi
  local overrides=""
  if [ -n "${SLURM_CLUSTER_NODE_CPUS:-}" ]; then
    [[ "$SLURM_CLUSTER_NODE_CPUS" =~ ^[1-9][0-9]*$ ]] ||
      { _slurm_cluster_log "SLURM_CLUSTER_NODE_CPUS='$SLURM_CLUSTER_NODE_CPUS' is not a CPU count"; return 1; }
    cpus="$SLURM_CLUSTER_NODE_CPUS"
    hw="CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem "
    # slurmd would otherwise drain a node that declares more CPUs than it finds.
    overrides="SlurmdParameters=config_overrides"
  fi
  for i in "${!SLURM_CLUSTER_NODE_NAMES[@]}"; do
    node_lines+="NodeName=${SLURM_CLUSTER_NODE_NAMES[i]} NodeAddr=${SLURM_CLUSTER_NODE_ADDRS[i]} Port=${SLURM_CLUSTER_NODE_PORTS[i]} ${hw}State=UNKNOWN"$'\n'
  done
  names="$(IFS=,; echo "${SLURM_CLUSTER_NODE_NAMES[*]}")"
  : >"$d/etc/plugstack.conf" # isolate from /etc/slurm/plugstack.conf
  # %n (the node name) keeps each slurmd's spool, pid and log files apart.
  cat >"$d/etc/slurm.conf" <<EOF
# Generated by tests/slurm/cluster.sh: a private ${#SLURM_CLUSTER_NODE_NAMES[@]}-node test cluster.
ClusterName=rmenstest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$SLURM_CLUSTER_CTLD_PORT
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$d/etc/plugstack.conf
# No cgroups in containers: plain /proc process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start a job as soon as it can run: a job that becomes eligible by time (a requeued job's
# begin time) or by a dependency would otherwise wait for the next backfill pass (30 s) or
# main scheduling pass (60 s), the test idle meanwhile. A private test cluster of few jobs.
SchedulerParameters=bf_interval=1,sched_interval=1
MpiDefault=none
ReturnToService=2
# Requeued jobs (preemption test, jobs/slurm/*) may run again.
JobRequeue=1
# Keep finished jobs visible to scontrol for the test's checks.
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
$overrides
${node_lines}PartitionName=test Nodes=$names Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  SLURM_CLUSTER_CPUS="$cpus"
  export SLURM_CLUSTER_CPUS
}

# Directories every simulated node must see as they are, one per line: this checkout,
# the rmens binary's directory, and SLURM_CLUSTER_SHARED_PATHS (colon-separated). Only
# those under /tmp need anything done (see _slurm_cluster_start_slurmd).
_slurm_cluster_shared_paths() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
  printf '%s\n' "$root"
  [ -z "${RMENS:-}" ] || (cd "$(dirname "$RMENS")" 2>/dev/null && pwd -P) || true
  [ -z "${SLURM_CLUSTER_SHARED_PATHS:-}" ] || tr ':' '\n' <<<"$SLURM_CLUSTER_SHARED_PATHS"
}

# The mount namespace of a process ("mnt:[inode]"), empty if it is gone.
_slurm_cluster_mntns() { readlink "/proc/$1/ns/mnt" 2>/dev/null || true; }

# Start the slurmd of node I. One node: a plain slurmd. Simulated nodes: slurmd in new UTS
# and mount namespaces, with the node's hostname and the node's own /tmp bind-mounted
# (private propagation: the mount is invisible outside). slurmd forks into the
# background; the daemon keeps the namespaces alive, and with them the mount.
_slurm_cluster_start_slurmd() {
  local i="$1" d="$SLURM_CLUSTER_DIR" node="${SLURM_CLUSTER_NODE_NAMES[$1]}" pid
  mkdir -p "$d/spool/$node"
  if [ "${SLURM_CLUSTER_NODES:-1}" = 1 ]; then
    slurmd -f "$SLURM_CONF" -N "$node" 2>>"$d/log/slurmd-$node.stderr.log" ||
      { _slurm_cluster_log "slurmd failed to start"; slurm_cluster_dump_logs; return 1; }
  else
    local node_tmp="$d/nodes/$node/tmp" shared=() p
    mkdir -p "$node_tmp"
    chmod 1777 "$node_tmp"
    # Shared paths under /tmp (a checkout cloned there, its build) stay visible on the
    # node: bound into the node's /tmp at the same place before it covers /tmp.
    while IFS= read -r p; do
      case "$p" in
        /tmp/?*)
          [ -d "$p" ] || continue
          local q covered=0
          for q in "${shared[@]}"; do case "$p/" in "$q"/*) covered=1 ;; esac; done
          [ "$covered" = 1 ] || { mkdir -p "$node_tmp/${p#/tmp/}"; shared+=("$p"); } ;;
      esac
    done < <(_slurm_cluster_shared_paths)
    # shellcheck disable=SC2016 # expanded by the inner sh
    if ! unshare --uts --mount --propagation private sh -c \
         'set -e; node_tmp="$0" node="$1" conf="$2"; shift 2
          for p in "$@"; do mount --bind "$p" "$node_tmp/${p#/tmp/}"; done
          mount --rbind "$node_tmp" /tmp; hostname "$node"; exec slurmd -f "$conf" -N "$node"' \
         "$node_tmp" "$node" "$SLURM_CONF" "${shared[@]}" 2>>"$d/log/slurmd-$node.stderr.log"; then
      _slurm_cluster_log "could not start slurmd for $node in its own UTS and mount namespaces (unshare --uts --mount needs root or CAP_SYS_ADMIN): $(tail -n 3 "$d/log/slurmd-$node.stderr.log")"
      slurm_cluster_dump_logs; return 1
    fi
  fi
  pid="$(_slurm_cluster_wait_pidfile "$d/run/slurmd-$node.pid" "slurmd $node")" || { slurm_cluster_dump_logs; return 1; }
  SLURM_CLUSTER_SLURMD_PIDS[i]="$pid"
  if [ "${SLURM_CLUSTER_NODES:-1}" != 1 ]; then
    SLURM_CLUSTER_NODE_MNTNS[i]="$(_slurm_cluster_mntns "$pid")"
    # Check what the tests rely on: the node has its own hostname and its own /tmp.
    if [ -z "${SLURM_CLUSTER_NODE_MNTNS[i]}" ] || [ "${SLURM_CLUSTER_NODE_MNTNS[i]}" = "$(_slurm_cluster_mntns $$)" ] ||
       [ "$(nsenter -t "$pid" -u hostname)" != "$node" ] ||
       ! nsenter -t "$pid" -m touch /tmp/.rmens-node-probe ||
       [ ! -e "$node_tmp/.rmens-node-probe" ]; then
      _slurm_cluster_log "slurmd $node (pid $pid) is not in its own namespaces with hostname $node and /tmp = $node_tmp"
      return 1
    fi
    rm -f "$node_tmp/.rmens-node-probe"
  fi
}

# Start munged, slurmctld and the slurmds; export SLURM_CONF. Returns non-zero with the reason.
slurm_cluster_start() {
  local missing=() cmd i
  if [ "${SLURM_CLUSTER_NODES:-1}" != 1 ]; then
    # shellcheck source=tests/multinode/harness.sh
    source "$_SLURM_CLUSTER_HERE/../multinode/harness.sh"
    mn_check || return 1
  fi
  for cmd in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  if [ "${SLURM_CLUSTER_NODES:-1}" != 1 ]; then
    for cmd in unshare nsenter mount; do
      command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
    done
  fi
  if ((${#missing[@]})); then
    _slurm_cluster_log "missing ${missing[*]}: install the Debian packages slurm-wlm, munge and util-linux (tests/run.sh does)"
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    _slurm_cluster_log "must run as root (SlurmUser=root, munged --force); running as uid $(id -u)"
    return 1
  fi
  if [ -z "${SLURM_CLUSTER_DIR:-}" ]; then
    # Simulated nodes each have a private /tmp: the shared directory must be elsewhere.
    if [ "${SLURM_CLUSTER_NODES:-1}" = 1 ]; then
      SLURM_CLUSTER_DIR="$(mktemp -d /tmp/rmslurm.XXXXXX)"
    else
      SLURM_CLUSTER_DIR="$(mktemp -d /var/tmp/rmslurm.XXXXXX)"
    fi
    SLURM_CLUSTER_OWN_DIR=1
  fi
  export SLURM_CLUSTER_DIR
  local d="$SLURM_CLUSTER_DIR"
  mkdir -p "$d"/{etc,state,spool,run,log,munge}
  chmod 700 "$d/munge"
  if [ "${SLURM_CLUSTER_NODES:-1}" != 1 ]; then
    case "$(realpath "$d")/" in
      /tmp/*) _slurm_cluster_log "SLURM_CLUSTER_DIR=$d is under /tmp, which each simulated node replaces with its own"; return 1 ;;
    esac
  fi
  _slurm_cluster_plan_nodes || return 1
  _slurm_cluster_write_conf || return 1
  export SLURM_CONF="$d/etc/slurm.conf"

  # munge: a private key and socket; --force because the socket dir is not /run/munge.
  mungekey --create --keyfile="$d/munge/munge.key" --force >/dev/null 2>&1 ||
    { _slurm_cluster_log "mungekey could not create a key in $d/munge"; return 1; }
  chmod 600 "$d/munge/munge.key"
  if ! munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.socket" \
       --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" \
       --seed-file="$d/munge/munged.seed" 2>"$d/log/munged.stderr.log"; then
    _slurm_cluster_log "munged failed to start: $(tail -n 3 "$d/log/munged.stderr.log" "$d/munge/munged.log" 2>/dev/null)"
    return 1
  fi
  SLURM_CLUSTER_MUNGED_PID="$(_slurm_cluster_wait_pidfile "$d/munge/munged.pid" munged)" || { slurm_cluster_dump_logs; return 1; }
  if ! munge --socket="$d/munge/munge.socket" -n | unmunge --socket="$d/munge/munge.socket" >/dev/null 2>&1; then
    _slurm_cluster_log "munge credential round trip through $d/munge/munge.socket failed"
    slurm_cluster_dump_logs; return 1
  fi

  # -c: a clean start (no saved state); both daemons fork into the background.
  if ! slurmctld -c -f "$SLURM_CONF" 2>>"$d/log/slurmctld.stderr.log"; then
    _slurm_cluster_log "slurmctld failed to start"; slurm_cluster_dump_logs; return 1
  fi
  SLURM_CLUSTER_CTLD_PID="$(_slurm_cluster_wait_pidfile "$d/run/slurmctld.pid" slurmctld)" || { slurm_cluster_dump_logs; return 1; }
  SLURM_CLUSTER_SLURMD_PIDS=() SLURM_CLUSTER_NODE_MNTNS=()
  for i in "${!SLURM_CLUSTER_NODE_NAMES[@]}"; do
    _slurm_cluster_start_slurmd "$i" || return 1
  done
  export SLURM_CLUSTER_MUNGED_PID SLURM_CLUSTER_CTLD_PID

  # Every node must register and become idle before jobs can start.
  local waited=0 states="" want
  want="$(printf '%s idle\n' "${SLURM_CLUSTER_NODE_NAMES[@]}" | sort)"
  while (( waited < SLURM_CLUSTER_WAIT )); do
    states="$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u || true)"
    [ "$states" = "$want" ] && break
    sleep 1; waited=$(( waited + 1 ))
  done
  if [ "$states" != "$want" ]; then
    _slurm_cluster_log "nodes not all idle after ${SLURM_CLUSTER_WAIT}s: $(echo "${states:-none}" | tr '\n' ';')"
    slurm_cluster_dump_logs; return 1
  fi
  local summary=""
  for i in "${!SLURM_CLUSTER_NODE_NAMES[@]}"; do
    summary+="${SLURM_CLUSTER_NODE_NAMES[i]} ${SLURM_CLUSTER_NODE_ADDRS[i]}:${SLURM_CLUSTER_NODE_PORTS[i]}, "
  done
  _slurm_cluster_log "up: ${#SLURM_CLUSTER_NODE_NAMES[@]} node(s) ($SLURM_CLUSTER_CPUS CPUs each): ${summary}slurmctld :$SLURM_CLUSTER_CTLD_PORT, dir $d"
  if [ "${SLURM_CLUSTER_NODES:-1}" != 1 ]; then
    # Simulated nodes: Open MPI between them over loopback; ranks waiting in MPI yield the
    # cores the nodes share (see tests/multinode/harness.sh).
    export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
    export OMPI_MCA_mpi_yield_when_idle=1
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

# The pids of the processes in mount namespace NS.
_slurm_cluster_pids_in_ns() {
  local ns="$1" p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$(_slurm_cluster_mntns "$p")" = "$ns" ] && echo "$p"
  done
  return 0
}

# Kill every process still in mount namespace NS (a simulated node's), with bounded
# waits. Only for namespaces this script created: never the host's own.
_slurm_cluster_kill_namespace() {
  local ns="$1" name="$2" sig waited left
  [ -n "$ns" ] && [ "$ns" != "$(_slurm_cluster_mntns $$)" ] || return 0
  for sig in TERM KILL; do
    mapfile -t left < <(_slurm_cluster_pids_in_ns "$ns")
    ((${#left[@]})) || return 0
    _slurm_cluster_log "$name: SIG$sig to ${#left[@]} process(es) left in its namespace: ${left[*]}"
    kill -s "$sig" "${left[@]}" 2>/dev/null || true
    waited=0
    while (( waited < SLURM_CLUSTER_WAIT * 10 )) && [ -n "$(_slurm_cluster_pids_in_ns "$ns")" ]; do
      sleep 0.1; waited=$(( waited + 1 ))
    done
  done
  [ -z "$(_slurm_cluster_pids_in_ns "$ns")" ] || _slurm_cluster_log "$name: processes survive SIGKILL in its namespace"
}

# Cancel the cluster's jobs, stop its daemons (our pids only), remove its directory.
# Safe to call more than once and after a partial start.
slurm_cluster_stop() {
  local d="${SLURM_CLUSTER_DIR:-}" waited=0 i node pid ns
  [ -n "$d" ] || return 0
  if [ -n "${SLURM_CLUSTER_CTLD_PID:-}" ] && kill -0 "$SLURM_CLUSTER_CTLD_PID" 2>/dev/null; then
    # Jobs first, so slurmd's job step daemons end their processes themselves.
    scancel --full 2>/dev/null || true
    while [ -n "$(squeue -h -t all -o '%i %t' 2>/dev/null | grep -vE ' (CD|CA|F|TO|PR|NF|OOM|BF|DL)$' || true)" ] &&
          (( waited < SLURM_CLUSTER_WAIT )); do
      sleep 1; waited=$(( waited + 1 ))
    done
  fi
  # Pids from the pid files too, in case start stopped before recording them.
  for i in "${!SLURM_CLUSTER_NODE_NAMES[@]}"; do
    node="${SLURM_CLUSTER_NODE_NAMES[i]}"
    pid="${SLURM_CLUSTER_SLURMD_PIDS[i]:-$(cat "$d/run/slurmd-$node.pid" 2>/dev/null || true)}"
    ns=""
    if [ "${SLURM_CLUSTER_NODES:-1}" != 1 ]; then
      ns="${SLURM_CLUSTER_NODE_MNTNS[i]:-}"
      [ -n "$ns" ] || [ -z "$pid" ] || ns="$(_slurm_cluster_mntns "$pid")"
    fi
    _slurm_cluster_kill_pid "$pid" "slurmd $node"
    # A simulated node: whatever is left in its namespace goes too; with the last
    # process the namespaces, and the node's /tmp bind mount, are gone.
    _slurm_cluster_kill_namespace "$ns" "node $node"
  done
  [ -n "${SLURM_CLUSTER_CTLD_PID:-}" ] || SLURM_CLUSTER_CTLD_PID="$(cat "$d/run/slurmctld.pid" 2>/dev/null || true)"
  [ -n "${SLURM_CLUSTER_MUNGED_PID:-}" ] || SLURM_CLUSTER_MUNGED_PID="$(cat "$d/munge/munged.pid" 2>/dev/null || true)"
  _slurm_cluster_kill_pid "${SLURM_CLUSTER_CTLD_PID:-}" slurmctld
  _slurm_cluster_kill_pid "${SLURM_CLUSTER_MUNGED_PID:-}" munged
  unset SLURM_CLUSTER_SLURMD_PIDS SLURM_CLUSTER_NODE_MNTNS SLURM_CLUSTER_CTLD_PID SLURM_CLUSTER_MUNGED_PID
  if [ "${SLURM_CLUSTER_KEEP:-0}" = 1 ]; then
    _slurm_cluster_log "kept $d"
  elif [ "${SLURM_CLUSTER_OWN_DIR:-0}" = 1 ]; then
    rm -rf -- "$d"
  fi
  unset SLURM_CLUSTER_DIR SLURM_CLUSTER_OWN_DIR
}

# Wait until jobs end (any end state, or pending on a dependency that can never be met);
# bounded. Usage: slurm_wait_jobs SECONDS JOBID...
slurm_wait_jobs() {
  local limit="$1" waited=0 pending  # waited: in half seconds
  shift
  while (( waited < 2 * limit )); do
    pending=0
    local id st
    for id in "$@"; do
      # An array job shows one line per task; any task not finished keeps us waiting.
      # A job whose afterok dependency failed stays PENDING forever: that is an end too.
      while read -r st reason; do
        case "$st" in
          COMPLETED|FAILED|CANCELLED*|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) ;;
          PENDING) [ "$reason" = "Reason=DependencyNeverSatisfied" ] || pending=1 ;;
          *) pending=1 ;;
        esac
      done < <(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\) \(Reason=[A-Za-z_]*\).*/\1 \2/p')
    done
    (( pending )) || return 0
    sleep 0.5; waited=$(( waited + 1 ))
  done
  _slurm_cluster_log "jobs $* still running after ${limit}s"
  squeue -t all >&2 || true
  return 1
}

# The JobState of a job (for an array: one line per task, "taskid state").
slurm_job_state() {
  scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ $# -lt 1 ]; then
    sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
  fi
  trap slurm_cluster_stop EXIT
  trap 'exit 130' INT TERM
  slurm_cluster_start
  status=0
  "$@" || status=$?
  exit "$status"
fi
