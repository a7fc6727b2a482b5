"""Health checks over HTTP/2 for target groups of ProtocolVersion HTTP2 and GRPC (reference
§2.3), end to end: the real binary probing real HTTP/2 targets, its verdicts read from the
admin endpoint (states, reason codes, descriptions as DescribeTargetHealth shows them).

Covered:
  - HTTP2 group, cleartext prior-knowledge HTTP/2 (python-h2 target): GET <path> with
    :authority ip:port and user-agent ELB-HealthChecker/2.0, one request per connection;
    200 → healthy, then 503 → unhealthy, Target.ResponseCodeMismatch, "[503]"
  - GRPC group against a grpcio server that does not implement /AWS.ALB/healthcheck: the
    default path and GrpcCode 12 (UNIMPLEMENTED) → healthy; GrpcCode "0" → unhealthy with
    "Health checks failed with these gRPC codes: [12]"
  - GRPC group: the request on the wire (POST, content-type application/grpc, te: trailers,
    one empty message), and a :status 503 answer → Target.ResponseCodeMismatch "[503]"
  - HTTP2 group whose target speaks only HTTP/1.1 → unhealthy, Target.FailedHealthChecks
  - HTTPS checks: ALPN offers h2; a TLS target that selects h2 → healthy (:scheme https), one
    that selects no h2 → unhealthy, Target.FailedHealthChecks

Only health is judged here, never forwarding to these groups. The listener is HTTP with
sluice.routing.http2.cleartext.enabled (the loader refuses HTTP2/GRPC groups behind a plain
HTTP listener otherwise). Every check runs every 5 s with two results either way, so all
groups share one sluice process (module scope) and each test waits for its own state.

Run with Debian's /usr/bin/python3 (it has h2 and grpcio).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from concurrent import futures

import pytest

from conftest import (LOCAL, ControlledBackend, fast_health, fixed, forward, free_port,
                      launch_sluice, lb_config, path_is, rule, target_group, target_health,
                      wait_health, wait_until)

h2 = pytest.importorskip("h2")
grpc = pytest.importorskip("grpc")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402

WAIT = 30.0  # seconds for a state: first check within one interval (5 s), two results each way


class H2Target:
    """An HTTP/2 target (python-h2) on 127.0.0.1 answering every request with `status` and an
    empty body; cleartext with prior knowledge, or TLS when `tls` (an ssl.SSLContext) is given.
    With TLS, a connection whose ALPN did not select h2 is closed without a word. Records every
    request as a dict (pseudo-headers included, plus "body" and "conn": the connection's number)."""

    def __init__(self, status: int = 200, tls: ssl.SSLContext | None = None):
        self.status = status
        self.tls = tls
        self.requests: list[dict] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOCAL, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True, name="h2-target")
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int):
        conn.settimeout(10)
        with contextlib.suppress(Exception), contextlib.closing(conn):
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                if conn.selected_alpn_protocol() != "h2":
                    return
            c = h2.connection.H2Connection(h2.config.H2Configuration(
                client_side=False, header_encoding="utf-8"))
            c.initiate_connection()
            conn.sendall(c.data_to_send())
            streams: dict[int, dict] = {}
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for ev in c.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = dict(ev.headers, body=b"", conn=number)
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id]["body"] += ev.data
                        c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if isinstance(ev, h2.events.StreamEnded):
                        with self._lock:
                            self.requests.append(streams[ev.stream_id])
                        c.send_headers(ev.stream_id, [(":status", str(self.status)),
                                                      ("content-length", "0")], end_stream=True)
                conn.sendall(c.data_to_send())

    def recorded(self) -> list[dict]:
        with self._lock:
            return list(self.requests)

    def stop(self):
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)


