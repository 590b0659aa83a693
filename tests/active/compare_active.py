#!/usr/bin/python3
"""Compare active.h5 files read by h5py: every dataset and attribute outside /run (which
records ranks and timings) must be bitwise identical; NaN equals NaN. The config text is
compared without its `output` line (runs compared side by side write to other directories).
usage: compare_active.py A.h5 B.h5 ..."""
import sys

import h5py
import numpy as np


def items(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if name == "run" or name.startswith("run/"):
                return
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            for key, value in obj.attrs.items():
                out[f"{name}@{key}"] = value
        for key, value in f.attrs.items():
            out[f"@{key}"] = without_output(value) if key == "config" else value
        f.visititems(visit)
    return out


def without_output(text):
    if isinstance(text, bytes):
        text = text.decode()
    return "\n".join(line for line in str(text).splitlines() if not line.strip().startswith("output"))


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return a.shape == b.shape and np.array_equal(a, b)


def main(paths):
    ref = items(paths[0])
    assert any(k.startswith("round_") for k in ref), f"{paths[0]}: no rounds"
    for p in paths[1:]:
        other = items(p)
        assert ref.keys() == other.keys(), f"{p}: objects differ: {sorted(set(ref) ^ set(other))[:10]}"
        bad = [k for k in ref if not same(ref[k], other[k])]
        assert not bad, f"{p} differs from {paths[0]} in {bad[:10]}"
    print(f"{len(paths)} files identical outside /run ({len(ref)} objects)")


if __name__ == "__main__":
    main(sys.argv[1:])
