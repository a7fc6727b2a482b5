"""Network load balancers with UDP listeners (reference §8.1, §8.2, §8.5): datagrams relayed to
UDP target groups by flow, real clients and servers over loopback.

Covered:
  - datagrams both ways unchanged (empty, small, 60,000 bytes), replies from the listener's
    address and port
  - a flow (5-tuple) stays on one target; flows spread over the targets
  - a wildcard listener replies from the address each client reached (IP_PKTINFO), so a
    client's connected socket accepts the reply
  - DNS: dig through a UDP listener to a real resolver (unbound) serving a local zone
  - a target with nothing listening: no reply, and other flows carry on
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections import Counter

import pytest

from conftest import LOCAL, wait_until


def free_udp_port(host: str = LOCAL) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class UdpEcho:
    """Answers each datagram with its name, ':' and the datagram."""

    def __init__(self, name: str):
        self.name = name.encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL, 0))
        self.port = self.sock.getsockname()[1]
        self.peers = Counter()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            self.peers[peer] += 1
            self.sock.sendto(self.name + b":" + data, peer)

    def stop(self):
        self.sock.close()


@pytest.fixture
def echoes():
    started = []

    def start(name):
        e = UdpEcho(name)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


def udp_config(port: int, target_ports, bind: str = LOCAL) -> dict:
    return {"LoadBalancers": [{"Name": "udp", "Type": "network", "Listeners": [
        {"Protocol": "UDP", "Port": port, "BindAddress": bind,
         "DefaultActions": [{"Type": "forward", "TargetGroupName": "echo"}]}]}],
        "TargetGroups": [{"Name": "echo", "Protocol": "UDP", "Port": target_ports[0],
                          "HealthCheckEnabled": False,
                          "Targets": [{"Id": LOCAL, "Port": p} for p in target_ports]}]}


def client(port: int, to: str = LOCAL, source: str = LOCAL) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.connect((to, port))  # only datagrams from (to, port) are received
    s.settimeout(5)
    return s


def ask(s: socket.socket, data: bytes, tries: int = 3) -> bytes:
    """Sends and waits for the answer; resends on a timeout (UDP may drop, e.g. while the
    listener's sockets start)."""
    for attempt in range(tries):
        s.send(data)
        try:
            return s.recv(65535)
        except socket.timeout:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def test_datagrams_are_relayed_unchanged_both_ways(sluice, echoes):
    a = echoes("a")
    port = free_udp_port()
    sluice(udp_config(port, [a.port]))
    with client(port) as s:
        assert ask(s, b"hello") == b"a:hello"
        assert ask(s, b"") == b"a:"  # an empty datagram is a datagram
        big = bytes(range(256)) * 234 + b"end"  # 59,907 bytes
        assert ask(s, big) == b"a:" + big
    # The target saw one peer for the whole flow: Sluice's socket towards it.
    assert len(a.peers) == 1 and sum(a.peers.values()) == 3


def test_a_flow_stays_on_one_target_and_flows_spread(sluice, echoes):
    a, b = echoes("a"), echoes("b")
    port = free_udp_port()
    sluice(udp_config(port, [a.port, b.port]))
    seen = Counter()
    for _ in range(60):
        with client(port) as s:
            first = ask(s, b"1").split(b":")[0]
            for i in range(3):
                assert ask(s, str(i).encode()).split(b":")[0] == first
            seen[first] += 1
    assert set(seen) == {b"a", b"b"} and min(seen.values()) >= 10, seen


def test_a_wildcard_listener_replies_from_the_address_reached(sluice, echoes):
    a = echoes("a")
    port = free_udp_port("0.0.0.0")
    sluice(udp_config(port, [a.port], bind="0.0.0.0"))
    for reached in ("127.0.0.1", "127.0.0.3"):
        with client(port, to=reached, source="127.0.0.2") as s:
            assert ask(s, b"where") == b"a:where", reached


def test_a_target_with_nothing_listening_gets_nothing_and_others_carry_on(sluice, echoes):
    a = echoes("a")
    dead = free_udp_port()
    port, good = free_udp_port(), free_udp_port()
    cfg = udp_config(port, [dead])
    cfg["LoadBalancers"][0]["Listeners"].append(
        {"Protocol": "UDP", "Port": good, "BindAddress": LOCAL,
         "DefaultActions": [{"Type": "forward", "TargetGroupName": "live"}]})
    cfg["TargetGroups"].append({"Name": "live", "Protocol": "UDP", "Port": a.port,
                                "HealthCheckEnabled": False,
                                "Targets": [{"Id": LOCAL, "Port": a.port}]})
    s_proc = sluice(cfg)
    with client(port) as s:
        s.settimeout(0.5)
        for _ in range(3):
            s.send(b"anyone?")
            with pytest.raises(socket.timeout):
                s.recv(100)
    with client(good) as s:
        assert ask(s, b"still") == b"a:still"
    assert s_proc.proc.alive()


UNBOUND_CONF = """server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    do-ip6: no
    do-tcp: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "sluice.test." static
    local-data: "www.sluice.test. 60 IN A 192.0.2.7"
    local-data: "mail.sluice.test. 60 IN A 192.0.2.25"
remote-control:
    control-enable: no
"""


def dig(port: int, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dig", "@127.0.0.1", "-p", str(port), name, "A", "+short",
                           "+tries=1", "+time=2"], capture_output=True, text=True, timeout=20)


