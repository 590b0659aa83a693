"""Every bad input of issue 2 gets a one-line error naming the file and the dataset, a
non-zero exit, and leaves nothing behind (no store, no temporary file; an existing
output is untouched). Covers import (.npy problems, shape disagreements, NaN/Inf, paths,
--force), synth (--force) and reading stores written by h5py (missing dataset, wrong
rank or dtype, shape disagreement, NaN/Inf, not a store)."""
import os
import shutil
import sys

import h5py
import numpy as np

from storetest import RMENS, SMALL_CFG, TempDir, check, finish, run, run_all

tool = sys.argv[1]
N, K, D, NT, KT = 300, 10, 64, 12, 9


def save(path, array, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


def patch(path, fn):
    data = bytearray(open(path, "rb").read())
    data = fn(data)
    open(path, "wb").write(bytes(data))


def expect_error(name, args, fragments, out_dir, ranks=1, verb="import", result=None):
    """result: the command's (code, stdout, stderr) when it has run already (expect_errors)."""
    before = sorted(os.listdir(out_dir))
    snapshot = {n: open(os.path.join(out_dir, n), "rb").read() for n in before}
    code, out, err = result if result is not None else run(args, ranks=ranks)
    lines = [l for l in err.strip().splitlines() if l.strip()]
    if ranks > 1:  # mpirun adds its own notice about the non-zero exit; ours is the rmens line
        lines = [l for l in lines if l.startswith("rmens")]
    check(code == 1, f"{name}: exit code {code}, expected 1 (stderr {err!r})")
    check(len(lines) == 1 and lines[0].startswith(f"rmens {verb}: error: "), f"{name}: not one error line: {err!r}")
    for frag in fragments:
        check(frag in err, f"{name}: message lacks {frag!r}: {err.strip()!r}")
    after = sorted(os.listdir(out_dir))
    check(after == before, f"{name}: left files behind: {sorted(set(after) - set(before))}")
    for n in before:
        check(open(os.path.join(out_dir, n), "rb").read() == snapshot[n], f"{name}: modified existing {n}")


def expect_errors(cases):
    """expect_error for independent cases at once (storetest.run_all): each case is
    (name, args, fragments, out_dir, ranks, verb) with an out_dir of its own, listed and
    snapshotted before any command starts and compared after all have ended."""
    snapshots = [{n: open(os.path.join(c[3], n), "rb").read() for n in sorted(os.listdir(c[3]))} for c in cases]
    results = run_all([(c[1], c[4]) for c in cases])
    for (name, args, fragments, out_dir, ranks, verb), snap, result in zip(cases, snapshots, results):
        after = sorted(os.listdir(out_dir))
        check(after == sorted(snap), f"{name}: left files behind: {sorted(set(after) - set(snap))}")
        for n in snap:
            check(open(os.path.join(out_dir, n), "rb").read() == snap[n], f"{name}: modified existing {n}")
        # the listing is now the one before: expect_error's own before/after checks pass through
        expect_error(name, args, fragments, out_dir, ranks=ranks, verb=verb, result=result)


with TempDir() as d:
    good = os.path.join(d, "good")
    out_dir = os.path.join(d, "out")
    os.mkdir(good)
    os.mkdir(out_dir)
    rng = np.random.default_rng(3)
    files = {
        "train_emb": ("embd_g_e_t_train.npy", rng.normal(size=(N, K, D)).astype(np.float32)),
        "train_rew": ("reward_g_e_t_train.npy", rng.normal(size=(N, K, 1)).astype(np.float32)),
        "test_emb": ("embd_g_e_t_test.npy", rng.normal(size=(NT, KT, D)).astype(np.float32)),
        "test_rew": ("reward_g_e_t_test.npy", rng.normal(size=(NT, KT, 1)).astype(np.float32)),
        "chosen": ("chosen.npy", rng.normal(size=(5, D)).astype(np.float32)),
        "rejected": ("rejected.npy", rng.normal(size=(5, D)).astype(np.float32)),
    }
    for key, (name, arr) in files.items():
        save(os.path.join(good, name), arr)
    flags = {"train_emb": "--train-embeddings", "train_rew": "--train-rewards", "test_emb": "--test-embeddings",
             "test_rew": "--test-rewards", "chosen": "--bench-chosen", "rejected": "--bench-rejected"}
    labels = {"train_emb": "train embeddings", "train_rew": "train rewards", "test_emb": "test embeddings",
              "test_rew": "test rewards", "chosen": "bench chosen", "rejected": "bench rejected"}
    output = os.path.join(out_dir, "store.h5")

    def import_with(replace=None, extra=(), bench=False, out=output):
        """Import with one input replaced by a bad file: (key, path)."""
        args = [RMENS, "import", "--output", out, "--chunk-mb", "1"] + list(extra)
        for key in ["train_emb", "train_rew", "test_emb", "test_rew"] + (["chosen", "rejected"] if bench else []):
            path = os.path.join(good, files[key][0])
            if replace and replace[0] == key:
                path = replace[1]
            args += [flags[key], path]
        return args

    copies = []

    def bad_copy(key, fn=None, array=None, version=None, name=None):
        copies.append(key)
        path = os.path.join(d, name or f"bad{len(copies)}_{files[key][0]}")
        if array is not None:
            save(path, array, version)
        else:
            shutil.copy(os.path.join(good, files[key][0]), path)
        if fn:
            patch(path, fn)
        return path

    emb = files["train_emb"][1]
    nan_emb = emb.copy()
    nan_emb[250, 3, 17] = np.nan
    inf_rew = files["test_rew"][1].copy()
    inf_rew[4, 2, 0] = -np.inf
    fortran = np.asfortranarray(emb)
    structured = np.zeros((N, K), dtype=[("a", "<f4"), ("b", "<f4")])
    cases = [
        # name, key, bad file, expected fragments
        ("truncated data", "train_emb", bad_copy("train_emb", lambda b: b[:-100]), ["truncated", "bytes"]),
        ("truncated header", "train_emb", bad_copy("train_emb", lambda b: b[:40]), ["truncated .npy header"]),
        ("tiny file", "test_rew", bad_copy("test_rew", lambda b: b[:7]), ["not a .npy file"]),
        ("bad magic", "train_emb", bad_copy("train_emb", lambda b: b"\x93NUMPZ" + b[6:]), ["not a .npy file (bad magic)"]),
        ("bad version", "train_rew", bad_copy("train_rew", lambda b: b[:6] + b"\x04" + b[7:]), ["unsupported .npy version 4.0"]),
        ("malformed header", "test_emb", bad_copy("test_emb", lambda b: b.replace(b"'shape'", b"'shapz'")), ["malformed .npy header"]),
        ("header not a dict", "test_emb", bad_copy("test_emb", lambda b: b.replace(b"{", b"[", 1)), ["malformed .npy header"]),
        ("trailing bytes", "train_emb", bad_copy("train_emb", lambda b: b + b"\0" * 8), ["8 unexpected bytes after the data"]),
        ("fortran order", "train_emb", bad_copy("train_emb", array=fortran, name="fortran.npy"), ["Fortran-ordered"]),
        ("integer dtype", "train_emb", bad_copy("train_emb", array=emb.astype(np.int32), name="int.npy"), ["unsupported dtype '<i4'"]),
        ("big-endian dtype", "test_emb", bad_copy("test_emb", array=files["test_emb"][1].astype(">f4"), name="be.npy"), ["unsupported dtype '>f4'"]),
        ("structured dtype", "train_rew", bad_copy("train_rew", array=structured, name="struct.npy"), ["unsupported dtype"]),
        ("float64 embeddings", "train_emb", bad_copy("train_emb", array=emb.astype(np.float64), name="f64.npy"), ["unsupported dtype for embeddings"]),
        ("embeddings rank 2", "train_emb", bad_copy("train_emb", array=emb[:, 0, :], name="rank2.npy"), ["expected 3 dimensions"]),
        ("rewards rank 4", "train_rew", bad_copy("train_rew", array=files["train_rew"][1][..., None], name="rank4.npy"), ["expected (prompts, responses, 1)"]),
        ("rewards last dim 2", "train_rew", bad_copy("train_rew", array=np.zeros((N, K, 2), np.float32), name="k2.npy"), ["expected (prompts, responses, 1)"]),
        ("rewards prompts disagree", "train_rew", bad_copy("train_rew", array=np.zeros((N - 1, K, 1), np.float32), name="n.npy"), ["do not match train embeddings", "(300, 10, 64)"]),
        ("rewards responses disagree", "test_rew", bad_copy("test_rew", array=np.zeros((NT, KT + 1), np.float32), name="k.npy"), ["do not match test embeddings"]),
        ("splits disagree on D", "test_emb", bad_copy("test_emb", array=np.zeros((NT, KT, D + 1), np.float32), name="d.npy"), ["embedding dimension 65 differs from the train embeddings' 64"]),
        ("NaN in embeddings", "train_emb", bad_copy("train_emb", array=nan_emb, name="nan.npy"), ["NaN at prompt 250, response 3"]),
        ("Inf in rewards", "test_rew", bad_copy("test_rew", array=inf_rew, name="inf.npy"), ["Inf at prompt 4, response 2"]),
        ("empty array", "test_emb", bad_copy("test_emb", array=np.zeros((0, KT, D), np.float32), name="empty.npy"), ["empty array"]),
        ("missing file", "test_rew", os.path.join(d, "no_such_file.npy"), ["cannot open", "No such file"]),
        ("directory", "train_emb", d, ["not a regular file"]),
    ]
    # The .npy cases at once (expect_errors), each importing into a directory of its own.
    batch = []
    for name, key, path, fragments in cases:
        for ranks in ((1, 2) if name in ("NaN in embeddings", "truncated data", "Inf in rewards") else (1,)):
            own = os.path.join(d, f"out_case{len(batch)}")
            os.mkdir(own)
            batch.append((f"import: {name} ({ranks} rank{'s' if ranks > 1 else ''})",
                          import_with((key, path), out=os.path.join(own, "store.h5")),
                          [labels[key] + ": ", path] + fragments, own, ranks, "import"))
    expect_errors(batch)
    os.chmod(os.path.join(d, "nan.npy"), 0)
    if os.geteuid() != 0:  # root reads anything
        expect_error("import: unreadable file", import_with(("train_emb", os.path.join(d, "nan.npy"))),
                     ["Permission denied"], out_dir)
    # Bench inputs.
    expect_error("import: bench without rejected", import_with(extra=["--bench-chosen", os.path.join(good, "chosen.npy")]),
                 ["--bench-chosen and --bench-rejected go together"], out_dir)
    bad_bench = bad_copy("rejected", array=np.zeros((5, D + 2), np.float32), name="bench_d.npy")
    expect_error("import: bench dimension", import_with(("rejected", bad_bench), bench=True),
                 ["bench rejected: ", bad_bench, "dimension 66"], out_dir)
    nan_bench = files["chosen"][1].copy()
    nan_bench[3, 1] = np.nan
    nan_bench_path = bad_copy("chosen", array=nan_bench, name="bench_nan.npy")
    expect_error("import: NaN in bench", import_with(("chosen", nan_bench_path), bench=True),
                 ["bench chosen: ", nan_bench_path, "NaN at pair 3"], out_dir)
    # Paths and --force.
    expect_error("import: missing output directory", import_with(out=os.path.join(d, "nowhere", "s.h5")),
                 ["cannot write to directory", os.path.join(d, "nowhere")], out_dir)
    expect_error("import: missing option", [RMENS, "import", "--output", output], ["missing --train-embeddings"], out_dir)
    open(output, "wb").write(b"an existing output")
    expect_error("import: existing output", import_with(), [output, "exists", "--force"], out_dir)
    expect_error("synth: existing output", [RMENS, "synth", SMALL_CFG, "--set", f"store={output}"],
                 [output, "exists", "--force"], out_dir, verb="synth")
    os.remove(output)

    # Stores that h5py wrote wrong: the reader names the file and the dataset.
    def make_store(path, mutate):
        with h5py.File(path, "w") as f:
            f.attrs["format"] = "rmens-store"
            f.attrs["format_version"] = 1
            for a in ("embed_model", "response_model", "task", "store_uuid"):
                f.attrs[a] = "x"
            for split, (n, k) in {"train": (6, 3), "test": (4, 5)}.items():
                f[f"{split}/embeddings"] = rng.normal(size=(n, k, 8)).astype(np.float32)
                f[f"{split}/rewards"] = rng.normal(size=(n, k)).astype(np.float32)
            mutate(f)

    def replace(name, value):
        def mutate(f):
            del f[name]
            if value is not None:
                f[name] = value
        return mutate

    def set_attr(name, value):
        def mutate(f):
            if value is None:
                del f.attrs[name]
            else:
                f.attrs[name] = value
        return mutate

    nan_store = rng.normal(size=(6, 3, 8)).astype(np.float32)
    nan_store[5, 1, 0] = np.nan
    inf_test_rew = np.zeros((4, 5), np.float32)
    inf_test_rew[2, 4] = np.inf
    store_cases = [
        ("missing dataset", replace("test/rewards", None), ["/test/rewards: missing dataset"]),
        ("missing group", lambda f: f.__delitem__("test"), ["/test/embeddings: missing dataset"]),
        ("embeddings rank 2", replace("train/embeddings", np.zeros((6, 24), np.float32)), ["/train/embeddings: expected rank 3, found rank 2"]),
        ("rewards rank 3", replace("train/rewards", np.zeros((6, 3, 1), np.float32)), ["/train/rewards: expected rank 2, found rank 3"]),
        ("integer embeddings", replace("test/embeddings", np.zeros((4, 5, 8), np.int32)), ["/test/embeddings: unsupported dtype 4-byte integer"]),
        ("float64 embeddings", replace("test/embeddings", np.zeros((4, 5, 8), np.float64)), ["/test/embeddings: unsupported dtype 8-byte float"]),
        ("float16 rewards", replace("train/rewards", np.zeros((6, 3), np.float16)), ["/train/rewards: unsupported dtype 2-byte float"]),
        ("rewards disagree", replace("train/rewards", np.zeros((6, 4), np.float32)), ["/train/rewards has shape [6, 4]", "/train/embeddings has [6, 3, 8]"]),
        ("splits disagree on D", replace("test/embeddings", np.zeros((4, 5, 9), np.float32)), ["/test/embeddings has dimension 9"]),
        ("bench half present", lambda f: f.create_dataset("bench/chosen", data=np.zeros((2, 8), np.float32)), ["/bench/rejected: missing dataset"]),
        ("bench disagrees", lambda f: (f.create_dataset("bench/chosen", data=np.zeros((2, 8), np.float32)),
                                       f.create_dataset("bench/rejected", data=np.zeros((3, 8), np.float32))), ["/bench/chosen [2, 8]", "disagree"]),
        ("not a store", set_attr("format", None), ["not an rmens store (root attribute 'format' is missing)"]),
        ("other format", set_attr("format", "something"), ["format = 'something'"]),
        ("future version", set_attr("format_version", 3), ["unsupported format_version 3"]),
        ("NaN in embeddings", replace("train/embeddings", nan_store), ["invalid store", "1 NaN/Inf values in /train/embeddings"]),
        ("Inf in rewards", replace("test/rewards", inf_test_rew), ["invalid store", "1 NaN/Inf values in /test/rewards"]),
    ]
    # at once (expect_errors), each store in a directory of its own
    inspect_cases = []
    for i, (name, mutate, fragments) in enumerate(store_cases):
        own = os.path.join(d, f"inspect_case{i}")
        os.mkdir(own)
        path = os.path.join(own, name.replace(" ", "_") + ".h5")
        make_store(path, mutate)
        inspect_cases.append((f"inspect: {name}", [RMENS, "inspect", path], [path + ": "] + fragments, own, 1, "inspect"))
    expect_errors(inspect_cases)
    # The reader itself refuses non-finite values, naming the dataset and the prompt.
    path = os.path.join(d, "nan_store.h5")
    make_store(path, replace("train/embeddings", nan_store))
    for ranks in (1, 2):
        code, _, err = run([tool, "read", path, "train", 0, 6, 40, os.path.join(d, "r")], ranks=ranks)
        check(code == 1 and f"{path}: /train/embeddings: non-finite value NaN at prompt 5, response 1" in err,
              f"reader on NaN ({ranks} ranks): exit {code}, {err!r}")
    expect_error("inspect: not HDF5", [RMENS, "inspect", os.path.join(good, files["chosen"][0])],
                 ["not an HDF5 file"], out_dir, verb="inspect")
    expect_error("inspect: missing", [RMENS, "inspect", os.path.join(d, "absent.h5")],
                 ["cannot read store", "absent.h5", "No such file"], out_dir, verb="inspect")
finish("store_bad_input")
