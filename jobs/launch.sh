#!/usr/bin/env bash
# Local launcher: run an rmens verb under mpirun with the right rank count and BLAS threads.
#   jobs/launch.sh [-n RANKS] VERB CONFIG [rmens options...]
# RANKS defaults to the number of cores. Each rank gets cores/RANKS BLAS threads
# (OPENBLAS_NUM_THREADS), never more, so BLAS threads do not oversubscribe the cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/jobs/find_rmens.sh"
RMENS="${RMENS:-$(rmens_default_binary "$ROOT")}"
ranks="$(nproc)"
if [ "${1:-}" = "-n" ]; then ranks="$2"; shift 2; fi
if [ $# -lt 1 ]; then echo "usage: jobs/launch.sh [-n RANKS] VERB CONFIG [options]" >&2; exit 2; fi
cores="$(nproc)"
threads=$(( cores / ranks )); (( threads >= 1 )) || threads=1
extra=()
(( ranks > cores )) && extra+=(--oversubscribe)
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# Binding each rank to cores only pays when threads fit; bind-to none otherwise.
exec mpirun -n "$ranks" "${extra[@]}" --bind-to none -x OPENBLAS_NUM_THREADS="$threads" \
     "$RMENS" "$@" --set parallel.blas_threads="$threads"
