"""ALB health-check logs (reference §5.6, file names §5.1): with health_check_logs.s3.enabled
every completed health check of a group that the load balancer forwards to is one line of a
health_check_log_<...>.log.gz file, laid out as in the S3 bucket under
sluice.health_check_logs.directory. Fields (Sluice's order, docs/alb-compatibility.md):
type time elb target_group_id target:port latency status status_code reason_code.
"""

from __future__ import annotations

import gzip
import re
import signal

from conftest import (LOCAL, ControlledBackend, fast_health, forward, free_port, lb_config,
                      path_is, rule, target_group, wait_health)

LINE = re.compile(
    r"(request|connection) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (app/web/[0-9a-f]{16}) "
    r"(arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/(\w+)/[0-9a-f]{16}) "
    r"127\.0\.0\.1:(\d+) (\d+\.\d{3}) (healthy|unhealthy) (\S+) (\S+)$")

FILE = re.compile(
    r"health_check_log_000000000000_elasticloadbalancing_us-east-1_app\.web\.[0-9a-f]{16}_"
    r"\d{8}T\d{4}Z_127\.0\.0\.1_[a-z0-9]{8}\.log\.gz")


def read_lines(files) -> list[str]:
    lines = []
    for f in files:
        with gzip.open(f, "rt", encoding="ascii") as fh:
            lines.extend(fh.read().splitlines())
    return lines


def config(port, admin, ok, bad, closed, attributes):
    http = target_group("http", [ok.port, bad.port], health=True,
                        **fast_health(Matcher={"HttpCode": "200"}))
    tcp = target_group("tcp", [ok.port, closed], health=True,
                       **fast_health(HealthCheckProtocol="TCP"))
    del tcp["HealthCheckPath"]  # not used by TCP checks (the loader rejects it)
    rules = [rule(10, [path_is("/tcp/*")], forward("tcp"))]
    cfg = lb_config(port, forward("http"), rules=rules, target_groups=[http, tcp],
                    attributes=attributes, name="web")
    cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    return cfg


def wait_verdicts(admin, ok, bad, closed):
    wait_health(admin, "http", ok.port, "healthy", 20)
    wait_health(admin, "tcp", ok.port, "healthy", 20)
    # Two failures each (UnhealthyThresholdCount 2, every 5 s).
    wait_health(admin, "http", bad.port, "unhealthy", 30, "Target.ResponseCodeMismatch")
    wait_health(admin, "tcp", closed, "unhealthy", 30, "Target.FailedHealthChecks")


def stop(lb):
    lb.proc.signal(signal.SIGTERM)
    lb.proc.popen.wait(15)


def test_health_check_log_entries(sluice, tmp_path):
    ok, bad = ControlledBackend("ok"), ControlledBackend("bad")
    bad.set_health("status", 503)
    closed = free_port()  # nothing listens here
    try:
        port, admin = free_port(), free_port()
        logs = tmp_path / "logs"
        lb = sluice(config(port, admin, ok, bad, closed, {
            "health_check_logs.s3.enabled": True, "health_check_logs.s3.bucket": "my-logs",
            "health_check_logs.s3.prefix": "hc/sub",
            "sluice.health_check_logs.directory": str(logs)}))
        wait_verdicts(admin, ok, bad, closed)
        stop(lb)
    finally:
        ok.stop()
        bad.stop()

    files = sorted(logs.rglob("*.log.gz"))
    assert files, list(logs.rglob("*"))
    for f in files:
        rel = f.relative_to(logs).parts
        assert rel[:6] == ("hc", "sub", "AWSLogs", "000000000000", "elasticloadbalancing",
                           "us-east-1"), rel
        assert re.fullmatch(r"\d{4}", rel[6]) and re.fullmatch(r"\d\d", rel[7]), rel
        assert re.fullmatch(r"\d\d", rel[8]) and len(rel) == 10, rel
        assert FILE.fullmatch(rel[9]), rel[9]
    lines = read_lines(files)
    parsed = [LINE.match(line) for line in lines]
    assert lines and all(parsed), lines
    rows = [m.groups() for m in parsed]
    by = {}
    for r in rows:
        # (type, group, port) -> [(status, status_code, reason)]
        by.setdefault((r[0], r[4], int(r[5])), []).append((r[7], r[8], r[9]))
    assert set(by) == {("request", "http", ok.port), ("request", "http", bad.port),
                       ("connection", "tcp", ok.port), ("connection", "tcp", closed)}, by
    assert all(v == ("healthy", "-", "-") for v in by[("request", "http", ok.port)]), by
    assert all(v == ("healthy", "-", "-") for v in by[("connection", "tcp", ok.port)]), by
    bad_rows = by[("request", "http", bad.port)]
    assert len(bad_rows) >= 2, bad_rows
    assert all(v == ("unhealthy", "503", "Target.ResponseCodeMismatch") for v in bad_rows), bad_rows
    closed_rows = by[("connection", "tcp", closed)]
    assert len(closed_rows) >= 2, closed_rows
    assert all(v == ("unhealthy", "-", "Target.FailedHealthChecks") for v in closed_rows), \
        closed_rows
    # One line per check the healthy HTTP target answered (one may have been cut by the stop).
    seen = len(ok.checks())
    assert seen - 1 <= len(by[("request", "http", ok.port)]) <= seen, (by, seen)
    # One group ARN per group name, the same in every line.
    assert len({(r[4], r[3]) for r in rows}) == 2, rows


def test_no_health_check_log_when_off(sluice, tmp_path):
    ok, bad = ControlledBackend("ok"), ControlledBackend("bad")
    bad.set_health("status", 503)
    closed = free_port()
    try:
        port, admin = free_port(), free_port()
        logs = tmp_path / "logs"
        # Access logs on (so the log writer runs), health-check logs off.
        lb = sluice(config(port, admin, ok, bad, closed, {
            "access_logs.s3.enabled": True, "sluice.access_logs.directory": str(logs),
            "health_check_logs.s3.enabled": False,
            "sluice.health_check_logs.directory": str(logs)}))
        wait_health(admin, "http", ok.port, "healthy", 20)
        wait_health(admin, "tcp", closed, "unhealthy", 30, "Target.FailedHealthChecks")
        stop(lb)
    finally:
        ok.stop()
        bad.stop()
    assert not list(logs.rglob("health_check_log_*")), list(logs.rglob("*"))
