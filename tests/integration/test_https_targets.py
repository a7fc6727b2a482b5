"""HTTPS target groups and HTTPS health checks, end to end.

The targets are Python threads serving HTTP/1.1 over ssl-wrapped sockets (one SSLContext per
target, so that session tickets issued on one connection resume on the next); certificates
are made by the openssl CLI (a CA and a leaf for api.internal signed by it, a second unrelated
CA, a self-signed certificate) and by `cryptography` (an expired one).

Covered:
  - an HTTPS group reaches a target with a self-signed or an expired certificate: target
    certificates are not verified by default (as on ALB)
  - keep-alive: sequential requests (one client connection, or several) share pooled TLS
    connections to the target
  - upstream session resumption when the target closes after every response (TLS 1.2 and
    1.3, with and without a close_notify from the target)
  - SNI: `sluice.tls.server_name` is sent; without it no SNI (the target is an IP address)
  - verification opt-in (`sluice.tls.verify.*`, CA file relative to the config file): a CA
    that signed the target, a CA that did not, the system store, a name mismatch, verification
    off with a wrong CA; the failure is logged with the target's address and counted on the
    admin endpoint (`GET /tls`: TargetHandshakesFailed)
  - HTTPS health checks: the default for an HTTPS group, an HTTP group with
    `HealthCheckProtocol: HTTPS`, a plain-HTTP target (Target.FailedHealthChecks), a TLS target
    answering 503 (Target.ResponseCodeMismatch), explicit HTTP checks on an HTTPS group
  - config validation of the new fields and attributes
  - a target that does not speak TLS (502, quickly) and one that never answers the handshake
    (502 or 504 within the connect budget)
"""

from __future__ import annotations

import contextlib
import datetime
import random
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (LOCAL, SLUICE_BIN, HttpConn, Proc, Sluice, admin_get, dump_config,
                      fast_health, fixed, forward, free_port, launch_sluice, lb_config, path_is,
                      port_accepts, rule, target_group, wait_health, wait_until)

API_NAME = "api.internal"
VERIFY_FAILED = re.compile(r"certificate verify failed|unable to get local issuer certificate|"
                           r"self[- ]signed certificate|unable to verify the first certificate",
                           re.IGNORECASE)


# ---- certificates ---------------------------------------------------------------------------

def _openssl(*args):
    subprocess.run(["openssl", *[str(a) for a in args]], check=True, capture_output=True,
                   timeout=60)


EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


