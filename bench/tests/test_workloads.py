"""Workloads and layouts as data; chain configs; option defaults."""

import os
import shutil

import pytest

from sluicebench import chains, cli, workloads
from sluicebench.common import ALL_CHAINS, HTTP_CHAINS, HarnessError
from sluicebench.workloads import WORKLOADS


def test_chains_each_workload_runs():
    every = list(ALL_CHAINS)
    # Every chain but h2o, the HTTP/2 workloads' peer.
    assert WORKLOADS["ka-13b"].chains_for(every) == list(HTTP_CHAINS)
    # The floor and the responder cannot close per request.
    assert WORKLOADS["close-13b"].chains_for(every) == ["sluice", "haproxy", "nginx"]
    assert WORKLOADS["close-13b"].chains_for(["nginx", "floor", "sluice"]) == ["nginx", "sluice"]
    assert WORKLOADS["idle"].chains_for(["floor", "nginx", "direct"]) == ["nginx"]
    # rules runs two Sluice variants in place of sluice, and nothing without it.
    assert WORKLOADS["rules"].chains_for(["haproxy", "sluice"]) == ["sluice-1rule",
                                                                    "sluice-1000rules"]
    assert WORKLOADS["rules"].chains_for(["haproxy", "nginx"]) == []


def test_phases_and_comparisons_are_data():
    assert WORKLOADS["ka-64k"].phases == ("capacity", "latency")
    assert WORKLOADS["rules"].phases == ("capacity",)
    assert WORKLOADS["idle"].phases == ("idle",)
    assert workloads.comparisons_for("rules") == (("sluice-1000rules", "sluice-1rule"),)
    assert [o for _, o in workloads.comparisons_for("ka-1k")] == [
        "haproxy", "nginx", "best peer", "floor", "direct"]
    # A workload no longer in the table (an old results.json): Sluice against the peers.
    assert workloads.comparisons_for("gone") == workloads.PEER_COMPARISONS


def test_layouts_pin_the_proxy_to_the_second_cpu():
    a, b = workloads.make_layouts(["A", "B"], cpus=[3, 1])
    assert (a.proxy_cpus, a.load_cpus, a.workers, a.wrk_threads, a.conns) == ("3", "1", 1, 1, 64)
    assert (b.proxy_cpus, b.load_cpus, b.workers, b.wrk_threads, b.conns) == (None, None, 2, 2,
                                                                             128)
    # The text results.md and results.json carry, as before the harness became a package.
    assert a.describe() == ("layout A: proxy with 1 worker pinned to CPU 3; load generator "
                            "(1 thread, 64 connections) and the 4 backends on CPU 1")
    assert b.describe() == ("layout B: proxy with 2 workers, nothing pinned; load generator "
                            "with 2 threads and 128 connections")


def test_layout_a_xff_is_a_with_32_connections_and_xff_only_peers():
    (x,) = workloads.make_layouts(["A-xff"], cpus=[0, 1])
    assert (x.proxy_cpus, x.load_cpus, x.workers, x.wrk_threads, x.conns) == ("1", "0", 1, 1, 32)
    assert x.describe() == ("layout A-xff: proxy with 1 worker pinned to CPU 1; load generator "
                            "(1 thread, 32 connections) and the 4 backends on CPU 0; HAProxy and "
                            "NGINX add only X-Forwarded-For")


def test_layouts_with_one_cpu_run_unpinned(capsys):
    (a,) = workloads.make_layouts(["A"], cpus=[0])
    assert (a.proxy_cpus, a.load_cpus) == (None, None)
    assert "layout A runs unpinned" in capsys.readouterr().out


def test_unknown_layout():
    with pytest.raises(HarnessError, match=r"unknown layout 'Z' \(A, B or A-xff\)"):
        workloads.make_layouts(["Z"], cpus=[0, 1])


