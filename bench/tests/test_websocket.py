"""The WebSocket echo workloads: bench/tools/ws-load.c's command line and output, the
workloads and chains as data, the figures (bytes per proxy CPU second) and their comparisons,
the harness's own WebSocket check; and one short run of ws-load against ws-echo (when cc and
libcrypto are there)."""

import base64
import shutil
import socket
import subprocess
import time

import pytest

from sluicebench import chains, httpcheck, loadgen, report, setup, stats, workloads
from sluicebench.common import ALL_CHAINS, HTTP_CHAINS, HarnessError
from sluicebench.driver import Bench
from sluicebench.workloads import WORKLOADS

LINE = ('WRKJSON {"requests": 400000, "duration_us": 10000500, "bytes": 411200000, '
        '"errors_connect": 1, "errors_read": 2, "errors_write": 0, "errors_status": 3, '
        '"errors_timeout": 4, "errors_handshake": 5, "errors_frame": 6, "lat_mean_us": 1500.2, '
        '"lat_p50_us": 1400, "lat_p99_us": 3100, "lat_p999_us": 5000, "lat_max_us": 9000, '
        '"messages": 400000, "message_bytes": 1024, "depth": 1, "connections": 64, '
        '"upgrades": 70, "payload_bytes_sent": 409665536, "payload_bytes_received": 409600000, '
        '"wire_bytes_sent": 412865024, "wire_bytes_received": 411200000}')


def test_parse_report_sums_every_error_kind():
    r = loadgen.parse_report("ws-load", 0, "noise\n" + LINE + "\n", loadgen.WS_LOAD_ERRORS)
    assert r["errors"] == 1 + 2 + 3 + 4 + 5 + 6
    assert (r["requests"], r["messages"], r["message_bytes"], r["upgrades"]) == (
        400000, 400000, 1024, 70)
    # Every key the driver reads of wrk's summary is in ws-load's too, and its own counts.
    for k in loadgen.WRK_ERRORS + loadgen.WS_LOAD_COUNTS + (
            "duration_us", "bytes", "lat_p50_us", "lat_p99_us"):
        assert k in r


@pytest.mark.parametrize("rc, out", [(0, "no summary"), (1, LINE)])
def test_parse_report_failures(rc, out):
    with pytest.raises(HarnessError, match=r"ws-load failed \(status"):
        loadgen.parse_report("ws-load", rc, out, loadgen.WS_LOAD_ERRORS)


def test_ws_load_argv():
    a, b = workloads.make_layouts(["A", "B"], cpus=[0, 1])
    argv = loadgen.ws_load_argv("/x/ws-load", a, "127.0.0.1", 18080, WORKLOADS["ws-echo-1k"],
                                10)
    assert [str(x) for x in argv] == ["/x/ws-load", "-a", "127.0.0.1", "-p", "18080", "-u", "/",
                                      "-t", "1", "-c", "64", "-d", "10", "-s", "1024", "-P",
                                      "1", "-T", "2"]
    argv = loadgen.ws_load_argv("/x/ws-load", b, "127.0.0.1", 18080, WORKLOADS["ws-echo-64k"],
                                1)
    assert [str(x) for x in argv[7:]] == ["-t", "2", "-c", "128", "-d", "1", "-s", "65536",
                                          "-P", "1", "-T", "2"]
    with pytest.raises(HarnessError, match="not measured with ws-load"):
        loadgen.ws_load_argv("/x/ws-load", a, "127.0.0.1", 1, WORKLOADS["ka-1k"], 1)


def test_closed_loop_picks_ws_load(monkeypatch):
    calls = []
    monkeypatch.setattr(loadgen, "wrk", lambda *a: calls.append("wrk") or {})
    monkeypatch.setattr(loadgen, "ws_load", lambda procs, exe, *a: calls.append(exe) or {})
    (a,) = workloads.make_layouts(["A"], cpus=[0, 1])
    for name in ("ws-echo-1k", "ka-1k", "ws-echo-64k"):
        loadgen.closed_loop(None, {"ws-load": "/x/ws-load"}, a, "127.0.0.1", 1, WORKLOADS[name],
                            1, "l")
    assert calls == ["/x/ws-load", "wrk", "/x/ws-load"]


