#!/usr/bin/env bash
# Runs every libFuzzer target of BUILD_DIR/fuzz for SECONDS each, from its
# seed corpus (fuzz/corpus/NAME, read only) plus what earlier runs found
# (BUILD_DIR/fuzz-corpus/NAME), and prints a table of executions, speed and
# crashes. Exit status 1 if any target crashed (the reproducer is
# BUILD_DIR/fuzz/NAME-crash-*; rerun it with `BUILD_DIR/fuzz/fuzz_NAME FILE`).
# FUZZ_RUNS=N stops each target after N executions (SECONDS still bounds it).
# Usage: fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]
set -u
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
# A smaller quarantine and no fill of fresh allocations: 4x the executions
# of the API targets (docs/fuzzing.md); override with ASAN_OPTIONS.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16:max_malloc_fill_size=0:malloc_context_size=5}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/fuzz/fuzz_*; do
    name=$(basename "$bin"); name=${name#fuzz_}
    [ "$name" = manifest_seeds ] && continue
    targets+=("$name")
  done
fi
crashed=0
rows=()
for t in "${targets[@]}"; do
  mkdir -p "$build/fuzz-corpus/$t"
  log="$build/fuzz/$t.log"
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -print_final_stats=1 \
    -artifact_prefix="$build/fuzz/$t-" -rss_limit_mb=2048 \
    "$build/fuzz-corpus/$t" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(ls "$build/fuzz-corpus/$t" | wc -l)
  status=ok
  if [ $rc -ne 0 ]; then status="CRASH (see $log)"; crashed=1; fi
  rows+=("$(printf '%-14s %12s %10s %8s %8s  %s' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$corpus" "$status")")
done
printf '%-14s %12s %10s %8s %8s  %s\n' target executions exec/s cov corpus result
printf '%s\n' "${rows[@]}"
exit $crashed
