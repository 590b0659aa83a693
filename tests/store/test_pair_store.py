"""Stores of human preference pairs (issue 29): /pairs/{train,test}/{chosen,rejected,group}.

  - `rmens import --train-chosen ...` of the committed hh-rlhf arrays with 1, 2 and 3
    ranks writes byte-identical files;
  - every array reads back through h5py bit for bit (float16 chosen/rejected, int64 group
    ids), each dataset chunked with Fletcher-32; there is no /train or /test;
  - each pair group's content_digest equals an independent numpy computation of the rule
    in include/rmens/store/store.h (chosen, then rejected, then the group ids' int64 bits);
  - `rmens inspect` describes the pairs, and `--verify` (1 and 3 ranks) reports both
    digests as matching; a value changed through h5py (which rewrites a valid
    checksum) in chosen, rejected or the group ids is a digest mismatch, and a flipped
    byte in a group-id chunk a checksum error;
  - import refusals (mismatched N / D / group count, a group in both splits, a NaN, and a
    --view of golden inputs onto a store of pairs) exit non-zero with one error line naming the file and
    leave no output and no temporary file behind. (A --view of pair inputs onto a pair store
    is accepted: tests/store/test_pair_views.py.)"""
import os
import shutil

import h5py
import numpy as np

from storetest import RMENS, SRCDIR, TempDir, check, finish, run, run_all

HH = os.path.join(SRCDIR, "tests", "data", "real", "hh_rlhf_harmless_use_tail")
SPLITS = ("train", "test")


# ---- the content digest, written out again from store.h (not storetest.digest) ----
M64 = (1 << 64) - 1


def mix64_np(z):
    z = z.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def bits_of(a):
    a = np.ascontiguousarray(a).reshape(-1)
    if a.dtype == np.float16:
        return a.view(np.uint16).astype(np.uint64)
    if a.dtype == np.float32:
        return a.view(np.uint32).astype(np.uint64)
    if a.dtype == np.int64:
        return a.view(np.uint64)
    raise TypeError(a.dtype)


def pair_digest(chosen, rejected, groups):
    """sum_j mix64((j * 0x9E3779B97F4A7C15) XOR bits_j) mod 2^64 over chosen, rejected, groups."""
    seq = [bits_of(chosen), bits_of(rejected)] + ([bits_of(groups)] if groups is not None else [])
    total, j0 = 0, 0
    for bits in seq:
        j = np.arange(j0, j0 + bits.size, dtype=np.uint64)
        with np.errstate(over="ignore"):
            terms = mix64_np((j * np.uint64(0x9E3779B97F4A7C15)) ^ bits)
        total = (total + int(terms.sum(dtype=np.uint64))) & M64  # uint64 sums wrap mod 2^64
        j0 += bits.size
    return "rmens-sum64-v1:%016x" % total


def import_args(inputs, out, float16=True):
    args = [RMENS, "import"]
    for key in ("train-chosen", "train-rejected", "train-groups", "test-chosen", "test-rejected", "test-groups"):
        if inputs.get(key):
            args += ["--" + key, inputs[key]]
    return args + ["--output", out] + (["--float16"] if float16 else [])


def hh_inputs():
    return {"train-chosen": f"{HH}/train_chosen.npy", "train-rejected": f"{HH}/train_rejected.npy",
            "train-groups": f"{HH}/train_group.npy", "test-chosen": f"{HH}/test_chosen.npy",
            "test-rejected": f"{HH}/test_rejected.npy", "test-groups": f"{HH}/test_group.npy"}


def error_lines(err):
    return [l for l in err.splitlines() if "error:" in l]


def verify_lines(out):
    return {l.split()[1]: l for l in out.splitlines() if l.startswith("verify /")}


