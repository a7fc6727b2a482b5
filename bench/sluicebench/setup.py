"""Before a run: the instruments and Sluice are built, the environment checked, versions noted."""

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from .common import (BACKEND_ADDRS, BENCH, DIRECT_ADDR, PROXY_ADDR, ROOT, SHARED_BENCH,
                     HarnessError)
from .sysstats import free_port_run, listening, udp_bound

INSTRUMENTS = {
    "responder": SHARED_BENCH / "responder.c",
    "floor-forwarder": SHARED_BENCH / "floor-forwarder.c",
    "sized-responder": BENCH / "tools" / "sized-responder.c",
    "openloop": BENCH / "tools" / "openloop.c",
    "tls-load": BENCH / "tools" / "tls-load.c",
    "ws-load": BENCH / "tools" / "ws-load.c",
    "ws-echo": BENCH / "tools" / "ws-echo.c",
    "h2-responder": BENCH / "tools" / "h2-responder.c",
    "udp-load": BENCH / "tools" / "udp-load.c",
    "udp-echo": BENCH / "tools" / "udp-echo.c",
    "bulk-load": BENCH / "tools" / "bulk-load.c",
    "bulk-server": BENCH / "tools" / "bulk-server.c",
}
# The headers an instrument includes besides the system's (rebuilt when one is newer).
INSTRUMENT_HEADERS = {"bulk-load": [BENCH / "tools" / "bulk-pattern.h"],
                      "bulk-server": [BENCH / "tools" / "bulk-pattern.h"]}
# What an instrument links with besides libc (tls-load: OpenSSL 3, libssl-dev; the WebSocket
# tools: libcrypto's SHA-1 and base64 for Sec-WebSocket-Accept; the HTTP/2 backend:
# libnghttp2, libnghttp2-dev; the UDP load generator and both bulk tools: threads).
INSTRUMENT_LIBS = {"tls-load": ["-lssl", "-lcrypto", "-lpthread"],
                   "bulk-load": ["-lpthread"], "bulk-server": ["-lpthread"],
                   "ws-load": ["-lcrypto", "-lpthread"],
                   "ws-echo": ["-lcrypto"],
                   "h2-responder": ["-lnghttp2", "-lpthread"],
                   "udp-load": ["-lpthread"]}
# The Debian package of each library's headers, for the error when compiling fails.
INSTRUMENT_DEV_PACKAGES = {"-lssl": "libssl-dev", "-lcrypto": "libssl-dev",
                           "-lnghttp2": "libnghttp2-dev"}


def compile_argv(cc, name, src, exe):
    return [cc, "-O2", "-w", "-o", str(exe), str(src)] + INSTRUMENT_LIBS.get(name, [])


