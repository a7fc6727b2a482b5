#!/usr/bin/python3
"""Side-by-side benchmark: Sluice vs HAProxy and NGINX (and the byte-forwarding floor).

    bench/run.py            full run (about 1.5 h on the 2-vCPU bench VM)
    bench/run.py --smoke    one short round of everything (about a minute; CI)

Method, figures and caveats: docs/performance.md. Results go to bench/results/<timestamp>/
(results.md, results.json, chart.png, the rendered configs and the logs).

Exit status: 0 when every measurement finished with 0 errors; 1 when any request failed
(a connect/read/write error, a timeout, or a non-2xx status) or a proxy returned a wrong
response; 2 when the harness itself broke (missing tool, port in use, a process that did not
start). Performance numbers never change the exit status.

Standard library only; python3-matplotlib (Debian) is optional, for chart.png.
"""

import argparse
import datetime
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SHARED_BENCH = (ROOT / ".." / "shared" / "bench").resolve()
CLK_TCK = os.sysconf("SC_CLK_TCK")

PROXY_ADDR = "127.0.0.1"  # the floor forwarder can only listen here
BACKEND_ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]
DIRECT_ADDR = "127.0.0.15"  # the "direct" chain's own responder
PEERS = ("sluice", "haproxy", "nginx")  # the proxies compared; floor/direct are references
ALL_CHAINS = ("sluice", "haproxy", "nginx", "floor", "direct")
RULES_CHAINS = ("sluice-1rule", "sluice-1000rules")


class HarnessError(Exception):
    """The harness could not do its job (as opposed to a proxy failing requests)."""


class ProxyDied(Exception):
    """The proxy under test exited during a measurement: an error of that proxy, recorded as
    such; the run goes on with the next measurement."""


# --------------------------------------------------------------------------------------------
# Workloads and layouts


class Workload:
    def __init__(self, name, title, body=13, close=False, path="/", latency=True, kind="http"):
        self.name, self.title, self.body, self.close = name, title, body, close
        self.path, self.latency, self.kind = path, latency, kind


WORKLOADS = {
    "ka-13b": Workload("ka-13b", "keep-alive, 13 B response", body=13),
    "ka-1k": Workload("ka-1k", "keep-alive, 1 KiB response", body=1024),
    "ka-64k": Workload("ka-64k", "keep-alive, 64 KiB response", body=65536),
    "close-13b": Workload("close-13b", "new connection per request, 13 B", body=13, close=True),
    "rules": Workload("rules", "1,000 rules, request matches the last (vs 1 rule)", body=13,
                      path="/r999/x", latency=False, kind="rules"),
    "idle": Workload("idle", "idle keep-alive connections", body=13, latency=False, kind="idle"),
}


def chains_for(workload, selected):
    if workload.kind == "rules":
        return [c for c in RULES_CHAINS] if "sluice" in selected else []
    if workload.kind == "idle":
        return [c for c in selected if c in PEERS]
    chains = list(selected)
    if workload.close:
        # Neither instrument speaks HTTP: the floor forwards bytes and keeps the connection;
        # the responder ignores "Connection: close". Neither can serve this workload.
        chains = [c for c in chains if c not in ("floor", "direct")]
    return chains


class Layout:
    """Where processes run. A: proxy alone on one core with 1 worker; load generator and
    backends on the other. B: 2 workers, nothing pinned (what a user of the box gets)."""

    def __init__(self, name, workers, proxy_cpus, load_cpus, wrk_threads, conns):
        self.name, self.workers = name, workers
        self.proxy_cpus, self.load_cpus = proxy_cpus, load_cpus
        self.wrk_threads, self.conns = wrk_threads, conns

    def describe(self):
        if self.name == "A":
            return (f"layout A: proxy with 1 worker pinned to CPU {self.proxy_cpus}; load generator "
                    f"(1 thread, {self.conns} connections) and the 4 backends on CPU {self.load_cpus}")
        return (f"layout B: proxy with {self.workers} workers, nothing pinned; load generator with "
                f"{self.wrk_threads} threads and {self.conns} connections")


def make_layouts(names):
    cpus = sorted(os.sched_getaffinity(0))
    out = []
    for n in names:
        if n == "A":
            if len(cpus) < 2:
                print("warning: fewer than 2 CPUs available; layout A runs unpinned", flush=True)
                out.append(Layout("A", 1, None, None, 1, 64))
            else:
                out.append(Layout("A", 1, str(cpus[1]), str(cpus[0]), 1, 64))
        elif n == "B":
            out.append(Layout("B", 2, None, None, 2, 128))
        else:
            raise HarnessError(f"unknown layout {n!r} (A or B)")
    return out


# --------------------------------------------------------------------------------------------
# Processes: every process the harness starts is registered and killed on the way out.


