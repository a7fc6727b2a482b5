"""The bulk-transfer workloads (tcp-bulk-1g, tcp-bulk-up-1g): their data and limits, bulk-load's
command line and summary, the figures (proxy CPU seconds per GiB, Gbit/s) and their
comparisons, the chains' configs (HAProxy's splicing; the floor refusing), the harness's own
check and its copy of the byte pattern; and the C tools built with warnings as errors: a few
MiB through bulk-server both ways, and bulk-load against backends that send too few, too many
or wrong bytes, which must fail loudly."""

import shutil
import socket
import subprocess
import threading

import pytest

from sluicebench import chains, cli, httpcheck, loadgen, procs, report, setup, stats, workloads
from sluicebench.common import ALL_CHAINS, PEERS, HarnessError
from sluicebench.driver import Bench
from sluicebench.workloads import GIB, WORKLOADS

DOWN, UP = WORKLOADS["tcp-bulk-1g"], WORKLOADS["tcp-bulk-up-1g"]
CC = shutil.which("cc") or shutil.which("gcc")

LINE = ('WRKJSON {"requests": 4, "duration_us": 4000000, "bytes": 4294967296, '
        '"errors_connect": 0, "errors_read": 0, "errors_write": 0, "errors_status": 0, '
        '"errors_timeout": 0, "connections": 4, "bytes_per_conn": 1073741824, "upload": 0, '
        '"short": 0, "long": 0, "corrupt": 0, "bad_answer": 0, "transfer_us_min": 3500000, '
        '"transfer_us_max": 4000000, "first_error": null}')
SHORT = ('WRKJSON {"requests": 3, "duration_us": 4000000, "bytes": 3758096384, '
         '"errors_connect": 0, "errors_read": 0, "errors_write": 0, "errors_status": 1, '
         '"errors_timeout": 0, "connections": 4, "bytes_per_conn": 1073741824, "upload": 0, '
         '"short": 1, "long": 0, "corrupt": 0, "bad_answer": 0, "transfer_us_min": 2000000, '
         '"transfer_us_max": 4000000, "first_error": "connection 2: short: end of stream '
         'after 536870912 of 1073741824 bytes"}')


# ---- the workloads as data -------------------------------------------------------------------

def test_the_bulk_workloads_are_data():
    for w, way in ((DOWN, "down"), (UP, "up")):
        assert (w.bulk, w.body, w.tcp, w.phases, w.client, w.bulk_conns) == (
            way, GIB, True, ("bulk",), "bulk-load", 4)
        assert not (w.tls or w.backend_tls or w.close or w.access_log or w.websocket or w.h2
                    or w.udp or w.handshake or w.variants)
        # The peers only: the floor would lose bytes, direct's CPU is a backend's.
        assert w.chains_for(list(ALL_CHAINS)) == list(PEERS)
        assert w.comparisons == workloads.PEERS_ONLY_COMPARISONS
        assert w.best_peer_of == ("haproxy", "nginx")
        assert w.smoke and w.name in workloads.SMOKE_WORKLOADS
        assert "1 GiB" in w.title and "4 connections" in w.title
    assert [w.name for w in WORKLOADS.values() if w.bulk] == ["tcp-bulk-1g", "tcp-bulk-up-1g"]
    assert workloads.BULK_CONNS == 4 and GIB == 1 << 30
    assert workloads.BULK_WARMUP_BYTES == 16 << 20 and workloads.BULK_CHECK_BYTES == 1 << 20
    # Their backends: one bulk-server per backend address, without a size argument.
    assert chains.backend_tool(GIB, False, bulk=True) == "bulk-server"
    assert chains.backend_tool(GIB, True, udp=False, bulk=True) == "bulk-server"
    assert chains.backend_argv({"bulk-server": "/x/bs"}, "bulk-server", 19000, "127.0.0.11",
                               GIB) == ["/x/bs", 19000, "127.0.0.11"]
    assert "bulk-server.c" in chains.BACKEND_SOURCES["bulk-server"]


