#!/usr/bin/env bash
# Set up a fresh Debian 12 machine and build rmens: installs the Debian packages that are
# missing (as root, with apt-get), configures with CMake and builds into $BUILD_DIR
# (default: build/). Safe to run again: it only installs and rebuilds what is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

PACKAGES=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
          libopenblas-dev libconfig-dev libdnnl-dev libxgboost-dev python3 python3-numpy python3-h5py python3-scipy
          python3-sklearn python3-matplotlib python3-xgboost help2man groff-base man-db ${RMENS_EXTRA_PACKAGES:-})
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Open MPI refuses to run as root unless told; CI and containers run as root.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_EXTRA_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" -- --no-print-directory >/dev/null
echo "setup: built $BUILD_DIR/rmens" >&2

# ---- optional: the text embedder of jobs/embed (issue 28) --------------------------------------
# RMENS_EMBEDDER=1 or `jobs/setup.sh --embedder`: installs Node.js and npm if missing (Debian
# packages) and the embedder's npm packages exactly as jobs/embed/package-lock.json pins them
# (`npm ci`, no install scripts), unless they are already installed; a failure is an error.
# RMENS_EMBEDDER=optional (what tests/run.sh sets): the same, but a failure (no registry, no
# Node) prints one warning line and setup goes on; the embed tests then skip (ctest exit 77).
# Otherwise (unset or 0) does nothing. RMENS_NPM_TIMEOUT bounds `npm ci` (seconds, default 300).
EMBEDDER="${RMENS_EMBEDDER:-0}"
[[ " $* " == *" --embedder "* ]] && EMBEDDER=1
if [ "$EMBEDDER" = 1 ] || [ "$EMBEDDER" = optional ]; then
  EMBED_DIR="$ROOT/jobs/embed"
  embedder_failed() {
    if [ "$EMBEDDER" = optional ]; then
      echo "setup: WARNING: embedder not installed ($1); the embed tests will be skipped (retry: RMENS_EMBEDDER=1 jobs/setup.sh)" >&2
    else
      echo "setup: error: embedder not installed: $1" >&2; exit 1
    fi
  }
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs npm" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm; } >/dev/null 2>&1 || true
  fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    embedder_failed "node or npm not found and apt-get could not install them"
  elif (cd "$EMBED_DIR" && npm ls --depth=0 >/dev/null 2>&1); then
    echo "setup: embedder ready in $EMBED_DIR (node jobs/embed/embed.mjs --help)" >&2
  else
    log="$(mktemp "${TMPDIR:-/tmp}/rmens-npm-ci.XXXXXX")"
    t0=$SECONDS
    if (cd "$EMBED_DIR" && timeout -k 10 "${RMENS_NPM_TIMEOUT:-300}" npm ci --ignore-scripts --no-audit --no-fund >"$log" 2>&1); then
      echo "setup: embedder installed in $EMBED_DIR by npm ci in $((SECONDS - t0)) s (node jobs/embed/embed.mjs --help)" >&2
      rm -f "$log"
    else
      rc=$?
      # npm ci starts by removing node_modules; leave none rather than a partial tree.
      rm -rf "$EMBED_DIR/node_modules"
      why="$( { grep -m1 -E '^npm (ERR!|error) code ' "$log"; grep -m1 -E '^npm (ERR!|error) ([A-Za-z]*Error: |network |request )' "$log"; } |
              sed -E 's/^npm (ERR!|error) //' | tr '\n' ';' | sed 's/;/; /g' | cut -c1-240 || true)"
      if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="timed out after ${RMENS_NPM_TIMEOUT:-300} s; $why"; fi
      embedder_failed "npm ci in jobs/embed failed after $((SECONDS - t0)) s, exit $rc: ${why}full log $log"
    fi
  fi
fi
# ---- end of the optional embedder block --------------------------------------------------------
