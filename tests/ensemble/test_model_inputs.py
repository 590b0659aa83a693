#!/usr/bin/python3
"""model.inputs end to end (include/rmens/store/store_inputs.h, issue 28).

    test_model_inputs.py HAVE_XGBOOST(0|1)

A small float16 synthetic store with bench pairs gets a float32 view "length" of F = 3
scalar features per response (`rmens import --view length`): a whole-number length around
300 correlated with the golden reward, a noise feature, and a feature constant on the
train split (its std must become 1). Then:
  - `rmens run` on 2 ranks with model.inputs = ["default", "length"]: members.h5 /inputs
    (views, dim, and mean / std equal to numpy's population moments of the store's train
    split, ~1e-12 relative), each member's view "inputs:default+length" and dim; the
    README's PyTorch snippet, executed as written (paths and member replaced), reproduces
    results.h5 /predictions (1e-5), while the same members on inputs standardised with
    the test split's moments do not (the comparison can fail); the snippet on the bench
    pairs reproduces the mean aggregator's bench accuracy;
  - `rmens eval` standardises with /inputs, never a recomputation: on a copy of the store
    whose length view's train split is rescaled, the predictions are bitwise the same;
  - model.inputs = ["length", "default"]: /inputs is the same moments in that order,
    bitwise, and the view name follows the order;
  - a gbdt ensemble on model.inputs (when rmens has XGBoost): the README's XGBoost snippet
    gives rmens's predictions bit for bit;
  - a shared trunk on model.inputs runs, and tests/ensemble/check_trunk.py (the README
    snippet on its heads) reproduces its predictions;
  - refusals, each exit != 0 with one line naming model.inputs and no members.h5 (or
    active.h5): model.inputs with ensemble.views, an unknown view, `rmens active`.
Expects RMENS, MPIRUN, SRCDIR (set by ctest).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HAVE_XGBOOST = len(sys.argv) > 1 and sys.argv[1] == "1"
RMENS, MPIRUN, SRC = os.environ["RMENS"], os.environ["MPIRUN"], os.environ["SRCDIR"]
CFG = os.path.join(SRC, "configs", "demo.cfg")
README = os.path.join(SRC, "README.md")
sys.path.insert(0, os.path.join(SRC, "analysis"))  # the README snippets import rmens
TOL_MOMENTS = 1e-12
TOL_PRED = 1e-5
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)
    return ok


def run(cmd, what, expect_ok=True):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    if expect_ok and p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
        sys.exit(f"FAIL: {what} exited with {p.returncode}")
    return p


def mpi(n):
    return [MPIRUN, "--oversubscribe", "--bind-to", "none", "-n", str(n), RMENS]


def snippet(title):
    """The README's python block after the paragraph starting with `title`."""
    m = re.search(re.escape(title) + r".*?```python\n(.*?)```", open(README).read(), re.S)
    assert m, f"README: no snippet after {title!r}"
    return m.group(1)


def exec_snippet(code, members, store, member, split="test"):
    """Run a README snippet (calls into the rmens package of analysis/) as written but for
    the paths, the member and (for the bench pairs) the split it reads; returns its z."""
    code = (code.replace("runs/demo/members.h5", members).replace("runs/demo/store.h5", store)
            .replace("members[0]", f"members[{member}]").replace('"test")', f'"{split}")'))
    scope = {}
    exec(code, scope)
    return np.asarray(scope["z"])


def add_length_view(work, store):
    """F = 3 features per response: a length, noise, and a feature constant on train."""
    rng = np.random.default_rng(2028)
    files = {}
    with h5py.File(store, "r") as st:
        n_bench = st["bench/chosen"].shape[0]
        for split in ("train", "test"):
            golden = st[f"{split}/rewards"][()]
            z = (golden - golden.mean()) / golden.std()
            length = np.maximum(1, np.round(300 + 60 * z + rng.normal(0, 40, golden.shape)))
            noise = 3 + 0.5 * rng.normal(0, 1, golden.shape)
            const = np.full(golden.shape, 7.0) if split == "train" else rng.normal(7, 1, golden.shape)
            files[f"{split}_emb"] = os.path.join(work, f"length_{split}.npy")
            files[f"{split}_rew"] = os.path.join(work, f"rewards_{split}.npy")
            np.save(files[f"{split}_emb"], np.stack([length, noise, const], axis=-1).astype(np.float32))
            np.save(files[f"{split}_rew"], golden.astype(np.float32))
    for side in ("chosen", "rejected"):
        files[side] = os.path.join(work, f"length_bench_{side}.npy")
        np.save(files[side], np.stack([np.round(rng.normal(300, 60, n_bench)), rng.normal(3, 0.5, n_bench),
                                       rng.normal(7, 1, n_bench)], axis=-1).astype(np.float32))
    run([RMENS, "import", "--train-embeddings", files["train_emb"], "--train-rewards", files["train_rew"],
         "--test-embeddings", files["test_emb"], "--test-rewards", files["test_rew"], "--bench-chosen", files["chosen"],
         "--bench-rejected", files["rejected"], "--output", store, "--view", "length"], "rmens import --view length")


