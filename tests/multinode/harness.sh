# shellcheck shell=bash
# Two simulated nodes for mpirun (source this file).
#   mn_check                      fail with the reason if namespaces cannot be made here
#   mn_mpirun NP [mpirun args...] -- COMMAND...
#       run COMMAND on NP ranks spread over nodes 127.0.0.2 and 127.0.0.3 (2 slots each
#       unless MN_SLOTS says otherwise), bounded by MN_TIMEOUT seconds (default 300).
# mpirun's daemons end with the job; a timeout kills the whole process group, so nothing
# outlives the test. Ranks of different nodes talk over TCP on loopback only.
# The two simulated nodes share this machine's cores, so 2 slots each oversubscribe them,
# which Open MPI cannot see: mpi_yield_when_idle makes a rank waiting in MPI yield its
# core (what Open MPI does by itself when it knows about the oversubscription). Without
# it a 4-rank demo run spends about 9 s of its 10 s in collectives (parallel HDF5 I/O,
# window set-up) whose ranks wait for a spinning rank on the same core to give way.
MN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MN_SLOTS="${MN_SLOTS:-2}"
MN_TIMEOUT="${MN_TIMEOUT:-300}"

mn_check() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  if ! unshare --uts sh -c 'hostname mn-probe && [ "$(hostname)" = mn-probe ]' 2>/dev/null; then
    echo "multinode: cannot create a UTS namespace here (unshare --uts needs root or CAP_SYS_ADMIN)" >&2
    return 1
  fi
  ip -4 addr show lo 2>/dev/null | grep -q "127.0.0.1/8" || { echo "multinode: loopback 127.0.0.0/8 not configured" >&2; return 1; }
}

mn_mpirun() {
  local np="$1"; shift
  local args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  timeout --kill-after=10 "$MN_TIMEOUT" "${MPIRUN:-mpirun}" \
    --mca plm_rsh_agent "$MN_DIR/rsh_agent.sh" \
    --host "127.0.0.2:$MN_SLOTS,127.0.0.3:$MN_SLOTS" \
    --mca btl tcp,self,vader --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
    --mca mpi_yield_when_idle 1 \
    --bind-to none -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
    -n "$np" "${args[@]}" "$@"
}
