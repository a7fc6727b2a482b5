"""bench/tools/tls-load.c: its command line, its output, the handshake checks, its build; and
one short run against `openssl s_server` (when cc and openssl are there)."""

import shutil
import socket
import subprocess
import time

import pytest

from sluicebench import loadgen, setup, workloads
from sluicebench.common import HarnessError
from sluicebench.driver import Bench
from sluicebench.workloads import RESUMED_MIN, WORKLOADS

LINE = ('WRKJSON {"requests": 20000, "duration_us": 10000123, "bytes": 2600000, '
        '"errors_connect": 1, "errors_handshake": 2, "errors_read": 0, "errors_write": 0, '
        '"errors_status": 3, "errors_timeout": 4, "lat_mean_us": 31.5, "lat_p50_us": 30, '
        '"lat_p99_us": 90, "lat_p999_us": 400, "lat_max_us": 900, "handshakes": 20010, '
        '"resumed": 19946, "full": 64, "offered": 19946, "tls": "1.3"}')


def test_parse_report_sums_every_error_kind():
    r = loadgen.parse_report("tls-load", 0, "noise\n" + LINE + "\n", loadgen.TLS_LOAD_ERRORS)
    assert (r["requests"], r["duration_us"], r["bytes"]) == (20000, 10000123, 2600000)
    assert r["errors"] == 1 + 2 + 3 + 4
    assert (r["handshakes"], r["resumed"], r["full"], r["offered"]) == (20010, 19946, 64,
                                                                         19946)
    # Every key wrk's summary has (what driver and report read) is in tls-load's too.
    for k in loadgen.WRK_ERRORS + ("lat_p50_us", "lat_p99_us", "lat_mean_us", "lat_p999_us",
                                   "lat_max_us"):
        assert k in r
    # wrk's own line has no errors_handshake: its sum is over wrk's keys.
    wrk_line = LINE.replace('"errors_handshake": 2, ', "")
    assert loadgen.parse_report("wrk", 0, wrk_line)["errors"] == 8


@pytest.mark.parametrize("rc, out", [(0, "no summary"), (1, LINE)])
def test_parse_report_failures(rc, out):
    with pytest.raises(HarnessError, match=r"tls-load failed \(status"):
        loadgen.parse_report("tls-load", rc, out, loadgen.TLS_LOAD_ERRORS)


def test_tls_load_argv():
    a, b = workloads.make_layouts(["A", "B"], cpus=[0, 1])
    argv = loadgen.tls_load_argv("/x/tls-load", a, "127.0.0.1", 18080,
                                 WORKLOADS["tls-resume-13b"], 10)
    assert [str(x) for x in argv] == ["/x/tls-load", "-a", "127.0.0.1", "-p", "18080", "-u",
                                      "/", "-t", "1", "-c", "64", "-d", "10", "-T", "2",
                                      "--resume"]
    argv = loadgen.tls_load_argv("/x/tls-load", b, "127.0.0.1", 18080,
                                 WORKLOADS["tls-full-13b"], 3)
    assert [str(x) for x in argv[7:]] == ["-t", "2", "-c", "128", "-d", "3", "-T", "2"]
    with pytest.raises(HarnessError, match="not measured with tls-load"):
        loadgen.tls_load_argv("/x/tls-load", a, "127.0.0.1", 1, WORKLOADS["tls-close-13b"], 1)


def test_closed_loop_picks_the_client(monkeypatch):
    calls = []
    monkeypatch.setattr(loadgen, "wrk", lambda *a: calls.append("wrk") or {})
    monkeypatch.setattr(loadgen, "tls_load", lambda procs, exe, *a: calls.append(exe) or {})
    (a,) = workloads.make_layouts(["A"], cpus=[0, 1])
    tools = {"tls-load": "/x/tls-load"}
    for name in ("tls-close-13b", "tls-resume-13b", "tls-full-13b", "ka-13b"):
        loadgen.closed_loop(None, tools, a, "127.0.0.1", 1, WORKLOADS[name], 1, "l")
    assert calls == ["wrk", "/x/tls-load", "/x/tls-load", "wrk"]


def _hs(handshakes, resumed):
    return {"handshakes": handshakes, "resumed": resumed, "full": handshakes - resumed}


