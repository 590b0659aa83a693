#!/usr/bin/python3
"""The bad-input table (issue 8): every verb fed the wrong thing.

Each case runs rmens (under mpirun where the verb is parallel) and asserts: a non-zero
exit, within a time bound (no hang); exactly one "error:" line on stderr; that line holds
the expected fragment (naming the file, dataset, key or line); and that nothing new was
written into the case's output directory (no partial files, no temporaries), nor beside
it, and that files a case names as to be kept (a store, a link's target) are unchanged.
Issue 18 added the keys and verbs since issue 8 (comparison design and training rules,
model families and gbdt.*, precision, active labelling, store views and import --view),
h5py-written stores (a corrupt gzip chunk, float64, a group for a dataset, an empty
split), big-endian and structured .npy files, sweep files (each error names its line),
symbolic links (a symlinked run directory is followed, a dangling one refused, the lock
file never opened through a link, outputs replace a link rather than write through it)
and a read-only mount (a private mount namespace, as full_disk.sh). After the table,
positive checks: gzip, odd-chunk and one-element-chunk h5py stores give the figures of
the original store; the symlinked outputs behave as said.
The table runs in BAD_INPUTS_JOBS worker processes at once (default 5): almost all of a
case is process start-up and MPI's launch, waiting rather than computing (mpirun alone
waits ~2 s before it ends after a rank exits with an error), so one at a time left the
cores idle; on 2 cores 5 workers took 53-88 s where 3 took 101-110 s, for the same CPU
time. Each worker builds its own fixtures in its own scratch directory and takes the
next case of the table until none is left, so every check above holds per case
as when they ran one by one (the case's output directory, its scratch directory, the files
it must keep are its worker's alone); the results are printed in table order.
Environment: RMENS, MPIRUN, SRCDIR (set by ctest); BAD_INPUTS_ONLY=TEXT runs the cases
whose name holds TEXT (for editing the table; the positive checks always run);
BAD_INPUTS_JOBS=N the number of workers (1: one after the other)."""
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
WORK = None  # the scratch directory of this worker (run_worker)
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


RO = "@read-only"  # argv[0] of a case run with path("ro") bind-mounted read-only


def run(args, np_=None, timeout=TIME_LIMIT):
    args = list(args)
    prefix = []
    if args and args[0] == RO:
        # a private mount namespace (as tests/reliability/full_disk.sh): the bind mount is
        # gone when the command ends
        prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mount --bind -o ro "$0" "$0" && exec "$@"', path("ro")]
        args = args[1:]
    if args and args[0] == "@python":
        return subprocess.run(prefix + [sys.executable] + args[1:], capture_output=True, text=True, timeout=timeout)
    cmd = ([MPIRUN, "--oversubscribe", "--bind-to", "none", "-n", str(np_), RMENS] if np_ else [RMENS]) + args
    return subprocess.run(prefix + cmd, capture_output=True, text=True, timeout=timeout)


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
    more_cases(add)
    kinds_cases(add)
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


# ---------------------------------------------------------------- issue 18, part II
# The keys and verbs added since issue 8 (comparison design, training rules, model families,
# precision, active labelling, views), h5py-written stores, foreign .npy layouts, sweep files,
# symbolic links and a read-only mount. Most run on one rank (no mpirun): the checks are
# rank-independent and the table stays quick.
ACTIVE = ["ensemble.members=3", "active.pool=2000", "active.initial=200", "active.batch=100", "active.rounds=2"]
SETUP = {}   # case name -> function run after the case's out/ is made
INTACT = {}  # case name -> files that must be byte-for-byte unchanged after the case


