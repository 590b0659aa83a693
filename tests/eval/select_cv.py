#!/usr/bin/python3
"""`rmens select` end to end (include/rmens/eval/select.h, src/eval/select.c).

A small synthetic store (300 train prompts x 8 responses, D = 16), within-prompt pairs,
every pair of every prompt (pairs.sampling "prompts", count = per_prompt = 0), a perfect
annotator. The grid is "train.learning_rate: 1e-7 | 0.003" x "train.checkpoint_minutes:
10.0 | 20.0": the first learning rate cannot learn in a few epochs (pair accuracy ~0.5),
the second can, and the checkpoint interval changes nothing, so points 2 and 3 tie exactly
and the earlier (2) must win. The config's own values (learning rate 0.0005, checkpoint
every 15 minutes) are neither, so the final run's merged config shows what was chosen.

mode "main" (the default):
  - select.json: metric, folds, members, the grid in order (first axis slowest) with the
    values as written; every fold_scores has `folds` entries in (0, 1), each a multiple of
    1 / (2 x the fold's pairs) (3 folds of 100 prompts x 28 pairs); mean and std (ddof = 1)
    recomputed with numpy; the choice is the first point of the largest mean (the tie),
    its settings and mean those of the grid's entry; the bad point clearly below the good;
  - the printed table: one row per point, its mean as in select.json, one '*' on the
    chosen row; the "[select]" progress lines carry an ETA;
  - 1 and 2 MPI ranks: select.json identical but for provenance's "ranks", members.h5's
    weights and results.json identical (but for provenance);
  - the final run: members.h5 and results.h5 root attribute `config` hold the chosen
    learning rate and checkpoint interval; results.json exists; members.h5's weights are
    bitwise those of `rmens run` with the chosen values given by --set;
  - the held-out fold is not trained on: on a store of pure-noise embeddings (rmens
    import) a model that memorises (training loss < 0.3) scores each fold within 0.05 of
    0.5 (0.96 when the fold's pairs are trained on);
  - the test split is not read by the cross-validation: a second store from the same synth
    seed with another test_prompts count (its train split checked identical with h5py)
    gives the same grid and choice;
  - refusals (1 or 2 ranks), each exit != 0 with one error line naming the key and no
    select.json (nor output directory) left: an axis varying `seed`; an axis without ':';
    an unknown key; select.folds above the train prompts (a store of 20); select.folds of
    the wrong type; an existing select.json without --force (left byte for byte, and the
    members.h5 beside it untouched).

mode "val_split": select.h says each fold's members train on the pairs "minus every pair
  touching fold f (its own train.val_split then applies to the rest)". With the default
  train.val_split = "pairs" train.val_fraction must then change the fold scores (fewer
  training pairs, early stopping on the validation pairs) as it does with "entries" and
  "prompts".

Expects RMENS, MPIRUN, SRCDIR (set by ctest).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

failures = []
FOLDS = 3
TRAIN_PROMPTS = 300
K = 8
GRID = ["train.learning_rate: 1e-7 | 0.003", "train.checkpoint_minutes: 10.0 | 20.0"]
POINTS = [{"train.learning_rate": lr, "train.checkpoint_minutes": cm}
          for lr in ("1e-7", "0.003") for cm in ("10.0", "20.0")]
CHOSEN = 2  # 0.003 with 10.0; point 3 ties with it


def check(ok, message):
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)
    return ok


def config_text(store, output, grid=GRID, extra=""):
    grid_text = ", ".join(json.dumps(a) for a in grid)
    return f"""# tests/eval/select_cv.py
store = "{store}";
output = "{output}";
seed = 5;
synth = {{ train_prompts = {TRAIN_PROMPTS}; train_responses = {K}; test_prompts = 40; test_responses = {K};
          dim = 16; topics = 8; bench_pairs = 0; seed = 4321; }};
