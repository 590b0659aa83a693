#!/usr/bin/env bash
# Progress lines and --quiet (issue 30). synth, import and eval print, from rank 0, progress
# lines "[rank 0] VERB: done/total responses (p%), rate responses/s, elapsed, ETA" between
# their start and their summary; the period (10 s) comes from RMENS_PROGRESS_SECONDS: 0
# (a line at every step) makes the lines of these small jobs certain, 1000 shows that they
# are throttled by time, not printed per piece. -q/--quiet prints no progress line and no
# information, but the summary, warnings and errors; its output files are the same (stores
# byte for byte; results and members by tests/bitwise/hash_outputs.py, which leaves out
# wall times); log.jsonl is written all the same.
source "$SRCDIR/tests/ensemble/common.sh"

LINE='^\[rank 0\] (synth|import|eval|inspect): (this rank.s )?[0-9]+/[0-9]+ (responses|values) \([0-9]+%\), [0-9.e+]+ (responses|values)/s, [0-9hms]+ elapsed, ETA [0-9hms?]+$'
# progress_lines VERB LOG: how many well-formed progress lines of VERB the log holds
progress_lines() { grep -Ec "${LINE/(synth|import|eval|inspect)/$1}" "$2" || true; }
# no_progress LOG: no progress line of any verb, nor other "[rank N]" information
no_progress() { ! grep -Eq '^\[rank [0-9]+\]|ETA' "$1"; }
expect_lines() { # expect_lines VERB LOG WHAT
  [ "$(progress_lines "$1" "$2")" -ge 1 ] || { cat "$2"; fail "$3: no progress line"; }
  ! grep -E "^\[rank 0\] $1: " "$2" | grep -Evq "$LINE" || { cat "$2"; fail "$3: a malformed progress line"; }
}

# ---- synth ----
export RMENS_PROGRESS_SECONDS=0
"$RMENS" synth "$CFG" "${COMMON_SETS[@]}" >"$WORK/synth.log" 2>&1 || { cat "$WORK/synth.log"; fail "synth"; }
expect_lines synth "$WORK/synth.log" "synth"
grep -q "^rmens synth: wrote $STORE: " "$WORK/synth.log" || fail "synth: no summary"
[ "$(tail -n 1 "$WORK/synth.log" | cut -c1-12)" = "rmens synth:" ] || fail "synth: the summary is not the last line"
run_mpi 2 synth "$CFG" "${COMMON_SETS[@]}" --set store="$WORK/two.h5" >"$WORK/synth2.log" 2>&1 \
  || { cat "$WORK/synth2.log"; fail "2-rank synth"; }
expect_lines synth "$WORK/synth2.log" "2-rank synth"
grep -q "^\[rank 0\] synth: this rank's " "$WORK/synth2.log" || fail "2-rank synth: lines do not say they count rank 0's share"
! grep -q "^\[rank 1\] synth" "$WORK/synth2.log" || fail "rank 1 prints progress"

RMENS_PROGRESS_SECONDS=1000 "$RMENS" synth "$CFG" "${COMMON_SETS[@]}" --set store="$WORK/slow.h5" >"$WORK/slow.log" 2>&1 \
  || fail "synth, period 1000 s"
[ "$(progress_lines synth "$WORK/slow.log")" = 0 ] || { cat "$WORK/slow.log"; fail "synth prints per step, not per period"; }

"$RMENS" synth "$CFG" "${COMMON_SETS[@]}" --set store="$WORK/quiet.h5" -q >"$WORK/quiet.log" 2>"$WORK/quiet.err" || fail "synth -q"
no_progress "$WORK/quiet.log" || { cat "$WORK/quiet.log"; fail "synth -q prints progress"; }
[ "$(wc -l <"$WORK/quiet.log")" = 1 ] && grep -q "^rmens synth: wrote $WORK/quiet.h5: " "$WORK/quiet.log" \
  || { cat "$WORK/quiet.log"; fail "synth -q: not the summary alone"; }
cmp "$STORE" "$WORK/quiet.h5" || fail "synth -q wrote another store"
# an error, --quiet or not
if "$RMENS" synth "$CFG" "${COMMON_SETS[@]}" --quiet >"$WORK/exists.log" 2>&1; then fail "synth -q overwrote a store"; fi
grep -q "^rmens synth: error: .*output exists (use --force" "$WORK/exists.log" || { cat "$WORK/exists.log"; fail "synth -q: no error line"; }

