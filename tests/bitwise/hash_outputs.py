#!/usr/bin/python3
"""Canonical SHA-256 of every output under a scenarios.sh directory (tests/bitwise/README.md).

usage: hash_outputs.py OUTDIR        prints "<scenario>/<file> <sha256>" lines, sorted

Every *.h5 and *.json file in OUTDIR/<scenario>/ is hashed (logs/ and the scenarios'
bitwise.cfg are not outputs; scenarios.sh deletes the run directories' rmens.lock), so an
output that appears or disappears shows as well as one that changes.

HDF5 files (members.h5, results.h5, active.h5, checkpoint.h5, the stores) are hashed by
content, not by file bytes: HDF5 object headers carry modification times and addresses that
depend on the order of collective writes. The hash covers, walking the groups in sorted
order from the root: every object's path and kind; every attribute (sorted by name): its
HDF5 type (class, size, string kind and character set), shape and value bytes; every
dataset: its HDF5 type, shape, chunk shape, filters (Fletcher-32 and any compression) and
its values' bytes. The provenance below is left out; everything else must be bitwise equal.

JSON files (results.json, active.json) are hashed as their exact bytes, but for the
provenance below, which is replaced by a fixed placeholder before hashing (so that
formatting, key order and the %.17g figures are all checked). The placeholder keeps the
file valid JSON, and the script checks that nothing it removed was a figure.
"""
import fnmatch
import hashlib
import json
import os
import re
import sys

import h5py
import numpy as np

# ---- exclusions: (file format, object path, attribute name or None for the whole object)
# Each one is provenance: it describes the job that ran (software version, CPU, wall times,
# rank layout), not what was computed. Object paths are HDF5 paths without the leading "/".
H5_EXCLUDED_GROUPS = {
    # members.h5 /run: ranks, ranks_per_member, wall_seconds, member_train_seconds,
    # member_owner_rank (the rank layout and timings of the job), precision,
    # precision_requested, matmul_kernel, cpu (the CPU's name; the figures these settings
    # produce are in the members, and results.h5 keeps precision and kernel). The repo's
    # own comparisons (tests/ensemble/compare_members.py) exclude /run the same way.
    "rmens-members": {"run"},
    # active.h5 /run: ranks, wall_seconds, round_seconds [R+1, 4] (timings), precision,
    # precision_requested, matmul_kernel, cpu (as in members.h5; tests/active/compare_active.py).
    "rmens-active": {"run"},
}
# Groups added after the reference, matched by fnmatch pattern per format (figures, not
# provenance: left out because the reference cannot hold them; their own tests check them).
H5_EXCLUDED_GROUP_PATTERNS = {
    # results.h5 /ablation/<k>/std_over_subsets (issue 30): the spread over the subsets of
    # each figure the entry averages, checked against numpy by tests/eval/check_results.py
    # and check_warm.py; the mean beside it stays hashed
    "rmens-results": ["ablation/*/std_over_subsets"],
}
H5_EXCLUDED_ATTRS = {
    # every format: `version` is rmens's version string (RMENS_VERSION): provenance, and
    # a refactor may legitimately bump it. The store calls it `rmens_version`.
    "*": {("", "version"),
          # `config`: the merged configuration, which lists every key the schema has with
          # its value; a key added since the reference (model.inputs, say) changes the text
          # without changing one figure, and every setting's effect is in the values hashed.
          ("", "config")},
    "rmens-store": {("", "rmens_version")},
    # members.h5 root attributes added after the reference commit (issue 28: the validation
    # split rule and its realised leak); the reference cannot hold them, and their own
    # tests (tests/member/test_val_split_prompts.py) check their values.
    "rmens-members": {("", "val_split"), ("", "n_train_pairs"), ("", "n_val_pairs"), ("", "val_prompt_overlap"),
                      ("", "val_item_overlap"),
                      # the configured annotator (issue 30): calibration follows it at eval
                      ("", "annotator_beta"), ("", "label_flip"), ("", "pairs_source"),
                      # train.standardise_responses of the members' standardisation (issue
                      # 31): eval's warm follows it; tests/eval/warm.sh recorded checks it
                      ("", "standardise_responses")},
    # results.h5 root: cpu (the CPU's name, host identity), eval_seconds (wall time), ranks
    # (the job's rank count: figures are rank-count independent, and the scenario name
    # already says it). precision, precision_requested and matmul_kernel are kept: on one
    # machine they follow from the configuration and are part of what a run reports.
    "rmens-results": {("", "cpu"), ("", "eval_seconds"), ("", "ranks"),
                      # precision_reason (added after the reference): why auto chose the
                      # precision, from the CPU's identity; precision itself stays hashed
                      ("", "precision_reason"),
                      # the annotator the calibration outcomes used (issue 30)
                      ("", "calibration_annotator_beta"), ("", "calibration_label_flip")},
    # checkpoint.h5: per member train_seconds (wall time of the member so far) and
    # train_time (wall time of the epoch in progress at the step the checkpoint was taken);
    # matched below for every member_<m> group.
    "rmens-checkpoint": {("member_*", "train_seconds"), ("member_*", "train_time")},
}
# JSON: the top-level "provenance" object (version, config_file, store, store_uuid,
# members_file, precision, precision_requested, matmul_kernel, cpu, ranks, and in
# active.json wall_seconds), which tests/ensemble/compare_results.py skips too; written on
# one line of its own. active.json: every round's "seconds" object (wall time of train,
# score, select, evaluate), a flat object of numbers.
JSON_PROVENANCE_LINE = re.compile(r'^"provenance": \{[^{}\n]*\},?$', re.M)
JSON_SECONDS = re.compile(r'"seconds": \{[^{}\n]*\}')
# results.json: every ablation entry's "std_over_subsets" object (issue 30, after the
# entry's other keys; the H5 group above in JSON form) is cut out with its leading comma,
# which leaves the bytes the reference was written from.
JSON_ADDED_OBJECT = re.compile(r',\n *"std_over_subsets": \{')


