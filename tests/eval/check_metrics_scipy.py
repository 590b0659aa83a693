#!/usr/bin/python3
"""Spearman, Kendall-derived pair counts, pairwise accuracy and AUROC of rmens against
scipy and numpy brute force, on cases with ties written by metrics_dump."""
import math
import subprocess
import sys
import tempfile

import numpy as np
from scipy import stats


def close(a, b, tol=1e-9):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def main():
    dump = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = tmp + "/cases.txt"
        subprocess.run([dump, path], check=True)
        lines = open(path).read().split("\n")
    failures, cases, tied_cases = 0, 0, 0
    for line in lines:
        if not line.strip():
            continue
        f = line.split()
        n = int(f[0])
        x = np.array(f[1:1 + n], float)
        y = np.array(f[1 + n:1 + 2 * n], float)
        label = np.array(f[1 + 2 * n:1 + 3 * n], int)
        spearman, disc, xt, yt, jt, acc, auroc = f[1 + 3 * n:]
        spearman, acc, auroc = float(spearman), float(acc), float(auroc)
        disc, xt, yt, jt = int(disc), int(xt), int(yt), int(jt)
        cases += 1
        tied_cases += xt > 0 or yt > 0
        problems = []

        with np.errstate(all="ignore"):
            ref = stats.spearmanr(x, y).correlation
        if not close(spearman, float(ref)):
            problems.append(f"spearman {spearman} vs scipy {ref}")

        # Kendall tau-b from rmens's counts against scipy's kendalltau (tau-b by default)
        pairs = n * (n - 1) // 2
        conc = pairs - disc - xt - yt + jt
        denom = math.sqrt((pairs - xt) * (pairs - yt))
        if denom > 0:
            tau = stats.kendalltau(x, y).correlation
            if not close((conc - disc) / denom, float(tau)):
                problems.append(f"kendall tau-b {(conc - disc) / denom} vs scipy {tau}")

        # pairwise accuracy by brute force: golden (x) ties excluded, score (y) ties half
        dx = np.sign(x[:, None] - x[None, :])
        dy = np.sign(y[:, None] - y[None, :])
        upper = np.triu(np.ones((n, n), bool), 1)
        valid = upper & (dx != 0)
        if valid.sum():
            ref_acc = ((dx == dy) & valid).sum() + 0.5 * ((dy == 0) & valid).sum()
            ref_acc /= valid.sum()
            if not close(acc, ref_acc):
                problems.append(f"pair accuracy {acc} vs brute force {ref_acc}")
        # brute-force tie and discordance counts
        if (((dx * dy) < 0) & upper).sum() != disc or ((dx == 0) & upper).sum() != xt \
                or ((dy == 0) & upper).sum() != yt or ((dx == 0) & (dy == 0) & upper).sum() != jt:
            problems.append("pair counts differ from brute force")

        # AUROC = Mann-Whitney U / (n_pos n_neg), ties half
        pos, neg = y[label == 1], y[label == 0]
        if len(pos) and len(neg):
            u = stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
            if not close(auroc, u / (len(pos) * len(neg))):
                problems.append(f"auroc {auroc} vs scipy {u / (len(pos) * len(neg))}")
        elif not math.isnan(auroc):
            problems.append("auroc defined without both classes")

        if problems:
            failures += 1
            print(f"case {cases} (n={n}): " + "; ".join(problems))
    if tied_cases < cases // 2:
        print(f"only {tied_cases} of {cases} cases have ties: the test would not exercise them")
        failures += 1
    print(f"check_metrics_scipy: {cases} cases ({tied_cases} with ties), {failures} failing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
