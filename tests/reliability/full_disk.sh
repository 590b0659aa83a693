#!/usr/bin/env bash
# Full disks (issue 18): every verb's outputs on a small tmpfs (a private mount namespace,
# as tests/multinode does with UTS namespaces), sized or prefilled so that a write runs out
# of space at a chosen stage. Each fault must end with exit status non-zero (not a
# timeout: no hang), exactly one "error:" line naming the file and "No space left on
# device", no crash, no temporary file left, and the previous outputs bitwise as they
# were; with the space back (remount, larger) the same command then succeeds. For
# checkpoint.h5: a --resume whose periodic checkpoint fails keeps the previous checkpoint,
# and the next --resume continues from it to members bitwise equal to an uninterrupted run.
# Needs root (CI runs as root): re-executes itself under `unshare -m`.
# After the store (which the others read), the import, train, checkpoint, eval and active
# sections run at the same time, each on its own tmpfs and in its own files: most of a
# section is process start-up and MPI's launch, which one after the other left the cores
# idle. Nothing here is timed against a run: the checkpoint section waits for an epoch line
# (up to 5 minutes), not a time, so the test needs no RUN_SERIAL (tests/CMakeLists.txt).
if [ -z "${FULL_DISK_INNER:-}" ]; then
  unshare -m --propagation private true 2>/dev/null \
    || { echo "full_disk: cannot create a mount namespace here (needs root or CAP_SYS_ADMIN)" >&2; exit 1; }
  FULL_DISK_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi
source "$(dirname "$0")/../ensemble/common.sh"
ENOSPC="No space left on device"
# the scratch directory's mounts go before it does (they vanish with the namespace anyway)
trap 'for m in "$WORK"/*/; do umount -l "$m" 2>/dev/null || true; done; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
MPI2=("$MPIRUN" --oversubscribe --bind-to none -n 2 "$RMENS")
faults=0

# disk NAME KIB: a fresh tmpfs of KIB KiB at $WORK/NAME (echoes the path)
disk() { mkdir -p "$WORK/$1" && mount -t tmpfs -o "size=${2}k" tmpfs "$WORK/$1" && echo "$WORK/$1"; }
# grow DIR: give the disk room again
grow() { mount -o remount,size=64m "$1"; }
# fill DIR KIB: leave about KIB KiB free on DIR's disk (a filler file)
fill() {
  local free; free=$(df -k --output=avail "$1" | tail -1)
  (( free > $2 )) && fallocate -l "$(( (free - $2) * 1024 ))" "$1/filler"
  return 0
}
# (log.jsonl is a log, not an output: a --force run starts it anew, a --resume appends)
snapshot() { (cd "$1" && find . -type f ! -name filler ! -name rmens.lock ! -name log.jsonl -exec md5sum {} + | sort) >"$2"; }
# expect_enospc NAME DIR FILE COMMAND...: the command fails on a full disk as it must.
expect_enospc() {
  local name="$1" dir="$2" file="$3"; shift 3
  snapshot "$dir" "$WORK/$name.before"
  local status=0
  timeout 120 "$@" >"$WORK/$name.log" 2>&1 || status=$?
  (( status != 0 )) || { cat "$WORK/$name.log"; fail "$name: succeeded on a full disk"; }
  (( status != 124 && status != 137 )) || { cat "$WORK/$name.log"; fail "$name: hung (killed by timeout)"; }
  ! grep -q "Segmentation\|Signal: " "$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name: crashed"; }
  local errors; errors=$(grep "error:" "$WORK/$name.log" || true)
  [ "$(grep -c . <<<"$errors")" -eq 1 ] || { cat "$WORK/$name.log"; fail "$name: not exactly one error line"; }
  grep -q "$file" <<<"$errors" && grep -q "$ENOSPC" <<<"$errors" \
    || { cat "$WORK/$name.log"; fail "$name: the error does not name $file and '$ENOSPC'"; }
  local left; left=$(ls -a "$dir" | grep -E '\.tmp|partial|writing' || true)
  [ -z "$left" ] || fail "$name: temporary files left: $left"
  snapshot "$dir" "$WORK/$name.after"
  # the earlier outputs bitwise as they were (new complete files, e.g. active's state of
  # a round finished before the disk filled up, may have appeared)
  local changed; changed=$(grep -vxFf "$WORK/$name.after" "$WORK/$name.before" || true)
  [ -z "$changed" ] || fail "$name: previous files changed or gone: $changed"
  faults=$((faults + 1))
  echo "$name: $errors"
}

SETS=("${COMMON_SETS[@]}" --set parallel.blas_threads=1)

