#!/usr/bin/python3
"""Figures of one run: what `rmens run` (or `rmens eval`) wrote, without a campaign.

    /usr/bin/python3 analysis/plot_run.py RUN_DIR

Reads RUN_DIR/results.json, writes RUN_DIR/figures/ and prints the path of every figure
it wrote, one a line:
  bon_vs_kl.png             best-of-n against KL(best-of-n) = log n - (n-1)/n, per
                            aggregator: the golden reward of the pick beside the oracle
                            (true best-of-n) and a single member (mean +- s.d. over the
                            members), and the proxy reward of the same pick (its
                            standardised aggregate score); proxy rising while golden
                            flattens is over-optimisation of the reward model
  ensemble_size.png         the ensemble-size ablation: best-of-n golden reward at the
                            largest n and Spearman against the number of members k, per
                            aggregator the mean over the random k-member subsets with error
                            bars of +- 1 s.d. over them (std_over_subsets)
  reliability.png           reliability diagram of the preference probabilities of the
                            mean ensemble and of a single member, with ECE, Brier score,
                            log loss and the number of pairs per bin
  uncertainty_vs_error.png  error rate of the mean ensemble's pairwise preference against
                            the members' disagreement on the pair
  feature_bias.png          only when the run had eval.bias_features (results.json
                            "feature_bias"): per view (e.g. "length"), the mean within-prompt
                            Spearman of its first feature with the golden reward and with
                            each scorer, and the golden best-of-n of ranking by the feature
                            alone ("the longer answer wins") against the mean aggregator's
  pairs_risk_coverage.png   only on a store of human-labelled pairs (results.json
                            "pairs_test"): the mean ensemble's accuracy against the human
                            label on the share of test pairs it is least uncertain about
                            (coverage), beside its accuracy on all pairs and a single
                            member's; the title has the disagreement AUROC
  pairs_reliability.png     only with "pairs_test": reliability diagram of the mean
                            ensemble's P(chosen preferred) on both orders of each test pair,
                            marker area by pairs per bin, with ECE, Brier score and log loss
                            of the mean ensemble and of a single member
A figure (or curve) whose fields older results lack is skipped with a one-line note on
stderr. The style and panels are those of the campaign figures (analysis/plots.py).
"""
import json
import math
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plots  # noqa: E402  (also selects the Agg backend)
from plots import Curve, plt  # noqa: E402


def skipped(what, field):
    """The one-line note for a figure or curve whose field the results do not have."""
    print(f"plot_run: {what} skipped: results.json has no {field} (older results)", file=sys.stderr)


def lookup(tree, dotted):
    """tree["a"]["b"]... for dotted = "a.b...", or None where a key is missing."""
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def by_n(table):
    """{"n": value} (JSON keys are strings) as (sorted ns, values, with null as NaN)."""
    ns = sorted(table, key=int)
    return [int(n) for n in ns], [math.nan if table[n] is None else float(table[n]) for n in ns]


def floats(values):
    """A JSON list of numbers (null for an empty bin) as floats, NaN for null."""
    return [math.nan if v is None else float(v) for v in values]


def run_label(results, run_dir):
    """`run NAME: CONFIG, store STORE, E members, PRECISION` from the run's provenance."""
    prov = results.get("provenance", {})
    store = prov.get("store", "")
    store = os.path.join(os.path.basename(os.path.dirname(store)), os.path.basename(store)) if store else "?"
    parts = [prov.get("config_file", "?"), f"store {store}", f"{results.get('members', '?')} members"]
    if prov.get("precision"):
        parts.append(prov["precision"])
    return f"run {os.path.basename(os.path.abspath(run_dir))}: " + ", ".join(parts)


def ensemble_aggregators(results):
    """The full ensemble's aggregators in the figures' order (mean, min, median, UWO...)."""
    return plots.aggregator_order(set(results["aggregators"]))


