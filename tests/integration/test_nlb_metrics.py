"""A network load balancer's metrics are AWS/NetworkELB's (reference §6.2): on GET /metrics as
AWS_NetworkELB_* families with the LoadBalancer dimension "net/<name>/<id>", and in the metric
history (GET /cloudwatch, Namespace=AWS/NetworkELB). They agree with what clients and targets
did:

  - NewFlowCount / ActiveFlowCount / ProcessedBytes per transport (_TCP, _UDP) and summed
  - TCP_Client_Reset_Count, TCP_Target_Reset_Count: a side that reset its connection
  - TCP_ELB_Reset_Count: the two resets of a flow Sluice ended (deregistration with
    connection termination)
  - RejectedFlowCount: a flow with no target to go to
  - HealthyHostCount of a TCP group in AWS/NetworkELB, not AWS/ApplicationELB
"""

from __future__ import annotations

import re
import socket
import socketserver
import struct
import time
import urllib.parse

from conftest import LOCAL, admin_get, fast_health, free_port, wait_until
from test_nlb_tcp import Server, recv_exact, recv_line, servers  # noqa: F401 (fixture)
from test_nlb_udp import ask, client, echoes, free_udp_port  # noqa: F401 (fixture)

LB = re.compile(r'LoadBalancer="net/net/[0-9a-f]{16}"')