# ---- import: the store's own data back from .npy (pieces of 1 MiB: several per split) ----
"$PYTHON" - "$WORK" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(7)
w = sys.argv[1]
for split, n, k in (("train", 1200, 8), ("test", 200, 8)):
    e = rng.standard_normal((n, k, 96), dtype=np.float32)
    np.save(f"{w}/embd_g_e_t_{split}.npy", e)
    np.save(f"{w}/reward_g_e_t_{split}.npy", rng.standard_normal((n, k), dtype=np.float32))
    np.save(f"{w}/half_{split}.npy", e[:50].astype(np.float16))
    np.save(f"{w}/half_reward_{split}.npy", rng.standard_normal((50, k), dtype=np.float32))
PY
IMPORT=(import --train-embeddings "$WORK/embd_g_e_t_train.npy" --train-rewards "$WORK/reward_g_e_t_train.npy"
        --test-embeddings "$WORK/embd_g_e_t_test.npy" --test-rewards "$WORK/reward_g_e_t_test.npy" --chunk-mb 1)
"$RMENS" "${IMPORT[@]}" --output "$WORK/imported.h5" >"$WORK/import.log" 2>&1 || { cat "$WORK/import.log"; fail "import"; }
expect_lines import "$WORK/import.log" "import"
grep -q "^rmens import: wrote $WORK/imported.h5 " "$WORK/import.log" || fail "import: no summary"
RMENS_PROGRESS_SECONDS=1000 "$RMENS" "${IMPORT[@]}" --output "$WORK/imported_slow.h5" >"$WORK/import_slow.log" 2>&1 \
  || fail "import, period 1000 s"
[ "$(progress_lines import "$WORK/import_slow.log")" = 0 ] || fail "import prints per piece, not per period"
run_mpi 2 "${IMPORT[@]}" --output "$WORK/imported_quiet.h5" -q >"$WORK/import_quiet.log" 2>"$WORK/import_quiet.err" \
  || { cat "$WORK/import_quiet.err"; fail "2-rank import -q"; }
no_progress "$WORK/import_quiet.log" || { cat "$WORK/import_quiet.log"; fail "import -q prints progress"; }
[ "$(wc -l <"$WORK/import_quiet.log")" = 1 ] || { cat "$WORK/import_quiet.log"; fail "import -q: not the summary alone"; }
"$RMENS" "${IMPORT[@]}" --output "$WORK/imported_quiet1.h5" --quiet >/dev/null || fail "import --quiet"
cmp "$WORK/imported.h5" "$WORK/imported_quiet1.h5" || fail "import -q wrote another store"
# --quiet keeps the summary, which says the stored precision: float16 inputs stay half
"$RMENS" import --train-embeddings "$WORK/half_train.npy" --train-rewards "$WORK/half_reward_train.npy" \
  --test-embeddings "$WORK/half_test.npy" --test-rewards "$WORK/half_reward_test.npy" --output "$WORK/half.h5" -q \
  >"$WORK/half.log" 2>&1 || { cat "$WORK/half.log"; fail "float16 import -q"; }
[ "$(wc -l <"$WORK/half.log")" = 1 ] && grep -q "(float16 embeddings, as the inputs; --float32 widens them)" "$WORK/half.log" \
  || { cat "$WORK/half.log"; fail "import -q: not the summary alone, naming the precision kept"; }

# ---- train and eval: normal runs, then quiet ones into the same <output> (paths are recorded) ----
unset RMENS_PROGRESS_SECONDS
RUN=(--set output="$WORK/run")
mkdir -p "$WORK/compare/normal" "$WORK/compare/quiet"
"$RMENS" train "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "train"; }
log_lines=$(wc -l <"$WORK/run/log.jsonl")
export RMENS_PROGRESS_SECONDS=0
"$RMENS" eval "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" >"$WORK/eval.log" 2>&1 || { cat "$WORK/eval.log"; fail "eval"; }
expect_lines eval "$WORK/eval.log" "eval"
[ "$(tail -n 1 "$WORK/eval.log")" = "wrote $WORK/run/results.h5 and $WORK/run/results.json" ] || fail "eval: no summary last"
cp "$WORK/run/members.h5" "$WORK/run/results.h5" "$WORK/run/results.json" "$WORK/compare/normal/"
RMENS_PROGRESS_SECONDS=1000 "$RMENS" eval "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" --force >"$WORK/eval_slow.log" 2>&1 \
  || fail "eval, period 1000 s"
