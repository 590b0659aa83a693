#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SEED_CORPUS SECONDS [RUNS]: a bounded libFuzzer run on a scratch copy of the
# seed corpus. Fails on any crash, leak, UB report or timeout; prints the executions done.
set -euo pipefail
fuzzer="$1" seeds="$2" seconds="$3"
work="$(mktemp -d /tmp/rmens_fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -r "$seeds/." "$work/corpus/" 2>/dev/null || { mkdir -p "$work/corpus"; cp -r "$seeds/." "$work/corpus/"; }
# LeakSanitizer ignores only the third-party leaks listed (and explained) in lsan.supp.
# Full unwinding (as tests/run.sh): what MPI_Init keeps is then traced to libmpi and suppressed.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/sanitizer/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
cd "$work"
# Inputs up to 8 KiB, or up to the largest seed (the store corpus holds whole small HDF5
# files). RUNS (optional 4th argument) bounds the executions as well as the time.
max_len=8192
for seed in corpus/*; do size=$(stat -c %s "$seed"); [ "$size" -le "$max_len" ] || max_len=$size; done
runs=()
[ -z "${4:-}" ] || runs=(-runs="$4")
"$fuzzer" -max_total_time="$seconds" "${runs[@]}" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 corpus \
  >"$work/log" 2>&1 || { tail -40 "$work/log"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" || true
echo "$(basename "$fuzzer"): no findings in ${seconds}s"
