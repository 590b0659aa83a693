#!/usr/bin/env bash
# Progress (issue 30): <output>/log.jsonl, a JSON object per line, against members.h5's
# histories for 1 and 2 ranks (members dealt over the ranks, each appending its own
# lines), tree members (logged every round though printed every 10), a shared trunk (a
# line per head) and a resumed run (appended); an active run's rounds against
# active.json. And the progress lines: the whole rank's ETA, and no "nan..nan" criterion
# for round 0.
source "$SRCDIR/tests/active/common.sh"
make_store
check() { "$PYTHON" "$SRCDIR/tests/reliability/check_log.py" "$@" || fail "log.jsonl of $1"; }

"$RMENS" train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/one" >"$WORK/one.log" 2>&1 || { cat "$WORK/one.log"; fail "1-rank train"; }
check "$WORK/one"
grep -q "member 0 (1/4) epoch 1/3 .* ETA [0-9hms?]* for this rank's 4 members left" "$WORK/one.log" \
  || { cat "$WORK/one.log"; fail "no whole-rank ETA in the progress lines"; }
grep -q "member 3 (4/4) epoch 3/3 .* ETA 0s for this rank's 0 members left" "$WORK/one.log" || fail "no final ETA line"

run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/two" >"$WORK/two.log" 2>&1 || { cat "$WORK/two.log"; fail "2-rank train"; }
check "$WORK/two"
grep -q "\[rank 1\] member 1 (1/2) epoch 1/3 .* for this rank's 2 members left" "$WORK/two.log" || fail "rank 1's ETA"
# a fresh run (--force) starts a new log; a finished one's --resume leaves it as it is
run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/two" --force >"$WORK/two.log" 2>&1 || fail "2-rank train --force"
check "$WORK/two"

"$RMENS" train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/trees" --set 'ensemble.families=["mlp","gbdt"]' \
  --set gbdt.rounds=23 >"$WORK/trees.log" 2>&1 || { cat "$WORK/trees.log"; fail "tree members"; }
check "$WORK/trees"

run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/trunk" --set ensemble.kind='"shared_trunk"' \
  --set parallel.ranks_per_member=2 >"$WORK/trunk.log" 2>&1 || { cat "$WORK/trunk.log"; fail "shared trunk"; }
check "$WORK/trunk"

run_mpi 2 active "$CFG" "${ACTIVE_SETS[@]}" --set output="$WORK/active" >"$WORK/active.log" 2>&1 || { cat "$WORK/active.log"; fail "active"; }
check "$WORK/active" --active
! grep -q "nan\.\.nan" "$WORK/active.log" || fail "round 0 prints a NaN criterion"
grep -q "round 0/2: 200 labels, the initial set (random);.* ETA [0-9]*s for the 2 rounds left" "$WORK/active.log" \
  || { cat "$WORK/active.log"; fail "round 0's line"; }
echo "progress_log: ok"
