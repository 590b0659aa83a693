#!/usr/bin/env bash
# `cmake --install BUILD_DIR --prefix P` into a temporary prefix, then checks the installed
# tree on its own (issue 30):
#  - the layout: P/bin/rmens, P/share/man/man1/rmens.1 and rmens-<verb>.1 for every verb
#    `rmens --help` lists, P/share/bash-completion/completions/rmens, P/share/rmens/{configs,
#    jobs,analysis}, P/share/doc/rmens/CITATION.cff;
#  - the installed rmens runs the demo from another directory with the installed config
#    (synth, then run on 2 MPI ranks through the installed jobs/launch.sh, which finds
#    P/bin/rmens by itself, then the installed analysis/plot_run.py), small sizes;
#  - every man page renders with man -l (and groff) without a warning;
#  - the completion offers the verbs, each verb's options and the config keys for --set,
#    the same sets as the installed binary's --help texts;
#  - --version / -V print the version and a commit of this checkout (or "unknown" outside
#    git), and CITATION.cff carries the same version as CMake's project().
# Environment (tests/install.cmake): CMAKE_COMMAND, BUILD_DIR, RMENS_PROJECT_VERSION,
# RMENS_DOCS, MPIRUN, PYTHON, SRCDIR.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
: "${CMAKE_COMMAND:?}" "${BUILD_DIR:?}" "${RMENS_PROJECT_VERSION:?}" "${SRCDIR:?}"
MPIRUN="${MPIRUN:-mpirun}" PYTHON="${PYTHON:-/usr/bin/python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmens-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
P="$WORK/prefix"

# ---- install ----------------------------------------------------------------------------------
"$CMAKE_COMMAND" --install "$BUILD_DIR" --prefix "$P" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "cmake --install"; }
RM="$P/bin/rmens"
[ -x "$RM" ] || fail "no executable $RM"
for d in configs jobs analysis; do
  [ -d "$P/share/rmens/$d" ] || fail "no $P/share/rmens/$d"
done
[ -f "$P/share/rmens/configs/demo.cfg" ] || fail "no configs/demo.cfg under share/rmens"
[ -x "$P/share/rmens/jobs/launch.sh" ] || fail "jobs/launch.sh not installed executable"
[ -f "$P/share/rmens/analysis/plot_run.py" ] || fail "no analysis/plot_run.py under share/rmens"
[ -f "$P/share/doc/rmens/CITATION.cff" ] || fail "no share/doc/rmens/CITATION.cff"
if find "$P" -name node_modules -o -name __pycache__ | grep -q .; then fail "node_modules or __pycache__ installed"; fi
ok "installed $(find "$P" -type f | wc -l) files under the prefix"

# ---- --version and CITATION.cff ---------------------------------------------------------------
version_line="$("$RM" --version)"
[ "$("$RM" -V)" = "$version_line" ] || fail "-V and --version differ"
[[ "$version_line" =~ ^rmens\ ([0-9][0-9.]*)\ \(commit\ ([0-9a-f]{40}(-dirty)?|unknown)\)$ ]] ||
  fail "--version: unexpected '$version_line'"
version="${BASH_REMATCH[1]}" commit="${BASH_REMATCH[2]}"
[ "$version" = "$RMENS_PROJECT_VERSION" ] || fail "--version says $version, CMake's project version is $RMENS_PROJECT_VERSION"
if command -v git >/dev/null 2>&1 && git -c safe.directory='*' -C "$SRCDIR" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  [ "$commit" != unknown ] || fail "--version: commit unknown although $SRCDIR is a git checkout"
  git -c safe.directory='*' -C "$SRCDIR" cat-file -e "${commit%-dirty}^{commit}" 2>/dev/null ||
    fail "--version: ${commit%-dirty} is not a commit of $SRCDIR"
