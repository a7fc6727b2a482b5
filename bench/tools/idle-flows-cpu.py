#!/usr/bin/env python3
"""CPU a Sluice worker spends on idle network load balancer flows.

Starts Sluice (one worker) with a TCP listener (tcp.idle_timeout.seconds 600) in front of a
target that accepts and holds every connection, opens N flows and leaves them silent, waits
until each has been quiet for more than 10 s (the old header-timeout check period), then
reads Sluice's utime+stime (/proc/<pid>/stat) over SECONDS and prints CPU milliseconds per
second and per 1,000 idle flows. Ports are chosen at run time. The flows' count is checked at
the end (each is still open through Sluice).
    usage: bench/tools/idle-flows-cpu.py [SLUICE_BINARY] [N] [SECONDS]
           (default build-bench/sluice 4000 30)
"""
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hold_target(port, held, stop):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4096)
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        held.append(c)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build-bench" / "sluice")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    work = pathlib.Path(tempfile.mkdtemp())
    listen, target = free_port(), free_port()
    (work / "sluice.yaml").write_text(f"""LoadBalancers:
  - Name: net
    Type: network
    Listeners:
      - Protocol: TCP
        Port: {listen}
        BindAddress: 127.0.0.1
        Attributes: {{tcp.idle_timeout.seconds: "600"}}
        DefaultActions: [{{Type: forward, TargetGroupName: held}}]
TargetGroups:
  - Name: held
    Protocol: TCP
    Port: {target}
    HealthCheckEnabled: false
    Targets: [{{Id: 127.0.0.1}}]
""")
    held, stop = [], threading.Event()
    t = threading.Thread(target=hold_target, args=(target, held, stop), daemon=True)
    t.start()
    proc = subprocess.Popen([binary, "run", "--config", str(work / "sluice.yaml"), "--workers",
                             "1"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        clients = [socket.create_connection(("127.0.0.1", listen), timeout=10) for _ in range(n)]
        deadline = time.time() + 60
        while len(held) < n + 1:  # the readiness probe's connection too
            if time.time() > deadline or proc.poll() is not None:
                sys.exit(f"the target holds {len(held)} of {n + 1} connections; "
                         f"Sluice: {proc.poll()}")
            time.sleep(0.1)
        time.sleep(12)  # every flow quiet for more than 10 s
        c0, t0 = cpu_seconds(proc.pid), time.time()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(proc.pid), time.time()
        open_now = 0
        for c in clients:  # open: nothing to read yet (EOF or a reset: ended)
            c.setblocking(False)
            try:
                c.recv(1)
            except BlockingIOError:
                open_now += 1
            except OSError:
                pass
        ms_per_s = (c1 - c0) * 1000 / (t1 - t0)
        print(f"{n} idle flows for {t1 - t0:.1f} s: Sluice CPU {ms_per_s:.2f} ms/s "
              f"({ms_per_s * 1000 / n:.3f} ms/s per 1,000 flows); {open_now} of {n} still open")
        for c in clients:
            c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)  # a graceful stop: open flows get the shutdown timeout
        stop.set()


if __name__ == "__main__":
    main()
