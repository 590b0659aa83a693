#!/usr/bin/python3
"""Held-out baselines on the committed AlpacaEval embeddings (tests/data/real/alpaca_eval_use_k11).

    /usr/bin/python3 analysis/real_data_baselines.py [--data DIR] [--seed S] [--json OUT]

Every figure is on the test prompts (200 x 11 responses); every fit sees the train prompts only.

Metrics, per scorer (a score per response):
  pair acc  within-prompt pairwise accuracy, pooled over every within-prompt test pair whose
            golden rewards differ (exact inequality); a score tie counts half.
  best-of-11  mean over test prompts of the golden reward of the highest-scored response; tied
            top scores share (mean golden of the tied top responses).
Reference lines: random pick (mean golden of a prompt's responses, averaged over prompts) and
oracle (max golden, averaged over prompts).

Rows:
  1. response length alone (longer wins): characters; tokens.
  2. logistic probe: sklearn LogisticRegression(fit_intercept=False, lbfgs) on within-prompt
     differences of standardised embeddings (train-split moments), both orders, golden ties
     dropped; C by prompt-grouped 5-fold CV (GroupKFold) on the train prompts over C_GRID,
     CV metric = pooled pair accuracy on the held-out fold (moments re-estimated on each
     fold's train part).
  3. the same probe on embedding + log(1 + length) (characters and tokens) and on embedding +
     raw length (characters and tokens), all standardised.
  4. PyTorch MLP ensemble: 4 members x [64] ReLU, Bradley-Terry loss on every within-prompt
     train pair with distinct golden reward, inputs embedding + log(1 + length) standardised,
     Adam (lr 1e-3, weight decay 1e-5), 20 epochs, batch 512; members differ by seed. The
     ensemble scores a response by the mean over members of the member's score standardised
     with that member's train-response score mean and sd; the "single member" row is the mean
     (and sd) over members of each member's own figures.
  5. PyTorch linear BT (no bias) on the probe's inputs, trained with Adam on the probe's exact
     objective (mean BT loss + ||w||^2 / (2 C n_rows), C the probe's chosen C, n_rows the
     both-order row count), as a sanity row: its cosine with the sklearn weights is printed.

Deterministic given --seed (torch on 1 thread, deterministic algorithms; lbfgs and GroupKFold
have no randomness). numpy / BLAS threads are pinned to 1 as well.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(os.path.dirname(HERE), "tests", "data", "real", "alpaca_eval_use_k11")
C_GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
FOLDS = 5
MLP_MEMBERS = 4
MLP_HIDDEN = 64
EPOCHS = 20
BATCH = 512
LR = 1e-3
MLP_WD = 1e-5


# ---------------------------------------------------------------- data and metrics

def load(data):
    out = {}
    for s in ("train", "test"):
        emb = np.load(os.path.join(data, f"{s}_embeddings.npy")).astype(np.float32)
        rew = np.load(os.path.join(data, f"{s}_rewards.npy")).astype(np.float64)
        length = np.load(os.path.join(data, f"{s}_length.npy")).astype(np.float64)
        assert emb.ndim == 3 and rew.shape == emb.shape[:2] and length.shape == emb.shape[:2] + (2,)
        out[s] = dict(emb=emb, rew=rew, len=length)
    return out


def pairs(rew):
    """(prompt, i, j) of every within-prompt pair i < j with distinct golden reward."""
    n, k = rew.shape
    iu, ju = np.triu_indices(k, 1)
    p = np.repeat(np.arange(n), iu.size)
    i = np.tile(iu, n)
    j = np.tile(ju, n)
    keep = rew[p, i] != rew[p, j]
    return p[keep], i[keep], j[keep]


def pair_accuracy(score, rew):
    p, i, j = pairs(rew)
    ds = score[p, i] - score[p, j]
    dr = rew[p, i] - rew[p, j]
    correct = (np.sign(ds) == np.sign(dr)).astype(np.float64)
    correct[ds == 0] = 0.5
    return float(correct.mean()), int(p.size)


def best_of(score, rew):
    top = score == score.max(axis=1, keepdims=True)
    return float(((rew * top).sum(axis=1) / top.sum(axis=1)).mean())


def metrics(score, rew):
    acc, npairs = pair_accuracy(score, rew)
    return dict(pair_acc=acc, best_of_k=best_of(score, rew), test_pairs=npairs)


# ---------------------------------------------------------------- features

def features(d, kind):
    """[N, K, F] float32 features of one split (unstandardised)."""
    if kind == "emb":
        return d["emb"]
    if kind == "emb+loglen":
        extra = np.log1p(d["len"])
    elif kind == "emb+len":
        extra = d["len"]
    else:
        raise ValueError(kind)
    return np.concatenate([d["emb"], extra.astype(np.float32)], axis=2)


def moments(x):
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    mu = flat.mean(axis=0)
    sd = flat.std(axis=0)
    sd[sd == 0] = 1.0
    return mu.astype(np.float32), sd.astype(np.float32)


def standardise(x, mom):
    return (x - mom[0]) / mom[1]


def diff_rows(x, rew):
    """Both-order within-prompt differences and labels (1 when the first response is better)."""
    p, i, j = pairs(rew)
    d = x[p, i] - x[p, j]
    y = (rew[p, i] > rew[p, j]).astype(np.int64)
    return np.concatenate([d, -d]), np.concatenate([y, 1 - y])


# ---------------------------------------------------------------- logistic probe

def fit_probe(x_tr, rew_tr, C):
    X, y = diff_rows(x_tr, rew_tr)
    clf = LogisticRegression(C=C, fit_intercept=False, solver="lbfgs", max_iter=2000, tol=1e-6)
    clf.fit(X.astype(np.float64), y)
    return clf.coef_[0].astype(np.float64), X.shape[0], int(clf.n_iter_[0])


def probe(data, kind):
    raw_tr = features(data["train"], kind)
    raw_te = features(data["test"], kind)
    rew_tr = data["train"]["rew"]
    groups = np.arange(raw_tr.shape[0])
    cv = {C: [] for C in C_GRID}
    for tr_idx, va_idx in GroupKFold(n_splits=FOLDS).split(raw_tr, groups=groups):
        mom = moments(raw_tr[tr_idx])
        x_tr = standardise(raw_tr[tr_idx], mom)
        x_va = standardise(raw_tr[va_idx], mom)
        for C in C_GRID:
            w, _, _ = fit_probe(x_tr, rew_tr[tr_idx], C)
            cv[C].append(pair_accuracy(x_va @ w, rew_tr[va_idx])[0])
    cv_mean = {C: float(np.mean(v)) for C, v in cv.items()}
    best_C = max(C_GRID, key=lambda C: (cv_mean[C], -C))  # ties: the smaller C
    mom = moments(raw_tr)
    x_tr = standardise(raw_tr, mom)
    x_te = standardise(raw_te, mom)
    w, n_rows, n_iter = fit_probe(x_tr, rew_tr, best_C)
    m = metrics(x_te @ w, data["test"]["rew"])
    info = dict(C=best_C, cv_mean=cv_mean, cv_folds={C: v for C, v in cv.items()},
                n_rows=n_rows, lbfgs_iter=n_iter)
    return m, info, w, x_tr, x_te


# ---------------------------------------------------------------- torch Bradley-Terry

def train_bt(model, x_tr, rew_tr, seed, weight_decay=0.0, l2=0.0):
    """Bradley-Terry on every within-prompt train pair with distinct golden reward."""
    g = torch.Generator().manual_seed(seed)
    p, i, j = pairs(rew_tr)
    better = rew_tr[p, i] > rew_tr[p, j]
    k = x_tr.shape[1]
    win = torch.from_numpy(np.where(better, p * k + i, p * k + j))
    lose = torch.from_numpy(np.where(better, p * k + j, p * k + i))
    flat = torch.from_numpy(np.ascontiguousarray(x_tr.reshape(-1, x_tr.shape[-1])))
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=weight_decay)
    n = win.numel()
    model.train()
    for _ in range(EPOCHS):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, BATCH):
            b = perm[s:s + BATCH]
            margin = model(flat[win[b]]).squeeze(-1) - model(flat[lose[b]]).squeeze(-1)
            loss = torch.nn.functional.softplus(-margin).mean()
            if l2:
                loss = loss + l2 * sum((q * q).sum() for q in model.parameters())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    return model


def score(model, x):
    with torch.no_grad():
        flat = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, x.shape[-1])))
        return model(flat).squeeze(-1).double().numpy().reshape(x.shape[:2])


def mlp(f, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(f, MLP_HIDDEN), torch.nn.ReLU(), torch.nn.Linear(MLP_HIDDEN, 1))


def mlp_ensemble(data, seed):
    raw_tr = features(data["train"], "emb+loglen")
    raw_te = features(data["test"], "emb+loglen")
    mom = moments(raw_tr)
    x_tr, x_te = standardise(raw_tr, mom), standardise(raw_te, mom)
    rew_tr, rew_te = data["train"]["rew"], data["test"]["rew"]
    members, zs = [], []
    for m in range(MLP_MEMBERS):
        s = seed * 1000 + m
        net = train_bt(mlp(x_tr.shape[-1], s), x_tr, rew_tr, s, weight_decay=MLP_WD)
        s_tr, s_te = score(net, x_tr), score(net, x_te)
        members.append(metrics(s_te, rew_te) | dict(train_pair_acc=pair_accuracy(s_tr, rew_tr)[0]))
        zs.append((s_te - s_tr.mean()) / s_tr.std())
    ens = metrics(np.mean(zs, axis=0), rew_te)
    single = dict(pair_acc=float(np.mean([r["pair_acc"] for r in members])),
                  pair_acc_sd=float(np.std([r["pair_acc"] for r in members])),
                  best_of_k=float(np.mean([r["best_of_k"] for r in members])),
                  best_of_k_sd=float(np.std([r["best_of_k"] for r in members])),
                  test_pairs=members[0]["test_pairs"])
    return ens, single, members


def linear_bt(x_tr, x_te, rew_tr, rew_te, C, n_rows, w_sk, seed):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(x_tr.shape[-1], 1, bias=False)
    torch.nn.init.zeros_(lin.weight)
    # sklearn minimises ||w||^2/2 + C * sum(logloss over n_rows rows); divided by C * n_rows:
    # mean BT loss (both orders give the same mean) + ||w||^2 / (2 C n_rows).
    lin = train_bt(lin, x_tr, rew_tr, seed, l2=1.0 / (2.0 * C * n_rows))
    w = lin.weight.detach().double().numpy()[0]
    cos = float(w @ w_sk / (np.linalg.norm(w) * np.linalg.norm(w_sk)))
    return metrics(score(lin, x_te), rew_te), dict(cos_with_sklearn=cos,
                                                   norm_ratio=float(np.linalg.norm(w) / np.linalg.norm(w_sk)),
                                                   l2=1.0 / (2.0 * C * n_rows))


# ---------------------------------------------------------------- main

def cpu_info():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "CPU family", "Model"):
                info[key.strip()] = val.strip()
    except (OSError, subprocess.CalledProcessError):
        info["Model name"] = platform.processor()
    return info


def fmt(x, d=3):
    return "" if x is None else f"{x:.{d}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder with {train,test}_{embeddings,rewards,length}.npy")
    ap.add_argument("--seed", type=int, default=1, help="seed of the torch rows (sklearn rows have no randomness)")
    ap.add_argument("--json", default=None, metavar="OUT", help="also write every figure to this JSON file")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    np.random.seed(args.seed)
    t_start = time.perf_counter()

    data = load(args.data)
    rew_te = data["test"]["rew"]
    rows, extra = [], {}

    def add(name, m, t, note=""):
        rows.append(dict(name=name, **m, seconds=t, note=note))
        print(f"  {name}: pair acc {m['pair_acc']:.4f}, best-of-{rew_te.shape[1]} {m['best_of_k']:.4f} "
              f"({t:.1f} s)", file=sys.stderr, flush=True)

    for col, label in ((0, "characters"), (1, "tokens")):
        t = time.perf_counter()
        add(f"length, {label} (longer wins)", metrics(data["test"]["len"][..., col], rew_te), time.perf_counter() - t)

    probe_names = {"emb": "logistic probe, embedding",
                   "emb+loglen": "logistic probe, embedding + log(1 + length)",
                   "emb+len": "logistic probe, embedding + raw length"}
    kept = None
    for kind, name in probe_names.items():
        t = time.perf_counter()
        m, info, w, x_tr, x_te = probe(data, kind)
        extra[kind] = info
        add(name, m, time.perf_counter() - t, f"C = {info['C']:g}")
        if kind == "emb":
            kept = (w, x_tr, x_te, info)

    t = time.perf_counter()
    ens, single, members = mlp_ensemble(data, args.seed)
    dt = time.perf_counter() - t
    extra["mlp_members"] = members
    add(f"MLP ensemble, {MLP_MEMBERS} x [{MLP_HIDDEN}], emb + log length (mean of standardised scores)", ens, dt,
        f"{EPOCHS} epochs, batch {BATCH}")
    rows.append(dict(name="MLP single member (mean over the 4)", **single, seconds=None,
                     note=f"sd over members: {single['pair_acc_sd']:.3f} / {single['best_of_k_sd']:.3f}"))

    w_sk, x_tr, x_te, info = kept
    t = time.perf_counter()
    m, lin_info = linear_bt(x_tr, x_te, data["train"]["rew"], rew_te, info["C"], info["n_rows"], w_sk, args.seed)
    extra["linear_bt"] = lin_info
    add("linear BT (Adam), embedding", m, time.perf_counter() - t,
        f"C = {info['C']:g} as L2; cos(w, sklearn w) = {lin_info['cos_with_sklearn']:.3f}")

    random_pick = float(rew_te.mean(axis=1).mean())
    oracle = float(rew_te.max(axis=1).mean())
    total = time.perf_counter() - t_start
    cpu = cpu_info()

    k = rew_te.shape[1]
    n_pairs = rows[0]["test_pairs"]
    print(f"Held-out baselines: {args.data}")
    print(f"{rew_te.shape[0]} test prompts x {k} responses, {n_pairs} within-prompt test pairs with distinct "
          f"golden reward; fits on {data['train']['rew'].shape[0]} train prompts; seed {args.seed}\n")
    print(f"| scorer | pair accuracy | golden best-of-{k} | time (s) | note |")
    print("|---|---|---|---|---|")
    for r in rows:
        secs = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        print(f"| {r['name']} | {fmt(r['pair_acc'])} | {fmt(r['best_of_k'])} | {secs} | {r['note']} |")
    print(f"| random pick (mean golden) | | {random_pick:.3f} | | |")
    print(f"| oracle (max golden) | | {oracle:.3f} | | |")
    print()
    for kind, name in probe_names.items():
        cvs = ", ".join(f"{C:g}: {v:.4f}" for C, v in extra[kind]["cv_mean"].items())
        print(f"{name}: grouped {FOLDS}-fold CV pair accuracy by C: {cvs} -> C = {extra[kind]['C']:g}")
    print("MLP members (test pair acc / best-of): "
          + ", ".join(f"{r['pair_acc']:.3f} / {r['best_of_k']:.3f}" for r in members)
          + "; train pair acc " + ", ".join(f"{r['train_pair_acc']:.3f}" for r in members))
    print(f"linear BT vs sklearn probe: cos {lin_info['cos_with_sklearn']:.4f}, "
          f"norm ratio {lin_info['norm_ratio']:.3f}")
    print(f"\ntotal {total:.1f} s on {cpu.get('Model name', '?')} (family {cpu.get('CPU family', '?')}, "
          f"model {cpu.get('Model', '?')}), torch {torch.__version__} 1 thread, sklearn {sklearn.__version__}, "
          f"numpy {np.__version__}")

    if args.json:
        out = dict(data=os.path.abspath(args.data), seed=args.seed, rows=rows,
                   reference=dict(random_pick=random_pick, oracle=oracle),
                   probes={kd: dict(C=v["C"], cv_mean={str(c): s for c, s in v["cv_mean"].items()},
                                    cv_folds={str(c): s for c, s in v["cv_folds"].items()},
                                    n_rows=v["n_rows"], lbfgs_iter=v["lbfgs_iter"])
                           for kd, v in extra.items() if kd in probe_names},
                   mlp_members=members, linear_bt=lin_info,
                   settings=dict(C_grid=C_GRID, folds=FOLDS, members=MLP_MEMBERS, hidden=MLP_HIDDEN,
                                 epochs=EPOCHS, batch=BATCH, lr=LR, mlp_weight_decay=MLP_WD),
                   total_seconds=total, cpu=cpu,
                   versions=dict(python=platform.python_version(), numpy=np.__version__,
                                 sklearn=sklearn.__version__, torch=torch.__version__))
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
