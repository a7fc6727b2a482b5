"""The layer-4 workload (tcp-ka-13b): its data, the three proxies' TCP-mode configs, NGINX's
stream module, and its comparisons (against the peers, the floor, and each proxy in ka-13b)."""

import os
import shutil
import subprocess

import pytest

from sluicebench import chains, stats, workloads
from sluicebench.common import ALL_CHAINS, HTTP_CHAINS, PEERS, HarnessError
from sluicebench.workloads import WORKLOADS

TCP = WORKLOADS["tcp-ka-13b"]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)


def _code(path):
    """The lines of a rendered config without comments (whole-line and trailing)."""
    lines = (l.split(" #")[0].strip() for l in path.read_text().splitlines()
             if not l.lstrip().startswith("#"))
    return [l for l in lines if l]


def launch(tmp_path, chain, workload=TCP, layout="A"):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor",
                           "responder": "/x/responder", "sized-responder": "/x/sized"},
                          tmp_path, tmp_path, 19000, False, None)
    (lay,) = workloads.make_layouts([layout], cpus=[0, 1])
    return chains.launch(env, chain, lay, workload, 18080)


@pytest.fixture
def stream_builtin(monkeypatch):
    """nginx_stream_load as if NGINX had the stream module built in (no load_module line)."""
    monkeypatch.setattr(chains, "_nginx_configure_args", lambda: "configure arguments: "
                        "--with-http_ssl_module --with-stream --with-stream_ssl_module")


# ---- the workload as data ------------------------------------------------------------------

def test_tcp_ka_13b_is_ka_13b_through_tcp_forwarders():
    ka = WORKLOADS["ka-13b"]
    assert TCP.tcp and not ka.tcp
    assert (TCP.body, TCP.close, TCP.path, TCP.phases, TCP.client, TCP.scheme) == \
        (ka.body, ka.close, ka.path, ka.phases, ka.client, ka.scheme)
    assert not (TCP.tls or TCP.backend_tls or TCP.access_log or TCP.websocket or TCP.handshake)
    # Every chain serves it: the floor is a byte forwarder already, direct is the responder
    # (h2o, the HTTP/2 workloads' peer, apart).
    assert TCP.chains_for(list(ALL_CHAINS)) == list(HTTP_CHAINS)
    # The responders are ka-13b's.
    assert chains.backend_tool(TCP.body, False, TCP.backend_tls, TCP.websocket) == "responder"


def test_tcp_ka_13b_comparisons():
    assert TCP.comparisons[:5] == workloads.PEER_COMPARISONS
    assert TCP.comparisons[5:] == (("sluice", "sluice@ka-13b"), ("haproxy", "haproxy@ka-13b"),
                                   ("nginx", "nginx@ka-13b"), ("floor", "floor@ka-13b"))


@pytest.mark.parametrize("kw", [dict(tls=True, backend_tls=True), dict(backend_tls=True),
                                dict(close=True), dict(access_log=True),
                                dict(websocket=True, phases=("capacity",)),
                                dict(variants={"sluice": ("sluice-1rule",)})])
def test_a_tcp_workload_is_plain_keep_alive(kw):
    # TLS from the clients is allowed (tls-tcp-ka-13b, test_tls_tcp.py); nothing else is.
    with pytest.raises(HarnessError, match="layer-4 workload is plain HTTP keep-alive"):
        workloads.Workload("w", "w", tcp=True, **kw)


# ---- configs ----------------------------------------------------------------------------------

def test_sluice_is_a_network_load_balancer(tmp_path):
    run = launch(tmp_path, "sluice")
    cfg = tmp_path / "sluice-tcp-A.yaml"
    assert [str(a) for a in run.argv] == ["/x/sluice", "run", "--config", str(cfg), "--workers",
                                          "1", "--shutdown-timeout", "0"]
    assert (run.ip, run.port, run.settle, run.access_log) == ("127.0.0.1", 18080, True, None)
    yaml = pytest.importorskip("yaml")
    c = yaml.safe_load(cfg.read_text())
    (lb,) = c["LoadBalancers"]
    (listener,) = lb["Listeners"]
    (group,) = c["TargetGroups"]
    assert (lb["Type"], listener["Protocol"], group["Protocol"]) == ("network", "TCP", "TCP")
    assert (listener["Port"], listener["BindAddress"], group["Port"]) == (18080, "127.0.0.1",
                                                                          19000)
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupName": "be"}]
    assert listener["Attributes"] == {"tcp.idle_timeout.seconds": "60"}
    assert group["Targets"] == [{"Id": f"127.0.0.1{i}"} for i in range(1, 5)]
    # Nothing of HTTP's: no rules, no HTTP attributes; health checks at the TCP defaults.
    assert "Rules" not in listener and "Attributes" not in lb
    assert not any(k.startswith("HealthCheck") for k in group)


def test_sluice_tcp_layout_b_has_two_workers(tmp_path):
    run = launch(tmp_path, "sluice", layout="B")
    assert [str(a) for a in run.argv[-4:]] == ["--workers", "2", "--shutdown-timeout", "0"]


def test_haproxy_is_mode_tcp(tmp_path):
    run = launch(tmp_path, "haproxy")
    assert [str(a) for a in run.argv] == ["haproxy", "-f", str(tmp_path / "haproxy-tcp-A.cfg"),
                                          "-db"]
    assert run.stdout is None and run.access_log is None
    code = _code(tmp_path / "haproxy-tcp-A.cfg")
    assert "mode tcp" in code and "mode http" not in code
    assert "balance roundrobin" in code and "bind 127.0.0.1:18080" in code
    assert [l for l in code if l.startswith("timeout")] == [
        "timeout connect 5s", "timeout client  60s", "timeout server  60s"]
    assert [l for l in code if l.startswith("server")] == [
        f"server b{i} 127.0.0.1{i}:19000" for i in range(1, 5)]
    # No HTTP: no headers, no keep-alive or reuse options, no log.
    text = "\n".join(code)
    for http in ("option", "http-", "forwardfor", "log "):
        assert http not in text