def strip_added_objects(text):
    """text without each JSON_ADDED_OBJECT match and the object it opens (up to its
    matching brace: the object holds numbers, null and plain keys, no braces in strings)."""
    out, at = [], 0
    for m in JSON_ADDED_OBJECT.finditer(text):
        if m.start() < at:
            continue
        depth, end = 1, m.end()
        while depth:
            if end >= len(text):
                sys.exit("hash_outputs.py: an unterminated \"std_over_subsets\" object")
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        out.append(text[at:m.start()])
        at = end
    return "".join(out) + text[at:]


def excluded_attr(fmt, path, name):
    for key in ("*", fmt):
        for p, n in H5_EXCLUDED_ATTRS.get(key, ()):
            if n == name and (p == path or (p.endswith("*") and path.startswith(p[:-1]) and "/" not in path)):
                return True
    return False


def type_descr(tid):
    """The HDF5 type as stored: class, size, sign/order, and for strings fixed or variable
    length, padding and character set."""
    cls = tid.get_class()
    parts = [f"class={cls}", f"size={tid.get_size()}"]
    if cls == h5py.h5t.STRING:
        parts += [f"vlen={tid.is_variable_str()}", f"cset={tid.get_cset()}", f"pad={tid.get_strpad()}"]
    elif cls in (h5py.h5t.INTEGER, h5py.h5t.FLOAT):
        parts += [f"order={tid.get_order()}"]
        if cls == h5py.h5t.INTEGER:
            parts += [f"sign={tid.get_sign()}"]
    elif cls == h5py.h5t.VLEN:
        parts += [f"super=({type_descr(tid.get_super())})"]
    elif cls == h5py.h5t.COMPOUND:
        parts += [f"{tid.get_member_name(i).decode()}:({type_descr(tid.get_member_type(i))})"
                  for i in range(tid.get_nmembers())]
    return " ".join(parts)


