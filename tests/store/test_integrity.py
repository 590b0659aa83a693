"""Integrity of stores (issue 18): Fletcher-32 checksums and content digests.

A store with several chunks per dataset is synthesised; one byte is flipped inside a chunk
of /train/embeddings (found with h5py's get_chunk_info) and of /test/rewards. Then:
  - `rmens train` / `rmens eval` on 1 and 2 ranks fail with one error line naming the
    file, the dataset and the corrupt chunk's prompt range, and write nothing;
  - `rmens inspect --verify` passes on the good store (digests equal numpy's recomputation
    from the h5py-read data) and fails on each corrupted store, on an edited digest
    attribute and on data rewritten through h5py (valid checksum, different content);
  - an h5py-written copy without checksums is reported unprotected, still verifies and
    trains, and train + eval on it give bitwise the figures of the checksummed store;
  - a dataset with a filter this HDF5 lacks (h5py's lzf) is refused at open, naming it;
    a gzip-compressed copy is read correctly."""
import json
import os
import shutil

import h5py
import numpy as np

from storetest import RMENS, SRCDIR, TempDir, check, digest, finish, run

DEMO = os.path.join(SRCDIR, "configs", "demo.cfg")
# Train prompts of 8 x 256 float32 = 8 KiB: 4 MiB embedding chunks hold 512 prompts, so
# /train/embeddings has chunks [0, 512) and [512, 600).
SMALL = ["synth.train_prompts=600", "synth.train_responses=8", "synth.test_prompts=40", "synth.test_responses=8",
         "synth.dim=256", "synth.bench_pairs=20", "model.hidden=[8]", "train.epochs=2", "train.batch_size=32",
         "pairs.count=300", "ensemble.members=2", "parallel.blas_threads=1"]


def sets(*extra):
    out = []
    for kv in SMALL + list(extra):
        out += ["--set", kv]
    return out


def check_digests(path):
    with h5py.File(path, "r") as f:
        for group, names in (("train", ("embeddings", "rewards")), ("test", ("embeddings", "rewards")),
                             ("bench", ("chosen", "rejected"))):
            want = digest([f[group][n][...] for n in names])
            check(f[group].attrs.get("content_digest") == want,
                  f"{path}: /{group} content_digest {f[group].attrs.get('content_digest')!r}, numpy says {want}")
            for n in names:
                check(f[group][n].fletcher32, f"{path}: /{group}/{n} has no Fletcher-32 filter")


def flip_byte(src, dst, dataset, chunk_index, offset_in_chunk):
    shutil.copy(src, dst)
    with h5py.File(src, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk_index)
    check(offset_in_chunk < info.size, f"{dataset}: chunk {chunk_index} has {info.size} bytes")
    with open(dst, "r+b") as f:
        f.seek(info.byte_offset + offset_in_chunk)
        b = f.read(1)
        f.seek(info.byte_offset + offset_in_chunk)
        f.write(bytes([b[0] ^ 0x20]))


def listing(d):
    """Files in d, less the run directory's lock file (rmens.lock is kept on purpose: see
    include/rmens/store/lock.h)."""
    return sorted(n for n in os.listdir(d) if n != "rmens.lock") if os.path.isdir(d) else None


def expect_failure(name, args, ranks, fragments, out_dir):
    before = listing(out_dir)
    code, out, err = run(args, ranks=ranks)
    errors = [l for l in err.splitlines() if "error:" in l]
    check(code != 0, f"{name}: exit 0\nstdout {out}\nstderr {err}")
    check(len(errors) == 1, f"{name}: {len(errors)} error lines in {err!r}")
    for frag in fragments:
        check(any(frag in l for l in errors), f"{name}: {frag!r} not in {errors}")
    after = listing(out_dir)
    check(after == before, f"{name}: output changed: {before} -> {after}")
    return errors[0] if errors else ""


