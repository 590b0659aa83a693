#!/usr/bin/python3
"""Label-efficiency curves of rmens active runs (issue 14).

usage: plot_active.py RUN_DIR|CAMPAIGN_DIR [--full RESULTS_JSON|ACTIVE_JSON] [--aggregator mean]
                     [--common-seeds]

RUN_DIR holds one active.json; a CAMPAIGN_DIR (jobs/campaign*.sh with RMENS_VERBS=active)
holds points/*/active.json. Writes into the directory given:
  figures/active_curves.png  golden best-of-n (largest n), Spearman and pair accuracy of the
                             aggregator against labels used, one line per strategy: mean
                             over seeds, band from the lowest to the highest seed
  active_summary.json        per strategy: labels to reach 95 % of the full-pool pair
                             accuracy (first round whose seed-mean reaches it; also for
                             85 % and 90 %, labels_to_pair_accuracy_fraction), the area
                             under the best-of-n curve (trapezoid over labels, divided by
                             the label range) and its difference to random
  active_report.md           the same as a table
The full-pool pair accuracy is that of --full: results.json of rmens run/eval trained on
the whole pool (pairs.count = active.pool), or the active.json of `rmens active` with
active.initial = active.pool and active.rounds = 0 (its last round). Without --full it is
the highest final-round pair accuracy of any run (said so in the report).
--common-seeds keeps only the seeds that every strategy has, so that a campaign still
under way compares strategies over the same seeds."""
import argparse
import glob
import json
import os
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plots  # noqa: E402  (the campaign plotting helpers: one plotting module)

METRICS = [("bon", "golden best-of-n (largest n)"), ("spearman", "Spearman (within prompt)"),
           ("pair_accuracy", "pair accuracy")]
YLABELS = {"bon": "golden reward of the pick", "spearman": "Spearman with golden",
           "pair_accuracy": "test pairs ordered as golden"}
ORDER = ["random", "entropy", "disagreement", "bald", "levelset", "dopt", "past_dopt"]
SECONDS = ("train", "score", "select", "evaluate")  # active.json rounds[].seconds


def load_runs(directory):
    paths = [os.path.join(directory, "active.json")]
    if not os.path.exists(paths[0]):
        paths = sorted(glob.glob(os.path.join(directory, "points", "*", "active.json")))
    if not paths:
        raise SystemExit(f"plot_active: no active.json in {directory} or its points/*/")
    return [json.load(open(p)) for p in paths]


def common_seeds(runs):
    """The runs whose seed every strategy has run."""
    seeds = defaultdict(set)
    for run in runs:
        seeds[run["strategy"]].add(run["seed"])
    shared = set.intersection(*seeds.values()) if seeds else set()
    if not shared:
        raise SystemExit("plot_active: --common-seeds: no seed that every strategy has run")
    return [run for run in runs if run["seed"] in shared], sorted(shared)


def full_pair_accuracy(path, aggregator):
    """pair accuracy of a results.json, or of an active.json's last round."""
    d = json.load(open(path))
    aggregators = d["rounds"][-1]["aggregators"] if "rounds" in d else d["aggregators"]
    return aggregators[aggregator]["pair_accuracy"]


def curve(run, aggregator):
    """labels and the three metrics per round."""
    labels, values = [], defaultdict(list)
    for r in run["rounds"]:
        agg = r["aggregators"][aggregator]
        labels.append(r["labels"])
        bon = agg["bon"]
        largest = max(bon, key=int)
        values["bon"].append(np.nan if bon[largest] is None else bon[largest])
        for key in ("spearman", "pair_accuracy"):
            values[key].append(np.nan if agg[key] is None else agg[key])
        for part in SECONDS:
            values["seconds_" + part].append(r["seconds"][part])
    return np.array(labels), {k: np.array(v, float) for k, v in values.items()}


def by_strategy(runs, aggregator):
    groups = defaultdict(list)
    for run in runs:
        groups[run["strategy"]].append(curve(run, aggregator))
    out = {}
    for s, curves in groups.items():
        labels = curves[0][0]
        if any(len(c[0]) != len(labels) or np.any(c[0] != labels) for c in curves):
            raise SystemExit(f"plot_active: runs of {s} have different label schedules")
        keys = [k for k, _ in METRICS] + ["seconds_" + part for part in SECONDS]
        out[s] = (labels, {k: np.vstack([c[1][k] for c in curves]) for k in keys}, len(curves))
    return dict(sorted(out.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else 99))


FRACTIONS = (0.85, 0.90, 0.95)  # of the full-pool pair accuracy


def labels_to_reach(labels, accuracy, target):
    """labels of the first round whose accuracy reaches target, or None."""
    reach = [int(x) for x, a in zip(labels, accuracy) if a >= target]
    return reach[0] if reach else None


