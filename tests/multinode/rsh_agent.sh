#!/bin/sh
# Open MPI rsh agent for two simulated nodes on one machine (tests/multinode).
# mpirun calls it as: rsh_agent.sh [ssh-style options] HOST COMMAND...
# It runs COMMAND here, inside a new UTS namespace whose hostname is HOST, so Open MPI's
# daemon on "HOST" reports a distinct node name: MPI_Comm_split_type(SHARED) then gives
# one communicator per simulated node, and ranks on different nodes talk over TCP on
# loopback. Only 127.0.0.x addresses are used.
while [ $# -gt 0 ]; do
  case "$1" in
    -*) shift ;;
    *) break ;;
  esac
done
host="$1"
shift
exec unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$host" "$*"
