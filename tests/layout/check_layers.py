#!/usr/bin/python3
"""Measure rmens's structure from its own includes and calls; check the layer rule.

Works on the flat tree (src/*.c, include/rmens/*.h) and on the layered one
(src/<layer>/*.c, include/rmens/<layer>/*.h). See tests/layout/README.md.

Nodes. Every .c/.h under src/ and include/ is a file. A file's *folder* is its first
directory under src/ or include/rmens/ ('' for the flat tree's files); its *layer* is that
folder when it is one of --layers, else none. Files with the same stem in the same folder
(src/base/rng.c + include/rmens/base/rng.h; flat: src/base/rng.c + include/rmens/base/rng.h) form
one *unit*; cycles and levels are measured on units (a .c and its public header are one
concept: a.c -> b.h plus b.c -> a.h is a cycle between a and b), and again on raw files.
Other headers (x_internal.h, mlp_template.h) are units of their own.

Edges (file -> file, union of):
  include: a #include "..." (or <...>) resolved against the including file's folder, then
           include/;
  call:    from --build DIR: every object DIR/**/CMakeFiles/<target>.dir/**.c.o mapped back
           to its source; a symbol an object uses (nm: U, w, v) -> the file whose object
           defines it globally (T D B R C G S V W i u).

Exit status: 1 with --layers when there is a cycle (anywhere, units or files), an upward
edge or a quoted include through '../'; 2 on a usage or measuring error; 0 otherwise.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

SRC_EXT = ('.c', '.h')
DEFINED_TYPES = set('TDBRCGSVWiu')   # nm: global definitions (uppercase, ifunc, unique)
UNDEF_TYPES = set('Uwv')             # nm: references (lowercase w/v: weak undefined)
WEAK_TYPES = set('CVW')


# ------------------------------------------------------------------------------ C text
def strip_c(text, keep_preproc=False):
    """Blank comments, string/char literals and (unless keep_preproc) preprocessor lines,
    keeping every newline so line numbers survive. Rough, but good for this code base."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if c == '\n':
            out.append(c)
            i += 1
            line_start = True
            continue
        if line_start and c in ' \t':
            out.append(c)
            i += 1
            continue
        if line_start and c == '#' and not keep_preproc:
            # preprocessor line, with backslash continuations; comments inside are blanked too
            while i < n:
                if text[i] == '\\' and i + 1 < n and text[i + 1] == '\n':
                    out.append(' \n')
                    i += 2
                    continue
                if text.startswith('/*', i):
                    j = text.find('*/', i + 2)
                    j = n if j < 0 else j + 2
                    out.append(re.sub(r'[^\n]', ' ', text[i:j]))
                    i = j
                    continue
                if text[i] == '\n':
                    break
                out.append(' ')
                i += 1
            line_start = False
            continue
        line_start = False
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif c in '"\'' and not keep_preproc:
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif c in '"\'':
            # keep literals verbatim (include lines need them) but do not parse inside
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^">\n]+)[">]', re.M)


def find_includes(text):
    """[(line, delimiter, path, the include line)] outside comments."""
    clean = strip_c(text, keep_preproc=True)
    res = []
    for m in INCLUDE_RE.finditer(clean):
        line = clean.count('\n', 0, m.start()) + 1
        res.append((line, m.group(1), m.group(2).strip(), m.group(0).strip()))
    return res


def find_functions(text):
    """[(name, first line, last line)] of function definitions: a top-level declaration
    whose last token before '{' is ')', up to the matching '}'."""
    clean = strip_c(text)
    res = []
    depth = 0
    stmt = 0          # start of the current top-level declaration
    body = None       # (header start, '{' position) of the open function body
    i, n = 0, len(clean)
    while i < n:
        c = clean[i]
        if c == '{':
            if depth == 0:
                head = clean[stmt:i]
                if head.rstrip().endswith(')') and '(' in head and '=' not in _depth0(head):
                    body = (stmt + len(head) - len(head.lstrip()), i)
                else:
                    body = None
            depth += 1
        elif c == '}':
            depth -= 1
            if depth <= 0:
                depth = 0
                if body is not None:
                    first = clean.count('\n', 0, body[0]) + 1
                    last = clean.count('\n', 0, i) + 1
                    res.append((_func_name(clean[body[0]:body[1]]), first, last))
                    body = None
                stmt = i + 1
        elif c == ';' and depth == 0:
            stmt = i + 1
        i += 1
    return res