def test_sluice_rules():
    assert chains.sluice_rules(0) == ""
    one = chains.sluice_rules(1)
    assert "Priority: 1" in one and '"/r999/*"' in one and "Priority: 2" not in one
    many = chains.sluice_rules(1000)
    assert many.count("- Priority:") == 1000
    assert '"/r0/*"' in many and '"/r999/*"' in many and "Priority: 1000" in many


def test_render_refuses_an_unfilled_placeholder():
    with pytest.raises(HarnessError, match="placeholder @SERVERS@ not filled"):
        chains.render("haproxy.cfg.in", {"WORKERS": 1, "PROXY_ADDR": "127.0.0.1",
                                         "PROXY_PORT": 1, "BIND_TLS": "",
                                         "PEER_HEADERS": "", "ACCESS_LOG": "", "TUNNEL": "",
                                         "HTTP_REUSE": "safe"})


TLS = chains.TlsFiles("/t/cert.pem", "/t/key.pem", "/t/combined.pem")


def launch(tmp_path, chain, layout="A", body=13, sized=False, workload=None, tls=None):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor",
                           "responder": "/x/responder", "sized-responder": "/x/sized"},
                          tmp_path, tmp_path, 19000, sized, tls)
    (lay,) = workloads.make_layouts([layout], cpus=[0, 1])
    wl = workload or workloads.Workload("w", "w", body=body)
    return chains.launch(env, chain, lay, wl, 18080)


def test_launchers(tmp_path):
    h = launch(tmp_path, "haproxy")
    assert h.argv[:2] == ["haproxy", "-f"] and (h.ip, h.port, h.settle) == ("127.0.0.1", 18080,
                                                                            True)
    cfg = (tmp_path / "haproxy-A.cfg").read_text()
    assert "nbthread 1 " in cfg and "server b4 127.0.0.14:19000" in cfg
    s = launch(tmp_path, "sluice-1rule")
    assert [str(x) for x in s.argv[-4:]] == ["--workers", "1", "--shutdown-timeout", "0"]
    assert '"/r999/*"' in (tmp_path / "sluice-1rule-A.yaml").read_text()
    d = launch(tmp_path, "direct", body=1024)
    assert d.argv == ["/x/sized", 19000, "127.0.0.15", 1024] and not d.settle
    assert launch(tmp_path, "direct").argv == ["/x/responder", 19000, "127.0.0.15"]
    assert launch(tmp_path, "direct", sized=True).argv[0] == "/x/sized"
    with pytest.raises(HarnessError, match="unknown chain"):
        launch(tmp_path, "envoy")


def test_option_defaults():
    smoke = cli.parse_args(["--smoke"])
    assert (smoke.rounds, smoke.duration, smoke.layouts, smoke.quiet) == (1, 1, "A", 0.1)
    assert smoke.proxies == "sluice,haproxy,nginx,floor,h2o"
    full = cli.parse_args(["--seed", "7"])
    assert (full.rounds, full.duration, full.layouts, full.seed) == (5, 10, "A,B", 7)
    assert full.workloads == ("ka-13b,ka-13b-log,ka-1k,ka-64k,close-13b,rules,idle,tls-ka-13b,"
                              "tls-close-13b,tls-resume-13b,tls-full-13b,tls-full-rsa-13b,"
                              "tls-upstream-ka-13b,ws-echo-1k,ws-echo-64k,tcp-ka-13b,"
                              "tls-tcp-ka-13b,udp-echo-64b,tcp-bulk-1g,tcp-bulk-up-1g,h2-13b,"
                              "h2-1k,h2c-13b,h2h2-13b,grpc-13b")
    assert full.proxies == "sluice,haproxy,nginx,floor,direct,h2o"
    # The smoke run: every workload but the HTTP/2 ones after h2-13b (CI time).
    assert smoke.workloads == full.workloads.replace(",h2-1k,h2c-13b,h2h2-13b,grpc-13b", "")
    assert not full.tls_backend_log and cli.parse_args(["--tls-backend-log"]).tls_backend_log
    with pytest.raises(SystemExit):
        cli.parse_args(["--workloads", "ka-2k"])


