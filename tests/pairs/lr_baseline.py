#!/usr/bin/python3
"""Baselines on the committed hh-rlhf harmless pairs (issue 29): the figures an rmens
ensemble trained on /pairs/train is compared with.

usage: lr_baseline.py DATA_DIR [--json OUT]

DATA_DIR holds {train,test}_{chosen,rejected}.npy [n, 512] float16, {train,test}_group.npy
[n] int64 and {train,test}_{chosen,rejected}_length.npy [n, 2] float32 (characters,
tokens), e.g. tests/data/real/hh_rlhf_harmless_use_tail.

  - logistic probe: scikit-learn LogisticRegression without intercept (lbfgs) on the pair
    differences x = chosen - rejected in both orders, (x, 1) and (-x, 0), so the fitted
    scorer is antisymmetric and P(chosen) = sigmoid(w.x). Features: the raw differences of
    the float16 embeddings widened to float64, NOT standardised: the Universal Sentence
    Encoder embeddings are unit-norm, so every coordinate is on the same scale already, a
    per-feature standardisation would rescale noise coordinates up, and the C grid absorbs
    the overall scale (and it is what the README's first baselines did).
    C is chosen from 9 log-spaced values 1e-3 .. 1e2 by 5-fold GroupKFold cross-validation
    on the train pairs only (groups = train_group, the dialogue), scored by the held-out
    folds' pair accuracy: the fraction of pairs with w.(c - r) > 0, ties counting 1/2,
    pooled over the folds (each train pair held out once). The largest mean wins; a tie
    goes to the smaller C (stronger regularisation). Then refit on all train pairs, and
    report the test pair accuracy.
  - "shorter reply wins" / "longer reply wins" on test, by characters (length column 0),
    equal lengths counting 1/2.
Prints a table; --json OUT writes {"lr": {"C", "cv_accuracy", "test_accuracy"},
"shorter_wins", "longer_wins", "n_test"} (plus "cv" with every C's figure, "n_train",
"seconds"). Deterministic: lbfgs and GroupKFold involve no randomness.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

C_GRID = np.logspace(-3, 2, 9)
FOLDS = 5


def load(data_dir, split):
    def arr(name):
        return np.load(os.path.join(data_dir, f"{split}_{name}.npy"))
    chosen, rejected = arr("chosen").astype(np.float64), arr("rejected").astype(np.float64)
    group = arr("group")
    cl, rl = arr("chosen_length"), arr("rejected_length")
    n = chosen.shape[0]
    if rejected.shape != chosen.shape or group.shape != (n,) or cl.shape != (n, 2) or rl.shape != (n, 2):
        sys.exit(f"lr_baseline: {split}: inconsistent shapes {chosen.shape} {rejected.shape} {group.shape} "
                 f"{cl.shape} {rl.shape}")
    return chosen - rejected, group, cl[:, 0].astype(np.float64), rl[:, 0].astype(np.float64)


def pair_accuracy(score):
    """score = w.(chosen - rejected): right when > 0, half when 0."""
    return float(np.mean((score > 0) + 0.5 * (score == 0)))


def fit(x, C):
    X = np.concatenate([x, -x])
    y = np.concatenate([np.ones(len(x), int), np.zeros(len(x), int)])
    model = LogisticRegression(C=C, fit_intercept=False, solver="lbfgs", max_iter=100000, tol=1e-8)
    model.fit(X, y)
    return model.coef_.ravel()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    t0 = time.time()
    x_train, g_train, _, _ = load(args.data_dir, "train")
    x_test, g_test, c_len, r_len = load(args.data_dir, "test")
    if np.intersect1d(g_train, g_test).size:
        sys.exit("lr_baseline: a group is in both train and test")

    folds = list(GroupKFold(n_splits=FOLDS).split(x_train, groups=g_train))
    cv = []
    for C in C_GRID:
        right = 0.0
        for tr, te in folds:
            s = x_train[te] @ fit(x_train[tr], C)
            right += np.sum((s > 0) + 0.5 * (s == 0))
        cv.append(float(right / len(x_train)))
    best = int(np.argmax(cv))  # first maximum: the smaller C on a tie
    C = float(C_GRID[best])
    w = fit(x_train, C)
    test_acc = pair_accuracy(x_test @ w)
    shorter = pair_accuracy(r_len - c_len)  # > 0 when the chosen reply is the shorter
    longer = pair_accuracy(c_len - r_len)
    seconds = time.time() - t0

    print(f"hh-rlhf pairs: {len(x_train)} train, {len(x_test)} test (D = {x_train.shape[1]})")
    print(f"logistic probe, {FOLDS}-fold GroupKFold on train:")
    print(f"  {'C':>10} {'cv_acc':>8}")
    for c, a in zip(C_GRID, cv):
        print(f"  {c:10.4g} {a:8.4f}{'  <- chosen' if c == C else ''}")
    print(f"{'scorer':<22} {'test pair accuracy':>18}")
    print(f"{'logistic C=%.4g' % C:<22} {test_acc:18.4f}")
    print(f"{'shorter reply wins':<22} {shorter:18.4f}")
    print(f"{'longer reply wins':<22} {longer:18.4f}")
    print(f"({seconds:.1f} s)")
    if args.json_out:
        out = {"lr": {"C": C, "cv_accuracy": cv[best], "test_accuracy": test_acc},
               "shorter_wins": shorter, "longer_wins": longer, "n_test": int(len(x_test)),
               "n_train": int(len(x_train)), "cv": {"C": [float(c) for c in C_GRID], "accuracy": cv},
               "seconds": seconds}
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
