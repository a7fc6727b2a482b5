"""HTTP/2 to the backends (h2h2-13b, grpc-13b): the workloads as data, the gRPC message, h2load's
and nghttp's command lines, the gRPC check of nghttp's output, the backends (bench/tools/
h2-responder.c), the three proxies' configs (checked by haproxy -c and nginx -t when installed,
and by `sluice validate` when SLUICE_BIN names a binary), h2o left out, "best peer" among the
chains that can serve; and, when cc, libnghttp2-dev, nghttp and h2load are there, the responder
built as the harness builds it and driven by the check request and h2load."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sluicebench import chains, cli, driver, httpcheck, loadgen, report, setup, stats, workloads
from sluicebench.common import ALL_CHAINS, HarnessError
from sluicebench.procs import Procs
from sluicebench.workloads import WORKLOADS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "h2"
H2H2, GRPC = WORKLOADS["h2h2-13b"], WORKLOADS["grpc-13b"]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)
# One gRPC message of 13 bytes: flag 0, length 13 big-endian, "Hello, world!".
MESSAGE_13 = b"\x00\x00\x00\x00\x0dHello, world!"


def fixture(name):
    return (FIXTURES / name).read_text()


def layout(name="A"):
    (lay,) = workloads.make_layouts([name], cpus=[0, 1])
    return lay


# ---- the workloads as data --------------------------------------------------------------------

def test_the_workloads_are_data():
    for w in (H2H2, GRPC):
        assert (w.h2, w.client, w.phases, w.close, w.path, w.tls, w.scheme, w.h2_protocol) == (
            True, "h2load", ("capacity",), False, "/", False, "http", "h2c")
        assert (w.h2_conns, w.h2_streams, w.h2_requests_per_conn, w.body) == (8, 32, 10000, 13)
        assert w.h2_backends and not (w.backend_tls or w.access_log or w.websocket or w.tcp)
        assert not w.smoke and w.name not in workloads.SMOKE_WORKLOADS
    assert (H2H2.protocol_version, H2H2.grpc, H2H2.request_body, H2H2.request_headers,
            H2H2.response_bytes) == ("HTTP2", False, None, (), 13)
    assert (GRPC.protocol_version, GRPC.grpc, GRPC.request_body, GRPC.response_bytes) == (
        "GRPC", True, MESSAGE_13, 18)
    assert GRPC.request_headers == (("content-type", "application/grpc"), ("te", "trailers"))
    # NGINX proxies HTTP/2 upstream for gRPC only; h2o 2.2 not at all; no references.
    assert H2H2.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy"]
    assert GRPC.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx"]
    assert H2H2.best_peer_of == ("haproxy",) and GRPC.best_peer_of == ("haproxy", "nginx")
    assert workloads.best_peer_of("h2h2-13b") == ("haproxy",)
    assert H2H2.comparisons == (("sluice", "haproxy"), ("sluice", "best peer"))
    assert GRPC.comparisons == tuple(("sluice", o) for o in ("haproxy", "nginx", "best peer"))
    # Every other workload speaks HTTP/1.1 to its backends.
    assert [n for n, w in WORKLOADS.items() if w.h2_backends] == ["h2h2-13b", "grpc-13b"]
    assert all(w.protocol_version == "HTTP1" and w.best_peer is None
               for n, w in WORKLOADS.items() if not w.h2_backends)


def test_grpc_message():
    assert workloads.grpc_message(13) == MESSAGE_13
    assert workloads.grpc_message(0) == b"\x00" * 5
    big = workloads.grpc_message(70000)
    assert len(big) == 70005 and big[:5] == b"\x00\x00\x01\x11\x70"
    assert big[5:31] == b"Hello, world!" * 2


@pytest.mark.parametrize("kw, match", [
    (dict(protocol_version="HTTP3", h2=True), "not one of HTTP1, HTTP2, GRPC"),
    (dict(protocol_version="GRPC"), r"needs HTTP/2 clients \(h2\)"),
    (dict(protocol_version="HTTP2", h2=True, chains=("sluice", "haproxy"),
          best_peer=("nginx",)), "best_peer nginx not all among its chains")])
def test_bad_workloads_are_refused(kw, match):
    with pytest.raises(HarnessError, match=match):
        workloads.Workload("w", "w", phases=("capacity",), **kw)


def test_not_in_the_smoke_run_nor_with_h2o():
    smoke = cli.parse_args(["--smoke"])
    assert not {"h2h2-13b", "grpc-13b"} & set(smoke.workloads.split(","))
    full = cli.parse_args([])
    assert full.workloads.split(",")[-2:] == ["h2h2-13b", "grpc-13b"]

    class Args:
        def __init__(self, w):
            self.workloads, self.smoke = w, False
    every = list(ALL_CHAINS)
    # h2o serves neither: dropped (and so never needs root for its mount namespace).
    assert setup.h2o_check(Args("h2h2-13b,grpc-13b"), every, euid=1000) == every[:-1]
    assert setup.h2o_check(Args("grpc-13b,h2c-13b"), every, euid=0) == every


# ---- the client: h2load and the check request -------------------------------------------------

def test_h2load_argv():
    argv = [str(a) for a in loadgen.h2load_argv(layout("A"), "127.0.0.1", 18080, H2H2, 100)]
    assert argv == ["h2load", "-t", "1", "-c", "8", "-m", "32", "-n", "800", "-N", "2s",
                    "http://127.0.0.1:18080/"]
    argv = [str(a) for a in loadgen.h2load_argv(layout("B"), "127.0.0.1", 18081, GRPC, 100,
                                                "/w/request-grpc-13b.bin")]
    assert argv == ["h2load", "-t", "2", "-c", "16", "-m", "32", "-n", "1600", "-N", "2s",
                    "-d", "/w/request-grpc-13b.bin", "-H", "content-type: application/grpc",
                    "-H", "te: trailers", "http://127.0.0.1:18081/"]
    with pytest.raises(HarnessError, match=r"no file of the request body \(h2load -d\)"):
        loadgen.h2load_argv(layout("A"), "127.0.0.1", 1, GRPC, 1)
    with pytest.raises(HarnessError, match="a request body file for GETs"):
        loadgen.h2load_argv(layout("A"), "127.0.0.1", 1, H2H2, 1, "/w/x.bin")


def test_closed_loop_passes_the_request_file(monkeypatch):
    seen = []
    monkeypatch.setattr(loadgen, "h2load", lambda procs, lay, ip, port, wl, s, label, data:
                        seen.append((wl.name, data)) or {})
    loadgen.closed_loop(None, {}, layout(), "127.0.0.1", 1, GRPC, 1, "x", data="/w/m.bin")
    loadgen.closed_loop(None, {}, layout(), "127.0.0.1", 1, H2H2, 1, "x")
    assert seen == [("grpc-13b", "/w/m.bin"), ("h2h2-13b", None)]


def test_parse_h2load_grpc():
    r = loadgen.parse_h2load(0, fixture("h2load-grpc.txt"))
    assert (r["requests"], r["errors"], r["protocol"]) == (2000, 0, "h2c")
    # DATA bytes: the answers' gRPC messages, 18 bytes each (the trailers are headers).
    assert r["bytes"] == 2000 * GRPC.response_bytes


def test_request_file(tmp_path):
    bench = driver.Bench(cli.parse_args(["--smoke"]), tmp_path)
    path = bench.request_file(GRPC)
    assert path.read_bytes() == MESSAGE_13 and path.parent == (tmp_path / "work").resolve()
    assert bench.request_file(GRPC) is path and bench.request_file(H2H2) is None


def test_nghttp_argv():
    assert httpcheck.nghttp_argv("127.0.0.1", 1, "/", False, data="/w/m.bin",
                                 headers=GRPC.request_headers) == [
        "nghttp", "-v", "-n", "-t", "5", "-d", "/w/m.bin", "-H",
        "content-type: application/grpc", "-H", "te: trailers", "http://127.0.0.1:1/"]


def test_parse_nghttp_grpc():
    out = fixture("nghttp-grpc.txt")
    assert httpcheck.parse_nghttp(out, 18, tls=False, grpc=True) is None
    assert httpcheck.parse_nghttp(out, 13, tls=False, grpc=True) == \
        "body 18 bytes in 1 DATA frames, expected 13"
    assert httpcheck.parse_nghttp(out.replace("grpc-status: 0", "grpc-status: 14"), 18,
                                  tls=False, grpc=True) == "grpc-status 14, not 0"
    plain = out.replace("content-type: application/grpc", "content-type: text/plain")
    assert httpcheck.parse_nghttp(plain, 18, tls=False, grpc=True) == \
        "content-type text/plain, not application/grpc"
    # The answer ends with its DATA, without trailers.
    cut = out[:out.index("recv (stream_id=13) grpc-status")]
    assert httpcheck.parse_nghttp(cut, 18, tls=False, grpc=True) == \
        "no trailers after the message: no grpc-status"
    # A plain answer (no gRPC expected) is judged as before.
    assert httpcheck.parse_nghttp(fixture("nghttp-h2c.txt"), 13, tls=False) is None


def test_the_chains_and_backends_get_grpc_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(driver, "h2_check", lambda *a, **k: calls.append((a, k)))
    driver.Bench.request_check("127.0.0.11", 19000, GRPC, "/", close=False, h2=True,
                               data="/w/m.bin")
    driver.Bench.request_check("127.0.0.1", 18080, H2H2, "/", close=False, h2=True)
    assert calls == [(("127.0.0.11", 19000, "/", 18, False),
                      {"data": "/w/m.bin", "headers": GRPC.request_headers, "grpc": True}),
                     (("127.0.0.1", 18080, "/", 13, False), {})]


# ---- the backends -------------------------------------------------------------------------------

def test_backends_are_the_h2_responder():
    for w in (H2H2, GRPC):
        tool = chains.backend_tool(w.body, False, w.backend_tls, w.websocket, w.h2_backends)
        assert tool == "h2-responder" and tool in chains.BACKEND_SOURCES
        # Sized as the sized responder: PORT ADDR BODY_BYTES.
        assert chains.backend_argv({"h2-responder": "/x/h2r"}, tool, 19000, "127.0.0.11",
                                   w.body) == ["/x/h2r", 19000, "127.0.0.11", 13]
    assert chains.backend_tool(13, False) == "responder"
    assert setup.INSTRUMENTS["h2-responder"].name == "h2-responder.c"
    argv = setup.compile_argv("cc", "h2-responder", "h2-responder.c", "h2r")
    assert argv[-2:] == ["-lnghttp2", "-lpthread"]


# ---- configs ------------------------------------------------------------------------------------

def launch(tmp_path, chain, workload, lay="A"):
    env = chains.ChainEnv({"sluice": "/x/sluice"}, tmp_path, tmp_path, 19000, False, None)
    return chains.launch(env, chain, layout(lay), workload, 18080)


def _code(path):
    lines = (l.split(" #")[0].rstrip() for l in path.read_text().splitlines()
             if not l.lstrip().startswith("#"))
    return [l for l in lines if l.strip()]


def test_sluice_configs(tmp_path):
    import yaml
    for w, extra in ((H2H2, {}), (GRPC, {"Matcher": {"GrpcCode": "0"}})):
        launch(tmp_path, "sluice", w)
        cfg = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())
        (lb,) = cfg["LoadBalancers"]
        # An HTTP listener taking h2c: the load balancer's cleartext attribute.
        assert lb["Attributes"] == {"idle_timeout.timeout_seconds": 60,
                                    "sluice.routing.http2.cleartext.enabled": True}
        assert lb["Listeners"][0]["Protocol"] == "HTTP" and "Certificates" not in cfg
        (tg,) = cfg["TargetGroups"]
        # h2c to the targets; health checks on, at their defaults but GRPC's matcher.
        assert tg == {"Name": "be", "Protocol": "HTTP", "ProtocolVersion": w.protocol_version,
                      "Port": 19000, "Targets": [{"Id": f"127.0.0.1{i}"} for i in range(1, 5)],
                      **extra}
    launch(tmp_path, "sluice", WORKLOADS["h2c-13b"])
    code = "\n".join(_code(tmp_path / "sluice-A.yaml"))
    assert "ProtocolVersion" not in code and "Matcher" not in code


def test_haproxy_configs(tmp_path):
    for w in (H2H2, GRPC):
        launch(tmp_path, "haproxy", w)
        code = [l.strip() for l in _code(tmp_path / "haproxy-A.cfg")]
        assert "bind 127.0.0.1:18080 proto h2" in code
        assert [l for l in code if l.startswith("server ")] == [
            f"server b{i} 127.0.0.1{i}:19000 proto h2" for i in range(1, 5)]
        # The streams of every client connection share the backend connections.
        assert "http-reuse always" in code
        assert "http-request set-header X-Forwarded-Proto http" in code
    for w in (WORKLOADS["h2c-13b"], WORKLOADS["ka-13b"]):
        launch(tmp_path, "haproxy", w)
        code = [l.strip() for l in _code(tmp_path / "haproxy-A.cfg")]
        assert "http-reuse safe" in code and not any("proto h2" in l for l in code
                                                     if l.startswith("server "))


def test_nginx_grpc_config(tmp_path):
    launch(tmp_path, "nginx", GRPC)
    code = [l.strip() for l in _code(tmp_path / "nginx-A.conf")]
    assert "listen 127.0.0.1:18080 backlog=4096 http2;" in code
    for line in ("grpc_pass grpc://be;", "grpc_set_header Host $http_host;", "keepalive 256;",
                 "keepalive_requests 1000000;", "access_log off;",
                 "grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                 "grpc_set_header X-Forwarded-Proto $scheme;",
                 "grpc_set_header X-Forwarded-Port $server_port;",
                 'grpc_set_header X-Amzn-Trace-Id "Root=1-$request_id";'):
        assert line in code, line
    assert [l for l in code if l.startswith("server 127")] == [
        f"server 127.0.0.1{i}:19000;" for i in range(1, 5)]
    assert not any(l.startswith(("proxy_pass", "proxy_set_header", "ssl_")) for l in code)
    # The A-xff profile: X-Forwarded-For only.
    launch(tmp_path, "nginx", GRPC, lay="A-xff")
    code = [l.strip() for l in _code(tmp_path / "nginx-A-xff.conf")]
    assert [l for l in code if l.startswith("grpc_set_header")] == [
        "grpc_set_header Host $http_host;",
        "grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"]


def test_what_cannot_serve_refuses(tmp_path):
    with pytest.raises(HarnessError, match="cannot proxy plain HTTP/2 to the backends"):
        launch(tmp_path, "nginx", H2H2)
    for w in (H2H2, GRPC):
        with pytest.raises(HarnessError, match="h2o 2.2 speaks HTTP/1.1 to backends only"):
            launch(tmp_path, "h2o", w)
        for chain in ("floor", "direct"):
            with pytest.raises(HarnessError, match=f"cannot serve HTTP/2 workload {w.name}"):
                launch(tmp_path, chain, w)


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
@pytest.mark.parametrize("wl", [H2H2, GRPC])
def test_haproxy_accepts_the_configs(tmp_path, wl):
    launch(tmp_path, "haproxy", wl)
    r = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy-A.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx not installed")
def test_nginx_accepts_the_grpc_config(tmp_path):
    run = launch(tmp_path, "nginx", GRPC)
    r = subprocess.run([NGINX, "-t", "-q"] + [str(a) for a in run.argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


SLUICE = os.environ.get("SLUICE_BIN")


@pytest.mark.skipif(not (SLUICE and os.access(SLUICE, os.X_OK)),
                    reason="SLUICE_BIN (a sluice binary with HTTP/2 to targets) not set")
@pytest.mark.parametrize("wl", [H2H2, GRPC])
def test_sluice_validates_the_configs(tmp_path, wl):
    launch(tmp_path, "sluice", wl)
    r = subprocess.run([SLUICE, "validate", str(tmp_path / "sluice-A.yaml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and ": ok (" in r.stdout, r.stdout + r.stderr


# ---- comparisons and results.md -----------------------------------------------------------------

def _measurements():
    per = {("h2h2-13b", "sluice"): [(90000, 10.0), (95000, 9.0)],
           ("h2h2-13b", "haproxy"): [(100000, 8.0), (99000, 9.5)],
           ("grpc-13b", "sluice"): [(70000, 13.0), (72000, 12.0)],
           ("grpc-13b", "haproxy"): [(50000, 19.0), (52000, 18.0)],
           ("grpc-13b", "nginx"): [(15000, 66.0), (16000, 64.0)]}
    return [{"layout": "A", "workload": w, "phase": "capacity", "round": i + 1, "chain": c,
             "rps": rps, "cpu_us_per_req": cpu, "errors": 0, "h2_conns": 8, "h2_streams": 32,
             "sat_lat_mean_us": 3000, "sat_lat_max_us": 9000, "h2_protocols": ["h2c"]}
            for (w, c), v in per.items() for i, (rps, cpu) in enumerate(v)]


def test_best_peer_is_among_the_chains_that_serve():
    rows = {(r["workload"], r["other"]): r
            for r in stats.summarize(_measurements(), {})["ratios"]}
    assert set(rows) == {("h2h2-13b", "haproxy"), ("h2h2-13b", "best peer"),
                         ("grpc-13b", "haproxy"), ("grpc-13b", "nginx"),
                         ("grpc-13b", "best peer")}
    # h2h2-13b: HAProxy alone; grpc-13b: the better of HAProxy and NGINX (HAProxy here).
    assert rows[("h2h2-13b", "best peer")]["cpu_us_per_req"]["per_round"] == [
        round(10 / 8, 4), round(9 / 9.5, 4)]
    assert rows[("grpc-13b", "best peer")]["cpu_us_per_req"]["per_round"] == [
        round(13 / 19, 4), round(12 / 18, 4)]
    assert rows[("grpc-13b", "best peer")]["cpu_us_per_req"]["worst"] == 13 / 19


def test_results_md_names_the_best_peers(tmp_path):
    meta = {"started": "2026-12-05T10:00:00", "elapsed_s": 100, "errors": 0, "problems": [],
            "status": 0, "layouts": ["layout A: ..."],
            "args": {"smoke": False, "rounds": 2, "warmup": 3, "duration": 10,
                     "latency_warmup": 2.0, "latency_duration": 10.0, "load_fraction": 0.5,
                     "idle_conns": 100, "workloads": "h2h2-13b,grpc-13b"},
            "versions": {"sluice": "abc", "haproxy": "HAProxy 2.6", "haproxy_deb": "2.6",
                         "nginx": "nginx/1.22", "nginx_deb": "1.22", "wrk": "wrk 4",
                         "wrk_deb": "4", "h2o": "h2o version 2.2.5", "h2o_deb": "2.2.5",
                         "h2load": "h2load nghttp2/1.52.0", "h2load_deb": "1.52.0",
                         "kernel": "6", "cpu": "x", "cpus_available": [0, 1]}}
    md = report.write_results(tmp_path, meta, _measurements(), {}).splitlines()
    (note,) = [l for l in md if l.startswith("Ratio = first / second.")]
    assert note.endswith("the better of HAProxy and NGINX; in h2h2-13b: HAProxy.")
    assert "| grpc-13b | sluice / best peer | 1.39 (1.38) | 0.68 (0.68) | – | – | – |" in md
    assert any(l.startswith("| h2h2-13b | sluice | 92,500 (90,000–95,000) | 9.5 ") for l in md)


# ---- live: the responder, built as the harness builds it ----------------------------------------

LIVE = all(shutil.which(t) for t in ("cc", "nghttp", "h2load")) and \
    os.path.exists("/usr/include/nghttp2/nghttp2.h")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def responder(tmp_path_factory):
    """h2-responder (13-byte bodies, two threads) on a free port; yields the port."""
    d = tmp_path_factory.mktemp("h2r")
    exe = d / "h2-responder"
    r = subprocess.run(setup.compile_argv("cc", "h2-responder", setup.INSTRUMENTS["h2-responder"],
                                          exe), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    port = _free_port()
    p = subprocess.Popen([str(exe), str(port), "127.0.0.1", "13", "--threads", "2"],
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline and p.poll() is None, "did not start"
                time.sleep(0.05)
        yield port
        assert p.poll() is None, "the responder exited"
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
        p.stderr.close()


@pytest.mark.skipif(not LIVE, reason="cc, libnghttp2-dev, nghttp or h2load not installed")
def test_live_responder_answers_get_and_grpc(tmp_path, responder):
    port = responder
    assert httpcheck.h2_check("127.0.0.1", port, "/any/path", 13, tls=False) is None
    body = tmp_path / "m.bin"
    body.write_bytes(GRPC.request_body)
    assert driver.Bench.request_check("127.0.0.1", port, GRPC, "/pkg.Svc/Call", close=False,
                                      h2=True, data=body) is None
    # gRPC content-type with a suffix is echoed back; a POST that is not gRPC is plain.
    out = subprocess.run(httpcheck.nghttp_argv("127.0.0.1", port, "/", False, data=body,
                                               headers=(("content-type",
                                                         "application/grpc+proto"),)),
                         capture_output=True, text=True, timeout=10).stdout
    assert "content-type: application/grpc+proto" in out
    assert httpcheck.parse_nghttp(out, 18, tls=False, grpc=True) is None
    assert httpcheck.h2_check("127.0.0.1", port, "/", 13, tls=False, data=body) is None


@pytest.mark.skipif(not LIVE, reason="cc, libnghttp2-dev, nghttp or h2load not installed")
def test_live_h2load_against_the_responder(tmp_path, responder):
    port = responder
    (tmp_path / "logs").mkdir()
    procs = Procs(tmp_path / "logs")
    body = tmp_path / "m.bin"
    body.write_bytes(GRPC.request_body)
    for w, data in ((H2H2, None), (GRPC, body)):
        small = workloads.Workload(w.name, w.name, body=13, h2=True, phases=("capacity",),
                                   protocol_version=w.protocol_version, h2_conns=2,
                                   h2_streams=8, h2_requests_per_conn=500)
        r = loadgen.h2load(procs, layout("A"), "127.0.0.1", port, small, 1, f"h2load-{w.name}",
                           data)
        assert r["errors"] == 0 and r["requests"] > 0 and r["protocols"] == ["h2c"], r
        assert r["bytes"] == w.response_bytes * r["requests"]
    # Request bodies far beyond the initial windows: read, discarded and credited back.
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (1 << 20))
    out = subprocess.run(["h2load", "-c", "2", "-m", "4", "-n", "40", "-d", str(big), "-N", "5s",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=60).stdout
    assert re.search(r"^status codes: 40 2xx, 0 3xx, 0 4xx, 0 5xx", out, re.M), out
