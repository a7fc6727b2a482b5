"""A listener's cap on open connections (`sluice.max_connections`, Sluice's own listener
attribute; issue 15's "a flood of connections that send nothing is bounded by ... a
per-listener connection cap"): beyond it a new connection is reset at accept and counted, the
connections already open carry on, and a slot that frees up serves the next client.

Covered:
  - a TCP listener (network load balancer): RejectedFlowCount(_TCP) on /metrics
  - an HTTP listener (application load balancer): RejectedConnectionCount
"""

from __future__ import annotations

import socket

from conftest import LOCAL, fixed, free_port, lb_config, wait_until
from test_nlb_metrics import scrape
from test_nlb_tcp import nlb_config, recv_exact, recv_line, servers  # noqa: F401 (fixture)


def metric(admin: int, family: str) -> float:
    vals = [v for (name, _), v in scrape(admin).items() if name == family]
    assert len(vals) == 1, (family, vals)
    return vals[0]


def refused(port: int) -> bool:
    """True when a new connection is closed or reset before it gets any byte (the reset may
    even beat the end of connect(), which Python reports from SO_ERROR)."""
    try:
        with socket.create_connection((LOCAL, port), timeout=10) as s:
            s.settimeout(10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_a_tcp_listener_resets_connections_beyond_its_cap(sluice, servers):
    t = servers("a")
    port, admin = free_port(), free_port()
    config = nlb_config(port, [t.port], admin=admin)
    config["LoadBalancers"][0]["Listeners"][0]["Attributes"] = {"sluice.max_connections": 3}
    sluice(config)
    active = "AWS_NetworkELB_ActiveFlowCount"
    wait_until(lambda: metric(admin, active) == 0, 10, 0.05, "the readiness probe to end")

    held = []
    for _ in range(3):
        s = socket.create_connection((LOCAL, port), timeout=10)
        assert recv_line(s) == b"a\n"
        held.append(s)
    assert refused(port)
    assert refused(port)
    wait_until(lambda: metric(admin, "AWS_NetworkELB_RejectedFlowCount_TCP") == 2, 10, 0.05,
               "two rejected flows counted")
    assert metric(admin, "AWS_NetworkELB_RejectedFlowCount") == 2
    for s in held:  # the three carry on
        s.sendall(b"ping")
        assert recv_exact(s, 4) == b"ping"

    held.pop().close()
    wait_until(lambda: metric(admin, active) == 2, 10, 0.05, "a slot to free up")
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        assert recv_line(s) == b"a\n"
    for s in held:
        s.close()


def test_an_http_listener_resets_connections_beyond_its_cap(sluice):
    port, admin = free_port(), free_port()
    config = lb_config(port, fixed("200", "ok"))
    config["LoadBalancers"][0]["Listeners"][0]["Attributes"] = {"sluice.max_connections": 2}
    config["Admin"] = {"Address": LOCAL, "Port": admin}
    sluice(config)
    active = "AWS_ApplicationELB_ActiveConnectionCount"
    wait_until(lambda: metric(admin, active) == 0, 10, 0.05, "the readiness probe to end")

    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    held = []
    for _ in range(2):
        s = socket.create_connection((LOCAL, port), timeout=10)
        s.sendall(request)
        assert s.recv(1000).startswith(b"HTTP/1.1 200")
        held.append(s)
    assert refused(port)
    wait_until(lambda: metric(admin, "AWS_ApplicationELB_RejectedConnectionCount") == 1, 10,
               0.05, "the rejected connection counted")
    for s in held:  # keep-alive connections go on serving
        s.sendall(request)
        assert s.recv(1000).startswith(b"HTTP/1.1 200")
        s.close()
    wait_until(lambda: metric(admin, active) == 0, 10, 0.05, "the slots to free up")
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        s.sendall(request)
        assert s.recv(1000).startswith(b"HTTP/1.1 200")