@pytest.mark.parametrize("layout, added", [
    ("A", ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"]),
    ("A-xff", ["X-Forwarded-For"])])
def test_peer_header_profiles(tmp_path, layout, added):
    launch(tmp_path, "haproxy", layout=layout)
    launch(tmp_path, "nginx", layout=layout)
    hap = [l.strip() for l in (tmp_path / f"haproxy-{layout}.cfg").read_text().splitlines()
           if not l.lstrip().startswith("#")]
    ngx = [l.strip() for l in (tmp_path / f"nginx-{layout}.conf").read_text().splitlines()
           if not l.lstrip().startswith("#")]
    # HAProxy: "option forwardfor" is X-Forwarded-For; set-header lines add the others.
    assert "option forwardfor" in hap
    assert sorted(l.split()[2] for l in hap if l.startswith("http-request set-header")) == \
        sorted(added[1:])
    # NGINX: Host and Connection are always set (client's Host, upstream keep-alive).
    assert sorted(l.split()[1] for l in ngx if l.startswith("proxy_set_header")) == \
        sorted(["Connection", "Host"] + added)


def test_tls_workloads_are_data():
    ka, close = WORKLOADS["tls-ka-13b"], WORKLOADS["tls-close-13b"]
    assert (ka.tls, ka.close, ka.body, ka.scheme) == (True, False, 13, "https")
    assert (close.tls, close.close, close.body) == (True, True, 13)
    # The floor and the responder speak no TLS; openloop.c and the idle client neither.
    for wl in (ka, close):
        assert wl.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx"]
        assert wl.chains_for(["floor", "direct"]) == []
        assert wl.phases == ("capacity",)
        assert [o for _, o in wl.comparisons] == ["haproxy", "nginx", "best peer"]
    assert [w.name for w in WORKLOADS.values() if w.tls and not w.h2] == [
        "tls-ka-13b", "tls-close-13b", "tls-resume-13b", "tls-full-13b", "tls-full-rsa-13b",
        "tls-tcp-ka-13b"]
    assert all(w.scheme == "http" for w in WORKLOADS.values() if not w.tls)
    assert not ka.backend_tls and not close.backend_tls


def test_handshake_workloads_are_data():
    resume, full, close = (WORKLOADS[n] for n in ("tls-resume-13b", "tls-full-13b",
                                                  "tls-close-13b"))
    assert (resume.tls, resume.close, resume.body, resume.path, resume.scheme) == (
        True, True, 13, "/", "https")
    assert (resume.handshake, resume.resume, resume.client) == ("resumed", True, "tls-load")
    assert (full.tls, full.close, full.body) == (True, True, 13)
    assert (full.handshake, full.resume, full.client) == ("full", False, "tls-load")
    # tls-close-13b stays wrk's (wrk resumes on reconnect: not a handshake workload).
    assert (close.handshake, close.resume, close.client) == (None, False, "wrk")
    assert all(w.client == "wrk" for w in WORKLOADS.values()
               if w.handshake is None and not w.websocket and not w.h2 and not w.udp
               and not w.bulk)
    assert [w.name for w in WORKLOADS.values() if w.handshake] == ["tls-resume-13b",
                                                                  "tls-full-13b",
                                                                  "tls-full-rsa-13b"]
    for wl in (resume, full):
        assert wl.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx"]
        assert wl.phases == ("capacity",)
        assert wl.comparisons == workloads.PEERS_ONLY_COMPARISONS
        assert not wl.backend_tls
    assert 0.85 <= workloads.RESUMED_MIN <= 0.95
    assert "resumed TLS 1.3 handshake" in resume.title


@pytest.mark.parametrize("kw", [dict(handshake="resumed"),  # neither tls nor close
                                dict(handshake="resumed", tls=True),  # keep-alive
                                dict(handshake="resumed", close=True),  # plain HTTP
                                dict(handshake="psk", tls=True, close=True)])
def test_handshake_workloads_need_tls_and_close(kw):
    with pytest.raises(HarnessError, match="needs tls, close"):
        workloads.Workload("w", "w", **kw)


def _code(path):
    return [l.strip() for l in path.read_text().splitlines() if not l.lstrip().startswith("#")]


@pytest.mark.parametrize("name", ["tls-ka-13b", "tls-close-13b", "tls-resume-13b",
                                  "tls-full-13b", "tls-full-rsa-13b"])
def test_tls_workloads_render_tls_configs(tmp_path, name):
    wl = WORKLOADS[name]
    # The files of the workload's kind of key, the same paths for every proxy.
    tls = TLS._replace(kind=wl.tls_key)
    launch(tmp_path, "sluice", workload=wl, tls=tls)
    launch(tmp_path, "haproxy", workload=wl, tls=tls)
    launch(tmp_path, "nginx", workload=wl, tls=tls)
    import yaml
    cfg = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())
    (listener,) = cfg["LoadBalancers"][0]["Listeners"]
    assert (listener["Protocol"], listener["SslPolicy"], listener["Certificates"]) == (
        "HTTPS", "ELBSecurityPolicy-TLS13-1-2-2021-06", ["bench"])
    assert (listener["Port"], listener["BindAddress"]) == (18080, "127.0.0.1")
    assert cfg["Certificates"] == [{"Name": "bench", "CertificateFile": "/t/cert.pem",
                                    "PrivateKeyFile": "/t/key.pem"}]
    assert cfg["TargetGroups"][0]["Protocol"] == "HTTP"  # TLS ends at the proxy
    hap = _code(tmp_path / "haproxy-A.cfg")
    assert "bind 127.0.0.1:18080 ssl crt /t/combined.pem alpn http/1.1 ssl-min-ver TLSv1.2" \
        in hap
    assert "http-request set-header X-Forwarded-Proto https" in hap
    ngx = _code(tmp_path / "nginx-A.conf")
    assert "listen 127.0.0.1:18080 backlog=4096 ssl;" in ngx
    for line in ("ssl_certificate /t/cert.pem;", "ssl_certificate_key /t/key.pem;",
                 "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_session_tickets on;",
                 "ssl_session_cache off;"):
        assert line in ngx
    # The floor and the direct responder refuse rather than serve plain HTTP.
    for chain in ("floor", "direct"):
        with pytest.raises(HarnessError, match="cannot serve TLS"):
            launch(tmp_path, chain, workload=wl, tls=tls)
    # No certificate: an error, not a plain-HTTP proxy.
    with pytest.raises(HarnessError, match="without a certificate"):
        launch(tmp_path, "sluice", workload=wl)
    # A certificate with another kind of key: an error, not another key's figures.
    other = TLS._replace(kind="ecdsa" if wl.tls_key == "rsa" else "rsa")
    for chain in ("sluice", "haproxy", "nginx"):
        with pytest.raises(HarnessError, match="needs a certificate whose key is "
                           f"{chains.CERT_KEYS[wl.tls_key].title}, given "
                           f"{chains.CERT_KEYS[other.kind].title}"):
            launch(tmp_path, chain, workload=wl, tls=other)