class Procs:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.live = {}  # pid -> (name, Popen, log file)

    def start(self, name, argv, cpus=None, env=None):
        if cpus is not None:
            argv = ["taskset", "-c", cpus] + list(argv)
        log = open(self.log_dir / f"{name}.log", "ab")
        log.write(f"--- {datetime.datetime.now().isoformat()} {' '.join(map(str, argv))}\n".encode())
        log.flush()
        # restore_signals=False keeps Python's SIG_IGN for SIGPIPE in the child: the shared
        # floor forwarder does not ignore it itself, and a client closing while it writes a
        # 64 KiB body would kill it (seen in CI), which is an instrument fault, not a finding.
        p = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                             restore_signals=False)
        self.live[p.pid] = (name, p, log)
        return p

    def stop(self, p, sig=signal.SIGTERM, grace=5.0):
        entry = self.live.pop(p.pid, None)
        for s, wait in ((sig, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(p.pid, s)  # the whole group: nginx workers, etc.
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Leftover group members (a worker whose master died first).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if entry:
            entry[2].close()

    def stop_all(self):
        for pid in list(self.live):
            self.stop(self.live[pid][1], grace=2.0)

    def run(self, name, argv, cpus=None, timeout=60.0):
        """Runs a short-lived process to completion (killed on timeout). Returns
        (returncode, stdout, cpu_seconds)."""
        if cpus is not None:
            argv = ["taskset", "-c", cpus] + list(argv)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.live[p.pid] = (name, p, open(os.devnull, "wb"))
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(p, signal.SIGKILL)
            raise HarnessError(f"{name} did not finish within {timeout:.0f} s")
        except BaseException:  # Ctrl-C, SIGTERM: take the child down with us
            self.stop(p, signal.SIGKILL)
            raise
        if p.pid in self.live:
            self.live.pop(p.pid)[2].close()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            log.write(f"--- {' '.join(map(str, argv))}\n".encode() + out + err)
        return p.returncode, out.decode(errors="replace"), cpu


# --------------------------------------------------------------------------------------------
# /proc readers


def descendants(pid):
    """pid and all its descendants (processes, not threads)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pids):
    """utime+stime of every process (all its threads) in pids, in clock ticks."""
    total = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total[p] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total


def cpu_delta_seconds(before, after):
    return sum(after[p] - before.get(p, 0) for p in after) / CLK_TCK


def memory_kib(pids):
    """(RSS, PSS) in KiB summed over pids, from smaps_rollup."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def tcp_counters():
    """Selected system-wide TCP counters from /proc/net/snmp."""
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Tcp:")]
    d = dict(zip(lines[0][1:], (int(x) for x in lines[1][1:])))
    return {"active_opens": d["ActiveOpens"], "retrans_segs": d["RetransSegs"]}


def cpu_times():
    """Aggregate (busy, steal, total) jiffies from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    total = sum(v[:8])
    return (total - idle - iowait - steal, steal, total)


def pct(a, b, field):
    dt = b[2] - a[2]
    return 100.0 * (b[field] - a[field]) / dt if dt > 0 else 0.0


def _hex_addr(ip, port):
    a = socket.inet_aton(ip)[::-1].hex().upper()
    return f"{a}:{port:04X}"


def tcp_sockets():
    """(local, remote, state) hex strings of every IPv4 TCP socket."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            out.append((parts[1], parts[2], parts[3]))
    return out


def listening(ip, port):
    """True when something listens on ip:port or on 0.0.0.0:port."""
    targets = {_hex_addr(ip, port), _hex_addr("0.0.0.0", port)}
    return any(st == "0A" and loc in targets for loc, _, st in tcp_sockets())


def free_port_run(addrs_for_offset, count, start=18080, stop=60000, step=7):
    """The first port p from `start` such that p + i is free on every address of
    addrs_for_offset(i) for i < count (nothing listens there and a bind succeeds). Ports are
    chosen at run time, so that a port some other process holds never fails a run."""
    for base in range(start, stop - count, step):
        if all(_can_bind(ip, base + i) for i in range(count) for ip in addrs_for_offset(i)):
            return base
    raise HarnessError(f"no {count} consecutive free ports between {start} and {stop}")


def _can_bind(ip, port):
    if listening(ip, port):
        return False
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def established_to(ip, port):
    local = _hex_addr(ip, port)
    return sum(1 for loc, _, st in tcp_sockets() if st == "01" and loc == local)


def upstream_conns(backend_port):
    """Local ports of established proxy->backend connections."""
    remotes = {_hex_addr(a, backend_port) for a in BACKEND_ADDRS}
    return {loc for loc, rem, st in tcp_sockets() if st == "01" and rem in remotes}


# --------------------------------------------------------------------------------------------
# Tiny HTTP client for checks and for the idle-connection test


def parse_response(buf):
    """Returns (status, body_length_expected, head_len, close) once the head is complete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    try:
        status = int(head[0].split()[1])
    except (IndexError, ValueError):
        return (0, 0, end + 4, True)
    length, close = 0, False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            close = True
    return (status, length, end + 4, close)


def http_check(ip, port, path, body, close, host=None, timeout=5.0):
    """One request through the chain. Returns None when the response is what the backend
    sends (status 200, `body` bytes) and, with `close`, the chain closes the connection
    afterwards; else a description of what is wrong."""
    host = host or f"{ip}:{port}"
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sluice-bench-check\r\n"
    req += "Connection: close\r\n\r\n" if close else "\r\n"
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.sendall(req.encode())
            buf = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                parsed = parse_response(buf)
                if parsed and len(buf) >= parsed[2] + parsed[1]:
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            parsed = parse_response(buf)
            if not parsed:
                return f"no complete response head ({len(buf)} bytes)"
            status, length, head_len, _ = parsed
            if status != 200:
                return f"status {status}"
            if length != body or len(buf) - head_len < body:
                return f"body {len(buf) - head_len} of {length} bytes, expected {body}"
            if close:
                s.settimeout(2.0)
                try:
                    rest = s.recv(1)
                except socket.timeout:
                    return "connection not closed after a 'Connection: close' request"
                if rest:
                    return "bytes after the response"
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    return None


def wait_listening(ip, port, proc, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"{what} exited with status {proc.returncode} during start-up "
                               f"(see its log)")
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise HarnessError(f"{what} is not accepting connections on {ip}:{port} after {timeout} s")


def open_idle_connections(ip, port, n, path, batch=250, timeout=20.0):
    """Opens n connections that each make one request and then stay silent. Returns
    (sockets, errors)."""
    req = f"GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: sluice-bench-idle\r\n\r\n"
    req = req.encode()
    kept, errors = [], 0
    deadline = time.monotonic() + timeout
    for start in range(0, n, batch):
        sel = selectors.DefaultSelector()
        pending = 0
        for _ in range(min(batch, n - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((ip, port))
            if rc not in (0, 115):  # EINPROGRESS
                errors += 1
                s.close()
                continue
            sel.register(s, selectors.EVENT_WRITE, {"buf": b""})
            pending += 1
        while pending:
            if time.monotonic() > deadline:
                raise HarnessError(f"idle connections: no progress within {timeout} s")
            for key, ev in sel.select(timeout=1.0):
                s, st = key.fileobj, key.data
                if ev & selectors.EVENT_WRITE:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        errors += 1
                        sel.unregister(s)
                        s.close()
                        pending -= 1
                        continue
                    s.send(req)
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                st["buf"] += chunk
                parsed = parse_response(st["buf"])
                done = parsed and len(st["buf"]) >= parsed[2] + parsed[1]
                if not chunk or done:
                    sel.unregister(s)
                    pending -= 1
                    if done and parsed[0] == 200 and not parsed[3]:
                        kept.append(s)
                    else:
                        errors += 1
                        s.close()
        sel.close()
    return kept, errors


# --------------------------------------------------------------------------------------------
# Configs


def render(template, values):
    text = (BENCH / "configs" / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    left = re.search(r"@[A-Z_]+@", code)
    if left:
        raise HarnessError(f"{template}: placeholder {left.group(0)} not filled")
    return text


def sluice_rules(n):
    if n == 0:
        return ""
    lines = ["        Rules:"]
    for i in range(n):
        # With one rule it is the last one of the 1,000-rule list, so both match the same way.
        k = i if n > 1 else 999
        lines += [f"          - Priority: {i + 1}",
                  "            Conditions:",
                  "              - Field: path-pattern",
                  f"                PathPatternConfig: {{Values: [\"/r{k}/*\"]}}",
                  "            Actions:",
                  "              - Type: forward",
                  "                TargetGroupName: be"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The run


class Bench:
    def __init__(self, args, out_dir):
        self.args = args
        self.out = out_dir
        self.cfg_dir = out_dir / "configs"
        self.log_dir = out_dir / "logs"
        self.work = out_dir / "work"
        for d in (self.cfg_dir, self.log_dir, self.work):
            d.mkdir(parents=True, exist_ok=True)
        self.procs = Procs(self.log_dir)
        self.tools = {}
        self.measurements = []
        self.problems = []  # validation failures: wrong responses, unclosed connections, ...
        self.rng = random.Random(args.seed)
        self.backends = []
        self.rates = {}  # (layout, workload) -> open-loop rate

    # ---- set-up ----------------------------------------------------------------------------

    def build_tools(self):
        tools_dir = Path(self.args.build_dir) / "bench-tools"
        tools_dir.mkdir(parents=True, exist_ok=True)
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise HarnessError("no C compiler (apt-get install build-essential)")
        sources = {
            "responder": SHARED_BENCH / "responder.c",
            "floor-forwarder": SHARED_BENCH / "floor-forwarder.c",
            "sized-responder": BENCH / "tools" / "sized-responder.c",
            "openloop": BENCH / "tools" / "openloop.c",
        }
        for name, src in sources.items():
            if not src.exists():
                raise HarnessError(f"missing instrument source {src}")
            exe = tools_dir / name
            if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
                r = subprocess.run([cc, "-O2", "-w", "-o", str(exe), str(src)],
                                   capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    raise HarnessError(f"compiling {src} failed:\n{r.stderr}")
            self.tools[name] = exe

    def build_sluice(self):
        if self.args.sluice:
            exe = Path(self.args.sluice)
        else:
            bdir = Path(self.args.build_dir)
            exe = bdir / "sluice"
            if not self.args.no_build:
                if not (bdir / "build.ninja").exists():
                    cmd = ["cmake", "-S", str(ROOT), "-B", str(bdir), "-G", "Ninja",
                           "-DCMAKE_BUILD_TYPE=Release", "-DSLUICE_TESTS=OFF"]
                    print("+ " + " ".join(cmd), flush=True)
                    subprocess.run(cmd, check=True, timeout=600, stdout=subprocess.DEVNULL)
                cmd = ["ninja", "-C", str(bdir), "sluice"]
                print("+ " + " ".join(cmd), flush=True)
                r = subprocess.run(cmd, timeout=3600, capture_output=True, text=True)
                if r.returncode != 0:
                    raise HarnessError(f"building sluice failed:\n{r.stdout[-3000:]}")
        if not exe.exists():
            raise HarnessError(f"{exe} not found (build it, or pass --sluice)")
        self.tools["sluice"] = exe.resolve()

    def check_environment(self, chains):
        for tool in ("wrk", "taskset"):
            if not shutil.which(tool):
                raise HarnessError(f"{tool} not found (apt-get install -y wrk util-linux)")
        missing = [c for c in ("haproxy", "nginx") if c in chains and not shutil.which(c)
                   and not os.path.exists(f"/usr/sbin/{c}")]
        if missing:
            if self.args.smoke:
                print(f"warning: {', '.join(missing)} not installed (apt-get install -y "
                      f"{' '.join(missing)}); skipped", flush=True)
                chains = [c for c in chains if c not in missing]
            else:
                raise HarnessError(f"not installed: {', '.join(missing)} "
                                   f"(apt-get install -y {' '.join(missing)}, or use --proxies)")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        need = self.args.idle_conns + 200
        if hard < need:
            print(f"warning: fd limit {hard} < {need}; idle test reduced", flush=True)
            self.args.idle_conns = max(100, hard - 1000)
        # The interleaved open-loop phase runs every chain at once on --port, --port + 1, ...
        # Ports not given are chosen now among the free ones.
        if self.args.port is None:
            self.args.port = free_port_run(lambda i: [PROXY_ADDR], len(chains))
        if self.args.backend_port is None:
            self.args.backend_port = free_port_run(lambda i: BACKEND_ADDRS + [DIRECT_ADDR], 1,
                                                   start=19000)
        proxy_ports = [(PROXY_ADDR, self.args.port + i) for i in range(len(chains))]
        for ip, port in proxy_ports + [(DIRECT_ADDR, self.args.backend_port)] + \
                [(a, self.args.backend_port) for a in BACKEND_ADDRS]:
            if listening(ip, port):
                raise HarnessError(f"{ip}:{port} is already in use; choose other ports with "
                                   f"--port / --backend-port (ss -ltnp shows who holds it)")
        return chains

    def versions(self):
        def cmd(argv):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
                return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else ""
            except (OSError, subprocess.TimeoutExpired):
                return "n/a"

        def deb(pkg):
            return cmd(["dpkg-query", "-W", "-f", "${Version}", pkg]) or "not installed"

        git = cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        dirty = cmd(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain",
                     "--untracked-files=no"])
        model = "unknown"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        return {
            "sluice": f"{git}{' + uncommitted changes' if dirty else ''}",
            "haproxy": cmd(["haproxy", "-v"]), "haproxy_deb": deb("haproxy"),
            "nginx": cmd(["nginx", "-v"]), "nginx_deb": deb("nginx"),
            "wrk": cmd(["wrk", "-v"]), "wrk_deb": deb("wrk"),
            "cc": cmd(["cc", "--version"]),
            "kernel": os.uname().release, "cpu": model,
            "cpus_available": sorted(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
        }

    # ---- backends and proxies ----------------------------------------------------------------

    def start_backends(self, layout, workload):
        self.stop_backends()
        shared = workload.body == 13 and not self.args.sized_backend_only
        exe = self.tools["responder" if shared else "sized-responder"]
        for addr in BACKEND_ADDRS:
            argv = [exe, self.args.backend_port, addr] + ([] if shared else [workload.body])
            p = self.procs.start(f"backend-{addr}", argv, cpus=layout.load_cpus)
            self.backends.append(p)
        for addr, p in zip(BACKEND_ADDRS, self.backends):
            wait_listening(addr, self.args.backend_port, p, f"backend {addr}")
        for addr in BACKEND_ADDRS:
            err = http_check(addr, self.args.backend_port, "/", workload.body, False)
            if err:
                raise HarnessError(f"backend {addr}: {err}")
        return "shared/bench/responder.c" if shared else "bench/tools/sized-responder.c"

    def stop_backends(self):
        for p in self.backends:
            self.procs.stop(p)
        self.backends = []

    def backend_pids(self):
        return [p.pid for p in self.backends]

    def start_chain(self, chain, layout, workload, port=None):
        """Starts the chain's proxy on `port` (default --port); returns (Popen, ip, port)."""
        a = self.args
        port = a.port if port is None else port
        if listening(PROXY_ADDR, port):
            raise HarnessError(f"{PROXY_ADDR}:{port} is in use before starting {chain}")
        tag = f"{chain}-{layout.name}"
        if chain.startswith("sluice"):
            rules = {"sluice": 0, "sluice-1rule": 1, "sluice-1000rules": 1000}[chain]
            text = render("sluice.yaml.in", {
                "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port, "BACKEND_PORT": a.backend_port,
                "RULES": sluice_rules(rules),
                "TARGETS": "\n".join(f"      - Id: {b}" for b in BACKEND_ADDRS)})
            cfg = self.cfg_dir / f"{tag}.yaml"
            cfg.write_text(text)
            argv = [self.tools["sluice"], "run", "--config", cfg, "--workers", layout.workers,
                    "--shutdown-timeout", "0"]
        elif chain == "haproxy":
            text = render("haproxy.cfg.in", {
                "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
                "SERVERS": "\n".join(f"    server b{i + 1} {b}:{a.backend_port}"
                                     for i, b in enumerate(BACKEND_ADDRS))})
            cfg = self.cfg_dir / f"{tag}.cfg"
            cfg.write_text(text)
            argv = ["haproxy", "-f", cfg, "-db"]
        elif chain == "nginx":
            wd = self.work / f"nginx-{layout.name}"
            wd.mkdir(exist_ok=True)
            text = render("nginx.conf.in", {
                "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
                "WORKDIR": wd,
                "SERVERS": "\n".join(f"        server {b}:{a.backend_port};" for b in BACKEND_ADDRS)})
            cfg = self.cfg_dir / f"{tag}.conf"
            cfg.write_text(text)
            argv = ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]
        elif chain == "floor":
            argv = [self.tools["floor-forwarder"], port] + \
                   [f"{b}:{a.backend_port}" for b in BACKEND_ADDRS]
        elif chain == "direct":
            exe = self.tools["responder"] if workload.body == 13 and not a.sized_backend_only \
                else self.tools["sized-responder"]
            argv = [exe, a.backend_port, DIRECT_ADDR] + \
                   ([] if exe.name == "responder" else [workload.body])
            p = self.procs.start(tag, argv, cpus=layout.proxy_cpus)
            wait_listening(DIRECT_ADDR, a.backend_port, p, "direct responder")
            return p, DIRECT_ADDR, a.backend_port
        else:
            raise HarnessError(f"unknown chain {chain}")
        p = self.procs.start(tag, argv, cpus=layout.proxy_cpus)
        wait_listening(PROXY_ADDR, port, p, chain)
        time.sleep(0.1)  # let every worker reach its event loop
        return p, PROXY_ADDR, port

    def guarded(self, p, chain, fn):
        try:
            return fn()
        except HarnessError as e:
            died = self.exited(p, chain)
            raise (died or e) from None

    def check_chain(self, p, chain, ip, port, workload, m):
        err = http_check(ip, port, workload.path, workload.body, workload.close)
        time.sleep(0.05)
        died = self.exited(p, chain)
        if died:
            raise died
        if err:
            self.problem(m, f"check request: {err}")
            return False
        return True

    def problem(self, m, text):
        m.setdefault("problems", []).append(text)
        self.problems.append(f"{m['layout']} {m['workload']} {m['phase']} round {m['round']} "
                             f"{m['chain']}: {text}")
        print(f"    PROBLEM: {text}", flush=True)

    # ---- load generators ---------------------------------------------------------------------

    def exited(self, p, chain):
        """ProxyDied for a proxy that exited, naming the signal when there is one."""
        rc = p.poll()
        if rc is None:
            return None
        how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"status {rc}"
        return ProxyDied(f"{chain} exited with {how} during the measurement "
                         f"(log: {self.log_dir.relative_to(self.out)}/)")

    def wrk(self, layout, ip, port, workload, seconds, label):
        argv = ["wrk", "-t", layout.wrk_threads, "-c", layout.conns, "-d", f"{seconds}s",
                "--timeout", "2s", "-s", BENCH / "tools" / "wrk-report.lua"]
        if workload.close:
            argv += ["-H", "Connection: close"]
        argv.append(f"http://{ip}:{port}{workload.path}")
        rc, out, cpu = self.procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 30)
        line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
        if rc != 0 or line is None:
            raise HarnessError(f"wrk failed (status {rc}): {out[-500:]}")
        r = json.loads(line[len("WRKJSON "):])
        r["errors"] = sum(r[k] for k in ("errors_connect", "errors_read", "errors_write",
                                         "errors_status", "errors_timeout"))
        r["loadgen_cpu_s"] = cpu
        return r

    def openloop(self, layout, targets, workload, rate, seconds, warmup, label):
        """Runs the open-loop generator against [(ip, port), ...]; with several targets they are
        measured interleaved in --slice-ms slices, each for `seconds`. Returns one result per
        target, in order."""
        argv = [self.tools["openloop"]]
        for ip, port in targets:
            argv += ["-a", ip, "-p", port]
        argv += ["-s", self.args.slice_ms, "-u", workload.path, "-r", f"{rate:.1f}",
                 "-c", layout.conns, "-d", seconds, "-w", warmup, "-t", "2"]
        if workload.close:
            argv.append("-k")
        total = (seconds + warmup) * len(targets)
        rc, out, cpu = self.procs.run(label, argv, cpus=layout.load_cpus, timeout=total + 30)
        results = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        if rc != 0 or len(results) != len(targets):
            raise HarnessError(f"openloop failed (status {rc}): {out[-500:]}")
        for r in results:
            r["loadgen_cpu_s"] = cpu
        return results

    # ---- measurements ----------------------------------------------------------------------

    def snapshot(self, pids):
        return {"cpu": cpu_ticks(pids), "backend": cpu_ticks(self.backend_pids()),
                "tcp": tcp_counters(), "stat": cpu_times(), "t": time.monotonic(),
                "upstream": upstream_conns(self.args.backend_port)}

    def fill_deltas(self, m, before, after, requests):
        m["proxy_cpu_s"] = round(cpu_delta_seconds(before["cpu"], after["cpu"]), 3)
        m["backend_cpu_s"] = round(cpu_delta_seconds(before["backend"], after["backend"]), 3)
        wall = after["t"] - before["t"]
        m["wall_s"] = round(wall, 3)
        m["proxy_cpu_pct"] = round(100 * m["proxy_cpu_s"] / wall, 1) if wall else None
        m["backend_cpu_pct"] = round(100 * m["backend_cpu_s"] / wall, 1) if wall else None
        m["cpu_us_per_req"] = round(1e6 * m["proxy_cpu_s"] / requests, 2) if requests else None
        m["active_opens"] = after["tcp"]["active_opens"] - before["tcp"]["active_opens"]
        m["retrans_segs"] = after["tcp"]["retrans_segs"] - before["tcp"]["retrans_segs"]
        m["upstream_conns_before"] = len(before["upstream"])
        m["upstream_conns_after"] = len(after["upstream"])
        m["upstream_conns_new_kept"] = len(after["upstream"] - before["upstream"])
        m["steal_pct"] = round(pct(before["stat"], after["stat"], 1), 2)
        m["box_busy_pct"] = round(pct(before["stat"], after["stat"], 0), 1)

    def quiet_sample(self, seconds):
        """Busy % of the whole box while our proxy is idle: other tenants' load."""
        a = cpu_times()
        time.sleep(seconds)
        return round(pct(a, cpu_times(), 0), 1)

    def measure_capacity(self, layout, workload, chain, rnd, order):
        a = self.args
        m = {"layout": layout.name, "workload": workload.name, "phase": "capacity",
             "round": rnd, "order": order, "chain": chain}
        p, ip, port = self.start_chain(chain, layout, workload)
        try:
            pids = descendants(p.pid)
            m["processes"] = len(pids)
            self.check_chain(p, chain, ip, port, workload, m)
            warm = {"errors": 0}
            if a.warmup > 0:
                warm = self.guarded(p, chain, lambda: self.wrk(
                    layout, ip, port, workload, a.warmup, f"wrk-{layout.name}"))
            m["warmup_errors"] = warm["errors"]
            m["neighbour_busy_pct"] = self.quiet_sample(a.quiet)
            pids = descendants(p.pid)
            before = self.snapshot(pids)
            r = self.guarded(p, chain, lambda: self.wrk(
                layout, ip, port, workload, a.duration, f"wrk-{layout.name}"))
            after = self.snapshot(pids)
            died = self.exited(p, chain)
            if died:
                raise died
        finally:
            self.procs.stop(p)
        requests = r["requests"]
        m["requests"] = requests
        m["rps"] = round(requests / (r["duration_us"] / 1e6), 1) if r["duration_us"] else 0
        m["errors"] = r["errors"] + warm["errors"]
        m["errors_detail"] = {k: r[k] for k in r if k.startswith("errors_")}
        m["sat_lat_p50_us"], m["sat_lat_p99_us"] = r["lat_p50_us"], r["lat_p99_us"]
        m["bytes_per_response"] = round(r["bytes"] / requests, 1) if requests else None
        m["loadgen_cpu_pct"] = round(100 * r["loadgen_cpu_s"] / (r["duration_us"] / 1e6), 1) \
            if r["duration_us"] else None
        self.fill_deltas(m, before, after, requests)
        bpr = m["bytes_per_response"] or 0
        if requests and not (workload.body <= bpr <= workload.body + 1024):
            self.problem(m, f"{bpr} bytes per response for a {workload.body}-byte body")
        if requests == 0:
            self.problem(m, "no request completed")
        return m

    def measure_latency(self, layout, workload, chain, rnd, order, rate):
        a = self.args
        m = {"layout": layout.name, "workload": workload.name, "phase": "latency",
             "round": rnd, "order": order, "chain": chain, "rate": round(rate, 1)}
        p, ip, port = self.start_chain(chain, layout, workload)
        try:
            self.check_chain(p, chain, ip, port, workload, m)
            m["neighbour_busy_pct"] = self.quiet_sample(a.quiet)
            pids = descendants(p.pid)
            # The warm-up is the generator's own first seconds at the same rate (not recorded);
            # CPU is sampled over the whole run and divided by every request sent.
            before = self.snapshot(pids)
            r = self.guarded(p, chain, lambda: self.openloop(
                layout, [(ip, port)], workload, rate, a.latency_duration, a.latency_warmup,
                f"openloop-{layout.name}"))[0]
            after = self.snapshot(pids)
            died = self.exited(p, chain)
            if died:
                raise died
        finally:
            self.procs.stop(p)
        self.fill_latency(m, r, before, after)
        return m

    def fill_latency(self, m, r, before, after):
        m.update({k: r[k] for k in ("completed", "achieved_rps", "errors", "p50_us", "p90_us",
                                    "p99_us", "p999_us", "max_us", "lat_mean_us",
                                    "late_sends_over_1ms", "reconnects")})
        m["errors_detail"] = {k: r[k] for k in r if k.startswith("errors_")}
        # CPU over the whole generator run (warm-up included) / every request it sent.
        self.fill_deltas(m, before, after, r["sent_total"])
        if r["completed"] == 0:
            self.problem(m, "no request completed")

    def measure_latency_interleaved(self, layout, workload, order, rnd, rate):
        """One round of the open-loop phase with every chain running at once, each on its own
        port, and the generator rotating between them in short slices (see openloop.c): a
        hiccup of the machine lands on all of them alike. Returns one measurement per chain.
        A chain that dies gets a `died` measurement; the others keep theirs."""
        a = self.args
        started = []  # (chain, Popen, ip, port)
        ms = {}
        try:
            for i, chain in enumerate(order):
                p, ip, port = self.start_chain(chain, layout, workload, port=a.port + i)
                started.append((chain, p, ip, port))
            for i, (chain, p, ip, port) in enumerate(started):
                m = {"layout": layout.name, "workload": workload.name, "phase": "latency",
                     "round": rnd, "order": i, "chain": chain, "rate": round(rate, 1),
                     "interleaved": len(order), "slice_ms": a.slice_ms}
                self.check_chain(p, chain, ip, port, workload, m)
                ms[chain] = m
            busy = self.quiet_sample(a.quiet)
            pids = {chain: descendants(p.pid) for chain, p, _, _ in started}
            before = self.snapshot([])
            before_cpu = {chain: cpu_ticks(v) for chain, v in pids.items()}
            results = self.openloop(layout, [(ip, port) for _, _, ip, port in started], workload,
                                    rate, a.latency_duration, a.latency_warmup,
                                    f"openloop-{layout.name}")
            after = self.snapshot([])
            after_cpu = {chain: cpu_ticks(v) for chain, v in pids.items()}
            out = []
            for (chain, p, _, _), r in zip(started, results):
                m = ms[chain]
                died = self.exited(p, chain)
                if died:
                    out.append(self.died(layout, workload, "latency", rnd, m["order"], chain,
                                         died))
                    continue
                m["neighbour_busy_pct"] = busy
                self.fill_latency(m, r, dict(before, cpu=before_cpu[chain]),
                                  dict(after, cpu=after_cpu[chain]))
                out.append(m)
            return out
        finally:
            for _, p, _, _ in started:
                self.procs.stop(p)

    def measure_idle(self, layout, workload, chain, rnd, order):
        a = self.args
        m = {"layout": layout.name, "workload": workload.name, "phase": "idle",
             "round": rnd, "order": order, "chain": chain, "connections": a.idle_conns}
        p, ip, port = self.start_chain(chain, layout, workload)
        socks = []
        try:
            pids = descendants(p.pid)
            m["baseline_rss_kib"], m["baseline_pss_kib"] = memory_kib(pids)
            self.check_chain(p, chain, ip, port, workload, m)
            time.sleep(0.2)
            pids = descendants(p.pid)
            rss0, pss0 = memory_kib(pids)
            socks, errors = open_idle_connections(ip, port, a.idle_conns, workload.path)
            time.sleep(a.idle_settle)
            pids = descendants(p.pid)
            rss1, pss1 = memory_kib(pids)
            held = established_to(ip, port)
            m.update({"errors": errors, "opened": len(socks), "held_by_proxy": held,
                      "rss_before_kib": rss0, "rss_after_kib": rss1,
                      "pss_before_kib": pss0, "pss_after_kib": pss1})
            n = max(1, len(socks))
            m["rss_bytes_per_conn"] = round((rss1 - rss0) * 1024 / n, 1)
            m["pss_bytes_per_conn"] = round((pss1 - pss0) * 1024 / n, 1)
            died = self.exited(p, chain)
            if died:
                raise died
            if held < len(socks):
                self.problem(m, f"only {held} of {len(socks)} idle connections still open")
        finally:
            for s in socks:
                s.close()
            self.procs.stop(p)
        return m

    # ---- orchestration -------------------------------------------------------------------------

    def record(self, m):
        self.measurements.append(m)
        with open(self.out / "measurements.jsonl", "a") as f:
            f.write(json.dumps(m) + "\n")

    def say(self, text):
        print(text, flush=True)

    def describe(self, m):
        if m.get("died"):
            return "DIED (counted as an error)"
        if m["phase"] == "capacity":
            return (f"{m['rps']:>10,.0f} req/s  {m['cpu_us_per_req'] or 0:7.2f} us/req  "
                    f"cpu {m['proxy_cpu_pct']:5.1f}%  errors {m['errors']}")
        if m["phase"] == "latency":
            return (f"@{m['rate']:,.0f}/s p50 {m['p50_us']:8.0f} p99 {m['p99_us']:8.0f} "
                    f"p99.9 {m['p999_us']:8.0f} us  {m['cpu_us_per_req'] or 0:6.2f} us/req  "
                    f"errors {m['errors']}")
        return (f"baseline RSS {m['baseline_rss_kib']} KiB, "
                f"{m.get('rss_bytes_per_conn', 0):.0f} B/conn RSS, "
                f"{m.get('pss_bytes_per_conn', 0):.0f} B/conn PSS, errors {m['errors']}")

    def died(self, layout, workload, phase, rnd, order, chain, error):
        """The measurement of a chain whose proxy died: one error, and the reason as a problem."""
        m = {"layout": layout.name, "workload": workload.name, "phase": phase,
             "round": rnd, "order": order, "chain": chain, "errors": 1, "died": True}
        self.problem(m, str(error))
        return m

    def report(self, m):
        self.record(m)
        self.say(f"  [{m['layout']} {m['workload']} {m['phase']} {m['round']}/{self.args.rounds}] "
                 f"{m['chain']:17s} {self.describe(m)}")

    def rounds(self, layout, workload, chains, phase, fn):
        for rnd in range(1, self.args.rounds + 1):
            order = chains[:]
            self.rng.shuffle(order)
            for i, chain in enumerate(order):
                try:
                    m = fn(layout, workload, chain, rnd, i)
                except ProxyDied as e:
                    m = self.died(layout, workload, phase, rnd, i, chain, e)
                self.report(m)

    def latency_rounds(self, layout, workload, chains, rate):
        if self.args.latency_sequential or len(chains) == 1:
            self.rounds(layout, workload, chains, "latency",
                        lambda l, w, c, r, o: self.measure_latency(l, w, c, r, o, rate))
            return
        for rnd in range(1, self.args.rounds + 1):
            order = chains[:]
            self.rng.shuffle(order)
            try:
                ms = self.measure_latency_interleaved(layout, workload, order, rnd, rate)
            except ProxyDied as e:  # died before the generator ran: the round is lost
                ms = [self.died(layout, workload, "latency", rnd, i, chain, e)
                      for i, chain in enumerate(order)]
            for m in ms:
                self.report(m)

    def run(self, layouts, workloads, chains):
        for layout in layouts:
            self.say(f"== {layout.describe()}")
            for wname in workloads:
                wl = WORKLOADS[wname]
                wchains = chains_for(wl, chains)
                if not wchains:
                    continue
                backend = self.start_backends(layout, wl)
                self.say(f"= {wl.name}: {wl.title} (backends: {backend})")
                try:
                    if wl.kind == "idle":
                        self.rounds(layout, wl, wchains, "idle", self.measure_idle)
                        continue
                    self.rounds(layout, wl, wchains, "capacity", self.measure_capacity)
                    if not wl.latency or self.args.no_latency:
                        continue
                    per_chain = {}
                    for m in self.measurements:
                        if m["layout"] == layout.name and m["workload"] == wl.name and \
                                m["phase"] == "capacity" and m["chain"] in PEERS and m.get("rps"):
                            per_chain.setdefault(m["chain"], []).append(m["rps"])
                    if not per_chain:
                        self.say("  no capacity figure for any proxy: open-loop phase skipped")
                        continue
                    slowest = min(statistics.median(v) for v in per_chain.values())
                    rate = max(10.0, self.args.load_fraction * slowest)
                    self.rates[f"{layout.name}/{wl.name}"] = round(rate, 1)
                    self.say(f"  open-loop rate: {rate:,.0f} req/s = {self.args.load_fraction:.0%} "
                             f"of the slowest peer's median capacity ({slowest:,.0f} req/s)")
                    self.latency_rounds(layout, wl, wchains, rate)
                finally:
                    self.stop_backends()


