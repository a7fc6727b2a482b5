"""HTTPS listeners, end to end, with Python's ssl module (and curl) as the client.

Covered:
  - a request over TLS reaches the target with X-Forwarded-Proto: https, the listener port,
    and Host per the HTTPS default port (443);
    curl verifies the served certificate (and its host name) against the file it came from
  - SNI certificate selection: exact and one-label wildcard names, case-insensitive, default
    (first) certificate without SNI or without a match, ECDSA before RSA for an ECDSA-capable
    client (RSA for one that is not), the larger key, the newest not-before; ARN references
  - security policies: TLS versions (1.1 refused / accepted, 1.3 offered or not), a cipher
    outside the policy refused, server cipher preference
  - ALPN (h2 preferred, else http/1.1), session resumption by tickets with one and with two workers
  - hostile bytes on the TLS port (garbage, an SSLv2 hello, plain HTTP), the handshake timeout
  - certificate file errors at load (file:line:column and field), relative certificate paths
  - `sluice cert self-signed` (only when the subcommand exists)
"""

from __future__ import annotations

import datetime
import re
import socket
import ssl
import subprocess
import threading
import time
import warnings

import pytest

from conftest import (LOCAL, SLUICE_BIN, ControlledBackend, Proc, admin_get, dump_config, fixed, forward,
                      free_port, launch_sluice, port_accepts, run_curl, target_group, wait_until)

TLS13_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


# ---- certificates ---------------------------------------------------------------------------

def openssl_cert(d, name: str, sans, key: str = "ec:P-256", days: int = 30):
    """A self-signed certificate made by the openssl CLI; key is ec:<curve> or rsa:<bits>."""
    crt, keyf = d / f"{name}.crt", d / f"{name}.key"
    kind, _, param = key.partition(":")
    newkey = (["-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{param}"] if kind == "ec"
              else ["-newkey", f"rsa:{param}"])
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", str(keyf),
                    "-out", str(crt), "-subj", f"/CN={sans[0]}", "-days", str(days),
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{s}" for s in sans)],
                   check=True, capture_output=True, timeout=60)
    return crt, keyf


def dated_cert(d, name: str, san: str, not_before, not_after):
    """An ECDSA P-256 certificate with chosen validity dates (python `cryptography`)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, san)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, keyf = d / f"{name}.crt", d / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return crt, keyf


def der_of(crt_path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(crt_path.read_text())


def cert_entry(name: str, crt, key) -> dict:
    return {"Name": name, "CertificateFile": str(crt), "PrivateKeyFile": str(key)}


def https_listener(port: int, certs, action: dict, policy: str | None = None) -> dict:
    listener = {"Protocol": "HTTPS", "Port": port, "BindAddress": LOCAL}
    if policy:
        listener["SslPolicy"] = policy
    listener["Certificates"] = list(certs)
    listener["DefaultActions"] = [action]
    return listener


def distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


# ---- TLS client -----------------------------------------------------------------------------

def client_ctx(min_v=None, max_v=None, ciphers: str | None = None, alpn=None) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if min_v:
            ctx.minimum_version = min_v
        if max_v:
            ctx.maximum_version = max_v
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls11_ctx() -> ssl.SSLContext:
    return client_ctx(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0")


def handshake(port: int, sni: str | None = None, ctx=None, session=None, timeout: float = 5.0):
    raw = socket.create_connection((LOCAL, port), timeout=timeout)
    try:
        return (ctx or client_ctx()).wrap_socket(raw, server_hostname=sni, session=session)
    except BaseException:
        raw.close()
        raise


def read_http(s) -> tuple[int, dict, bytes]:
    """One Content-Length framed response from a TLS socket: (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed before a response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    need = int(headers.get("content-length", "0"))
    while len(body) < need:
        chunk = s.recv(65536)
        assert chunk, f"closed inside the body: {body!r}"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def https_get(port: int, sni=None, ctx=None, session=None, path: str = "/"):
    """GET over a fresh TLS connection: (status, body, session, session_reused)."""
    with handshake(port, sni, ctx, session) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni or 'tls.test'}\r\n\r\n".encode())
        status, _, body = read_http(s)
        return status, body, s.session, s.session_reused


def served_der(port: int, sni=None, ctx=None) -> bytes:
    with handshake(port, sni, ctx) as s:
        return s.getpeercert(binary_form=True)


def client_can_offer_tls11(crt, key) -> bool:
    """Whether this Python/OpenSSL can do a TLS 1.1 handshake at all (a loopback probe)."""
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.minimum_version = sctx.maximum_version = ssl.TLSVersion.TLSv1_1
            sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            sctx.load_cert_chain(str(crt), str(key))
            server = threading.Thread(target=lambda: _quiet_accept(sctx, a), daemon=True)
            server.start()
            with tls11_ctx().wrap_socket(b, do_handshake_on_connect=True) as c:
                ok = c.version() == "TLSv1.1"
            server.join(5)
            return ok
    except (ssl.SSLError, OSError, ValueError):
        return False
    finally:
        a.close()
        b.close()


def _quiet_accept(sctx, sock):
    try:
        sctx.wrap_socket(sock, server_side=True).close()
    except (ssl.SSLError, OSError):
        pass


# ---- a shared Sluice: three HTTPS listeners, two workers ------------------------------------

CERTS = {  # name: (DNS names, key)
    "default": (["default.test"], "ec:P-256"),
    "exact": (["api.other.test"], "ec:P-256"),
    "wild": (["*.example.com"], "ec:P-256"),
    "pref-rsa": (["dual.pref.test"], "rsa:2048"),
    "pref-ec": (["dual.pref.test"], "ec:P-256"),
    "size-256": (["size.pref.test"], "ec:P-256"),
    "size-384": (["size.pref.test"], "ec:P-384"),
    "rsa": (["rsa.test"], "rsa:2048"),
}


class Site:
    pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """sni: default policy, SNI certificates (first = "default"); rsa: default policy, one RSA
    certificate; tls13: ELBSecurityPolicy-TLS13-1-2-2021-06, the same RSA certificate."""
    d = tmp_path_factory.mktemp("https-site")
    st = Site()
    st.dir = d
    st.files = {n: openssl_cert(d, n, sans, key) for n, (sans, key) in CERTS.items()}
    st.der = {n: der_of(crt) for n, (crt, _) in st.files.items()}
    st.backend = ControlledBackend("tls-target")
    st.ports = dict(zip(("sni", "rsa", "tls13"), distinct_ports(3)))
    arn = {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/wild"}
    sni_certs = ["default", "exact", arn, "pref-rsa", "pref-ec", "size-256", "size-384"]
    cfg = {
        "Certificates": [cert_entry(n, *f) for n, f in st.files.items()],
        "LoadBalancers": [{"Name": "tls", "Listeners": [
            https_listener(st.ports["sni"], sni_certs, forward("tg")),
            https_listener(st.ports["rsa"], ["rsa"], forward("tg")),
            https_listener(st.ports["tls13"], ["rsa"], forward("tg"), TLS13_POLICY),
        ]}],
        "TargetGroups": [target_group("tg", [st.backend.port])],
    }
    try:
        st.sluice = launch_sluice(d, cfg, workers=2)
    except BaseException:
        st.backend.kill()
        raise
    yield st
    st.sluice.proc.stop(timeout=10)
    st.backend.kill()


# ---- requests through the listener ----------------------------------------------------------

def test_request_reaches_target_with_forwarded_headers(site):
    port = site.ports["sni"]
    status, body, _, _ = https_get(port, "default.test", path="/xfp-check")
    assert status == 200 and body == b"target: tls-target\n", (status, body)
    seen = [r for r in site.backend.traffic() if r.path == "/xfp-check"]
    assert len(seen) == 1, seen
    assert seen[0].header("X-Forwarded-Proto") == "https", seen[0].headers
    assert seen[0].header("X-Forwarded-Port") == str(port), seen[0].headers


@pytest.mark.parametrize("sent,forwarded", [("default.test:443", "default.test"),
                                            ("default.test:80", "default.test:80"),
                                            ("default.test", "default.test:{port}")])
def test_host_port_rules_use_https_default_port(site, sent, forwarded):
    """Host sent to targets: 443 (not 80) is the default port dropped on an HTTPS listener; the
    listener port is added when the client sent none."""
    port = site.ports["sni"]
    path = f"/host-{sent.replace(':', '-')}"
    with handshake(port, "default.test") as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {sent}\r\n\r\n".encode())
        assert read_http(s)[0] == 200
    seen = [r for r in site.backend.traffic() if r.path == path]
    assert [r.header("Host") for r in seen] == [forwarded.format(port=port)]


@pytest.mark.parametrize("host,cert", [("default.test", "default"), ("api.other.test", "exact"),
                                       ("a.example.com", "wild")])
def test_curl_verifies_served_certificate(site, host, cert):
    port = site.ports["sni"]
    res = run_curl(["--cacert", str(site.files[cert][0]), "--resolve", f"{host}:{port}:{LOCAL}",
                    "-o", "/dev/null", "-w", "%{http_code}", f"https://{host}:{port}/curl"],
                   timeout=20)
    assert res.returncode == 0 and res.stdout == b"200", (res.returncode, res.stdout, res.stderr)


# ---- SNI ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sni,cert", [
    (None, "default"),
    ("default.test", "default"),
    ("api.other.test", "exact"),
    ("API.Other.TEST", "exact"),
    ("a.example.com", "wild"),
    ("Zz.EXAMPLE.Com", "wild"),
    ("example.com", "default"),
    ("a.b.example.com", "default"),
    ("nothing.test", "default"),
    ("dual.pref.test", "pref-ec"),      # ECDSA before RSA (RSA is listed first)
    ("size.pref.test", "size-384"),     # the larger key (P-256 is listed first)
])
def test_sni_selects_certificate(site, sni, cert):
    got = served_der(site.ports["sni"], sni)
    names = [n for n, der in site.der.items() if der == got]
    assert got == site.der[cert], f"SNI {sni!r}: expected {cert}, got {names or 'unknown'}"