def build_tools(build_dir):
    """Compiles the C instruments into BUILD_DIR/bench-tools (when older than their source or
    a header of theirs).
    Returns name -> executable."""
    tools_dir = Path(build_dir) / "bench-tools"
    tools_dir.mkdir(parents=True, exist_ok=True)
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise HarnessError("no C compiler (apt-get install build-essential)")
    tools = {}
    for name, src in INSTRUMENTS.items():
        if not src.exists():
            raise HarnessError(f"missing instrument source {src}")
        exe = tools_dir / name
        newest = max(p.stat().st_mtime for p in [src] + INSTRUMENT_HEADERS.get(name, []))
        if not exe.exists() or exe.stat().st_mtime < newest:
            r = subprocess.run(compile_argv(cc, name, src, exe),
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                pkgs = sorted({INSTRUMENT_DEV_PACKAGES[l] for l in INSTRUMENT_LIBS.get(name, [])
                               if l in INSTRUMENT_DEV_PACKAGES})
                hint = f" (apt-get install -y {' '.join(pkgs)})" if pkgs else ""
                raise HarnessError(f"compiling {src} failed{hint}:\n{r.stderr}")
        tools[name] = exe
    return tools


def build_sluice(args):
    """The Sluice binary: --sluice, or build-dir/sluice built incrementally (unless
    --no-build)."""
    if args.sluice:
        exe = Path(args.sluice)
    else:
        bdir = Path(args.build_dir)
        exe = bdir / "sluice"
        if not args.no_build:
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
    return exe.resolve()


def check_environment(args, chains):
    """Checks tools, raises the fd limit, chooses free ports where none were given. Returns the
    chains that can run (a smoke run skips a peer that is not installed)."""
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise HarnessError(f"{tool} not found (apt-get install -y wrk util-linux)")
    chains = h2o_check(args, chains)
    missing = [c for c in ("haproxy", "nginx", "h2o") if c in chains and not shutil.which(c)
               and not os.path.exists(f"/usr/sbin/{c}")]
    if missing:
        if args.smoke:
            print(f"warning: {', '.join(missing)} not installed (apt-get install -y "
                  f"{' '.join(missing)}); skipped", flush=True)
            chains = [c for c in chains if c not in missing]
        else:
            raise HarnessError(f"not installed: {', '.join(missing)} "
                               f"(apt-get install -y {' '.join(missing)}, or use --proxies)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = args.idle_conns + 200
    if hard < need:
        print(f"warning: fd limit {hard} < {need}; idle test reduced", flush=True)
        args.idle_conns = max(100, hard - 1000)
    choose_ports(args, len(chains))
    return chains


def h2o_check(args, chains, euid=None):
    """h2o (a peer of the HTTP/2 workloads only) runs in a mount namespace of its own
    (chains.H2O_NAMESPACE), which needs root and unshare(1). Returns the chains: without a
    workload h2o serves among args.workloads (an HTTP/2 one to HTTP/1.1 backends), h2o is
    dropped (it would serve none); when it cannot
    run, a smoke run drops it with a warning and any other run fails."""
    from .workloads import WORKLOADS
    if "h2o" not in chains:
        return chains
    if not any("h2o" in WORKLOADS[w].chains_for(["h2o"]) for w in args.workloads.split(",")
               if w in WORKLOADS):
        return [c for c in chains if c != "h2o"]
    euid = os.geteuid() if euid is None else euid
    why = None
    if euid != 0:
        why = "h2o's chain binds a hosts file over /etc/hosts in its own mount namespace: root"
    elif not shutil.which("unshare"):
        why = "unshare not found (apt-get install -y util-linux)"
    if why is None:
        return chains
    if args.smoke:
        print(f"warning: {why}; h2o skipped", flush=True)
        return [c for c in chains if c != "h2o"]
    raise HarnessError(f"{why} (or leave h2o out with --proxies)")


def choose_ports(args, nchains):
    # The interleaved open-loop phase runs every chain at once on --port, --port + 1, ...
    # Ports not given are chosen now among the free ones.
    if args.port is None:
        args.port = free_port_run(lambda i: [PROXY_ADDR], nchains)
    if args.backend_port is None:
        args.backend_port = free_port_run(lambda i: BACKEND_ADDRS + [DIRECT_ADDR], 1,
                                          start=19000)
    proxy_ports = [(PROXY_ADDR, args.port + i) for i in range(nchains)]
    for ip, port in proxy_ports + [(DIRECT_ADDR, args.backend_port)] + \
            [(a, args.backend_port) for a in BACKEND_ADDRS]:
        if listening(ip, port):
            raise HarnessError(f"{ip}:{port} is already in use; choose other ports with "
                               f"--port / --backend-port (ss -ltnp shows who holds it)")
        if udp_bound(ip, port):  # the UDP workload's proxies and backends bind it too
            raise HarnessError(f"{ip}:{port} is already in use for UDP; choose other ports "
                               f"with --port / --backend-port (ss -lunp shows who holds it)")


def _first_line(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"


def _deb(pkg):
    return _first_line(["dpkg-query", "-W", "-f", "${Version}", pkg]) or "not installed"


def versions():
    git = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain",
                         "--untracked-files=no"])
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "sluice": f"{git}{' + uncommitted changes' if dirty else ''}",
        "haproxy": _first_line(["haproxy", "-v"]), "haproxy_deb": _deb("haproxy"),
        "nginx": _first_line(["nginx", "-v"]), "nginx_deb": _deb("nginx"),
        "wrk": _first_line(["wrk", "-v"]), "wrk_deb": _deb("wrk"),
        "h2o": _first_line(["h2o", "--version"]), "h2o_deb": _deb("h2o"),
        "h2load": _first_line(["h2load", "--version"]), "h2load_deb": _deb("nghttp2-client"),
        "cc": _first_line(["cc", "--version"]),
        "kernel": os.uname().release, "cpu": model,
        "cpus_available": sorted(os.sched_getaffinity(0)),
        "python": sys.version.split()[0],
    }
