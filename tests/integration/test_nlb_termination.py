"""Network load balancers end flows as NLB does (reference §8.6), with a reset:

  - deregistration_delay.connection_termination.enabled: a deregistered target's flows are
    reset when its delay ends; without it (TCP's default) they go on
  - target_health_state.unhealthy.connection_termination.enabled (default true): an unhealthy
    target's flows are reset; with it false and a draining interval they are reset when the
    interval ends
  - a group that fails open (no healthy target) resets nothing

Each target is an echo server that says its name first, so a test knows where its flow went.
A stopped target keeps serving its established flows (only its listener closes), so the
health checks fail while the flow under test is still alive on the target's side.
"""

from __future__ import annotations

import socket
import time

from conftest import LOCAL, admin_get, fast_health, free_port, health_rows, wait_until
from test_nlb_tcp import nlb_config, recv_exact, recv_line, servers  # noqa: F401 (fixture)
from test_nlb_udp import ask, client, free_udp_port, udp_config
from test_nlb_udp import echoes as udp_echoes  # noqa: F401 (a fixture; echoes() is ours)


def flow_to(port: int, name: str, tries: int = 60) -> socket.socket:
    """A connection through the listener that the flow hash sent to target `name`."""
    for _ in range(tries):
        s = socket.create_connection((LOCAL, port), timeout=10)
        if recv_line(s) == name.encode() + b"\n":
            return s
        s.close()
    raise AssertionError(f"no flow reached {name} in {tries} connections")


def echoes(s: socket.socket) -> bool:
    s.sendall(b"still there?")
    return recv_exact(s, 12, limit=5) == b"still there?"


def outcome(s: socket.socket, timeout: float) -> str:
    """"reset", "eof" or "open" (nothing within `timeout`)."""
    s.settimeout(timeout)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "open"
    return "eof" if not data else "data"


def config(port, targets, admin, attributes, health=False):
    cfg = nlb_config(port, targets, health=health, admin=admin)
    cfg["TargetGroups"][0]["Attributes"] = attributes
    return cfg


def state_of(admin, target_port):
    rows = health_rows(admin_get(admin)[2] or {})
    return next((r.get("State") for (g, i, p), r in rows.items() if p == target_port), None)


def test_deregistration_resets_flows_only_with_termination(sluice, servers):
    a, b = servers("a"), servers("b")
    port, admin = free_port(), free_port()
    attrs = {"deregistration_delay.timeout_seconds": 1}
    on = dict(attrs, **{"deregistration_delay.connection_termination.enabled": True})
    lb = sluice(config(port, [a.port, b.port], admin, on))
    kept, to_b = flow_to(port, "a"), flow_to(port, "b")
    assert echoes(kept)
    lb.reload(config(port, [b.port], admin, on))
    assert outcome(kept, 10) == "reset"  # shortly after the 1 s delay
    assert echoes(to_b)  # the other target's flows are untouched

    # Termination off (TCP's default): the flow outlives the delay.
    lb.reload(config(port, [a.port, b.port], admin, attrs))
    kept = flow_to(port, "a")
    lb.reload(config(port, [b.port], admin, attrs))
    assert outcome(kept, 3) == "open" and echoes(kept)
    kept.close()
    to_b.close()


def wait_state(admin, target_port, state):
    wait_until(lambda: state_of(admin, target_port) == state, 30, interval=0.2,
               what=f"target {target_port} {state}")


def test_an_unhealthy_targets_flows_are_reset_unless_the_group_fails_open(sluice, servers):
    a, b = servers("a"), servers("b")
    port, admin = free_port(), free_port()
    sluice(config(port, [a.port, b.port], admin, {}, health=True))
    wait_state(admin, a.port, "healthy")
    wait_state(admin, b.port, "healthy")
    doomed, to_b = flow_to(port, "a"), flow_to(port, "b")
    a.stop()  # checks fail; the flow's handler lives on
    wait_state(admin, a.port, "unhealthy")
    assert outcome(doomed, 5) == "reset"
    assert echoes(to_b)
    # Now b fails too: the group fails open, and its flows go on.
    b.stop()
    wait_state(admin, b.port, "unhealthy")
    assert outcome(to_b, 2) == "open" and echoes(to_b)
    to_b.close()