def test_rsa_workload_is_data():
    rsa, ecdsa = WORKLOADS["tls-full-rsa-13b"], WORKLOADS["tls-full-13b"]
    # tls-full-13b's twin, but for the certificate's key.
    assert rsa.tls_key == "rsa" and ecdsa.tls_key == "ecdsa"
    for attr in ("tls", "close", "body", "path", "scheme", "handshake", "resume", "client",
                 "phases", "chains", "comparisons", "backend_tls"):
        assert getattr(rsa, attr) == getattr(ecdsa, attr), attr
    assert rsa.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx"]
    assert (rsa.handshake, rsa.resume, rsa.client) == ("full", False, "tls-load")
    assert rsa.title == ("HTTPS, new connection and full TLS 1.3 handshake per request, "
                         "RSA-2048 certificate (tls-load), 13 B")
    # Every other workload keeps the ECDSA P-256 certificate.
    assert [w.name for w in WORKLOADS.values() if w.tls_key != "ecdsa"] == ["tls-full-rsa-13b"]
    assert workloads.Workload("w", "w").tls_key == chains.DEFAULT_CERT_KEY == "ecdsa"
    assert {k: v.title for k, v in chains.CERT_KEYS.items()} == {"ecdsa": "ECDSA P-256",
                                                                 "rsa": "RSA-2048"}


