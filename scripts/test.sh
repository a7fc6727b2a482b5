#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests (GoogleTest via ctest), unit tests again
# under ASan/UBSan, fuzz-corpus replay (libFuzzer, clang-14, ASan/UBSan), and the
# integration tests (pytest, real binary, real clients and backends). The pytest summary
# is the last line printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=$(nproc)

step() { printf '\n=== %s ===\n' "$*"; }

step "build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$JOBS"

step "unit tests"
ctest --test-dir build --output-on-failure -j "$JOBS" | tail -n 5

step "unit tests under ASan/UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
ninja -C build-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" | tail -n 5

step "fuzz corpus replay (ASan/UBSan)"
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DSLUICE_FUZZ=ON >/dev/null
ninja -C build-fuzz -j "$JOBS"
for dir in tests/fuzz/*/; do
  name=$(basename "$dir")
  [ -x "build-fuzz/fuzz_$name" ] || { echo "missing fuzz target fuzz_$name"; exit 1; }
  "build-fuzz/fuzz_$name" -runs=0 "$dir/corpus" 2>&1 | tail -n 1
done

step "integration tests"
SLUICE_BIN="$PWD/build/sluice" /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider
