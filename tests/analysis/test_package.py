#!/usr/bin/python3
"""The rmens Python package (analysis/rmens, issue 30), installed as a user installs it.

`pip install --no-build-isolation --no-deps --target TMP` of a copy of analysis/ (Debian's
Python, offline; a missing pip, setuptools or wheel fails with one line naming it), then,
with only TMP on the path for it, `import rmens` (from TMP, not the source tree) and:
  - rmens.load_members on real runs (a small synthetic store with a second view view1,
    eval.save_predictions = true) reproduces results.h5 /predictions to 1e-5 for
      an MLP member and a tree member (ensemble.families = ["mlp", "gbdt"], when rmens has
      XGBoost: the tree member bit for bit), the heads of a shared trunk (one trunk module
      shared by every head), and MLP members on model.inputs = ["default", "view1"] (the
      /inputs standardisation applied: scoring without it does not reproduce them);
    through member.score(store, "test") and through the torch module / booster callable
    called on Store.features; raw() standardised by score_mean / score_std is the score;
  - rmens.load_results: results.json as a mapping, results.h5 lazily (attrs, config,
    predictions, the ablation's std_over_subsets in both); rmens.Store: views, splits, lazy datasets, features of two views, rewards,
    and on a pair store (the committed human-labelled pairs, `rmens import`) /pairs;
  - `python3 -m rmens.plot_run RUN_DIR` writes the run's figures like analysis/plot_run.py.
Expects RMENS, MPIRUN, SRCDIR (set by ctest); the argument says whether rmens has XGBoost.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

PYTHON = "/usr/bin/python3"
HAVE_XGBOOST = len(sys.argv) > 1 and sys.argv[1] in ("1", "ON", "TRUE", "YES")
RMENS, MPIRUN, SRC = os.environ["RMENS"], os.environ["MPIRUN"], os.environ["SRCDIR"]
CFG = os.path.join(SRC, "configs", "demo.cfg")
TOL = 1e-5
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)
    return ok


def run(cmd, what, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
        sys.exit(f"FAIL: {what} exited with {p.returncode}")
    return p


def install(work):
    """pip install a copy of analysis/ into work/site; the path of site."""
    for module, debian in (("pip", "python3-pip"), ("setuptools", "python3-setuptools"), ("wheel", "python3-wheel")):
        p = subprocess.run([PYTHON, "-c", f"import {module}"], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"FAIL: {PYTHON} has no {module} (Debian: {debian}): cannot install ./analysis")
    src = os.path.join(work, "analysis")
    shutil.copytree(os.path.join(SRC, "analysis"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", "figures", "results"))
    site = os.path.join(work, "site")
    run([PYTHON, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index", "--quiet",
         "--disable-pip-version-check", "--target", site, src], "pip install ./analysis")
    return site


def sets(values):
    return [a for s in values for a in ("--set", s)]


def compare(label, members, results, store, kinds):
    """Every member's scores against /predictions; returns the largest difference."""
    import torch
    import rmens.members
    pred = results.predictions
    if not check(pred is not None, f"{label}: results.h5 has no /predictions"):
        return None
    pred = pred[()]
    check(len(members) == pred.shape[0] == results.members,
          f"{label}: {len(members)} members, /predictions {pred.shape}, results.json members {results.members}")
    check([m.family for m in members] == kinds, f"{label}: families {[m.family for m in members]}, expected {kinds}")
    worst = 0.0
    for m, member in enumerate(members):
        z = member.score(store, "test")
        X = store.features(member.views, "test")
        if member.family == "mlp":
            check(isinstance(member, torch.nn.Module), f"{label}: member {m} is not a torch.nn.Module")
            with torch.no_grad():
                zt = member(torch.from_numpy(X)).numpy()
                raw = member.raw(torch.from_numpy(X)).double().numpy()
        else:
            import xgboost
            check(isinstance(member, rmens.members.TreeMember) and isinstance(member.booster, xgboost.Booster),
                  f"{label}: member {m} is not a TreeMember around an xgboost.Booster")
            zt, raw = member(X), member.raw(X).astype(np.float64)
            if z.shape == pred[m].shape:
                check(z.tobytes() == pred[m].tobytes(), f"{label}: tree member {m} differs from /predictions "
                                                        f"({int(np.sum(z != pred[m]))} of {z.size})")
        check(z.dtype == np.float32 and z.shape == pred[m].shape, f"{label}: member {m} scores {z.dtype}{z.shape}, "
                                                                   f"/predictions {pred[m].shape}")
        if z.shape != pred[m].shape:
            continue
        check(np.array_equal(z, zt), f"{label}: member {m}: score() and calling the member differ")
        zr = (raw - member.score_mean) / member.score_std
        check(np.max(np.abs(zr - pred[m])) < TOL, f"{label}: member {m}: raw() standardised is not the score")
        worst = max(worst, float(np.max(np.abs(z - pred[m]))))
    check(worst < TOL, f"{label}: the package's members differ from /predictions by {worst:.3g}")
    print(f"{label}: {len(members)} members ({', '.join(kinds)}) reproduce /predictions to {worst:.2e}")
    return pred