@pytest.mark.parametrize("kw", [dict(tcp=False), dict(tls=True), dict(close=True),
                                dict(access_log=True), dict(phases=("capacity",)),
                                dict(phases=("bulk", "idle")),
                                dict(chains=("sluice", "floor")), dict(chains=None),
                                dict(bulk="sideways"), dict(body=0), dict(bulk_conns=0)])
def test_a_bulk_workload_is_plain_tcp_transfers(kw):
    args = dict(tcp=True, bulk="down", phases=("bulk",), chains=PEERS, body=GIB)
    args.update(kw)
    with pytest.raises(HarnessError):
        workloads.Workload("w", "w", **args)


def test_the_bulk_phase_needs_a_bulk_workload():
    with pytest.raises(HarnessError, match="bulk phase needs a bulk workload"):
        workloads.Workload("w", "w", tcp=True, phases=("bulk",))
    w = workloads.Workload("w", "w", tcp=True, bulk="up", phases=("bulk",),
                           chains=("nginx",), body=5, bulk_conns=2)
    assert w.client == "bulk-load" and w.chains_for(list(ALL_CHAINS)) == ["nginx"]


def test_smoke_and_full_sizes():
    smoke, full = cli.parse_args(["--smoke"]), cli.parse_args([])
    assert (smoke.bulk_mib, full.bulk_mib) == (4, None)
    assert cli.parse_args(["--bulk-mib", "64"]).bulk_mib == 64
    with pytest.raises(SystemExit):
        cli.parse_args(["--bulk-mib", "0"])
    bench = Bench.__new__(Bench)
    for args, want in ((smoke, 4 << 20), (full, GIB)):
        bench.args = args
        assert bench.bulk_bytes(DOWN) == want


# ---- bulk-load's command line and summary ----------------------------------------------------

def test_bulk_load_argv():
    argv = loadgen.bulk_load_argv("/x/bulk-load", "127.0.0.1", 18080, DOWN, GIB)
    assert [str(x) for x in argv] == ["/x/bulk-load", "-a", "127.0.0.1", "-p", "18080",
                                      "-c", "4", "-b", str(GIB), "-T", "10"]
    argv = loadgen.bulk_load_argv("/x/bulk-load", "127.0.0.1", 18080, UP, 4 << 20)
    assert [str(x) for x in argv[5:]] == ["-c", "4", "-b", str(4 << 20), "-T", "10", "-U"]
    with pytest.raises(HarnessError, match="not measured with bulk-load"):
        loadgen.bulk_load_argv("/x/bulk-load", "127.0.0.1", 1, WORKLOADS["tcp-ka-13b"], 1)
    # Waited for at 20 MB/s and a minute: 4 GiB, 275 s.
    assert loadgen.bulk_load_timeout(DOWN, GIB) == pytest.approx(60 + 4 * GIB / 20e6)


def test_parse_report():
    r = loadgen.parse_report("bulk-load", 0, "noise\n" + SHORT + "\n", loadgen.BULK_LOAD_ERRORS)
    assert r["errors"] == 1 and (r["requests"], r["short"]) == (3, 1)
    for k in loadgen.WRK_ERRORS + loadgen.BULK_LOAD_COUNTS + ("duration_us", "bytes"):
        assert k in r


def _bench():
    b = Bench.__new__(Bench)
    b.problems = []
    return b


def _filled(line, cpu_s=2.0, warm_errors=0):
    r = loadgen.parse_report("bulk-load", 0, line, loadgen.BULK_LOAD_ERRORS)
    r["loadgen_cpu_s"] = 1.0
    m = {"layout": "A", "workload": "tcp-bulk-1g", "phase": "bulk", "round": 1,
         "chain": "sluice", "proxy_cpu_s": cpu_s}
    warm = {"errors": warm_errors, "connections": 4, "first_error": "connection 0: timeout"}
    b = _bench()
    b.fill_bulk(m, r, warm)
    return m, b


