#!/usr/bin/python3
"""train.val_split = "prompts" and train.l2 (issue 28; include/rmens/member/pairs.h).

    test_val_split_prompts.py VAL_SPLIT_DUMP

The split itself, from tests/member/val_split_dump.c (the pairs, their order, member 0's
lists and the recorded leak exactly as `rmens train` builds them), against its rule:
  - "prompts": the prompts the training pairs touch and those the validation pairs touch
    are disjoint; with every prompt touched, round(N * val_fraction) prompts validate
    (58 * 0.25 = 14.5 -> 15); every pair is classified by its prompts' sides (both train:
    trains, both validate: validates, else dropped); `order` is the "pairs" rule's
    permutation stably partitioned into train, validation, dropped; cross_prompt drops
    pairs, within_prompt none; member 0's lists are the head of `order`;
  - the leak (val_prompt_overlap, val_item_overlap) recomputed from member 0's lists for
    "prompts" (0), "pairs" and "entries" (> 0 for within_prompt pairs), exactly; NaN
    without validation (train.val_fraction = 0).
End to end on a small synthetic store (`rmens synth`, a view "length" added with
`rmens import --view`):
  - cross_prompt / within_prompt x "prompts" / "pairs": members.h5's val_split,
    n_train_pairs, n_val_pairs, val_prompt_overlap, val_item_overlap equal the dump's for
    the store's rewards; the printed leak line and the dropped-pairs line say the same;
    "prompts" gives 0 and 0, "pairs" with within_prompt pairs a leak > 0;
  - each member's recorded validation accuracy at best_epoch (restore_best keeps those
    weights) is the accuracy of its stored weights on the dump's validation pairs
    (numpy forward), and above chance;
  - 1, 2 and 3 MPI ranks give bitwise identical members.h5 (everything outside /run) under
    val_split = "prompts" with model.inputs = ["default", "length"];
  - train.l2 > 0 changes the weights and shrinks every member's weight-matrix norm against
    l2 = 0 (same seed), but leaves the output bias (no BT gradient) where it started: biases
    are not penalised; train.l2 = -1 and an unknown val_split are refused in one line
    naming the key, leaving no members.h5.
Expects RMENS, MPIRUN, SRCDIR (set by ctest).
"""
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

DUMP = sys.argv[1]
RMENS, MPIRUN, SRC = os.environ["RMENS"], os.environ["MPIRUN"], os.environ["SRCDIR"]
CFG = os.path.join(SRC, "configs", "demo.cfg")
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr)
    return ok


def run(cmd, what, expect_ok=True):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    if expect_ok and p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n", file=sys.stderr)
        sys.exit(f"FAIL: {what} exited with {p.returncode}")
    return p


# ---------------------------------------------------------------------------------------
# The split as built by the library (val_split_dump.c)

def dump(work, N, K, rewards, sets, tag="split", config="-"):
    out = os.path.join(work, f"{tag}.bin")
    p = run([DUMP, out, N, K, rewards, config, *sets], f"val_split_dump {' '.join(sets)}")
    raw = open(out, "rb").read()
    N_, K_, n, n_train, n_val, n_lt, n_lv = (int(x) for x in np.frombuffer(raw, np.uint64, 7))
    overlap = np.frombuffer(raw, np.float64, 2, 56)
    rule = raw[72:88].split(b"\0")[0].decode()
    arrays, off = [], 88
    for m in (n, n, n, n_lt, n_lv):
        arrays.append(np.frombuffer(raw, np.uint32, m, off).astype(np.int64))
        off += 4 * m
    assert off == len(raw), f"{out}: {len(raw)} bytes, expected {off}"
    w, l, order, train_ids, val_ids = arrays
    return dict(N=N_, K=K_, n=n, n_train=n_train, n_val=n_val, prompt_overlap=float(overlap[0]),
                item_overlap=float(overlap[1]), rule=rule, winner=w, loser=l, order=order, train_ids=train_ids,
                val_ids=val_ids, stdout=p.stdout)


