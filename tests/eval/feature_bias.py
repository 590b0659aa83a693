#!/usr/bin/python3
"""eval.bias_features end to end (include/rmens/eval/eval_bias.h, issue 28 item 5).

A small synthetic store gets a view "length" of F = 2 scalar features per response
(`rmens import --view length`): feature 0 a whole-number "length" correlated with the
golden reward plus noise (so it has ties), feature 1 anti-correlated with it (a run that
used the wrong feature would fail). Test prompt 0 has a constant length: its Spearman is
undefined and must add nothing. Shared-init members make the warm aggregator present.
`rmens run` with eval.bias_features = ["length"] on 1 and 2 MPI ranks, then:
  - results.json "feature_bias" identical for 1 and 2 ranks, results.h5 /feature_bias too;
  - every number recomputed here from results.h5's /predictions, the store's golden test
    rewards and the view's arrays: the mean over prompts of scipy.stats.spearmanr of
    feature 0 with golden, each aggregator (mean, min, median, uwo_0.5: tests/eval/
    check_results.py's aggregates), warm (the members' weight average in numpy,
    tests/eval/check_warm.py), each member (single = their mean); the golden best-of-n of
    ranking by feature 0 (check_results.py's bon_exact, the estimator of aggregators' bon);
  - results.h5 and results.json hold the same numbers; the table has the block;
  - eval.bias_features = [] (the default) writes no feature_bias anywhere and leaves every
    other figure as it is with the key;
  - an unknown view: exit != 0, one error line naming eval.bias_features and the views.
Expects RMENS, MPIRUN, SRCDIR (set by ctest).
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_results import aggregates, bon_exact  # noqa: E402
from check_warm import average, forward  # noqa: E402

TOL = 1e-9       # double arithmetic on the same float32 inputs
TOL_WARM = 1e-6  # warm: numpy's float64 forward against rmens's float32 scores (rank-based: equal ranks)
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)
    return ok


def run(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
        sys.exit(f"FAIL: {what} exited with {p.returncode}")
    return p


def close(got, want, tol=TOL):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got is not None and abs(got - want) <= tol * max(1.0, abs(want))


def mean_spearman(feature, score):
    """Mean over prompts of the within-prompt Spearman; prompts where it is undefined (a
    constant side) left out; NaN when none is left."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about the constant prompt
        rhos = [stats.spearmanr(feature[p], score[p]).correlation for p in range(len(feature))]
    rhos = [r for r in rhos if not math.isnan(r)]
    return float(np.mean(rhos)) if rhos else math.nan


def write_length_view(work, store):
    """The .npy files of the view, rewards copied from the store bit for bit."""
    rng = np.random.default_rng(28)
    paths = {}
    with h5py.File(store, "r") as st:
        for split in ("train", "test"):
            golden = st[f"{split}/rewards"][()]
            z = (golden - golden.mean()) / golden.std()
            length = np.maximum(1, np.round(40 + 8 * z + rng.normal(0, 6, golden.shape)))
            if split == "test":
                length[0, :] = 37  # a prompt of equal lengths: no Spearman there
            tokens = 200 - length + rng.normal(0, 1, golden.shape)  # anti-correlated: the wrong feature
            feats = np.stack([length, tokens], axis=-1).astype(np.float32)
            paths[f"{split}_emb"] = os.path.join(work, f"length_{split}.npy")
            paths[f"{split}_rew"] = os.path.join(work, f"rewards_{split}.npy")
            np.save(paths[f"{split}_emb"], feats)
            np.save(paths[f"{split}_rew"], golden.astype(np.float32))
    return paths


def expected(store, run_dir, results_h5):
    """Every feature_bias number of view "length", recomputed."""
    with h5py.File(store, "r") as st, h5py.File(results_h5, "r") as res, \
            h5py.File(os.path.join(run_dir, "members.h5"), "r") as mem:
        golden = st["test/rewards"][()].astype(np.float64)
        feature = st["views/length/test/embeddings"][()][:, :, 0].astype(np.float64)
        z = res["predictions"][()].astype(np.float64)
        bon_n = [int(n) for n in res["bon_n"][()]]
        E = z.shape[0]
        layers = average(mem, list(range(E)))
        train = forward(layers, st["train/embeddings"][()].astype(np.float64)).ravel()
        warm = (forward(layers, st["test/embeddings"][()].astype(np.float64)) - train.mean()) / train.std()
    want = {"golden": mean_spearman(feature, golden)}
    for name, score in aggregates(z).items():
        want[name] = mean_spearman(feature, score)
    want["warm"] = mean_spearman(feature, warm)
    members = [mean_spearman(feature, z[m]) for m in range(E)]
    want["single"] = float(np.mean([r for r in members if not math.isnan(r)]))
    want["bon"] = {str(n): float(np.mean([bon_exact(feature[p], golden[p], n) for p in range(len(golden))]))
                   for n in bon_n}
    return want, members