with TempDir() as d:
    # ---- 1. import with 1, 2, 3 ranks: identical files ----
    stores = {r: os.path.join(d, f"hh_{r}.h5") for r in (1, 2, 3)}
    results = run_all([(import_args(hh_inputs(), stores[r]), r, 0) for r in (1, 2, 3)])
    for r in (2, 3):
        with open(stores[1], "rb") as a, open(stores[r], "rb") as b:
            check(a.read() == b.read(), f"import with {r} ranks differs from 1 rank")
    store = stores[1]

    # ---- 2. h5py round trip, checksums, chunking ----
    digests = {}
    with h5py.File(store, "r") as f:
        check(f.attrs.get("format") == "rmens-store", f"format attribute {f.attrs.get('format')!r}")
        check("train" not in f and "test" not in f, f"a store of pairs alone has /train or /test: {list(f)}")
        for sp in SPLITS:
            want = {k: np.load(f"{HH}/{sp}_{k}.npy") for k in ("chosen", "rejected", "group")}
            g = f["pairs"][sp]
            for k in ("chosen", "rejected", "group"):
                ds = g[k]
                got = ds[...]
                check(ds.fletcher32, f"/pairs/{sp}/{k}: no Fletcher-32")
                check(ds.chunks is not None, f"/pairs/{sp}/{k}: not chunked")
                check(ds.compression is None, f"/pairs/{sp}/{k}: compressed ({ds.compression})")
                check(got.shape == want[k].shape, f"/pairs/{sp}/{k}: shape {got.shape}, expected {want[k].shape}")
                if k == "group":
                    check(got.dtype == np.int64, f"/pairs/{sp}/group dtype {got.dtype}")
                    check(np.array_equal(got, want[k]), f"/pairs/{sp}/group differs from {sp}_group.npy")
                else:
                    check(got.dtype == np.float16, f"/pairs/{sp}/{k} dtype {got.dtype}")
                    check(np.array_equal(got.view(np.uint16), want[k].astype(np.float16).view(np.uint16)),
                          f"/pairs/{sp}/{k}: float16 bits differ from {sp}_{k}.npy")
            # ---- 3. the digest, recomputed independently ----
            digests[sp] = pair_digest(g["chosen"][...], g["rejected"][...], g["group"][...])
            recorded = g.attrs.get("content_digest")
            recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
            check(recorded == digests[sp], f"/pairs/{sp} content_digest {recorded!r}, numpy says {digests[sp]}")
    # the rule itself: the groups are part of the digest, and positions matter
    with h5py.File(store, "r") as f:
        g = f["pairs/test"]
        c, rj, gr = g["chosen"][...], g["rejected"][...], g["group"][...]
        check(pair_digest(c, rj, None) != digests["test"], "numpy digest ignores the group ids")
        check(pair_digest(rj, c, gr) != digests["test"], "numpy digest ignores the order chosen, rejected")

    # ---- 4. inspect and --verify ----
    runs = run_all([([RMENS, "inspect", store], 1, 0), ([RMENS, "inspect", store, "--verify"], 1, 0),
                    ([RMENS, "inspect", store, "--verify", "--read-chunk-mb", "1"], 3, 0),
                    ([RMENS, "inspect", store], 2, 0)])
    code, out, err = runs[0]
    check("checksums       Fletcher-32 on every dataset" in out, f"inspect: checksums line missing:\n{out}")
    check("golden          absent" in out, f"inspect: the pairs are presented as golden prompts:\n{out}")
    for sp, n, groups in (("train", 1850, 1848), ("test", 462, 462)):
        check(f"digest /pairs/{sp}" in out and digests[sp] in out, f"inspect: digest of /pairs/{sp} not shown:\n{out}")
        rows = [l for l in out.splitlines() if l.startswith(sp + " ") and f"{groups} distinct groups" in l]
        check(len(rows) == 1 and f" {n} " in rows[0] and "512" in rows[0] and "float16" in rows[0]
              and "Fletcher-32" in rows[0], f"inspect: no pair row for {sp} ({n} pairs, {groups} groups):\n{out}")
    check("NaN/Inf" in out and "0/1894400" in out and "0/473088" in out, f"inspect: pair NaN/Inf counts missing:\n{out}")
    check("status          ok" in out, f"inspect: no status ok:\n{out}")
    check(runs[3][1] == out, f"inspect on 2 ranks prints differently:\n{runs[3][1]}")
    for code, out, err in runs[1:3]:
        v = verify_lines(out)
        for sp, n in (("train", 1850), ("test", 462)):
            line = v.get(f"/pairs/{sp}", "")
            check(f"{2 * n * 512 + n} values, 0 NaN/Inf" in line and digests[sp] in line and line.endswith("matches"),
                  f"--verify /pairs/{sp}: {line!r}\n{out}")
        check("status          ok" in out, f"--verify: no status ok:\n{out}")

    # ---- 5. changed through h5py (valid checksum): the digest catches it ----
    def edited(name, dataset, index, value):
        path = os.path.join(d, name)
        shutil.copy(store, path)
        with h5py.File(path, "r+") as f:
            old = f[dataset][index]
            f[dataset][index] = value
            check(f[dataset][index] != old, f"{name}: the edit did not change {dataset}{index}")
            check(f[dataset].fletcher32, f"{name}: {dataset} lost its checksum")
        return path

    cases = [(edited("edit_chosen.h5", "/pairs/train/chosen", (1000, 7), np.float16(0.25)), "/pairs/train"),
             (edited("edit_rejected.h5", "/pairs/test/rejected", (5, 300), np.float16(-0.5)), "/pairs/test"),
             (edited("edit_group.h5", "/pairs/test/group", 17, np.int64(-12345)), "/pairs/test")]
    # a flipped byte in a group-id chunk: HDF5's checksum refuses it
    flipped = os.path.join(d, "flip_group.h5")
    shutil.copy(store, flipped)
    with h5py.File(store, "r") as f:
        info = f["/pairs/train/group"].id.get_chunk_info(0)
    with open(flipped, "r+b") as f:
        f.seek(info.byte_offset + 8 * 900 + 2)
        b = f.read(1)
        f.seek(info.byte_offset + 8 * 900 + 2)
        f.write(bytes([b[0] ^ 0x10]))
    commands = [([RMENS, "inspect", path, "--verify"], ranks) for path, _ in cases for ranks in (1, 3)]
    commands += [([RMENS, "inspect", flipped, "--verify"], ranks) for ranks in (1, 3)]
    results = run_all(commands)
    for i, (path, group) in enumerate(cases):
        for k, ranks in enumerate((1, 3)):
            code, out, err = results[2 * i + k]
            errors = error_lines(err)
            v = verify_lines(out)
            check(code != 0, f"--verify on {path} ({ranks} ranks): exit 0\n{out}")
            check(len(errors) == 1 and "content digest mismatch" in errors[0] and group in errors[0]
                  and path in errors[0], f"--verify on {path} ({ranks} ranks): {errors}")
            check(v.get(group, "").endswith("MISMATCH"), f"--verify on {path}: {group} not reported MISMATCH:\n{out}")
            other = "/pairs/train" if group == "/pairs/test" else "/pairs/test"
            check(v.get(other, "").endswith("matches"), f"--verify on {path}: {other} not reported matching:\n{out}")
    for k, ranks in enumerate((1, 3)):
        code, out, err = results[len(cases) * 2 + k]
        errors = error_lines(err)
        check(code != 0 and len(errors) == 1 and "/pairs/train/group" in errors[0] and flipped in errors[0],
              f"--verify on a corrupt group chunk ({ranks} ranks): exit {code}, {errors}")

    # ---- 6. import refusals: one error line naming the file, nothing left behind ----
    rng = np.random.default_rng(29)
    src = os.path.join(d, "npy")
    os.makedirs(src)

    def save(name, a):
        path = os.path.join(src, name)
        np.save(path, a)
        return path

    D, NTR, NTE = 8, 40, 12
    good = {"train-chosen": save("tc.npy", rng.standard_normal((NTR, D)).astype(np.float32)),
            "train-rejected": save("tr.npy", rng.standard_normal((NTR, D)).astype(np.float32)),
            "train-groups": save("tg.npy", np.arange(NTR, dtype=np.int64) // 2),
            "test-chosen": save("ec.npy", rng.standard_normal((NTE, D)).astype(np.float32)),
            "test-rejected": save("er.npy", rng.standard_normal((NTE, D)).astype(np.float32)),
            "test-groups": save("eg.npy", 1000 + np.arange(NTE, dtype=np.int64))}
    nan_chosen = rng.standard_normal((NTR, D)).astype(np.float32)
    nan_chosen[33, 5] = np.nan  # late in the split: the second of two ranks finds it
    refusals = [
        ("rows of rejected", {"train-rejected": save("tr_short.npy", rng.standard_normal((NTR - 1, D)).astype(np.float32))},
         "tr_short.npy"),
        ("D of test chosen", {"test-chosen": save("ec_wide.npy", rng.standard_normal((NTE, D + 1)).astype(np.float32))},
         "ec_wide.npy"),
        ("group count", {"test-groups": save("eg_short.npy", 1000 + np.arange(NTE - 2, dtype=np.int64))}, "eg_short.npy"),
        ("group in both splits", {"test-groups": save("eg_overlap.npy", np.r_[1000 + np.arange(NTE - 1), 7].astype(np.int64))},
         "eg_overlap.npy"),
        ("NaN in chosen", {"train-chosen": save("tc_nan.npy", nan_chosen)}, "tc_nan.npy"),
    ]
    out_dirs, commands = [], []
    for i, (what, change, _) in enumerate(refusals):
        for ranks in (1, 2):
            o = os.path.join(d, f"refuse_{i}_{ranks}")
            os.makedirs(o)
            out_dirs.append(o)
            commands.append((import_args({**good, **change}, os.path.join(o, "pairs.h5"), float16=False), ranks))
    ok_dir = os.path.join(d, "ok")
    os.makedirs(ok_dir)
    commands.append((import_args(good, os.path.join(ok_dir, "pairs.h5")), 2, 0))  # the good inputs are accepted
    results = run_all(commands)
    for i, (what, change, name) in enumerate(refusals):
        for k, ranks in enumerate((1, 2)):
            code, out, err = results[2 * i + k]
            errors = error_lines(err)
            left = os.listdir(out_dirs[2 * i + k])
            check(code != 0, f"import refusal '{what}' ({ranks} ranks): exit 0")
            check(len(errors) == 1 and name in errors[0], f"import refusal '{what}' ({ranks} ranks): {err!r}")
            check(left == [], f"import refusal '{what}' ({ranks} ranks) left {left}")
            if k == 0:
                print(f"refused ({what}): exit {code}: {errors[0] if errors else err}")
    with h5py.File(os.path.join(ok_dir, "pairs.h5"), "r") as f:
        for sp, n, gname in (("train", NTR, "tg.npy"), ("test", NTE, "eg.npy")):
            check(np.array_equal(f["pairs"][sp]["group"][...], np.load(os.path.join(src, gname))),
                  f"synthetic /pairs/{sp}/group differs")
            check(f["pairs"][sp]["chosen"].shape == (n, D), f"synthetic /pairs/{sp}/chosen shape")

    # ---- 7. a view of golden inputs onto a store of pairs is refused, the store untouched ----
    vdir = os.path.join(d, "view")
    os.makedirs(vdir)
    target = os.path.join(vdir, "pairs.h5")
    shutil.copy(os.path.join(ok_dir, "pairs.h5"), target)
    with open(target, "rb") as f:
        before = f.read()
    # rewards equal to the labels a pair store presents (1 chosen, 0 rejected), so that
    # only the store's kind can refuse it
    view = [save("v_tre.npy", rng.standard_normal((NTR, 2, 4)).astype(np.float32)),
            save("v_trr.npy", np.tile(np.float32([1, 0]), (NTR, 1))),
            save("v_tee.npy", rng.standard_normal((NTE, 2, 4)).astype(np.float32)),
            save("v_ter.npy", np.tile(np.float32([1, 0]), (NTE, 1)))]
    code, out, err = run([RMENS, "import", "--view", "extra", "--train-embeddings", view[0], "--train-rewards", view[1],
                          "--test-embeddings", view[2], "--test-rewards", view[3], "--output", target])
    errors = error_lines(err)
    check(code != 0, f"--view onto a store of pairs: exit 0 ({out.strip()})")
    check(len(errors) == 1 and target in errors[0], f"--view onto a store of pairs: {err!r}")
    with open(target, "rb") as f:
        check(f.read() == before, "--view onto a store of pairs changed the store")
    check(os.listdir(vdir) == ["pairs.h5"], f"--view onto a store of pairs left {os.listdir(vdir)}")
    print(f"refused (--view onto pairs): exit {code}: {errors[0] if errors else err.strip()}")

finish("store_pair_store")
