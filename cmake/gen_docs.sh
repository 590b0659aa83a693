#!/usr/bin/env bash
# Generate rmens's man pages and bash completion from the built binary (CMakeLists.txt runs
# this at build time, after linking rmens), so they describe exactly what that binary does:
#   cmake/gen_docs.sh RMENS OUT_DIR VERSION COMPLETION_TEMPLATE [HELP2MAN]
# Writes OUT_DIR/man/rmens.1 (from `rmens --help`), OUT_DIR/man/rmens-<verb>.1 for every verb
# `rmens --help` lists (from `rmens <verb> --help`), and OUT_DIR/completion/rmens (the
# template filled with the verbs, each verb's options and the config keys). Man pages come
# from Debian's help2man when HELP2MAN is given, else from a plain formatter below (the help
# text verbatim). Needs no MPI: `rmens --help` and `rmens <verb> --help` do not start it.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 RMENS OUT_DIR VERSION COMPLETION_TEMPLATE [HELP2MAN]" >&2
  exit 2
fi
RMENS="$1" OUT="$2" VERSION="$3" TEMPLATE="$4" HELP2MAN="${5:-}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" # sanitizer builds: a help text is not a leak hunt
export LC_ALL=C

tmp="$OUT/.gen.$$"
rm -rf "$tmp"
mkdir -p "$tmp/man" "$tmp/wrap"
trap 'rm -rf "$tmp"' EXIT

top_help="$("$RMENS" --help)"
# verbs: the first word of each line of the "verbs:" block of `rmens --help`
mapfile -t verbs < <(printf '%s\n' "$top_help" | awk '/^verbs:/ {on = 1; next} on && /^[^ ]/ {on = 0} on && /^  [a-z]/ {print $1}')
if ((${#verbs[@]} == 0)); then
  echo "gen_docs: no verbs in \`$RMENS --help\`" >&2
  exit 1
fi
summary() { printf '%s\n' "$top_help" | awk -v v="$1" '$1 == v {sub(/^  [^ ]+ +/, ""); print; exit}'; }

# ---- options of a help text ------------------------------------------------------------------
# From the entries of its "options:" block (two spaces and "-"; the label runs to two spaces
# or the line's end and may list several options: "--embed-model S, --response-model S") and
# from its "usage:" block (options the usage line covers are not listed again, e.g. import's
# --output STORE). Prints "NAME" or "NAME value" lines, each option once.
help_options() { # help_options [SELF]: SELF (the global option a help text is about) left out
  awk -v self="${1:-}" 'function strip(t) { gsub(/[][]|\.\.\.$/, "", t); return t }
       /^usage:/ {usage = 1}
       usage && /^$/ {usage = 0}
       usage {
         n = split($0, w, /[ \t]+/)
         for (k = 1; k <= n; k++) {
           t = strip(w[k]); if (t !~ /^--[a-z0-9-]+$/) continue
           nxt = k < n ? strip(w[k + 1]) : ""
           add(t, nxt ~ /^[A-Z][A-Z_=]*$/ && w[k] !~ /\]$/)
         }
       }
       /^options:/ {on = 1; next}
       on && (/^$/ || /^[^ ]/) {on = 0}
       on && /^  -/ {
         label = substr($0, 3); i = index(label, "  "); if (i) label = substr(label, 1, i - 1)
         n = split(label, parts, /, /)
         for (k = 1; k <= n; k++) { split(parts[k], w2, " "); add(w2[1], w2[2] != "") }
       }
       function add(name, takes_value) {
         if (name == self) return
         if (!(name in seen)) { seen[name] = 1; order[++count] = name }
         if (takes_value) value[name] = 1
       }
       END { for (k = 1; k <= count; k++) print order[k], (value[order[k]] ? "value" : "") }'
}

# ---- man pages -----------------------------------------------------------------------------
# plain_man NAME SUMMARY HELP_FILE OUT: the help text verbatim under NAME/DESCRIPTION.
plain_man() {
  local upper
  upper="$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')"
  {
    printf '.TH %s 1 "" "rmens %s" "User Commands"\n' "$upper" "$VERSION"
    printf '.SH NAME\n%s \\- %s\n.SH DESCRIPTION\n.nf\n' "$1" "$(printf '%s' "$2" | sed 's/\\/\\e/g; s/-/\\-/g')"
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" "$3"
    printf '.fi\n'
  } >"$4"
}
# see_also NAME: the other pages of the family, for help2man's [SEE ALSO] section.
see_also() {
  local first=1 p
  printf '[SEE ALSO]\n'
  for p in rmens "${verbs[@]/#/rmens-}"; do
    [ "$p" = "$1" ] && continue
    ((first)) || printf ',\n'
    printf '.BR %s (1)' "$p"
    first=0
  done
  printf '\n'
}
make_man() { # make_man NAME SUMMARY PROGRAM HELP_FILE
  if [ -n "$HELP2MAN" ]; then
    see_also "$1" >"$tmp/$1.h2m"
    # "NAME (rmens) VERSION": help2man takes the page's name from it, and the package for the footer
    "$HELP2MAN" --no-info --no-discard-stderr --section=1 --version-string="$1 (rmens) $VERSION" \
      --name="$2" --include="$tmp/$1.h2m" --output="$tmp/man/$1.1" "$3"
  else
    plain_man "$1" "$2" "$4" "$tmp/man/$1.1"
  fi
}

printf '%s\n' "$top_help" >"$tmp/rmens.help"
make_man rmens "train and evaluate ensembles of embedding-based reward models with MPI" "$RMENS" "$tmp/rmens.help"

options_cases="" value_cases=""
add_options() { # add_options CASE_LABEL HELP_FILE
  local all values
  all="$(help_options "$1" <"$2" | awk '{print $1}' | tr '\n' ' ')--help"
  values="$(help_options "$1" <"$2" | awk '$2 == "value" {print $1}' | tr '\n' ' ')"
  options_cases+="    $1) echo '$all' ;;"$'\n'
  value_cases+="    $1) echo '${values% }' ;;"$'\n'
}
for v in "${verbs[@]}"; do
  "$RMENS" "$v" --help >"$tmp/$v.help"
  grep -q '^options:' "$tmp/$v.help" || { echo "gen_docs: \`rmens $v --help\` has no options: block" >&2; exit 1; }
  printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$RMENS" "$v" >"$tmp/wrap/rmens-$v"
  chmod +x "$tmp/wrap/rmens-$v"
  make_man "rmens-$v" "$(summary "$v")" "$tmp/wrap/rmens-$v" "$tmp/$v.help"
  add_options "$v" "$tmp/$v.help"
done
"$RMENS" --print-config --help >"$tmp/print-config.help"
add_options "--print-config" "$tmp/print-config.help"

# ---- config keys (the list every configuration verb's --help ends with) --------------------
# "  KEY  TYPE  default DEFAULT  DOC[ (a|b|c)]": the key, and the words a string key takes.
"$RMENS" train --help | awk '/^config keys:/ {on = 1; next} on && /^  [a-z]/ {print}' >"$tmp/keys.txt"
[ -s "$tmp/keys.txt" ] || { echo "gen_docs: \`rmens train --help\` lists no config keys" >&2; exit 1; }
keys="$(awk '{print $1}' "$tmp/keys.txt" | tr '\n' ' ')"
key_value_cases="$(awk '
  {
    rest = $0; sub(/^  [^ ]+ +/, "", rest); type = substr(rest, 1, index(rest, " default ") - 1); sub(/ +$/, "", type)
    if (type == "bool") { printf "    %s) echo \047true false\047 ;;\n", $1; next }
    # the schema appends its choices "(a|b|c)" to a string key'"'"'s line; a number|word key takes one word
    if ((type == "string" && match($0, /\([a-z0-9_]+(\|[a-z0-9_]+)+\)$/)) ||
        (type == "number|word" && match($0, /\([a-z0-9_|]+\)$/))) {
      words = substr($0, RSTART + 1, RLENGTH - 2); gsub(/\|/, " ", words)
      printf "    %s) echo \047%s\047 ;;\n", $1, words
    }
  }' "$tmp/keys.txt")"

# ---- the completion script ------------------------------------------------------------------
mkdir -p "$tmp/completion"
awk -v verbs="${verbs[*]}" -v globals="--print-config --version -V --help -h" -v keys="${keys% }" \
    -v opts="${options_cases%$'\n'}" -v vals="${value_cases%$'\n'}" -v kv="$key_value_cases" '
  /^@RMENS_OPTIONS_CASES@$/ {print opts; next}
  /^@RMENS_VALUE_OPTIONS_CASES@$/ {print vals; next}
  /^@RMENS_KEY_VALUES_CASES@$/ {print kv; next}
  {gsub(/@RMENS_VERBS@/, verbs); gsub(/@RMENS_GLOBAL_OPTIONS@/, globals); gsub(/@RMENS_KEYS@/, keys); print}
' "$TEMPLATE" >"$tmp/completion/rmens"
bash -n "$tmp/completion/rmens"

# Replace the previous outputs whole: a verb that no longer exists leaves no page behind.
rm -rf "$OUT/man" "$OUT/completion"
mv "$tmp/man" "$OUT/man"
mv "$tmp/completion" "$OUT/completion"
echo "gen_docs: ${#verbs[@]} verbs, $(wc -w <<<"$keys") config keys; man pages by ${HELP2MAN:-the plain formatter}" >&2