[ "$(progress_lines eval "$WORK/eval_slow.log")" = 0 ] || fail "eval prints per block, not per period"

"$RMENS" train "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" --force -q >"$WORK/train_quiet.log" 2>"$WORK/train_quiet.err" \
  || { cat "$WORK/train_quiet.log" "$WORK/train_quiet.err"; fail "train -q"; }
no_progress "$WORK/train_quiet.log" || { cat "$WORK/train_quiet.log"; fail "train -q prints progress or information"; }
[ "$(cat "$WORK/train_quiet.log")" = "wrote $WORK/run/members.h5" ] || { cat "$WORK/train_quiet.log"; fail "train -q: not the summary alone"; }
[ "$(wc -l <"$WORK/run/log.jsonl")" = "$log_lines" ] || fail "train -q: log.jsonl has other lines"
run_mpi 2 eval "$CFG" "${COMMON_SETS[@]}" "${RUN[@]}" --force -q >"$WORK/eval_quiet.log" 2>"$WORK/eval_quiet.err" \
  || { cat "$WORK/eval_quiet.log" "$WORK/eval_quiet.err"; fail "eval -q"; }
[ "$(cat "$WORK/eval_quiet.log")" = "wrote $WORK/run/results.h5 and $WORK/run/results.json" ] \
  || { cat "$WORK/eval_quiet.log"; fail "eval -q: not the summary alone"; }
# warnings, --quiet or not: demo.cfg's best-of-n beyond the test split's 12 responses
grep -q "^rmens: warning: eval.bon_n: n = 16 skipped" "$WORK/eval_quiet.err" || { cat "$WORK/eval_quiet.err"; fail "eval -q: no warning"; }
no_progress "$WORK/eval_quiet.err" || fail "eval -q: progress on stderr"
cp "$WORK/run/members.h5" "$WORK/run/results.h5" "$WORK/run/results.json" "$WORK/compare/quiet/"

# the quiet runs' members and results are the normal runs' (wall times and rank counts left out)
"$PYTHON" "$SRCDIR/tests/bitwise/hash_outputs.py" "$WORK/compare" >"$WORK/hashes.txt" || fail "hash_outputs.py"
diff <(grep '^normal/' "$WORK/hashes.txt" | sed 's|^normal/||') <(grep '^quiet/' "$WORK/hashes.txt" | sed 's|^quiet/||') \
  || fail "the quiet runs' outputs differ from the normal runs'"
[ "$(grep -c . "$WORK/hashes.txt")" = 6 ] || { cat "$WORK/hashes.txt"; fail "not every output hashed"; }

# inspect: the statistics and --verify scans on 1 and 2 ranks count the values they read
"$RMENS" inspect "$STORE" >"$WORK/inspect.log" 2>&1 || { cat "$WORK/inspect.log"; fail "inspect"; }
expect_lines inspect "$WORK/inspect.log" "inspect"
run_mpi 2 inspect "$STORE" --verify >"$WORK/verify.log" 2>&1 || { cat "$WORK/verify.log"; fail "inspect --verify, 2 ranks"; }
expect_lines inspect "$WORK/verify.log" "inspect --verify"
grep -q "^\[rank 0\] inspect: this rank's " "$WORK/verify.log" || fail "inspect --verify on 2 ranks: not rank 0's share"
# inspect --quiet: the status line alone
[ "$("$RMENS" inspect "$STORE" -q)" = "status          ok" ] || fail "inspect -q: not the status line alone"
# --help of every verb lists -q, --quiet
for verb in synth import inspect train eval run select active; do
  "$RMENS" "$verb" --help >"$WORK/help.txt" || fail "rmens $verb --help"
  grep -q '^  -q, --quiet ' "$WORK/help.txt" || fail "rmens $verb --help does not list -q, --quiet"
done
echo "progress_quiet: ok"
