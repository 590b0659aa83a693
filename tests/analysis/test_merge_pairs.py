#!/usr/bin/python3
"""Campaign CSVs and report with human-labelled test pairs (issue 29, results.json "pairs_test").

A two-run campaign (points/p*/ with point.json and results.json, the shape jobs/campaign.sh
leaves; no results.h5, the sweep record gives the config): p0000 has the results.json of a
real `rmens run configs/pairs.cfg` on the committed hh-rlhf pairs
(tests/analysis/pairs_results.json: provenance dropped, members arrays trimmed to two
entries), p0001 the same without "pairs_test" and without the ablation's std_over_subsets
(older results). Checks that analysis/merge.py adds the pairs_* columns to campaign.csv and
ablation.csv with the fixture's figures on the right rows and empty cells elsewhere; that
ablation.csv has each figure's <figure>_std right after it, holding results.json's
ablation.<k>.std_over_subsets (empty for p0001); that analysis/report.py writes the
"Human-labelled test pairs" table without taking the pairs_* columns for swept keys; that
plots.py's ensemble_size.png draws those std as error bars and says so; and
that a campaign without pairs runs gets no pairs columns and otherwise the same bytes.
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pairs_results.json")
PAIRS_COLUMNS = ["pairs_accuracy", "pairs_ece", "pairs_brier", "pairs_log_loss", "pairs_selective_50",
                 "pairs_disagreement_auroc", "pairs_n"]
PAIRS_ABLATION_COLUMNS = ["pairs_accuracy", "pairs_accuracy_std", "pairs_ece", "pairs_ece_std"]
# ablation.csv: each figure of an ablation entry, then its std over the subsets
# (results.json ablation.<k>.std_over_subsets), as (column, path in an aggregator's figures
# or in the entry, with "{n}" for the row's n)
FIGURES = ["spearman", "pair_accuracy", "bench_accuracy", "pick_quantile", "above_median"]
RUN_FIGURES = [("agreement", k) for k in ("member_spearman", "pair_agreement", "best_pick_agreement")] + \
    [("uncertainty", k) for k in ("mean_std", "std_rank_error_spearman", "disagreement_auroc")]
STD_COLUMNS = [("bon_reward", ("bon", "{n}")), ("proxy_bon", ("proxy_bon", "{n}"))] + \
    [(f, (f,)) for f in FIGURES] + [(f"{g}_{k}", (g, k)) for g, k in RUN_FIGURES]


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def close(cell, want, what):
    check(cell != "" and abs(float(cell) - want) < 1e-12, f"{what}: {cell!r} != {want}")


def make_campaign(directory, with_pairs):
    results = json.load(open(FIXTURE))
    for i, seed in enumerate(["1", "2"]):
        d = os.path.join(directory, "points", f"p{i:04d}")
        os.makedirs(d)
        with open(os.path.join(d, "point.json"), "w") as f:
            json.dump({"index": i, "grid": {"seed": seed}, "set": {}}, f)
        res = json.loads(json.dumps(results))
        if i == 1 or not with_pairs:
            res.pop("pairs_test")
        if i == 1:  # results from before the spread over subsets: empty std cells
            for entry in res["ablation"].values():
                entry.pop("std_over_subsets")
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump(res, f)
    return results


def run(script, directory):
    env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=os.path.join(directory, "mpl"))
    out = subprocess.run([sys.executable, os.path.join(SRCDIR, "analysis", script), directory],
                         capture_output=True, text=True, env=env)
    print(out.stdout, out.stderr, sep="")
    check(out.returncode == 0, f"{script} exited {out.returncode}")


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def without(path, columns):
    """The CSV's bytes with `columns` dropped, written as merge.py writes."""
    rows = read(path)
    keep = [c for c in rows[0] if c not in columns]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=keep, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def lookup(figures, path, n):
    for key in path:
        figures = figures[key.format(n=n)]
    return figures


