#!/usr/bin/env bash
# fuzz/run.sh — build the libFuzzer binaries and fuzz every target for <seconds> each.
#
#   fuzz/run.sh <seconds> [extra libFuzzer flags...]
#
# Environment:
#   CXX               a clang++ (default: clang++, else clang++-14)
#   BRINE_FUZZ_BUILD  build directory (default: build-fuzz-libfuzzer at the top of the source tree)
#   BRINE_FUZZ_JOBS   fuzzing processes per target (default: number of CPUs)
#
# The targets are the brine_fuzz_target(...) lines of fuzz/CMakeLists.txt. Each runs under ASan and
# UBSan with -rss_limit_mb=2048 -timeout=10 and fuzz/pickle.dict, starting from fuzz/corpus/<target>/
# and fuzz/corpus/shared/ (read only). New inputs go to <build>/fuzz-corpus/<target>/, logs to
# <build>/fuzz-logs/<target>/, crashes to fuzz/artifacts/<target>/ (ignored by git). Prints exec/s
# per process and the coverage of the whole resulting corpus; exits 1 when a run left a crash, leak,
# timeout or out-of-memory artifact.
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
jobs=${BRINE_FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
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
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" "${options[@]}"
fi

mapfile -t targets < <(sed -n 's/^brine_fuzz_target(\([A-Za-z0-9_]*\))$/\1/p' "$fuzz_dir/CMakeLists.txt")
cmake --build "$build" --target "${targets[@]}"

limits=(-rss_limit_mb=2048 -timeout=10)
# Inputs up to 32 KiB keep the 10^4-deep catalogue seeds whole; longer ones (the 128 KiB frame
# seed) are truncated while fuzzing, which roughly doubles exec/s. A later -max_len in "$@" wins.
max_len=(-max_len=32768)
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
summary=()
found=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/$t
  work=$build/fuzz-corpus/$t
  logs=$build/fuzz-logs/$t
  artifacts=$fuzz_dir/artifacts/$t/
  seeds=("$fuzz_dir/corpus/shared")
  if [[ -d $fuzz_dir/corpus/$t ]]; then seeds=("$fuzz_dir/corpus/$t" "${seeds[@]}"); fi
  mkdir -p "$work" "$artifacts"
  rm -rf "$logs"
  mkdir -p "$logs"
  echo "== $t: $jobs x ${seconds}s"
  # -jobs writes one fuzz-<n>.log per process into the current directory.
  (cd "$logs" && "$bin" -jobs="$jobs" -workers="$jobs" -max_total_time="$seconds" "${limits[@]}" \
      -dict="$fuzz_dir/pickle.dict" -artifact_prefix="$artifacts" -print_final_stats=1 "${max_len[@]}" "$@" \
      "$work" "${seeds[@]}" >"$logs/run.log" 2>&1) || true
  rates=$(grep -h 'stat::average_exec_per_sec' "$logs"/fuzz-*.log 2>/dev/null | awk '{print $2}' | paste -sd+ - || true)
  # Coverage of everything found, all processes together: replay the corpus once.
  inited=$("$bin" -runs=0 "${limits[@]}" "$work" "${seeds[@]}" 2>&1 | grep -m1 'INITED' || true)
  cov=$(sed -n 's/.*\(cov: [0-9]*\).*/\1/p' <<<"$inited")
  ft=$(sed -n 's/.*\(ft: [0-9]*\).*/\1/p' <<<"$inited")
  summary+=("$t: exec/s ${rates:-?} (per process); corpus $(find "$work" -type f | wc -l) new inputs; $cov $ft")
  while IFS= read -r f; do found+=("$f"); done < <(find "$artifacts" -type f -newer "$stamp" \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
done

echo
printf '%s\n' "${summary[@]}"
if [[ ${#found[@]} -gt 0 ]]; then
  echo
  echo "findings (reproduce with: <build>/fuzz/<target> <file>):"
  printf '  %s\n' "${found[@]}"
  exit 1
fi
