#!/usr/bin/python3
"""The campaign analysis on a hand-made campaign with known numbers (no rmens needed).

Builds a campaign directory of the shape jobs/campaign.sh leaves behind (points/p*/ with
point.json, results.json of the shape `rmens eval` writes, results.h5 with the merged
config as its `config` attribute; one point without results), runs analysis/report.py on
it, and checks the tidy CSVs cell by cell against the numbers put in, the figures (real
PNGs of a sensible size) and the report. The end-to-end run on real rmens outputs is
tests/slurm/test_jobs.sh.

    test_analysis.py            run the test
    test_analysis.py --make DIR only write the hand-made campaign into DIR
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py

SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BON_N = [1, 2, 4, 8, 16, 32, 50]
BETAS = ["-1.0", "1.0", "0.1"]
OBJECTIVES = ['"bt"', '"clf"']
AGGREGATORS = ["mean", "min", "median", "uwo_0.5"]
MEMBERS = 4


def oracle(n):
    return 0.2 + 0.5 * math.log(n)


def figure(point, agg, n, k=MEMBERS):
    """A known, distinct value for every (point, aggregator, n, ensemble size)."""
    return round(0.1 * point + 0.01 * AGGREGATORS.index(agg) + 0.3 * math.log(n) + 0.02 * k, 6) if agg != "single" \
        else round(0.1 * point + 0.25 * math.log(n), 6)


def ensemble(point, k):
    aggs = {}
    for a in AGGREGATORS:
        aggs[a] = {"bon": {str(n): figure(point, a, n, k) for n in BON_N},
                   "kl": {str(n): math.log(n) - (n - 1) / n for n in BON_N},
                   "spearman": 0.5 + 0.01 * point + 0.001 * k, "pair_accuracy": 0.7 + 0.01 * point,
                   "bench_accuracy": None if a == "min" else 0.8}
    return {"aggregators": aggs,
            "agreement": {"member_spearman": 0.9 - 0.05 * point, "pair_agreement": 0.95, "best_pick_agreement": 0.5},
            "uncertainty": {"mean_std": 0.1 * (point + 1), "std_rank_error_spearman": 0.2, "disagreement_auroc": 0.6 + 0.02 * point}}


def make_campaign(directory):
    points = [(b, o) for b in BETAS for o in OBJECTIVES]
    for i, (beta, objective) in enumerate(points):
        d = os.path.join(directory, "points", f"p{i:04d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "point.json"), "w") as f:
            json.dump({"index": i, "grid": {"pairs.annotator_beta": beta, "model.objective": objective},
                       "set": {"train.epochs": "5"}}, f)
        if i == len(points) - 1:
            continue  # a point whose run has not finished: reported as missing
        res = {"members": MEMBERS, **ensemble(i, MEMBERS)}
        res["single"] = {"bon": {str(n): figure(i, "single", n) for n in BON_N},
                         "kl": {str(n): math.log(n) - (n - 1) / n for n in BON_N},
                         "spearman": 0.4, "pair_accuracy": 0.65, "bench_accuracy": 0.75,
                         "std": {"bon": {str(n): 0.01 for n in BON_N}, "spearman": 0.01, "pair_accuracy": 0.01, "bench_accuracy": 0.01}}
        res["oracle_bon"] = {str(n): oracle(n) for n in BON_N}
        res["ablation"] = {str(k): {"subsets": 4 if k < MEMBERS else 1, **ensemble(i, k)} for k in (1, 2, 4)}
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump(res, f)
        # The merged config as libconfig writes it: groups with ':' and nested braces.
        config = (f'store = "/x/store.h5";\noutput = "{d}";\nseed = 1L;\n'
                  f'pairs :\n{{\n  mode = "cross_prompt";\n  annotator_beta = {beta};\n}};\n'
                  f'model :\n{{\n  hidden = [ 64, 32 ];\n  objective = {objective};\n}};\n'
                  f'train :\n{{\n  epochs = 5L;\n  learning_rate = 0.001;\n}};\n')
        with h5py.File(os.path.join(d, "results.h5"), "w") as h5:
            h5.attrs["config"] = config
    return points


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make":
        make_campaign(sys.argv[2])
        return 0
    with tempfile.TemporaryDirectory(prefix="rmens-analysis-") as directory:
        points = make_campaign(directory)
        env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=os.path.join(directory, "mpl"))
        out = subprocess.run([sys.executable, os.path.join(SRCDIR, "analysis", "report.py"), directory],
                             capture_output=True, text=True, env=env)
        print(out.stdout, out.stderr, sep="")
        check(out.returncode == 0, f"report.py exited {out.returncode}")

        rows = list(csv.DictReader(open(os.path.join(directory, "campaign.csv"))))
        done = len(points) - 1
        # run x (4 aggregators + single + oracle) x n
        check(len(rows) == done * (len(AGGREGATORS) + 2) * len(BON_N), f"campaign.csv has {len(rows)} rows")
        check(list(rows[0])[:4] == ["run", "pairs.annotator_beta", "model.objective", "members"],
              f"columns start {list(rows[0])[:4]}: the swept keys must follow `run`")
        check("train.epochs" not in rows[0], "train.epochs is the same for every run: not a swept column")
        for r in rows:
            i = int(r["run"][1:])
            beta, objective = points[i]
            check(r["pairs.annotator_beta"] == beta and r["model.objective"] == objective.strip('"'),
                  f"{r['run']}: swept values {r['pairs.annotator_beta']}, {r['model.objective']}")
            n = int(r["n"])
            want = oracle(n) if r["aggregator"] == "oracle" else figure(i, r["aggregator"], n)
            check(abs(float(r["bon_reward"]) - want) < 1e-9, f"{r['run']} {r['aggregator']} n={n}: {r['bon_reward']} != {want}")
            check(abs(float(r["kl_bon"]) - (math.log(n) - (n - 1) / n)) < 1e-12, "kl_bon")
        check(all(r["bench_accuracy"] == "" for r in rows if r["aggregator"] == "min"), "a null figure must be an empty cell")

        abl = list(csv.DictReader(open(os.path.join(directory, "ablation.csv"))))
        check(len(abl) == done * 3 * len(AGGREGATORS) * len(BON_N), f"ablation.csv has {len(abl)} rows")
        for r in abl:
            i, k, n = int(r["run"][1:]), int(r["ensemble_size"]), int(r["n"])
            check(abs(float(r["bon_reward"]) - figure(i, r["aggregator"], n, k)) < 1e-9, f"ablation {r['run']} k={k}")

        figures = os.path.join(directory, "figures")
        for name in ["bon_vs_kl.png", "ensemble_size.png", "annotator_quality.png", "uncertainty_vs_error.png"]:
            path = os.path.join(figures, name)
            check(os.path.exists(path), f"figure {name} missing")
            with open(path, "rb") as f:
                check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG")
            check(os.path.getsize(path) > 20000, f"{name} is only {os.path.getsize(path)} bytes")
        report = open(os.path.join(directory, "report.md")).read()
        for name in ["figures/bon_vs_kl.png", "figures/ensemble_size.png", "figures/annotator_quality.png"]:
            check(f"]({name})" in report, f"report.md does not embed {name}")
        check(f"p{len(points) - 1:04d}" in report and "missing" in report.lower(), "report.md must name the missing point")
        check("| p0000 |" in report, "report.md must hold the per-run table")
    print("test_analysis: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
