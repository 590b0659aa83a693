#!/usr/bin/python3
"""Checks results.h5 / results.json of rmens eval against an independent recomputation.

usage: check_results.py [--pairs-dump BINARY] STORE MEMBERS RESULTS_P1.h5 [RESULTS_Pn.h5 ...] RESULTS.json
  - every figure dataset and attribute (except the run record: ranks, eval_seconds) and
    /predictions are bitwise identical across the results files;
  - /predictions equals the members' MLPs applied to the test embeddings in numpy,
    standardised by score_mean / score_std;
  - from /predictions and the golden rewards: the mean, min, median and uwo aggregates'
    exact best-of-n (brute force over all subsets where small, else the order-statistics
    formula), Spearman (scipy), pairwise accuracy (brute force), bench accuracy, oracle,
    single-member figures, agreement and uncertainty;
  - the overoptimization diagnostics: proxy best-of-n (the same brute force on the
    aggregate score itself), the best-of-K pick's quantile and above-median share (the seed
    lab's step6_eval_rms.py formula, tied picks shared);
  - with --pairs-dump (tests/eval/calibration_pairs_dump.c: the calibration pairs and the
    annotator's uniforms from the generator): the annotator's outcomes, each member's and
    the mean's P(a over b) from /predictions and the members' score_std, and from them ECE,
    Brier and log loss (scikit-learn: calibration_curve, brier_score_loss, log_loss; numpy
    np.histogram bins) and the error by disagreement;
  - every ablation entry: each subset's figures (/ablation/<k>/members) recomputed from
    /predictions as above; their mean (undefined values skipped) is the entry and their
    population std (np.std) its std_over_subsets, to 1e-9 (exactly 0 for k = E's one
    subset); a self-test then perturbs copies of the results and checks that this is caught;
  - results.json has the documented shape and the same numbers as results.h5.
"""
import subprocess
import itertools
import json
import math
import os
import sys

import h5py
import numpy as np
from scipy import stats

RUN_RECORD = {"ranks", "eval_seconds"}
UWO_LAMBDA = 0.5  # the one eval.uwo_lambda of ranks_identical.sh: the aggregator "uwo_0.5"


def walk(f):
    out = {}
    def visit(name, obj):
        for k, v in obj.attrs.items():
            if k not in RUN_RECORD:
                out[f"{name}@{k}"] = v
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]
    for k, v in f.attrs.items():
        if k not in RUN_RECORD:
            out[f"@{k}"] = v
    f.visititems(visit)
    return out


def same(a, b):
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def differences_across(paths, files):
    """Every object and attribute of files[1:] (but the run record) against files[0]'s."""
    problems = []
    ref = walk(files[0])
    for p, f in zip(paths[1:], files[1:]):
        other = walk(f)
        if set(other) != set(ref):
            problems.append(f"{p}: different objects: {sorted(set(other) ^ set(ref))[:5]}")
        problems += [f"{p}: {k} differs from {paths[0]}" for k in ref if k in other and not same(ref[k], other[k])]
    return problems


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(b))


def bon_exact(score, golden, n):
    """Expected golden reward of the best of n drawn without replacement, ties sharing."""
    K = len(score)
    if math.comb(K, n) <= 5000:  # brute force over every subset
        total = 0.0
        for sub in itertools.combinations(range(K), n):
            s = score[list(sub)]
            winners = [sub[i] for i in np.flatnonzero(s == s.max())]
            total += golden[winners].mean()
        return total / math.comb(K, n)
    order = np.lexsort((np.arange(K), score))
    win = np.array([math.comb(i, n - 1) for i in range(K)], float) / math.comb(K, n)
    g = golden[order].astype(float)
    s = score[order]
    for v in np.unique(s):  # tied blocks share
        idx = np.flatnonzero(s == v)
        g[idx] = g[idx].mean()
    return float(win @ g)


def pair_accuracy_counts(score, golden):
    dg = np.sign(golden[:, None] - golden[None, :])
    ds = np.sign(score[:, None] - score[None, :])
    upper = np.triu(np.ones(dg.shape, bool), 1) & (dg != 0)
    return ((dg == ds) & upper).sum() + 0.5 * ((ds == 0) & upper).sum(), upper.sum()


