#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via ctest), unit tests again
# under ASan/UBSan and under TSan, fuzz-corpus replay (libFuzzer, clang-14, ASan/UBSan), the
# benchmark harness's own unit tests and a smoke run of it (so it cannot rot), and the
# integration tests (pytest, real binary, real clients and backends). The pytest summary is
# the last line printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=$(nproc)

step() { printf '\n=== %s (%s) ===\n' "$*" "$(date -u +%H:%M:%S)"; }
# quiet LOG CMD...: runs CMD with its output in LOG; prints LOG's last lines only on failure.
quiet() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { tail -n 60 "$log"; echo "FAILED: $*"; exit 1; }
}

step "build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
quiet build/ninja.log ninja -C build -j "$JOBS"

step "unit tests"
ctest --test-dir build --output-on-failure -j "$JOBS" > build/ctest.log 2>&1 ||
  { grep -v "^ *[0-9]*/[0-9]* Test" build/ctest.log | tail -n 80; exit 1; }
tail -n 3 build/ctest.log

# One clang-14 build with ASan/UBSan serves the unit tests and the fuzz targets (libFuzzer needs
# clang): the libraries compile once. On this 2-core machine the build took 7.5 min and the
# unit tests under it 3 min, where gcc's ASan build and tests took 15 min and the separate
# fuzz build and replay 4 more (CI of 2026-12-07). The fuzz targets' coverage instrumentation
# is in the unit tests too; the sanitizer runtime answers its hooks.
step "unit tests under ASan/UBSan, fuzz corpus replay (clang-14)"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DSLUICE_FUZZ=ON >/dev/null
quiet build-fuzz/ninja.log ninja -C build-fuzz -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-fuzz --output-on-failure -j "$JOBS" > build-fuzz/ctest.log 2>&1 ||
  { grep -v "^ *[0-9]*/[0-9]* Test" build-fuzz/ctest.log | tail -n 80; exit 1; }
tail -n 3 build-fuzz/ctest.log
for dir in tests/fuzz/*/; do
  name=$(basename "$dir")
  [ -x "build-fuzz/fuzz_$name" ] || { echo "missing fuzz target fuzz_$name"; exit 1; }
  quiet "build-fuzz/replay-$name.log" "build-fuzz/fuzz_$name" -runs=0 "$dir/corpus"
  echo "fuzz_$name: $(ls "$dir/corpus" | wc -l) corpus files replayed, no findings"
done

# The workers, the health checker thread, the admin thread and the reload path share state only
# through atomics, mutex-guarded mailboxes and published snapshots; TSan checks that the unit
# tests see no data race (the test binaries of threaded code only: SLUICE_TSAN_SKIP in
# CMakeLists.txt names the single-threaded directories it leaves out). -O1 -g: a quarter less compile time than -O2, and stacks
# that still name the lines. No suppressions: every report fails the step.
step "unit tests under TSan"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DSLUICE_TSAN=ON -DSLUICE_BENCH=OFF >/dev/null
quiet build-tsan/ninja.log ninja -C build-tsan -j "$JOBS"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --test-dir build-tsan --output-on-failure -j "$JOBS" > build-tsan/ctest.log 2>&1 ||
  { grep -v "^ *[0-9]*/[0-9]* Test" build-tsan/ctest.log | tail -n 80; exit 1; }
tail -n 3 build-tsan/ctest.log

step "benchmark harness unit tests"
/usr/bin/python3 -m pytest bench/tests -q -p no:cacheprovider > build/bench-unit.log 2>&1 || { tail -n 40 build/bench-unit.log; exit 1; }
tail -n 1 build/bench-unit.log

# The smoke run drives the RelWithDebInfo binary built above: it checks the harness, not figures.
# With its own Release build of Sluice the step took 7.1 min in CI (2026-12-07); without, 3.4.
step "benchmark harness smoke run (one short round; fails only on errors, never on figures)"
/usr/bin/python3 bench/run.py --smoke --sluice build/sluice > build/bench-smoke.log 2>&1 || { tail -n 40 build/bench-smoke.log; exit 1; }
tail -n 3 build/bench-smoke.log

step "integration tests"
SLUICE_BIN="$PWD/build/sluice" /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider
