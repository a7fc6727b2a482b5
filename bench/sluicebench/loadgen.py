"""The load generators: wrk (closed loop, capacity), bench/tools/tls-load.c (closed loop,
capacity, a TLS handshake per request, full or resumed), bench/tools/ws-load.c (closed loop,
capacity, WebSocket echo messages), h2load (nghttp2-client; closed loop, capacity, HTTP/2
streams), bench/tools/udp-load.c (closed loop, capacity, UDP datagrams echoed),
bench/tools/bulk-load.c (a bulk workload's transfers, checked) and bench/tools/openloop.c (open
loop, latency at a fixed rate)."""

import json
import re

from .common import BENCH, HarnessError

WRK_ERRORS = ("errors_connect", "errors_read", "errors_write", "errors_status", "errors_timeout")
# tls-load reports wrk's keys, a failed TLS handshake apart, and its handshakes.
TLS_LOAD_ERRORS = WRK_ERRORS + ("errors_handshake",)
TLS_LOAD_HANDSHAKES = ("handshakes", "resumed", "full", "offered")
# ws-load reports wrk's keys (requests = messages echoed), a failed upgrade (a 101 without the
# key's Sec-WebSocket-Accept) and a bad echo frame apart, and its WebSocket counts.
WS_LOAD_ERRORS = WRK_ERRORS + ("errors_handshake", "errors_frame")
WS_LOAD_COUNTS = ("messages", "message_bytes", "depth", "connections", "upgrades",
                  "payload_bytes_sent", "payload_bytes_received", "wire_bytes_sent",
                  "wire_bytes_received")

# udp-load reports wrk's keys (requests = datagrams echoed, errors_timeout = datagrams lost:
# no echo within its timeout, errors_status = datagrams received that are no flow's) plus
# the datagrams an ICMP port unreachable ended, and its UDP counts.
UDP_LOAD_ERRORS = WRK_ERRORS + ("errors_refused",)
UDP_LOAD_COUNTS = ("flows", "datagram_bytes", "datagrams_sent", "datagrams_received", "lost",
                   "late", "in_flight")
# Seconds without its echo after which udp-load counts a datagram lost (and sends the next).
UDP_LOAD_TIMEOUT_S = 0.2


# bulk-load reports wrk's keys (requests = transfers done, bytes = bytes moved and right,
# errors_status = transfers short, long, corrupt or badly answered) and its counts.
BULK_LOAD_ERRORS = WRK_ERRORS
BULK_LOAD_COUNTS = ("connections", "bytes_per_conn", "upload", "short", "long", "corrupt",
                    "bad_answer", "transfer_us_min", "transfer_us_max", "first_error")
# Seconds without a byte either way after which bulk-load gives a transfer up (a stalled
# proxy is a timeout error, not a hung run).
BULK_LOAD_TIMEOUT_S = 10
# The slowest throughput a bulk run is waited for (beyond a minute of slack) before the
# harness kills it: 4 GiB at 20 MB/s is 215 s; loopback proxies move 1 GB/s and more.
BULK_LOAD_MIN_BYTES_PER_S = 20e6


def parse_report(tool, rc, out, keys=WRK_ERRORS):
    """The summary line (WRKJSON {...}) of wrk-report.lua or tls-load, plus "errors" (the sum
    of `keys`)."""
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if rc != 0 or line is None:
        raise HarnessError(f"{tool} failed (status {rc}): {out[-500:]}")
    r = json.loads(line[len("WRKJSON "):])
    r["errors"] = sum(r[k] for k in keys)
    return r


def closed_loop(procs, tools, layout, ip, port, workload, seconds, label, data=None):
    """The capacity phase's client for `workload` (Workload.client). data: the file of a
    request body (h2load -d: a gRPC workload's message), None for GETs."""
    if workload.client == "h2load":
        return h2load(procs, layout, ip, port, workload, seconds, label, data)
    if workload.client == "tls-load":
        return tls_load(procs, tools["tls-load"], layout, ip, port, workload, seconds, label)
    if workload.client == "ws-load":
        return ws_load(procs, tools["ws-load"], layout, ip, port, workload, seconds, label)
    if workload.client == "udp-load":
        return udp_load(procs, tools["udp-load"], layout, ip, port, workload, seconds, label)
    return wrk(procs, layout, ip, port, workload, seconds, label)