def parse_config(text):
    """section.key -> value string of the merged libconfig text in results.h5."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.endswith(":"):
            section = line[:-1].strip()
        elif line.startswith("};"):
            section = None
        elif "=" in line:
            key, value = (t.strip() for t in line.rstrip(";").split("=", 1))
            out[f"{section}.{key}" if section else key] = value.strip('"')
    return out


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def diagnostics(score, golden, bon_n):
    """Proxy best-of-n, the best-of-K pick's golden quantile and above-median share of scores [N, K]."""
    N = len(golden)
    proxy = [np.mean([bon_exact(score[p], score[p], n) for p in range(N)]) for n in bon_n]
    q, above = [], []
    for p in range(N):
        picks = np.flatnonzero(score[p] == score[p].max())
        q.append(np.mean([(golden[p] <= golden[p][i]).mean() for i in picks]))
        above.append(np.mean(golden[p][picks] > np.median(golden[p])))
    return proxy, float(np.mean(q)), float(np.mean(above))


def check_diagnostics(res, j, aggs, zd, golden, bon_n, problems):
    """Proxy best-of-n, pick quantile and above-median share of every aggregate and member."""

    def compare(label, got_proxy, got_q, got_above, score):
        proxy, q, above = diagnostics(score, golden, bon_n)
        if not all(close(float(a), b) for a, b in zip(got_proxy, proxy)):
            problems.append(f"{label}: proxy_bon {list(got_proxy)} vs {proxy}")
        if not close(float(got_q), q) or not close(float(got_above), above):
            problems.append(f"{label}: pick quantile {got_q} above median {got_above} vs {q} {above}")
        return proxy, q, above

    for name, score in aggs.items():
        g = res[f"aggregators/{name}"]
        compare(name, g["proxy_bon"][()], g.attrs["pick_quantile"], g.attrs["above_median"], score)
        a = j["aggregators"][name]
        if list(a["proxy_bon"]) != [str(n) for n in bon_n] or \
                not all(close(a["proxy_bon"][str(n)], float(g["proxy_bon"][i]), 0) for i, n in enumerate(bon_n)) or \
                not close(a["pick_quantile"], float(g.attrs["pick_quantile"]), 0):
            problems.append(f"results.json: {name} proxy_bon / pick_quantile differ from results.h5")
    singles = [compare(f"single {m}", res["single/proxy_bon"][m], res["single/pick_quantile"][m],
                       res["single/above_median"][m], zd[m]) for m in range(zd.shape[0])]
    mean_proxy = np.mean([s[0] for s in singles], 0)
    sj = j["single"]
    if not all(close(sj["proxy_bon"][str(n)], mean_proxy[i]) for i, n in enumerate(bon_n)) or \
            not close(sj["pick_quantile"], float(np.mean([s[1] for s in singles]))) or \
            not close(sj["std"]["above_median"], float(np.std([s[2] for s in singles]))):
        problems.append("results.json: single proxy_bon / pick_quantile / std above_median")