def test_fill_bulk_figures():
    m, b = _filled(LINE)
    assert m["client"] == "bulk-load" and not b.problems and m["errors"] == 0
    assert (m["transfers"], m["connections"], m["bytes_per_conn"], m["gib"]) == (4, 4, GIB, 4.0)
    # 2 CPU seconds for 4 GiB; 4 GiB in 4 s.
    assert m["cpu_s_per_gib"] == 0.5
    assert m["gbit_per_s"] == round(8 * 4 * GIB / 4e9, 3) == 8.59
    assert (m["transfer_s"], m["loadgen_cpu_pct"]) == (4.0, 25.0)
    assert _filled(LINE, cpu_s=0)[0]["cpu_s_per_gib"] is None  # no tick counted (a smoke run)


def test_a_short_transfer_fails_the_round_loudly(capsys):
    m, b = _filled(SHORT)
    assert m["errors"] == 1 and m["short"] == 1
    # Neither figure: 3.5 GiB moved is not the round's work.
    assert m["cpu_s_per_gib"] is None and m["gbit_per_s"] is None
    (problem,) = m["problems"]
    assert problem.startswith("1 of 4 transfers failed (short 1): connection 2: short: end of "
                              "stream after 536870912 of 1073741824 bytes")
    assert b.problems == [f"A tcp-bulk-1g bulk round 1 sluice: {problem}"]
    assert "PROBLEM:" in capsys.readouterr().out
    # A failed warm-up transfer is an error and a problem too.
    m, b = _filled(LINE, warm_errors=1)
    assert m["errors"] == 1 and m["cpu_s_per_gib"] is None
    assert m["problems"] == ["warm-up: 1 of 4 transfers failed: connection 0: timeout"]


def test_request_check_picks_bulk(monkeypatch):
    from sluicebench import driver
    calls = []
    monkeypatch.setattr(driver, "bulk_check", lambda *a, **kw: calls.append((a, kw)))
    Bench.request_check("127.0.0.11", 19000, DOWN, "/", close=False)
    Bench.request_check("127.0.0.1", 18080, UP, UP.path, UP.close)
    assert calls == [(("127.0.0.11", 19000, 1 << 20), {"upload": False}),
                     (("127.0.0.1", 18080, 1 << 20), {"upload": True})]
    assert Bench.PHASES["bulk"] is Bench.bulk_phase


def test_describe():
    m, _ = _filled(LINE)
    m["proxy_cpu_pct"] = 50.0
    assert Bench.describe(None, m) == ("   4.00 GiB    0.500 CPU s/GiB    8.59 Gbit/s  "
                                       "cpu  50.0%  errors 0")
    m, _ = _filled(SHORT)
    m["proxy_cpu_pct"] = 50.0
    assert "no figure" in Bench.describe(None, m)


# ---- figures and comparisons ------------------------------------------------------------------

def _ms():
    """Three rounds of tcp-bulk-1g: CPU s/GiB and Gbit/s by chain; sluice's third round failed
    (no figure)."""
    cpu = {"sluice": (0.8, 0.9, None), "haproxy": (0.4, 0.5, 0.45), "nginx": (1.0, 0.45, 1.1)}
    gbit = {"sluice": (10.0, 9.0, None), "haproxy": (20.0, 16.0, 18.0),
            "nginx": (8.0, 12.0, 7.0)}
    return [{"layout": "A", "workload": "tcp-bulk-1g", "phase": "bulk", "round": rnd + 1,
             "chain": c, "cpu_s_per_gib": cpu[c][rnd], "gbit_per_s": gbit[c][rnd],
             "connections": 4, "bytes_per_conn": GIB, "proxy_cpu_pct": 90.0,
             "errors": int(cpu[c][rnd] is None)}
            for c in cpu for rnd in range(3)]