def digest(p):
    import hashlib
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def h5py_copy(src, dst, **create):
    """The store src rewritten by h5py, its 2-D and 3-D datasets created with `create`
    (compression, chunks: a function of the shape)."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        def copy(name, obj):
            if isinstance(obj, h5py.Dataset):
                kw = {}
                if obj.ndim >= 2:
                    kw = {k: (v(obj.shape) if callable(v) else v) for k, v in create.items()}
                g.create_dataset(name, data=obj[()], **kw)
            else:
                g.require_group(name)
            for k, v in obj.attrs.items():
                g[name].attrs[k] = v
        f.visititems(copy)
        for k, v in f.attrs.items():
            g.attrs[k] = v


# h5py-written layouts that must read correctly: checked by a successful train + eval whose
# figures equal those of the original store (positive_checks below)
GOOD_LAYOUTS = {
    "gzip.h5": dict(compression="gzip", compression_opts=4, shuffle=True, chunks=lambda s: tuple(n // 3 + 1 for n in s)),
    "odd_chunks.h5": dict(compression="gzip", chunks=lambda s: (7,) + (3,) * (len(s) - 1)),
    "unit_chunks.h5": dict(chunks=lambda s: (1,) * len(s)),
}


def make_more_fixtures():
    good = path("good.h5")
    for name, create in GOOD_LAYOUTS.items():
        h5py_copy(good, path(name), **create)
    # a gzip store with a damaged deflate stream in one chunk (h5py writes no checksum)
    shutil.copy(path("gzip.h5"), path("gzip_corrupt.h5"))
    with h5py.File(path("gzip.h5"), "r") as f:
        info = f["train/embeddings"].id.get_chunk_info(1)
    with open(path("gzip_corrupt.h5"), "r+b") as f:
        f.seek(info.byte_offset + info.size // 2)
        b = f.read(4)
        f.seek(info.byte_offset + info.size // 2)
        f.write(bytes(x ^ 0xFF for x in b))

    def edited(name, edit):
        shutil.copy(good, path(name))
        with h5py.File(path(name), "r+") as f:
            edit(f)

    def f64(f):
        e = f["train/embeddings"][()]
        del f["train/embeddings"]
        f["train/embeddings"] = e.astype(np.float64)

    def group(f):
        del f["test/rewards"]
        f.create_group("test/rewards")

    def empty(f):
        e, r = f["test/embeddings"][()], f["test/rewards"][()]
        del f["test/embeddings"], f["test/rewards"]
        f["test/embeddings"], f["test/rewards"] = e[:0], r[:0]

    edited("float64.h5", f64)
    edited("group.h5", group)
    edited("empty_test.h5", empty)
    # .npy: big-endian (numpy writes '>f4'), a structured dtype, an unknown version, a directory
    emb = np.load(path("emb.npy"))
    np.save(path("emb_be.npy"), emb.astype(">f4"))
    np.save(path("rew_be.npy"), np.load(path("rew.npy")).astype(">f8"))
    np.save(path("emb_struct.npy"), np.zeros((10, 3), dtype=[("a", "<f4"), ("b", "<f4")]))
    raw = bytearray(open(path("emb.npy"), "rb").read())
    raw[6] = 9
    open(path("emb_v9.npy"), "wb").write(bytes(raw))
    os.makedirs(path("emb_dir.npy"), exist_ok=True)
    # views: a view of another prompt count, a bench of another dimension
    with h5py.File(path("views.h5"), "r") as f:
        n, k = f["train/embeddings"].shape[:2]
        np.save(path("view_emb_short.npy"), np.ones((n - 1, k, 6), np.float32))
        np.save(path("view_rew_short.npy"), f["train/rewards"][:-1])
        np.save(path("view_rew_same.npy"), f["train/rewards"][()])
        np.save(path("view_bench7.npy"), np.ones((f["bench/chosen"].shape[0], 7), np.float32))
    # sweep files (jobs/slurm/sweep.py): each error names its line
    head = f"base configs/demo.cfg\noutput {path('campaign')}\n"
    sweeps = {
        "unbalanced.sweep": head + "set train.epochs = 3\ngrid ensemble.members = 1, [2\n",
        "statement.sweep": head + "sett train.epochs = 3\n",
        "no_equals.sweep": head + "set train.epochs 3\n",
        "unknown_key.sweep": head + "\ngrid train.epochz = 1, 2\n",
        "empty_value.sweep": head + "grid train.epochs = 1,,2\n",
        "synth_axis.sweep": head + "grid synth.dim = 8, 16\n",
        "repeated.sweep": head + "set train.epochs = 1\ngrid train.epochs = 1, 2\n",
        "variant_key.sweep": head + "variant kind = a\nvariant kind = b: train.epochz = 3\n",
        "variant_twice.sweep": head + "variant kind = a\nvariant kind = a: train.epochs = 3\n",
    }
    for name, text in sweeps.items():
        open(path(name), "w").write(text)
    # symbolic links: a dangling output directory; a store behind a link
    os.symlink(path("nowhere"), path("dangling_run"))
    os.symlink(good, path("store_link.h5"))
    shutil.copy(good, path("victim.h5"))
    # a read-only mount: path("ro") is bind-mounted read-only in the cases that name it
    os.makedirs(path("ro", "run"))
    shutil.copy(path("trained", "members.h5"), path("ro", "run"))
    # an active result (rounds 0) for the overwrite case
    r = run(["active", DEMO] + sets(f"store={good}", f"output={path('active_run')}", *ACTIVE, "active.rounds=0"))
    assert r.returncode == 0, r.stderr


def more_cases(add):
    one = lambda *extra: ["train", DEMO] + sets(f"store={path('good.h5')}", f"output={path('out')}", *extra)
    act = lambda *extra: ["active", DEMO] + sets(f"store={path('good.h5')}", f"output={path('out')}", *ACTIVE, *extra)
    # comparison design and training rules
    add("unknown val_split", one("train.val_split=members"), None, "'train.val_split' = \"members\" is not one of pairs|entries")
    add("val_fraction above 0.9", one("train.val_fraction=0.95"), None, "'train.val_fraction' = 0.95 is out of range [0, 0.9]")
    add("unknown pairs.mode", one("pairs.mode=both"), None, "'pairs.mode' = \"both\" is not one of cross_prompt|within_prompt")
    add("both_orders as integer", one("pairs.both_orders=1"), None, "'pairs.both_orders' expects a boolean (true/false), got an integer")
    add("per_prompt negative", one("pairs.per_prompt=-1"), None, "'pairs.per_prompt' = -1 is out of range [0, 1e+09]")
    # 0 means every pair of a prompt, which only within-prompt pairs have
    add("per_prompt zero across prompts", one("pairs.sampling=prompts", "pairs.per_prompt=0", "pairs.count=0"), None,
        "pairs.per_prompt = 0 (all pairs of a prompt) needs pairs.mode = \"within_prompt\"")
    add("count zero without prompts", one("pairs.count=0"), None, "pairs.count = 0 (every prompt) needs pairs.sampling = \"prompts\"")
    add("per_prompt above the extremes' one pair", one("pairs.sampling=prompts", "pairs.mode=within_prompt", "pairs.candidates=extremes",
        "pairs.per_prompt=2", "pairs.count=240"), None, "pairs.per_prompt = 2 is more than the 1 distinct within_prompt pairs a prompt has with 2 candidate(s)")
    add("patience negative", one("train.patience=-1"), None, "'train.patience' = -1 is out of range [0, 1e+06]")
    add("unknown ensemble.data", one("ensemble.data=jackknife"), None, "'ensemble.data' = \"jackknife\" is not one of full|bootstrap")
    add("label flip negative", one("pairs.label_flip=-0.1"), None, "'pairs.label_flip' = -0.1 is out of range [0, 0.5]")
    add("annotator beta a word", one("pairs.annotator_beta=x"), None, "'pairs.annotator_beta' expects a number, got a string")
    add("weight decay negative", one("train.weight_decay=-1"), None, "'train.weight_decay' = -1 is out of range [0, 1000]")
    add("restore_best a word", one("train.restore_best=yes"), None, "'train.restore_best' expects a boolean (true/false), got a string")
    # model families
    add("unknown model.family", one("model.family=forest"), None, "'model.family' = \"forest\" is not one of mlp|gbdt")
    add("unknown ensemble.families entry", one('ensemble.families=["mlp","trees"]'), None, "'ensemble.families' = \"trees\" is not one of mlp|gbdt")
    add("ensemble.families not strings", one("ensemble.families=[1]"), None, "'ensemble.families' entry 0 expects a string, got an integer")
    for key, value, frag in (("gbdt.eta", "2", "= 2 is out of range [1e-06, 1]"), ("gbdt.max_depth", "0", "= 0 is out of range [1, 30]"),
                             ("gbdt.subsample", "0", "= 0 is out of range [1e-06, 1]"), ("gbdt.colsample", "1.5", "= 1.5 is out of range [1e-06, 1]"),
                             ("gbdt.lambda", "-1", "= -1 is out of range [0, 1e+09]"), ("gbdt.rounds", "0", "= 0 is out of range [1, 1e+06]"),
                             ("gbdt.tree_method", "exact", "= \"exact\" is not one of hist")):
        add(f"{key} bad", one("model.family=gbdt", f"{key}={value}"), None, f"'{key}' {frag}")
    # precision in the active verb
    add("unknown precision (active)", act("model.precision=fp8"), None, "'model.precision' = \"fp8\" is not one of fp32|bf16|auto")
    # active labelling (the cases of tests/active/bad_inputs.sh, with this table's checks)
    add("active unknown strategy", act("active.strategy=uncertainty"), None, "'active.strategy' = \"uncertainty\" is not one of random|")
    add("active batch zero", act("active.batch=0"), None, "'active.batch' = 0 is out of range [1, 4e+09]")
    add("active batch above the pool", act("active.batch=1900"), None, "active.batch = 1900 is larger than the 1800 pool pairs left after active.initial = 200")
    add("active rounds negative", act("active.rounds=-1"), None, "'active.rounds' = -1 is out of range [0, 1e+06]")
    add("active rounds exhaust the pool", act("active.rounds=30"), None, "active.initial + active.rounds x active.batch = 200 + 30 x 100 is larger than active.pool = 2000")
    add("active pool above distinct pairs", act("active.pool=2000000", "active.initial=100"), None,
        "active.pool = 2000000 is more than the 114960 distinct cross_prompt pairs")
    add("active pool above within-prompt pairs", act("pairs.mode=within_prompt", "active.pool=5000"), None,
        "active.pool = 5000 is more than the 720 distinct within_prompt pairs")
    add("active initial above the pool", act("active.initial=3000"), None, "active.initial = 3000 is larger than active.pool = 2000")
    add("active dopt ridge zero", act("active.dopt_ridge=0"), None, "'active.dopt_ridge' = 0 is out of range [1e-12, 1e+12]")
    add("active initial below a batch", act("active.initial=20"), None, "train.batch_size = 32 is larger than the 16 training pairs of the initial set")
    add("active pool of one", act("active.pool=1"), None, "'active.pool' = 1 is out of range [2, 4e+09]")
    add("active warm_start an integer", act("active.warm_start=2"), None, "'active.warm_start' expects a boolean (true/false), got an integer")
    add("active warm start with trees", act("model.family=gbdt", "active.warm_start=true"), None,
        "active.warm_start: tree members (model.family has \"gbdt\") cannot continue")
    add("active result exists without --force", act("active.rounds=0"), None, "already exists")
    SETUP["active result exists without --force"] = lambda: shutil.copy(path("active_run", "active.h5"), path("out"))
    # views (import --view against the store)
    views = path("views.h5")
    vimp = lambda emb, rew, bench, store, view: (["import", "--train-embeddings", path(emb), "--train-rewards", path(rew),
        "--test-embeddings", path("view_emb_test.npy"), "--test-rewards", path("view_rew_test.npy"), "--bench-chosen", path(bench),
        "--bench-rejected", path("view_bench.npy"), "--output", store, "--view", view])
    add("import --view of another N", vimp("view_emb_short.npy", "view_rew_short.npy", "view_bench.npy", views, "x"), None,
        "view_emb_short.npy has 119 prompts x 4 responses but store " + views + " has 120 x 4 in /train")
    add("import --view bench of another D", vimp("view_emb_train.npy", "view_rew_same.npy", "view_bench7.npy", views, "x"), None,
        "view_bench7.npy: embedding dimension 7 differs from the train embeddings' 6")
    add("import --view that exists", vimp("view_emb_train.npy", "view_rew_same.npy", "view_bench.npy", views, "view1"), None,
        "views.h5: the store has a view 'view1' already")
    add("import --view default", vimp("view_emb_train.npy", "view_rew_same.npy", "view_bench.npy", views, "default"), None,
        "views.h5: the store has a view 'default' already")
    add("import --view invalid name", vimp("view_emb_train.npy", "view_rew_same.npy", "view_bench.npy", views, "a/b"), None,
        "views.h5: invalid view name 'a/b'")
    add("import --view into no store", vimp("view_emb_train.npy", "view_rew_same.npy", "view_bench.npy", path("nostore.h5"), "x"), None,
        "nostore.h5")
    for name in ("import --view of another N", "import --view bench of another D", "import --view that exists",
                 "import --view default", "import --view invalid name"):
        INTACT[name] = [views]
    # h5py-written stores: refused with the reason
    add("gzip store with a corrupt chunk", train_on("gzip_corrupt.h5")[0], 2, "gzip_corrupt.h5: /train/embeddings: H5Dread failed (inflate() failed)")
    add("store float64 embeddings", train_on("float64.h5")[0], None, "float64.h5: /train/embeddings: unsupported dtype 8-byte float")
    add("store rewards a group", train_on("group.h5")[0], None, "group.h5: /test/rewards: H5Dopen2 failed (not a dataset)")
    add("store empty test split", train_on("empty_test.h5")[0], None, "empty_test.h5: /test/embeddings: dimension 0 is zero")
    # .npy layouts: big-endian and structured data refused with the reason (rmens reads the
    # data in place, little-endian; convert with arr.astype('<f4')), Fortran order above
    add("npy big-endian embeddings", imp(emb="emb_be.npy"), None, "emb_be.npy: unsupported dtype '>f4' (expected little-endian float")
    add("npy big-endian rewards", imp(rew="rew_be.npy"), None, "rew_be.npy: unsupported dtype '>f8' (expected little-endian float")
    add("npy structured dtype", imp(emb="emb_struct.npy"), None, "emb_struct.npy: unsupported dtype (descr is not a simple type string")
    add("npy unknown version", imp(emb="emb_v9.npy"), None, "emb_v9.npy: unsupported .npy version 9.0")
    add("npy a directory", imp(emb="emb_dir.npy"), None, "emb_dir.npy: not a regular file")
    # sweep files: the line of the error
    sweep = lambda name, *more: ["@python", os.path.join(SRC, "jobs", "slurm", "sweep.py"), "check", path(name), *more]
    add("sweep unbalanced bracket", sweep("unbalanced.sweep"), None, "unbalanced.sweep:4: unbalanced quotes or brackets in '1, [2'")
    add("sweep unknown statement", sweep("statement.sweep"), None, "statement.sweep:3: unknown statement 'sett'")
    add("sweep set without =", sweep("no_equals.sweep"), None, "no_equals.sweep:3: expected `set key = value`")
    add("sweep unknown key", sweep("unknown_key.sweep", "--rmens", RMENS), None,
        "unknown_key.sweep:4: unknown key 'train.epochz' (did you mean 'train.epochs'?)")
    add("sweep empty value", sweep("empty_value.sweep"), None, "empty_value.sweep:3: empty value in '1,,2'")
    add("sweep synth axis", sweep("synth_axis.sweep"), None, "synth_axis.sweep:3: cannot sweep 'synth.dim'")
    add("sweep repeated key", sweep("repeated.sweep"), None, "repeated.sweep:4: key 'train.epochs' already given on line 3")
    add("sweep unknown key in a variant", sweep("variant_key.sweep", "--rmens", RMENS), None,
        "variant_key.sweep:4: unknown key 'train.epochz' (did you mean 'train.epochs'?)")
    add("sweep variant given twice", sweep("variant_twice.sweep"), None, "variant_twice.sweep:4: variant 'a' of axis 'kind' given twice")
    # symbolic links: a symlinked run directory is followed (positive_checks), a dangling one
    # is refused; the lock file is never opened through a link (it is truncated and
    # rewritten: a planted link would destroy its target); outputs are written to a
    # temporary and renamed, which replaces a link and leaves its target alone
    add("output a dangling symlink", ["train", DEMO] + sets(f"store={path('good.h5')}", f"output={path('dangling_run')}"), None,
        "dangling_run: output is a symbolic link to a missing directory")
    add("lock file a symlink", one(), None, "out/rmens.lock: the run directory's lock file is a symbolic link")
    SETUP["lock file a symlink"] = lambda: os.symlink(path("victim.h5"), path("out", "rmens.lock"))
    INTACT["lock file a symlink"] = [path("victim.h5")]
    add("synth onto a symlinked store", ["synth", DEMO] + sets(f"store={path('store_link.h5')}"), None, "store_link.h5: output exists (use --force")
    INTACT["synth onto a symlinked store"] = [path("good.h5")]
    # a read-only mount
    ro_run = path("ro", "run")
    add("read-only: train into a new directory", [RO, "train", DEMO] + sets(f"store={path('good.h5')}", f"output={path('ro', 'new')}"), None,
        f"cannot create directory '{path('ro', 'new')}': Read-only file system")
    add("read-only: train --force", [RO, "train", DEMO, "--force"] + sets(f"store={path('good.h5')}", f"output={ro_run}"), None,
        f"{ro_run}/rmens.lock: cannot open the run directory's lock file: Read-only file system")
    add("read-only: eval", [RO, "eval", DEMO] + sets(f"store={path('good.h5')}", f"output={ro_run}"), None,
        f"{ro_run}/rmens.lock: cannot open the run directory's lock file: Read-only file system")
    add("read-only: synth", [RO, "synth", DEMO] + sets(f"store={path('ro', 's.h5')}"), None,
        f"{path('ro', 's.h5')}: cannot write to directory {path('ro')}: Read-only file system")
    add("read-only: import", [RO] + imp()[:-2] + ["--output", path("ro", "i.h5")], None, "Read-only file system")
    add("read-only: active", [RO, "active", DEMO] + sets(f"store={path('good.h5')}", f"output={path('ro', 'act')}", *ACTIVE), None,
        f"cannot create directory '{path('ro', 'act')}': Read-only file system")
    for name in ("read-only: train --force", "read-only: eval"):
        INTACT[name] = [path("ro", "run", "members.h5")]


def figures(results_json):
    """results.json without what names the inputs or times the run."""
    import json
    r = json.load(open(results_json))
    r.pop("provenance", None)
    return r


def positive_checks():
    """What must work: h5py-written stores of other layouts give the original figures; a
    symlinked run directory is followed; a symlinked members.h5 is replaced, its target
    untouched. Returns (line, failed) per check."""

    def train_eval(store, out):
        for verb in ("train", "eval"):
            r = run([verb, DEMO] + sets(f"store={store}", f"output={out}"), np_=2 if verb == "train" else None)
            if r.returncode != 0:
                return f"{verb} failed: {r.stderr.strip()[:300]}"
        return None

    problem = train_eval(path("good.h5"), path("pos_good"))
    reference = None if problem else figures(path("pos_good", "results.json"))
    checks = []
    for name in GOOD_LAYOUTS:
        out = path("pos_" + name[:-3])
        p = problem or train_eval(path(name), out)
        if p is None and figures(os.path.join(out, "results.json")) != reference:
            p = "figures differ from those of the original store"
        checks.append((f"h5py store {name} reads correctly", p))
    os.makedirs(path("real_run"))
    os.symlink(path("real_run"), path("link_run"))
    r = run(["train", DEMO] + sets(f"store={path('good.h5')}", f"output={path('link_run')}"))
    checks.append(("symlinked run directory followed", None if r.returncode == 0 and os.path.isfile(path("real_run", "members.h5"))
                   else f"exit {r.returncode}: {r.stderr.strip()[:300]}"))
    before = digest(path("victim.h5"))
    os.makedirs(path("link_members"))
    os.symlink(path("victim.h5"), path("link_members", "members.h5"))
    r = run(["train", DEMO, "--force"] + sets(f"store={path('good.h5')}", f"output={path('link_members')}"))
    ok = r.returncode == 0 and not os.path.islink(path("link_members", "members.h5")) and digest(path("victim.h5")) == before
    checks.append(("symlinked members.h5 replaced, its target intact", None if ok else f"exit {r.returncode}: {r.stderr.strip()[:300]}"))
    return [(("FAIL " if p else "ok   ") + name + (f": {p}" if p else ""), bool(p)) for name, p in checks]


def listing(d):
    """Files under d, less the run directory's lock file (rmens.lock: kept on purpose, its
    empty or stale record is how a crashed holder is recognised; see include/rmens/store/lock.h)."""
    out = set()
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            if name != "rmens.lock":
                out.add(os.path.relpath(os.path.join(root, name), d))
    return out


def members_with(attrs):
    """out/members.h5 = the trained members with root attributes changed (h5py)."""
    def setup():
        shutil.copy(path("trained", "members.h5"), path("out"))
        with h5py.File(path("out", "members.h5"), "a") as f:
            for k, v in attrs.items():
                f.attrs[k] = v
    return setup


def kinds_cases(add):
    """Ensemble kinds (issue 16): ensemble.kind, the shared trunk's exclusions,
    ensemble.shared_init and eval.warm."""
    one = lambda *extra: ["train", DEMO] + sets(f"store={path('good.h5')}", f"output={path('out')}", *extra)
    act = lambda *extra: ["active", DEMO] + sets(f"store={path('good.h5')}", f"output={path('out')}", *ACTIVE, *extra)
    ev = lambda *extra: ["eval", DEMO] + sets(f"store={path('good.h5')}", f"output={path('out')}", *extra)
    trunk = "ensemble.kind=shared_trunk"
    add("unknown ensemble.kind", one("ensemble.kind=bagged"), None,
        "'ensemble.kind' = \"bagged\" is not one of independent|shared_trunk")
    add("shared trunk without hidden layers", one(trunk, "model.hidden=[]"), None,
        "ensemble.kind = \"shared_trunk\" needs a trunk: model.hidden has no hidden layer")
    add("shared trunk with tree members", one(trunk, 'ensemble.families=["mlp","gbdt"]'), None,
        "its heads are linear layers on an MLP trunk, and ensemble.families has \"gbdt\"")
    add("shared trunk with shared_init", one(trunk, "ensemble.shared_init=true"), None,
        "ensemble.shared_init: a shared trunk's heads share the trunk already")
    add("shared trunk with active warm start", act(trunk, "active.warm_start=true"), None,
        "active.warm_start: a shared trunk's heads cannot continue")
    add("shared_init an integer", one("ensemble.shared_init=1"), None,
        "'ensemble.shared_init' expects a boolean (true/false), got an integer")
    add("shared_init with tree members", one("ensemble.shared_init=true", "model.family=gbdt"), None,
        "ensemble.shared_init = true: tree members (gbdt) have no initial weights to share")
    add("unknown eval.warm", ev("eval.warm=maybe"), None, "'eval.warm' = \"maybe\" is not one of auto|true|false")
    add("eval.warm without shared_init", ev("eval.warm=true"), None, "eval.warm = true: members.h5 has no shared_init = 1")
    SETUP["eval.warm without shared_init"] = members_with({})
    add("members.h5 shared_init 2", ev(), None, "root attribute shared_init = 2: expected 0 or 1")
    SETUP["members.h5 shared_init 2"] = members_with({"shared_init": 2})
    add("members.h5 unknown ensemble_kind", ev(), None, "root attribute ensemble_kind = \"bagged\"")
    SETUP["members.h5 unknown ensemble_kind"] = members_with({"ensemble_kind": "bagged"})


def check_case(name, argv, np_, fragment):
    """Runs one case of the table in this worker's scratch directory: (line, failed)."""
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
    if name in SETUP:
        SETUP[name]()
    intact = {p: digest(p) for p in INTACT.get(name, [])}
    before = {d: listing(path(d)) for d in ("out", "empty_run", "bad_members")}
    top_before = set(os.listdir(WORK))
    try:
        r = run(argv, np_)
    except subprocess.TimeoutExpired:
        return f"FAIL {name}: no exit within {TIME_LIMIT}s", True
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
    problems += [f"{p} changed" for p, d in intact.items() if digest(p) != d]
    if problems:
        return f"FAIL {name}: {'; '.join(problems)}\n  stderr: {r.stderr.strip()[:600]}", True
    return f"ok   {name} (exit {r.returncode}): {errors[0].strip()[:150]}", False


