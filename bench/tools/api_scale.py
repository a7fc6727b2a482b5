#!/usr/bin/python3
"""elbv2 API at scale: what one mutation costs with many targets and rules.

    bench/tools/api_scale.py                          # 100,000 targets, then 10,000 rules
    bench/tools/api_scale.py --targets 0 --rules 10000  # rules on an otherwise empty config
    bench/tools/api_scale.py --targets 2000 --rules 200 --samples 5 --rule-samples 5  # smoke

The goal under test: "10,000 rules on one listener and 100,000 registered targets through the
API: mutations stay under 50 ms at p99, DescribeTargetHealth of 10,000 targets under 1 s, the
data plane's per-request cost unchanged". An API mutation exports the whole model to YAML,
loads it back through the config loader (all but Register/DeregisterTargets, which the handler
checks: decision 0026), compiles a snapshot, commits the YAML to SQLite and publishes it
(docs/api.md), so its cost grows with the size of the config; this tool measures how. The
in-process split below times the whole-document path.

Setup: `sluice import` of one load balancer with one HTTP listener on 127.0.0.1 (a
fixed-response default action) and ceil(targets / 1,000) target groups g0, g1, ... (port
8080, `HealthCheckEnabled: false`, and no listener forwards to them: nothing is probed), an
admin key (`sluice api-keys create`), then `sluice run --state DB --api 127.0.0.1:PORT
--workers 1`. Calls are made with boto3, signed, one at a time; latency is client-side wall
time of the call (signing, a new connection per call as the endpoint answers
`Connection: close`, the server's work, parsing the answer).

Phases:
  targets   RegisterTargets up to --targets (distinct addresses 127.A.B.C, the group's port;
            1,000 per group, the per-group limit). At each checkpoint N (1k, 10k, 50k, 100k)
            the last W targets are registered in calls of --batch targets and their latencies
            reported, W = min(N - previous checkpoint, max(N / 10, --samples x --batch)); the
            targets before that window are registered through the API too, in calls of --bulk
            targets (fewer, larger calls, to keep the run short; their latencies are kept as
            "growth" calls). --bulk equal to --batch gives the plain one-size run.
  describe  DescribeTargetHealth of one group of 1,000 targets (--describe-reps times), and
            of 10 groups of 1,000 (10 calls: "10,000 targets" needs 10 calls, one group per
            call), after the targets phase and again at the end.
  rules     CreateRule (path-pattern /r<i>/*, fixed-response 200) on the one listener, on top
            of the targets, up to --rules. At each checkpoint N (100, 1k, 5k, 10k) the last
            W = min(N - previous checkpoint, --rule-samples) rules are created by CreateRule
            calls and their latencies reported. CreateRule makes one rule per call, and a call
            at 10k rules costs seconds, so the rules before the window are seeded when the gap
            exceeds --rule-samples: the same config with N - W rules (and the targets already
            registered) is rendered, `sluice import`ed into the running server's store and
            picked up with SIGHUP, as docs/api.md describes. The seeded document is the
            exporter's canonical form, as after API calls (rule ids are written on the next
            API call that touches the listener). Then --modify-reps ModifyListener calls, and as
            many of AddTags, ModifyTargetGroup, ModifyTargetGroupAttributes and
            CreateTargetGroup (each followed by its DeleteTargetGroup) on the first group,
            CreateListener (each followed by its DeleteListener), and
            ModifyLoadBalancerAttributes.
  split     At the end of each phase (the largest size), where one mutation's time goes:
            in process, bench/tools/api_mutation_split.cc (built here with g++ against
            build/*.a) times the steps of the server's apply on the exported document: model
            copy, FreezeIds, ExportYaml, load (YAML parse + validation), snapshot compile,
            SQLite commit (into a backup of the live store, so with its 20 generations), and
            freeing the old ones; what the client sees beyond their sum is the API's own
            path (HTTP, SigV4, publishing, waiting for the health checker to take the targets).
            Also, from the command line: `sluice validate` of the exported YAML and of a tiny
            config (process start), `sluice import` of it into a scratch store, `sluice export`
            (which only reads the stored document from SQLite: it does not load or export) and
            a read-only call (DescribeAccountLimits). The command-line figures are rough: a
            new process page-faults all the memory its load takes (the server reuses it), and
            3 runs of a single process vary a lot on a shared machine.
  dataplane Sequential keep-alive GETs to the listener (the first rule, the last rule, no
            rule: the default action), before anything and at the end: client-side latency and
            the sluice process's CPU per request (schedstat of its threads / requests), and its
            idle CPU. The client is Python, so the latency is mostly the client's; the CPU per
            request is the figure.

Also at every checkpoint: the YAML document's size (`sluice export --state DB | wc -c`), the
SQLite files' size (state.db + -wal; the store keeps the last 20 generations), the sluice
process's VmRSS/VmHWM, its CPU time per measured call (utime+stime over the window / calls:
less disturbed than wall time when other work competes for the CPUs) and the load average.

The server is a copy of the binary named api-scale-lb (in a temp dir api-scale-*), so that
another session's `pkill sluice` / `pkill -f sluice` does not stop it (one stopped the first
full run); should it stop anyway, it is started again from its store (--max-restarts) and the
restart is reported. A phase stops early (and says so) when a call fails or one mutation
exceeds --max-call-s.
Results: bench/results/api-scale-<timestamp>/results.json and results.md, with the server's
log under logs/. Needs boto3 (python3-boto3).
"""

