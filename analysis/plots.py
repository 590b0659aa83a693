#!/usr/bin/python3
"""Figures of a merged campaign (run analysis/merge.py first; analysis/report.py does both).

    /usr/bin/python3 analysis/plots.py CAMPAIGN_DIR

Reads CAMPAIGN_DIR/campaign.csv and ablation.csv and writes CAMPAIGN_DIR/figures/:
  bon_vs_kl.png             expected golden reward of the best-of-n pick against
                            KL(best-of-n) = log n - (n-1)/n, per aggregator, with a single
                            member and the oracle (true best-of-n); one panel per setting
  ensemble_size.png         best-of-n golden reward at the largest n, and Spearman, against
                            ensemble size k (the ensemble-size ablation), with error bars
                            of +- 1 s.d. over the random k-member subsets (ablation.csv's
                            *_std columns, averaged over seeds)
  annotator_quality.png     per aggregator against annotator quality (when it is swept)
  uncertainty_vs_error.png  ensemble disagreement against the ensemble's errors
A setting is one combination of the swept keys other than the seed; runs that differ only
in seed are averaged (the band is their min-max).

This module is also the plotting module of analysis/plot_run.py (the figures of one run):
the aggregators' colours and labels, the best-of-n and ensemble-size panels and the
figure layout (finish) are defined here once.
"""
import csv
import math
import textwrap
import os
import sys
from collections import defaultdict
from typing import NamedTuple, Optional, Sequence

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BETA = "pairs.annotator_beta"
REPLICATE_KEYS = {"seed"}  # runs differing only here are replicates, averaged
FIXED = ["run", "members", "ensemble_size", "subsets", "aggregator", "n", "kl_bon", "bon_reward", "proxy_bon",
         "oracle_bon", "spearman", "pair_accuracy", "bench_accuracy", "pick_quantile", "above_median", "train_seconds"]
KIND = "kind"  # the ensemble_kinds sweep's variant axis (configs/sweeps/ensemble_kinds.sweep)
MAX_PANELS = 12
DPI = 110  # every figure, campaign and per run: pixel size = figsize x DPI


def size_metrics(n_max):
    """The ensemble-size panels: (figure column, axis label), best-of-n_max then Spearman."""
    return [("bon_reward", f"golden reward of best-of-{n_max} pick"), ("spearman", "Spearman ρ with golden reward")]
KEY_LABELS = {BETA: "annotator β", "model.objective": "objective", "ensemble.members": "members",
              "seed": "seed", "ensemble.data": "member data", "pairs.mode": "pairs"}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def swept_keys(rows):
    """The swept-key columns: everything between `run` and the fixed columns."""
    if not rows:
        return []
    return [c for c in rows[0] if c not in FIXED and not c.startswith(("agreement_", "uncertainty_", "pairs_"))]


def num(v):
    return float(v) if v not in ("", None) else math.nan


def beta_label(v):
    b = num(v)
    return "perfect" if b < 0 else f"β={v}"


def beta_order(v):
    """Annotator quality from best to worst: perfect labels, then decreasing beta."""
    b = num(v)
    return (0, 0.0) if b < 0 else (1, -b)


def setting_label(keys, values):
    parts = []
    for k, v in zip(keys, values):
        if k == BETA:
            parts.append(f"annotator {beta_label(v)}")
        else:
            parts.append(f"{KEY_LABELS.get(k, k)}={v}")
    return ", ".join(parts) or "all runs"


def group_rows(rows, keys):
    groups = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(r)
    def order(item):
        return tuple(beta_order(v) if k == BETA else _sortable(v) for k, v in zip(keys, item[0]))
    return sorted(groups.items(), key=order)


def _sortable(v):
    """Numbers in numeric order, then words in alphabetical order."""
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)


