"""The synthetic task is learnable but not trivial, and not linear: fitted to the train
split by least squares, a linear model ranks the test responses of a prompt clearly
better than chance, a small MLP (written in numpy: one tanh hidden layer, Adam on the
squared error) clearly better than the linear one, and neither perfectly."""
import os

import h5py
import numpy as np

from storetest import TempDir, check, finish, synth


def within_prompt_accuracy(pred, gold):
    """Fraction of correctly ordered response pairs within each prompt."""
    n, k = gold.shape
    i, j = np.triu_indices(k, 1)
    dp = pred[:, i] - pred[:, j]
    dg = gold[:, i] - gold[:, j]
    mask = dg != 0
    return float(((dp > 0) == (dg > 0))[mask].mean())


def cross_prompt_accuracy(pred, gold, rng):
    a = rng.integers(0, gold.size, 50000)
    b = rng.integers(0, gold.size, 50000)
    p, g = pred.ravel(), gold.ravel()
    m = g[a] != g[b]
    return float(((p[a] > p[b]) == (g[a] > g[b]))[m].mean())


def ridge(x, y, lam):
    x1 = np.hstack([x, np.ones((x.shape[0], 1))])
    w = np.linalg.solve(x1.T @ x1 + lam * np.eye(x1.shape[1]), x1.T @ y)
    return lambda z: np.hstack([z, np.ones((z.shape[0], 1))]) @ w


def mlp_fit(x, y, rng, hidden=128, steps=1500, batch=1024, lr=3e-3):
    """D -> hidden (tanh) -> 1, minibatch Adam on the mean squared error."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    x = (x - mu) / sd
    params = [rng.normal(size=(x.shape[1], hidden)) / np.sqrt(x.shape[1]), np.zeros(hidden),
              rng.normal(size=(hidden, 1)) / np.sqrt(hidden), np.zeros(1)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        idx = rng.integers(0, x.shape[0], batch)
        xb, yb = x[idx], y[idx, None]
        h = np.tanh(xb @ params[0] + params[1])
        out = h @ params[2] + params[3]
        g_out = 2 * (out - yb) / batch
        g_h = (g_out @ params[2].T) * (1 - h * h)
        grads = [xb.T @ g_h, g_h.sum(0), h.T @ g_out, g_out.sum(0)]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return lambda z: (np.tanh(((z - mu) / sd) @ params[0] + params[1]) @ params[2] + params[3]).ravel()


with TempDir() as d:
    store = os.path.join(d, "learn.h5")
    synth(store, sets=["synth.train_prompts=1500", "synth.train_responses=10", "synth.test_prompts=200",
                       "synth.test_responses=30", "synth.dim=64", "synth.topics=8"])
    with h5py.File(store, "r") as f:
        xtr = f["train/embeddings"][...].astype(np.float64)
        ytr = f["train/rewards"][...].astype(np.float64)
        xte = f["test/embeddings"][...].astype(np.float64)
        yte = f["test/rewards"][...].astype(np.float64)
    dim = xtr.shape[-1]
    xtr, xte = xtr.reshape(-1, dim), xte.reshape(-1, dim)
    rng = np.random.default_rng(0)

    linear = ridge(xtr, ytr.ravel(), 1e-3)
    lin_pred = linear(xte).reshape(yte.shape)

    nl_pred = mlp_fit(xtr, ytr.ravel(), rng)(xte).reshape(yte.shape)

    lin_w, nl_w = within_prompt_accuracy(lin_pred, yte), within_prompt_accuracy(nl_pred, yte)
    lin_c, nl_c = cross_prompt_accuracy(lin_pred, yte, rng), cross_prompt_accuracy(nl_pred, yte, rng)
    print(f"within-prompt pairwise accuracy: linear {lin_w:.3f}, MLP {nl_w:.3f}")
    print(f"cross-prompt pairwise accuracy:  linear {lin_c:.3f}, MLP {nl_c:.3f}")
    check(0.6 < lin_w < 0.9, f"linear within-prompt accuracy {lin_w:.3f} outside (0.6, 0.9)")
    check(nl_w > lin_w + 0.03, f"MLP {nl_w:.3f} not clearly better than linear {lin_w:.3f}")
    check(nl_w < 0.97, f"the task is too easy: {nl_w:.3f}")
    check(nl_c < 0.95, f"cross-prompt accuracy {nl_c:.3f}: the prompt offset should make it imperfect")
finish("store_synth_learnable")
