#!/usr/bin/python3
"""check_trunk.py README.md STORE RUN_DIR [--independent INDEP_RUN_DIR]

A shared-trunk run's members.h5 against outside references:
 - the README's PyTorch loading snippet, run as written (paths replaced), loads every head
   (its layers from /trunk but the last), scores the store's test split (its input built
   as the snippet builds it: with /inputs, model.inputs, the views concatenated and
   standardised) and, standardised by score_mean/score_std, reproduces rmens's test
   predictions (results.h5 /predictions) to float round-off;
 - the trunk is stored once: no head group holds a layer but its own last one;
 - the heads share the trunk yet differ (their own initialisation and resample);
 - --independent: a one-head shared trunk equals independent member 0 bitwise, layer by
   layer (history and standardisation too)."""
import os
import re
import sys

import h5py
import numpy as np


def readme_snippet(readme):
    text = open(readme).read()
    m = re.search(r"Loading a member into PyTorch.*?```python\n(.*?)```", text, re.S)
    assert m, "README: no PyTorch loading snippet"
    return m.group(1)


def load_member(snippet, path, store, member):
    """The snippet's model and standardised test scores z for member `member` (the snippet
    calls into the rmens package of analysis/, beside README.md)."""
    code = (snippet.replace("runs/demo/members.h5", path).replace("runs/demo/store.h5", store)
            .replace("members[0]", f"members[{member}]"))
    scope = {}
    exec(code, scope)
    return scope["model"], scope["z"]


def main(argv):
    readme, store, run = argv[:3]
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(readme)), "analysis"))
    snippet = readme_snippet(readme)
    members = f"{run}/members.h5"
    with h5py.File(members, "r") as f:
        assert f.attrs["ensemble_kind"] in ("shared_trunk", b"shared_trunk"), "ensemble_kind attribute"
        n, hidden = int(f.attrs["n_members"]), list(f["member_0"].attrs["hidden"])
        last = len(hidden)
        for m in range(n):
            layers = [k for k in f[f"member_{m}"] if k.startswith("layer_")]
            assert layers == [f"layer_{last}"], f"member_{m} holds {layers}: the trunk must be stored once"
        assert sorted(f["trunk"].keys()) == [f"layer_{l}" for l in range(last)], "trunk layers"
        heads = [f[f"member_{m}/layer_{last}/weight"][:] for m in range(n)]
        assert all(not np.array_equal(heads[0], h) for h in heads[1:]), "heads must differ"
    with h5py.File(f"{run}/results.h5", "r") as r:
        predictions = r["predictions"][:]
    worst = 0.0
    for m in range(n):
        model, z = load_member(snippet, members, store, m)
        assert z.shape == predictions[m].shape, (z.shape, predictions[m].shape)
        worst = max(worst, float(np.abs(z - predictions[m]).max()))
        assert model.head.weight.shape[0] == 1 and len(model.body) == 2 * last, "a head: the trunk's layers, then its own"
    print(f"{n} heads loaded with the README's PyTorch snippet reproduce rmens's predictions: "
          f"largest difference {worst:.2e}")
    assert worst < 1e-4, worst
    if "--independent" in argv:
        indep = argv[argv.index("--independent") + 1]
        with h5py.File(members, "r") as a, h5py.File(f"{indep}/members.h5", "r") as b:
            for l in range(last + 1):
                for part in ("weight", "bias"):
                    pa = (a["member_0"] if l == last else a["trunk"])[f"layer_{l}/{part}"][:]
                    pb = b[f"member_0/layer_{l}/{part}"][:]
                    assert np.array_equal(pa, pb), f"layer_{l}/{part}: one-head trunk differs from member 0"
            for key in ("score_mean", "score_std", "epochs_run", "best_epoch"):
                assert a["member_0"].attrs[key] == b["member_0"].attrs[key], key
            for s_ in ("train_loss", "val_loss", "val_accuracy"):
                assert np.array_equal(a[f"member_0/history/{s_}"][:], b[f"member_0/history/{s_}"][:]), s_
        print("a one-head shared trunk equals independent member 0 bitwise")


if __name__ == "__main__":
    main(sys.argv[1:])