def aggregator_style(name):
    """Same colour for an aggregator in every figure; reference lines in grey and black."""
    fixed = {"mean": ("C0", "-", "o"), "min": ("C1", "-", "s"), "median": ("C2", "-", "^"),
             "single": ("0.45", "--", "x"), "oracle": ("black", ":", ""),
             "warm": ("darkgoldenrod", "-.", "P")}
    if name in fixed:
        return fixed[name]
    if name.startswith("uwo_"):
        palette = ["C3", "C4", "C5", "C6", "C8", "C9"]
        lam = name[4:]
        return (_uwo_colours.setdefault(lam, palette[len(_uwo_colours) % len(palette)]), "-", "D")
    return ("C7", "-", ".")


_uwo_colours = {}


def aggregator_label(name):
    if name.startswith("uwo_"):
        return f"UWO λ={name[4:]}"
    return {"mean": "mean", "min": "min (worst case)", "median": "median", "single": "single member",
            "oracle": "oracle (true best-of-n)", "warm": "WARM (weight average)"}.get(name, name)


def aggregator_order(names):
    first = ["mean", "min", "median"]
    return [a for a in first if a in names] + sorted(a for a in names if a.startswith("uwo_")) + \
        [a for a in ("warm", "single", "oracle") if a in names]


def panel_grid(n_panels, width=4.2, height=3.4):
    cols = min(n_panels, 4 if n_panels > 6 else 3)
    rows = math.ceil(n_panels / cols)
    # One y scale for all settings, so panels compare at a glance.
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.8), squeeze=False, sharey=True)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes.flat


def replicate_stats(rows, x_key, y_key):
    """x values and mean/min/max of y over the replicate runs at each x."""
    by_x = defaultdict(list)
    for r in rows:
        by_x[num(r[x_key])].append(num(r[y_key]))
    xs = sorted(by_x)
    ys = [np.array(by_x[x]) for x in xs]
    return (np.array(xs), np.array([np.nanmean(y) for y in ys]),
            np.array([np.nanmin(y) for y in ys]), np.array([np.nanmax(y) for y in ys]))


def finish(fig, path, title, note=None, legend=True, dpi=DPI):
    """Title the figure, gather the panels' legend entries into one legend below them
    (each label once; `legend=False` keeps the panels' own legends), lay it out and save."""
    # each title line wrapped to the figure's width (about 10 characters an inch at this
    # size), so a long run label or config path is never cut at the edges
    width = max(20, int(fig.get_figwidth() * 10))
    title = "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in title.split("\n"))
    fig.suptitle(title, fontsize=12)
    handles, labels = [], []
    for ax in fig.axes if legend else []:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    bottom = 0.0
    if handles:
        # As many columns (up to 8) as fit the figure's width.
        renderer = fig.canvas.get_renderer()
        for ncol in range(min(len(labels), 8), 0, -1):
            box = fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=9)
            fits = ncol == 1 or box.get_window_extent(renderer).width <= 0.98 * fig.bbox.width
            box.remove()
            if fits:
                break
        ncol = math.ceil(len(labels) / math.ceil(len(labels) / ncol))  # rows as full as each other
        fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=9)
        # Reserve the legend's rows (about 0.3 inch each) below the panels.
        bottom = (0.3 * math.ceil(len(labels) / ncol) + 0.15) / fig.get_figheight()
    if note:
        fig.text(0.01, 0.995, note, fontsize=7, va="top", color="0.4")
    top = 0.12 + 0.2 * title.count("\n")  # inches to keep for the title beyond tight_layout's pad
    fig.tight_layout(rect=(0, bottom, 1, 1 - top / fig.get_figheight()))
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


# ---- panels shared by the campaign figures and the per-run figures (plot_run.py) ----

KL_LABEL = "KL(best-of-n) = log n − (n−1)/n  [nats]"


class Curve(NamedTuple):
    """One line of a panel: `name` picks colour, line style and legend label
    (aggregator_style, aggregator_label; `label` and `style` override them); lo/hi, when
    given, draw a band; err, when given, error bars of y +- err (NaN: none at that x)."""
    name: str
    x: Sequence[float]
    y: Sequence[float]
    lo: Optional[Sequence[float]] = None
    hi: Optional[Sequence[float]] = None
    label: Optional[str] = None
    style: Optional[str] = None
    err: Optional[Sequence[float]] = None


