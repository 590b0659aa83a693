#!/usr/bin/env bash
# Bitwise regression test (ctest bitwise_outputs; tests/bitwise/README.md): runs the fixed
# scenarios (scenarios.sh) with the rmens under test, hashes every output (hash_outputs.py)
# and compares with the hashes the build of commit e699003 produced on this CPU
# (reference/<cpu-key>.txt).
#   check_bitwise.sh                    compare; exit 0 match, 1 mismatch or failed run,
#                                       77 skip (no reference for this CPU, or another build kind)
#   check_bitwise.sh --write-reference  write reference/<cpu-key>.txt (RMENS must be a build
#                                       of commit e699003; see README.md)
# Environment: RMENS (default $SRCDIR/build/rmens), MPIRUN (default mpirun), PYTHON
# (default /usr/bin/python3), SRCDIR (default: this repository), KEEP_WORK=1 keeps the
# scratch directory (printed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRCDIR="${SRCDIR:-$(cd "$HERE/../.." && pwd)}"
RMENS="${RMENS:-$SRCDIR/build/rmens}"
MPIRUN="${MPIRUN:-$(command -v mpirun || echo mpirun)}"
PYTHON="${PYTHON:-/usr/bin/python3}"
export RMENS MPIRUN PYTHON SRCDIR
REF_COMMIT=e699003 # the commit whose outputs every later build must reproduce
MODE=check
case "${1:-}" in
  "") ;;
  --write-reference) MODE="write" ;;
  *) echo "usage: check_bitwise.sh [--write-reference]" >&2; exit 2 ;;
esac
[ -x "$RMENS" ] || { echo "check_bitwise: no rmens binary at $RMENS (set RMENS)" >&2; exit 1; }
RMENS="$(cd "$(dirname "$RMENS")" && pwd)/$(basename "$RMENS")"

# The CPU identity: vendor, family and model. Bitwise identity holds on one kind of CPU
# only (fp32 runs rmens's AVX-512 GEMM or OpenBLAS's kernels for this CPU, bf16 oneDNN's
# AMX or AVX512-BF16 kernels, which accumulate in different orders).
cpu_field() { awk -F': *' -v k="$1" '$1 ~ "^"k"[ \t]*$" {print $2; exit}' /proc/cpuinfo 2>/dev/null; }
vendor="$(cpu_field vendor_id)" family="$(cpu_field 'cpu family')" model="$(cpu_field model)"
CPU_KEY="${vendor:-unknown}-f${family:-x}-m${model:-x}"
CPU_NAME="$(cpu_field 'model name')"
REF="$HERE/reference/$CPU_KEY.txt"
REGEN="git worktree add --detach /tmp/rmens-$REF_COMMIT $REF_COMMIT && (cd /tmp/rmens-$REF_COMMIT && BUILD_DIR=/tmp/rmens-$REF_COMMIT/build jobs/setup.sh) && RMENS=/tmp/rmens-$REF_COMMIT/build/rmens tests/bitwise/check_bitwise.sh --write-reference"

