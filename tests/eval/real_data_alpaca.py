#!/usr/bin/python3
"""Issue 28's acceptance on real data: the committed AlpacaEval store, held-out prompts.

tests/data/real/alpaca_eval_use_k11 (605 train / 200 test prompts x 11 responses, a real
sentence encoder's D 512 float16 embeddings, GPT-4-turbo golden rewards, lengths) is
imported with `rmens import` (the lengths as view "length", and as view "log_length" with
`--log1p`), then:
  1. `rmens run configs/real_data.cfg` (embeddings only): the mean ensemble's held-out
     within-prompt pair accuracy and golden best-of-11 reach scikit-learn's
     LogisticRegression probe on within-prompt differences (standardised features, no
     intercept, both orders, C chosen by prompt-grouped 5-fold cross-validation on the
     train prompts) minus 0.005;
  2. the same with model.inputs = ["default", "log_length"]: it beats length alone (in
     characters and in tokens) on pair accuracy and reaches the probe on the same inputs
     (embedding and log(1 + length)) minus 0.005 on both figures;
  3. train.val_split = "prompts" with a validation fraction: the final validation pair
     accuracy is within 0.03 of the held-out pair accuracy, and members.h5 records the
     rule and zero overlap; under "pairs" the overlap is recorded as 1;
  4. with the new keys (model.inputs, val_split = "prompts", train.l2, all-pairs design),
     members and figures are bitwise identical on 1, 2 and 3 ranks.
The figures rmens reports are recomputed here (pair accuracy, bon) from its saved
predictions, with tests/eval/check_results.py's definitions. Expects RMENS, MPIRUN,
SRCDIR (set by ctest).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_results import bon_exact, pair_accuracy_counts  # noqa: E402

RMENS = os.environ["RMENS"]
MPIRUN = os.environ.get("MPIRUN", "mpirun")
SRC = os.environ["SRCDIR"]
DATA = os.path.join(SRC, "tests", "data", "real", "alpaca_eval_use_k11")
CFG = os.path.join(SRC, "configs", "real_data.cfg")
MARGIN = 0.005
C_GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(args, ranks=1):
    cmd = [MPIRUN, "-n", str(ranks), "--oversubscribe", "--bind-to", "none", RMENS] + args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def load(split):
    e = np.load(os.path.join(DATA, f"{split}_embeddings.npy")).astype(np.float64)
    return e, np.load(os.path.join(DATA, f"{split}_rewards.npy")), np.load(os.path.join(DATA, f"{split}_length.npy"))


def figures(score, golden):
    """Pooled within-prompt pair accuracy and golden best-of-K, as rmens defines them."""
    correct = total = 0.0
    for p in range(len(golden)):
        c, t = pair_accuracy_counts(score[p], golden[p])
        correct, total = correct + c, total + t
    K = golden.shape[1]
    return correct / total, float(np.mean([bon_exact(score[p], golden[p], K) for p in range(len(golden))]))


def differences(X, R):
    """Within-prompt differences of every untied pair, in both orders, and their labels."""
    N, K, _ = X.shape
    i, j = np.triu_indices(K, 1)
    d = (X[:, i] - X[:, j]).reshape(-1, X.shape[-1])
    g = (R[:, i] - R[:, j]).reshape(-1)
    keep = g != 0
    d, y = d[keep], g[keep] > 0
    return np.concatenate([d, -d]), np.concatenate([y, ~y]), np.repeat(np.arange(N), len(i))[keep]


def probe(Xtr, Rtr, Xte, Rte):
    """LogisticRegression on standardised within-prompt differences, C by grouped CV."""
    flat = Xtr.reshape(-1, Xtr.shape[-1])
    mu, sd = flat.mean(0), flat.std(0)
    sd[sd == 0] = 1
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    groups = np.arange(len(Xtr))
    best = None
    for C in C_GRID:
        scores = []
        for fit, held in GroupKFold(n_splits=5).split(Xtr, groups=groups):
            A, y, _ = differences(Xtr[fit], Rtr[fit])
            w = LogisticRegression(C=C, fit_intercept=False, max_iter=3000).fit(A, y).coef_[0]
            scores.append(figures(Xtr[held] @ w, Rtr[held])[0])
        if best is None or np.mean(scores) > best[0]:
            best = (np.mean(scores), C)
    A, y, _ = differences(Xtr, Rtr)
    w = LogisticRegression(C=best[1], fit_intercept=False, max_iter=3000).fit(A, y).coef_[0]
    return best[1], figures(Xte @ w, Rte)


def rmens_figures(out):
    r = json.load(open(os.path.join(out, "results.json")))
    mean = r["aggregators"]["mean"]
    return r, mean["pair_accuracy"], mean["bon"]["11"]


def recompute(out, store, golden):
    """Mean aggregator's figures from the saved per-member standardised predictions."""
    with h5py.File(os.path.join(out, "results.h5")) as f:
        pred = f["predictions"][()]  # [E, N, K]
    return figures(pred.mean(0).astype(np.float64), golden)