def test_websocket_workloads_are_data():
    one, big = WORKLOADS["ws-echo-1k"], WORKLOADS["ws-echo-64k"]
    assert (one.body, big.body) == (1024, 65536)
    for w in (one, big):
        assert (w.websocket, w.client, w.phases, w.depth, w.scheme) == (
            True, "ws-load", ("capacity",), 1, "http")
        # Every chain serves it, the floor (bytes) and direct (one echo backend) included
        # (h2o, the HTTP/2 workloads' peer, apart).
        assert w.chains_for(list(ALL_CHAINS)) == list(HTTP_CHAINS)
        assert ("sluice", "floor") in w.comparisons and ("sluice", "best peer") in w.comparisons
    assert [w.name for w in WORKLOADS.values() if w.websocket] == ["ws-echo-1k", "ws-echo-64k"]


@pytest.mark.parametrize("kw", [dict(tls=True), dict(close=True), dict(access_log=True),
                                dict(phases=("capacity", "latency"))])
def test_websocket_workloads_are_plain_kept_capacity_only(kw):
    kw.setdefault("phases", ("capacity",))
    with pytest.raises(HarnessError, match="WebSocket workload"):
        workloads.Workload("w", "w", body=1024, websocket=True, **kw)


def test_ws_echo_backends_and_the_direct_chain(tmp_path):
    assert chains.backend_tool(1024, False, websocket=True) == "ws-echo"
    assert chains.backend_tool(13, True, websocket=True) == "ws-echo"
    assert chains.backend_argv({"ws-echo": "/x/ws-echo"}, "ws-echo", 19000, "127.0.0.11",
                               65536) == ["/x/ws-echo", 19000, "127.0.0.11"]
    assert "ws-echo.c" in chains.BACKEND_SOURCES["ws-echo"]
    env = chains.ChainEnv({"ws-echo": "/x/ws-echo"}, tmp_path, tmp_path, 19000, False)
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    d = chains.launch(env, "direct", lay, WORKLOADS["ws-echo-64k"], 18080)
    assert d.argv == ["/x/ws-echo", 19000, "127.0.0.15"]


def _render(tmp_path, chain, workload):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor"}, tmp_path,
                          tmp_path, 19000, False)
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    chains.launch(env, chain, lay, workload, 18080)
    ext = {"haproxy": "cfg", "nginx": "conf"}[chain]
    return (tmp_path / f"{chain}-A.{ext}").read_text()


def _code(text):
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))


def test_peer_configs_pass_the_upgrade(tmp_path):
    ws, ka = WORKLOADS["ws-echo-1k"], WORKLOADS["ka-1k"]
    h = _code(_render(tmp_path, "haproxy", ws))
    assert "timeout tunnel 60s" in h and "mode http" in h
    assert "timeout tunnel" not in _code(_render(tmp_path, "haproxy", ka))
    n = _code(_render(tmp_path, "nginx", ws))
    assert "proxy_set_header Upgrade $http_upgrade;" in n
    assert 'proxy_set_header Connection "upgrade";' in n
    assert "proxy_http_version 1.1;" in n and 'Connection ""' not in n
    n = _code(_render(tmp_path, "nginx", ka))
    assert 'proxy_set_header Connection "";' in n and "Upgrade" not in n


def test_fill_websocket():
    r = loadgen.parse_report("ws-load", 0, LINE, loadgen.WS_LOAD_ERRORS)
    m = {"proxy_cpu_s": 8.0}
    Bench.fill_websocket(m, r)
    assert m["client"] == "ws-load" and m["messages"] == 400000
    assert m["ws_bytes"] == 409665536 + 409600000
    assert m["bytes_per_cpu_s"] == round(819265536 / 8.0)
    assert m["ws_mb_per_s"] == round(819265536 / 10000500, 2)
    m = {"proxy_cpu_s": 0}
    Bench.fill_websocket(m, r)
    assert m["bytes_per_cpu_s"] is None


