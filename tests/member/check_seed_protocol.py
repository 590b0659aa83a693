"""The seed protocol (issue 13) against a PyTorch re-implementation of the seed lab's loop.

  check_seed_protocol.py SEED_PROTOCOL_DUMP CONFIGS/SEED_PROTOCOL.CFG

rmens side: seed_protocol_dump trains 3 members (seeds 1*42 + m) under
configs/seed_protocol.cfg on an in-memory synthetic store, with the shapes scaled down
(below: SHAPES, OVERRIDES) and writes the pairs, the split, the weights and the histories.

PyTorch side: the training loop of the seed lab's networks.py::train_model
(holarissun/RewardModelingBeyondBradleyTerry), written afresh: MLP D -> H1 -> H2 -> 1 of
nn.Linear layers with PyTorch's default initialisation (torch.manual_seed(seed * 42 + m)),
the BT data holding every training pair in both orders (labels 1 and 0), nn.BCELoss on
sigmoid(r(a) - r(b)), Adam (lr 1e-3), ceil(n / batch) steps per epoch each on
torch.randperm(n)[:batch], validation loss over the validation pairs (both orders) after
every epoch, stop when it is above each of the previous 3, the last weights kept. It
trains on the very pairs and train/validation split rmens used (read from the dump).

Both sides' members are scored by the same code on a synthetic test split (other prompts,
same golden function), and the figures compared are, per member: within-prompt pair
accuracy on the test split (all pairs of each prompt's responses), mean Spearman
correlation with the golden reward per test prompt, epochs run, validation loss of the
kept weights and validation loss after epoch 3. Agreement: |mean_rmens - mean_torch| <= max(range_rmens, range_torch) +
floor, means and ranges (max - min) over the 3 seeds of each side; the floors are below.

The same is done for rmens' default rules (restore_best = true, stop_rule =
"no_improvement", minibatches = "epoch", both_orders = false) against the PyTorch loop
with those rules, and the test requires that at least one figure under the seed protocol
is out of tolerance against the other rules' figures (in both directions), so a rmens
that ignored the four keys would fail. The same agreement is required at the seed code's
own batch proportion (10 240 of 16 000 entries = 3 072 of these 4 800: 2 drawn steps per
epoch, a batch larger than the training pairs, allowed with both orders).

Exact checks on rmens' own histories (check_rules): the stop rule fired where it should,
the kept epoch is the configured one and the written weights have its validation loss,
the entries trained are those of the minibatch rule. A 3-seed statistical comparison
cannot see restore_best, stop_rule or minibatches alone at these shapes (their effects are
within the spread); these checks do, and both_orders shows in val_loss_epoch3 (it doubles
the steps per epoch at a given batch).

Informational: the seed code's own split (its train_test_split runs over the doubled
list, a split per member, so most validation pairs are the reverse of a training entry)
on the same pairs, printed, not asserted."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

# Scaled-down case-study shapes: D = 32 embeddings, an MLP 32 -> 128 -> 64 -> 1, 3 000
# cross-prompt pairs (2 400 train = 4 800 BT entries in both orders) with noisy labels
# (beta 1, ~27 % against the golden order) so validation loss turns up within the 30
# epochs and the stop/last-weights rules matter; the seed code's 10 240 rows per step
# scaled to 512, i.e. 10 drawn steps per epoch.
N, K, D, N_TEST, K_TEST, SEEDS = 1000, 10, 32, 200, 20, 3
OVERRIDES = ["pairs.count=3000", "pairs.annotator_beta=1.0", "model.hidden=[128,64]",
             "train.batch_size=512", "parallel.blas_threads=1"]
DEFAULT_RULES = ["train.restore_best=true", "train.stop_rule=\"no_improvement\"",
                 "train.minibatches=\"epoch\"", "pairs.both_orders=false", "train.val_split=\"pairs\""]
# Floors added to the measured spread: float32 round-off between two BLAS libraries
# changes nothing visible at these sizes, so the floors only absorb the granularity of a
# 3-seed range: 0.005 of pair accuracy and Spearman (one test prompt of 200 moving its
# mean by 1/200 = 0.005), half an epoch, 0.002 of validation loss. val_loss_epoch3: the
# validation loss after epoch 3 (every run has at least patience + 1 = 4 epochs), how far
# the rules' steps per epoch have taken the model.
FLOORS = {"test_pair_accuracy": 0.005, "test_spearman": 0.005, "epochs_run": 0.5, "kept_val_loss": 0.002,
          "val_loss_epoch3": 0.002}
FIGURES = list(FLOORS)
RATIO_BATCH = 3072


def read_meta(d):
    meta = {}
    for line in open(os.path.join(d, "meta.txt")):
        key, *values = line.split()
        meta[key] = values[0] if len(values) == 1 else values
    return meta


def run_dump(binary, config, d, extra):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [binary, config, d, str(N), str(K), str(D), str(N_TEST), str(K_TEST), str(SEEDS)] + OVERRIDES + extra
    subprocess.run(cmd, check=True, env=env)
    meta = read_meta(d)
    f32 = lambda name: np.fromfile(os.path.join(d, name), dtype=np.float32)
    u32 = lambda name: np.fromfile(os.path.join(d, name), dtype=np.uint32).astype(np.int64)
    out = {"meta": meta, "train_x": f32("train_x.f32").reshape(N * K, D), "test_x": f32("test_x.f32").reshape(N_TEST * K_TEST, D),
           "test_g": f32("test_g.f32").reshape(N_TEST, K_TEST), "winner": u32("winner.u32"), "loser": u32("loser.u32"),
           "order": u32("order.u32"), "n_train": int(meta["n_train"]), "members": []}
    for m in range(SEEDS):
        h = np.fromfile(os.path.join(d, f"member{m}.history.f64"))
        e = int(h[0])
        out["members"].append({"params": f32(f"member{m}.params.f32"), "epochs_run": e, "best_epoch": int(h[1]),
                               "train_loss": h[2:2 + e], "val_loss": h[2 + e:2 + 2 * e], "val_acc": h[2 + 2 * e:2 + 3 * e],
                               "pairs_trained": int(h[2 + 3 * e]), "train_ids": u32(f"member{m}.train_ids.u32"),
                               "val_ids": u32(f"member{m}.val_ids.u32")})
    return out


def make_mlp(hidden):
    dims, layers = [D] + hidden, []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(dims[-1], 1))


def load_flat(model, flat):
    offset = 0
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                for p in (layer.weight, layer.bias):
                    p.copy_(torch.from_numpy(flat[offset:offset + p.numel()].reshape(p.shape)))
                    offset += p.numel()
    assert offset == flat.size, f"{flat.size} parameters in the dump, the model has {offset}"


def test_figures(model, test_x, test_g):
    with torch.no_grad():
        s = model(torch.from_numpy(test_x)).squeeze(1).double().numpy().reshape(N_TEST, K_TEST)
    g = test_g.astype(np.float64)
    i, j = np.triu_indices(K_TEST, 1)
    dg, ds = g[:, i] - g[:, j], s[:, i] - s[:, j]
    valid = dg != 0
    acc = float(((np.sign(ds) == np.sign(dg)) & valid).sum() / valid.sum())
    rank = lambda a: np.argsort(np.argsort(a, axis=1), axis=1).astype(np.float64)
    rs, rg = rank(s), rank(g)
    rs -= rs.mean(1, keepdims=True)
    rg -= rg.mean(1, keepdims=True)
    rho = (rs * rg).sum(1) / np.sqrt((rs * rs).sum(1) * (rg * rg).sum(1))
    return acc, float(rho.mean())


def torch_member(dump, seed, rules, split):
    """The seed lab's train_model (rules = "seed") or the same loop with rmens' default
    rules ("default"), on dump's pairs. split: (train entries, validation entries) as
    (a, b, y) index triples (member_split: rmens' lists, seed_split: the seed code's)."""
    meta = dump["meta"]
    torch.manual_seed(seed)
    model = make_mlp([int(h) for h in meta["hidden"]])
    opt = torch.optim.Adam(model.parameters(), lr=float(meta["learning_rate"]))
    bce = torch.nn.BCELoss()
    X = torch.from_numpy(dump["train_x"])
    (a, b, y), (va_a, va_b, va_y) = split
    a, b, va_a, va_b = (torch.from_numpy(v) for v in (a, b, va_a, va_b))
    y = torch.from_numpy(y.astype(np.float32)).view(-1, 1)
    va_y = torch.from_numpy(va_y.astype(np.float32)).view(-1, 1)
    n = len(a)
    batch = min(int(meta["batch_size"]), n)
    patience, epochs = int(meta["patience"]), int(meta["epochs"])
    val_losses, best, best_state, best_epoch = [], np.inf, None, 0
    for epoch in range(epochs):
        perm = torch.randperm(n) if rules != "seed" else None
        for start in range(0, n, batch):
            idx = torch.randperm(n)[:batch] if rules == "seed" else perm[start:start + batch]
            opt.zero_grad()
            loss = bce(torch.sigmoid(model(X[a[idx]]) - model(X[b[idx]])), y[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            val_loss = bce(torch.sigmoid(model(X[va_a]) - model(X[va_b])), va_y).item()
        val_losses.append(val_loss)
        if rules == "seed":
            if len(val_losses) > patience and all(val_losses[-1] > v for v in val_losses[-(patience + 1):-1]):
                break
        else:
            if val_loss < best:
                best, best_epoch, since = val_loss, epoch + 1, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                since += 1
                if since >= patience:
                    break
    if rules == "seed":
        kept = len(val_losses)
    else:
        model.load_state_dict(best_state)
        kept = best_epoch
    return model, len(val_losses), val_losses[kept - 1], val_losses


def member_split(dump, m):
    """rmens' member m's own lists (train.val_split; with both orders an entry is the pair
    in one of its orders, (a, b, 1) being the same loss as (b, a, 0))."""
    mem, w, l = dump["members"][m], dump["winner"], dump["loser"]
    tr, va = mem["train_ids"], mem["val_ids"]
    return (w[tr], l[tr], np.ones(len(tr))), (w[va], l[va], np.ones(len(va)))


def seed_split(dump, m):
    """The seed code's own data preparation on dump's pairs (all of them): both orders,
    shuffled, then sklearn's train_test_split(test_size=0.2, random_state=42 + m) over the
    doubled list, so a pair's two orders may fall on both sides."""
    from sklearn.model_selection import train_test_split
    w, l = dump["winner"], dump["loser"]
    a, b = np.concatenate([w, l]), np.concatenate([l, w])
    y = np.r_[np.ones(len(w)), np.zeros(len(w))]
    idx = torch.randperm(len(a)).numpy()
    tr, va = train_test_split(idx, test_size=0.2, random_state=42 + m)
    return (a[tr], b[tr], y[tr]), (a[va], b[va], y[va])


