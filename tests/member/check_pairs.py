#!/usr/bin/python3
"""The comparison design and the annotator (issue 13) against numpy.

    check_pairs.py PAIRS_DUMP MPIRUN

Builds pairs with tests/member/pairs_dump.c (on 1, 2 and 3 MPI ranks) and checks:
  - label flips: the realised rate is within binomial bounds of pairs.label_flip, and
    with a perfect annotator it is exactly the share of labels against the golden order;
    a BT annotator with flips agrees with the golden order as (1-f) q + f (1-q) predicts,
    for reward_scale "std" and a number;
  - pairs and labels are identical on every rank of 1, 2 and 3-rank runs, and the first
    pairs do not change when pairs.count grows (both samplings);
  - sampling "prompts": count/per_prompt distinct prompts, per_prompt pairs each, no pair
    twice in a prompt, within_prompt pairs inside their prompt, cross_prompt pairs
    leaving it;
  - candidates: the golden-order positions each set allows (numpy argsort, ties by index);
  - bad designs: one-line errors naming the key and stating the range.
Each section starts all its pairs_dump runs first (prefetch), PAIRS_JOBS at a time (default
3: a run is mostly MPI's start-up, not work), then checks them in order as before.
Under the sanitizers (RMENS_SANITIZER_BUILD, tests/run.sh's second pass) the 2- and 3-rank
builds are left out: the pair building has no MPI in it (src/member/pairs.c), so each rank
of those runs executes exactly the 1-rank run's code on the same input; that every rank
gets the same pairs is this test's claim in the main pass.
"""
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DUMP, MPIRUN = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="rmens_pairs_")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


POOL = ThreadPoolExecutor(max(1, int(os.environ.get("PAIRS_JOBS", "3"))))
PENDING = {}  # (N, K, sets, ranks) -> future of its dumps, started by prefetch
RUNS = [0]
SANITIZER = bool(os.environ.get("RMENS_SANITIZER_BUILD"))


def prefetch(N, K, sets, ranks=1):
    """Start build(N, K, sets, ranks) in the background; build() with the same arguments
    returns its result."""
    RUNS[0] += 1
    PENDING.setdefault((N, K, tuple(sets), ranks), []).append(POOL.submit(_build, N, K, sets, ranks, f"run{RUNS[0]}"))


def build(N, K, sets, ranks=1, tag=None):
    """Run pairs_dump (or take the run prefetch started); return the list of per-rank dumps (dicts)."""
    started = PENDING.get((N, K, tuple(sets), ranks))
    if started:
        return started.pop(0).result()
    RUNS[0] += 1
    return _build(N, K, sets, ranks, f"run{RUNS[0]}")


def _build(N, K, sets, ranks, tag):
    prefix = os.path.join(TMP, tag)
    for r in range(4):
        if os.path.exists(f"{prefix}.rank{r}.bin"):
            os.remove(f"{prefix}.rank{r}.bin")
    cmd = [MPIRUN, "--oversubscribe", "-n", str(ranks), DUMP, prefix, str(N), str(K)] + list(sets)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stdout.strip()} {out.stderr.strip()}")
    dumps = []
    for r in range(ranks):
        raw = open(f"{prefix}.rank{r}.bin", "rb").read()
        head = np.frombuffer(raw, np.uint64, 4)
        n_p, n_k, n, n_train = (int(x) for x in head)
        stats = np.frombuffer(raw, np.float64, 3, 32)
        off = 56
        rewards = np.frombuffer(raw, np.float32, n_p * n_k, off).reshape(n_p, n_k)
        off += 4 * n_p * n_k
        w, l, o = (np.frombuffer(raw, np.uint32, n, off + 4 * n * i) for i in range(3))
        dumps.append(dict(raw=raw, N=n_p, K=n_k, n=n, n_train=n_train, flip_rate=stats[0], agreement=stats[1],
                          scale=stats[2], rewards=rewards, winner=w.astype(np.int64), loser=l.astype(np.int64), order=o))
    return dumps


def error_of(N, K, sets, tag="bad"):
    out = subprocess.run([MPIRUN, "-n", "1", DUMP, os.path.join(TMP, tag), str(N), str(K)] + list(sets),
                         capture_output=True, text=True)
    return out.returncode, out.stdout.strip()


def binomial_ok(rate, p, n, sigmas=4.0):
    return abs(rate - p) <= sigmas * np.sqrt(p * (1 - p) / n) + 1e-12


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---- label flips -------------------------------------------------------------------
N, K, n = 400, 10, 20000
for flip in (0.0, 0.1, 0.25, 0.5):
    prefetch(N, K, ["pairs.count=%d" % n, "pairs.annotator_beta=-1", "pairs.label_flip=%g" % flip, "seed=3"])
for scale_set in ("std", "6.0"):
    prefetch(N, K, ["pairs.count=%d" % n, "pairs.annotator_beta=1.0", "pairs.label_flip=0.25",
                    "pairs.reward_scale=%s" % scale_set, "seed=4"])
