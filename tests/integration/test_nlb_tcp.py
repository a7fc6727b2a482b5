"""Network load balancers with TCP listeners (reference §8): bytes relayed unchanged both ways
to TCP target groups, real clients and servers over loopback.

Covered:
  - echo of arbitrary bytes (not HTTP), and a 64 MiB transfer each way checked by SHA-256
  - half-close: the client's end reaches the target, whose answer still reaches the client
  - connections spread over the healthy targets by the flow hash; TCP health checks take a
    stopped target out (fail-open aside)
  - a target that refuses: the client's connection is closed, no HTTP error page
  - config errors name the field (IncompatibleProtocols)
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import os
import socket
import socketserver
import threading
import time
from collections import Counter

import pytest

from conftest import LOCAL, admin_get, fast_health, free_port, health_rows, wait_until


class _Echo(socketserver.BaseRequestHandler):
    """Sends its name, then echoes until the client's end; then answers "bye" and closes."""

    def handle(self):
        sock = self.request
        sock.sendall(self.server.name.encode() + b"\n")
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            if data == b"sha256?":
                continue
            sock.sendall(data)
        sock.sendall(b"bye")


class _Sink(socketserver.BaseRequestHandler):
    """Reads to the client's end, then sends the SHA-256 of what it read and 64 MiB of its own
    (seeded) bytes and that many bytes' SHA-256 first."""

    def handle(self):
        sock = self.request
        h = hashlib.sha256()
        while True:
            data = sock.recv(1 << 16)
            if not data:
                break
            h.update(data)
        payload = _payload(64 << 20, seed=7)
        sock.sendall(h.digest() + hashlib.sha256(payload).digest())
        sock.sendall(payload)


def _payload(n: int, seed: int) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (n // len(block) + 1))[:n]


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, handler):
        super().__init__((LOCAL, 0), handler)
        self.name = name
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def servers():
    started = []

    def start(name, handler=_Echo):
        s = Server(name, handler)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def nlb_config(port, target_ports, health=False, admin=None):
    group = {"Name": "tcp", "Protocol": "TCP", "Port": target_ports[0],
             "HealthCheckEnabled": bool(health),
             "Targets": [{"Id": LOCAL, "Port": p} for p in target_ports]}
    if health:
        group.update(fast_health())
    cfg = {"LoadBalancers": [{"Name": "net", "Type": "network", "Listeners": [
        {"Protocol": "TCP", "Port": port, "BindAddress": LOCAL,
         "DefaultActions": [{"Type": "forward", "TargetGroupName": "tcp"}]}]}],
        "TargetGroups": [group]}
    if admin:
        cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    return cfg


def recv_exact(sock, n, limit=30.0) -> bytes:
    sock.settimeout(limit)
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(1 << 16, n - len(out)))
        if not chunk:
            raise AssertionError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def recv_line(sock) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        line += recv_exact(sock, 1)
    return line


def test_bytes_are_relayed_unchanged_and_half_close_passes(sluice, servers):
    t = servers("a")
    port = free_port()
    sluice(nlb_config(port, [t.port]))
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        assert recv_line(s) == b"a\n"  # the target speaks first: no HTTP on the way
        junk = bytes(range(256)) * 4 + b"GET / HTTP/1.1\r\n\r\n"
        s.sendall(junk)
        assert recv_exact(s, len(junk)) == junk
        s.shutdown(socket.SHUT_WR)
        assert recv_exact(s, 3) == b"bye"  # after the client's end
        s.settimeout(5)
        assert s.recv(10) == b""


