"""Mutual TLS on HTTPS listeners (ALB's mTLS), end to end.

Every certificate is made by the openssl CLI: a root CA, an issuing (intermediate) CA under
it, an unrelated CA, a "partner" CA, client certificates signed by them (one with serial
0x03A5B7C9 and subject /C=US/O=Example, Inc./CN=client one), a self-signed client
certificate, an expired one and a not-yet-valid one (`openssl ca -startdate/-enddate`), and
CRLs (`openssl ca -revoke` / `-gencrl`). The server certificate is test_https.openssl_cert.
Clients are Python's ssl module (and `openssl s_client` for the CA names of the
CertificateRequest); the target is a Python echo server that answers the request headers it
received as JSON, so the exact header values are asserted.

Covered:
  - passthrough: any certificate or none is accepted; the chain (leaf first, PEM, URL-encoded)
    reaches the target in X-Amzn-Mtls-Clientcert; no header without a certificate
  - verify: trusted leafs (directly under the root, or with the issuing CA sent along, under
    either CA of a two-CA bundle) pass with the serial, issuer, subject (RFC 2253), validity
    and leaf headers; no certificate, an unknown CA, a self-signed certificate, an incomplete
    chain, a revoked leaf (PEM and DER CRLs), an expired or not-yet-valid leaf are refused in
    the handshake; IgnoreClientCertificateExpiry lets the expired leaf in (not the revoked
    one); the same on the second (SNI) certificate of the listener, and under TLS 1.3
  - every request of a keep-alive connection carries the headers; two clients' connections
    interleaved on one listener get their own values
  - client-supplied copies of the mTLS headers (any case, renamed names) are dropped; on a
    listener with renamed headers the default names are dropped too (the last test)
  - header renames by listener attributes
  - the CA names of the CertificateRequest (AdvertiseTrustStoreCaNames on / off, TLS 1.2 and
    1.3); a listener without mTLS sends no CertificateRequest
  - no session resumption on mTLS listeners (while a plain HTTPS listener resumes), and a
    session ticket of a plain listener does not let a client skip the certificate
  - the log line of each listener; trust store files relative to the config file
  - a CRL rotated by a reload takes effect for new connections; a broken trust store is
    refused on reload and the last good one keeps serving
  - config errors from `sluice validate` (file:line:column: field: message), `sluice run`
    refusing a bad trust store, and accepted forms (the ARN of a trust store among them)
"""

from __future__ import annotations

import datetime
import http.server
import json
import re
import ssl
import subprocess
import threading
import urllib.parse

import pytest

from conftest import (LOCAL, SLUICE_BIN, Proc, dump_config, forward, free_port,
                      port_accepts, target_group, wait_until)
from test_https import (TLS13_POLICY, cert_entry, client_ctx, der_of, distinct_ports, handshake,
                        https_listener, openssl_cert, read_http)

HOST = "mtls.test"
SECOND_HOST = "second.mtls.test"
STORE_ARN = ("arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/partners/"
             "0123456789abcdef")
MTLS_HEADERS = ("X-Amzn-Mtls-Clientcert", "X-Amzn-Mtls-Clientcert-Serial-Number",
                "X-Amzn-Mtls-Clientcert-Issuer", "X-Amzn-Mtls-Clientcert-Subject",
                "X-Amzn-Mtls-Clientcert-Validity", "X-Amzn-Mtls-Clientcert-Leaf")
RENAMED = {  # listener attribute key part -> new header name
    "x_amzn_mtls_clientcert": "X-Client-Chain",
    "x_amzn_mtls_clientcert_serial_number": "X-Client-Serial",
    "x_amzn_mtls_clientcert_issuer": "X-Client-Issuer",
    "x_amzn_mtls_clientcert_subject": "X-Client-Subject",
    "x_amzn_mtls_clientcert_validity": "X-Client-Validity",
    "x_amzn_mtls_clientcert_leaf": "X-Client-Leaf",
}
ROOT_DN = "CN=Test Root CA,O=Sluice Test,C=US"
ISSUING_DN = "CN=Test Issuing CA,O=Sluice Test,C=US"
PARTNER_DN = "CN=Partner CA,O=Partner Org,C=DE"


# ---- certificates (openssl CLI) -------------------------------------------------------------

def _openssl(*args) -> str:
    res = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res.stdout


EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
CA_EXT = ("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n")
CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\n"
              "authorityKeyIdentifier=keyid:always\n")

CA_CNF = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = {crt}
private_key = {key}
default_md = sha256
default_days = 30
default_crl_days = 30
policy = policy_any
unique_subject = no
preserve = yes
[ policy_any ]
countryName = optional
organizationName = optional
commonName = supplied
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""


class Cert:
    """A certificate made here: crt (PEM file), key, chain (PEM file the client presents:
    the certificate, then the CAs it sends along), pem (the certificate's PEM text)."""

    def __init__(self, crt, key, chain=None):
        self.crt, self.key, self.chain = crt, key, chain or crt

    @property
    def pem(self) -> str:
        return self.crt.read_text()