def make_ca(d, name: str):
    crt, key = d / f"{name}.pem", d / f"{name}.key"
    _openssl("req", "-x509", *EC_KEY, "-keyout", key, "-out", crt, "-subj", f"/CN={name} test CA",
             "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_leaf(d, name: str, dns: str, ca):
    """A server certificate for DNS:<dns> signed by `ca` (certificate, key)."""
    crt, key, csr, ext = (d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr",
                          d / f"{name}.ext")
    _openssl("req", "-new", *EC_KEY, "-keyout", key, "-out", csr, "-subj", f"/CN={dns}")
    ext.write_text(f"subjectAltName=DNS:{dns}\nbasicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-set_serial", str(random.randrange(1, 2 ** 62)), "-days", "30", "-sha256",
             "-extfile", ext, "-out", crt)
    return crt, key


def make_self_signed(d, name: str, dns: str):
    crt, key = d / f"{name}.pem", d / f"{name}.key"
    _openssl("req", "-x509", *EC_KEY, "-keyout", key, "-out", crt, "-subj", f"/CN={dns}",
             "-days", "30", "-addext", f"subjectAltName=DNS:{dns}")
    return crt, key


def make_expired(d, name: str, dns: str):
    """A self-signed certificate that expired three days ago (None without `cryptography`)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=33))
            .not_valid_after(now - datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, keyf = d / f"{name}.pem", d / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return crt, keyf


class Bag:
    pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("https-targets-pki")
    p = Bag()
    p.dir = d
    p.ca1 = make_ca(d, "ca1")
    p.ca2 = make_ca(d, "ca2")
    p.leaf = make_leaf(d, "api", API_NAME, p.ca1)          # signed by ca1, DNS:api.internal
    p.selfsigned = make_self_signed(d, "self", "target.test")
    p.expired = make_expired(d, "expired", "expired.test")
    return p


# ---- targets --------------------------------------------------------------------------------

class Conn:
    def __init__(self, cid: int, sni, reused: bool, version: str):
        self.id, self.sni, self.reused, self.version = cid, sni, reused, version

    def __repr__(self):
        return f"<conn {self.id} sni={self.sni!r} reused={self.reused} {self.version}>"


class Req:
    def __init__(self, method: str, path: str, headers: list, conn: Conn):
        self.t = time.monotonic()
        self.method, self.path, self.headers, self.conn = method, path, headers, conn

    def header(self, name: str, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def __repr__(self):
        return f"<{self.method} {self.path} on {self.conn!r}>"


class _Server:
    """An accept loop on 127.0.0.1:<ephemeral>, one thread per connection, stopped by stop()."""

    def __init__(self, name: str):
        self.name = name
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.tcp_accepted = 0
        self._socks: list = []
        self._threads: list[threading.Thread] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOCAL, 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True, name=f"target-{name}")
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        while not self.stop_event.is_set():
            try:
                raw, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.tcp_accepted += 1
                self._socks.append(raw)
            t = threading.Thread(target=self._guarded, args=(raw,), daemon=True)
            with self.lock:
                self._threads.append(t)
            t.start()

    def _guarded(self, raw):
        try:
            self.serve(raw)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            with contextlib.suppress(OSError):
                raw.close()

    def serve(self, raw):
        raise NotImplementedError

    def track(self, s):
        with self.lock:
            self._socks.append(s)

    def stop(self):
        self.stop_event.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(s, socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=2)
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def read_request(sock, buf: bytes):
    """(method, path, headers, body, rest) of the next request, or None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return method, path, headers, buf[:length], buf[length:]


def response(status: int, body: bytes, headers=(), close: bool = False) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 503: "Service Unavailable"}.get(status, "Other")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class TlsTarget(_Server):
    """HTTP/1.1 over TLS with one SSLContext for every connection.

    Records every TCP connection (tcp_accepted), every completed handshake (conns: SNI seen,
    session_reused, version), every failed handshake (handshake_errors) and every request.
    `health_path` answers `health_status`; every other path answers 200 with the connection's
    facts in headers (X-Target, X-Conn, X-Session-Reused, X-Sni, X-Tls-Version) and body.
    close_after: answer with `Connection: close` and close after each response, with a
    close_notify first (close_notify=True) or without one."""

    def __init__(self, name: str, cert, key, max_version=None, close_after: bool = False,
                 close_notify: bool = True, health_path: str = "/health",
                 health_status: int = 200):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        if max_version:
            self.ctx.maximum_version = max_version
        self.ctx.sni_callback = self._on_sni
        self.close_after, self.close_notify = close_after, close_notify
        self.health_path, self.health_status = health_path, health_status
        self.conns: list[Conn] = []
        self.handshake_errors: list[str] = []
        self.requests: list[Req] = []
        self.sni_seen: list = []
        super().__init__(name)

    @property
    def handshakes(self) -> int:
        with self.lock:
            return len(self.conns)

    def traffic(self) -> list[Req]:
        with self.lock:
            return [r for r in self.requests if r.path != self.health_path]

    def checks(self) -> list[Req]:
        with self.lock:
            return [r for r in self.requests if r.path == self.health_path]

    def _on_sni(self, sslsock, name, ctx):
        try:
            sslsock.sni_name = name
        except AttributeError:
            pass
        with self.lock:
            self.sni_seen.append(name)
        return None

    def serve(self, raw):
        raw.settimeout(5)
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.handshake_errors.append(repr(e))
            return
        self.track(s)
        try:
            with self.lock:
                conn = Conn(len(self.conns) + 1, getattr(s, "sni_name", "<no SNI callback>"),
                            s.session_reused, s.version())
                self.conns.append(conn)
            s.settimeout(30)
            buf = b""
            while not self.stop_event.is_set():
                try:
                    got = read_request(s, buf)
                except ssl.SSLError:
                    return
                if got is None:
                    return
                method, path, headers, _, buf = got
                req = Req(method, path, headers, conn)
                with self.lock:
                    self.requests.append(req)
                if path == self.health_path:
                    status = self.health_status
                    body = b"ok\n" if status == 200 else b"unhealthy\n"
                else:
                    status = 200
                    body = (f"target {self.name} path={path} conn={conn.id} "
                            f"reused={conn.reused} sni={conn.sni}\n").encode()
                s.sendall(response(status, body, [
                    ("X-Target", self.name), ("X-Conn", conn.id),
                    ("X-Session-Reused", conn.reused), ("X-Sni", conn.sni),
                    ("X-Tls-Version", conn.version)], close=self.close_after))
                if self.close_after:
                    if self.close_notify:
                        with contextlib.suppress(OSError, ValueError, ssl.SSLError):
                            s.settimeout(1)
                            s.unwrap().close()
                    return
        finally:
            with contextlib.suppress(OSError):
                s.close()