def table_of_cases():
    table = cases()
    only = os.environ.get("BAD_INPUTS_ONLY")  # a substring: run just those cases (when editing the table)
    if only:
        table = [t for t in table if only in t[0]]
    return table


def run_worker(k, next_case, results):
    """Worker k: its own scratch directory and fixtures; worker 0 first runs the positive
    checks (they only add files beside the cases' directories, which each case compares
    before and after itself); then cases of the table, the next unclaimed one each time.
    Puts ("count", k, cases in its table), ("case", index, line, failed), ("positive",
    order, line, failed) and finally ("done", k, error or None) on results."""
    global WORK
    WORK = tempfile.mkdtemp(prefix=f"rmens_bad_{k}_")
    try:
        make_fixtures()
        make_integrity_fixtures()
        make_views_fixtures()
        make_more_fixtures()
        table = table_of_cases()
        results.put(("count", k, len(table)))
        if k == 0:
            for i, (line, failed) in enumerate(positive_checks()):
                results.put(("positive", i, line, failed))
        while True:
            with next_case.get_lock():
                i = next_case.value
                next_case.value += 1
            if i >= len(table):
                break
            results.put(("case", i) + check_case(*table[i]))
        results.put(("done", k, None))
    except BaseException as e:  # the fixtures or a check raised: the test fails, saying why
        import traceback
        results.put(("done", k, f"worker {k}: {e!r}\n{traceback.format_exc()}"))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