class Ca(Cert):
    """A CA with an `openssl ca` directory (index.txt, serial, crlnumber) for dated
    certificates, revocations and CRLs."""

    def __init__(self, d, name: str, subj: str, parent: "Ca | None" = None):
        self.dir = d / f"ca-{name}"
        (self.dir / "newcerts").mkdir(parents=True)
        crt, key = self.dir / "ca.pem", self.dir / "ca.key"
        if parent is None:
            _openssl("req", "-x509", *EC_KEY, "-keyout", key, "-out", crt, "-subj", subj,
                     "-days", "60", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        else:
            csr, ext = self.dir / "ca.csr", self.dir / "ca.ext"
            _openssl("req", "-new", *EC_KEY, "-keyout", key, "-out", csr, "-subj", subj)
            ext.write_text(CA_EXT)
            _openssl("x509", "-req", "-in", csr, "-CA", parent.crt, "-CAkey", parent.key,
                     "-set_serial", "0x1CA", "-days", "60", "-sha256", "-extfile", ext,
                     "-out", crt)
        super().__init__(crt, key)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("5000\n")
        (self.dir / "crlnumber").write_text("01\n")
        self.cnf = self.dir / "ca.cnf"
        self.cnf.write_text(CA_CNF.format(dir=self.dir, crt=crt, key=key))

    def issue(self, d, name: str, subj: str, serial: int, send_chain: bool = False) -> Cert:
        """A client certificate signed by this CA (openssl x509 -req -set_serial)."""
        crt, key, csr, ext = (d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr",
                              d / f"{name}.ext")
        _openssl("req", "-new", *EC_KEY, "-keyout", key, "-out", csr, "-subj", subj)
        ext.write_text(CLIENT_EXT)
        _openssl("x509", "-req", "-in", csr, "-CA", self.crt, "-CAkey", self.key,
                 "-set_serial", hex(serial), "-days", "30", "-sha256", "-extfile", ext,
                 "-out", crt)
        chain = None
        if send_chain:
            chain = d / f"{name}-chain.pem"
            chain.write_text(crt.read_text() + self.crt.read_text())
        return Cert(crt, key, chain)

    def issue_dated(self, d, name: str, subj: str, start: datetime.datetime,
                    end: datetime.datetime) -> Cert:
        """A client certificate with chosen validity dates (openssl ca -startdate/-enddate)."""
        crt, key, csr = d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr"
        _openssl("req", "-new", *EC_KEY, "-keyout", key, "-out", csr, "-subj", subj)
        fmt = "%Y%m%d%H%M%SZ"
        _openssl("ca", "-batch", "-config", self.cnf, "-in", csr, "-out", crt, "-notext",
                 "-startdate", start.strftime(fmt), "-enddate", end.strftime(fmt),
                 "-extensions", "client_ext")
        return Cert(crt, key)

    def revoke(self, cert: Cert):
        _openssl("ca", "-batch", "-config", self.cnf, "-revoke", cert.crt)

    def crl(self, path, der: bool = False):
        """The CRL of this CA (every certificate revoked so far), PEM or DER, at `path`."""
        pem = path.with_suffix(".tmp.pem")
        _openssl("ca", "-batch", "-config", self.cnf, "-gencrl", "-out", pem)
        if der:
            _openssl("crl", "-in", pem, "-outform", "DER", "-out", path)
            pem.unlink()
        else:
            pem.replace(path)
        return path


def self_signed_client(d, name: str, subj: str) -> Cert:
    crt, key = d / f"{name}.pem", d / f"{name}.key"
    _openssl("req", "-x509", *EC_KEY, "-keyout", key, "-out", crt, "-subj", subj, "-days", "30",
             "-addext", "extendedKeyUsage=clientAuth")
    return Cert(crt, key)


def openssl_dates(cert: Cert) -> str:
    """The validity header value computed from `openssl x509 -dates`."""
    out = _openssl("x509", "-noout", "-startdate", "-enddate", "-in", cert.crt)
    vals = dict(line.split("=", 1) for line in out.strip().splitlines())

    def iso(text: str) -> str:
        t = datetime.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT")
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    return f"NotBefore={iso(vals['notBefore'])};NotAfter={iso(vals['notAfter'])}"


def openssl_rfc2253(cert: Cert, which: str) -> str:
    out = _openssl("x509", "-noout", f"-{which}", "-nameopt", "RFC2253", "-in", cert.crt)
    return out.strip().split("=", 1)[1].strip()


def url_encoded(pem: str) -> str:
    """PEM URL-encoded as ALB does: unreserved characters and '+', '=', '/' left as they are."""
    return urllib.parse.quote(pem, safe="+=/-_.~")


class Bag:
    pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("mtls-pki")
    p = Bag()
    p.dir = d
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    day = datetime.timedelta(days=1)
    p.root = Ca(d, "root", "/C=US/O=Sluice Test/CN=Test Root CA")
    p.issuing = Ca(d, "issuing", "/C=US/O=Sluice Test/CN=Test Issuing CA", parent=p.root)
    p.other = Ca(d, "other", "/C=US/O=Elsewhere/CN=Other Root CA")
    p.partner = Ca(d, "partner", "/C=DE/O=Partner Org/CN=Partner CA")
    p.one = p.root.issue(d, "client-one", "/C=US/O=Example, Inc./CN=client one", 0x03A5B7C9)
    p.two = p.root.issue(d, "client-two", "/CN=client two", 0x7E57)
    p.revoked = p.root.issue(d, "client-revoked", "/CN=client revoked", 0x0BAD01)
    p.chained = p.issuing.issue(d, "client-chained", "/O=Sluice Test/CN=client chained",
                                0x0C4A1D, send_chain=True)
    p.unchained = Cert(p.chained.crt, p.chained.key)  # the same leaf, without its CA
    p.stranger = p.other.issue(d, "client-stranger", "/CN=client stranger", 0x5742)
    p.partner_client = p.partner.issue(d, "client-partner", "/CN=partner client", 0x9A27)
    p.selfsigned = self_signed_client(d, "client-self", "/CN=client self")
    p.expired = p.root.issue_dated(d, "client-expired", "/CN=client expired", now - 30 * day,
                                   now - 3 * day)
    p.future = p.root.issue_dated(d, "client-future", "/CN=client future", now + 3 * day,
                                  now + 30 * day)
    p.root.revoke(p.revoked)
    p.crl_pem = p.root.crl(d / "root-crl.pem")
    p.crl_der = p.root.crl(d / "root-crl.der", der=True)
    p.other_crl = p.other.crl(d / "other-crl.pem")
    p.server = openssl_cert(d, "server", [HOST])
    p.server2 = openssl_cert(d, "server2", [SECOND_HOST])
    return p


# ---- the target: answers the request's headers as JSON --------------------------------------

class _EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        body = json.dumps({"path": self.path, "headers": list(self.headers.items())}).encode()
        self.server.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class EchoTarget:
    def __init__(self):
        self.server = http.server.ThreadingHTTPServer((LOCAL, 0), _EchoHandler)
        self.server.daemon_threads = True
        self.server.seen = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True,
                                       name="mtls-echo")
        self.thread.start()

    @property
    def seen(self) -> list:
        return list(self.server.seen)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Echo:
    """What the target received: the path and the header list."""

    def __init__(self, doc: dict):
        self.path = doc["path"]
        self.headers = [tuple(h) for h in doc["headers"]]

    def all(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def one(self, name: str):
        vals = self.all(name)
        assert len(vals) == 1, f"{name}: {vals!r} in {self.headers!r}"
        return vals[0]


# ---- clients --------------------------------------------------------------------------------

def mtls_ctx(client: Cert | None = None, max_v=None) -> ssl.SSLContext:
    ctx = client_ctx(max_v=max_v)
    if client is not None:
        ctx.load_cert_chain(str(client.chain), str(client.key))
    return ctx


def mtls_get(port: int, client: Cert | None = None, path: str = "/", headers=(),
             sni: str = HOST, ctx=None, session=None):
    """One GET over a fresh TLS connection presenting `client`: (Echo, TLS socket facts)."""
    with handshake(port, sni, ctx or mtls_ctx(client), session) as s:
        head = f"GET {path} HTTP/1.1\r\nHost: {sni}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        s.sendall(head.encode("latin-1"))
        status, _, body = read_http(s)
        assert status == 200, (status, body)
        facts = {"version": s.version(), "session": s.session, "reused": s.session_reused,
                 "peer": s.getpeercert(binary_form=True)}
    echo = Echo(json.loads(body))
    assert echo.path == path, echo.path
    return echo, facts


def refused(port: int, client: Cert | None, path: str, sni: str = HOST, max_v=None) -> str:
    """Asserts that the listener refuses `client` in the TLS handshake (under TLS 1.3 the
    client learns it at its first read): the error the client saw."""
    try:
        with handshake(port, sni, mtls_ctx(client, max_v)) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni}\r\n\r\n".encode())
            s.settimeout(5)
            data = s.recv(65536)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return str(e)
    if data == b"":
        return "closed without a response"
    pytest.fail(f"the listener on {port} accepted the client certificate; got {data[:300]!r}")


