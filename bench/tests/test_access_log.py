"""The access-log workload (ka-13b-log) as data: the placeholders each proxy's config gets, off
by default; where each log goes; the count after a measurement and the check against the
requests served; the log-on / log-off comparison."""

import gzip
import os
import shutil
import subprocess
import sys

import pytest

from sluicebench import accesslog, chains, cli, driver, procs, stats, workloads
from sluicebench.common import ALL_CHAINS, PEERS, HarnessError
from sluicebench.workloads import WORKLOADS

LOG = WORKLOADS["ka-13b-log"]


def launch(tmp_path, chain, workload=LOG):
    env = chains.ChainEnv({"sluice": "/x/sluice", "floor-forwarder": "/x/floor",
                           "responder": "/x/responder", "sized-responder": "/x/sized"},
                          tmp_path, tmp_path / "work", 19000, False, None)
    env.work.mkdir(exist_ok=True)
    (lay,) = workloads.make_layouts(["A"], cpus=[0, 1])
    return chains.launch(env, chain, lay, workload, 18080)


def _directives(path):
    return [l.split("#")[0].strip() for l in path.read_text().splitlines()
            if not l.lstrip().startswith("#")]


def test_ka_13b_log_is_ka_13b_with_the_access_log_on():
    ka = WORKLOADS["ka-13b"]
    for attr in ("body", "close", "path", "tls", "backend_tls", "handshake", "tls_key",
                 "phases", "scheme", "client"):
        assert getattr(LOG, attr) == getattr(ka, attr), attr
    assert LOG.access_log and not ka.access_log
    assert [w.name for w in WORKLOADS.values() if w.access_log] == ["ka-13b-log"]
    assert workloads.Workload("w", "w").access_log is False
    # The references write no log: the peers only.
    assert LOG.chains_for(list(ALL_CHAINS)) == list(PEERS)
    # Sluice against each peer logging too, and each proxy against itself in ka-13b.
    assert LOG.comparisons == workloads.PEERS_ONLY_COMPARISONS + (
        ("sluice", "sluice@ka-13b"), ("haproxy", "haproxy@ka-13b"), ("nginx", "nginx@ka-13b"))
    assert "ka-13b,ka-13b-log,ka-1k" in cli.parse_args([]).workloads


def test_logs_are_off_by_default(tmp_path):
    for chain in PEERS:
        run = launch(tmp_path, chain, WORKLOADS["ka-13b"])
        assert run.access_log is None and run.stdout is None
    import yaml
    attrs = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())[
        "LoadBalancers"][0]["Attributes"]
    assert attrs == {"idle_timeout.timeout_seconds": 60}
    hap = _directives(tmp_path / "haproxy-A.cfg")
    assert not any(l.startswith(("log ", "option httplog")) for l in hap)
    assert "access_log off;" in _directives(tmp_path / "nginx-A.conf")
    assert not (tmp_path / "work" / "access-logs").exists()


def test_sluice_writes_its_alb_files_in_the_run(tmp_path):
    run = launch(tmp_path, "sluice")
    logs = tmp_path / "work" / "access-logs" / "sluice-A"
    assert run.access_log == logs and run.stdout is None
    assert logs.is_dir() and not any(logs.iterdir())  # made empty
    import yaml
    cfg = yaml.safe_load((tmp_path / "sluice-A.yaml").read_text())
    assert cfg["LoadBalancers"][0]["Attributes"] == {
        "idle_timeout.timeout_seconds": 60, "access_logs.s3.enabled": True,
        "sluice.access_logs.directory": str(logs)}
    assert os.path.isabs(cfg["LoadBalancers"][0]["Attributes"]["sluice.access_logs.directory"])
    # A leftover of an earlier measurement is gone when the chain starts again.
    (logs / "old.log.gz").write_bytes(b"")
    launch(tmp_path, "sluice")
    assert not any(logs.iterdir())


def test_haproxy_logs_each_request_to_its_stdout_a_file_of_the_run(tmp_path):
    run = launch(tmp_path, "haproxy")
    log = tmp_path / "work" / "access-logs" / "haproxy-A.log"
    assert run.stdout == run.access_log == log
    hap = _directives(tmp_path / "haproxy-A.cfg")
    defaults = hap[hap.index("defaults"):hap.index("frontend fe")]
    assert "log stdout format raw local0" in defaults and "option httplog" in defaults


def test_nginx_logs_combined_buffered_to_a_file_of_the_run(tmp_path):
    run = launch(tmp_path, "nginx")
    log = tmp_path / "work" / "access-logs" / "nginx-A.log"
    assert run.access_log == log and run.stdout is None
    ngx = _directives(tmp_path / "nginx-A.conf")
    assert f"access_log {log} combined buffer=64k flush=1s;" in ngx
    assert "access_log off;" not in ngx


@pytest.mark.parametrize("chain", ["floor", "direct"])
def test_references_refuse_an_access_log_workload(tmp_path, chain):
    with pytest.raises(HarnessError, match="cannot write the access log"):
        launch(tmp_path, chain)


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_logging_config(tmp_path):
    launch(tmp_path, "haproxy")
    r = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy-A.cfg")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
                    reason="nginx not installed")