def check_rules(dump, label):
    """The stop and kept-weights rules, exactly, on rmens' own histories: each member ran
    until its rule first fired on its validation losses (or all epochs), kept the epoch the
    rule names, and the dumped weights have that epoch's validation loss (recomputed here
    in PyTorch on the validation pairs); the entries trained are those of the minibatch
    rule (draw: ceil(n / batch) steps of min(batch, n) per epoch, n the training list).
    Returns the failures."""
    meta, failures = dump["meta"], []
    rise, restore = meta["stop_rule"] == "rise", meta["restore_best"] == "1"
    patience, epochs = int(meta["patience"]), int(meta["epochs"])
    X = torch.from_numpy(dump["train_x"])
    for m, mem in enumerate(dump["members"]):
        va = mem["val_ids"]
        w, l = X[torch.from_numpy(dump["winner"][va])], X[torch.from_numpy(dump["loser"][va])]
        v = list(mem["val_loss"])
        stop = epochs
        for e in range(1, epochs + 1):
            if e > len(v):
                break
            if rise:
                fired = e > patience and all(v[e - 1] > x for x in v[e - 1 - patience:e - 1])
            else:
                fired = e - 1 - int(np.argmin(v[:e])) >= patience
            if patience > 0 and fired:
                stop = e
                break
        kept = int(np.argmin(v)) + 1 if restore else len(v)
        # entries per epoch: ceil(n / batch) drawn steps of min(batch, n), or the list once
        n_list, batch = len(mem["train_ids"]), int(meta["batch_size"])
        per_epoch = -(-n_list // batch) * min(batch, n_list) if meta["minibatches"] == "draw" else n_list
        model = make_mlp([int(h) for h in meta["hidden"]])
        load_flat(model, mem["params"])
        with torch.no_grad():
            loss = torch.nn.functional.softplus(-(model(w) - model(l))).double().mean().item()
        print(f"  {label} member {m}: ran {mem['epochs_run']} epochs (rule: {stop}), kept epoch {mem['best_epoch']} "
              f"(rule: {kept}), validation loss of the written weights {loss:.6f} (history: {v[kept - 1]:.6f}), "
              f"{mem['pairs_trained']} entries trained (rule: {per_epoch * len(v)})")
        if mem["epochs_run"] != stop or mem["best_epoch"] != kept or abs(loss - v[kept - 1]) > 1e-4:
            failures.append(f"{label} member {m}: the stop or kept-weights rule is not the one configured")
        if mem["pairs_trained"] != per_epoch * len(v):
            failures.append(f"{label} member {m}: {mem['pairs_trained']} entries trained, the minibatch rule says "
                            f"{per_epoch * len(v)}")
    return failures


def side_figures(dump, models, epochs_run, kept_val, histories):
    rows = []
    for model, e, v, h in zip(models, epochs_run, kept_val, histories):
        acc, rho = test_figures(model, dump["test_x"], dump["test_g"])
        rows.append({"test_pair_accuracy": acc, "test_spearman": rho, "epochs_run": e, "kept_val_loss": v,
                     "val_loss_epoch3": h[2]})
    return {f: np.array([r[f] for r in rows], dtype=np.float64) for f in FIGURES}


def rmens_side(dump):
    models = []
    for mem in dump["members"]:
        model = make_mlp([int(h) for h in dump["meta"]["hidden"]])
        load_flat(model, mem["params"])
        models.append(model)
    return side_figures(dump, models, [m["epochs_run"] for m in dump["members"]],
                        [m["val_loss"][m["best_epoch"] - 1] for m in dump["members"]],
                        [m["val_loss"] for m in dump["members"]]), \
        [m["val_loss"] for m in dump["members"]]


def torch_side(dump, rules, seed_splits=False):
    base = int(dump["meta"]["seed"]) * 42
    runs = [torch_member(dump, base + m, rules, seed_split(dump, m) if seed_splits else member_split(dump, m))
            for m in range(SEEDS)]
    return side_figures(dump, [r[0] for r in runs], [r[1] for r in runs], [r[2] for r in runs],
                        [r[3] for r in runs]), [r[3] for r in runs]


def summary(x):
    return f"{x.mean():.4f} +- {np.ptp(x):.4f} ({', '.join(f'{v:.4f}' for v in x)})"


def compare(title, ours, theirs, names=("rmens", "torch")):
    print(f"\n{title}  (mean +- range over {SEEDS} seeds)")
    out = {}
    for f in FIGURES:
        diff = abs(ours[f].mean() - theirs[f].mean())
        tol = max(np.ptp(ours[f]), np.ptp(theirs[f])) + FLOORS[f]
        out[f] = diff <= tol
        print(f"  {f:19s} {names[0]} {summary(ours[f])}\n  {'':19s} {names[1]} {summary(theirs[f])}\n"
              f"  {'':19s} |difference| {diff:.4f} vs tolerance {tol:.4f}: {'agree' if out[f] else 'DIFFER'}")
    return out


def trajectory(title, runs):
    e = min(len(r) for r in runs)
    print(f"  {title:24s} mean validation loss by epoch: " + " ".join(f"{np.mean([r[i] for r in runs]):.4f}" for i in range(e)))


def main():
    binary, config = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d_seed, tempfile.TemporaryDirectory() as d_def:
        seed = run_dump(binary, config, d_seed, [])
        default = run_dump(binary, config, d_def, DEFAULT_RULES)
    m = seed["meta"]
    print(f"configs/seed_protocol.cfg with {' '.join(OVERRIDES)}: both_orders {m['both_orders']}, minibatches "
          f"{m['minibatches']}, stop_rule {m['stop_rule']} (patience {m['patience']}), restore_best {m['restore_best']}, "
          f"batch {m['batch_size']} entries, {m['epochs']} epochs; {m['n_pairs']} pairs ({m['n_train']} train), labels agree "
          f"with the golden order for {float(m['label_agreement']):.3f}; train {N}x{K}, test {N_TEST}x{K_TEST}, D {D}, "
          f"hidden {m['hidden']}")
    # the four rules come from the config file itself, and the overrides give rmens' defaults
    assert (m["both_orders"], m["minibatches"], m["stop_rule"], m["restore_best"], m["val_split"]) == ("1", "draw", "rise", "0", "entries"), m
    dm = default["meta"]
    assert (dm["both_orders"], dm["minibatches"], dm["stop_rule"], dm["restore_best"], dm["val_split"]) == ("0", "epoch", "no_improvement", "1", "pairs"), dm
    # the four rules do not change the pairs: both protocols train on the same ones
    for key in ("winner", "loser", "order"):
        assert np.array_equal(seed[key], default[key]), f"pairs differ between the protocols ({key})"

    r_seed, rv_seed = rmens_side(seed)
    t_seed, tv_seed = torch_side(seed, "seed")
    r_def, rv_def = rmens_side(default)
    t_def, tv_def = torch_side(default, "default")

    ok_seed = compare("seed protocol: rmens (seed_protocol.cfg) vs the seed's loop in PyTorch", r_seed, t_seed)
    trajectory("rmens", rv_seed)
    trajectory("torch", tv_seed)
    ok_def = compare("rmens' default rules: rmens vs PyTorch with the same rules", r_def, t_def)
    trajectory("rmens", rv_def)
    trajectory("torch", tv_def)
    power1 = compare("power: rmens' default rules vs the seed's loop in PyTorch", r_def, t_seed, ("rmens default", "torch seed"))
    power2 = compare("power: rmens (seed_protocol.cfg) vs PyTorch with rmens' default rules", r_seed, t_def, ("rmens seed", "torch default"))
    t_leak, tv_leak = torch_side(seed, "seed", seed_splits=True)
    compare("information: the seed's loop on rmens' split vs on the seed code's own split of the doubled list",
            t_seed, t_leak, ("torch rmens split", "torch seed split"))
    trajectory("torch, seed's own split", tv_leak)

    # The seed code's own proportion: 10 240 rows drawn of its 16 000 training entries
    # (0.64, 2 steps per epoch) is 3 072 of these 4 800, more than the 2 400 pairs.
    with tempfile.TemporaryDirectory() as d_ratio:
        ratio = run_dump(binary, config, d_ratio, [f"train.batch_size={RATIO_BATCH}"])
    assert ratio["meta"]["batch_size"] == str(RATIO_BATCH), ratio["meta"]
    r_ratio, rv_ratio = rmens_side(ratio)
    t_ratio, tv_ratio = torch_side(ratio, "seed")
    ok_ratio = compare(f"seed protocol at the seed's batch proportion ({RATIO_BATCH} of {2 * int(m['n_train'])} entries, "
                       "2 drawn steps per epoch): rmens vs torch", r_ratio, t_ratio)
    trajectory("rmens", rv_ratio)
    trajectory("torch", tv_ratio)

    print("\nthe rules on rmens' own histories")
    failed = check_rules(seed, "seed protocol") + check_rules(default, "default rules") + check_rules(ratio, f"batch {RATIO_BATCH}")
    failed += [f"seed protocol: {f}" for f, ok in ok_seed.items() if not ok]
    failed += [f"seed protocol, batch {RATIO_BATCH}: {f}" for f, ok in ok_ratio.items() if not ok]
    failed += [f"default rules: {f}" for f, ok in ok_def.items() if not ok]
    if all(power1.values()) or all(power2.values()):
        failed.append("power: the comparison cannot tell the seed protocol from rmens' default rules on these shapes")
    print()
    for f in failed:
        print(f"FAIL {f}")
    print("PASS" if not failed else "FAILED")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