def bon_curves(results, field):
    """Curves of best-of-n `field` ("bon" golden, "proxy_bon" proxy) against KL: every
    aggregator that has it, then the single member banded by +- its s.d. over members,
    then (golden only) the oracle. Returns (curves, ns)."""
    single = results["single"]
    kl_table = single.get("kl") or next(iter(results["aggregators"].values()))["kl"]
    kl = dict(zip(*by_n(kl_table)))
    curves, ns = [], set()
    for a in ensemble_aggregators(results):
        if field in results["aggregators"][a]:
            n, y = by_n(results["aggregators"][a][field])
            curves.append(Curve(a, [kl.get(i, plots.kl_of_n(i)) for i in n], y))
            ns.update(n)
    if field in single:
        n, y = by_n(single[field])
        std = lookup(single, f"std.{field}")
        lo = hi = None
        if std is not None:
            s = dict(zip(*by_n(std)))
            lo = [v - s.get(i, 0.0) for i, v in zip(n, y)]
            hi = [v + s.get(i, 0.0) for i, v in zip(n, y)]
        curves.append(Curve("single", [kl.get(i, plots.kl_of_n(i)) for i in n], y, lo, hi,
                            label=f"single member (mean ± s.d. over {results.get('members', 'the')} members)"))
        ns.update(n)
    if field == "bon" and results.get("oracle_bon"):
        n, y = by_n(results["oracle_bon"])
        curves.append(Curve("oracle", [kl.get(i, plots.kl_of_n(i)) for i in n], y))
    return curves, ns


def gain(curve):
    """A curve as its gain over its first point (the smallest n), band dropped."""
    return curve._replace(y=[v - curve.y[0] for v in curve.y], lo=None, hi=None)


def plot_bon_vs_kl(results, path, title):
    """Golden reward of the best-of-n pick against KL and, beside it, the gain of the
    golden and of the proxy reward of the same pick over the smallest n (the proxy-gold gap)."""
    golden, ns = bon_curves(results, "bon")
    proxy, _ = bon_curves(results, "proxy_bon")
    if not any(c.name != "single" for c in proxy):  # the ensemble's proxy values are what the panel is for
        proxy = []
        skipped("bon_vs_kl.png: the proxy-gold panel", "aggregators.<a>.proxy_bon")
    elif not any(c.name == "single" for c in proxy):
        skipped("bon_vs_kl.png: the single member's proxy curve", "single.proxy_bon")
    fig, axes = plt.subplots(1, 2 if proxy else 1, figsize=(12.4, 5.4) if proxy else (7.0, 6.0), squeeze=False)
    plots.draw_bon_panel(axes[0][0], golden, ns, "golden reward of the best-of-n pick",
                         "golden reward of the pick (what it is really worth)")
    if proxy:
        ax = axes[0][1]
        with_proxy = {c.name for c in proxy}
        curves = [gain(c)._replace(style="-") for c in golden if c.name in with_proxy]
        curves += [gain(c)._replace(style="--") for c in proxy]
        plots.draw_bon_panel(ax, curves, ns, f"gain over n = {min(ns)}\n(golden: reward units; proxy: member s.d.)",
                             "proxy (dashed) against golden (solid) reward of the same pick:\n"
                             "the widening gap is over-optimisation")
        ax.legend([plt.Line2D([], [], color="0.3", linestyle="-"), plt.Line2D([], [], color="0.3", linestyle="--")],
                  ["golden reward of the pick", "proxy reward (aggregate score) of the pick"],
                  loc="upper left", fontsize=8, frameon=False)
    plots.finish(fig, path, f"Best-of-n against KL, per aggregator\n{title}")
    return True


def plot_ensemble_size(results, path, title):
    """Best-of-n golden reward at the largest n and Spearman against ensemble size k."""
    ablation = results.get("ablation")
    if not ablation:
        skipped("ensemble_size.png", "ablation")
        return False
    ks = sorted(ablation, key=int)
    n_max = max(max(int(n) for n in ablation[k]["aggregators"][a]["bon"]) for k in ks for a in ablation[k]["aggregators"])
    aggs = plots.aggregator_order({a for k in ks for a in ablation[k]["aggregators"]})
    # the spread over each size's subsets (results.json ablation.<k>.std_over_subsets)
    spread = all("std_over_subsets" in ablation[k] for k in ks)
    if not spread:
        skipped("ensemble_size.png: the spread over subsets", "ablation.<k>.std_over_subsets")

    def value(figures, metric):
        return figures["bon"].get(str(n_max)) if metric == "bon_reward" else figures.get(metric)

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.8))
    for ax, (metric, label) in zip(axes, plots.size_metrics(n_max)):
        curves = []
        for a in aggs:
            sizes = [k for k in ks if a in ablation[k]["aggregators"]]
            y = [value(ablation[k]["aggregators"][a], metric) for k in sizes]
            # (not lookup(): an aggregator's name may hold a dot, uwo_0.5)
            err = [value((ablation[k]["std_over_subsets"].get("aggregators") or {}).get(a) or {"bon": {}}, metric)
                   for k in sizes] if spread else None
            curves.append(Curve(a, [int(k) for k in sizes], floats(y), err=floats(err) if err else None))
        plots.draw_size_panel(ax, curves, [int(k) for k in ks], label)
        # many sizes: plain k ticks and the subsets each point averages in the axis label
        # (ten "k (10 subsets)" tick labels ran into one strip)
        if len(ks) > 5:
            ax.set_xticks([int(k) for k in ks], [str(k) for k in ks], fontsize=8)
            ax.set_xlabel(f"ensemble size k ({subset_ranges(ablation, ks)})", fontsize=8)
        else:
            ax.set_xticks([int(k) for k in ks], [f"{k}\n({subsets(ablation[k])})" for k in ks], fontsize=8)
    what = "mean ± 1 s.d." if spread else "mean"
    plots.finish(fig, path, f"Ensemble size ({what} over random k-member subsets), best-of-{n_max}\n{title}")
    return True