def test_nginx_is_a_stream_proxy(tmp_path, stream_builtin):
    run = launch(tmp_path, "nginx")
    cfg = tmp_path / "nginx-tcp-A.conf"
    assert [str(a) for a in run.argv[:3]] == ["nginx", "-c", str(cfg)]
    code = _code(cfg)
    assert "stream {" in code and "http {" not in code
    assert not any(l.startswith("load_module") for l in code)  # built in
    assert "listen 127.0.0.1:18080 backlog=4096;" in code and "proxy_pass be;" in code
    assert [l for l in code if l.startswith("server 127")] == [
        f"server 127.0.0.1{i}:19000;" for i in range(1, 5)]
    assert "proxy_timeout 60s;" in code and "access_log off;" in code
    text = "\n".join(code)
    assert "proxy_set_header" not in text and "keepalive" not in text


def test_nginx_stream_module_line():
    builtin = "configure arguments: --with-stream --with-stream_ssl_module"
    dynamic = "configure arguments: --with-stream=dynamic --with-stream_ssl_module"
    assert chains.nginx_stream_load(builtin) == ""
    assert chains.nginx_stream_load(dynamic, module=__file__) == f"load_module {__file__};"
    with pytest.raises(HarnessError, match="apt-get install -y libnginx-mod-stream"):
        chains.nginx_stream_load(dynamic, module="/nonexistent/ngx_stream_module.so")
    # --with-stream_ssl_module alone is not the stream module.
    with pytest.raises(HarnessError, match="without the stream module"):
        chains.nginx_stream_load("configure arguments: --with-stream_ssl_module")


def test_references_are_as_for_http(tmp_path):
    ka = WORKLOADS["ka-13b"]
    for chain in ("floor", "direct"):
        assert launch(tmp_path, chain).argv == launch(tmp_path, chain, workload=ka).argv


def test_tcp_launchers_refuse_http_workloads_and_rules_variants(tmp_path):
    with pytest.raises(HarnessError, match="unknown chain sluice-1rule for layer-4 workload"):
        launch(tmp_path, "sluice-1rule")
    env = chains.ChainEnv({}, tmp_path, tmp_path, 19000, False, None)
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    with pytest.raises(HarnessError, match="not a layer-4 workload"):
        chains._haproxy_tcp(env, "haproxy", lay, WORKLOADS["ka-13b"], 18080)


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_tcp_config(tmp_path):
    launch(tmp_path, "haproxy")
    r = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy-tcp-A.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx not installed")
def test_nginx_accepts_the_tcp_config(tmp_path):
    """With the installed nginx's stream module (Debian: libnginx-mod-stream)."""
    try:
        chains.nginx_stream_load()
    except HarnessError as e:
        pytest.skip(str(e))
    run = launch(tmp_path, "nginx")
    r = subprocess.run([NGINX, "-t", "-q"] + [str(a) for a in run.argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


SLUICE = os.environ.get("SLUICE_BIN")


@pytest.mark.skipif(not (SLUICE and os.access(SLUICE, os.X_OK)),
                    reason="SLUICE_BIN (a sluice binary with TCP listeners) not set")
def test_sluice_validates_the_tcp_config(tmp_path):
    launch(tmp_path, "sluice")
    r = subprocess.run([SLUICE, "validate", str(tmp_path / "sluice-tcp-A.yaml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and ": ok (" in r.stdout, r.stdout + r.stderr


# ---- comparisons ------------------------------------------------------------------------------

def test_tcp_comparisons_include_l7_over_l4_and_the_floor_control():
    # CPU per request per round; ka-13b's rounds ran before tcp-ka-13b's.
    cpu = {"ka-13b": {"sluice": (12, 14), "haproxy": (15, 15), "nginx": (16, 18),
                      "floor": (10, 11)},
           "tcp-ka-13b": {"sluice": (9, 12), "haproxy": (10, 10), "nginx": (12, 11),
                          "floor": (9, 10)}}
    ms = [{"layout": "A", "workload": wl, "phase": "capacity", "round": rnd + 1, "chain": c,
           "rps": 1000, "cpu_us_per_req": v[rnd], "errors": 0}
          for wl, per in cpu.items() for c, v in per.items() for rnd in range(2)]
    rows = {(r["workload"], r["ours"], r["other"]): r
            for r in stats.summarize(ms, {})["ratios"]}
    assert rows[("tcp-ka-13b", "sluice", "floor")]["cpu_us_per_req"]["per_round"] == [1.0, 1.2]
    assert rows[("tcp-ka-13b", "sluice", "haproxy")]["cpu_us_per_req"]["worst"] == 1.2
    # Best peer: min(10, 12) = 10, min(10, 11) = 10.
    assert rows[("tcp-ka-13b", "sluice", "best peer")]["cpu_us_per_req"]["per_round"] == \
        [0.9, 1.2]
    assert rows[("tcp-ka-13b", "sluice", "sluice@ka-13b")]["cpu_us_per_req"]["per_round"] == \
        [0.75, round(12 / 14, 4)]
    assert rows[("tcp-ka-13b", "floor", "floor@ka-13b")]["cpu_us_per_req"]["per_round"] == \
        [0.9, round(10 / 11, 4)]
    for c in PEERS:
        assert ("tcp-ka-13b", c, f"{c}@ka-13b") in rows