# provenance that names the run (its output path is in config and members_file) or the job
PROVENANCE = ("version", "ranks", "eval_seconds", "cpu", "config", "members_file")


def attr_value(v):
    """Comparable bytes of an attribute (h5py gives object arrays of strings and Empty)."""
    if isinstance(v, (str, h5py.Empty)):
        return repr(v)
    a = np.asarray(v)
    return repr(a.tolist()) if a.dtype == object else a.dtype.str + a.tobytes().hex()


def h5_content(path):
    """Every dataset and attribute but provenance (/run, version, timings), for bitwise equality."""
    out = {}
    with h5py.File(path) as f:
        def visit(name, obj):
            if name.startswith("run"):
                return
            for k, v in obj.attrs.items():
                if k not in PROVENANCE:
                    out[f"{name}@{k}"] = attr_value(v)
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()].tobytes()
        f.visititems(visit)
        for k, v in f.attrs.items():
            if k not in PROVENANCE:
                out[f"@{k}"] = attr_value(v)
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="rmens-real-")
    try:
        store = os.path.join(tmp, "store.h5")
        d = DATA
        run(["import", "--train-embeddings", f"{d}/train_embeddings.npy", "--train-rewards", f"{d}/train_rewards.npy",
             "--test-embeddings", f"{d}/test_embeddings.npy", "--test-rewards", f"{d}/test_rewards.npy",
             "--output", store, "--float16"])
        run(["import", "--train-embeddings", f"{d}/train_length.npy", "--train-rewards", f"{d}/train_rewards.npy",
             "--test-embeddings", f"{d}/test_length.npy", "--test-rewards", f"{d}/test_rewards.npy",
             "--output", store, "--view", "length"])
        run(["import", "--train-embeddings", f"{d}/train_length.npy", "--train-rewards", f"{d}/train_rewards.npy",
             "--test-embeddings", f"{d}/test_length.npy", "--test-rewards", f"{d}/test_rewards.npy",
             "--output", store, "--view", "log_length", "--log1p"])
        Etr, Rtr, Ltr = load("train")
        Ete, Rte, Lte = load("test")
        base = ["--set", f'store="{store}"', "--set", "eval.save_predictions=true", "--set", 'eval.bias_features=["length"]']

        # 1. embeddings only
        out = os.path.join(tmp, "emb")
        run(["run", CFG, "--set", f'output="{out}"'] + base, ranks=2)
        r, acc, bon = rmens_figures(out)
        racc, rbon = recompute(out, store, Rte)
        check(abs(racc - acc) < 1e-9 and abs(rbon - bon) < 1e-6, f"rmens figures recomputed: {acc:.4f}/{bon:.4f} vs {racc:.4f}/{rbon:.4f}")
        C, (pacc, pbon) = probe(Etr, Rtr, Ete, Rte)
        print(f"probe (embeddings, C={C}): pair acc {pacc:.4f}, bon@11 {pbon:.4f}; rmens mean {acc:.4f}, {bon:.4f}; "
              f"single {r['single']['pair_accuracy']:.4f}")
        check(acc >= pacc - MARGIN, f"embeddings: mean ensemble pair accuracy {acc:.4f} >= probe {pacc:.4f} - {MARGIN}")
        check(bon >= pbon - MARGIN, f"embeddings: mean ensemble best-of-11 {bon:.4f} >= probe {pbon:.4f} - {MARGIN}")
        lacc, lbon = figures(Lte[..., 0].astype(np.float64), Rte)
        fb = r["feature_bias"]["length"]
        check(abs(fb["bon"]["11"] - lbon) < 1e-9, f"feature_bias.length.bon[11] {fb['bon']['11']:.4f} = length alone {lbon:.4f}")

        # 2. embeddings and log length
        out2 = os.path.join(tmp, "emb_len")
        run(["run", CFG, "--set", f'output="{out2}"', "--set", 'model.inputs=["default","log_length"]'] + base, ranks=2)
        _, acc2, bon2 = rmens_figures(out2)
        C2, (pacc2, pbon2) = probe(np.concatenate([Etr, np.log1p(Ltr)], -1), Rtr,
                                   np.concatenate([Ete, np.log1p(Lte)], -1), Rte)
        tacc, tbon = figures(Lte[..., 1].astype(np.float64), Rte)
        print(f"probe (embeddings + log length, C={C2}): {pacc2:.4f}, {pbon2:.4f}; rmens {acc2:.4f}, {bon2:.4f}; "
              f"length alone: characters {lacc:.4f}, {lbon:.4f}, tokens {tacc:.4f}, {tbon:.4f}")
        check(acc2 > max(lacc, tacc), f"with length: pair accuracy {acc2:.4f} beats length alone {max(lacc, tacc):.4f}")
        check(acc2 >= pacc2 - MARGIN, f"with length: pair accuracy {acc2:.4f} >= probe {pacc2:.4f} - {MARGIN}")
        check(bon2 >= pbon2 - MARGIN, f"with length: best-of-11 {bon2:.4f} >= probe {pbon2:.4f} - {MARGIN}")

        # 3. validation on unseen prompts tracks the held-out figure; "pairs" records its leak
        val = ["--set", "train.val_fraction=0.2", "--set", "train.patience=3", "--set", "train.restore_best=true"]
        out3 = os.path.join(tmp, "val_prompts")
        run(["run", CFG, "--set", f'output="{out3}"'] + base + val, ranks=2)
        r3, acc3, _ = rmens_figures(out3)
        with h5py.File(os.path.join(out3, "members.h5")) as f:
            rule, overlap = f.attrs["val_split"], f.attrs["val_prompt_overlap"]
            vals = [f[f"member_{m}/history/val_accuracy"][f[f"member_{m}"].attrs["best_epoch"] - 1] for m in range(4)]
        single = r3["single"]["pair_accuracy"]
        print(f"val_split prompts: validation {np.mean(vals):.4f}, held-out single {single:.4f}, mean {acc3:.4f}")
        check(rule == "prompts" and overlap == 0, f"members.h5 records val_split {rule} with overlap {overlap}")
        check(abs(np.mean(vals) - single) <= 0.03, f"validation {np.mean(vals):.4f} within 0.03 of held-out {single:.4f}")
        out4 = os.path.join(tmp, "val_pairs")
        run(["run", CFG, "--set", f'output="{out4}"', "--set", 'train.val_split="pairs"'] + base + val)
        with h5py.File(os.path.join(out4, "members.h5")) as f:
            check(f.attrs["val_split"] == "pairs" and f.attrs["val_prompt_overlap"] == 1.0,
                  f"under \"pairs\" the leak is recorded: overlap {f.attrs['val_prompt_overlap']}")

        # 4. rank invariance with the new keys
        outs = []
        for ranks in (1, 2, 3):
            o = os.path.join(tmp, f"ranks{ranks}")
            run(["run", CFG, "--set", f'output="{o}"', "--set", 'model.inputs=["default","log_length"]',
                 "--set", "train.epochs=20"] + base + val, ranks=ranks)
            outs.append(o)
        for name in ("members.h5", "results.h5"):
            ref = h5_content(os.path.join(outs[0], name))
            for o in outs[1:]:
                other = h5_content(os.path.join(o, name))
                differ = sorted(k for k in set(ref) | set(other) if ref.get(k) != other.get(k))
                check(not differ, f"{name} identical on 1 rank and {os.path.basename(o)}" + (f": differ {differ[:5]}" if differ else ""))
        strip = lambda t: "\n".join(l for l in t.splitlines() if not l.startswith('"provenance"'))
        ref = strip(open(os.path.join(outs[0], "results.json")).read())
        for o in outs[1:]:
            check(strip(open(os.path.join(o, "results.json")).read()) == ref, f"results.json identical, {os.path.basename(o)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print("real_data_alpaca: all checks passed")


if __name__ == "__main__":
    main()