def main():
    import multiprocessing
    import queue
    jobs = max(1, int(os.environ.get("BAD_INPUTS_JOBS", "5")))
    ctx = multiprocessing.get_context("fork")
    next_case, results = ctx.Value("i", 0), ctx.Queue()
    workers = [ctx.Process(target=run_worker, args=(k, next_case, results)) for k in range(jobs)]
    for w in workers:
        w.start()
    cases_done, positive, errors, done, counts = {}, {}, [], 0, set()
    while done < jobs:
        try:
            kind, i, *rest = results.get(timeout=10)
        except queue.Empty:  # a worker that died without a word (a crash) fails the test
            if all(not w.is_alive() for w in workers) and results.empty():
                errors.append(f"{jobs - done} worker(s) ended without reporting")
                break
            continue
        if kind == "count":
            counts.add(rest[0])
        elif kind == "case":
            cases_done[i] = rest
        elif kind == "positive":
            positive[i] = rest
        else:
            done += 1
            if rest[0]:
                errors.append(rest[0])
    for w in workers:
        w.join()
    failures = 0
    for i in sorted(cases_done):
        line, failed = cases_done[i]
        print(line)
        failures += failed
    print(f"{len(cases_done) - failures}/{len(cases_done)} bad inputs handled ({jobs} worker(s))")
    for i in sorted(positive):
        line, failed = positive[i]
        print(line)
        failures += failed
    if len(counts) != 1 or len(cases_done) != max(counts, default=-1):
        errors.append(f"the workers' tables have {sorted(counts)} cases, {len(cases_done)} were checked")
    for e in errors:
        print(f"FAIL {e}")
    sys.exit(1 if failures or errors or not positive else 0)


if __name__ == "__main__":
    main()
