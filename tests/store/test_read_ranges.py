"""The C reader (rm_store_read_*) on 1, 2 and 3 ranks, with piece bounds from a few
bytes (pieces inside a prompt, smaller than one response) to megabytes, returns exactly
h5py's slice for float32 and float16 stores; out-of-range requests fail on every rank."""
import glob
import os
import sys

import h5py
import numpy as np

from storetest import TempDir, check, finish, run, synth

tool = sys.argv[1]


def read_with_tool(store, split, p0, p1, chunk_bytes, ranks, prefix):
    for old in glob.glob(prefix + ".*"):
        os.remove(old)
    run([tool, "read", store, split, p0, p1, chunk_bytes, prefix], ranks=ranks, expect=0)
    a = np.concatenate([np.fromfile(f"{prefix}.{r}.a", dtype=np.float32) for r in range(ranks)])
    b = np.concatenate([np.fromfile(f"{prefix}.{r}.b", dtype=np.float32) for r in range(ranks)])
    return a, b


with TempDir() as d:
    for dtype in ("float32", "float16"):
        store = os.path.join(d, f"{dtype}.h5")
        synth(store, sets=[f"synth.dtype={dtype}"])
        with h5py.File(store, "r") as f:
            ranges = [("train", 0, 301), ("train", 17, 123), ("test", 3, 50), ("test", 5, 5), ("bench", 2, 37)]
            for index, (split, p0, p1) in enumerate(ranges):
                if split == "bench":
                    want_a = f["bench/chosen"][p0:p1].astype(np.float32).ravel()
                    want_b = f["bench/rejected"][p0:p1].astype(np.float32).ravel()
                else:
                    want_a = f[f"{split}/embeddings"][p0:p1].astype(np.float32).ravel()
                    want_b = f[f"{split}/rewards"][p0:p1].ravel()
                # Every (piece bound, rank count) pair appears across the ranges; one
                # mpirun each keeps the test at a few seconds.
                for c, chunk_bytes in enumerate((50, 1000, 1 << 20)):
                    for ranks in ((c + index) % 3 + 1,):
                        a, b = read_with_tool(store, split, p0, p1, chunk_bytes, ranks, os.path.join(d, "out"))
                        what = f"{dtype} {split}[{p0}:{p1}] chunk {chunk_bytes} B, {ranks} ranks"
                        check(a.tobytes() == want_a.tobytes(), f"{what}: embeddings differ from h5py")
                        check(b.tobytes() == want_b.tobytes(), f"{what}: rewards differ from h5py")
        for ranks in (1, 2):
            code, out, err = run([tool, "read", store, "test", 40, 54, 1000, os.path.join(d, "bad")], ranks=ranks)
            check(code != 0 and "/test/embeddings" in err and "outside [0, 53)" in err,
                  f"out-of-range read on {ranks} ranks: exit {code}, stderr {err!r}")
    # A store written by h5py itself (contiguous datasets, h5py's own float16 type).
    store = os.path.join(d, "h5py.h5")
    rng = np.random.default_rng(8)
    with h5py.File(store, "w") as f:
        f.attrs.update({"format": "rmens-store", "format_version": 1, "embed_model": "e", "response_model": "r",
                        "task": "t", "store_uuid": "u"})
        for split, (n, k) in {"train": (9, 4), "test": (5, 6)}.items():
            f[f"{split}/embeddings"] = rng.normal(size=(n, k, 10)).astype(np.float16)
            f[f"{split}/rewards"] = rng.normal(size=(n, k)).astype(np.float32)
        f["bench/chosen"] = rng.normal(size=(3, 10)).astype(np.float16)
        f["bench/rejected"] = rng.normal(size=(3, 10)).astype(np.float16)
    with h5py.File(store, "r") as f:
        for split, p0, p1, ranks in [("train", 2, 9, 2), ("test", 0, 5, 1), ("bench", 0, 3, 2)]:
            a, b = read_with_tool(store, split, p0, p1, 30, ranks, os.path.join(d, "out"))
            names = ("bench/chosen", "bench/rejected") if split == "bench" else (f"{split}/embeddings", f"{split}/rewards")
            check(a.tobytes() == f[names[0]][p0:p1].astype(np.float32).tobytes(), f"h5py store: {names[0]}")
            check(b.tobytes() == f[names[1]][p0:p1].astype(np.float32).tobytes(), f"h5py store: {names[1]}")
finish("store_read_ranges")
