#!/usr/bin/env bash
# parallel.ranks_per_member = 2: each member trained by two ranks with summed gradients.
# Deterministic run to run, and the same members as one rank within float tolerance.
source "$(dirname "$0")/common.sh"
make_store
train() { # NP S NAME
  run_mpi "$1" train "$CFG" "${COMMON_SETS[@]}" --set parallel.ranks_per_member="$2" --set output="$WORK/run" --force \
    >"$WORK/$3.log" 2>&1 || { cat "$WORK/$3.log"; fail "train $3"; }
  mv "$WORK/run/members.h5" "$WORK/$3.h5"
}
train 1 1 serial
train 2 2 p2s2_a
train 2 2 p2s2_b
train 4 2 p4s2_a
train 4 2 p4s2_b
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/p2s2_a.h5" "$WORK/p2s2_b.h5"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/p4s2_a.h5" "$WORK/p4s2_b.h5"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" --tolerance 1e-3 "$WORK/serial.h5" "$WORK/p2s2_a.h5" "$WORK/p4s2_a.h5"
echo "data_parallel: ok"
