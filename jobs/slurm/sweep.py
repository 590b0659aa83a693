#!/usr/bin/python3
"""Read a campaign sweep file and expand its grid into rmens command-line arguments.

Sweep file format (plain text, one statement per line, '#' starts a comment):

    base    configs/demo.cfg          # base config: absolute, or relative to the repository root
    output  runs/campaigns/demo       # campaign directory: absolute, or relative to the
                                      # directory you submit from (RMENS_CAMPAIGN_DIR overrides)
    store   store.h5                  # embedding store: absolute, or relative to the campaign
                                      # directory (default store.h5; the chain's synth step writes it)
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
                raise SweepError(f"{where}: unknown statement '{word}' (base, output, store, set, grid, variant)")
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
            raise SweepError(f"point {index} is outside the grid (0..{self.count() - 1})")
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
    print(f"campaign {sweep.campaign}, store {sweep.store}")
    for key, value in sweep.sets:
        print(f"  set  {key} = {value}")
    header = ["point"] + [key for key, _ in sweep.axes]
    rows = [[f"p{i:04d}"] + [v for _, v in sweep.point(i)] for i in range(sweep.count())]
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]
    for r in [header] + rows:
        print("  " + "  ".join(str(x).ljust(w) for x, w in zip(r, widths)))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "count", "base-args", "point-args", "campaign-dir"])
    parser.add_argument("sweep")
    parser.add_argument("index", nargs="?", type=int)
    parser.add_argument("--campaign", help="campaign directory (overrides `output` and RMENS_CAMPAIGN_DIR)")
    parser.add_argument("--record", action="store_true", help="point-args: write <point>/point.json")
    parser.add_argument("--rmens", help="check: validate key names against this rmens binary")
    a = parser.parse_args(argv)
    try:
        sweep = Sweep(a.sweep, a.campaign)
        if a.command == "check":
            check(sweep, a.rmens)
        elif a.command == "count":
            print(sweep.count())
        elif a.command == "campaign-dir":
            print(sweep.campaign)
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