# ---- one Sluice with every kind of mTLS listener --------------------------------------------

LISTENERS = ("passthrough", "pass_renamed", "verify", "lenient", "verify_renamed", "plain",
             "plain13")


def mtls_listener(port: int, certs, mutual=None, attributes=None, policy=None) -> dict:
    listener = https_listener(port, certs, forward("echo"), policy)
    if mutual is not None:
        listener["MutualAuthentication"] = mutual
    if attributes:
        listener["Attributes"] = attributes
    listener["DefaultActions"] = listener.pop("DefaultActions")
    return listener


def renamed_attributes(which=RENAMED) -> dict:
    return {f"routing.http.request.{k}.header_name": v for k, v in which.items()}


@pytest.fixture(scope="module")
def lb(pki, tmp_path_factory):
    """Listeners (two workers; the config in conf/ with trust store paths relative to it,
    Sluice running from run/):
      passthrough     Mode passthrough
      pass_renamed    passthrough, X-Amzn-Mtls-Clientcert renamed X-Client-Chain
      verify          verify against `clients` (root CA, CRL in PEM), advertise off, two
                      certificates (the second for SNI second.mtls.test)
      lenient         verify against `partners` by ARN (root and partner CAs, CRL in DER),
                      IgnoreClientCertificateExpiry, advertise on, TLS 1.3 policy
      verify_renamed  verify against `clients`, all six headers renamed
      plain           HTTPS without mutual TLS
      plain13         the same with the TLS 1.3 policy"""
    base = tmp_path_factory.mktemp("mtls-lb")
    conf, run = base / "conf", base / "run"
    (conf / "trust").mkdir(parents=True)
    run.mkdir()
    (conf / "trust" / "clients.pem").write_text(pki.root.pem)
    (conf / "trust" / "partners.pem").write_text(pki.root.pem + pki.partner.pem)
    (conf / "trust" / "root.crl").write_bytes(pki.crl_pem.read_bytes())
    (conf / "trust" / "root.der").write_bytes(pki.crl_der.read_bytes())
    st = Bag()
    st.ports = dict(zip(LISTENERS, distinct_ports(len(LISTENERS))))
    p = st.ports
    verify = {"Mode": "verify", "TrustStoreArn": "clients", "IgnoreClientCertificateExpiry": False,
              "AdvertiseTrustStoreCaNames": "off"}
    cfg = {
        "Certificates": [cert_entry("srv", *pki.server), cert_entry("srv2", *pki.server2)],
        "TrustStores": [
            {"Name": "clients", "CaCertificatesBundleFile": "trust/clients.pem",
             "RevocationFiles": ["trust/root.crl"]},
            {"Name": "partners", "CaCertificatesBundleFile": "trust/partners.pem",
             "RevocationFiles": ["trust/root.der"]},
        ],
        "LoadBalancers": [{"Name": "mtls", "Listeners": [
            mtls_listener(p["passthrough"], ["srv"], {"Mode": "passthrough"}),
            mtls_listener(p["pass_renamed"], ["srv"], {"Mode": "passthrough"},
                          renamed_attributes({"x_amzn_mtls_clientcert": "X-Client-Chain"})),
            mtls_listener(p["verify"], ["srv", "srv2"], verify),
            mtls_listener(p["lenient"], ["srv"],
                          {"Mode": "verify", "TrustStoreArn": STORE_ARN,
                           "IgnoreClientCertificateExpiry": True,
                           "AdvertiseTrustStoreCaNames": "on"}, policy=TLS13_POLICY),
            mtls_listener(p["verify_renamed"], ["srv"], {"Mode": "verify",
                                                         "TrustStoreArn": "clients"},
                          renamed_attributes()),
            mtls_listener(p["plain"], ["srv"]),
            mtls_listener(p["plain13"], ["srv"], policy=TLS13_POLICY),
        ]}],
        "TargetGroups": [],
    }
    st.echo = echo = EchoTarget()
    proc = None
    try:
        cfg["TargetGroups"].append(target_group("echo", [echo.port]))
        path = conf / "sluice.yaml"
        path.write_text(dump_config(cfg))
        st.proc = proc = Proc([SLUICE_BIN, "run", "--config", path, "--workers", "2"], run,
                              "sluice")

        def ready():
            assert proc.alive(), f"sluice exited (rc={proc.popen.returncode}):\n{proc.stderr()}"
            return "ready:" in proc.stderr()
        wait_until(ready, 15, what="sluice ready")
        for port in p.values():
            wait_until(lambda: port_accepts(port), 10, what=f"port {port}")
        yield st
    finally:
        if proc is not None:
            proc.stop(timeout=10)
        echo.stop()


