"""Store views (issue 16): format_version 2 written by rmens, read by h5py and back.

  - a store synthesised without views is format_version 1 with no `views` and no /views;
  - synth.views = 2 (view_dims [20, 40], and float16): format_version 2, root `views`
    ["default", "view1", "view2"], /views/<name>/{train,test}/embeddings and
    /views/<name>/bench/{chosen,rejected} with the default view's N, K, bench pairs and the
    view's own D and dtype, chunked and Fletcher-32 like the default view, each group's
    content_digest equal to numpy's recomputation; the views hold other values than the
    default view; 1 and 2 writing ranks give the same file bytes;
  - `rmens import --view` adds a view from .npy files (float32 and float16, 1 and 2 ranks)
    that round-trips exactly; inspect lists the views and --verify checks them;
  - mismatched inputs (prompts, responses or rewards differ; a view name taken) are
    refused with one error line naming both files, and the store stays byte-identical
    with no temporary file left beside it;
  - a v2 store written by h5py alone (views as variable- or fixed-length strings, no
    checksums) is read by rmens: inspect lists its views and --verify passes."""
import hashlib
import os
import shutil

import h5py
import numpy as np

from storetest import RMENS, SMALL_CFG, TempDir, check, digest, finish, run, synth

VIEWS = ["synth.views=2", "synth.view_dims=[20,40]"]


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def check_view_store(path, dtype):
    with h5py.File(path, "r") as f:
        check(int(f.attrs["format_version"]) == 2, f"{path}: format_version {f.attrs['format_version']}")
        names = [str(v) for v in f.attrs["views"]]
        check(names == ["default", "view1", "view2"], f"{path}: views {names}")
        for name, dim in (("view1", 20), ("view2", 40)):
            for sp in ("train", "test"):
                d = f[f"views/{name}/{sp}/embeddings"]
                want = f[f"{sp}/embeddings"].shape[:2] + (dim,)
                check(d.shape == want and d.dtype == dtype and d.fletcher32 and d.chunks is not None and d.compression is None,
                      f"{path}: /views/{name}/{sp}/embeddings {d.shape} {d.dtype} fletcher32={d.fletcher32} (want {want} {dtype})")
                got = f[f"views/{name}/{sp}"].attrs.get("content_digest")
                check(got == digest([d[...]]), f"{path}: /views/{name}/{sp} digest {got} != numpy's")
                check(not np.allclose(d[:, :, :4], f[f"{sp}/embeddings"][:, :, :4]), f"{path}: {name} repeats the default view")
            b = [f[f"views/{name}/bench/{k}"] for k in ("chosen", "rejected")]
            check(all(x.shape == (f["bench/chosen"].shape[0], dim) and x.fletcher32 for x in b), f"{path}: {name} bench {b[0].shape}")
            check(f[f"views/{name}/bench"].attrs.get("content_digest") == digest([x[...] for x in b]), f"{path}: {name} bench digest")
            check("rewards" not in f[f"views/{name}/train"], f"{path}: a view must not hold rewards")


def import_args(d, store, view, prefix, extra=()):
    a = [RMENS, "import", "--output", store, "--view", view]
    for flag, name in (("--train-embeddings", "e_train"), ("--train-rewards", "r_train"), ("--test-embeddings", "e_test"),
                       ("--test-rewards", "r_test"), ("--bench-chosen", "b_chosen"), ("--bench-rejected", "b_rejected")):
        a += [flag, os.path.join(d, f"{prefix.get(name, '')}{name}.npy")]
    return a + list(extra)