def calibration_reference(p, y):
    """ECE, Brier, log loss and np.histogram bins of probabilities p of outcomes y."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss, log_loss
    edges = np.linspace(0, 1, 16)
    count = np.histogram(p, bins=edges)[0]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=15, strategy="uniform")
    ece = float(np.sum(count[count > 0] / len(p) * np.abs(prob_pred - prob_true)))
    return {"ece": ece, "brier": brier_score_loss(y, p), "log_loss": log_loss(y, p, eps=1e-15, labels=[0, 1]),
            "count": count, "fraction_preferred": prob_true, "mean_probability": prob_pred}


def check_calibration(dump, res, j, mem, zf, golden, problems):
    """The calibration figures and the error by disagreement, recomputed pair by pair."""
    cfg = parse_config(res.attrs["config"])
    n_pairs, seed = int(cfg["eval.calibration_pairs"]), int(cfg["seed"])
    E, N, K = zf.shape
    if int(res.attrs["calibration_pairs"]) != n_pairs:
        problems.append(f"calibration_pairs attribute {res.attrs['calibration_pairs']} != {n_pairs}")
        return
    out = subprocess.run([dump, str(seed), str(N), str(K), str(n_pairs)], check=True, capture_output=True, text=True)
    d = np.loadtxt(out.stdout.splitlines(), ndmin=2)
    q, a, b = (d[:, i].astype(int) for i in range(3))
    u_label, u_flip = d[:, 3], d[:, 4]
    # the reward scale: the one training recorded, else the std of the test rewards
    want_scale = float(mem.attrs["reward_scale"]) if "reward_scale" in mem.attrs else \
        (float(cfg["pairs.reward_scale"]) if cfg["pairs.reward_scale"] != "std" else float(np.std(golden)))
    scale = float(res.attrs["calibration_reward_scale"])
    if not close(scale, want_scale, 1e-12):
        problems.append(f"calibration reward scale {scale} vs {want_scale}")
    # the annotator: the members' (members.h5 annotator_beta, label_flip), else the config's
    if "annotator_beta" in mem.attrs:
        beta, flip = float(mem.attrs["annotator_beta"]), float(mem.attrs["label_flip"])
    else:
        beta, flip = float(cfg["pairs.annotator_beta"]), float(cfg["pairs.label_flip"])
    if "calibration_annotator_beta" in res.attrs and (float(res.attrs["calibration_annotator_beta"]) != beta or
                                                      float(res.attrs["calibration_label_flip"]) != flip):
        problems.append(f"calibration annotator {res.attrs['calibration_annotator_beta']}, "
                        f"{res.attrs['calibration_label_flip']} vs the members' {beta}, {flip}")
    diff = golden[q, a] - golden[q, b]
    if beta < 0:
        y = (diff > 0) | ((diff == 0) & (u_label < 0.5))
    else:
        y = u_label < sigmoid(beta * diff / scale if scale > 0 else 0 * diff)
    y = np.where((flip > 0) & (u_flip < flip), ~y, y).astype(int)
    std = np.array([mem[f"member_{m}"].attrs["score_std"] for m in range(E)])
    z = zf.astype(np.float64)
    pm = sigmoid((z[:, q, a] - z[:, q, b]) * std[:, None])  # [E, pairs]
    mean = pm.mean(0)

    def compare(label, group, json_obj, ref, with_bins=True):
        for key in ["ece", "brier", "log_loss"]:
            if not close(float(group.attrs[key]), ref[key], 1e-9) or not close(json_obj[key], float(group.attrs[key]), 0):
                problems.append(f"{label} {key}: {group.attrs[key]} (json {json_obj[key]}) vs {ref[key]}")
        if with_bins:
            count = group["count"][()]
            if not np.array_equal(count, ref["count"]) or json_obj["bins"]["count"] != list(count):
                problems.append(f"{label} bin counts {count} vs np.histogram {ref['count']}")
                return
            nonempty = count > 0
            for key in ["fraction_preferred", "mean_probability"]:
                if not np.allclose(group[key][()][nonempty], ref[key], rtol=0, atol=1e-9):
                    problems.append(f"{label} {key} {group[key][()][nonempty]} vs sklearn {ref[key]}")

    compare("mean calibration", res["aggregators/mean/calibration"], j["aggregators"]["mean"]["calibration"],
            calibration_reference(mean, y))
    members = [calibration_reference(pm[m], y) for m in range(E)]
    pooled = calibration_reference(pm.reshape(-1), np.tile(y, E))
    single = {key: float(np.mean([r[key] for r in members])) for key in ["ece", "brier", "log_loss"]}
    single.update({key: pooled[key] for key in ["count", "fraction_preferred", "mean_probability"]})
    compare("single calibration", res["single/calibration"], j["single"]["calibration"], single)
    if not np.allclose(res["single/calibration/member_brier"][()], [r["brier"] for r in members], rtol=0, atol=1e-9):
        problems.append("single member Brier scores")

    # error of the mean's preferred side by member disagreement, untied golden pairs
    spread = pm.std(0)
    untied = diff != 0
    error = np.where(mean == 0.5, 0.5, ((mean > 0.5) != (diff > 0)).astype(float))[untied]
    g = res["uncertainty/error_by_disagreement"]
    edges = np.r_[g["lower"][()], g["upper"][-1]]
    if not np.array_equal(edges, [0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5]):
        problems.append(f"error_by_disagreement edges {edges} are not the documented ones")
    ids = np.searchsorted(edges[1:-1], spread[untied], side="right")
    jd = j["uncertainty"]["error_by_disagreement"]
    count = np.bincount(ids, minlength=10)
    if not np.array_equal(g["count"][()], count) or jd["count"] != list(g["count"][()]):
        problems.append(f"error_by_disagreement counts {g['count'][()]} vs {count}")
    for bin_ in np.flatnonzero(count):
        sel = ids == bin_
        if not close(float(g["error_rate"][bin_]), error[sel].mean(), 1e-9) or \
                not close(float(g["disagreement"][bin_]), spread[untied][sel].mean(), 1e-9):
            problems.append(f"error_by_disagreement bin {bin_}: {g['error_rate'][bin_]} vs {error[sel].mean()}")
    if y.mean() in (0.0, 1.0) or count[1:].sum() == 0:
        problems.append(f"calibration check too weak: outcome share {y.mean()}, pairs above the first bin {count[1:].sum()}")
    print(f"check_results: calibration over {n_pairs} pairs: mean ECE {res['aggregators/mean/calibration'].attrs['ece']:.4f}, "
          f"{int(count[1:].sum())} untied pairs above disagreement 0.05")


def parse_arguments(args):
    """(pairs dump or None, store, members, results .h5 paths, results.json) of the command line."""
    dump = None
    if args[:1] == ["--pairs-dump"]:
        dump, args = args[1], args[2:]
    store_path, members_path, *rest = args
    return dump, store_path, members_path, rest[:-1], rest[-1]


def check_provenance(res, st, store_path, members_path, problems):
    """results.h5 names the store and members it was computed from, its config and version."""
    for key, want in [("store", store_path), ("members_file", members_path), ("store_uuid", st.attrs["store_uuid"])]:
        if res.attrs[key] != want:
            problems.append(f"provenance {key} = {res.attrs[key]!r}, expected {want!r}")
    if "learning_rate" not in res.attrs["config"] or not res.attrs["version"]:
        problems.append("provenance: config text or version missing")


def member_scores(mem, m, x):
    """Member m's MLP of members.h5 applied to x in numpy, standardised as rmens does."""
    g = mem[f"member_{m}"]
    layers = sorted(k for k in g if k.startswith("layer_"))
    h = x
    for i, name in enumerate(sorted(layers, key=lambda s: int(s.split("_")[1]))):
        h = h @ g[name]["weight"][()].astype(np.float64).T + g[name]["bias"][()].astype(np.float64)
        if i + 1 < len(layers):
            h = np.maximum(h, 0)
    return (h[..., 0] - g.attrs["score_mean"]) / g.attrs["score_std"]


