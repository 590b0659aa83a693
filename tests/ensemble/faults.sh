#!/usr/bin/env bash
# Bad layouts and failing ranks end the whole job with one clear message and leave no
# members file behind.
source "$(dirname "$0")/common.sh"
make_store
expect_failure() { # NAME FRAGMENT NP args...
  local name="$1" fragment="$2" np="$3"; shift 3
  local start=$SECONDS rc=0
  run_mpi "$np" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || { cat "$WORK/$name.log"; fail "$name: exit code 0"; }
  [ "$rc" -ne 124 ] || fail "$name: hung (killed by timeout)"
  grep -qF -- "$fragment" "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: message '$fragment' missing"; }
  [ ! -e "$WORK/run/members.h5" ] || fail "$name: members.h5 left behind"
  if ls -a "$WORK/run" 2>/dev/null | grep -q "tmp"; then fail "$name: temporary file left behind"; fi
  echo "$name: exit $rc after $((SECONDS - start))s: $(grep -F -- "$fragment" "$WORK/$name.log" | head -1)"
}
expect_failure not_divisible "parallel.ranks_per_member = 2 does not divide the 3 ranks" 3 \
  train "$CFG" "${COMMON_SETS[@]}" --set parallel.ranks_per_member=2 --set output="$WORK/run"
expect_failure missing_store "/nonexistent/store.h5" 2 \
  train "$CFG" "${COMMON_SETS[@]}" --set store=/nonexistent/store.h5 --set output="$WORK/run"
# Local ranks inherit mpirun's environment, which carries the fault-injection hook.
export RMENS_TEST_FAIL=1:1
expect_failure failing_rank "[rank 1] injected failure" 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/run"
export RMENS_TEST_FAIL=1:3  # after rank 0 finished member 0 and rank 1 member 1
expect_failure failing_rank_late "[rank 1] injected failure" 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/run"
unset RMENS_TEST_FAIL
# More groups than members: a warning that says how many ranks idle, and a good result.
run_mpi 3 train "$CFG" "${COMMON_SETS[@]}" --set ensemble.members=2 --set output="$WORK/run" >"$WORK/idle.log" 2>&1 \
  || { cat "$WORK/idle.log"; fail "idle ranks run failed"; }
grep -qF "1 group(s) (1 ranks) will stay idle" "$WORK/idle.log" || { cat "$WORK/idle.log"; fail "no idle warning"; }
[ -f "$WORK/run/members.h5" ] || fail "idle run wrote no members.h5"
# An existing members.h5 is not overwritten without --force.
expect_existing() {
  local rc=0
  run_mpi 2 train "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/run" >"$WORK/exists.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] && grep -qF "already exists (use --force" "$WORK/exists.log" || { cat "$WORK/exists.log"; fail "overwrote without --force"; }
}
expect_existing
echo "faults: ok"