def kl_of_n(n):
    """KL divergence of best-of-n sampling from the base policy: log n - (n-1)/n [nats]."""
    return math.log(n) - (n - 1) / n


def draw_curves(ax, curves, markersize=3.5, dodge=0.0):
    """Draw each Curve in its aggregator's style, with its band and error bars where it has
    them. dodge: curve i of n is drawn shifted by (i - (n - 1) / 2) * dodge along x, so that
    the error bars of several curves at one x stand side by side instead of on top of
    each other."""
    for i, c in enumerate(curves):
        colour, style, marker = aggregator_style(c.name)
        x = [v + (i - (len(curves) - 1) / 2) * dodge for v in c.x] if dodge else c.x
        ax.plot(x, c.y, linestyle=c.style or style, marker=marker, markersize=markersize, color=colour,
                label=c.label or aggregator_label(c.name))
        if c.lo is not None and c.hi is not None:
            ax.fill_between(x, c.lo, c.hi, color=colour, alpha=0.15, linewidth=0)
        err = np.array([math.nan if e is None else e for e in c.err], float) if c.err is not None else None
        if err is not None and np.isfinite(err).any():  # (matplotlib's errorbar fails on all-NaN bars)
            ax.errorbar(x, c.y, yerr=err, fmt="none", ecolor=colour, elinewidth=1.0, capsize=2.0, alpha=0.85)


def add_n_axis(ax, ns):
    """Label the KL axis with the n it comes from, on a second x axis along the top."""
    top = ax.secondary_xaxis("top")
    shown = []
    for n in sorted(ns):  # drop an n whose tick would touch the previous one
        if not shown or kl_of_n(n) - kl_of_n(shown[-1]) > 0.04 * kl_of_n(max(ns)):
            shown.append(n)
    top.set_xticks([kl_of_n(n) for n in shown], [f"n={n}" if i == 0 else str(n) for i, n in enumerate(shown)],
                   fontsize=7)


def draw_bon_panel(ax, curves, ns, ylabel="golden reward of best-of-n pick", title=None):
    """A best-of-n panel: `curves` against KL(best-of-n), n marked along the top."""
    draw_curves(ax, curves)
    add_n_axis(ax, ns)
    ax.set_xlabel(KL_LABEL)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)


SPREAD_LABEL = "± 1 s.d. over subsets"


def draw_size_panel(ax, curves, ks, ylabel, title=None):
    """An ensemble-size panel: `curves` against the number of members k. Curves with error
    bars (err: the spread over a size's random subsets) are dodged apart along k, and the
    y label says what the bars are."""
    ks = sorted(ks)
    bars = [c for c in curves if c.err is not None]
    gap = min([b - a for a, b in zip(ks, ks[1:])] or [1])
    # the curves side by side over at most half the gap between neighbouring sizes
    dodge = 0.5 * gap / len(curves) if bars and len(curves) > 1 else 0.0
    draw_curves(ax, curves, markersize=5 if not bars else 4, dodge=dodge)
    ax.set_xlabel("ensemble size k [members]")
    ax.set_ylabel(f"{ylabel}\n(mean {SPREAD_LABEL})" if bars else ylabel)
    ax.set_xticks(sorted(ks))
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)


def capped(groups, what):
    if len(groups) > MAX_PANELS:
        return groups[:MAX_PANELS], f"{what}: first {MAX_PANELS} of {len(groups)} settings shown"
    return groups, None


def replicate_curves(rows, x_key, y_key, aggregators):
    """One Curve per aggregator: the mean over replicate runs, banded by their min-max
    when there is more than one run."""
    curves = []
    for a in aggregators:
        arows = [r for r in rows if r["aggregator"] == a]
        x, y, lo, hi = replicate_stats(arows, x_key, y_key)
        banded = len({r["run"] for r in arows}) > 1
        curves.append(Curve(a, x, y, lo if banded else None, hi if banded else None))
    return curves


