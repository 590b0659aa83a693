#!/usr/bin/env bash
# The allreduce timing program between two ranks on two simulated nodes (--map-by node):
# it must see 2 nodes and get the right sum (it checks every element; exit 1 otherwise).
#   tests/multinode/allreduce.sh PATH/TO/allreduce_time
set -euo pipefail
prog="${1:?usage: allreduce.sh PATH/TO/allreduce_time}"
source "$(dirname "$0")/harness.sh"
mn_check || { echo "FAIL: two-node set-up unavailable" >&2; exit 1; }
rc=0
out="$(MN_TIMEOUT=100 mn_mpirun 2 --map-by node -- "$prog" 100003 5 2>&1)" || rc=$?
[ "$rc" = 0 ] || { echo "$out" >&2; echo "FAIL: allreduce_time exit $rc" >&2; exit 1; }
echo "$out"
grep -q "^ranks 2 on 2 node(s): 127.0.0.2 127.0.0.3$" <<<"$out" || { echo "FAIL: the 2 ranks were not on the 2 simulated nodes" >&2; exit 1; }
echo "allreduce.sh: ok"
