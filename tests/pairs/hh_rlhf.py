#!/usr/bin/python3
"""Issue 29's acceptance on real human labels: the committed hh-rlhf harmless pairs.

tests/data/real/hh_rlhf_harmless_use_tail (1 850 train / 462 test chosen/rejected pairs of
Anthropic hh-rlhf harmless-base, split 80/20 by dialogue, USE-lite D 512 float16, group ids)
is imported with `rmens import --train-chosen ...`, then:
  1. `rmens run configs/pairs.cfg` on 1, 2 and 3 ranks: members.h5 and every pairs_test
     figure bitwise identical;
  2. every pairs_test figure recomputed from results.h5's saved scores with numpy and
     scikit-learn (tests/pairs/check_pairs_test.py);
  3. the mean ensemble's held-out accuracy reaches scikit-learn's LogisticRegression on
     chosen - rejected (C chosen by dialogue-grouped CV on the train pairs,
     tests/pairs/lr_baseline.py) minus 0.01, and beats "the shorter reply wins";
  4. pairs.label_flip on top of the human labels flips that share of them;
  5. refusals, one line each naming the key or file: the pair design keys with
     pairs.source = "store", pairs.source = "golden" on a store of pairs alone, a store
     without pairs under "store", eval with a config whose pairs.source differs from the
     members';
  6. rmens select on the stored pairs (folds keep a dialogue's pairs together).
Expects RMENS, MPIRUN, SRCDIR (set by ctest)."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

RMENS = os.environ["RMENS"]
MPIRUN = os.environ.get("MPIRUN", "mpirun")
SRC = os.environ["SRCDIR"]
PY = sys.executable
DATA = os.path.join(SRC, "tests", "data", "real", "hh_rlhf_harmless_use_tail")
CFG = os.path.join(SRC, "configs", "pairs.cfg")
HERE = os.path.dirname(os.path.abspath(__file__))
MARGIN = 0.01
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def rmens(args, ranks=1, expect_ok=True):
    cmd = [MPIRUN, "-n", str(ranks), "--oversubscribe", "--bind-to", "none", RMENS] + args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def refused(args, needle, what):
    p = rmens(args, expect_ok=False)
    errors = [line for line in (p.stdout + p.stderr).splitlines() if "error" in line.lower()]
    check(p.returncode != 0 and any(needle in line for line in errors) and len(errors) <= 2,
          f"refused: {what} (exit {p.returncode}: {errors[:2]})")


work = tempfile.mkdtemp(prefix="rmens_pairs_")
store = os.path.join(work, "store.h5")
files = {k: os.path.join(DATA, f"{k.replace('-', '_')}.npy") for k in
         ["train-chosen", "train-rejected", "test-chosen", "test-rejected"]}
imp = ["import", "--output", store, "--float16"]
for k, v in files.items():
    imp += [f"--{k}", v]
imp += ["--train-groups", os.path.join(DATA, "train_group.npy"), "--test-groups", os.path.join(DATA, "test_group.npy")]
rmens(imp)

# 1. ranks
runs = {}
for ranks in (1, 2, 3):
    out = os.path.join(work, f"run{ranks}")
    rmens(["run", CFG, "--set", f'store="{store}"', "--set", f'output="{out}"', "--set",
           f"parallel.blas_threads={ranks % 2 + 1}"], ranks)
    runs[ranks] = out
p = subprocess.run([PY, os.path.join(SRC, "tests", "ensemble", "compare_members.py")] +
                   [os.path.join(runs[r], "members.h5") for r in (1, 2, 3)], capture_output=True, text=True)
check(p.returncode == 0, "members.h5 bitwise identical on 1, 2, 3 ranks " + p.stdout.strip()[-200:] + p.stderr.strip()[-500:])
tests = [json.load(open(os.path.join(runs[r], "results.json")))["pairs_test"] for r in (1, 2, 3)]
check(tests[0] == tests[1] == tests[2], "results.json pairs_test identical on 1, 2, 3 ranks")
zs = [h5py.File(os.path.join(runs[r], "results.h5"), "r")["pairs_test/z"][()] for r in (1, 2, 3)]
check(all(np.array_equal(z.view(np.uint32), zs[0].view(np.uint32)) for z in zs), "results.h5 /pairs_test/z identical")
with h5py.File(os.path.join(runs[1], "members.h5"), "r") as f:
    a = dict(f.attrs)
    check(a.get("pairs_source") in (b"store", "store"), f"members.h5 pairs_source = store ({a.get('pairs_source')})")
    check(a["n_pairs"] == 1850 and a["label_agreement"] == 1.0, f"every stored pair, as labelled ({a['n_pairs']}, {a['label_agreement']})")
    check(a["val_split"] in (b"prompts", "prompts") and 0 < a["n_val_pairs"] < 400,
          f"validation on held-out dialogues: {a['n_val_pairs']} pairs")

# 2. every figure from the saved scores
p = subprocess.run([PY, os.path.join(HERE, "check_pairs_test.py"), runs[1]], capture_output=True, text=True)
print(p.stdout.strip())
check(p.returncode == 0, "pairs_test recomputed with numpy and scikit-learn " + p.stderr[-1500:])

# 3. against the baselines
base_json = os.path.join(work, "baselines.json")
p = subprocess.run([PY, os.path.join(HERE, "lr_baseline.py"), DATA, "--json", base_json], capture_output=True, text=True)
check(p.returncode == 0, "lr_baseline.py ran " + p.stderr[-500:])
base = json.load(open(base_json))
t = tests[0]
mean = t["aggregators"]["mean"]["accuracy"]
print(f"held-out accuracy on {t['n']} pairs: single {t['single']['accuracy']:.4f} +- {t['single']['accuracy_std']:.4f}, "
      f"mean {mean:.4f}, min {t['aggregators']['min']['accuracy']:.4f}, uwo_0.5 {t['aggregators']['uwo_0.5']['accuracy']:.4f}; "
      f"logistic probe (C {base['lr']['C']:.3g}) {base['lr']['test_accuracy']:.4f}, shorter wins {base['shorter_wins']:.4f}")
print(f"ECE mean {t['aggregators']['mean']['calibration']['ece']:.4f}, single {t['single']['calibration']['ece']:.4f}; "
      f"selective accuracy 20/50/100 %: {t['selective']['accuracy'][1]:.4f} {t['selective']['accuracy'][4]:.4f} "
      f"{t['selective']['accuracy'][9]:.4f}; disagreement AUROC {t['disagreement_auroc']:.4f}")
check(mean >= base["lr"]["test_accuracy"] - MARGIN, f"mean ensemble {mean:.4f} >= probe {base['lr']['test_accuracy']:.4f} - {MARGIN}")
check(mean > base["shorter_wins"], f"mean ensemble {mean:.4f} > shorter reply wins {base['shorter_wins']:.4f}")

# 4. label noise on top of the human labels
out = os.path.join(work, "flip")
rmens(["train", CFG, "--set", f'store="{store}"', "--set", f'output="{out}"', "--set", "pairs.label_flip=0.25"])
with h5py.File(os.path.join(out, "members.h5"), "r") as f:
    rate = f.attrs["label_flip_rate"]
    check(abs(rate - 0.25) < 0.04 and abs(f.attrs["label_agreement"] - (1 - rate)) < 1e-12,
          f"pairs.label_flip = 0.25 flips {rate:.4f} of the human labels")

# 5. refusals
base_args = ["train", CFG, "--set", f'store="{store}"', "--set", f'output="{os.path.join(work, "bad")}"', "--force"]
refused(base_args + ["--set", 'pairs.mode="cross_prompt"'], "pairs.mode", "pairs.mode with pairs.source = store")
refused(base_args + ["--set", "pairs.annotator_beta=1.0"], "pairs.annotator_beta", "a simulated annotator on human labels")
refused(base_args + ["--set", 'pairs.source="golden"'], "pairs.source", "a store of pairs alone under pairs.source = golden")
refused(["eval", CFG, "--set", f'store="{store}"', "--set", f'output="{runs[1]}"', "--force", "--set", "pairs.label_flip=0.1",
         "--set", 'pairs.source="golden"'], "pairs.source", "eval with another pairs.source than the members'")

# 6. rmens select on stored pairs: dialogue-grouped folds of the train pairs
out = os.path.join(work, "select")
rmens(["select", CFG, "--set", f'store="{store}"', "--set", f'output="{out}"', "--set",
       'select.grid=["train.l2: 0.001 | 0.004 | 0.03"]', "--set", "select.folds=5", "--set", "select.members=2"])
sel = json.load(open(os.path.join(out, "select.json")))
check(len(sel["grid"]) == 3 and all(len(p["fold_scores"]) == 5 for p in sel["grid"])
      and sel["choice"]["settings"]["train.l2"] in ("0.001", "0.004", "0.03"),
      f"rmens select on stored pairs: 3 points x 5 dialogue-grouped folds, chose train.l2 = "
      f"{sel['choice']['settings']['train.l2']} (mean {sel['choice']['mean']:.4f})")
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
print("hh_rlhf pairs: all checks passed")