# --------------------------------------------------------------------------------------------
# Summaries


def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def summarize(measurements, rates):
    groups = {}
    for m in measurements:
        groups.setdefault((m["layout"], m["workload"], m["phase"], m["chain"]), []).append(m)
    summary = {"chains": [], "ratios": [], "rates": rates}
    fields = {
        "capacity": ["rps", "cpu_us_per_req", "proxy_cpu_pct", "loadgen_cpu_pct", "backend_cpu_pct",
                     "sat_lat_p50_us", "sat_lat_p99_us", "active_opens",
                     "upstream_conns_new_kept", "neighbour_busy_pct", "steal_pct"],
        "latency": ["p50_us", "p99_us", "p999_us", "max_us", "cpu_us_per_req", "achieved_rps",
                    "late_sends_over_1ms", "neighbour_busy_pct", "steal_pct"],
        "idle": ["baseline_rss_kib", "rss_bytes_per_conn", "pss_bytes_per_conn", "held_by_proxy"],
    }
    for (layout, wl, phase, chain), ms in sorted(groups.items()):
        row = {"layout": layout, "workload": wl, "phase": phase, "chain": chain,
               "rounds": len(ms), "errors": sum(m.get("errors", 0) for m in ms),
               "problems": sum(len(m.get("problems", [])) for m in ms)}
        for f in fields[phase]:
            vals = [m.get(f) for m in ms if m.get(f) is not None]
            if vals:
                row[f] = {"median": med(vals), "min": min(vals), "max": max(vals)}
        summary["chains"].append(row)

    # Per-round ratios: Sluice / other, for each round in which both ran.
    def per_round(layout, wl, phase, chain, field, higher_is_better):
        if chain != "best peer":
            return {m["round"]: m.get(field) for m in groups.get((layout, wl, phase, chain), [])}
        # The better of HAProxy and NGINX in each round in which both have the figure.
        each = [per_round(layout, wl, phase, c, field, higher_is_better)
                for c in ("haproxy", "nginx")]
        pick = max if higher_is_better else min
        return {r: pick(each[0][r], each[1][r]) for r in each[0]
                if r in each[1] and each[0][r] and each[1][r]}

    def ratios(layout, wl, phase, ours, other, field, higher_is_better):
        a = per_round(layout, wl, phase, ours, field, higher_is_better)
        b = per_round(layout, wl, phase, other, field, higher_is_better)
        per = [a[r] / b[r] for r in sorted(a) if r in b and a[r] and b[r]]
        if not per:
            return None
        worst = min(per) if higher_is_better else max(per)
        return {"median": statistics.median(per), "worst": worst, "rounds": len(per),
                "per_round": [round(x, 4) for x in per]}

    keys = sorted({(m["layout"], m["workload"]) for m in measurements})
    for layout, wl in keys:
        pairs = [("sluice", o) for o in ("haproxy", "nginx", "best peer", "floor", "direct")]
        if wl == "rules":
            pairs = [("sluice-1000rules", "sluice-1rule")]
        for ours, other in pairs:
            if (layout, wl, "capacity", ours) not in groups and \
                    (layout, wl, "idle", ours) not in groups:
                continue
            if other == "best peer" and any((layout, wl, "capacity", c) not in groups and
                                            (layout, wl, "idle", c) not in groups
                                            for c in ("haproxy", "nginx")):
                continue
            row = {"layout": layout, "workload": wl, "ours": ours, "other": other}
            row["rps"] = ratios(layout, wl, "capacity", ours, other, "rps", True)
            # Against "direct" only req/s and latency mean something (proxied / direct);
            # its CPU figure is the backend's.
            row["cpu_us_per_req"] = None if other == "direct" else ratios(
                layout, wl, "capacity", ours, other, "cpu_us_per_req", False)
            row["p99_us"] = ratios(layout, wl, "latency", ours, other, "p99_us", False)
            row["p50_us"] = ratios(layout, wl, "latency", ours, other, "p50_us", False)
            row["rss_bytes_per_conn"] = ratios(layout, wl, "idle", ours, other,
                                               "rss_bytes_per_conn", False)
            if any(row[k] for k in ("rps", "cpu_us_per_req", "p99_us", "rss_bytes_per_conn")):
                summary["ratios"].append(row)
    return summary


