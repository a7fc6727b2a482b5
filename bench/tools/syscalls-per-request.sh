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
responder=$root/build-bench/bench-tools/responder
out=${OUT:-/tmp/sluice-syscalls}
mkdir -p "$out"
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
backend_port=$(free_port)
cat > "$out/config.yaml" <<YAML
LoadBalancers:
  - Name: bench
    Listeners:
      - Protocol: HTTP
        Port: $port
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: forward
            TargetGroupName: be
TargetGroups:
  - Name: be
    Protocol: HTTP
    Port: $backend_port
    Targets:
      - Id: 127.0.0.11
      - Id: 127.0.0.12
      - Id: 127.0.0.13
      - Id: 127.0.0.14
YAML
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for a in 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14; do
  "$responder" "$backend_port" "$a" >/dev/null 2>&1 &
  pids+=($!)
done
run() {  # N -> strace summary of a run serving N requests
  strace -f -c -o "$out/strace-$1.txt" "$bin" run -c "$out/config.yaml" --workers 1 \
    >"$out/sluice-$1.log" 2>&1 &
  local sp=$!
  for _ in $(seq 150); do
    (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.2
  done
  sleep 3  # first health checks
  /usr/bin/python3 "$here/keepalive-client.py" "$1" "$port" >/dev/null
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
            errors = f[4] if len(f) == 6 else "0"
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