def plot_bon_vs_kl(rows, keys, path):
    setting_keys = [k for k in keys if k not in REPLICATE_KEYS]
    groups, note = capped(group_rows(rows, setting_keys), "bon_vs_kl")
    fig, axes = panel_grid(len(groups))
    for ax, (values, grows) in zip(axes, groups):
        curves = replicate_curves(grows, "kl_bon", "bon_reward", aggregator_order({r["aggregator"] for r in grows}))
        draw_bon_panel(ax, curves, {int(r["n"]) for r in grows}, title=setting_label(setting_keys, values))
    finish(fig, path, "Best-of-n: golden reward against KL, per aggregator", note)


def with_subset_spread(curve, rows, x_key, y_key):
    """The curve with error bars of +- its figure's std over the random subsets (ablation.csv's
    <y_key>_std, averaged over replicate runs), or unchanged when no row has that column filled."""
    by_x = defaultdict(list)
    for r in rows:
        if r["aggregator"] == curve.name and r.get(y_key + "_std") not in (None, ""):
            by_x[num(r[x_key])].append(num(r[y_key + "_std"]))
    if not by_x:
        return curve
    return curve._replace(err=[float(np.nanmean(by_x[x])) if by_x.get(x) else math.nan for x in curve.x])


def plot_ensemble_size(abl, keys, path):
    setting_keys = [k for k in keys if k not in REPLICATE_KEYS]
    n_max = max(int(r["n"]) for r in abl)
    rows = [r for r in abl if int(r["n"]) == n_max]
    groups, note = capped(group_rows(rows, setting_keys), "ensemble_size")
    fig, axes = plt.subplots(2, len(groups), figsize=(max(4.0 * len(groups), 6), 7.2), squeeze=False)
    spread = replicates = False
    for col, (values, grows) in enumerate(groups):
        aggs = aggregator_order({r["aggregator"] for r in grows})
        ks = {int(r["ensemble_size"]) for r in grows}
        replicates |= len({r["run"] for r in grows}) > 1
        for row, (metric, label) in enumerate(size_metrics(n_max)):
            curves = [with_subset_spread(c, grows, "ensemble_size", metric)
                      for c in replicate_curves(grows, "ensemble_size", metric, aggs)]
            spread |= any(c.err is not None for c in curves)
            draw_size_panel(axes[row][col], curves, ks, label,
                            title=setting_label(setting_keys, values) if row == 0 else None)
    what = ["mean over random k-member subsets"]
    if spread:
        what.append(f"bars {SPREAD_LABEL}" + (", mean over seeds" if replicates else ""))
    if replicates:
        what.append("band: min-max over seeds")
    finish(fig, path, f"Ensemble-size ablation ({'; '.join(what)}), n = {n_max}", note)


def plot_annotator_quality(rows, keys, path):
    if BETA not in keys:
        return False
    setting_keys = [k for k in keys if k not in REPLICATE_KEYS and k != BETA]
    n_max = max(int(r["n"]) for r in rows)
    groups, note = capped(group_rows(rows, setting_keys), "annotator_quality")
    groups = groups[:4]
    metrics = [("bon_reward", f"golden reward of best-of-{n_max}"), ("spearman", "Spearman ρ with golden reward"),
               ("pair_accuracy", "pairwise accuracy vs golden order")]
    fig, axes = plt.subplots(len(groups), 3, figsize=(13, 3.6 * len(groups) + 0.8), squeeze=False)
    betas = sorted({r[BETA] for r in rows}, key=beta_order)
    position = {b: i for i, b in enumerate(betas)}
    for gi, (values, grows) in enumerate(groups):
        for mi, (metric, label) in enumerate(metrics):
            ax = axes[gi][mi]
            aggs = aggregator_order({r["aggregator"] for r in grows})
            for a in aggs:
                if a == "oracle" and metric != "bon_reward":
                    continue
                arows = [r for r in grows if r["aggregator"] == a and (metric != "bon_reward" or int(r["n"]) == n_max)]
                if metric != "bon_reward":  # one value per run; take it once
                    arows = [r for r in arows if int(r["n"]) == n_max]
                by_beta = defaultdict(list)
                for r in arows:
                    by_beta[r[BETA]].append(num(r[metric]))
                xs = [position[b] for b in betas if b in by_beta]
                ys = [np.nanmean(by_beta[b]) for b in betas if b in by_beta]
                if not xs or all(math.isnan(y) for y in ys):
                    continue
                colour, style, marker = aggregator_style(a)
                ax.plot(xs, ys, linestyle=style, marker=marker, color=colour, label=aggregator_label(a))
            ax.set_xticks(range(len(betas)), [beta_label(b) for b in betas])
            ax.set_xlabel("annotator quality (β; label noise grows →)")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if setting_keys:
                ax.set_title(setting_label(setting_keys, values), fontsize=9)
    finish(fig, path, "Aggregators against annotator quality", note)
    return True