def leak(d, train_ids, val_ids):
    """The fractions of validation pairs with an item whose prompt / which item a training pair uses."""
    if len(val_ids) == 0:
        return math.nan, math.nan
    K = d["K"]
    items = np.concatenate([d["winner"][train_ids], d["loser"][train_ids]])
    item_used, prompt_used = set(items.tolist()), set((items // K).tolist())
    va, vb = d["winner"][val_ids], d["loser"][val_ids]
    shared_prompt = sum((a // K in prompt_used) or (b // K in prompt_used) for a, b in zip(va, vb))
    shared_item = sum((a in item_used) or (b in item_used) for a, b in zip(va, vb))
    return shared_prompt / len(val_ids), shared_item / len(val_ids)


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_prompt_split(label, d, ref, val_fraction, mode, copies=1):
    """d: the "prompts" split; ref: the "pairs" split of the same design (its permutation)."""
    N, K, n = d["N"], d["K"], d["n"]
    n_train, n_val = d["n_train"], d["n_val"]
    order = d["order"]
    check(d["rule"] == "prompts", f"{label}: split_rule {d['rule']!r}")
    check(np.array_equal(np.sort(order), np.arange(n)), f"{label}: order is not a permutation of the pairs")
    check(np.array_equal(d["winner"], ref["winner"]) and np.array_equal(d["loser"], ref["loser"]),
          f"{label}: the split changed the pairs themselves")
    pa, pb = d["winner"] // K, d["loser"] // K
    train, val, dropped = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
    T = set(pa[train].tolist()) | set(pb[train].tolist())
    V = set(pa[val].tolist()) | set(pb[val].tolist())
    check(not (T & V), f"{label}: {len(T & V)} prompts both train and validate")
    check(len(T | V) == N, f"{label}: only {len(T | V)} of {N} prompts touched (the design is too small to pin |V|)")
    want_val = math.floor(N * val_fraction + 0.5)
    check(len(V) == want_val, f"{label}: {len(V)} validation prompts, expected round({N} * {val_fraction}) = {want_val}")
    side = np.full(N, -1)
    side[list(T)] = 0
    side[list(V)] = 1
    sa, sb = side[pa], side[pb]
    kind = np.where((sa == sb) & (sa >= 0), sa, 2)  # 0 trains, 1 validates, 2 dropped
    check(np.all(kind[train] == 0) and np.all(kind[val] == 1) and np.all(kind[dropped] == 2),
          f"{label}: a pair is on the wrong side of the prompt split")
    # the stable partition of the "pairs" rule's permutation
    P = ref["order"]
    want = np.concatenate([P[kind[P] == 0], P[kind[P] == 1], P[kind[P] == 2]])
    check(np.array_equal(order, want), f"{label}: order is not the pairs permutation partitioned stably")
    if mode == "within_prompt":
        check(len(dropped) == 0 and n_train + n_val == n, f"{label}: within_prompt pairs dropped: {len(dropped)}")
    else:
        check(len(dropped) > 0, f"{label}: cross_prompt pairs with an item on each side, yet none dropped")
    check(np.array_equal(d["train_ids"], np.repeat(train, copies)) and np.array_equal(d["val_ids"], val),
          f"{label}: member 0's lists are not the split's training / validation pairs")
    po, io = leak(d, d["train_ids"], d["val_ids"])
    check(po == 0 and io == 0 and d["prompt_overlap"] == 0 and d["item_overlap"] == 0,
          f"{label}: leak recomputed {po}, {io}; recorded {d['prompt_overlap']}, {d['item_overlap']}; expected 0, 0")


def split_checks(work):
    N, K, f = 58, 5, 0.25
    base = [f"train.val_fraction={f}", "seed=7"]
    designs = [("cross_prompt", ["pairs.mode=cross_prompt", "pairs.count=4000"], 1),
               ("within_prompt", ["pairs.mode=within_prompt", "pairs.count=1000"], 1),
               ("cross_prompt both_orders", ["pairs.mode=cross_prompt", "pairs.count=4000", "pairs.both_orders=true"], 2),
               ("within_prompt sampling prompts", ["pairs.mode=within_prompt", "pairs.sampling=prompts",
                                                   "pairs.per_prompt=4", "pairs.count=232"], 1)]
    for label, sets, copies in designs:
        mode = sets[0].split("=")[1]
        ref = dump(work, N, K, "-", base + sets + ["train.val_split=pairs"], "ref")
        d = dump(work, N, K, "-", base + sets + ["train.val_split=prompts"])
        check_prompt_split(f"split {label}", d, ref, f, mode, copies)
        # "pairs": the first n - floor(n f) of the permutation train; the leak as recorded
        check(ref["rule"] == "pairs" and ref["n_train"] == ref["n"] - math.floor(ref["n"] * f)
              and ref["n_train"] + ref["n_val"] == ref["n"], f"split {label} (pairs): {ref['n_train']} + {ref['n_val']}")
        po, io = leak(ref, ref["train_ids"], ref["val_ids"])
        check(po == ref["prompt_overlap"] and io == ref["item_overlap"],
              f"split {label} (pairs): leak recorded {ref['prompt_overlap']}, {ref['item_overlap']}, numpy {po}, {io}")
        check(po > 0.5 and io > 0, f"split {label} (pairs): no leak measured ({po}, {io}) where one is certain")
    # "entries": member 0 splits its own list; the leak is of those lists
    e = dump(work, N, K, "-", base + ["pairs.mode=within_prompt", "pairs.count=400", "pairs.both_orders=true",
                                      "train.val_split=entries"])
    po, io = leak(e, e["train_ids"], e["val_ids"])
    check(e["rule"] == "entries" and po == e["prompt_overlap"] and io == e["item_overlap"] and io > 0.5,
          f"split entries: rule {e['rule']}, leak recorded {e['prompt_overlap']}, {e['item_overlap']}, numpy {po}, {io}")
    # no validation: every pair trains, the leak is undefined
    z = dump(work, N, K, "-", ["pairs.mode=cross_prompt", "pairs.count=500", "train.val_fraction=0",
                               "train.val_split=prompts"])
    check(z["n_val"] == 0 and z["n_train"] == z["n"] and math.isnan(z["prompt_overlap"]) and math.isnan(z["item_overlap"]),
          f"split val_fraction 0: {z['n_train']} train, {z['n_val']} validation, leak {z['prompt_overlap']}")


# ---------------------------------------------------------------------------------------
# End to end

def forward(g, X):
    """A stored MLP member's raw score, in float64."""
    L = len(g.attrs["hidden"]) + 1
    h = X.astype(np.float64)
    for l in range(L):
        h = h @ g[f"layer_{l}/weight"][()].astype(np.float64).T + g[f"layer_{l}/bias"][()]
        if l < L - 1:
            h = np.maximum(h, 0)
    return h[..., 0]


def weight_norm2(g):
    L = len(g.attrs["hidden"]) + 1
    return sum(float(np.sum(g[f"layer_{l}/weight"][()].astype(np.float64) ** 2)) for l in range(L))


def add_length_view(work, store):
    rng = np.random.default_rng(28)
    files = []
    with h5py.File(store, "r") as st:
        for split in ("train", "test"):
            golden = st[f"{split}/rewards"][()]
            z = (golden - golden.mean()) / golden.std()
            length = np.maximum(1, np.round(300 + 60 * z + rng.normal(0, 40, golden.shape)))
            feats = np.stack([length, rng.normal(0, 1, golden.shape)], axis=-1).astype(np.float32)
            np.save(os.path.join(work, f"length_{split}.npy"), feats)
            np.save(os.path.join(work, f"rewards_{split}.npy"), golden.astype(np.float32))
            files += [os.path.join(work, f"length_{split}.npy"), os.path.join(work, f"rewards_{split}.npy")]
    run([RMENS, "import", "--train-embeddings", files[0], "--train-rewards", files[1], "--test-embeddings", files[2],
         "--test-rewards", files[3], "--output", store, "--view", "length"], "rmens import --view length")


def h5_items(path):
    """Every dataset and attribute outside /run, by name (the merged config without its
    output line, the one setting that differs between the runs)."""
    items = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            items[f"@{k}"] = re.sub(r'(?m)^output = .*$', "", v) if k == "config" else v
        def visit(name, obj):
            if name == "run" or name.startswith("run/"):
                return
            if isinstance(obj, h5py.Dataset):
                items[name] = obj[()]
            for k, v in obj.attrs.items():
                items[f"{name}@{k}"] = v
        f.visititems(visit)
    return items


def same_items(a, b):
    if sorted(a) != sorted(b):
        return [f"names differ: {sorted(set(a) ^ set(b))}"]
    bad = []
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.dtype != y.dtype or x.shape != y.shape:
            bad.append(k)
        elif x.dtype.kind in "fc":
            if x.tobytes() != y.tobytes():
                bad.append(k)
        elif not np.array_equal(x, y):
            bad.append(k)
    return bad


def end_to_end(work):
    store = os.path.join(work, "store.h5")
    N, K = 120, 6
    base = [f"store={store}", f"synth.train_prompts={N}", f"synth.train_responses={K}", "synth.test_prompts=12",
            "synth.test_responses=6", "synth.dim=16", "synth.bench_pairs=0", "model.hidden=[16,8]",
            "train.epochs=8", "train.batch_size=64", "train.learning_rate=0.003", "ensemble.members=2",
            "parallel.blas_threads=1", "seed=5"]
    sets = lambda extra: [a for s in base + extra for a in ("--set", s)]  # noqa: E731
    run([RMENS, "synth", CFG, *sets([]), "--force"], "rmens synth")
    add_length_view(work, store)
    rewards = os.path.join(work, "rewards.f32")
    with h5py.File(store, "r") as st:
        st["train/rewards"][()].astype(np.float32).tofile(rewards)
        X = st["train/embeddings"][()].astype(np.float32).reshape(N * K, -1)

    cases = [("cross_prompt", "prompts", 2000), ("cross_prompt", "pairs", 2000),
             ("within_prompt", "prompts", 1200), ("within_prompt", "pairs", 1200)]
    for mode, rule, count in cases:
        label = f"train {mode} val_split={rule}"
        design = [f"pairs.mode={mode}", f"pairs.count={count}", f"train.val_split={rule}"]
        out = os.path.join(work, f"run_{mode}_{rule}")
        p = run([RMENS, "train", CFG, *sets(design + [f"output={out}"]), "--force"], label)
        d = dump(work, N, K, rewards, design + ["seed=5"], "e2e", CFG)  # the run's annotator: its labels
        with h5py.File(os.path.join(out, "members.h5"), "r") as f:
            a = f.attrs
            got = (a["val_split"], int(a["n_train_pairs"]), int(a["n_val_pairs"]), float(a["val_prompt_overlap"]),
                   float(a["val_item_overlap"]))
            want = (rule, d["n_train"], d["n_val"], d["prompt_overlap"], d["item_overlap"])
            check(got[:3] == want[:3] and all(same_float(x, y) for x, y in zip(got[3:], want[3:])),
                  f"{label}: members.h5 split attributes {got}, the split as built {want}")
            check(int(a["n_pairs"]) == count and got[1] + got[2] <= count, f"{label}: {got[1]} + {got[2]} > {count} pairs")
            dropped = count - got[1] - got[2]
            m = re.search(r'validation split "(\w+)": ([0-9.]+) of validation pairs share a prompt with training '
                          r'pairs, ([0-9.]+) a response', p.stdout)
            check(m is not None and m.group(1) == rule and abs(float(m.group(2)) - got[3]) < 6e-5
                  and abs(float(m.group(3)) - got[4]) < 6e-5, f"{label}: printed leak {m and m.group(0)} vs {got}")
            m = re.search(r"(\d+) pairs dropped: an item on each side of the split", p.stdout)
            check((int(m.group(1)) if m else 0) == dropped, f"{label}: printed dropped {m and m.group(1)}, actual {dropped}")
            if rule == "prompts":
                check(got[3] == 0 and got[4] == 0, f"{label}: leak {got[3]}, {got[4]} under val_split prompts")
                check((dropped > 0) == (mode == "cross_prompt"), f"{label}: {dropped} pairs dropped")
            else:
                check(dropped == 0 and got[3] > 0.5 and got[4] > 0, f"{label}: leak {got[3]}, {got[4]} not measured")
            # the recorded validation accuracy of the kept weights, recomputed on the split's validation pairs
            val = d["val_ids"]
            for mi in range(int(a["n_members"])):
                g = f[f"member_{mi}"]
                best = int(g.attrs["best_epoch"])
                recorded = float(g["history/val_accuracy"][best - 1])
                s_w, s_l = forward(g, X[d["winner"][val]]), forward(g, X[d["loser"][val]])
                acc = float(np.mean(s_w > s_l))
                near_tie = int(np.sum(np.abs(s_w - s_l) < 1e-5 * (1 + np.abs(s_w))))
                check(abs(recorded - acc) <= (near_tie + 0.5) / len(val),
                      f"{label}: member {mi} val_accuracy[{best - 1}] {recorded} but its weights rank "
                      f"{acc} of the {len(val)} validation pairs")
                check(0.5 < recorded <= 1, f"{label}: member {mi} validation accuracy {recorded} is not above chance")
        print(f"{label}: {got[1]} train, {got[2]} validation, {dropped} dropped; leak {got[3]:.4f} / {got[4]:.4f}")

    # 1, 2, 3 ranks: bitwise identical members under val_split "prompts" with model.inputs
    ranks_sets = ["pairs.mode=cross_prompt", "pairs.count=2000", "train.val_split=prompts", "ensemble.members=3",
                  'model.inputs=["default","length"]']
    items = {}
    for np_ in (1, 2, 3):
        out = os.path.join(work, f"ranks{np_}")
        run([MPIRUN, "--oversubscribe", "--bind-to", "none", "-n", np_, RMENS, "train", CFG,
             *sets(ranks_sets + [f"output={out}"]), "--force"], f"rmens train on {np_} rank(s)")
        items[np_] = h5_items(os.path.join(out, "members.h5"))
    check("inputs/mean" in items[1] and items[1]["member_0@view"] == "inputs:default+length"
          and items[1]["@val_split"] == "prompts", "ranks: the run did not train on model.inputs with val_split prompts")
    for np_ in (2, 3):
        bad = same_items(items[1], items[np_])
        check(not bad, f"members.h5 on {np_} ranks differs from 1 rank in {bad[:6]}")

    # train.l2: same seed, the weights move and their norm shrinks
    l2_design = ["pairs.mode=within_prompt", "pairs.count=1200", "train.val_split=prompts", "train.restore_best=false"]
    norms, weights, out_bias = {}, {}, {}
    for l2 in (0, 0.5):
        out = os.path.join(work, f"l2_{l2}")
        run([RMENS, "train", CFG, *sets(l2_design + [f"output={out}", f"train.l2={l2}"]), "--force"], f"train.l2={l2}")
        with h5py.File(os.path.join(out, "members.h5"), "r") as f:
            norms[l2] = [weight_norm2(f[f"member_{m}"]) for m in range(2)]
            weights[l2] = [f[f"member_{m}/layer_0/weight"][()] for m in range(2)]
            out_bias[l2] = [f[f"member_{m}/layer_2/bias"][()] for m in range(2)]
    for m in range(2):
        check(not np.array_equal(weights[0][m], weights[0.5][m]), f"train.l2: member {m}'s weights do not change")
        check(norms[0.5][m] < 0.9 * norms[0][m], f"train.l2: member {m}'s |W|^2 {norms[0.5][m]:.4f} with l2 0.5, "
                                                 f"{norms[0][m]:.4f} without: not shrunk")
        # biases are not penalised: the BT loss has no gradient on the output bias (it
        # cancels in the score difference), so only a penalty on it could move it
        check(out_bias[0][m].tobytes() == out_bias[0.5][m].tobytes() and np.any(out_bias[0][m] != 0),
              f"train.l2: member {m}'s output bias {out_bias[0.5][m]} with l2 0.5, {out_bias[0][m]} without: "
              "a bias was penalised")
    print(f"train.l2 = 0.5 against 0: |W|^2 {norms[0.5]} against {norms[0]}")

    # refusals: one line naming the key, no members.h5
    for bad, key in (("train.l2=-1", "train.l2"), ("train.val_split=prompt", "train.val_split")):
        out = os.path.join(work, f"refused_{key}")
        p = run([RMENS, "train", CFG, *sets([f"output={out}", bad])], f"rmens train --set {bad}", expect_ok=False)
        lines = [l for l in (p.stdout + p.stderr).splitlines() if key in l]
        check(p.returncode != 0, f"{bad} was not refused")
        check(len(lines) == 1, f"{bad}: expected one line naming {key}, got {lines} in {p.stdout + p.stderr!r}")
        check(not os.path.exists(os.path.join(out, "members.h5")), f"{bad}: members.h5 written")


def main():
    work = tempfile.mkdtemp(prefix="rmens_val_split.")
    try:
        split_checks(work)
        end_to_end(work)
    finally:
        if not os.environ.get("KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"val_split prompts: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("val_split prompts: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
