"""bench/run.py's command line: arguments, the run, the exit status (see bench/run.py)."""

import argparse
import datetime
import random
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from . import setup
from .common import ALL_CHAINS, BENCH, ROOT, HarnessError
from .driver import Bench
from .report import resummarize, write_results
from .workloads import LAYOUTS, SMOKE_WORKLOADS, WORKLOADS, make_layouts

DESCRIPTION = ("Side-by-side benchmark: Sluice vs HAProxy and NGINX (and h2o in the HTTP/2 "
               "workloads; and the byte-forwarding floor).")

# Defaults of the options left unset: (smoke run, full run). A smoke run leaves out direct
# and the workloads marked smoke=False (the HTTP/2 ones but h2-13b, which adds about 15 s:
# CI time); h2o runs in h2-13b only. The bulk workloads move 4 MiB per connection in a
# smoke run (a second or so for both, with the tools and every check exercised), their own
# size (1 GiB) in a full one (bulk_mib None).
DEFAULTS = dict(rounds=(1, 5), warmup=(1, 3), duration=(1, 10), bulk_mib=(4, None),
                latency_warmup=(0.3, 2.0), latency_duration=(1.0, 10.0),
                idle_conns=(10000, 10000), layouts=("A", "A,B"),
                proxies=("sluice,haproxy,nginx,floor,h2o", ",".join(ALL_CHAINS)),
                workloads=(",".join(SMOKE_WORKLOADS), ",".join(WORKLOADS)))


def _parser():
    p = argparse.ArgumentParser(description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="run.py --resummarize DIR rewrites an earlier run's "
                                       "results.md/json and chart from its measurements. "
                                       "See docs/performance.md.")
    p.add_argument("--smoke", action="store_true",
                   help="one short round of every workload (HTTP/2 ones but h2-13b apart), "
                        "layout A only (CI)")
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
    p.add_argument("--bulk-mib", type=int,
                   help="bulk workloads: MiB per transfer (default: the workload's, 1 GiB; "
                        "smoke 4)")
    p.add_argument("--idle-settle", type=float, default=1.0,
                   help="seconds between opening the idle connections and reading memory")
    p.add_argument("--layouts", help=f"comma list of {','.join(LAYOUTS)} "
                                     f"(default A,B; smoke A)")
    p.add_argument("--workloads", help="comma list of " + ",".join(WORKLOADS))
    p.add_argument("--proxies", help="comma list of " + ",".join(ALL_CHAINS) +
                   " (default all; smoke without direct; h2o runs in the HTTP/2 workloads "
                   "only)")
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
    p.add_argument("--tls-backend-log", action="store_true",
                   help="backend-TLS workloads: the NGINX backends log every request to "
                        "logs/tls-backend-access.log with its connection number, requests "
                        "on that connection, TLS version and session reuse (a check of the "
                        "chains' TLS and reuse; it costs backend CPU, so not for figures)")
    p.add_argument("--out", help="results directory (default bench/results/<timestamp>)")
    p.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random)")
    p.add_argument("--quiet", type=float, default=0.3,
                   help="seconds of idle sampling before each measurement (noise check)")
    return p


def parse_args(argv):
    p = _parser()
    a = p.parse_args(argv)
    smoke = a.smoke
    for k, (s, f) in DEFAULTS.items():
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
    if a.bulk_mib is not None and a.bulk_mib < 1:
        p.error("--bulk-mib must be at least 1")
    if a.idle_conns < 1 or a.idle_conns > 19000:
        p.error("--idle-conns must be 1..19000 (fd limit 20000)")
    return a


def _on_term(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_bench(bench, args, out):
    """Sets up and runs every measurement. Returns (status, versions, layouts); status 130
    after an interrupt, 2 when the harness broke, else 0."""
    vmstat = None
    versions, layouts = {}, []
    status = 0
    try:
        chains = setup.check_environment(args, args.proxies.split(","))
        bench.tools.update(setup.build_tools(args.build_dir))
        if any(c.startswith("sluice") for c in chains):
            bench.tools["sluice"] = setup.build_sluice(args)
        layouts = make_layouts(args.layouts.split(","))
        workloads = args.workloads.split(",")
        versions = setup.versions()
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
    return status, versions, layouts


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
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)

    bench = Bench(args, out)
    t0 = time.monotonic()
    status, versions, layouts = run_bench(bench, args, out)
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