class PlainTarget(_Server):
    """A plain HTTP/1.1 server: answers 200 to an HTTP request; anything that is not one
    (a TLS ClientHello) gets a 400 and a close, as common HTTP servers do."""

    METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ")

    def __init__(self, name: str):
        self.requests: list[str] = []
        self.not_http = 0
        super().__init__(name)

    def serve(self, raw):
        raw.settimeout(10)
        first = raw.recv(65536)
        if not first:
            return
        if not first.startswith(self.METHODS):
            with self.lock:
                self.not_http += 1
            raw.sendall(response(400, b"bad request\n", close=True))
            return
        buf = first
        while True:
            got = read_request(raw, buf)
            if got is None:
                return
            method, path, _, _, buf = got
            with self.lock:
                self.requests.append(path)
            raw.sendall(response(200, f"plain {self.name}\n".encode(),
                                 [("X-Target", self.name)]))


class SilentTarget(_Server):
    """Accepts TCP connections and never sends or reads a byte (until stopped)."""

    def serve(self, raw):
        self.stop_event.wait(60)


# ---- helpers --------------------------------------------------------------------------------

def get(port: int, path: str, timeout: float = 10.0):
    with HttpConn(port, timeout) as c:
        return c.request("GET", path)


def assert_elb_error(r, status: int):
    assert r.status == status, r
    assert r.header("Server") == "awselb/2.0", r
    assert str(status).encode() in r.body, r


def https_group(name: str, ports, attributes=None, health: bool = False, **extra) -> dict:
    return target_group(name, ports, attributes=attributes, health=health, Protocol="HTTPS",
                        **extra)


def routed(port: int, groups: list, admin: int | None = None, attributes=None) -> dict:
    """A listener on `port` forwarding /<group name>/* to each group (404 otherwise)."""
    rules = [rule(10 + i, [path_is(f"/{g['Name']}/*")], forward(g["Name"]))
             for i, g in enumerate(groups)]
    cfg = lb_config(port, fixed("404", "no route"), rules=rules, target_groups=groups,
                    attributes=attributes)
    if admin:
        cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    return cfg


def distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def stop_all(servers):
    for s in servers:
        with contextlib.suppress(Exception):
            s.stop()


# ---- traffic: one sluice, one HTTPS group (and target) per scenario -------------------------

RESUME = {  # group name: (target's highest TLS version, close_notify before closing)
    "resume-tls12-notify": (ssl.TLSVersion.TLSv1_2, True),
    "resume-tls12-abrupt": (ssl.TLSVersion.TLSv1_2, False),
    "resume-tls13-notify": (None, True),
    "resume-tls13-abrupt": (None, False),
}


