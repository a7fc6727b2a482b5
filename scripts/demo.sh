#!/usr/bin/env bash
# Sets up, builds, and runs Sluice on the bundled demo (examples/demo.yaml): four echo
# targets on 127.0.0.1:3001-3004 behind a listener on 127.0.0.1:8080.
#   curl localhost:8080/auth/login     # answered by the auth target
#   curl localhost:8080/elsewhere      # fixed 404
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build sluice
exec ./build/sluice demo --config examples/demo.yaml "$@"