def test_nginx_accepts_the_logging_config(tmp_path):
    run = launch(tmp_path, "nginx")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    r = subprocess.run([nginx, "-t", "-q"] + [str(a) for a in run.argv[1:]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_count_entries(tmp_path):
    assert accesslog.count_entries(tmp_path / "none") == (0, 0)
    f = tmp_path / "plain.log"
    f.write_bytes(b"a\nb\nc\n")
    assert accesslog.count_entries(f) == (3, 0)
    d = tmp_path / "sluice"
    day = d / "AWSLogs" / "000000000000" / "elasticloadbalancing" / "us-east-1" / "2026" / "12"
    day.mkdir(parents=True)
    with gzip.open(day / "a.log.gz", "wb") as g:
        g.write(b"x\n" * 1000)
    with gzip.open(day / "b.log.gz", "wb") as g:
        g.write(b"y\n" * 5)
    assert accesslog.count_entries(d) == (1005, 0)
    (d / accesslog.SLUICE_PARTIAL).mkdir()
    (d / accesslog.SLUICE_PARTIAL / "c.log.gz").write_bytes(b"")
    assert accesslog.count_entries(d) == (1005, 1)
    accesslog.remove(d)
    accesslog.remove(f)
    assert not d.exists() and not f.exists()
    accesslog.remove(d)  # nothing there: nothing to do


def test_shortfall():
    assert accesslog.shortfall(95, 100) is None
    assert accesslog.shortfall(105, 100) is None  # a connection closed without a request
    assert accesslog.shortfall(0, 0) is None
    assert accesslog.shortfall(89, 100) == ("access log holds 89 entries for 100 requests "
                                            "served (89.0%; at least 90% needed)")
    assert "1 access-log file(s) left incomplete" in accesslog.shortfall(100, 100, leftover=1)


def test_driver_counts_the_log_of_a_stopped_proxy(tmp_path):
    bench = driver.Bench(cli.parse_args(["--smoke"]), tmp_path)
    for pid, lines, served in ((1, 100, 101), (2, 50, 101)):
        log = tmp_path / f"{pid}.log"
        log.write_bytes(b"l\n" * lines)
        bench.access_logs[pid] = log
        m = {"layout": "A", "workload": "ka-13b-log", "phase": "capacity", "round": 1,
             "chain": "nginx"}
        bench.check_access_log(type("P", (), {"pid": pid})(), m, served)
        assert (m["access_log_lines"], m["access_log_served"]) == (lines, served)
        assert not log.exists() and pid not in bench.access_logs
    assert m["access_log_pct"] == 49.5
    assert m["problems"] == ["access log holds 50 entries for 101 requests served (49.5%; at "
                             "least 90% needed)"]
    # A proxy without a log: nothing recorded.
    m = {}
    bench.check_access_log(type("P", (), {"pid": 3})(), m, 10)
    assert m == {}


def test_procs_sends_stdout_to_a_file_and_keeps_stderr_in_the_log(tmp_path):
    ps = procs.Procs(tmp_path)
    out = tmp_path / "out.log"
    p = ps.start("child", [sys.executable, "-c",
                           "import sys; print('entry'); print('warning', file=sys.stderr)"],
                 stdout=out)
    p.wait(timeout=30)
    ps.stop(p)
    assert out.read_text() == "entry\n"
    log = (tmp_path / "child.log").read_text().splitlines()
    assert log[0].startswith("--- ") and log[1:] == ["warning"]


def _cap(chain, workload, rnd, cpu):
    return {"layout": "A", "workload": workload, "phase": "capacity", "round": rnd,
            "chain": chain, "cpu_us_per_req": cpu, "rps": 1000.0}


def test_log_on_against_log_off_compares_rounds_of_the_two_workloads():
    ms = [_cap(c, w, r, cpu) for c, w, r, cpu in (
        ("sluice", "ka-13b", 1, 10.0), ("sluice", "ka-13b", 2, 10.0),
        ("sluice", "ka-13b-log", 1, 11.0), ("sluice", "ka-13b-log", 2, 12.0),
        ("nginx", "ka-13b-log", 1, 22.0), ("nginx", "ka-13b-log", 2, 24.0))]
    s = stats.summarize(ms, {})
    rows = {(r["workload"], r["ours"], r["other"]): r for r in s["ratios"]}
    on_off = rows[("ka-13b-log", "sluice", "sluice@ka-13b")]["cpu_us_per_req"]
    assert on_off == {"median": 1.15, "worst": 1.2, "rounds": 2, "per_round": [1.1, 1.2]}
    assert rows[("ka-13b-log", "sluice", "nginx")]["cpu_us_per_req"]["median"] == 0.5
    # nginx has no ka-13b figure in this run: no row.
    assert ("ka-13b-log", "nginx", "nginx@ka-13b") not in rows
    assert stats.in_workload("sluice@ka-13b", "ka-13b-log") == ("sluice", "ka-13b")
    assert stats.in_workload("best peer", "ka-13b-log") == ("best peer", "ka-13b-log")
