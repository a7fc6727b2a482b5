#!/usr/bin/env python3
"""Memory per idle keep-alive connection, plain and TLS 1.3, measured on one Sluice worker.

Starts Sluice (one worker) with an HTTP and an HTTPS listener in front of a demo target,
opens N connections to each listener in turn, makes one request on each and keeps it open,
and prints the RSS growth divided by N (from /proc/<pid>/status). Ports are chosen at run time.
Clients set TCP_NODELAY, as browsers do: without it, a TLS 1.3 handshake after which the server
sends nothing (no session ticket) waits ~40 ms per connection on Nagle and delayed ACK, and the
listener's 60 s idle timeout closes the first connections before the reading. The script checks
that Sluice still holds every connection when RSS is read.
    usage: bench/tools/tls-idle-memory.py [SLUICE_BINARY] [N]   (default build-bench/sluice 3000)
"""
import os
import pathlib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    return 0


def established(pid, port):
    """Sockets of process `pid` in ESTABLISHED state with local port `port`."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    held = set()  # by inode: a read of the table may list a socket twice while it changes
    for line in open(f"/proc/{pid}/net/tcp").readlines()[1:]:
        fields = line.split()
        if (int(fields[1].split(":")[1], 16) == port and fields[3] == "01" and
                fields[9] in inodes):
            held.add(fields[9])
    return len(held)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build-bench" / "sluice")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    work = pathlib.Path(tempfile.mkdtemp())
    subprocess.run([binary, "cert", "self-signed", "--name", "localhost", "--out-dir", str(work)],
                   check=True, capture_output=True)
    http_port, https_port, target_port = free_port(), free_port(), free_port()
    (work / "lb.yaml").write_text(f"""
Certificates: [{{Name: l, CertificateFile: localhost.crt, PrivateKeyFile: localhost.key}}]
LoadBalancers:
  - Name: m
    Listeners:
      - {{Protocol: HTTP, Port: {http_port}, BindAddress: 127.0.0.1,
         DefaultActions: [{{Type: forward, TargetGroupName: tg}}]}}
      - {{Protocol: HTTPS, Port: {https_port}, BindAddress: 127.0.0.1,
         SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06, Certificates: [l],
         DefaultActions: [{{Type: forward, TargetGroupName: tg}}]}}
TargetGroups: [{{Name: tg, Port: {target_port}, HealthCheckEnabled: false,
                 Targets: [{{Id: 127.0.0.1}}]}}]
""")
    target = subprocess.Popen([binary, "demo-target", "--listen", f"127.0.0.1:{target_port}"],
                              stdout=subprocess.DEVNULL)
    for _ in range(100):  # the target listens before the first request is forwarded to it
        try:
            socket.create_connection(("127.0.0.1", target_port)).close()
            break
        except OSError:
            time.sleep(0.05)
    lb = subprocess.Popen([binary, "run", "-c", str(work / "lb.yaml"), "--workers", "1"],
                          stderr=subprocess.PIPE)
    try:
        for line in lb.stderr:
            if b"ready:" in line:
                break
        ctx = ssl.create_default_context(cafile=str(work / "localhost.crt"))

        def one(tls):
            s = socket.create_connection(("127.0.0.1", https_port if tls else http_port),
                                         timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls:
                s = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"body-bytes" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    sys.exit("the connection closed before its response")
                data += chunk
            return s

        for tls in (False, True):
            warm = [one(tls) for _ in range(50)]
            time.sleep(0.5)
            base = rss(lb.pid)
            conns = [one(tls) for _ in range(n)]
            time.sleep(1.0)
            grown = rss(lb.pid) - base
            held = established(lb.pid, https_port if tls else http_port)
            print(f"{'TLS 1.3' if tls else 'plain'}: {n} idle keep-alive connections: "
                  f"{grown / n:.0f} B each (RSS {base >> 10} -> {(base + grown) >> 10} KiB)")
            if held != n + len(warm):
                sys.exit(f"Sluice held {held} of {n + len(warm)} connections: no valid reading")
            for c in conns + warm:
                c.close()
            time.sleep(1.0)
    finally:
        lb.terminate()
        target.terminate()
        lb.wait()
        target.wait()


if __name__ == "__main__":
    main()
