"""The UDP request/response workload (udp-echo-64b): its data and limits, udp-load's command line
and summary, the figure (packets per proxy CPU second) and its comparison, the two proxies'
UDP configs (parsed, and checked by `sluice validate` and `nginx -t` when there), the /proc
readers and the harness's own UDP check; and the C tools built with warnings as errors and one
short loopback run of udp-load against udp-echo, no proxy between them."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sluicebench import chains, loadgen, procs, report, setup, stats, sysstats, workloads
from sluicebench.common import ALL_CHAINS, HarnessError
from sluicebench.driver import Bench
from sluicebench.httpcheck import udp_check
from sluicebench.workloads import WORKLOADS

UDP = WORKLOADS["udp-echo-64b"]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)
# A sluice binary for `sluice validate`: SLUICE_BIN, else the tree's debug build when present.
SLUICE = os.environ.get("SLUICE_BIN") or str(Path(__file__).resolve().parents[2] / "build" /
                                             "sluice")
HAVE_SLUICE = os.path.isfile(SLUICE) and os.access(SLUICE, os.X_OK)
CC = shutil.which("cc") or shutil.which("gcc")

LINE = ('WRKJSON {"requests": 900000, "duration_us": 10000200, "bytes": 57600000, '
        '"errors_connect": 0, "errors_read": 1, "errors_write": 2, "errors_status": 3, '
        '"errors_timeout": 4, "errors_refused": 5, "lat_mean_us": 700.5, "lat_p50_us": 650, '
        '"lat_p99_us": 2100, "lat_p999_us": 4000, "lat_max_us": 9000, "flows": 64, '
        '"datagram_bytes": 64, "datagrams_sent": 900073, "datagrams_received": 900002, '
        '"lost": 4, "late": 2, "in_flight": 64}')


# ---- the workload as data ------------------------------------------------------------------

def test_udp_echo_64b_is_data():
    assert (UDP.udp, UDP.body, UDP.phases, UDP.client) == (True, 64, ("capacity",), "udp-load")
    assert not (UDP.tcp or UDP.tls or UDP.backend_tls or UDP.close or UDP.access_log or
                UDP.websocket or UDP.h2 or UDP.handshake or UDP.variants)
    # Sluice and NGINX only: HAProxy has no UDP, the floor and direct are TCP only.
    assert UDP.chains_for(list(ALL_CHAINS)) == ["sluice", "nginx"]
    assert UDP.chains_for(["haproxy", "floor", "direct", "h2o"]) == []
    assert UDP.comparisons == (("sluice", "nginx"),) == workloads.UDP_COMPARISONS
    assert UDP.smoke and "udp-echo-64b" in workloads.SMOKE_WORKLOADS
    assert "UDP" in UDP.title and "64 B" in UDP.title
    assert [w.name for w in WORKLOADS.values() if w.udp] == ["udp-echo-64b"]
    assert workloads.UDP_PACKETS_PER_REQUEST == 2
    # Its backends: one udp-echo per backend address, without a size argument.
    assert chains.backend_tool(UDP.body, False, udp=True) == "udp-echo"
    assert chains.backend_tool(UDP.body, True, udp=True) == "udp-echo"
    assert chains.backend_argv({"udp-echo": "/x/udp-echo"}, "udp-echo", 19000, "127.0.0.11",
                               64) == ["/x/udp-echo", 19000, "127.0.0.11"]
    assert "udp-echo.c" in chains.BACKEND_SOURCES["udp-echo"]


@pytest.mark.parametrize("kw", [dict(tls=True), dict(close=True), dict(access_log=True),
                                dict(tcp=True), dict(websocket=True),
                                dict(h2=True), dict(phases=("capacity", "latency")),
                                dict(phases=("idle",)),
                                dict(variants={"sluice": ("sluice-1rule",)})])
def test_a_udp_workload_is_datagrams_only(kw):
    kw.setdefault("phases", ("capacity",))
    kw.setdefault("chains", workloads.UDP_PEERS)
    with pytest.raises(HarnessError):
        workloads.Workload("w", "w", body=64, udp=True, **kw)


def test_a_udp_workloads_chains_and_datagram_size():
    for chains_ in (None, ("sluice", "haproxy"), ("floor",)):
        with pytest.raises(HarnessError, match="UDP workload's chains"):
            workloads.Workload("w", "w", body=64, udp=True, phases=("capacity",),
                               chains=chains_)
    for body in (15, 65508):
        with pytest.raises(HarnessError, match="16..65507"):
            workloads.Workload("w", "w", body=body, udp=True, phases=("capacity",),
                               chains=("sluice",))
    w = workloads.Workload("w", "w", body=16, udp=True, phases=("capacity",),
                           chains=("nginx",))
    assert w.client == "udp-load" and w.chains_for(list(ALL_CHAINS)) == ["nginx"]


# ---- udp-load's command line and summary ---------------------------------------------------

def test_udp_load_argv():
    a, b = workloads.make_layouts(["A", "B"], cpus=[0, 1])
    argv = loadgen.udp_load_argv("/x/udp-load", a, "127.0.0.1", 18080, UDP, 10)
    assert [str(x) for x in argv] == ["/x/udp-load", "-a", "127.0.0.1", "-p", "18080",
                                      "-t", "1", "-c", "64", "-d", "10", "-s", "64",
                                      "-T", "0.2"]
    argv = loadgen.udp_load_argv("/x/udp-load", b, "127.0.0.1", 18080, UDP, 1)
    assert [str(x) for x in argv[5:]] == ["-t", "2", "-c", "128", "-d", "1", "-s", "64",
                                          "-T", "0.2"]
    with pytest.raises(HarnessError, match="not measured with udp-load"):
        loadgen.udp_load_argv("/x/udp-load", a, "127.0.0.1", 1, WORKLOADS["ka-13b"], 1)


def test_closed_loop_picks_udp_load(monkeypatch):
    calls = []
    monkeypatch.setattr(loadgen, "wrk", lambda *a: calls.append("wrk") or {})
    monkeypatch.setattr(loadgen, "udp_load", lambda procs, exe, *a: calls.append(exe) or {})
    (a,) = workloads.make_layouts(["A"], cpus=[0, 1])
    for name in ("udp-echo-64b", "tcp-ka-13b"):
        loadgen.closed_loop(None, {"udp-load": "/x/udp-load"}, a, "127.0.0.1", 1,
                            WORKLOADS[name], 1, "l")
    assert calls == ["/x/udp-load", "wrk"]


def test_parse_report_sums_every_error_kind():
    r = loadgen.parse_report("udp-load", 0, "noise\n" + LINE + "\n", loadgen.UDP_LOAD_ERRORS)
    assert r["errors"] == 0 + 1 + 2 + 3 + 4 + 5
    assert (r["requests"], r["lost"], r["errors_timeout"], r["late"]) == (900000, 4, 4, 2)
    # Every key the driver reads of wrk's summary is in udp-load's too, and its own counts.
    for k in loadgen.WRK_ERRORS + loadgen.UDP_LOAD_COUNTS + (
            "duration_us", "bytes", "lat_p50_us", "lat_p99_us", "errors_refused"):
        assert k in r
    with pytest.raises(HarnessError, match=r"udp-load failed \(status 1"):
        loadgen.parse_report("udp-load", 1, LINE, loadgen.UDP_LOAD_ERRORS)


def test_fill_udp():
    r = loadgen.parse_report("udp-load", 0, LINE, loadgen.UDP_LOAD_ERRORS)
    before = {"udp_in_errors": 10, "udp_rcvbuf_errors": 10, "udp_sndbuf_errors": 0,
              "udp_no_ports": 5}
    after = {"udp_in_errors": 12, "udp_rcvbuf_errors": 11, "udp_sndbuf_errors": 0,
             "udp_no_ports": 5}
    m = {"proxy_cpu_s": 9.0}
    Bench.fill_udp(m, r, before, after)
    assert m["client"] == "udp-load"
    assert (m["flows"], m["datagram_bytes"], m["datagrams_sent"], m["lost"], m["late"],
            m["in_flight"], m["errors_refused"]) == (64, 64, 900073, 4, 2, 64, 5)
    # The client's datagrams both ways (request and echo) per proxy CPU second.
    assert m["packets"] == 1800000
    assert m["packets_per_cpu_s"] == 200000
    assert m["lost_pct"] == round(100 * 4 / 900073, 3)
    assert (m["udp_in_errors"], m["udp_rcvbuf_errors"], m["udp_no_ports"]) == (2, 1, 0)
    m = {"proxy_cpu_s": 0}
    Bench.fill_udp(m, r, before, after)
    assert m["packets_per_cpu_s"] is None


# ---- configs ----------------------------------------------------------------------------------

@pytest.fixture
def stream_builtin(monkeypatch):
    """nginx_stream_load as if NGINX had the stream module built in (no load_module line)."""
    monkeypatch.setattr(chains, "_nginx_configure_args", lambda: "configure arguments: "
                        "--with-stream --with-stream_ssl_module")


def launch(tmp_path, chain, workload=UDP, layout="A"):
    env = chains.ChainEnv({"sluice": "/x/sluice", "udp-echo": "/x/udp-echo"}, tmp_path,
                          tmp_path, 19000, False, None)
    (lay,) = workloads.make_layouts([layout], cpus=[0, 1])
    return chains.launch(env, chain, lay, workload, 18080)


def _code(path):
    """The lines of a rendered config without comments (whole-line and trailing)."""
    lines = (l.split(" #")[0].strip() for l in path.read_text().splitlines()
             if not l.lstrip().startswith("#"))
    return [l for l in lines if l]


@pytest.mark.parametrize("layout, workers", [("A", "1"), ("B", "2")])
def test_sluice_is_a_udp_network_load_balancer(tmp_path, layout, workers):
    run = launch(tmp_path, "sluice", layout=layout)
    cfg = tmp_path / f"sluice-udp-{layout}.yaml"
    assert [str(a) for a in run.argv] == ["/x/sluice", "run", "--config", str(cfg), "--workers",
                                          workers, "--shutdown-timeout", "0"]
    assert (run.ip, run.port, run.settle, run.access_log) == ("127.0.0.1", 18080, True, None)
    yaml = pytest.importorskip("yaml")
    c = yaml.safe_load(cfg.read_text())
    (lb,) = c["LoadBalancers"]
    (listener,) = lb["Listeners"]
    (group,) = c["TargetGroups"]
    assert (lb["Type"], listener["Protocol"], group["Protocol"]) == ("network", "UDP", "UDP")
    assert (listener["Port"], listener["BindAddress"], group["Port"]) == (18080, "127.0.0.1",
                                                                          19000)
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupName": "be"}]
    assert group["Targets"] == [{"Id": f"127.0.0.1{i}"} for i in range(1, 5)]
    # udp-echo answers no TCP: no health checks (the text says why).
    assert group["HealthCheckEnabled"] is False
    assert "answer UDP only" in cfg.read_text()
    # A UDP listener takes no attribute; nothing of HTTP.
    assert "Attributes" not in listener and "Rules" not in listener and "Attributes" not in lb


@pytest.mark.parametrize("layout, workers", [("A", "1"), ("B", "2")])
def test_nginx_is_a_stream_udp_proxy(tmp_path, stream_builtin, layout, workers):
    run = launch(tmp_path, "nginx", layout=layout)
    cfg = tmp_path / f"nginx-udp-{layout}.conf"
    assert [str(a) for a in run.argv] == [
        "nginx", "-c", str(cfg), "-e", str(tmp_path / f"nginx-udp-{layout}" / "nginx-error.log")]
    code = _code(cfg)
    assert "stream {" in code and "http {" not in code
    assert not any(l.startswith("load_module") for l in code)  # built in
    assert f"worker_processes {workers};" in code
    # One socket per worker (reuseport): a client flow stays on one worker, so in one session.
    assert "listen 127.0.0.1:18080 udp reuseport;" in code and "proxy_pass be;" in code
    assert [l for l in code if l.startswith("server 127")] == [
        f"server 127.0.0.1{i}:19000;" for i in range(1, 5)]
    # A session per flow for its life: idle timeout as NLB's, no per-datagram limits.
    assert "proxy_timeout 120s;" in code and "access_log off;" in code
    text = "\n".join(code)
    assert "proxy_responses" not in text and "proxy_requests" not in text


def test_nginx_udp_loads_the_stream_module_as_the_tcp_configs_do(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(chains, "nginx_stream_load",
                        lambda ssl=False: seen.append(ssl) or "load_module /m/stream.so;")
    launch(tmp_path, "nginx")
    assert _code(tmp_path / "nginx-udp-A.conf")[0] == "load_module /m/stream.so;"
    assert seen == [False]  # no stream SSL module needed


def test_udp_launchers_refuse_the_others(tmp_path):
    for chain in ("haproxy", "floor", "direct", "sluice-1rule"):
        with pytest.raises(HarnessError, match=f"unknown chain {chain} for UDP workload"):
            launch(tmp_path, chain)
    env = chains.ChainEnv({"sluice": "/x/sluice"}, tmp_path, tmp_path, 19000, False, None)
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    for fn in (chains._sluice_udp, chains._nginx_udp):
        with pytest.raises(HarnessError, match="not a UDP workload"):
            fn(env, "x", lay, WORKLOADS["tcp-ka-13b"], 18080)


@pytest.mark.skipif(not HAVE_SLUICE, reason=f"no sluice binary ({SLUICE}; or set SLUICE_BIN)")
def test_sluice_validates_the_udp_config(tmp_path):
    launch(tmp_path, "sluice")
    r = subprocess.run([SLUICE, "validate", str(tmp_path / "sluice-udp-A.yaml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and ": ok (" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx not installed")
@pytest.mark.parametrize("layout", ["A", "B"])
def test_nginx_accepts_the_udp_config(tmp_path, layout):
    """With the installed nginx's stream module (Debian: libnginx-mod-stream)."""
    try:
        chains.nginx_stream_load()
    except HarnessError as e:
        pytest.skip(str(e))
    run = launch(tmp_path, "nginx", layout=layout)
    r = subprocess.run([NGINX, "-t", "-q"] + [str(a) for a in run.argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


# ---- figures and comparisons ------------------------------------------------------------------

def _ms():
    """Two rounds of udp-echo-64b: packets per proxy CPU second by chain, per round."""
    figures = {"sluice": (300000, 240000), "nginx": (200000, 250000)}
    out = []
    for chain, per in figures.items():
        for rnd, v in enumerate(per, 1):
            out.append({"layout": "A", "workload": "udp-echo-64b", "phase": "capacity",
                        "round": rnd, "chain": chain, "rps": v / 4, "packets_per_cpu_s": v,
                        "cpu_us_per_req": 2e6 / v, "lost_pct": 0.0, "errors": 0})
    return out


def test_packets_per_cpu_second_comparison():
    s = stats.summarize(_ms(), {})
    (row,) = [r for r in s["ratios"] if r["workload"] == "udp-echo-64b"]
    assert (row["ours"], row["other"]) == ("sluice", "nginx")
    p = row["packets_per_cpu_s"]
    assert p["per_round"] == [1.5, 0.96]
    assert p["worst"] == 0.96  # higher is better: the lowest round
    assert p["median"] == pytest.approx((1.5 + 0.96) / 2)
    # CPU per request is the same figure upside down.
    assert row["cpu_us_per_req"]["per_round"] == [round(1 / 1.5, 4), round(1 / 0.96, 4)]
    sluice = next(r for r in s["chains"] if r["chain"] == "sluice")
    assert sluice["packets_per_cpu_s"] == {"median": 270000, "min": 240000, "max": 300000}
    assert sluice["lost_pct"] == {"median": 0.0, "min": 0.0, "max": 0.0}


def test_report_shows_the_udp_table_and_column_only_with_udp():
    md = "\n".join(report._md_layout("A", stats.summarize(_ms(), {})))
    assert "### UDP request/response (udp-load)" in md
    assert "| udp-echo-64b | sluice | 67,500 (60,000–75,000) | 270,000 (240,000–300,000) |" in md
    assert "| workload | comparison | req/s | CPU µs/req | packets/CPU-s | p50 |" in md
    assert "| udp-echo-64b | sluice / nginx | 1.23 (0.96) | 0.85 (1.04) | 1.23 (0.96) |" in md
    ka = [dict(m, workload="tcp-ka-13b", packets_per_cpu_s=None) for m in _ms()]
    md = "\n".join(report._md_layout("A", stats.summarize(ka, {})))
    assert "packets/CPU-s" not in md and "UDP" not in md


# ---- /proc readers, ports and the harness's own check -----------------------------------------

def test_udp_counters(tmp_path):
    snmp = tmp_path / "snmp"
    snmp.write_text("Tcp: ActiveOpens RetransSegs\nTcp: 1 2\n"
                    "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n"
                    "Udp: 100 3 7 90 5 1\n"
                    "UdpLite: InDatagrams NoPorts\nUdpLite: 0 0\n")
    assert sysstats.udp_counters(snmp) == {"udp_in_errors": 7, "udp_rcvbuf_errors": 5,
                                           "udp_sndbuf_errors": 1, "udp_no_ports": 3}
    assert set(sysstats.udp_counters()) == set(sysstats.UDP_COUNTERS)


def test_udp_bound_and_free_ports():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert sysstats.udp_bound("127.0.0.1", port)
        assert not sysstats.udp_bound("127.0.0.2", port)
        # A port held for UDP only is not free for a run (a UDP workload binds it).
        assert not sysstats._can_bind("127.0.0.1", port)
    assert not sysstats.udp_bound("127.0.0.1", port)


def test_request_check_picks_udp(monkeypatch):
    from sluicebench import driver
    calls = []
    monkeypatch.setattr(driver, "udp_check", lambda *a: calls.append(a))
    Bench.request_check("127.0.0.11", 19000, UDP, "/", close=False)
    Bench.request_check("127.0.0.1", 18080, UDP, UDP.path, UDP.close)
    assert calls == [("127.0.0.11", 19000, 64), ("127.0.0.1", 18080, 64)]


def test_udp_check_without_a_peer():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))  # bound, never answers
        port = s.getsockname()[1]
        assert udp_check("127.0.0.1", port, 64, timeout=0.2) == "no echo within 0.2 s"
    # Nothing bound: the kernel's port unreachable.
    assert udp_check("127.0.0.1", port, 64, timeout=1).startswith("refused")


