#!/bin/bash
# System calls per proxied keep-alive request, by strace: runs Sluice (one worker, four bench
# responders on 127.0.0.11-14) under `strace -c -f` twice, serving N1 and then N2 keep-alive
# requests from one client, and prints, per call, (count(N2) - count(N1)) / (N2 - N1):
# start-up, config loading and health checks cancel out.
#   usage: bench/tools/syscalls-per-request.sh [SLUICE_BINARY] [N1] [N2]
# Ports are chosen at run time; files are kept in $OUT (default /tmp/sluice-syscalls).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build-bench/sluice}
n1=${2:-2000}
n2=${3:-6000}
out=${OUT:-/tmp/sluice-syscalls}
# shellcheck source=per-request-setup.sh
source "$here/per-request-setup.sh"
run() {  # N -> strace summary of a run serving N requests
  strace -f -c -o "$out/strace-$1.txt" "$bin" run -c "$out/config.yaml" --workers 1 \
    >"$out/sluice-$1.log" 2>&1 &
  local sp=$!
  wait_then_load "$1"
  pkill -INT -P "$sp" || true  # the traced Sluice, so that strace writes its summary
  wait "$sp" || true
}
run "$n1"
run "$n2"
/usr/bin/python3 - "$out/strace-$n1.txt" "$out/strace-$n2.txt" "$n1" "$n2" <<'PY'
import sys
def calls(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            out[f[-1]] = int(f[3])
    return out
a, b = calls(sys.argv[1]), calls(sys.argv[2])
n = int(sys.argv[4]) - int(sys.argv[3])
rows = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
total = 0.0
for per, name in reversed(rows):
    if per >= 0.005:
        print(f"{per:8.2f}  {name}")
        total += per
print(f"{total:8.2f}  total system calls per request")
PY
