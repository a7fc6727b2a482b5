"""CloudWatch-named metrics on the admin endpoint (reference §6.1): GET /metrics serves the
AWS/ApplicationELB metrics in Prometheus' text format, summed over the workers, and they
agree with what the clients saw. A real Prometheus server (Debian's `prometheus`) scrapes it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import (LOCAL, Proc, admin_get, fixed, forward, free_port, lb_config, path_is,
                      raw_exchange, rule, target_group, wait_until)

LB_DIM = re.compile(r'LoadBalancer="app/web/[0-9a-f]{16}"')


def parse(text: str) -> dict:
    """{(name, labels): value} from the exposition text; checks its shape on the way."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# TYPE AWS_ApplicationELB_\w+ (counter|gauge|histogram)", line), line
            continue
        m = re.fullmatch(r"(AWS_ApplicationELB_\w+)\{([^}]*)\} (-?[0-9.]+)", line)
        assert m, line
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def lb_value(metrics: dict, name: str) -> float:
    vals = [v for (n, labels), v in metrics.items()
            if n == "AWS_ApplicationELB_" + name and LB_DIM.fullmatch(labels)]
    assert len(vals) == 1, (name, vals)
    return vals[0]


def tg_value(metrics: dict, name: str, group: str) -> float:
    vals = [v for (n, labels), v in metrics.items()
            if n == "AWS_ApplicationELB_" + name and
            re.fullmatch(rf'TargetGroup="targetgroup/{group}/[0-9a-f]{{16}}"', labels)]
    assert len(vals) == 1, (name, group, vals)
    return vals[0]


def start(sluice, demo_targets):
    target = demo_targets("a")
    port, admin = free_port(), free_port()
    rules = [rule(1, [path_is("/fixed")], fixed("418", "teapot")),
             rule(2, [path_is("/dead")], forward("dead"))]
    cfg = lb_config(port, forward("tg"), rules=rules, name="web",
                    target_groups=[target_group("tg", [target.port], health=True),
                                   target_group("dead", [free_port()])])
    cfg["Admin"] = {"Port": admin}
    return sluice(cfg), port, admin


def get(port: int, path: str) -> bytes:
    return raw_exchange(port, f"GET {path} HTTP/1.1\r\nHost: m.example\r\n"
                              f"Connection: close\r\n\r\n".encode())


def test_metrics_agree_with_what_clients_saw(sluice, demo_targets):
    lb, port, admin = start(sluice, demo_targets)
    seen = {"200": 0, "418": 0, "502": 0, "400": 0}
    for path in ["/"] * 10 + ["/fixed"] * 3 + ["/dead"] * 2:
        seen[get(port, path)[9:12].decode()] += 1
    # A NUL in a field value: Severe, refused with 400 before any routing.
    seen[raw_exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n")[9:12].decode()] += 1
    assert seen == {"200": 10, "418": 3, "502": 2, "400": 1}, seen
    status, text, _ = admin_get(admin, "/metrics")
    assert status == 200
    m = parse(text)
    assert lb_value(m, "RequestCount") == 15  # routed requests; the malformed one is not
    assert lb_value(m, "HTTPCode_Target_2XX_Count") == 10
    assert lb_value(m, "HTTPCode_ELB_4XX_Count") == 4  # 3 fixed 418 + the 400
    assert lb_value(m, "HTTP_Fixed_Response_Count") == 3
    assert lb_value(m, "HTTPCode_ELB_502_Count") == 2
    assert lb_value(m, "HTTPCode_ELB_5XX_Count") == 2
    assert lb_value(m, "TargetConnectionErrorCount") == 2
    # 16 clients, plus the fixture's readiness connect(s) to the port.
    assert 16 < lb_value(m, "NewConnectionCount") <= 18
    assert lb_value(m, "ProcessedBytes") > 0
    assert lb_value(m, "DesyncMitigationMode_NonCompliant_Request_Count") == 1
    assert tg_value(m, "RequestCount", "tg") == 10
    assert tg_value(m, "HTTPCode_Target_2XX_Count", "tg") == 10
    assert tg_value(m, "TargetConnectionErrorCount", "dead") == 2
    assert tg_value(m, "TargetResponseTime_count", "tg") == 10
    buckets = sorted((float(re.search(r'le="([^"]+)"', labels).group(1).replace("+Inf", "inf")), v)
                     for (n, labels), v in m.items()
                     if n == "AWS_ApplicationELB_TargetResponseTime_bucket" and "targetgroup/tg/" in labels)
    assert buckets[-1] == (float("inf"), 10)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets  # cumulative
    wait_until(lambda: tg_value(parse(admin_get(admin, "/metrics")[1]), "HealthyHostCount", "tg") == 1,
               15, what="the target to be counted healthy")
    # Connections close: the gauge comes back to 0.
    wait_until(lambda: lb_value(parse(admin_get(admin, "/metrics")[1]), "ActiveConnectionCount") == 0,
               10, what="no active connection")


def test_prometheus_scrapes_the_admin_endpoint(sluice, demo_targets, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (scripts/setup.sh installs it)")
    lb, port, admin = start(sluice, demo_targets)
    for _ in range(7):
        get(port, "/")
    web = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: sluice\n"
        f"    static_configs: [{{targets: ['{LOCAL}:{admin}']}}]\n")
    prom = Proc([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={LOCAL}:{web}"],
                tmp_path, "prometheus")
    try:
        def query():
            q = urllib.parse.quote('sum(AWS_ApplicationELB_HTTPCode_Target_2XX_Count{LoadBalancer=~"app/web/.*"})')
            try:
                with urllib.request.urlopen(f"http://{LOCAL}:{web}/api/v1/query?query={q}",
                                            timeout=2) as r:
                    doc = json.load(r)
            except OSError:
                assert prom.alive(), prom.stderr()
                return None
            res = doc["data"]["result"]
            return res[0]["value"][1] if res else None

        assert wait_until(query, 60, interval=0.5, what="prometheus to scrape sluice") == "7"
        # And the scrape itself is healthy (no parse error on Prometheus' side).
        with urllib.request.urlopen(f"http://{LOCAL}:{web}/api/v1/targets", timeout=5) as r:
            targets = json.load(r)["data"]["activeTargets"]
        assert targets and targets[0]["health"] == "up", targets
    finally:
        prom.stop()