def test_sni_client_without_ecdsa_gets_rsa(site):
    ctx = client_ctx(max_v=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    with handshake(site.ports["sni"], "dual.pref.test", ctx) as s:
        assert s.getpeercert(binary_form=True) == site.der["pref-rsa"]
        assert s.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"


def test_sni_newest_not_before_wins(tmp_path, sluice):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    day = datetime.timedelta(days=1)
    first = openssl_cert(tmp_path, "first", ["first.test"])
    old = dated_cert(tmp_path, "old", "age.pref.test", now - 30 * day, now + 30 * day)
    new = dated_cert(tmp_path, "new", "age.pref.test", now - 2 * day, now + 30 * day)
    port = free_port()
    cfg = {"Certificates": [cert_entry("first", *first), cert_entry("old", *old),
                            cert_entry("new", *new)],
           "LoadBalancers": [{"Name": "age", "Listeners": [
               https_listener(port, ["first", "old", "new"], fixed("200", "age"))]}]}
    sluice(cfg, workers=1)
    assert served_der(port, "age.pref.test") == der_of(new[0])
    assert served_der(port, "other.test") == der_of(first[0])


# ---- security policies ----------------------------------------------------------------------

def test_default_policy_does_not_offer_tls13(site):
    for key in ("sni", "rsa"):
        with handshake(site.ports[key], "default.test") as s:
            assert s.version() == "TLSv1.2", (key, s.version(), s.cipher())


def test_tls13_policy_negotiates_tls13(site):
    status, _, _, _ = https_get(site.ports["tls13"], "rsa.test")
    assert status == 200
    with handshake(site.ports["tls13"], "rsa.test") as s:
        assert s.version() == "TLSv1.3", s.cipher()


@pytest.fixture(scope="module")
def tls11_capable(site):
    if not client_can_offer_tls11(*site.files["rsa"]):
        pytest.skip("the local OpenSSL client cannot do TLS 1.1")


def test_tls11_refused_by_tls13_policy(site, tls11_capable):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        with handshake(site.ports["tls13"], "rsa.test", tls11_ctx()) as s:
            pytest.fail(f"TLS 1.1 accepted: {s.version()} {s.cipher()}")
    assert https_get(site.ports["tls13"], "rsa.test")[0] == 200


def test_tls11_accepted_by_default_policy(site, tls11_capable):
    with handshake(site.ports["rsa"], "rsa.test", tls11_ctx()) as s:
        assert s.version() == "TLSv1.1"


def aes128_sha_only() -> ssl.SSLContext:
    return client_ctx(max_v=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA")


def test_cipher_outside_policy_refused(site):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        with handshake(site.ports["tls13"], "rsa.test", aes128_sha_only()) as s:
            pytest.fail(f"AES128-SHA accepted by {TLS13_POLICY}: {s.version()} {s.cipher()}")
    assert https_get(site.ports["tls13"], "rsa.test")[0] == 200


def test_cipher_inside_default_policy_accepted(site):
    with handshake(site.ports["rsa"], "rsa.test", aes128_sha_only()) as s:
        assert (s.version(), s.cipher()[0]) == ("TLSv1.2", "AES128-SHA")


def test_server_cipher_preference(site):
    ctx = client_ctx(max_v=ssl.TLSVersion.TLSv1_2,
                     ciphers="AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    with handshake(site.ports["rsa"], "rsa.test", ctx) as s:
        assert s.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256", s.cipher()


# ---- ALPN -----------------------------------------------------------------------------------

# routing.http2.enabled is true by default: h2 first (test_http2.py covers it turned off).
@pytest.mark.parametrize("offer,chosen", [(["h2", "http/1.1"], "h2"), (["http/1.1", "h2"], "h2"),
                                          (["h2"], "h2"), (["http/1.1"], "http/1.1"),
                                          (["spdy/3"], None)])
def test_alpn(site, offer, chosen):
    with handshake(site.ports["sni"], "default.test", client_ctx(alpn=offer)) as s:
        assert s.selected_alpn_protocol() == chosen


# ---- session resumption ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One worker; the config sits in conf/ with relative certificate paths, and Sluice runs
    from another directory. Listeners: tls12 (default policy), tls13 (TLS13 policy)."""
    base = tmp_path_factory.mktemp("https-single")
    conf, run = base / "conf", base / "run"
    (conf / "certs").mkdir(parents=True)
    run.mkdir()
    crt, key = openssl_cert(conf / "certs", "one", ["one.test"])
    st = Site()
    st.der = der_of(crt)
    st.ports = dict(zip(("tls12", "tls13"), distinct_ports(2)))
    cfg = {"Certificates": [cert_entry("one", "certs/one.crt", "certs/one.key")],
           "LoadBalancers": [{"Name": "one", "Listeners": [
               https_listener(st.ports["tls12"], ["one"], fixed("200", "one")),
               https_listener(st.ports["tls13"], ["one"], fixed("200", "one"), TLS13_POLICY)]}]}
    path = conf / "sluice.yaml"
    path.write_text(dump_config(cfg))
    proc = Proc([SLUICE_BIN, "run", "--config", path, "--workers", "1"], run, "sluice")
    st.proc = proc
    try:
        def ready():
            assert proc.alive(), f"sluice exited (rc={proc.popen.returncode}):\n{proc.stderr()}"
            return "ready:" in proc.stderr()
        wait_until(ready, 15, what="sluice ready")
        for p in st.ports.values():
            wait_until(lambda: port_accepts(p), 10, what=f"port {p}")
        yield st
    finally:
        proc.stop(timeout=10)


def test_relative_certificate_paths(single):
    assert served_der(single.ports["tls12"], "one.test") == single.der


@pytest.mark.parametrize("where,listener", [("site", "rsa"), ("site", "tls13"),
                                            ("single", "tls12"), ("single", "tls13")])
def test_session_resumption(request, where, listener):
    """A first full handshake, then six connections each resuming the previous session (with
    two workers, some of them land on the other worker). On TLS 1.3 each resumed handshake
    must bring a new ticket: clients use a TLS 1.3 ticket once (RFC 8446 C.4)."""
    port = request.getfixturevalue(where).ports[listener]
    expect = "TLSv1.3" if listener == "tls13" else "TLSv1.2"
    ctx = client_ctx()  # a session is tied to the context that made it
    status, _, session, reused = https_get(port, "rsa.test", ctx)
    assert status == 200 and not reused and session is not None
    for i in range(6):
        with handshake(port, "rsa.test", ctx, session) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: rsa.test\r\n\r\n")
            assert read_http(s)[0] == 200
            assert s.version() == expect
            assert s.session_reused, f"connection {i + 2} was not resumed ({s.version()})"
            if listener == "tls13":  # the client's session id is a hash of its ticket
                assert s.session.id != session.id, f"no new ticket on connection {i + 2}"
            session = s.session


# ---- hostile bytes on the TLS port ----------------------------------------------------------

SSLV2_HELLO = (b"\x80\x1c\x01\x00\x02\x00\x03\x00\x00\x00\x10" + b"\x01\x00\x80"
               + bytes(range(16)))


def closed_within(sock, seconds: float) -> tuple[bool, bytes]:
    """Reads until EOF or reset: (closed, bytes received); False if still open at the end."""
    deadline = time.monotonic() + seconds
    got = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


@pytest.mark.parametrize("payload", [b"\x16\x03\x01\xff\xff" + b"\xa5" * 300 + b"\r\n\r\n",
                                     b"\x00garbage, not a TLS record\r\n" * 20,
                                     SSLV2_HELLO,
                                     b"GET / HTTP/1.1\r\nHost: default.test\r\n\r\n"],
                         ids=["bad-record-length", "garbage", "sslv2-hello", "plain-http"])
def test_hostile_bytes_close_the_connection(site, payload):
    port = site.ports["sni"]
    with socket.create_connection((LOCAL, port), timeout=5) as s:
        s.sendall(payload)
        closed, got = closed_within(s, 5.0)
    assert closed, f"still open after 5 s; received {got!r}"
    if payload.startswith(b"GET "):
        # ALB answers HTTP sent to an HTTPS port with its 400 page, in plain text (§4.6).
        assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n"), got
        assert b"Server: awselb/2.0\r\n" in got and b"Connection: close\r\n" in got, got
    else:
        # Nothing but (at most) a TLS alert record comes back.
        assert got == b"" or got[:1] == b"\x15", got
    assert https_get(port, "default.test")[0] == 200
    assert site.sluice.proc.alive()


def test_silent_client_closed_at_handshake_timeout(site):
    port = site.ports["sni"]
    with socket.create_connection((LOCAL, port), timeout=5) as s:
        start = time.monotonic()
        assert https_get(port, "default.test")[0] == 200  # the others are served meanwhile
        closed, got = closed_within(s, 20.0)
        elapsed = time.monotonic() - start
    assert closed and got == b"", (closed, got, elapsed)
    assert 9.0 <= elapsed <= 20.0, f"closed after {elapsed:.1f} s (expected ~10 s)"


# ---- certificate errors at load -------------------------------------------------------------

CONFIG_WITH_CERT = """\
Certificates:
  - Name: site
    CertificateFile: {crt}
    PrivateKeyFile: {key}
LoadBalancers:
  - Name: lb
    Listeners:
      - Protocol: HTTPS
        Port: {port}
        BindAddress: 127.0.0.1
        Certificates: [site]
        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {{StatusCode: "200", MessageBody: hi}}
"""
FIELD_AT = {"CertificateFile": (3, len("    CertificateFile: ") + 1),
            "PrivateKeyFile": (4, len("    PrivateKeyFile: ") + 1)}


def bad_files(tmp_path, case: str):
    """(certificate file, key file, field, message pattern) of one broken certificate."""
    if case == "key-mismatch":
        crt, _ = openssl_cert(tmp_path, "a", ["a.test"])
        _, key = openssl_cert(tmp_path, "b", ["b.test"])
        return crt.name, key.name, "PrivateKeyFile", "the private key does not match the certificate"
    if case == "expired":
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        end = now - datetime.timedelta(days=3)
        crt, key = dated_cert(tmp_path, "old", "old.test", end - datetime.timedelta(days=30), end)
        return (crt.name, key.name, "CertificateFile",
                "the certificate expired on " + re.escape(end.strftime("%Y-%m-%d")))
    if case == "missing-file":
        _, key = openssl_cert(tmp_path, "a", ["a.test"])
        return "nothere.crt", key.name, "CertificateFile", r"nothere\.crt: cannot open: No such file"
    crt, key = openssl_cert(tmp_path, "small", ["small.test"], key="rsa:1024")
    return crt.name, key.name, "PrivateKeyFile", "RSA 1024 bits"


@pytest.mark.parametrize("case", ["key-mismatch", "expired", "missing-file", "rsa-1024"])
def test_certificate_errors_at_load(tmp_path, case):
    crt, key, field, message = bad_files(tmp_path, case)
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG_WITH_CERT.format(crt=crt, key=key, port=free_port()))
    line, col = FIELD_AT[field]
    want = re.compile(rf"{re.escape(str(path))}:{line}:{col}: Certificates\[0\]\.{field}: "
                      rf".*{message}")
    try:
        run = subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--workers", "1"],
                             capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sluice run kept running with a broken certificate ({case})")
    assert run.returncode == 1 and want.search(run.stderr), (run.returncode, run.stderr)
    assert "ready:" not in run.stderr
    val = subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                         timeout=10)
    out = val.stdout + val.stderr
    # validate either reports the same error or does not read certificate files at all.
    assert (val.returncode == 1 and want.search(out)) or (val.returncode == 0 and " ok" in out), \
        (val.returncode, out)


# ---- sluice cert self-signed ----------------------------------------------------------------

def cert_subcommand_exists() -> bool:
    res = subprocess.run([SLUICE_BIN, "cert", "--help"], capture_output=True, text=True,
                         timeout=10)
    return res.returncode == 0 and "self-signed" in res.stdout + res.stderr


def x509_text(crt) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(crt)],
                          capture_output=True, text=True, check=True, timeout=10).stdout


@pytest.mark.parametrize("key_args,expect", [((), ["id-ecPublicKey", "prime256v1"]),
                                             (("--key", "rsa"), ["rsaEncryption", "(2048 bit)"])],
                         ids=["ecdsa-default", "rsa"])
def test_cert_self_signed(tmp_path, sluice, key_args, expect):
    if not cert_subcommand_exists():
        pytest.skip("`sluice cert self-signed` is not there yet")
    out = tmp_path / "out"
    res = subprocess.run([SLUICE_BIN, "cert", "self-signed", "--name", "localhost",
                          "--out-dir", str(out), *key_args], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    crt, key = out / "localhost.crt", out / "localhost.key"
    assert crt.is_file() and key.is_file(), list(out.iterdir()) if out.exists() else None
    text = x509_text(crt)
    for fragment in [*expect, "DNS:localhost"]:
        assert fragment in text, text
    port = free_port()
    sluice({"Certificates": [cert_entry("localhost", crt, key)],
            "LoadBalancers": [{"Name": "ss", "Listeners": [
                https_listener(port, ["localhost"], fixed("200", "self"))]}]}, workers=1)
    res = run_curl(["--cacert", str(crt), "--resolve", f"localhost:{port}:{LOCAL}",
                    f"https://localhost:{port}/"], timeout=20)
    assert res.returncode == 0 and res.stdout == b"self", (res.returncode, res.stdout, res.stderr)


# ---- certificate rotation -------------------------------------------------------------------

def replace_files(d, crt, key):
    """Puts a certificate and key at d/live.crt, d/live.key atomically (as a deploy would)."""
    for src, name in ((crt, "live.crt"), (key, "live.key")):
        tmp = d / (name + ".tmp")
        tmp.write_bytes(src.read_bytes())
        tmp.replace(d / name)


def test_certificate_rotation_on_reload_under_load(tmp_path, sluice):
    first = openssl_cert(tmp_path, "first", ["rotate.test"])
    second = openssl_cert(tmp_path, "second", ["rotate.test"], key="rsa:2048")
    other = openssl_cert(tmp_path, "other", ["other.test"])
    replace_files(tmp_path, *first)
    port = free_port()
    cfg = {"Certificates": [cert_entry("live", tmp_path / "live.crt", tmp_path / "live.key")],
           "LoadBalancers": [{"Name": "rot", "Listeners": [
               https_listener(port, ["live"], fixed("200", "rotated"))]}]}
    lb = sluice(cfg)
    assert served_der(port, "rotate.test") == der_of(first[0])
    established = handshake(port, "rotate.test")
    failures, done = [], threading.Event()

    def load():  # new connections all along: none may fail across the reloads
        while not done.is_set():
            try:
                status, body, _, _ = https_get(port, "rotate.test")
                if status != 200 or body != b"rotated":
                    failures.append((status, body))
            except OSError as e:
                failures.append(repr(e))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        replace_files(tmp_path, *second)
        lb.reload(cfg)
        assert served_der(port, "rotate.test") == der_of(second[0])
        # A bad new file (a key of another certificate) is refused; the last good one serves.
        (tmp_path / "live.key").write_bytes(other[1].read_bytes())
        lb.reload(cfg, expect="refused")
        assert "Certificates[0].PrivateKeyFile" in lb.log()
        assert served_der(port, "rotate.test") == der_of(second[0])
    finally:
        done.set()
        worker.join(timeout=30)
    assert not failures, failures[:5]
    # The connection made before the rotation still works on its certificate.
    with established as s:
        assert s.getpeercert(binary_form=True) == der_of(first[0])
        s.sendall(b"GET / HTTP/1.1\r\nHost: rotate.test\r\n\r\n")
        status, _, body = read_http(s)
        assert (status, body) == (200, b"rotated")


# ---- TLS facts for the target ---------------------------------------------------------------

def test_tls_version_and_cipher_headers(tmp_path, sluice):
    crt = openssl_cert(tmp_path, "facts", ["facts.test"])
    backend = ControlledBackend("facts-target")
    try:
        on, off = distinct_ports(2)
        cfg = {"Certificates": [cert_entry("facts", *crt)],
               "LoadBalancers": [
                   {"Name": "on", "Attributes": {
                       "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": True},
                    "Listeners": [https_listener(on, ["facts"], forward("tg"), TLS13_POLICY)]},
                   {"Name": "off", "Listeners": [https_listener(off, ["facts"], forward("tg-off"))]}],
               "TargetGroups": [target_group("tg", [backend.port]),
                                target_group("tg-off", [backend.port])]}
        sluice(cfg, workers=1)
        spoof = "X-Amzn-Tls-Version: SSLv3\r\nX-Amzn-Tls-Cipher-Suite: NULL-MD5\r\n"
        for port, path in ((on, "/facts-on"), (off, "/facts-off")):
            with handshake(port, "facts.test") as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: facts.test\r\n{spoof}\r\n".encode())
                assert read_http(s)[0] == 200
                version, cipher = s.version(), s.cipher()[0]
        seen = {r.path: r for r in backend.traffic()}
        # On: the connection's own values replace what the client claimed (§4.5).
        assert seen["/facts-on"].header("X-Amzn-Tls-Version") == "TLSv1.3"
        assert seen["/facts-on"].header("X-Amzn-Tls-Cipher-Suite") == "TLS_AES_128_GCM_SHA256"
        # Off (the default): Sluice adds nothing; the client's fields pass like any other.
        assert seen["/facts-off"].header("X-Amzn-Tls-Version") == "SSLv3"
        assert (version, cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    finally:
        backend.kill()


def test_tls_fact_headers_renamed_by_listener_attributes(tmp_path, sluice):
    # §3.3: routing.http.request.x_amzn_tls_version.header_name / ..._cipher_suite.header_name.
    crt = openssl_cert(tmp_path, "rename", ["rename.test"])
    backend = ControlledBackend("rename-target")
    try:
        port = free_port()
        listener = https_listener(port, ["rename"], forward("tg"), TLS13_POLICY)
        listener["Attributes"] = {
            "routing.http.request.x_amzn_tls_version.header_name": "X-Tls-Proto",
            "routing.http.request.x_amzn_tls_cipher_suite.header_name": "X-Tls-Cipher"}
        cfg = {"Certificates": [cert_entry("rename", *crt)],
               "LoadBalancers": [{"Name": "rename", "Attributes": {
                   "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": True},
                   "Listeners": [listener]}],
               "TargetGroups": [target_group("tg", [backend.port])]}
        sluice(cfg, workers=1)
        spoof = ("X-Amzn-Tls-Version: SSLv3\r\nx-tls-proto: SSLv2\r\n"
                 "X-Tls-Cipher: NULL-MD5\r\n")
        with handshake(port, "rename.test") as s:
            s.sendall(f"GET /renamed HTTP/1.1\r\nHost: rename.test\r\n{spoof}\r\n".encode())
            assert read_http(s)[0] == 200
        seen = backend.traffic()[-1]
        assert seen.header("X-Tls-Proto") == "TLSv1.3"
        assert seen.header("X-Tls-Cipher") == "TLS_AES_128_GCM_SHA256"
        # Neither the client's copies (under either name) nor ALB's default names remain.
        assert seen.header("X-Amzn-Tls-Version") is None
        assert seen.header("X-Amzn-Tls-Cipher-Suite") is None
        assert [v for k, v in seen.headers if k.lower() == "x-tls-proto"] == ["TLSv1.3"]
    finally:
        backend.kill()


@pytest.mark.parametrize("max_version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_resumption_survives_a_reload(tmp_path, sluice, max_version):
    crt = openssl_cert(tmp_path, "keep", ["keep.test"])
    port = free_port()
    cfg = {"Certificates": [cert_entry("keep", *crt)],
           "LoadBalancers": [{"Name": "keep", "Listeners": [
               https_listener(port, ["keep"], fixed("200", "kept"), TLS13_POLICY)]}]}
    lb = sluice(cfg, workers=2)
    ctx = client_ctx(max_v=max_version)
    status, _, session, reused = https_get(port, "keep.test", ctx)
    assert status == 200 and not reused
    lb.reload(cfg)  # new listener contexts; the ticket keys are the process's
    status, _, _, reused = https_get(port, "keep.test", ctx, session)
    assert status == 200 and reused


def test_failed_handshakes_are_counted_on_the_admin_endpoint(tmp_path, sluice):
    crt = openssl_cert(tmp_path, "count", ["count.test"])
    port, admin = distinct_ports(2)
    cfg = {"Certificates": [cert_entry("count", *crt)],
           "LoadBalancers": [{"Name": "count", "Listeners": [
               https_listener(port, ["count"], fixed("200", "ok"))]}],
           "Admin": {"Address": LOCAL, "Port": admin}}
    lb = sluice(cfg, workers=2)
    assert admin_get(admin, "/tls")[2] == {"HandshakesFailed": 0, "HandshakesTimedOut": 0,
                                           "TargetHandshakesFailed": 0}
    for payload in (b"\x00garbage, not a TLS record\r\n" * 20, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection((LOCAL, port), timeout=5) as s:
            s.sendall(payload)
            start = time.monotonic()
            closed, got = closed_within(s, 5.0)
            # This once failed in a full CI run and never alone: say what the connection saw.
            assert closed, (f"{payload[:16]!r}: still open after {time.monotonic() - start:.1f}s "
                            f"(from {s.getsockname()}), received {got[:200]!r}, counters "
                            f"{admin_get(admin, '/tls')[2]}\nsluice log:\n{lb.proc.stderr()[-3000:]}")
    assert https_get(port, "count.test")[0] == 200  # a good handshake is not counted
    wait_until(lambda: admin_get(admin, "/tls")[2]["HandshakesFailed"] >= 2, 5,
               what="two failed handshakes counted")
    assert admin_get(admin, "/tls")[2] == {"HandshakesFailed": 2, "HandshakesTimedOut": 0,
                                           "TargetHandshakesFailed": 0}


def test_certificate_files_replaced_in_place_are_used_without_sighup(tmp_path, sluice):
    first = openssl_cert(tmp_path, "first", ["watch.test"])
    second = openssl_cert(tmp_path, "second", ["watch.test"], key="rsa:2048")
    other = openssl_cert(tmp_path, "other", ["other.test"])
    replace_files(tmp_path, *first)
    port = free_port()
    cfg = {"Certificates": [cert_entry("live", tmp_path / "live.crt", tmp_path / "live.key")],
           "LoadBalancers": [{"Name": "watch", "Listeners": [
               https_listener(port, ["live"], fixed("200", "watched"))]}]}
    lb = sluice(cfg)
    assert served_der(port, "watch.test") == der_of(first[0])
    replace_files(tmp_path, *second)  # no signal: the files are watched
    wait_until(lambda: served_der(port, "watch.test") == der_of(second[0]), 10,
               what="the replaced certificate served")
    assert "certificate files changed: reloading" in lb.log()
    # A key that does not match is refused with the error; the last good pair keeps serving.
    refused = lb.log().count("reload refused")
    (tmp_path / "live.key").write_bytes(other[1].read_bytes())
    wait_until(lambda: lb.log().count("reload refused") > refused, 10, what="reload refused")
    assert "Certificates[0].PrivateKeyFile" in lb.log()
    assert served_der(port, "watch.test") == der_of(second[0])