for flip in (0.0, 0.1, 0.25, 0.5):
    d = build(N, K, ["pairs.count=%d" % n, "pairs.annotator_beta=-1", "pairs.label_flip=%g" % flip, "seed=3"])[0]
    g = d["rewards"].reshape(-1)
    against = (g[d["winner"]] < g[d["loser"]]).mean()  # perfect labels: every disagreement is a flip
    check(abs(d["flip_rate"] - against) < 1e-12, f"flip {flip}: recorded rate {d['flip_rate']} != disagreements {against}")
    check(binomial_ok(d["flip_rate"], flip, n), f"flip {flip}: realised rate {d['flip_rate']:.4f} outside 4 sigma")
    print(f"perfect annotator, label_flip {flip}: realised flip rate {d['flip_rate']:.4f} (n = {n})")

for scale_set, scale in (("std", None), ("6.0", 6.0)):
    d = build(N, K, ["pairs.count=%d" % n, "pairs.annotator_beta=1.0", "pairs.label_flip=0.25",
                     "pairs.reward_scale=%s" % scale_set, "seed=4"])[0]
    g = d["rewards"].reshape(-1)
    s = float(np.std(g.astype(np.float64))) if scale is None else scale
    check(abs(d["scale"] - s) < 1e-9 * max(1, s), f"reward_scale {scale_set}: recorded {d['scale']} expected {s}")
    diff = np.abs(g[d["winner"]].astype(np.float64) - g[d["loser"]])
    q = sigmoid(diff / s)  # P(the base BT label agrees with the golden order)
    expected = np.mean(0.75 * q + 0.25 * (1 - q))
    agree = (g[d["winner"]] > g[d["loser"]]).mean()
    check(abs(agree - d["agreement"]) < 1e-12, f"scale {scale_set}: recorded agreement {d['agreement']} != {agree}")
    check(binomial_ok(agree, expected, n), f"scale {scale_set}: agreement {agree:.4f}, expected {expected:.4f}")
    check(binomial_ok(d["flip_rate"], 0.25, n), f"scale {scale_set}: flip rate {d['flip_rate']:.4f}")
    print(f"BT beta 1, flips 0.25, reward_scale {scale_set} (s = {s:.4f}): agreement {agree:.4f}, predicted {expected:.4f}")

# ---- identical on every rank, prefix-stable ------------------------------------------
designs = [["pairs.mode=\"cross_prompt\""], ["pairs.mode=\"within_prompt\""],
           ["pairs.sampling=\"prompts\"", "pairs.per_prompt=4", "pairs.mode=\"cross_prompt\""],
           ["pairs.sampling=\"prompts\"", "pairs.per_prompt=5", "pairs.mode=\"cross_prompt\"",
            "pairs.candidates=\"random_two\""]]
RANKS = () if SANITIZER else (2, 3)  # see the docstring
for design in designs:
    common = design + ["pairs.annotator_beta=1.0", "pairs.label_flip=0.2", "seed=7"]
    for ranks in (1,) + RANKS:
        prefetch(300, 10, common + ["pairs.count=1000"], ranks)
    prefetch(300, 10, common + ["pairs.count=1200"], 1)
# (the runs of the next two sections start now too)
for mode, pp in (("within_prompt", 6), ("cross_prompt", 4)):
    prefetch(200, 10, [f"pairs.mode=\"{mode}\"", "pairs.sampling=\"prompts\"", f"pairs.per_prompt={pp}",
                       "pairs.count=600", "seed=11"])
for cand in ("middle_two", "extremes", "random_two", "all"):
    for mode in ("within_prompt", "cross_prompt"):
        prefetch(300, 10, [f"pairs.mode=\"{mode}\"", f"pairs.candidates=\"{cand}\"", "pairs.count=3000", "seed=5"])
for design in designs:
    common = design + ["pairs.annotator_beta=1.0", "pairs.label_flip=0.2", "seed=7"]
    ref = build(300, 10, common + ["pairs.count=1000"], 1)[0]
    for ranks in RANKS:
        for r, d in enumerate(build(300, 10, common + ["pairs.count=1000"], ranks)):
            check(d["raw"] == ref["raw"], f"{design}: rank {r} of {ranks} built different pairs")
    big = build(300, 10, common + ["pairs.count=1200"], 1)[0]
    check(np.array_equal(big["winner"][:1000], ref["winner"]) and np.array_equal(big["loser"][:1000], ref["loser"]),
          f"{design}: the first 1000 pairs changed when pairs.count grew to 1200")
print("pairs and labels identical on " + ("1, 2, 3 ranks" if RANKS else "1 rank (sanitizer pass: see the docstring)")
      + "; first pairs unchanged when pairs.count grows")