def fmt_num(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def fmt_stat(s, digits=0):
    if not s:
        return "–"
    return f"{fmt_num(s['median'], digits)} ({fmt_num(s['min'], digits)}–{fmt_num(s['max'], digits)})"


def fmt_ratio(r):
    if not r:
        return "–"
    return f"{r['median']:.2f} ({r['worst']:.2f})"


def markdown(meta, summary, problems):
    a = meta["args"]
    L = []
    kind = "SMOKE RUN: one short round, indicative only" if a["smoke"] else "full run"
    L.append(f"# Sluice side-by-side benchmark, {meta['started']} ({kind})\n")
    v = meta["versions"]
    L.append(f"- Sluice {v['sluice']}; {v['haproxy']} (deb {v['haproxy_deb']}); {v['nginx']} "
             f"(deb {v['nginx_deb']}); {v['wrk']} (deb {v['wrk_deb']})")
    L.append(f"- Kernel {v['kernel']}; CPU {v['cpu']}; CPUs available {v['cpus_available']}")
    L.append(f"- {a['rounds']} round(s), shuffled order; closed loop: {a['warmup']} s warm-up + "
             f"{a['duration']} s measured; open loop: {a['latency_warmup']} s + "
             f"{a['latency_duration']} s at {a['load_fraction']:.0%} of the slowest peer's "
             f"capacity, " + ("one chain at a time" if a.get("latency_sequential") else
                              f"every chain at once, rotated in {a.get('slice_ms', 100):g} ms "
                              f"slices") + f"; idle: {a['idle_conns']} connections")
    L.append(f"- Duration {meta['elapsed_s']:.0f} s. Errors: {meta['errors']}. "
             f"Problems: {len(problems)}.")
    for d in meta["layouts"]:
        L.append(f"- {d}")
    L.append("")
    rows = summary["chains"]
    for layout in sorted({r["layout"] for r in rows}):
        L.append(f"## Layout {layout}\n")
        cap = [r for r in rows if r["layout"] == layout and r["phase"] == "capacity"]
        if cap:
            L.append("### Capacity (closed loop, wrk) and proxy CPU per request\n")
            L.append("Median over rounds (min–max). CPU: utime+stime of all the proxy's processes "
                     "and threads over the measured interval, divided by requests completed.\n")
            L.append("| workload | proxy | req/s | proxy CPU µs/req | proxy CPU % | wrk CPU % "
                     "| backends CPU % | p99 at saturation µs | errors |")
            L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
            for r in cap:
                L.append(f"| {r['workload']} | {r['chain']} | {fmt_stat(r.get('rps'))} | "
                         f"{fmt_stat(r.get('cpu_us_per_req'), 1)} | "
                         f"{fmt_num((r.get('proxy_cpu_pct') or {}).get('median'))} | "
                         f"{fmt_num((r.get('loadgen_cpu_pct') or {}).get('median'))} | "
                         f"{fmt_num((r.get('backend_cpu_pct') or {}).get('median'))} | "
                         f"{fmt_num((r.get('sat_lat_p99_us') or {}).get('median'))} | "
                         f"{r['errors']} |")
            L.append("")
        lat = [r for r in rows if r["layout"] == layout and r["phase"] == "latency"]
        if lat:
            L.append("### Latency at a fixed open-loop rate\n")
            L.append("Median over rounds of each round's percentile; latency counted from each "
                     "request's scheduled send time (no coordinated omission).\n")
            L.append("| workload | rate req/s | proxy | p50 µs | p99 µs | p99.9 µs | max µs | "
                     "proxy CPU µs/req | errors |")
            L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
            for r in lat:
                rate = summary["rates"].get(f"{layout}/{r['workload']}")
                L.append(f"| {r['workload']} | {fmt_num(rate)} | {r['chain']} | "
                         f"{fmt_num((r.get('p50_us') or {}).get('median'))} | "
                         f"{fmt_num((r.get('p99_us') or {}).get('median'))} | "
                         f"{fmt_num((r.get('p999_us') or {}).get('median'))} | "
                         f"{fmt_num((r.get('max_us') or {}).get('median'))} | "
                         f"{fmt_num((r.get('cpu_us_per_req') or {}).get('median'), 1)} | "
                         f"{r['errors']} |")
            L.append("")
        idle = [r for r in rows if r["layout"] == layout and r["phase"] == "idle"]
        if idle:
            L.append("### Memory: baseline and per idle keep-alive connection\n")
            L.append("| proxy | baseline RSS KiB | RSS B/conn | PSS B/conn | connections held | "
                     "errors |")
            L.append("|---|---:|---:|---:|---:|---:|")
            for r in idle:
                L.append(f"| {r['chain']} | {fmt_stat(r.get('baseline_rss_kib'))} | "
                         f"{fmt_stat(r.get('rss_bytes_per_conn'))} | "
                         f"{fmt_stat(r.get('pss_bytes_per_conn'))} | "
                         f"{fmt_num((r.get('held_by_proxy') or {}).get('median'))} | "
                         f"{r['errors']} |")
            L.append("")
        rat = [r for r in summary["ratios"] if r["layout"] == layout]
        if rat:
            L.append("### Comparisons: median of per-round ratios (worst round)\n")
            L.append("Ratio = first / second. req/s: higher is better for the first; CPU/req, "
                     "p50, p99 and bytes/conn: lower is better. \"best peer\" is, in each "
                     "round and for each figure, the better of HAProxy and NGINX.\n")
            L.append("| workload | comparison | req/s | CPU µs/req | p50 | p99 | RSS B/conn |")
            L.append("|---|---|---:|---:|---:|---:|---:|")
            for r in rat:
                L.append(f"| {r['workload']} | {r['ours']} / {r['other']} | {fmt_ratio(r['rps'])} | "
                         f"{fmt_ratio(r['cpu_us_per_req'])} | {fmt_ratio(r['p50_us'])} | "
                         f"{fmt_ratio(r['p99_us'])} | {fmt_ratio(r['rss_bytes_per_conn'])} |")
            L.append("")
    noise = [r for r in rows if r["phase"] in ("capacity", "latency")]
    if noise:
        busiest = max((r.get("neighbour_busy_pct") or {}).get("max", 0) for r in noise)
        steal = max((r.get("steal_pct") or {}).get("max", 0) for r in noise)
        L.append(f"Noise: other load on the box before a measurement was up to {busiest:.0f} % "
                 f"(busy share of all CPUs while our proxy sat idle); steal up to {steal:.1f} %.\n")
    if problems:
        L.append("## Problems\n")
        L.extend(f"- {p}" for p in problems)
        L.append("")
    return "\n".join(L)


def chart(path, summary, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: python3-matplotlib not installed; no chart (apt-get install -y "
              "python3-matplotlib)", flush=True)
        return False
    rows = summary["chains"]
    layouts = sorted({r["layout"] for r in rows if r["phase"] in ("capacity", "latency")})
    if not layouts:
        return False
    fig, axes = plt.subplots(len(layouts), 2, figsize=(13, 4.2 * len(layouts)), squeeze=False)
    colors = {"sluice": "#1f77b4", "haproxy": "#ff7f0e", "nginx": "#2ca02c", "floor": "#7f7f7f",
              "direct": "#bcbd22", "sluice-1rule": "#9ecae1", "sluice-1000rules": "#08519c"}
    for i, layout in enumerate(layouts):
        for j, (phase, field, label) in enumerate(
                [("capacity", "cpu_us_per_req", "proxy CPU µs per request (saturation)"),
                 ("latency", "p99_us", "p99 latency µs at fixed open-loop rate")]):
            ax = axes[i][j]
            sel = [r for r in rows if r["layout"] == layout and r["phase"] == phase
                   and r.get(field)]
            wls = [w for w in WORKLOADS if any(r["workload"] == w for r in sel)]
            chains = [c for c in ALL_CHAINS + RULES_CHAINS if any(r["chain"] == c for r in sel)]
            width = 0.8 / max(1, len(chains))
            for k, c in enumerate(chains):
                xs, ys, lo, hi = [], [], [], []
                for x, w in enumerate(wls):
                    r = next((r for r in sel if r["workload"] == w and r["chain"] == c), None)
                    if r:
                        s = r[field]
                        xs.append(x + (k - (len(chains) - 1) / 2) * width)
                        ys.append(s["median"])
                        lo.append(s["median"] - s["min"])
                        hi.append(s["max"] - s["median"])
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=c,
                       color=colors.get(c, None))
            ax.set_xticks(range(len(wls)))
            ax.set_xticklabels(wls)
            ax.set_title(f"layout {layout}: {label}", fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            if sel:
                ax.legend(fontsize=8)
    fig.suptitle(title + " (bars: median; whiskers: min–max over rounds)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="run.py --resummarize DIR rewrites an earlier run's "
                                       "results.md/json and chart from its measurements. "
                                       "See docs/performance.md.")
    p.add_argument("--smoke", action="store_true",
                   help="one short round of every workload, layout A only (CI)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 5; smoke 1)")
    p.add_argument("--warmup", type=int,
                   help="closed-loop warm-up seconds, whole (wrk's unit; default 3)")
    p.add_argument("--duration", type=int,
                   help="closed-loop measured seconds, whole (wrk's unit; default 10)")
    p.add_argument("--latency-warmup", type=float, help="open-loop warm-up seconds (default 2)")
    p.add_argument("--latency-duration", type=float,
                   help="open-loop measured seconds (default 10)")
    p.add_argument("--load-fraction", type=float, default=0.5,
                   help="open-loop rate as a fraction of the slowest peer's capacity (0.5)")
    p.add_argument("--idle-conns", type=int, help="idle connections (default 10000)")
    p.add_argument("--idle-settle", type=float, default=1.0,
                   help="seconds between opening the idle connections and reading memory")
    p.add_argument("--layouts", help="comma list of A,B (default A,B; smoke A)")
    p.add_argument("--workloads", help="comma list of " + ",".join(WORKLOADS))
    p.add_argument("--proxies", help="comma list of " + ",".join(ALL_CHAINS) +
                   " (default all; smoke without direct)")
    p.add_argument("--no-latency", action="store_true", help="skip the open-loop phase")
    p.add_argument("--slice-ms", type=float, default=100.0,
                   help="open-loop phase: every chain runs at once and the generator rotates "
                        "between them in slices of this length (default 100 ms)")
    p.add_argument("--latency-sequential", action="store_true",
                   help="open-loop phase: one chain at a time instead of interleaved slices")
    p.add_argument("--port", type=int, default=None,
                   help="first proxy listen port on 127.0.0.1 (default: the first free run of "
                        "ports from 18080)")
    p.add_argument("--backend-port", type=int, default=None,
                   help="backend port on 127.0.0.11-14 (and 127.0.0.15 for direct; default: "
                        "the first free one from 19000)")
    p.add_argument("--sluice", help="sluice binary (default: build build-bench/sluice)")
    p.add_argument("--build-dir", default=str(ROOT / "build-bench"),
                   help="CMake build dir for sluice and the compiled instruments")
    p.add_argument("--no-build", action="store_true", help="do not run cmake/ninja")
    p.add_argument("--sized-backend-only", action="store_true",
                   help="use bench/tools/sized-responder.c for 13 B too")
    p.add_argument("--out", help="results directory (default bench/results/<timestamp>)")
    p.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random)")
    p.add_argument("--quiet", type=float, default=0.3,
                   help="seconds of idle sampling before each measurement (noise check)")
    a = p.parse_args(argv)
    smoke = a.smoke
    defaults = dict(rounds=(1, 5), warmup=(1, 3), duration=(1, 10),
                    latency_warmup=(0.3, 2.0), latency_duration=(1.0, 10.0),
                    idle_conns=(10000, 10000), layouts=("A", "A,B"),
                    proxies=("sluice,haproxy,nginx,floor", ",".join(ALL_CHAINS)),
                    workloads=(",".join(WORKLOADS), ",".join(WORKLOADS)))
    for k, (s, f) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, s if smoke else f)
    if smoke:
        a.quiet = min(a.quiet, 0.1)
    if a.seed is None:
        a.seed = random.randrange(1 << 30)
    for w in a.workloads.split(","):
        if w not in WORKLOADS:
            p.error(f"unknown workload {w}")
    for c in a.proxies.split(","):
        if c not in ALL_CHAINS:
            p.error(f"unknown proxy {c}")
    if a.rounds < 1 or a.duration <= 0 or a.warmup < 0 or not 0 < a.load_fraction <= 1:
        p.error("bad --rounds/--duration/--warmup/--load-fraction")
    if a.idle_conns < 1 or a.idle_conns > 19000:
        p.error("--idle-conns must be 1..19000 (fd limit 20000)")
    return a


