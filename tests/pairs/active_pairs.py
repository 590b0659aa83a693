#!/usr/bin/python3
"""rmens active on a pool of stored human-labelled pairs (issue 29, item 4).

The committed hh-rlhf harmless pairs are imported; the pool is every train pair
(active.pool = 1 850, pairs.source = "store"), every round is evaluated on /pairs/test
(its pair_accuracy is the accuracy against the human label). For each of the seven
strategies:
  1. active.h5 is identical (outside /run) on 1 and 2 ranks;
  2. labels are used only once selected: the train pairs no round selected get their
     chosen and rejected replies swapped (their human label reversed) in a second store,
     and the run on it gives the same active.h5 - selections, criteria, members' figures.
     Which stored pair a pool index is comes from the production pair builder
     (tests/member/pairs_dump.c with the same pairs.* settings);
and for one strategy a run killed (SIGKILL) after a round's state was saved continues with
--resume to the uninterrupted run's active.h5 and members.h5.
Under the sanitizers (RMENS_SANITIZER_BUILD, tests/run.sh's second pass, which hunts memory
and UB errors and needs each code path once): two strategies instead of seven, bald (the
pointwise criteria on the scored pool of stored pairs) and past_dopt (D-optimal on the pool
pairs' features, the labelled set gathered, warm starts), on 1 and 2 ranks; random selects
without scoring, and each strategy's own code runs in that pass in
tests/active/ranks_identical.sh. The reversed-label check once (past_dopt), the resume after
SIGKILL as in the main pass.
usage: active_pairs.py PAIRS_DUMP   (RMENS, MPIRUN, SRCDIR from ctest)"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

RMENS = os.environ["RMENS"]
MPIRUN = os.environ.get("MPIRUN", "mpirun")
SRC = os.environ["SRCDIR"]
PY = sys.executable
DUMP = sys.argv[1]
DATA = os.path.join(SRC, "tests", "data", "real", "hh_rlhf_harmless_use_tail")
CFG = os.path.join(SRC, "configs", "pairs.cfg")
STRATEGIES = ["random", "entropy", "disagreement", "bald", "levelset", "dopt", "past_dopt"]
POISONED = STRATEGIES  # the strategies whose rounds are rerun on the reversed labels
if os.environ.get("RMENS_SANITIZER_BUILD"):  # the code paths once (see above)
    STRATEGIES, POISONED = ["bald", "past_dopt"], ["past_dopt"]
ACTIVE = ["--set", "active.pool=1850", "--set", "active.initial=200", "--set", "active.batch=150", "--set",
          "active.rounds=2", "--set", "train.batch_size=64", "--set", "train.epochs=40", "--set", "ensemble.members=3"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def mpi(ranks):
    return [MPIRUN, "-n", str(ranks), "--oversubscribe", "--bind-to", "none"]


def rmens(args, ranks=1):
    p = subprocess.run(mpi(ranks) + [RMENS] + args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: rmens {' '.join(args)}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def same_active(a, b):
    p = subprocess.run([PY, os.path.join(SRC, "tests", "active", "compare_active.py"), a, b], capture_output=True, text=True)
    return p.returncode == 0, (p.stdout + p.stderr).strip()[-600:]


def import_store(src_dir, out):
    args = ["import", "--output", out, "--float16", "--force"]
    for opt in ["train-chosen", "train-rejected", "test-chosen", "test-rejected"]:
        args += [f"--{opt}", os.path.join(src_dir, opt.replace("-", "_") + ".npy")]
    args += ["--train-groups", os.path.join(src_dir, "train_group.npy"), "--test-groups",
             os.path.join(src_dir, "test_group.npy")]
    rmens(args)


def active_args(store, out, strategy, extra=()):
    warm = "true" if strategy == "past_dopt" else "false"
    return (["active", CFG, "--set", f'store="{store}"', "--set", f'output="{out}"', "--force", "--set",
             f'active.strategy="{strategy}"', "--set", f"active.warm_start={warm}"] + ACTIVE + list(extra))


def pool_pairs():
    """Stored pair of every pool index: the production builder with the active run's pool
    settings (pairs.count = active.pool, no validation split)."""
    prefix = os.path.join(work, "pool")
    p = subprocess.run(mpi(1) + [DUMP, prefix, "1850", "2", 'pairs.source="store"', "pairs.count=1850",
                                 "train.val_fraction=0", "seed=1"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: pairs_dump\n{p.stdout}\n{p.stderr}")
    raw = open(prefix + ".rank0.bin", "rb").read()
    N, K, n, _ = np.frombuffer(raw, np.uint64, 4)
    at = 32 + 24 + 4 * int(N * K)
    winner = np.frombuffer(raw, np.uint32, int(n), at)
    loser = np.frombuffer(raw, np.uint32, int(n), at + 4 * int(n))
    assert np.array_equal(winner // 2, loser // 2), "a pool pair spans two stored pairs"
    return winner // 2


work = tempfile.mkdtemp(prefix="rmens_active_pairs_")
store = os.path.join(work, "store.h5")
import_store(DATA, store)
pool = pool_pairs()
check(sorted(pool.tolist()) == list(range(1850)), "the pool is every stored train pair once")

import h5py  # noqa: E402  (after the runs that do not need it)
used = {}
for strategy in STRATEGIES:
    outs = {}
    for ranks in (1, 2):
        outs[ranks] = os.path.join(work, f"{strategy}_{ranks}")
        rmens(active_args(store, outs[ranks], strategy), ranks)
    ok, why = same_active(os.path.join(outs[1], "active.h5"), os.path.join(outs[2], "active.h5"))
    check(ok, f"{strategy}: active.h5 identical on 1 and 2 ranks {'' if ok else why}")
    with h5py.File(os.path.join(outs[1], "active.h5"), "r") as f:
        selected = np.concatenate([f[f"round_{r}/selected"][()] for r in range(3)])
    used[strategy] = set(pool[selected].tolist())

# the poisoned stores, at the clean store's path (its path is recorded): every pair no round
# selected has its label reversed
poisoned_dir = os.path.join(work, "poisoned")
os.makedirs(poisoned_dir)
for name in os.listdir(DATA):
    if name.endswith(".npy"):
        shutil.copy(os.path.join(DATA, name), poisoned_dir)
chosen = np.load(os.path.join(DATA, "train_chosen.npy"))
rejected = np.load(os.path.join(DATA, "train_rejected.npy"))
for strategy in POISONED:
    flip = np.array([q not in used[strategy] for q in range(len(chosen))])
    new_chosen, new_rejected = chosen.copy(), rejected.copy()
    new_chosen[flip], new_rejected[flip] = rejected[flip], chosen[flip]
    np.save(os.path.join(poisoned_dir, "train_chosen.npy"), new_chosen)
    np.save(os.path.join(poisoned_dir, "train_rejected.npy"), new_rejected)
    import_store(poisoned_dir, store)
    out = os.path.join(work, f"{strategy}_poisoned")
    rmens(active_args(store, out, strategy))
    ok, why = same_active(os.path.join(work, f"{strategy}_1", "active.h5"), os.path.join(out, "active.h5"))
    with h5py.File(os.path.join(out, "active.h5"), "r") as f:
        acc = [f[f"round_{r}/aggregators/mean"].attrs["pair_accuracy"] for r in range(3)]
    check(ok, f"{strategy}: {int(flip.sum())} unselected labels reversed, the same rounds "
              f"(test accuracy by round {', '.join(f'{a:.4f}' for a in acc)}) {'' if ok else why}")
import_store(DATA, store)

# resume after SIGKILL once a round's state is saved
strategy = "bald"
ref = os.path.join(work, "uninterrupted")
out = os.path.join(work, "killed")
slow = ["--set", "train.checkpoint_minutes=0.002"]
rmens(active_args(store, ref, strategy, slow))
proc = subprocess.Popen(mpi(1) + [RMENS] + active_args(store, out, strategy, slow), stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True)
deadline = time.time() + 120
while time.time() < deadline and proc.poll() is None and not os.path.exists(os.path.join(out, "active_state.h5")):
    time.sleep(0.02)
killed = proc.poll() is None
if killed:
    os.killpg(proc.pid, signal.SIGKILL)
proc.wait()
# Open MPI starts the ranks in process groups of their own: kill every process of this run
# (its output path is in their command lines) and wait until none is left, so that no rank
# still holds the output's lock when --resume starts
for _ in range(200):
    subprocess.run(["pkill", "-KILL", "-f", out], capture_output=True)
    if subprocess.run(["pgrep", "-f", out], capture_output=True).returncode != 0:
        break
    time.sleep(0.05)
resume = active_args(store, out, strategy, slow)
resume.remove("--force")
rmens(resume + ["--resume"])
ok, why = same_active(os.path.join(ref, "active.h5"), os.path.join(out, "active.h5"))
check(ok, f"{strategy}: {'killed after a saved round, ' if killed else '(finished before the kill) '}--resume gives the "
          f"uninterrupted active.h5 {'' if ok else why}")
p = subprocess.run([PY, os.path.join(SRC, "tests", "ensemble", "compare_members.py"), os.path.join(ref, "members.h5"),
                    os.path.join(out, "members.h5")], capture_output=True, text=True)
check(p.returncode == 0, "and the same members.h5 " + (p.stdout + p.stderr)[-400:])
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
shutil.rmtree(work, ignore_errors=True)
print("active on stored pairs: all checks passed")