pairs = {{ mode = "within_prompt"; sampling = "prompts"; count = 0; per_prompt = 0; annotator_beta = -1.0; }};
model = {{ hidden = [8]; }};
train = {{ epochs = 4; batch_size = 256; learning_rate = 0.0005; checkpoint_minutes = 15.0; patience = 0; }};
ensemble = {{ members = 2; }};
parallel = {{ blas_threads = 1; }};
eval = {{ bon_n = [1, 2, 4, 8]; uwo_lambda = [0.5]; ablation_subsets = 2; calibration_pairs = 0; }};
select = {{ grid = [{grid_text}]; folds = {FOLDS}; members = 2; }};
{extra}
"""


class Env:
    def __init__(self):
        self.rmens, self.mpirun = os.environ["RMENS"], os.environ["MPIRUN"]
        self.work = tempfile.mkdtemp(prefix="rmens_select_cv.")

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def cmd(self, ranks, *args):
        if ranks == 1:
            return [self.rmens, *args]
        return [self.mpirun, "--oversubscribe", "--bind-to", "none", "-n", str(ranks), self.rmens, *args]

    def run(self, ranks, *args, what, ok=True):
        p = subprocess.run(self.cmd(ranks, *args), capture_output=True, text=True, timeout=300)
        if ok and p.returncode != 0:
            print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
            sys.exit(f"FAIL: {what} exited with {p.returncode}")
        return p

    def write_config(self, name, *a, **kw):
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(config_text(*a, **kw))
        return path

    def synth(self, cfg, store, *sets):
        self.run(1, "synth", cfg, "--set", f'store="{store}"', *[x for s in sets for x in ("--set", s)], "--force",
                 what=f"rmens synth {os.path.basename(store)}")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def weights(members_h5):
    out = {}
    with h5py.File(members_h5, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) and "/layer_" in n else None)
    return out


def config_value(text, key):
    m = re.search(rf"^\s*{re.escape(key)}\s*=\s*([^;]+);", text, re.M)
    return m.group(1).strip() if m else None


def attr_text(path):
    with h5py.File(path, "r") as f:
        v = f.attrs["config"]
    return v.decode() if isinstance(v, bytes) else str(v)


def check_select_json(sel, label):
    check(sel.get("metric") == "within_prompt_pair_accuracy", f"{label}: metric {sel.get('metric')}")
    check(sel.get("folds") == FOLDS and sel.get("members") == 2, f"{label}: folds {sel.get('folds')} members {sel.get('members')}")
    grid = sel.get("grid", [])
    check([g.get("settings") for g in grid] == POINTS, f"{label}: grid settings {[g.get('settings') for g in grid]}, expected {POINTS}")
    if len(grid) != len(POINTS):
        return
    pairs_per_fold = (TRAIN_PROMPTS // FOLDS) * K * (K - 1) // 2
    means = []
    for i, g in enumerate(grid):
        fs = np.array(g["fold_scores"], dtype=np.float64)
        check(len(fs) == FOLDS, f"{label}: point {i}: {len(fs)} fold scores, expected {FOLDS}")
        check(bool(np.all((fs > 0) & (fs < 1))), f"{label}: point {i}: fold scores {fs.tolist()} not all in (0, 1)")
        halves = fs * 2 * pairs_per_fold
        check(bool(np.all(np.abs(halves - np.round(halves)) < 1e-6)),
              f"{label}: point {i}: fold scores {fs.tolist()} are not counts of half pairs over {pairs_per_fold} pairs")
        mean, std = float(np.mean(fs)), float(np.std(fs, ddof=1))
        check(abs(g["mean"] - mean) <= 1e-12, f"{label}: point {i}: mean {g['mean']} vs numpy {mean}")
        check(abs(g["std"] - std) <= 1e-12, f"{label}: point {i}: std {g['std']} vs numpy (ddof=1) {std}")
        means.append(g["mean"])
    # the grid must discriminate, and the tie must be a tie, or the choice checks prove nothing
    check(means[2] > means[0] + 0.1 and means[3] > means[1] + 0.1,
          f"{label}: the good learning rate is not clearly better: means {means}")
    check(grid[2]["fold_scores"] == grid[3]["fold_scores"],
          f"{label}: train.checkpoint_minutes changed the fold scores: {grid[2]['fold_scores']} vs {grid[3]['fold_scores']}")
    best = int(np.argmax(means))  # the first of the largest
    ch = sel.get("choice", {})
    check(best == CHOSEN, f"{label}: numpy's first best point is {best}, expected {CHOSEN}: means {means}")
    check(ch.get("index") == best, f"{label}: choice index {ch.get('index')}, expected {best} (means {means})")
    check(ch.get("mean") == max(means) == grid[best]["mean"], f"{label}: choice mean {ch.get('mean')} vs max {max(means)}")
    check(ch.get("settings") == grid[best]["settings"], f"{label}: choice settings {ch.get('settings')}")


def check_output(stdout, sel, label):
    rows = re.findall(r"^  ([ *]) +(\d+)  (\S+) \+- (\S+)  (.*)$", stdout, re.M)
    check(len(rows) == len(POINTS), f"{label}: {len(rows)} table rows, expected {len(POINTS)}:\n{stdout}")
    starred = [int(r[1]) for r in rows if r[0] == "*"]
    check(starred == [sel["choice"]["index"]], f"{label}: '*' on rows {starred}, choice {sel['choice']['index']}")
    for star, idx, mean, _, _ in rows:
        i = int(idx)
        check(i < len(sel["grid"]) and abs(float(mean) - sel["grid"][i]["mean"]) < 6e-5,
              f"{label}: table row {i} mean {mean} vs select.json")
    progress = [l for l in stdout.splitlines() if l.startswith("[select] rank 0:")]
    check(progress and all("ETA" in l for l in progress), f"{label}: progress lines without ETA: {progress}")


def refused(env, cfg, sets, key, label, output, ranks=2):
    """exit != 0, one error line naming key, no select.json; returns the process."""
    args = ["select", cfg, *[x for s in sets for x in ("--set", s)]]
    p = env.run(ranks, *args, what=label, ok=False)
    lines = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l and "rmens" in l]
    check(p.returncode != 0, f"{label}: exit 0, expected a refusal")
    check(len(lines) == 1 and key in lines[0], f"{label}: expected one error line naming {key!r}, got {lines}")
    check(not os.path.exists(os.path.join(output, "select.json")), f"{label}: select.json written")
    return p


def main_mode(env):
    store, store_b, tiny = env.path("store.h5"), env.path("store_b.h5"), env.path("tiny.h5")
    cfg = env.write_config("select.cfg", store, env.path("run1"))
    env.synth(cfg, store)
    env.synth(cfg, store_b, "synth.test_prompts=25")
    env.synth(cfg, tiny, "synth.train_prompts=20")

    out = {}
    for ranks in (1, 2):
        run_dir = env.path(f"run{ranks}")
        p = env.run(ranks, "select", cfg, "--set", f'output="{run_dir}"', what=f"rmens select on {ranks} rank(s)")
        sel = load(os.path.join(run_dir, "select.json"))
        check(sel.get("provenance", {}).get("ranks") == ranks, f"{ranks} rank(s): provenance ranks {sel.get('provenance')}")
        check_select_json(sel, f"{ranks} rank(s)")
        if "choice" in sel and len(sel.get("grid", [])) == len(POINTS):
            check_output(p.stdout, sel, f"{ranks} rank(s)")
        out[ranks] = sel
    strip = lambda r: {k: ({a: b for a, b in v.items() if a != "ranks"} if k == "provenance" else v)  # noqa: E731
                       for k, v in r.items()}
    check(strip(out[1]) == strip(out[2]), "select.json differs between 1 and 2 ranks (provenance ranks aside)")
    w1, w2 = weights(env.path("run1", "members.h5")), weights(env.path("run2", "members.h5"))
    check(len(w1) > 0 and w1.keys() == w2.keys() and all(np.array_equal(w1[k], w2[k]) for k in w1),
          "members.h5 weights differ between 1 and 2 ranks")
    res = {n: load(env.path(f"run{n}", "results.json")) for n in (1, 2)}
    check({k: v for k, v in res[1].items() if k != "provenance"} == {k: v for k, v in res[2].items() if k != "provenance"},
          "results.json differs between 1 and 2 ranks (provenance aside)")

    # the final run records and uses the chosen values
    for f in ("members.h5", "results.h5"):
        text = attr_text(env.path("run1", f))
        lr, cm = config_value(text, "learning_rate"), config_value(text, "checkpoint_minutes")
        check(lr is not None and float(lr) == 0.003 and cm is not None and float(cm) == 10.0,
              f"{f} config: learning_rate {lr}, checkpoint_minutes {cm}; expected the chosen 0.003 and 10.0")
    check(os.path.isfile(env.path("run1", "results.json")), "no results.json after rmens select")
    plain = env.path("plain")
    env.run(1, "run", cfg, "--set", f'output="{plain}"', "--set", "train.learning_rate=0.003",
            "--set", "train.checkpoint_minutes=10.0", what="rmens run with the chosen values")
    wp = weights(os.path.join(plain, "members.h5"))
    check(wp.keys() == w1.keys() and all(np.array_equal(wp[k], w1[k]) for k in w1),
          "rmens select's members differ from rmens run's with the chosen values")

    # the cross-validation does not read the test split
    with h5py.File(store, "r") as a, h5py.File(store_b, "r") as b:
        same_train = all(np.array_equal(a[f"train/{d}"][()], b[f"train/{d}"][()]) for d in ("embeddings", "rewards"))
        other_test = a["test/rewards"].shape != b["test/rewards"].shape
    check(other_test, "the second store's test split has the same shape: the check below proves nothing")
    if same_train:
        run_b = env.path("run_b")
        env.run(1, "select", cfg, "--set", f'store="{store_b}"', "--set", f'output="{run_b}"',
                what="rmens select on the store with another test split")
        sel_b = load(os.path.join(run_b, "select.json"))
        check(sel_b.get("grid") == out[1].get("grid") and sel_b.get("choice") == out[1].get("choice"),
              "select.json's grid or choice changes with the store's test split")
    else:
        # synth's train split would depend on test_prompts: no store isolates the test split
        print("select_cv: synth's train split depends on test_prompts; test-split independence not checked")

    # the held-out fold is held out: on embeddings of pure noise a model that memorises its
    # training pairs (the final run's training loss shows it does) scores ~0.5 on new prompts,
    # and far above that on prompts it trained on
    noise, run_n = env.path("noise.h5"), env.path("run_noise")
    rng = np.random.default_rng(2024)
    npy = {}
    for split, n in (("train", TRAIN_PROMPTS), ("test", 10)):
        for what, shape in (("emb", (n, K, 48)), ("rew", (n, K))):
            npy[split, what] = env.path(f"noise_{split}_{what}.npy")
            np.save(npy[split, what], rng.normal(size=shape).astype(np.float32))
    env.run(1, "import", "--train-embeddings", npy["train", "emb"], "--train-rewards", npy["train", "rew"],
            "--test-embeddings", npy["test", "emb"], "--test-rewards", npy["test", "rew"], "--output", noise,
            what="rmens import of the noise store")
    env.run(1, "select", cfg, "--set", f'store="{noise}"', "--set", f'output="{run_n}"', "--set", "model.hidden=[128]",
            "--set", "train.epochs=30", "--set", "train.learning_rate=0.003", "--set", 'select.grid=["train.l2: 0.0"]',
            "--set", "select.members=1", "--set", "ensemble.members=1", what="rmens select on the noise store")
    scores = load(os.path.join(run_n, "select.json"))["grid"][0]["fold_scores"]
    with h5py.File(os.path.join(run_n, "members.h5"), "r") as f:
        loss = float(f["member_0/history/train_loss"][-1])
    check(loss < 0.3, f"noise store: the final member's training loss {loss}: it does not memorise, the check proves nothing")
    check(all(abs(x - 0.5) < 0.05 for x in scores),
          f"noise store: fold scores {scores}, expected ~0.5: the held-out prompts' pairs were trained on")

    # refusals: nothing written
    ref = env.path("refused")
    o = f'output="{ref}"'
    # (a refused mpirun takes ~2.5 s to wind down: the checks made before the store opens
    # run on 1 rank, those after it and the rank-0 file check on 2)
    for ranks, sets, key, label in (
            (2, [o, 'select.grid=["seed: 1 | 2"]'], "'seed'", "an axis varying seed"),
            (1, [o, 'select.grid=["train.learning_rate 1e-7 | 0.003"]'], "select.grid", "an axis without ':'"),
            (1, [o, 'select.grid=["train.learning_rat: 1e-7 | 0.003"]'], "train.learning_rat", "an unknown key"),
            (1, [o, 'select.folds="3"'], "select.folds", "select.folds of the wrong type"),
            (2, [o, f'store="{tiny}"', "select.folds=30"], "select.folds", "select.folds above the train prompts")):
        refused(env, cfg, sets, key, label, ref, ranks)
        check(not os.path.exists(ref), f"{label}: the output directory was left behind: {os.listdir(ref) if os.path.isdir(ref) else ref}")
        shutil.rmtree(ref, ignore_errors=True)
    run1 = env.path("run1")
    before = {f: (open(os.path.join(run1, f), "rb").read(), os.stat(os.path.join(run1, f)).st_mtime_ns)
              for f in ("select.json", "members.h5")}
    p = env.run(2, "select", cfg, "--set", f'output="{run1}"', what="select without --force", ok=False)
    lines = [l for l in (p.stdout + p.stderr).splitlines() if "error" in l and "rmens" in l]
    check(p.returncode != 0, "an existing select.json without --force: exit 0")
    check(len(lines) == 1 and "select.json" in lines[0] and "--force" in lines[0],
          f"an existing select.json: expected one error line naming select.json and --force, got {lines}")
    after = {f: (open(os.path.join(run1, f), "rb").read(), os.stat(os.path.join(run1, f)).st_mtime_ns) for f in before}
    check(after == before, "a refused select touched select.json or members.h5")


def val_split_mode(env):
    store = env.path("store.h5")
    grid = ["train.val_split: \"pairs\" | \"entries\" | \"prompts\"", "train.val_fraction: 0.1 | 0.5"]
    cfg = env.write_config("select.cfg", store, env.path("run"), grid=grid)
    env.synth(cfg, store)
    env.run(1, "select", cfg, "--set", "ensemble.members=1", "--set", "select.members=1", what="rmens select")
    g = load(env.path("run", "select.json"))["grid"]
    by = {(p["settings"]["train.val_split"], p["settings"]["train.val_fraction"]): p["fold_scores"] for p in g}
    for split in ('"entries"', '"prompts"'):  # the check's premise: val_fraction matters there
        check(by[(split, "0.1")] != by[(split, "0.5")], f"val_split {split}: val_fraction does not change the fold scores")
    pairs_01, pairs_05 = by[('"pairs"', "0.1")], by[('"pairs"', "0.5")]
    check(pairs_01 != pairs_05,
          'train.val_split = "pairs": train.val_fraction 0.1 and 0.5 give identical fold scores '
          f"{pairs_01}: the cross-validation's members get no validation pairs")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "main"
    env = Env()
    try:
        {"main": main_mode, "val_split": val_split_mode}[mode](env)
    finally:
        shutil.rmtree(env.work, ignore_errors=True)
    if failures:
        print(f"select_cv {mode}: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"select_cv {mode}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
