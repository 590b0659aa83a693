#!/usr/bin/python3
"""Merge every run of a campaign into tidy CSV tables.

    /usr/bin/python3 analysis/merge.py CAMPAIGN_DIR [RUN_DIR ...]

A run is a directory holding results.json (and results.h5, whose root attribute `config`
is the merged configuration of the run). The runs are CAMPAIGN_DIR/points/*/ (a campaign
from jobs/campaign.sh) plus any RUN_DIR given. Writes:

  CAMPAIGN_DIR/campaign.csv   one row per run x aggregator x n: the full ensemble's
                              aggregators, `single` (a member alone, mean over members)
                              and `oracle` (true best-of-n)
  CAMPAIGN_DIR/ablation.csv   one row per run x ensemble size k x aggregator x n, from
                              the runs' ensemble-size ablation

Columns: run, then the swept keys (the keys whose values differ between runs, from each
run's config and its point.json sweep record), members, aggregator, n, kl_bon, bon_reward
(expected golden reward of the best-of-n pick), proxy_bon (its expected standardised
aggregate score: the proxy), oracle_bon, spearman, pair_accuracy,
bench_accuracy, pick_quantile, above_median, the run's agreement and uncertainty figures, and
train_seconds (its members' training time, from members.h5).

When some run was judged on human-labelled test pairs (results.json "pairs_test": `rmens
eval` on a pair store), both tables get more columns, empty for runs without them:
campaign.csv pairs_accuracy (the row's aggregator's accuracy on the test pairs: the share
of pairs whose chosen reply it scores higher, a tie half; for `single` the mean over
members), pairs_ece, pairs_brier, pairs_log_loss (calibration of P(chosen preferred), on
`mean` and `single` rows), pairs_selective_50 (the mean aggregator's accuracy on the half
of the pairs where the members disagree least) and pairs_disagreement_auroc (on `mean`
rows), pairs_n (test pairs, every row of the run); ablation.csv pairs_accuracy,
pairs_accuracy_std (over the k-member subsets), pairs_ece and pairs_ece_std of the mean
aggregator (on `mean` rows). A campaign without such runs has neither column set.

ablation.csv also has, right after each figure it averages over the random k-member subsets
(bon_reward, proxy_bon, spearman, pair_accuracy, bench_accuracy, pick_quantile,
above_median, agreement_*, uncertainty_*), that figure's population standard deviation over
the subsets: bon_reward_std, proxy_bon_std, spearman_std, ..., uncertainty_disagreement_auroc_std
(results.json ablation.<k>.std_over_subsets; 0 for k = E, one subset; empty for results
written before it existed).
"""
import csv
import glob
import json
import os
import re
import sys

# Keys that name files, differ between every run and say nothing about the experiment.
NOT_SWEPT = {"store", "output"}
AGREEMENT = ["member_spearman", "pair_agreement", "best_pick_agreement"]
UNCERTAINTY = ["mean_std", "std_rank_error_spearman", "disagreement_auroc"]
FIGURES = ["spearman", "pair_accuracy", "bench_accuracy", "pick_quantile", "above_median"]
# Human-labelled test pairs (results.json "pairs_test"), only when some run has them.
PAIRS_COLUMNS = ["pairs_accuracy", "pairs_ece", "pairs_brier", "pairs_log_loss", "pairs_selective_50",
                 "pairs_disagreement_auroc", "pairs_n"]
PAIRS_ABLATION_COLUMNS = ["pairs_accuracy", "pairs_accuracy_std", "pairs_ece", "pairs_ece_std"]
# ablation.csv: beside each figure of an ablation entry, its population std over the entry's
# random k-member subsets (results.json "std_over_subsets"; empty for older results).
STD = "_std"


# ---- a small reader for libconfig text (the `config` attribute of results.h5) ----

_TOKEN = re.compile(r'''
    (?P<ws>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+L{0,2}|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?L{0,2}))
  | (?P<word>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}\[\]()])
''', re.S | re.X)