@pytest.mark.parametrize("kw, match", [
    (dict(tls=True, tls_key="ed25519"), "is not one of ecdsa, rsa"),
    (dict(tls_key="rsa"), "without TLS")])
def test_tls_key_must_be_known_and_used(kw, match):
    with pytest.raises(HarnessError, match=match):
        workloads.Workload("w", "w", **kw)
    # A backend-TLS workload's certificate may be RSA too.
    assert workloads.Workload("w", "w", backend_tls=True, tls_key="rsa").tls_key == "rsa"


def test_bench_makes_one_certificate_per_kind_of_key(tmp_path, monkeypatch):
    from sluicebench import driver
    made = []

    def fake(directory, kind):
        made.append((directory, kind))
        return chains.TlsFiles(directory / "c", directory / "k", directory / "ck", kind)

    monkeypatch.setattr(driver, "make_certificate", fake)
    bench = driver.Bench(cli.parse_args(["--smoke"]), tmp_path)
    names = ["tls-ka-13b", "tls-full-rsa-13b", "tls-full-13b", "tls-full-rsa-13b",
             "tls-upstream-ka-13b"]
    files = [bench.tls_files(WORKLOADS[n]) for n in names]
    # Made once per kind, when first needed; then the same files for every workload of it.
    assert made == [(tmp_path / "work" / "tls" / "ecdsa", "ecdsa"),
                    (tmp_path / "work" / "tls" / "rsa", "rsa")]
    assert [f.kind for f in files] == ["ecdsa", "rsa", "ecdsa", "rsa", "ecdsa"]
    assert files[0] is files[2] is files[4] and files[1] is files[3]


def test_tls_upstream_workload_is_data():
    wl = WORKLOADS["tls-upstream-ka-13b"]
    # Plain HTTP keep-alive from the clients (as ka-13b), HTTPS from the proxy to the backends.
    assert (wl.tls, wl.backend_tls, wl.close, wl.body, wl.path, wl.scheme) == (
        False, True, False, 13, "/", "http")
    # Neither the floor (plain bytes to a TLS port) nor the direct responder can serve it.
    assert wl.chains_for(list(ALL_CHAINS)) == ["sluice", "haproxy", "nginx"]
    assert wl.chains_for(["floor", "direct"]) == []
    assert wl.phases == ("capacity",)
    assert wl.comparisons == workloads.PEERS_ONLY_COMPARISONS
    assert [o for _, o in wl.comparisons] == ["haproxy", "nginx", "best peer"]
    assert [w.name for w in WORKLOADS.values() if w.backend_tls] == ["tls-upstream-ka-13b"]
    # Its backends are the NGINX TLS backend, whatever --sized-backend-only says.
    assert chains.backend_tool(13, False, True) == chains.TLS_BACKEND
    assert chains.backend_tool(13, True, True) == chains.TLS_BACKEND
    assert chains.backend_tool(13, False) == "responder"
    assert chains.TLS_BACKEND in chains.BACKEND_SOURCES