fi
cff_version="$(sed -n 's/^version: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$SRCDIR/CITATION.cff")"
[ "$cff_version" = "$RMENS_PROJECT_VERSION" ] || fail "CITATION.cff version '$cff_version' != project version $RMENS_PROJECT_VERSION"
grep -q 'Reward Model Ensembles Help Mitigate Overoptimization' "$SRCDIR/CITATION.cff" || fail "CITATION.cff does not cite Coste et al."
if "$PYTHON" -c 'import yaml' 2>/dev/null; then
  "$PYTHON" - "$SRCDIR/CITATION.cff" <<'PY' || fail "CITATION.cff is not valid"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["cff-version"] == "1.2.0" and d["type"] == "software", d
assert d["title"].startswith("rmens") and d["authors"], d
refs = [r for r in d["references"] if r["title"] == "Reward Model Ensembles Help Mitigate Overoptimization"]
assert refs and refs[0]["year"] == 2024 and refs[0]["authors"][0]["family-names"] == "Coste", refs
PY
fi
ok "--version: $version_line; CITATION.cff version $cff_version"

# ---- the demo from another directory, with the installed config -------------------------------
mkdir -p "$WORK/elsewhere/runs/demo" # as jobs/demo.sh: the demo config writes into runs/demo/
cd "$WORK/elsewhere"
CFG="$P/share/rmens/configs/demo.cfg"
SMALL=(--set synth.train_prompts=300 --set synth.test_prompts=40 --set synth.bench_pairs=100
       --set pairs.count=1500 --set train.epochs=2 --set eval.calibration_pairs=2000)
# PATH holds the installed bin only for rmens: `rmens` alone must be the installed one
PATH="$P/bin:$PATH" rmens synth "$CFG" "${SMALL[@]}" --force >"$WORK/synth.log" 2>&1 || { cat "$WORK/synth.log"; fail "installed rmens synth"; }
# the installed launcher, with neither RMENS set nor an rmens on PATH, must find P/bin/rmens
# (jobs/find_rmens.sh: the installed tree P/share/rmens sits two levels under P/bin)
found="$(env -u RMENS PATH=/usr/bin:/bin bash -c 'source "$1/jobs/find_rmens.sh"; rmens_default_binary "$1"' _ "$P/share/rmens")"
[ "$found" = "$(cd "$P/bin" && pwd)/rmens" ] || fail "the installed job scripts default to '$found', not $P/bin/rmens"
env -u RMENS "$P/share/rmens/jobs/launch.sh" -n 2 run "$CFG" "${SMALL[@]}" --force >"$WORK/run.log" 2>&1 ||
  { cat "$WORK/run.log"; fail "installed jobs/launch.sh -n 2 run (the installed rmens on 2 ranks)"; }
[ -f runs/demo/store.h5 ] && [ -f runs/demo/members.h5 ] && [ -f runs/demo/results.json ] ||
  fail "the demo did not write runs/demo/{store.h5,members.h5,results.json} under the working directory"