import argparse
import datetime
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[2]
GROUP_SIZE = 1000  # kMaxTargetsPerGroup (src/config/validate.h)
GROUP_PORT = 8080
TARGET_CHECKPOINTS = (1000, 10000, 50000, 100000)
RULE_CHECKPOINTS = (100, 1000, 5000, 10000)


def target_ip(i: int) -> str:
    """Distinct loopback addresses 127.A.B.C, C in 1..250 (never .0 or .255)."""
    return f"127.{10 + i // 62500}.{(i // 250) % 250}.{1 + i % 250}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    v = sorted(values)
    return v[max(0, math.ceil(q / 100 * len(v)) - 1)]


def summary(latencies):
    if not latencies:
        return {"calls": 0}
    return {"calls": len(latencies), "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)), "max_ms": ms(max(latencies)),
            "mean_ms": ms(statistics.fmean(latencies)), "min_ms": ms(min(latencies))}


# --------------------------------------------------------------------------------------------
# The config (rendered for `sluice import`: the initial one, and the seeds of the rules phase)


def render_config(listen_port, groups, targets, rules):
    out = ["LoadBalancers:", "  - Name: api-scale", "    Listeners:",
           "      - Protocol: HTTP", f"        Port: {listen_port}",
           "        BindAddress: 127.0.0.1", "        DefaultActions:",
           "          - Type: fixed-response",
           "            FixedResponseConfig: {StatusCode: \"404\"}"]
    if rules:
        out.append("        Rules:")
    for i in range(rules):
        out += [f"          - Priority: {i + 1}", "            Conditions:",
                "              - Field: path-pattern",
                f"                PathPatternConfig: {{Values: [\"/r{i}/*\"]}}",
                "            Actions:", "              - Type: fixed-response",
                "                FixedResponseConfig: {StatusCode: \"200\"}"]
    out.append("TargetGroups:")
    for g in range(groups):
        out += [f"  - Name: g{g}", "    Protocol: HTTP", f"    Port: {GROUP_PORT}",
                "    HealthCheckEnabled: false", "    Targets:" if targets > g * GROUP_SIZE
                else "    Targets: []"]
        for i in range(g * GROUP_SIZE, min(targets, (g + 1) * GROUP_SIZE)):
            out.append(f"      - Id: {target_ip(i)}")
    return "\n".join(out) + "\n"


TINY_CONFIG = """LoadBalancers:
  - Name: tiny
    Listeners:
      - Protocol: HTTP
        Port: 1
        BindAddress: 127.0.0.1
        DefaultActions:
          - Type: fixed-response
            FixedResponseConfig: {StatusCode: "404"}
"""


# --------------------------------------------------------------------------------------------
# /proc readers


def proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def thread_cpu(pid: int) -> dict:
    """CPU seconds by thread name (several threads can share one), from schedstat
    (nanoseconds; /proc/PID/stat counts in clock ticks, too coarse for a few thousand
    requests). Threads that ended are missing (the API's live for one connection)."""
    out = Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[name] += ns / 1e9
    return out