def check_std_columns(abl, results):
    """ablation.csv: each <figure>_std column right after its figure, holding the row's entry's
    std_over_subsets value (p0000); 0 at k = E, one subset; empty for p0001, whose results.json
    predates std_over_subsets."""
    cols = list(abl[0])
    for column, _ in STD_COLUMNS:
        check(column + "_std" in cols and cols.index(column + "_std") == cols.index(column) + 1,
              f"ablation.csv: {column}_std is not right after {column}: {cols}")
    checked = 0
    for r in abl:
        if r["run"] == "p0001":  # older results: no std_over_subsets
            check(all(r[c + "_std"] == "" for c, _ in STD_COLUMNS), f"ablation {r['run']}: std cells without std_over_subsets")
            continue
        entry = results["ablation"][r["ensemble_size"]]
        spread, n = entry["std_over_subsets"], r["n"]
        for column, path in STD_COLUMNS:
            source = spread["aggregators"][r["aggregator"]] if len(path) == 1 or path[0] in ("bon", "proxy_bon") \
                else spread
            want = lookup(source, path, n)
            what = f"ablation {r['run']} k={r['ensemble_size']} {r['aggregator']} n={n} {column}_std"
            if want is None:
                check(r[column + "_std"] == "", f"{what}: {r[column + '_std']!r}, expected empty (null)")
            else:
                close(r[column + "_std"], want, what)
                checked += 1
            if entry["subsets"] == 1 and want is not None:
                check(want == 0, f"{what}: one subset, std {want}")
    check(checked > len(abl), f"only {checked} std cells checked")


def check_campaign_spread(abl, results):
    """plots.py's ensemble_size.png from ablation.csv (plots.finish kept from closing the
    figure): both panels with one error-bar set per aggregator, each bar +- the row's
    <metric>_std (p0000's: p0001 has none), the y labels and the title saying so."""
    sys.path.insert(0, os.path.join(SRCDIR, "analysis"))
    import plots
    kept = []
    finish = plots.finish
    plots.finish = lambda fig, path, title, *a, **kw: kept.append((fig, title))
    try:
        plots.plot_ensemble_size(abl, ["seed"], "unused.png")
    finally:
        plots.finish = finish
    fig, title = kept[0]
    check("± 1 s.d. over subsets" in title, f"campaign ensemble_size.png title {title!r}")
    n_max = max(int(r["n"]) for r in abl)
    aggs = plots.aggregator_order({r["aggregator"] for r in abl})
    checked = 0
    for ax, metric in zip(fig.axes, ("bon_reward", "spearman")):
        check("± 1 s.d. over subsets" in ax.get_ylabel(), f"campaign ensemble_size.png y label {ax.get_ylabel()!r}")
        check(len(ax.containers) == len(aggs), f"{metric}: {len(ax.containers)} error-bar sets for {len(aggs)} aggregators")
        for a, container in zip(aggs, ax.containers):
            drawn = {round(float(s[0][0])): (float(s[1][1]) - float(s[0][1])) / 2 for s in container.lines[2][0].get_segments()}
            for r in abl:
                if r["run"] == "p0000" and r["aggregator"] == a and int(r["n"]) == n_max:
                    want, got = float(r[metric + "_std"]), drawn.get(int(r["ensemble_size"]))
                    check(got is not None and abs(got - want) < 1e-12,
                          f"campaign ensemble_size.png {metric} {a} k={r['ensemble_size']}: bar {got} vs {want}")
                    checked += 1
    check(checked == 2 * len(aggs) * len(results["ablation"]), f"campaign error bars checked: {checked}")