def write_results(out, meta, measurements, rates):
    """Summarizes the measurements and writes results.json, results.md and chart.png into
    out. Returns the Markdown."""
    summary = summarize(measurements, rates)
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "measurements": measurements}, indent=1))
    md = markdown(meta, summary, meta.get("problems", []))
    (out / "results.md").write_text(md + "\n")
    smoke = meta["args"].get("smoke")
    chart(out / "chart.png", summary,
          f"Sluice vs peers, {meta['started']}" + (" (smoke)" if smoke else ""))
    return md


def resummarize(directory):
    """Rewrites results.json, results.md and chart.png of an earlier run from its own
    measurements, with the current summary code (nothing is re-measured)."""
    out = Path(directory)
    data = json.loads((out / "results.json").read_text())
    write_results(out, data["meta"], data["measurements"], data["summary"].get("rates", {}))
    print(f"rewritten: {out}/results.md, results.json, chart.png", flush=True)
    return 0


def main(argv):
    if argv[:1] == ["--resummarize"]:
        if len(argv) != 2:
            print("usage: run.py --resummarize RESULTS_DIR", file=sys.stderr)
            return 2
        return resummarize(argv[1])
    args = parse_args(argv)
    started = datetime.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S") + ("-smoke" if args.smoke else "")
    out = Path(args.out) if args.out else BENCH / "results" / stamp
    out.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    bench = Bench(args, out)
    vmstat = None
    versions, layouts = {}, []
    status = 0
    t0 = time.monotonic()
    try:
        chains = bench.check_environment(args.proxies.split(","))
        bench.build_tools()
        if any(c.startswith("sluice") for c in chains):
            bench.build_sluice()
        layouts = make_layouts(args.layouts.split(","))
        workloads = args.workloads.split(",")
        versions = bench.versions()
        print(f"results: {out}", flush=True)
        print(f"seed {args.seed}; chains {', '.join(chains)}; workloads {', '.join(workloads)}",
              flush=True)
        if shutil.which("vmstat"):
            vmstat = bench.procs.start("vmstat", ["vmstat", "-n", "-t", "1"])
        bench.run(layouts, workloads, chains)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping every process started", flush=True)
        status = 130
    except HarnessError as e:
        print(f"harness error: {e}", file=sys.stderr, flush=True)
        status = 2
    except Exception:
        traceback.print_exc()
        status = 2
    finally:
        bench.procs.stop_all()
        if vmstat is not None:
            shutil.copy(bench.log_dir / "vmstat.log", out / "vmstat.log")
    if not bench.measurements:
        return status or 2

    errors = sum(m.get("errors", 0) for m in bench.measurements)
    meta = {"started": started.isoformat(timespec="seconds"),
            "elapsed_s": time.monotonic() - t0, "args": vars(args),
            "versions": versions, "layouts": [l.describe() for l in layouts],
            "errors": errors, "problems": bench.problems, "status": status}
    md = write_results(out, meta, bench.measurements, bench.rates)
    shutil.rmtree(bench.work, ignore_errors=True)
    print("\n" + md, flush=True)
    print(f"\nwritten: {out}/results.md, results.json, chart.png", flush=True)
    if status:
        return status
    if errors or bench.problems:
        print(f"FAIL: {errors} request errors, {len(bench.problems)} problems", flush=True)
        return 1
    print("OK: 0 errors", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