def wrk(procs, layout, ip, port, workload, seconds, label):
    """One wrk run; returns wrk-report.lua's summary plus "errors" (their sum) and
    "loadgen_cpu_s"."""
    argv = ["wrk", "-t", layout.wrk_threads, "-c", layout.conns, "-d", f"{seconds}s",
            "--timeout", "2s", "-s", BENCH / "tools" / "wrk-report.lua"]
    if workload.close:
        argv += ["-H", "Connection: close"]
    argv.append(f"{workload.scheme}://{ip}:{port}{workload.path}")
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 30)
    r = parse_report("wrk", rc, out)
    r["loadgen_cpu_s"] = cpu
    return r


def tls_load_argv(exe, layout, ip, port, workload, seconds):
    """tls-load's command line: as wrk's (threads, connections, seconds, 2 s timeout), every
    request on a new connection, --resume for a "resumed" workload."""
    if workload.client != "tls-load":
        raise HarnessError(f"workload {workload.name} is not measured with tls-load")
    argv = [exe, "-a", ip, "-p", port, "-u", workload.path, "-t", layout.wrk_threads,
            "-c", layout.conns, "-d", seconds, "-T", "2"]
    if workload.resume:
        argv.append("--resume")
    return argv


def tls_load(procs, exe, layout, ip, port, workload, seconds, label):
    """One tls-load run; returns its summary (wrk's keys plus errors_handshake, handshakes,
    resumed, full, offered), "errors" and "loadgen_cpu_s"."""
    argv = tls_load_argv(exe, layout, ip, port, workload, seconds)
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 30)
    r = parse_report("tls-load", rc, out, TLS_LOAD_ERRORS)
    r["loadgen_cpu_s"] = cpu
    return r


def ws_load_argv(exe, layout, ip, port, workload, seconds):
    """ws-load's command line: as wrk's (threads, connections, seconds, 2 s timeout), messages
    of the workload's body size, its depth outstanding per connection."""
    if workload.client != "ws-load":
        raise HarnessError(f"workload {workload.name} is not measured with ws-load")
    return [exe, "-a", ip, "-p", port, "-u", workload.path, "-t", layout.wrk_threads,
            "-c", layout.conns, "-d", seconds, "-s", workload.body, "-P", workload.depth,
            "-T", "2"]


def ws_load(procs, exe, layout, ip, port, workload, seconds, label):
    """One ws-load run; returns its summary (wrk's keys plus errors_handshake, errors_frame
    and WS_LOAD_COUNTS), "errors" and "loadgen_cpu_s"."""
    argv = ws_load_argv(exe, layout, ip, port, workload, seconds)
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 30)
    r = parse_report("ws-load", rc, out, WS_LOAD_ERRORS)
    r["loadgen_cpu_s"] = cpu
    return r


def udp_load_argv(exe, layout, ip, port, workload, seconds):
    """udp-load's command line: the layout's wrk threads, its connections as flows (each a
    socket of its own: 64 in layout A, 128 over 2 threads in B), datagrams of the workload's
    body size, `seconds`, and UDP_LOAD_TIMEOUT_S before a datagram counts as lost."""
    if workload.client != "udp-load":
        raise HarnessError(f"workload {workload.name} is not measured with udp-load")
    return [exe, "-a", ip, "-p", port, "-t", layout.wrk_threads, "-c", layout.conns,
            "-d", seconds, "-s", workload.body, "-T", UDP_LOAD_TIMEOUT_S]


def udp_load(procs, exe, layout, ip, port, workload, seconds, label):
    """One udp-load run; returns its summary (wrk's keys plus errors_refused and
    UDP_LOAD_COUNTS), "errors" and "loadgen_cpu_s"."""
    argv = udp_load_argv(exe, layout, ip, port, workload, seconds)
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 30)
    r = parse_report("udp-load", rc, out, UDP_LOAD_ERRORS)
    r["loadgen_cpu_s"] = cpu
    return r