def test_tls_upstream_workload_renders_tls_to_the_backends(tmp_path):
    wl = WORKLOADS["tls-upstream-ka-13b"]
    launch(tmp_path, "sluice", workload=wl, tls=TLS)
    launch(tmp_path, "haproxy", workload=wl, tls=TLS)
    launch(tmp_path, "nginx", workload=wl, tls=TLS)
    import yaml
    cfg = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())
    (listener,) = cfg["LoadBalancers"][0]["Listeners"]
    # The listener stays plain HTTP; the target group speaks HTTPS with Sluice's defaults
    # (no SNI, no certificate check: no sluice.tls.* attributes).
    assert listener["Protocol"] == "HTTP" and "SslPolicy" not in listener
    assert "Certificates" not in cfg
    (tg,) = cfg["TargetGroups"]
    assert (tg["Protocol"], tg["Port"]) == ("HTTPS", 19000)
    assert not any(k.startswith("sluice.tls") for k in tg.get("Attributes", {}) or {})
    assert [t["Id"] for t in tg["Targets"]] == ["127.0.0.11", "127.0.0.12", "127.0.0.13",
                                                "127.0.0.14"]
    hap = _code(tmp_path / "haproxy-A.cfg")
    assert "bind 127.0.0.1:18080" in hap
    assert "http-request set-header X-Forwarded-Proto http" in hap
    # Pooled TLS connections, as the plain ones.
    assert "http-reuse safe" in _directives(tmp_path / "haproxy-A.cfg")
    servers = [l for l in hap if l.startswith("server ")]
    assert servers == [f"server b{i} 127.0.0.1{i}:19000 ssl verify none alpn http/1.1"
                       for i in range(1, 5)]
    assert not any(" sni " in l for l in hap)  # no SNI, like ALB and Sluice
    ngx = _directives(tmp_path / "nginx-A.conf")
    assert "listen 127.0.0.1:18080 backlog=4096;" in ngx
    for line in ("proxy_pass https://be;", "proxy_ssl_protocols TLSv1.2 TLSv1.3;",
                 "proxy_ssl_verify off;", "proxy_ssl_server_name off;",
                 "proxy_ssl_session_reuse on;", "keepalive 256;", "proxy_http_version 1.1;",
                 'proxy_set_header Connection "";', "keepalive_requests 1000000;"):
        assert line in ngx
    assert not any(l.startswith(("ssl_certificate", "ssl_protocols")) for l in ngx)
    for chain in ("floor", "direct"):
        with pytest.raises(HarnessError, match="cannot serve TLS"):
            launch(tmp_path, chain, workload=wl, tls=TLS)


def _directives(path):
    """The config's lines without comments, trailing ones included."""
    return [l.split("#")[0].strip() for l in _code(path)]


def _tls_backend_env(tmp_path, tls=TLS):
    return chains.ChainEnv({}, tmp_path, tmp_path, 19000, False, tls)


def test_tls_backend_config(tmp_path):
    wl = WORKLOADS["tls-upstream-ka-13b"]
    argv = chains.tls_backend_argv(_tls_backend_env(tmp_path), wl)
    cfg = tmp_path / "nginx-tls-backend.conf"
    assert [str(a) for a in argv] == ["nginx", "-c", str(cfg), "-e",
                                      str(tmp_path / "nginx-tls-backend" / "nginx-error.log")]
    ngx = _directives(cfg)
    # One process (one worker) serving TLS 1.3 only, one cipher suite, on every backend
    # address, with the run's certificate, 13 bytes per answer, long keep-alive, no log.
    assert "worker_processes 1;" in ngx and "daemon off;" in ngx
    assert [l for l in ngx if l.startswith("listen ")] == [
        f"listen 127.0.0.1{i}:19000 ssl backlog=4096;" for i in range(1, 5)]
    for line in ("ssl_certificate /t/cert.pem;", "ssl_certificate_key /t/key.pem;",
                 "ssl_protocols TLSv1.3;",
                 "ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;",
                 "ssl_session_tickets on;", "keepalive_requests 1000000;",
                 "keepalive_timeout 60s;", "access_log off;"):
        assert line in ngx
    (ret,) = [l for l in ngx if l.startswith("return ")]
    assert ret.startswith('return 200 "Hello, world!";')
    assert len(chains.TLS_BACKEND_BODY) == wl.body == 13
    # --tls-backend-log: one line per request with its connection and TLS session.
    chains.tls_backend_argv(_tls_backend_env(tmp_path), wl, access_log="/l/access.log")
    assert "access_log /l/access.log tlsreuse;" in _directives(cfg)