def train_moments(store, views):
    """numpy's population moments of the views' train features, concatenated (std 0 -> 1)."""
    with h5py.File(store, "r") as st:
        parts = [st["train/embeddings" if v == "default" else f"views/{v}/train/embeddings"][()] for v in views]
    X = np.concatenate([p.astype(np.float64).reshape(-1, p.shape[-1]) for p in parts], axis=1)
    mean, std = X.mean(axis=0), X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def check_inputs_group(label, members, views, dim, mean, std):
    with h5py.File(members, "r") as f:
        if not check("inputs" in f, f"{label}: no /inputs in members.h5"):
            return None
        g = f["inputs"]
        check(list(g.attrs["views"]) == views, f"{label}: /inputs views {list(g.attrs['views'])}, expected {views}")
        check(int(g.attrs["dim"]) == dim, f"{label}: /inputs dim {g.attrs['dim']}, expected {dim}")
        m, s = g["mean"][()], g["std"][()]
        check(m.dtype == np.float64 and s.dtype == np.float64 and m.shape == (dim,) and s.shape == (dim,),
              f"{label}: /inputs mean/std {m.dtype}{m.shape}, {s.dtype}{s.shape}")
        scale = np.maximum(np.abs(mean), std)
        check(np.all(np.abs(m - mean) <= TOL_MOMENTS * scale), f"{label}: /inputs mean off numpy's by "
              f"{np.max(np.abs(m - mean) / scale):.3g} relative")
        check(np.all(np.abs(s - std) <= TOL_MOMENTS * std), f"{label}: /inputs std off numpy's by "
              f"{np.max(np.abs(s - std) / std):.3g} relative")
        name = "inputs:" + "+".join(views)
        for k in range(int(f.attrs["n_members"])):
            a = f[f"member_{k}"].attrs
            check(a.get("view") == name and int(a["dim"]) == dim,
                  f"{label}: member_{k} view {a.get('view')!r} dim {a.get('dim')}, expected {name!r} {dim}")
        return m, s


def refused(label, cmd, out, key, needle=None, files=("members.h5",)):
    p = run(cmd, label, expect_ok=False)
    text = p.stdout + p.stderr
    lines = [l for l in text.splitlines() if key in l]
    check(p.returncode != 0, f"{label}: not refused (exit 0)")
    check(len(lines) == 1 and (needle is None or needle in lines[0]),
          f"{label}: expected one line naming {key}{' and ' + needle if needle else ''}, got {lines}")
    for name in files:
        check(not os.path.exists(os.path.join(out, name)), f"{label}: {name} written")


def main():
    work = tempfile.mkdtemp(prefix="rmens_model_inputs.")
    try:
        store = os.path.join(work, "store.h5")
        base = [f"store={store}", "synth.train_prompts=150", "synth.train_responses=6", "synth.test_prompts=16",
                "synth.test_responses=8", "synth.dim=12", "synth.dtype=float16", "synth.bench_pairs=40",
                "model.hidden=[16,8]", "train.epochs=6", "train.batch_size=64", "pairs.count=1500",
                "ensemble.members=3", "parallel.blas_threads=1", "eval.bon_n=[1,2,4,8]", "eval.uwo_lambda=[0.5]",
                "eval.ablation_subsets=2", "eval.calibration_pairs=0", "eval.save_predictions=true"]
        sets = lambda extra: [a for s in base + extra for a in ("--set", s)]  # noqa: E731
        inputs = 'model.inputs=["default","length"]'
        run([RMENS, "synth", CFG, *sets([]), "--force"], "rmens synth")
        add_length_view(work, store)
        with h5py.File(store, "r") as st:
            D = st["train/embeddings"].shape[-1]
            check(st["train/embeddings"].dtype == np.float16, "the store is not float16")
        mean, std = train_moments(store, ["default", "length"])
        check(std[D + 2] == 1.0 and mean[D + 2] == 7.0, "the constant train feature's numpy moments")

        # MLP members on the composite, 2 ranks
        run1 = os.path.join(work, "run1")
        run([*mpi(2), "run", CFG, *sets([f"output={run1}", inputs]), "--force"], "rmens run with model.inputs")
        members = os.path.join(run1, "members.h5")
        got = check_inputs_group("mlp", members, ["default", "length"], D + 3, mean, std)
        if got is not None:
            check(got[1][D + 2] == 1.0 and got[0][D + 2] == 7.0,
                  f"constant feature: /inputs mean {got[0][D + 2]} std {got[1][D + 2]}, expected 7 and 1")
        torch_code = snippet("Loading a member into PyTorch")
        with h5py.File(os.path.join(run1, "results.h5"), "r") as r:
            pred = r["predictions"][()]
        with open(os.path.join(run1, "results.json"), encoding="utf-8") as fj:
            bench_acc = json.load(fj)["aggregators"]["mean"]["bench_accuracy"]
        E = pred.shape[0]
        worst, zc, zr = 0.0, [], []
        for m in range(E):
            z = exec_snippet(torch_code, members, store, m)
            check(z.shape == pred[m].shape, f"snippet z shape {z.shape}, predictions {pred[m].shape}")
            worst = max(worst, float(np.max(np.abs(z - pred[m]))))
            zc.append(exec_snippet(torch_code, members, store, m, "bench/chosen"))
            zr.append(exec_snippet(torch_code, members, store, m, "bench/rejected"))
        check(worst < TOL_PRED, f"the README snippet's scores differ from /predictions by {worst:.3g}")
        print(f"model.inputs: the README PyTorch snippet reproduces {E} members' predictions to {worst:.2e}")
        mc, mr = np.mean(zc, axis=0), np.mean(zr, axis=0)
        want = float(np.mean(np.where(mc > mr, 1.0, np.where(mc == mr, 0.5, 0.0))))
        near = int(np.sum(np.abs(mc - mr) < 1e-5))
        check(abs(bench_acc - want) <= (near + 0.5) / len(mc),
              f"bench accuracy of the mean {bench_acc}, the snippet on the composite bench pairs {want}")
        # the comparison can fail: standardised with the test split's moments instead
        with h5py.File(store, "r") as st, h5py.File(members, "r") as f:
            X = np.concatenate([st["test/embeddings"][()], st["views/length/test/embeddings"][()]], axis=-1)
            X = X.astype(np.float64)
            Xw = ((X - X.mean(axis=(0, 1))) / np.where(X.std(axis=(0, 1)) > 0, X.std(axis=(0, 1)), 1)).astype(np.float32)
            g = f["member_0"]
            h = Xw.astype(np.float64)
            L = len(g.attrs["hidden"]) + 1
            for l in range(L):
                h = h @ g[f"layer_{l}/weight"][()].T.astype(np.float64) + g[f"layer_{l}/bias"][()]
                h = np.maximum(h, 0) if l < L - 1 else h
            zw = (h[..., 0] - g.attrs["score_mean"]) / g.attrs["score_std"]
        check(np.max(np.abs(zw - pred[0])) > 100 * TOL_PRED, "test-split moments reproduce the predictions too: "
              "the comparison cannot tell the standardisations apart")

        # eval standardises with /inputs, not with moments recomputed from the store
        store2 = os.path.join(work, "store_rescaled.h5")
        shutil.copy(store, store2)
        with h5py.File(store2, "r+") as st:
            d = st["views/length/train/embeddings"]
            d[...] = d[()] * 3 + 100
        run_eval = os.path.join(work, "eval_rescaled")
        os.makedirs(run_eval)
        shutil.copy(members, run_eval)
        run([*mpi(2), "eval", CFG, *sets([f"output={run_eval}", f"store={store2}"]), "--force"], "rmens eval on the rescaled store")
        with h5py.File(os.path.join(run_eval, "results.h5"), "r") as r:
            check(r["predictions"][()].tobytes() == pred.tobytes(),
                  "rmens eval's predictions moved with the train split: it did not standardise with /inputs")

        # the listed order is the features' order; each feature's moments the same bits
        run2 = os.path.join(work, "run_reversed")
        run([RMENS, "train", CFG, *sets([f"output={run2}", 'model.inputs=["length","default"]']), "--force"],
            "rmens train with model.inputs reversed")
        mean_r, std_r = train_moments(store, ["length", "default"])
        rev = check_inputs_group("reversed", os.path.join(run2, "members.h5"), ["length", "default"], D + 3, mean_r, std_r)
        if got is not None and rev is not None:
            check(rev[0].tobytes() == np.concatenate([got[0][D:], got[0][:D]]).tobytes()
                  and rev[1].tobytes() == np.concatenate([got[1][D:], got[1][:D]]).tobytes(),
                  "/inputs of the reversed list is not the same moments reordered")

        # trees on the composite: the README's XGBoost snippet
        if HAVE_XGBOOST:
            run3 = os.path.join(work, "run_gbdt")
            run([*mpi(2), "run", CFG, *sets([f"output={run3}", inputs, "model.family=gbdt", "gbdt.rounds=15",
                                             "ensemble.members=2"]), "--force"], "rmens run gbdt with model.inputs")
            check_inputs_group("gbdt", os.path.join(run3, "members.h5"), ["default", "length"], D + 3, mean, std)
            xgb_code = snippet("Loading a tree member")
            with h5py.File(os.path.join(run3, "results.h5"), "r") as r:
                pred3 = r["predictions"][()]
            differing = 0
            for m in range(pred3.shape[0]):
                z = exec_snippet(xgb_code, os.path.join(run3, "members.h5"), store, m).astype(np.float32).reshape(-1)
                got3 = pred3[m].reshape(-1)
                bad = np.flatnonzero(z.view(np.uint32) != got3.view(np.uint32)) if z.shape == got3.shape else z
                differing += bad.size
                check(bad.size == 0, f"gbdt member {m}: the README XGBoost snippet differs from /predictions in "
                                     f"{bad.size} of {got3.size} (largest {np.max(np.abs(z - got3)):.3g})")
            print(f"model.inputs: the README XGBoost snippet and the gbdt members' predictions: {differing} differ")
        else:
            print("model.inputs: rmens built without XGBoost: the gbdt part is skipped")

        # a shared trunk on the composite
        run4 = os.path.join(work, "run_trunk")
        p = run([RMENS, "run", CFG, *sets([f"output={run4}", inputs, "ensemble.kind=shared_trunk"]), "--force"],
                "rmens run shared_trunk with model.inputs", expect_ok=False)
        if check(p.returncode == 0, "rmens run with ensemble.kind = shared_trunk and model.inputs exited with "
                                    f"{p.returncode}: {(p.stdout + p.stderr).strip().splitlines()[-1:]}"):
            check_inputs_group("shared_trunk", os.path.join(run4, "members.h5"), ["default", "length"], D + 3, mean, std)
            p = run([sys.executable, os.path.join(SRC, "tests", "ensemble", "check_trunk.py"), README, store, run4],
                    "check_trunk.py", expect_ok=False)
            check(p.returncode == 0, f"check_trunk.py on the shared trunk with model.inputs: {p.stdout}{p.stderr}")

        # refusals
        out = os.path.join(work, "refused_views")
        refused("model.inputs with ensemble.views",
                [*mpi(2), "train", CFG, *sets([f"output={out}", inputs, 'ensemble.views=["default","length"]'])],
                out, "model.inputs", "ensemble.views")
        out = os.path.join(work, "refused_unknown")
        refused("an unknown model.inputs view", [RMENS, "train", CFG, *sets([f"output={out}", 'model.inputs=["default","nope"]'])],
                out, "model.inputs", "'nope'")
        out = os.path.join(work, "refused_active")
        refused("rmens active with model.inputs",
                [RMENS, "active", CFG, *sets([f"output={out}", inputs, "active.pool=400", "active.initial=200",
                                              "active.batch=50", "active.rounds=1"])],
                out, "model.inputs", None, ("members.h5", "active.h5", "active.json"))
    finally:
        if not os.environ.get("KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"model.inputs: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("model.inputs: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