def compare(label, got, want, members, h5_group):
    keys = ["golden", "mean", "min", "median", "uwo_0.5", "warm", "single", "bon"]
    check(list(got) == keys, f"{label}: keys {list(got)}, expected {keys}")
    for k in keys:
        if k == "bon":
            check(list(got["bon"]) == list(want["bon"]), f"{label}: bon n {list(got['bon'])} vs {list(want['bon'])}")
            for n, v in want["bon"].items():
                check(close(got["bon"].get(n), v), f"{label}: bon[{n}] {got['bon'].get(n)} vs numpy {v}")
        else:
            check(close(got.get(k), want[k], TOL_WARM if k == "warm" else TOL), f"{label}: {k} {got.get(k)} vs numpy {want[k]}")
    # results.h5 holds the same numbers as results.json, and each member's own
    for k in keys[:-1]:
        check(float(h5_group.attrs[k]) == got[k], f"{label}: results.h5 {k} {h5_group.attrs[k]} != results.json {got[k]}")
    check(list(h5_group["bon"][()]) == list(got["bon"].values()), f"{label}: results.h5 bon differs from results.json")
    check(int(h5_group.attrs["feature_dim"]) == 2, f"{label}: feature_dim {h5_group.attrs['feature_dim']}")
    got_members = list(h5_group["members"][()])
    check(len(got_members) == len(members) and all(close(a, b) for a, b in zip(got_members, members)),
          f"{label}: members {got_members} vs numpy {members}")


def h5_bias(path):
    with h5py.File(path, "r") as f:
        if "feature_bias" not in f:
            return None
        g = f["feature_bias/length"]
        return {k: float(v) for k, v in g.attrs.items()}, g["bon"][()].tolist(), g["members"][()].tolist()


def main():
    rmens, mpirun, src = os.environ["RMENS"], os.environ["MPIRUN"], os.environ["SRCDIR"]
    work = tempfile.mkdtemp(prefix="rmens_feature_bias.")
    try:
        cfg = os.path.join(src, "configs", "demo.cfg")
        store = os.path.join(work, "store.h5")
        base = [f"store={store}", "synth.train_prompts=200", "synth.train_responses=6", "synth.test_prompts=29",
                "synth.test_responses=9", "synth.dim=16", "synth.bench_pairs=0", "model.hidden=[16,8]",
                "train.epochs=8", "train.batch_size=64", "pairs.count=800", "ensemble.members=3",
                "ensemble.shared_init=true", "parallel.blas_threads=1", "eval.bon_n=[1,2,4,9]",
                "eval.uwo_lambda=[0.5]", "eval.ablation_subsets=2", "eval.chunk_prompts=5",
                "eval.calibration_pairs=0", "eval.save_predictions=true"]
        sets = lambda extra: [a for s in base + extra for a in ("--set", s)]  # noqa: E731
        mpi = lambda n: [mpirun, "--oversubscribe", "--bind-to", "none", "-n", str(n), rmens]  # noqa: E731
        run([rmens, "synth", cfg, *sets([]), "--force"], "rmens synth")
        v = write_length_view(work, store)
        run([rmens, "import", "--train-embeddings", v["train_emb"], "--train-rewards", v["train_rew"],
             "--test-embeddings", v["test_emb"], "--test-rewards", v["test_rew"], "--output", store, "--view", "length"],
            "rmens import --view length")

        bias = ['eval.bias_features=["length"]']
        out = {}
        for np_ in (1, 2):
            run_dir = os.path.join(work, f"run{np_}")
            p = run([*mpi(np_), "run", cfg, *sets([f"output={run_dir}", *bias]), "--force"], f"rmens run on {np_} rank(s)")
            check("feature bias (length)" in p.stdout and "golden best-of-9 ranking by the feature alone" in p.stdout,
                  f"{np_} rank(s): no feature bias block in the table")
            with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
                out[np_] = json.load(f)
        check(out[1].get("feature_bias") == out[2].get("feature_bias"),
              f"feature_bias differs between 1 and 2 ranks: {out[1].get('feature_bias')} vs {out[2].get('feature_bias')}")
        h5 = {n: os.path.join(work, f"run{n}", "results.h5") for n in (1, 2)}
        check(h5_bias(h5[1]) == h5_bias(h5[2]), "results.h5 /feature_bias differs between 1 and 2 ranks")

        want, members = expected(store, os.path.join(work, "run1"), h5[1])
        with h5py.File(h5[1], "r") as res:
            compare("feature_bias.length", out[1]["feature_bias"]["length"], want, members, res["feature_bias/length"])
        # the comparison must be able to fail: the second feature gives other numbers
        check(abs(want["golden"]) > 0.3 and want["golden"] > 0, f"the length view is not length-like: rho {want['golden']}")

        # eval.bias_features = [] (the default): no feature_bias, every other figure as before
        plain = os.path.join(work, "run1")
        run([rmens, "eval", cfg, *sets([f"output={plain}"]), "--force"], "rmens eval without bias features")
        with open(os.path.join(plain, "results.json"), encoding="utf-8") as f:
            without = json.load(f)
        check("feature_bias" not in without and h5_bias(os.path.join(plain, "results.h5")) is None,
              "eval.bias_features = [] wrote feature_bias")
        strip = lambda r: {k: v for k, v in r.items() if k not in ("feature_bias", "provenance")}  # noqa: E731
        check(strip(without) == strip(out[1]), "the figures other than feature_bias change with eval.bias_features")

        # an unknown view: refused before any work, one line, results left as they were
        before = open(os.path.join(plain, "results.json"), "rb").read()
        p = subprocess.run([*mpi(2), "eval", cfg, *sets([f"output={plain}", 'eval.bias_features=["length","nope"]']),
                            "--force"], capture_output=True, text=True, timeout=300)
        lines = [l for l in (p.stdout + p.stderr).splitlines() if "eval.bias_features" in l]
        check(p.returncode != 0, "an unknown eval.bias_features view was not refused")
        check(len(lines) == 1 and "'nope'" in lines[0] and "default, length" in lines[0],
              f"expected one line naming eval.bias_features, 'nope' and the views, got {lines}")
        check(open(os.path.join(plain, "results.json"), "rb").read() == before, "the refused eval touched results.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"feature_bias: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("feature_bias: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
