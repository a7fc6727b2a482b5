"""Network load balancers with TLS listeners (reference §7.5, §8.1): TLS terminated with the
listener's certificate and policy, ALPN by the listener's AlpnPolicy, the decrypted bytes relayed
to TCP target groups or re-encrypted to TLS target groups (which are offered the protocol the
client negotiated), real clients (Python ssl, openssl s_client) and servers over loopback.

Covered:
  - bytes relayed both ways after the handshake, a target that speaks first, its close
  - each AlpnPolicy against clients offering h2 and/or http/1.1 (server preference; no common
    protocol: no ALPN, the handshake still succeeds), checked with Python and openssl s_client
  - a TLS target group: a TLS session to the target, offered the client's ALPN protocol
  - plain bytes on a TLS listener close that connection only, with no HTTP answer
  - a target that does not speak TLS: the client's connection closes, the failure is logged
"""

from __future__ import annotations

import gzip
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import threading

import pytest

from conftest import LOCAL, admin_get, free_port, health_rows, wait_until
from test_https import openssl_cert
from test_nlb_tcp import nginx_reading_proxy_protocol


class _Echo(socketserver.BaseRequestHandler):
    """Sends its greeting, then echoes; on "quit" answers "bye" and closes."""

    def handle(self):
        sock = self.server.wrap(self.request)
        if sock is None:
            return
        sock.sendall(self.server.greeting(sock) + b"\n")
        while True:
            try:
                data = sock.recv(1 << 16)
            except (OSError, ssl.SSLError):
                break
            if not data:
                break
            if data == b"quit":
                sock.sendall(b"bye")
                break
            sock.sendall(data)
        sock.close()


class Target(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, tls_context: ssl.SSLContext | None = None):
        super().__init__((LOCAL, 0), _Echo)
        self.name = name
        self.tls = tls_context
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def wrap(self, sock):
        if self.tls is None:
            return sock
        try:
            return self.tls.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            return None

    def greeting(self, sock) -> bytes:
        if self.tls is None:
            return self.name.encode()
        return f"{self.name} alpn={sock.selected_alpn_protocol()}".encode()

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return openssl_cert(tmp_path_factory.mktemp("certs"), "site", ["site.test"])


@pytest.fixture
def targets():
    started = []

    def start(name, tls_context=None):
        t = Target(name, tls_context)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


def tls_listener(port: int, group: str, alpn: str | None = None) -> dict:
    listener = {"Protocol": "TLS", "Port": port, "BindAddress": LOCAL, "Certificates": ["site"],
                "DefaultActions": [{"Type": "forward", "TargetGroupName": group}]}
    if alpn:
        listener["AlpnPolicy"] = alpn
    return listener


def nlb_tls_config(cert, listeners, target_port: int, group_protocol: str = "TCP") -> dict:
    crt, key = cert
    return {"Certificates": [{"Name": "site", "CertificateFile": str(crt),
                              "PrivateKeyFile": str(key)}],
            "LoadBalancers": [{"Name": "net", "Type": "network", "Listeners": listeners}],
            "TargetGroups": [{"Name": "app", "Protocol": group_protocol, "Port": target_port,
                              "HealthCheckEnabled": False,
                              "Targets": [{"Id": LOCAL, "Port": target_port}]}]}


def client_context(cert, alpn=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cert[0]))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port: int, cert, alpn=None) -> ssl.SSLSocket:
    raw = socket.create_connection((LOCAL, port), timeout=10)
    return client_context(cert, alpn).wrap_socket(raw, server_hostname="site.test")


def recv_until(sock, end: bytes, limit: int = 1 << 20) -> bytes:
    out = b""
    while not out.endswith(end):
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise AssertionError(f"closed after {out!r}")
        out += chunk
        assert len(out) < limit
    return out


def test_bytes_are_relayed_after_the_handshake(sluice, targets, cert):
    t = targets("a")
    port = free_port()
    sluice(nlb_tls_config(cert, [tls_listener(port, "app")], t.port))
    with tls_connect(port, cert) as s:
        assert recv_until(s, b"\n") == b"a\n"  # the target speaks first
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        assert s.selected_alpn_protocol() is None  # AlpnPolicy None by default
        junk = bytes(range(256)) * 64 + b"GET / HTTP/1.1\r\n\r\n"
        s.sendall(junk)
        got = b""
        while len(got) < len(junk):
            got += s.recv(1 << 16)
        assert got == junk
        s.sendall(b"quit")
        assert recv_until(s, b"bye") == b"bye"
        try:
            assert s.recv(10) == b""  # the target's close reaches the client
        except ssl.SSLEOFError:
            pass


