"""ALB access logs (reference §5): the real binary writes gzip files named and laid out as
ALB's S3 objects under `sluice.access_logs.directory`; each line has ALB's 33 fields.

Checked from outside: the Athena regex for ALB logs matches every line, GoAccess (its AWSALB
format) reads the file and counts every request, client bytes cannot forge a field or a line,
and each outcome (forward, fixed response, redirect, refused target, malformed request,
HTTPS) is logged with ALB's values. Files appear when their 5-minute interval ends; the tests
end the interval by stopping Sluice (SIGTERM completes every open file).
"""

from __future__ import annotations

import gzip
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from conftest import (LOCAL, admin_get, fixed, forward, free_port, lb_config, path_is, raw_exchange,
                      rule, target_group, wait_until)

# The regex Amazon Athena's documentation gives for ALB access logs (33-field form; the
# trailing groups take the newer fields). Written from the documented pattern.
ATHENA = re.compile(
    r'([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*):([0-9]*) ([^ ]*)[:-]([0-9]*) ([-.0-9]*) ([-.0-9]*) '
    r'([-.0-9]*) (|[-0-9]*) (-|[-0-9]*) ([-0-9]*) ([-0-9]*) \"([^ ]*) (.*) (- |[^ ]*)\" '
    r'\"([^\"]*)\" ([A-Z0-9-_]+) ([A-Za-z0-9.-]*) ([^ ]*) \"([^\"]*)\" \"([^\"]*)\" '
    r'\"([^\"]*)\" ([-.0-9]*) ([^ ]*) \"([^\"]*)\" \"([^\"]*)\" \"([^ ]*)\" \"([^\s]+?)\" '
    r'\"([^\s]+)\" \"([^ ]*)\" \"([^ ]*)\" ?([^ ]*)? ?( .*)?$')

ACCOUNT = {"Id": "123456789012", "Region": "eu-west-3"}


def fields(line: str) -> list[str]:
    """Space-separated fields, a double-quoted one kept whole (quotes included)."""
    out, cur, quoted = [], "", False
    for c in line:
        if c == '"':
            quoted = not quoted
        if c == " " and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out


def log_config(port, directory, rules=(), target_groups=(), default=None, extra=None):
    attributes = {"access_logs.s3.enabled": True, "access_logs.s3.prefix": "team/web",
                  "sluice.access_logs.directory": str(directory)}
    if extra:
        attributes.update(extra)
    cfg = lb_config(port, default or fixed("200", "ok"), rules=rules, target_groups=target_groups,
                    attributes=attributes, name="web")
    cfg["Account"] = ACCOUNT
    return cfg


def stop_and_read(lb, directory: pathlib.Path) -> tuple[list[pathlib.Path], list[str]]:
    lb.proc.signal(signal.SIGTERM)
    lb.proc.popen.wait(15)
    files = sorted(p for p in directory.rglob("*.log.gz"))
    lines = []
    for f in files:
        with gzip.open(f, "rt", encoding="ascii") as fh:  # every byte is ASCII after escaping
            lines.extend(fh.read().splitlines())
    return files, lines


