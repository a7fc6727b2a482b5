"""The four-service set-up under concurrent load with faults — /auth/* answered by a healthy
target, /problems/* by a refused one, /submissions/* by a slow one (0.3 s), /evaluate/* by one
answering 500 — and the three views of it agree with what the clients saw: the access log
(every request once, ALB's status codes and target processing times, the right target group),
the Prometheus metrics on the admin endpoint, and the metric history the dashboard charts
(GET /cloudwatch, the same JSON the dashboard reads)."""

from __future__ import annotations

import collections
import concurrent.futures
import time

from conftest import admin_get, fixed, forward, free_port, path_is, raw_exchange, rule, target_group
from conftest import wait_until
from test_access_logs import ATHENA, fields, log_config, stop_and_read
from test_cloudwatch import dimension, stats, total
from test_metrics import lb_value, parse, tg_value

SERVICES = ("auth", "problems", "submissions", "evaluate")
PER_SERVICE = 24
BOOM = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5\r\nConnection: close\r\n\r\nboom\n")


def test_logs_metrics_and_history_agree_with_the_clients(sluice, demo_targets, faulty, tmp_path):
    auth = demo_targets("auth")
    slow = faulty("slow", 0.3)
    boom = faulty("canned")
    boom.canned = BOOM
    ports = {"auth": auth.port, "problems": free_port(), "submissions": slow.port,
             "evaluate": boom.port}
    port, admin = free_port(), free_port()
    logs = tmp_path / "logs"
    rules = [rule(i + 1, [path_is(f"/{s}/*")], forward(s)) for i, s in enumerate(SERVICES)]
    cfg = log_config(port, logs, rules=rules, default=fixed("404", "none"),
                     target_groups=[target_group(s, [ports[s]]) for s in SERVICES])
    cfg["Admin"] = {"Port": admin, "MetricsResolutionSeconds": 1}
    lb = sluice(cfg)
    begin = int(time.time()) - 2

    def call(service: str, i: int) -> tuple[str, str]:
        answer = raw_exchange(port, f"GET /{service}/{i} HTTP/1.1\r\nHost: judge.example\r\n"
                                    f"Connection: close\r\n\r\n".encode(), timeout=10)
        return service, answer[9:12].decode()

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        jobs = [pool.submit(call, s, i) for i in range(PER_SERVICE) for s in SERVICES]
        seen = collections.Counter(j.result() for j in jobs)
    assert seen == {("auth", "200"): PER_SERVICE, ("problems", "502"): PER_SERVICE,
                    ("submissions", "200"): PER_SERVICE, ("evaluate", "500"): PER_SERVICE}, seen
    n = PER_SERVICE

    # Prometheus metrics.
    m = parse(admin_get(admin, "/metrics")[1])
    assert lb_value(m, "RequestCount") == 4 * n
    assert lb_value(m, "HTTPCode_Target_2XX_Count") == 2 * n
    assert lb_value(m, "HTTPCode_Target_5XX_Count") == n
    assert lb_value(m, "HTTPCode_ELB_502_Count") == n
    assert lb_value(m, "TargetConnectionErrorCount") == n
    assert tg_value(m, "HTTPCode_Target_2XX_Count", "auth") == n
    assert tg_value(m, "HTTPCode_Target_2XX_Count", "submissions") == n
    assert tg_value(m, "HTTPCode_Target_5XX_Count", "evaluate") == n
    assert tg_value(m, "TargetConnectionErrorCount", "problems") == n
    assert tg_value(m, "TargetResponseTime_count", "submissions") == n

    # The metric history, as the dashboard reads it.
    lb_dim = ("LoadBalancer", dimension(admin, "RequestCount", "LoadBalancer", "app/web/"))
    end = int(time.time()) + 60
    wait_until(lambda: total(stats(admin, "RequestCount", lb_dim, begin, end, 60, "Sum"),
                             "Sum") == 4 * n, 10, 0.2, f"RequestCount to reach {4 * n}")
    assert total(stats(admin, "HTTPCode_ELB_502_Count", lb_dim, begin, end, 60, "Sum"),
                 "Sum") == n
    assert total(stats(admin, "HTTPCode_Target_5XX_Count", lb_dim, begin, end, 60, "Sum"),
                 "Sum") == n
    slow_dim = ("TargetGroup", dimension(admin, "TargetResponseTime", "TargetGroup",
                                         "targetgroup/submissions/"))
    rt = stats(admin, "TargetResponseTime", slow_dim, begin, end, 3600, "SampleCount", "Average",
               "Minimum")
    # Average is exact (sum / count); Minimum is the lower edge of the power-of-two bucket
    # holding the fastest response (docs/alb-compatibility.md): 256 ms for 300 ms.
    assert len(rt) == 1 and rt[0]["SampleCount"] == n, rt
    assert rt[0]["Average"] >= 0.3 and rt[0]["Minimum"] >= 0.256, rt

    # The access log: every request once, as the clients saw it.
    _, lines = stop_and_read(lb, logs)
    assert len(lines) == 4 * n, len(lines)
    logged = collections.Counter()
    for line in lines:
        assert ATHENA.match(line), line
        f = fields(line)
        service = f[12].split(" ")[1].split("/")[3]  # "GET http://judge.example:PORT/<s>/<i> ..."
        assert f"targetgroup/{service}/" in f[16], (service, f[16])
        logged[(service, f[8], f[9])] += 1
        if service == "submissions":
            assert float(f[6]) >= 0.3, line
        if service == "problems":
            assert f[4] == "-" or f[4].endswith(f":{ports['problems']}"), line
            assert f[6] == "-1", line  # no response from the target
    assert logged == {("auth", "200", "200"): n, ("problems", "502", "-"): n,
                      ("submissions", "200", "200"): n, ("evaluate", "500", "500"): n}, logged
