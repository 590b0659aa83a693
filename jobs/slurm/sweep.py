#!/usr/bin/python3
"""Read a campaign sweep file and expand its grid into rmens command-line arguments.

Sweep file format (plain text, one statement per line, '#' starts a comment):

    base    configs/demo.cfg          # base config: absolute, or relative to the repository root
    output  runs/campaigns/demo       # campaign directory: absolute, or relative to the
                                      # directory you submit from (RMENS_CAMPAIGN_DIR overrides)
    store   store.h5                  # embedding store: absolute, or relative to the campaign
                                      # directory (default store.h5)
    synth   yes                       # the store is synthetic: `rmens synth` writes it when it
                                      # does not exist (default no: a missing store is an error)
    set     train.epochs = 5          # a fixed override for every point (libconfig value)
    grid    ensemble.members = 1, 2, 4          # an axis of the grid: comma-separated values
    grid    pairs.annotator_beta = -1.0, 10.0   # values are libconfig literals: 5, 0.1, "bt",
    grid    model.hidden = [64, 32], [128]      # [lists] (commas inside [] or "" do not split)
    variant kind = independent                  # an axis of named settings bundles: each
    variant kind = trunk: ensemble.kind = "shared_trunk"; ensemble.data = "bootstrap"
                                                # line adds value NAME to axis `kind`, with
                                                # the overrides after ':' ('; '-separated)

The grid is the cartesian product of the `grid` axes in file order, the last axis varying
fastest (a `variant` axis stands where its first line is); point i (0-based, = SLURM_ARRAY_TASK_ID) runs in <campaign>/points/p<iiii>/ with
`--set key=value` for every `set` and for its own grid values, plus `store` and `output`.
`synth.*` keys cannot be swept: all points of a campaign share one store.
Without `synth yes` (or RMENS_SYNTH=1 in the environment) a store that does not exist is an
error naming its path, so a misspelt path never turns into a synthetic campaign;
RMENS_SYNTH=0 refuses synthesis even when the sweep asks for it.

A point is done when the output of its last verb is complete: results.json (eval, run)
or active.json (active) parses and has its main keys; members.h5 (train alone) opens.

Commands (the campaign scripts call these; humans use `check`):
    sweep.py check SWEEP [--rmens BIN]  validate (key names against `BIN train --help`) and
                                        print the grid as a table
    sweep.py count SWEEP                number of grid points
    sweep.py base-args SWEEP            config path, then --set arguments common to all points
                                        (one argument per line), for the synth step
    sweep.py point-args SWEEP INDEX [--record]
                                        config path and all arguments of point INDEX, one per
                                        line; --record writes <point>/point.json
    sweep.py campaign-dir SWEEP         the campaign directory (absolute)
    sweep.py store SWEEP                the store and what the campaign does with it, one line
                                        "STATE<TAB>description": STATE exists | synth (missing,
                                        synthesis asked) | missing (the description is the error)
    sweep.py todo SWEEP --verbs V [--array]
                                        indices (0-based) VERB = last of V must still run for,
                                        one per line (--array: as a Slurm --array list);
                                        RMENS_FORCE=1: every point
    sweep.py status SWEEP --verbs V     every point, 1-based, and whether it has results
Options common to all: --campaign DIR (overrides `output` and RMENS_CAMPAIGN_DIR).
"""
import argparse
import difflib
import itertools
import json
import os
import re
import subprocess
import sys

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class SweepError(Exception):
    pass


def split_outside(text, sep, where):
    """Split text at `sep` where it is outside brackets and quotes."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "[":
            depth += 1
        elif not quoted and ch == "]":
            depth -= 1
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    if quoted or depth != 0:
        raise SweepError(f"{where}: unbalanced quotes or brackets in '{text}'")
    return parts


def split_values(text, where):
    """Split 'a, [1, 2], "x,y"' at commas outside brackets and quotes."""
    values = split_outside(text, ",", where)
    if any(v == "" for v in values):
        raise SweepError(f"{where}: empty value in '{text}'")
    return values


def split_statements(text, where):
    """Split 'a = 1; b = [1, 2]' at semicolons outside brackets and quotes."""
    return split_outside(text, ";", where)


def strip_comment(line):
    """Drop a '#' comment that is not inside a quoted string."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[:i]
    return line