ALPN_CASES = [
    # (policy, client offers, expected)
    ("HTTP2Preferred", ["http/1.1", "h2"], "h2"),
    ("HTTP2Optional", ["h2", "http/1.1"], "http/1.1"),
    ("HTTP2Optional", ["h2"], "h2"),
    ("HTTP1Only", ["h2", "http/1.0"], "http/1.0"),
    ("HTTP1Only", ["h2"], None),
    ("HTTP2Only", ["http/1.1"], None),
    ("None", ["h2", "http/1.1"], None),
]


def test_each_alpn_policy_selects_by_the_listeners_preference(sluice, targets, cert):
    t = targets("a")
    policies = sorted({p for p, _, _ in ALPN_CASES})
    ports = {p: free_port() for p in policies}
    sluice(nlb_tls_config(cert, [tls_listener(ports[p], "app", p) for p in policies], t.port))
    for policy, offered, expected in ALPN_CASES:
        with tls_connect(ports[policy], cert, offered) as s:
            assert s.selected_alpn_protocol() == expected, (policy, offered)
            assert recv_until(s, b"\n") == b"a\n"  # no common protocol still connects


def test_openssl_s_client_sees_the_negotiated_protocol(sluice, targets, cert):
    t = targets("a")
    port = free_port()
    sluice(nlb_tls_config(cert, [tls_listener(port, "app", "HTTP2Preferred")], t.port))
    out = subprocess.run(["openssl", "s_client", "-connect", f"{LOCAL}:{port}", "-servername",
                          "site.test", "-alpn", "http/1.1,h2", "-CAfile", str(cert[0])],
                         input=b"", capture_output=True, timeout=30)
    text = out.stdout.decode(errors="replace")
    assert "ALPN protocol: h2" in text, text
    assert "Verify return code: 0 (ok)" in text, text


def test_a_tls_target_group_is_offered_the_clients_protocol(sluice, targets, cert):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    t = targets("tls", server_ctx)
    port = free_port()
    sluice(nlb_tls_config(cert, [tls_listener(port, "app", "HTTP2Optional")], t.port,
                          group_protocol="TLS"))
    with tls_connect(port, cert, ["h2"]) as s:
        assert s.selected_alpn_protocol() == "h2"
        assert recv_until(s, b"\n") == b"tls alpn=h2\n"
        s.sendall(b"through two sessions")
        assert recv_until(s, b"sessions") == b"through two sessions"
    with tls_connect(port, cert, ["http/1.1", "h2"]) as s:
        assert recv_until(s, b"\n") == b"tls alpn=http/1.1\n"
    with tls_connect(port, cert) as s:  # nothing negotiated: nothing offered
        assert recv_until(s, b"\n") == b"tls alpn=None\n"


def test_plain_bytes_close_that_connection_only(sluice, targets, cert):
    t = targets("a")
    port = free_port()
    sluice(nlb_tls_config(cert, [tls_listener(port, "app")], t.port))
    with tls_connect(port, cert) as good:
        assert recv_until(good, b"\n") == b"a\n"
        with socket.create_connection((LOCAL, port), timeout=10) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            bad.settimeout(10)
            try:
                data = bad.recv(1000)
            except ConnectionResetError:
                data = b""
            assert data == b"" or not data.startswith(b"HTTP/")  # no HTTP answer on an NLB
        good.sendall(b"still here")
        assert recv_until(good, b"here") == b"still here"


def test_a_target_that_does_not_speak_tls_closes_the_client(sluice, targets, cert):
    t = targets("plain")  # a TLS group whose target answers in cleartext
    port = free_port()
    s_proc = sluice(nlb_tls_config(cert, [tls_listener(port, "app")], t.port,
                                   group_protocol="TLS"))
    with tls_connect(port, cert) as s:
        s.settimeout(15)
        try:
            data = s.recv(100)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        assert data == b""
    wait_until(lambda: "closed the client's connection" in s_proc.proc.stderr(), 10,
               what="the target's TLS failure logged")


