#!/usr/bin/python3
"""The bad-input table (issue 8): every verb fed the wrong thing.

Each case runs rmens (under mpirun where the verb is parallel) and asserts: a non-zero
exit, within a time bound (no hang); exactly one "error:" line on stderr; that line holds
the expected fragment (naming the file, dataset, key or line); and that nothing new was
written into the case's output directory (no partial files, no temporaries).
Environment: RMENS, MPIRUN, SRCDIR (set by ctest)."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RMENS = os.environ["RMENS"]
MPIRUN = os.environ["MPIRUN"]
SRC = os.environ["SRCDIR"]
DEMO = os.path.join(SRC, "configs", "demo.cfg")
WORK = tempfile.mkdtemp(prefix="rmens_bad_")
TIME_LIMIT = 120
SMALL = ["synth.train_prompts=120", "synth.train_responses=4", "synth.test_prompts=12", "synth.test_responses=8",
         "synth.dim=16", "synth.bench_pairs=20", "model.hidden=[8]", "train.epochs=2", "train.batch_size=32",
         "pairs.count=300", "ensemble.members=2", "parallel.blas_threads=1"]


def sets(*extra):
    out = []
    for kv in list(SMALL) + list(extra):
        out += ["--set", kv]
    return out


def path(*parts):
    return os.path.join(WORK, *parts)


def run(args, np_=None, timeout=TIME_LIMIT):
    cmd = ([MPIRUN, "--oversubscribe", "--bind-to", "none", "-n", str(np_), RMENS] if np_ else [RMENS]) + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- fixtures
def make_fixtures():
    good = path("good.h5")
    r = run(["synth", DEMO] + sets(f"store={good}"))
    assert r.returncode == 0, r.stderr
    r = run(["train", DEMO] + sets(f"store={good}", f"output={path('trained')}"), np_=2)
    assert r.returncode == 0, r.stderr + r.stdout
    wide = path("wide.h5")
    assert run(["synth", DEMO] + sets(f"store={wide}", "synth.dim=20")).returncode == 0

    def copy_with(name, edit):
        p = path(name)
        shutil.copy(good, p)
        with h5py.File(p, "r+") as f:
            edit(f)
        return p

    def nan_emb(f):
        f["train/embeddings"][7, 1, 3] = np.nan

    def inf_rew(f):
        f["test/rewards"][2, 5] = np.inf

    def drop_test(f):
        del f["test"]

    def flat_emb(f):
        e = f["train/embeddings"][()]
        del f["train/embeddings"]
        f["train/embeddings"] = e.reshape(e.shape[0], -1)

    def test_dim(f):
        e = f["test/embeddings"][()]
        del f["test/embeddings"]
        f["test/embeddings"] = e[:, :, :15]

    def wrong_format(f):
        f.attrs["format"] = "something-else"

    def int_rewards(f):
        r = f["train/rewards"][()]
        del f["train/rewards"]
        f["train/rewards"] = r.astype(np.int32)

    copy_with("nan.h5", nan_emb)
    copy_with("inf.h5", inf_rew)
    copy_with("notest.h5", drop_test)
    copy_with("flat.h5", flat_emb)
    copy_with("testdim.h5", test_dim)
    copy_with("format.h5", wrong_format)
    copy_with("intrew.h5", int_rewards)
    data = open(good, "rb").read()
    open(path("truncated.h5"), "wb").write(data[: len(data) // 2])
    open(path("text.h5"), "w").write("this is not HDF5\n")
    members = open(path("trained", "members.h5"), "rb").read()
    open(path("members_truncated.h5"), "wb").write(members[: len(members) // 3])

    # .npy inputs
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((10, 3, 8)).astype(np.float32)
    rew = rng.standard_normal((10, 3, 1)).astype(np.float32)
    np.save(path("emb.npy"), emb)
    np.save(path("rew.npy"), rew)
    np.save(path("rew_short.npy"), rew[:9])
    np.save(path("emb_int.npy"), emb.astype(np.int64))
    np.save(path("emb_fortran.npy"), np.asfortranarray(emb))
    np.save(path("emb_2d.npy"), emb.reshape(10, -1))
    bad = emb.copy()
    bad[3, 1, 2] = np.nan
    np.save(path("emb_nan.npy"), bad)
    raw = open(path("emb.npy"), "rb").read()
    open(path("emb_truncated.npy"), "wb").write(raw[:-17])
    open(path("emb_magic.npy"), "wb").write(b"\x93NUMPX" + raw[6:])
    np.save(path("emb_test_dim.npy"), rng.standard_normal((4, 5, 6)).astype(np.float32))
    np.save(path("rew_test.npy"), rng.standard_normal((4, 5, 1)).astype(np.float32))
    open(path("bad_syntax.cfg"), "w").write("seed = 1;\ntrain = {\n  epochs = 3;\n  batch_size = = 4;\n};\n")
    open(path("bad_type.cfg"), "w").write("seed = 1;\n\ntrain = { epochs = \"ten\"; };\n")
    open(path("bad_key.cfg"), "w").write("ensemble = { member = 3; };\n")


def imp(emb="emb.npy", rew="rew.npy", temb="emb.npy", trew="rew.npy", out="imported.h5", extra=()):
    return ["import", "--train-embeddings", path(emb), "--train-rewards", path(rew), "--test-embeddings", path(temb),
            "--test-rewards", path(trew), "--output", path("out", out)] + list(extra)


def train_on(store, np_=2, *extra):
    return (["train", DEMO] + sets(f"store={path(store)}", f"output={path('out')}", *extra), np_)


def eval_on(store, members_dir="trained", np_=2, *extra):
    return (["eval", DEMO] + sets(f"store={path(store)}", f"output={path('out')}", *extra), np_, members_dir)


# (name, argv, ranks or None, expected fragment)
def cases():
    c = []
    add = lambda name, argv, np_, frag: c.append((name, argv, np_, frag))
    # configuration
    add("config syntax error", ["train", path("bad_syntax.cfg")], 2, "bad_syntax.cfg:4: syntax error")
    add("config wrong type", ["train", path("bad_type.cfg")], 2, "bad_type.cfg:3: 'train.epochs' expects an integer, got a string")
    add("config unknown key", ["train", path("bad_key.cfg")], 2, "unknown key 'ensemble.member' (did you mean 'ensemble.members'?)")
    add("config missing file", ["train", path("nope.cfg")], 2, "nope.cfg: cannot read config file")
    add("override unknown key", ["synth", DEMO, "--set", "synth.dimm=3"], None, "unknown key 'synth.dimm' (did you mean 'synth.dim'?)")
    add("override out of range", ["synth", DEMO, "--set", "synth.dim=0"], None, "'synth.dim' = 0 is out of range")
    add("override negative batch", train_on("good.h5", 2, "train.batch_size=-5")[0], 2, "'train.batch_size' = -5 is out of range")
    add("learning rate zero", train_on("good.h5", 2, "train.learning_rate=0")[0], 2, "'train.learning_rate' = 0 is out of range (0, 1000]")
    add("learning rate NaN word", train_on("good.h5", 2, "train.learning_rate=nan")[0], 2, "'train.learning_rate' expects a number, got a string")
    add("unknown objective", train_on("good.h5", 2, "model.objective=ranknet")[0], 2, "'model.objective' = \"ranknet\" is not one of bt|clf")
    add("unknown precision (train)", train_on("good.h5", 2, "model.precision=fp16")[0], 2, "'model.precision' = \"fp16\" is not one of fp32|bf16|auto")
    add("unknown precision (eval)", eval_on("good.h5", "trained", 2, "model.precision=int8")[0], 2, "'model.precision' = \"int8\" is not one of fp32|bf16|auto")
    add("hidden width zero", train_on("good.h5", 2, "model.hidden=[8,0]")[0], 2, "'model.hidden' = 0 is out of range")
    add("override without value", ["train", DEMO, "--set", "train.epochs"], 2, "expected key=value")
    add("boolean as integer", ["eval", DEMO, "--set", "eval.save_predictions=1"], 2, "'eval.save_predictions' expects a boolean")
    add("unknown option", ["train", DEMO, "--frobnicate"], None, "unknown option '--frobnicate'")
    add("missing config argument", ["eval"], None, "missing CONFIG")
    add("batch larger than pairs", train_on("good.h5", 2, "train.batch_size=5000")[0], 2, "train.batch_size = 5000 is larger than the 240 training pairs")
    # studies (issue 13): annotator, comparison design, training rules
    add("label flip above 0.5", train_on("good.h5", 2, "pairs.label_flip=0.7")[0], 2, "'pairs.label_flip' = 0.7 is out of range [0, 0.5]")
    add("reward scale unknown word", train_on("good.h5", 2, "pairs.reward_scale=wide")[0], 2, "'pairs.reward_scale' = \"wide\": expected \"std\" or a number > 0")
    add("reward scale zero", train_on("good.h5", 2, "pairs.reward_scale=0")[0], 2, "'pairs.reward_scale' = 0 is out of range: must be > 0")
    add("unknown sampling", train_on("good.h5", 2, "pairs.sampling=pairs")[0], 2, "'pairs.sampling' = \"pairs\" is not one of items|prompts")
    add("unknown candidates", train_on("good.h5", 2, "pairs.candidates=middle")[0], 2, "'pairs.candidates' = \"middle\" is not one of all|random_two|middle_two|extremes")
    add("per_prompt does not divide count", train_on("good.h5", 2, "pairs.sampling=prompts", "pairs.per_prompt=7")[0], 2, "pairs.count = 300 is not a multiple of pairs.per_prompt = 7")
    add("more prompts than the split", train_on("good.h5", 2, "pairs.sampling=prompts", "pairs.per_prompt=1")[0], 2, "pairs.count / pairs.per_prompt = 300 prompts, but the train split has 120")
    add("per_prompt above distinct pairs", train_on("good.h5", 2, "pairs.sampling=prompts", "pairs.per_prompt=10", "pairs.mode=within_prompt")[0], 2, "pairs.per_prompt = 10 is more than the 6 distinct within_prompt pairs")
    add("unknown stop rule", train_on("good.h5", 2, "train.stop_rule=plateau")[0], 2, "'train.stop_rule' = \"plateau\" is not one of no_improvement|rise")
    add("unknown minibatches", train_on("good.h5", 2, "train.minibatches=random")[0], 2, "'train.minibatches' = \"random\" is not one of epoch|draw")
    add("learning rate huge", train_on("good.h5", 2, "train.learning_rate=1e30")[0], 2, "'train.learning_rate' = 1e+30 is out of range (0, 1000]")
    add("calibration pairs negative", eval_on("good.h5", "trained", 2, "eval.calibration_pairs=-1")[0], 2, "'eval.calibration_pairs' = -1 is out of range [0, 1e+09]")
    # stores
    add("store missing", train_on("missing.h5")[0], 2, "missing.h5")
    add("store not HDF5", train_on("text.h5")[0], 2, "text.h5")
    add("store truncated", train_on("truncated.h5")[0], 2, "truncated.h5")
    add("store wrong format attribute", train_on("format.h5")[0], 2, "format.h5")
    add("store missing /test", train_on("notest.h5")[0], 2, "/test")
    add("store embeddings wrong rank", train_on("flat.h5")[0], 2, "/train/embeddings")
    add("store test dim differs", train_on("testdim.h5")[0], 2, "/test/embeddings")
    add("store integer rewards", train_on("intrew.h5")[0], 2, "/train/rewards")
    add("store NaN in train embeddings", train_on("nan.h5")[0], 2, "/train/embeddings")
    add("store Inf in test rewards", eval_on("inf.h5")[0], 2, "/test/rewards")
    add("inspect missing file", ["inspect", path("missing.h5")], None, "missing.h5")
    add("inspect NaN store", ["inspect", path("nan.h5")], None, "NaN")
    add("synth dims overflow", ["synth", DEMO] + sets(f"store={path('huge.h5')}", "synth.train_prompts=1000000000", "synth.train_responses=1000000", "synth.dim=1000000"), None, "huge.h5: the train split (1000000000 x 1000000 x 1000000) is too large to address")
    add("synth larger than the disk", ["synth", DEMO] + sets(f"store={path('big.h5')}", "synth.train_prompts=100000000", "synth.dim=100000"), None, "are free in")
    add("synth existing store", ["synth", DEMO] + sets(f"store={path('good.h5')}"), None, "good.h5: output exists (use --force")
    # import
    add("npy truncated", imp(emb="emb_truncated.npy"), None, "emb_truncated.npy")
    add("npy bad magic", imp(emb="emb_magic.npy"), None, "emb_magic.npy")
    add("npy Fortran order", imp(emb="emb_fortran.npy"), None, "emb_fortran.npy")
    add("npy integer dtype", imp(emb="emb_int.npy"), None, "emb_int.npy")
    add("npy wrong rank", imp(emb="emb_2d.npy"), None, "emb_2d.npy")
    add("npy shapes disagree", imp(rew="rew_short.npy"), None, "rew_short.npy")
    add("npy NaN", imp(emb="emb_nan.npy"), None, "emb_nan.npy")
    add("npy splits differ in dim", imp(temb="emb_test_dim.npy", trew="rew_test.npy"), None, "emb_test_dim.npy")
    add("npy missing file", imp(emb="nothing.npy"), None, "nothing.npy")
    # (tests run as root, so permissions do not stop writes: a path under a file does)
    add("import unwritable output", imp(out="../text.h5/x.h5"), None, "text.h5/x.h5")
    # training and evaluation
    add("ranks do not fit", train_on("good.h5", 3, "parallel.ranks_per_member=2")[0], 3, "parallel.ranks_per_member = 2 does not divide the 3 ranks")
    add("output not writable", ["train", DEMO] + sets(f"store={path('good.h5')}", f"output={path('text.h5', 'run')}"), 2, "text.h5/run")
    add("members dim differs from store", eval_on("wide.h5")[0], 2, "members have dim 16 but the store has dim 20")
    add("members file missing", ["eval", DEMO] + sets(f"store={path('good.h5')}", f"output={path('empty_run')}"), 2, "members.h5")
    add("members file truncated", ["eval", DEMO] + sets(f"store={path('good.h5')}", f"output={path('bad_members')}"), 2, "members.h5")
    add("members file existing without --force", train_on("good.h5", 2)[0], 2, "already exists (use --force")
    integrity_cases(add)
    views_cases(add)
    return c


# ---------------------------------------------------------------- integrity (issue 18)
# Corrupted chunks (one byte flipped inside a chunk, found with h5py's get_chunk_info),
# an edited content digest and a filter this HDF5 lacks. The small stores hold one chunk
# per dataset, so the prompt range named is the whole split.
INTEGRITY_NEEDS_MEMBERS = ("store corrupt chunk in test rewards",)


def make_integrity_fixtures():
    good = path("good.h5")

    def corrupt(name, dataset, offset):
        shutil.copy(good, path(name))
        with h5py.File(good, "r") as f:
            at = f[dataset].id.get_chunk_info(0).byte_offset + offset
        with open(path(name), "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x01]))

    corrupt("corrupt_train.h5", "train/embeddings", 999)
    corrupt("corrupt_test.h5", "test/rewards", 13)
    shutil.copy(good, path("digest.h5"))
    with h5py.File(path("digest.h5"), "r+") as f:
        f["bench"].attrs["content_digest"] = "rmens-sum64-v1:0123456789abcdef"
    with h5py.File(good, "r") as f, h5py.File(path("lzf.h5"), "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for name in ("train/embeddings", "train/rewards", "test/embeddings", "test/rewards"):
            g.create_dataset(name, data=f[name][...], compression="lzf" if name == "test/embeddings" else None)


def integrity_cases(add):
    add("store corrupt chunk in train embeddings", train_on("corrupt_train.h5")[0], 2,
        "/train/embeddings: Fletcher-32 checksum mismatch in prompts [0, 120)")
    add("store corrupt chunk in test rewards", eval_on("corrupt_test.h5")[0], 2,
        "/test/rewards: Fletcher-32 checksum mismatch in prompts [0, 12)")
    add("inspect corrupt chunk", ["inspect", path("corrupt_test.h5")], None, "/test/rewards: Fletcher-32 checksum mismatch")
    add("verify corrupt chunk (2 ranks)", ["inspect", "--verify", path("corrupt_train.h5")], 2,
        "corrupt_train.h5: /train/embeddings: Fletcher-32 checksum mismatch in prompts [0, 120)")
    add("verify edited digest", ["inspect", "--verify", path("digest.h5")], None,
        "digest.h5: /bench: content digest mismatch (recorded rmens-sum64-v1:0123456789abcdef")
    add("verify NaN store", ["inspect", "--verify", path("nan.h5")], 2, "nan.h5: invalid store: 1 NaN/Inf values in /train")
    add("store with a filter HDF5 lacks", train_on("lzf.h5")[0], 2, "/test/embeddings: written with HDF5 filter 32000 (lzf)")
    add("verify option misspelt", ["inspect", "--verfy", path("good.h5")], None, "unknown option '--verfy'")


# ---------------------------------------------------------------- store views (issue 16)
# A store with views view1 (D 16) and view2 (D 12); copies with a view of another N or K.
def make_views_fixtures():
    views = path("views.h5")
    assert run(["synth", DEMO] + sets(f"store={views}", "synth.views=2", "synth.view_dims=[16,12]")).returncode == 0

    def reshaped(name, cut):
        shutil.copy(views, path(name))
        with h5py.File(path(name), "r+") as f:
            e = f["views/view1/train/embeddings"][()]
            del f["views/view1/train/embeddings"]
            f["views/view1/train/embeddings"] = cut(e)

    reshaped("views_n.h5", lambda e: e[:-1])
    reshaped("views_k.h5", lambda e: e[:, :-1])
    with h5py.File(views, "r") as f:
        np.save(path("view_emb_train.npy"), np.ones(f["train/embeddings"].shape[:2] + (6,), np.float32))
        np.save(path("view_emb_test.npy"), np.ones(f["test/embeddings"].shape[:2] + (6,), np.float32))
        np.save(path("view_rew_train.npy"), f["train/rewards"][()] + 1)
        np.save(path("view_rew_test.npy"), f["test/rewards"][()])
        np.save(path("view_bench.npy"), np.ones((f["bench/chosen"].shape[0], 6), np.float32))


def views_cases(add):
    two = 'ensemble.views=["default","view1"]'
    add("ensemble.views unknown view", train_on("views.h5", 2, 'ensemble.views=["view1","nope"]')[0], 2,
        "views.h5: no view 'nope' (the store's views: default, view1, view2)")
    add("ensemble.views not strings", train_on("views.h5", 2, "ensemble.views=[1]")[0], 2, "'ensemble.views' entry 0 expects a string")
    add("ensemble.views on a version 1 store", train_on("good.h5", 2, two)[0], 2, "good.h5: no view 'view1' (the store's views: default)")
    add("store view with another N", train_on("views_n.h5", 2, two)[0], 2,
        "view 'view1': /views/view1/train/embeddings has 119 prompts x 4 responses but /train/embeddings has 120 x 4")
    add("store view with another K", train_on("views_k.h5", 2, two)[0], 2,
        "view 'view1': /views/view1/train/embeddings has 120 prompts x 3 responses but /train/embeddings has 120 x 4")
    add("synth.view_dims of another length", ["synth", DEMO] + sets(f"store={path('out', 'v.h5')}", "synth.views=2", "synth.view_dims=[8]"),
        None, "synth.view_dims has 1 entries but synth.views = 2")
    add("active with ensemble.views", ["active", DEMO] + sets(f"store={path('views.h5')}", f"output={path('out')}", two), 2,
        "rmens active does not support ensemble.views")
    add("import --view rewards differ", ["import", "--train-embeddings", path("view_emb_train.npy"), "--train-rewards",
        path("view_rew_train.npy"), "--test-embeddings", path("view_emb_test.npy"), "--test-rewards", path("view_rew_test.npy"),
        "--bench-chosen", path("view_bench.npy"), "--bench-rejected", path("view_bench.npy"), "--output", path("views.h5"), "--view", "x"],
        2, "view_rew_train.npy differ from store " + path("views.h5") + " /train/rewards at prompt 0, response 0")


def listing(d):
    """Files under d, less the run directory's lock file (rmens.lock: kept on purpose, its
    empty or stale record is how a crashed holder is recognised; see include/rmens/lock.h)."""
    out = set()
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            if name != "rmens.lock":
                out.add(os.path.relpath(os.path.join(root, name), d))
    return out


def main():
    make_fixtures()
    make_integrity_fixtures()
    make_views_fixtures()
    failures = 0
    table = cases()
    for name, argv, np_, fragment in table:
        # Each case gets a fresh output directory seeded with what it needs.
        out = path("out")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        if "members dim differs" in name or "Inf in test rewards" in name or "existing without --force" in name \
                or name in INTEGRITY_NEEDS_MEMBERS:
            shutil.copy(path("trained", "members.h5"), out)
        for d in ("empty_run", "bad_members"):
            os.makedirs(path(d), exist_ok=True)
        shutil.copy(path("members_truncated.h5"), path("bad_members", "members.h5"))
        before = {d: listing(path(d)) for d in ("out", "empty_run", "bad_members")}
        top_before = set(os.listdir(WORK))
        try:
            r = run(argv, np_)
        except subprocess.TimeoutExpired:
            print(f"FAIL {name}: no exit within {TIME_LIMIT}s")
            failures += 1
            continue
        errors = [l for l in r.stderr.splitlines() if "error:" in l]
        problems = []
        if r.returncode == 0:
            problems.append("exit code 0")
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        if not any(fragment in l for l in errors):
            problems.append(f"fragment {fragment!r} not in the error")
        after = {d: listing(path(d)) for d in before}
        for d in before:
            if after[d] != before[d]:
                problems.append(f"{d}/ changed: {sorted(after[d] ^ before[d])}")
        if set(os.listdir(WORK)) != top_before:
            problems.append(f"new files: {sorted(set(os.listdir(WORK)) ^ top_before)}")
        if problems:
            failures += 1
            print(f"FAIL {name}: {'; '.join(problems)}\n  stderr: {r.stderr.strip()[:600]}")
        else:
            print(f"ok   {name} (exit {r.returncode}): {errors[0].strip()[:150]}")
    print(f"{len(table) - failures}/{len(table)} bad inputs handled")
    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