def member_view_scores(st, mem, m, dataset):
    """Member m's scores of a store dataset as member m sees it: ensemble.views gives each
    member a view, whose datasets are /views/<name>/... (the first name in the store's
    `views` is the default view, at the root)."""
    default_view = str(st.attrs["views"][0]) if "views" in st.attrs else "default"
    view = mem[f"member_{m}"].attrs.get("view", default_view)
    view = view.decode() if isinstance(view, bytes) else str(view)
    path = dataset if view == default_view else f"views/{view}/{dataset}"
    return member_scores(mem, m, st[path][()].astype(np.float64))


def check_predictions(st, mem, z, shape, problems):
    """/predictions (z) has the shape (E, N, K) and is every member's numpy scoring of its
    view's test embeddings."""
    if z.shape != shape:
        problems.append(f"/predictions shape {z.shape}, expected {shape}")
    for m in range(shape[0]):
        mine = member_view_scores(st, mem, m, "test/embeddings")
        err = np.abs(mine - z[m]).max()
        if err > 1e-3 * max(1.0, np.abs(mine).max()):
            problems.append(f"/predictions member {m}: max error {err} against numpy")


def checked_bon_n(res, K, problems):
    """The best-of-n sizes in results.h5: eval.bon_n of ranks_identical.sh, those up to K."""
    bon_n = [int(n) for n in res["bon_n"][()]]
    if bon_n != [n for n in [1, 2, 3, 5, 11, 40] if n <= K]:
        problems.append(f"bon_n {bon_n}")
    return bon_n


def aggregates(z):
    """Each aggregator's scores from member scores z [E, ...] (in double, as rmens)."""
    return {"mean": z.mean(0), "min": z.min(0), "median": np.median(z, 0),
            "uwo_0.5": z.mean(0) - UWO_LAMBDA * z.var(0)}


def figures(score, golden, bon_n):
    """Exact best-of-n for each n, mean Spearman over the prompts where it is defined, and
    pairwise accuracy of scores [N, K] against the golden rewards."""
    N = len(golden)
    bon = [np.mean([bon_exact(score[p], golden[p], n) for p in range(N)]) for n in bon_n]
    rhos = [stats.spearmanr(score[p], golden[p]).correlation for p in range(N)]
    rhos = [r for r in rhos if not math.isnan(r)]
    c = np.array([pair_accuracy_counts(score[p], golden[p]) for p in range(N)])
    return bon, float(np.mean(rhos)) if rhos else math.nan, c[:, 0].sum() / c[:, 1].sum()


def check_group(g, score, label, golden, bon_n, problems, bench=None):
    """A results.h5 group's bon, spearman, pair accuracy (and bench accuracy) against score's."""
    bon, rho, acc = figures(score, golden, bon_n)
    for j, n in enumerate(bon_n):
        if not close(float(g["bon"][j]), bon[j]):
            problems.append(f"{label}: bon({n}) {g['bon'][j]} vs {bon[j]}")
    if not close(float(g.attrs["spearman"]), rho):
        problems.append(f"{label}: spearman {g.attrs['spearman']} vs {rho}")
    if not close(float(g.attrs["pair_accuracy"]), acc):
        problems.append(f"{label}: pair accuracy {g.attrs['pair_accuracy']} vs {acc}")
    if bench is not None and not close(float(g.attrs["bench_accuracy"]), bench):
        problems.append(f"{label}: bench accuracy {g.attrs['bench_accuracy']} vs {bench}")


def check_aggregators(res, st, mem, E, aggs, golden, bon_n, problems):
    """Every aggregator's figures; its bench accuracy from the members' numpy scores of the
    bench pairs (ties count half)."""
    chosen = aggregates(np.stack([member_view_scores(st, mem, m, "bench/chosen") for m in range(E)]))
    rejected = aggregates(np.stack([member_view_scores(st, mem, m, "bench/rejected") for m in range(E)]))
    for name, score in aggs.items():
        c, r = chosen[name], rejected[name]
        check_group(res[f"aggregators/{name}"], score, name, golden, bon_n, problems,
                    float(np.mean((c > r) + 0.5 * (c == r))))


def check_oracle_and_singles(res, zd, E, golden, bon_n, problems):
    """The oracle's best-of-n (the golden reward picking itself) and each single member's figures."""
    N = len(golden)
    oracle = [np.mean([bon_exact(golden[p], golden[p], n) for p in range(N)]) for n in bon_n]
    if not all(close(float(a), b) for a, b in zip(res["oracle_bon"][()], oracle)):
        problems.append(f"oracle {res['oracle_bon'][()]} vs {oracle}")
    single_spearman = []
    for m in range(E):
        bon, rho, acc = figures(zd[m], golden, bon_n)
        single_spearman.append(rho)
        if not close(float(res["single/spearman"][m]), rho) or not close(float(res["single/bon"][m, -1]), bon[-1]):
            problems.append(f"single member {m} figures differ")
    if not close(float(res["single/mean"].attrs["spearman"]), float(np.mean(single_spearman))):
        problems.append("single mean spearman")


def agreement_and_uncertainty(zd, E, golden):
    """The full ensemble's agreement and uncertainty figures, as results.h5 "group@attribute"
    keys, recomputed prompt by prompt from the E members' scores zd [E, N, K]."""
    N, K = golden.shape
    iu = np.triu_indices(K, 1)
    agree = compared = 0
    rho_pairs = []
    picks_same = []
    std_rank = []
    levels_wrong, levels_right = [], []
    for p in range(N):
        signs = np.sign(zd[:, p, iu[0]] - zd[:, p, iu[1]])  # [E, pairs]
        same_pairs = np.zeros(len(iu[0]), int) + sum((signs[a] == signs[b]).astype(int)
                                                     for a in range(E) for b in range(a + 1, E))
        agree += same_pairs.sum()
        compared += same_pairs.size * E * (E - 1) // 2
        for a in range(E):
            for b in range(a + 1, E):
                r = stats.spearmanr(zd[a, p], zd[b, p]).correlation
                if not math.isnan(r):
                    rho_pairs.append((a, b, r))
        mean = zd[:, p].mean(0)
        pick = np.argmax(mean)
        picks_same.append(np.mean([np.argmax(zd[m, p]) == pick for m in range(E)]))
        sd = zd[:, p].std(0)
        err = np.abs(stats.rankdata(mean) - stats.rankdata(golden[p]))
        r = stats.spearmanr(sd, err).correlation if np.ptp(sd) > 0 else math.nan  # one member: sd 0
        if not math.isnan(r):
            std_rank.append(r)
        # how many member pairs disagree on each response pair, where the mean is wrong / right
        dg = np.sign(golden[p, iu[0]] - golden[p, iu[1]])
        dm = np.sign(mean[iu[0]] - mean[iu[1]])
        disagree = E * (E - 1) // 2 - same_pairs
        valid = dg != 0
        wrong = (dm != dg) & valid
        levels_wrong.extend(disagree[wrong])
        levels_right.extend(disagree[valid & ~wrong])
    matrix = {}
    for a, b, r in rho_pairs:
        matrix.setdefault((a, b), []).append(r)
    # one member (an ablation subset of size 1): no member pairs, so these are undefined
    member_spearman = np.mean([np.mean(v) for v in matrix.values()]) if matrix else math.nan
    auroc = stats.mannwhitneyu(levels_wrong, levels_right).statistic / (len(levels_wrong) * len(levels_right)) \
        if E >= 2 else math.nan
    return {"agreement@pair_agreement": agree / compared if compared else math.nan,
            "agreement@member_spearman": member_spearman, "agreement@best_pick_agreement": np.mean(picks_same),
            "uncertainty@mean_std": zd.std(0).mean(),
            "uncertainty@std_rank_error_spearman": np.mean(std_rank) if std_rank else math.nan,
            "uncertainty@disagreement_auroc": auroc}