def bulk_load_argv(exe, ip, port, workload, nbytes):
    """bulk-load's command line: the workload's connections (the same in every layout), each
    one transfer of `nbytes` bytes, downloads (GET) or uploads (-U), BULK_LOAD_TIMEOUT_S
    without a byte before a transfer is given up."""
    if workload.client != "bulk-load":
        raise HarnessError(f"workload {workload.name} is not measured with bulk-load")
    argv = [exe, "-a", ip, "-p", port, "-c", workload.bulk_conns, "-b", nbytes,
            "-T", BULK_LOAD_TIMEOUT_S]
    return argv + (["-U"] if workload.bulk == "up" else [])


def bulk_load_timeout(workload, nbytes):
    """How long the harness waits for one bulk-load run (seconds)."""
    return 60 + workload.bulk_conns * nbytes / BULK_LOAD_MIN_BYTES_PER_S


def bulk_load(procs, exe, layout, ip, port, workload, nbytes, label):
    """One bulk-load run (every connection's transfer); returns its summary (wrk's keys plus
    BULK_LOAD_COUNTS), "errors" and "loadgen_cpu_s"."""
    argv = bulk_load_argv(exe, ip, port, workload, nbytes)
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus,
                             timeout=bulk_load_timeout(workload, nbytes))
    r = parse_report("bulk-load", rc, out, BULK_LOAD_ERRORS)
    r["loadgen_cpu_s"] = cpu
    return r


# ---- h2load -------------------------------------------------------------------------------------

# h2load's error kinds, as the summary's details (they overlap; not wrk's keys): responses
# without a 2xx (errors_status: 3xx, 4xx or 5xx; the backends only send 200), the requests
# h2load counts as errored (errors_errored: a reset stream, a connection lost or timed out
# with the request in flight, or never sent because its connection failed), of them those
# timed out (errors_timeout), and those never done (errors_unfinished). The figure, "errors",
# is every request of a run that did not end with a 2xx: total - 2xx.
H2LOAD_ERRORS = ("errors_status", "errors_errored", "errors_timeout", "errors_unfinished")
# The seconds of h2load's inactivity timeout (-N): as wrk's --timeout 2s.
H2LOAD_TIMEOUT_S = 2
# A first run's requests per connection per second of the run asked for, before the rate is
# known (later runs are sized from the measured rate): low, so that a 1 s smoke run is not
# stretched by a first run sized for a fast proxy.
H2LOAD_FIRST_RATE = 500

# The one TLS 1.3 cipher suite h2load offers: the same for every proxy (as the HTTPS
# backends' nginx-tls-backend.conf.in does for the proxies' upstream connections).
H2LOAD_TLS13_CIPHERS = "TLS_AES_128_GCM_SHA256"

_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6}