def subset_ranges(ablation, ks):
    """`k 1-9: 10 subsets each; k 10: 1 subset`: the subsets averaged, runs of equal counts joined."""
    runs = []
    for k in ks:
        count = ablation[k].get("subsets", "?")
        if runs and runs[-1][2] == count:
            runs[-1][1] = k
        else:
            runs.append([k, k, count])
    return "; ".join(f"k {a}{'' if a == b else '-' + str(b)}: {subsets({'subsets': c})}{' each' if a != b else ''}"
                     for a, b, c in runs)


def subsets(ablation_k):
    """`10 subsets`, `1 subset`: how many k-member subsets an ablation point averages."""
    count = ablation_k.get("subsets", "?")
    return f"{count} subset" + ("" if count == 1 else "s")


def draw_counts(ax, edges_or_centres, series, ylabel, log_if_wide=True):
    """A thin panel of counts per bin below a diagram: `series` = [(label, colour, counts)],
    drawn as outlines over bin edges (len = bins + 1) or as bars at bin centres."""
    width = None
    if len(edges_or_centres) != len(series[0][2]) + 1:  # centres: bars as wide as the gaps allow
        gaps = [b - a for a, b in zip(edges_or_centres, edges_or_centres[1:]) if b > a]
        width = 0.8 * min(gaps) / len(series) if gaps else 0.8
    for i, (label, colour, counts) in enumerate(series):
        if width is None:
            ax.stairs(counts, edges_or_centres, baseline=None, color=colour, linewidth=1.4, label=label)
        else:
            offset = (i - (len(series) - 1) / 2) * width
            ax.bar([x + offset for x in edges_or_centres], counts, width=width, color=colour, alpha=0.7, label=label)
    positive = [c for _, _, counts in series for c in counts if c and c > 0]
    if log_if_wide and positive and max(positive) > 50 * min(positive):
        ax.set_yscale("log")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(alpha=0.3)


def calibration_label(name, calibration):
    """Legend entry: the curve's name with its ECE, Brier score and log loss."""
    figures = [(key, calibration.get(key)) for key in ("ece", "brier", "log_loss")]
    text = " · ".join(f"{label} {value:.3f}" for (key, value), label in zip(figures, ("ECE", "Brier", "log loss"))
                     if value is not None)
    return f"{name}\n{text}" if text else name


