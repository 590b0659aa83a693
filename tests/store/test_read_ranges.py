"""The C reader (rm_store_read_*) on 1, 2 and 3 ranks, with piece bounds from a few
bytes (pieces inside a prompt, smaller than one response) to megabytes, returns exactly
h5py's slice for float32 and float16 stores; out-of-range requests fail on every rank."""
import glob
import os
import sys

import h5py
import numpy as np

from storetest import TempDir, check, finish, run_all, synth

tool = sys.argv[1]


def tool_read(store, split, p0, p1, chunk_bytes, ranks, prefix):
    """The store_tool command reading [p0, p1) into PREFIX.<rank>.{a,b}; exit 0 expected."""
    for old in glob.glob(prefix + ".*"):
        os.remove(old)
    return [tool, "read", store, split, p0, p1, chunk_bytes, prefix], ranks, 0


def read_back(prefix, ranks):
    a = np.concatenate([np.fromfile(f"{prefix}.{r}.a", dtype=np.float32) for r in range(ranks)])
    b = np.concatenate([np.fromfile(f"{prefix}.{r}.b", dtype=np.float32) for r in range(ranks)])
    return a, b


def slices(store, split, p0, p1):
    with h5py.File(store, "r") as f:
        if split == "bench":
            return (f["bench/chosen"][p0:p1].astype(np.float32).ravel(), f["bench/rejected"][p0:p1].astype(np.float32).ravel())
        return f[f"{split}/embeddings"][p0:p1].astype(np.float32).ravel(), f[f"{split}/rewards"][p0:p1].ravel()


# The stores are written first; every read then runs a few at a time (storetest.run_all),
# each into its own output prefix, and is checked against h5py as before.
with TempDir() as d:
    reads, bad = [], []  # (what, store, split, p0, p1, ranks, prefix); (store, ranks, prefix)
    for dtype in ("float32", "float16"):
        store = os.path.join(d, f"{dtype}.h5")
        synth(store, sets=[f"synth.dtype={dtype}"])
        ranges = [("train", 0, 301), ("train", 17, 123), ("test", 3, 50), ("test", 5, 5), ("bench", 2, 37)]
        for index, (split, p0, p1) in enumerate(ranges):
            # Every (piece bound, rank count) pair appears across the ranges; one
            # mpirun each keeps the test at a few seconds.
            for c, chunk_bytes in enumerate((50, 1000, 1 << 20)):
                for ranks in ((c + index) % 3 + 1,):
                    reads.append((f"{dtype} {split}[{p0}:{p1}] chunk {chunk_bytes} B, {ranks} ranks", store, split, p0, p1,
                                  chunk_bytes, ranks, os.path.join(d, f"out{len(reads)}")))
        for ranks in (1, 2):
            bad.append((store, ranks, os.path.join(d, f"bad{len(bad)}")))
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
    for split, p0, p1, ranks in [("train", 2, 9, 2), ("test", 0, 5, 1), ("bench", 0, 3, 2)]:
        reads.append((f"h5py store {split}[{p0}:{p1}]", store, split, p0, p1, 30, ranks, os.path.join(d, f"out{len(reads)}")))

    commands = [tool_read(store, split, p0, p1, chunk_bytes, ranks, prefix)
                for _, store, split, p0, p1, chunk_bytes, ranks, prefix in reads]
    commands += [([tool, "read", store, "test", 40, 54, 1000, prefix], ranks) for store, ranks, prefix in bad]
    results = run_all(commands)
    for (what, store, split, p0, p1, chunk_bytes, ranks, prefix), (code, _, _) in zip(reads, results):
        if code != 0:
            continue  # run_all has recorded the failure
        a, b = read_back(prefix, ranks)
        want_a, want_b = slices(store, split, p0, p1)
        check(a.tobytes() == want_a.tobytes(), f"{what}: embeddings differ from h5py")
        check(b.tobytes() == want_b.tobytes(), f"{what}: rewards differ from h5py")
    for (store, ranks, _), (code, out, err) in zip(bad, results[len(reads):]):
        check(code != 0 and "/test/embeddings" in err and "outside [0, 53)" in err,
              f"out-of-range read on {ranks} ranks: exit {code}, stderr {err!r}")
finish("store_read_ranges")