def make_npy(d, store, dim):
    rng = np.random.default_rng(5)
    with h5py.File(store, "r") as f:
        for sp in ("train", "test"):
            n, k = f[f"{sp}/rewards"].shape
            np.save(os.path.join(d, f"e_{sp}.npy"), rng.standard_normal((n, k, dim)).astype(np.float32))
            np.save(os.path.join(d, f"r_{sp}.npy"), f[f"{sp}/rewards"][()][..., None])  # the paper's (N, K, 1)
            np.save(os.path.join(d, f"moreN_e_{sp}.npy"), rng.standard_normal((n + 1, k, dim)).astype(np.float32))
            np.save(os.path.join(d, f"moreN_r_{sp}.npy"), rng.standard_normal((n + 1, k)).astype(np.float32))
            np.save(os.path.join(d, f"lessK_e_{sp}.npy"), rng.standard_normal((n, k - 1, dim)).astype(np.float32))
            np.save(os.path.join(d, f"lessK_r_{sp}.npy"), f[f"{sp}/rewards"][:, :-1])
            r = f[f"{sp}/rewards"][()]
            r[n // 2, 1] = np.nextafter(r[n // 2, 1], np.float32(np.inf))  # one ulp: still refused
            np.save(os.path.join(d, f"bad_r_{sp}.npy"), r)
        nb = f["bench/chosen"].shape[0]
        for k in ("chosen", "rejected"):
            np.save(os.path.join(d, f"b_{k}.npy"), rng.standard_normal((nb, dim)).astype(np.float32))


def test_import(d):
    store = os.path.join(d, "imp.h5")
    synth(store)
    make_npy(d, store, 12)
    run(import_args(d, store, "emb_a", {}), expect=0)
    run(import_args(d, store, "emb_b", {}, ["--float16"]), ranks=2, expect=0)
    with h5py.File(store, "r") as f:
        check([str(v) for v in f.attrs["views"]] == ["default", "emb_a", "emb_b"], f"views {list(f.attrs['views'])}")
        for sp in ("train", "test"):
            e = np.load(os.path.join(d, f"e_{sp}.npy"))
            check(np.array_equal(f[f"views/emb_a/{sp}/embeddings"][()], e), f"emb_a {sp} does not round-trip")
            check(np.array_equal(f[f"views/emb_b/{sp}/embeddings"][()], e.astype(np.float16)), f"emb_b {sp} (float16)")
        check(np.array_equal(f["views/emb_a/bench/chosen"][()], np.load(os.path.join(d, "b_chosen.npy"))), "bench chosen")
    rc, out, err = run([RMENS, "inspect", store, "--verify"], expect=0)
    check("views           3: default (default) emb_a emb_b" in out, f"inspect does not list the views:\n{out}")
    check("verify /views/emb_b/test" in out and "status          ok" in out, f"verify skipped views:\n{out}")
    rc, out, err = run([RMENS, "inspect", store], expect=0)
    check("view emb_b      D 12     train float16" in out, f"inspect views table:\n{out}")

    before, listing = sha(store), sorted(os.listdir(d))
    for label, prefix, ranks, fragment in (
            ("prompts", {"e_train": "moreN_", "r_train": "moreN_"}, 1, "has 302 prompts x 7 responses but store"),
            ("responses", {"e_test": "lessK_", "r_test": "lessK_"}, 2, "has 53 prompts x 18 responses but store"),
            ("rewards", {"r_test": "bad_"}, 2, "differ from store"),
            ("name taken", {}, 1, "has a view 'emb_a' already")):
        rc, out, err = run(import_args(d, store, "emb_a" if label == "name taken" else "emb_c", prefix), ranks=ranks)
        lines = [l for l in err.splitlines() if "error:" in l]
        check(rc != 0 and len(lines) == 1 and fragment in lines[0], f"{label}: exit {rc}, errors {lines}")
        named = [os.path.join(d, f"{prefix[k]}{k}.npy") for k in prefix if k[0] in "er"]
        check(not lines or (store in lines[0] and any(n in lines[0] for n in named)) or label == "name taken",
              f"{label}: the error does not name both files: {lines}")
        check(sha(store) == before and sorted(os.listdir(d)) == listing, f"{label}: the store or its directory changed")


def test_h5py_written(d):
    """A v2 store written by h5py: views without checksums, as vlen or fixed strings."""
    v1 = os.path.join(d, "plain.h5")
    synth(v1)
    for kind in ("vlen", "fixed"):
        p = os.path.join(d, f"h5py_{kind}.h5")
        shutil.copy(v1, p)
        with h5py.File(p, "r+") as f:
            names = ["default", "other"]
            f.attrs["views"] = names if kind == "vlen" else np.array(names, dtype="S8")
            f.attrs["format_version"] = 2
            for sp in ("train", "test"):
                f[f"views/other/{sp}/embeddings"] = np.tanh(f[f"{sp}/embeddings"][:, :, :10])
            for k in ("chosen", "rejected"):
                f[f"views/other/bench/{k}"] = np.tanh(f[f"bench/{k}"][:, :10])
        rc, out, err = run([RMENS, "inspect", p, "--verify"], expect=0)
        check("views           2: default (default) other" in out and "view other      D 10" in out,
              f"{kind}: rmens does not list the h5py-written view:\n{out}\n{err}")
        check("status          ok" in out, f"{kind}: verify failed:\n{out}\n{err}")


def main():
    with TempDir() as d:
        plain = os.path.join(d, "plain.h5")
        synth(plain)
        with h5py.File(plain, "r") as f:
            check(int(f.attrs["format_version"]) == 1 and "views" not in f.attrs and "views" not in f,
                  "a store without views is not the version 1 layout")
        for dtype, extra in ((np.float32, []), (np.float16, ["synth.dtype=float16"])):
            one, two = os.path.join(d, "v1rank.h5"), os.path.join(d, "v2rank.h5")
            synth(one, sets=VIEWS + extra)
            synth(two, ranks=2, sets=VIEWS + extra)
            check_view_store(one, dtype)
            check(sha(one) == sha(two), f"{dtype.__name__}: 1 and 2 writing ranks give different files")
        test_import(d)
        test_h5py_written(d)
    finish("store_views")


if __name__ == "__main__":
    main()
