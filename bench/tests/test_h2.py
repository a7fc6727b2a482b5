"""The HTTP/2 workloads (h2-13b, h2-1k, h2c-13b): their data, h2load's command line, output
and runs of at most 10,000 requests per connection, the nghttp check request, the four
proxies' HTTP/2 configs (h2o's included, and checked by haproxy -c, nginx -t and h2o -t when
installed, and by `sluice validate` when SLUICE_BIN names a binary), "best peer" among three,
the results.md table; and one short live h2load run against h2o serving a file (when h2o,
h2load and nghttp are installed)."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from sluicebench import chains, cli, driver, httpcheck, loadgen, report, setup, stats, workloads
from sluicebench.common import ALL_CHAINS, H2_PEERS, HarnessError
from sluicebench.procs import Procs
from sluicebench.workloads import WORKLOADS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "h2"
H2, H2_1K, H2C = WORKLOADS["h2-13b"], WORKLOADS["h2-1k"], WORKLOADS["h2c-13b"]
TLS = chains.TlsFiles("/t/cert.pem", "/t/key.pem", "/t/combined.pem")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)


def fixture(name):
    return (FIXTURES / name).read_text()


def layout(name="A"):
    (lay,) = workloads.make_layouts([name], cpus=[0, 1])
    return lay


# ---- the workloads as data --------------------------------------------------------------------

def test_h2_workloads_are_data():
    for w in (H2, H2_1K, H2C):
        assert (w.h2, w.client, w.phases, w.close, w.path) == (True, "h2load", ("capacity",),
                                                              False, "/")
        assert (w.h2_conns, w.h2_streams, w.h2_requests_per_conn) == (8, 32, 10000)
        assert not (w.backend_tls or w.access_log or w.websocket or w.tcp or w.handshake)
        # HAProxy, NGINX and h2o; never the floor or the responder (no HTTP/2).
        assert w.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx", "h2o"]
        assert w.chains_for(["floor", "direct", "nginx"]) == ["nginx"]
        assert w.comparisons == tuple(("sluice", o) for o in ("haproxy", "nginx", "h2o",
                                                              "best peer"))
        assert w.best_peer_of == ("haproxy", "nginx", "h2o")
    assert (H2.tls, H2.body, H2.scheme, H2.h2_protocol, H2.tls_key) == (True, 13, "https", "h2",
                                                                        "ecdsa")
    assert (H2_1K.tls, H2_1K.body, H2_1K.h2_protocol) == (True, 1024, "h2")
    assert (H2C.tls, H2C.body, H2C.scheme, H2C.h2_protocol) == (False, 13, "http", "h2c")
    assert [n for n, w in WORKLOADS.items() if w.h2 and not w.h2_backends] == [
        "h2-13b", "h2-1k", "h2c-13b"]
    for w in (H2, H2_1K, H2C):
        assert (w.protocol_version, w.grpc, w.request_body, w.response_bytes) == (
            "HTTP1", False, None, w.body)
    # ALB's limit, which Sluice enforces with GOAWAY.
    assert workloads.H2_MAX_REQUESTS_PER_CONN == 10000
    # Every other workload: no h2o, HAProxy and NGINX as "best peer", no h2load.
    for n, w in WORKLOADS.items():
        if not w.h2:
            assert "h2o" not in w.chains_for(list(ALL_CHAINS)), n
            assert w.best_peer_of == ("haproxy", "nginx") and w.client != "h2load"
            assert w.h2_protocol is None
    assert workloads.best_peer_of("h2c-13b") == H2_PEERS[1:]
    assert workloads.best_peer_of("gone") == ("haproxy", "nginx")


def test_smoke_runs_h2_13b_only_of_the_h2_workloads():
    assert [n for n in workloads.SMOKE_WORKLOADS if WORKLOADS[n].h2] == ["h2-13b"]
    assert set(WORKLOADS) - set(workloads.SMOKE_WORKLOADS) == {"h2-1k", "h2c-13b", "h2h2-13b",
                                                               "grpc-13b"}
    smoke = cli.parse_args(["--smoke"])
    assert smoke.workloads.split(",") == list(workloads.SMOKE_WORKLOADS)
    assert "h2o" in smoke.proxies.split(",")


@pytest.mark.parametrize("kw", [dict(close=True), dict(backend_tls=True),
                                dict(access_log=True), dict(phases=("capacity", "latency")),
                                dict(tcp=True), dict(variants={"sluice": ("sluice-1rule",)})])
def test_an_h2_workload_is_keep_alive_capacity_only(kw):
    with pytest.raises(HarnessError, match="HTTP/2 workload keeps its connections"):
        workloads.Workload("w", "w", h2=True, **{"phases": ("capacity",), **kw})


@pytest.mark.parametrize("kw", [dict(h2_conns=0), dict(h2_streams=0),
                                dict(h2_requests_per_conn=10001),
                                dict(h2_requests_per_conn=0)])
def test_an_h2_workload_has_sane_numbers(kw):
    with pytest.raises(HarnessError, match="h2_requests_per_conn 1..10000"):
        workloads.Workload("w", "w", h2=True, phases=("capacity",), **kw)


# ---- h2load: command line, output, runs --------------------------------------------------------

def test_h2load_argv():
    argv = [str(a) for a in loadgen.h2load_argv(layout("A"), "127.0.0.1", 18080, H2, 10000)]
    assert argv == ["h2load", "-t", "1", "-c", "8", "-m", "32", "-n", "80000", "-N", "2s",
                    "--npn-list", "h2", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256",
                    "https://127.0.0.1:18080/"]
    # Layout B: two threads, 8 connections each; h2c: prior knowledge, no TLS options.
    argv = [str(a) for a in loadgen.h2load_argv(layout("B"), "127.0.0.1", 18081, H2C, 250)]
    assert argv == ["h2load", "-t", "2", "-c", "16", "-m", "32", "-n", "4000", "-N", "2s",
                    "http://127.0.0.1:18081/"]
    assert loadgen.h2load_conns(layout("A-xff"), H2) == 8
    for n in (0, 10001):
        with pytest.raises(HarnessError, match="requests per HTTP/2 connection: 1..10000"):
            loadgen.h2load_argv(layout("A"), "127.0.0.1", 1, H2, n)
    with pytest.raises(HarnessError, match="not measured with h2load"):
        loadgen.h2load_argv(layout("A"), "127.0.0.1", 1, WORKLOADS["ka-13b"], 1)


def test_parse_h2load_tls():
    r = loadgen.parse_h2load(0, fixture("h2load-tls.txt"))
    assert (r["requests"], r["duration_us"], r["bytes"], r["errors"]) == (2000, 63970, 26000, 0)
    assert (r["header_bytes"], r["wire_bytes"]) == (24156, 86216)
    assert (r["h2load_total"], r["h2load_started"], r["h2load_done"], r["h2load_succeeded"],
            r["h2load_failed"]) == (2000, 2000, 2000, 2000, 0)
    assert {k: r[k] for k in loadgen.H2LOAD_ERRORS} == dict.fromkeys(loadgen.H2LOAD_ERRORS, 0)
    # "46us 14.65ms 118us 651us": every unit to microseconds.
    assert (r["lat_min_us"], r["lat_max_us"], r["lat_mean_us"], r["lat_sd_us"]) == (
        46, 14650, 118, 651)
    assert (r["protocol"], r["tls_cipher"]) == ("h2", "TLSv1.3 TLS_AES_128_GCM_SHA256")
    assert r["bytes"] / r["requests"] == H2.body


def test_parse_h2load_h2c_and_seconds():
    out = fixture("h2load-h2c.txt")
    r = loadgen.parse_h2load(0, out)
    assert (r["requests"], r["errors"], r["protocol"], r["tls_cipher"]) == (2000, 0, "h2c",
                                                                            None)
    # A measured run lasts seconds: "finished in 3.52s".
    out = re.sub(r"finished in [0-9.]+ms", "finished in 3.52s", out)
    assert loadgen.parse_h2load(0, out)["duration_us"] == 3520000


def test_parse_h2load_errors():
    # A dead upstream: every request answered 502 (h2load calls them failed).
    r = loadgen.parse_h2load(0, fixture("h2load-502.txt"))
    assert (r["requests"], r["errors"], r["errors_status"], r["errors_errored"]) == (0, 40, 40,
                                                                                     0)
    assert r["h2load_failed"] == 40 and r["protocol"] == "h2c"
    # Nothing listening: every request errored, none done, no protocol.
    r = loadgen.parse_h2load(0, fixture("h2load-refused.txt"))
    assert (r["requests"], r["errors"], r["errors_errored"], r["errors_unfinished"],
            r["h2load_done"], r["protocol"]) == (0, 40, 40, 40, 0, None)


@pytest.mark.parametrize("rc, out", [(1, fixture("h2load-tls.txt")), (0, "no summary"),
                                     (0, fixture("h2load-tls.txt").replace("requests:", "x:"))])
def test_parse_h2load_failures(rc, out):
    with pytest.raises(HarnessError, match=r"h2load failed \(status"):
        loadgen.parse_h2load(rc, out)


def _run(requests, duration_s, conns=8, failed=0, protocol="h2", mean=1000.0, maxi=5000.0):
    done = requests + failed
    return {"requests": requests, "duration_us": round(duration_s * 1e6), "bytes": 13 * requests,
            "header_bytes": 10 * requests, "wire_bytes": 30 * requests, "h2load_total": done,
            "h2load_started": done, "h2load_done": done, "h2load_succeeded": requests,
            "h2load_failed": failed, "errors": failed, "errors_status": failed,
            "errors_errored": 0, "errors_timeout": 0, "errors_unfinished": 0,
            "lat_mean_us": mean, "lat_max_us": maxi, "protocol": protocol,
            "tls_cipher": "TLSv1.3 TLS_AES_128_GCM_SHA256"}


def test_combine_h2load():
    r = loadgen.combine_h2load([_run(80000, 4.0, mean=1000, maxi=9000),
                                _run(20000, 1.0, failed=3, mean=2000, maxi=4000)])
    assert (r["requests"], r["duration_us"], r["bytes"], r["errors"], r["errors_status"],
            r["runs"]) == (100000, 5000000, 1300000, 3, 3, 2)
    # Mean weighted by requests; max the largest; no percentiles.
    assert (r["lat_mean_us"], r["lat_max_us"], r["lat_p50_us"], r["lat_p99_us"]) == (
        1200.0, 9000, None, None)
    assert r["protocols"] == ["h2"] and r["tls_ciphers"] == ["TLSv1.3 TLS_AES_128_GCM_SHA256"]
    assert loadgen.combine_h2load([_run(1, 1, protocol=None)])["protocols"] == ["None"]


def test_next_requests_per_conn_sizes_runs_to_the_duration():
    nxt = loadgen.next_requests_per_conn
    # Before any run: H2LOAD_FIRST_RATE per connection and second, at most 10,000.
    assert nxt(H2, 8, 1, []) == 500
    assert nxt(H2, 8, 10, []) == 5000
    assert nxt(H2, 8, 60, []) == 10000
    # Then the measured rate: 40,000 requests on 8 connections in 2 s = 2,500/s each; 8 s
    # left want 20,000 each: capped at 10,000 (ALB's GOAWAY limit).
    assert nxt(H2, 8, 10, [_run(40000, 2.0)]) == 10000
    # 1 s left at the rate of both runs (180,000 on 8 connections in 9 s): 2,500 each.
    assert nxt(H2, 8, 10, [_run(40000, 2.0), _run(140000, 7.0)]) == 2500
    # Done (or under 2 % of the time left).
    assert nxt(H2, 8, 10, [_run(40000, 2.0), _run(80000, 7.9)]) == 0
    assert nxt(H2, 8, 10, [_run(40000, 10.5)]) == 0
    # A workload with a lower limit keeps to it.
    low = workloads.Workload("w", "w", h2=True, phases=("capacity",), h2_requests_per_conn=100)
    assert nxt(low, 8, 10, []) == 100


class FakeProcs:
    """Procs.run for h2load: each run completes -n requests at `rate` per second (h2load's
    output from the fixture, rewritten), records its argv."""

    def __init__(self, rate, protocol="h2"):
        self.rate, self.protocol, self.argvs = rate, protocol, []

    def run(self, name, argv, cpus=None, timeout=60.0):
        self.argvs.append([str(a) for a in argv])
        n = int(self.argvs[-1][self.argvs[-1].index("-n") + 1])
        secs = n / self.rate
        out = fixture("h2load-tls.txt")
        out = out.replace("finished in 63.97ms", f"finished in {secs:.2f}s")
        out = out.replace("requests: 2000 total, 2000 started, 2000 done, 2000 succeeded",
                          f"requests: {n} total, {n} started, {n} done, {n} succeeded")
        out = out.replace("status codes: 2000 2xx", f"status codes: {n} 2xx")
        out = out.replace("(26000) data", f"({13 * n}) data")
        out = out.replace("Application protocol: h2", f"Application protocol: {self.protocol}")
        return 0, out, 0.25


def test_h2load_runs_until_the_duration_each_within_10000_per_connection():
    procs = FakeProcs(rate=20000)
    r = loadgen.h2load(procs, layout("A"), "127.0.0.1", 18080, H2, 10, "h2load-A")
    per_conn = [int(a[a.index("-n") + 1]) // 8 for a in procs.argvs]
    # 500/s guessed for the first run (5,000 each: 2 s), then at most 10,000 each (4 s).
    assert per_conn[0] == 5000 and max(per_conn) == 10000 and len(per_conn) >= 3
    assert all(1 <= n <= 10000 for n in per_conn)
    assert 9.8 <= r["duration_us"] / 1e6 <= 10.5
    assert r["requests"] == sum(n * 8 for n in per_conn) and r["errors"] == 0
    assert r["runs"] == len(per_conn) and r["loadgen_cpu_s"] == 0.25 * len(per_conn)
    assert r["bytes"] == 13 * r["requests"] and r["protocols"] == ["h2"]
    assert loadgen.h2load_problem(H2, r) is None


def test_h2load_stops_when_nothing_completes():
    class Dead(FakeProcs):
        def run(self, name, argv, cpus=None, timeout=60.0):
            self.argvs.append(argv)
            return 0, fixture("h2load-refused.txt"), 0.01
    procs = Dead(rate=1)
    r = loadgen.h2load(procs, layout("A"), "127.0.0.1", 1, H2C, 10, "h2load-A")
    assert len(procs.argvs) == 1 and r["requests"] == 0 and r["errors"] == 40


def test_h2load_problem_names_the_wrong_protocol():
    assert loadgen.h2load_problem(H2, {"protocols": ["h2"]}) is None
    assert loadgen.h2load_problem(H2C, {"protocols": ["h2c"]}) is None
    why = loadgen.h2load_problem(H2, {"protocols": ["h2", "http/1.1"]})
    assert why == "h2load spoke http/1.1 with the chain, not h2 (ALPN)"
    assert "not h2c (prior knowledge)" in loadgen.h2load_problem(H2C, {"protocols": ["None"]})
    assert loadgen.h2load_problem(WORKLOADS["ka-13b"], {"protocols": ["x"]}) is None


def test_closed_loop_picks_h2load(monkeypatch):
    calls = []
    monkeypatch.setattr(loadgen, "h2load", lambda procs, lay, ip, port, wl, *a:
                        calls.append(wl.name) or {})
    monkeypatch.setattr(loadgen, "wrk", lambda *a: calls.append("wrk") or {})
    for name in ("h2-13b", "ka-13b", "h2c-13b"):
        loadgen.closed_loop(None, {}, layout("A"), "127.0.0.1", 1, WORKLOADS[name], 1, "l")
    assert calls == ["h2-13b", "wrk", "h2c-13b"]


# ---- the check request (nghttp) ----------------------------------------------------------------

def test_nghttp_argv():
    assert httpcheck.nghttp_argv("127.0.0.1", 18080, "/", True) == [
        "nghttp", "-v", "-n", "-t", "5", "https://127.0.0.1:18080/"]
    assert httpcheck.nghttp_argv("127.0.0.1", 18080, "/x", False, 2.5)[-3:] == [
        "-t", "2.5", "http://127.0.0.1:18080/x"]


def test_parse_nghttp():
    assert httpcheck.parse_nghttp(fixture("nghttp-tls.txt"), 13, tls=True) is None
    assert httpcheck.parse_nghttp(fixture("nghttp-h2c.txt"), 13, tls=False) is None
    assert httpcheck.parse_nghttp(fixture("nghttp-tls.txt"), 1024, tls=True) == \
        "body 13 bytes in 1 DATA frames, expected 1024"
    assert httpcheck.parse_nghttp(fixture("nghttp-502.txt"), 13, tls=False) == "status 502"
    # A TLS server that does not select h2; nothing listening.
    assert httpcheck.parse_nghttp(fixture("nghttp-alpn-http11.txt"), 13, tls=True) == \
        "ALPN: no protocol negotiated, not h2"
    assert httpcheck.parse_nghttp(fixture("nghttp-refused.txt"), 13, tls=False) == \
        "no HTTP/2 response (Some requests were not processed. total=1, processed=0)"
    other = fixture("nghttp-tls.txt").replace("The negotiated protocol: h2",
                                              "The negotiated protocol: http/1.1")
    assert httpcheck.parse_nghttp(other, 13, tls=True) == "ALPN: http/1.1 negotiated, not h2"
    unended = fixture("nghttp-h2c.txt").replace("; END_STREAM\n", "\n")
    assert httpcheck.parse_nghttp(unended, 13, tls=False) == "the response stream did not end"


def test_the_chains_are_checked_over_http2_and_the_backends_over_http1(monkeypatch):
    calls = []
    monkeypatch.setattr(driver, "h2_check", lambda *a: calls.append(("h2", a)))
    monkeypatch.setattr(driver, "http_check", lambda *a, **k: calls.append(("h1", a, k)))
    driver.Bench.request_check("127.0.0.11", 19000, H2, "/", close=False, tls=False)
    driver.Bench.request_check("127.0.0.1", 18080, H2, "/", close=False, tls=True, h2=True)
    assert calls[0][0] == "h1" and calls[1] == ("h2", ("127.0.0.1", 18080, "/", 13, True))


def test_fill_h2_records_the_shape_and_flags_another_protocol(tmp_path):
    bench = driver.Bench(cli.parse_args(["--smoke"]), tmp_path)
    r = dict(loadgen.combine_h2load([_run(1000, 1.0, protocol="http/1.1")]))
    m = {"layout": "A", "workload": "h2-13b", "phase": "capacity", "round": 1, "chain": "x"}
    bench.fill_h2(m, r, layout("B"), H2)
    assert (m["client"], m["h2_conns"], m["h2_streams"], m["h2_runs"], m["h2_protocols"]) == (
        "h2load", 16, 32, 1, ["http/1.1"])
    assert (m["sat_lat_mean_us"], m["sat_lat_max_us"]) == (1000.0, 5000.0)
    assert m["problems"] == ["h2load spoke http/1.1 with the chain, not h2 (ALPN)"]


# ---- configs -----------------------------------------------------------------------------------

def launch(tmp_path, chain, workload, lay="A", tls=TLS):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor",
                           "responder": "/x/responder", "sized-responder": "/x/sized"},
                          tmp_path, tmp_path, 19000, False, tls if workload.tls else None)
    return chains.launch(env, chain, layout(lay), workload, 18080)


def _code(path):
    """The lines of a rendered config without comments (whole-line and trailing)."""
    lines = (l.split(" #")[0].rstrip() for l in path.read_text().splitlines()
             if not l.lstrip().startswith("#"))
    return [l for l in lines if l.strip()]


def test_sluice_h2_configs(tmp_path):
    import yaml
    launch(tmp_path, "sluice", H2)
    cfg = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())
    (lb,) = cfg["LoadBalancers"]
    (listener,) = lb["Listeners"]
    # ALPN h2 is on by default on an HTTPS listener: nothing added, nothing turned off.
    assert listener["Protocol"] == "HTTPS" and listener["Certificates"] == ["bench"]
    assert lb["Attributes"] == {"idle_timeout.timeout_seconds": 60}
    assert cfg["TargetGroups"][0]["Protocol"] == "HTTP"
    launch(tmp_path, "sluice", H2C)
    cfg = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())
    (lb,) = cfg["LoadBalancers"]
    assert lb["Listeners"][0]["Protocol"] == "HTTP" and "Certificates" not in cfg
    assert lb["Attributes"] == {"idle_timeout.timeout_seconds": 60,
                                "sluice.routing.http2.cleartext.enabled": True}
    # Only the h2c workload has the attribute.
    launch(tmp_path, "sluice", WORKLOADS["ka-13b"])
    assert "cleartext" not in "\n".join(_code(tmp_path / "sluice-A.yaml"))


def test_haproxy_h2_configs(tmp_path):
    launch(tmp_path, "haproxy", H2)
    code = [l.strip() for l in _code(tmp_path / "haproxy-A.cfg")]
    assert "bind 127.0.0.1:18080 ssl crt /t/combined.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2" \
        in code
    assert "http-request set-header X-Forwarded-Proto https" in code
    launch(tmp_path, "haproxy", H2C)
    code = [l.strip() for l in _code(tmp_path / "haproxy-A.cfg")]
    assert "bind 127.0.0.1:18080 proto h2" in code
    assert "http-request set-header X-Forwarded-Proto http" in code
    assert [l for l in code if l.startswith("server ")] == [
        f"server b{i} 127.0.0.1{i}:19000" for i in range(1, 5)]
    # The HTTP/1.1 TLS workloads keep ALPN http/1.1 only.
    assert chains.haproxy_bind(TLS, False) == " ssl crt /t/combined.pem alpn http/1.1 " \
                                             "ssl-min-ver TLSv1.2"
    assert chains.haproxy_bind(None, False) == ""


def test_nginx_h2_configs(tmp_path):
    launch(tmp_path, "nginx", H2)
    code = [l.strip() for l in _code(tmp_path / "nginx-A.conf")]
    assert "listen 127.0.0.1:18080 backlog=4096 ssl http2;" in code
    assert "ssl_certificate /t/cert.pem;" in code
    launch(tmp_path, "nginx", H2C)
    code = [l.strip() for l in _code(tmp_path / "nginx-A.conf")]
    assert "listen 127.0.0.1:18080 backlog=4096 http2;" in code
    assert not any(l.startswith("ssl_") for l in code)
    for line in ("proxy_pass http://be;", "keepalive 256;", "proxy_http_version 1.1;",
                 'proxy_set_header Connection "";', "keepalive_requests 1000000;"):
        assert line in code


@pytest.mark.parametrize("wl", [H2, H2C])
def test_h2o_config(tmp_path, wl):
    run = launch(tmp_path, "h2o", wl, lay="B")
    cfg, hosts = tmp_path / "h2o-B.conf", tmp_path / "h2o-B.hosts"
    # In a mount namespace of its own, with the run's hosts file bound over /etc/hosts.
    assert [str(a) for a in run.argv] == chains.H2O_NAMESPACE + [
        str(hosts.resolve()), "h2o", "-c", str(cfg)]
    assert (run.ip, run.port, run.settle) == ("127.0.0.1", 18080, True)
    assert hosts.read_text() == ("127.0.0.1 localhost\n" + "".join(
        f"127.0.0.1{i} sluice-bench-backends\n" for i in range(1, 5)))
    code = _code(cfg)
    for line in ("user: nobody", "num-threads: 2", "max-connections: 10100",
                 "http2-idle-timeout: 60", "proxy.timeout.keepalive: 60000",
                 "proxy.timeout.io: 60000", "proxy.preserve-host: ON",
                 "proxy.emit-via-header: OFF", "proxy.emit-x-forwarded-headers: ON",
                 "  host: 127.0.0.1", "  port: 18080",
                 '        proxy.reverse.url: "http://sluice-bench-backends:19000/"',
                 '        proxy.header.set: "X-Forwarded-Port: 18080"'):
        assert line in code, line
    (trace,) = [l for l in code if "X-Amzn-Trace-Id" in l]
    # A constant of a real trace id's length (Root=1-<8 hex>-<24 hex>).
    assert re.fullmatch(r'        proxy.header.set: "X-Amzn-Trace-Id: Root=1-[0-9a-f]{8}-'
                        r'[0-9a-f]{24}"', trace)
    tls = ["  ssl:", "    certificate-file: /t/cert.pem", "    key-file: /t/key.pem",
           "    minimum-version: TLSv1.2", "    ocsp-update-interval: 0"]
    if wl.tls:
        i = code.index("  ssl:")
        assert code[i:i + 5] == tls
    else:
        assert not any("ssl" in l or "certificate" in l for l in code)
    assert not any("access-log" in l or "compress" in l for l in code)


def test_h2o_xff_profile_sets_no_port_or_trace_id(tmp_path):
    launch(tmp_path, "h2o", H2, lay="A-xff")
    code = _code(tmp_path / "h2o-A-xff.conf")
    assert not any("proxy.header" in l for l in code)
    assert "proxy.emit-x-forwarded-headers: ON" in code


def test_h2o_and_the_references_refuse_what_they_cannot_serve(tmp_path):
    with pytest.raises(HarnessError, match="h2o runs in the HTTP/2 workloads only"):
        launch(tmp_path, "h2o", WORKLOADS["ka-13b"])
    for chain in ("floor", "direct"):
        with pytest.raises(HarnessError, match="cannot serve HTTP/2 workload h2c-13b"):
            launch(tmp_path, chain, H2C)
    with pytest.raises(HarnessError, match="without a certificate"):
        launch(tmp_path, "h2o", H2, tls=None)


class Args:
    def __init__(self, workloads_, smoke=False):
        self.workloads, self.smoke = workloads_, smoke


def test_h2o_check():
    every = list(ALL_CHAINS)
    # No HTTP/2 workload: h2o is dropped (it would serve none).
    assert setup.h2o_check(Args("ka-13b,idle"), every, euid=0) == every[:-1]
    assert setup.h2o_check(Args("h2-13b"), every, euid=0) == every
    assert setup.h2o_check(Args("h2-13b"), every[:-1], euid=1000) == every[:-1]
    # Not root: the mount namespace cannot be made.
    with pytest.raises(HarnessError, match="own mount namespace: root"):
        setup.h2o_check(Args("ka-13b,h2c-13b"), every, euid=1000)
    assert setup.h2o_check(Args("h2-13b", smoke=True), every, euid=1000) == every[:-1]


# ---- configs checked by the programs themselves -------------------------------------------------

def _certificate(tmp_path):
    return chains.make_certificate(tmp_path / "tls")


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
@pytest.mark.parametrize("wl", [H2, H2C])
def test_haproxy_accepts_the_h2_configs(tmp_path, wl):
    launch(tmp_path, "haproxy", wl, tls=_certificate(tmp_path))
    r = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy-A.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx not installed")
@pytest.mark.parametrize("wl", [H2, H2C])
def test_nginx_accepts_the_h2_configs(tmp_path, wl):
    run = launch(tmp_path, "nginx", wl, tls=_certificate(tmp_path))
    r = subprocess.run([NGINX, "-t", "-q"] + [str(a) for a in run.argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not shutil.which("h2o"), reason="h2o not installed")
@pytest.mark.parametrize("wl", [H2, H2C])
def test_h2o_accepts_the_h2_configs(tmp_path, wl):
    run = launch(tmp_path, "h2o", wl, tls=_certificate(tmp_path))
    r = subprocess.run(["h2o", "-t", "-c", str(run.argv[-1])], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "configuration OK" in r.stdout + r.stderr, r.stdout + r.stderr


SLUICE = os.environ.get("SLUICE_BIN")


@pytest.mark.skipif(not (SLUICE and os.access(SLUICE, os.X_OK)),
                    reason="SLUICE_BIN (a sluice binary with HTTP/2) not set")
@pytest.mark.parametrize("wl", [H2, H2C])
def test_sluice_validates_the_h2_configs(tmp_path, wl):
    launch(tmp_path, "sluice", wl, tls=_certificate(tmp_path))
    r = subprocess.run([SLUICE, "validate", str(tmp_path / "sluice-A.yaml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and ": ok (" in r.stdout, r.stdout + r.stderr


# ---- comparisons and results.md ----------------------------------------------------------------

def _measurements():
    # Per round: (req/s, CPU µs per request).
    per = {"sluice": [(12000, 20.0), (11000, 22.0)], "haproxy": [(10000, 25.0), (9000, 26.0)],
           "nginx": [(8000, 34.0), (8500, 30.0)], "h2o": [(11000, 24.0), (12000, 21.0)]}
    return [{"layout": "A", "workload": "h2-13b", "phase": "capacity", "round": i + 1,
             "chain": c, "rps": rps, "cpu_us_per_req": cpu, "errors": 0, "h2_conns": 8,
             "h2_streams": 32, "sat_lat_mean_us": 15000 + i, "sat_lat_max_us": 40000,
             "h2_protocols": ["h2"], "tls_ciphers": ["TLSv1.3 TLS_AES_128_GCM_SHA256"]}
            for c, v in per.items() for i, (rps, cpu) in enumerate(v)]


def test_best_peer_of_an_h2_workload_is_the_best_of_three():
    rows = {(r["ours"], r["other"]): r for r in stats.summarize(_measurements(), {})["ratios"]}
    assert set(rows) == {("sluice", o) for o in ("haproxy", "nginx", "h2o", "best peer")}
    # Round 1: best req/s 11,000 (h2o), best CPU 24 (h2o); round 2: 12,000 (h2o), 21 (h2o).
    best = rows[("sluice", "best peer")]
    assert best["rps"]["per_round"] == [round(12000 / 11000, 4), round(11000 / 12000, 4)]
    assert best["cpu_us_per_req"]["per_round"] == [round(20 / 24, 4), round(22 / 21, 4)]
    assert best["rps"]["worst"] == 11000 / 12000
    # Without h2o's figures, no "best peer" row (it needs all three).
    ms = [m for m in _measurements() if m["chain"] != "h2o"]
    assert ("sluice", "best peer") not in {(r["ours"], r["other"])
                                           for r in stats.summarize(ms, {})["ratios"]}


def test_results_md_has_the_h2_table(tmp_path):
    meta = {"started": "2026-12-05T10:00:00", "elapsed_s": 100, "errors": 0, "problems": [],
            "status": 0, "layouts": ["layout A: ..."],
            "args": {"smoke": False, "rounds": 2, "warmup": 3, "duration": 10,
                     "latency_warmup": 2.0, "latency_duration": 10.0, "load_fraction": 0.5,
                     "idle_conns": 100, "workloads": "h2-13b"},
            "versions": {"sluice": "abc", "haproxy": "HAProxy 2.6", "haproxy_deb": "2.6",
                         "nginx": "nginx/1.22", "nginx_deb": "1.22", "wrk": "wrk 4",
                         "wrk_deb": "4", "h2o": "h2o version 2.2.5", "h2o_deb": "2.2.5",
                         "h2load": "h2load nghttp2/1.52.0", "h2load_deb": "1.52.0",
                         "kernel": "6", "cpu": "x", "cpus_available": [0, 1]}}
    md = report.write_results(tmp_path, meta, _measurements(), {}).splitlines()
    assert ("- h2o version 2.2.5 (deb 2.2.5); h2load nghttp2/1.52.0 (deb 1.52.0)") in md
    assert "### HTTP/2 (h2load)" in md
    assert ("| h2-13b | sluice | 11,500 (11,000–12,000) | 21.0 (20.0–22.0) | 8 × 32 | "
            "15,000 (15,000–15,001) | 40,000 | h2; TLSv1.3 TLS_AES_128_GCM_SHA256 | 0 |") in md
    assert any(l.startswith("| h2-13b | sluice / h2o |") for l in md)
    assert any("(in the HTTP/2 workloads the best of HAProxy, NGINX and h2o)" in l for l in md)


# ---- live: h2load and nghttp against h2o serving a file ---------------------------------------

LIVE = all(shutil.which(t) for t in ("h2o", "h2load", "nghttp"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def h2o_file_server(tmp_path):
    """h2o serving a 13-byte file on a TLS port and a plain port; yields (tls_port,
    plain_port)."""
    files = chains.make_certificate(tmp_path / "tls")
    www = Path(tempfile.mkdtemp(prefix="sluice-bench-h2-"))
    try:
        www.chmod(0o755)
        (www / "index.html").write_text("Hello, world!")
        tls_port, plain_port = _free_port(), _free_port()
        user = "user: root\n" if os.geteuid() == 0 else ""
        cfg = tmp_path / "h2o.conf"
        cfg.write_text(f"{user}num-threads: 1\n"
                       f"listen:\n  host: 127.0.0.1\n  port: {tls_port}\n"
                       f"  ssl:\n    certificate-file: {files.cert}\n"
                       f"    key-file: {files.key}\n    ocsp-update-interval: 0\n"
                       f"listen:\n  host: 127.0.0.1\n  port: {plain_port}\n"
                       f"hosts:\n  default:\n    paths:\n      /:\n"
                       f"        file.dir: {www}\n")
        p = subprocess.Popen(["h2o", "-c", str(cfg)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            for port in (tls_port, plain_port):
                deadline = time.monotonic() + 10
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline or p.poll() is not None:
                            pytest.skip("h2o did not start")
                        time.sleep(0.05)
            yield tls_port, plain_port
        finally:
            p.terminate()
            p.wait(timeout=10)
    finally:
        shutil.rmtree(www, ignore_errors=True)


@pytest.mark.skipif(not LIVE, reason="h2o, h2load or nghttp not installed")
def test_live_h2load_runs_and_nghttp_check(tmp_path, h2o_file_server):
    tls_port, plain_port = h2o_file_server
    assert httpcheck.h2_check("127.0.0.1", tls_port, "/", 13, tls=True) is None
    assert httpcheck.h2_check("127.0.0.1", plain_port, "/", 13, tls=False) is None
    assert httpcheck.h2_check("127.0.0.1", plain_port, "/", 14, tls=False) == \
        "body 13 bytes in 1 DATA frames, expected 14"
    (tmp_path / "logs").mkdir()
    procs = Procs(tmp_path / "logs")
    # Few requests per connection, so that one second takes several runs.
    small = {n: workloads.Workload(n, n, body=13, tls=tls, h2=True, phases=("capacity",),
                                   h2_conns=2, h2_streams=4, h2_requests_per_conn=300)
             for n, tls in (("h2s", True), ("h2cs", False))}
    for wl, port, proto in ((small["h2s"], tls_port, "h2"), (small["h2cs"], plain_port, "h2c")):
        r = loadgen.h2load(procs, layout("A"), "127.0.0.1", port, wl, 1, f"h2load-{wl.name}")
        assert r["errors"] == 0 and r["requests"] > 0, r
        assert r["runs"] >= 2 and r["protocols"] == [proto]
        assert r["bytes"] == 13 * r["requests"]
        assert r["duration_us"] >= 0.98e6 and r["loadgen_cpu_s"] > 0
        assert loadgen.h2load_problem(wl, r) is None
        if proto == "h2":
            assert r["tls_ciphers"] == ["TLSv1.3 TLS_AES_128_GCM_SHA256"]
    log = (tmp_path / "logs" / "h2load-h2s.log").read_text()
    # Every run within the limit: -n is connections x at most 300.
    ns = [int(n) for n in re.findall(r" -n (\d+) ", log)]
    assert ns and all(n <= 2 * 300 for n in ns)