@pytest.fixture(scope="module")
def traffic(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("https-targets-traffic")
    st = Bag()
    st.t = {}
    started: list = []

    def tls(name, cert, **kw):
        t = TlsTarget(name, *cert, **kw)
        started.append(t)
        st.t[name] = t
        return t

    try:
        tls("selfsigned", pki.selfsigned)
        if pki.expired:
            tls("expired", pki.expired)
        tls("pool", pki.selfsigned)
        for name, (max_v, notify) in RESUME.items():
            tls(name, pki.selfsigned, max_version=max_v, close_after=True, close_notify=notify)
        tls("sni-on", pki.selfsigned)
        tls("sni-off", pki.selfsigned)
        st.plain = PlainTarget("plain")
        started.append(st.plain)
        groups = []
        for name, t in st.t.items():
            attrs = {"sluice.tls.server_name": API_NAME} if name == "sni-on" else None
            groups.append(https_group(name, [t.port], attrs))
        groups.append(https_group("plain", [st.plain.port]))
        st.port = free_port()
        st.s = launch_sluice(d, routed(st.port, groups), tag="traffic", workers=1)
    except BaseException:
        stop_all(started)
        raise
    yield st
    st.s.proc.stop(timeout=10)
    stop_all(started)


@pytest.mark.parametrize("kind", ["selfsigned", "expired"])
def test_target_certificate_not_verified_by_default(traffic, kind):
    if kind not in traffic.t:
        pytest.skip("no `cryptography` module to make an expired certificate")
    t = traffic.t[kind]
    path = f"/{kind}/hello?x=1"
    r = get(traffic.port, path)
    assert r.status == 200, (r, traffic.s.log()[-2000:])
    assert r.header("X-Target") == kind, r
    assert r.body.startswith(f"target {kind} path={path} ".encode()), r
    seen = [q for q in t.traffic() if q.path == path]
    assert len(seen) == 1, t.traffic()
    # It came over a TLS connection (the target speaks nothing else).
    assert seen[0].conn.version in ("TLSv1.2", "TLSv1.3"), seen[0].conn
    assert seen[0].header("X-Forwarded-Proto") == "http", seen[0].headers
    assert t.handshake_errors == [], t.handshake_errors


def test_keep_alive_uses_pooled_tls_connections(traffic):
    t = traffic.t["pool"]
    with HttpConn(traffic.port) as c:
        for i in range(10):
            r = c.request("GET", f"/pool/seq-{i}")
            assert r.status == 200 and r.header("X-Target") == "pool", r
    first = t.handshakes
    assert len(t.traffic()) == 10, t.traffic()
    assert 1 <= first <= 2, f"10 sequential requests used {first} TLS connections: {t.conns}"
    # Ten clients one after another (one worker): the pooled connection(s) serve them too.
    for i in range(10):
        r = get(traffic.port, f"/pool/client-{i}")
        assert r.status == 200 and r.header("X-Target") == "pool", r
    assert len(t.traffic()) == 20
    assert t.handshakes - first <= 2, f"10 more clients used {t.handshakes - first} more: " \
                                      f"{t.conns}"
    assert t.tcp_accepted == t.handshakes and not t.handshake_errors, (
        t.tcp_accepted, t.handshakes, t.handshake_errors)


@pytest.mark.parametrize("name", list(RESUME))
def test_session_resumed_when_target_closes_each_connection(traffic, name):
    t = traffic.t[name]
    reused = []
    for i in range(5):
        r = get(traffic.port, f"/{name}/r{i}")
        assert r.status == 200 and r.header("X-Target") == name, r
        reused.append(r.header("X-Session-Reused"))
    conns = list(t.conns)
    assert len(conns) >= 2, f"the target closed every connection, yet: {conns}"
    if RESUME[name][0] == ssl.TLSVersion.TLSv1_2:
        assert {c.version for c in conns} == {"TLSv1.2"}, conns
    assert reused[0] == "False", (reused, conns)
    assert "True" in reused[1:], f"no later TLS connection resumed the session: {conns}"


@pytest.mark.parametrize("name,sni", [("sni-on", API_NAME), ("sni-off", None)])
def test_sni_sent_only_with_server_name_attribute(traffic, name, sni):
    t = traffic.t[name]
    for i in range(3):
        r = get(traffic.port, f"/{name}/s{i}")
        assert r.status == 200 and r.header("X-Target") == name, r
    assert t.conns, t.handshake_errors
    assert {c.sni for c in t.conns} == {sni}, (t.conns, t.sni_seen)


def test_plain_http_target_behind_https_group_is_502_quickly(traffic):
    t0 = time.monotonic()
    r = get(traffic.port, "/plain/x", timeout=15)
    elapsed = time.monotonic() - t0
    assert_elb_error(r, 502)
    assert elapsed < 5, f"502 after {elapsed:.1f} s"
    assert traffic.plain.not_http >= 1 and traffic.plain.requests == [], (
        traffic.plain.not_http, traffic.plain.requests)
    # Sluice keeps serving.
    assert get(traffic.port, "/selfsigned/after-plain").status == 200
    assert traffic.s.proc.alive()


# ---- a target that never answers the handshake ----------------------------------------------

def test_silent_target_handshake_ends_within_timeouts(sluice):
    """Connect budget 10 s, idle timeout 2 s: either ends the request (502 or 504)."""
    silent = SilentTarget("silent")
    try:
        port = free_port()
        cfg = lb_config(port, forward("silent"), target_groups=[https_group("silent", [silent.port])],
                        attributes={"idle_timeout.timeout_seconds": 2})
        s = sluice(cfg, workers=1)
        t0 = time.monotonic()
        try:
            r = get(port, "/silent", timeout=20)
        except (socket.timeout, TimeoutError):
            pytest.fail(f"no response after {time.monotonic() - t0:.1f} s")
        elapsed = time.monotonic() - t0
        assert r.status in (502, 504), r
        assert_elb_error(r, r.status)
        assert elapsed <= 12.5, f"answered after {elapsed:.1f} s"
        assert silent.tcp_accepted >= 1
        assert s.proc.alive()
    finally:
        silent.stop()


# ---- verification (opt-in) ------------------------------------------------------------------

VERIFY = {  # group: (attributes, expected status); every target serves the ca1-signed leaf
    "v-ok": ({"sluice.tls.server_name": API_NAME, "sluice.tls.verify.enabled": "true",
              "sluice.tls.verify.ca_file": "certs/ca1.pem"}, 200),
    "v-wrong-ca": ({"sluice.tls.server_name": API_NAME, "sluice.tls.verify.enabled": "true",
                    "sluice.tls.verify.ca_file": "certs/ca2.pem"}, 502),
    "v-mismatch": ({"sluice.tls.server_name": "other.internal",
                    "sluice.tls.verify.enabled": "true",
                    "sluice.tls.verify.ca_file": "certs/ca1.pem"}, 502),
    "v-system-store": ({"sluice.tls.server_name": API_NAME,
                        "sluice.tls.verify.enabled": "true"}, 502),
    "v-off": ({"sluice.tls.server_name": API_NAME, "sluice.tls.verify.enabled": "false",
               "sluice.tls.verify.ca_file": "certs/ca2.pem"}, 200),
    "v-default-off": ({"sluice.tls.verify.ca_file": "certs/ca2.pem"}, 200),
}


@pytest.fixture(scope="module")
def verify(pki, tmp_path_factory):
    """The config sits in conf/ (CA files in conf/certs/, named relative to it); sluice runs
    from run/. One worker."""
    base = tmp_path_factory.mktemp("https-targets-verify")
    conf, run = base / "conf", base / "run"
    (conf / "certs").mkdir(parents=True)
    run.mkdir()
    shutil.copy(pki.ca1[0], conf / "certs" / "ca1.pem")
    shutil.copy(pki.ca2[0], conf / "certs" / "ca2.pem")
    st = Bag()
    st.t = {}
    try:
        for name in VERIFY:
            st.t[name] = TlsTarget(name, *pki.leaf)
        groups = [https_group(name, [st.t[name].port], attrs)
                  for name, (attrs, _) in VERIFY.items()]
        st.port = free_port()
        path = conf / "sluice.yaml"
        path.write_text(dump_config(routed(st.port, groups)))
        proc = Proc([SLUICE_BIN, "run", "--config", path, "--workers", "1"], run, "sluice")
        st.s = Sluice(proc, path, st.port)
    except BaseException:
        stop_all(st.t.values())
        raise
    try:
        def ready():
            assert proc.alive(), f"sluice exited (rc={proc.popen.returncode}):\n{proc.stderr()}"
            return "ready:" in proc.stderr()

        wait_until(ready, 15, what="sluice ready")
        wait_until(lambda: port_accepts(st.port), 10, what="listener")
        yield st
    finally:
        proc.stop(timeout=10)
        stop_all(st.t.values())


@pytest.mark.parametrize("name", list(VERIFY))
def test_verification(verify, name):
    attrs, want = VERIFY[name]
    t = verify.t[name]
    t0 = time.monotonic()
    r = get(verify.port, f"/{name}/v", timeout=15)
    elapsed = time.monotonic() - t0
    if want == 200:
        assert r.status == 200 and r.header("X-Target") == name, (r, verify.s.log()[-2000:])
        assert t.conns and {c.sni for c in t.conns} == {attrs.get("sluice.tls.server_name")}, \
            t.conns
    else:
        assert_elb_error(r, want)
        assert elapsed < 5, f"{want} after {elapsed:.1f} s"
        # The target saw a handshake attempt, and no request reached it.
        assert t.tcp_accepted >= 1, "sluice never connected to the target"
        assert t.requests == [], t.requests


def test_verification_failure_logged_and_counted(sluice, pki, tmp_path):
    """Its own sluice: failure log lines are rate-limited per worker, so a failure of another
    group just before could fold this one into a later "and N more" line."""
    (tmp_path / "certs").mkdir()
    shutil.copy(pki.ca1[0], tmp_path / "certs" / "ca1.pem")
    shutil.copy(pki.ca2[0], tmp_path / "certs" / "ca2.pem")
    good, bad = TlsTarget("v-ok", *pki.leaf), TlsTarget("v-wrong-ca", *pki.leaf)
    try:
        port, admin = distinct_ports(2)
        groups = [https_group("v-ok", [good.port], VERIFY["v-ok"][0]),
                  https_group("v-wrong-ca", [bad.port], VERIFY["v-wrong-ca"][0])]
        s = sluice(routed(port, groups, admin=admin), workers=1)
        # A verified handshake is not a failure.
        assert get(port, "/v-ok/first").status == 200
        doc = admin_get(admin, "/tls")[2]
        assert doc.get("TargetHandshakesFailed") == 0, doc

        r = get(port, "/v-wrong-ca/logged", timeout=15)
        assert_elb_error(r, 502)
        address = f"{LOCAL}:{bad.port}"

        def logged():
            return [line for line in s.log().splitlines()
                    if address in line and VERIFY_FAILED.search(line)]

        try:
            wait_until(logged, 5, what="a log line naming the target and the verify failure")
        except AssertionError:
            pytest.fail(f"no line with {address} and a verification failure in:\n"
                        f"{s.log()[-3000:]}")

        def counted():
            d = admin_get(admin, "/tls")[2] or {}
            return d if d.get("TargetHandshakesFailed", 0) >= 1 else None

        try:
            wait_until(counted, 5, what="TargetHandshakesFailed >= 1")
        except AssertionError:
            pytest.fail(f"GET /tls: {admin_get(admin, '/tls')[1]}")
        # The listener-side counters are not touched by target handshakes.
        doc = admin_get(admin, "/tls")[2]
        assert (doc.get("HandshakesFailed"), doc.get("HandshakesTimedOut")) == (0, 0), doc
        assert bad.requests == [], bad.requests
    finally:
        good.stop()
        bad.stop()


# ---- HTTPS health checks --------------------------------------------------------------------

@pytest.fixture(scope="module")
def health(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("https-targets-health")
    st = Bag()
    started: list = []
    try:
        st.tls_ok = TlsTarget("hc-tls", *pki.selfsigned)
        started.append(st.tls_ok)
        st.plain = PlainTarget("hc-plain")
        started.append(st.plain)
        st.http_group_tls = TlsTarget("hc-http-group", *pki.selfsigned)
        started.append(st.http_group_tls)
        st.tls_503 = TlsTarget("hc-503", *pki.selfsigned, health_status=503)
        started.append(st.tls_503)
        st.explicit_http = TlsTarget("hc-explicit-http", *pki.selfsigned)
        started.append(st.explicit_http)
        groups = [
            https_group("hc-tls", [st.tls_ok.port], health=True, **fast_health()),
            https_group("hc-plain", [st.plain.port], health=True, **fast_health()),
            target_group("hc-http-group", [st.http_group_tls.port], health=True,
                         **fast_health(HealthCheckProtocol="HTTPS")),
            https_group("hc-503", [st.tls_503.port], health=True, **fast_health()),
            https_group("hc-explicit-http", [st.explicit_http.port], health=True,
                        **fast_health(HealthCheckProtocol="HTTP")),
        ]
        st.port, st.admin = distinct_ports(2)
        st.s = launch_sluice(d, routed(st.port, groups, admin=st.admin), tag="health")
    except BaseException:
        stop_all(started)
        raise
    yield st
    st.s.proc.stop(timeout=10)
    stop_all(started)


def _wait(health, group, port, state, reason=None, timeout=15.0):
    try:
        return wait_health(health.admin, group, port, state, timeout, reason)
    except AssertionError as e:
        _, body, _ = admin_get(health.admin, f"/targets/{group}")
        pytest.fail(f"{e}; /targets/{group}: {body}")


def _assert_checks_over_tls(target: TlsTarget, port: int):
    checks = target.checks()
    assert checks, (target.conns, target.handshake_errors)
    for c in checks:
        assert (c.method, c.path) == ("GET", "/health"), c
        assert c.header("User-Agent") == "ELB-HealthChecker/2.0", c.headers
        assert c.conn.version in ("TLSv1.2", "TLSv1.3"), c.conn


def test_https_group_health_checks_default_to_https(health):
    t = health.tls_ok
    assert _wait(health, "hc-tls", t.port, "healthy") == {"State": "healthy"}
    _assert_checks_over_tls(t, t.port)
    r = get(health.port, "/hc-tls/x")
    assert r.status == 200 and r.header("X-Target") == "hc-tls", r


def test_plain_http_target_fails_https_health_checks(health):
    p = health.plain
    th = _wait(health, "hc-plain", p.port, "unhealthy", reason="Target.FailedHealthChecks")
    assert th == {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
                  "Description": "Health checks failed"}, th
    # The checker spoke TLS to it: no HTTP request ever arrived.
    assert p.not_http >= 2 and p.requests == [], (p.not_http, p.requests)


def test_http_group_with_https_health_checks(health):
    t = health.http_group_tls
    assert _wait(health, "hc-http-group", t.port, "healthy") == {"State": "healthy"}
    _assert_checks_over_tls(t, t.port)


def test_tls_target_answering_503_is_response_code_mismatch(health):
    t = health.tls_503
    th = _wait(health, "hc-503", t.port, "unhealthy", reason="Target.ResponseCodeMismatch")
    assert th == {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                  "Description": "Health checks failed with these codes: [503]"}, th
    assert {c.path for c in t.checks()} == {"/health"} and len(t.checks()) >= 2, t.checks()


def test_explicit_http_health_checks_on_https_group(health):
    """HealthCheckProtocol: HTTP wins over the group's HTTPS: plain HTTP to a TLS-only target
    fails, and no check request is ever read by it."""
    t = health.explicit_http
    th = _wait(health, "hc-explicit-http", t.port, "unhealthy")
    assert th.get("Reason") in ("Target.FailedHealthChecks", "Target.Timeout"), th
    assert t.checks() == [], t.checks()
    assert t.handshake_errors, (t.tcp_accepted, t.conns)


# ---- config validation ----------------------------------------------------------------------

CONFIG = """\
LoadBalancers:
  - Name: lb
    Listeners:
      - Protocol: HTTP
        Port: {port}
        BindAddress: 127.0.0.1
        DefaultActions: [{{Type: forward, TargetGroupName: secure}}]
TargetGroups:
  - Name: secure
    Protocol: {protocol}
    Port: 9443
{fields}    Targets: [{{Id: 127.0.0.1, Port: 9443}}]
"""

ALL_ATTRIBUTES = ("    HealthCheckProtocol: HTTPS\n"
                  "    Attributes:\n"
                  "      sluice.tls.server_name: api.internal\n"
                  "      sluice.tls.verify.enabled: \"true\"\n"
                  "      sluice.tls.verify.ca_file: certs/ca.pem\n")

VALID = {
    "https-group-all-attributes": ("HTTPS", ALL_ATTRIBUTES),
    "https-group-defaults": ("HTTPS", ""),
    "http-group-https-checks": ("HTTP", "    HealthCheckProtocol: HTTPS\n"),
    "http-group-tcp-checks": ("HTTP", "    HealthCheckProtocol: TCP\n"),
}

INVALID = {  # (protocol, fields, the field the error names, the text on that field's line)
    "verify-enabled-maybe": ("HTTPS", "    Attributes:\n      sluice.tls.verify.enabled: maybe\n",
                             "TargetGroups[0].Attributes.sluice.tls.verify.enabled",
                             "sluice.tls.verify.enabled: maybe"),
    "protocol-quic": ("QUIC", "", "TargetGroups[0].Protocol", "Protocol: QUIC"),
}


def write_config(tmp_path, protocol: str, fields: str):
    """conf.yaml in tmp_path, with a CA file at certs/ca.pem next to it."""
    (tmp_path / "certs").mkdir(exist_ok=True)
    make_ca(tmp_path / "certs", "ca")
    path = tmp_path / "conf.yaml"
    text = CONFIG.format(port=free_port(), protocol=protocol, fields=fields)
    path.write_text(text)
    return path, text


def validate(path):
    return subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                          timeout=10, cwd="/")


def error_line(path, text: str, field: str, marker: str) -> re.Pattern:
    """`file:line:column: field: message` for the line holding `marker` (`sluice run` puts a
    timestamp before it; `validate` does not)."""
    line = next(i for i, l in enumerate(text.splitlines(), 1) if marker in l)
    return re.compile(rf"(?:^|\s){re.escape(str(path))}:{line}:\d+: {re.escape(field)}: \S",
                      re.M)


@pytest.mark.parametrize("case", list(VALID))
def test_config_accepted(tmp_path, case):
    path, _ = write_config(tmp_path, *VALID[case])
    res = validate(path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " ok" in res.stdout + res.stderr


@pytest.mark.parametrize("case", list(INVALID))
def test_config_rejected(tmp_path, case):
    protocol, fields, field, marker = INVALID[case]
    path, text = write_config(tmp_path, protocol, fields)
    res = validate(path)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert error_line(path, text, field, marker).search(out), out


def test_missing_ca_file_refused(tmp_path):
    fields = ALL_ATTRIBUTES.replace("certs/ca.pem", "certs/nothere.pem")
    path, text = write_config(tmp_path, "HTTPS", fields)
    want = error_line(path, text, "TargetGroups[0].Attributes.sluice.tls.verify.ca_file",
                      "sluice.tls.verify.ca_file:")
    try:
        run = subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--workers", "1"],
                             capture_output=True, text=True, timeout=10, cwd="/")
    except subprocess.TimeoutExpired:
        pytest.fail("sluice run kept running with a missing sluice.tls.verify.ca_file")
    assert run.returncode != 0 and "ready:" not in run.stderr, run.stderr
    assert want.search(run.stderr), run.stderr
    res = validate(path)
    out = res.stdout + res.stderr
    # validate either reports the same error or does not open files at all.
    assert (res.returncode != 0 and want.search(out)) or (res.returncode == 0 and " ok" in out), \
        (res.returncode, out)
