#!/usr/bin/python3
"""Checks the warm aggregator of rmens eval (include/rmens/eval/warm.h) against numpy.

usage: check_warm.py STORE MEMBERS RESULTS_P1.h5 [RESULTS_Pn.h5 ...] RESULTS.json
  - every figure of the results files is bitwise identical (but the run record);
  - the weights of members.h5 averaged in numpy (float64 sum in member order, rounded to
    float32), the model applied to the train split for its standardisation (mean and
    population std of all N*K train scores) and to the test split and bench pairs;
  - from those scores, as tests/eval/check_results.py computes every aggregator: exact
    best-of-n, Spearman, pair accuracy, bench accuracy, proxy best-of-n, pick quantile and
    above-median share; compared to aggregators/warm of the full ensemble and, for every
    ablation size, to the mean over its subsets (ablation/<k>/members) of each subset's
    weight average, and std_over_subsets/aggregators/warm to their np.std;
  - results.json has aggregators.warm with the fields of the other aggregators and the
    numbers of results.h5.
"""
import json
import math
import os
import sys

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_results import bon_exact, differences_across, pair_accuracy_counts  # noqa: E402

# float32 scoring in rmens against float64 here: rounding moves the figures by ~1e-7
TOL = 1e-5


def close(a, b, tol=TOL):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(b))


def layers_of(g):
    names = sorted((k for k in g if k.startswith("layer_")), key=lambda s: int(s.split("_")[1]))
    return [(g[n]["weight"][()], g[n]["bias"][()]) for n in names]


def average(mem, members):
    per_member = [layers_of(mem[f"member_{m}"]) for m in members]
    out = []
    for l in range(len(per_member[0])):
        w = np.zeros(per_member[0][l][0].shape, np.float64)
        b = np.zeros(per_member[0][l][1].shape, np.float64)
        for layers in per_member:
            w += layers[l][0]
            b += layers[l][1]
        out.append(((w / len(members)).astype(np.float32), (b / len(members)).astype(np.float32)))
    return out


def forward(layers, x):
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64).T + b.astype(np.float64)
        if i + 1 < len(layers):
            h = np.maximum(h, 0)
    return h[..., 0]


def figures(z, zc, zr, golden, bon_n):
    N = golden.shape[0]
    bon = [np.mean([bon_exact(z[p], golden[p], n) for p in range(N)]) for n in bon_n]
    proxy = [np.mean([bon_exact(z[p], z[p], n) for p in range(N)]) for n in bon_n]
    rhos = [stats.spearmanr(z[p], golden[p]).correlation for p in range(N)]
    rhos = [r for r in rhos if not math.isnan(r)]
    c = np.array([pair_accuracy_counts(z[p], golden[p]) for p in range(N)])
    q, above = [], []
    for p in range(N):
        picks = np.flatnonzero(z[p] == z[p].max())
        q.append(np.mean([(golden[p] <= golden[p][i]).mean() for i in picks]))
        above.append(np.mean(golden[p][picks] > np.median(golden[p])))
    return {"bon": bon, "proxy_bon": proxy, "spearman": float(np.mean(rhos)),
            "pair_accuracy": c[:, 0].sum() / c[:, 1].sum(), "bench_accuracy": float(np.mean((zc > zr) + 0.5 * (zc == zr))),
            "pick_quantile": float(np.mean(q)), "above_median": float(np.mean(above))}


