#!/usr/bin/env bash
# Builds Sluice's Debian package (CPack; packaging/ holds its sources) and checks it with
# lintian. Prints the .deb's path last.
#
#   bash scripts/package.sh                 # configures and builds build-pkg/ (binary only)
#   BUILD_DIR=build bash scripts/package.sh # packages an existing build's sluice: no compile
#                                           # when it is up to date (test.sh's build/ is)
#   JOBS=1 OUT_DIR=/tmp/deb bash scripts/package.sh
#
# Install it with `sudo apt install ./sluice_<version>_<arch>.deb` (or dpkg -i); `systemctl
# status sluice` then shows the service serving /etc/sluice/sluice.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build-pkg}
OUT_DIR=${OUT_DIR:-$BUILD_DIR}
JOBS=${JOBS:-$(nproc)}

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  # Only what the package holds: no unit tests, no benchmarks.
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_TESTS=OFF \
    -DSLUICE_BENCH=OFF >/dev/null
fi
if [ ! -f "$BUILD_DIR/CPackConfig.cmake" ]; then
  echo "package: $BUILD_DIR has no CPackConfig.cmake (a sanitizer, TSan or fuzz build, or" \
    "-DSLUICE_PACKAGE=OFF); use a normal build dir" >&2
  exit 1
fi
ninja -C "$BUILD_DIR" -j "$JOBS" sluice
mkdir -p "$OUT_DIR"
cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$OUT_DIR" >"$OUT_DIR/cpack.log" 2>&1 ||
  { cat "$OUT_DIR/cpack.log"; exit 1; }
rm -rf "$OUT_DIR/_CPack_Packages"
deb=$(ls -t "$OUT_DIR"/sluice_*.deb | head -n 1)
if command -v lintian >/dev/null; then
  # Errors and warnings fail; info tags are printed. packaging/lintian-overrides says what
  # is overridden and why.
  lintian --display-info --fail-on error,warning "$deb"
  echo "package: lintian clean"
else
  echo "package: lintian not installed (scripts/setup.sh installs it); not checked" >&2
fi
echo "$deb"