def check_agreement_and_uncertainty(res, zd, E, golden, problems):
    for key, want in agreement_and_uncertainty(zd, E, golden).items():
        group, attr = key.split("@")
        if not close(float(res[group].attrs[attr]), float(want)):
            problems.append(f"{key}: {res[group].attrs[attr]} vs {want}")


def check_ablation(res, E, problems):
    """The full-size ablation entry equals the full ensemble; size 2 has eval.ablation_subsets
    (3) subsets of distinct members."""
    if float(res[f"ablation/{E}/aggregators/mean/bon"][-1]) != float(res["aggregators/mean/bon"][-1]):
        problems.append("ablation at k = E differs from the full ensemble")
    subsets = res["ablation/2/members"][()]
    if subsets.shape != (3, 2) or not all(len(set(s)) == 2 for s in subsets):
        problems.append(f"ablation/2/members {subsets}")


def subset_figures(zd, chosen, rejected, golden, bon_n):
    """Every figure an ablation entry averages, of the ensemble of members zd [k, N, K]
    (chosen, rejected: their bench scores [k, pairs]), as {"group/name@attr" or dataset
    path: value}, the paths of /ablation/<k>/ and of its std_over_subsets group."""
    out = {}
    c, r = aggregates(chosen), aggregates(rejected)
    for name, score in aggregates(zd).items():
        g = f"aggregators/{name}"
        bon, rho, acc = figures(score, golden, bon_n)
        proxy, q, above = diagnostics(score, golden, bon_n)
        out.update({f"{g}/bon": bon, f"{g}/proxy_bon": proxy, f"{g}@spearman": rho, f"{g}@pair_accuracy": acc,
                    f"{g}@bench_accuracy": float(np.mean((c[name] > r[name]) + 0.5 * (c[name] == r[name]))),
                    f"{g}@pick_quantile": q, f"{g}@above_median": above})
    out.update(agreement_and_uncertainty(zd, zd.shape[0], golden))
    return out


def nan_mean_std(values):
    """Mean and population std (np.std, ddof 0) over the values that are defined, per
    element; NaN where none is."""
    a = np.array(values, float)
    defined = ~np.isnan(a)
    count = defined.sum(0)
    mean = np.where(count > 0, np.where(defined, a, 0).sum(0) / np.maximum(count, 1), math.nan)
    std = np.array([np.std(a[:, i][defined[:, i]]) if count[i] else math.nan for i in range(a.shape[1])]) \
        if a.ndim == 2 else (np.std(a[defined]) if count else math.nan)
    return mean, std


def stored(group, key):
    """A figure of an ablation group by subset_figures' key: an attribute or a dataset."""
    if "@" in key:
        path, attr = key.split("@")
        return float(group[path].attrs[attr])
    return group[key][()]


def json_figure(entry, key, bon_n):
    """The same figure from a results.json ablation entry (or its std_over_subsets)."""
    path, attr = key.split("@") if "@" in key else (key, None)
    node = entry
    for part in path.split("/"):
        node = node[part]
    if attr is not None:
        v = node[attr]
        return math.nan if v is None else v
    return [math.nan if node[str(n)] is None else node[str(n)] for n in bon_n]