def main():
    work = tempfile.mkdtemp(prefix="rmens_package.")
    try:
        site = install(work)
        sys.path.insert(0, site)
        import rmens  # noqa: E402
        import rmens._scripts  # noqa: E402
        check(os.path.dirname(os.path.abspath(rmens.__file__)) == os.path.join(site, "rmens"),
              f"import rmens found {rmens.__file__}, not the installed package in {site}")
        check(rmens._scripts.scripts_dir() == os.path.join(site, "rmens", "_analysis"),
              f"the installed package's scripts are not installed with it: {rmens._scripts.scripts_dir()}")
        for name in ("load_members", "load_results", "Store"):
            check(callable(getattr(rmens, name, None)), f"rmens.{name} missing")

        store_path = os.path.join(work, "store.h5")
        base = [f"store={store_path}", "synth.train_prompts=120", "synth.train_responses=6", "synth.test_prompts=12",
                "synth.test_responses=8", "synth.dim=12", "synth.views=1", "synth.bench_pairs=30",
                "model.hidden=[16,8]", "train.epochs=4", "train.batch_size=64", "pairs.count=1000",
                "ensemble.members=2", "parallel.blas_threads=1", "eval.bon_n=[1,2,4]", "eval.uwo_lambda=[0.5]",
                "eval.ablation_subsets=1", "eval.calibration_pairs=2000", "eval.save_predictions=true",
                "gbdt.rounds=10"]
        run([RMENS, "synth", CFG, *sets(base), "--force"], "rmens synth")
        runs = {"mlp": ([], ["mlp", "mlp"])}
        if HAVE_XGBOOST:
            runs["mlp+gbdt"] = (['ensemble.families=["mlp","gbdt"]'], ["mlp", "gbdt"])
        else:
            print("rmens built without XGBoost: the tree member is skipped")
        runs["shared_trunk"] = (["ensemble.kind=shared_trunk", "ensemble.members=3"], ["mlp"] * 3)
        runs["inputs"] = (['model.inputs=["default","view1"]'], ["mlp", "mlp"])
        store = rmens.Store(store_path)
        for label, (extra, kinds) in runs.items():
            out = os.path.join(work, label)
            mpi = [MPIRUN, "--oversubscribe", "--bind-to", "none", "-n", "2"] if label == "mlp" else []
            run([*mpi, RMENS, "run", CFG, *sets(base + extra + [f"output={out}"]), "--force"], f"rmens run ({label})")
            members = rmens.load_members(out)
            results = rmens.load_results(out)
            pred = compare(label, members, results, store, kinds)
            if label == "shared_trunk":
                check(all(m.body is members[0].body for m in members) and len(members[0].body) == 4,
                      "shared_trunk: the heads do not share one trunk module of 2 hidden layers")
                check(all(not np.array_equal(m.head.weight.detach().numpy(), members[0].head.weight.detach().numpy())
                          for m in members[1:]), "shared_trunk: the heads are the same")
            if label == "inputs" and pred is not None:
                m0 = members[0]
                check(m0.views == ["default", "view1"] and m0.input_mean is not None
                      and m0.dim == store.dim("default") + store.dim("view1"),
                      f"inputs: member 0 views {m0.views}, dim {m0.dim}, /inputs moments {m0.input_mean is not None}")
                m0.input_mean = None  # the comparison can fail: without /inputs' standardisation
                off = float(np.max(np.abs(m0.score(store, "test") - pred[0])))
                check(off > 100 * TOL, f"inputs: scores without the /inputs standardisation are off by only {off:.3g}")
            if label == "mlp":
                mlp_run, mlp_results, mlp_pred = out, results, pred
            else:
                results.close()
        check(len(rmens.load_members(mlp_run, members=[1])) == 1, "load_members(members=[1])")

        # load_results: results.json as a mapping, results.h5 lazily
        r = mlp_results
        check(r._h5 is not None, "load_results: results.h5 was not opened by .predictions")
        r2 = rmens.load_results(os.path.join(mlp_run, "results.json"))
        check(r2._h5 is None, "load_results opened results.h5 before it was asked for")
        check("aggregators" in r2 and isinstance(r2["aggregators"]["mean"]["spearman"], float)
              and len(r2) == len(r2.json),
              "load_results: results.json's aggregators are not in the mapping")
        check(r2.attrs.get("store_uuid") == store.uuid and r2.attrs.get("format") == "rmens-results",
              f"load_results: results.h5 attrs store_uuid {r2.attrs.get('store_uuid')}, store {store.uuid}")
        check("save_predictions" in (r2.config or ""), "load_results: .config is not the merged config text")
        check(abs(float(r2.h5["aggregators/mean"].attrs["spearman"]) - r2["aggregators"]["mean"]["spearman"]) < 1e-9,
              "load_results: results.h5 and results.json disagree on the mean's spearman")
        check(np.array_equal(r2.predictions[0, :2], mlp_pred[0, :2]), "load_results: a slice of /predictions")
        # the ablation's spread over subsets, in both files (k = 1 and 2 = E: one subset each, std 0)
        for k, entry in r2["ablation"].items():
            spread = entry.get("std_over_subsets", {}).get("aggregators", {}).get("mean", {})
            check(spread.get("spearman") == float(r2.h5[f"ablation/{k}/std_over_subsets/aggregators/mean"].attrs["spearman"])
                  == 0.0, f"load_results: ablation {k} std_over_subsets {spread}")
        r2.close()
        r.close()

        # Store: views, splits, lazy datasets, features
        import h5py
        check(store.views == ["default", "view1"], f"Store.views {store.views}")
        check(store.splits == ["train", "test", "bench/chosen", "bench/rejected"], f"Store.splits {store.splits}")
        emb = store.embeddings("test", "view1")
        check(isinstance(emb, h5py.Dataset) and emb.shape[:2] == (12, 8), f"Store.embeddings: {emb!r}")
        F = store.features(["default", "view1"], "train", rows=slice(3, 5))
        check(F.dtype == np.float32 and F.shape == (2, 6, store.dim("default") + store.dim("view1"))
              and np.array_equal(F[..., :store.dim()], store["train/embeddings"][3:5]),
              f"Store.features of two views: {F.dtype}{F.shape}")
        check(store.rewards("test").shape == (12, 8), "Store.rewards")
        check(store.features("default", "bench/chosen").shape == (30, 12), "Store.features of bench/chosen")
        store.close()
        data = os.path.join(SRC, "tests", "data", "real", "hh_rlhf_harmless_use_tail")
        pstore = os.path.join(work, "pairs.h5")
        arrays = [(f"--{split}-{part}", os.path.join(data, f"{split}_{stem}.npy")) for split in ("train", "test")
                  for part, stem in (("chosen", "chosen"), ("rejected", "rejected"), ("groups", "group"))]
        run([RMENS, "import", *[a for pair in arrays for a in pair], "--output", pstore], "rmens import (pairs)")
        with rmens.Store(pstore) as ps:
            want = [f"pairs/{s}/{side}" for s in ("train", "test") for side in ("chosen", "rejected")]
            check(ps.splits == want,
                  f"pair Store.splits {ps.splits}")
            p = ps.pairs("test")
            chosen = np.load(os.path.join(data, "test_chosen.npy"))
            check(p["chosen"].shape == chosen.shape and p["rejected"].shape == chosen.shape
                  and p["group"] is not None and p["group"].shape == chosen.shape[:1],
                  f"pair Store.pairs: {p}")
            check(np.array_equal(p["chosen"][:3], chosen[:3].astype(p["chosen"].dtype)), "pair Store: chosen rows")

        # python3 -m rmens.plot_run, from another directory with the installed package only
        env = {**os.environ, "PYTHONPATH": site, "MPLBACKEND": "Agg"}
        p = subprocess.run([PYTHON, "-m", "rmens.plot_run", mlp_run], capture_output=True, text=True, timeout=300,
                           env=env, cwd=work)
        printed = [line for line in p.stdout.splitlines() if line.strip()]
        check(p.returncode == 0 and len(printed) >= 4 and all(os.path.getsize(f) > 10000 for f in printed)
              and all(os.path.dirname(f) == os.path.join(mlp_run, "figures") for f in printed),
              f"python3 -m rmens.plot_run: exit {p.returncode}, printed {printed}, {p.stderr.strip()}")
        p = subprocess.run([PYTHON, "-m", "rmens.plot_run", os.path.join(work, "nothing")], capture_output=True,
                           text=True, timeout=120, env=env, cwd=work)
        check(p.returncode == 1 and "results.json" in p.stderr and "Traceback" not in p.stderr,
              f"python3 -m rmens.plot_run without results: exit {p.returncode}, {p.stderr.strip()}")
    finally:
        if not os.environ.get("KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"test_package: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("test_package: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