def summarise(groups, full_accuracy):
    summary = {}
    for s, (labels, m, seeds) in groups.items():
        acc = np.nanmean(m["pair_accuracy"], axis=0)
        reach = {f"{f:.2f}": labels_to_reach(labels, acc, f * full_accuracy) for f in FRACTIONS}
        bon = np.nanmean(m["bon"], axis=0)
        span = labels[-1] - labels[0]
        area = float(np.trapz(bon, labels) / span) if span > 0 else float(bon[0])
        # the selection rounds' cost (round 0 has no scoring or selection), over rounds and
        # seeds: the median, as a round stopped (SIGSTOP, preemption) or sharing its machine
        # records its wall time and would dominate a mean
        rounds = slice(1, None) if len(labels) > 1 else slice(0, 1)
        seconds = {part: float(np.median(m["seconds_" + part][:, rounds])) for part in SECONDS}
        summary[s] = {"seeds": seeds, "labels_to_95pct_pair_accuracy": reach["0.95"],
                      "labels_to_pair_accuracy_fraction": reach,
                      "bon_area": area, "final_pair_accuracy": float(acc[-1]), "final_bon": float(bon[-1]),
                      "seconds_per_round": seconds}
    if "random" in summary:
        for s in summary:
            summary[s]["bon_area_minus_random"] = summary[s]["bon_area"] - summary["random"]["bon_area"]
    return summary


def largest_n(runs):
    """The best-of-n the "bon" panel shows: the largest n the runs evaluated."""
    return max((int(n) for run in runs for r in run["rounds"][:1] for a in r["aggregators"].values() for n in a["bon"]),
               default=None)


def plot(groups, path, aggregator, n=None):
    # one scale per metric (plots.panel_grid shares y, for panels of one metric)
    fig, axes = plots.plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.4 + 0.8), squeeze=False)
    axes = axes.flat
    for ax, (key, title) in zip(axes, METRICS):
        if key == "bon" and n is not None:
            title = title.replace("best-of-n", f"best-of-{n}")
        ax.set_ylabel(YLABELS.get(key, key))
        for s, (labels, m, seeds) in groups.items():
            mean = np.nanmean(m[key], axis=0)
            line, = ax.plot(labels, mean, marker="o", ms=3, label=s)
            if seeds > 1:
                ax.fill_between(labels, np.nanmin(m[key], axis=0), np.nanmax(m[key], axis=0), color=line.get_color(),
                                alpha=0.15, lw=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("labelled pairs")
        ax.grid(alpha=0.3)
    plots.finish(fig, path, f"label efficiency ({aggregator} of the ensemble; band: min..max over seeds)")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("directory")
    ap.add_argument("--full", help="results.json or active.json of an ensemble trained on the whole pool")
    ap.add_argument("--aggregator", default="mean")
    ap.add_argument("--common-seeds", action="store_true", help="only the seeds every strategy has")
    a = ap.parse_args(argv)
    runs = load_runs(a.directory)
    seeds_note = ""
    if a.common_seeds:
        runs, seeds = common_seeds(runs)
        seeds_note = f" Seeds every strategy has: {', '.join(map(str, seeds))}."
    groups = by_strategy(runs, a.aggregator)
    if a.full:
        full = full_pair_accuracy(a.full, a.aggregator)
        full_note = f"full-pool pair accuracy {full:.4f} from {a.full}"
    else:
        full = max(float(np.nanmax(m["pair_accuracy"][:, -1])) for _, m, _ in groups.values())
        full_note = f"no --full results.json: the reference is the best final-round pair accuracy, {full:.4f}"
    summary = summarise(groups, full)
    os.makedirs(os.path.join(a.directory, "figures"), exist_ok=True)
    figure = os.path.join(a.directory, "figures", "active_curves.png")
    plot(groups, figure, a.aggregator, largest_n(runs))
    with open(os.path.join(a.directory, "active_summary.json"), "w") as f:
        json.dump({"aggregator": a.aggregator, "full_pair_accuracy": full, "strategies": summary}, f, indent=1)
    lines = [f"# rmens active: label efficiency ({len(runs)} runs)", "", full_note + "." + seeds_note, "",
             "| strategy | seeds | labels to 95 % pair acc. | to 90 % | to 85 % | best-of-n area | vs random | "
             "final pair acc. | final best-of-n |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s, v in summary.items():
        reach = v["labels_to_pair_accuracy_fraction"]
        shown = {f: "not reached" if n is None else str(n) for f, n in reach.items()}
        diff = v.get("bon_area_minus_random")
        lines.append(f"| {s} | {v['seeds']} | {shown['0.95']} | {shown['0.90']} | {shown['0.85']} | {v['bon_area']:.4f} | "
                     f"{'' if diff is None else f'{diff:+.4f}'} | {v['final_pair_accuracy']:.4f} | {v['final_bon']:.4f} |")
    def distinct(key):  # the runs' provenance: several values when a campaign spanned machines
        return " / ".join(sorted({str(r.get("provenance", {}).get(key, "?")) for r in runs}))
    lines += ["", f"Seconds per selection round (median over rounds 1..R and seeds; {distinct('ranks')} rank(s), "
              f"{distinct('precision')}, {distinct('cpu')}):", "",
              "| strategy | train | score | select | evaluate | total |", "|---|---|---|---|---|---|"]
    for s, v in summary.items():
        t = v["seconds_per_round"]
        lines.append(f"| {s} | " + " | ".join(f"{t[p]:.1f}" for p in SECONDS) + f" | {sum(t.values()):.1f} |")
    lines += ["", f"![curves](figures/{os.path.basename(figure)})", ""]
    with open(os.path.join(a.directory, "active_report.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[4:4 + 2 + len(summary)]))
    print(f"wrote {figure}, active_summary.json, active_report.md")


if __name__ == "__main__":
    main(sys.argv[1:])