def value_bytes(value):
    """Bytes of an attribute or dataset value as h5py returns it: strings as UTF-8,
    numeric arrays as their raw bytes (NaN payloads included), object arrays (variable-
    length strings) element by element."""
    if isinstance(value, str):
        return b"s" + value.encode()
    if isinstance(value, bytes):
        return b"b" + value
    a = np.asarray(value)
    if a.dtype.kind == "O":
        out = [b"O", repr(a.shape).encode()]
        for x in a.ravel():
            out.append(value_bytes(x) + b"\0")
        return b"".join(out)
    return b"n" + a.dtype.str.encode() + repr(a.shape).encode() + np.ascontiguousarray(a).tobytes()


def hash_h5(path):
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format", "")
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        if not fmt:
            sys.exit(f"hash_outputs.py: {path}: no `format` attribute: not an rmens file")
        skip_groups = H5_EXCLUDED_GROUPS.get(fmt, set())
        skip_patterns = H5_EXCLUDED_GROUP_PATTERNS.get(fmt, [])

        def put(*chunks):
            for c in chunks:
                h.update(len(c).to_bytes(8, "little"))
                h.update(c)

        def attrs(obj, opath):
            for name in sorted(obj.attrs):
                if excluded_attr(fmt, opath, name):
                    continue
                aid = h5py.h5a.open(obj.id, name.encode())
                put(b"attr", opath.encode(), name.encode(), type_descr(aid.get_type()).encode(),
                    repr(aid.shape).encode(), value_bytes(obj.attrs[name]))

        def walk(group, gpath):
            attrs(group, gpath)
            for name in sorted(group):
                opath = f"{gpath}/{name}" if gpath else name
                if opath in skip_groups or any(fnmatch.fnmatchcase(opath, pat) for pat in skip_patterns):
                    continue
                obj = group.get(name, getlink=True)
                if not isinstance(obj, h5py.HardLink):
                    put(b"link", opath.encode(), repr(obj).encode())
                    continue
                obj = group[name]
                if isinstance(obj, h5py.Group):
                    put(b"group", opath.encode())
                    walk(obj, opath)
                else:
                    dcpl = obj.id.get_create_plist()
                    filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
                    put(b"dataset", opath.encode(), type_descr(obj.id.get_type()).encode(), repr(obj.shape).encode(),
                        repr(obj.chunks).encode(), repr(filters).encode(), value_bytes(obj[()]))
                    attrs(obj, opath)

        put(b"format", fmt.encode())
        walk(f, "")
    return h.hexdigest()


def hash_json(path):
    text = open(path, "rb").read().decode()
    text = strip_added_objects(text)
    lines = JSON_PROVENANCE_LINE.findall(text)
    if len(lines) != 1:
        sys.exit(f"hash_outputs.py: {path}: expected one top-level provenance line, found {len(lines)}")
    # the line keeps its trailing comma, if any, so that the file stays valid JSON
    text = JSON_PROVENANCE_LINE.sub(lambda m: '"provenance": "excluded"' + ("," if m.group(0).endswith(",") else ""), text)
    seconds = JSON_SECONDS.findall(text)
    text = JSON_SECONDS.sub('"seconds": "excluded"', text)
    data = json.loads(text)  # still valid JSON, and the removed parts were where expected
    assert data.get("provenance") == "excluded", path
    if seconds:
        rounds = data.get("rounds")
        assert isinstance(rounds, list) and len(rounds) == len(seconds) and all(r.get("seconds") == "excluded" for r in rounds), \
            f"{path}: a \"seconds\" object outside active.json's rounds"
    return hashlib.sha256(text.encode()).hexdigest()


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    out = argv[0]
    lines = []
    for scenario in sorted(os.listdir(out)):
        d = os.path.join(out, scenario)
        if not os.path.isdir(d) or scenario == "logs":
            continue
        for root, _, files in os.walk(d):
            for name in files:
                path = os.path.join(root, name)
                rel = os.path.relpath(path, out)
                if name.endswith(".h5"):
                    lines.append(f"{rel} {hash_h5(path)}")
                elif name.endswith(".json"):
                    lines.append(f"{rel} {hash_json(path)}")
                else:
                    sys.exit(f"hash_outputs.py: {rel}: not an .h5 or .json output (scenarios.sh should remove it)")
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