def start_unbound(tmp_path, attempts: int = 3):
    """unbound answering on a free UDP port, and that port. A port another process takes
    between choosing and binding it makes unbound exit: another port is chosen. Once CI
    waited 20 s for an unbound that never answered; its stderr now says why."""
    conf = tmp_path / "unbound.conf"
    why = ""
    for _ in range(attempts):
        port = free_udp_port()
        conf.write_text(UNBOUND_CONF.format(port=port, dir=tmp_path))
        unbound = subprocess.Popen(["unbound", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: unbound.poll() is not None
                       or dig(port, "www.sluice.test").stdout.strip() == "192.0.2.7",
                       20, interval=0.2, what="unbound answering")
        except AssertionError:
            unbound.kill()
            raise AssertionError(f"unbound did not answer on {port} in 20 s: "
                                 f"{unbound.communicate(timeout=10)[1][-2000:]}")
        if unbound.poll() is None:
            return unbound, port
        why = unbound.communicate(timeout=10)[1][-2000:]
    raise AssertionError(f"unbound exited {attempts} times; the last said: {why}")


def test_dns_through_a_udp_listener_to_unbound(sluice, tmp_path):
    if shutil.which("unbound") is None or shutil.which("dig") is None:
        pytest.skip("unbound and dig (Debian: unbound, dnsutils) are not installed")
    unbound, resolver_port = start_unbound(tmp_path)
    try:
        port = free_udp_port()
        sluice(udp_config(port, [resolver_port]))
        wait_until(lambda: dig(port, "www.sluice.test").stdout.strip() == "192.0.2.7", 10,
                   interval=0.2, what="an answer through Sluice")
        assert dig(port, "mail.sluice.test").stdout.strip() == "192.0.2.25"
        nx = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "nope.sluice.test", "A",
                             "+tries=1", "+time=2"], capture_output=True, text=True, timeout=20)
        assert "status: NXDOMAIN" in nx.stdout, nx.stdout
    finally:
        unbound.terminate()
        unbound.wait(10)


def test_a_tcp_udp_listener_serves_both_transports_on_one_port(sluice, echoes):
    udp = echoes("u")  # a target answering UDP and, on the same port, TCP
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((LOCAL, udp.port))
    tcp.listen(8)

    def serve_tcp():
        while True:
            try:
                conn, _ = tcp.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(1000)
                conn.sendall(b"t:" + data)

    threading.Thread(target=serve_tcp, daemon=True).start()
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # and free for TCP
        probe.bind((LOCAL, port))
    cfg = udp_config(port, [udp.port])
    cfg["LoadBalancers"][0]["Listeners"][0]["Protocol"] = "TCP_UDP"
    cfg["TargetGroups"][0]["Protocol"] = "TCP_UDP"
    sluice(cfg)
    try:
        with client(port) as s:
            assert ask(s, b"dgram") == b"u:dgram"
        wait_until(lambda: _tcp_ask(port) == b"t:stream", 10, interval=0.1,
                   what="the TCP side answering")
    finally:
        tcp.close()


def _tcp_ask(port: int) -> bytes:
    try:
        with socket.create_connection((LOCAL, port), timeout=5) as s:
            s.sendall(b"stream")
            s.settimeout(5)
            return s.recv(100)
    except OSError:
        return b""


def test_no_other_socket_can_share_the_listeners_port(sluice, echoes):
    """UDP with SO_REUSEADDR on both sides lets a second socket bind the port and take the
    datagrams; Sluice's sockets use SO_REUSEPORT only, so the bind fails."""
    a = echoes("a")
    port = free_udp_port()
    sluice(udp_config(port, [a.port]))
    for option in (socket.SO_REUSEADDR, None):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as thief:
            if option is not None:
                thief.setsockopt(socket.SOL_SOCKET, option, 1)
            with pytest.raises(OSError):
                thief.bind((LOCAL, port))
    with client(port) as s:
        assert ask(s, b"mine") == b"a:mine"


def test_flow_sockets_stay_within_the_descriptor_budget(sluice, echoes):
    """With RLIMIT_NOFILE at 256 the process may hold 64 flow sockets: the 65th flow's
    datagrams are dropped while the first 64 flows keep working."""
    import resource
    a = echoes("a")
    port = free_udp_port()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        sluice(udp_config(port, [a.port]))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    clients = [client(port) for _ in range(80)]
    try:
        answered = 0
        for s in clients:
            s.settimeout(0.3)
            try:
                answered += ask(s, b"x", tries=2) == b"a:x"
            except socket.timeout:
                pass
        assert answered == 64, answered
        assert ask(clients[0], b"again") == b"a:again"  # admitted flows carry on
    finally:
        for s in clients:
            s.close()


def test_a_reload_keeps_flows_then_removing_the_listener_closes_them(sluice, echoes):
    a, b = echoes("a"), echoes("b")
    port, other = free_udp_port(), free_udp_port()
    cfg = udp_config(port, [a.port])
    s_proc = sluice(cfg)
    with client(port) as old:
        assert ask(old, b"1") == b"a:1"
        cfg["TargetGroups"][0]["Targets"] = [{"Id": LOCAL, "Port": b.port}]
        s_proc.reload(cfg)
        assert ask(old, b"2") == b"a:2"  # the flow keeps its target
        with client(port) as new:
            assert ask(new, b"3") == b"b:3"  # a new flow gets the new target
        cfg["LoadBalancers"][0]["Listeners"][0]["Port"] = other
        s_proc.reload(cfg)
        old.settimeout(0.5)
        old.send(b"4")
        with pytest.raises((socket.timeout, ConnectionRefusedError)):
            old.recv(100)  # the listener and its flows are gone
    with client(other) as s:
        assert ask(s, b"5") == b"b:5"
    assert s_proc.proc.alive()