def parse(text: str) -> dict:
    """{(name, labels): value}; every line is one of the two namespaces' families."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# TYPE AWS_(Application|Network)ELB_\w+ (counter|gauge|histogram)",
                                line), line
            continue
        m = re.fullmatch(r"(AWS_\w+)\{([^}]*)\} (-?[0-9.]+)", line)
        assert m, line
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def scrape(admin: int) -> dict:
    status, text, _ = admin_get(admin, "/metrics")
    assert status == 200
    return parse(text)


def nlb(metrics: dict, name: str) -> float:
    vals = [v for (n, labels), v in metrics.items()
            if n == "AWS_NetworkELB_" + name and LB.fullmatch(labels)]
    assert len(vals) == 1, (name, vals)
    return vals[0]


def settles(admin: int, expected: dict, base: dict, timeout: float = 10):
    """Waits until every named AWS/NetworkELB value has moved from `base` (a scrape) by the
    expected amount; returns the last scrape. (The fixture's readiness probe connects to the
    listeners before a test begins: counters need not start at 0.)"""
    last = {}

    def moved(m, k):
        return nlb(m, k) - nlb(base, k)

    def check():
        last["m"] = scrape(admin)
        return all(moved(last["m"], k) == v for k, v in expected.items())
    try:
        wait_until(check, timeout, 0.05, "metrics")
    except AssertionError:
        raise AssertionError({k: moved(last["m"], k) for k in expected}) from None
    return last["m"]


def quiet(admin: int, probes: int = 2) -> dict:
    """A scrape once the readiness probes (one connection to each of config()'s two TCP
    listeners) have been accepted and have ended. Waiting for no active flow alone is not
    enough: a probe may still sit in the accept queue, and count after the base scrape."""
    def settled():
        m = scrape(admin)
        return m if nlb(m, "NewFlowCount_TCP") == probes and nlb(m, "ActiveFlowCount") == 0 \
            else None
    return wait_until(settled, 10, 0.05, "the readiness probes to be counted and end")


def config(tcp_port, udp_port, rejected_port, tcp_targets, udp_targets, admin, attributes=None,
           health=False):
    tcp = {"Name": "tcp", "Protocol": "TCP", "Port": tcp_targets[0], "HealthCheckEnabled": health,
           "Targets": [{"Id": LOCAL, "Port": p} for p in tcp_targets]}
    if health:
        tcp.update(fast_health())
    if attributes:
        tcp["Attributes"] = attributes

    def listener(protocol, port, group):
        return {"Protocol": protocol, "Port": port, "BindAddress": LOCAL,
                "DefaultActions": [{"Type": "forward", "TargetGroupName": group}]}
    return {"LoadBalancers": [{"Name": "net", "Type": "network", "Listeners": [
        listener("TCP", tcp_port, "tcp"), listener("UDP", udp_port, "udp"),
        listener("TCP", rejected_port, "empty")]}],
        "TargetGroups": [
            tcp,
            {"Name": "udp", "Protocol": "UDP", "Port": udp_targets[0], "HealthCheckEnabled": False,
             "Targets": [{"Id": LOCAL, "Port": p} for p in udp_targets]},
            {"Name": "empty", "Protocol": "TCP", "Port": 1, "HealthCheckEnabled": False,
             "Targets": []}],
        "Admin": {"Address": LOCAL, "Port": admin, "MetricsResolutionSeconds": 1}}


def reset(sock: socket.socket):
    """Closes with a reset (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Resetter(socketserver.BaseRequestHandler):
    """Says its name, reads one chunk, then resets the connection."""

    def handle(self):
        self.request.sendall(self.server.name.encode() + b"\n")
        self.request.recv(100)
        reset(self.request)


def test_flows_bytes_and_resets_are_counted_as_network_elb_metrics(sluice, servers, echoes):
    a, u = servers("a"), echoes("u")
    tcp_port, rejected_port, admin = free_port(), free_port(), free_port()
    udp_port = free_udp_port()
    sluice(config(tcp_port, udp_port, rejected_port, [a.port], [u.port], admin))
    base = quiet(admin)

    # Two TCP flows that end normally, one still open: each is "a\n" + an echo + "bye".
    payloads = [b"x" * 1000, b"y" * 70000]
    for p in payloads:
        s = socket.create_connection((LOCAL, tcp_port), timeout=10)
        assert recv_line(s) == b"a\n"
        s.sendall(p)
        assert recv_exact(s, len(p)) == p
        s.shutdown(socket.SHUT_WR)
        assert recv_exact(s, 3) == b"bye"
        s.close()
    held = socket.create_connection((LOCAL, tcp_port), timeout=10)
    assert recv_line(held) == b"a\n"
    tcp_bytes = sum(2 + 2 * len(p) + 3 for p in payloads) + 2
    settles(admin, {"NewFlowCount_TCP": 3, "ActiveFlowCount_TCP": 1, "ActiveFlowCount": 1,
                    "ProcessedBytes_TCP": tcp_bytes}, base)

    # UDP: three flows (three client sockets), one datagram each way per flow.
    for i in range(3):
        c = client(udp_port)
        assert ask(c, b"ping%d" % i) == b"u:ping%d" % i
        c.close()
    m = settles(admin, {"NewFlowCount_UDP": 3, "ActiveFlowCount_UDP": 3, "NewFlowCount": 6,
                        "ActiveFlowCount": 4, "ProcessedBytes_UDP": 3 * (5 + 7),
                        "ProcessedBytes": tcp_bytes + 3 * (5 + 7)}, base)
    assert nlb(m, "TCP_Client_Reset_Count") == nlb(base, "TCP_Client_Reset_Count")
    assert nlb(m, "TCP_ELB_Reset_Count") == nlb(base, "TCP_ELB_Reset_Count")

    # The client resets the held flow.
    reset(held)
    settles(admin, {"TCP_Client_Reset_Count": 1, "ActiveFlowCount_TCP": 0}, base)

    # No target: the flow is rejected and closed at once.
    s = socket.create_connection((LOCAL, rejected_port), timeout=10)
    s.settimeout(10)
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    s.close()
    m = settles(admin, {"RejectedFlowCount": 1, "RejectedFlowCount_TCP": 1}, base)
    assert nlb(m, "TCP_Target_Reset_Count") == nlb(base, "TCP_Target_Reset_Count")

    # Nothing of this load balancer is in the ALB namespace.
    assert not [k for k in m if k[0].startswith("AWS_ApplicationELB_") and "net/" in k[1]], m


def test_a_target_reset_and_sluices_own_resets(sluice, servers, echoes):
    a, b = Server("a", _Resetter), servers("b")
    u = echoes("u")
    tcp_port, rejected_port, admin = free_port(), free_port(), free_port()
    udp_port = free_udp_port()
    on = {"deregistration_delay.timeout_seconds": 1,
          "deregistration_delay.connection_termination.enabled": True}
    try:
        lb = sluice(config(tcp_port, udp_port, rejected_port, [a.port], [u.port], admin, on))
        base = quiet(admin)
        s = socket.create_connection((LOCAL, tcp_port), timeout=10)
        assert recv_line(s) == b"a\n"
        s.sendall(b"now")
        s.settimeout(10)
        try:
            s.recv(10)
        except ConnectionResetError:
            pass
        s.close()
        settles(admin, {"TCP_Target_Reset_Count": 1, "ActiveFlowCount": 0}, base)

        # Deregistration with termination: Sluice resets both sides when the delay ends.
        lb.reload(config(tcp_port, udp_port, rejected_port, [b.port], [u.port], admin, on))
        kept = socket.create_connection((LOCAL, tcp_port), timeout=10)
        assert recv_line(kept) == b"b\n"
        lb.reload(config(tcp_port, udp_port, rejected_port, [a.port], [u.port], admin, on))
        kept.settimeout(10)
        try:
            assert kept.recv(10) == b""  # a reset reads as ECONNRESET; either way it ends
        except ConnectionResetError:
            pass
        kept.close()
        settles(admin, {"TCP_ELB_Reset_Count": 2, "TCP_Client_Reset_Count": 0}, base)
    finally:
        a.stop()


def cloudwatch(admin: int, **params):
    status, _, doc = admin_get(admin, "/cloudwatch?" + urllib.parse.urlencode(params))
    assert status == 200, doc
    return doc


def test_host_counts_and_the_metric_history_are_in_the_network_namespace(sluice, servers, echoes):
    a, u = servers("a"), echoes("u")
    tcp_port, rejected_port, admin = free_port(), free_port(), free_port()
    udp_port = free_udp_port()
    sluice(config(tcp_port, udp_port, rejected_port, [a.port], [u.port], admin, health=True))
    tg = re.compile(r'TargetGroup="targetgroup/tcp/[0-9a-f]{16}"')

    def healthy():
        m = scrape(admin)
        vals = [v for (n, labels), v in m.items()
                if n == "AWS_NetworkELB_HealthyHostCount" and tg.fullmatch(labels)]
        assert not [k for k in m if k[0] == "AWS_ApplicationELB_HealthyHostCount"
                    and tg.fullmatch(k[1])]
        return vals == [1]
    wait_until(healthy, 15, 0.1, "HealthyHostCount of the TCP group in AWS/NetworkELB")

    before = nlb(quiet(admin), "NewFlowCount")
    begin = int(time.time()) - 2
    for _ in range(4):
        s = socket.create_connection((LOCAL, tcp_port), timeout=10)
        assert recv_line(s) == b"a\n"
        s.close()

    def listed():
        doc = cloudwatch(admin, Action="ListMetrics", Namespace="AWS/NetworkELB",
                         MetricName="NewFlowCount")
        values = [d["Value"] for m in doc["Metrics"] for d in m["Dimensions"]
                  if m["Namespace"] == "AWS/NetworkELB"]
        return next((v for v in values if v.startswith("net/net/")), None)
    dim = wait_until(listed, 10, 0.1, "ListMetrics to list NewFlowCount")
    # Not in the ALB namespace.
    doc = cloudwatch(admin, Action="ListMetrics", Namespace="AWS/ApplicationELB",
                     MetricName="NewFlowCount")
    assert doc["Metrics"] == []

    def summed():
        doc = cloudwatch(admin, Action="GetMetricStatistics", Namespace="AWS/NetworkELB",
                         MetricName="NewFlowCount", **{"Dimensions.member.1.Name": "LoadBalancer",
                                                       "Dimensions.member.1.Value": dim},
                         StartTime=str(begin), EndTime=str(int(time.time()) + 2), Period="60",
                         **{"Statistics.member.1": "Sum"})
        # Since shortly before the four: they, and perhaps the readiness probe's before them.
        got = sum(p["Sum"] for p in doc["Datapoints"])
        return 4 <= got <= before + 4
    wait_until(summed, 10, 0.2, "GetMetricStatistics NewFlowCount Sum to count the four")
    assert nlb(scrape(admin), "NewFlowCount") == before + 4


def peak(admin: int, dim: str, metric: str, begin: int) -> dict:
    doc = cloudwatch(admin, Action="GetMetricStatistics", Namespace="AWS/NetworkELB",
                     MetricName=metric, **{"Dimensions.member.1.Name": "LoadBalancer",
                                           "Dimensions.member.1.Value": dim},
                     StartTime=str(begin), EndTime=str(int(time.time()) + 2), Period="60",
                     **{"Statistics.member.1": "Maximum"})
    return doc["Datapoints"][0] if doc["Datapoints"] else {}


def test_packets_and_peak_rates(sluice, servers, echoes):
    """ProcessedPackets: one per datagram relayed either way, the segments a TCP flow's two
    sockets received when it ends; PeakBytesPerSecond / PeakPacketsPerSecond in the history:
    the highest rate of a sampling interval (1 s here)."""
    a, u = servers("a"), echoes("u")
    tcp_port, rejected_port, admin = free_port(), free_port(), free_port()
    udp_port = free_udp_port()
    sluice(config(tcp_port, udp_port, rejected_port, [a.port], [u.port], admin))
    base = quiet(admin)
    begin = int(time.time()) - 2
    for i in range(3):
        c = client(udp_port)
        assert ask(c, b"ping%d" % i) == b"u:ping%d" % i
        c.close()
    settles(admin, {"ProcessedPackets": 6, "ProcessedBytes": 3 * (5 + 7)}, base)

    # A TCP flow counts when it ends: at least the client's SYN, ACK, data and FIN, and the
    # target's SYN-ACK, greeting, echo and FIN, each once; far fewer than one per byte.
    payload = b"z" * 200000
    before = nlb(scrape(admin), "ProcessedPackets")
    s = socket.create_connection((LOCAL, tcp_port), timeout=10)
    assert recv_line(s) == b"a\n"
    s.sendall(payload)
    assert recv_exact(s, len(payload)) == payload
    assert nlb(scrape(admin), "ProcessedPackets") == before  # still open: not yet
    s.shutdown(socket.SHUT_WR)
    assert recv_exact(s, 3) == b"bye"
    s.close()
    wait_until(lambda: nlb(scrape(admin), "ProcessedPackets") >= before + 8, 10, 0.05,
               "the ended flow's packets")
    flow_packets = nlb(scrape(admin), "ProcessedPackets") - before
    assert 8 <= flow_packets < 1000, flow_packets

    m = scrape(admin)
    dim = next(labels.split('"')[1] for (n, labels) in m
               if n == "AWS_NetworkELB_ProcessedBytes" and LB.fullmatch(labels))
    total = nlb(m, "ProcessedBytes")  # since the start: no 1 s interval can hold more

    def peaked():
        p = peak(admin, dim, "PeakBytesPerSecond", begin)
        return p if p.get("Maximum", 0) >= len(payload) / 2 else None
    p = wait_until(peaked, 10, 0.2, "PeakBytesPerSecond to show the transfer")
    assert p["Maximum"] <= total and p["Unit"] == "Bytes/Second", (p, total)
    wait_until(lambda: peak(admin, dim, "PeakPacketsPerSecond", begin).get("Maximum", 0) >= 2,
               10, 0.2, "PeakPacketsPerSecond")
    # /metrics has the counters; the rates are the history's.
    assert not [k for k in scrape(admin) if "Peak" in k[0]]


def test_health_checks_add_to_processed_packets(sluice, servers, echoes):
    a, u = servers("a"), echoes("u")
    tcp_port, rejected_port, admin = free_port(), free_port(), free_port()
    udp_port = free_udp_port()
    sluice(config(tcp_port, udp_port, rejected_port, [a.port], [u.port], admin, health=True))
    base = quiet(admin)
    # No flow at all: only the TCP group's checks (every 5 s; SYN, SYN-ACK, ACK, FIN...).
    wait_until(lambda: nlb(scrape(admin), "ProcessedPackets") >= nlb(base, "ProcessedPackets") + 3,
               15, 0.2, "a health check's packets")
    assert nlb(scrape(admin), "NewFlowCount") == nlb(base, "NewFlowCount")
