#!/usr/bin/env bash
# rmens active rejects bad settings with one line naming the key, before any work: exit
# status 1, nothing written (not even the output directory). active.rounds = 0 is valid.
source "$(dirname "$0")/common.sh"
make_store
expect_error() { # KEYWORD SET...
  local key="$1"; shift
  local out="$WORK/bad"
  set +e
  timeout 60 "$RMENS" active "$CFG" "${ACTIVE_SETS[@]}" --set output="$out" "$@" >"$WORK/bad.out" 2>"$WORK/bad.err"
  local status=$?
  set -e
  [ "$status" = 1 ] || { cat "$WORK/bad.out" "$WORK/bad.err"; fail "$*: exit $status, expected 1"; }
  local lines; lines=$(grep -c "rmens active: error" "$WORK/bad.err" || true)
  [ "$lines" = 1 ] || { cat "$WORK/bad.err"; fail "$*: expected one error line"; }
  grep -q "$key" "$WORK/bad.err" || { cat "$WORK/bad.err"; fail "$*: the error does not name $key"; }
  [ ! -e "$out" ] || fail "$*: $out was created"
  echo "ok: $* -> $(grep 'rmens active: error' "$WORK/bad.err")"
}
expect_error active.strategy --set active.strategy=uncertainty
expect_error active.batch --set active.batch=0
expect_error active.batch --set active.batch=1900
expect_error active.rounds --set active.rounds=-1
expect_error active.pool --set active.rounds=30
expect_error active.pool --set active.pool=2000000 --set active.initial=100
expect_error active.pool --set pairs.mode=within_prompt --set active.pool=5000
expect_error active.initial --set active.initial=3000
expect_error active.dopt_ridge --set active.dopt_ridge=0
expect_error train.batch_size --set active.initial=20
expect_error ensemble.shared_init --set eval.warm=true
run_mpi 1 active "$CFG" "${ACTIVE_SETS[@]}" --set output="$WORK/zero" --set active.rounds=0 >"$WORK/zero.log" 2>&1 \
  || { cat "$WORK/zero.log"; fail "active.rounds = 0"; }
[ -f "$WORK/zero/active.h5" ] || fail "active.rounds = 0 wrote no active.h5"
# an existing result is not overwritten without --force
set +e; run_mpi 1 active "$CFG" "${ACTIVE_SETS[@]}" --set output="$WORK/zero" --set active.rounds=0 >/dev/null 2>"$WORK/again.err"; s=$?; set -e
[ "$s" = 1 ] && grep -q "already exists" "$WORK/again.err" || fail "rerun without --force: exit $s"
"$RMENS" active --help >"$WORK/help.txt"
grep -q "past_dopt" "$WORK/help.txt" && grep -q "active.dopt_ridge" "$WORK/help.txt" || fail "active --help"
echo "active bad_inputs: ok"
