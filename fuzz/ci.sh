#!/usr/bin/env bash
# fuzz/ci.sh — the fuzzing stage of CI (called by tools/test, runnable on its own):
#
#   1. build every fuzz target with clang, libFuzzer, ASan and UBSan (brine's assertions on), and
#      the brine side of the differential driver, in build/fuzz-libfuzzer/;
#   2. replay every corpus (ctest -L fuzz in that build: each target over fuzz/corpus/<target>/
#      and fuzz/corpus/shared/, and the dictionary check; the differential's regression inputs are
#      replayed by the driver in step 3);
#   3. fuzz each target for BRINE_FUZZ_CI_SECONDS (default 60) seconds, as many at a time as
#      there are CPUs (fuzz/run.sh), while the differential driver compares
#      BRINE_FUZZ_CI_CASES (default 20000) mutated pickles with CPython's C unpickler
#      (conformance/differential/differential.py).
#
# Fails on any finding: a crash, leak, timeout or out-of-memory artifact, a broken property, an
# unclassified disagreement with CPython or a crash of either side of the differential.
# Environment: BRINE_FUZZ_CI_BUILD (build directory), BRINE_DIFF_PYTHON (the CPython to compare
# with; default: python3 on PATH), CXX (a clang++).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
build=${BRINE_FUZZ_CI_BUILD:-build/fuzz-libfuzzer}
seconds=${BRINE_FUZZ_CI_SECONDS:-60}
cases=${BRINE_FUZZ_CI_CASES:-20000}
jobs=$(nproc 2>/dev/null || echo 2)
python=${BRINE_DIFF_PYTHON:-$(command -v python3)}
cxx=${CXX:-$(command -v clang++ || command -v clang++-14 || true)}
if [[ -z $cxx ]]; then
  echo "fuzz/ci.sh: no clang++ (tools/bootstrap installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
elapsed() { echo "$(($(date +%s) - start)) s"; }

echo "== fuzz: build (clang, libFuzzer + ASan + UBSan) in $build"
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [[ ! -f $build/CMakeCache.txt ]]; then
  # -O1 with line tables: about as fast to fuzz, quicker to build, still symbolized reports.
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
    -DBRINE_LIBFUZZER=ON -DBRINE_SANITIZE=ON -DBRINE_BUILD_TESTS=ON -DBRINE_BUILD_TOOLS=OFF \
    -DBRINE_BUILD_BENCH=OFF -DBRINE_INSTALL=OFF >/dev/null
fi
mapfile -t targets < <(sed -n 's/^brine_fuzz_target(\([A-Za-z0-9_]*\))$/\1/p' fuzz/CMakeLists.txt)
cmake --build "$build" -j "$jobs" --target "${targets[@]}" brine_differential_side brine_fuzz_dict
echo "   built in $(elapsed)"

echo "== fuzz: replay of every corpus"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$build" -L fuzz -LE differential --output-on-failure -j "$jobs"
echo "   replayed at $(elapsed)"

echo "== fuzz: ${#targets[@]} targets x ${seconds} s, differential ($cases cases) alongside"
diff_status=0
"$python" conformance/differential/differential.py --brine "$build/fuzz/differential/brine_differential_side" \
  --cases "$cases" --quiet --workdir "$build/differential" >"$build/differential.log" 2>&1 &
diff_pid=$!
fuzz_status=0
BRINE_FUZZ_BUILD=$build BRINE_FUZZ_JOBS=$jobs fuzz/run.sh "$seconds" || fuzz_status=$?
wait "$diff_pid" || diff_status=$?
cat "$build/differential.log"
echo "   done at $(elapsed)"

if ((fuzz_status != 0 || diff_status != 0)); then
  echo "fuzz/ci.sh: FAILED (fuzzing exit $fuzz_status, differential exit $diff_status)" >&2
  exit 1
fi
echo "fuzz/ci.sh: clean in $(elapsed)"