def test_tls_connections_are_logged_as_nlb_logs_them(sluice, targets, cert, tmp_path):
    """The NLB access log (§5.7): one `tls 2.0` line per TLS connection, written when it ends,
    in a file named `..._net.<name>.<id>_<end>_<random>.log.gz`; a failed handshake too."""
    t = targets("a")
    port = free_port()
    logs = tmp_path / "logs"
    cfg = nlb_tls_config(cert, [tls_listener(port, "app", "HTTP2Preferred")], t.port)
    cfg["LoadBalancers"][0]["Attributes"] = {"access_logs.s3.enabled": True,
                                             "sluice.access_logs.directory": str(logs)}
    cfg["Account"] = {"Id": "123456789012", "Region": "eu-west-3"}
    lb = sluice(cfg)
    with tls_connect(port, cert, ["h2", "http/1.1"]) as s:
        assert recv_until(s, b"\n") == b"a\n"
        s.sendall(b"hello")
        assert recv_until(s, b"hello") == b"hello"
        s.sendall(b"quit")
        assert recv_until(s, b"bye") == b"bye"
    # A client that is not speaking TLS: its connection is logged with dashes.
    with socket.create_connection((LOCAL, port), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        raw.settimeout(10)
        try:
            while raw.recv(1024):
                pass
        except OSError:
            pass
    lb.proc.signal(signal.SIGTERM)
    lb.proc.popen.wait(15)
    files = sorted(logs.rglob("*.log.gz"))
    assert len(files) == 1, files
    assert re.fullmatch(r"123456789012_elasticloadbalancing_eu-west-3_net\.net\.[0-9a-f]{16}_"
                        r"\d{8}T\d{4}Z_[0-9a-z]+\.log\.gz", files[0].name), files[0].name
    with gzip.open(files[0], "rt", encoding="ascii") as fh:
        lines = fh.read().splitlines()
    # The readiness probe's connection may be logged too (it sends nothing).
    ok = [line.split(" ") for line in lines if " tlsv1" in line]
    assert len(ok) == 1, lines
    f = ok[0]
    assert len(f) == 22, f
    assert f[0:2] == ["tls", "2.0"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", f[2]) and f[2] >= f[21]
    assert re.fullmatch(r"net/net/[0-9a-f]{16}", f[3]) and re.fullmatch(r"[0-9a-f]{16}", f[4])
    assert f[5].startswith("127.0.0.1:") and f[6] == f"127.0.0.1:{port}"
    assert int(f[7]) >= int(f[8]) >= 0  # the handshake is part of the connection's time
    # From the client after decryption: hello + quit; to it: "a\n" + hello + bye.
    assert (f[9], f[10]) == ("9", str(2 + 5 + 3))
    assert f[12] == "arn:aws:acm:eu-west-3:123456789012:certificate/site"
    assert f[13] == "-" and f[14] != "-" and f[15] in ("tlsv12", "tlsv13") and f[16] == "-"
    assert f[17] == "site.test" and f[18] == "h2" and f[19] == "-"  # TCP target: no back ALPN
    failed = [line.split(" ") for line in lines if " tlsv1" not in line]
    assert failed and all(len(x) == 22 and x[8] == "-" and x[12] == "-" for x in failed), lines


def test_a_tls_groups_target_reads_proxy_protocol_before_its_handshake(sluice, cert, tmp_path):
    """proxy_protocol_v2 on a TLS group (§8.4): the header goes in the clear before the TLS
    handshake, as NGINX's `listen ... ssl proxy_protocol` expects; its HTTPS health checks send
    the LOCAL header before theirs, so NGINX (which refuses a connection without a header)
    finds them healthy."""
    with nginx_reading_proxy_protocol(tmp_path, tls=cert) as target:
        port, admin = free_port(), free_port()
        cfg = nlb_tls_config(cert, [tls_listener(port, "app")], target, group_protocol="TLS")
        group = cfg["TargetGroups"][0]
        group.update({"HealthCheckEnabled": True, "HealthCheckProtocol": "HTTPS",
                      "HealthCheckPath": "/", "HealthCheckIntervalSeconds": 5,
                      "HealthCheckTimeoutSeconds": 2, "HealthyThresholdCount": 2,
                      "Attributes": {"proxy_protocol_v2.enabled": True}})
        cfg["Admin"] = {"Address": LOCAL, "Port": admin}
        sluice(cfg)

        def state():
            rows = list(health_rows(admin_get(admin)[2] or {}).values())
            return rows[0].get("State") if rows else None
        wait_until(lambda: state() == "healthy", 30, 0.2, "the HTTPS-checked target healthy")
        with tls_connect(port, cert) as s:
            client_port = s.getsockname()[1]
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except ssl.SSLEOFError:
                pass
        assert data.startswith(b"HTTP/1.1 200 "), data
        assert f"client={LOCAL}:{client_port} server={LOCAL}:{port}".encode() in data, data
