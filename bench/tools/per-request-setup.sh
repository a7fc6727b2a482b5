# Sourced by callgrind-per-request.sh and syscalls-per-request.sh: the shared set-up of a
# per-request measurement. Expects $here, $root, $out; sets $port (the listener, chosen at
# run time) and writes $out/config.yaml (one worker's listener forwarding to four bench
# responders on 127.0.0.11-14, started here and stopped on exit). Provides
# `wait_then_load N`: waits for the listener and the first health checks, then sends N
# keep-alive requests from one client. With H2=1 the client speaks HTTP/2 by prior knowledge
# (the load balancer has sluice.routing.http2.cleartext.enabled): h2load, one connection,
# ${H2_STREAMS:-1} concurrent streams. With UPSTREAM_H2=1 as well, the target group has
# ProtocolVersion HTTP2 and the responders are bench/tools/h2-responder.c (HTTP/2 h2c).
# With ACCESS_LOGS=1 the load balancer writes ALB access logs to $out/logs (the writer
# thread's formatting and gzip are counted too: the measurement covers every thread).
responder=$root/build-bench/bench-tools/responder
if [ ! -x "$responder" ]; then  # the harness builds it; a checkout that never ran it has none
  mkdir -p "$(dirname "$responder")"
  cc -O2 -w -o "$responder" "$root/../shared/bench/responder.c"
fi
version=HTTP1
if [ "${UPSTREAM_H2:-0}" = 1 ]; then
  [ "${H2:-0}" = 1 ] || { echo "UPSTREAM_H2=1 needs H2=1 (HTTP/1.1 requests get 464)" >&2; exit 1; }
  version=HTTP2
  responder=$root/build-bench/bench-tools/h2-responder
  if [ ! -x "$responder" ]; then
    mkdir -p "$(dirname "$responder")"
    cc -O2 -w -o "$responder" "$root/bench/tools/h2-responder.c" -lnghttp2 -lpthread
  fi
fi
mkdir -p "$out"
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
backend_port=$(free_port)
cat > "$out/config.yaml" <<YAML
LoadBalancers:
  - Name: bench
    Attributes:
      sluice.routing.http2.cleartext.enabled: $([ "${H2:-0}" = 1 ] && echo true || echo false)
$(if [ "${ACCESS_LOGS:-0}" = 1 ]; then
  printf '      access_logs.s3.enabled: true\n      sluice.access_logs.directory: %s\n' "$out/logs"
fi)
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
    ProtocolVersion: $version
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
wait_then_load() {
  for _ in $(seq 150); do
    (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.2
  done
  sleep 3  # first health checks
  # A failed load must stop the measurement (callers run this inside $(...), where set -e
  # does not reach): a figure from error responses would be meaningless.
  if [ "${H2:-0}" = 1 ]; then
    h2load -n "$1" -c 1 -m "${H2_STREAMS:-1}" "http://127.0.0.1:$port/" >"$out/h2load-$1.log" &&
      grep -q "$1 succeeded, 0 failed" "$out/h2load-$1.log" ||
      { echo "the HTTP/2 load of $1 requests failed; see $out" >&2; exit 1; }
    return
  fi
  /usr/bin/python3 "$here/keepalive-client.py" "$1" "$port" >/dev/null ||
    { echo "the load of $1 requests failed; see $out" >&2; exit 1; }
}