def main():
    with tempfile.TemporaryDirectory(prefix="rmens-pairs-campaign-") as top:
        pairs_dir, plain_dir = os.path.join(top, "pairs"), os.path.join(top, "plain")
        results = make_campaign(pairs_dir, True)
        make_campaign(plain_dir, False)
        pt = results["pairs_test"]
        run("report.py", pairs_dir)
        run("merge.py", plain_dir)

        # campaign.csv: the pairs columns last, the right figure on each row.
        rows = read(os.path.join(pairs_dir, "campaign.csv"))
        cols = list(rows[0])
        check(cols[-len(PAIRS_COLUMNS):] == PAIRS_COLUMNS, f"campaign.csv columns end {cols[-8:]}")
        check(cols[:2] == ["run", "seed"], f"campaign.csv columns start {cols[:2]}")
        aggs = list(results["aggregators"])
        check(len(rows) == 2 * (len(aggs) + 2) * len(results["oracle_bon"]), f"campaign.csv has {len(rows)} rows")
        seen = set()
        for r in rows:
            what = f"{r['run']} {r['aggregator']} n={r['n']}"
            if r["run"] == "p0001":
                check(all(r[c] == "" for c in PAIRS_COLUMNS), f"{what}: a run without pairs_test has pairs cells")
                continue
            a = r["aggregator"]
            seen.add(a)
            check(r["pairs_n"] == str(pt["n"]), f"{what}: pairs_n {r['pairs_n']}")
            if a == "oracle":
                check(all(r[c] == "" for c in PAIRS_COLUMNS if c != "pairs_n"), f"{what}: oracle has pairs figures")
                continue
            figs = pt["single"] if a == "single" else pt["aggregators"][a]
            close(r["pairs_accuracy"], figs["accuracy"], f"{what} pairs_accuracy")
            if a in ("mean", "single"):
                for c in ("ece", "brier", "log_loss"):
                    close(r[f"pairs_{c}"], figs["calibration"][c], f"{what} pairs_{c}")
            else:
                check(r["pairs_ece"] == r["pairs_brier"] == r["pairs_log_loss"] == "", f"{what}: calibration cells")
            if a == "mean":
                j = pt["selective"]["coverage"].index(0.5)
                close(r["pairs_selective_50"], pt["selective"]["accuracy"][j], f"{what} pairs_selective_50")
                close(r["pairs_disagreement_auroc"], pt["disagreement_auroc"], f"{what} pairs_disagreement_auroc")
            else:
                check(r["pairs_selective_50"] == r["pairs_disagreement_auroc"] == "", f"{what}: mean-only cells")
        check(seen == {*aggs, "single", "oracle"}, f"aggregators seen {seen}")

        # ablation.csv: the mean aggregator's pairs_test.ensemble_size figures per k.
        abl = read(os.path.join(pairs_dir, "ablation.csv"))
        check(list(abl[0])[-4:] == PAIRS_ABLATION_COLUMNS, f"ablation.csv columns end {list(abl[0])[-4:]}")
        check_std_columns(abl, results)
        check_campaign_spread(abl, results)
        sizes = {s["k"]: s for s in pt["ensemble_size"]}
        filled = set()
        for r in abl:
            what = f"ablation {r['run']} k={r['ensemble_size']} {r['aggregator']} n={r['n']}"
            k = int(r["ensemble_size"])
            if r["run"] == "p0000" and r["aggregator"] == "mean" and k in sizes:
                filled.add(k)
                for c in ("accuracy", "accuracy_std", "ece", "ece_std"):
                    close(r[f"pairs_{c}"], sizes[k][c], f"{what} pairs_{c}")
            else:
                check(all(r[c] == "" for c in PAIRS_ABLATION_COLUMNS), f"{what}: unexpected pairs cells")
        check(filled == set(sizes), f"ablation sizes with pairs figures {filled} != {set(sizes)}")

        # Without any pairs run: no pairs columns, every other byte as with them.
        for name, columns in (("campaign.csv", PAIRS_COLUMNS), ("ablation.csv", PAIRS_ABLATION_COLUMNS)):
            plain = open(os.path.join(plain_dir, name), "rb").read()
            check(b"pairs_" not in plain.splitlines()[0], f"{name} of a campaign without pairs runs has pairs columns")
            check(plain == without(os.path.join(pairs_dir, name), columns),
                  f"{name}: the pairs columns changed other cells")

        # report.md: the pairs table (p0000 only), seed the one swept key.
        report = open(os.path.join(pairs_dir, "report.md"), encoding="utf-8").read()
        check("## Human-labelled test pairs" in report, "report.md has no human-labelled test pairs section")
        section = report.split("## Human-labelled test pairs", 1)[1].split("\n## ", 1)[0]
        m = pt["aggregators"]["mean"]
        j = pt["selective"]["coverage"].index(0.5)
        want = (f"| p0000 | 1 | {pt['n']} | {pt['single']['accuracy']:.3f} | {m['accuracy']:.3f} | "
                f"{m['calibration']['ece']:.3f} | {pt['selective']['accuracy'][j]:.3f} | "
                f"{pt['disagreement_auroc']:.3f} |")
        check(want in section, f"report.md pairs table lacks {want}:\n{section}")
        check("| p0001 |" not in section, "report.md pairs table lists a run without test pairs")
        check("pairs_" not in report.split("## Human-labelled", 1)[0], "report.md takes a pairs_ column for a swept key")
        for fig in ("bon_vs_kl.png", "ensemble_size.png"):
            check(os.path.getsize(os.path.join(pairs_dir, "figures", fig)) > 10000, f"figure {fig}")
    print("test_merge_pairs: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
