#!/usr/bin/python3
"""Check <output>/log.jsonl (issue 30) against the run's own records.

usage: check_log.py RUN_DIR [--active]
Every line must be one JSON object. Its member-epoch lines must be, per member, the epochs
1..epochs_run of members.h5 once each, in order, with train_loss, val_loss and val_accuracy
equal to the member's history (NaN as null) and pairs_per_s, seconds positive. With
--active (an `rmens active` run): the round lines must match active.json's rounds (labels,
the mean aggregator's test pair accuracy and Spearman), and the last round's member lines
members.h5."""
import json
import math
import sys

import h5py


def fail(msg):
    print(f"check_log: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def same(a, b):
    if a is None:
        return b is None or math.isnan(b)
    return b is not None and not math.isnan(b) and a == b


def main():
    run = sys.argv[1]
    active = "--active" in sys.argv[2:]
    lines = []
    with open(f"{run}/log.jsonl") as f:
        for i, text in enumerate(f, 1):
            if not text.endswith("\n"):
                fail(f"line {i} is not terminated")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                fail(f"line {i} is not JSON ({e}): {text!r}")
            if not isinstance(obj, dict):
                fail(f"line {i} is not an object")
            lines.append(obj)
    members = [o for o in lines if "member" in o]
    rounds = [o for o in lines if "member" not in o]
    if active:
        last = max(o["round"] for o in rounds)
        members = [o for o in members if o.get("round") == last]
        with open(f"{run}/active.json") as f:
            want = json.load(f)["rounds"]
        if [o["round"] for o in rounds] != [r["round"] for r in want]:
            fail(f"rounds {[o['round'] for o in rounds]} in the log, {[r['round'] for r in want]} in active.json")
        for o, r in zip(rounds, want):
            mean = r["aggregators"]["mean"]
            if o["labels"] != r["labels"]:
                fail(f"round {o['round']}: {o['labels']} labels in the log, {r['labels']} in active.json")
            for key, ref in (("test_pair_accuracy", mean["pair_accuracy"]), ("test_spearman", mean["spearman"])):
                if not (o[key] is None and ref is None) and abs(o[key] - ref) > 1e-6 * max(1.0, abs(ref)):
                    fail(f"round {o['round']}: {key} {o[key]} in the log, {ref} in active.json")
            if not o["seconds"] > 0:
                fail(f"round {o['round']}: seconds {o['seconds']}")
    elif rounds:
        fail(f"lines without a member: {rounds[:2]}")
    with h5py.File(f"{run}/members.h5", "r") as f:
        n = int(f.attrs["n_members"])
        for m in range(n):
            g = f[f"member_{m}"]
            mine = [o for o in members if o["member"] == m]
            runs = int(g.attrs["epochs_run"])
            if [o["epoch"] for o in mine] != list(range(1, runs + 1)):
                fail(f"member {m}: epochs {[o['epoch'] for o in mine]} in the log, {runs} run")
            for key in ("train_loss", "val_loss", "val_accuracy"):
                hist = g[f"history/{key}"][()]
                for o, h in zip(mine, hist):
                    if not same(o[key], float(h)):
                        fail(f"member {m} epoch {o['epoch']}: {key} {o[key]} in the log, {h!r} in members.h5")
            for o in mine:
                if not (o["pairs_per_s"] > 0 and o["seconds"] > 0):
                    fail(f"member {m} epoch {o['epoch']}: pairs_per_s {o['pairs_per_s']}, seconds {o['seconds']}")
        extra = [o for o in members if o["member"] >= n]
        if extra:
            fail(f"lines of members the file lacks: {extra[:2]}")
    print(f"check_log: {run}/log.jsonl: {len(members)} member epochs match members.h5"
          + (f", {len(rounds)} rounds match active.json" if active else ""))


main()
