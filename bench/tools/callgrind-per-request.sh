#!/bin/bash
# User-space instructions per proxied request, by callgrind: runs Sluice (one worker, four
# bench responders on 127.0.0.11-14) under valgrind twice, serving N1 and then N2 keep-alive
# requests from one client, and prints (Ir(N2) - Ir(N1)) / (N2 - N1): start-up, config
# loading and health checks cancel out. Steal and frequency scaling cannot touch the figure.
#   usage: bench/tools/callgrind-per-request.sh [SLUICE_BINARY] [N1] [N2]
# Keeps the callgrind files in $OUT (default /tmp/sluice-callgrind) for callgrind_annotate;
# ports are chosen at run time (per-request-setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build-bench/sluice}
n1=${2:-2000}
n2=${3:-6000}
out=${OUT:-/tmp/sluice-callgrind}
# shellcheck source=per-request-setup.sh
source "$here/per-request-setup.sh"
total() {  # N -> total Ir of a run serving N requests
  # A stale file from an earlier run must never stand in for this one.
  rm -f "$out/run-$1.out"
  valgrind --tool=callgrind --callgrind-out-file="$out/run-$1.out" \
    "$bin" run -c "$out/config.yaml" --workers 1 >"$out/sluice-$1.log" 2>&1 &
  local vp=$!
  wait_then_load "$1"
  kill -INT "$vp"
  wait "$vp" || true
  if [ ! -s "$out/run-$1.out" ]; then
    echo "callgrind wrote no profile for the $1-request run; see $out/sluice-$1.log" >&2
    exit 1
  fi
  callgrind_annotate "$out/run-$1.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
t1=$(total "$n1")
t2=$(total "$n2")
echo "instructions per request: $(( (t2 - t1) / (n2 - n1) ))  ($bin; $n1 and $n2 requests; files in $out)"