# The build kind, from the CMake cache beside the binary (when there is one): compiler and
# version, build type and the options that change generated code. A reference holds for
# builds of the same kind only: -O1 under sanitizers, -O0 or another compiler contract
# multiply-adds differently.
build_key() {
  local dir cache cc
  dir="$(dirname "$RMENS")"
  cache="$dir/CMakeCache.txt"
  [ -f "$cache" ] || return 0
  cc="$(ls "$dir"/CMakeFiles/*/CMakeCCompiler.cmake 2>/dev/null | head -n 1)"
  local id ver type
  id="$(sed -n 's/^set(CMAKE_C_COMPILER_ID "\(.*\)")$/\1/p' "$cc" 2>/dev/null)"
  ver="$(sed -n 's/^set(CMAKE_C_COMPILER_VERSION "\(.*\)")$/\1/p' "$cc" 2>/dev/null)"
  type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache")"
  opt() { sed -n "s/^$1:BOOL=//p" "$cache"; }
  echo "${id:-?}-${ver:-?} ${type:-?} native=$(opt RMENS_NATIVE) sanitize=$(opt RMENS_SANITIZE) fuzz=$(opt RMENS_FUZZ)"
}
BUILD_KEY="$(build_key)"
# Library versions, for the header and for diagnosing a mismatch (kernels live in them).
packages() {
  dpkg-query -W -f '${Package}=${Version} ${Status}\n' libopenblas0-pthread libopenblas0-openmp libopenblas0-serial \
    libdnnl2 libdnnl3 libxgboost0 libhdf5-openmpi-103-1 libopenmpi3 2>/dev/null | awk '/ installed$/ {printf "%s%s", s, $1; s = " "}'
}
PACKAGES="$(packages || true)"
header_value() { sed -n "s/^# $1: //p" "$REF" | head -n 1; }

if [ "$MODE" = check ]; then
  if [ "${RMENS_SANITIZER_BUILD:-0}" = 1 ]; then
    echo "SKIP bitwise_outputs: a sanitizer build (RMENS_SANITIZER_BUILD=1): compiled otherwise (clang, -O1), its floating-point results legitimately differ from the reference build's"
    exit 77
  fi
  if [ ! -f "$REF" ]; then
    echo "SKIP bitwise_outputs: no reference hashes for this CPU ($CPU_KEY, $CPU_NAME): tests/bitwise/reference/$CPU_KEY.txt"
    echo "  generate them from commit $REF_COMMIT (from the repository root): $REGEN"
    exit 77
  fi
  ref_build="$(header_value build)"
  if [ -n "$BUILD_KEY" ] && [ -n "$ref_build" ] && [ "$BUILD_KEY" != "$ref_build" ]; then
    echo "SKIP bitwise_outputs: $RMENS is a build of another kind ($BUILD_KEY) than the reference's ($ref_build);"
    echo "  the reference holds for that kind of build only (see tests/bitwise/README.md)"
    exit 77
  fi
  [ -n "$BUILD_KEY" ] || echo "check_bitwise: note: no CMakeCache.txt beside $RMENS: build kind not checked"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmens_bitwise.XXXXXX")"
trap '[ -n "${KEEP_WORK:-}" ] && echo "check_bitwise: kept $WORK" || rm -rf "$WORK"' EXIT
echo "check_bitwise: rmens $RMENS, CPU $CPU_KEY ($CPU_NAME)${BUILD_KEY:+, build $BUILD_KEY}"
t0=$SECONDS
run_ok=1
"$HERE/scenarios.sh" "$WORK/out" || run_ok=0
"$PYTHON" "$HERE/hash_outputs.py" "$WORK/out" >"$WORK/hashes.txt"
echo "check_bitwise: $(wc -l <"$WORK/hashes.txt") outputs hashed, $((SECONDS - t0))s"

