#!/bin/bash
# User-space instructions per HTTPS request on a new connection (TLS 1.3 handshake, the
# request with "Connection: close", the close), by callgrind: runs Sluice (one worker, an
# HTTPS listener on a self-signed ECDSA P-256 certificate, one bench responder) under
# valgrind twice, serving N1 and then N2 such requests from one Python client, and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1). With RESUME=1 the client resumes its previous session
# (TLS 1.3 PSK with a ticket), so the figure is per resumed handshake.
#   usage: [RESUME=1] bench/tools/callgrind-per-handshake.sh [SLUICE_BINARY] [N1] [N2]
# Keeps the callgrind files in $OUT (default /tmp/sluice-callgrind-tls); ports are chosen at
# run time. The library's share dominates: compare builds, not absolute figures with peers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build-bench/sluice}
n1=${2:-100}
n2=${3:-300}
out=${OUT:-/tmp/sluice-callgrind-tls}
resume=${RESUME:-0}
responder=$root/build-bench/bench-tools/responder
mkdir -p "$out"
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
backend_port=$(free_port)
[ -f "$out/localhost.crt" ] || "$bin" cert self-signed --name localhost --out-dir "$out" >/dev/null
cat > "$out/config.yaml" <<YAML
Certificates:
  - Name: bench
    CertificateFile: $out/localhost.crt
    PrivateKeyFile: $out/localhost.key
LoadBalancers:
  - Name: bench
    Listeners:
      - Protocol: HTTPS
        Port: $port
        BindAddress: 127.0.0.1
        Certificates: [bench]
        SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
        DefaultActions:
          - Type: forward
            TargetGroupName: be
TargetGroups:
  - Name: be
    Protocol: HTTP
    Port: $backend_port
    Targets:
      - Id: 127.0.0.11
YAML
"$responder" "$backend_port" 127.0.0.11 >/dev/null 2>&1 &
rp=$!
trap 'kill $rp 2>/dev/null || true' EXIT
total() {  # N -> total Ir of a run serving N requests, each on a new TLS connection
  rm -f "$out/run-$1.out"  # a stale file must never stand in for this run
  valgrind --tool=callgrind --callgrind-out-file="$out/run-$1.out" \
    "$bin" run -c "$out/config.yaml" --workers 1 >"$out/sluice-$1.log" 2>&1 &
  local vp=$!
  for _ in $(seq 150); do
    (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.2
  done
  sleep 3  # first health checks
  /usr/bin/python3 - "$1" "$port" "$resume" <<'PY'
import socket, ssl, sys
n, port, resume = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
session, reused = None, 0
for _ in range(n):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=session if resume else None) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data[:100]
            reused += s.session_reused
            session = s.session
if resume and reused < n - 1:
    sys.exit(f"only {reused} of {n} handshakes resumed")
PY
  kill -INT "$vp"
  wait "$vp" || true
  if [ ! -s "$out/run-$1.out" ]; then
    echo "callgrind wrote no profile for the $1-connection run; see $out/sluice-$1.log" >&2
    exit 1
  fi
  callgrind_annotate "$out/run-$1.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
t1=$(total "$n1")
t2=$(total "$n2")
kind=$([ "$resume" = 1 ] && echo resumed || echo full)
echo "instructions per request on a new connection ($kind TLS 1.3 handshake): $(( (t2 - t1) / (n2 - n1) ))  ($bin; $n1 and $n2 connections; files in $out)"
