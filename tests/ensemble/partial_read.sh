#!/usr/bin/env bash
# Training reads only the train responses its members use (rm_member_items_read): with
# train.standardise_responses = 500 of the 1800, the pairs' responses and the sample's.
# The members are bitwise those trained from the whole split: the same run on a copy of
# the store without checksums (which is read whole) gives the same members.h5, for an MLP
# ensemble on 2 ranks and, with XGBoost, for trees; the node's line says how many responses
# were read, and a run standardising on all of them reads all of them.
source "$(dirname "$0")/common.sh"
make_store
SAMPLE=(--set train.standardise_responses=500)
"$PYTHON" - "$STORE" "$WORK/plain.h5" <<'PY'
import sys, h5py
# the same values, no Fletcher-32: the reader takes HDF5's path and reads every response
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    def copy(name, obj):
        if isinstance(obj, h5py.Dataset):
            dst.create_dataset(name, data=obj[()])
            for k, v in obj.attrs.items():
                dst[name].attrs[k] = v
        else:
            g = dst.require_group(name)
            for k, v in obj.attrs.items():
                g.attrs[k] = v
    src.visititems(copy)
    assert dst["train/embeddings"].fletcher32 is False and src["train/embeddings"].fletcher32
PY
train() { # NAME STORE NP [sets...]
  local name="$1" store="$2" np="$3"; shift 3
  run_mpi "$np" train "$CFG" "${COMMON_SETS[@]}" --set store="$store" --set output="$WORK/$name" "$@" --force \
    >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "train $name"; }
}
families=(mlp)
[ "${1:-0}" = 1 ] && families+=(gbdt)
for family in "${families[@]}"; do
  np=2; [ "$family" = gbdt ] && np=1
  train "part_$family" "$STORE" "$np" "${SAMPLE[@]}" --set model.family="\"$family\""
  train "whole_$family" "$WORK/plain.h5" "$np" "${SAMPLE[@]}" --set model.family="\"$family\""
  line="$(grep "shared window" "$WORK/part_$family.log")"
  read_count="$(sed -n 's/.*, the \([0-9]*\) of its 1800 responses the run reads.*/\1/p' <<<"$line")"
  # the sample's 500 and at most the 1200 pairs' 2400 responses, fewer than all 1800
  [ -n "$read_count" ] && (( read_count >= 500 && read_count < 1800 )) || fail "$family: the node's line: $line"
  "$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/part_$family/members.h5" "$WORK/whole_$family/members.h5" \
    || fail "$family: members trained from the responses read differ from those trained from the whole split"
done
train all "$STORE" 2 --set train.standardise_responses=0
grep "shared window" "$WORK/all.log" | grep -q "responses the run reads" && fail "standardising on all responses read some only"
echo "partial_read: ok"
