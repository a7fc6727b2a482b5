"""CloudWatch-style statistics on the admin endpoint: GET /cloudwatch?Action=GetMetricStatistics
(and ListMetrics) answers from the metric history that a sampler thread fills every
Admin.MetricsResolutionSeconds, with CloudWatch's parameters, statistics, units and error
codes, and agrees with what the clients saw."""

from __future__ import annotations

import time
import urllib.parse

from conftest import (admin_get, fixed, forward, free_port, lb_config, path_is, raw_exchange,
                      rule, target_group, wait_until)

NS = "AWS/ApplicationELB"


def start(sluice, demo_targets):
    target = demo_targets("a")
    port, admin = free_port(), free_port()
    rules = [rule(1, [path_is("/fixed")], fixed("418", "teapot")),
             rule(2, [path_is("/dead")], forward("dead"))]
    cfg = lb_config(port, forward("tg"), rules=rules, name="web",
                    target_groups=[target_group("tg", [target.port], health=True),
                                   target_group("dead", [free_port()])])
    cfg["Admin"] = {"Port": admin, "MetricsResolutionSeconds": 1}
    return sluice(cfg), port, admin


def get(port: int, path: str) -> bytes:
    return raw_exchange(port, f"GET {path} HTTP/1.1\r\nHost: m.example\r\n"
                              f"Connection: close\r\n\r\n".encode())


def cloudwatch(admin: int, **params):
    status, _, doc = admin_get(admin, "/cloudwatch?" + urllib.parse.urlencode(params))
    return status, doc


def dimension(admin: int, metric: str, name: str, prefix: str) -> str:
    """The dimension value ListMetrics lists, once the first sample has made the series."""
    def listed():
        status, doc = cloudwatch(admin, Action="ListMetrics", Namespace=NS, MetricName=metric)
        assert status == 200, doc
        for m in doc["Metrics"]:
            for d in m["Dimensions"]:
                if d["Name"] == name and d["Value"].startswith(prefix):
                    return d["Value"]
        return None
    return wait_until(listed, 10, 0.1, f"ListMetrics to list {metric} for {prefix}")


def stats(admin: int, metric: str, dim: tuple[str, str], start: int, end: int, period: int,
          *statistics: str, extended: tuple[str, ...] = ()) -> list[dict]:
    params = {"Action": "GetMetricStatistics", "Namespace": NS, "MetricName": metric,
              "Dimensions.member.1.Name": dim[0], "Dimensions.member.1.Value": dim[1],
              "StartTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
              "EndTime": str(end), "Period": str(period)}
    for i, s in enumerate(statistics, 1):
        params[f"Statistics.member.{i}"] = s
    for i, s in enumerate(extended, 1):
        params[f"ExtendedStatistics.member.{i}"] = s
    status, doc = cloudwatch(admin, **params)
    assert status == 200, doc
    assert doc["Label"] == metric
    return doc["Datapoints"]


def total(points: list[dict], statistic: str) -> float:
    return sum(p[statistic] for p in points)


def test_statistics_agree_with_what_clients_saw(sluice, demo_targets):
    lb, port, admin = start(sluice, demo_targets)
    begin = int(time.time()) - 2
    seen = {}
    for path in ["/"] * 10 + ["/fixed"] * 3 + ["/dead"] * 2:
        code = get(port, path)[9:12].decode()
        seen[code] = seen.get(code, 0) + 1
    assert seen == {"200": 10, "418": 3, "502": 2}, seen
    lb_dim = ("LoadBalancer", dimension(admin, "RequestCount", "LoadBalancer", "app/web/"))
    tg_dim = ("TargetGroup", dimension(admin, "TargetResponseTime", "TargetGroup",
                                       "targetgroup/tg/"))
    end = int(time.time()) + 60
    # The requests show once the sampler has closed the interval they fell in (≤ 1 s).
    wait_until(lambda: total(stats(admin, "RequestCount", lb_dim, begin, end, 1, "Sum"),
                             "Sum") == 15, 10, 0.2, "RequestCount to reach 15")
    points = stats(admin, "RequestCount", lb_dim, begin, end, 1, "Sum", "SampleCount")
    assert all(p["Unit"] == "Count" and p["SampleCount"] == 1 for p in points), points
    # Period 60 from `begin`: one data point (or two if the minute turned) summing them.
    minute = stats(admin, "RequestCount", lb_dim, begin, end, 60, "Sum")
    assert total(minute, "Sum") == 15 and 1 <= len(minute) <= 2, minute
    assert total(stats(admin, "HTTPCode_ELB_502_Count", lb_dim, begin, end, 60, "Sum"),
                 "Sum") == 2
    assert total(stats(admin, "HTTPCode_Target_2XX_Count", tg_dim, begin, end, 60, "Sum"),
                 "Sum") == 10
    # A counter that never moved has no data point at all (CloudWatch's nonzero rule).
    assert stats(admin, "HTTPCode_ELB_504_Count", lb_dim, begin, end, 60, "Sum") == []
    rt = stats(admin, "TargetResponseTime", tg_dim, begin, end, 3600, "SampleCount", "Average",
               "Maximum")
    assert len(rt) == 1 and rt[0]["SampleCount"] == 10 and rt[0]["Unit"] == "Seconds", rt
    assert 0 <= rt[0]["Average"] <= rt[0]["Maximum"] < 1, rt
    p99 = stats(admin, "TargetResponseTime", tg_dim, begin, end, 3600, extended=("p99",))
    assert 0 <= p99[0]["ExtendedStatistics"]["p99"] <= rt[0]["Maximum"], p99
    # Per load balancer too (CloudWatch's {LoadBalancer} series): the sum of its groups', the
    # same 10 here (the dead group's refused connections have no response time).
    lb_rt = stats(admin, "TargetResponseTime", lb_dim, begin, end, 3600, "SampleCount",
                  "Maximum")
    assert len(lb_rt) == 1 and lb_rt[0]["SampleCount"] == 10, lb_rt
    assert lb_rt[0]["Maximum"] == rt[0]["Maximum"], (lb_rt, rt)
    healthy = stats(admin, "HealthyHostCount", tg_dim, begin, end, 3600, "Minimum", "Maximum")
    assert healthy[0]["Maximum"] == 1, healthy


def test_refusals_carry_cloudwatch_error_codes(sluice, demo_targets):
    lb, port, admin = start(sluice, demo_targets)
    now = int(time.time())
    base = {"Action": "GetMetricStatistics", "Namespace": NS, "MetricName": "RequestCount",
            "StartTime": str(now - 60), "EndTime": str(now)}
    for params, code in [
        ({**base, "Statistics.member.1": "Sum"}, "MissingParameter"),
        ({**base, "Period": "0", "Statistics.member.1": "Sum"}, "InvalidParameterValue"),
        ({**base, "Period": "60", "Statistics.member.1": "Median"}, "InvalidParameterValue"),
        ({**base, "Period": "60"}, "InvalidParameterCombination"),
        ({**base, "StartTime": "yesterday", "Period": "60", "Statistics.member.1": "Sum"},
         "InvalidParameterValue"),
        ({"Action": "PutMetricData"}, "InvalidAction"),
    ]:
        status, doc = cloudwatch(admin, **params)
        assert status == 400 and doc["Error"]["Code"] == code, (params, doc)
        assert doc["Error"]["Message"], doc
