#!/usr/bin/python3
"""Compare members.h5 files read by h5py.

usage: compare_members.py [--tolerance T] A.h5 B.h5 ...
Without --tolerance every member dataset and attribute must be bitwise identical (the /run
group, which records rank counts and timings, is excluded). With it, member weights may
differ by T relative to their scale (for data-parallel runs, whose reductions add in
another order)."""
import sys

import h5py
import numpy as np


def member_items(f):
    items = {}
    for name, group in f.items():
        # members, and a shared trunk's /trunk (rmens/member/trunk.h) that its heads reference
        if not name.startswith("member_") and name != "trunk":
            continue

        def visit(path, obj):
            if isinstance(obj, h5py.Dataset):
                items[f"{name}/{path}"] = obj[()]
        group.visititems(visit)
        for key, value in group.attrs.items():
            items[f"{name}@{key}"] = value
    return items


def main(argv):
    tol = None
    if argv[:1] == ["--tolerance"]:
        tol = float(argv[1])
        argv = argv[2:]
    ref_path, others = argv[0], argv[1:]
    with h5py.File(ref_path, "r") as f:
        ref = member_items(f)
        n = int(f.attrs["n_members"])
    # a member group per member (an MLP, a tree model, or a shared trunk's head)
    assert sum(k.startswith("member_") and k.endswith("@index") for k in ref) == n, "member count mismatch"
    for path in others:
        with h5py.File(path, "r") as f:
            got = member_items(f)
        if set(got) != set(ref):
            sys.exit(f"{path}: objects differ from {ref_path}: {sorted(set(got) ^ set(ref))[:5]}")
        for key, a in ref.items():
            b = got[key]
            if tol is None or "layer_" not in key:
                same = np.array_equal(np.asarray(a), np.asarray(b)) and np.asarray(a).dtype == np.asarray(b).dtype
                if not same and tol is not None and "@" in key and np.asarray(a).dtype.kind == "f":
                    same = np.allclose(a, b, rtol=tol, atol=tol)
                if not same and tol is not None and "/history/" in key:
                    same = np.allclose(a, b, rtol=1e-3, atol=1e-3)
                if not same:
                    sys.exit(f"{path}: {key} differs from {ref_path}: {a!r} vs {b!r}")
            else:
                scale = max(1e-6, float(np.abs(a).max()))
                diff = float(np.abs(a - b).max())
                if diff > tol * scale:
                    sys.exit(f"{path}: {key} differs by {diff:.3g} (> {tol} x {scale:.3g})")
        print(f"{path}: matches {ref_path} ({'bitwise' if tol is None else f'within {tol}'}, {len(ref)} objects)")


if __name__ == "__main__":
    main(sys.argv[1:])