def _depth0(s):
    """The characters of s outside parentheses."""
    d, out = 0, []
    for ch in s:
        if ch == '(':
            d += 1
        elif ch == ')':
            d -= 1
        elif d == 0:
            out.append(ch)
    return ''.join(out)


def _match_back(s, close):
    """Index of the '(' matching the ')' at s[close]."""
    d = 0
    for k in range(close, -1, -1):
        if s[k] == ')':
            d += 1
        elif s[k] == '(':
            d -= 1
            if d == 0:
                return k
    return 0


def _func_name(head):
    s = head.rstrip()
    end = len(s) - 1
    open_ = _match_back(s, end)
    # a trailing __attribute__((...)) is not the parameter list
    while re.search(r'__attribute__\s*$', s[:open_]) and open_ > 0:
        s = re.sub(r'__attribute__\s*$', '', s[:open_]).rstrip()
        end = len(s) - 1
        if end < 0 or s[end] != ')':
            break
        open_ = _match_back(s, end)
    k = open_ - 1
    while k >= 0 and s[k].isspace():
        k -= 1
    if k >= 0 and s[k] == ')':            # macro-made name: T(relu_backward)(...)
        k2 = _match_back(s, k) - 1
        m = re.search(r'(\w+)\s*$', s[:k2 + 1])
        start = m.start(1) if m else k2 + 1
        return re.sub(r'\s+', '', s[start:k + 1])
    m = re.search(r'(\w+)\s*$', s[:k + 1])
    return m.group(1) if m else '?'


# ------------------------------------------------------------------------------ the tree
class Tree:
    def __init__(self, repo, layers):
        self.repo = repo
        self.layers = layers
        self.files = []                   # repo-relative paths
        for top in ('src', 'include'):
            root = os.path.join(repo, top)
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
                for f in sorted(filenames):
                    if f.endswith(SRC_EXT):
                        self.files.append(os.path.relpath(os.path.join(dirpath, f), repo))
        self.fileset = set(self.files)
        self.folder = {f: folder_of(f) for f in self.files}
        self.layer = {f: (self.folder[f] if self.folder[f] in layers else None) for f in self.files}
        stems = defaultdict(set)
        for f in self.files:
            stems[self.folder[f]].add(os.path.splitext(os.path.basename(f))[0])
        self.unit = {f: unit_of(self.folder[f], f, stems[self.folder[f]]) for f in self.files}

    def layer_index(self, f):
        l = self.layer.get(f)
        return self.layers.index(l) if l is not None else None

    def read(self, f):
        with open(os.path.join(self.repo, f), encoding='utf-8', errors='replace') as fh:
            return fh.read()


def folder_of(path):
    parts = path.split('/')
    if parts[0] == 'include':
        parts = parts[1:]
        if parts and parts[0] == 'rmens':
            parts = parts[1:]
    else:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else ''


def unit_of(folder, path, stems):
    stem = os.path.splitext(os.path.basename(path))[0]
    # a private header x_internal.h belongs to x when x.c or x.h is in the same folder
    if stem.endswith('_internal') and stem[:-len('_internal')] in stems:
        stem = stem[:-len('_internal')]
    return f'{folder}/{stem}' if folder else stem


# ------------------------------------------------------------------------------ edges
class Edges:
    def __init__(self):
        self.inc = defaultdict(list)     # (a, b) -> ['line 12: #include "x.h"']
        self.sym = defaultdict(set)      # (a, b) -> {symbol}

    def pairs(self):
        return sorted(set(self.inc) | set(self.sym))

    def reason(self, a, b):
        r = []
        if (a, b) in self.inc:
            r.extend(self.inc[(a, b)])
        if (a, b) in self.sym:
            r.append('calls/uses ' + ', '.join(sorted(self.sym[(a, b)])))
        return '; '.join(r)

    def as_json(self, a, b):
        d = {'from': a, 'to': b}
        if (a, b) in self.inc:
            d['includes'] = self.inc[(a, b)]
        if (a, b) in self.sym:
            d['symbols'] = sorted(self.sym[(a, b)])
        return d


