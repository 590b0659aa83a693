#!/usr/bin/python3
"""Campaign CSVs and report with human-labelled test pairs (issue 29, results.json "pairs_test").

A two-run campaign (points/p*/ with point.json and results.json, the shape jobs/campaign.sh
leaves; no results.h5, the sweep record gives the config): p0000 has the results.json of a
real `rmens eval` on a pair store (tests/analysis/pairs_results.json: its members arrays
trimmed to two entries), p0001 the same without "pairs_test". Checks that analysis/merge.py
adds the pairs_* columns to campaign.csv and ablation.csv with the fixture's figures on the
right rows and empty cells elsewhere, that analysis/report.py writes the "Human-labelled test
pairs" table without taking the pairs_* columns for swept keys, and that a campaign without
pairs runs gets no pairs columns and otherwise the same bytes.
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
PAIRS_ABLATION_COLUMNS = ["pairs_accuracy", "pairs_accuracy_std", "pairs_ece"]


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
        res = dict(results)
        if i == 1 or not with_pairs:
            res.pop("pairs_test")
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
        check(list(abl[0])[-3:] == PAIRS_ABLATION_COLUMNS, f"ablation.csv columns end {list(abl[0])[-3:]}")
        sizes = {s["k"]: s for s in pt["ensemble_size"]}
        filled = set()
        for r in abl:
            what = f"ablation {r['run']} k={r['ensemble_size']} {r['aggregator']} n={r['n']}"
            k = int(r["ensemble_size"])
            if r["run"] == "p0000" and r["aggregator"] == "mean" and k in sizes:
                filled.add(k)
                for c in ("accuracy", "accuracy_std", "ece"):
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