if [ "$MODE" = write ]; then
  [ "$run_ok" = 1 ] || { echo "check_bitwise: a scenario failed: no reference written" >&2; exit 1; }
  [ ! -s "$WORK/out/SKIPPED" ] || { echo "check_bitwise: scenarios skipped ($(cut -d' ' -f1 "$WORK/out/SKIPPED" | tr '\n' ' ')): a reference needs them all" >&2; exit 1; }
  src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$(dirname "$RMENS")/CMakeCache.txt" 2>/dev/null || true)"
  commit="$(git -C "${src:-/nonexistent}" rev-parse HEAD 2>/dev/null || true)"
  if [[ "$commit" != "$REF_COMMIT"* ]] && [ "${BITWISE_ANY_COMMIT:-0}" != 1 ]; then
    echo "check_bitwise: $RMENS was built from ${src:-an unknown source tree} at ${commit:-an unknown commit}, not $REF_COMMIT;" >&2
    echo "  the reference must come from $REF_COMMIT ($REGEN), or set BITWISE_ANY_COMMIT=1" >&2
    exit 1
  fi
  if [ -n "$src" ] && [ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "check_bitwise: $src has local changes: build a clean checkout of $REF_COMMIT" >&2; exit 1
  fi
  mkdir -p "$HERE/reference"
  {
    echo "# rmens bitwise reference hashes (tests/bitwise/README.md): <scenario>/<file> <sha256>"
    echo "# commit: $REF_COMMIT (rmens $("$RMENS" --version 2>/dev/null | head -n 1 | sed 's/^rmens //'), built from ${commit:-?})"
    echo "# cpu-key: $CPU_KEY"
    echo "# cpu: $CPU_NAME"
    echo "# cpu-flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_bf16|amx_tile)$' | tr '\n' ' ' | sed 's/ $//')"
    echo "# build: $BUILD_KEY"
    echo "# packages: $PACKAGES"
    echo "# date: $(date -u +%Y-%m-%d)"
    echo "# regenerate (from the repository root): $REGEN"
    cat "$WORK/hashes.txt"
  } >"$REF"
  echo "check_bitwise: wrote $REF ($(wc -l <"$WORK/hashes.txt") hashes)"
  exit 0
fi

# compare: a scenario this binary skipped by construction (SKIPPED) drops its reference lines
grep -v '^#' "$REF" | grep -v '^[[:space:]]*$' | sort >"$WORK/expected.txt"
while read -r scenario reason; do
  [ -n "$scenario" ] || continue
  echo "check_bitwise: note: $scenario not checked: $reason"
  grep -v "^$scenario/" "$WORK/expected.txt" >"$WORK/expected.tmp" || true
  mv "$WORK/expected.tmp" "$WORK/expected.txt"
done <"$WORK/out/SKIPPED"
status=0
"$PYTHON" - "$WORK/expected.txt" "$WORK/hashes.txt" <<'PY' || status=1
import sys
def load(p):
    out = {}
    for line in open(p):
        key, digest = line.split()
        out[key] = digest
    return out
want, got = load(sys.argv[1]), load(sys.argv[2])
short = lambda d: d[:16]
rows = []
for key in sorted(set(want) | set(got)):
    w, g = want.get(key), got.get(key)
    if w == g:
        continue
    if g is None:
        rows.append(f"  MISSING     {key}  (reference {short(w)}, not written by this build)")
    elif w is None:
        rows.append(f"  UNEXPECTED  {key}  ({short(g)}, not in the reference)")
    else:
        rows.append(f"  DIFFERS     {key}  reference {short(w)}  this build {short(g)}")
same = sum(want.get(k) == g for k, g in got.items())
bad = len(rows)
print(f"check_bitwise: {same} of {len(want)} reference outputs identical" + (f"; {bad} mismatch(es):" if bad else ""))
for r in rows:
    print(r)
sys.exit(1 if bad else 0)
PY
if [ "$status" != 0 ] || [ "$run_ok" != 1 ]; then
  [ "$run_ok" = 1 ] || echo "check_bitwise: FAIL: a scenario failed to run (above)"
  if [ "$status" != 0 ]; then
    echo "check_bitwise: FAIL: outputs differ from commit $REF_COMMIT's on this CPU ($CPU_KEY)"
    ref_pkgs="$(header_value packages)"
    [ -z "$ref_pkgs" ] || [ "$ref_pkgs" = "$PACKAGES" ] || echo "  note: the libraries differ from the reference's: now '$PACKAGES', then '$ref_pkgs'"
    echo "  to inspect: KEEP_WORK=1 re-runs keep the outputs; tests/ensemble/compare_members.py, compare_results.py and"
    echo "  tests/active/compare_active.py show which objects differ against a run of the $REF_COMMIT build (README.md)"
  fi
  exit 1
fi
echo "check_bitwise: PASS: outputs bitwise identical to commit $REF_COMMIT's ($CPU_KEY)"