def include_edges(tree, edges, report):
    unresolved = []
    for f in tree.files:
        base = os.path.dirname(f)
        for line, delim, path, text in find_includes(tree.read(f)):
            if delim == '"' and re.search(r'(^|/)\.\.(/|$)', path):
                report['escapes'].append({'file': f, 'line': line, 'include': text})
            target = None
            cands = ([os.path.join(base, path)] if delim == '"' else []) + [os.path.join('include', path)]
            for c in cands:
                c = os.path.normpath(c)
                if c in tree.fileset:
                    target = c
                    break
            if target is None and delim == '"':
                # found through some -I path: the one file of the tree that ends with it
                hits = [g for g in tree.files if g.endswith('/' + os.path.normpath(path)) and g != f]
                if len(hits) == 1:
                    target = hits[0]
                    report['foreign_private'].append({'file': f, 'line': line, 'include': text, 'resolved': target})
            if target is None:
                if delim == '"':
                    unresolved.append(f'{f}:{line}: {text}')
                    # an unresolved include still names its layer
                    m = re.match(r'rmens/([^/]+)/', path)
                    li = tree.layer_index(f)
                    if m and m.group(1) in tree.layers and li is not None and tree.layers.index(m.group(1)) > li:
                        report['upward_unresolved'].append({'file': f, 'line': line, 'include': text,
                                                            'to_layer': m.group(1)})
                continue
            if target != f:
                edges.inc[(f, target)].append(f'line {line}: {text}')
    return unresolved


def find_objects(build):
    objs = []
    for dirpath, dirnames, filenames in os.walk(build):
        dirnames.sort()
        parts = dirpath.split(os.sep)
        if 'CMakeFiles' not in parts:
            continue
        k = len(parts) - 1 - parts[::-1].index('CMakeFiles')
        if k + 1 >= len(parts) or not parts[k + 1].endswith('.dir'):
            continue
        for f in sorted(filenames):
            if f.endswith('.c.o'):
                objs.append(os.path.join(dirpath, f))
    return objs


def object_source(obj, build, tree):
    """(target, repo-relative source or None) for DIR/<sub>/CMakeFiles/<t>.dir/<path>.c.o."""
    rel = os.path.relpath(obj, build).split(os.sep)
    k = len(rel) - 1 - rel[::-1].index('CMakeFiles')
    target = rel[k + 1][:-len('.dir')]
    mirrored = '/'.join(rel[k + 2:])[:-len('.o')]
    mirrored = '/'.join('..' if p == '__' else p for p in mirrored.split('/'))
    sub = '/'.join(rel[:k])
    for cand in (mirrored, f'{sub}/{mirrored}' if sub else None):
        if cand:
            cand = os.path.normpath(cand)
            if cand in tree.fileset:
                return target, cand
    return target, None


def nm_symbols(nm, obj):
    out = subprocess.run([nm, '-P', obj], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'{nm} -P {obj}: {out.stderr.strip()}')
    defined, undef = [], []
    for line in out.stdout.splitlines():
        p = line.split()
        if len(p) < 2:
            continue
        name, t = p[0], p[1]
        if t in UNDEF_TYPES:
            undef.append(name)
        elif t in DEFINED_TYPES:
            defined.append((name, t in WEAK_TYPES))
    return defined, undef


def call_edges(tree, edges, build, nm, report):
    objs = find_objects(build)
    if not objs:
        raise RuntimeError(f'no CMakeFiles/*.dir/**.c.o objects under {build}: not a build directory?')
    defs = defaultdict(dict)          # symbol -> {file: weak}
    uses = defaultdict(set)           # file -> {symbol}
    seen = set()
    for o in objs:
        target, src = object_source(o, build, tree)
        if src is None:
            rel = os.path.relpath(o, build)
            if '/src/' in '/' + rel or '/include/' in '/' + rel:
                report['unmapped_objects'].append(rel)   # e.g. stale: its source was moved
            continue
        seen.add(src)
        try:
            if os.path.getmtime(o) < os.path.getmtime(os.path.join(tree.repo, src)):
                report['stale_objects'].append(os.path.relpath(o, build))
        except OSError:
            pass
        m = re.match(r'rmens_(.+)$', target)
        if tree.layers and m and m.group(1) in tree.layers and tree.layer.get(src) not in (None, m.group(1)):
            report['misplaced_objects'].append(f'{src} compiled into {target}')
        d, u = nm_symbols(nm, o)
        for name, weak in d:
            defs[name][src] = defs[name].get(src, True) and weak
        uses[src].update(u)
    nsym = 0
    for f, names in uses.items():
        for s in names:
            owners = defs.get(s)
            if not owners:
                continue                              # libc, MPI, HDF5, ...
            strong = [g for g, weak in owners.items() if not weak] or list(owners)
            if len(strong) > 1:
                report['ambiguous_symbols'][s] = sorted(strong)
            for g in strong:
                if g != f:
                    edges.sym[(f, g)].add(s)
                    nsym += 1
    report['objects'] = len(objs)
    report['sources_without_object'] = sorted(f for f in tree.files if f.endswith('.c') and f not in seen)
    return nsym


