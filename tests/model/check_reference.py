#!/usr/bin/python3
"""Compares the C reward model with the libraries the reference pipeline uses.

  check_reference.py sklearn MODEL_DUMP   the linear BT model with L2 penalty, trained to
      convergence in C, against LogisticRegression(fit_intercept=False) on the pair
      differences (BT with a linear reward is logistic regression on x_w - x_l; half of
      the differences are negated with label 0 so that both classes appear, which leaves
      the objective unchanged). C = 1 / (n * lambda) matches the C side's
      mean loss + lambda/2 |w|^2. Coefficients within 1e-3 relative (L2 norm).
  check_reference.py torch MODEL_DUMP     a 2-hidden-layer MLP's forward against
      torch.nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) loaded from the flat
      parameter layout (W row-major [out, in] as nn.Linear, then b, layer by layer).
MODEL_DUMP is the model_dump program; it writes into a fresh temporary directory."""
import subprocess
import sys
import tempfile

import numpy as np


def run_dump(binary, mode, directory):
    subprocess.run([binary, mode, directory], check=True)


def check_sklearn(binary):
    from sklearn.linear_model import LogisticRegression
    with tempfile.TemporaryDirectory() as d:
        run_dump(binary, "sklearn", d)
        n, dim, lam = open(f"{d}/meta.txt").read().split()
        n, dim, lam = int(n), int(dim), float(lam)
        diffs = np.fromfile(f"{d}/diffs.f32", dtype=np.float32).reshape(n, dim).astype(np.float64)
        coef_c = np.fromfile(f"{d}/coef.f64", dtype=np.float64)
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X, y = diffs * sign[:, None], (sign > 0).astype(int)
    clf = LogisticRegression(fit_intercept=False, C=1.0 / (n * lam), tol=1e-12, max_iter=100000)
    coef_sk = clf.fit(X, y).coef_.ravel()
    rel = np.linalg.norm(coef_c - coef_sk) / np.linalg.norm(coef_sk)
    print(f"linear BT vs sklearn LogisticRegression: relative coefficient difference {rel:.3g}")
    print("  C      ", np.array2string(coef_c, precision=5))
    print("  sklearn", np.array2string(coef_sk, precision=5))
    return rel < 1e-3


def check_torch(binary):
    import torch
    with tempfile.TemporaryDirectory() as d:
        run_dump(binary, "torch", d)
        rows, dim, h1, h2 = (int(v) for v in open(f"{d}/meta.txt").read().split())
        flat = np.fromfile(f"{d}/params.f32", dtype=np.float32)
        x = np.fromfile(f"{d}/x.f32", dtype=np.float32).reshape(rows, dim)
        scores_c = np.fromfile(f"{d}/scores.f32", dtype=np.float32)
    model = torch.nn.Sequential(torch.nn.Linear(dim, h1), torch.nn.ReLU(), torch.nn.Linear(h1, h2),
                                torch.nn.ReLU(), torch.nn.Linear(h2, 1))
    offset = 0
    with torch.no_grad():
        for layer in (model[0], model[2], model[4]):
            for p in (layer.weight, layer.bias):
                p.copy_(torch.from_numpy(flat[offset:offset + p.numel()].reshape(p.shape)))
                offset += p.numel()
        scores_t = model(torch.from_numpy(x)).squeeze(1).numpy()
    assert offset == flat.size, f"parameter count {flat.size} != {offset}"
    worst = float(np.max(np.abs(scores_t - scores_c)))
    bound = 1.0 / np.sqrt(dim)
    in_range = bool(np.all(np.abs(flat[:dim * h1]) <= bound))
    print(f"forward vs torch.nn.Sequential: max |difference| {worst:.3g} over {rows} rows; "
          f"first-layer weights within +-1/sqrt(fan_in): {in_range}")
    return worst < 1e-5 and in_range


if __name__ == "__main__":
    mode, binary = sys.argv[1], sys.argv[2]
    ok = check_sklearn(binary) if mode == "sklearn" else check_torch(binary)
    sys.exit(0 if ok else 1)
