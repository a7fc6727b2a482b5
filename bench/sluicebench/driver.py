"""The run: Bench starts backends and chains, takes the measurements, and rotates the chains
through interleaved rounds. What runs (layouts, workloads, phases, chains) is data from
workloads.py and chains.py; the phases themselves are Bench.PHASES."""

import json
import os
import random
import shutil
import signal
import time

from .chains import (BACKEND_SOURCES, ChainEnv, backend_argv, backend_tool, launch,
                     make_certificate, nginx_stream_load, tls_backend_argv)
from .common import BACKEND_ADDRS, PROXY_ADDR, HarnessError, ProxyDied
from .httpcheck import (bulk_check, h2_check, http_check, open_idle_connections, udp_check,
                        ws_check)
from . import accesslog, loadgen
from .procs import Procs, descendants, wait_listening, wait_udp_bound
from .stats import openloop_rate
from .sysstats import (cpu_delta_seconds, cpu_ticks, cpu_times, established_to, listening,
                       memory_kib, pct, tcp_counters, udp_bound, udp_counters, upstream_conns)
from .workloads import (BULK_CHECK_BYTES, BULK_WARMUP_BYTES, GIB, RESUMED_MIN,
                        UDP_PACKETS_PER_REQUEST, WORKLOADS)


def nginx_installed():
    return bool(shutil.which("nginx")) or os.path.exists("/usr/sbin/nginx")


# What an HTTP/2 workload needs besides the proxies: its client and its check request's
# client (both Debian's nghttp2-client).
H2_TOOLS = ("h2load", "nghttp")


