"""Client IP preservation (`preserve_client_ip.enabled`, reference §8.3) across a real network
the test builds: three network namespaces joined by veth pairs,

    client 10.201.1.2 --- 10.201.1.1 [Sluice] 10.201.2.1 --- 10.201.2.2 target

the target's default route through Sluice's host, and on Sluice's host the policy routing of
docs/nlb.md (what arrives from the target side is delivered locally, so replies to a client's
address reach Sluice's transparent socket). Sluice, the target and the client each run in
their own namespace, as separate processes.

Covered:
  - TCP: with the attribute the target sees the client's address and port; without it,
    Sluice's address on the target side; bytes flow both ways either way
  - UDP: the same for datagrams, and the reply reaches the client from the listener
  - a TLS listener to a TCP group keeps the client's address too
  - without CAP_NET_ADMIN Sluice refuses to start, naming the group and the capability
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess

import pytest

from conftest import SLUICE_BIN, Proc, dump_config, wait_until

PY = "/usr/bin/python3"
CLIENT_IP, LB_CLIENT_SIDE = "10.201.1.2", "10.201.1.1"
LB_TARGET_SIDE, TARGET_IP = "10.201.2.1", "10.201.2.2"
TARGET_PORT = 7000  # each namespace is the test's own: no other process holds a port there

# Answers each TCP connection with "<peer ip>:<peer port>\n" after reading a line, and each
# datagram with "<peer ip>:<peer port>".
TARGET_SERVER = r"""
import socket, sys, threading
port = int(sys.argv[1])
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, peer = s.accept()
        def serve(c=c, peer=peer):
            with c:
                c.settimeout(10)
                try:
                    c.recv(1024)
                    c.sendall(f"{peer[0]}:{peer[1]}\n".encode())
                except OSError:
                    pass
        threading.Thread(target=serve, daemon=True).start()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", port))
    while True:
        data, peer = u.recvfrom(2048)
        u.sendto(f"{peer[0]}:{peer[1]}".encode(), peer)
threading.Thread(target=udp, daemon=True).start()
print("serving", flush=True)
tcp()
"""

# Connects (TCP, or TLS with "tls") or sends (UDP) to host:port from the client namespace and
# prints "<own port> <answer> <answer's source>".
CLIENT = r"""
import socket, ssl, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
    s.bind(("0.0.0.0", 0))
    for _ in range(5):
        s.sendto(b"who am i", (host, port))
        try:
            data, src = s.recvfrom(2048); break
        except socket.timeout:
            continue
    print(s.getsockname()[1], data.decode(), f"{src[0]}:{src[1]}")
