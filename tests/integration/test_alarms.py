"""CloudWatch-style alarms (config `Alarms`): judged on the metric history after each sample,
OK / ALARM / INSUFFICIENT_DATA as CloudWatch judges them, each change logged, listed at the
admin's GET /alarms and POSTed to its webhook actions as CloudWatch's SNS notification."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading

import pytest

from conftest import (admin_get, forward, free_port, lb_config, loopback_certificate, path_is,
                      raw_exchange, rule, target_group, wait_until)


class Hooks:
    """A webhook receiver on a free loopback port: the JSON bodies POSTed, by path; over TLS
    with `tls=(cert, key)`."""

    def __init__(self, tls=None):
        self.lock = threading.Lock()
        self.received: list[tuple[str, dict]] = []
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hooks.lock:
                    hooks.received.append((self.path, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def states(self, path: str) -> list[tuple[str, str]]:
        with self.lock:
            return [(b["OldStateValue"], b["NewStateValue"]) for p, b in self.received
                    if p == path]

    def last(self, path: str) -> dict:
        with self.lock:
            return [b for p, b in self.received if p == path][-1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks():
    h = Hooks()
    yield h
    h.stop()


def get(port: int, path: str) -> bytes:
    return raw_exchange(port, f"GET {path} HTTP/1.1\r\nHost: m.example\r\n"
                              f"Connection: close\r\n\r\n".encode())


def test_an_alarm_fires_on_502s_and_clears_when_quiet(sluice, demo_targets, hooks):
    target = demo_targets("a")
    port, admin = free_port(), free_port()
    cfg = lb_config(port, forward("tg"), rules=[rule(1, [path_is("/dead")], forward("dead"))],
                    name="web", target_groups=[target_group("tg", [target.port]),
                                               target_group("dead", [free_port()])])
    cfg["Admin"] = {"Port": admin, "MetricsResolutionSeconds": 1}
    cfg["Alarms"] = [{
        "AlarmName": "web-502", "AlarmDescription": "targets refuse",
        "MetricName": "HTTPCode_ELB_502_Count",
        "Dimensions": [{"Name": "LoadBalancer", "Value": "web"}],
        "Statistic": "Sum", "Period": 1, "EvaluationPeriods": 1, "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [hooks.url("/alarm")], "OKActions": [hooks.url("/ok")]}]
    lb = sluice(cfg)
    # No 502 yet: missing data is not breaching, so the alarm leaves INSUFFICIENT_DATA for OK.
    wait_until(lambda: ("INSUFFICIENT_DATA", "OK") in hooks.states("/ok"), 10, 0.05,
               "the first OK notification")
    for _ in range(3):
        assert get(port, "/dead")[9:12] == b"502"
    wait_until(lambda: hooks.states("/alarm"), 10, 0.05, "the ALARM notification")
    body = hooks.last("/alarm")
    assert (body["OldStateValue"], body["NewStateValue"]) == ("OK", "ALARM"), body
    assert body["AlarmName"] == "web-502" and body["AlarmDescription"] == "targets refuse"
    assert body["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [3.0 ("), body
    assert body["NewStateReason"].endswith("] was greater than the threshold (0.0)."), body
    assert body["Trigger"]["MetricName"] == "HTTPCode_ELB_502_Count"
    assert body["Trigger"]["Dimensions"] == [{"value": "web", "name": "LoadBalancer"}]
    assert body["Region"] == "us-east-1" and body["AWSAccountId"] == "000000000000"
    # The next quiet second clears it.
    wait_until(lambda: ("ALARM", "OK") in hooks.states("/ok"), 10, 0.05, "the OK notification")
    assert "alarm web-502: OK -> ALARM: Threshold Crossed: 1 datapoint [3.0" in lb.proc.stderr()
    assert "alarm web-502: ALARM -> OK: " in lb.proc.stderr()
    status, _, doc = admin_get(admin, "/alarms")
    assert status == 200
    [alarm] = doc["MetricAlarms"]
    assert alarm["AlarmName"] == "web-502" and alarm["StateValue"] == "OK", alarm
    assert alarm["Threshold"] == 0.0 and alarm["Period"] == 1 and alarm["StateUpdatedTimestamp"]


def test_a_bad_alarm_is_refused_with_its_field(sluice, tmp_path):
    from conftest import SLUICE_BIN
    path = tmp_path / "bad.yaml"
    path.write_text("Alarms:\n  - AlarmName: x\n    MetricName: RequestCount\n"
                    "    Statistic: Sum\n    Period: 60\n    EvaluationPeriods: 1\n"
                    "    Threshold: 1\n    ComparisonOperator: GreaterThanThreshold\n"
                    "    AlarmActions: [\"arn:aws:sns:us-east-1:123456789012:ops\"]\n")
    r = subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0
    assert (f"{path}:9:20: Alarms[0].AlarmActions[0]: action "
            "'arn:aws:sns:us-east-1:123456789012:ops': must be an http:// or https:// URL"
            ) in r.stderr + r.stdout


def test_https_actions_verify_the_receivers_certificate(sluice, tmp_path, monkeypatch):
    trusted_cert, trusted_key = loopback_certificate(tmp_path, "trusted")
    other_cert, other_key = loopback_certificate(tmp_path, "other")
    trusted, untrusted = Hooks(tls=(trusted_cert, trusted_key)), Hooks(tls=(other_cert, other_key))
    try:
        # OpenSSL's default CA store, pointed at the one certificate Sluice should trust.
        monkeypatch.setenv("SSL_CERT_FILE", str(trusted_cert))
        port, admin = free_port(), free_port()
        cfg = lb_config(port, forward("tg"), name="web",
                        target_groups=[target_group("tg", [free_port()])])
        cfg["Admin"] = {"Port": admin, "MetricsResolutionSeconds": 1}
        alarm = {"MetricName": "HTTPCode_ELB_502_Count",
                 "Dimensions": [{"Name": "LoadBalancer", "Value": "web"}],
                 "Statistic": "Sum", "Period": 1, "EvaluationPeriods": 1, "Threshold": 0,
                 "ComparisonOperator": "GreaterThanThreshold",
                 "TreatMissingData": "notBreaching"}
        cfg["Alarms"] = [dict(alarm, AlarmName="trusted", OKActions=[trusted.url("/ok")]),
                         dict(alarm, AlarmName="untrusted", OKActions=[untrusted.url("/ok")])]
        lb = sluice(cfg)
        wait_until(lambda: ("INSUFFICIENT_DATA", "OK") in trusted.states("/ok"), 10, 0.05,
                   "the OK notification over https")
        wait_until(lambda: "certificate verify failed" in lb.proc.stderr(), 10, 0.05,
                   "the untrusted receiver refused")
        assert untrusted.states("/ok") == []
        line = next(l for l in lb.proc.stderr().splitlines() if "certificate verify failed" in l)
        assert f"alarm action {untrusted.url('/ok')} attempt 1 of 4 failed: TLS handshake" in line
    finally:
        trusted.stop()
        untrusted.stop()