def _us(text):
    """h2load's durations ("493us", "9.10ms", "1.02s") in microseconds."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip())
    if not m:
        raise HarnessError(f"h2load output: not a duration: {text!r}")
    return float(m.group(1)) * _UNITS_US[m.group(2)]


def h2load_conns(layout, workload):
    """h2load's connections: the workload's per load-generator thread (the layout's wrk
    threads)."""
    return workload.h2_conns * layout.wrk_threads


def h2load_argv(layout, ip, port, workload, requests_per_conn, data=None):
    """One h2load run: the layout's threads, the workload's connections and streams, and
    requests_per_conn requests on every connection (-n is the total), then it stops; a
    connection silent for H2LOAD_TIMEOUT_S is closed and its requests fail. Over TLS only
    ALPN h2 is offered (a chain that does not select it fails) and only the TLS 1.3 cipher
    suite H2LOAD_TLS13_CIPHERS (left to the proxies, HAProxy picks AES-256-GCM by its own
    preference and the others AES-128-GCM by the client's); in clear text h2load speaks
    HTTP/2 by prior knowledge. A gRPC workload's requests are POSTs of `data` (a file holding
    Workload.request_body: one gRPC message) with its request_headers (content-type
    application/grpc, te: trailers)."""
    if workload.client != "h2load":
        raise HarnessError(f"workload {workload.name} is not measured with h2load")
    if not 1 <= requests_per_conn <= workload.h2_requests_per_conn:
        raise HarnessError(f"{requests_per_conn} requests per HTTP/2 connection: 1.."
                           f"{workload.h2_requests_per_conn}")
    conns = h2load_conns(layout, workload)
    argv = ["h2load", "-t", layout.wrk_threads, "-c", conns, "-m", workload.h2_streams,
            "-n", conns * requests_per_conn, "-N", f"{H2LOAD_TIMEOUT_S}s"]
    if workload.tls:
        argv += ["--npn-list", "h2", "--tls13-ciphers", H2LOAD_TLS13_CIPHERS]
    if (data is None) != (workload.request_body is None):
        raise HarnessError(f"workload {workload.name}: "
                           + ("a request body file for GETs" if data is not None else
                              "no file of the request body (h2load -d)"))
    if data is not None:
        argv += ["-d", data]
    for name, value in workload.request_headers:
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"{workload.scheme}://{ip}:{port}{workload.path}")
    return argv


def parse_h2load(rc, out):
    """h2load's summary: requests (those with a 2xx), duration_us ("finished in"), bytes (the
    DATA bytes: response bodies), the error kinds of H2LOAD_ERRORS and "errors", the request
    times (lat_min/max/mean/sd_us; h2load prints no percentiles), the application protocol
    negotiated ("h2" or "h2c") and its raw counts (h2load_total, _done, _succeeded, ...)."""
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        if not m:
            raise HarnessError(f"h2load failed (status {rc}): no {pattern!r} in its output: "
                               f"{out[-500:]}")
        return m
    if rc != 0:
        raise HarnessError(f"h2load failed (status {rc}): {out[-500:]}")
    fin = grab(r"^finished in ([0-9.]+(?:us|ms|s)), ([0-9.]+) req/s")
    req = grab(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
               r"(\d+) failed, (\d+) errored, (\d+) timeout")
    st = grab(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
    traffic = grab(r"^traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?\((\d+)\) data")
    total, started, done, succeeded, failed, errored, timeout = map(int, req.groups())
    s2, s3, s4, s5 = map(int, st.groups())
    r = {"requests": s2, "duration_us": round(_us(fin.group(1))),
         "bytes": int(traffic.group(3)), "header_bytes": int(traffic.group(2)),
         "wire_bytes": int(traffic.group(1)),
         "h2load_total": total, "h2load_started": started, "h2load_done": done,
         "h2load_succeeded": succeeded, "h2load_failed": failed,
         "errors_status": s3 + s4 + s5, "errors_errored": errored, "errors_timeout": timeout,
         "errors_unfinished": max(0, total - done)}
    r["errors"] = total - s2
    m = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if m:
        r["lat_min_us"], r["lat_max_us"], r["lat_mean_us"], r["lat_sd_us"] = (
            _us(x) for x in m.groups())
    m = re.search(r"^Application protocol: (\S+)", out, re.M)
    r["protocol"] = m.group(1) if m else None
    m = re.search(r"^TLS Protocol: (\S+)\s*\nCipher: (\S+)", out, re.M)
    r["tls_cipher"] = f"{m.group(1)} {m.group(2)}" if m else None
    return r


def combine_h2load(runs):
    """The runs of one measurement as one summary: counts and durations summed, the request
    time's mean weighted by requests, its max the largest, the protocols seen."""
    out = {k: sum(r[k] for r in runs)
           for k in ("requests", "duration_us", "bytes", "header_bytes", "wire_bytes",
                     "h2load_total", "h2load_started", "h2load_done", "h2load_succeeded",
                     "h2load_failed", "errors") + H2LOAD_ERRORS}
    n = out["requests"]
    means = [(r["lat_mean_us"], r["requests"]) for r in runs if r.get("lat_mean_us") is not None]
    out["lat_mean_us"] = round(sum(m * k for m, k in means) / n, 1) if n and means else None
    maxes = [r["lat_max_us"] for r in runs if r.get("lat_max_us") is not None]
    out["lat_max_us"] = max(maxes) if maxes else None
    # h2load prints no percentiles (its per-request log would cost the client CPU it shares
    # with the backends).
    out["lat_p50_us"] = out["lat_p99_us"] = None
    out["protocols"] = sorted({str(r.get("protocol")) for r in runs})
    out["tls_ciphers"] = sorted({r["tls_cipher"] for r in runs if r.get("tls_cipher")})
    out["runs"] = len(runs)
    return out


