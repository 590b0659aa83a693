#!/usr/bin/python3
"""Sweep `variant` axes and the ensemble-kinds analysis, on known numbers (no rmens needed).

 - jobs/slurm/sweep.py expands a sweep with a `variant` axis: the point count, each point's
   --set arguments (the variant's bundle), point.json's grid/variants/variant_keys; bad
   variant lines are refused naming file:line;
 - a campaign of those points with hand-made results.json / results.h5 / members.h5
   (/run/member_train_seconds) goes through analysis/report.py: campaign.csv has the axis
   `kind` (not the keys its variants set) and train_seconds; the report's "Ensemble kinds"
   table holds the means over seeds put in; figures/ensemble_kinds.png is a real PNG."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import h5py

SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SWEEP_TOOL = os.path.join(SRCDIR, "jobs", "slurm", "sweep.py")
BON_N = [1, 4, 16]
KINDS = {"independent": 0.0, "trunk": 0.1, "views": 0.2}
SEEDS = [1, 2]


def sweep(*args):
    return subprocess.run([sys.executable, SWEEP_TOOL, *args], capture_output=True, text=True)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def figure(kind, seed, agg, n):
    base = KINDS[kind] + 0.01 * seed + (0.05 if agg == "mean" else 0.0)
    return round(base + 0.1 * n, 6)


def write_point(d, kind, seed):
    res = {"members": 3}
    res["aggregators"] = {a: {"bon": {str(n): figure(kind, seed, a, n) for n in BON_N},
                              "kl": {str(n): 0.1 * n for n in BON_N}, "spearman": 0.5,
                              "pair_accuracy": 0.7 + KINDS[kind], "bench_accuracy": 0.8} for a in ("mean", "min")}
    res["agreement"] = {"member_spearman": 0.9, "pair_agreement": 0.95, "best_pick_agreement": 0.5}
    res["uncertainty"] = {"mean_std": 0.1, "std_rank_error_spearman": 0.2, "disagreement_auroc": 0.6}
    res["single"] = {"bon": {str(n): figure(kind, seed, "single", n) for n in BON_N},
                     "kl": {str(n): 0.1 * n for n in BON_N}, "spearman": 0.4, "pair_accuracy": 0.6, "bench_accuracy": 0.7}
    res["oracle_bon"] = {str(n): 2.0 + n for n in BON_N}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(res, f)
    with h5py.File(os.path.join(d, "results.h5"), "w") as h5:
        h5.attrs["config"] = f'seed = {seed};\nensemble :\n{{\n  members = 3;\n}};\n'
    with h5py.File(os.path.join(d, "members.h5"), "w") as h5:
        h5["run/member_train_seconds"] = [1.0 + KINDS[kind] * 10, 2.0, 3.0]  # sum = 6 + 10 x offset


def main():
    with tempfile.TemporaryDirectory(prefix="rmens-kinds-") as directory:
        path = os.path.join(directory, "kinds.sweep")
        with open(path, "w") as f:
            f.write(f"base configs/demo.cfg\noutput {directory}/campaign\n"
                    "variant kind = independent\n"
                    'variant kind = trunk: ensemble.kind = "shared_trunk"; ensemble.data = "bootstrap"\n'
                    'variant kind = views: ensemble.views = ["default", "view1"]\n'
                    "grid seed = 1, 2\n")
        out = sweep("count", path)
        check(out.returncode == 0 and out.stdout.strip() == "6", f"count: {out.stdout} {out.stderr}")
        campaign = os.path.join(directory, "campaign")
        for i in range(6):
            out = sweep("point-args", path, str(i), "--record")
            check(out.returncode == 0, out.stderr)
            args = out.stdout.splitlines()
            kind, seed = list(KINDS)[i // 2], SEEDS[i % 2]
            sets = [a for a in args if "=" in a and not a.startswith(("store=", "output="))]
            want = {"independent": [], "trunk": ['ensemble.kind="shared_trunk"', 'ensemble.data="bootstrap"'],
                    "views": ['ensemble.views=["default", "view1"]']}[kind] + [f"seed={seed}"]
            check(sets == want, f"point {i}: {sets} != {want}")
            d = os.path.join(campaign, "points", f"p{i:04d}")
            record = json.load(open(os.path.join(d, "point.json")))
            check(record["grid"] == {"kind": kind, "seed": str(seed)}, record["grid"])
            check(record["variant_keys"] == ["ensemble.data", "ensemble.kind", "ensemble.views"], record["variant_keys"])
            write_point(d, kind, seed)
        env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=os.path.join(directory, "mpl"))
        out = subprocess.run([sys.executable, os.path.join(SRCDIR, "analysis", "report.py"), campaign],
                             capture_output=True, text=True, env=env)
        check(out.returncode == 0, f"report.py: {out.stdout} {out.stderr}")
        rows = list(csv.DictReader(open(os.path.join(campaign, "campaign.csv"))))
        check(list(rows[0])[:3] == ["run", "kind", "seed"], f"columns {list(rows[0])[:4]}")
        check(not any(k.startswith("ensemble.") for k in rows[0]), "a variant's keys must not be columns")
        for r in rows:
            kind = r["kind"]
            check(abs(float(r["train_seconds"]) - (6.0 + 10 * KINDS[kind])) < 1e-9, f"train_seconds {r['train_seconds']}")
        report = open(os.path.join(campaign, "report.md")).read()
        check("## Ensemble kinds at n = 16" in report, "no ensemble kinds section")
        for kind, offset in KINDS.items():
            single = sum(figure(kind, s, "single", 16) for s in SEEDS) / 2
            mean = sum(figure(kind, s, "mean", 16) for s in SEEDS) / 2
            section = report[report.index("## Ensemble kinds"):report.index("## Figures")]
            line = next(l for l in section.splitlines() if l.startswith(f"| {kind} |"))
            cells = [c.strip() for c in line.strip("|").split("|")]
            check(cells[1] == "2" and cells[2] == f"{single:.3f}" and cells[3] == f"{mean:.3f}", f"{kind}: {cells}")
            check(cells[-1] == f"{6.0 + 10 * offset:.1f}", f"{kind} train s: {cells[-1]}")
        png = os.path.join(campaign, "figures", "ensemble_kinds.png")
        check(open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 20000, "ensemble_kinds.png")
        check("](figures/ensemble_kinds.png)" in report, "report does not embed ensemble_kinds.png")

        # bad variant lines: refused with file:line
        for line, needle in (("variant kind independent", "expected `variant AXIS = NAME"),
                             ("variant kind = x: notakey", "expected `key = value`"),
                             ("variant kind = x: synth.dim = 3", "cannot set 'synth.dim'"),
                             ("variant seed = x", "'seed' already given")):
            bad = os.path.join(directory, "bad.sweep")
            with open(bad, "w") as f:
                f.write(f"base configs/demo.cfg\noutput {directory}/bad\ngrid seed = 1, 2\n{line}\n")
            out = sweep("count", bad)
            check(out.returncode != 0 and f"bad.sweep:4:" in out.stderr and needle in out.stderr,
                  f"'{line}': {out.returncode} {out.stderr}")
        with open(bad, "w") as f:
            f.write(f"base configs/demo.cfg\noutput {directory}/bad\nvariant kind = a\nvariant kind = a: seed = 2\n")
        out = sweep("count", bad)
        check(out.returncode != 0 and "bad.sweep:4:" in out.stderr and "given twice" in out.stderr, out.stderr)
    print("test_kinds: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
