"""The load generators: wrk (closed loop, capacity) and bench/tools/openloop.c (open loop,
latency at a fixed rate)."""

import json

from .common import BENCH, HarnessError

WRK_ERRORS = ("errors_connect", "errors_read", "errors_write", "errors_status", "errors_timeout")


def wrk(procs, layout, ip, port, workload, seconds, label):
    """One wrk run; returns wrk-report.lua's summary plus "errors" (their sum) and
    "loadgen_cpu_s"."""
    argv = ["wrk", "-t", layout.wrk_threads, "-c", layout.conns, "-d", f"{seconds}s",
            "--timeout", "2s", "-s", BENCH / "tools" / "wrk-report.lua"]
    if workload.close:
        argv += ["-H", "Connection: close"]
    argv.append(f"{workload.scheme}://{ip}:{port}{workload.path}")
    rc, out, cpu = procs.run(label, argv, cpus=layout.load_cpus, timeout=seconds + 30)
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if rc != 0 or line is None:
        raise HarnessError(f"wrk failed (status {rc}): {out[-500:]}")
    r = json.loads(line[len("WRKJSON "):])
    r["errors"] = sum(r[k] for k in WRK_ERRORS)
    r["loadgen_cpu_s"] = cpu
    return r


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