# ---- sampling "prompts" --------------------------------------------------------------
for mode, pp in (("within_prompt", 6), ("cross_prompt", 4)):
    N, K, count = 200, 10, 600
    d = build(N, K, [f"pairs.mode=\"{mode}\"", "pairs.sampling=\"prompts\"", f"pairs.per_prompt={pp}",
                     f"pairs.count={count}", "seed=11"])[0]
    pw, pl = d["winner"] // K, d["loser"] // K
    group_prompts = []
    for j in range(count // pp):
        sl = slice(j * pp, (j + 1) * pp)
        items = set()
        for a, b in zip(d["winner"][sl], d["loser"][sl]):
            items.add((min(a, b), max(a, b)))
        check(len(items) == pp, f"{mode}: prompt group {j} repeats a pair")
        if mode == "within_prompt":
            check(np.all(pw[sl] == pw[sl][0]) and np.all(pl[sl] == pw[sl][0]), f"within: group {j} leaves its prompt")
            group_prompts.append(int(pw[sl][0]))
        else:
            common = set(pw[sl]) | set(pl[sl])
            owner = [p for p in common if np.all((pw[sl] == p) | (pl[sl] == p))]
            check(len(owner) == 1, f"cross: group {j} has no single prompt in every pair ({owner})")
            check(np.all(pw[sl] != pl[sl]), f"cross: group {j} has a pair inside one prompt")
            group_prompts.append(owner[0] if owner else -1)
    check(len(set(group_prompts)) == count // pp, f"{mode}: {count // pp} groups but {len(set(group_prompts))} distinct prompts")
    print(f"sampling prompts, {mode}: {count // pp} distinct prompts x {pp} distinct pairs")

# ---- candidates ----------------------------------------------------------------------
N, K = 300, 10
for cand, allowed in (("middle_two", {K // 2 - 1, K // 2}), ("extremes", {0, K - 1}), ("random_two", None), ("all", None)):
    for mode in ("within_prompt", "cross_prompt"):
        d = build(N, K, [f"pairs.mode=\"{mode}\"", f"pairs.candidates=\"{cand}\"", "pairs.count=3000", "seed=5"])[0]
        g = d["rewards"]
        # position of each response in its prompt's golden order, ascending, ties by index
        position = np.empty((N, K), np.int64)
        position[np.arange(N)[:, None], np.argsort(g, axis=1, kind="stable")] = np.arange(K)[None, :]
        items = np.concatenate([d["winner"], d["loser"]])
        pos = position.reshape(-1)[items]
        if allowed is not None:
            check(set(pos.tolist()) <= allowed and len(set(pos.tolist())) == 2,
                  f"{cand}/{mode}: positions {sorted(set(pos.tolist()))}, allowed {sorted(allowed)}")
        used = {}
        for it in items.tolist():
            used.setdefault(it // K, set()).add(it % K)
        widest = max(len(v) for v in used.values())
        if cand == "all":
            check(widest > 2, f"all/{mode}: at most {widest} responses of a prompt used")
        else:
            check(widest <= 2, f"{cand}/{mode}: a prompt has {widest} responses in its comparisons")
    print(f"candidates {cand}: golden positions as specified")

# ---- bad designs ---------------------------------------------------------------------
bad = [(["pairs.sampling=\"prompts\"", "pairs.per_prompt=5", "pairs.count=101"],
        "pairs.count = 101 is not a multiple of pairs.per_prompt = 5"),
       (["pairs.sampling=\"prompts\"", "pairs.per_prompt=46", "pairs.count=92", "pairs.mode=\"within_prompt\""],
        "pairs.per_prompt = 46 is more than the 45 distinct within_prompt pairs"),
       (["pairs.sampling=\"prompts\"", "pairs.per_prompt=2", "pairs.count=1000"],
        "pairs.count / pairs.per_prompt = 500 prompts, but the train split has 300"),
       (["pairs.label_flip=0.6"], "'pairs.label_flip' = 0.6 is out of range [0, 0.5]"),
       (["pairs.reward_scale=wide"], "'pairs.reward_scale' = \"wide\": expected \"std\" or a number > 0"),
       (["pairs.reward_scale=-1"], "'pairs.reward_scale' = -1 is out of range: must be > 0"),
       (["pairs.candidates=\"middle\""], "'pairs.candidates' = \"middle\" is not one of all|random_two|middle_two|extremes"),
       (["pairs.sampling=\"pairs\""], "'pairs.sampling' = \"pairs\" is not one of items|prompts")]
errors = list(POOL.map(lambda i: error_of(300, 10, bad[i][0], f"bad{i}"), range(len(bad))))
for (sets, message), (rc, out) in zip(bad, errors):
    check(rc != 0 and message in out and "\n" not in out, f"{sets}: exit {rc}, message {out!r}, expected {message!r}")
print(f"{len(bad)} bad designs refused with one-line errors")

if failures:
    print(f"check_pairs: {len(failures)} failure(s)")
    sys.exit(1)
print("check_pairs: all checks passed")