def ablation_subset_figures(res, st, mem, zd, golden, bon_n):
    """{k: [subset_figures of each subset of /ablation/<k>/members]} from /predictions."""
    E = zd.shape[0]
    chosen = np.stack([member_view_scores(st, mem, m, "bench/chosen") for m in range(E)])
    rejected = np.stack([member_view_scores(st, mem, m, "bench/rejected") for m in range(E)])
    out = {}
    for k in sorted(res["ablation"], key=int):
        subsets = [list(map(int, s)) for s in res[f"ablation/{k}/members"][()]]
        out[k] = [subset_figures(zd[s], chosen[s], rejected[s], golden, bon_n) for s in subsets]
    return out


def check_ablation_spread(res, j, per_subset, bon_n):
    """Every ablation entry against its subsets' figures (per_subset, ablation_subset_figures):
    their mean (NaN skipped) is the entry, their population std (np.std) its
    std_over_subsets (exactly 0 for one subset), in results.h5 to 1e-9 and in results.json
    as in results.h5. Returns (problems, figures checked)."""
    problems, checked = [], 0
    for k, each in per_subset.items():
        group, entry = res[f"ablation/{k}"], j["ablation"][k]
        if "std_over_subsets" not in group or "std_over_subsets" not in entry:
            problems.append(f"ablation {k}: no std_over_subsets (results.h5 / results.json)")
            continue
        for key in each[0]:
            mean, std = nan_mean_std([e[key] for e in each])
            for label, want, h5_group, json_entry in [("mean", mean, group, entry),
                                                      ("std_over_subsets", std, group["std_over_subsets"],
                                                       entry["std_over_subsets"])]:
                want = np.atleast_1d(want)
                got = np.atleast_1d(np.asarray(stored(h5_group, key), float))
                got_json = np.atleast_1d(np.asarray(json_figure(json_entry, key, bon_n), float))
                if len(got) != len(want) or not all(close(float(g), float(w)) for g, w in zip(got, want)):
                    problems.append(f"ablation {k} {label} {key}: results.h5 {list(got)} vs numpy {list(want)}")
                if len(got_json) != len(got) or not all(close(float(a), float(b), 0) for a, b in zip(got_json, got)):
                    problems.append(f"ablation {k} {label} {key}: results.json {list(got_json)} vs results.h5 {list(got)}")
                if label == "std_over_subsets" and len(each) == 1 and not all(v == 0 or math.isnan(v) for v in got):
                    problems.append(f"ablation {k}: one subset, but std_over_subsets {key} is {list(got)}, not 0")
                checked += len(want)
    return problems, checked


def selftest_ablation_spread(res_path, j, per_subset, bon_n):
    """check_ablation_spread must catch a perturbed std: each perturbation of a copy of the
    results (results.h5 attribute, dataset element, results.json value, a one-subset std
    off 0) has to be reported. Returns the problems of this self-test."""
    import copy
    import shutil
    import tempfile
    k = next(k for k, each in per_subset.items() if len(each) > 1 and int(k) >= 2)  # member pairs: agreement defined
    one = next(k for k, each in per_subset.items() if len(each) == 1)  # k = E: the whole ensemble
    spread = f"ablation/{k}/std_over_subsets/aggregators/mean"
    whole = f"ablation/{one}/std_over_subsets/aggregators/min"

    def attr(f, path, name, delta):
        f[path].attrs[name] = float(f[path].attrs[name]) + delta

    def element(f, path, delta):
        v = f[path][()]
        v[-1] += delta
        f[path][...] = v

    def in_json(entry, delta):
        entry["std_over_subsets"]["aggregators"]["median"]["pair_accuracy"] += delta

    cases = [("results.h5 std spearman +1e-8", lambda f: attr(f, spread, "spearman", 1e-8), None),
             ("results.h5 std bon[-1] -1e-8", lambda f: element(f, f"{spread}/bon", -1e-8), None),
             ("results.h5 std agreement +1e-8", lambda f: attr(f, f"ablation/{k}/std_over_subsets/agreement",
                                                               "pair_agreement", 1e-8), None),
             ("results.json std pair_accuracy +1e-12", None, lambda jj: in_json(jj["ablation"][k], 1e-12)),
             (f"results.h5 k = {one} std spearman 1e-12", lambda f: attr(f, whole, "spearman", 1e-12), None)]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, edit_h5, edit_json in cases:
            path = os.path.join(tmp, "results.h5")
            shutil.copyfile(res_path, path)
            jj = copy.deepcopy(j)
            if edit_h5:
                with h5py.File(path, "r+") as f:
                    edit_h5(f)
            if edit_json:
                edit_json(jj)
            with h5py.File(path, "r") as f:
                found, _ = check_ablation_spread(f, jj, per_subset, bon_n)
            if not found:
                problems.append(f"self-test: the ablation check missed a perturbation: {label}")
    print(f"check_results: ablation self-test: {len(cases) - len(problems)} of {len(cases)} perturbations caught")
    return problems