def plot_uncertainty(rows, abl, keys, path):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    mean_abl = [r for r in abl if r["aggregator"] == "mean" and r["n"] == min((x["n"] for x in abl), key=int)]
    colour_key = BETA if BETA in keys else None
    cats = sorted({r[colour_key] for r in mean_abl}, key=beta_order) if colour_key else [None]
    for ci, cat in enumerate(cats):
        sel = [r for r in mean_abl if colour_key is None or r[colour_key] == cat]
        x = [num(r["uncertainty_mean_std"]) for r in sel]
        y = [1 - num(r["pair_accuracy"]) for r in sel]
        size = [12 + 10 * int(r["ensemble_size"]) for r in sel]
        ax1.scatter(x, y, s=size, color=f"C{ci}", alpha=0.75,
                    label=f"annotator {beta_label(cat)}" if cat is not None else "runs")
    ax1.set_xlabel("mean ensemble std of standardised scores [member s.d. units]")
    ax1.set_ylabel("pairwise error of the mean ensemble (1 − accuracy)")
    ax1.set_title("Disagreement vs error (runs × ensemble sizes; marker size ∝ k)", fontsize=9)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, frameon=False)

    full = {}
    for r in rows:
        if r["aggregator"] == "mean":
            full[r["run"]] = r
    runs = sorted(full)
    auroc = [num(full[r]["uncertainty_disagreement_auroc"]) for r in runs]
    rho = [num(full[r]["uncertainty_std_rank_error_spearman"]) for r in runs]
    x = np.arange(len(runs))
    ax2.bar(x - 0.2, auroc, width=0.4, color="C0", label="AUROC: pair disagreement predicts a wrong order")
    ax2.bar(x + 0.2, rho, width=0.4, color="C1", label="Spearman ρ(ensemble std, |rank error|)")
    ax2.axhline(0.5, color="C0", linestyle=":", linewidth=1, label="AUROC of chance (0.5)")
    ax2.axhline(0.0, color="0.3", linewidth=0.8)
    labels = [r + ("\n" + beta_label(full[r][BETA]) if BETA in keys else "") for r in runs]
    ax2.set_xticks(x, labels, fontsize=7, rotation=0 if len(runs) <= 8 else 90)
    ax2.set_ylabel("figure value (dimensionless)")
    ax2.set_xlabel("run")
    ax2.set_title("Does disagreement flag the errors? (full ensemble)", fontsize=9)
    ax2.grid(alpha=0.3, axis="y")
    low = min([0.0] + [v for v in auroc + rho if not math.isnan(v)])
    ax2.set_ylim(low - 0.05 if low < 0 else 0, 1.3)  # room above the bars for the legend
    ax2.legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle("Uncertainty against error", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def kind_summary(rows, keys):
    """Per ensemble kind (and every other non-seed setting): means over seeds at the largest
    n of the single member's and each aggregator's golden best-of-n and pair accuracy, and
    of the training seconds. [(setting values, kind, runs, {aggregator: (bon, pair acc.)},
    train seconds)]"""
    setting_keys = [k for k in keys if k not in REPLICATE_KEYS and k != KIND]
    n_max = max(int(r["n"]) for r in rows)
    out = []
    for values, grows in group_rows([r for r in rows if int(r["n"]) == n_max], setting_keys + [KIND]):
        by_agg = defaultdict(list)
        for r in grows:
            by_agg[r["aggregator"]].append((num(r["bon_reward"]), num(r["pair_accuracy"])))
        figures = {a: (float(np.nanmean([v[0] for v in vs])), float(np.nanmean([v[1] for v in vs])))
                   for a, vs in by_agg.items() if a != "oracle"}
        seconds = [num(r["train_seconds"]) for r in grows if r["aggregator"] == "single"]
        out.append((values[:-1], values[-1], len(by_agg.get("single", [])), figures,
                    float(np.nanmean(seconds)) if seconds and not all(math.isnan(x) for x in seconds) else math.nan))
    return setting_keys, n_max, out


def plot_ensemble_kinds(rows, keys, path):
    """ensemble_kinds.png: best-of-n golden reward at the largest n and pair accuracy per
    kind, the single member beside the ensemble's aggregators (mean over seeds)."""
    if KIND not in keys:
        return False
    setting_keys, n_max, summary = kind_summary(rows, keys)
    settings = sorted({s for s, *_ in summary}, key=lambda v: tuple(_sortable(x) for x in v))[:4]
    kinds = []
    for _, k, *_ in summary:
        if k not in kinds:
            kinds.append(k)
    aggs = aggregator_order({a for *_, figs, _ in summary for a in figs})
    aggs = ["single"] + [a for a in aggs if a != "single"]
    fig, axes = plt.subplots(len(settings), 2, figsize=(13, 3.8 * len(settings) + 0.8), squeeze=False)
    width = 0.8 / len(aggs)
    for si, setting in enumerate(settings):
        for mi, (label, index) in enumerate(((f"golden reward of best-of-{n_max} pick", 0),
                                             ("pairwise accuracy vs golden order", 1))):
            ax = axes[si][mi]
            for ai, a in enumerate(aggs):
                ys = []
                for k in kinds:
                    hit = [figs.get(a) for s, kk, _, figs, _ in summary if s == setting and kk == k]
                    ys.append(hit[0][index] if hit and hit[0] else math.nan)
                colour, _, _ = aggregator_style(a)
                ax.bar(np.arange(len(kinds)) + (ai - (len(aggs) - 1) / 2) * width, ys, width, color=colour,
                       label=aggregator_label(a))
            ax.set_xticks(range(len(kinds)), kinds)
            ax.set_ylabel(label)
            finite = [v for s, _, _, figs, _ in summary if s == setting for f in figs.values() for v in [f[index]]
                      if not math.isnan(v)]
            if finite:
                lo, hi = min(finite), max(finite)
                ax.set_ylim(lo - 0.15 * (hi - lo + 1e-9), hi + 0.15 * (hi - lo + 1e-9))
            ax.grid(alpha=0.3, axis="y")
            if setting_keys:
                ax.set_title(setting_label(setting_keys, setting), fontsize=9)
    finish(fig, path, "Ensemble kinds against a single member (mean over seeds)")
    return True


def make_figures(campaign):
    rows = read_csv(os.path.join(campaign, "campaign.csv"))
    abl = read_csv(os.path.join(campaign, "ablation.csv"))
    keys = swept_keys(rows)
    out = os.path.join(campaign, "figures")
    os.makedirs(out, exist_ok=True)
    made = []
    plot_bon_vs_kl(rows, keys, os.path.join(out, "bon_vs_kl.png"))
    made.append("bon_vs_kl.png")
    if abl:
        plot_ensemble_size(abl, keys, os.path.join(out, "ensemble_size.png"))
        made.append("ensemble_size.png")
    if plot_annotator_quality(rows, keys, os.path.join(out, "annotator_quality.png")):
        made.append("annotator_quality.png")
    if abl:
        plot_uncertainty(rows, abl, keys, os.path.join(out, "uncertainty_vs_error.png"))
        made.append("uncertainty_vs_error.png")
    if plot_ensemble_kinds(rows, keys, os.path.join(out, "ensemble_kinds.png")):
        made.append("ensemble_kinds.png")
    return made


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    made = make_figures(argv[0])
    print(f"plots: {', '.join(made)} -> {os.path.join(argv[0], 'figures')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
