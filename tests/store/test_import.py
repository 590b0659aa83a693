"""`rmens import` of .npy files written by numpy round-trips exactly: float32 and float16
embeddings, .npy versions 1.0/2.0/3.0, rewards (N, K, 1) or (N, K) in float32/float64,
optional bench, float16 inputs kept half unless --float32, --float16 storage (numpy's rounding), 1 and 2 ranks with pieces smaller
than a split. The attributes come from the file names; the store_uuid from the inputs."""
import os

import h5py
import numpy as np

from storetest import RMENS, TempDir, check, finish, run


def save(path, array, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def make_inputs(d, tag, emb_dtype, reward_dtype, reward_shape3, version, rng, n_train=300, k_train=10, dim=128):
    paths = {}
    for split, (n, k) in {"train": (n_train, k_train), "test": (20, 31)}.items():
        emb = rng.normal(size=(n, k, dim)).astype(emb_dtype)
        rew = rng.normal(size=(n, k, 1) if reward_shape3 else (n, k)).astype(reward_dtype)
        paths[f"{split}_emb"] = os.path.join(d, f"embd_gemma7b_{tag}_harmless_{split}.npy")
        paths[f"{split}_rew"] = os.path.join(d, f"reward_gemma7b_{tag}_harmless_{split}.npy")
        save(paths[f"{split}_emb"], emb, version)
        save(paths[f"{split}_rew"], rew, version)
    paths["chosen"] = os.path.join(d, f"bench_{tag}_chosen.npy")
    paths["rejected"] = os.path.join(d, f"bench_{tag}_rejected.npy")
    save(paths["chosen"], rng.normal(size=(17, dim)).astype(emb_dtype), version)
    save(paths["rejected"], rng.normal(size=(17, dim)).astype(emb_dtype), version)
    return paths


def import_args(p, out, bench=True):
    args = [RMENS, "import", "--train-embeddings", p["train_emb"], "--train-rewards", p["train_rew"],
            "--test-embeddings", p["test_emb"], "--test-rewards", p["test_rew"], "--output", out]
    if bench:
        args += ["--bench-chosen", p["chosen"], "--bench-rejected", p["rejected"]]
    return args


def compare(p, out, store_half, bench=True):
    with h5py.File(out, "r") as f:
        for split in ("train", "test"):
            emb = np.load(p[f"{split}_emb"])
            rew = np.load(p[f"{split}_rew"])
            want_emb = emb.astype(np.float16 if store_half else np.float32)
            got = f[f"{split}/embeddings"][...]
            check(got.dtype == want_emb.dtype, f"{out}: {split} embeddings dtype {got.dtype}")
            check(got.tobytes() == want_emb.tobytes(), f"{out}: {split} embeddings differ from numpy")
            want_rew = rew.reshape(rew.shape[0], rew.shape[1]).astype(np.float32)
            got = f[f"{split}/rewards"][...]
            check(got.dtype == np.float32 and got.tobytes() == want_rew.tobytes(), f"{out}: {split} rewards differ")
        if bench:
            for name in ("chosen", "rejected"):
                want = np.load(p[name]).astype(np.float16 if store_half else np.float32)
                check(f[f"bench/{name}"][...].tobytes() == want.tobytes(), f"{out}: bench/{name} differs")
        else:
            check("bench" not in f, f"{out}: no bench was given")
        check(f.attrs["format"] == "rmens-store" and f.attrs["format_version"] == 1, f"{out}: format attributes")
        return dict(f.attrs)


with TempDir() as d:
    rng = np.random.default_rng(11)
    # tag, input dtype, reward dtype, rewards (N, K, 1)?, npy version, precision flag, ranks, --chunk-mb;
    # no flag keeps the inputs' precision (float16 files stay half), a flag forces one
    cases = [
        ("f32v1", np.float32, np.float32, True, (1, 0), None, 1, None),
        ("f32v3", np.float32, np.float32, True, (3, 0), "--float16", 2, "1"),
        ("f16v2", np.float16, np.float64, False, (2, 0), None, 2, "1"),
        ("f16w", np.float16, np.float32, True, (2, 0), "--float32", 1, None),
        ("f16v1", np.float16, np.float32, True, (1, 0), "--float16", 1, "1"),
    ]
    summaries = {None: "float16 embeddings, as the inputs; --float32 widens them", "--float16": "float16 embeddings (--float16)"}
    for tag, emb_dtype, rew_dtype, shape3, version, flag, ranks, chunk in cases:
        p = make_inputs(d, tag, emb_dtype, rew_dtype, shape3, version, rng)
        out = os.path.join(d, f"{tag}.h5")
        half = flag == "--float16" or (flag is None and emb_dtype == np.float16)
        args = import_args(p, out) + ([flag] if flag else []) + (["--chunk-mb", chunk] if chunk else [])
        code, stdout, stderr = run(args, ranks=ranks, expect=0)
        check("MB/s" in stdout, f"{tag}: import reports its throughput: {stdout!r}")
        said = summaries[flag] if half else "float32 embeddings"
        check(f"({said})" in stdout, f"{tag}: the summary does not say '({said})': {stdout!r}")
        attrs = compare(p, out, half)
        check(attrs["embed_model"] == tag and attrs["response_model"] == "gemma7b" and attrs["task"] == "harmless",
              f"{tag}: attributes from the file names: {attrs}")
        run([RMENS, "inspect", out], expect=0)
        # The same inputs give the same identity; an existing output needs --force.
        code, _, stderr = run(args, ranks=ranks)
        check(code == 1 and "exists" in stderr and "--force" in stderr, f"{tag}: existing output refused: {stderr!r}")
        run(args + ["--force"], ranks=ranks, expect=0)
        with h5py.File(out, "r") as f:
            check(f.attrs["store_uuid"] == attrs["store_uuid"], f"{tag}: store_uuid is a function of the inputs")
    # Without a bench, with explicit attributes.
    out = os.path.join(d, "nobench.h5")
    run(import_args(p, out, bench=False) + ["--embed-model", "E", "--task", "T"], expect=0)
    attrs = compare(p, out, True, bench=False)  # the last case's float16 inputs, kept half
    check(attrs["embed_model"] == "E" and attrs["task"] == "T" and attrs["response_model"] == "gemma7b",
          f"explicit attributes: {attrs}")
    code, _, stderr = run(import_args(p, os.path.join(d, "both.h5")) + ["--float16", "--float32"])
    check(code == 1 and "--float16 and --float32 contradict" in stderr, f"--float16 --float32 refused: {stderr!r}")
    check(not [n for n in os.listdir(d) if n.startswith(".")], f"no temporary files left: {os.listdir(d)}")
finish("store_import")