def test_a_64_mib_transfer_each_way_arrives_intact(sluice, servers):
    """Bulk both ways: each direction fills its buffer, moves to a splice pipe, and the bytes
    arrive intact; the admin endpoint counts them as spliced (net/splice_pipe.h)."""
    t = servers("sink", _Sink)
    port, admin = free_port(), free_port()
    sluice(nlb_config(port, [t.port], admin=admin))
    assert admin_get(admin, "/splice")[2]["SplicedBytes"] == 0
    upload = _payload(64 << 20, seed=3)
    with socket.create_connection((LOCAL, port), timeout=30) as s:
        sender = threading.Thread(target=lambda: (s.sendall(upload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        digests = recv_exact(s, 64, limit=60)
        sender.join(60)
        body = recv_exact(s, 64 << 20, limit=60)
    assert digests[:32] == hashlib.sha256(upload).digest()
    assert digests[32:] == hashlib.sha256(body).digest()
    # All but the first few buffers of each direction (until a read filled one and it then
    # emptied) went by splice, and the pipes went back to the worker's pool (open, for
    # reuse, not leaked per flow).
    spliced = admin_get(admin, "/splice")[2]
    assert spliced["SplicedBytes"] >= 2 * (64 << 20) - (1 << 20), spliced
    assert 0 < spliced["PipesOpen"] <= 2 and spliced["PipesRefused"] == 0


def test_small_exchanges_stay_on_buffers(sluice, servers):
    """Request/response traffic that never fills a buffer is not moved to a pipe."""
    t = servers("a")
    port, admin = free_port(), free_port()
    sluice(nlb_config(port, [t.port], admin=admin))
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        assert recv_line(s) == b"a\n"
        for i in range(200):
            msg = b"ping %d" % i
            s.sendall(msg)
            assert recv_exact(s, len(msg)) == msg
    spliced = admin_get(admin, "/splice")[2]
    assert spliced["SplicedBytes"] == 0 and spliced["PipesOpen"] == 0


def test_flows_spread_over_healthy_targets_and_avoid_a_stopped_one(sluice, servers):
    a, b = servers("a"), servers("b")
    port, admin = free_port(), free_port()
    sluice(nlb_config(port, [a.port, b.port], health=True, admin=admin))

    def healthy_count():
        _, _, doc = admin_get(admin)
        rows = health_rows(doc or {})
        return sum(1 for r in rows.values() if r.get("State") == "healthy")

    wait_until(lambda: healthy_count() == 2, 30, interval=0.2, what="both targets healthy")

    def names(n):
        seen = Counter()
        for _ in range(n):
            with socket.create_connection((LOCAL, port), timeout=10) as s:
                seen[recv_line(s).strip().decode()] += 1
        return seen

    spread = names(60)
    assert set(spread) == {"a", "b"} and min(spread.values()) >= 10, spread
    b.stop()
    wait_until(lambda: healthy_count() == 1, 30, interval=0.2, what="b unhealthy")
    assert names(20) == Counter({"a": 20})


def test_a_refusing_target_closes_the_client_without_an_http_answer(sluice):
    dead = free_port()  # nothing listens there
    port = free_port()
    sluice(nlb_config(port, [dead]))
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        s.settimeout(10)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
    assert data == b""


def test_incompatible_protocols_are_a_config_error(tmp_path):
    from conftest import SLUICE_BIN, dump_config
    cfg = nlb_config(free_port(), [free_port()])
    cfg["TargetGroups"][0]["Protocol"] = "HTTP"
    path = tmp_path / "bad.yaml"
    path.write_text(dump_config(cfg))
    res = subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True,
                         text=True, timeout=20)
    assert res.returncode != 0
    assert "IncompatibleProtocols: a TCP listener cannot forward to target group 'tcp' " \
           "of protocol HTTP" in res.stderr + res.stdout


NGINX = "/usr/sbin/nginx"


@pytest.fixture
def nginx_proxy_protocol_target(tmp_path):
    """NGINX on a free port that requires a PROXY protocol header (v1 or v2) and answers with
    the client address it read from it."""
    with nginx_reading_proxy_protocol(tmp_path) as port:
        yield port


@contextlib.contextmanager
def nginx_reading_proxy_protocol(tmp_path, tls=None):
    """The NGINX of nginx_proxy_protocol_target; with `tls` (certificate, key), over TLS after
    the header."""
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is not installed (scripts/setup.sh installs it)")
    port = free_port()
    ssl_lines = ""
    if tls:
        ssl_lines = f"ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]};"
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp_path};
  proxy_temp_path {tmp_path};
  fastcgi_temp_path {tmp_path};
  uwsgi_temp_path {tmp_path};
  scgi_temp_path {tmp_path};
  server {{
    listen 127.0.0.1:{port}{" ssl" if tls else ""} proxy_protocol;
    {ssl_lines}
    location / {{ return 200 "client=$proxy_protocol_addr:$proxy_protocol_port server=$proxy_protocol_server_addr:$proxy_protocol_server_port\\n"; }}
  }}
}}
""")
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def listening():
        if proc.poll() is not None:
            raise AssertionError(f"nginx exited: {proc.stderr.read().decode()}")
        try:
            socket.create_connection((LOCAL, port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        wait_until(listening, 10, what="nginx to listen")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_nginx_reads_the_client_address_from_proxy_protocol_v2(sluice,
                                                               nginx_proxy_protocol_target):
    port = free_port()
    cfg = nlb_config(port, [nginx_proxy_protocol_target])
    cfg["TargetGroups"][0]["Attributes"] = {"proxy_protocol_v2.enabled": "true"}
    sluice(cfg)
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        client_port = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(10)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert f"client={LOCAL}:{client_port} server={LOCAL}:{port}".encode() in data, data


def test_http_health_checks_send_the_local_header_first(sluice, nginx_proxy_protocol_target):
    # NGINX refuses a connection whose first bytes are not a PROXY header: the check is healthy
    # only if it starts with PROXY v2's LOCAL command (reference §8.7).
    port, admin = free_port(), free_port()
    cfg = nlb_config(port, [nginx_proxy_protocol_target], health=True, admin=admin)
    group = cfg["TargetGroups"][0]
    group["Attributes"] = {"proxy_protocol_v2.enabled": "true"}
    group["HealthCheckProtocol"] = "HTTP"
    group["HealthCheckPath"] = "/"
    sluice(cfg)

    def state():
        _, _, doc = admin_get(admin)
        rows = list(health_rows(doc or {}).values())
        return rows[0].get("State") if rows else None

    wait_until(lambda: state() == "healthy", 30, interval=0.2, what="the target healthy")