def test_tls_backend_refuses_what_it_cannot_serve(tmp_path):
    wl = WORKLOADS["tls-upstream-ka-13b"]
    with pytest.raises(HarnessError, match="without a certificate"):
        chains.tls_backend_argv(_tls_backend_env(tmp_path, tls=None), wl)
    with pytest.raises(HarnessError, match="plain-HTTP backends"):
        chains.tls_backend_argv(_tls_backend_env(tmp_path), WORKLOADS["ka-13b"])
    with pytest.raises(HarnessError, match="key is ECDSA P-256, given RSA-2048"):
        chains.tls_backend_argv(_tls_backend_env(tmp_path, tls=TLS._replace(kind="rsa")), wl)
    big = workloads.Workload("w", "w", body=1024, backend_tls=True)
    with pytest.raises(HarnessError, match="answers 13 bytes, not 1024"):
        chains.tls_backend_argv(_tls_backend_env(tmp_path), big)


@pytest.mark.skipif(not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
                    reason="nginx not installed")
def test_tls_backend_config_passes_nginx_t(tmp_path):
    files = chains.make_certificate(tmp_path / "tls")
    env = chains.ChainEnv({}, tmp_path, tmp_path, 19000, False, files)
    argv = chains.tls_backend_argv(env, WORKLOADS["tls-upstream-ka-13b"],
                                   access_log=tmp_path / "access.log")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    import subprocess
    r = subprocess.run([nginx, "-t", "-q"] + [str(a) for a in argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_plain_workloads_render_no_tls(tmp_path):
    launch(tmp_path, "sluice", tls=TLS)
    launch(tmp_path, "haproxy", tls=TLS)
    launch(tmp_path, "nginx", tls=TLS)
    sl = "\n".join(_code(tmp_path / "sluice-A.yaml"))
    assert "Protocol: HTTP" in sl and "HTTPS" not in sl and "Certificates" not in sl
    assert "SslPolicy" not in sl
    hap = _code(tmp_path / "haproxy-A.cfg")
    assert "bind 127.0.0.1:18080" in hap and not any("ssl" in l for l in hap)
    assert "http-request set-header X-Forwarded-Proto http" in hap
    ngx = _code(tmp_path / "nginx-A.conf")
    assert "listen 127.0.0.1:18080 backlog=4096;" in ngx and not any("ssl" in l for l in ngx)
    assert "proxy_pass http://be;" in ngx
    assert "server b1 127.0.0.11:19000" in hap


@pytest.mark.parametrize("kind, key_text", [
    ("ecdsa", ["id-ecPublicKey", "Public-Key: (256 bit)", "prime256v1"]),
    ("rsa", ["rsaEncryption", "Public-Key: (2048 bit)"])])
def test_make_certificate(tmp_path, kind, key_text):
    files = chains.make_certificate(tmp_path / "tls", kind)
    assert files.kind == kind
    assert all(p.is_absolute() and p.exists() for p in (files.cert, files.key, files.combined))
    cert, key = files.cert.read_text(), files.key.read_text()
    assert files.combined.read_text() == cert + key
    import subprocess
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(files.cert)],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    for t in key_text:
        assert t in text
    # The key matches the certificate.
    pub = [subprocess.run(["openssl", *argv], capture_output=True, text=True,
                          check=True).stdout
           for argv in (["x509", "-noout", "-pubkey", "-in", str(files.cert)],
                        ["pkey", "-pubout", "-in", str(files.key)])]
    assert pub[0] == pub[1]


def test_make_certificate_default_is_ecdsa_and_unknown_kinds_fail(tmp_path):
    assert chains.make_certificate(tmp_path / "tls").kind == "ecdsa"
    with pytest.raises(HarnessError, match="unknown certificate key 'dsa'"):
        chains.make_certificate(tmp_path / "x", "dsa")
