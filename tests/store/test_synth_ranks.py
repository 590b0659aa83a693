"""`rmens synth` with 1, 2 and 3 ranks writes the same data (compared with h5py) and in
fact the same file; h5py reads it with the documented shapes, dtypes and attributes;
the store_uuid is a function of the configuration."""
import filecmp
import os

import h5py
import numpy as np

from storetest import TempDir, check, finish, synth

N_TRAIN, K_TRAIN, N_TEST, K_TEST, D, BENCH = 301, 7, 53, 19, 48, 37  # tests/store/small.cfg
DATASETS = ["train/embeddings", "train/rewards", "test/embeddings", "test/rewards", "bench/chosen", "bench/rejected"]


def check_layout(path, dtype):
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(a["format"] == "rmens-store", f"{path}: format attribute {a.get('format')!r}")
        check(int(a["format_version"]) == 1, f"{path}: format_version")
        for name in ["embed_model", "response_model", "task", "store_uuid"]:
            check(isinstance(a.get(name), str) and a[name], f"{path}: string attribute {name}")
        shapes = {"train/embeddings": (N_TRAIN, K_TRAIN, D), "train/rewards": (N_TRAIN, K_TRAIN),
                  "test/embeddings": (N_TEST, K_TEST, D), "test/rewards": (N_TEST, K_TEST),
                  "bench/chosen": (BENCH, D), "bench/rejected": (BENCH, D)}
        for name, shape in shapes.items():
            ds = f[name]
            check(ds.shape == shape, f"{path}: {name} shape {ds.shape}, expected {shape}")
            want = np.float32 if name.endswith("rewards") else dtype
            check(ds.dtype == want, f"{path}: {name} dtype {ds.dtype}, expected {want}")
            check(ds.chunks is not None and ds.chunks[0] >= 1, f"{path}: {name} is chunked by prompts")
            if ds.ndim == 3:
                check(ds.chunks[1:] == shape[1:], f"{path}: {name} chunks hold whole prompts: {ds.chunks}")
            v = ds[...]
            check(np.isfinite(v).all(), f"{path}: {name} finite")
        e = f["train/embeddings"][...].astype(np.float64)
        check(e.std() > 0.5, f"{path}: embeddings are not degenerate")
        check(not np.array_equal(f["bench/chosen"][...], f["bench/rejected"][...]), f"{path}: bench pairs differ")
        r = f["train/rewards"][...]
        check(r.std(axis=1).mean() > 0.1, f"{path}: rewards vary within prompts")
        return a["store_uuid"]


with TempDir() as d:
    for dtype_name, dtype in [("float32", np.float32), ("float16", np.float16)]:
        paths = []
        for ranks in (1, 2, 3):
            p = os.path.join(d, f"synth_{dtype_name}_{ranks}.h5")
            synth(p, ranks=ranks, sets=[f"synth.dtype={dtype_name}"])
            paths.append(p)
        uuids = [check_layout(p, dtype) for p in paths]
        check(len(set(uuids)) == 1, f"{dtype_name}: store_uuid independent of ranks: {uuids}")
        with h5py.File(paths[0], "r") as ref:
            for p in paths[1:]:
                with h5py.File(p, "r") as other:
                    for name in DATASETS:
                        a, b = ref[name][...], other[name][...]
                        check(a.tobytes() == b.tobytes(), f"{dtype_name}: {name} of {p} differs from 1 rank")
                    check(dict(ref.attrs) == dict(other.attrs), f"{dtype_name}: attributes of {p}")
        for p in paths[1:]:
            check(filecmp.cmp(paths[0], p, shallow=False), f"{dtype_name}: {p} is not byte-identical to {paths[0]}")
    # float16 stores are the float32 data rounded to half (rounded once, to nearest even).
    with h5py.File(os.path.join(d, "synth_float32_1.h5"), "r") as f32, h5py.File(os.path.join(d, "synth_float16_1.h5"), "r") as f16:
        check(np.array_equal(f32["test/embeddings"][...].astype(np.float16), f16["test/embeddings"][...]),
              "float16 store = float32 store rounded to half")
        check(np.array_equal(f32["test/rewards"][...], f16["test/rewards"][...]), "rewards are float32 in both")
    # Another seed: other data, other identity; the same seed again: the same identity.
    other = os.path.join(d, "seed2.h5")
    synth(other, sets=["synth.seed=78"])
    with h5py.File(other, "r") as f, h5py.File(os.path.join(d, "synth_float32_1.h5"), "r") as g:
        check(f.attrs["store_uuid"] != g.attrs["store_uuid"], "a different seed gives a different store_uuid")
        check(not np.array_equal(f["train/rewards"][...], g["train/rewards"][...]), "a different seed gives different data")
    check(not [n for n in os.listdir(d) if n.startswith(".")], f"no temporary files left: {os.listdir(d)}")
finish("store_synth_ranks")