def grpc_server():
    """A grpcio server (generic handler, bytes in and out) implementing only test.Echo/Say:
    /AWS.ALB/healthcheck gets UNIMPLEMENTED (12)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Echo", {"Say": echo}),))
    port = server.add_insecure_port(f"{LOCAL}:0")
    server.start()
    return server, port


def tls_context(d, alpn: list[str]) -> ssl.SSLContext:
    crt, key = d / "target.crt", d / "target.key"
    if not crt.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
                        str(crt), "-subj", "/CN=target.test", "-days", "30"],
                       check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    ctx.set_alpn_protocols(alpn)
    return ctx


def h2_group(name: str, port: int, version: str, protocol: str = "HTTP", path=True, **extra):
    tg = target_group(name, [port], health=True, ProtocolVersion=version, Protocol=protocol,
                      **fast_health(**extra))
    if not path:
        del tg["HealthCheckPath"]  # the group's default (GRPC: /AWS.ALB/healthcheck)
    return tg


class Run:
    """The shared sluice and its targets."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("health-h2")
    r = Run()
    stops = []
    try:
        r.flip = H2Target(200)
        stops.append(r.flip.stop)
        r.grpc503 = H2Target(503)
        stops.append(r.grpc503.stop)
        r.tls_h2 = H2Target(200, tls=tls_context(d, ["h2"]))
        stops.append(r.tls_h2.stop)
        r.tls_h1 = H2Target(200, tls=tls_context(d, ["http/1.1"]))
        stops.append(r.tls_h1.stop)
        r.h1 = ControlledBackend("h1only")
        stops.append(r.h1.kill)
        server, r.grpc_port = grpc_server()
        stops.append(lambda: server.stop(0))
        groups = [
            h2_group("h2flip", r.flip.port, "HTTP2"),
            h2_group("grpcdef", r.grpc_port, "GRPC", path=False),
            h2_group("grpczero", r.grpc_port, "GRPC", path=False, Matcher={"GrpcCode": "0"}),
            h2_group("grpc503", r.grpc503.port, "GRPC", path=False),
            h2_group("h1only", r.h1.port, "HTTP2"),
            h2_group("tlsh2", r.tls_h2.port, "HTTP2", protocol="HTTPS"),
            h2_group("tlsh1", r.tls_h1.port, "HTTP2", protocol="HTTPS"),
        ]
        rules = [rule(10 + i, [path_is(f"/g/{tg['Name']}/*")], forward(tg["Name"]))
                 for i, tg in enumerate(groups)]
        r.admin = free_port()
        cfg = lb_config(free_port(), fixed("404", "no route"), rules=rules, target_groups=groups,
                        attributes={"sluice.routing.http2.cleartext.enabled": True})
        cfg["Admin"] = {"Address": LOCAL, "Port": r.admin}
        r.s = launch_sluice(d, cfg, tag="health-h2")
        stops.append(r.s.proc.stop)
        yield r
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()


def test_http2_check_healthy_then_503_is_a_code_mismatch(run):
    wait_health(run.admin, "h2flip", run.flip.port, "healthy", WAIT)
    first = run.flip.recorded()[0]
    assert first[":method"] == "GET"
    assert first[":scheme"] == "http"
    assert first[":path"] == "/health"
    assert first[":authority"] == f"{LOCAL}:{run.flip.port}"
    assert first["user-agent"] == "ELB-HealthChecker/2.0"
    assert first["body"] == b""
    run.flip.status = 503
    th = wait_health(run.admin, "h2flip", run.flip.port, "unhealthy", WAIT,
                     reason="Target.ResponseCodeMismatch")
    assert th["Description"] == "Health checks failed with these codes: [503]"
    # A fresh connection per check, as the HTTP/1.1 checks.
    conns = [req["conn"] for req in run.flip.recorded()]
    assert len(conns) >= 3 and len(set(conns)) == len(conns), conns


def test_grpc_unimplemented_is_healthy_with_the_default_code(run):
    wait_health(run.admin, "grpcdef", run.grpc_port, "healthy", WAIT)


def test_grpc_code_zero_makes_unimplemented_a_mismatch(run):
    th = wait_health(run.admin, "grpczero", run.grpc_port, "unhealthy", WAIT,
                     reason="Target.ResponseCodeMismatch")
    assert th["Description"] == "Health checks failed with these gRPC codes: [12]"
    assert target_health(run.admin, "grpcdef", run.grpc_port)["State"] == "healthy"


def test_grpc_request_on_the_wire_and_an_http_error_status(run):
    th = wait_health(run.admin, "grpc503", run.grpc503.port, "unhealthy", WAIT,
                     reason="Target.ResponseCodeMismatch")
    assert th["Description"] == "Health checks failed with these codes: [503]"
    req = run.grpc503.recorded()[0]
    assert req[":method"] == "POST"
    assert req[":path"] == "/AWS.ALB/healthcheck"
    assert req["content-type"] == "application/grpc"
    assert req["te"] == "trailers"
    assert req["user-agent"] == "ELB-HealthChecker/2.0"
    assert req["body"] == b"\x00\x00\x00\x00\x00"


def test_http1_only_target_fails_http2_checks(run):
    wait_health(run.admin, "h1only", run.h1.port, "unhealthy", WAIT,
                reason="Target.FailedHealthChecks")


def test_https_checks_need_alpn_h2(run):
    wait_health(run.admin, "tlsh2", run.tls_h2.port, "healthy", WAIT)
    assert run.tls_h2.recorded()[0][":scheme"] == "https"
    wait_health(run.admin, "tlsh1", run.tls_h1.port, "unhealthy", WAIT,
                reason="Target.FailedHealthChecks")
    assert run.tls_h1.connections >= 2  # it was probed (and refused h2), not skipped
    assert run.tls_h1.recorded() == []
