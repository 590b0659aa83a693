#!/usr/bin/env bash
# Set up a fresh Debian 12 machine and build rmens: installs the Debian packages that are
# missing (as root, with apt-get), configures with CMake and builds into $BUILD_DIR
# (default: build/). Safe to run again: it only installs and rebuilds what is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

PACKAGES=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
          libopenblas-dev libconfig-dev libdnnl-dev libxgboost-dev python3 python3-numpy python3-h5py python3-scipy
          python3-sklearn python3-matplotlib python3-xgboost ${RMENS_EXTRA_PACKAGES:-})
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
# Only with RMENS_EMBEDDER=1 or `jobs/setup.sh --embedder`: installs Node.js and npm if missing
# (Debian packages) and the embedder's npm packages exactly as jobs/embed/package-lock.json pins
# them (`npm ci`, no install scripts), unless they are already installed. Otherwise does nothing.
if [ "${RMENS_EMBEDDER:-0}" = 1 ] || [[ " $* " == *" --embedder "* ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs npm" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if ! (cd "$ROOT/jobs/embed" && npm ls --depth=0 >/dev/null 2>&1); then
    (cd "$ROOT/jobs/embed" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
  fi
  echo "setup: embedder ready in $ROOT/jobs/embed (node jobs/embed/embed.mjs --help)" >&2
fi
# ---- end of the optional embedder block --------------------------------------------------------