# ---- the tools themselves --------------------------------------------------------------------

def test_the_tools_are_instruments():
    for name in ("udp-load", "udp-echo"):
        assert setup.INSTRUMENTS[name].name == f"{name}.c" and setup.INSTRUMENTS[name].exists()
    assert setup.compile_argv("cc", "udp-load", "/s/x.c", "/b/x")[-1] == "-lpthread"
    assert setup.compile_argv("cc", "udp-echo", "/s/x.c", "/b/x")[-1] == "/s/x.c"


def _build(tmp_path, name):
    """Compiled as the harness does, but with every warning an error."""
    exe = tmp_path / name
    argv = setup.compile_argv(CC, name, setup.INSTRUMENTS[name], exe)
    argv = [a for a in argv if a != "-w"]
    argv[1:1] = ["-Wall", "-Wextra", "-Werror"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return exe


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _udp_load(load, port, *args):
    out = subprocess.run([str(load), "-a", "127.0.0.1", "-p", str(port)] + list(args),
                         capture_output=True, text=True, timeout=30)
    return loadgen.parse_report("udp-load", out.returncode, out.stdout, loadgen.UDP_LOAD_ERRORS)


@pytest.mark.skipif(not CC, reason="needs cc")
def test_udp_load_against_udp_echo(tmp_path):
    load, echo = _build(tmp_path, "udp-load"), _build(tmp_path, "udp-echo")
    port = _free_udp_port()
    server = subprocess.Popen([str(echo), str(port), "127.0.0.1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        procs.wait_udp_bound("127.0.0.1", port, server, "udp-echo")
        # The harness's check (an independent client) in a few sizes.
        for n in (16, 64, 1500, 65507):
            assert udp_check("127.0.0.1", port, n) is None
        # A second backend on the same address and port fails to bind (no SO_REUSEADDR), so
        # a stale one cannot take part of the datagrams.
        dup = subprocess.run([str(echo), str(port), "127.0.0.1"], capture_output=True,
                             text=True, timeout=10)
        assert dup.returncode != 0 and "bind" in dup.stderr
        # One second as the harness runs it in layout A: 64 flows, 64-byte datagrams.
        r = _udp_load(load, port, "-t", "1", "-c", "64", "-d", "1", "-s", "64", "-T", "0.2")
        assert r["requests"] > 1000, r
        assert r["errors"] - r["errors_timeout"] == 0, r
        assert r["lost"] == r["errors_timeout"] <= max(1, r["datagrams_sent"] // 1000), r
        assert (r["flows"], r["datagram_bytes"]) == (64, 64)
        assert r["bytes"] == 64 * r["requests"]
        assert 0.9e6 < r["duration_us"] < 1.5e6
        assert r["lat_p50_us"] <= r["lat_p99_us"] <= r["lat_max_us"] < 200000
        # Each datagram sent was echoed, lost or still in flight at the end (late echoes of
        # lost ones aside, every datagram read was an echo).
        assert r["datagrams_sent"] >= r["requests"] + r["lost"]
        assert r["datagrams_sent"] - r["requests"] - r["lost"] <= 64 + 64
        # Two threads, odd sizes.
        r = _udp_load(load, port, "-t", "2", "-c", "7", "-d", "0.3", "-s", "1000")
        assert r["requests"] > 50 and r["errors"] - r["errors_timeout"] == 0, r
        assert r["bytes"] == 1000 * r["requests"]
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.skipif(not CC, reason="needs cc")
def test_udp_load_counts_refused_and_lost(tmp_path):
    load = _build(tmp_path, "udp-load")
    # Nothing bound: every datagram ends with an ICMP port unreachable, none is echoed.
    r = _udp_load(load, _free_udp_port(), "-c", "2", "-d", "0.3", "-s", "64")
    assert r["requests"] == 0 and r["errors_refused"] > 0 and r["lost"] == 0
    # A socket that reads and never answers: every datagram is lost after -T.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        r = _udp_load(load, s.getsockname()[1], "-c", "2", "-d", "0.5", "-s", "64",
                      "-T", "0.1")
    assert r["requests"] == 0 and r["errors_refused"] == 0
    assert 4 <= r["lost"] == r["errors_timeout"] <= 12 and r["in_flight"] == 2
    assert r["datagrams_sent"] == r["lost"] + r["in_flight"]


@pytest.mark.skipif(not CC, reason="needs cc")
def test_udp_load_refuses_bad_arguments(tmp_path):
    load = _build(tmp_path, "udp-load")
    for args in (["-s", "15"], ["-s", "65508"], ["-c", "0"], ["-d", "0"], []):
        argv = [str(load), "-a", "127.0.0.1"] + (["-p", "9"] if args else []) + args
        assert subprocess.run(argv, capture_output=True, timeout=10).returncode == 2