def _ms():
    """Two rounds of ws-echo-1k: bytes per proxy CPU second by chain, per round."""
    figures = {"sluice": (100, 90), "haproxy": (50, 60), "nginx": (80, 45), "floor": (110, 100),
               "direct": (400, 400)}
    out = []
    for chain, per in figures.items():
        for rnd, v in enumerate(per, 1):
            out.append({"layout": "A", "workload": "ws-echo-1k", "phase": "capacity",
                        "round": rnd, "chain": chain, "rps": v * 10, "bytes_per_cpu_s": v,
                        "cpu_us_per_req": 1000 / v, "errors": 0})
    return out


def test_bytes_per_cpu_second_comparisons():
    s = stats.summarize(_ms(), {})
    rows = {r["other"]: r for r in s["ratios"] if r["workload"] == "ws-echo-1k"}
    floor = rows["floor"]["bytes_per_cpu_s"]
    assert floor["per_round"] == [round(100 / 110, 4), 0.9]
    assert floor["worst"] == 0.9  # higher is better: the lowest round (90 / 100)
    assert floor["median"] == pytest.approx((100 / 110 + 0.9) / 2)
    assert rows["haproxy"]["bytes_per_cpu_s"]["per_round"] == [2.0, 1.5]
    # Best peer: round 1 NGINX (80), round 2 HAProxy (60).
    assert rows["best peer"]["bytes_per_cpu_s"]["per_round"] == [1.25, 1.5]
    # Against direct only req/s means something.
    assert rows["direct"]["bytes_per_cpu_s"] is None and rows["direct"]["rps"]
    sluice = next(r for r in s["chains"] if r["chain"] == "sluice")
    assert sluice["bytes_per_cpu_s"] == {"median": 95, "min": 90, "max": 100}


def test_report_shows_bytes_per_cpu_second_only_with_websocket():
    s = stats.summarize(_ms(), {})
    md = "\n".join(report._md_layout("A", s))
    assert "### WebSocket echo (ws-load)" in md
    assert "| workload | comparison | req/s | CPU µs/req | bytes/CPU-s | p50 |" in md
    # req/s, CPU µs/req (lower is better: worst is the highest), bytes/CPU-s.
    assert "| ws-echo-1k | sluice / floor | 0.90 (0.90) | 1.11 (1.11) | 0.90 (0.90) |" in md
    assert "| ws-echo-1k | sluice / haproxy | 1.75 (1.50) | 0.58 (0.67) | 1.75 (1.50) |" in md
    ka = [dict(m, workload="ka-1k", bytes_per_cpu_s=None) for m in _ms()]
    md = "\n".join(report._md_layout("A", stats.summarize(ka, {})))
    assert "bytes/CPU-s" not in md and "WebSocket" not in md


# ---- the harness's own WebSocket client (httpcheck) ------------------------------------------

def test_ws_accept_is_rfc_6455s_example():
    assert httpcheck.ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("n, head", [(0, b"\x82\x80"), (125, b"\x82\xfd"),
                                     (126, b"\x82\xfe\x00\x7e"), (65535, b"\x82\xfe\xff\xff"),
                                     (65536, b"\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00")])
def test_ws_frame_length_forms(n, head):
    payload = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
    f = httpcheck.ws_frame(payload, mask=b"\x01\x02\x03\x04")
    assert f.startswith(head) and f[len(head):len(head) + 4] == b"\x01\x02\x03\x04"
    assert len(f) == len(head) + 4 + n
    assert httpcheck.ws_parse_frame(f) == (0x82, True, payload, len(f))
    assert httpcheck.ws_parse_frame(f[:-1] if n else f[:1]) is None


def test_ws_parse_frame_unmasked():
    assert httpcheck.ws_parse_frame(b"\x82\x03abcXYZ") == (0x82, False, b"abc", 5)


# ---- the tools themselves --------------------------------------------------------------------

