#!/usr/bin/python3
"""analysis/plot_run.py on a real run: a small synthetic store, `rmens run` on 2 ranks,
then the figures of the run.

Checks that plot_run.py prints the four figures' paths, and that each is a non-empty PNG
of the expected pixel size (read from its IHDR header: figure size x 110 dpi). Then, on a
copy of results.json without the fields older results lack (proxy_bon, calibration,
uncertainty.error_by_disagreement, the ablation's std_over_subsets), that it still
succeeds, notes each skipped figure or curve in one line on stderr, and writes the others;
that ensemble_size.png draws per aggregator error bars of exactly +- its std_over_subsets
figure at each k (the figure captured before it is saved) and its y labels say
"± 1 s.d. over subsets"; and that a directory without
results.json is a clear error. Then, on a store of the committed human-labelled pairs
(tests/data/real/hh_rlhf_harmless_use_tail, `rmens import`) and `rmens run configs/pairs.cfg`
(3 members, 10 epochs): that results.json has "pairs_test" and plot_run.py also writes
pairs_risk_coverage.png and pairs_reliability.png, images matplotlib reads back; the runs
without pairs_test above write neither. Expects RMENS, MPIRUN, SRCDIR (set by ctest).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

PYTHON = "/usr/bin/python3"
# name -> (width, height) in pixels. bon_vs_kl is two panels (golden | proxy-gold gap) when
# the results have proxy_bon, the golden panel alone when they do not.
EXPECTED = {"bon_vs_kl.png": (1364, 594), "ensemble_size.png": (1210, 528),
            "reliability.png": (726, 836), "uncertainty_vs_error.png": (814, 704)}
GOLDEN_ONLY = (770, 660)
# The evaluator's fields each figure (or curve) needs, as dotted paths into results.json.
FIELDS = {"bon_vs_kl.png": "aggregators.mean.proxy_bon", "reliability.png": "aggregators.mean.calibration.bins",
          "uncertainty_vs_error.png": "uncertainty.error_by_disagreement"}
MIN_BYTES = 15000  # a PNG of axes, labels and curves at these sizes; an empty canvas is ~5 kB
# The figures of a run on a pair store (results.json "pairs_test") and nothing else.
PAIRS_FIGURES = ("pairs_risk_coverage.png", "pairs_reliability.png")
PAIRS_MIN_BYTES = 10000

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)
    return ok


def run(cmd, what, **kw):
    """Run a command; on failure print its output and stop the test."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
        sys.exit(f"FAIL: {what} exited with {p.returncode}")
    return p