def h5py_copy(src, dst, **dataset_args):
    """The same data and attributes written by h5py (no checksum, no digest unless asked)."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for name in ("train/embeddings", "train/rewards", "test/embeddings", "test/rewards", "bench/chosen", "bench/rejected"):
            g.create_dataset(name, data=f[name][...], chunks=f[name].chunks, **dataset_args)


def figures(run_dir):
    with open(os.path.join(run_dir, "results.json")) as f:
        r = json.load(f)
    r.pop("provenance", None)
    return r


def member_arrays(run_dir):
    out = {}
    with h5py.File(os.path.join(run_dir, "members.h5"), "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) and not n.startswith("run") else None)
    return out


with TempDir() as d:
    good = os.path.join(d, "good.h5")
    run([RMENS, "synth", DEMO] + sets(f"store={good}"), ranks=2, expect=0)
    check_digests(good)
    with h5py.File(good, "r") as f:
        check(f["train/embeddings"].chunks == (512, 8, 256) and f["train/embeddings"].id.get_num_chunks() == 2,
              f"train chunks {f['train/embeddings'].chunks}")
    half = os.path.join(d, "half.h5")
    run([RMENS, "synth", DEMO] + sets(f"store={half}", "synth.dtype=float16"), ranks=1, expect=0)
    check_digests(half)

    bad_train = os.path.join(d, "bad_train.h5")
    bad_test = os.path.join(d, "bad_test_rewards.h5")
    flip_byte(good, bad_train, "train/embeddings", 1, 1000)
    flip_byte(good, bad_test, "test/rewards", 0, 77)
    with h5py.File(bad_train, "r") as f:  # the corruption is real: HDF5 itself refuses the chunk
        try:
            f["train/embeddings"][550]
            check(False, "h5py read the corrupted chunk")
        except OSError:
            pass

    trained = os.path.join(d, "trained")
    run([RMENS, "train", DEMO] + sets(f"store={good}", f"output={trained}"), ranks=2, expect=0)
    for ranks in (1, 2):
        out = os.path.join(d, f"out_train_{ranks}")
        os.makedirs(out)
        line = expect_failure(f"train on corrupt train embeddings ({ranks} ranks)",
                              [RMENS, "train", DEMO] + sets(f"store={bad_train}", f"output={out}"), ranks,
                              [bad_train, "/train/embeddings", "Fletcher-32 checksum mismatch in prompts [512, 600)"], out)
        print(f"train, {ranks} rank(s): {line}")
        out = os.path.join(d, f"out_eval_{ranks}")
        shutil.copytree(trained, out)
        line = expect_failure(f"eval on corrupt test rewards ({ranks} ranks)",
                              [RMENS, "eval", DEMO] + sets(f"store={bad_test}", f"output={out}"), ranks,
                              [bad_test, "/test/rewards", "Fletcher-32 checksum mismatch in prompts [0, 40)"], out)
        print(f"eval, {ranks} rank(s): {line}")

    # inspect --verify
    for ranks in (1, 2):
        code, out, err = run([RMENS, "inspect", "--verify", good, "--read-chunk-mb", "1"], ranks=ranks, expect=0)
        check(out.count(" matches") == 3 and "status          ok\n" in out and "MB/s" in out, f"verify good:\n{out}")
        check("Fletcher-32 on every dataset" in out, f"verify good: checksums line\n{out}")
        expect_failure(f"verify corrupt train ({ranks} ranks)", [RMENS, "inspect", "--verify", bad_train], ranks,
                       ["/train/embeddings: Fletcher-32 checksum mismatch in prompts [512, 600)"], d)
        expect_failure(f"verify corrupt test rewards ({ranks} ranks)", [RMENS, "inspect", "--verify", bad_test], ranks,
                       ["/test/rewards: Fletcher-32 checksum mismatch in prompts [0, 40)"], d)
    run([RMENS, "inspect", "--verify", half], expect=0)
    edited = os.path.join(d, "edited_digest.h5")
    shutil.copy(good, edited)
    with h5py.File(edited, "r+") as f:
        a = f["test"].attrs["content_digest"]
        f["test"].attrs["content_digest"] = a[:-1] + ("0" if a[-1] != "0" else "1")
    expect_failure("verify edited digest", [RMENS, "inspect", "--verify", edited], 2,
                   [edited, "/test: content digest mismatch"], d)
    rewritten = os.path.join(d, "rewritten.h5")
    shutil.copy(good, rewritten)
    with h5py.File(rewritten, "r+") as f:  # h5py recomputes the checksum: only the digest notices
        f["train/rewards"][3, 2] = f["train/rewards"][3, 2] + 1.0
    expect_failure("verify rewritten data", [RMENS, "inspect", "--verify", rewritten], 1,
                   [rewritten, "/train: content digest mismatch"], d)

    # An unprotected (h5py-written) store: reported, verified for finiteness, and the same figures.
    plain = os.path.join(d, "plain.h5")
    h5py_copy(good, plain)
    _, out, _ = run([RMENS, "inspect", plain], expect=0)
    check("unprotected" in out and "digests         none recorded" in out, f"inspect plain store:\n{out}")
    _, out, _ = run([RMENS, "inspect", "--verify", plain], ranks=2, expect=0)
    check("status          ok (unprotected" in out and "none recorded to compare" in out, f"verify plain:\n{out}")
    runs = {}
    for name, store in (("checksummed", good), ("plain", plain)):
        runs[name] = os.path.join(d, f"run_{name}")
        run([RMENS, "run", DEMO] + sets(f"store={store}", f"output={runs[name]}"), ranks=2, expect=0)
    a, b = member_arrays(runs["checksummed"]), member_arrays(runs["plain"])
    differ = sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or not np.array_equal(a[k], b[k]))
    check(len(a) > 4 and not differ, f"members differ between the stores: {differ}")
    check(figures(runs["checksummed"]) == figures(runs["plain"]), "results.json figures differ between the stores")

    # Filters: one this HDF5 lacks is refused by name; gzip is read like any other.
    lzf = os.path.join(d, "lzf.h5")
    h5py_copy(good, lzf, compression="lzf")
    expect_failure("store with lzf", [RMENS, "inspect", lzf], 1, [lzf, "/train/embeddings", "filter 32000 (lzf)"], d)
    gz = os.path.join(d, "gzip.h5")
    h5py_copy(good, gz, compression="gzip", fletcher32=True)
    _, out, _ = run([RMENS, "inspect", "--verify", gz], ranks=2, expect=0)
    check("Fletcher-32 on every dataset" in out, f"gzip + fletcher32 store:\n{out}")
finish("store_integrity")
