#!/usr/bin/python3
"""Spearman, Kendall-derived pair counts, pairwise accuracy and AUROC of rmens against
scipy and numpy brute force, on cases with ties written by metrics_dump; then the
overoptimization and calibration figures (metrics_dump's second file):
  - best-of-n golden and proxy against a brute-force enumeration of all n-subsets of K <= 8
    responses (argmax score, ties shared uniformly), pick quantile and above-median share
    against the seed lab's formula (step6_eval_rms.py) with the tied picks shared;
  - ECE, Brier and log loss against scikit-learn (calibration_curve, brier_score_loss,
    log_loss) and numpy (np.histogram bins), bins of member disagreement against numpy."""
import itertools
import math
import subprocess
import sys
import tempfile

import numpy as np
from scipy import stats


def close(a, b, tol=1e-9):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def seed_lab_quantile(score, golden):
    """step6_eval_rms.py: the share of responses with golden <= the pick's, pick = argmax;
    here every tied argmax in turn, averaged (rmens shares a tied pick)."""
    picks = np.flatnonzero(score == score.max())
    return np.mean([(golden <= golden[i]).mean() for i in picks]), np.mean(golden[picks] > np.median(golden))


def check_bon_case(f):
    K = int(f[0])
    v = np.array(f[1:], float)
    score, golden, bon, proxy = v[:K], v[K:2 * K], v[2 * K:3 * K], v[3 * K:4 * K]
    quantile, above = v[4 * K], v[4 * K + 1]
    problems = []
    for n in range(1, K + 1):
        subsets = list(itertools.combinations(range(K), n))
        gold = prox = 0.0
        for sub in subsets:
            s = score[list(sub)]
            winners = [sub[i] for i in np.flatnonzero(s == s.max())]
            gold += golden[winners].mean()
            prox += score[winners].mean()
        gold, prox = gold / len(subsets), prox / len(subsets)
        if not close(bon[n - 1], gold, 1e-12) or not close(proxy[n - 1], prox, 1e-12):
            problems.append(f"n={n}: bon {bon[n - 1]} proxy {proxy[n - 1]} vs brute force {gold} {prox}")
    q, a = seed_lab_quantile(score, golden)
    if not close(quantile, q, 1e-12) or not close(above, a, 1e-12):
        problems.append(f"pick quantile {quantile} above median {above} vs numpy {q} {a}")
    return problems, len(np.unique(score)) < K


def check_cal_case(f):
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, log_loss
    N = int(f[0])
    p = np.array(f[1:1 + N], float)
    y = np.array(f[1 + N:1 + 2 * N], int)
    rest = np.array(f[1 + 2 * N:], float)
    ece, brier, loss = rest[:3]
    count, mean_p, frac = rest[3:18], rest[18:33], rest[33:48]
    problems = []
    edges = np.linspace(0, 1, 16)
    hist = np.histogram(p, bins=edges)[0]  # [lo, hi), the last bin closed: rmens's bins
    if not np.array_equal(hist, count):
        problems.append(f"bin counts {count} vs np.histogram {hist}")
    ids = np.searchsorted(edges[1:-1], p, side="right")
    for b in range(15):
        sel = ids == b
        if sel.any() and (not close(mean_p[b], p[sel].mean(), 1e-12) or not close(frac[b], y[sel].mean(), 1e-12)):
            problems.append(f"bin {b}: {mean_p[b]} {frac[b]} vs numpy {p[sel].mean()} {y[sel].mean()}")
    numpy_ece = sum(sel.sum() / N * abs(p[sel].mean() - y[sel].mean()) for sel in (ids == b for b in range(15)) if sel.any())
    if not close(ece, numpy_ece, 1e-12):
        problems.append(f"ece {ece} vs numpy {numpy_ece}")
    if not close(brier, brier_score_loss(y, p), 1e-12):
        problems.append(f"brier {brier} vs sklearn {brier_score_loss(y, p)}")
    ref_loss = log_loss(y, p, eps=1e-15, labels=[0, 1])
    if not close(loss, ref_loss, 1e-12):
        problems.append(f"log loss {loss} vs sklearn {ref_loss}")
    # sklearn's calibration_curve puts a value on an inner edge in the lower bin: compare
    # where no probability sits on one
    on_edge = np.isin(p, edges[1:-1])
    if not on_edge.any():
        prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
        nonempty = count > 0
        sk_ece = float(np.sum(count[nonempty] / N * np.abs(prob_pred - prob_true)))
        if not close(ece, sk_ece, 1e-12) or not np.allclose(frac[nonempty], prob_true, rtol=0, atol=1e-12):
            problems.append(f"ece {ece} vs sklearn calibration_curve {sk_ece}")
    return problems, on_edge.any()


def check_bin_case(f):
    bins = int(f[0])
    edges = np.array(f[1:bins + 2], float)
    M = int(f[bins + 2])
    x = np.array(f[bins + 3:bins + 3 + M], float)
    got = np.array(f[bins + 3 + M:bins + 3 + 2 * M], int)
    # the documented edges (include/rmens/eval/metrics.h), increasing from 0 to 0.5
    if not np.array_equal(edges, [0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5]):
        return [f"disagreement edges {edges} are not the documented ones"], True
    want = np.searchsorted(edges[1:-1], x, side="right")
    return ([] if np.array_equal(got, want) else [f"disagreement bins differ at {np.flatnonzero(got != want)[:5]}"]), True


def check_diagnostics(lines):
    failures, kinds, special = 0, {}, {}
    checks = {"bon": check_bon_case, "cal": check_cal_case, "bin": check_bin_case}
    for line in lines:
        if not line.strip():
            continue
        kind, *f = line.split()
        problems, hard = checks[kind](f)
        kinds[kind] = kinds.get(kind, 0) + 1
        special[kind] = special.get(kind, 0) + bool(hard)
        if problems:
            failures += 1
            print(f"{kind} case {kinds[kind]}: " + "; ".join(problems[:3]))
    # the cases must exercise score ties (bon) and probabilities on edges / beyond the clip (cal)
    if special.get("bon", 0) < 30 or special.get("cal", 0) < 10 or kinds.get("bin") != 1:
        print(f"too few hard cases: {special} of {kinds}")
        failures += 1
    print(f"check_metrics_scipy diagnostics: {kinds} ({special} with ties / edges), {failures} failing")
    return failures


def main():
    dump = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        path, diag_path = tmp + "/cases.txt", tmp + "/diagnostics.txt"
        subprocess.run([dump, path, diag_path], check=True)
        lines = open(path).read().split("\n")
        diag_lines = open(diag_path).read().split("\n")
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
    failures += check_diagnostics(diag_lines)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
