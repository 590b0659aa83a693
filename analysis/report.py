#!/usr/bin/python3
"""One-page markdown report of a campaign: merge, figures, tables.

    /usr/bin/python3 analysis/report.py CAMPAIGN_DIR

Runs analysis/merge.py (campaign.csv, ablation.csv) and analysis/plots.py (figures/*.png)
on CAMPAIGN_DIR and writes CAMPAIGN_DIR/report.md, which embeds the figures and tabulates
every run: best-of-n golden reward per aggregator at the largest n, its gain over a single
member, ranking quality, agreement and uncertainty. Runs without results yet are listed as
missing (the report of a partial campaign is still written). Also prints the main table.
"""
import datetime
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import merge  # noqa: E402
import plots  # noqa: E402


MAX_RUN_ROWS = 40  # keeps the report near one page; campaign.csv has every run



def fmt(v, digits=3):
    x = plots.num(v)
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def signed(x, digits=3):
    return "–" if math.isnan(x) else f"{x:+.{digits}f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def key_header(keys):
    return [plots.KEY_LABELS.get(k, k) for k in keys]


def key_cells(row, keys):
    return [plots.beta_label(row[k]) if k == plots.BETA else row[k] for k in keys]


def store_lines(campaign):
    """The "**Store:**" paragraph: which store the runs read (results.json provenance: path,
    store_uuid) and whether it is synthetic (the store's root attributes: `rmens synth`
    writes provenance "rmens synth|..." and task "synthetic(...)"), so a report never
    passes synthetic data off as real. Self-contained: globs points/*/results.json."""
    import glob
    import json
    stores = {}
    for path in sorted(glob.glob(os.path.join(campaign, "points", "*", "results.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                prov = json.load(f).get("provenance", {})
        except (OSError, ValueError):
            continue
        key = (prov.get("store", "?"), prov.get("store_uuid", "?"))
        stores[key] = stores.get(key, 0) + 1
    lines = []
    for (path, uuid), n in sorted(stores.items()):
        try:
            import h5py
            with h5py.File(path, "r") as h5:
                attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in h5.attrs.items()}
        except Exception as e:  # noqa: BLE001 - any failure only makes the kind unknown
            attrs, why = None, f"{type(e).__name__}: {e}"
        if attrs is None:
            kind = f"synthetic or not: unknown (the store cannot be read here: {why})"
        elif attrs.get("store_uuid") != uuid:
            kind = (f"**the file there now is another store** (store_uuid {attrs.get('store_uuid', '?')}), "
                    "so synthetic or not: unknown")
        elif attrs.get("provenance", "").startswith("rmens synth|") or attrs.get("task", "").startswith("synthetic("):
            kind = f"**synthetic** (written by `rmens synth`: {attrs.get('task', '')})"
        else:
            kind = f"real (imported: embed_model {attrs.get('embed_model', '?')}, task {attrs.get('task', '?')})"
        runs = f" — {n} of {sum(stores.values())} runs" if len(stores) > 1 else ""
        lines.append(f"**Store:** `{path}` (store_uuid `{uuid}`), {kind}{runs}.")
    return [" ".join(lines) if len(lines) == 1 else "\n".join(f"- {x}" for x in lines), ""] if lines else []


def write_report(campaign):
    info = merge.merge(campaign)
    figures = plots.make_figures(campaign)
    rows = plots.read_csv(os.path.join(campaign, "campaign.csv"))
    keys = plots.swept_keys(rows)
    n_max = max(int(r["n"]) for r in rows)
    aggs = plots.aggregator_order({r["aggregator"] for r in rows})
    ensemble_aggs = [a for a in aggs if a not in ("single", "oracle")]
    at = {(r["run"], r["aggregator"]): r for r in rows if int(r["n"]) == n_max}
    runs = sorted({r["run"] for r in rows})

    bon_rows = []
    for run in runs:
        any_row = at[(run, "single")]
        single = plots.num(any_row["bon_reward"])
        values = {a: plots.num(at[(run, a)]["bon_reward"]) for a in aggs if (run, a) in at}
        best = max(ensemble_aggs, key=lambda a: values.get(a, -math.inf))
        bon_rows.append([run, *key_cells(any_row, keys), any_row["members"],
                         *[("**" + fmt(values[a]) + "**") if a == best else fmt(values.get(a, math.nan)) for a in aggs],
                         f"{plots.aggregator_label(best)} {signed(values[best] - single)}"])
    bon_header = ["run", *key_header(keys), "E", *[plots.aggregator_label(a) for a in aggs], "best vs single"]

    rank_rows = []
    for run in runs:
        m = at[(run, "mean")] if (run, "mean") in at else at[(run, ensemble_aggs[0])]
        s = at[(run, "single")]
        rank_rows.append([run, *key_cells(m, keys), fmt(s["spearman"]), fmt(m["spearman"]), fmt(s["pair_accuracy"]),
                          fmt(m["pair_accuracy"]), fmt(m["bench_accuracy"]), fmt(m["agreement_member_spearman"]),
                          fmt(m["uncertainty_mean_std"]), fmt(m["uncertainty_disagreement_auroc"])])
    rank_header = ["run", *key_header(keys), "ρ single", "ρ mean", "pair acc. single", "pair acc. mean",
                   "bench acc. mean", "member ρ", "ens. std", "disagr. AUROC"]

    # Overoptimization: proxy (the aggregate's own standardised score of the pick) against
    # golden at the largest n, and where the best-of-K pick falls in its prompt.
    proxy_aggs = [a for a in aggs if a != "oracle"]
    over_rows = []
    for run in runs:
        cells = []
        for a in proxy_aggs:
            r = at.get((run, a))
            gap = plots.num(r["proxy_bon"]) - plots.num(r["bon_reward"]) if r and r.get("proxy_bon") else math.nan
            cells += [fmt(plots.num(r["proxy_bon"])) if r and r.get("proxy_bon") else "", signed(gap) if gap == gap else "",
                      fmt(plots.num(r["pick_quantile"])) if r and r.get("pick_quantile") else ""]
        over_rows.append([run, *key_cells(at[(run, "single")], keys), *cells])
    over_header = ["run", *key_header(keys)]
    for a in proxy_aggs:
        label = plots.aggregator_label(a)
        over_header += [f"{label} proxy", f"{label} gap", f"{label} quantile"]

    # Runs that differ only in seed: a summary per setting, mean over the seeds.
    setting_keys = [k for k in keys if k not in plots.REPLICATE_KEYS]
    summary = None
    if len(setting_keys) < len(keys):
        summary_rows = []
        for values, grows in plots.group_rows([r for r in rows if int(r["n"]) == n_max], setting_keys):
            by_agg = {a: [plots.num(r["bon_reward"]) for r in grows if r["aggregator"] == a] for a in aggs}
            means = {a: sum(v) / len(v) for a, v in by_agg.items() if v}
            best = max(ensemble_aggs, key=lambda a: means.get(a, -math.inf))
            spread = max(by_agg["single"]) - min(by_agg["single"]) if by_agg.get("single") else math.nan
            summary_rows.append([*[plots.beta_label(v) if k == plots.BETA else v for k, v in zip(setting_keys, values)],
                                 len(by_agg["single"]),
                                 *[("**" + fmt(means[a]) + "**") if a == best else fmt(means.get(a, math.nan)) for a in aggs],
                                 f"{plots.aggregator_label(best)} {signed(means[best] - means['single'])}",
                                 fmt(spread)])
        summary = table([*key_header(setting_keys), "runs", *[plots.aggregator_label(a) for a in aggs],
                         "best vs single", "single: seed range"], summary_rows)
    per_run_note = None
    if len(runs) > MAX_RUN_ROWS:
        per_run_note = (f"*{len(runs)} runs: the per-run tables show the first {MAX_RUN_ROWS}; "
                        "every run is in `campaign.csv`.*")
        bon_rows, rank_rows = bon_rows[:MAX_RUN_ROWS], rank_rows[:MAX_RUN_ROWS]

    kinds = kinds_section(rows, keys) if plots.KIND in keys else None
    pairs = pairs_section(rows, keys, runs)

    sweep_path = os.path.join(campaign, "sweep.txt")
    name = os.path.basename(os.path.normpath(campaign))
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"# Campaign report: {name}", "",
             f"`{os.path.abspath(campaign)}` — {len(runs)} runs with results"
             + (f"; **missing (no results.json yet): {', '.join(info['missing'])}**" if info["missing"] else "; none missing")
             + f". Swept: {', '.join(key_header(keys)) or 'nothing'}."
             + (f" Sweep file: `sweep.txt`." if os.path.exists(sweep_path) else "")
             + f" Generated {now} by `analysis/report.py`; data in `campaign.csv` (run × aggregator × n)"
             " and `ablation.csv` (run × ensemble size × aggregator × n).", "",
             *store_lines(campaign),
             f"## Best-of-{n_max}: expected golden reward of the selected response", "",
             "Exact expectation over n of the K test responses per prompt, averaged over prompts; "
             "best ensemble aggregator in bold; *best vs single* is its gain over one member (mean over members); "
             "*oracle* picks by golden reward itself.", ""]
    if summary:
        parts += ["By setting, mean over seeds (*single: seed range* = max - min of the single-member figure "
                  "over seeds, a yardstick for the differences):", "", summary, "", "Per run:", ""]
    parts += [table(bon_header, bon_rows), "", *([per_run_note, ""] if per_run_note else []),
             "## Ranking quality, agreement and uncertainty (full ensemble)", "",
             "ρ: Spearman correlation with golden reward within a prompt; pair acc.: fraction of within-prompt pairs "
             "ordered like the golden reward; member ρ: mean Spearman between members; ens. std: mean ensemble "
             "standard deviation of standardised scores; disagr. AUROC: member disagreement on a pair as a predictor "
             "of the ensemble mean ordering it wrongly (0.5 = chance).", "",
             table(rank_header, rank_rows), "", *(pairs or []),
             f"## Overoptimization at n = {n_max}: proxy against golden", "",
             "*proxy*: the expected aggregate score (standardised) of the best-of-n pick; *gap* = proxy - golden reward "
             "of the same pick (a gap widening with n is the overoptimization signature; the two are in different "
             "units, so compare gaps between aggregators and settings); *quantile*: share of its prompt's responses "
             "with golden reward <= the best-of-K pick's, averaged over prompts.", "",
             table(over_header, over_rows), "", *(kinds or []), "## Figures", ""]
    captions = {
        "bon_vs_kl.png": "Golden reward of best-of-n against KL(best-of-n), per aggregator, with a single member "
                         "and the oracle. A curve that bends down at large n over-optimises the reward model.",
        "ensemble_size.png": f"Ensemble-size ablation: best-of-{n_max} golden reward and Spearman ρ against the number "
                             "of members k (random k-member subsets of each trained ensemble; error bars ± 1 s.d. "
                             "over the subsets).",
        "annotator_quality.png": "Aggregators against annotator quality (perfect labels, then decreasing β, i.e. more "
                                 "label noise).",
        "uncertainty_vs_error.png": "Uncertainty against error: ensemble disagreement against the mean ensemble's "
                                    "pairwise error, and how well disagreement predicts its errors.",
        "ensemble_kinds.png": f"Ensemble kinds: best-of-{n_max} golden reward and pairwise accuracy per kind, the "
                              "single member beside the aggregators (mean over seeds).",
    }
    for fig in figures:
        parts += [f"![{captions[fig].split(':')[0].split('.')[0]}](figures/{fig})", "", f"*{captions[fig]}*", ""]
    if "annotator_quality.png" not in figures:
        parts += ["*(No annotator-quality figure: `pairs.annotator_beta` is not swept in this campaign.)*", ""]
    text = "\n".join(parts)
    tmp = os.path.join(campaign, "report.md.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(campaign, "report.md"))
    return info, figures, table(bon_header, bon_rows)


def pairs_section(rows, keys, runs):
    """## Human-labelled test pairs: per run judged on them (merge's pairs_* columns), the
    mean ensemble's accuracy, calibration, selective accuracy and disagreement AUROC."""
    if not rows or "pairs_n" not in rows[0]:
        return None
    by = {(r["run"], r["aggregator"]): r for r in rows}
    body = []
    for run in runs:
        m, s = by.get((run, "mean"), {}), by.get((run, "single"), {})
        n = next((r["pairs_n"] for r in rows if r["run"] == run and r["pairs_n"]), "")
        if not n:
            continue
        body.append([run, *key_cells(s or m, keys), n, fmt(s.get("pairs_accuracy")), fmt(m.get("pairs_accuracy")),
                     fmt(m.get("pairs_ece")), fmt(m.get("pairs_selective_50")), fmt(m.get("pairs_disagreement_auroc"))])
    note = [f"*{len(body)} runs: the first {MAX_RUN_ROWS} shown; every run is in `campaign.csv`.*", ""] \
        if len(body) > MAX_RUN_ROWS else []
    header = ["run", *key_header(keys), "pairs", "acc. single", "acc. mean", "ECE mean", "acc. mean @50%",
              "disagr. AUROC"]
    return ["## Human-labelled test pairs", "",
            "Runs judged on a pair store's `/pairs/test` (results.json `pairs_test`): accuracy = share of pairs "
            "whose human-chosen reply scores higher (a tie half); ECE of the mean ensemble's P(chosen preferred); "
            "*@50%*: its accuracy on the half of the pairs where the members disagree least; disagr. AUROC: "
            "disagreement as a predictor of its errors. Runs without test pairs are left out.", "",
            table(header, body[:MAX_RUN_ROWS]), "", *note]


def kinds_section(rows, keys):
    """## Ensemble kinds: per kind and setting (mean over seeds) the golden best-of-n at the
    largest n of one member and of each aggregator, the best's gain, pair accuracy, and the
    training time."""
    setting_keys, n_max, summary = plots.kind_summary(rows, keys)
    aggs = [a for a in plots.aggregator_order({a for *_, figs, _ in summary for a in figs}) if a != "single"]
    body = []
    for setting, kind, runs, figs, seconds in summary:
        single = figs.get("single", (math.nan, math.nan))
        best = max(aggs, key=lambda a: figs.get(a, (-math.inf,))[0])
        body.append([*[plots.beta_label(v) if k == plots.BETA else v for k, v in zip(setting_keys, setting)], kind, runs,
                     fmt(single[0]), *[fmt(figs[a][0]) if a in figs else "" for a in aggs],
                     f"{plots.aggregator_label(best)} {signed(figs[best][0] - single[0])}",
                     fmt(single[1]), fmt(figs["mean"][1]) if "mean" in figs else "", fmt(seconds, 1)])
    header = [*key_header(setting_keys), "kind", "runs", f"single best-of-{n_max}",
              *[plots.aggregator_label(a) for a in aggs], "best vs single", "pair acc. single", "pair acc. mean",
              "train s"]
    return [f"## Ensemble kinds at n = {n_max}", "",
            "Mean over seeds. *train s*: the members' training seconds (members.h5 `/run/member_train_seconds` "
            "summed; a shared trunk's heads share the unit's time).", "", table(header, body), ""]


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    info, figures, main_table = write_report(argv[0])
    print(main_table)
    print("\n".join(x.replace("**", "").replace("`", "") for x in store_lines(argv[0]) if x))
    print(f"report: {len(info['runs'])} runs, {len(figures)} figures -> {os.path.join(argv[0], 'report.md')}"
          + (f" (missing: {', '.join(info['missing'])})" if info["missing"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