def verify_headers(cert: Cert, serial: str, issuer: str, subject: str) -> dict:
    return {"X-Amzn-Mtls-Clientcert-Serial-Number": serial,
            "X-Amzn-Mtls-Clientcert-Issuer": issuer,
            "X-Amzn-Mtls-Clientcert-Subject": subject,
            "X-Amzn-Mtls-Clientcert-Validity": openssl_dates(cert),
            "X-Amzn-Mtls-Clientcert-Leaf": url_encoded(cert.pem)}


def assert_mtls_headers(echo: Echo, expected: dict):
    """The target saw exactly `expected` among the mTLS header names (default and renamed),
    each once."""
    watched = {n.lower() for n in (*MTLS_HEADERS, *RENAMED.values())}
    counts = [k.lower() for k, _ in echo.headers if k.lower() in watched]
    assert sorted(counts) == sorted(k.lower() for k in expected), echo.headers
    for name, value in expected.items():
        assert echo.one(name) == value, (name, echo.one(name), value)


# ---- passthrough ----------------------------------------------------------------------------

def test_passthrough_forwards_the_leaf_url_encoded(lb, pki):
    echo, _ = mtls_get(lb.ports["passthrough"], pki.one, "/pass-one")
    value = echo.one("X-Amzn-Mtls-Clientcert")
    assert value == url_encoded(pki.one.pem)
    # The encoding itself: newlines and spaces escaped, base64 characters left as they are.
    assert value.startswith("-----BEGIN%20CERTIFICATE-----%0A"), value[:60]
    assert value.endswith("%0A-----END%20CERTIFICATE-----%0A"), value[-60:]
    body = value.split("%0A")[1:-2]
    assert body and all(re.fullmatch(r"[A-Za-z0-9+/=]{1,64}", line) for line in body), body
    assert_mtls_headers(echo, {"X-Amzn-Mtls-Clientcert": url_encoded(pki.one.pem)})


def test_passthrough_forwards_the_whole_chain_leaf_first(lb, pki):
    echo, _ = mtls_get(lb.ports["passthrough"], pki.chained, "/pass-chain")
    want = url_encoded(pki.chained.pem + pki.issuing.pem)
    assert_mtls_headers(echo, {"X-Amzn-Mtls-Clientcert": want})


@pytest.mark.parametrize("who", ["selfsigned", "stranger", "expired", "revoked"])
def test_passthrough_accepts_any_certificate(lb, pki, who):
    cert = getattr(pki, who)
    echo, _ = mtls_get(lb.ports["passthrough"], cert, f"/pass-{who}")
    assert_mtls_headers(echo, {"X-Amzn-Mtls-Clientcert": url_encoded(cert.pem)})


def test_passthrough_without_a_certificate(lb):
    echo, _ = mtls_get(lb.ports["passthrough"], None, "/pass-none")
    assert_mtls_headers(echo, {})


def test_passthrough_drops_client_supplied_headers(lb, pki):
    spoof = [("X-Amzn-Mtls-Clientcert", "spoofed"), ("x-amzn-mtls-clientcert", "spoofed-lower"),
             ("X-AMZN-MTLS-CLIENTCERT-SUBJECT", "CN=admin"),
             ("X-Amzn-Mtls-Clientcert-Serial-Number", "01"),
             ("X-Amzn-Mtls-Clientcert-Issuer", "CN=evil"),
             ("X-Amzn-Mtls-Clientcert-Validity", "NotBefore=x;NotAfter=y"),
             ("X-Amzn-Mtls-Clientcert-Leaf", "spoofed"), ("X-Kept", "yes")]
    echo, _ = mtls_get(lb.ports["passthrough"], pki.two, "/pass-spoof", spoof)
    assert_mtls_headers(echo, {"X-Amzn-Mtls-Clientcert": url_encoded(pki.two.pem)})
    assert echo.one("X-Kept") == "yes"
    echo, _ = mtls_get(lb.ports["passthrough"], None, "/pass-spoof-nocert", spoof)
    assert_mtls_headers(echo, {})
    assert echo.one("X-Kept") == "yes"


def test_passthrough_renamed_header(lb, pki):
    spoof = [("X-Client-Chain", "spoofed"), ("x-client-chain", "spoofed-lower")]
    echo, _ = mtls_get(lb.ports["pass_renamed"], pki.chained, "/pass-renamed", spoof)
    assert_mtls_headers(echo, {"X-Client-Chain": url_encoded(pki.chained.pem + pki.issuing.pem)})
    echo, _ = mtls_get(lb.ports["pass_renamed"], None, "/pass-renamed-none", spoof)
    assert_mtls_headers(echo, {})


# ---- verify ---------------------------------------------------------------------------------