# ------------------------------------------------------------------------------ graph
def sccs(nodes, succ):
    """Tarjan, iterative. Returns a list of components (sorted lists)."""
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ[w]))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
    return comps


def levels(nodes, succ):
    """Level of each node in the condensation DAG: 1 for what depends on nothing, else
    1 + the highest level it depends on (all members of a cycle share one level)."""
    comps = sccs(nodes, succ)
    comp_of = {v: i for i, c in enumerate(comps) for v in c}
    csucc = defaultdict(set)
    for v in nodes:
        for w in succ[v]:
            if comp_of[v] != comp_of[w]:
                csucc[comp_of[v]].add(comp_of[w])
    lvl = {}
    for i in range(len(comps)):        # Tarjan emits components in reverse topological order
        lvl[i] = 1 + max((lvl[j] for j in csucc[i]), default=0)
    return comps, {v: lvl[comp_of[v]] for v in nodes}


def feedback_edges(members, succ, rank=None):
    """Eades-Lin-Smyth ordering of one component; the edges that go backwards in it are a
    small set whose removal breaks every cycle of the component. With rank (unit -> int,
    lower first: the top layer first), units are ordered by rank, then by that ordering,
    so the edges named are the upward ones plus the fewest within a layer."""
    mem = set(members)
    out = {v: set(w for w in succ[v] if w in mem and w != v) for v in members}
    inn = {v: set() for v in members}
    for v in members:
        for w in out[v]:
            inn[w].add(v)
    left, right, alive = [], [], set(members)
    while alive:
        changed = True
        while changed:
            changed = False
            for v in sorted(alive):
                if not (out[v] & alive):
                    right.insert(0, v)
                    alive.discard(v)
                    changed = True
                elif not (inn[v] & alive):
                    left.append(v)
                    alive.discard(v)
                    changed = True
        if alive:
            v = max(sorted(alive), key=lambda x: len(out[x] & alive) - len(inn[x] & alive))
            left.append(v)
            alive.discard(v)
    order = left + right
    if rank:
        order = sorted(order, key=lambda v: (rank(v), order.index(v)))
    pos = {v: i for i, v in enumerate(order)}
    return sorted((v, w) for v in members for w in out[v] if pos[w] < pos[v])


def analyse(nodes, pairs):
    succ = {v: set() for v in nodes}
    for a, b in pairs:
        if a != b:
            succ[a].add(b)
    comps, lvl = levels(nodes, succ)
    cycles = sorted((c for c in comps if len(c) > 1), key=lambda c: (-len(c), c))
    return succ, cycles, lvl


