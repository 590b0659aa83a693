#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): sets up the machine, builds and
# runs the whole ctest suite. Extra arguments go to ctest (e.g. -L unit, -R store).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
RMENS_EXTRA_PACKAGES="python3-torch slurm-wlm munge ${RMENS_EXTRA_PACKAGES:-}" "$ROOT/jobs/setup.sh"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 "$@"