def process_cpu(pid: int) -> float:
    """utime+stime of the whole process, threads that ended included (clock ticks: fine over
    a window of many calls)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_delta(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}


# --------------------------------------------------------------------------------------------
# The sluice process and its store


class Sluice:
    def __init__(self, binary, workdir: Path, listen_port: int):
        self.bin = binary
        self.dir = workdir
        self.db = workdir / "state.db"
        self.listen_port = listen_port
        self.api_port = free_port()
        self.log = workdir / "sluice.log"
        self.proc = None

    def cli(self, *args, timeout=600) -> tuple[float, str]:
        t0 = time.monotonic()
        r = subprocess.run([self.bin, *[str(a) for a in args]], capture_output=True,
                           timeout=timeout)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError(f"sluice {' '.join(map(str, args))[:200]}: "
                               f"{r.stderr.decode(errors='replace')[-2000:]}")
        return dt, r.stdout.decode(errors="replace")

    def import_config(self, text: str, tag: str, db=None) -> float:
        path = self.dir / f"{tag}.yaml"
        path.write_text(text)
        dt, out = self.cli("import", path, "--state", db or self.db)
        if "generation" not in out:
            raise RuntimeError(f"import: {out}")
        return dt

    def new_key(self):
        _, out = self.cli("api-keys", "create", "--user", "bench", "--policy", "admin",
                          "--state", self.db)
        return (re.search(r"AccessKeyId:\s+(\S+)", out).group(1),
                re.search(r"SecretAccessKey:\s+(\S+)", out).group(1))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def start(self):
        err = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self.bin, "run", "--state", str(self.db), "--api", f"127.0.0.1:{self.api_port}",
             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while "elbv2 API on" not in self.log_text():
            if self.proc.poll() is not None:
                raise RuntimeError(f"sluice exited: {self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("sluice did not start")
            time.sleep(0.05)

    def reload(self) -> float:
        """SIGHUP; waits for "reload applied". Returns the seconds it took."""
        before = self.log_text().count("reload applied")
        refused = self.log_text().count("reload refused")
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        while self.log_text().count("reload applied") == before:
            if self.log_text().count("reload refused") != refused or self.proc.poll() is not None:
                raise RuntimeError(f"reload failed: {self.log_text()[-2000:]}")
            if time.monotonic() - t0 > 600:
                raise RuntimeError("reload did not finish")
            time.sleep(0.02)
        return time.monotonic() - t0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def export(self) -> tuple[float, str]:
        return self.cli("export", "--state", self.db)

    def db_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.db, Path(f"{self.db}-wal")) if p.exists())

    def sizes(self) -> dict:
        """The document, store and process sizes, for a checkpoint."""
        _, yaml = self.export()
        st = proc_status(self.proc.pid)
        return {"yaml_bytes": len(yaml.encode()), "db_bytes": self.db_bytes(),
                "rss_kib": st.get("VmRSS"), "hwm_kib": st.get("VmHWM"), "loadavg1": loadavg()}


# --------------------------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.dir = workdir
        self.groups = max(10 if args.targets >= 10 * GROUP_SIZE else 1,
                          math.ceil(args.targets / GROUP_SIZE))
        # A copy named api-scale-lb in a directory whose name does not say sluice: another
        # session's `pkill sluice` / `pkill -f sluice` stopped the first full run.
        binary = workdir / "api-scale-lb"
        shutil.copy(args.sluice, binary)
        self.s = Sluice(str(binary), workdir, free_port())
        self.targets = 0  # registered so far: 0..targets-1 (target_ip(i) in group i // 1000)
        self.rules = 0    # created so far: priorities 1..rules
        self.restarts = []
        self.r = {"phases": {}, "restarts": self.restarts}
        self.t_start = time.monotonic()

    def elapsed(self):
        return round(time.monotonic() - self.t_start, 1)

    def note(self, msg):
        print(f"[{self.elapsed():7.1f}s] {msg}", flush=True)

    # -- setup --

    def build_harness(self):
        """Builds api_mutation_split against build/*.a; None (and a note) when that fails."""
        libs = sorted(Path(self.args.sluice).resolve().parent.glob("libsluice_*.a"))
        exe = self.dir / "api_mutation_split"
        cmd = ["g++", "-std=c++20", "-O2", f"-I{ROOT / 'src'}",
               str(Path(__file__).resolve().parent / "api_mutation_split.cc"), "-o", str(exe),
               "-Wl,--start-group", *map(str, libs), "-Wl,--end-group", "-lyaml-cpp", "-lre2",
               "-lsqlite3", "-lssl", "-lcrypto", "-lz", "-ldeflate", "-pthread"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not libs:
            self.r["harness_error"] = (r.stderr or "no build/libsluice_*.a")[-2000:]
            self.note("api_mutation_split did not build; the in-process split is skipped")
            return None
        return exe

    def setup(self):
        self.harness = self.build_harness()
        t = self.s.import_config(render_config(self.s.listen_port, self.groups, 0, 0), "initial")
        self.key = self.s.new_key()
        self.s.start()
        self.c = boto3.client(
            "elbv2", endpoint_url=f"http://127.0.0.1:{self.s.api_port}", region_name="us-east-1",
            aws_access_key_id=self.key[0], aws_secret_access_key=self.key[1],
            config=BotoConfig(retries={"max_attempts": 1}, read_timeout=600, connect_timeout=30,
                              max_pool_connections=1))
        self.group_arns = {g["TargetGroupName"]: g["TargetGroupArn"]
                           for g in self.paged(self.c.describe_target_groups, "TargetGroups")}
        self.refresh_listener()
        self.r["setup"] = {"groups": self.groups, "initial_import_s": round(t, 3),
                           **self.s.sizes()}
        self.note(f"sluice up: {self.groups} groups, API on {self.s.api_port}, "
                  f"listener on {self.s.listen_port}")

    def paged(self, fn, key, **kw):
        out, marker = [], None
        while True:
            page = fn(**kw, **({"Marker": marker} if marker else {}))
            out += page[key]
            marker = page.get("NextMarker")
            if not marker:
                return out

    def refresh_listener(self):
        lb = self.c.describe_load_balancers()["LoadBalancers"][0]
        self.lb_arn = lb["LoadBalancerArn"]
        self.listener_arn = self.c.describe_listeners(
            LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]["ListenerArn"]

    def timed(self, fn, **kw):
        t0 = time.monotonic()
        out = fn(**kw)
        return time.monotonic() - t0, out

    def mutate(self, fn, **kw):
        """A timed mutation. When the sluice process is gone (another session's `pkill` stopped
        the first full run), it is started again from its store (--max-restarts times in
        all, each recorded) and the call is made again; that call's latency is returned.
        Returns (None, None) when the retried call finds its change already made (the rule's
        priority is taken)."""
        for attempt in range(2):
            try:
                return self.timed(fn, **kw)
            except (ClientError, BotoCoreError) as e:
                if attempt == 1 and isinstance(e, ClientError) and \
                        e.response["Error"]["Code"] == "PriorityInUse":
                    return None, None
                if self.s.proc.poll() is None or attempt == 1 or \
                        len(self.restarts) >= self.args.max_restarts:
                    raise
                tail = self.s.log_text().splitlines()[-3:]
                self.restarts.append({"at_s": self.elapsed(), "targets": self.targets,
                                      "rules": self.rules, "returncode": self.s.proc.returncode,
                                      "log_tail": tail})
                self.note(f"sluice exited ({self.s.proc.returncode}; {tail}); starting it again")
                self.s.start()
        raise AssertionError("unreachable")

    # -- targets --

    def register(self, upto: int, batch: int, latencies: list, phase: dict) -> bool:
        """Registers targets until `upto`, in calls of at most `batch` (within one group)."""
        while self.targets < upto:
            g = self.targets // GROUP_SIZE
            end = min(upto, self.targets + batch, (g + 1) * GROUP_SIZE)
            ids = [{"Id": target_ip(i)} for i in range(self.targets, end)]
            try:
                dt, _ = self.mutate(self.c.register_targets,
                                    TargetGroupArn=self.group_arns[f"g{g}"], Targets=ids)
            except (ClientError, BotoCoreError) as e:
                phase["stopped"] = f"RegisterTargets at {self.targets} targets failed: {e}"
                self.note(phase["stopped"])
                return False
            latencies.append(dt)
            self.targets = end
            if dt > self.args.max_call_s:
                phase["stopped"] = (f"one RegisterTargets took {dt:.1f} s (> --max-call-s "
                                    f"{self.args.max_call_s}) at {self.targets} targets")
                self.note(phase["stopped"])
                return False
        return True

    def phase_targets(self):
        a = self.args
        phase = {"checkpoints": [], "growth": []}
        self.r["phases"]["targets"] = phase
        points = [n for n in TARGET_CHECKPOINTS if n < a.targets] + [a.targets]
        prev = 0
        for n in points:
            window = min(n - prev, max(n // 10, a.samples * a.batch))
            growth = []
            t0 = time.monotonic()
            ok = self.register(n - window, a.bulk, growth, phase)
            if growth:
                phase["growth"].append({"from": prev, "to": self.targets, "batch": a.bulk,
                                        **summary(growth)})
            lat = []
            c0 = process_cpu(self.s.proc.pid)
            ok = ok and self.register(n, a.batch, lat, phase)
            cpu = process_cpu(self.s.proc.pid) - c0
            cp = {"targets": self.targets, "window": [n - window, n], "batch": a.batch,
                  **summary(lat), "server_cpu_ms_per_call": ms(cpu / max(1, len(lat))),
                  **self.s.sizes(),
                  "phase_s_so_far": round(time.monotonic() - t0, 1)}
            phase["checkpoints"].append(cp)
            self.note(f"targets {self.targets}: {summary(lat)} yaml {cp['yaml_bytes']} "
                      f"rss {cp['rss_kib']} KiB")
            prev = n
            if not ok:
                break
        phase["reached"] = self.targets

    # -- describe --

    def phase_describe(self, name):
        full = self.targets // GROUP_SIZE
        phase = {"targets_registered": self.targets, "rules": self.rules}
        self.r["phases"][name] = phase
        if full < 1:
            phase["skipped"] = "no group holds 1,000 targets"
            return
        one = []
        for _ in range(self.args.describe_reps):
            dt, out = self.timed(self.c.describe_target_health,
                                 TargetGroupArn=self.group_arns["g0"])
            one.append(dt)
        descs = out["TargetHealthDescriptions"]
        phase["one_group"] = {"targets": len(descs), **summary(one),
                              "states": dict(Counter(d["TargetHealth"]["State"] for d in descs))}
        if full >= 10:
            tens = []
            for _ in range(max(1, self.args.describe_reps // 2)):
                t0 = time.monotonic()
                n = 0
                for g in range(10):
                    n += len(self.c.describe_target_health(
                        TargetGroupArn=self.group_arns[f"g{g}"])["TargetHealthDescriptions"])
                tens.append(time.monotonic() - t0)
            phase["ten_groups"] = {"targets": n, "calls_per_rep": 10, "reps": len(tens),
                                   "total_ms": [ms(t) for t in tens],
                                   "median_total_ms": ms(statistics.median(tens))}
        self.note(f"{name}: {phase}")

    # -- rules --

    def seed_rules(self, n: int) -> dict:
        """Replaces the stored config by the same one with rules 0..n-1, then SIGHUP."""
        text = render_config(self.s.listen_port, self.groups, self.targets, n)
        t_import = self.s.import_config(text, "seed")
        t_reload = self.s.reload()
        self.rules = n
        self.refresh_listener()
        return {"rules": n, "import_s": round(t_import, 2), "reload_s": round(t_reload, 2),
                "yaml_in_bytes": len(text)}

    def create_rules(self, upto: int, latencies: list, phase: dict) -> bool:
        while self.rules < upto:
            i = self.rules
            try:
                dt, _ = self.mutate(
                    self.c.create_rule, ListenerArn=self.listener_arn, Priority=i + 1,
                    Conditions=[{"Field": "path-pattern",
                                 "PathPatternConfig": {"Values": [f"/r{i}/*"]}}],
                    Actions=[{"Type": "fixed-response",
                              "FixedResponseConfig": {"StatusCode": "200"}}])
            except (ClientError, BotoCoreError) as e:
                phase["stopped"] = f"CreateRule at {self.rules} rules failed: {e}"
                self.note(phase["stopped"])
                return False
            self.rules += 1
            if dt is None:
                continue  # made by the call the restart interrupted; not timed
            latencies.append(dt)
            if dt > self.args.max_call_s:
                phase["stopped"] = (f"one CreateRule took {dt:.1f} s (> --max-call-s "
                                    f"{self.args.max_call_s}) at {self.rules} rules")
                self.note(phase["stopped"])
                return False
        return True

    def phase_rules(self):
        a = self.args
        phase = {"checkpoints": [], "seeds": [], "targets_registered": self.targets}
        self.r["phases"]["rules"] = phase
        points = [n for n in RULE_CHECKPOINTS if n < a.rules] + [a.rules]
        prev = 0
        ok = True
        for n in points:
            window = min(n - prev, a.rule_samples)
            start = n - window
            t0 = time.monotonic()
            if start - self.rules > a.rule_samples:
                seed = self.seed_rules(start)
                phase["seeds"].append(seed)
                self.note(f"seeded {start} rules: {seed}")
            lat = []
            first = self.rules
            c0 = process_cpu(self.s.proc.pid)
            ok = self.create_rules(n, lat, phase)
            cpu = process_cpu(self.s.proc.pid) - c0
            cp = {"rules": self.rules, "by_create_rule": [first, self.rules], **summary(lat),
                  "server_cpu_ms_per_call": ms(cpu / max(1, len(lat))),
                  **self.s.sizes(), "phase_s_so_far": round(time.monotonic() - t0, 1)}
            phase["checkpoints"].append(cp)
            self.note(f"rules {self.rules}: {summary(lat)} yaml {cp['yaml_bytes']} "
                      f"rss {cp['rss_kib']} KiB")
            prev = n
            if not ok:
                break
        phase["reached"] = self.rules
        if ok and a.modify_reps:
            lat = []
            for k in range(a.modify_reps):
                code = "403" if k % 2 == 0 else "404"
                dt, _ = self.mutate(self.c.modify_listener, ListenerArn=self.listener_arn,
                                   DefaultActions=[{"Type": "fixed-response",
                                                    "FixedResponseConfig": {"StatusCode": code}}])
                lat.append(dt)
            phase["modify_listener"] = {**summary(lat), "latencies_ms": [ms(x) for x in lat]}
            self.note(f"ModifyListener: {phase['modify_listener']}")
            phase["others"] = self.other_mutations(a.modify_reps)

    def other_mutations(self, reps: int) -> dict:
        """Mutations besides rules and targets, --modify-reps each, at the scale reached: tags,
        a group's health check and attributes, a group created and deleted (unused), a listener
        created (still the whole-document path) and deleted, and load balancer attributes."""
        group = self.group_arns["g0"]
        out = {}
        calls = {
            "AddTags": lambda k: (self.c.add_tags, dict(
                ResourceArns=[group], Tags=[{"Key": "round", "Value": str(k)}])),
            "ModifyTargetGroup": lambda k: (self.c.modify_target_group, dict(
                TargetGroupArn=group, HealthCheckPath=f"/health{k % 2}")),
            "ModifyTargetGroupAttributes": lambda k: (self.c.modify_target_group_attributes, dict(
                TargetGroupArn=group, Attributes=[{"Key": "deregistration_delay.timeout_seconds",
                                                   "Value": str(10 + k % 2)}])),
            "CreateTargetGroup": lambda k: (self.c.create_target_group, dict(
                Name=f"scratch{k}", Protocol="HTTP", Port=9000, VpcId="vpc-0")),
            "CreateListener": lambda k: (self.c.create_listener, dict(
                LoadBalancerArn=self.lb_arn, Protocol="HTTP", Port=free_port(),
                DefaultActions=[{"Type": "fixed-response",
                                 "FixedResponseConfig": {"StatusCode": "404"}}])),
            # Still checked by loading the whole document (decision 0032): the reference.
            "ModifyLoadBalancerAttributes": lambda k: (
                self.c.modify_load_balancer_attributes, dict(
                    LoadBalancerArn=self.lb_arn, Attributes=[
                        {"Key": "idle_timeout.timeout_seconds", "Value": str(60 + k % 2)}])),
        }
        for name, make in calls.items():
            lat = []
            for k in range(reps):
                fn, kw = make(k)
                dt, answer = self.mutate(fn, **kw)
                lat.append(dt)
                if name == "CreateTargetGroup":
                    arn = answer["TargetGroups"][0]["TargetGroupArn"]
                    dt, _ = self.mutate(self.c.delete_target_group, TargetGroupArn=arn)
                    out.setdefault("DeleteTargetGroup", {"lat": []})["lat"].append(dt)
                if name == "CreateListener":
                    arn = answer["Listeners"][0]["ListenerArn"]
                    dt, _ = self.mutate(self.c.delete_listener, ListenerArn=arn)
                    out.setdefault("DeleteListener", {"lat": []})["lat"].append(dt)
            out[name] = {"lat": lat}
        for name, v in out.items():
            lat = v.pop("lat")
            v.update({**summary(lat), "latencies_ms": [ms(x) for x in lat]})
            self.note(f"{name}: {v}")
        return out

    # -- where one mutation's time goes --

    def split(self, name, mutation_p50_ms):
        reps = self.args.split_reps
        _, yaml = self.s.export()
        doc = self.dir / f"export-{name}.yaml"
        doc.write_text(yaml)
        tiny = self.dir / "tiny.yaml"
        tiny.write_text(TINY_CONFIG)

        def med(fn):
            return ms(statistics.median(fn() for _ in range(reps)))

        scratch = self.dir / "scratch"

        def fresh_scratch():
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            return scratch / "s.db"

        def imp():
            db = fresh_scratch()
            t0 = time.monotonic()
            self.s.cli("import", doc, "--state", db)
            return time.monotonic() - t0

        out = {
            "yaml_bytes": len(yaml.encode()),
            "mutation_p50_ms": mutation_p50_ms,
            "validate_ms": med(lambda: self.s.cli("validate", doc)[0]),
            "validate_tiny_ms": med(lambda: self.s.cli("validate", tiny)[0]),
            "import_scratch_ms": med(imp),
            "export_ms": med(lambda: self.s.export()[0]),
            "describe_account_limits_ms": med(
                lambda: self.timed(self.c.describe_account_limits)[0]),
        }
        out["load_validate_cli_ms"] = round(out["validate_ms"] - out["validate_tiny_ms"], 1)
        out["import_minus_validate_ms"] = round(out["import_scratch_ms"] - out["validate_ms"], 1)
        if self.harness:
            db = fresh_scratch()
            with sqlite3.connect(self.s.db) as src, sqlite3.connect(db) as dst:
                src.backup(dst)  # the live store, with its history of generations
            shutil.copy(f"{self.s.db}.key", f"{db}.key")  # the store checks its master key
            r = subprocess.run([str(self.harness), str(doc), str(db), str(max(3, reps))],
                               capture_output=True, text=True, timeout=1200)
            if r.returncode == 0:
                out["inproc"] = json.loads(r.stdout)
                if mutation_p50_ms is not None:
                    out["outside_apply_ms"] = round(
                        mutation_p50_ms - out["inproc"]["total_ms"], 1)
            else:
                out["inproc_error"] = r.stderr[-2000:]
        shutil.rmtree(scratch, ignore_errors=True)
        self.r.setdefault("split", {})[name] = out
        self.note(f"split {name}: {out}")

    # -- data plane --

    def dataplane(self, name):
        n = self.args.dp_requests
        last = max(0, self.rules - 1)
        out = {"targets": self.targets, "rules": self.rules, "requests_per_path": n}
        paths = [("first_rule", "/r0/x"), ("last_rule", f"/r{last}/x"), ("no_rule", "/nomatch/x")]
        for label, path in paths if self.rules > 1 else paths[2:]:
            conn = http.client.HTTPConnection("127.0.0.1", self.s.listen_port, timeout=10)
            for _ in range(200):  # warm-up
                conn.request("GET", path)
                conn.getresponse().read()
            lat = []
            c0 = thread_cpu(self.s.proc.pid)
            t0 = time.monotonic()
            status = Counter()
            for _ in range(n):
                t1 = time.perf_counter()
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                lat.append(time.perf_counter() - t1)
                status[resp.status] += 1
            wall = time.monotonic() - t0
            d = cpu_delta(c0, thread_cpu(self.s.proc.pid))
            conn.close()
            out[label] = {"path": path, "status": dict(status),
                          "p50_us": round(percentile(lat, 50) * 1e6, 1),
                          "p99_us": round(percentile(lat, 99) * 1e6, 1),
                          "sluice_cpu_us_per_req": round(sum(d.values()) * 1e6 / n, 1),
                          "by_thread_us_per_req": {k: round(v * 1e6 / n, 1)
                                                   for k, v in sorted(d.items()) if v > 0},
                          "wall_s": round(wall, 2)}
        # What the process burns with no traffic over the same kind of window.
        c0 = thread_cpu(self.s.proc.pid)
        time.sleep(2)
        d = cpu_delta(c0, thread_cpu(self.s.proc.pid))
        out["idle_cpu_pct_by_thread"] = {k: round(v * 50, 2) for k, v in sorted(d.items())
                                         if v > 0}
        self.r.setdefault("dataplane", {})[name] = out
        self.note(f"dataplane {name}: {out}")

    def run(self):
        self.setup()
        try:
            self.dataplane("start")
            if self.args.targets:
                self.phase_targets()
                cps = self.r["phases"]["targets"]["checkpoints"]
                self.phase_describe("describe_after_targets")
                self.split("after_targets", cps[-1].get("p50_ms") if cps else None)
            if self.args.rules:
                self.phase_rules()
                cps = self.r["phases"]["rules"]["checkpoints"]
                if self.targets >= GROUP_SIZE:
                    self.phase_describe("describe_at_end")
                self.split("after_rules", cps[-1].get("p50_ms") if cps else None)
            self.dataplane("end")
            self.r["final"] = {"targets": self.targets, "rules": self.rules, **self.s.sizes()}
            self.r["log_lines"] = {k: self.s.log_text().count(k) for k in (
                "API change applied", "reload applied", "slow to take")}
        finally:
            self.s.stop()


# --------------------------------------------------------------------------------------------
# Output


def first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() \
            else ""
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"


def versions():
    git = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain",
                        "--untracked-files=no"])
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"sluice": f"{git}{' + uncommitted changes' if dirty else ''}",
            "kernel": os.uname().release, "cpu": model,
            "cpus_available": sorted(os.sched_getaffinity(0)),
            "python": sys.version.split()[0], "boto3": boto3.__version__}


def kib_mib(k):
    return f"{k / 1024:,.0f}" if k is not None else "-"


def markdown(res) -> str:
    m = res["meta"]
    r = res["results"]
    lines = [f"# elbv2 API at scale, {m['started']}", "",
             f"- Sluice {m['versions']['sluice']}; kernel {m['versions']['kernel']}; CPU "
             f"{m['versions']['cpu']}; CPUs available {m['versions']['cpus_available']}; "
             f"boto3 {m['versions']['boto3']}",
             "- Arguments: " + " ".join(f"--{k.replace('_', '-')} {v}"
                                        for k, v in m["args"].items() if k != "out"),
             f"- Duration {m['elapsed_s']:.0f} s. {m['status']} Load average (1 min) "
             f"{m['loadavg_at_start']} at the start, {m['loadavg_at_end']} at the end (2 CPUs: "
             "above ~1 other work competed with sluice and the client).", "",
             "Latency: client-side wall time of one boto3 call (signing, connect, server work, "
             "answer). p99 is nearest-rank over the calls of the window (with fewer than 100 "
             "calls it is the largest or second largest).", ""]
    for x in r.get("restarts", []):
        lines += [f"- Restart: sluice exited ({x['returncode']}) at {x['at_s']} s, "
                  f"{x['targets']:,} targets, {x['rules']:,} rules; started again from its "
                  f"store. Log: {x['log_tail']}", ""]
    t = r["phases"].get("targets")
    if t:
        lines += ["## RegisterTargets", "",
                  "| targets | window | calls | p50 ms | p99 ms | max ms | server CPU ms/call "
                  "| YAML bytes | SQLite bytes | RSS MiB | HWM MiB | load avg |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for c in t["checkpoints"]:
            lines.append(f"| {c['targets']:,} | {c['window'][0]:,}–{c['window'][1]:,} by "
                         f"{c['batch']} | {c['calls']} | {c.get('p50_ms', '-')} | "
                         f"{c.get('p99_ms', '-')} | {c.get('max_ms', '-')} | "
                         f"{c['server_cpu_ms_per_call']} | "
                         f"{c['yaml_bytes']:,} | {c['db_bytes']:,} | {kib_mib(c['rss_kib'])} | "
                         f"{kib_mib(c['hwm_kib'])} | {c['loadavg1']} |")
        if t["growth"]:
            lines += ["", "Growth calls between the windows (larger batches): " + "; ".join(
                f"{g['from']:,}→{g['to']:,} by {g['batch']}: {g['calls']} calls, p50 "
                f"{g['p50_ms']} ms, max {g['max_ms']} ms" for g in t["growth"])]
        if t.get("stopped"):
            lines += ["", f"Stopped: {t['stopped']}"]
        lines.append("")
    for name in ("describe_after_targets", "describe_at_end"):
        d = r["phases"].get(name)
        if not d or not d.get("one_group"):
            continue
        lines += [f"## DescribeTargetHealth ({name}: {d['targets_registered']:,} targets, "
                  f"{d['rules']:,} rules)", ""]
        o = d["one_group"]
        lines.append(f"- one group of {o['targets']:,} targets: {o['calls']} calls, p50 "
                     f"{o['p50_ms']} ms, max {o['max_ms']} ms (states {o['states']})")
        if "ten_groups" in d:
            tg = d["ten_groups"]
            lines.append(f"- 10 groups, {tg['targets']:,} targets (10 calls, one after the "
                         f"other): {tg['total_ms']} ms per round, median "
                         f"{tg['median_total_ms']} ms")
        lines.append("")
    ru = r["phases"].get("rules")
    if ru:
        lines += [f"## CreateRule (one listener; {ru['targets_registered']:,} targets registered)",
                  "", "| rules | by CreateRule | calls | p50 ms | p99 ms | max ms | server CPU "
                  "ms/call | YAML bytes | SQLite bytes | RSS MiB | HWM MiB | load avg |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for c in ru["checkpoints"]:
            b = c["by_create_rule"]
            lines.append(f"| {c['rules']:,} | {b[0]:,}–{b[1]:,} | {c['calls']} | "
                         f"{c.get('p50_ms', '-')} | {c.get('p99_ms', '-')} | "
                         f"{c.get('max_ms', '-')} | {c['server_cpu_ms_per_call']} | "
                         f"{c['yaml_bytes']:,} | {c['db_bytes']:,} | "
                         f"{kib_mib(c['rss_kib'])} | {kib_mib(c['hwm_kib'])} | {c['loadavg1']} |")
        if ru["seeds"]:
            lines += ["", "Seeded (sluice import + SIGHUP) before the windows: " + "; ".join(
                f"{s['rules']:,} rules (import {s['import_s']} s, reload {s['reload_s']} s)"
                for s in ru["seeds"])]
        if ru.get("modify_listener"):
            ml = ru["modify_listener"]
            lines += ["", f"ModifyListener at the end: {ml['latencies_ms']} ms"]
        for name, v in ru.get("others", {}).items():
            lines += ["", f"{name} at the end: p50 {v.get('p50_ms', '-')}, p99 "
                      f"{v.get('p99_ms', '-')} ms; {v['latencies_ms']} ms"]
        if ru.get("stopped"):
            lines += ["", f"Stopped: {ru['stopped']}"]
        lines.append("")
    if r.get("split"):
        lines += ["## Where one mutation's time goes (at the largest size)", "",
                  "In process (bench/tools/api_mutation_split.cc, medians, ms; in brackets the "
                  "CPU ms where measured): the steps of the server's apply on the exported "
                  "document; outside = the client's mutation p50 minus their wall-time sum "
                  "(HTTP, SigV4, the handler, publishing; and the noise of a shared machine: "
                  "the same load of the same document took 669 and 1,075 CPU-ms in two "
                  "back-to-back runs while other sessions were busy).", "",
                  "| at | YAML bytes | client p50 | in-process total | copy | FreezeIds | "
                  "ExportYaml | load (parse+validate) | compile | commit | free | outside |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, s in r["split"].items():
            i = s.get("inproc")
            if not i:
                lines.append(f"| {name} | {s['yaml_bytes']:,} | {s['mutation_p50_ms']} | "
                             f"(not measured: {s.get('inproc_error', 'no harness')[:80]}) |")
                continue
            def cell(k):  # wall ms, and CPU ms when the harness measured it
                return f"{i[k]} ({i[k[:-3] + '_cpu_ms']})" if k[:-3] + "_cpu_ms" in i else \
                    str(i[k])
            lines.append(f"| {name} | {s['yaml_bytes']:,} | {s['mutation_p50_ms']} | "
                         f"{cell('total_ms')} | {cell('copy_ms')} | {cell('freeze_ms')} | "
                         f"{cell('export_ms')} | {cell('load_ms')} | {cell('compile_ms')} | "
                         f"{cell('commit_ms')} | {cell('free_ms')} | "
                         f"{s.get('outside_apply_ms', '-')} |")
        lines += ["", "From the command line (medians of 3, ms; each a new process that "
                  "page-faults all the memory of its load; on a shared 2-CPU box these vary by "
                  "tens of percent, so they give the order of magnitude only — the in-process "
                  "figures above are the split):", "",
                  "| at | validate | validate (tiny config) | validate − tiny | import "
                  "(scratch store) | import − validate | export (SQLite read) | "
                  "DescribeAccountLimits |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, s in r["split"].items():
            lines.append(f"| {name} | {s['validate_ms']} | {s['validate_tiny_ms']} | "
                         f"{s['load_validate_cli_ms']} | {s['import_scratch_ms']} | "
                         f"{s['import_minus_validate_ms']} | {s['export_ms']} | "
                         f"{s['describe_account_limits_ms']} |")
        lines.append("")
    if r.get("dataplane"):
        lines += ["## Data plane (sequential keep-alive GETs from Python)", "",
                  "| when | targets | rules | path | status | client p50 µs | client p99 µs "
                  "| sluice CPU µs/req | by thread |",
                  "|---|---:|---:|---|---|---:|---:|---:|---|"]
        for name, d in r["dataplane"].items():
            for label in ("first_rule", "last_rule", "no_rule"):
                if label not in d:
                    continue
                x = d[label]
                lines.append(f"| {name} | {d['targets']:,} | {d['rules']:,} | {x['path']} | "
                             f"{x['status']} | {x['p50_us']} | {x['p99_us']} | "
                             f"{x['sluice_cpu_us_per_req']} | {x['by_thread_us_per_req']} |")
        lines += [""] + [f"- idle CPU % by thread ({name}, 2 s, no traffic): "
                         f"{d.get('idle_cpu_pct_by_thread')}" for name, d in r["dataplane"].items()]
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", type=int, default=100000)
    ap.add_argument("--rules", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=100, help="targets per measured call")
    ap.add_argument("--bulk", type=int, default=1000,
                    help="targets per growth call between the measured windows")
    ap.add_argument("--samples", type=int, default=50,
                    help="at least this many measured RegisterTargets calls per checkpoint")
    ap.add_argument("--rule-samples", type=int, default=100,
                    help="CreateRule calls per checkpoint (the rules before are seeded)")
    ap.add_argument("--describe-reps", type=int, default=6)
    ap.add_argument("--modify-reps", type=int, default=3)
    ap.add_argument("--split-reps", type=int, default=3)
    ap.add_argument("--dp-requests", type=int, default=5000)
    ap.add_argument("--max-call-s", type=float, default=30.0,
                    help="stop a phase once one mutation takes longer")
    ap.add_argument("--max-restarts", type=int, default=3,
                    help="start sluice again (from its store) when something else stopped it")
    ap.add_argument("--sluice", default=str(ROOT / "build" / "sluice"))
    ap.add_argument("--out", help="results directory (default bench/results/api-scale-<time>)")
    args = ap.parse_args()
    if args.targets > 100 * GROUP_SIZE:
        ap.error("at most 100,000 targets (100 groups of 1,000)")
    started = datetime.datetime.now()
    out = Path(args.out) if args.out else \
        ROOT / "bench" / "results" / f"api-scale-{started.strftime('%Y%m%d-%H%M%S')}"
    res = {"meta": {"started": started.isoformat(timespec="seconds"), "args": vars(args),
                    "versions": versions(), "loadavg_at_start": loadavg()}}
    status = "Completed."
    with tempfile.TemporaryDirectory(prefix="api-scale-") as d:
        b = Bench(args, Path(d))
        try:
            b.run()
        except Exception as e:  # keep what was measured
            status = f"Broke: {type(e).__name__}: {e}"
            print(status, file=sys.stderr)
        res["meta"]["elapsed_s"] = round(time.monotonic() - b.t_start, 1)
        res["meta"]["status"] = status
        res["meta"]["loadavg_at_end"] = loadavg()
        res["results"] = b.r
        out.mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        if b.s.log.exists():
            shutil.copy(b.s.log, out / "logs" / "sluice.log")
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    md = markdown(res)
    (out / "results.md").write_text(md + "\n")
    print(md)
    print(f"\nresults: {out}")
    return 0 if status == "Completed." else 1


if __name__ == "__main__":
    sys.exit(main())
