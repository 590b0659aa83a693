"""Views of pair stores (issue 29): /views/<name>/pairs/{train,test}/{chosen,rejected}.

On the committed hh-rlhf arrays (a store of pairs alone, float16, D 512):
  - `rmens import --view log_length --log1p` of {split}_{chosen,rejected}_length.npy (D 2)
    and `--view proj64 --float16` of a seeded random projection of the real arrays to D 64
    (numpy, float32 .npy), on 1 and on 3 ranks, give byte-identical files;
  - h5py reads every view dataset back (log1p of the lengths within one float32 ulp of
    numpy's, the projection's float16 bits equal to numpy's astype(float16)), chunked,
    Fletcher-32, no group ids of the view's own, format_version 2 and `views` attribute;
  - each /views/<name>/pairs/<split> content_digest equals a numpy computation of the
    rule in store.h (chosen then rejected);
  - `rmens inspect` lists the views' pairs and digests; `--verify` (1 and 3 ranks) matches
    every digest; a view value changed through h5py is a digest mismatch naming the view's
    group, a flipped byte in a view chunk a checksum error;
  - refusals, each one error line, the store byte-identical and nothing left beside it: a
    wrong N, golden inputs (--train-embeddings ...) onto a store of pairs alone, group ids
    with --view, a value <= -1 under --log1p, a taken view name;
  - a synthetic store with golden splits and pairs takes a view only with both kinds of
    inputs (one line otherwise) and then holds both;
  - `rmens run configs/pairs.cfg` with model.inputs = ["default", "log_length"] succeeds,
    members.h5 /inputs lists both views and standardises the length features with their
    numpy mean and std over the train pairs; with ensemble.views = ["default", "proj64"]
    the members alternate views."""
import json
import os
import shutil

import h5py
import numpy as np

from storetest import MPIRUN, RMENS, SRCDIR, TempDir, check, finish, run, run_all

HH = os.path.join(SRCDIR, "tests", "data", "real", "hh_rlhf_harmless_use_tail")
CFG = os.path.join(SRCDIR, "configs", "pairs.cfg")
SPLITS = ("train", "test")
KINDS = ("chosen", "rejected")
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
    raise TypeError(a.dtype)


def digest(*arrays):
    """store.h: sum_j mix64((j * 0x9E3779B97F4A7C15) XOR bits_j) mod 2^64, j over the arrays in order."""
    total, j0 = 0, 0
    for a in arrays:
        bits = bits_of(a)
        j = np.arange(j0, j0 + bits.size, dtype=np.uint64)
        with np.errstate(over="ignore"):
            total = (total + int(mix64_np((j * np.uint64(0x9E3779B97F4A7C15)) ^ bits).sum(dtype=np.uint64))) & M64
        j0 += bits.size
    return "rmens-sum64-v1:%016x" % total


def attr_text(v):
    return v.decode() if isinstance(v, bytes) else v


def error_lines(err):
    return [l for l in err.splitlines() if "error:" in l]


def verify_lines(out):
    return {l.split()[1]: l for l in out.splitlines() if l.startswith("verify /")}


def pair_import(files, out, extra=()):
    args = [RMENS, "import"]
    for key in ("train-chosen", "train-rejected", "train-groups", "test-chosen", "test-rejected", "test-groups",
                "train-embeddings", "train-rewards", "test-embeddings", "test-rewards"):
        if files.get(key):
            args += ["--" + key, files[key]]
    return args + ["--output", out, *extra]


def view_files(prefix):
    """{split}_{kind}<prefix>.npy as the four --{split}-{kind} options."""
    return {f"{sp}-{k}": f"{prefix.format(sp=sp, k=k)}" for sp in SPLITS for k in KINDS}