# ------------------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repo', default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')),
                    help='source tree (default: the one holding this script)')
    ap.add_argument('--build', help='CMake build dir whose object files give the call edges')
    ap.add_argument('--layers', help='comma-separated layers, bottom to top, e.g. base,kernels,...,cli')
    ap.add_argument('--json', help='write the figures as JSON to this file')
    ap.add_argument('--top', type=int, default=10, help='how many longest functions (default 10)')
    ap.add_argument('--nm', default=os.environ.get('NM', 'nm'), help='nm program (default: $NM or nm)')
    args = ap.parse_args()

    repo = os.path.abspath(args.repo)
    layers = [l.strip() for l in args.layers.split(',') if l.strip()] if args.layers else []
    if len(set(layers)) != len(layers):
        ap.error('--layers lists a layer twice')
    tree = Tree(repo, layers)
    if not tree.files:
        print(f'check_layers: no .c/.h under {repo}/src or {repo}/include', file=sys.stderr)
        return 2
    report = {'foreign_private': [], 'escapes': [], 'upward_unresolved': [], 'unmapped_objects': [], 'stale_objects': [],
              'misplaced_objects': [], 'ambiguous_symbols': {}, 'objects': 0, 'sources_without_object': []}
    edges = Edges()
    unresolved = include_edges(tree, edges, report)
    nsym = 0
    if args.build:
        try:
            nsym = call_edges(tree, edges, os.path.abspath(args.build), args.nm, report)
        except (RuntimeError, OSError) as e:
            print(f'check_layers: {e}', file=sys.stderr)
            return 2

    pairs = edges.pairs()
    # file graph
    f_succ, f_cycles, f_lvl = analyse(tree.files, pairs)
    # unit graph
    units = sorted(set(tree.unit.values()))
    members = defaultdict(list)
    for f in tree.files:
        members[tree.unit[f]].append(f)
    upairs = defaultdict(list)           # (unit a, unit b) -> [(file a, file b)]
    for a, b in pairs:
        ua, ub = tree.unit[a], tree.unit[b]
        if ua != ub:
            upairs[(ua, ub)].append((a, b))
    u_succ, u_cycles, u_lvl = analyse(units, list(upairs))

    unit_layer = {tree.unit[f]: tree.layer_index(f) for f in tree.files}

    def unit_rank(u):                  # top layer first; units in no layer last
        i = unit_layer.get(u)
        return -i if i is not None else 1

    cycles = []
    for c in u_cycles:
        back = []
        for ua, ub in feedback_edges(c, u_succ, unit_rank if layers else None):
            for a, b in upairs[(ua, ub)]:
                back.append({'from_unit': ua, 'to_unit': ub, **edges.as_json(a, b)})
        cycles.append({'units': c, 'files': sorted(f for u in c for f in members[u]), 'back_edges': back})

    upward = []
    for a, b in pairs:
        ia, ib = tree.layer_index(a), tree.layer_index(b)
        if ia is not None and ib is not None and ib > ia:
            upward.append({'from_layer': tree.layer[a], 'to_layer': tree.layer[b], **edges.as_json(a, b)})
    for u in report['upward_unresolved']:
        upward.append({'from_layer': tree.layer[u['file']], 'to_layer': u['to_layer'], 'from': u['file'],
                       'to': None, 'includes': [f"line {u['line']}: {u['include']}"]})

    funcs = []
    for f in tree.files:
        for name, first, last in find_functions(tree.read(f)):
            funcs.append({'lines': last - first + 1, 'file': f, 'line': first, 'name': name})
    funcs.sort(key=lambda x: (-x['lines'], x['file'], x['line']))

    unlayered = [f for f in tree.files if tree.layer[f] is None] if layers else []
    fail = bool(layers) and bool(upward or cycles or f_cycles or report['escapes'])
    status = 1 if fail else 0
    n_inc = len(edges.inc)
    n_call = len(edges.sym)
    level_count = max(u_lvl.values(), default=0)
    by_level = defaultdict(list)
    for u, l in u_lvl.items():
        by_level[l].append(u)

    # ---------------------------------------------------------------- human summary
    P = print
    P(f'rmens layout check: {repo}')
    P(f'  build: {args.build or "(none: call edges NOT measured, includes only)"}'
      + (f' ({report["objects"]} objects)' if args.build else ''))
    P(f'  layers: {" < ".join(layers) if layers else "(none: flat mode, no layer rule)"}')
    nc = sum(f.endswith('.c') for f in tree.files)
    P(f'files: {len(tree.files)} ({nc} .c, {len(tree.files) - nc} .h); units (same stem, same folder): {len(units)}')
    P(f'edges: {len(pairs)} file->file ({n_inc} by #include, {n_call} by calls/references, '
      f'{nsym} symbol uses); {len(upairs)} unit->unit')
    P(f'levels: {level_count} (units; files: {max(f_lvl.values(), default=0)})')
    for l in sorted(by_level, reverse=True):
        P(f'  L{l:<3} {" ".join(sorted(by_level[l]))}')
    P(f'cycles: {len(cycles)} among units, {len(f_cycles)} among raw files')
    for i, c in enumerate(cycles, 1):
        P(f'  cycle {i} ({len(c["units"])} units, {len(c["files"])} files): {" ".join(c["units"])}')
        P(f'    back-edges (a small set whose removal breaks it):')
        for e in c['back_edges']:
            P(f'      {e["from"]} -> {e["to"]}: {edges.reason(e["from"], e["to"])}')
    for i, c in enumerate(f_cycles, 1):
        P(f'  file cycle {i} ({len(c)} files): {" ".join(c)}')
    if layers:
        P(f'upward dependencies: {len(upward)}')
        for e in upward:
            why = edges.reason(e['from'], e['to']) if e['to'] else '; '.join(e['includes']) + ' (unresolved)'
            P(f'  [{e["from_layer"]} -> {e["to_layer"]}] {e["from"]} -> {e["to"]}: {why}')
        if unlayered:
            P(f'files in no listed layer: {len(unlayered)}: {" ".join(unlayered[:20])}'
              + (' ...' if len(unlayered) > 20 else ''))
    else:
        P('upward dependencies: n/a without --layers (see the cycles\' back-edges)')
    P(f"includes through '../': {len(report['escapes'])}")
    for e in report['escapes']:
        P(f"  {e['file']}:{e['line']}: {e['include']}")
    P(f"quoted includes found only in another folder (another folder's private header): "
      f"{len(report['foreign_private'])}")
    for e in report['foreign_private']:
        P(f"  {e['file']}:{e['line']}: {e['include']} -> {e['resolved']}")
    P(f'longest functions (top {args.top}):')
    for fn in funcs[:args.top]:
        P(f'  {fn["lines"]:5d}  {fn["file"]}:{fn["line"]}  {fn["name"]}')
    warn = []
    if unresolved:
        warn.append(f'{len(unresolved)} quoted includes resolve to no file: ' + '; '.join(unresolved[:5]))
    if report['sources_without_object'] and args.build:
        warn.append(f'{len(report["sources_without_object"])} .c files have no object in the build: '
                    + ' '.join(report['sources_without_object'][:10]))
    if report['stale_objects']:
        warn.append(f'{len(report["stale_objects"])} objects older than their source (rebuild?)')
    if report['unmapped_objects']:
        warn.append(f'{len(report["unmapped_objects"])} objects of src/ or include/ files that no longer exist '
                    '(stale build?): ' + ' '.join(report['unmapped_objects'][:5]))
    if report['misplaced_objects']:
        warn.append('objects in another layer\'s library: ' + '; '.join(report['misplaced_objects']))
    if report['ambiguous_symbols']:
        warn.append('symbols defined in several files: ' + '; '.join(
            f'{s} ({", ".join(fs)})' for s, fs in sorted(report['ambiguous_symbols'].items())))
    for w in warn:
        P(f'warning: {w}')
    if layers:
        P(f'result: {"FAIL" if fail else "OK"} ({len(cycles)} cycles, {len(upward)} upward, '
          f"{len(report['escapes'])} '../' includes)")

    if args.json:
        doc = {
            'repo': repo, 'build': args.build, 'layers': layers, 'status': status,
            'files': {'count': len(tree.files), 'c': nc, 'h': len(tree.files) - nc,
                      'list': [{'path': f, 'folder': tree.folder[f], 'layer': tree.layer[f], 'unit': tree.unit[f]}
                               for f in tree.files]},
            'units': {'count': len(units), 'members': {u: members[u] for u in units}},
            'edges': [edges.as_json(a, b) for a, b in pairs],
            'unit_graph': {'edges': len(upairs), 'levels': level_count, 'level_of': dict(sorted(u_lvl.items())),
                           'cycles': cycles},
            'file_graph': {'edges': len(pairs), 'levels': max(f_lvl.values(), default=0),
                           'level_of': dict(sorted(f_lvl.items())), 'cycles': f_cycles},
            'upward': upward,
            'escapes': report['escapes'],
            'foreign_private_includes': report['foreign_private'],
            'unlayered': unlayered,
            'longest_functions': funcs[:args.top],
            'warnings': warn,
            'objects': report['objects'],
        }
        with open(args.json, 'w') as fh:
            json.dump(doc, fh, indent=1)
            fh.write('\n')
    return status


if __name__ == '__main__':
    sys.exit(main())