# ---- synth and import: the store (its size checked up front, and the write itself) ----
d=$(disk store 64)
expect_enospc synth_small "$d" store.h5 "$RMENS" synth "$CFG" "${SETS[@]}" --set store="$d/store.h5"
umount "$d"
# past the size check (the data fits) but not with its metadata: the space reserve
d=$(disk store 236)
expect_enospc synth_reserve "$d" store.h5 "${MPI2[@]}" synth "$CFG" "${SETS[@]}" --set store="$d/store.h5"
grow "$d"
run_mpi 2 synth "$CFG" "${SETS[@]}" --set store="$d/store.h5" >/dev/null || fail "synth with space"
cp "$d/store.h5" "$STORE"
"$PYTHON" - "$STORE" "$WORK" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    for split in ("train", "test"):
        np.save(f"{sys.argv[2]}/embd_{split}.npy", f[f"{split}/embeddings"][...])
        np.save(f"{sys.argv[2]}/reward_{split}.npy", f[f"{split}/rewards"][...])
PY
IMPORT=(import --train-embeddings "$WORK/embd_train.npy" --train-rewards "$WORK/reward_train.npy"
        --test-embeddings "$WORK/embd_test.npy" --test-rewards "$WORK/reward_test.npy")
# the uninterrupted 2-rank members that the train and eval sections compare with / evaluate
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$WORK/reference" >/dev/null || fail "reference train"

section_import() {
d=$(disk imported 64)
expect_enospc import_small "$d" imported.h5 "$RMENS" "${IMPORT[@]}" --output "$d/imported.h5"
umount "$d"
d=$(disk imported 236)
expect_enospc import_reserve "$d" imported.h5 "${MPI2[@]}" "${IMPORT[@]}" --output "$d/imported.h5"
grow "$d"
"$RMENS" "${IMPORT[@]}" --output "$d/imported.h5" >/dev/null || fail "import with space"
}

# ---- train: members.h5, at several stages of its write; an older one stays ----
section_train() {
d=$(disk train 4096)
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$d" --set seed=7 >/dev/null || fail "first train"
for free in 8 24 40; do   # KiB left: fails in a member's weights, a later member, the space reserve at close
  fill "$d" "$free"
  expect_enospc "members_${free}k" "$d" members.h5 "${MPI2[@]}" train "$CFG" "${SETS[@]}" --set output="$d" --force
  rm -f "$d/filler"
done
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$d" --force >/dev/null || fail "train with space"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/reference/members.h5" "$d/members.h5" >/dev/null
}

# ---- checkpoint.h5: a failed periodic checkpoint keeps the previous one ----
section_checkpoint() {
LONG=("${SETS[@]}" --set model.hidden=[64,32] --set train.epochs=100 --set train.patience=0 --set pairs.count=8000)
run_mpi 2 train "$CFG" "${LONG[@]}" --set output="$WORK/long_reference" >/dev/null || fail "long reference"
d=$(disk ckpt 4096)
"$MPIRUN" --oversubscribe --bind-to none -n 2 "$RMENS" train "$CFG" "${LONG[@]}" --set output="$d" >"$WORK/ckpt1.log" 2>&1 &
pid=$!
# SIGTERM once epoch 5 of 100 is logged, however long that takes up to 5 minutes (the other
# sections, and other tests, share the cores): the stop is then mid-run, past a step boundary
for _ in $(seq 6000); do grep -qs "epoch 5/" "$WORK/ckpt1.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -TERM $(pgrep -f "^$RMENS train $CFG .*output=$d\$") 2>/dev/null || true
status=0; wait "$pid" || status=$?
[ "$status" -eq 75 ] && [ -f "$d/checkpoint.h5" ] || { cat "$WORK/ckpt1.log"; fail "no checkpoint after SIGTERM (status $status)"; }
fill "$d" 8
expect_enospc checkpoint "$d" checkpoint.h5 "${MPI2[@]}" train "$CFG" "${LONG[@]}" --set output="$d" --resume \
  --set train.checkpoint_minutes=0.002
rm -f "$d/filler"
run_mpi 2 train "$CFG" "${LONG[@]}" --set output="$d" --resume >"$WORK/ckpt3.log" 2>&1 || { cat "$WORK/ckpt3.log"; fail "resume after the failed checkpoint"; }
grep -q "resuming from" "$WORK/ckpt3.log" || fail "the resume did not use the previous checkpoint"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/long_reference/members.h5" "$d/members.h5" >/dev/null
echo "checkpoint: resumed from the previous checkpoint, members bitwise equal"
}