def next_requests_per_conn(workload, conns, seconds, runs):
    """How many requests each connection makes in the next h2load run: enough for the time
    left of `seconds` at the rate of the runs so far (H2LOAD_FIRST_RATE per connection and
    second before any), at most the workload's limit per connection; 0 when the time is up
    (or what is left would be under 2 % of it)."""
    done_s = sum(r["duration_us"] for r in runs) / 1e6
    left = seconds - done_s
    if left <= 0.02 * seconds:
        return 0
    if runs:
        n, t = sum(r["h2load_done"] for r in runs), done_s
        rate = n / conns / t if t > 0 else 0
    else:
        rate = H2LOAD_FIRST_RATE
    if rate <= 0:
        return 0 if runs else 1
    return max(1, min(workload.h2_requests_per_conn, round(rate * left)))


def h2load(procs, layout, ip, port, workload, seconds, label, data=None):
    """h2load for `seconds`: runs of at most h2_requests_per_conn requests per connection
    (h2load does not reconnect after a GOAWAY, which Sluice, like ALB, sends after 10,000
    requests: with -D alone each connection would stop there and the run idle), each run on
    new connections, until their durations add up to `seconds`. The proxy's CPU is sampled
    around all of them, so each run's few new connections (and TLS handshakes) are in it,
    against the thousands of requests each connection then carries. Returns wrk's keys
    (requests: 2xx responses, duration_us: the runs' own durations, bytes: DATA bytes,
    errors, lat_p50_us and lat_p99_us None) plus the error details, lat_mean_us, lat_max_us,
    runs, protocols, tls_ciphers and "loadgen_cpu_s"."""
    conns = h2load_conns(layout, workload)
    runs, cpu = [], 0.0
    while True:
        n = next_requests_per_conn(workload, conns, seconds, runs)
        if n == 0:
            break
        argv = h2load_argv(layout, ip, port, workload, n, data)
        rc, out, c = procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 60)
        cpu += c
        r = parse_h2load(rc, out)
        runs.append(r)
        if r["requests"] == 0:  # nothing succeeds: the errors are counted, do not loop on it
            break
    r = combine_h2load(runs)
    r["loadgen_cpu_s"] = cpu
    return r


def h2load_problem(workload, r):
    """Why an h2load measurement did not measure the workload's protocol (HTTP/2 over ALPN h2,
    or h2c), or None."""
    want = workload.h2_protocol
    if want is None:
        return None
    other = ["no protocol" if p == "None" else p for p in r.get("protocols", []) if p != want]
    if other:
        return (f"h2load spoke {', '.join(other)} with the chain, not {want} "
                f"({'ALPN' if workload.tls else 'prior knowledge'})")
    return None


def handshake_problem(workload, r, minimum):
    """Why a tls-load measurement does not measure the workload's kind of handshake, or None:
    a "resumed" workload with fewer than `minimum` (a fraction) of its handshakes resumed, a
    "full" one with any."""
    if workload.handshake is None:
        return None
    n, resumed = r.get("handshakes", 0), r.get("resumed", 0)
    if n == 0:
        return "no TLS handshake completed"
    if workload.resume and resumed < minimum * n:
        return (f"only {resumed} of {n} handshakes resumed ({resumed / n:.1%}; at least "
                f"{minimum:.0%} needed): the proxy does not resume sessions")
    if not workload.resume and resumed:
        return f"{resumed} of {n} handshakes resumed in a full-handshake workload"
    return None


def openloop(procs, exe, slice_ms, layout, targets, workload, rate, seconds, warmup, label):
    """Runs the open-loop generator `exe` against [(ip, port), ...]; with several targets they
    are measured interleaved in slice_ms slices, each for `seconds`. Returns one result per
    target, in order."""
    argv = [exe]
    for ip, port in targets:
        argv += ["-a", ip, "-p", port]
    argv += ["-s", slice_ms, "-u", workload.path, "-r", f"{rate:.1f}",
             "-c", layout.conns, "-d", seconds, "-w", warmup, "-t", "2"]
    if workload.close:
        argv.append("-k")
    total = (seconds + warmup) * len(targets)
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus, timeout=total + 30)
    results = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    if rc != 0 or len(results) != len(targets):
        raise HarnessError(f"openloop failed (status {rc}): {out[-500:]}")
    for r in results:
        r["loadgen_cpu_s"] = cpu
    return results
