"""The layer-4 workload over TLS (tls-tcp-ka-13b): tcp-ka-13b with HTTPS clients, every proxy
terminating TLS in TCP mode and forwarding the decrypted bytes to the plain responders. Its
data, the three configs (and that tcp-ka-13b's stay byte for byte what they were), the stream
SSL module check, wrk's URL and the run's certificate."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sluicebench import chains, cli, driver, loadgen, workloads
from sluicebench.common import ALL_CHAINS, PEERS, HarnessError
from sluicebench.workloads import WORKLOADS

TLS_TCP = WORKLOADS["tls-tcp-ka-13b"]
TCP = WORKLOADS["tcp-ka-13b"]
TLS = chains.TlsFiles(Path("/t/cert.pem"), Path("/t/key.pem"), Path("/t/combined.pem"))
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tcp-ka-13b"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)
# A sluice binary for `sluice validate`: SLUICE_BIN, else the tree's debug build when present.
SLUICE = os.environ.get("SLUICE_BIN") or str(Path(__file__).resolve().parents[2] / "build" /
                                             "sluice")
HAVE_SLUICE = os.path.isfile(SLUICE) and os.access(SLUICE, os.X_OK)
STREAM_BUILTIN = ("configure arguments: --with-http_ssl_module --with-stream "
                  "--with-stream_ssl_module")


def _code(path):
    """The lines of a rendered config without comments (whole-line and trailing)."""
    lines = (l.split(" #")[0].strip() for l in path.read_text().splitlines()
             if not l.lstrip().startswith("#"))
    return [l for l in lines if l]


def launch(tmp_path, chain, workload=TLS_TCP, layout="A", tls=TLS):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor",
                           "responder": "/x/responder", "sized-responder": "/x/sized"},
                          tmp_path, tmp_path, 19000, False, tls if workload.tls else None)
    (lay,) = workloads.make_layouts([layout], cpus=[0, 1])
    return chains.launch(env, chain, lay, workload, 18080)


@pytest.fixture
def stream_builtin(monkeypatch):
    """nginx_stream_load as if NGINX had the stream module (and its SSL module) built in."""
    monkeypatch.setattr(chains, "_nginx_configure_args", lambda: STREAM_BUILTIN)


# ---- the workload as data ------------------------------------------------------------------

def test_tls_tcp_ka_13b_is_tcp_ka_13b_over_tls():
    w = TLS_TCP
    assert w.tcp and w.tls and not TCP.tls
    assert (w.body, w.close, w.path, w.client, w.tls_key) == (13, False, "/", "wrk", "ecdsa")
    assert (w.body, w.close, w.path, w.client) == (TCP.body, TCP.close, TCP.path, TCP.client)
    # wrk speaks HTTPS to the proxy, as in tls-ka-13b; the backends stay plain responders.
    assert w.scheme == "https" == WORKLOADS["tls-ka-13b"].scheme
    assert not (w.backend_tls or w.access_log or w.websocket or w.handshake or w.h2)
    assert chains.backend_tool(w.body, False, w.backend_tls, w.websocket) == "responder"
    assert "TLS" in w.title and "TCP (layer-4)" in w.title


def test_tls_tcp_ka_13b_runs_on_the_peers_capacity_only():
    w = TLS_TCP
    # The floor cannot terminate TLS and the direct responder speaks none.
    assert w.chains == PEERS
    assert w.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx"]
    assert w.chains_for(["floor", "direct", "h2o"]) == []
    assert "floor" not in w.chains_for(list(ALL_CHAINS))
    # As tls-ka-13b: openloop.c and the idle client speak plain HTTP.
    assert w.phases == ("capacity",) == WORKLOADS["tls-ka-13b"].phases
    assert w.comparisons == workloads.PEERS_ONLY_COMPARISONS
    assert w.smoke


def test_tcp_accepts_client_tls_only():
    w = workloads.Workload("w", "w", tcp=True, tls=True, phases=("capacity",))
    assert (w.tcp, w.tls, w.scheme) == (True, True, "https")
    for kw in (dict(backend_tls=True), dict(tls=True, backend_tls=True),
               dict(tls=True, access_log=True), dict(tls=True, close=True),
               dict(tls=True, close=True, handshake="full"),
               dict(tls=True, variants={"sluice": ("sluice-1rule",)})):
        with pytest.raises(HarnessError, match="layer-4 workload is plain HTTP keep-alive "
                                               r"through TCP forwarders \(TLS from the "
                                               r"clients only"):
            workloads.Workload("w", "w", tcp=True, **kw)


def test_the_option_takes_the_workload():
    a = cli.parse_args(["--workloads", "tls-tcp-ka-13b", "--proxies", "sluice,haproxy,nginx",
                        "--rounds", "3"])
    assert (a.workloads, a.proxies, a.rounds) == ("tls-tcp-ka-13b", "sluice,haproxy,nginx", 3)
    # Listed right after tcp-ka-13b in the full run and in the smoke run.
    for args in ([], ["--smoke"]):
        names = cli.parse_args(args).workloads.split(",")
        assert names[names.index("tcp-ka-13b") + 1] == "tls-tcp-ka-13b"


# ---- configs ----------------------------------------------------------------------------------

def test_sluice_terminates_tls_on_a_network_load_balancer(tmp_path):
    run = launch(tmp_path, "sluice")
    cfg = tmp_path / "sluice-tls-tcp-A.yaml"
    assert [str(a) for a in run.argv] == ["/x/sluice", "run", "--config", str(cfg), "--workers",
                                          "1", "--shutdown-timeout", "0"]
    assert (run.ip, run.port, run.settle, run.access_log) == ("127.0.0.1", 18080, True, None)
    yaml = pytest.importorskip("yaml")
    c = yaml.safe_load(cfg.read_text())
    (lb,) = c["LoadBalancers"]
    (listener,) = lb["Listeners"]
    (group,) = c["TargetGroups"]
    assert (lb["Type"], listener["Protocol"], group["Protocol"]) == ("network", "TLS", "TCP")
    # The TLS workloads' policy (TLS 1.2 and 1.3) and certificate, as tls-ka-13b's listener.
    assert listener["SslPolicy"] == chains.SLUICE_SSL_POLICY == \
        "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listener["Certificates"] == ["bench"]
    assert c["Certificates"] == [{"Name": "bench", "CertificateFile": "/t/cert.pem",
                                  "PrivateKeyFile": "/t/key.pem"}]
    # A TLS listener takes no attribute (its idle timeout is fixed at 350 s); no AlpnPolicy
    # (None: no ALPN, as the peers).
    assert "Attributes" not in listener and "AlpnPolicy" not in listener
    assert "350 s" in cfg.read_text()
    assert (listener["Port"], listener["BindAddress"], group["Port"]) == (18080, "127.0.0.1",
                                                                          19000)
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupName": "be"}]
    assert group["Targets"] == [{"Id": f"127.0.0.1{i}"} for i in range(1, 5)]
    assert "Rules" not in listener and "Attributes" not in lb
    assert not any(k.startswith("HealthCheck") for k in group)


def test_sluice_tls_tcp_layout_b_has_two_workers(tmp_path):
    run = launch(tmp_path, "sluice", layout="B")
    assert [str(a) for a in run.argv[-4:]] == ["--workers", "2", "--shutdown-timeout", "0"]
    assert run.argv[3] == tmp_path / "sluice-tls-tcp-B.yaml"


def test_haproxy_terminates_tls_in_mode_tcp(tmp_path):
    run = launch(tmp_path, "haproxy")
    cfg = tmp_path / "haproxy-tls-tcp-A.cfg"
    assert [str(a) for a in run.argv] == ["haproxy", "-f", str(cfg), "-db"]
    code = _code(cfg)
    assert "mode tcp" in code and "mode http" not in code
    # haproxy_bind's TLS (the certificate and key in one file, TLS 1.2 and 1.3) without ALPN.
    assert "bind 127.0.0.1:18080 ssl crt /t/combined.pem ssl-min-ver TLSv1.2" in code
    assert chains.haproxy_bind(TLS, False) == \
        chains.haproxy_tcp_bind(TLS).replace(" ssl-min-ver", " alpn http/1.1 ssl-min-ver")
    # The same plain servers and timeouts as tcp-ka-13b's.
    assert [l for l in code if l.startswith("server")] == [
        f"server b{i} 127.0.0.1{i}:19000" for i in range(1, 5)]
    assert [l for l in code if l.startswith("timeout")] == [
        "timeout connect 5s", "timeout client  60s", "timeout server  60s"]
    text = "\n".join(code)
    for http in ("option", "http-", "forwardfor", "log ", "alpn"):
        assert http not in text


def test_nginx_terminates_tls_in_its_stream_server(tmp_path, stream_builtin):
    run = launch(tmp_path, "nginx")
    cfg = tmp_path / "nginx-tls-tcp-A.conf"
    assert [str(a) for a in run.argv] == ["nginx", "-c", str(cfg), "-e",
                                          str(tmp_path / "nginx-tls-tcp-A" / "nginx-error.log")]
    code = _code(cfg)
    assert "stream {" in code and "http {" not in code
    assert "listen 127.0.0.1:18080 backlog=4096 ssl;" in code and "proxy_pass be;" in code
    assert [l for l in code if l.startswith("server 127")] == [
        f"server 127.0.0.1{i}:19000;" for i in range(1, 5)]
    assert "ssl_certificate /t/cert.pem;" in code and "ssl_certificate_key /t/key.pem;" in code
    # The same ssl_* lines as nginx.conf.in's HTTPS listener in tls-ka-13b (fair comparison).
    launch(tmp_path, "nginx", workload=WORKLOADS["tls-ka-13b"])
    http_ssl = [l for l in _code(tmp_path / "nginx-A.conf") if l.startswith("ssl_")]
    assert [l for l in code if l.startswith("ssl_")] == http_ssl == [
        "ssl_certificate /t/cert.pem;", "ssl_certificate_key /t/key.pem;",
        "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_session_tickets on;", "ssl_session_cache off;"]
    assert "proxy_timeout 60s;" in code and "access_log off;" in code
    text = "\n".join(code)
    assert "proxy_ssl" not in text and "ssl_alpn" not in text and "keepalive" not in text


def test_nginx_needs_the_stream_ssl_module():
    dynamic = "configure arguments: --with-stream=dynamic --with-stream_ssl_module"
    assert chains.nginx_stream_load(dynamic, module=__file__, ssl=True) == \
        f"load_module {__file__};"
    no_ssl = "configure arguments: --with-stream"
    assert chains.nginx_stream_load(no_ssl) == ""
    with pytest.raises(HarnessError, match="without the stream SSL module"):
        chains.nginx_stream_load(no_ssl, ssl=True)


def test_the_references_refuse_it(tmp_path):
    for chain in ("floor", "direct"):
        with pytest.raises(HarnessError, match="cannot serve TLS workload tls-tcp-ka-13b"):
            launch(tmp_path, chain)
    # No certificate: an error, not a plain TCP forwarder.
    for chain in ("sluice", "haproxy", "nginx"):
        with pytest.raises(HarnessError, match="without a certificate"):
            launch(tmp_path, chain, tls=None)


@pytest.mark.parametrize("layout", ["A", "B"])
def test_tcp_ka_13b_configs_are_unchanged(tmp_path, stream_builtin, layout):
    """tcp-ka-13b renders byte for byte what it did before tls-tcp-ka-13b (the fixtures:
    its configs as rendered then, the run's directory written @TMP@, NGINX's stream module
    built in), and nothing of TLS."""
    for chain, ext in (("sluice", "yaml"), ("haproxy", "cfg"), ("nginx", "conf")):
        launch(tmp_path, chain, workload=TCP, layout=layout)
        name = f"{chain}-tcp-{layout}.{ext}"
        text = (tmp_path / name).read_text()
        assert text == (FIXTURES / name).read_text().replace("@TMP@", str(tmp_path)), name
        code = "\n".join(_code(tmp_path / name))
        for tls in ("ssl", "TLS", "Certificates", "SslPolicy"):
            assert tls not in code, (name, tls)


# ---- the run: wrk's URL and the certificate ------------------------------------------------

def test_wrk_speaks_https_to_the_proxy(monkeypatch):
    argvs = []

    class Procs:
        def run(self, name, argv, cpus=None, timeout=60.0):
            argvs.append([str(a) for a in argv])
            return 0, "", 0.1

    monkeypatch.setattr(loadgen, "parse_report", lambda *a: {"errors": 0})
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    loadgen.closed_loop(Procs(), {}, lay, "127.0.0.1", 18080, TLS_TCP, 10, "wrk")
    loadgen.closed_loop(Procs(), {}, lay, "127.0.0.1", 18080, TCP, 10, "wrk")
    assert argvs[0][0] == "wrk" and argvs[0][-1] == "https://127.0.0.1:18080/"
    assert "Connection: close" not in argvs[0]
    assert argvs[1][-1] == "http://127.0.0.1:18080/"


def test_the_driver_gives_the_chains_the_run_certificate(tmp_path, monkeypatch):
    made, envs = [], []

    def fake_certificate(directory, kind):
        made.append(kind)
        return chains.TlsFiles(directory / "c", directory / "k", directory / "ck", kind)

    class Proc:
        pid = 4242

    monkeypatch.setattr(driver, "make_certificate", fake_certificate)
    monkeypatch.setattr(driver, "listening", lambda ip, port: False)
    monkeypatch.setattr(driver, "wait_listening", lambda *a: None)
    monkeypatch.setattr(driver, "launch", lambda env, chain, lay, wl, port: envs.append(env) or
                        chains.Launch(["x"], "127.0.0.1", port, chain, False))
    bench = driver.Bench(cli.parse_args(["--smoke"]), tmp_path)
    monkeypatch.setattr(bench.procs, "start", lambda *a, **k: Proc())
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    bench.start_chain("sluice", lay, TLS_TCP, port=18080)
    bench.start_chain("haproxy", lay, TCP, port=18080)
    bench.start_chain("nginx", lay, WORKLOADS["tls-ka-13b"], port=18080)
    # The ECDSA certificate, made once; none for plain tcp-ka-13b.
    assert made == ["ecdsa"]
    assert envs[0].tls is not None and envs[0].tls.kind == "ecdsa"
    assert envs[1].tls is None
    assert envs[2].tls is envs[0].tls


# ---- the proxies' own checks (when installed) ----------------------------------------------

@pytest.fixture
def certificate(tmp_path):
    """A throwaway ECDSA certificate made with openssl (chains.make_certificate)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    return chains.make_certificate(tmp_path / "tls")


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_tls_tcp_config(tmp_path, certificate):
    launch(tmp_path, "haproxy", tls=certificate)
    r = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy-tls-tcp-A.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(NGINX is None, reason="nginx not installed")
def test_nginx_accepts_the_tls_tcp_config(tmp_path, certificate):
    """With the installed nginx's stream module and its SSL module."""
    try:
        chains.nginx_stream_load(ssl=True)
    except HarnessError as e:
        pytest.skip(str(e))
    run = launch(tmp_path, "nginx", tls=certificate)
    r = subprocess.run([NGINX, "-t", "-q"] + [str(a) for a in run.argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not HAVE_SLUICE, reason=f"no sluice binary ({SLUICE}; or set SLUICE_BIN)")
def test_sluice_validates_the_tls_tcp_config(tmp_path, certificate):
    launch(tmp_path, "sluice", tls=certificate)
    r = subprocess.run([SLUICE, "validate", str(tmp_path / "sluice-tls-tcp-A.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and ": ok (" in r.stdout, r.stdout + r.stderr
