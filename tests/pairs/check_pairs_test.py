#!/usr/bin/python3
"""Checks results.json's "pairs_test" block (rmens eval on a pair store, issue 29) against a
recomputation from results.h5.

usage: check_pairs_test.py RESULTS_DIR [--tol 1e-9]
       check_pairs_test.py --selftest [--keep DIR]

Reads RESULTS_DIR/results.h5:
  /pairs_test/z          [E, n, 2] float32: member m's standardised score of the chosen (0)
                         and rejected (1) reply of test pair i
  /pairs_test/score_std  [E] float64
  the member subsets of each ensemble size k: /pairs_test/ensemble_size/<k>/members
  [subsets, k] int if that group exists, else /ablation/<k>/members (src/eval/eval_output.c;
  attribute "subsets" checked when present); when both exist they must be identical,
and RESULTS_DIR/results.json's "pairs_test": n; aggregators.<name>.accuracy for every
name written (mean, min, median, uwo_<lambda>; lambda parsed from the name);
aggregators.mean.calibration.{ece, brier, log_loss} (no other aggregator may carry a
non-null calibration); single.{accuracy, accuracy_std, calibration.{ece, brier,
log_loss}}; members.{accuracy, ece, brier, log_loss} [E]; selective.{coverage, accuracy}
[10]; disagreement_auroc (null without both classes); reliability.mean.{count, mean_p,
frac_chosen} [15] (null means for empty bins); ensemble_size[] entries {k, subsets,
accuracy, accuracy_std, ece, brier, log_loss, ece_std, brier_std, log_loss_std}, one per k
in results.h5.

Every figure is recomputed in numpy (float64 from the float32 z; members summed in order,
as rmens does) by the definitions of /work/spec/pairs_spec.md:
  d_m,i = z[m,i,0] - z[m,i,1]; P_m,i = sigmoid(d_m,i * score_std[m]);
  aggregators on z per reply, accuracy = mean [agg(c) > agg(r)] + 0.5 [equal];
  mean ensemble P_i = mean_m P_m,i, u_i = population std of P_m,i;
  calibration on the 2n points (P_i, 1), (1 - P_i, 0): Brier, log loss (clip 1e-15), ECE
  over 15 equal-width bins (np.searchsorted(edges[1:-1], p, "right"));
  selective: pairs by u ascending (stable), first max(1, (j n + 5) // 10) pairs, mean
  correctness of the mean aggregator; disagreement_auroc: Mann-Whitney AUROC of u for the
  mean aggregator's errors (agg(c) <= agg(r)), ties half;
  ensemble_size: each subset's mean-aggregator accuracy and calibration, averaged over
  subsets, and <figure>_std the population std (np.std) of each over the subsets.
Also against scikit-learn: brier_score_loss, log_loss, calibration_curve(n_bins=15,
"uniform") per-bin means and its ECE (for every point set where no probability sits on an
inner bin edge: sklearn puts those in the lower bin), roc_auc_score for the AUROC.
Any difference above --tol (absolute; counts and sizes exactly) prints every mismatch and
exits 1; success prints one summary line.

--selftest builds synthetic results dirs with an independent generator (plain Python
loops, statistics.median / pstdev, brute-force Mann-Whitney, bisect bins), runs
this checker on them as a subprocess (must pass), then on deliberately corrupted copies
(JSON figures, reliability counts, a subset's member list, a z value, a missing entry),
each of which must fail.
"""
import argparse
import json
import math
import os
import re
import sys

import numpy as np

BINS = 15
CLIP = 1e-15
EDGES = np.linspace(0.0, 1.0, BINS + 1)


# ---------------------------------------------------------------- the recomputation