def check_results_json(j, res, E, aggs, bon_n, problems):
    """results.json: the documented shape, the same numbers as results.h5."""
    for key in ["members", "aggregators", "single", "oracle_bon", "agreement", "uncertainty", "ablation"]:
        if key not in j:
            problems.append(f"results.json: key '{key}' missing")
    if j.get("members") != E or sorted(j["aggregators"]) != sorted(aggs):
        problems.append(f"results.json: members {j.get('members')}, aggregators {sorted(j['aggregators'])}")
    for name in aggs:
        a = j["aggregators"][name]
        want_keys = ["above_median", "bench_accuracy", "bon", "kl", "pair_accuracy", "pick_quantile", "proxy_bon",
                     "spearman"] + (["calibration"] if name == "mean" else [])
        if sorted(a) != sorted(want_keys):
            problems.append(f"results.json: aggregator keys {sorted(a)}")
        if list(a["bon"]) != [str(n) for n in bon_n] or not close(a["bon"][str(bon_n[-1])], float(res[f"aggregators/{name}/bon"][-1]), 0):
            problems.append(f"results.json: {name} bon differs")
        if not close(a["kl"]["2"], math.log(2) - 0.5, 1e-15):
            problems.append("results.json: kl(2)")
    if sorted(j["ablation"]) != sorted(str(k) for k in [1, 2, 4]):
        problems.append(f"results.json: ablation sizes {sorted(j['ablation'])}")
    if j["ablation"]["1"]["agreement"]["pair_agreement"] is not None:
        problems.append("results.json: agreement of one member should be null")


def main():
    dump, store_path, members_path, result_paths, json_path = parse_arguments(sys.argv[1:])
    problems = []

    files = [h5py.File(p, "r") for p in result_paths]
    problems += differences_across(result_paths, files)
    res = files[0]
    if int(files[-1].attrs["ranks"]) != len(result_paths):
        problems.append(f"ranks attribute {files[-1].attrs['ranks']} != {len(result_paths)}")

    st = h5py.File(store_path, "r")
    mem = h5py.File(members_path, "r")
    golden = st["test/rewards"][()].astype(np.float64)
    N, K, _ = st["test/embeddings"].shape
    E = int(mem.attrs["n_members"])
    check_provenance(res, st, store_path, members_path, problems)
    zf = res["predictions"][()]  # float32 as rmens aggregates them (in double)
    zd = zf.astype(np.float64)
    check_predictions(st, mem, zd, (E, N, K), problems)
    bon_n = checked_bon_n(res, K, problems)

    aggs = aggregates(zd)
    check_aggregators(res, st, mem, E, aggs, golden, bon_n, problems)
    check_oracle_and_singles(res, zd, E, golden, bon_n, problems)
    check_agreement_and_uncertainty(res, zd, E, golden, problems)
    check_ablation(res, E, problems)
    j = json.load(open(json_path))
    check_results_json(j, res, E, aggs, bon_n, problems)
    check_diagnostics(res, j, aggs, zd, golden, bon_n, problems)
    per_subset = ablation_subset_figures(res, st, mem, zd, golden, bon_n)
    found, checked = check_ablation_spread(res, j, per_subset, bon_n)
    problems += found
    print(f"check_results: ablation mean and std over subsets: {checked} figures recomputed from /predictions")
    if not found:
        problems += selftest_ablation_spread(result_paths[0], j, per_subset, bon_n)
    if dump:
        check_calibration(dump, res, j, mem, zf, golden, problems)
    elif j["aggregators"]["mean"]["calibration"] is not None:
        print("check_results: calibration figures not recomputed (no --pairs-dump)")

    for p in problems:
        print("FAIL:", p)
    print(f"check_results: {len(result_paths)} result files, N={N} K={K} E={E}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
