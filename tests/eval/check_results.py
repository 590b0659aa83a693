#!/usr/bin/python3
"""Checks results.h5 / results.json of rmens eval against an independent recomputation.

usage: check_results.py STORE MEMBERS RESULTS_P1.h5 [RESULTS_Pn.h5 ...] RESULTS.json
  - every figure dataset and attribute (except the run record: ranks, eval_seconds) and
    /predictions are bitwise identical across the results files;
  - /predictions equals the members' MLPs applied to the test embeddings in numpy,
    standardised by score_mean / score_std;
  - from /predictions and the golden rewards: the mean, min, median and uwo aggregates'
    exact best-of-n (brute force over all subsets where small, else the order-statistics
    formula), Spearman (scipy), pairwise accuracy (brute force), bench accuracy, oracle,
    single-member figures, agreement and uncertainty;
  - results.json has the documented shape and the same numbers as results.h5.
"""
import itertools
import json
import math
import sys

import h5py
import numpy as np
from scipy import stats

RUN_RECORD = {"ranks", "eval_seconds"}


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


def main():
    store_path, members_path, *rest = sys.argv[1:]
    json_path = rest[-1]
    result_paths = rest[:-1]
    problems = []

    files = [h5py.File(p, "r") for p in result_paths]
    ref = walk(files[0])
    for p, f in zip(result_paths[1:], files[1:]):
        other = walk(f)
        if set(other) != set(ref):
            problems.append(f"{p}: different objects: {sorted(set(other) ^ set(ref))[:5]}")
        for k in ref:
            if k in other and not same(ref[k], other[k]):
                problems.append(f"{p}: {k} differs from {result_paths[0]}")
    res = files[0]
    if int(files[-1].attrs["ranks"]) != len(result_paths):
        problems.append(f"ranks attribute {files[-1].attrs['ranks']} != {len(result_paths)}")

    st = h5py.File(store_path, "r")
    mem = h5py.File(members_path, "r")
    emb = st["test/embeddings"][()].astype(np.float64)
    golden = st["test/rewards"][()].astype(np.float64)
    N, K, D = emb.shape
    E = int(mem.attrs["n_members"])
    for key, want in [("store", store_path), ("members_file", members_path), ("store_uuid", st.attrs["store_uuid"])]:
        if res.attrs[key] != want:
            problems.append(f"provenance {key} = {res.attrs[key]!r}, expected {want!r}")
    if "learning_rate" not in res.attrs["config"] or not res.attrs["version"]:
        problems.append("provenance: config text or version missing")

    def member_scores(m, x):
        g = mem[f"member_{m}"]
        layers = sorted(k for k in g if k.startswith("layer_"))
        h = x
        for i, name in enumerate(sorted(layers, key=lambda s: int(s.split("_")[1]))):
            h = h @ g[name]["weight"][()].astype(np.float64).T + g[name]["bias"][()].astype(np.float64)
            if i + 1 < len(layers):
                h = np.maximum(h, 0)
        return (h[..., 0] - g.attrs["score_mean"]) / g.attrs["score_std"]

    z = res["predictions"][()].astype(np.float64)
    if z.shape != (E, N, K):
        problems.append(f"/predictions shape {z.shape}, expected {(E, N, K)}")
    for m in range(E):
        mine = member_scores(m, emb)
        err = np.abs(mine - z[m]).max()
        if err > 1e-3 * max(1.0, np.abs(mine).max()):
            problems.append(f"/predictions member {m}: max error {err} against numpy")

    bon_n = [int(n) for n in res["bon_n"][()]]
    if bon_n != [n for n in [1, 2, 3, 5, 11, 40] if n <= K]:
        problems.append(f"bon_n {bon_n}")
    zf = res["predictions"][()]  # float32 as rmens aggregates them (in double)

    def figures(score):
        bon = [np.mean([bon_exact(score[p], golden[p], n) for p in range(N)]) for n in bon_n]
        rhos = [stats.spearmanr(score[p], golden[p]).correlation for p in range(N)]
        rhos = [r for r in rhos if not math.isnan(r)]
        c = np.array([pair_accuracy_counts(score[p], golden[p]) for p in range(N)])
        return bon, float(np.mean(rhos)) if rhos else math.nan, c[:, 0].sum() / c[:, 1].sum()

    def check_group(g, score, label, bench=None):
        bon, rho, acc = figures(score)
        for j, n in enumerate(bon_n):
            if not close(float(g["bon"][j]), bon[j]):
                problems.append(f"{label}: bon({n}) {g['bon'][j]} vs {bon[j]}")
        if not close(float(g.attrs["spearman"]), rho):
            problems.append(f"{label}: spearman {g.attrs['spearman']} vs {rho}")
        if not close(float(g.attrs["pair_accuracy"]), acc):
            problems.append(f"{label}: pair accuracy {g.attrs['pair_accuracy']} vs {acc}")
        if bench is not None and not close(float(g.attrs["bench_accuracy"]), bench):
            problems.append(f"{label}: bench accuracy {g.attrs['bench_accuracy']} vs {bench}")

    zd = zf.astype(np.float64)
    lam = 0.5
    aggs = {"mean": zd.mean(0), "min": zd.min(0), "median": np.median(zd, 0),
            "uwo_0.5": zd.mean(0) - lam * zd.var(0)}
    bc = np.stack([member_scores(m, st["bench/chosen"][()].astype(np.float64)) for m in range(E)])
    br = np.stack([member_scores(m, st["bench/rejected"][()].astype(np.float64)) for m in range(E)])
    bench_aggs = {"mean": (bc.mean(0), br.mean(0)), "min": (bc.min(0), br.min(0)),
                  "median": (np.median(bc, 0), np.median(br, 0)),
                  "uwo_0.5": (bc.mean(0) - lam * bc.var(0), br.mean(0) - lam * br.var(0))}
    for name, score in aggs.items():
        c, r = bench_aggs[name]
        check_group(res[f"aggregators/{name}"], score, name, float(np.mean((c > r) + 0.5 * (c == r))))
    # oracle and singles
    oracle = [np.mean([bon_exact(golden[p], golden[p], n) for p in range(N)]) for n in bon_n]
    if not all(close(float(a), b) for a, b in zip(res["oracle_bon"][()], oracle)):
        problems.append(f"oracle {res['oracle_bon'][()]} vs {oracle}")
    single_spearman = []
    for m in range(E):
        bon, rho, acc = figures(zd[m])
        single_spearman.append(rho)
        if not close(float(res["single/spearman"][m]), rho) or not close(float(res["single/bon"][m, -1]), bon[-1]):
            problems.append(f"single member {m} figures differ")
    if not close(float(res["single/mean"].attrs["spearman"]), float(np.mean(single_spearman))):
        problems.append("single mean spearman")

    # agreement and uncertainty of the full ensemble
    iu = np.triu_indices(K, 1)
    agree = compared = 0
    rho_pairs = []
    picks_same = []
    std_rank = []
    levels_wrong, levels_right = [], []
    for p in range(N):
        signs = np.sign(zd[:, p, iu[0]] - zd[:, p, iu[1]])  # [E, pairs]
        same_pairs = sum((signs[a] == signs[b]).astype(int) for a in range(E) for b in range(a + 1, E))
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
        r = stats.spearmanr(sd, err).correlation
        if not math.isnan(r):
            std_rank.append(r)
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
    member_spearman = np.mean([np.mean(v) for v in matrix.values()])
    auroc = stats.mannwhitneyu(levels_wrong, levels_right).statistic / (len(levels_wrong) * len(levels_right))
    expect = {"agreement@pair_agreement": agree / compared, "agreement@member_spearman": member_spearman,
              "agreement@best_pick_agreement": np.mean(picks_same),
              "uncertainty@mean_std": zd.std(0).mean(), "uncertainty@std_rank_error_spearman": np.mean(std_rank),
              "uncertainty@disagreement_auroc": auroc}
    for key, want in expect.items():
        group, attr = key.split("@")
        if not close(float(res[group].attrs[attr]), float(want)):
            problems.append(f"{key}: {res[group].attrs[attr]} vs {want}")

    # the full-size ablation entry equals the full ensemble
    if float(res[f"ablation/{E}/aggregators/mean/bon"][-1]) != float(res["aggregators/mean/bon"][-1]):
        problems.append("ablation at k = E differs from the full ensemble")
    subsets = res["ablation/2/members"][()]
    if subsets.shape != (3, 2) or not all(len(set(s)) == 2 for s in subsets):
        problems.append(f"ablation/2/members {subsets}")

    # results.json: the documented shape, the same numbers
    j = json.load(open(json_path))
    for key in ["members", "aggregators", "single", "oracle_bon", "agreement", "uncertainty", "ablation"]:
        if key not in j:
            problems.append(f"results.json: key '{key}' missing")
    if j.get("members") != E or sorted(j["aggregators"]) != sorted(aggs):
        problems.append(f"results.json: members {j.get('members')}, aggregators {sorted(j['aggregators'])}")
    for name in aggs:
        a = j["aggregators"][name]
        if sorted(a) != ["bench_accuracy", "bon", "kl", "pair_accuracy", "spearman"]:
            problems.append(f"results.json: aggregator keys {sorted(a)}")
        if list(a["bon"]) != [str(n) for n in bon_n] or not close(a["bon"][str(bon_n[-1])], float(res[f"aggregators/{name}/bon"][-1]), 0):
            problems.append(f"results.json: {name} bon differs")
        if not close(a["kl"]["2"], math.log(2) - 0.5, 1e-15):
            problems.append("results.json: kl(2)")
    if sorted(j["ablation"]) != sorted(str(k) for k in [1, 2, 4]):
        problems.append(f"results.json: ablation sizes {sorted(j['ablation'])}")
    if j["ablation"]["1"]["agreement"]["pair_agreement"] is not None:
        problems.append("results.json: agreement of one member should be null")

    for p in problems:
        print("FAIL:", p)
    print(f"check_results: {len(result_paths)} result files, N={N} K={K} E={E}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