def test_verify_headers_of_a_trusted_client(lb, pki):
    echo, _ = mtls_get(lb.ports["verify"], pki.one, "/verify-one")
    subject = "CN=client one,O=Example\\, Inc.,C=US"
    assert openssl_rfc2253(pki.one, "subject") == subject  # the test's own expectation
    assert openssl_rfc2253(pki.one, "issuer") == ROOT_DN
    expected = verify_headers(pki.one, "03A5B7C9", ROOT_DN, subject)
    assert_mtls_headers(echo, expected)
    assert re.fullmatch(r"NotBefore=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ;"
                        r"NotAfter=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        echo.one("X-Amzn-Mtls-Clientcert-Validity"))
    assert echo.one("X-Forwarded-Proto") == "https"


def test_verify_client_sending_its_issuing_ca(lb, pki):
    echo, _ = mtls_get(lb.ports["verify"], pki.chained, "/verify-chained")
    assert_mtls_headers(echo, verify_headers(pki.chained, "0C4A1D", ISSUING_DN,
                                             "CN=client chained,O=Sluice Test"))


@pytest.mark.parametrize("who,reason", [
    ("none", None),
    ("stranger", "unknown ca"),
    ("selfsigned", None),
    ("unchained", None),          # the issuing CA is not in the store and was not sent
    ("revoked", "revoked"),
    ("expired", "expired"),
    ("future", None),
    ("partner_client", "unknown ca"),  # its CA is in `partners`, not in `clients`
])
def test_verify_refuses_in_the_handshake(lb, pki, who, reason):
    path = f"/verify-refused-{who}"
    err = refused(lb.ports["verify"], None if who == "none" else getattr(pki, who), path)
    if reason:
        assert reason in err.lower(), err
    assert path not in lb.echo.seen
    # The listener goes on serving trusted clients.
    echo, _ = mtls_get(lb.ports["verify"], pki.two, f"/after-{who}")
    assert echo.one("X-Amzn-Mtls-Clientcert-Serial-Number") == "7E57"


def test_verify_on_the_second_certificate_of_the_listener(lb, pki):
    """SNI picks the listener's second certificate: the client is still verified."""
    echo, facts = mtls_get(lb.ports["verify"], pki.two, "/verify-sni", sni=SECOND_HOST)
    assert facts["peer"] == der_of(pki.server2[0])
    assert_mtls_headers(echo, verify_headers(pki.two, "7E57", ROOT_DN, "CN=client two"))
    for who in ("stranger", "revoked"):
        refused(lb.ports["verify"], getattr(pki, who), f"/verify-sni-{who}", sni=SECOND_HOST)
    refused(lb.ports["verify"], None, "/verify-sni-none", sni=SECOND_HOST)
    assert not [p for p in lb.echo.seen if p.startswith("/verify-sni-")]


def test_verify_drops_client_supplied_headers(lb, pki):
    spoof = [(n, "spoofed") for n in MTLS_HEADERS]
    spoof += [(n.lower(), "spoofed-lower") for n in MTLS_HEADERS]
    spoof += [(n.upper(), "spoofed-upper") for n in MTLS_HEADERS]
    spoof += [("X-Kept", "yes")]
    echo, _ = mtls_get(lb.ports["verify"], pki.one, "/verify-spoof", spoof)
    assert_mtls_headers(echo, verify_headers(pki.one, "03A5B7C9", ROOT_DN,
                                             "CN=client one,O=Example\\, Inc.,C=US"))
    assert echo.one("X-Kept") == "yes"


def test_verify_renamed_headers(lb, pki):
    spoof = [(n, "spoofed") for n in RENAMED.values()]
    spoof += [(n.lower(), "spoofed-lower") for n in RENAMED.values()]
    echo, _ = mtls_get(lb.ports["verify_renamed"], pki.one, "/verify-renamed", spoof)
    std = verify_headers(pki.one, "03A5B7C9", ROOT_DN, "CN=client one,O=Example\\, Inc.,C=US")
    expected = {RENAMED[k]: std[n] for k, n in zip(RENAMED, MTLS_HEADERS) if n in std}
    assert set(expected) == set(RENAMED.values()) - {"X-Client-Chain"}
    assert_mtls_headers(echo, expected)


@pytest.mark.parametrize("listener", ["passthrough", "verify"])
def test_every_request_of_a_connection_carries_the_headers(lb, pki, listener):
    """Keep-alive: each request of the connection has the headers; two clients' connections
    interleaved on one listener each get their own values."""
    name = "X-Amzn-Mtls-Clientcert" if listener == "passthrough" else \
        "X-Amzn-Mtls-Clientcert-Leaf"
    port = lb.ports[listener]
    conns = {who: handshake(port, HOST, mtls_ctx(getattr(pki, who))) for who in ("one", "two")}
    try:
        for i in range(4):
            for who, s in conns.items():
                path = f"/ka-{listener}-{who}-{i}"
                spoof = f"{name}: spoofed-{i}\r\n" if i % 2 else ""
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{spoof}\r\n".encode())
                status, _, body = read_http(s)
                echo = Echo(json.loads(body))
                assert (status, echo.path) == (200, path)
                assert echo.all(name) == [url_encoded(getattr(pki, who).pem)], (who, i)
    finally:
        for s in conns.values():
            s.close()


def test_verify_refuses_on_the_renamed_listener_too(lb, pki):
    refused(lb.ports["verify_renamed"], pki.stranger, "/verify-renamed-stranger")
    refused(lb.ports["verify_renamed"], None, "/verify-renamed-none")


# ---- verify: the lenient listener (ARN, two CAs, DER CRL, expiry ignored, TLS 1.3) ---------

@pytest.mark.parametrize("who,serial,issuer,subject", [
    ("one", "03A5B7C9", ROOT_DN, "CN=client one,O=Example\\, Inc.,C=US"),
    ("partner_client", "9A27", PARTNER_DN, "CN=partner client"),
    ("chained", "0C4A1D", ISSUING_DN, "CN=client chained,O=Sluice Test"),
])
def test_lenient_accepts_clients_of_either_ca(lb, pki, who, serial, issuer, subject):
    cert = getattr(pki, who)
    echo, facts = mtls_get(lb.ports["lenient"], cert, f"/lenient-{who}")
    assert facts["version"] == "TLSv1.3"
    assert_mtls_headers(echo, verify_headers(cert, serial, issuer, subject))


def test_lenient_ignores_client_certificate_expiry(lb, pki):
    echo, _ = mtls_get(lb.ports["lenient"], pki.expired, "/lenient-expired")
    serial = _openssl("x509", "-noout", "-serial", "-in", pki.expired.crt).strip().split("=")[1]
    expected = verify_headers(pki.expired, serial, ROOT_DN, "CN=client expired")
    assert_mtls_headers(echo, expected)
    not_after = expected["X-Amzn-Mtls-Clientcert-Validity"].split("NotAfter=")[1]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not_after < now, (not_after, now)


@pytest.mark.parametrize("who,reason", [("revoked", "revoked"), ("stranger", "unknown ca"),
                                        ("none", None), ("selfsigned", None)])
def test_lenient_still_refuses(lb, pki, who, reason):
    path = f"/lenient-refused-{who}"
    err = refused(lb.ports["lenient"], None if who == "none" else getattr(pki, who), path)
    if reason:
        assert reason in err.lower(), err
    assert path not in lb.echo.seen


def test_verify_under_tls12_and_tls13(lb, pki):
    """TLS 1.3 client on the TLS 1.3 listener, TLS 1.2 on both."""
    for max_v, port, want in ((ssl.TLSVersion.TLSv1_2, lb.ports["lenient"], "TLSv1.2"),
                              (ssl.TLSVersion.TLSv1_2, lb.ports["verify"], "TLSv1.2"),
                              (None, lb.ports["lenient"], "TLSv1.3")):
        echo, facts = mtls_get(port, ctx=mtls_ctx(pki.two, max_v), path=f"/v-{want}-{port}")
        assert facts["version"] == want
        assert echo.one("X-Amzn-Mtls-Clientcert-Serial-Number") == "7E57"
        refused(port, pki.stranger, f"/v-refused-{want}-{port}", max_v=max_v)


# ---- CA names in the CertificateRequest -----------------------------------------------------

def s_client(port: int, client: Cert, *extra) -> str:
    res = subprocess.run(["openssl", "s_client", "-connect", f"{LOCAL}:{port}",
                          "-servername", HOST, "-cert", str(client.crt), "-key", str(client.key),
                          *extra], capture_output=True, text=True, timeout=20,
                         stdin=subprocess.DEVNULL)
    return res.stdout + res.stderr


def ca_names_sent(output: str) -> list[str] | None:
    """The CA names listed after "Acceptable client certificate CA names", or None when the
    output says "No client certificate CA names sent"."""
    lines = output.splitlines()
    if "No client certificate CA names sent" in lines:
        return None
    i = lines.index("Acceptable client certificate CA names")
    names = []
    for line in lines[i + 1:]:
        if not re.search(r"\b(CN|O|C) ?= ?", line) or line.startswith(("Client Cert", "Req")):
            break
        names.append(line)
    return names


def one_line(name: str) -> str:
    """`openssl s_client`'s rendering of a DN: "C = US, O = Sluice Test, CN = Test Root CA"."""
    return ", ".join(" = ".join(rdn.split("=", 1)) for rdn in reversed(name.split(",")))


@pytest.mark.parametrize("version_flag", ["-tls1_2", "-tls1_3"])
def test_advertised_ca_names(lb, pki, version_flag):
    """AdvertiseTrustStoreCaNames on: the CertificateRequest names both CAs of the store (in
    TLS 1.2 its certificate_authorities list, in TLS 1.3 the extension)."""
    out = s_client(lb.ports["lenient"], pki.one, version_flag)
    assert "Acceptable client certificate CA names" in out, out
    names = ca_names_sent(out)
    assert sorted(names) == sorted([one_line(ROOT_DN), one_line(PARTNER_DN)]), out
    assert "Verify return code" in out and "Cipher is (NONE)" not in out, out


@pytest.mark.parametrize("listener", ["verify", "verify_renamed", "passthrough"])
def test_ca_names_not_advertised(lb, pki, listener):
    """A CertificateRequest came (the client certificate types are printed) with no names."""
    out = s_client(lb.ports[listener], pki.one)
    assert "No client certificate CA names sent" in out, out
    assert "Acceptable client certificate CA names" not in out, out
    assert "Client Certificate Types:" in out, out
    assert "Verify return code" in out and "Cipher is (NONE)" not in out, out


# ---- no session resumption ------------------------------------------------------------------

@pytest.mark.parametrize("listener,client", [("passthrough", "one"), ("passthrough", None),
                                             ("verify", "one"), ("lenient", "one"),
                                             ("verify_renamed", "two")])
def test_no_session_resumption(lb, pki, listener, client):
    cert = getattr(pki, client) if client else None
    ctx = mtls_ctx(cert)
    port = lb.ports[listener]
    _, first = mtls_get(port, path=f"/resume-1-{listener}", ctx=ctx)
    assert not first["reused"]
    session = first["session"]
    for i in range(3):
        _, again = mtls_get(port, path=f"/resume-{i + 2}-{listener}", ctx=ctx, session=session)
        assert not again["reused"], f"connection {i + 2} resumed on {listener}"
        session = again["session"] or session


def test_plain_https_listener_resumes_and_ignores_client_certificates(lb, pki):
    """The control: the method above detects resumption; a listener without mTLS asks for no
    certificate (no CertificateRequest) and adds no X-Amzn-Mtls-* header."""
    ctx = mtls_ctx(pki.one)
    echo, first = mtls_get(lb.ports["plain"], path="/plain-1", ctx=ctx)
    assert not first["reused"]
    assert not [k for k, _ in echo.headers if k.lower().startswith("x-amzn-mtls")], echo.headers
    _, again = mtls_get(lb.ports["plain"], path="/plain-2", ctx=ctx, session=first["session"])
    assert again["reused"]
    out = s_client(lb.ports["plain"], pki.one)
    assert "Verify return code" in out and "Client Certificate Types:" not in out, out


@pytest.mark.parametrize("plain,listener,client", [
    ("plain", "verify", None), ("plain", "verify", "stranger"), ("plain", "verify", "one"),
    ("plain13", "lenient", None), ("plain13", "lenient", "stranger"),
    ("plain13", "lenient", "one"), ("plain", "passthrough", "one"),
    ("plain", "passthrough", None)])
def test_session_of_a_plain_listener_does_not_resume_on_an_mtls_listener(lb, pki, plain,
                                                                         listener, client):
    """A session ticket issued by a listener without mTLS (same certificate, same process
    ticket keys) offered to an mTLS listener: a full handshake with the client certificate
    follows; a client without a trusted certificate is refused."""
    cert = getattr(pki, client) if client else None
    ctx = mtls_ctx(cert)
    _, first = mtls_get(lb.ports[plain], path=f"/ticket-{plain}", ctx=ctx)
    _, again = mtls_get(lb.ports[plain], path=f"/ticket-{plain}-2", ctx=ctx,
                        session=first["session"])
    assert again["reused"], "the plain listener did not resume (the test needs a ticket)"
    port = lb.ports[listener]
    path = f"/ticket-replay-{plain}-{listener}-{client}"
    if listener != "passthrough" and client != "one":
        try:
            with handshake(port, HOST, ctx, again["session"]) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                s.settimeout(5)
                data = s.recv(65536)
                reused = s.session_reused
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            data, reused = b"", False
        assert data == b"", f"resumed={reused}; the untrusted client got {data[:300]!r}"
        assert path not in lb.echo.seen
        return
    echo, facts = mtls_get(port, path=path, ctx=ctx, session=again["session"])
    assert not facts["reused"]
    expected = [url_encoded(cert.pem)] if cert else []
    name = "X-Amzn-Mtls-Clientcert" if listener == "passthrough" else "X-Amzn-Mtls-Clientcert-Leaf"
    assert echo.all(name) == expected, echo.headers


# ---- log ------------------------------------------------------------------------------------

LOGGED = {"passthrough": "mutual TLS passthrough", "pass_renamed": "mutual TLS passthrough",
          "verify": "mutual TLS verify against trust store clients",
          "lenient": "mutual TLS verify against trust store partners",  # named by its ARN
          "verify_renamed": "mutual TLS verify against trust store clients",
          "plain": None, "plain13": None}


@pytest.mark.parametrize("listener", list(LOGGED))
def test_log_names_the_mode_and_store(lb, listener):
    port = lb.ports[listener]
    log = lb.proc.stderr()
    lines = [l for l in log.splitlines() if f"listening on https://{LOCAL}:{port} " in l]
    assert len(lines) == 1, (port, log)
    if LOGGED[listener]:
        assert re.search(rf", {LOGGED[listener]}\)$", lines[0]), lines[0]
    else:
        assert "mutual" not in lines[0], lines[0]


# ---- reloads --------------------------------------------------------------------------------

@pytest.fixture
def echo_target():
    t = EchoTarget()
    yield t
    t.stop()


def test_crl_rotated_by_reload(pki, tmp_path, sluice, echo_target):
    """Two clients are trusted; a reload with a CRL revoking one refuses its new connections,
    while its connection verified before goes on; a bundle holding no CA is refused on reload
    and the last good trust store keeps serving."""
    ca = Ca(tmp_path, "rot", "/C=US/O=Sluice Test/CN=Rotation CA")
    good = ca.issue(tmp_path, "rot-good", "/CN=rot good", 0x600D)
    bad = ca.issue(tmp_path, "rot-bad", "/CN=rot bad", 0x0BAD)
    (tmp_path / "bundle.pem").write_text(ca.pem)
    ca.crl(tmp_path / "live.crl")  # nothing revoked yet
    port = free_port()
    cfg = {"Certificates": [cert_entry("srv", *pki.server)],
           "TrustStores": [{"Name": "rot", "CaCertificatesBundleFile": "bundle.pem",
                            "RevocationFiles": ["live.crl"]}],
           "LoadBalancers": [{"Name": "rot", "Listeners": [
               mtls_listener(port, ["srv"], {"Mode": "verify", "TrustStoreArn": "rot"})]}],
           "TargetGroups": [target_group("echo", [echo_target.port])]}
    lb = sluice(cfg, workers=2)
    for who in (good, bad):
        assert mtls_get(port, who, "/before")[0].path == "/before"
    with handshake(port, HOST, mtls_ctx(bad)) as held:
        held.sendall(f"GET /held-1 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        assert read_http(held)[0] == 200
        ca.revoke(bad)
        ca.crl(tmp_path / "live.crl")
        lb.reload(cfg)
        refused(port, bad, "/after-revoked")
        echo, _ = mtls_get(port, good, "/after-good")
        assert echo.one("X-Amzn-Mtls-Clientcert-Serial-Number") == "600D"
        # The connection verified before the reload is not cut.
        held.sendall(f"GET /held-2 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        status, _, body = read_http(held)
        assert status == 200 and Echo(json.loads(body)).path == "/held-2"
    # A bundle that holds a leaf only: the reload is refused; the last good store serves.
    (tmp_path / "bundle.pem").write_text(good.pem)
    lb.reload(cfg, expect="refused")
    assert re.search(r"TrustStores\[0\]\.CaCertificatesBundleFile: .*not a CA certificate",
                     lb.log()), lb.log()
    assert mtls_get(port, good, "/after-refused")[0].path == "/after-refused"
    refused(port, bad, "/after-refused-bad")
    assert "/after-revoked" not in echo_target.seen
    assert "/after-refused-bad" not in echo_target.seen


# ---- config validation ----------------------------------------------------------------------

BASE = """\
Certificates:
  - Name: srv
    CertificateFile: srv.crt
    PrivateKeyFile: srv.key
TrustStores:
  - Name: {store}
    CaCertificatesBundleFile: {bundle}
{revocations}LoadBalancers:
  - Name: lb
    Listeners:
      - Protocol: {protocol}
        Port: {port}
        BindAddress: 127.0.0.1
{certificates}{mutual}{attributes}        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {{StatusCode: "200", MessageBody: hi}}
"""


def mtls_config(tmp_path, pki, protocol="HTTPS", mutual="verify-clients", attributes="",
                bundle="ca.pem", revocations="", store="clients") -> tuple:
    """(path, text) of a config in tmp_path next to srv.crt/srv.key, ca.pem (the root CA),
    leaf.pem (a client certificate), mixed.pem (the root CA, then the client certificate),
    crl.pem / crl.der (the root's CRL), other-crl.pem (the unrelated CA's)."""
    for src, name in ((pki.server[0], "srv.crt"), (pki.server[1], "srv.key"),
                      (pki.root.crt, "ca.pem"), (pki.one.crt, "leaf.pem"),
                      (pki.crl_pem, "crl.pem"), (pki.crl_der, "crl.der"),
                      (pki.other_crl, "other-crl.pem")):
        (tmp_path / name).write_bytes(src.read_bytes())
    (tmp_path / "mixed.pem").write_text(pki.root.pem + pki.one.pem)
    mutuals = {
        "": "",
        "verify-clients": "          Mode: verify\n          TrustStoreArn: clients\n",
        "verify-arn": ("          Mode: verify\n          TrustStoreArn: "
                       f"{STORE_ARN.replace('partners', 'clients')}\n"),
        "verify-no-store": "          Mode: verify\n",
        "verify-unknown": "          Mode: verify\n          TrustStoreArn: nosuchstore\n",
        "verify-unknown-arn": ("          Mode: verify\n          TrustStoreArn: "
                               f"{STORE_ARN.replace('partners', 'nosuch')}\n"),
        "passthrough-store": "          Mode: passthrough\n          TrustStoreArn: clients\n",
        "passthrough": "          Mode: passthrough\n",
        "verify-all-options": ("          Mode: verify\n          TrustStoreArn: clients\n"
                               "          IgnoreClientCertificateExpiry: true\n"
                               "          AdvertiseTrustStoreCaNames: \"on\"\n"),
    }
    mutual_text = f"        MutualAuthentication:\n{mutuals[mutual]}" if mutual else ""
    attr_text = ("        Attributes:\n" + "".join(f"          {k}: {v}\n" for k, v in attributes)
                 if attributes else "")
    rev_text = ("    RevocationFiles:\n" + "".join(f"      - {r}\n" for r in revocations)
                if revocations else "")
    text = BASE.format(store=store, bundle=bundle, revocations=rev_text, protocol=protocol,
                       port=free_port(),
                       certificates="        Certificates: [srv]\n" if protocol == "HTTPS" else "",
                       mutual=mutual_text, attributes=attr_text)
    path = tmp_path / "conf.yaml"
    path.write_text(text)
    return path, text


def validate(path):
    return subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                          timeout=10, cwd="/")


ATTR = "routing.http.request.x_amzn_mtls_clientcert_subject.header_name"

VALID = {
    "verify": {},
    "verify-arn": {"mutual": "verify-arn"},
    "verify-all-options": {"mutual": "verify-all-options"},
    "passthrough": {"mutual": "passthrough"},
    "crl-pem-and-der": {"revocations": ["crl.pem", "crl.der"]},
    "renames": {"attributes": [(f"routing.http.request.{k}.header_name", v)
                               for k, v in RENAMED.items()]},
}


@pytest.mark.parametrize("case", list(VALID))
def test_config_accepted(tmp_path, pki, case):
    path, _ = mtls_config(tmp_path, pki, **VALID[case])
    res = validate(path)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and " ok" in out, out


INVALID = {
    # case: (mtls_config arguments, field, text on the reported line, text at the reported
    # column, message pattern)
    "http-listener": ({"protocol": "HTTP"}, "LoadBalancers[0].Listeners[0].MutualAuthentication",
                      "Mode: verify", "Mode", "MutualAuthentication is only for HTTPS"),
    "verify-without-store": ({"mutual": "verify-no-store"},
                             "LoadBalancers[0].Listeners[0].MutualAuthentication.Mode",
                             "Mode: verify", "verify", "mode verify needs TrustStoreArn"),
    "unknown-store": ({"mutual": "verify-unknown"},
                      "LoadBalancers[0].Listeners[0].MutualAuthentication.TrustStoreArn",
                      "TrustStoreArn: nosuchstore", "nosuchstore",
                      "trust store 'nosuchstore' is not defined"),
    "store-with-passthrough": ({"mutual": "passthrough-store"},
                               "LoadBalancers[0].Listeners[0].MutualAuthentication.TrustStoreArn",
                               "TrustStoreArn: clients", "clients", "only mode verify"),
    "bundle-not-ca": ({"bundle": "leaf.pem"}, "TrustStores[0].CaCertificatesBundleFile",
                      "CaCertificatesBundleFile:", "leaf.pem",
                      r"leaf\.pem: certificate 1 is not a CA certificate"),
    "unknown-store-arn": ({"mutual": "verify-unknown-arn"},
                          "LoadBalancers[0].Listeners[0].MutualAuthentication.TrustStoreArn",
                          "TrustStoreArn: arn:", "arn:", "trust store 'nosuch' is not defined"),
    "store-name": ({"store": "bad_name", "mutual": ""}, "TrustStores[0].Name", "Name: bad_name",
                   "bad_name", "name 'bad_name' is invalid"),
    "bundle-ca-then-leaf": ({"bundle": "mixed.pem"}, "TrustStores[0].CaCertificatesBundleFile",
                            "CaCertificatesBundleFile:", "mixed.pem",
                            r"mixed\.pem: certificate 2 is not a CA certificate"),
    "bundle-missing": ({"bundle": "nothere.pem"}, "TrustStores[0].CaCertificatesBundleFile",
                       "CaCertificatesBundleFile:", "nothere.pem",
                       r"nothere\.pem: cannot open"),
    "crl-of-another-ca": ({"revocations": ["crl.pem", "other-crl.pem"]},
                          "TrustStores[0].RevocationFiles[1]", "- other-crl.pem", "other-crl.pem",
                          r"other-crl\.pem: CRL 1 is not signed by a CA of the bundle"),
    "unknown-attribute": ({"attributes": [("routing.http.request.x_amzn_mtls_nope.header_name",
                                           "X-Nope")]},
                          "LoadBalancers[0].Listeners[0].Attributes."
                          "routing.http.request.x_amzn_mtls_nope.header_name",
                          "x_amzn_mtls_nope", "routing.", "unknown listener attribute"),
    "bad-header-name": ({"attributes": [(ATTR, "bad name")]},
                        f"LoadBalancers[0].Listeners[0].Attributes.{ATTR}", "bad name",
                        "bad name", "header name 'bad name' is invalid"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_config_rejected(tmp_path, pki, case):
    kwargs, field, marker, anchor, message = INVALID[case]
    path, text = mtls_config(tmp_path, pki, **kwargs)
    line, source = next((i, l) for i, l in enumerate(text.splitlines(), 1) if marker in l)
    col = source.index(anchor) + 1
    res = validate(path)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    want = re.compile(rf"^{re.escape(str(path))}:{line}:{col}: {re.escape(field)}: .*{message}",
                      re.M)
    assert want.search(out), f"expected {want.pattern!r} in:\n{out}"


@pytest.mark.parametrize("case", ["bundle-not-ca", "crl-of-another-ca"])
def test_run_refuses_a_bad_trust_store(tmp_path, pki, case):
    kwargs, field, marker, anchor, message = INVALID[case]
    path, text = mtls_config(tmp_path, pki, **kwargs)
    line, source = next((i, l) for i, l in enumerate(text.splitlines(), 1) if marker in l)
    try:
        run = subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--workers", "1"],
                             capture_output=True, text=True, timeout=10, cwd="/")
    except subprocess.TimeoutExpired:
        pytest.fail(f"sluice run kept running with a bad trust store ({case})")
    assert run.returncode != 0 and "ready:" not in run.stderr, run.stderr
    want = rf"{re.escape(str(path))}:{line}:{source.index(anchor) + 1}: {re.escape(field)}: "
    assert re.search(want + f".*{message}", run.stderr), run.stderr


# ---- client-supplied default names on a listener with renamed headers ----------------------

def test_verify_renamed_listener_still_drops_the_default_names(lb, pki):
    """Client-supplied X-Amzn-Mtls-Clientcert* are always dropped on an mTLS listener, also
    where the listener sends its values under other names."""
    spoof = [(n, "spoofed") for n in MTLS_HEADERS]
    echo, _ = mtls_get(lb.ports["verify_renamed"], pki.two, "/verify-renamed-defaults", spoof)
    leaked = [(k, v) for k, v in echo.headers if k.lower() in {n.lower() for n in MTLS_HEADERS}]
    assert leaked == [], f"client-supplied headers reached the target: {leaked}"
