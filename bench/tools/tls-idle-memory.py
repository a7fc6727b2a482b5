#!/usr/bin/env python3
"""Memory per idle keep-alive connection, plain and TLS 1.3, measured on one Sluice worker.

Starts Sluice (one worker) with an HTTP and an HTTPS listener in front of a demo target,
opens N connections to each listener in turn, makes one request on each and keeps it open,
and prints the RSS growth divided by N (from /proc/<pid>/status). Ports are chosen at run time.
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
    lb = subprocess.Popen([binary, "run", "-c", str(work / "lb.yaml"), "--workers", "1"],
                          stderr=subprocess.PIPE)
    try:
        for line in lb.stderr:
            if b"ready:" in line:
                break
        ctx = ssl.create_default_context(cafile=str(work / "localhost.crt"))

        def one(tls):
            s = socket.create_connection(("127.0.0.1", https_port if tls else http_port))
            if tls:
                s = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"body-bytes" not in data:
                data += s.recv(65536)
            return s

        for tls in (False, True):
            warm = [one(tls) for _ in range(50)]
            time.sleep(0.5)
            base = rss(lb.pid)
            conns = [one(tls) for _ in range(n)]
            time.sleep(1.0)
            grown = rss(lb.pid) - base
            print(f"{'TLS 1.3' if tls else 'plain'}: {n} idle keep-alive connections: "
                  f"{grown / n:.0f} B each (RSS {base >> 10} -> {(base + grown) >> 10} KiB)")
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