with TempDir() as d:
    src = os.path.join(d, "npy")
    os.makedirs(src)
    hh = {f"{sp}-{k}": f"{HH}/{sp}_{k}.npy" for sp in SPLITS for k in KINDS + ("group",)}
    hh = {k.replace("-group", "-groups"): v for k, v in hh.items()}
    n = {sp: np.load(f"{HH}/{sp}_chosen.npy").shape[0] for sp in SPLITS}

    # the view inputs: lengths (raw: --log1p stores log(1 + x)), and a projection to D 64
    lengths = view_files(HH + "/{sp}_{k}_length.npy")
    rng = np.random.default_rng(29)
    P = (rng.standard_normal((512, 64)) / np.sqrt(512)).astype(np.float32)
    proj = {}
    for sp in SPLITS:
        for k in KINDS:
            a = np.load(f"{HH}/{sp}_{k}.npy").astype(np.float32) @ P
            proj[(sp, k)] = np.ascontiguousarray(a, dtype=np.float32)
            np.save(os.path.join(src, f"{sp}_{k}_proj.npy"), proj[(sp, k)])
    projf = view_files(os.path.join(src, "{sp}_{k}_proj.npy"))

    # ---- 1. the pair store, then both views on 1 and on 3 ranks: identical files ----
    base = os.path.join(d, "base.h5")
    run(pair_import(hh, base, ["--float16"]), 1, 0)
    stores = {r: os.path.join(d, f"views_{r}.h5") for r in (1, 3)}
    for r in (1, 3):
        shutil.copy(base, stores[r])
    results = run_all([(pair_import(lengths, stores[r], ["--view", "log_length", "--log1p"]), r, 0) for r in (1, 3)])
    for code, out, err in results:
        check("added view 'log_length'" in out, f"import --view log_length: {out!r} {err!r}")
    run_all([(pair_import(projf, stores[r], ["--view", "proj64", "--float16", "--chunk-mb", "1"]), r, 0) for r in (1, 3)])
    with open(stores[1], "rb") as a, open(stores[3], "rb") as b:
        check(a.read() == b.read(), "views added on 3 ranks differ from 1 rank")
    store = stores[1]

    # ---- 2. h5py round trip ----
    digests = {}
    with h5py.File(store, "r") as f:
        check(int(f.attrs["format_version"]) == 2, f"format_version {f.attrs['format_version']}")
        check([attr_text(v) for v in f.attrs["views"]] == ["default", "log_length", "proj64"],
              f"views attribute {list(f.attrs['views'])}")
        check("train" not in f and "test" not in f, f"a store of pairs alone got /train or /test: {list(f)}")
        check(attr_text(f["views/log_length"].attrs.get("transform")) == "log1p", "log_length: no transform = log1p")
        check("transform" not in f["views/proj64"].attrs, "proj64 has a transform attribute")
        for name in ("log_length", "proj64"):
            check(sorted(f[f"views/{name}"]) == ["pairs"], f"/views/{name} holds {sorted(f[f'views/{name}'])}")
            for sp in SPLITS:
                g = f[f"views/{name}/pairs/{sp}"]
                check(sorted(g) == ["chosen", "rejected"], f"/views/{name}/pairs/{sp} holds {sorted(g)} (no group ids)")
                got = {}
                for k in KINDS:
                    ds = g[k]
                    got[k] = ds[...]
                    where = f"/views/{name}/pairs/{sp}/{k}"
                    check(ds.fletcher32 and ds.chunks is not None and ds.compression is None,
                          f"{where}: fletcher32 {ds.fletcher32}, chunks {ds.chunks}, compression {ds.compression}")
                    if name == "log_length":
                        want = np.log1p(np.load(f"{HH}/{sp}_{k}_length.npy").astype(np.float64)).astype(np.float32)
                        check(got[k].dtype == np.float32 and got[k].shape == (n[sp], 2), f"{where}: {got[k].dtype} {got[k].shape}")
                        ulps = np.abs(got[k].view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
                        check(ulps.max() <= 1, f"{where}: {ulps.max()} ulps from numpy's log1p")
                    else:
                        want = proj[(sp, k)].astype(np.float16)
                        check(got[k].dtype == np.float16 and got[k].shape == (n[sp], 64), f"{where}: {got[k].dtype} {got[k].shape}")
                        check(np.array_equal(got[k].view(np.uint16), want.view(np.uint16)),
                              f"{where}: float16 bits differ from numpy's astype(float16)")
                # ---- 3. the digest, recomputed ----
                digests[(name, sp)] = digest(got["chosen"], got["rejected"])
                recorded = attr_text(g.attrs.get("content_digest"))
                check(recorded == digests[(name, sp)], f"/views/{name}/pairs/{sp}: content_digest {recorded!r}, "
                                                       f"numpy says {digests[(name, sp)]}")
                check(digest(got["rejected"], got["chosen"]) != digests[(name, sp)], "numpy digest ignores the order")
        # the default view's pairs are untouched by adding views
        with h5py.File(base, "r") as b:
            for sp in SPLITS:
                for k in KINDS + ("group",):
                    check(np.array_equal(f[f"pairs/{sp}/{k}"][...], b[f"pairs/{sp}/{k}"][...]), f"/pairs/{sp}/{k} changed")
                check(f[f"pairs/{sp}"].attrs["content_digest"] == b[f"pairs/{sp}"].attrs["content_digest"],
                      f"/pairs/{sp} digest changed")
            check(f.attrs["store_uuid"] == b.attrs["store_uuid"], "store_uuid changed")

    # ---- 4. inspect and --verify ----
    runs = run_all([([RMENS, "inspect", store], 1, 0), ([RMENS, "inspect", store, "--verify"], 1, 0),
                    ([RMENS, "inspect", store, "--verify", "--read-chunk-mb", "1"], 3, 0)])
    out = runs[0][1]
    check("checksums       Fletcher-32 on every dataset" in out, f"inspect: checksums line:\n{out}")
    check("pair views      3: default (default) log_length proj64" in out, f"inspect: no pair views line:\n{out}")
    for name, dim, dtype in (("log_length", 2, "float32"), ("proj64", 64, "float16")):
        rows = [l for l in out.splitlines() if l.startswith(f"view {name} ")]
        check(len(rows) == 1 and f"D {dim} " in rows[0] and f"train {dtype}" in rows[0] and f"test {dtype}" in rows[0]
              and "Fletcher-32" in rows[0] and f"/views/{name}/pairs" in rows[0], f"inspect: view {name} row {rows}:\n{out}")
        for sp in SPLITS:
            check(f"digest /views/{name}/pairs/{sp} {digests[(name, sp)]}" in out, f"inspect: digest of {name} {sp}:\n{out}")
    check("status          ok" in out, f"inspect: no status ok:\n{out}")
    for code, out, err in runs[1:]:
        v = verify_lines(out)
        for name, dim in (("log_length", 2), ("proj64", 64)):
            for sp in SPLITS:
                line = v.get(f"/views/{name}/pairs/{sp}", "")
                check(f" {2 * n[sp] * dim} values, 0 NaN/Inf" in line and digests[(name, sp)] in line
                      and line.endswith("matches"), f"--verify /views/{name}/pairs/{sp}: {line!r}\n{out}")
        check(all(v.get(f"/pairs/{sp}", "").endswith("matches") for sp in SPLITS), f"--verify /pairs:\n{out}")
        check("status          ok" in out, f"--verify: no status ok:\n{out}")

    # ---- 5. corruption: a value changed through h5py (valid checksum), a flipped byte ----
    edited = os.path.join(d, "edited.h5")
    shutil.copy(store, edited)
    with h5py.File(edited, "r+") as f:
        ds = f["views/proj64/pairs/test/rejected"]
        old = ds[7, 3]
        ds[7, 3] = np.float16(old + np.float16(0.5))
        check(ds[7, 3] != old and ds.fletcher32, "the edit did not take")
    flipped = os.path.join(d, "flipped.h5")
    shutil.copy(store, flipped)
    with h5py.File(store, "r") as f:
        info = f["views/log_length/pairs/train/chosen"].id.get_chunk_info(0)
    with open(flipped, "r+b") as f:
        f.seek(info.byte_offset + 4 * 1001 + 1)
        b = f.read(1)
        f.seek(info.byte_offset + 4 * 1001 + 1)
        f.write(bytes([b[0] ^ 0x08]))
    results = run_all([([RMENS, "inspect", p, "--verify"], r) for p in (edited, flipped) for r in (1, 3)])
    for k, r in enumerate((1, 3)):
        code, out, err = results[k]
        errors = error_lines(err)
        check(code != 0 and len(errors) == 1 and "content digest mismatch" in errors[0]
              and "/views/proj64/pairs/test" in errors[0] and edited in errors[0],
              f"--verify of an edited view value ({r} ranks): exit {code}, {errors}")
        check(verify_lines(out).get("/views/proj64/pairs/test", "").endswith("MISMATCH")
              and verify_lines(out).get("/views/proj64/pairs/train", "").endswith("matches"),
              f"--verify of an edited view value ({r} ranks):\n{out}")
        code, out, err = results[2 + k]
        errors = error_lines(err)
        check(code != 0 and len(errors) == 1 and "/views/log_length/pairs/train/chosen" in errors[0]
              and flipped in errors[0], f"--verify of a flipped view byte ({r} ranks): exit {code}, {errors}")
    print(f"corrupt view value: {error_lines(results[0][2])}")
    print(f"corrupt view chunk: {error_lines(results[2][2])}")

    # ---- 6. refusals: one line, the store byte-identical, nothing left beside it ----
    def save(name, a):
        path = os.path.join(src, name)
        np.save(path, a)
        return path

    short = dict(lengths, **{f"test-{k}": save(f"test_{k}_length_short.npy", np.load(f"{HH}/test_{k}_length.npy")[:-1])
                             for k in KINDS})
    negative = np.load(f"{HH}/train_chosen_length.npy").copy()
    negative[1200, 1] = -1.0
    with_negative = dict(lengths, **{"train-chosen": save("train_chosen_length_neg.npy", negative)})
    golden = {"train-embeddings": save("g_tre.npy", rng.standard_normal((n["train"], 2, 2)).astype(np.float32)),
              "train-rewards": save("g_trr.npy", np.tile(np.float32([1, 0]), (n["train"], 1))),
              "test-embeddings": save("g_tee.npy", rng.standard_normal((n["test"], 2, 2)).astype(np.float32)),
              "test-rewards": save("g_ter.npy", np.tile(np.float32([1, 0]), (n["test"], 1)))}
    refusals = [
        ("wrong N", pair_import(short, "{t}", ["--view", "other"]), 3, ["test_chosen_length_short.npy", "{t}", "461", "462"]),
        ("golden inputs onto pairs alone", pair_import(golden, "{t}", ["--view", "other"]), 1, ["{t}", "--train-chosen"]),
        ("golden and pair inputs onto pairs alone", pair_import({**golden, **lengths}, "{t}", ["--view", "other"]), 1,
         ["{t}"]),
        ("group ids with --view", pair_import({**lengths, "train-groups": hh["train-groups"], "test-groups": hh["test-groups"]},
                                              "{t}", ["--view", "other"]), 1, ["--train-groups"]),
        ("log1p of -1", pair_import(with_negative, "{t}", ["--view", "other", "--log1p"]), 3,
         ["train_chosen_length_neg.npy", "pair 1200, dimension 1"]),
        ("a taken name", pair_import(lengths, "{t}", ["--view", "log_length"]), 1, ["log_length", "{t}"]),
    ]
    commands, targets = [], []
    for i, (what, args, ranks, needles) in enumerate(refusals):
        o = os.path.join(d, f"refuse_{i}")
        os.makedirs(o)
        t = os.path.join(o, "store.h5")
        shutil.copy(store, t)
        targets.append(t)
        commands.append(([a.replace("{t}", t) for a in args], ranks))
    with open(store, "rb") as f:
        before = f.read()
    results = run_all(commands)
    for (what, args, ranks, needles), t, (code, out, err) in zip(refusals, targets, results):
        errors = error_lines(err)
        check(code != 0, f"refusal '{what}': exit 0 ({out.strip()})")
        check(len(errors) == 1 and all(s.replace("{t}", t) in errors[0] for s in needles),
              f"refusal '{what}': {errors or err!r}")
        with open(t, "rb") as f:
            check(f.read() == before, f"refusal '{what}' changed the store")
        check(os.listdir(os.path.dirname(t)) == ["store.h5"], f"refusal '{what}' left {os.listdir(os.path.dirname(t))}")
        print(f"refused ({what}): {errors[0] if errors else err.strip()}")

    # ---- 7. golden splits and pairs in one store: a view takes both kinds of inputs ----
    mixed_dir = os.path.join(d, "mixed")
    os.makedirs(mixed_dir)
    NP, K, D = 30, 3, 6
    mixed_in = {"train-embeddings": save("m_tre.npy", rng.standard_normal((NP, K, D)).astype(np.float32)),
                "train-rewards": save("m_trr.npy", rng.standard_normal((NP, K)).astype(np.float32)),
                "test-embeddings": save("m_tee.npy", rng.standard_normal((10, K, D)).astype(np.float32)),
                "test-rewards": save("m_ter.npy", rng.standard_normal((10, K)).astype(np.float32)),
                "train-chosen": save("m_tc.npy", rng.standard_normal((20, D)).astype(np.float32)),
                "train-rejected": save("m_tr.npy", rng.standard_normal((20, D)).astype(np.float32)),
                "test-chosen": save("m_ec.npy", rng.standard_normal((8, D)).astype(np.float32)),
                "test-rejected": save("m_er.npy", rng.standard_normal((8, D)).astype(np.float32))}
    mixed = os.path.join(mixed_dir, "mixed.h5")
    run(pair_import(mixed_in, mixed), 1, 0)
    DV = 5
    view_in = {"train-embeddings": save("mv_tre.npy", rng.standard_normal((NP, K, DV)).astype(np.float32)),
               "train-rewards": mixed_in["train-rewards"],
               "test-embeddings": save("mv_tee.npy", rng.standard_normal((10, K, DV)).astype(np.float32)),
               "test-rewards": mixed_in["test-rewards"],
               "train-chosen": save("mv_tc.npy", rng.standard_normal((20, DV)).astype(np.float32)),
               "train-rejected": save("mv_tr.npy", rng.standard_normal((20, DV)).astype(np.float32)),
               "test-chosen": save("mv_ec.npy", rng.standard_normal((8, DV)).astype(np.float32)),
               "test-rejected": save("mv_er.npy", rng.standard_normal((8, DV)).astype(np.float32))}
    with open(mixed, "rb") as f:
        mixed_before = f.read()
    golden_only = {k: v for k, v in view_in.items() if "embeddings" in k or "rewards" in k}
    pairs_only = {k: v for k, v in view_in.items() if k not in golden_only}
    for what, files, needle in (("golden inputs alone", golden_only, "--train-chosen"),
                                ("pair inputs alone", pairs_only, "--train-embeddings")):
        code, out, err = run(pair_import(files, mixed, ["--view", "v2"]), 2)
        errors = error_lines(err)
        check(code != 0 and len(errors) == 1 and needle in errors[0] and mixed in errors[0],
              f"golden+pairs store, {what}: exit {code}, {errors or err!r}")
        with open(mixed, "rb") as f:
            check(f.read() == mixed_before, f"golden+pairs store, {what}: the store changed")
        check(os.listdir(mixed_dir) == ["mixed.h5"], f"golden+pairs store, {what}: left {os.listdir(mixed_dir)}")
    run(pair_import(view_in, mixed, ["--view", "v2"]), 2, 0)
    with h5py.File(mixed, "r") as f:
        for sp, src_key in (("train", "train-embeddings"), ("test", "test-embeddings")):
            check(np.array_equal(f[f"views/v2/{sp}/embeddings"][...], np.load(view_in[src_key])),
                  f"golden+pairs store: /views/v2/{sp}/embeddings")
            c, r = np.load(view_in[f"{sp}-chosen"]), np.load(view_in[f"{sp}-rejected"])
            check(np.array_equal(f[f"views/v2/pairs/{sp}/chosen"][...], c)
                  and np.array_equal(f[f"views/v2/pairs/{sp}/rejected"][...], r), f"golden+pairs store: /views/v2/pairs/{sp}")
            check(attr_text(f[f"views/v2/pairs/{sp}"].attrs["content_digest"]) == digest(c, r),
                  f"golden+pairs store: /views/v2/pairs/{sp} digest")
    code, out, err = run([RMENS, "inspect", mixed, "--verify"], 2, 0)
    v = verify_lines(out)
    check(all(v.get(g, "").endswith("matches") for g in ("/views/v2/train", "/views/v2/test", "/views/v2/pairs/train",
                                                          "/views/v2/pairs/test", "/pairs/train", "/train")),
          f"golden+pairs store: --verify:\n{out}")

    # ---- 8. training on the views of the pair store ----
    def sets(*kv):
        return [a for s in kv for a in ("--set", s)]

    run1, run2 = os.path.join(d, "run_inputs"), os.path.join(d, "run_views")
    results = run_all([
        ([RMENS, "run", CFG, *sets(f"store={store}", f"output={run1}", 'model.inputs=["default","log_length"]'), "--force"], 2, 0),
        ([RMENS, "run", CFG, *sets(f"store={store}", f"output={run2}", 'ensemble.views=["default","proj64"]',
                                   "ensemble.members=4"), "--force"], 2, 0)])
    for (code, out, err), what in zip(results, ("model.inputs", "ensemble.views")):
        check(code == 0, f"rmens run with {what} on a pair store: exit {code}\n{err[-2000:]}")
    members = os.path.join(run1, "members.h5")
    if check(os.path.exists(members), "model.inputs run: no members.h5"):
        with h5py.File(members, "r") as f:
            g = f.get("inputs")
            if check(g is not None, "members.h5: no /inputs"):
                check([attr_text(v) for v in g.attrs["views"]] == ["default", "log_length"],
                      f"members.h5 /inputs views {list(g.attrs['views'])}")
                check(int(g.attrs["dim"]) == 514, f"members.h5 /inputs dim {g.attrs['dim']}")
                ll = np.concatenate([np.log1p(np.load(f"{HH}/train_{k}_length.npy").astype(np.float64)).astype(np.float32)
                                     for k in KINDS]).astype(np.float64)
                check(np.allclose(g["mean"][512:], ll.mean(axis=0), rtol=1e-6)
                      and np.allclose(g["std"][512:], ll.std(axis=0), rtol=1e-5),
                      f"/inputs mean/std of log_length {g['mean'][512:]}, {g['std'][512:]}; numpy {ll.mean(0)}, {ll.std(0)}")
    for r in (run1, run2):
        path = os.path.join(r, "results.json")
        if check(os.path.exists(path), f"{r}: no results.json"):
            acc = json.load(open(path))["pairs_test"]["aggregators"]["mean"]["accuracy"]
            check(0.55 < acc <= 1.0, f"{r}: pairs_test mean accuracy {acc}")
            print(f"{os.path.basename(r)}: pairs_test mean accuracy {acc:.4f}")
    members = os.path.join(run2, "members.h5")
    if check(os.path.exists(members), "ensemble.views run: no members.h5"):
        with h5py.File(members, "r") as f:
            views = [attr_text(f[f"member_{m}"].attrs.get("view")) for m in range(4)]
            check(views == ["default", "proj64", "default", "proj64"], f"ensemble.views members' views {views}")

finish("store_pair_views")