def test_handshake_problem():
    resume, full = WORKLOADS["tls-resume-13b"], WORKLOADS["tls-full-13b"]
    assert loadgen.handshake_problem(resume, _hs(1000, 950), RESUMED_MIN) is None
    assert loadgen.handshake_problem(resume, _hs(1000, 900), 0.9) is None
    why = loadgen.handshake_problem(resume, _hs(1000, 64), 0.9)
    assert "only 64 of 1000 handshakes resumed (6.4%" in why and "does not resume" in why
    assert loadgen.handshake_problem(resume, _hs(0, 0), 0.9) == "no TLS handshake completed"
    assert loadgen.handshake_problem(full, _hs(1000, 0), 0.9) is None
    assert "3 of 1000 handshakes resumed" in loadgen.handshake_problem(full, _hs(1000, 3), 0.9)
    assert loadgen.handshake_problem(WORKLOADS["tls-close-13b"], {}, 0.9) is None


def _measurement(chain="nginx", **r):
    m = {"layout": "B", "workload": "tls-resume-13b", "phase": "capacity", "round": 2,
         "chain": chain, "proxy_cpu_s": 4.0}
    Bench.fill_handshakes(m, dict({"offered": r.get("resumed", 0)}, **r))
    return m


def test_measurements_carry_the_handshakes_and_a_low_share_fails_the_run():
    m = _measurement(handshakes=20000, resumed=19936, full=64)
    assert (m["client"], m["handshakes"], m["resumed"], m["full"], m["offered"]) == (
        "tls-load", 20000, 19936, 64, 19936)
    assert m["resumed_pct"] == 99.68 and m["handshakes_per_cpu_s"] == 5000.0
    Bench.check_handshakes(None, WORKLOADS["tls-resume-13b"], m)
    bad = _measurement(handshakes=20000, resumed=128, full=19872)
    with pytest.raises(HarnessError, match=r"B tls-resume-13b round 2 nginx: only 128 of "
                                           r"20000 handshakes resumed"):
        Bench.check_handshakes(None, WORKLOADS["tls-resume-13b"], bad)
    # A proxy that died is an error of its own; wrk workloads have nothing to check.
    Bench.check_handshakes(None, WORKLOADS["tls-resume-13b"], {"died": True, "errors": 1})
    Bench.check_handshakes(None, WORKLOADS["tls-close-13b"], {"requests": 5})


def test_tls_load_is_an_instrument_linked_with_openssl():
    assert setup.INSTRUMENTS["tls-load"].name == "tls-load.c"
    assert setup.INSTRUMENTS["tls-load"].exists()
    argv = setup.compile_argv("cc", "tls-load", "/s/tls-load.c", "/b/tls-load")
    assert argv[:5] == ["cc", "-O2", "-w", "-o", "/b/tls-load"]
    assert {"-lssl", "-lcrypto"} <= set(argv)
    assert "-lssl" not in setup.compile_argv("cc", "openloop", "/s/openloop.c", "/b/openloop")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not (shutil.which("cc") and shutil.which("openssl")),
                    reason="needs cc, libssl-dev and openssl")
def test_tls_load_resumes_against_openssl_s_server(tmp_path):
    exe = tmp_path / "tls-load"
    r = subprocess.run(setup.compile_argv("cc", "tls-load", setup.INSTRUMENTS["tls-load"], exe),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "openssl/ssl.h" in r.stderr:
        pytest.skip("libssl-dev not installed")
    assert r.returncode == 0, r.stderr
    from sluicebench.chains import make_certificate
    tls = make_certificate(tmp_path / "tls")
    port = _free_port()
    # -www: an HTTP/1.0 answer without Content-Length, ended by the close.
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                               str(tls.cert), "-key", str(tls.key), "-www", "-quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        results = {}
        for mode in ([], ["--resume"]):
            out = subprocess.run([str(exe), "-a", "127.0.0.1", "-p", str(port), "-c", "2",
                                  "-d", "0.5"] + mode, capture_output=True, text=True,
                                 timeout=30)
            results[bool(mode)] = loadgen.parse_report("tls-load", out.returncode, out.stdout,
                                                       loadgen.TLS_LOAD_ERRORS)
    finally:
        server.terminate()
        server.wait(timeout=10)
    full, resumed = results[False], results[True]
    for r in (full, resumed):
        assert r["requests"] > 10 and r["errors"] == 0 and r["tls"] == "1.3"
        assert r["handshakes"] == r["resumed"] + r["full"] >= r["requests"]
    assert full["resumed"] == 0 and full["offered"] == 0
    # Only each slot's first handshake is full.
    assert resumed["full"] <= 2 and resumed["resumed"] >= resumed["handshakes"] - 2