def png_size(path):
    """(width, height) from the PNG's IHDR chunk, or None if it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def has(tree, dotted):
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


def check_figures(printed, directory, expected):
    """plot_run.py printed exactly the `expected` figures of `directory`, all good PNGs."""
    paths = [line for line in printed.splitlines() if line.strip()]
    want = [os.path.join(directory, "figures", name) for name in expected]
    check(sorted(paths) == sorted(want), f"plot_run.py printed {paths}, expected {want}")
    for name, size in expected.items():
        path = os.path.join(directory, "figures", name)
        if not check(os.path.isfile(path), f"{path} missing"):
            continue
        check(os.path.getsize(path) > MIN_BYTES, f"{name}: only {os.path.getsize(path)} bytes")
        check(png_size(path) == size, f"{name}: {png_size(path)} pixels, expected {size}")


def strip_new_fields(results):
    """results.json as an evaluator without the issue-13 diagnostics (and without the
    ablation's spread over subsets, issue 30) wrote it."""
    for figures in list(results["aggregators"].values()) + [results["single"]]:
        figures.pop("proxy_bon", None)
        figures.pop("calibration", None)
    results["single"].get("std", {}).pop("proxy_bon", None)
    results.get("uncertainty", {}).pop("error_by_disagreement", None)
    for entry in results.get("ablation", {}).values():
        entry.pop("std_over_subsets", None)
    return results


def drawn_spread(analysis, results, work):
    """ensemble_size.png's panels as plot_run.py draws them for `results` (plots.finish kept
    from closing the figure): per panel its y label and, per error-bar set in drawing order,
    {k: half length of the bar at k} (x rounded back from the dodge)."""
    sys.path.insert(0, analysis)
    import plot_run
    import plots
    kept = []
    finish = plots.finish
    plots.finish = lambda fig, *a, **kw: kept.append(fig)
    try:
        plot_run.plot_ensemble_size(results, os.path.join(work, "unused.png"), "test")
    finally:
        plots.finish = finish
    panels = []
    for ax in kept[0].axes:
        bars = []
        for container in ax.containers:
            segments = container.lines[2][0].get_segments()  # the vertical bars: [[x, y - e], [x, y + e]]
            bars.append({round(float(seg[0][0])): (float(seg[1][1]) - float(seg[0][1])) / 2 for seg in segments})
        panels.append((ax.get_ylabel(), bars))
    return panels


def check_spread(analysis, results, work):
    """Both ensemble_size.png panels: one error-bar set per aggregator, each bar +- the
    aggregator's std_over_subsets figure at that k, and the y label saying so."""
    aggs = [a for a in ("mean", "min", "median") if a in results["aggregators"]] + \
        sorted(a for a in results["aggregators"] if a.startswith("uwo_"))
    n_max = max(int(n) for n in results["aggregators"]["mean"]["bon"])
    panels = drawn_spread(analysis, results, work)
    check(len(panels) == 2, f"ensemble_size.png has {len(panels)} panels")
    checked = 0
    for (label, bars), metric in zip(panels, ("bon", "spearman")):
        check("± 1 s.d. over subsets" in label, f"ensemble_size.png y label {label!r} does not name the spread")
        check(len(bars) == len(aggs), f"ensemble_size.png {metric}: {len(bars)} error-bar sets for {len(aggs)} aggregators")
        for a, drawn in zip(aggs, bars):
            for k, entry in results["ablation"].items():
                figures = entry["std_over_subsets"]["aggregators"][a]
                want = figures["bon"][str(n_max)] if metric == "bon" else figures["spearman"]
                got = drawn.get(int(k))
                if check(got is not None, f"ensemble_size.png {metric} {a}: no bar at k = {k}"):
                    check(abs(got - want) < 1e-9, f"ensemble_size.png {metric} {a} k = {k}: bar +-{got}, std {want}")
                    checked += 1
    check(checked > 0 and any(v > 0 for _, bars in panels for b in bars for v in b.values()),
          "ensemble_size.png: no non-zero error bar checked")


def readable_image(path):
    """(height, width) of the PNG as matplotlib reads it back, or the error it raises."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image
    try:
        return matplotlib.image.imread(path).shape[:2]
    except Exception as e:  # noqa: BLE001  (the message is the failure)
        return f"{type(e).__name__}: {e}"


def check_pairs_run(rmens, mpirun, src, plot_run, work, env):
    """A store of the committed human-labelled pairs, `rmens run configs/pairs.cfg` on it, and
    plot_run.py: the run's figures plus the two pair figures, each a PNG matplotlib reads."""
    data = os.path.join(src, "tests", "data", "real", "hh_rlhf_harmless_use_tail")
    store, out = os.path.join(work, "pairs.h5"), os.path.join(work, "pairs_run")
    arrays = [(f"--{split}-{part}", os.path.join(data, f"{split}_{stem}.npy"))
              for split in ("train", "test") for part, stem in (("chosen", "chosen"), ("rejected", "rejected"),
                                                                ("groups", "group"))]
    run([rmens, "import", *[a for pair in arrays for a in pair], "--output", store, "--float16"], "rmens import")
    sets = [f"store={store}", f"output={out}", "ensemble.members=3", "train.epochs=10", "parallel.blas_threads=1"]
    run([mpirun, "--oversubscribe", "--bind-to", "none", "-n", "2", rmens, "run",
         os.path.join(src, "configs", "pairs.cfg"), *[a for s in sets for a in ("--set", s)]], "rmens run (pairs)")
    with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    if not check("pairs_test" in results, "results.json of a run on a pair store has no pairs_test"):
        return
    p = subprocess.run([PYTHON, plot_run, out], capture_output=True, text=True, timeout=300, env=env)
    check(p.returncode == 0 and "Traceback" not in p.stderr,
          f"plot_run.py on the pair run exited with {p.returncode}: {p.stderr.strip()}")
    printed = [line for line in p.stdout.splitlines() if line.strip()]
    for name in PAIRS_FIGURES:
        path = os.path.join(out, "figures", name)
        check(path in printed, f"plot_run.py did not print {path}: {printed}")
        if not check(os.path.isfile(path), f"{path} missing"):
            continue
        check(os.path.getsize(path) > PAIRS_MIN_BYTES, f"{name}: only {os.path.getsize(path)} bytes")
        shape = readable_image(path)
        check(isinstance(shape, tuple) and min(shape) >= 300, f"{name}: matplotlib reads it back as {shape}")


def main():
    rmens, mpirun, src = os.environ["RMENS"], os.environ["MPIRUN"], os.environ["SRCDIR"]
    plot_run = os.path.join(src, "analysis", "plot_run.py")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    work = tempfile.mkdtemp(prefix="rmens_plot_run.")
    try:
        cfg = os.path.join(src, "configs", "demo.cfg")
        run_dir = os.path.join(work, "run")
        sets = [f"store={work}/store.h5", f"output={run_dir}", "synth.train_prompts=300", "synth.train_responses=6",
                "synth.test_prompts=30", "synth.test_responses=12", "synth.dim=24", "synth.bench_pairs=50",
                "model.hidden=[16,8]", "train.epochs=3", "train.batch_size=64", "pairs.count=1200",
                "ensemble.members=4", "parallel.blas_threads=1", "eval.bon_n=[1,2,3,5,12]", "eval.uwo_lambda=[0.5]",
                "eval.ablation_subsets=3"]
        sets = [a for s in sets for a in ("--set", s)]
        run([rmens, "synth", cfg, *sets, "--force"], "rmens synth")
        run([mpirun, "--oversubscribe", "--bind-to", "none", "-n", "2", rmens, "run", cfg, *sets, "--force"],
            "rmens run")

        with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
        for name, field in FIELDS.items():
            check(has(results, field), f"results.json has no {field} (for {name}): the evaluator's issue-13 "
                                       "diagnostics are not in this rmens")

        # The real run: all four figures.
        p = subprocess.run([PYTHON, plot_run, run_dir], capture_output=True, text=True, timeout=300, env=env)
        check(p.returncode == 0, f"plot_run.py exited with {p.returncode}: {p.stderr.strip()}")
        check_figures(p.stdout, run_dir, EXPECTED)
        check("skipped" not in p.stderr, f"plot_run.py skipped parts of a full run: {p.stderr.strip()}")
        check_spread(os.path.join(src, "analysis"), results, work)

        # Older results: the figures they have fields for, a one-line note for each skipped one.
        old_dir = os.path.join(work, "old")
        os.makedirs(old_dir)
        with open(os.path.join(old_dir, "results.json"), "w", encoding="utf-8") as f:
            json.dump(strip_new_fields(results), f)
        p = subprocess.run([PYTHON, plot_run, old_dir], capture_output=True, text=True, timeout=300, env=env)
        check(p.returncode == 0, f"plot_run.py on older results exited with {p.returncode}: {p.stderr.strip()}")
        check("Traceback" not in p.stderr, f"plot_run.py on older results: {p.stderr.strip()}")
        check_figures(p.stdout, old_dir, {"bon_vs_kl.png": GOLDEN_ONLY, "ensemble_size.png": EXPECTED["ensemble_size.png"]})
        notes = [line for line in p.stderr.splitlines() if line.strip()]
        check(len(notes) == 4 and all(line.startswith("plot_run: ") and "skipped" in line for line in notes),
              f"expected 4 one-line notes (proxy panel, spread over subsets, reliability, uncertainty), got {notes}")
        for name in ("reliability.png", "uncertainty_vs_error.png"):
            check(not os.path.exists(os.path.join(old_dir, "figures", name)), f"{name} drawn without its fields")

        # Results without pairs_test (the synthetic run, the older results): no pair figure.
        for directory in (run_dir, old_dir):
            for name in PAIRS_FIGURES:
                check(not os.path.exists(os.path.join(directory, "figures", name)),
                      f"{name} drawn for {os.path.basename(directory)} (results without pairs_test)")

        check_pairs_run(rmens, mpirun, src, plot_run, work, env)

        # No results at all: an error naming the file, no figure.
        empty = os.path.join(work, "empty")
        os.makedirs(empty)
        p = subprocess.run([PYTHON, plot_run, empty], capture_output=True, text=True, timeout=60, env=env)
        check(p.returncode == 1 and "results.json" in p.stderr and "Traceback" not in p.stderr,
              f"plot_run.py without results.json: status {p.returncode}, stderr {p.stderr.strip()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"test_plot_run: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("test_plot_run: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