def test_without_termination_an_unhealthy_targets_flows_drain_for_the_interval(sluice, servers):
    a, b = servers("a"), servers("b")
    port, admin = free_port(), free_port()
    attrs = {"target_health_state.unhealthy.connection_termination.enabled": False,
             "target_health_state.unhealthy.draining_interval_seconds": 3}
    sluice(config(port, [a.port, b.port], admin, attrs, health=True))
    wait_state(admin, a.port, "healthy")
    wait_state(admin, b.port, "healthy")
    draining = flow_to(port, "a")
    a.stop()
    wait_state(admin, a.port, "unhealthy.draining")  # NLB's state while the flows drain
    turned = time.monotonic()
    assert echoes(draining)  # within the interval
    assert outcome(draining, 10) == "reset"
    assert time.monotonic() - turned >= 1.5  # not at once: at the interval's end
    wait_state(admin, a.port, "unhealthy")  # the interval is over


def test_source_ip_stickiness_sends_each_clients_flows_to_one_target(sluice, servers):
    """stickiness.type source_ip (§8.2): every connection from one client address, whatever its
    port and whichever worker accepts it, reaches the same target; clients still spread."""
    targets = [servers(n) for n in "abcd"]
    port = free_port()
    cfg = config(port, [t.port for t in targets], None, {"stickiness.enabled": True})
    sluice(cfg, workers=2)

    def target_of(source: str) -> str:
        with socket.create_connection((LOCAL, port), timeout=10, source_address=(source, 0)) as s:
            return recv_line(s).strip().decode()

    chosen = {}
    for i in range(2, 14):
        source = f"127.0.0.{i}"
        seen = {target_of(source) for _ in range(8)}
        assert len(seen) == 1, (source, seen)
        chosen[source] = seen.pop()
    assert len(set(chosen.values())) >= 2, chosen  # twelve clients over four targets


def udp_flow_to(port: int, name: str, tries: int = 60):
    """A UDP client socket whose flow the hash sent to target `name`."""
    for i in range(tries):
        c = client(port)
        if ask(c, b"hello").startswith(name.encode() + b":"):
            return c
        c.close()
    raise AssertionError(f"no UDP flow reached {name} in {tries} tries")


def udp_with(port, targets, attributes):
    cfg = udp_config(port, targets)
    cfg["TargetGroups"][0]["Attributes"] = attributes
    return cfg


def test_udp_flows_of_a_deregistered_target_end_with_its_delay_by_default(sluice, udp_echoes):
    a, b = udp_echoes("a"), udp_echoes("b")
    port = free_udp_port()
    attrs = {"deregistration_delay.timeout_seconds": 1}  # termination: UDP's default, true
    lb = sluice(udp_with(port, [a.port, b.port], attrs))
    c = udp_flow_to(port, "a")
    lb.reload(udp_with(port, [b.port], attrs))
    # Until the delay ends the flow stays on a; then its socket closes and the next
    # datagram starts a new flow, to b.
    wait_until(lambda: ask(c, b"x").startswith(b"b:"), 10, 0.1, "the flow to move to b")
    assert ask(c, b"y") == b"b:y"
    c.close()


def test_udp_flows_go_on_past_the_delay_without_termination(sluice, udp_echoes):
    a, b = udp_echoes("a"), udp_echoes("b")
    port = free_udp_port()
    attrs = {"deregistration_delay.timeout_seconds": 1,
             "deregistration_delay.connection_termination.enabled": False}
    lb = sluice(udp_with(port, [a.port, b.port], attrs))
    c = udp_flow_to(port, "a")
    lb.reload(udp_with(port, [b.port], attrs))
    end = time.monotonic() + 3  # well past the 1 s delay
    while time.monotonic() < end:
        assert ask(c, b"x") == b"a:x"  # the flow stays on a until it idles out
        time.sleep(0.1)
    c.close()
