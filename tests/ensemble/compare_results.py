#!/usr/bin/python3
"""compare_results.py TOL A/results.json B/results.json ...: every figure of B within TOL of A
(absolute), with the same keys and the same nulls. TOL 0 means exactly equal. The
provenance object (ranks, paths, precision, CPU) describes the run, not a figure: skipped."""
import json
import math
import sys


def flatten(node, prefix=""):
    out = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if not prefix and key == "provenance":
                continue
            out.update(flatten(value, f"{prefix}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.update(flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix] = node
    return out


tol = float(sys.argv[1])
ref = flatten(json.load(open(sys.argv[2])))
numeric = [k for k, v in ref.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
assert len(numeric) > 50, f"too few figures in {sys.argv[2]}: {len(numeric)}"
for path in sys.argv[3:]:
    got = flatten(json.load(open(path)))
    if set(got) != set(ref):
        sys.exit(f"{path}: keys differ: {sorted(set(got) ^ set(ref))[:5]}")
    worst, where = 0.0, None
    for key, a in ref.items():
        b = got[key]
        if isinstance(a, (int, float)) and not isinstance(a, bool) and b is not None:
            if math.isnan(a) and math.isnan(b):
                continue
            d = abs(a - b)
            if d > worst:
                worst, where = d, key
        elif a != b:
            sys.exit(f"{path}: {key} is {b!r}, expected {a!r}")
    if worst > tol:
        sys.exit(f"{path}: {where} differs by {worst:.3g} > {tol}")
    print(f"{path}: {len(numeric)} figures within {tol} of {sys.argv[2]} (largest difference {worst:.3g} at {where})")