def test_every_outcome_is_logged_as_alb_logs_it(sluice, demo_targets, tmp_path):
    target = demo_targets("a")
    dead = free_port()
    port = free_port()
    logs = tmp_path / "logs"
    rules = [rule(1, [path_is("/fixed")], fixed("404", "none")),
             rule(2, [path_is("/redirect")], {"Type": "redirect", "RedirectConfig": {
                 "Path": "/elsewhere", "StatusCode": "HTTP_301"}}),
             rule(3, [path_is("/dead")], forward("dead"))]
    cfg = log_config(port, logs, rules=rules, default=forward("tg"),
                     target_groups=[target_group("tg", [target.port]),
                                    target_group("dead", [dead])])
    lb = sluice(cfg)
    ok = raw_exchange(port, b"GET /ok?x=1 HTTP/1.1\r\nHost: shop.example\r\n"
                            b"User-Agent: probe/1\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200"), ok[:80]
    for path in (b"/fixed", b"/redirect", b"/dead"):
        raw_exchange(port, b"GET " + path + b" HTTP/1.1\r\nHost: shop.example\r\n"
                                            b"Connection: close\r\n\r\n")
    bad = raw_exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert bad.startswith(b"HTTP/1.1 400"), bad[:80]
    files, lines = stop_and_read(lb, logs)

    assert len(files) == 1, files
    rel = files[0].relative_to(logs).as_posix()
    assert re.fullmatch(
        r"team/web/AWSLogs/123456789012/elasticloadbalancing/eu-west-3/\d{4}/\d\d/\d\d/"
        r"123456789012_elasticloadbalancing_eu-west-3_app\.web\.[0-9a-f]{16}_\d{8}T\d{4}Z_"
        r"127\.0\.0\.1_[a-z0-9]{8}\.log\.gz", rel), rel
    assert not list(logs.rglob("*.part")), "a partial file was left behind"
    assert len(lines) == 5, lines
    for line in lines:
        assert ATHENA.match(line), line
        assert len(fields(line)) == 33, line
    by_path = {}
    for line in lines:
        f = fields(line)
        by_path[f[12].split(" ")[1] if f[12] != '"- - - "' else "-"] = f

    f = by_path["http://shop.example:%d/ok?x=1" % port]
    assert f[0] == "http" and re.fullmatch(r"app/web/[0-9a-f]{16}", f[2])
    assert f[3].startswith("127.0.0.1:") and f[4] == f"127.0.0.1:{target.port}"
    assert f[8] == "200" and f[9] == "200" and f[13] == '"probe/1"'
    assert re.fullmatch(r"\d+\.\d{3}", f[5]) and re.fullmatch(r"\d+\.\d{3}", f[6])
    assert f[16].startswith("arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/tg/")
    assert f[17].startswith('"Root=1-') and f[20] == "0" and f[22] == '"forward"'
    assert f[25] == f'"127.0.0.1:{target.port}"' and f[26] == '"200"'
    assert re.fullmatch(r"TID_[0-9a-f]{32}", f[29])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", f[1])

    f = by_path["http://shop.example:%d/fixed" % port]
    assert (f[4], f[8], f[9], f[20], f[22]) == ("-", "404", "-", "1", '"fixed-response"')
    f = by_path["http://shop.example:%d/redirect" % port]
    assert (f[8], f[20], f[22]) == ("301", "2", '"redirect"')
    assert f[23] == f'"http://shop.example:{port}/elsewhere"'
    f = by_path["http://shop.example:%d/dead" % port]
    assert (f[8], f[9], f[20], f[22]) == ("502", "-", "3", '"forward"')
    assert f[6] == "-1" and f[7] == "-1"
    assert f[16].split("/")[-2] == "dead"
    f = by_path["-"]
    assert (f[4], f[5], f[8], f[12], f[20], f[22]) == ("-", "-1", "400", '"- - - "', "-", '"-"')


def test_client_bytes_cannot_forge_a_field_or_a_line(sluice, tmp_path):
    port = free_port()
    logs = tmp_path / "logs"
    lb = sluice(log_config(port, logs, extra={"routing.http.desync_mitigation_mode": "monitor"}))
    hostile_ua = b'evil" "x" 200 \\ \xff\xfe end'
    r = raw_exchange(port, b'GET /a"b\\c%20d HTTP/1.1\r\nHost: h.example\r\nUser-Agent: ' +
                     hostile_ua + b"\r\nConnection: close\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 "), r[:80]
    _, lines = stop_and_read(lb, logs)
    assert len(lines) == 1, lines
    line = lines[0]
    assert ATHENA.match(line), line
    f = fields(line)
    assert len(f) == 33, f
    assert f[13] == r'"evil\x22 \x22x\x22 200 \x5C \xFF\xFE end"', f[13]
    assert "\\x22" in f[12] and "\\x5C" in f[12], f[12]