def test_the_tools_are_instruments_linked_with_libcrypto():
    for name in ("ws-load", "ws-echo"):
        assert setup.INSTRUMENTS[name].name == f"{name}.c" and setup.INSTRUMENTS[name].exists()
        assert "-lcrypto" in setup.compile_argv("cc", name, "/s/x.c", "/b/x")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build(tmp_path, name):
    exe = tmp_path / name
    r = subprocess.run(setup.compile_argv("cc", name, setup.INSTRUMENTS[name], exe),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "openssl/" in r.stderr:
        pytest.skip("libssl-dev not installed")
    assert r.returncode == 0, r.stderr
    return exe


@pytest.mark.skipif(not shutil.which("cc"), reason="needs cc and libssl-dev")
def test_ws_load_against_ws_echo(tmp_path):
    load, echo = _build(tmp_path, "ws-load"), _build(tmp_path, "ws-echo")
    port = _free_port()
    server = subprocess.Popen([str(echo), str(port), "127.0.0.1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        # The harness's check (an independent implementation of the framing) in all three
        # length forms.
        for n in (13, 1024, 70000):
            assert httpcheck.ws_check("127.0.0.1", port, "/", n) is None
        # A request without a key is refused, so a plain HTTP check cannot pass by accident.
        assert httpcheck.http_check("127.0.0.1", port, "/", 13, False) == "status 400"
        for size, depth in ((125, 1), (1024, 2), (65536, 1), (70000, 3)):
            out = subprocess.run([str(load), "-a", "127.0.0.1", "-p", str(port), "-c", "3",
                                  "-t", "2", "-d", "0.3", "-s", str(size), "-P", str(depth)],
                                 capture_output=True, text=True, timeout=30)
            r = loadgen.parse_report("ws-load", out.returncode, out.stdout,
                                     loadgen.WS_LOAD_ERRORS)
            assert r["errors"] == 0 and r["messages"] > 10, r
            assert (r["upgrades"], r["connections"], r["depth"]) == (3, 3, depth)
            assert r["message_bytes"] == size
            assert r["payload_bytes_received"] >= r["messages"] * size
            head = 2 if size < 126 else 4 if size < 65536 else 10
            assert r["wire_bytes_sent"] == r["payload_bytes_sent"] // size * (size + head + 4)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.skipif(not shutil.which("cc"), reason="needs cc and libssl-dev")
def test_ws_load_counts_a_non_101_as_a_status_error(tmp_path):
    load = _build(tmp_path, "ws-load")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    p = subprocess.Popen([str(load), "-a", "127.0.0.1", "-p", str(port), "-c", "1", "-d", "0.5",
                          "-s", "16"], stdout=subprocess.PIPE, text=True)
    try:
        srv.settimeout(5)
        c, _ = srv.accept()
        req = c.recv(4096).decode()
        assert req.startswith("GET / HTTP/1.1\r\n") and "Upgrade: websocket\r\n" in req
        assert "Sec-WebSocket-Version: 13\r\n" in req
        key = next(l.split(": ", 1)[1] for l in req.split("\r\n")
                   if l.startswith("Sec-WebSocket-Key: "))
        assert len(base64.b64decode(key)) == 16
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        out, _ = p.communicate(timeout=10)
        c.close()
    finally:
        p.kill()
        srv.close()
    r = loadgen.parse_report("ws-load", p.returncode, out, loadgen.WS_LOAD_ERRORS)
    assert r["errors_status"] >= 1 and r["messages"] == 0


def test_request_check_picks_the_client(monkeypatch):
    from sluicebench import driver
    calls = []
    monkeypatch.setattr(driver, "ws_check", lambda *a: calls.append(("ws",) + a))
    monkeypatch.setattr(driver, "http_check", lambda *a, **kw: calls.append(("http",) + a))
    Bench.request_check("127.0.0.11", 19000, WORKLOADS["ws-echo-64k"], "/", close=False)
    # A backend is checked without "Connection: close" even in close-13b (it keeps the
    # connection; closing is the chain's job), a chain with it.
    Bench.request_check("127.0.0.11", 19000, WORKLOADS["close-13b"], "/", close=False)
    Bench.request_check("127.0.0.1", 18080, WORKLOADS["close-13b"], "/", close=True)
    assert calls == [("ws", "127.0.0.11", 19000, "/", 65536),
                     ("http", "127.0.0.11", 19000, "/", 13, False),
                     ("http", "127.0.0.1", 18080, "/", 13, True)]