def test_cpu_per_gib_comparisons():
    s = stats.summarize(_ms(), {})
    rows = {r["other"]: r for r in s["ratios"] if r["workload"] == "tcp-bulk-1g"}
    assert list(rows) == ["haproxy", "nginx", "best peer"]
    # Lower is better: the worst round is the highest ratio; the failed round is left out.
    assert rows["haproxy"]["cpu_s_per_gib"]["per_round"] == [2.0, 1.8]
    assert rows["haproxy"]["cpu_s_per_gib"]["worst"] == 2.0
    # Best peer, round by round: min(0.4, 1.0) = 0.4, min(0.5, 0.45) = 0.45.
    best = rows["best peer"]["cpu_s_per_gib"]
    assert best["per_round"] == [2.0, 2.0] and best["median"] == 2.0
    # Gbit/s: higher is better, the best peer's is max(20, 8), max(16, 12).
    assert rows["best peer"]["gbit_per_s"]["per_round"] == [0.5, round(9 / 16, 4)]
    assert rows["best peer"]["gbit_per_s"]["worst"] == 0.5
    assert rows["haproxy"]["rps"] is None and rows["haproxy"]["cpu_us_per_req"] is None
    sluice = next(r for r in s["chains"] if r["chain"] == "sluice")
    assert (sluice["phase"], sluice["rounds"], sluice["errors"]) == ("bulk", 3, 1)
    assert sluice["cpu_s_per_gib"] == {"median": pytest.approx(0.85), "min": 0.8, "max": 0.9}
    assert sluice["gbit_per_s"] == {"median": 9.5, "min": 9.0, "max": 10.0}


def test_report_shows_the_bulk_table_and_columns_only_with_bulk():
    md = "\n".join(report._md_layout("A", stats.summarize(_ms(), {})))
    assert "### Bulk transfers (bulk-load)" in md
    assert ("| tcp-bulk-1g | sluice | 4 × 1,024 | 0.850 (0.800–0.900) | 9.50 (9.00–10.00) | "
            "90 |") in md
    assert "| workload | comparison | req/s | CPU µs/req | CPU s/GiB | Gbit/s | p50 |" in md
    assert "| tcp-bulk-1g | sluice / best peer | – | – | 2.00 (2.00) | 0.53 (0.50) |" in md
    assert "### Capacity" not in md  # the bulk phase is not a capacity measurement
    ka = [dict(m, workload="tcp-ka-13b", phase="capacity", rps=1000, cpu_us_per_req=10,
               cpu_s_per_gib=None, gbit_per_s=None) for m in _ms()]
    md = "\n".join(report._md_layout("A", stats.summarize(ka, {})))
    assert "CPU s/GiB" not in md and "Bulk" not in md


# ---- configs ----------------------------------------------------------------------------------

def launch(tmp_path, chain, workload=DOWN, layout="A"):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor"}, tmp_path,
                          tmp_path, 19000, False, None)
    (lay,) = workloads.make_layouts([layout], cpus=[0, 1])
    return chains.launch(env, chain, lay, workload, 18080)


def _code(path):
    lines = (l.split(" #")[0].strip() for l in path.read_text().splitlines()
             if not l.lstrip().startswith("#"))
    return [l for l in lines if l]


@pytest.fixture
def stream_builtin(monkeypatch):
    monkeypatch.setattr(chains, "_nginx_configure_args", lambda: "configure arguments: "
                        "--with-stream --with-stream_ssl_module")


@pytest.mark.parametrize("workload", [DOWN, UP])
def test_haproxy_splices_both_ways(tmp_path, workload):
    run = launch(tmp_path, "haproxy", workload)
    cfg = tmp_path / "haproxy-bulk-tcp-A.cfg"  # its own name: tcp-ka-13b's stays as it was
    assert [str(a) for a in run.argv] == ["haproxy", "-f", str(cfg), "-db"]
    code = _code(cfg)
    bulk = ["tune.pipesize 1048576", "option splice-request", "option splice-response"]
    assert [l for l in code if l.startswith(("option", "tune"))] == bulk
    assert chains.HAPROXY_BULK_PIPE_BYTES == 1 << 20
    # Otherwise haproxy-tcp.cfg.in's: mode tcp, round robin, the same timeouts.
    launch(tmp_path, "haproxy", WORKLOADS["tcp-ka-13b"])
    tcp = _code(tmp_path / "haproxy-tcp-A.cfg")
    assert [l for l in code if l not in bulk] == tcp
    assert not any("splice" in l for l in tcp)


