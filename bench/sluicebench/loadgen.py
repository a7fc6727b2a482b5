"""The load generators: wrk (closed loop, capacity), bench/tools/tls-load.c (closed loop,
capacity, a TLS handshake per request, full or resumed), bench/tools/ws-load.c (closed loop,
capacity, WebSocket echo messages) and bench/tools/openloop.c (open loop, latency at a fixed
rate)."""

import json

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


def parse_report(tool, rc, out, keys=WRK_ERRORS):
    """The summary line (WRKJSON {...}) of wrk-report.lua or tls-load, plus "errors" (the sum
    of `keys`)."""
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if rc != 0 or line is None:
        raise HarnessError(f"{tool} failed (status {rc}): {out[-500:]}")
    r = json.loads(line[len("WRKJSON "):])
    r["errors"] = sum(r[k] for k in keys)
    return r


def closed_loop(procs, tools, layout, ip, port, workload, seconds, label):
    """The capacity phase's client for `workload` (Workload.client)."""
    if workload.client == "tls-load":
        return tls_load(procs, tools["tls-load"], layout, ip, port, workload, seconds, label)
    if workload.client == "ws-load":
        return ws_load(procs, tools["ws-load"], layout, ip, port, workload, seconds, label)
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
