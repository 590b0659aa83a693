#!/usr/bin/env bash
# Throughput of the store on this machine (issue 2's closing note); not part of ctest.
#   tests/store/measure_throughput.sh [BUILD_DIR] [WORK_DIR]
# Writes a ~1 GB synthetic store (train 8000 x 10, test 200 x 200, D = 2048, float32)
# and .npy copies of it under WORK_DIR (default /tmp), then reports in one run:
#   - rmens import of the .npy files (1 rank, MB/s of .npy data read and stored),
#   - the collective parallel read of both splits with 1 and 2 ranks,
#   - dd reading the same store file, for reference.
# Nothing is dropped from the page cache: all figures see the same cache state (the
# files were just written, so on a machine with enough memory they are cached).
# Everything it writes is deleted at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
WORK="$(mktemp -d "${2:-/tmp}/rmens-throughput-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3
MPIRUN="${MPIRUN:-mpirun}"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OPENBLAS_NUM_THREADS=1

STORE="$WORK/store.h5"
echo "== synth (2 ranks): $STORE"
"$MPIRUN" --oversubscribe -n 2 "$BUILD/rmens" synth "$ROOT/tests/store/small.cfg" --set "store=$STORE" \
  --set synth.train_prompts=8000 --set synth.train_responses=10 --set synth.test_prompts=200 \
  --set synth.test_responses=200 --set synth.dim=2048 --set synth.bench_pairs=0
ls -l "$STORE"

echo "== .npy copies of the store (numpy, streamed)"
"$PY" - "$STORE" "$WORK" <<'PYEOF'
import sys, h5py, numpy as np
store, work = sys.argv[1], sys.argv[2]
with h5py.File(store, "r") as f:
    for split in ("train", "test"):
        for kind, name in (("embeddings", "embd"), ("rewards", "reward")):
            ds = f[f"{split}/{kind}"]
            shape = ds.shape if kind == "embeddings" else ds.shape + (1,)
            out = np.lib.format.open_memmap(f"{work}/{name}_synth_synth_demo_{split}.npy", mode="w+", dtype=np.float32, shape=shape)
            for p in range(0, ds.shape[0], 500):
                out[p:p + 500] = ds[p:p + 500].reshape(out[p:p + 500].shape)
            out.flush()
            del out
PYEOF
ls -l "$WORK"/*.npy

echo "== rmens import (1 rank)"
"$BUILD/rmens" import --train-embeddings "$WORK/embd_synth_synth_demo_train.npy" \
  --train-rewards "$WORK/reward_synth_synth_demo_train.npy" --test-embeddings "$WORK/embd_synth_synth_demo_test.npy" \
  --test-rewards "$WORK/reward_synth_synth_demo_test.npy" --output "$WORK/imported.h5"
rm -f "$WORK"/*.npy "$WORK/imported.h5"

echo "== parallel read of the store (read_chunk_mb 64)"
for ranks in 1 2; do
  "$MPIRUN" --oversubscribe -n "$ranks" "$BUILD/tests/store_tool" readbench "$STORE" 64
done
echo "== dd of the same file"
dd if="$STORE" of=/dev/null bs=16M 2>&1 | tail -1
echo "== parallel read again (after dd)"
for ranks in 1 2; do
  "$MPIRUN" --oversubscribe -n "$ranks" "$BUILD/tests/store_tool" readbench "$STORE" 64
done
