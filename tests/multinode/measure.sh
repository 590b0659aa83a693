#!/usr/bin/env bash
# The measured inputs of issue 10's closing note and of tests/multinode/SCALING.md, on two
# simulated nodes (tests/multinode/harness.sh). Run by hand (minutes; never in ctest):
#
#   tests/multinode/measure.sh [BUILD_DIR]       (default BUILD_DIR: build)
#
#   1. wall time of the same 4-member `rmens run` (configs/demo.cfg) on 1 node x 2 ranks
#      and on 2 nodes x 2 ranks, REPS times each, alternating (the machine's 2 cores are
#      shared by all 4 ranks in the second case: this measures overhead, not speed-up);
#      the two runs' members are checked bitwise equal;
#   2. the gradient allreduce of one training step at the reference shapes (2,623,491
#      floats) between 2 ranks: on one node (shared memory), on one node over TCP
#      loopback, and on two nodes (--map-by node: what ranks_per_member = 2 across nodes
#      does every step);
#   3. the compute time of one training pair on one rank at the reference shapes
#      (build/tests/bench_train, 1 BLAS thread);
#   then the scaling model (tests/multinode/scaling_model.py) with those figures.
set -euo pipefail
SRCDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:-$SRCDIR/build}" && pwd)"
REPS="${REPS:-2}"
RMENS="$BUILD/rmens" AR="$BUILD/tests/allreduce_time" BENCH="$BUILD/tests/bench_train" PY=/usr/bin/python3
for f in "$RMENS" "$AR" "$BENCH"; do
  [ -x "$f" ] || { echo "measure: $f is not built (cmake --build $BUILD)" >&2; exit 1; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# shellcheck source=tests/multinode/harness.sh
source "$SRCDIR/tests/multinode/harness.sh"
mn_check
WORK="$(mktemp -d /var/tmp/rmens_measure.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
CFG="$SRCDIR/configs/demo.cfg"

elapsed() { # COMMAND...: run it (output to $WORK/last.log), print its wall seconds
  local t0 t1
  t0="$(date +%s.%N)"
  "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; echo "measure: failed: $*" >&2; exit 1; }
  t1="$(date +%s.%N)"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}

echo "== 1. the same 4-member run (configs/demo.cfg), 1 BLAS thread per rank"
"$RMENS" synth "$CFG" --set store="$WORK/store.h5" --force >/dev/null
SETS=(--set store="$WORK/store.h5" --set parallel.blas_threads=1)
one=() two=()
for rep in $(seq 1 "$REPS"); do
  one+=("$(elapsed timeout 600 mpirun -n 2 --bind-to none "$RMENS" run "$CFG" "${SETS[@]}" --set output="$WORK/one_$rep")")
  two+=("$(elapsed mn_mpirun 4 -- "$RMENS" run "$CFG" "${SETS[@]}" --set output="$WORK/two_$rep")")
  echo "  repetition $rep: 1 node x 2 ranks ${one[-1]} s, 2 nodes x 2 ranks ${two[-1]} s"
done
grep "shared window" "$WORK/last.log" | sed 's/^/  /'
"$PY" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/one_1/members.h5" "$WORK/two_1/members.h5" | sed 's/^/  /'

echo "== 2. gradient allreduce, 2 ranks, 2,623,491 floats"
ar() { "$@" | tee "$WORK/ar.log" | sed 's/^/  /' >&2; "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["median_s"])' <"$WORK/ar.log"; }
ar_shm="$(ar timeout 300 mpirun -n 2 --bind-to none "$AR")"
ar_tcp1="$(ar timeout 300 mpirun -n 2 --bind-to none --mca btl tcp,self --mca btl_tcp_if_include lo "$AR")"
ar_net="$(ar mn_mpirun 2 --map-by node -- "$AR")"
echo "  median: one node shared memory ${ar_shm} s, one node TCP ${ar_tcp1} s, two nodes TCP ${ar_net} s"

echo "== 3. training compute per pair, reference shapes, 1 rank x 1 BLAS thread"
"$BENCH" >"$WORK/bench.log" 2>&1 || { cat "$WORK/bench.log" >&2; exit 1; }
grep -E "^(BLAS threads|sgemm limit|training, distinct pairs/s|training, GFLOP/s)" "$WORK/bench.log" | sed 's/^/  /'
rate="$(sed -n 's/^training, distinct pairs\/s *\([0-9.]*\)$/\1/p' "$WORK/bench.log")"
[ -n "$rate" ] || { echo "measure: no pairs/s in the bench_train output" >&2; exit 1; }
pair_s="$(awk -v r="$rate" 'BEGIN { printf "%.9f", 1 / r }')"
echo "  $rate pairs/s: $pair_s s per pair"

echo "== scaling model (tests/multinode/scaling_model.py)"
"$PY" "$SRCDIR/tests/multinode/scaling_model.py" --pair-seconds "$pair_s" --allreduce-seconds "$ar_net" \
  --allreduce-node-seconds "$ar_shm"
echo "{\"run_1x2_s\": [$(IFS=,; echo "${one[*]}")], \"run_2x2_s\": [$(IFS=,; echo "${two[*]}")], \"allreduce_shm_s\": $ar_shm, \"allreduce_tcp_one_node_s\": $ar_tcp1, \"allreduce_two_nodes_s\": $ar_net, \"pair_s\": $pair_s}"