def main():
    store_path, members_path, *rest = sys.argv[1:]
    json_path, result_paths = rest[-1], rest[:-1]
    problems = []
    files = [h5py.File(p, "r") for p in result_paths]
    problems += differences_across(result_paths, files)
    res = files[0]
    st = h5py.File(store_path, "r")
    mem = h5py.File(members_path, "r")
    if int(mem.attrs["shared_init"]) != 1:
        problems.append("members.h5: shared_init is not 1")
    E = int(mem.attrs["n_members"])
    train = st["train/embeddings"][()].astype(np.float64)
    test = st["test/embeddings"][()].astype(np.float64)
    golden = st["test/rewards"][()].astype(np.float64)
    chosen = st["bench/chosen"][()].astype(np.float64)
    rejected = st["bench/rejected"][()].astype(np.float64)
    bon_n = [int(n) for n in res["bon_n"][()]]

    def warm_figures(members):
        if len(members) == 1:  # the member itself, with its stored standardisation
            g = mem[f"member_{members[0]}"]
            layers, mean, std = layers_of(g), g.attrs["score_mean"], g.attrs["score_std"]
        else:
            layers = average(mem, members)
            t = forward(layers, train).ravel()
            mean, std = t.mean(), t.std()
        z = (forward(layers, test) - mean) / std
        return figures(z, (forward(layers, chosen) - mean) / std, (forward(layers, rejected) - mean) / std, golden, bon_n)

    def compare(label, group, want):
        got = {"bon": group["bon"][()], "proxy_bon": group["proxy_bon"][()]}
        got.update({k: float(group.attrs[k]) for k in want if k not in got})
        for k, v in want.items():
            ok = all(close(float(a), b) for a, b in zip(got[k], v)) if isinstance(v, list) else close(got[k], v)
            if not ok:
                problems.append(f"{label}: {k} {got[k]} vs numpy {v}")

    full = warm_figures(list(range(E)))
    stds_checked = 0
    compare("aggregators/warm", res["aggregators/warm"], full)
    for k in res["ablation"]:
        subsets = res[f"ablation/{k}/members"][()]
        each = [warm_figures([int(m) for m in s]) for s in subsets]
        want = {f: (list(np.mean([e[f] for e in each], 0)) if isinstance(full[f], list) else float(np.mean([e[f] for e in each])))
                for f in full}
        compare(f"ablation/{k}/aggregators/warm", res[f"ablation/{k}/aggregators/warm"], want)
        # and their population std over the subsets (np.std), 0 for a single subset
        spread = {f: (list(np.std([e[f] for e in each], 0)) if isinstance(full[f], list) else float(np.std([e[f] for e in each])))
                  for f in full}
        compare(f"ablation/{k}/std_over_subsets/aggregators/warm", res[f"ablation/{k}/std_over_subsets/aggregators/warm"],
                spread)
        if len(subsets) == 1 and any(v != 0 for v in res[f"ablation/{k}/std_over_subsets/aggregators/warm/bon"][()]):
            problems.append(f"ablation/{k}: one subset, but the warm std over subsets is not 0")
        stds_checked += 1

    j = json.load(open(json_path))
    names = list(j["aggregators"])
    if names[-1] != "warm" or set(j["aggregators"]["warm"]) != set(j["aggregators"][names[0]]) - {"calibration"}:
        problems.append(f"results.json: aggregators {names}, warm fields {sorted(j['aggregators'].get('warm', {}))}")
    else:
        w, g = j["aggregators"]["warm"], res["aggregators/warm"]
        if [w["bon"][str(n)] for n in bon_n] != list(g["bon"][()]) or w["pair_accuracy"] != g.attrs["pair_accuracy"]:
            problems.append("results.json: aggregators.warm differs from results.h5")
    for k, entry in j["ablation"].items():
        if "warm" not in entry["aggregators"]:
            problems.append(f"results.json: ablation {k} has no warm")
        spread = entry.get("std_over_subsets", {}).get("aggregators", {}).get("warm")
        g = res[f"ablation/{k}/std_over_subsets/aggregators/warm"]
        if spread is None or [spread["bon"][str(n)] for n in bon_n] != list(g["bon"][()]) or \
                spread["spearman"] != g.attrs["spearman"]:
            problems.append(f"results.json: ablation {k} std_over_subsets warm missing or differs from results.h5")

    if problems:
        print("\n".join(problems[:40]))
        print(f"FAIL: {len(problems)} problem(s)")
        sys.exit(1)
    print(f"warm checked against numpy: full ensemble of {E} and {len(res['ablation'])} ablation sizes "
          f"(mean and std over subsets of {stds_checked}), "
          f"bon {[round(b, 4) for b in full['bon']]}, pair accuracy {full['pair_accuracy']:.4f}")


if __name__ == "__main__":
    main()