def test_sluice_and_nginx_are_as_for_tcp_ka_13b(tmp_path, stream_builtin):
    for chain, name in (("sluice", "sluice-tcp-A.yaml"), ("nginx", "nginx-tcp-A.conf")):
        launch(tmp_path, chain, WORKLOADS["tcp-ka-13b"])
        tcp = (tmp_path / name).read_text()
        launch(tmp_path, chain, DOWN)
        assert (tmp_path / name).read_text() == tcp
    assert "proxy_buffer_size" not in tcp  # NGINX's default, 16 KiB


def test_the_floor_refuses_bulk(tmp_path):
    with pytest.raises(HarnessError, match="cannot serve bulk workload tcp-bulk-1g"):
        launch(tmp_path, "floor")


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_bulk_config(tmp_path):
    launch(tmp_path, "haproxy")
    r = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy-bulk-tcp-A.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


# ---- the pattern and the tools ---------------------------------------------------------------

def test_the_pattern():
    p = httpcheck.bulk_pattern(0x0123456789ABCDEF, 2 * 1024 + 10)
    assert len(p) == 2058
    assert p[:8] == (0x0123456789ABCDEF).to_bytes(8, "little")
    assert p[8:1024] == bytes(range(8, 256)) + bytes(range(256)) * 3
    assert p[1024:1032] == (0x0123456789ABCDEF ^ 0x9E3779B97F4A7C15).to_bytes(8, "little")
    assert httpcheck.bulk_pattern(1, 5000)[:3000] == httpcheck.bulk_pattern(1, 3000)
    for name in ("bulk-load", "bulk-server"):
        assert setup.INSTRUMENTS[name].exists() and setup.INSTRUMENT_HEADERS[name][0].exists()
        assert setup.compile_argv("cc", name, "/s/x.c", "/b/x")[-1] == "-lpthread"