"$PYTHON" - runs/demo/results.json <<'PY' || fail "results.json of the installed demo"
import json, sys
r = json.load(open(sys.argv[1]))
assert isinstance(r, dict) and r, "empty results.json"
PY
MPLBACKEND=Agg "$PYTHON" "$P/share/rmens/analysis/plot_run.py" runs/demo >"$WORK/plot.log" 2>&1 || { cat "$WORK/plot.log"; fail "installed analysis/plot_run.py"; }
ls runs/demo/figures/*.png >/dev/null 2>&1 || fail "plot_run.py drew no figure"
ok "the installed rmens ran the demo in $PWD: $(ls runs/demo | tr '\n' ' ')"
cd "$WORK"

# ---- verbs, as the binary lists them -----------------------------------------------------------
mapfile -t VERBS < <("$RM" --help | awk '/^verbs:/ {on = 1; next} on && /^[^ ]/ {on = 0} on && /^  [a-z]/ {print $1}')
((${#VERBS[@]} >= 8)) || fail "rmens --help lists ${#VERBS[@]} verbs"

if [ "${RMENS_DOCS:-ON}" != ON ] && [ "${RMENS_DOCS:-ON}" != 1 ]; then
  echo "RMENS_DOCS is ${RMENS_DOCS}: no man pages or completion to check"
  exit 0
fi

# ---- man pages ----------------------------------------------------------------------------------
MAN1="$P/share/man/man1"
expected="$(printf '%s\n' rmens.1 "${VERBS[@]/%/.1}" | sed '2,$s/^/rmens-/' | sort)"
[ "$(ls "$MAN1" | sort)" = "$expected" ] || fail "man pages $(ls "$MAN1" | tr '\n' ' ') != expected $(echo $expected)"
command -v man >/dev/null 2>&1 || command -v groff >/dev/null 2>&1 || fail "neither man nor groff installed (jobs/setup.sh installs man-db)"
for page in "$MAN1"/*.1; do
  name="$(basename "$page" .1)"
  if command -v man >/dev/null 2>&1; then
    LC_ALL=C.UTF-8 MANWIDTH=100 MANPAGER=cat PAGER=cat man --warnings -l "$page" >"$WORK/page.txt" 2>"$WORK/page.err" ||
      { cat "$WORK/page.err"; fail "man -l $name"; }
  else
    groff -man -Tutf8 -ww "$page" >"$WORK/page.txt" 2>"$WORK/page.err" || { cat "$WORK/page.err"; fail "groff $name"; }
  fi
  [ ! -s "$WORK/page.err" ] || { cat "$WORK/page.err"; fail "$name renders with warnings"; }
  grep -q '^NAME' "$WORK/page.txt" && grep -Eq "^ *$name +- " "$WORK/page.txt" || { head -20 "$WORK/page.txt"; fail "$name: no NAME section naming $name"; }
  grep -q 'SEE ALSO' "$WORK/page.txt" || fail "$name: no SEE ALSO"
  grep -q 'options:' "$WORK/page.txt" || fail "$name: no options"
done
ok "man -l renders $(ls "$MAN1" | wc -l) pages without a warning: $(ls "$MAN1" | tr '\n' ' ')"

# ---- bash completion ------------------------------------------------------------------------------
COMP="$P/share/bash-completion/completions/rmens"
[ -f "$COMP" ] || fail "no $COMP"
complete_words() { # WORD... (the last is the word being completed): what _rmens offers
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _rmens; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$@"
}
offered="$(complete_words rmens "")"
for v in "${VERBS[@]}" --print-config --version; do
  grep -qx -- "$v" <<<"$offered" || fail "completion of 'rmens ' does not offer $v (offers: $(echo $offered))"
done
[ "$(complete_words rmens tr)" = train ] || fail "completion of 'rmens tr' is not train"
for v in "${VERBS[@]}"; do
  offered="$(complete_words rmens "$v" --)"
  # every entry of the verb's options list
  for o in $("$RM" "$v" --help | awk '/^options:/ {on = 1; next} on && (/^$/ || /^[^ ]/) {on = 0} on && /^  --/ {print $1}'); do
    grep -qx -- "$o" <<<"$offered" || fail "completion of 'rmens $v --' does not offer $o (offers: $(echo $offered))"
  done
done
grep -qx -- --output <<<"$(complete_words rmens import --o)" || fail "import's --output (from its usage line) not offered"
keys="$("$RM" train --help | awk '/^config keys:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | sort)"
[ -n "$keys" ] || fail "rmens train --help lists no keys"
offered_keys="$(complete_words rmens train x.cfg --set "" | sed 's/=$//' | sort)"
[ "$offered_keys" = "$keys" ] || fail "completion after --set offers other keys than rmens train --help lists: $(diff <(echo "$keys") <(echo "$offered_keys") | tr '\n' ' ')"
[ "$(complete_words rmens run x.cfg --set train.epo)" = "train.epochs=" ] || fail "--set train.epo does not complete to train.epochs="
[ "$(complete_words rmens --print-config x.cfg --set model.objec)" = "model.objective=" ] || fail "--print-config --set"
values="$(complete_words rmens train x.cfg --set model.objective = "" | sort | tr '\n' ' ')"
[ "$values" = "bt clf " ] || fail "values of model.objective after '=': '$values'"
[ "$(complete_words rmens train x.cfg --set model.precision=bf)" = "model.precision=bf16" ] || fail "--set model.precision=bf"
ok "completion offers ${#VERBS[@]} verbs, every verb's options and $(wc -l <<<"$keys") keys after --set"
echo "install_tree: all checks passed"