def plot_reliability(results, path, title):
    """Reliability diagram of P(a preferred): mean ensemble and single member, diagonal,
    pairs per bin below."""
    ensemble = lookup(results, "aggregators.mean.calibration")
    if not ensemble or "bins" not in ensemble:
        skipped("reliability.png", "aggregators.mean.calibration.bins")
        return False
    single = lookup(results, "single.calibration")
    if not single or "bins" not in single:
        skipped("reliability.png: the single-member curve", "single.calibration.bins")
        single = None
    fig, (ax, ax_n) = plt.subplots(2, 1, figsize=(6.6, 7.6), sharex=True, gridspec_kw={"height_ratios": [3.2, 1]})
    ax.plot([0, 1], [0, 1], color="black", linestyle=":", linewidth=1, label="perfect calibration")
    series = []
    for name, cal, (colour, style, marker) in [
            ("mean ensemble", ensemble, plots.aggregator_style("mean")),
            ("single member (mean over members)", single, plots.aggregator_style("single"))]:
        if cal is None:
            continue
        bins = cal["bins"]
        ax.plot(floats(bins["mean_probability"]), floats(bins["fraction_preferred"]), color=colour, linestyle=style,
                marker=marker, markersize=5, label=calibration_label(name, cal))
        series.append((name, colour, floats(bins["count"])))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed share of pairs where a is preferred")
    ax.set_title("points: bins of predicted probability (15 equal-width)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False, labelspacing=0.8)
    edges = floats(ensemble["bins"]["lower"]) + [float(ensemble["bins"]["upper"][-1])]
    draw_counts(ax_n, edges, series, "pairs per bin")
    ax_n.set_xlabel("predicted P(a preferred over b)")
    plots.finish(fig, path, f"Calibration of preference probabilities\n{title}", legend=False)
    return True


def plot_uncertainty(results, path, title):
    """Error rate of the mean ensemble's pairwise preference against member disagreement."""
    table = lookup(results, "uncertainty.error_by_disagreement")
    if not table:
        skipped("uncertainty_vs_error.png", "uncertainty.error_by_disagreement")
        return False
    unc = results.get("uncertainty", {})
    x, err, count = floats(table["disagreement"]), floats(table["error_rate"]), floats(table["count"])
    fig, (ax, ax_n) = plt.subplots(2, 1, figsize=(7.4, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    colour, _, marker = plots.aggregator_style("mean")
    ax.plot(x, err, color=colour, marker=marker, markersize=6, label="mean ensemble: pairs binned by disagreement")
    accuracy = lookup(results, "aggregators.mean.pair_accuracy")
    if accuracy is not None:
        ax.axhline(1 - accuracy, color="0.45", linestyle="--", linewidth=1,
                   label=f"mean ensemble: all pairs ({1 - accuracy:.3f})")
    ax.set_ylabel("error rate of the mean ensemble\n(share of pairs ordered against the golden reward)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    facts = []
    if unc.get("disagreement_auroc") is not None:
        facts.append(f"AUROC(disagreement → wrong) {unc['disagreement_auroc']:.3f} (chance 0.5)")
    if unc.get("mean_std") is not None:
        facts.append(f"mean ensemble s.d. {unc['mean_std']:.3f} member s.d.")
    ax.set_title("; ".join(facts), fontsize=9)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    if table.get("lower") and table.get("upper"):  # the bins' own (roughly geometric) edges
        draw_counts(ax_n, floats(table["lower"]) + [float(table["upper"][-1])], [("pairs", colour, count)], "pairs per bin")
    else:
        draw_counts(ax_n, x, [("pairs", colour, count)], "pairs per bin")
    # disagreement spans decades (most pairs a few hundredths, a few up to 0.5)
    ax.set_xscale("symlog", linthresh=0.01, linscale=0.5)
    if table.get("upper"):
        filled = [u for u, c in zip(floats(table["upper"]), count) if c and c > 0]
        ax.set_xlim(0, filled[-1] if filled else float(table["upper"][-1]))
    ax_n.set_xlabel("member disagreement: std over members of P(a preferred)  (log scale above 0.01)")
    plots.finish(fig, path, f"Does disagreement flag the ensemble's errors?\n{title}", legend=False)
    return True


def bias_scorers(view):
    """The scorers of one feature_bias entry in the figures' order: golden first, then the
    aggregators (mean, min, median, UWO..., warm), then the single member."""
    aggs = [a for a in plots.aggregator_order(set(view) - {"golden", "single", "bon"}) if a != "single"]
    return [k for k in ["golden", *aggs, "single"] if k in view]


def draw_bias_bars(ax, name, view):
    """Bars of the feature's Spearman with each scorer; an undefined one (null) is left out."""
    scorers = bias_scorers(view)
    rho = [math.nan if view[k] is None else float(view[k]) for k in scorers]
    colours = ["black" if k == "golden" else plots.aggregator_style(k)[0] for k in scorers]
    ax.bar(range(len(scorers)), [0 if math.isnan(r) else r for r in rho], color=colours, alpha=0.8)
    for i, r in enumerate(rho):
        ax.annotate("n/a" if math.isnan(r) else f"{r:.2f}", (i, 0 if math.isnan(r) else r), ha="center",
                    va="bottom" if math.isnan(r) or r >= 0 else "top", fontsize=8, xytext=(0, 2 if r >= 0 else -2),
                    textcoords="offset points")
    labels = ["golden\nreward" if k == "golden" else plots.aggregator_label(k).replace(" (", "\n(") for k in scorers]
    ax.set_xticks(range(len(scorers)), labels, fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(f"Spearman ρ with {name} (mean over prompts)")
    ax.set_title(f"how much each scorer follows {name}; a bar above the golden one\n"
                 f"follows {name} more than the golden reward does", fontsize=9)
    ax.grid(alpha=0.3, axis="y")


def plot_feature_bias(results, path, title):
    """Per eval.bias_features view: bars of the Spearman of its first feature with golden and
    each scorer; best-of-n of ranking by the feature alone against the mean aggregator."""
    bias = results.get("feature_bias")
    if not bias:  # eval.bias_features = [] (the default): no figure, and nothing to note
        return False
    fig, axes = plt.subplots(len(bias), 2, figsize=(12.4, 4.8 * len(bias)), squeeze=False)
    kl = dict(zip(*by_n(results["single"].get("kl") or next(iter(results["aggregators"].values()))["kl"])))
    for row, (name, view) in zip(axes, bias.items()):
        draw_bias_bars(row[0], name, view)
        n, y = by_n(view["bon"])
        curves = [Curve(f"feature:{name}", [kl.get(i, plots.kl_of_n(i)) for i in n], y, style="--",
                        label=f"rank by {name} alone (highest wins)")]
        for ref in ("mean", "oracle"):
            table = lookup(results, "aggregators.mean.bon") if ref == "mean" else results.get("oracle_bon")
            if table:
                rn, ry = by_n(table)
                curves.append(Curve(ref, [kl.get(i, plots.kl_of_n(i)) for i in rn], ry))
        plots.draw_bon_panel(row[1], curves, set(n), "golden reward of the best-of-n pick",
                             f"best-of-n by {name} alone against the mean ensemble")
    plots.finish(fig, path, f"Feature bias (eval.bias_features)\n{title}")
    return True


def wrapped(fig, title):
    """A figure title with each line wrapped to the figure's width (about 10 characters an
    inch at the title's size), so a long run label is not cut."""
    width = max(20, int(10 * fig.get_figwidth()))
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in title.split("\n"))


def pairs_count(n, coverage):
    """How many test pairs the evaluator keeps at `coverage` = j / 10: max(1, (j n + 5) // 10)."""
    return max(1, (round(coverage * 10) * n + 5) // 10)


def plot_pairs_risk_coverage(results, path, title):
    """Selective accuracy of the mean ensemble on human-labelled test pairs: the pairs it is
    least uncertain about first, against the share kept; its and a single member's accuracy
    on all pairs as horizontal lines."""
    pairs = results.get("pairs_test")
    if not pairs:  # not a pair store: no figure, and nothing to note
        return False
    selective = pairs.get("selective")
    if not selective or not selective.get("coverage"):
        skipped("pairs_risk_coverage.png", "pairs_test.selective")
        return False
    n = int(pairs["n"])
    coverage, accuracy = floats(selective["coverage"]), floats(selective["accuracy"])
    fig, ax = plt.subplots(figsize=(7.4, 5.6))
    colour, _, marker = plots.aggregator_style("mean")
    ax.plot(coverage, accuracy, color=colour, marker=marker, markersize=6,
            label="mean ensemble: the pairs of lowest disagreement")
    full = lookup(pairs, "aggregators.mean.accuracy")
    if full is None:
        full = accuracy[-1]
    ax.axhline(full, color=colour, linestyle="--", linewidth=1, label=f"mean ensemble: all {n} pairs ({full:.3f})")
    single = pairs.get("single", {})
    if single.get("accuracy") is not None:
        s_colour, s_style, _ = plots.aggregator_style("single")
        acc, std = float(single["accuracy"]), single.get("accuracy_std")
        label = f"single member: all {n} pairs ({acc:.3f}"
        if std is not None:
            ax.axhspan(acc - std, acc + std, color=s_colour, alpha=0.15, linewidth=0)
            label += f" ± {std:.3f} s.d. over {results.get('members', 'the')} members"
        ax.axhline(acc, color=s_colour, linestyle=s_style, linewidth=1, label=label + ")")
    ax.set_xlim(0.05, 1.03)
    ax.set_xticks(coverage, [f"{c:g}\n({pairs_count(n, c)})" for c in coverage], fontsize=8)
    ax.set_xlabel("coverage: share of test pairs kept, lowest member disagreement first\n(pairs kept)")
    ax.set_ylabel("accuracy against the human label\n(share of kept pairs where the chosen reply scores higher)")
    ax.grid(alpha=0.3)
    auroc = pairs.get("disagreement_auroc")
    auroc = "n/a" if auroc is None else f"{auroc:.3f}"
    ax.set_title(f"{n} human-labelled test pairs; AUROC(disagreement → wrong) {auroc} (chance 0.5)", fontsize=9)
    ax.legend(loc="best", fontsize=8, frameon=False)
    plots.finish(fig, path, wrapped(fig, f"Selective accuracy: keep the pairs the ensemble agrees on\n{title}"), legend=False)
    return True


def plot_pairs_reliability(results, path, title):
    """Reliability diagram of the mean ensemble's P(chosen preferred) on the test pairs (both
    orders of each pair), marker area by pairs per bin; a single member's figures beside."""
    pairs = results.get("pairs_test")
    if not pairs:  # not a pair store: no figure, and nothing to note
        return False
    bins = lookup(pairs, "reliability.mean")
    if not bins or "mean_p" not in bins:
        skipped("pairs_reliability.png", "pairs_test.reliability.mean")
        return False
    points = [(p, y, c) for p, y, c in zip(bins["mean_p"], bins["frac_chosen"], floats(bins["count"]))
              if p is not None and y is not None and c > 0]  # null: an empty bin
    fig, ax = plt.subplots(figsize=(6.8, 7.0))
    ax.plot([0, 1], [0, 1], color="black", linestyle=":", linewidth=1, label="perfect calibration")
    colour, style, marker = plots.aggregator_style("mean")
    mean_cal = lookup(pairs, "aggregators.mean.calibration") or {}
    if points:
        x, y, count = zip(*points)
        ax.plot(x, y, color=colour, linestyle=style, linewidth=1, alpha=0.5)
        biggest = max(count)
        ax.scatter(x, y, s=[15 + 385 * c / biggest for c in count], color=colour, marker=marker, alpha=0.75,
                   edgecolors="white", linewidths=0.6, zorder=3,
                   label=calibration_label("mean ensemble", mean_cal))
        for xi, yi, c in zip(x, y, count):
            ax.annotate(f"{c:.0f}", (xi, yi), xytext=(6, -9), textcoords="offset points", fontsize=7, color="0.3")
    single_cal = lookup(pairs, "single.calibration")
    if single_cal:  # figures only: the evaluator keeps no bins of the members
        ax.plot([], [], linestyle="none", label=calibration_label(
            f"single member (mean over {results.get('members', 'the')} members; no curve)", single_cal))
    ax.set_xlim(-0.03, 1.03)  # room for the markers of bins at 0 and 1
    ax.set_ylim(-0.03, 1.03)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted P(chosen preferred) of the mean ensemble")
    ax.set_ylabel("observed share of chosen replies (human label)")
    ax.set_title(f"{pairs['n']} test pairs, both orders: 2 × {pairs['n']} points in 15 equal-width bins;\n"
                 "marker area and number: points per bin", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False, labelspacing=0.8)
    plots.finish(fig, path, wrapped(fig, f"Calibration on human-labelled pairs\n{title}"), legend=False)
    return True


FIGURES = [("bon_vs_kl.png", plot_bon_vs_kl), ("ensemble_size.png", plot_ensemble_size),
           ("reliability.png", plot_reliability), ("uncertainty_vs_error.png", plot_uncertainty),
           ("feature_bias.png", plot_feature_bias), ("pairs_risk_coverage.png", plot_pairs_risk_coverage),
           ("pairs_reliability.png", plot_pairs_reliability)]


def make_figures(run_dir):
    """Draw every figure the results have fields for into RUN_DIR/figures/; their paths."""
    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    out = os.path.join(run_dir, "figures")
    os.makedirs(out, exist_ok=True)
    title = run_label(results, run_dir)
    made = []
    for name, plot in FIGURES:
        path = os.path.join(out, name)
        if plot(results, path, title):
            made.append(path)
    return made


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if not os.path.isfile(os.path.join(argv[0], "results.json")):
        print(f"plot_run: error: {os.path.join(argv[0], 'results.json')} not found (run `rmens run` or `rmens eval` first)",
              file=sys.stderr)
        return 1
    for path in make_figures(argv[0]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
