#!/usr/bin/python3
"""Health-check workload: what the health checker costs with many targets (issue 9).

    bench/tools/health_scale.py --targets 10000 --interval 5 --mode http
    bench/tools/health_scale.py --targets 100000 --interval 30 --mode refused

Starts Sluice with N targets in groups of 1,000 (the per-group limit), each group used by a
path rule so that it is checked. The targets are distinct loopback addresses 127.A.B.C on one
port:
  --mode http     a responder (a child process of this script, one epoll loop) listens on
                  every target address and answers each check "200 OK" (N listening sockets:
                  N must stay well below `ulimit -n`);
  --mode refused  nothing listens: every check is refused at once (RST), a failed check. This
                  is how 100,000 targets fit under a 20,000-descriptor limit.

Measures the sluice process only (utime+stime of all its threads from /proc/<pid>/stat):
  startup CPU-s      until its "ready:" line (config parse and compile, first checks begun);
  first-round CPU-s  from "ready:" until one interval and 2 s later (the first round is
                     spread over one interval);
  steady CPU %       over --window seconds after that;
  RSS per target     (VmRSS after the window - VmRSS of the same layout with one target) / N;
  max fds            the most open descriptors sampled every 0.5 s;
and, once at the end, the target states from the admin endpoint (so that fetching the big
JSON does not disturb the measurement). Prints one line of key=value figures (and --json).

Standard library only.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")
GROUP_SIZE = 1000


def target_ip(i: int) -> str:
    """Distinct loopback addresses 127.A.B.C, C in 1..250 (never .0 or .255)."""
    return f"127.{10 + i // 62500}.{(i // 250) % 250}.{1 + i % 250}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_config(n, interval, timeout, target_port, listen_port, admin_port, protocol):
    groups = max(1, (n + GROUP_SIZE - 1) // GROUP_SIZE)
    out = ["LoadBalancers:", "  - Name: health-bench", "    Listeners:",
           "      - Protocol: HTTP", f"        Port: {listen_port}",
           "        BindAddress: 127.0.0.1", "        DefaultActions:",
           "          - Type: fixed-response",
           "            FixedResponseConfig: {StatusCode: \"404\"}", "        Rules:"]
    for g in range(groups):
        out += [f"          - Priority: {g + 1}", "            Conditions:",
                "              - Field: path-pattern",
                f"                PathPatternConfig: {{Values: [\"/g{g}/*\"]}}",
                "            Actions:", "              - Type: forward",
                f"                TargetGroupName: g{g}"]
    out += ["Admin:", "  Address: 127.0.0.1", f"  Port: {admin_port}", "TargetGroups:"]
    for g in range(groups):
        out += [f"  - Name: g{g}", "    Protocol: HTTP", f"    Port: {target_port}",
                f"    HealthCheckProtocol: {protocol}",
                f"    HealthCheckIntervalSeconds: {interval}",
                f"    HealthCheckTimeoutSeconds: {timeout}", "    Targets:"]
        if protocol == "HTTP":
            out.insert(len(out) - 1, "    HealthCheckPath: /health")
        for i in range(g * GROUP_SIZE, min(n, (g + 1) * GROUP_SIZE)):
            out.append(f"      - Id: {target_ip(i)}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# The responder (--mode http), run as a child process: python3 health_scale.py --responder


def responder(n: int, port: int):
    sel = selectors.DefaultSelector()
    for i in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((target_ip(i), port))
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, None)
    print("listening", flush=True)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    while True:
        for key, _ in sel.select():
            if key.data is None:  # a listener
                try:
                    c, _ = key.fileobj.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, b"")
                continue
            c = key.fileobj
            try:
                got = c.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                got = b""
            head = key.data + got
            if got and b"\r\n\r\n" not in head:
                sel.modify(c, selectors.EVENT_READ, head)
                continue
            sel.unregister(c)
            try:
                if got:
                    c.sendall(reply)
            except OSError:
                pass
            c.close()


# --------------------------------------------------------------------------------------------
# /proc readers


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU-seconds of the process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # utime, stime


def cpu_seconds(pid: int) -> float:
    return sum(cpu_split(pid))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_sluice(binary, config_text, workdir, tag):
    path = workdir / f"{tag}.yaml"
    path.write_text(config_text)
    err = open(workdir / f"{tag}.err", "wb")
    p = subprocess.Popen([binary, "run", "--config", str(path), "--workers", "2"],
                         stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    log = workdir / f"{tag}.err"

    def ready():
        if p.poll() is not None:
            raise SystemExit(f"sluice exited: {log.read_text()[-2000:]}")
        return "ready:" in log.read_text(errors="replace")

    wait_for(ready, 600, "sluice ready")
    return p, log


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def states(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/targets", timeout=60) as r:
        doc = json.load(r)
    return Counter(d["TargetHealth"]["State"] for g in doc["TargetGroups"]
                   for d in g["TargetHealthDescriptions"])


def baseline_rss(args, workdir):
    """VmRSS of the same layout with one target, after it settled."""
    cfg = render_config(1, args.interval, args.timeout, free_port(), free_port(), free_port(),
                        args.protocol)
    p, _ = start_sluice(args.sluice, cfg, workdir, "baseline")
    try:
        time.sleep(2)
        return rss_kib(p.pid)
    finally:
        stop(p)


def measure(args, workdir):
    target_port = free_port()
    resp = None
    if args.mode == "http":
        resp = subprocess.Popen([sys.executable, __file__, "--responder", str(args.targets),
                                 "--port", str(target_port)], stdout=subprocess.PIPE)
        if resp.stdout.readline().strip() != b"listening":
            raise SystemExit("responder failed to start")
    else:
        target_port = 9  # discard: nothing listens on 127.A.B.C:9, checks are refused
    admin = free_port()
    cfg = render_config(args.targets, args.interval, args.timeout, target_port, free_port(),
                        admin, args.protocol)
    t_start = time.monotonic()
    p, log = start_sluice(args.sluice, cfg, workdir, "sluice")
    try:
        pid = p.pid
        r = {"targets": args.targets, "interval_s": args.interval, "mode": args.mode,
             "sluice": args.sluice}
        c_ready = cpu_seconds(pid)
        r["startup_s"] = round(time.monotonic() - t_start, 2)
        r["startup_cpu_s"] = round(c_ready, 2)
        max_fds = 0
        t_first = time.monotonic() + args.interval + 2
        while time.monotonic() < t_first:
            max_fds = max(max_fds, open_fds(pid))
            time.sleep(0.5)
        (u0, s0), t0 = cpu_split(pid), time.monotonic()
        c0 = u0 + s0
        r["first_round_cpu_s"] = round(c0 - c_ready, 2)
        while time.monotonic() < t0 + args.window:
            max_fds = max(max_fds, open_fds(pid))
            time.sleep(0.5)
        (u1, s1), t1 = cpu_split(pid), time.monotonic()
        r["steady_cpu_pct"] = round(100 * (u1 + s1 - c0) / (t1 - t0), 2)
        r["steady_user_pct"] = round(100 * (u1 - u0) / (t1 - t0), 2)
        r["steady_sys_pct"] = round(100 * (s1 - s0) / (t1 - t0), 2)
        r["window_s"] = round(t1 - t0, 1)
        r["rss_kib"] = rss_kib(pid)
        r["max_fds"] = max_fds
        r["states"] = dict(states(admin))
        r["log_tail"] = log.read_text(errors="replace").splitlines()[-3:]
    finally:
        stop(p)
        if resp is not None:
            resp.kill()
            resp.wait()
    base = baseline_rss(args, workdir)
    r["baseline_rss_kib"] = base
    r["rss_per_target_b"] = round((r["rss_kib"] - base) * 1024 / args.targets)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--interval", type=int, default=5, help="HealthCheckIntervalSeconds")
    ap.add_argument("--timeout", type=int, default=2, help="HealthCheckTimeoutSeconds")
    ap.add_argument("--mode", choices=("http", "refused"), default="refused")
    ap.add_argument("--protocol", choices=("HTTP", "TCP"), default="HTTP")
    ap.add_argument("--window", type=float, default=30, help="steady-state window, seconds")
    ap.add_argument("--sluice", default=str(ROOT / "build" / "sluice"))
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--responder", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.responder is not None:
        responder(args.responder, args.port)
        return
    with tempfile.TemporaryDirectory(prefix="sluice-health-bench-") as d:
        r = measure(args, Path(d))
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(" ".join(f"{k}={v}" for k, v in r.items() if k != "log_tail"))


if __name__ == "__main__":
    main()
