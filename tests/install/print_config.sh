#!/usr/bin/env bash
# rmens --print-config CONFIG [--set ...] (issue 30): prints the merged configuration, every
# key with its value or default, in libconfig syntax, and that output is itself a config
# that loads to the same settings: printing it again gives the same text, and a verb run
# from it does what the original command line does. Needs no MPI.
# Environment (rmens_script_test): RMENS, SRCDIR, PYTHON.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
: "${RMENS:?}" "${SRCDIR:?}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmens-print-config.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
CFG="$SRCDIR/configs/demo.cfg"
KEYS="$("$RMENS" train --help | awk '/^config keys:/ {on = 1; next} on && /^  [a-z]/ {print $1}')"
[ -n "$KEYS" ] || fail "rmens train --help lists no keys"

# has_setting FILE KEY VALUE: KEY ("group.leaf" or "top") is set to VALUE (as libconfig writes it) in FILE
has_setting() {
  awk -v key="$2" -v want="$3" '
    BEGIN { n = split(key, p, "."); group = n > 1 ? p[1] : ""; leaf = p[n] }
    /^[a-z_]+ :/ { cur = $1; next }
    /^};/ { cur = ""; next }
    { line = $0; sub(/^ +/, "", line)
      if (cur == group && index(line, leaf " = ") == 1) { v = substr(line, length(leaf) + 4); sub(/;$/, "", v); if (v == want) found = 1 } }
    END { exit !found }' "$1"
}

# ---- every key, the overrides, the round trip ---------------------------------------------------
SETS=(--set train.epochs=3 --set 'model.hidden=[16,8]' --set store=/tmp/elsewhere/s.h5
      --set train.learning_rate=0.00031 --set pairs.reward_scale=2.5 --set model.objective=clf)
"$RMENS" --print-config "$CFG" "${SETS[@]}" >printed.cfg 2>err.txt || { cat err.txt; fail "--print-config exit $?"; }
[ ! -s err.txt ] || { cat err.txt; fail "--print-config wrote to stderr"; }
for k in $KEYS; do
  leaf="${k##*.}"
  if [[ "$k" == *.* ]]; then
    group="${k%%.*}"
    awk -v g="$group" -v l="$leaf" '$1 == g && $2 == ":" {on = 1; next} on && /^};/ {on = 0} on && $1 == l && $2 == "=" {f = 1} END {exit !f}' printed.cfg ||
      fail "key $k missing from the printed configuration"
  else
    grep -q "^$leaf = " printed.cfg || fail "key $k missing from the printed configuration"
  fi
done
ok "every one of $(wc -w <<<"$KEYS") keys is printed"
has_setting printed.cfg train.epochs 3 || fail "--set train.epochs=3 not in the output"
has_setting printed.cfg model.hidden '[ 16, 8 ]' || fail "--set model.hidden=[16,8] not in the output"
has_setting printed.cfg store '"/tmp/elsewhere/s.h5"' || fail "--set store not in the output"
has_setting printed.cfg train.learning_rate 0.00031 || fail "--set train.learning_rate not in the output"
has_setting printed.cfg pairs.reward_scale 2.5 || fail "--set pairs.reward_scale not in the output"
has_setting printed.cfg model.objective '"clf"' || fail "--set model.objective not in the output"
has_setting printed.cfg output '"runs/demo"' || fail "the file's own value of output not in the output"
has_setting printed.cfg gbdt.rounds 200 || fail "the default of gbdt.rounds not in the output"
ok "the --set values, the file's values and the defaults are printed"

"$RMENS" --print-config printed.cfg >reprinted.cfg || fail "the printed configuration does not load"
cmp -s printed.cfg reprinted.cfg || { diff printed.cfg reprinted.cfg; fail "printing the printed configuration changes it"; }
# the same settings spelt another way: a --set of the value the file already has moves the key
# within its group (the merge re-adds it), so compare the settings as sorted "group.key = value"
settings() { awk '/^[a-z_]+ :/ {g = $1 "."; next} /^};/ {g = ""; next} /^ *[a-z0-9_]+ = / {sub(/^ +/, ""); print g $0}' "$1" | sort; }
"$RMENS" --print-config printed.cfg --set train.epochs=3 >same.cfg
[ "$(settings printed.cfg)" = "$(settings same.cfg)" ] || { diff <(settings printed.cfg) <(settings same.cfg); fail "a --set of the value it already has changes the settings"; }
[ "$(settings printed.cfg | wc -l)" = "$(wc -w <<<"$KEYS")" ] || fail "settings() sees $(settings printed.cfg | wc -l) settings"
ok "round trip: --print-config of the printed file prints it unchanged"

# a config of defaults only, and pairs.source = "store" (its design keys are filled in)
: >empty.cfg
"$RMENS" --print-config empty.cfg >defaults.cfg && "$RMENS" --print-config defaults.cfg | cmp -s - defaults.cfg || fail "defaults round trip"
has_setting defaults.cfg train.epochs 30 || fail "the default train.epochs = 30 not printed"
"$RMENS" --print-config "$SRCDIR/configs/pairs.cfg" >store.cfg || fail "pairs.source=store"
"$RMENS" --print-config store.cfg | cmp -s - store.cfg || fail "pairs.source=store round trip"
has_setting store.cfg pairs.mode '"within_prompt"' || fail "pairs.source=store: the design keys not printed"
ok "defaults-only and pairs.source = \"store\" configurations round-trip"

# ---- loads to the same settings: synth from the printed file writes the same data ---------------
SMALL=(--set synth.train_prompts=60 --set synth.test_prompts=8 --set synth.bench_pairs=10 --set synth.dim=8)
"$RMENS" --print-config "$CFG" "${SMALL[@]}" --set store=a.h5 >small.cfg
"$RMENS" synth "$CFG" "${SMALL[@]}" --set store=a.h5 >/dev/null 2>synth.err || { cat synth.err; fail "synth from the command line"; }
"$RMENS" synth small.cfg --set store=b.h5 >/dev/null 2>synth.err || { cat synth.err; fail "synth from the printed configuration"; }
"${PYTHON:-/usr/bin/python3}" - a.h5 b.h5 <<'PY' || fail "the two stores differ"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
assert names, "no datasets"
for n in names:
    assert n in b, n
    assert np.array_equal(a[n][()], b[n][()]), n
print(f"ok: {len(names)} datasets identical")
PY

# ---- errors: one line naming the key, nothing on stdout -----------------------------------------
set +e
"$RMENS" --print-config "$CFG" --set train.epoch=3 >bad.out 2>bad.err
status=$?
set -e
[ "$status" = 1 ] || fail "an unknown key: exit $status, expected 1"
[ ! -s bad.out ] || fail "an unknown key printed a configuration"
grep -q "rmens --print-config: error: .*train.epoch.*train.epochs" bad.err || { cat bad.err; fail "the error does not name the key and its fix"; }
set +e
"$RMENS" --print-config >/dev/null 2>bad.err
status=$?
set -e
[ "$status" = 1 ] && grep -q "missing CONFIG" bad.err || { cat bad.err; fail "no CONFIG: exit $status"; }
"$RMENS" --print-config --help >help.txt && grep -q '^usage: rmens --print-config CONFIG' help.txt || fail "--print-config --help"
"$RMENS" --help >help.txt && grep -q -- '--print-config' help.txt || fail "rmens --help does not list --print-config"
ok "errors: $(cat bad.err)"
echo "print_config: all checks passed"
