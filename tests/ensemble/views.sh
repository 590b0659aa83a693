#!/usr/bin/env bash
# ensemble.views (issue 16): members dealt to store views round-robin (member m on view
# m mod V), each reading only its view.
#  - members.h5 is bitwise identical for 1, 2 and 3 ranks, each member's `view` and `dim`
#    attributes name its view and that view's D, and one shared window per view is read;
#  - a member equals the member of the same index trained with ensemble.views = [its view]
#    alone (default view: without ensemble.views), so the dealing changes nothing but the
#    view;
#  - on a copy of the store whose view1 embeddings differ, exactly the view1 members change;
#  - members of views of different D checkpoint and resume: a run that fails when it
#    starts member 2, with a checkpoint at every step boundary, resumed with --resume, gives
#    members bitwise identical to the uninterrupted run.
source "$(dirname "$0")/common.sh"
VIEWS_SETS=(--set synth.views=2 --set "synth.view_dims=[16,32]")
THREE='ensemble.views=["default","view1","view2"]'
"$RMENS" synth "$CFG" "${COMMON_SETS[@]}" "${VIEWS_SETS[@]}" --force >"$WORK/synth.log" || fail "synth with views"

train() { # train NP NAME STORE [--set ...]: members.h5 -> $WORK/NAME.h5
  local np="$1" name="$2" store="$3"; shift 3
  run_mpi "$np" train "$CFG" "${COMMON_SETS[@]}" --set store="$store" --set output="$WORK/run_$name" --force \
    --set parallel.blas_threads=$(( np % 2 + 1 )) "$@" >"$WORK/train_$name.log" 2>&1 \
    || { cat "$WORK/train_$name.log"; fail "train $name"; }
  mv "$WORK/run_$name/members.h5" "$WORK/$name.h5"
}

for np in 1 2 3; do
  train "$np" "views_$np" "$STORE" --set "$THREE"
  for view in default view1 view2; do
    grep -q "train split (view $view) 300 x 6 x .* in one shared window .* for $np rank(s)" "$WORK/train_views_$np.log" \
      || { cat "$WORK/train_views_$np.log"; fail "$np ranks: no shared window for view $view"; }
  done
done
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/views_1.h5" "$WORK/views_2.h5" "$WORK/views_3.h5"

train 2 plain "$STORE"
train 2 only_view1 "$STORE" --set 'ensemble.views=["view1"]'
train 2 only_view2 "$STORE" --set 'ensemble.views=["view2"]'
# view1's train embeddings scaled in a copy: its checksums stay valid (h5py rewrites them)
cp "$STORE" "$WORK/changed.h5"
"$PYTHON" - "$WORK/changed.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    d = f["views/view1/train/embeddings"]
    d[...] = d[...] * 0.5
PY
train 2 changed "$WORK/changed.h5" --set "$THREE"

"$PYTHON" - "$WORK" <<'PY'
import sys, h5py, numpy as np
work = sys.argv[1]
def member(name, m):
    with h5py.File(f"{work}/{name}.h5", "r") as f:
        g = f[f"member_{m}"]
        weights = [g[f"layer_{l}/weight"][()] for l in range(3)] + [g[f"layer_{l}/bias"][()] for l in range(3)]
        return dict(g.attrs), weights
def same(a, b):
    return all(x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))
expect = [("default", 24), ("view1", 16), ("view2", 32), ("default", 24)]
for m, (view, dim) in enumerate(expect):
    attrs, w = member("views_3", m)
    assert attrs["view"] == view and int(attrs["dim"]) == dim and w[0].shape == (16, dim), (m, attrs["view"], attrs["dim"], w[0].shape)
    ref_name = {"default": "plain", "view1": "only_view1", "view2": "only_view2"}[view]
    ref_attrs, ref = member(ref_name, m)
    assert same(w, ref), f"member {m} (view {view}) differs from member {m} of {ref_name}"
    assert ("view" in ref_attrs) == (view != "default"), ref_attrs
    _, changed = member("changed", m)
    assert same(w, changed) == (view != "view1"), f"member {m} (view {view}): changed view1 moved it: {not same(w, changed)}"
# members of different views differ in what they compute (not only in shape)
_, w0 = member("views_3", 0)
_, w3 = member("views_3", 3)
assert not same(w0, w3), "members 0 and 3 (both default, other seeds) are identical"
print("views: members see their own view only")
PY
# A failure when member 2 starts (member 0 of D 24 finished, member 1 of D 16 in
# progress in the last checkpoint), then --resume.
set +e
RMENS_TEST_FAIL=0:2 run_mpi 1 train "$CFG" "${COMMON_SETS[@]}" --set "$THREE" --set output="$WORK/run_ckpt" \
  --set train.checkpoint_minutes=0.00001 --force >"$WORK/ckpt_fail.log" 2>&1
status=$?
set -e
[ "$status" -ne 0 ] || fail "the injected failure did not stop the run"
[ -f "$WORK/run_ckpt/checkpoint.h5" ] || { cat "$WORK/ckpt_fail.log"; fail "no checkpoint with views of different D"; }
run_mpi 1 train "$CFG" "${COMMON_SETS[@]}" --set "$THREE" --set output="$WORK/run_ckpt" --resume >"$WORK/ckpt_resume.log" 2>&1 \
  || { cat "$WORK/ckpt_resume.log"; fail "resume with views"; }
grep -q 'resuming from .*: 1 member(s) finished, 1 in progress' "$WORK/ckpt_resume.log" \
  || { cat "$WORK/ckpt_resume.log"; fail "the resume did not continue member 1 in progress"; }
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/views_1.h5" "$WORK/run_ckpt/members.h5" \
  || fail "resumed members with views differ from the uninterrupted run"
echo "ensemble views: ok"