def _tokens(text):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"libconfig: cannot read '{text[pos:pos + 20]}'")
        pos = m.end()
        if m.lastgroup != "ws":
            yield m.lastgroup, m.group()
    yield "end", ""


def parse_libconfig(text):
    """Flatten libconfig text into {"group.key": python value}."""
    toks = list(_tokens(text))
    i = 0

    def value():
        nonlocal i
        kind, tok = toks[i]
        if tok in ("{",):
            i += 1
            out = settings("}")
            i += 1
            return out
        if tok in ("[", "("):
            close = "]" if tok == "[" else ")"
            i += 1
            items = []
            while toks[i][1] != close:
                items.append(value())
                if toks[i][1] == ",":
                    i += 1
            i += 1
            return items
        i += 1
        if kind == "string":
            s = json.loads(tok)
            while toks[i][0] == "string":  # adjacent strings concatenate
                s += json.loads(toks[i][1])
                i += 1
            return s
        if kind == "number":
            t = tok.rstrip("L")
            if t.lower().startswith(("0x", "-0x", "+0x")):
                return int(t, 16)
            return float(t) if re.search(r"[.eE]", t) else int(t)
        if kind == "word" and tok.lower() in ("true", "false"):
            return tok.lower() == "true"
        raise ValueError(f"libconfig: unexpected '{tok}'")

    def settings(closer):
        nonlocal i
        out = {}
        while toks[i][1] != closer and toks[i][0] != "end":
            name = toks[i][1]
            i += 1
            if toks[i][1] not in ("=", ":"):
                raise ValueError(f"libconfig: expected = after '{name}'")
            i += 1
            out[name] = value()
            if toks[i][1] in (";", ","):
                i += 1
        return out

    flat = {}

    def flatten(prefix, node):
        for k, v in node.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                flatten(key + ".", v)
            else:
                flat[key] = v

    flatten("", settings(""))
    return flat


def format_value(v):
    """A config value as a CSV cell: lists as [a, b], numbers without noise."""
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e15 else f"{v:.1f}"
    return str(v)


def normalise_override(text):
    """A sweep value as written in the sweep file ('"bt"', '-1.0') in the CSV's form."""
    try:
        return format_value(parse_libconfig(f"x = {text};")["x"])
    except ValueError:
        return text.strip('"')


