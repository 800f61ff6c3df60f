#!/usr/bin/env bash
# fuzz/run.sh — build the libFuzzer binaries and fuzz every target for <seconds> each.
#
#   fuzz/run.sh <seconds> [extra libFuzzer flags...]
#
# Environment:
#   CXX                 a clang++ (default: clang++, else clang++-14)
#   BRINE_FUZZ_BUILD    build directory (default: build-fuzz-libfuzzer at the top of the source tree)
#   BRINE_FUZZ_JOBS     targets fuzzed at the same time, one process each (default: number of CPUs)
#   BRINE_FUZZ_TARGETS  the targets to run, space-separated (default: all of them)
#   BRINE_FUZZ_NICE     run the fuzzers under `nice -n <value>` (default: 0, not niced)
#   BRINE_FUZZ_CMAKE_ARGS  extra arguments for the first configure (e.g. a build type)
#
# The targets are the brine_fuzz_target(...) lines of fuzz/CMakeLists.txt. Each runs as one
# libFuzzer process under ASan and UBSan with -rss_limit_mb=2048 -timeout=10 -max_len=32768 and
# fuzz/pickle.dict, starting from fuzz/corpus/<target>/ and fuzz/corpus/shared/ (read only, so the
# committed corpus is replayed first: a crash there fails the run too). New inputs go to
# <build>/fuzz-corpus/<target>/ (kept between runs), the log to <build>/fuzz-logs/<target>.log,
# crashes to fuzz/artifacts/<target>/ (ignored by git).
#
# Prints, per target, what libFuzzer's final statistics and last status line say: executions,
# executions per second, coverage (cov: edges, ft: features), corpus entries and peak RSS; the
# table is also written to <build>/fuzz-logs/summary.txt. Exits 1 when a run left a crash, leak,
# timeout or out-of-memory artifact or ended abnormally.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 <seconds> [extra libFuzzer flags...]" >&2
  exit 2
fi
seconds=$1
shift

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
build=${BRINE_FUZZ_BUILD:-$root/build-fuzz-libfuzzer}
mkdir -p "$build"
build=$(cd "$build" && pwd)
jobs=${BRINE_FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
niceness=${BRINE_FUZZ_NICE:-0}
cxx=${CXX:-$(command -v clang++ || command -v clang++-14 || true)}
if [[ -z $cxx ]]; then
  echo "run.sh: no clang++ found (set CXX)" >&2
  exit 2
fi

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
options=(-DBRINE_LIBFUZZER=ON -DBRINE_SANITIZE=ON -DBRINE_BUILD_TESTS=ON -DBRINE_BUILD_TOOLS=OFF
  -DBRINE_BUILD_BENCH=OFF -DBRINE_INSTALL=OFF)
if [[ -f $build/CMakeCache.txt ]]; then  # the compiler of an existing build cannot change
  cmake -S "$root" -B "$build" "${options[@]}" >/dev/null
else
  read -r -a extra_cmake <<<"${BRINE_FUZZ_CMAKE_ARGS:-}"
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" "${options[@]}" "${extra_cmake[@]}"
fi

mapfile -t all_targets < <(sed -n 's/^brine_fuzz_target(\([A-Za-z0-9_]*\))$/\1/p' "$fuzz_dir/CMakeLists.txt")
if [[ -n ${BRINE_FUZZ_TARGETS:-} ]]; then
  read -r -a targets <<<"$BRINE_FUZZ_TARGETS"
else
  targets=("${all_targets[@]}")
fi
cmake --build "$build" --target "${targets[@]}" -j "$jobs"

limits=(-rss_limit_mb=2048 -timeout=10)
# Inputs up to 32 KiB keep the 10^4-deep catalogue seeds whole; longer ones (the 128 KiB frame
# seed) are truncated while fuzzing, which roughly doubles exec/s. A later -max_len in "$@" wins.
max_len=(-max_len=32768)
logs=$build/fuzz-logs
mkdir -p "$logs"
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

run_one() {
  local t=$1 bin=$build/fuzz/$1 work=$build/fuzz-corpus/$1 artifacts=$fuzz_dir/artifacts/$1/
  shift
  local seeds=("$fuzz_dir/corpus/shared")
  if [[ -d $fuzz_dir/corpus/$t ]]; then seeds=("$fuzz_dir/corpus/$t" "${seeds[@]}"); fi
  mkdir -p "$work" "$artifacts"
  local status=0
  nice -n "$niceness" "$bin" -max_total_time="$seconds" "${limits[@]}" -dict="$fuzz_dir/pickle.dict" \
    -artifact_prefix="$artifacts" -print_final_stats=1 "${max_len[@]}" "$@" "$work" "${seeds[@]}" \
    >"$logs/$t.log" 2>&1 || status=$?
  echo "$status" >"$logs/$t.status"
}

echo "== fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  echo "   start $t"
  rm -f "$logs/$t.status"
  run_one "$t" "$@" &
  running=$((running + 1))
done
wait || true

found=()
failed=()
{
  printf '%-22s %12s %9s %7s %7s %7s %8s\n' target executions exec/s cov ft corpus rss_mb
  for t in "${targets[@]}"; do
    log=$logs/$t.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    printf '%-22s %12s %9s %7s %7s %7s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}"
  done
} | tee "$logs/summary.txt"

for t in "${targets[@]}"; do
  status=$(cat "$logs/$t.status" 2>/dev/null || echo missing)
  [[ $status == 0 ]] || failed+=("$t (exit $status, log $logs/$t.log)")
  while IFS= read -r f; do found+=("$f"); done < <(find "$fuzz_dir/artifacts/$t" -type f -newer "$stamp" \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
done
if [[ ${#found[@]} -gt 0 || ${#failed[@]} -gt 0 ]]; then
  echo
  [[ ${#failed[@]} -gt 0 ]] && printf 'abnormal end: %s\n' "${failed[@]}"
  if [[ ${#found[@]} -gt 0 ]]; then
    echo "findings (reproduce with: $build/fuzz/<target> <file>):"
    printf '  %s\n' "${found[@]}"
  fi
  exit 1
fi