def _build(tmp_path, name):
    """Compiled as the harness does, but with every warning an error."""
    exe = tmp_path / name
    argv = [a for a in setup.compile_argv(CC, name, setup.INSTRUMENTS[name], exe) if a != "-w"]
    argv[1:1] = ["-Wall", "-Wextra", "-Werror"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return exe


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bulk_load(exe, port, *args):
    out = subprocess.run([str(exe), "-a", "127.0.0.1", "-p", str(port)] + list(args),
                         capture_output=True, text=True, timeout=60)
    r = loadgen.parse_report("bulk-load", out.returncode, out.stdout, loadgen.BULK_LOAD_ERRORS)
    return r, out.stderr


@pytest.mark.skipif(not CC, reason="needs cc")
def test_bulk_load_through_bulk_server(tmp_path):
    load, server = _build(tmp_path, "bulk-load"), _build(tmp_path, "bulk-server")
    port = _free_port()
    p = subprocess.Popen([str(server), str(port), "127.0.0.1"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        procs.wait_listening("127.0.0.1", port, p, "bulk-server")
        # The harness's check (Python's pattern, every byte) both ways, odd sizes too.
        for n in (1, 1023, 1 << 20, (1 << 20) + 7):
            assert httpcheck.bulk_check("127.0.0.1", port, n) is None
            assert httpcheck.bulk_check("127.0.0.1", port, n, upload=True) is None
        for upload in ([], ["-U"]):
            r, err = _bulk_load(load, port, "-c", "4", "-b", str(8 << 20), *upload)
            assert (r["requests"], r["errors"], r["bytes"], r["upload"]) == (
                4, 0, 32 << 20, len(upload)), err
            assert r["first_error"] is None and not err
            assert 0 < r["transfer_us_min"] <= r["transfer_us_max"] <= r["duration_us"]
        # A bad request is answered, and the server lives on.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"FETCH 10 00\n")
            assert s.recv(100) == b"ERR bad request\n"
        assert httpcheck.bulk_check("127.0.0.1", port, 100) is None
    finally:
        p.terminate()
        p.wait(timeout=10)


def _serving(answer):
    """A one-connection backend on a free port: reads the request line, calls answer(sock,
    line), closes. Returns (port, thread)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve():
        with ls:
            c, _ = ls.accept()
            with c:
                line = b""
                while not line.endswith(b"\n"):
                    line += c.recv(1)
                answer(c, line.decode().split())
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return ls.getsockname()[1], t


def _download(data_for):
    def answer(c, line):
        _, n, seed = line
        c.sendall(data_for(int(n), int(seed, 16)))
    return answer


@pytest.mark.skipif(not CC, reason="needs cc")
@pytest.mark.parametrize("name, send, kind, detail", [
    ("short", lambda n, seed: httpcheck.bulk_pattern(seed, n - 5000), "short",
     "end of stream after 95000 of 100000 bytes"),
    ("long", lambda n, seed: httpcheck.bulk_pattern(seed, n + 1), "long",
     "bytes past the 100000 asked for"),
    ("corrupt", lambda n, seed: httpcheck.bulk_pattern(seed, 50 * 1024 + 3) + b"\x00" * 20 +
     httpcheck.bulk_pattern(seed, n)[50 * 1024 + 23:], "corrupt", "wrong byte at offset"),
    ("other seed", lambda n, seed: httpcheck.bulk_pattern(seed ^ 1, n), "corrupt",
     "wrong byte at offset 0 ")])
def test_bulk_load_fails_a_wrong_download(tmp_path, name, send, kind, detail):
    load = _build(tmp_path, "bulk-load")
    port, t = _serving(_download(send))
    r, err = _bulk_load(load, port, "-c", "1", "-b", "100000", "-T", "5")
    t.join(timeout=10)
    assert (r["requests"], r["errors"], r["errors_status"], r[kind]) == (0, 1, 1, 1), err
    assert r["first_error"].startswith(f"connection 0: {kind}: ") and detail in r["first_error"]
    assert f"bulk-load: connection 0 (seed " in err and detail in err
    # The 20 zero bytes land on block 50's word, 3 bytes in.
    if name == "corrupt":
        assert f"offset {50 * 1024 + 3} " in r["first_error"]


@pytest.mark.skipif(not CC, reason="needs cc")
@pytest.mark.parametrize("reply, kind", [(b"ERR short 10 of 100000\n", "short"),
                                         (b"ERR corrupt at 1024\n", "corrupt"),
                                         (b"", "short"), (b"OK 99999\n", "bad_answer")])
def test_bulk_load_fails_an_upload_not_confirmed(tmp_path, reply, kind):
    load = _build(tmp_path, "bulk-load")

    def answer(c, line):
        got = 0
        while got < 100000:
            got += len(c.recv(65536))
        c.sendall(reply)
    port, t = _serving(answer)
    r, err = _bulk_load(load, port, "-c", "1", "-b", "100000", "-U", "-T", "5")
    t.join(timeout=10)
    assert (r["requests"], r["errors"], r[kind]) == (0, 1, 1), err
    assert "upload" in err


@pytest.mark.skipif(not CC, reason="needs cc")
def test_bulk_load_counts_refused_and_stalled(tmp_path):
    load = _build(tmp_path, "bulk-load")
    r, _ = _bulk_load(load, _free_port(), "-c", "2", "-b", "10")
    assert (r["requests"], r["errors_connect"], r["errors"]) == (0, 2, 2)
    with socket.socket() as ls:  # accepts (backlog), never answers
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        r, _ = _bulk_load(load, ls.getsockname()[1], "-c", "1", "-b", "10", "-T", "0.3")
    assert (r["requests"], r["errors_timeout"]) == (0, 1)
    assert "no byte within the timeout" in r["first_error"]
    for args in (["-c", "0", "-b", "1"], ["-c", "1", "-b", "0"], ["-c", "1"],
                 ["-c", "1", "-b", "-5"], ["-c", "1", "-b", "1", "-T", "0"]):
        argv = [str(load), "-a", "127.0.0.1", "-p", "9"] + args
        assert subprocess.run(argv, capture_output=True, timeout=10).returncode == 2