def read_run(directory):
    """One run: its results, its flat config and its sweep record (may be empty)."""
    with open(os.path.join(directory, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    config = {}
    h5_path = os.path.join(directory, "results.h5")
    if os.path.exists(h5_path):
        import h5py  # only needed when results.h5 is there
        with h5py.File(h5_path, "r") as h5:
            text = h5.attrs.get("config")
            if text is not None:
                if isinstance(text, bytes):
                    text = text.decode()
                config = {k: format_value(v) for k, v in parse_libconfig(str(text)).items()}
    record = {}
    point_path = os.path.join(directory, "point.json")
    if os.path.exists(point_path):
        with open(point_path, encoding="utf-8") as f:
            record = json.load(f)
    # The sweep record is authoritative for the keys it names (and the only source when a
    # run has no results.h5).
    for key, text in {**record.get("set", {}), **record.get("grid", {})}.items():
        config[key] = normalise_override(text)
    return {"run": os.path.basename(os.path.normpath(directory)), "dir": directory,
            "results": results, "config": config, "grid": list(record.get("grid", {})),
            "variant_keys": set(record.get("variant_keys", [])), "train_seconds": train_seconds(directory)}


def train_seconds(directory):
    """The members' training seconds (members.h5 /run/member_train_seconds summed: a
    shared trunk's heads share its time), or None without members.h5."""
    path = os.path.join(directory, "members.h5")
    if not os.path.exists(path):
        return None
    import h5py
    with h5py.File(path, "r") as f:
        if "run/member_train_seconds" not in f:
            return None
        return float(f["run/member_train_seconds"][()].sum())


def find_runs(campaign, extra):
    dirs = sorted(glob.glob(os.path.join(campaign, "points", "*", "")))
    dirs += [d for d in extra]
    runs, missing = [], []
    for d in dirs:
        if os.path.exists(os.path.join(d, "results.json")):
            runs.append(read_run(d))
        else:
            missing.append(os.path.basename(os.path.normpath(d)))
    return runs, missing


def swept_keys(runs):
    """Keys that vary between runs, sweep-file order first, then alphabetical."""
    keys = []
    for r in runs:
        for k in r["grid"]:
            if k not in keys:
                keys.append(k)
    # keys a sweep's `variant` axis sets vary through that axis, which is the column
    variant_keys = set().union(*(r.get("variant_keys", set()) for r in runs))
    all_keys = sorted({k for r in runs for k in r["config"]} - NOT_SWEPT - variant_keys)
    for k in all_keys:
        values = {r["config"].get(k) for r in runs}
        if len(values) > 1 and k not in keys:
            keys.append(k)
    return keys


def _num(v):
    return "" if v is None else repr(float(v))


def aggregate_rows(base, part, agg_name, figures, kl, oracle):
    rows = []
    for n in sorted(figures["bon"], key=int):
        row = dict(base)
        row.update({"aggregator": agg_name, "n": int(n), "kl_bon": _num(kl.get(n)),
                    "bon_reward": _num(figures["bon"][n]), "proxy_bon": _num((figures.get("proxy_bon") or {}).get(n)),
                    "oracle_bon": _num(oracle.get(n))})
        for f in FIGURES:
            row[f] = _num(figures.get(f))
        rows.append(row)
    return rows


def run_figures(ens):
    """The agreement_* and uncertainty_* cells of an ensemble (or of its std_over_subsets)."""
    cells = {f"agreement_{k}": _num((ens.get("agreement") or {}).get(k)) for k in AGREEMENT}
    cells.update({f"uncertainty_{k}": _num((ens.get("uncertainty") or {}).get(k)) for k in UNCERTAINTY})
    return cells


def ensemble_rows(base, ens, kl, oracle):
    rows = []
    extra = run_figures(ens)
    for name, figures in ens["aggregators"].items():
        rows += aggregate_rows({**base, **extra}, "ensemble", name, figures, kl, oracle)
    return rows


def std_cells(spread, aggregator, n):
    """ablation.csv's <figure>_std cells of one row from its entry's "std_over_subsets"
    (None: older results, every cell empty)."""
    if spread is None:
        return {}
    figures = (spread.get("aggregators") or {}).get(aggregator) or {}
    cells = {"bon_reward" + STD: _num((figures.get("bon") or {}).get(n)),
             "proxy_bon" + STD: _num((figures.get("proxy_bon") or {}).get(n))}
    cells.update({f + STD: _num(figures.get(f)) for f in FIGURES})
    cells.update({k + STD: v for k, v in run_figures(spread).items()})
    return cells


def with_std(columns):
    """The columns with each std-over-subsets column right after its figure."""
    out = []
    for c in columns:
        out.append(c)
        if c in ("bon_reward", "proxy_bon", *FIGURES) or c.startswith(("agreement_", "uncertainty_")):
            out.append(c + STD)
    return out


def pairs_cells(pt, aggregator):
    """campaign.csv's pairs_* cells of one row (aggregator: an ensemble aggregator's name,
    "single" or "oracle") from results.json "pairs_test" (None: the run has none)."""
    if pt is None:
        return {}
    figs = pt.get("single") if aggregator == "single" else (pt.get("aggregators") or {}).get(aggregator)
    figs = figs or {}
    cal = figs.get("calibration") or {}
    cells = {"pairs_accuracy": _num(figs.get("accuracy")), "pairs_ece": _num(cal.get("ece")),
             "pairs_brier": _num(cal.get("brier")), "pairs_log_loss": _num(cal.get("log_loss")),
             "pairs_n": pt.get("n", "")}
    if aggregator == "mean":
        sel = pt.get("selective") or {}
        half = [a for c, a in zip(sel.get("coverage", []), sel.get("accuracy", [])) if abs(c - 0.5) < 1e-9]
        cells["pairs_selective_50"] = _num(half[0] if half else None)
        cells["pairs_disagreement_auroc"] = _num(pt.get("disagreement_auroc"))
    return cells


def pairs_size_cells(pt, k, aggregator):
    """ablation.csv's pairs_* cells of one row: the mean aggregator's figures at size k."""
    if pt is None or aggregator != "mean":
        return {}
    size = next((s for s in pt.get("ensemble_size", []) if int(s.get("k", -1)) == k), None)
    if size is None:
        return {}
    return {"pairs_accuracy": _num(size.get("accuracy")), "pairs_accuracy_std": _num(size.get("accuracy_std")),
            "pairs_ece": _num(size.get("ece")), "pairs_ece_std": _num(size.get("ece_std"))}


def merge(campaign, extra=()):
    runs, missing = find_runs(campaign, extra)
    if not runs:
        raise SystemExit(f"merge: no results.json under {campaign}/points/*/ (missing: {', '.join(missing) or 'all'})")
    keys = swept_keys(runs)
    main_rows, ablation_rows = [], []
    for r in runs:
        res = r["results"]
        kl = res["single"].get("kl") or next(iter(res["aggregators"].values()))["kl"]
        oracle = res.get("oracle_bon", {})
        base = {"run": r["run"], **{k: r["config"].get(k, "") for k in keys}, "members": res["members"],
                "train_seconds": _num(r["train_seconds"])}
        run_start = len(main_rows)
        main_rows += ensemble_rows(base, res, kl, oracle)
        single = {k: v for k, v in res["single"].items() if k != "std"}
        main_rows += aggregate_rows(base, "single", "single", single, kl, oracle)
        oracle_figs = {"bon": oracle}
        main_rows += aggregate_rows(base, "oracle", "oracle", oracle_figs, kl, oracle)
        for k, ens in sorted(res.get("ablation", {}).items(), key=lambda kv: int(kv[0])):
            ablation_rows += [{**row, "ensemble_size": int(k), "subsets": ens.get("subsets", ""),
                               **std_cells(ens.get("std_over_subsets"), row["aggregator"], str(row["n"])),
                               **pairs_size_cells(res.get("pairs_test"), int(k), row["aggregator"])}
                              for row in ensemble_rows(base, ens, kl, oracle)]
        if res.get("pairs_test") is not None:
            for row in main_rows[run_start:]:
                row.update(pairs_cells(res["pairs_test"], row["aggregator"]))
    # The pairs columns only when some run has them: a campaign without is unchanged.
    with_pairs = any(r["results"].get("pairs_test") is not None for r in runs)
    run_cols = [f"agreement_{k}" for k in AGREEMENT] + [f"uncertainty_{k}" for k in UNCERTAINTY]
    cols = ["run", *keys, "members", "aggregator", "n", "kl_bon", "bon_reward", "proxy_bon", "oracle_bon", *FIGURES,
            *run_cols, "train_seconds", *(PAIRS_COLUMNS if with_pairs else [])]
    write_csv(os.path.join(campaign, "campaign.csv"), cols, main_rows)
    abl_cols = ["run", *keys, "members", "ensemble_size", "subsets", "aggregator", "n", "kl_bon",
                *with_std(["bon_reward", "proxy_bon"]), "oracle_bon", *with_std([*FIGURES, *run_cols]), "train_seconds",
                *(PAIRS_ABLATION_COLUMNS if with_pairs else [])]
    write_csv(os.path.join(campaign, "ablation.csv"), abl_cols, ablation_rows)
    return {"runs": [r["run"] for r in runs], "missing": missing, "keys": keys,
            "rows": len(main_rows), "ablation_rows": len(ablation_rows)}


def write_csv(path, columns, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    info = merge(argv[0], argv[1:])
    print(f"merge: {len(info['runs'])} runs, swept keys {', '.join(info['keys']) or '(none)'}: "
          f"{info['rows']} rows -> {os.path.join(argv[0], 'campaign.csv')}, "
          f"{info['ablation_rows']} -> ablation.csv"
          + (f"; no results yet for {', '.join(info['missing'])}" if info["missing"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