def test_goaccess_reads_the_log(sluice, demo_targets, tmp_path):
    goaccess = shutil.which("goaccess")
    if goaccess is None:
        pytest.skip("goaccess is not installed (scripts/setup.sh installs it)")
    target = demo_targets("a")
    port = free_port()
    logs = tmp_path / "logs"
    lb = sluice(log_config(port, logs, default=forward("tg"),
                           target_groups=[target_group("tg", [target.port])]))
    for i in range(20):
        raw_exchange(port, f"GET /item/{i % 4} HTTP/1.1\r\nHost: g.example\r\n"
                           f"User-Agent: Mozilla/5.0 (X11)\r\nConnection: close\r\n\r\n".encode())
    files, lines = stop_and_read(lb, logs)
    assert len(lines) == 20
    plain = tmp_path / "access.log"
    plain.write_text("\n".join(lines) + "\n")
    report = tmp_path / "report.json"
    run = subprocess.run([goaccess, str(plain), "--log-format=AWSALB", "--no-global-config",
                          "-o", str(report)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    import json
    doc = json.loads(report.read_text())
    general = doc["general"]
    assert general["total_requests"] == 20, general
    assert general["valid_requests"] == 20, general
    assert general["failed_requests"] == 0, general


def test_https_entries_carry_tls_fields(sluice, tmp_path):
    from test_https import openssl_cert
    crt, key = openssl_cert(tmp_path, "site", ["secure.example"])
    port = free_port()
    logs = tmp_path / "logs"
    cfg = log_config(port, logs)
    listener = cfg["LoadBalancers"][0]["Listeners"][0]
    listener["Protocol"] = "HTTPS"
    listener["Certificates"] = [{"CertificateArn": "site"}]
    cfg["Certificates"] = [{"Name": "site", "CertificateFile": str(crt), "PrivateKeyFile": str(key)}]
    lb = sluice(cfg)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((LOCAL, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="secure.example") as s:
            s.sendall(b"GET /tls HTTP/1.1\r\nHost: secure.example\r\nConnection: close\r\n\r\n")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
    assert got.startswith(b"HTTP/1.1 200"), got[:80]
    _, lines = stop_and_read(lb, logs)
    assert len(lines) == 1
    f = fields(lines[0])
    assert ATHENA.match(lines[0]), lines[0]
    assert f[0] == "https"
    assert f[12] == f'"GET https://secure.example:{port}/tls HTTP/1.1"'
    # The default policy (ELBSecurityPolicy-2016-08) has no TLS 1.3: OpenSSL's names as ALB's.
    assert (f[14], f[15]) == ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2"), f[14:16]
    assert f[18] == '"secure.example"'


def test_reload_turns_logs_on_and_off_and_counts_at_the_admin_endpoint(sluice, tmp_path):
    port = free_port()
    admin = free_port()
    logs = tmp_path / "logs"
    off = lb_config(port, fixed("200", "ok"), name="web")
    off["Admin"] = {"Port": admin}
    lb = sluice(off)
    raw_exchange(port, b"GET /before HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    on = log_config(port, logs)
    on["Admin"] = {"Port": admin}
    lb.reload(on)
    for _ in range(3):
        raw_exchange(port, b"GET /during HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    wait_until(lambda: admin_get(admin, "/access-logs")[2]["EntriesWritten"] == 3, 10,
               what="3 entries written")
    lb.reload(off)  # the open file is completed at once
    wait_until(lambda: admin_get(admin, "/access-logs")[2]["FilesCompleted"] == 1, 10,
               what="the file to be completed")
    raw_exchange(port, b"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    _, lines = stop_and_read(lb, logs)
    assert [fields(line)[12].split(" ")[1].rsplit("/", 1)[1] for line in lines] == ["during"] * 3


def test_an_unwritable_directory_never_stops_serving(sluice, tmp_path):
    port = free_port()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the log directory should be")
    admin = free_port()
    cfg = log_config(port, blocked)
    cfg["Admin"] = {"Port": admin}
    lb = sluice(cfg)
    for _ in range(5):
        r = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 200"), r[:80]
    stats = wait_until(lambda: (lambda d: d if d["EntriesDroppedFileError"] == 5 else None)(
        admin_get(admin, "/access-logs")[2]), 10, what="5 dropped entries")
    assert stats["FileErrors"] >= 1 and stats["EntriesWritten"] == 0
    assert lb.log().count("access log of web") == 1, lb.log()  # once per interval


def test_config_errors_name_the_field(sluice, tmp_path):
    import conftest
    cfg = lb_config(free_port(), fixed("200", "ok"),
                    attributes={"access_logs.s3.enabled": True, "access_logs.s3.bucket": "my-logs"})
    path = tmp_path / "bad.yaml"
    path.write_text(conftest.dump_config(cfg))
    run = subprocess.run([conftest.SLUICE_BIN, "validate", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert "LoadBalancers[0].Attributes: access_logs.s3.enabled is true but " \
           "sluice.access_logs.directory is not set" in run.stderr + run.stdout
