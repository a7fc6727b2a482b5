"""ALB connection logs (reference §5.5): one entry per client connection — at accept for plain
HTTP, when the TLS handshake finished or failed for HTTPS — with the mutual-TLS leaf's
subject, validity and serial, ALB's tls_verify_status codes, the key-exchange group and the
conn_trace_id that joins the access log. Files are named conn_log_<...>.log.gz (§5.1).
"""

from __future__ import annotations

import gzip
import re
import signal

from conftest import LOCAL, dump_config, forward, free_port, raw_exchange, target_group
from test_access_logs import fields as access_fields
from test_https import cert_entry, https_listener
from test_mtls import EchoTarget, mtls_get, pki, refused  # noqa: F401 (pki is a fixture)

LINE = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) (\d+) (\d+) (\S+) (\S+) (\S+) "
    r"\"([^\"]*)\" (\S+) (\S+) (\S+) (TID_[0-9a-f]{32}) (\S+)$")


def read_logs(root, prefix: str) -> list[str]:
    lines = []
    for f in sorted(root.rglob(f"{prefix}*.log.gz")):
        with gzip.open(f, "rt", encoding="ascii") as fh:
            lines.extend(fh.read().splitlines())
    return lines


def test_connection_log_entries(sluice, pki, tmp_path):
    target = EchoTarget()
    try:
        run(sluice, pki, tmp_path, target)
    finally:
        target.stop()


def run(sluice, pki, tmp_path, target):
    plain, secure = free_port(), free_port()
    logs = tmp_path / "logs"
    (tmp_path / "clients.pem").write_text(pki.root.pem)
    verify = {"Mode": "verify", "TrustStoreArn": "clients"}
    mtls = https_listener(secure, ["srv"], forward("tg"))
    mtls["MutualAuthentication"] = verify
    cfg = {
        "Certificates": [cert_entry("srv", *pki.server)],
        "TrustStores": [{"Name": "clients",
                         "CaCertificatesBundleFile": str(tmp_path / "clients.pem")}],
        "LoadBalancers": [{"Name": "web", "Attributes": {
            "connection_logs.s3.enabled": True, "sluice.connection_logs.directory": str(logs),
            "access_logs.s3.enabled": True, "sluice.access_logs.directory": str(logs)},
            "Listeners": [
                {"Protocol": "HTTP", "Port": plain, "BindAddress": LOCAL,
                 "DefaultActions": [forward("tg")]},
                mtls]}],
        "TargetGroups": [target_group("tg", [target.port])],
    }
    lb = sluice(dump_config(cfg), wait_ports=[plain, secure])
    r = raw_exchange(plain, b"GET /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200"), r[:60]
    mtls_get(secure, pki.one, path="/m")
    refused(secure, pki.stranger, "/x")
    refused(secure, pki.expired, "/x")
    lb.proc.signal(signal.SIGTERM)
    lb.proc.popen.wait(15)

    files = sorted(p.name for p in logs.rglob("conn_log_*.log.gz"))
    assert len(files) == 1 and re.fullmatch(
        r"conn_log_000000000000_elasticloadbalancing_us-east-1_app\.web\.[0-9a-f]{16}_"
        r"\d{8}T\d{4}Z_127\.0\.0\.1_[a-z0-9]{8}\.log\.gz", files[0]), files
    lines = read_logs(logs, "conn_log_")
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    by_port: dict[int, list] = {}
    for m in parsed:
        by_port.setdefault(int(m.group(4)), []).append(m.groups())
    # The readiness probe of the fixture connects to each port once, too.
    plain_rows = [g for g in by_port[plain]]
    assert all(g[4:11] == ("-", "-", "-", "-", "-", "-", "-") for g in plain_rows), plain_rows
    assert all(g[12] == "-" for g in plain_rows), plain_rows
    tls_rows = by_port[secure]
    ok = [g for g in tls_rows if g[10] == "Success"]
    assert len(ok) == 1, tls_rows
    g = ok[0]
    assert g[4] in ("TLSv1.2", "TLSv1.3") and g[5] != "-" and re.fullmatch(r"\d+\.\d{3}", g[6]), g
    assert g[7] == "CN=client one,O=Example\\, Inc.,C=US", g[7]
    assert re.fullmatch(r"NotBefore=\S+Z;NotAfter=\S+Z", g[8]) and g[9] == "03A5B7C9", g
    assert g[12] in ("X25519", "secp256r1"), g
    failed = sorted(g[10] for g in tls_rows if g[10].startswith("Failed:"))
    assert failed == ["Failed:ClientCertExpired", "Failed:ClientCertUntrusted"], tls_rows
    assert all(g[6] == "-" for g in tls_rows if g[10].startswith("Failed:"))
    # conn_trace_id joins the access log: the TLS request's entry has the Success row's id.
    access = [access_fields(line) for line in read_logs(logs, "000000000000_")]
    by_path = {f[12].split(" ")[1].rsplit("/", 1)[1]: f for f in access}
    assert by_path["m"][29] == g[11], (by_path["m"][29], g[11])
    assert by_path["p"][29] in {row[11] for row in plain_rows}