def sigmoid(x):
    """rm_sigmoid (src/eval/metrics_calibration.c), elementwise in double."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def seq_mean(a, members):
    """Mean over a[members] summed in the listed order (as rmens's loops), and the
    two-pass sum of squared deviations."""
    s = np.zeros(a.shape[1:], np.float64)
    for m in members:
        s = s + a[m]
    mean = s / len(members)
    ss = np.zeros(a.shape[1:], np.float64)
    for m in members:
        d = a[m] - mean
        ss = ss + d * d
    return mean, ss


def aggregate(z, members, name):
    """z [E, n, 2] float64 -> [n, 2] aggregate over members."""
    k = len(members)
    if name == "mean":
        return seq_mean(z, members)[0]
    if name == "min":
        return np.min(z[list(members)], axis=0)
    if name == "median":
        s = np.sort(z[list(members)], axis=0)
        return s[k // 2] if k % 2 else 0.5 * (s[k // 2 - 1] + s[k // 2])
    m = re.fullmatch(r"uwo_(.+)", name)
    if m:
        lam = float(m.group(1))
        mean, ss = seq_mean(z, members)
        return mean - lam * ss / k
    raise ValueError(f"unknown aggregator {name!r}")


def correctness(agg):
    """Per pair: 1 chosen above, 0.5 tie, 0 below."""
    return (agg[:, 0] > agg[:, 1]) + 0.5 * (agg[:, 0] == agg[:, 1])


def calibration(P):
    """The 2n points (P, 1) and (1 - P, 0): numpy figures and the per-bin reliability."""
    p = np.concatenate([P, 1.0 - P])
    y = np.concatenate([np.ones(len(P)), np.zeros(len(P))])
    N = len(p)
    brier = float(np.mean((p - y) ** 2))
    q = np.clip(p, CLIP, 1.0 - CLIP)
    log_loss = float(np.mean(np.where(y == 1, -np.log(q), -np.log(1.0 - q))))
    ids = np.searchsorted(EDGES[1:-1], p, side="right")
    count = np.bincount(ids, minlength=BINS).astype(float)
    psum = np.bincount(ids, weights=p, minlength=BINS)
    ysum = np.bincount(ids, weights=y, minlength=BINS)
    ne = count > 0
    mean_p = np.full(BINS, np.nan)
    frac = np.full(BINS, np.nan)
    mean_p[ne], frac[ne] = psum[ne] / count[ne], ysum[ne] / count[ne]
    ece = float(np.sum(count[ne] / N * np.abs(mean_p[ne] - frac[ne]))) if N else math.nan
    return {"ece": ece, "brier": brier, "log_loss": log_loss, "count": count, "mean_p": mean_p,
            "frac_chosen": frac, "p": p, "y": y}


def sklearn_calibration(cal):
    """The same figures by scikit-learn; the bins only where they agree with rmens's."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, log_loss
    p, y = cal["p"], cal["y"].astype(int)
    out = {"brier": float(brier_score_loss(y, p)),
           # clipped here: sklearn's own eps default differs across versions (1e-15 / dtype eps)
           "log_loss": float(log_loss(y, np.clip(p, CLIP, 1.0 - CLIP), labels=[0, 1]))}
    if not np.isin(p, EDGES[1:-1]).any():
        prob_true, prob_pred = calibration_curve(y, p, n_bins=BINS, strategy="uniform")
        ne = cal["count"] > 0
        out["ece"] = float(np.sum(cal["count"][ne] / len(p) * np.abs(prob_pred - prob_true)))
        out["mean_p"], out["frac_chosen"] = prob_pred, prob_true
    return out


def mann_whitney_auroc(score, positive):
    from scipy.stats import rankdata
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(score)  # average ranks: ties count half
    return float((r[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def read_subsets(h5, E):
    """{k: int array [subsets, k]} and where they came from."""
    def from_group(path):
        if path not in h5:
            return None
        out = {}
        for name, g in h5[path].items():
            if "members" not in g:
                raise KeyError(f"{path}/{name} has no dataset 'members'")
            m = np.asarray(g["members"][()], np.int64)
            if m.ndim != 2 or m.shape[1] != int(name):
                raise KeyError(f"{path}/{name}/members has shape {m.shape}, not [subsets, {name}]")
            if "subsets" in g.attrs and int(g.attrs["subsets"]) != m.shape[0]:
                raise KeyError(f"{path}/{name}: attribute subsets = {int(g.attrs['subsets'])} "
                               f"but members has {m.shape[0]} rows")
            if m.size and (m.min() < 0 or m.max() >= E):
                raise KeyError(f"{path}/{name}/members: member ids outside 0..{E - 1}")
            if any(len(set(row)) != len(row) for row in m.tolist()):
                raise KeyError(f"{path}/{name}/members: a subset lists a member twice")
            out[int(name)] = m
        return out
    own = from_group("pairs_test/ensemble_size")
    abl = from_group("ablation")
    if own is not None and abl is not None:
        if own.keys() != abl.keys() or any(not np.array_equal(own[k], abl[k]) for k in own):
            raise KeyError("/pairs_test/ensemble_size/<k>/members and /ablation/<k>/members differ")
    if own is not None:
        return own, "/pairs_test/ensemble_size/<k>/members"
    if abl is not None:
        return abl, "/ablation/<k>/members"
    raise KeyError("results.h5 has neither /pairs_test/ensemble_size nor /ablation")


class Compare:
    def __init__(self, tol):
        self.tol, self.problems, self.figures = tol, [], 0

    def num(self, path, got, want, note=""):
        self.figures += 1
        if got is None:
            ok = isinstance(want, float) and math.isnan(want)
        elif not isinstance(got, (int, float)) or isinstance(got, bool):
            ok = False
        elif isinstance(want, float) and math.isnan(want):
            ok = False
        else:
            ok = abs(float(got) - float(want)) <= self.tol
        if not ok:
            self.problems.append(f"{path}: results.json {got!r} vs recomputed {want!r}{note}")

    def exact(self, path, got, want):
        self.figures += 1
        if got is None or isinstance(got, bool) or not isinstance(got, (int, float)) or float(got) != float(want):
            self.problems.append(f"{path}: results.json {got!r} vs {want!r}")

    def array(self, path, got, want, exact=False):
        if not isinstance(got, list) or len(got) != len(want):
            self.problems.append(f"{path}: results.json {got!r} is not a list of {len(want)}")
            return
        for i, (g, w) in enumerate(zip(got, want)):
            (self.exact if exact else self.num)(f"{path}[{i}]", g, float(w))

    def fail(self, msg):
        self.problems.append(msg)


def get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            raise KeyError("pairs_test." + ".".join(keys) + " is missing from results.json")
        d = d[k]
    return d


def check_calibration(c, path, cal, obj, sk=True):
    """obj: the JSON {"ece", "brier", "log_loss"}; cal: numpy figures."""
    for key in ("ece", "brier", "log_loss"):
        c.num(f"{path}.{key}", get_plain(obj, key, path), cal[key])
    if sk:
        s = sklearn_calibration(cal)
        for key in ("ece", "brier", "log_loss"):
            if key in s:
                c.num(f"{path}.{key}", get_plain(obj, key, path), s[key], " (scikit-learn)")
        return "ece" in s, s
    return False, None


def get_plain(obj, key, path):
    if not isinstance(obj, dict) or key not in obj:
        raise KeyError(f"{path}.{key} is missing from results.json")
    return obj[key]


def check(results_dir, tol):
    import h5py
    c = Compare(tol)
    with open(os.path.join(results_dir, "results.json")) as f:
        doc = json.load(f)
    if "pairs_test" not in doc or not isinstance(doc["pairs_test"], dict):
        raise KeyError("results.json has no \"pairs_test\" object")
    pt = doc["pairs_test"]
    with h5py.File(os.path.join(results_dir, "results.h5"), "r") as h5:
        for name in ("pairs_test/z", "pairs_test/score_std"):
            if name not in h5:
                raise KeyError(f"results.h5 has no /{name}")
        z32 = h5["pairs_test/z"][()]
        score_std = np.asarray(h5["pairs_test/score_std"][()], np.float64)
        if z32.dtype != np.float32 or z32.ndim != 3 or z32.shape[2] != 2:
            raise KeyError(f"/pairs_test/z is {z32.dtype} {z32.shape}, not float32 [E, n, 2]")
        E, n = z32.shape[0], z32.shape[1]
        if score_std.shape != (E,):
            raise KeyError(f"/pairs_test/score_std has shape {score_std.shape}, not [{E}]")
        subsets, subsets_from = read_subsets(h5, E)
    if not np.isfinite(z32).all() or not np.isfinite(score_std).all():
        raise KeyError("results.h5: /pairs_test/z or score_std is not finite")
    z = z32.astype(np.float64)
    c.exact("pairs_test.n", get(pt, "n"), n)
    everyone = list(range(E))

    # members
    P_m = sigmoid((z[:, :, 0] - z[:, :, 1]) * score_std[:, None])  # [E, n]
    member_acc = np.array([correctness(z[m]).mean() for m in everyone])
    member_cal = [calibration(P_m[m]) for m in everyone]
    c.array("pairs_test.members.accuracy", get(pt, "members", "accuracy"), member_acc)
    sk_bins = sk_sets = 0
    for key in ("ece", "brier", "log_loss"):
        c.array(f"pairs_test.members.{key}", get(pt, "members", key), [mc[key] for mc in member_cal])
    for m in everyone:
        got = {key: get(pt, "members", key)[m] for key in ("ece", "brier", "log_loss")}
        binned, _ = check_calibration(c, f"pairs_test.members[{m}]", member_cal[m], got)
        sk_bins, sk_sets = sk_bins + binned, sk_sets + 1

    # single
    c.num("pairs_test.single.accuracy", get(pt, "single", "accuracy"), float(member_acc.mean()))
    c.num("pairs_test.single.accuracy_std", get(pt, "single", "accuracy_std"), float(member_acc.std()))
    for key in ("ece", "brier", "log_loss"):
        c.num(f"pairs_test.single.calibration.{key}", get(pt, "single", "calibration", key),
              float(np.mean([mc[key] for mc in member_cal])))

    # aggregators
    aggs = get(pt, "aggregators")
    if not isinstance(aggs, dict) or "mean" not in aggs:
        raise KeyError("pairs_test.aggregators has no \"mean\"")
    for name in ("min", "median"):
        if name not in aggs:
            c.fail(f"pairs_test.aggregators has no \"{name}\"")
    for name, obj in aggs.items():
        try:
            a = aggregate(z, everyone, name)
        except ValueError:
            c.fail(f"pairs_test.aggregators: unknown name {name!r} (mean, min, median, uwo_<lambda>)")
            continue
        c.num(f"pairs_test.aggregators.{name}.accuracy", get(pt, "aggregators", name, "accuracy"),
              float(correctness(a).mean()))
        if name != "mean" and obj.get("calibration") is not None:
            c.fail(f"pairs_test.aggregators.{name}.calibration: only \"mean\" has calibration")
    mean_agg = aggregate(z, everyone, "mean")
    right = correctness(mean_agg)
    P, ss = seq_mean(P_m, everyone)
    u = np.sqrt(ss / E)
    cal = calibration(P)
    binned, sk = check_calibration(c, "pairs_test.aggregators.mean.calibration", cal,
                                   get(pt, "aggregators", "mean", "calibration"))
    sk_bins, sk_sets = sk_bins + binned, sk_sets + 1

    # reliability of the mean ensemble
    rel = get(pt, "reliability", "mean")
    c.array("pairs_test.reliability.mean.count", get(rel, "count"), cal["count"], exact=True)
    for key in ("mean_p", "frac_chosen"):
        c.array(f"pairs_test.reliability.mean.{key}", get(rel, key), cal[key])
        if binned:
            got = [v for v, k in zip(get(rel, key), cal["count"]) if k > 0] if isinstance(get(rel, key), list) else []
            if len(got) == len(sk[key]):
                for i, (g, w) in enumerate(zip(got, sk[key])):
                    c.num(f"pairs_test.reliability.mean.{key} (non-empty bin {i})", g, float(w),
                          " (scikit-learn calibration_curve)")
            else:
                c.fail(f"pairs_test.reliability.mean.{key}: {len(got)} non-empty bins vs scikit-learn's {len(sk[key])}")

    # selective
    order = np.argsort(u, kind="stable")
    cov = [j / 10 for j in range(1, 11)]
    sel = [float(right[order[:max(1, (j * n + 5) // 10)]].mean()) for j in range(1, 11)]
    c.array("pairs_test.selective.coverage", get(pt, "selective", "coverage"), cov)
    before = len(c.problems)
    c.array("pairs_test.selective.accuracy", get(pt, "selective", "accuracy"), sel)
    if len(c.problems) > before:
        us = np.sort(u)
        near = np.sum(np.diff(us)[np.diff(us) > 0] < 1e-12 * max(1.0, us[-1]))
        if near:
            c.fail(f"  (note: {near} pairs of u values differ by < 1e-12 but are not equal: rounding "
                   "could reorder them)")

    # disagreement AUROC
    err = mean_agg[:, 0] <= mean_agg[:, 1]
    auroc = mann_whitney_auroc(u, err)
    c.num("pairs_test.disagreement_auroc", get(pt, "disagreement_auroc"), auroc)
    if not math.isnan(auroc):
        from sklearn.metrics import roc_auc_score
        c.num("pairs_test.disagreement_auroc", get(pt, "disagreement_auroc"), float(roc_auc_score(err, u)),
              " (scikit-learn roc_auc_score)")

    # ensemble size
    es = get(pt, "ensemble_size")
    if not isinstance(es, list):
        raise KeyError("pairs_test.ensemble_size is not a list")
    by_k = {}
    for i, e in enumerate(es):
        k = e.get("k") if isinstance(e, dict) else None
        if not isinstance(k, int) or k in by_k:
            c.fail(f"pairs_test.ensemble_size[{i}]: k {k!r} missing or repeated")
            continue
        by_k[k] = e
    if sorted(by_k) != sorted(subsets):
        c.fail(f"pairs_test.ensemble_size: sizes {sorted(by_k)} vs {sorted(subsets)} in {subsets_from}")
    n_subsets = 0
    for k in sorted(set(by_k) & set(subsets)):
        e, lists = by_k[k], subsets[k]
        path = f"pairs_test.ensemble_size[k={k}]"
        c.exact(f"{path}.subsets", e.get("subsets"), lists.shape[0])
        accs, figs = [], {"ece": [], "brier": [], "log_loss": []}
        for row in lists.tolist():
            accs.append(float(correctness(aggregate(z, row, "mean")).mean()))
            sc = calibration(seq_mean(P_m, row)[0])
            for key in figs:
                figs[key].append(sc[key])
            s = sklearn_calibration(sc)
            for key in ("brier", "log_loss", "ece"):
                if key in s and abs(s[key] - sc[key]) > tol:
                    c.fail(f"{path}: subset {row}: numpy {key} {sc[key]!r} vs scikit-learn {s[key]!r}")
            n_subsets += 1
        c.num(f"{path}.accuracy", e.get("accuracy"), float(np.mean(accs)))
        c.num(f"{path}.accuracy_std", e.get("accuracy_std"), float(np.std(accs)))
        for key in figs:
            c.num(f"{path}.{key}", e.get(key), float(np.mean(figs[key])))
            c.num(f"{path}.{key}_std", e.get(f"{key}_std"), float(np.std(figs[key])))
    return c, {"E": E, "n": n, "aggregators": sorted(aggs), "sizes": sorted(subsets), "subsets": n_subsets,
               "from": subsets_from, "sk_bins": sk_bins, "sk_sets": sk_sets}


def run_check(results_dir, tol):
    try:
        c, info = check(results_dir, tol)
    except (KeyError, OSError, ValueError, TypeError, json.JSONDecodeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"check_pairs_test: FAIL: {results_dir}: {msg}")
        return 1
    if c.problems:
        print(f"check_pairs_test: FAIL: {results_dir}: {len(c.problems)} mismatches (tol {tol:g}):")
        for p in c.problems[:40]:
            print("  " + p)
        if len(c.problems) > 40:
            print(f"  ... and {len(c.problems) - 40} more")
        return 1
    print(f"check_pairs_test: OK: {results_dir}: n = {info['n']} pairs, E = {info['E']} members, aggregators "
          f"{', '.join(info['aggregators'])}, ensemble sizes {info['sizes']} ({info['subsets']} subsets from "
          f"{info['from']}), {c.figures} figures within {tol:g}; scikit-learn bins compared on "
          f"{info['sk_bins']} of {info['sk_sets']} calibration sets")
    return 0


# ---------------------------------------------------------------- the self-test

def independent_figures(z, score_std, subsets, lambdas):
    """results.json's pairs_test from z [E][n][2] (Python floats of the float32 values) by
    plain loops: the generator's own computation, not the checker's."""
    import bisect
    import statistics
    E, n = len(z), len(z[0])
    edges = list(np.linspace(0.0, 1.0, BINS + 1))

    def sig(x):
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    def agg(values, kind, lam=0.0):
        if kind == "mean":
            return sum(values) / len(values)
        if kind == "min":
            return min(values)
        if kind == "median":
            return statistics.median(values)
        # uwo exactly as rmens forms it (two passes, mean - lambda * ss / k): exact ties
        # between replies (e.g. [0,0,1,2,4] vs [2,0,0,0,1], both 0.28 at lambda 0.5) are
        # ties of this rounding, not of the exact variance (statistics.pvariance splits them)
        mu = sum(values) / len(values)
        ss = 0.0
        for v in values:
            ss += (v - mu) * (v - mu)
        return mu - lam * ss / len(values)

    def acc(members, kind, lam=0.0):
        t = 0.0
        for i in range(n):
            a = agg([z[m][i][0] for m in members], kind, lam)
            b = agg([z[m][i][1] for m in members], kind, lam)
            t += 1.0 if a > b else 0.5 if a == b else 0.0
        return t / n

    Pm = [[sig((z[m][i][0] - z[m][i][1]) * score_std[m]) for i in range(n)] for m in range(E)]

    def calib(P):
        pts = [(p, 1) for p in P] + [(1.0 - p, 0) for p in P]
        N = len(pts)
        cnt, ps, ys = [0] * BINS, [0.0] * BINS, [0.0] * BINS
        brier = loss = 0.0
        for p, y in pts:
            b = bisect.bisect_right(edges[1:-1], p)
            cnt[b] += 1
            ps[b] += p
            ys[b] += y
            brier += (p - y) ** 2
            q = min(max(p, CLIP), 1.0 - CLIP)
            loss += -math.log(q) if y else -math.log(1.0 - q)
        ece = sum(cnt[b] / N * abs(ps[b] / cnt[b] - ys[b] / cnt[b]) for b in range(BINS) if cnt[b])
        return {"ece": ece, "brier": brier / N, "log_loss": loss / N}, cnt, \
            [ps[b] / cnt[b] if cnt[b] else None for b in range(BINS)], \
            [ys[b] / cnt[b] if cnt[b] else None for b in range(BINS)]

    def ens_P(members):
        return [sum(Pm[m][i] for m in members) / len(members) for i in range(n)]

    names = ["mean", "min", "median"] + [f"uwo_{lam:g}" for lam in lambdas]
    kinds = [("mean", 0.0), ("min", 0.0), ("median", 0.0)] + [("uwo", lam) for lam in lambdas]
    everyone = list(range(E))
    aggregators = {nm: {"accuracy": acc(everyone, kd, lam)} for nm, (kd, lam) in zip(names, kinds)}
    P = ens_P(everyone)
    cal, cnt, mp, fc = calib(P)
    aggregators["mean"]["calibration"] = cal
    macc = [acc([m], "mean") for m in everyone]
    mcal = [calib(Pm[m])[0] for m in everyone]
    u = [statistics.pstdev([Pm[m][i] for m in everyone]) for i in range(n)]
    right, wrong = [], []
    for i in range(n):
        a = sum(z[m][i][0] for m in everyone) / E
        b = sum(z[m][i][1] for m in everyone) / E
        right.append(1.0 if a > b else 0.5 if a == b else 0.0)
        wrong.append(a <= b)
    order = sorted(range(n), key=lambda i: u[i])
    selective = []
    for j in range(1, 11):
        nj = max(1, (j * n + 5) // 10)
        selective.append(sum(right[i] for i in order[:nj]) / nj)
    pos = [u[i] for i in range(n) if wrong[i]]
    neg = [u[i] for i in range(n) if not wrong[i]]
    auroc = (sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg) / (len(pos) * len(neg))
             if pos and neg else None)
    sizes = []
    for k in sorted(subsets):
        accs, figs = [], {"ece": [], "brier": [], "log_loss": []}
        for row in subsets[k]:
            accs.append(acc(row, "mean"))
            f = calib(ens_P(row))[0]
            for key in figs:
                figs[key].append(f[key])
        mu = sum(accs) / len(accs)
        means = {key: sum(v) / len(v) for key, v in figs.items()}
        sizes.append({"k": k, "subsets": len(subsets[k]), "accuracy": mu,
                      "accuracy_std": math.sqrt(sum((a - mu) ** 2 for a in accs) / len(accs)), **means,
                      **{f"{key}_std": math.sqrt(sum((x - means[key]) ** 2 for x in v) / len(v))
                         for key, v in figs.items()}})
    mmu = sum(macc) / E
    return {
        "n": n,
        "aggregators": aggregators,
        "single": {"accuracy": mmu, "accuracy_std": math.sqrt(sum((a - mmu) ** 2 for a in macc) / E),
                   "calibration": {key: sum(f[key] for f in mcal) / E for key in ("ece", "brier", "log_loss")}},
        "members": {"accuracy": macc, **{key: [f[key] for f in mcal] for key in ("ece", "brier", "log_loss")}},
        "selective": {"coverage": [j / 10 for j in range(1, 11)], "accuracy": selective},
        "disagreement_auroc": auroc,
        "reliability": {"mean": {"count": cnt, "mean_p": mp, "frac_chosen": fc}},
        "ensemble_size": sizes,
    }


def write_case(d, z32, score_std, subsets, lambdas, where):
    import h5py
    os.makedirs(d, exist_ok=True)
    zl = z32.astype(np.float64).tolist()
    figures = independent_figures(zl, score_std.tolist(), {k: v.tolist() for k, v in subsets.items()}, lambdas)
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump({"format": "rmens-results (synthetic, check_pairs_test --selftest)", "pairs_test": figures}, f,
                  indent=1)
    with h5py.File(os.path.join(d, "results.h5"), "w") as h5:
        h5.create_dataset("pairs_test/z", data=z32)
        h5.create_dataset("pairs_test/score_std", data=score_std.astype(np.float64))
        for k, lists in subsets.items():
            g = h5.create_group(f"{where}/{k}")
            g.attrs["subsets"] = np.int32(lists.shape[0])
            g.create_dataset("members", data=lists.astype(np.int32))


def main_case(rng):
    """E = 5, n = 157, with ties: all members tie a pair (P = 0.5, u = 0), one member ties,
    identical members on some pairs (u = 0, P != 0.5), saturated probabilities."""
    E, n = 5, 157
    z = rng.normal(0.3, 1.0, (E, n, 2)).astype(np.float32)
    z[:, 0:8, 1] = z[:, 0:8, 0]          # every member ties: every aggregator ties, u = 0
    z[0, 8:14, 1] = z[0, 8:14, 0]        # one member ties
    z[:, 14:24, :] = z[0, 14:24, :]      # identical members: u = 0 with P != 0.5
    z[:, 24, 0], z[:, 24, 1] = 20.0, -20.0   # P = 1 exactly (log loss clipped)
    z[:, 25, 0], z[:, 25, 1] = -20.0, 20.0   # P = 0 exactly
    z[:, 26:30, :] = np.round(z[:, 26:30, :])  # min / median ties between replies
    score_std = np.array([0.7, 1.3, 2.0, 0.9, 1.6])
    subsets = {1: np.array([[0], [3], [4]]), 2: np.array([[1, 4], [0, 2], [3, 1]]),
               4: np.array([[2, 0, 4, 3], [1, 2, 3, 4]]), 5: np.array([[0, 1, 2, 3, 4]])}
    return z, score_std, subsets


def small_case():
    """E = 2 identical members, n = 7, every pair right: u = 0 everywhere, AUROC null,
    n_1 = max(1, 12 // 10) = 1; subsets under /pairs_test/ensemble_size."""
    z = np.zeros((2, 7, 2), np.float32)
    z[:, :, 0] = np.arange(7, dtype=np.float32) * 0.25 + 0.1
    z[:, :, 1] = -0.5
    return z, np.array([1.0, 1.0]), {1: np.array([[0], [1]]), 2: np.array([[1, 0]])}


def selftest(keep):
    import shutil
    import subprocess
    import tempfile
    import h5py
    from concurrent.futures import ThreadPoolExecutor
    POOL = ThreadPoolExecutor(2)
    tmp = keep or tempfile.mkdtemp(prefix="check_pairs_test_")
    rng = np.random.default_rng(29)
    me = [sys.executable, os.path.abspath(__file__)]
    failures = []

    jobs = []

    def run(d, want_fail, what):
        jobs.append((d, want_fail, what, POOL.submit(subprocess.run, me + [d], capture_output=True, text=True)))

    def report(d, want_fail, what, future):
        r = future.result()
        out = (r.stdout + r.stderr).strip()
        ok = (r.returncode == 1) if want_fail else (r.returncode == 0)
        print(f"  {'ok ' if ok else 'BAD'} {what}: exit {r.returncode}: {out.splitlines()[0] if out else ''}")
        if want_fail and r.returncode == 1 and len(out.splitlines()) > 1:
            print("        " + out.splitlines()[1].strip())
        if not ok:
            failures.append(what)
            print(out)

    good = os.path.join(tmp, "good")
    write_case(good, *main_case(rng), lambdas=[0.5, 2.0], where="ablation")
    small = os.path.join(tmp, "small")
    write_case(small, *small_case(), lambdas=[0.5], where="pairs_test/ensemble_size")
    run(good, False, "E=5 n=157 with ties, /ablation/<k>/members")
    run(small, False, "E=2 identical, all right (AUROC null), /pairs_test/ensemble_size/<k>/members")

    def corrupt_json(name, edit):
        d = os.path.join(tmp, name)
        shutil.copytree(good, d, dirs_exist_ok=True)
        with open(os.path.join(d, "results.json")) as f:
            doc = json.load(f)
        edit(doc["pairs_test"])
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump(doc, f)
        return d

    def corrupt_h5(name, edit):
        d = os.path.join(tmp, name)
        shutil.copytree(good, d, dirs_exist_ok=True)
        with h5py.File(os.path.join(d, "results.h5"), "r+") as h5:
            edit(h5)
        return d

    def move_count(pt):
        c = pt["reliability"]["mean"]["count"]
        a = next(i for i, v in enumerate(c) if v > 0)
        c[a] -= 1
        c[a + 1] += 1

    def swap_member(h5):
        m = h5["ablation/2/members"]
        row = m[1]
        row[1] = next(x for x in range(5) if x not in row)
        m[1] = row

    def bump_z(h5):
        z = h5["pairs_test/z"]
        z[2, 40, 0] = z[2, 40, 0] + np.float32(0.25)

    def mul(path, factor):
        def edit(pt):
            obj = pt
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] *= factor
        return edit

    cases = [
        ("median_acc", lambda pt: pt["aggregators"]["median"].__setitem__(
            "accuracy", pt["aggregators"]["median"]["accuracy"] + 1 / 157), "aggregators.median.accuracy + 1/n"),
        ("uwo_acc", lambda pt: pt["aggregators"]["uwo_2"].__setitem__(
            "accuracy", pt["aggregators"]["uwo_2"]["accuracy"] - 0.5 / 157), "aggregators.uwo_2.accuracy - 0.5/n"),
        ("selective", lambda pt: pt["selective"]["accuracy"].__setitem__(
            2, pt["selective"]["accuracy"][2] + 1e-7), "selective.accuracy[2] + 1e-7"),
        ("reliability", move_count, "one point moved to the next reliability bin"),
        ("member_loss", lambda pt: pt["members"]["log_loss"].__setitem__(
            1, pt["members"]["log_loss"][1] * (1 + 1e-8)), "members.log_loss[1] x (1 + 1e-8)"),
        ("ece", mul(["aggregators", "mean", "calibration", "ece"], 1.001), "aggregators.mean.calibration.ece x 1.001"),
        ("single_std", mul(["single", "accuracy_std"], 1.01), "single.accuracy_std x 1.01"),
        ("auroc_null", lambda pt: pt.__setitem__("disagreement_auroc", None), "disagreement_auroc null"),
        ("auroc_flip", lambda pt: pt.__setitem__("disagreement_auroc", 1 - pt["disagreement_auroc"]),
         "disagreement_auroc -> 1 - AUROC"),
        ("es_missing", lambda pt: pt["ensemble_size"].pop(1), "an ensemble_size entry removed"),
        ("es_std", lambda pt: pt["ensemble_size"][1].__setitem__("accuracy_std", pt["ensemble_size"][1]["accuracy"]),
         "ensemble_size[k=2].accuracy_std wrong"),
        ("es_ece_std", lambda pt: pt["ensemble_size"][1].__setitem__("ece_std", pt["ensemble_size"][1]["ece_std"] + 1e-8),
         "ensemble_size[k=2].ece_std + 1e-8"),
        ("es_brier_std", lambda pt: pt["ensemble_size"][1].pop("brier_std"), "ensemble_size[k=2].brier_std missing"),
        ("mean_cal_missing", lambda pt: pt["aggregators"]["mean"].pop("calibration"),
         "aggregators.mean.calibration missing"),
        ("n", lambda pt: pt.__setitem__("n", 156), "n = 156"),
    ]
    for name, edit, what in cases:
        run(corrupt_json(name, edit), True, what)
    run(corrupt_h5("subset", swap_member), True, "results.h5: one member of an ablation subset replaced")
    run(corrupt_h5("z", bump_z), True, "results.h5: z[2, 40, 0] + 0.25")
    run(corrupt_h5("score_std", lambda h5: h5["pairs_test/score_std"].__setitem__(
        slice(3, 4), np.array([0.9 * 1.0001]))), True, "results.h5: score_std[3] x 1.0001")
    print("self-test: 2 synthetic results must pass, every corrupted copy must fail")
    for job in jobs:
        report(*job)
    if not keep:
        shutil.rmtree(tmp)
    if failures:
        print(f"check_pairs_test --selftest: FAIL: {len(failures)} cases: {failures}")
        return 1
    print(f"check_pairs_test --selftest: OK: 2 synthetic results pass, {len(cases) + 3} corrupted copies fail")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results_dir", nargs="?")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--keep", help="with --selftest: build the cases here and leave them")
    args = ap.parse_args()
    if args.selftest:
        return selftest(args.keep)
    if not args.results_dir:
        ap.error("RESULTS_DIR is required (or --selftest)")
    return run_check(args.results_dir, args.tol)


if __name__ == "__main__":
    sys.exit(main())