class Sweep:
    def __init__(self, path, campaign=None):
        self.path = os.path.abspath(path)
        self.base = None
        self.output = None
        self.store = "store.h5"
        self.synth = False  # `synth yes`: a missing store is written by `rmens synth`
        self.synth_line = None
        self.sets = []   # [(key, value)]
        self.axes = []   # [(key, [values])]; a variant axis's values are its names
        self.variants = {}  # axis -> {name: [(key, value)]}
        self.lines = {}  # key or variant axis -> the line that gives it (for errors found after parsing)
        self.variant_lines = {}  # key a variant sets -> the first line that sets it
        self._parse()
        campaign = campaign or os.environ.get("RMENS_CAMPAIGN_DIR") or self.output
        if not campaign:
            raise SweepError(f"{path}: no `output` line and neither --campaign nor RMENS_CAMPAIGN_DIR")
        self.campaign = os.path.abspath(campaign)
        if not os.path.isabs(self.store):
            self.store = os.path.join(self.campaign, self.store)

    def _parse(self):
        try:
            lines = open(self.path, encoding="utf-8").read().splitlines()
        except OSError as e:
            raise SweepError(f"cannot read sweep file: {e}")
        keys_seen = self.lines
        for number, raw in enumerate(lines, 1):
            where = f"{self.path}:{number}"
            line = strip_comment(raw).strip()
            if not line:
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word in ("base", "output", "store"):
                if not rest:
                    raise SweepError(f"{where}: `{word}` needs a path")
                setattr(self, word, rest.strip('"'))
                self.lines[f"`{word}`"] = number
            elif word == "synth":
                if rest not in ("yes", "no"):
                    raise SweepError(f"{where}: expected `synth yes` or `synth no`, got `synth {rest}`")
                self.synth, self.synth_line = rest == "yes", number
            elif word in ("set", "grid"):
                m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.+)", rest)
                if not m:
                    raise SweepError(f"{where}: expected `{word} key = value{'s' if word == 'grid' else ''}`")
                key, value = m.group(1), m.group(2).strip()
                if key in ("output", "store"):
                    raise SweepError(f"{where}: `{key}` is set by the campaign; use the `{key}` line")
                if key in keys_seen:
                    raise SweepError(f"{where}: key '{key}' already given on line {keys_seen[key]}")
                keys_seen[key] = number
                if word == "set":
                    self.sets.append((key, value))
                else:
                    if key.startswith("synth."):
                        raise SweepError(f"{where}: cannot sweep '{key}': all points share one store "
                                         "(make one campaign per store instead)")
                    values = split_values(value, where)
                    if len(set(values)) != len(values):
                        raise SweepError(f"{where}: repeated value in '{value}'")
                    self.axes.append((key, values))
            elif word == "variant":
                self._parse_variant(rest, where, number, keys_seen)
            else:
                raise SweepError(f"{where}: unknown statement '{word}' (base, output, store, synth, set, grid, variant)")
        if not self.base:
            raise SweepError(f"{self.path}: no `base` line (the base config)")
        if not os.path.isabs(self.base):
            self.base = os.path.join(REPO_ROOT, self.base)
        if not os.path.isfile(self.base):
            raise SweepError(f"{self.path}: base config '{self.base}' does not exist")

    def _parse_variant(self, rest, where, number, keys_seen):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([A-Za-z0-9_.+-]+)\s*(?::\s*(.*))?", rest)
        if not m:
            raise SweepError(f"{where}: expected `variant AXIS = NAME[: key = value; key = value ...]`")
        axis, name, body = m.group(1), m.group(2), (m.group(3) or "").strip()
        if "." in axis:
            raise SweepError(f"{where}: variant axis '{axis}' must not look like a config key (no '.')")
        if axis not in self.variants:
            if axis in keys_seen:
                raise SweepError(f"{where}: '{axis}' already given on line {keys_seen[axis]}")
            keys_seen[axis] = number
            self.variants[axis] = {}
            self.axes.append((axis, []))
        if name in self.variants[axis]:
            raise SweepError(f"{where}: variant '{name}' of axis '{axis}' given twice")
        sets = []
        for part in [p for p in split_statements(body, where) if p]:
            k = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.+)", part)
            if not k:
                raise SweepError(f"{where}: expected `key = value` in variant '{name}', got '{part}'")
            key, value = k.group(1), k.group(2).strip()
            if key in ("output", "store") or key.startswith("synth."):
                raise SweepError(f"{where}: variant '{name}' cannot set '{key}'")
            sets.append((key, value))
            self.variant_lines.setdefault(key, number)
        self.variants[axis][name] = sets
        dict(self.axes)[axis].append(name)

    def variant_keys(self):
        """Config keys some variant sets (they vary only through their axis)."""
        return sorted({k for bundles in self.variants.values() for sets in bundles.values() for k, _ in sets})

    def count(self):
        n = 1
        for _, values in self.axes:
            n *= len(values)
        return n

    def point(self, index):
        """The grid values of point `index` as [(key, value)]."""
        if not 0 <= index < self.count():
            raise SweepError(f"index {index} is outside the grid (0..{self.count() - 1}, 0-based)")
        combos = itertools.product(*[values for _, values in self.axes])
        values = next(itertools.islice(combos, index, None))
        return list(zip([key for key, _ in self.axes], values))

    def point_dir(self, index):
        return os.path.join(self.campaign, "points", f"p{index:04d}")

    def base_args(self):
        args = [self.base]
        for key, value in self.sets:
            args += ["--set", f"{key}={value}"]
        args += ["--set", f"store={self.store}"]
        return args

    def point_sets(self, index):
        """Point `index` as config overrides: grid values, and each variant's bundle."""
        sets = []
        for key, value in self.point(index):
            sets += self.variants[key][value] if key in self.variants else [(key, value)]
        return sets

    def point_args(self, index):
        args = self.base_args()
        for key, value in self.point_sets(index):
            args += ["--set", f"{key}={value}"]
        args += ["--set", f"output={self.point_dir(index)}"]
        return args

    def record(self, index):
        """Write <point>/point.json: the sweep record the analysis reads."""
        directory = self.point_dir(index)
        os.makedirs(directory, exist_ok=True)
        record = {
            "index": index,
            "sweep": self.path,
            "base": self.base,
            "store": self.store,
            "grid": {key: value for key, value in self.point(index)},
            "set": {key: value for key, value in self.sets},
            # the variant axes' bundles of this point, and every key a variant sets (the
            # analysis names the axis, not these keys)
            "variants": {key: dict(self.variants[key][value]) for key, value in self.point(index) if key in self.variants},
            "variant_keys": self.variant_keys(),
        }
        tmp = os.path.join(directory, "point.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        os.replace(tmp, os.path.join(directory, "point.json"))


# ---- the store, and which points are done -------------------------------------------------

def synth_wanted(sweep):
    """Whether a missing store may be synthesised: RMENS_SYNTH (0|1) over the sweep's `synth`."""
    env = os.environ.get("RMENS_SYNTH", "")
    if env not in ("", "0", "1"):
        raise SweepError(f"RMENS_SYNTH='{env}': expected 1 (synthesise a missing store) or 0 (never); "
                         "unset, the sweep's `synth yes|no` decides")
    return env == "1" if env else sweep.synth


def store_attrs(path):
    """The store's root attributes as strings, or raise SweepError."""
    try:
        import h5py
    except ImportError as e:
        raise SweepError(f"cannot read {path}: {e}")
    try:
        with h5py.File(path, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}
    except (OSError, ValueError) as e:
        raise SweepError(f"{path} is not a readable HDF5 store ({e})")


def is_synthetic(attrs):
    """A store `rmens synth` wrote: provenance "rmens synth|...", task "synthetic(...)"."""
    return attrs.get("provenance", "").startswith("rmens synth|") or attrs.get("task", "").startswith("synthetic(")


def describe_store(path):
    try:
        a = store_attrs(path)
    except SweepError as e:
        return f"{path} (unreadable: {e})"
    kind = "SYNTHETIC (written by rmens synth)" if is_synthetic(a) else \
        f"imported: embed_model {a.get('embed_model', '?')}, task {a.get('task', '?')}"
    return f"{path} (store_uuid {a.get('store_uuid', '?')}; {kind})"


def store_plan(sweep):
    """(state, description) of the campaign's store: exists | synth | missing."""
    if os.path.exists(sweep.store):
        return "exists", describe_store(sweep.store)
    if synth_wanted(sweep):
        why = "RMENS_SYNTH=1" if os.environ.get("RMENS_SYNTH") == "1" else f"`synth yes`, {sweep.path}:{sweep.synth_line}"
        return "synth", f"{sweep.store} does not exist: rmens synth writes a SYNTHETIC store there ({why})"
    line = sweep.lines.get("`store`")
    where = f"{sweep.path}:{line}" if line else f"{sweep.path} has no `store` line: the default store.h5 in the campaign"
    return "missing", (f"the store {sweep.store} does not exist ({where}); fix the `store` path, or add `synth yes` "
                       "to the sweep (or set RMENS_SYNTH=1) to have rmens synth write a synthetic store there")


VERB_OUTPUT = {"train": "members.h5", "eval": "results.json", "run": "results.json", "active": "active.json"}
REQUIRED_KEYS = {"results.json": ("members", "provenance", "aggregators"), "active.json": ("strategy", "provenance", "rounds")}


def output_complete(directory, name):
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        return False
    if name == "members.h5":
        try:
            store_attrs(path)
            return True
        except SweepError:
            return False
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(k in data for k in REQUIRED_KEYS[name])


def check_verbs(verbs):
    words = verbs.split()
    if not words or any(v not in VERB_OUTPUT for v in words):
        raise SweepError(f"verbs '{verbs}': expected a list of train, eval, run, active")
    return words


def done(sweep, index, verbs):
    """A point is done when the output of the campaign's last verb is complete."""
    return output_complete(sweep.point_dir(index), VERB_OUTPUT[check_verbs(verbs)[-1]])


def todo(sweep, verbs, verb=None):
    """0-based indices step `verb` (default: the last) of the chain `verbs` must run for: the
    points not done, less, for an earlier step (train of "train eval"), those whose output
    of that step is complete. RMENS_FORCE=1: every point."""
    words = check_verbs(verbs)
    verb = verb or words[-1]
    if verb not in words:
        raise SweepError(f"verb '{verb}' is not one of '{verbs}'")
    if os.environ.get("RMENS_FORCE", "0") == "1":
        return list(range(sweep.count()))
    return [i for i in range(sweep.count())
            if not done(sweep, i, verbs)
            and (verb == words[-1] or not output_complete(sweep.point_dir(i), VERB_OUTPUT[verb]))]


def array_spec(indices):
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8' (a Slurm --array list)."""
    parts, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            parts.append(str(start) if start == i else f"{start}-{i}")
            start = None
    return ",".join(parts)


def schema_keys(rmens):
    """Every config key, from `rmens train --help` (the key list at its end)."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = subprocess.run([rmens, "train", "--help"], capture_output=True, text=True, env=env, timeout=60)
    if out.returncode != 0:
        raise SweepError(f"`{rmens} train --help` failed: {out.stderr.strip()}")
    keys = re.findall(r"^\s+([a-z_]+(?:\.[a-z_]+)?)\s+(?:int|float|string|bool)", out.stdout, re.M)
    if not keys:
        raise SweepError(f"`{rmens} train --help` listed no config keys")
    return set(keys)


def check(sweep, rmens):
    if rmens:
        keys = schema_keys(rmens)
        variant_sets = [k for bundles in sweep.variants.values() for sets in bundles.values() for k, _ in sets]
        for key in [k for k, _ in sweep.sets] + [k for k, _ in sweep.axes if k not in sweep.variants] + variant_sets:
            if key not in keys:
                close = difflib.get_close_matches(key, sorted(keys), n=1, cutoff=0.0)
                line = sweep.lines.get(key) or sweep.variant_lines.get(key)
                raise SweepError(f"{sweep.path}:{line}: unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    print(f"sweep {sweep.path}: {sweep.count()} points, base {sweep.base}")
    print(f"campaign {sweep.campaign}, store {sweep.store}" + (" (synth yes: synthetic when missing)" if sweep.synth else ""))
    for key, value in sweep.sets:
        print(f"  set  {key} = {value}")
    header = ["point"] + [key for key, _ in sweep.axes]
    rows = [[f"p{i:04d}"] + [v for _, v in sweep.point(i)] for i in range(sweep.count())]
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]
    for r in [header] + rows:
        print("  " + "  ".join(str(x).ljust(w) for x, w in zip(r, widths)))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "count", "base-args", "point-args", "campaign-dir", "store",
                                            "todo", "status"])
    parser.add_argument("sweep")
    parser.add_argument("index", nargs="?", type=int)
    parser.add_argument("--campaign", help="campaign directory (overrides `output` and RMENS_CAMPAIGN_DIR)")
    parser.add_argument("--record", action="store_true", help="point-args: write <point>/point.json")
    parser.add_argument("--rmens", help="check: validate key names against this rmens binary")
    parser.add_argument("--verbs", default="run", help="todo, status: the campaign's verbs (RMENS_VERBS) [run]")
    parser.add_argument("--verb", help="todo: the step of --verbs to list for [the last]")
    parser.add_argument("--array", action="store_true", help="todo: print a Slurm --array list")
    a = parser.parse_args(argv)
    try:
        sweep = Sweep(a.sweep, a.campaign)
        if a.command == "check":
            check(sweep, a.rmens)
        elif a.command == "count":
            print(sweep.count())
        elif a.command == "campaign-dir":
            print(sweep.campaign)
        elif a.command == "store":
            print("\t".join(store_plan(sweep)))
        elif a.command == "todo":
            indices = todo(sweep, a.verbs, a.verb)
            if a.array:
                print(array_spec(indices))
            elif indices:
                print("\n".join(str(i) for i in indices))
        elif a.command == "status":
            n, output = sweep.count(), VERB_OUTPUT[check_verbs(a.verbs)[-1]]
            for i in range(n):
                state = f"has results ({output})" if done(sweep, i, a.verbs) else "to run"
                print(f"point {i + 1} of {n} (p{i:04d}): {state}")
        elif a.command == "base-args":
            print("\n".join(sweep.base_args()))
        elif a.command == "point-args":
            if a.index is None:
                raise SweepError("point-args needs INDEX")
            if a.record:
                sweep.record(a.index)
            print("\n".join(sweep.point_args(a.index)))
    except SweepError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