# ---- eval: results.h5 then results.json; older results stay ----
section_eval() {
d=$(disk eval 4096)
cp "$WORK/reference/members.h5" "$d/"
run_mpi 2 eval "$CFG" "${SETS[@]}" --set output="$d" >/dev/null || fail "first eval"
h5=$(du -k "$d/results.h5" | cut -f1)
for case in "8 results.h5" "$((h5 + 8)) results.json"; do
  set -- $case
  fill "$d" "$1"
  expect_enospc "eval_$2" "$d" "$2" "${MPI2[@]}" eval "$CFG" "${SETS[@]}" --set output="$d" --force
  rm -f "$d/filler"
done
run_mpi 2 eval "$CFG" "${SETS[@]}" --set output="$d" --force >/dev/null || fail "eval with space"
# eval.save_predictions: /predictions is written piece by piece as the test split is
# scored (collectively, into the temporary results file), the figures after it
PRED=(--set eval.save_predictions=true)
run_mpi 2 eval "$CFG" "${SETS[@]}" "${PRED[@]}" --set output="$d" --force >/dev/null || fail "eval with predictions"
h5=$(du -k "$d/results.h5" | cut -f1)
for case in "4 results.h5 predictions" "16 results.h5 figures" "$((h5 + 8)) results.json json"; do
  set -- $case
  fill "$d" "$1"
  expect_enospc "eval_predictions_$3" "$d" "$2" "${MPI2[@]}" eval "$CFG" "${SETS[@]}" "${PRED[@]}" --set output="$d" --force
  rm -f "$d/filler"
done
grep -q "cannot write /predictions" "$WORK/eval_predictions_predictions.log" \
  || { cat "$WORK/eval_predictions_predictions.log"; fail "eval_predictions_predictions: not the /predictions write"; }
run_mpi 2 eval "$CFG" "${SETS[@]}" "${PRED[@]}" --set output="$d" --force >/dev/null || fail "eval with predictions, with space"
}

section_active() {
# ---- active: a round's members, its state file (the peak of its disk use: the final
# active.h5/json need less, so a static fill of a whole run cannot reach them: the final
# active.h5 is reached through a resume below) ----
ASETS=("${SETS[@]}" --set ensemble.members=3 --set train.batch_size=32 --set active.pool=2000
       --set active.initial=200 --set active.batch=100 --set active.rounds=2)
d=$(disk active 4096)
run_mpi 2 active "$CFG" "${ASETS[@]}" --set output="$d/first" >/dev/null || fail "first active"
for free in 8 64 160; do
  fill "$d" "$free"
  mkdir -p "$d/run_$free"
  expect_enospc "active_${free}k" "$d/run_$free" "active" "${MPI2[@]}" active "$CFG" "${ASETS[@]}" --set output="$d/run_$free"
  rm -f "$d/filler"
  run_mpi 2 active "$CFG" "${ASETS[@]}" --set output="$d/run_$free" --resume >/dev/null || fail "active resume with space"
  "$PYTHON" "$SRCDIR/tests/active/compare_active.py" "$d/first/active.h5" "$d/run_$free/active.h5" >/dev/null
done
# The final active.h5, which a static fill cannot reach in a whole run: a run whose last
# rename is blocked (a directory where active.h5 goes) keeps the last round's state; its
# --resume then only writes the outputs, on a full disk (mid-write, then the reserve).
out="$d/final"
mkdir -p "$out/active.h5"
if run_mpi 2 active "$CFG" "${ASETS[@]}" --set output="$out" --force >"$WORK/final_blocked.log" 2>&1; then
  fail "active wrote through a directory in the place of active.h5"
fi
grep -q "active.h5: Is a directory" "$WORK/final_blocked.log" && [ -f "$out/active_state.h5" ] \
  || { cat "$WORK/final_blocked.log"; fail "the blocked run did not keep its last state"; }
rmdir "$out/active.h5"
a=$(du -k "$d/first/active.h5" | cut -f1)
for free in 8 $((a + 8)); do
  fill "$d" "$free"
  expect_enospc "active_final_${free}k" "$out" active.h5 "${MPI2[@]}" active "$CFG" "${ASETS[@]}" --set output="$out" --resume
  rm -f "$d/filler"
done
# the groups active.h5 shares with results.h5 name the file they are in
! grep -q "results.h5" "$WORK/active_final_8k.log" || { cat "$WORK/active_final_8k.log"; fail "active_final_8k: names results.h5"; }
run_mpi 2 active "$CFG" "${ASETS[@]}" --set output="$out" --resume >/dev/null || fail "active final write with space"
"$PYTHON" "$SRCDIR/tests/active/compare_active.py" "$d/first/active.h5" "$out/active.h5" >/dev/null
}

# The sections at once, each in a subshell (its `fail` ends it) with its output to a file;
# then their outputs in this order and the faults they counted.
pids=()
for section in import train checkpoint eval active; do
  ( faults=0; "section_$section"; echo "$faults" >"$WORK/section_$section.faults" ) >"$WORK/section_$section.log" 2>&1 &
  pids+=($!)
done
failed=""
i=0
for section in import train checkpoint eval active; do
  wait "${pids[$i]}" || failed+=" $section"
  i=$((i + 1))
done
for section in import train checkpoint eval active; do
  cat "$WORK/section_$section.log"
  [ ! -f "$WORK/section_$section.faults" ] || faults=$((faults + $(cat "$WORK/section_$section.faults")))
done
[ -z "$failed" ] || fail "section(s)$failed failed (above)"
echo "full_disk: ok ($faults ENOSPC faults survived)"
