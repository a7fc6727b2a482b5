"""Workloads and layouts as data; chain configs; option defaults."""

import pytest

from sluicebench import chains, cli, workloads
from sluicebench.common import ALL_CHAINS, HarnessError
from sluicebench.workloads import WORKLOADS


def test_chains_each_workload_runs():
    every = list(ALL_CHAINS)
    assert WORKLOADS["ka-13b"].chains_for(every) == every
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
                                         "PROXY_PORT": 1, "PEER_HEADERS": ""})


def launch(tmp_path, chain, layout="A", body=13, sized=False):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor",
                           "responder": "/x/responder", "sized-responder": "/x/sized"},
                          tmp_path, tmp_path, 19000, sized)
    (lay,) = workloads.make_layouts([layout], cpus=[0, 1])
    return chains.launch(env, chain, lay, workloads.Workload("w", "w", body=body), 18080)


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
    assert smoke.proxies == "sluice,haproxy,nginx,floor"
    full = cli.parse_args(["--seed", "7"])
    assert (full.rounds, full.duration, full.layouts, full.seed) == (5, 10, "A,B", 7)
    assert full.workloads == "ka-13b,ka-1k,ka-64k,close-13b,rules,idle"
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