else:
    s = socket.create_connection((host, port), timeout=10)
    own = s.getsockname()[1]
    if kind == "tls":
        ctx = ssl.create_default_context(); ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    s.sendall(b"who am i\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1024)
        if not chunk: break
        data += chunk
    print(own, data.decode().strip(), f"{host}:{port}")
"""


def run(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=30)


class Network:
    """Three namespaces (client, lb, target), two veth links, routes and policy routing."""

    def __init__(self):
        tag = f"sl{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.client, self.lb, self.target = f"{tag}c", f"{tag}l", f"{tag}t"
        self.made = []

    def ns(self, name, *command):
        return ["ip", "netns", "exec", name, *command]

    def build(self):
        for name in (self.client, self.lb, self.target):
            run("ip", "netns", "add", name)
            self.made.append(name)
            run(*self.ns(name, "ip", "link", "set", "lo", "up"))
        run("ip", "link", "add", "c0", "netns", self.client, "type", "veth",
            "peer", "name", "c1", "netns", self.lb)
        run("ip", "link", "add", "t0", "netns", self.target, "type", "veth",
            "peer", "name", "t1", "netns", self.lb)
        for name, dev, addr in ((self.client, "c0", CLIENT_IP), (self.lb, "c1", LB_CLIENT_SIDE),
                                (self.lb, "t1", LB_TARGET_SIDE), (self.target, "t0", TARGET_IP)):
            run(*self.ns(name, "ip", "addr", "add", f"{addr}/24", "dev", dev))
            run(*self.ns(name, "ip", "link", "set", dev, "up"))
        run(*self.ns(self.client, "ip", "route", "add", "default", "via", LB_CLIENT_SIDE))
        # The target answers every address through Sluice's host (reference §8.3: targets
        # route return traffic through the load balancer).
        run(*self.ns(self.target, "ip", "route", "add", "default", "via", LB_TARGET_SIDE))
        # docs/nlb.md, "Client IP preservation": deliver locally what comes from the targets'
        # side, so a reply to the client's address finds Sluice's transparent socket.
        run(*self.ns(self.lb, "ip", "rule", "add", "iif", "t1", "lookup", "100", "pref", "100"))
        run(*self.ns(self.lb, "ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo",
                     "table", "100"))

    def destroy(self):
        for name in self.made:
            run("ip", "netns", "del", name, check=False)


@pytest.fixture
def network(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    net = Network()
    try:
        net.build()
    except subprocess.CalledProcessError as e:
        net.destroy()
        pytest.skip(f"cannot build network namespaces here: {e.stderr.strip()}")
    target = Proc(net.ns(net.target, PY, "-c", TARGET_SERVER, str(TARGET_PORT)), tmp_path,
                  "target")
    wait_until(lambda: "serving" in target.stdout(), 10, what="target server")
    yield net
    target.stop()
    net.destroy()


def network_lb(listeners, groups) -> dict:
    return {"LoadBalancers": [{"Name": "edge", "Type": "network", "Listeners": listeners}],
            "TargetGroups": groups}


def listener(protocol, port, group, **extra) -> dict:
    return {"Protocol": protocol, "Port": port, "BindAddress": LB_CLIENT_SIDE,
            "DefaultActions": [{"Type": "forward", "TargetGroupName": group}], **extra}


def group(name, protocol, preserve: bool) -> dict:
    return {"Name": name, "Protocol": protocol, "Port": TARGET_PORT, "HealthCheckProtocol": "TCP",
            "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
            "Attributes": {"preserve_client_ip.enabled": preserve},
            "Targets": [{"Id": TARGET_IP}]}


def start_sluice(net, tmp_path, config, drop_caps: str | None = None):
    path = tmp_path / "sluice.yaml"
    path.write_text(dump_config(config))
    command = [SLUICE_BIN, "run", "--config", str(path), "--workers", "2"]
    if drop_caps:  # capsh runs bash with what follows "--"
        command = ["capsh", f"--drop={drop_caps}", "--", "-c", shlex.join(command)]
    return Proc(net.ns(net.lb, *command), tmp_path, "sluice")


def started(proc):
    def ready():
        assert proc.alive(), f"sluice exited:\n{proc.stderr()}"
        return "ready:" in proc.stderr()

    wait_until(ready, 15, what="sluice ready")
    return proc


def ask(net, kind, port):
    out = run(*net.ns(net.client, PY, "-c", CLIENT, kind, LB_CLIENT_SIDE, str(port)))
    own, seen, source = out.stdout.split()
    return int(own), seen, source


def test_tcp_target_sees_the_client_address_only_when_preserved(network, tmp_path):
    config = network_lb(
        [listener("TCP", 8001, "kept"), listener("TCP", 8002, "plain")],
        [group("kept", "TCP", True), group("plain", "TCP", False)])
    proc = started(start_sluice(network, tmp_path, config))
    try:
        for _ in range(3):
            own, seen, _ = ask(network, "tcp", 8001)
            assert seen == f"{CLIENT_IP}:{own}"
        _, seen, _ = ask(network, "tcp", 8002)
        assert seen.split(":")[0] == LB_TARGET_SIDE
    finally:
        proc.stop()
    assert "AddressSanitizer" not in proc.stderr()


def test_udp_target_sees_the_client_address_and_the_reply_comes_from_the_listener(
        network, tmp_path):
    config = network_lb(
        [listener("UDP", 8003, "kept"), listener("UDP", 8004, "plain")],
        [group("kept", "UDP", True), group("plain", "UDP", False)])
    proc = started(start_sluice(network, tmp_path, config))
    try:
        for _ in range(3):
            own, seen, source = ask(network, "udp", 8003)
            assert seen == f"{CLIENT_IP}:{own}"
            assert source == f"{LB_CLIENT_SIDE}:8003"
        _, seen, source = ask(network, "udp", 8004)
        assert seen.split(":")[0] == LB_TARGET_SIDE
        assert source == f"{LB_CLIENT_SIDE}:8004"
    finally:
        proc.stop()


def test_tls_listener_keeps_the_client_address_to_a_tcp_group(network, tmp_path):
    cert, key = tmp_path / "lb.crt", tmp_path / "lb.key"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=edge.test", "-keyout", str(key), "-out", str(cert))
    config = network_lb([listener("TLS", 8443, "kept",
                                  Certificates=["edge"])],
                        [group("kept", "TCP", True)])
    config["Certificates"] = [{"Name": "edge", "CertificateFile": str(cert),
                               "PrivateKeyFile": str(key)}]
    proc = started(start_sluice(network, tmp_path, config))
    try:
        own, seen, _ = ask(network, "tls", 8443)
        assert seen == f"{CLIENT_IP}:{own}"
    finally:
        proc.stop()


def test_without_cap_net_admin_sluice_refuses_the_attribute(network, tmp_path):
    if shutil.which("capsh") is None:
        pytest.skip("capsh (libcap2-bin) is not installed")
    config = network_lb([listener("TCP", 8001, "kept")], [group("kept", "TCP", True)])
    proc = start_sluice(network, tmp_path, config, drop_caps="cap_net_admin,cap_net_raw")
    wait_until(lambda: not proc.alive(), 15, what="sluice to refuse the config")
    assert proc.popen.returncode != 0
    err = proc.stderr()
    assert "target group 'kept': preserve_client_ip.enabled needs transparent sockets " \
           "(IP_TRANSPARENT), which need CAP_NET_ADMIN or CAP_NET_RAW" in err, err


# Opens one TCP connection per port to host (with "same", all from one client port, as two
# hosts behind one NAT might), holding each, then prints per connection whether Sluice
# closed it ("closed") or it is still up ("open").
HOLD = r"""
import socket, sys, time
host, same, ports = sys.argv[1], sys.argv[2] == "same", [int(p) for p in sys.argv[3:]]
held, own = [], 0
for port in ports:
    s = socket.socket()
    if same:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", own))
        own = s.getsockname()[1]
    s.connect((host, port))
    held.append(s)
    time.sleep(0.3)
out = []
for s in held:
    s.settimeout(1.0)
    try:
        out.append("closed" if s.recv(1) == b"" else "data")
    except socket.timeout:
        out.append("open")
    except ConnectionResetError:
        out.append("closed")
print(" ".join(out))
"""

ADMIN_PORT = 9900  # on the load balancer namespace's loopback
SCRAPE = r"""
import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode())
"""


def port_allocation_errors(net) -> int:
    text = run(*net.ns(net.lb, PY, "-c", SCRAPE, str(ADMIN_PORT))).stdout
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("AWS_NetworkELB_PortAllocationErrorCount{")]
    assert len(values) == 1, text
    return int(values[0])


def test_a_client_port_already_bound_towards_the_target_is_a_port_allocation_error(
        network, tmp_path):
    """Reference §8.3: with client IP preservation, two clients' connections that reach the
    same target from one address and port cannot both be relayed ("socket reuse"); the
    second is refused and counted in PortAllocationErrorCount."""
    config = network_lb([listener("TCP", 8001, "kept"), listener("TCP", 8005, "kept")],
                        [group("kept", "TCP", True)])
    config["Admin"] = {"Address": "127.0.0.1", "Port": ADMIN_PORT}
    proc = started(start_sluice(network, tmp_path, config))
    try:
        assert port_allocation_errors(network) == 0
        out = run(*network.ns(network.client, PY, "-c", HOLD, LB_CLIENT_SIDE, "same",
                              "8001", "8005")).stdout.split()
        assert out == ["open", "closed"], out
        assert port_allocation_errors(network) == 1
    finally:
        proc.stop()


def test_an_exhausted_ephemeral_range_is_a_port_allocation_error(network, tmp_path):
    """Without client IP preservation each flow takes a source port of Sluice's host: with two
    ports in the range (a sysctl of the load balancer's namespace alone), a third flow to
    the same target has none, is closed, and counts in PortAllocationErrorCount."""
    run(*network.ns(network.lb, "sysctl", "-q", "-w",
                    "net.ipv4.ip_local_port_range=40000 40001"))
    plain = group("plain", "TCP", False)
    plain["HealthCheckEnabled"] = False  # a check would take one of the two ports
    config = network_lb([listener("TCP", 8002, "plain")], [plain])
    config["Admin"] = {"Address": "127.0.0.1", "Port": ADMIN_PORT}
    proc = started(start_sluice(network, tmp_path, config))
    try:
        out = run(*network.ns(network.client, PY, "-c", HOLD, LB_CLIENT_SIDE, "any",
                              "8002", "8002", "8002")).stdout.split()
        assert out == ["open", "open", "closed"], out
        assert port_allocation_errors(network) == 1
    finally:
        proc.stop()