def h2_tools_missing():
    return [t for t in H2_TOOLS if not shutil.which(t)]


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
        # chains.TlsFiles by kind of key: the run's one certificate of each kind, made when a
        # workload first needs it and then the same for every proxy and round.
        self.tls = {}
        # pid of a running proxy -> where its access log goes (an access-log workload).
        self.access_logs = {}
        # workload name -> the file of its request body (a gRPC workload's message).
        self.bodies = {}

    def request_file(self, workload):
        """The file holding the workload's request body (Workload.request_body: what h2load
        and the check request send), made once per run; None for a workload of GETs."""
        if workload.request_body is None:
            return None
        if workload.name not in self.bodies:
            path = (self.work / f"request-{workload.name}.bin").resolve()
            path.write_bytes(workload.request_body)
            self.bodies[workload.name] = path
        return self.bodies[workload.name]

    def tls_files(self, workload):
        kind = workload.tls_key
        if kind not in self.tls:
            self.tls[kind] = make_certificate(self.work / "tls" / kind, kind)
        return self.tls[kind]

    # ---- backends and proxies ----------------------------------------------------------------

    def start_backends(self, layout, workload):
        self.stop_backends()
        a = self.args
        tool = backend_tool(workload.body, a.sized_backend_only, workload.backend_tls,
                            workload.websocket, workload.h2_backends, workload.udp,
                            bool(workload.bulk))
        if workload.backend_tls:
            # One NGINX process serves every backend address over TLS.
            env = ChainEnv(self.tools, self.cfg_dir, self.work, a.backend_port,
                           a.sized_backend_only, self.tls_files(workload))
            log = self.log_dir / "tls-backend-access.log" if a.tls_backend_log else None
            argv = tls_backend_argv(env, workload, access_log=log)
            p = self.procs.start(tool, argv, cpus=layout.load_cpus)
            self.backends.append(p)
            procs = [p] * len(BACKEND_ADDRS)
        else:
            for addr in BACKEND_ADDRS:
                argv = backend_argv(self.tools, tool, a.backend_port, addr, workload.body)
                p = self.procs.start(f"backend-{addr}", argv, cpus=layout.load_cpus)
                self.backends.append(p)
            procs = self.backends
        wait = wait_udp_bound if workload.udp else wait_listening
        for addr, p in zip(BACKEND_ADDRS, procs):
            wait(addr, a.backend_port, p, f"backend {addr}")
        for addr in BACKEND_ADDRS:
            # The backends keep every connection ("Connection: close" is the chains' job).
            # HTTP/2 backends get the workload's request over h2c.
            err = self.request_check(addr, a.backend_port, workload, "/", close=False,
                                     tls=workload.backend_tls, h2=workload.h2_backends,
                                     data=self.request_file(workload))
            if err:
                raise HarnessError(f"backend {addr}: {err}")
            # A TLS backend must not answer plain HTTP: the chains cannot fall back to it.
            if workload.backend_tls and http_check(addr, a.backend_port, "/", workload.body,
                                                   False) is None:
                raise HarnessError(f"backend {addr} answers plain HTTP on its TLS port")
        return BACKEND_SOURCES[tool]

    def stop_backends(self):
        for p in self.backends:
            self.procs.stop(p)
        self.backends = []

    def backend_pids(self):
        """Every backend process (NGINX's master and worker included)."""
        return [pid for p in self.backends for pid in descendants(p.pid)]

    def start_chain(self, chain, layout, workload, port=None):
        """Starts the chain's proxy on `port` (default --port); returns (Popen, ip, port)."""
        a = self.args
        port = a.port if port is None else port
        if (udp_bound if workload.udp else listening)(PROXY_ADDR, port):
            raise HarnessError(f"{PROXY_ADDR}:{port} is in use before starting {chain}")
        env = ChainEnv(self.tools, self.cfg_dir, self.work, a.backend_port,
                       a.sized_backend_only,
                       self.tls_files(workload) if workload.tls else None)
        run = launch(env, chain, layout, workload, port)
        p = self.procs.start(f"{chain}-{layout.name}", run.argv, cpus=layout.proxy_cpus,
                             stdout=run.stdout)
        if run.access_log is not None:
            self.access_logs[p.pid] = run.access_log
        (wait_udp_bound if workload.udp else wait_listening)(run.ip, run.port, p, run.what)
        if run.settle:
            time.sleep(0.1)  # let every worker reach its event loop
        return p, run.ip, run.port

    def check_access_log(self, p, m, served):
        """After proxy `p` stopped, for an access-log workload: the entries its log holds
        (access_log_lines) against the requests it served (access_log_served: check request,
        warm-up, measured); fewer than accesslog.ACCESS_LOG_MIN of them is a problem. The log
        is removed. Nothing for a proxy without an access log."""
        path = self.access_logs.pop(p.pid, None)
        if path is None:
            return
        lines, leftover = accesslog.count_entries(path)
        accesslog.remove(path)
        m["access_log_lines"], m["access_log_served"] = lines, served
        m["access_log_pct"] = round(100 * lines / served, 2) if served else None
        why = accesslog.shortfall(lines, served, leftover)
        if why:
            self.problem(m, why)

    def guarded(self, p, chain, fn):
        try:
            return fn()
        except HarnessError as e:
            died = self.exited(p, chain)
            raise (died or e) from None

    @staticmethod
    def request_check(ip, port, workload, path, close, tls=False, h2=False, data=None):
        """One request (a WebSocket workload: one upgrade and one echo; with `h2`, through
        the chain of an HTTP/2 workload or to its HTTP/2 backends: one HTTP/2 request with
        nghttp, in a gRPC workload a gRPC call whose answer must end with grpc-status 0, its
        message from the file `data`) to ip:port; None when the answer is right, else what
        is wrong. A UDP workload: one datagram of `body` bytes, which must come back
        unchanged (path, close, tls and h2 do not apply). A bulk workload: one transfer of
        BULK_CHECK_BYTES bytes its way (a download, or an upload), checked byte for byte."""
        if workload.bulk:
            return bulk_check(ip, port, BULK_CHECK_BYTES, upload=workload.bulk == "up")
        if workload.udp:
            return udp_check(ip, port, workload.body)
        if workload.websocket:
            return ws_check(ip, port, path, workload.body)
        if h2 and workload.grpc:
            return h2_check(ip, port, path, workload.response_bytes, tls, data=data,
                            headers=workload.request_headers, grpc=True)
        if h2:
            return h2_check(ip, port, path, workload.body, tls)
        return http_check(ip, port, path, workload.body, close, tls=tls)

    def check_chain(self, p, chain, ip, port, workload, m):
        err = self.request_check(ip, port, workload, workload.path, workload.close,
                                 tls=workload.tls, h2=workload.h2,
                                 data=self.request_file(workload))
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


    def closed_loop(self, layout, ip, port, workload, seconds, label):
        """wrk, or tls-load for a handshake workload (Workload.client)."""
        return loadgen.closed_loop(self.procs, self.tools, layout, ip, port, workload, seconds,
                                   label, data=self.request_file(workload))

    def bulk_load(self, layout, ip, port, workload, nbytes):
        return loadgen.bulk_load(self.procs, self.tools["bulk-load"], layout, ip, port,
                                 workload, nbytes, f"bulk-load-{layout.name}")

    def openloop(self, layout, targets, workload, rate, seconds, warmup, label):
        return loadgen.openloop(self.procs, self.tools["openloop"], self.args.slice_ms, layout,
                                targets, workload, rate, seconds, warmup, label)

    # ---- measurements ----------------------------------------------------------------------

    def snapshot(self, pids):
        return {"cpu": cpu_ticks(pids), "backend": cpu_ticks(self.backend_pids()),
                "tcp": tcp_counters(), "udp": udp_counters(), "stat": cpu_times(),
                "t": time.monotonic(), "upstream": upstream_conns(self.args.backend_port)}

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
                warm = self.guarded(p, chain, lambda: self.closed_loop(
                    layout, ip, port, workload, a.warmup, f"{workload.client}-{layout.name}"))
            m["warmup_errors"] = warm["errors"]
            m["neighbour_busy_pct"] = self.quiet_sample(a.quiet)
            pids = descendants(p.pid)
            before = self.snapshot(pids)
            r = self.guarded(p, chain, lambda: self.closed_loop(
                layout, ip, port, workload, a.duration, f"{workload.client}-{layout.name}"))
            after = self.snapshot(pids)
            died = self.exited(p, chain)
            if died:
                raise died
        finally:
            self.procs.stop(p)
        requests = r["requests"]
        m["requests"] = requests
        self.check_access_log(p, m, 1 + warm.get("requests", 0) + requests)
        m["rps"] = round(requests / (r["duration_us"] / 1e6), 1) if r["duration_us"] else 0
        m["errors"] = r["errors"] + warm["errors"]
        m["errors_detail"] = {k: r[k] for k in r if k.startswith("errors_")}
        m["sat_lat_p50_us"], m["sat_lat_p99_us"] = r["lat_p50_us"], r["lat_p99_us"]
        m["bytes_per_response"] = round(r["bytes"] / requests, 1) if requests else None
        m["loadgen_cpu_pct"] = round(100 * r["loadgen_cpu_s"] / (r["duration_us"] / 1e6), 1) \
            if r["duration_us"] else None
        self.fill_deltas(m, before, after, requests)
        if workload.handshake is not None:
            self.fill_handshakes(m, r)
        if workload.websocket:
            self.fill_websocket(m, r)
        if workload.h2:
            self.fill_h2(m, r, layout, workload)
        if workload.udp:
            self.fill_udp(m, r, before["udp"], after["udp"])
        bpr = m["bytes_per_response"] or 0
        want = workload.response_bytes
        if requests and not (want <= bpr <= want + 1024):
            self.problem(m, f"{bpr} bytes per response for a {want}-byte body")
        if requests == 0:
            self.problem(m, "no request completed")
        return m

    @staticmethod
    def fill_handshakes(m, r):
        """tls-load's handshake counts; the proxy's handshakes per second per CPU second (what
        the issue's "handshakes per second per core" is) when it used any CPU."""
        m["client"] = "tls-load"
        for k in loadgen.TLS_LOAD_HANDSHAKES:
            m[k] = r[k]
        m["resumed_pct"] = round(100 * r["resumed"] / r["handshakes"], 2) \
            if r["handshakes"] else None
        m["handshakes_per_cpu_s"] = round(r["handshakes"] / m["proxy_cpu_s"], 1) \
            if m.get("proxy_cpu_s") else None

    @staticmethod
    def fill_websocket(m, r):
        """ws-load's counts; the payload bytes the proxy carried both ways (the client's sent
        plus its received: every message goes up and its echo down), per second and per proxy
        CPU second (the issue's "bytes per CPU-second")."""
        m["client"] = "ws-load"
        for k in loadgen.WS_LOAD_COUNTS:
            m[k] = r[k]
        m["ws_bytes"] = r["payload_bytes_sent"] + r["payload_bytes_received"]
        m["ws_mb_per_s"] = round(m["ws_bytes"] / r["duration_us"], 2) \
            if r["duration_us"] else None
        m["bytes_per_cpu_s"] = round(m["ws_bytes"] / m["proxy_cpu_s"]) \
            if m.get("proxy_cpu_s") else None

    @staticmethod
    def fill_udp(m, r, udp_before, udp_after):
        """udp-load's counts; the packets (the client's datagrams both ways: each request
        up, its echo down, UDP_PACKETS_PER_REQUEST per request echoed) per proxy CPU second
        (the issue's "packets per CPU-second"); the share of the datagrams sent that were
        lost; and the system-wide UDP drop counters over the measured interval
        (sysstats.UDP_COUNTERS: where a loss happened, when there is one)."""
        m["client"] = "udp-load"
        for k in loadgen.UDP_LOAD_COUNTS + ("errors_refused",):
            m[k] = r[k]
        m["packets"] = UDP_PACKETS_PER_REQUEST * r["requests"]
        m["packets_per_cpu_s"] = round(m["packets"] / m["proxy_cpu_s"]) \
            if m.get("proxy_cpu_s") else None
        m["lost_pct"] = round(100 * r["lost"] / r["datagrams_sent"], 3) \
            if r["datagrams_sent"] else None
        for k in udp_after:
            m[k] = udp_after[k] - udp_before.get(k, 0)

    def bulk_bytes(self, workload):
        """The bytes of each transfer of a bulk round: --bulk-mib MiB when given (a smoke run:
        4), else the workload's (`body`: 1 GiB)."""
        mib = getattr(self.args, "bulk_mib", None)
        return mib << 20 if mib else workload.body

    def measure_bulk(self, layout, workload, chain, rnd, order):
        """One round of a bulk workload through `chain`: the check transfer, the warm-up (one
        transfer of BULK_WARMUP_BYTES per connection, unless --warmup 0; not recorded), then
        the measured transfers, bulk_bytes each, with the proxy's CPU (and the backends') read
        from /proc just before and after them."""
        a = self.args
        nbytes = self.bulk_bytes(workload)
        m = {"layout": layout.name, "workload": workload.name, "phase": "bulk",
             "round": rnd, "order": order, "chain": chain}
        p, ip, port = self.start_chain(chain, layout, workload)
        try:
            m["processes"] = len(descendants(p.pid))
            self.check_chain(p, chain, ip, port, workload, m)
            warm = {"errors": 0}
            if a.warmup > 0:
                warm = self.guarded(p, chain, lambda: self.bulk_load(
                    layout, ip, port, workload, min(nbytes, BULK_WARMUP_BYTES)))
            m["warmup_errors"] = warm["errors"]
            m["neighbour_busy_pct"] = self.quiet_sample(a.quiet)
            pids = descendants(p.pid)
            before = self.snapshot(pids)
            r = self.guarded(p, chain, lambda: self.bulk_load(layout, ip, port, workload,
                                                              nbytes))
            after = self.snapshot(pids)
            died = self.exited(p, chain)
            if died:
                raise died
        finally:
            self.procs.stop(p)
        self.fill_deltas(m, before, after, 0)
        del m["cpu_us_per_req"]  # a request is a whole transfer here: CPU per GiB instead
        self.fill_bulk(m, r, warm)
        return m

    def fill_bulk(self, m, r, warm):
        """bulk-load's counts and the figures: cpu_s_per_gib, the proxy's CPU seconds per GiB
        moved, and gbit_per_s, the payload over the client's time (first connect to the end
        of the last transfer). A failed transfer (short, long, corrupt, an error or a timeout,
        in the warm-up too) is an error and a problem, and the round has neither figure: a
        failed round's bytes and CPU do not measure the same work."""
        m["client"] = "bulk-load"
        for k in loadgen.BULK_LOAD_COUNTS:
            m[k] = r[k]
        m["transfers"], m["bytes"] = r["requests"], r["bytes"]
        m["errors"] = r["errors"] + warm["errors"]
        m["errors_detail"] = {k: r[k] for k in r if k.startswith("errors_")}
        secs = r["duration_us"] / 1e6
        m["transfer_s"] = round(secs, 3)
        m["loadgen_cpu_pct"] = round(100 * r["loadgen_cpu_s"] / secs, 1) if secs else None
        m["gib"] = round(r["bytes"] / GIB, 4)
        ok = m["errors"] == 0 and r["requests"] == r["connections"] and r["bytes"] > 0
        m["cpu_s_per_gib"] = round(m["proxy_cpu_s"] * GIB / r["bytes"], 4) \
            if ok and m.get("proxy_cpu_s") else None
        m["gbit_per_s"] = round(8 * r["bytes"] / (secs * 1e9), 3) if ok and secs else None
        if warm["errors"]:
            self.problem(m, f"warm-up: {warm['errors']} of {warm['connections']} transfers "
                            f"failed: {warm['first_error']}")
        if r["errors"] or r["requests"] != r["connections"]:
            kinds = ", ".join(f"{k} {r[k]}" for k in ("short", "long", "corrupt", "bad_answer")
                              if r[k])
            kinds += "".join(f", {k[7:]} {r[k]}" for k in loadgen.BULK_LOAD_ERRORS
                             if k != "errors_status" and r[k])
            self.problem(m, f"{r['connections'] - r['requests']} of {r['connections']} "
                            f"transfers failed ({kinds.lstrip(', ')}): {r['first_error']}; "
                            f"the round has no figure")

    def fill_h2(self, m, r, layout, workload):
        """h2load's figures: connections and streams, its runs (one per 10,000 requests per
        connection at most), the request time's mean and max at saturation (h2load has no
        percentiles), the error details, the protocol and TLS cipher it negotiated; a
        problem when it did not speak the workload's HTTP/2 (h2 by ALPN, or h2c)."""
        m["client"] = "h2load"
        m["h2_conns"] = loadgen.h2load_conns(layout, workload)
        m["h2_streams"] = workload.h2_streams
        m["h2_runs"], m["h2_protocols"] = r["runs"], r["protocols"]
        m["tls_ciphers"] = r["tls_ciphers"]
        for k in ("h2load_total", "h2load_done", "h2load_failed"):
            m[k] = r[k]
        m["sat_lat_mean_us"], m["sat_lat_max_us"] = r["lat_mean_us"], r["lat_max_us"]
        why = loadgen.h2load_problem(workload, r)
        if why:
            self.problem(m, why)

    def check_handshakes(self, workload, m):
        """Fails the run when a handshake workload's measurement did not measure its kind of
        handshake (a proxy that does not resume would otherwise be measured doing full
        handshakes under the name of resumed ones)."""
        if workload.handshake is None or m.get("died") or "handshakes" not in m:
            return
        why = loadgen.handshake_problem(workload, m, RESUMED_MIN)
        if why:
            raise HarnessError(f"{m['layout']} {workload.name} round {m['round']} "
                               f"{m['chain']}: {why}")

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
        self.check_access_log(p, m, 1 + r["sent_total"])
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
        out = []
        served = []  # (Popen, measurement, requests it served)
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
                served.append((p, m, 1 + r["sent_total"]))
        finally:
            for _, p, _, _ in started:
                self.procs.stop(p)
        for p, m, n in served:  # once stopped: every buffer flushed, every file complete
            self.check_access_log(p, m, n)
        return out

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
        self.check_access_log(p, m, 0)  # an idle connection asks nothing: only removed
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
            logged = f"  logged {m['access_log_pct']:.1f}%" \
                if m.get("access_log_pct") is not None else ""
            return (f"{m['rps']:>10,.0f} req/s  {m['cpu_us_per_req'] or 0:7.2f} us/req  "
                    f"cpu {m['proxy_cpu_pct']:5.1f}%  errors {m['errors']}{logged}")
        if m["phase"] == "bulk":
            cpu, gbit = m.get("cpu_s_per_gib"), m.get("gbit_per_s")
            return (f"{m['gib']:7.2f} GiB  " +
                    (f"{cpu:7.3f} CPU s/GiB  {gbit:6.2f} Gbit/s  " if cpu and gbit else
                     "no figure  ") +
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
                self.check_handshakes(workload, m)

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

    # ---- phases: what each name in Workload.phases runs ----------------------------------------

    def capacity_phase(self, layout, workload, chains):
        self.rounds(layout, workload, chains, "capacity", self.measure_capacity)

    def latency_phase(self, layout, workload, chains):
        """Open loop at --load-fraction of the slowest peer's median capacity in this layout
        and workload (so it runs after the capacity phase)."""
        if self.args.no_latency:
            return
        found = openloop_rate(self.measurements, layout.name, workload.name,
                              self.args.load_fraction)
        if found is None:
            self.say("  no capacity figure for any proxy: open-loop phase skipped")
            return
        rate, slowest = found
        self.rates[f"{layout.name}/{workload.name}"] = round(rate, 1)
        self.say(f"  open-loop rate: {rate:,.0f} req/s = {self.args.load_fraction:.0%} "
                 f"of the slowest peer's median capacity ({slowest:,.0f} req/s)")
        self.latency_rounds(layout, workload, chains, rate)

    def idle_phase(self, layout, workload, chains):
        self.rounds(layout, workload, chains, "idle", self.measure_idle)

    def bulk_phase(self, layout, workload, chains):
        self.rounds(layout, workload, chains, "bulk", self.measure_bulk)

    PHASES = {"capacity": capacity_phase, "latency": latency_phase, "idle": idle_phase,
              "bulk": bulk_phase}

    def run(self, layouts, workloads, chains):
        for layout in layouts:
            self.say(f"== {layout.describe()}")
            for wname in workloads:
                wl = WORKLOADS[wname]
                wchains = wl.chains_for(chains)
                if not wchains:
                    continue
                if wl.backend_tls and not nginx_installed():
                    if not self.args.smoke:
                        raise HarnessError(f"{wl.name} needs nginx for its TLS backends "
                                           "(apt-get install -y nginx)")
                    self.say(f"warning: nginx not installed; {wl.name} skipped")
                    continue
                if wl.h2 and h2_tools_missing():
                    missing = h2_tools_missing()
                    if not self.args.smoke:
                        raise HarnessError(f"{wl.name} needs {', '.join(missing)} "
                                           "(apt-get install -y nghttp2-client)")
                    self.say(f"warning: {', '.join(missing)} not installed; {wl.name} skipped")
                    continue
                if (wl.tcp or wl.udp) and "nginx" in wchains:
                    try:
                        nginx_stream_load(ssl=wl.tls)
                    except HarnessError as e:
                        if not self.args.smoke:
                            raise
                        self.say(f"warning: {e}; nginx skipped in {wl.name}")
                        wchains = [c for c in wchains if c != "nginx"]
                backend = self.start_backends(layout, wl)
                self.say(f"= {wl.name}: {wl.title} (backends: {backend})")
                try:
                    for phase in wl.phases:
                        self.PHASES[phase](self, layout, wl, wchains)
                finally:
                    self.stop_backends()
