"""The command line: `sluice validate`, the shipped demo, `sluice demo`, and flag checks."""

import re
import subprocess

import pytest
import yaml

from conftest import (REPO, SLUICE_BIN, Proc, dump_config, free_port, port_accepts, wait_until)

DEMO = REPO / "examples" / "demo.yaml"


def validate(path):
    return subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                          timeout=30)


def test_validate_demo_config_ok(tmp_path):
    # The demo's certificate is made on first use; until then validate says it is missing.
    copy = tmp_path / "demo.yaml"
    copy.write_text(DEMO.read_text())
    res = validate(copy)
    assert res.returncode == 1
    assert "demo.yaml:9:22: Certificates[0].CertificateFile: " in res.stderr
    assert "certs/localhost.crt: cannot open: No such file or directory" in res.stderr
    made = subprocess.run([SLUICE_BIN, "cert", "self-signed", "--name", "localhost",
                           "--out-dir", str(tmp_path / "certs")],
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    res = validate(copy)
    assert res.returncode == 0, res.stderr
    assert "ok" in res.stdout


def test_validate_bad_config_reports_file_line_col(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "LoadBalancers:\n"                                    # 1
        "  - Name: demo\n"                                    # 2
        "    Attributes:\n"                                   # 3
        "      idle_timeout.timeout_seconds: 0\n"             # 4
        "    Listeners:\n"                                    # 5
        "      - Protocol: HTTP\n"                            # 6
        "        Port: 70000\n"                               # 7
        "        DefaultActions:\n"                           # 8
        "          - Type: forward\n"                         # 9
        "            TargetGroupName: missing\n"              # 10
        "TargetGroups:\n"                                     # 11
        "  - Name: tg\n"                                      # 12
        "    Protocol: HTTP\n"                                # 13
        "    Port: 3000\n"                                    # 14
        "    Targets:\n"                                      # 15
        "      - Id: 127.0.0.1\n")                            # 16
    res = validate(bad)
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "ok" not in res.stdout
    errors = re.findall(r"^(.*?):(\d+):(\d+): (\S+): (.*)$", out, re.M)
    by_line = {int(line): (file, int(col), field, msg) for file, line, col, field, msg in errors}
    assert all(f == str(bad) for f, *_ in by_line.values()), out
    assert 4 in by_line and "idle_timeout" in by_line[4][2], out
    assert 7 in by_line and by_line[7][2].endswith("Port") and "70000" in by_line[7][3], out
    assert by_line[7][1] == len("        Port: ") + 1, out  # column of the value
    assert 10 in by_line and "missing" in by_line[10][3], out


def test_validate_yaml_syntax_error(tmp_path):
    bad = tmp_path / "syntax.yaml"
    bad.write_text("LoadBalancers:\n  - Name: [unclosed\n")
    res = validate(bad)
    assert res.returncode == 1
    assert re.search(rf"^{re.escape(str(bad))}:\d+:\d+: ", res.stdout + res.stderr, re.M), \
        res.stdout + res.stderr


def test_run_refuses_bad_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("LoadBalancers: []\nTargetGroups: 7\n")
    res = subprocess.run([SLUICE_BIN, "run", "--config", str(bad), "--workers", "2"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert "ready:" not in res.stderr


def rewrite_demo(tmp_path):
    """examples/demo.yaml with the listeners and the four target ports moved to free ports.

    The HTTPS listener's certificate paths stay relative (certs/localhost.*): they now point
    into tmp_path, where `sluice demo` makes them (or the test does)."""
    cfg = yaml.safe_load(DEMO.read_text())
    listener = cfg["LoadBalancers"][0]["Listeners"][0]
    listener["Port"] = free_port()
    for other in cfg["LoadBalancers"][0]["Listeners"][1:]:
        other["Port"] = free_port()
    ports = {}
    for tg in cfg["TargetGroups"]:
        ports[tg["Name"]] = free_port()
        tg["Port"] = ports[tg["Name"]]
        for t in tg["Targets"]:
            t.pop("Port", None)
    path = tmp_path / "demo.yaml"
    path.write_text(dump_config(cfg))
    return path, listener["Port"], ports


def check_demo_routes(port, http, names):
    for prefix, tg in (("auth", "auth"), ("problems", "problems"),
                       ("submissions", "submissions"), ("evaluate", "evaluate")):
        r = http.get(f"http://127.0.0.1:{port}/{prefix}/thing", timeout=10)
        assert r.status_code == 200, (prefix, r.status_code, r.text)
        assert r.headers["X-Sluice-Target"] == names[tg], (prefix, r.headers)
        assert f"GET /{prefix}/thing HTTP/1.1" in r.text
    r = http.get(f"http://127.0.0.1:{port}/nowhere", timeout=10)
    assert r.status_code == 404
    assert r.text == "no route for this path\n"
    assert r.headers["Content-Type"].startswith("text/plain")


def test_demo_config_with_demo_targets(tmp_path, sluice, demo_targets, http):
    path, port, _ = rewrite_demo(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    made = subprocess.run([SLUICE_BIN, "cert", "self-signed", "--name", "localhost",
                           "--out-dir", str(tmp_path / "certs")],
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    for c in cfg["Certificates"]:  # the fixture writes the config elsewhere: absolute paths
        c["CertificateFile"] = str(tmp_path / c["CertificateFile"])
        c["PrivateKeyFile"] = str(tmp_path / c["PrivateKeyFile"])
    names = {}
    for tg in cfg["TargetGroups"]:
        t = demo_targets(f"{tg['Name']}-svc")
        tg["Port"] = t.port
        names[tg["Name"]] = t.name
    sluice(cfg)
    check_demo_routes(port, http, names)


def test_sluice_demo_subcommand(tmp_path, http):
    path, port, ports = rewrite_demo(tmp_path)
    proc = Proc([SLUICE_BIN, "demo", "--config", path, "--workers", "2"], tmp_path, "demo")
    try:
        def ready():
            assert proc.alive(), proc.stderr()
            return "ready:" in proc.stderr()

        wait_until(ready, 15, what="sluice demo ready")
        for p in [port, *ports.values()]:
            wait_until(lambda: port_accepts(p), 10, what=f"port {p}")
        check_demo_routes(port, http, {name: f"{name}-1" for name in ports})
        # The HTTPS listener serves the same rules on the certificate the demo made.
        https_port = yaml.safe_load(path.read_text())["LoadBalancers"][0]["Listeners"][1]["Port"]
        cert = tmp_path / "certs" / "localhost.crt"
        assert "made a self-signed certificate" in proc.stderr()
        r = http.get(f"https://localhost:{https_port}/auth/login", verify=str(cert), timeout=10)
        assert r.status_code == 200 and r.headers["X-Sluice-Target"] == "auth-1"
        assert "X-Forwarded-Proto: https" in r.text
    finally:
        proc.stop(timeout=10)
    assert proc.popen.returncode == 0


BAD_FLAGS = [
    # (args after the binary, the flag the message must name)
    (["run", "--config", "CFG", "--admin", "foo"], "--admin"),
    (["run", "--config", "CFG", "--admin", "127.0.0.1:70000"], "--admin"),
    (["run", "--config", "CFG", "--admin", "127.0.0.1:"], "--admin"),
    (["run", "--config", "CFG", "--admin", "::1:9901"], "--admin"),
    (["run", "--config", "CFG", "--admin", "example.com:9901"], "--admin"),
    (["run", "--config", "CFG", "--workers", "abc"], "--workers"),
    (["run", "--config", "CFG", "--workers", "99999999999999999999"], "--workers"),
    (["run", "--config", "CFG", "--shutdown-timeout", "-1"], "--shutdown-timeout"),
    (["demo", "--config", "CFG", "--workers", "-3"], "--workers"),
    (["demo", "--config", "CFG", "--admin", "x:y"], "--admin"),
    (["demo-target", "--listen", "1:2:3"], "--listen"),
    (["demo-target", "--listen", "127.0.0.1:65536"], "--listen"),
    (["demo-target", "--name", "a\x1b[2Jb"], "--name"),
    (["demo-target", "--health-path", "health"], "--health-path"),
    (["targets", "--admin", "127.0.0.1:0"], "--admin"),
    (["targets", "--admin", "[::1"], "--admin"),
    (["validate"], "file"),
    (["run", "--config", "CFG", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize("args,flag", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flag_values_exit_2_with_a_message(tmp_path, args, flag):
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("Admin: {Port: 0}\n")
    args = [str(cfg) if a == "CFG" else a for a in args]
    res = subprocess.run([SLUICE_BIN, *args], capture_output=True, text=True, timeout=10)
    # Before the fix `--admin foo` died in an uncaught std::stoi exception (SIGABRT).
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert flag in res.stderr, res.stderr
    assert "\x1b" not in res.stderr
    assert "terminate" not in res.stderr and "internal error" not in res.stderr


def test_admin_flag_port_0_picks_a_free_port(tmp_path):
    port = free_port()
    cfg = tmp_path / "lb.yaml"
    cfg.write_text(dump_config({"LoadBalancers": [{"Name": "lb", "Listeners": [{
        "Port": port, "BindAddress": "127.0.0.1",
        "DefaultActions": [{"Type": "fixed-response",
                            "FixedResponseConfig": {"StatusCode": "200"}}]}]}]}))
    proc = Proc([SLUICE_BIN, "run", "--config", cfg, "--workers", "1", "--admin",
                 "127.0.0.1:0"], tmp_path, "admin0")
    try:
        def admin_port():
            assert proc.alive(), proc.stderr()
            m = re.search(r"admin endpoint on http://127\.0\.0\.1:(\d+)", proc.stderr())
            return int(m.group(1)) if m else None

        admin = wait_until(admin_port, 15, what="admin endpoint")
        assert admin != 0
        res = subprocess.run([SLUICE_BIN, "targets", "--admin", f"127.0.0.1:{admin}", "--json"],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, res.stderr
        assert "TargetGroups" in res.stdout
    finally:
        proc.stop(timeout=10)


def test_version_flag():
    run = subprocess.run([SLUICE_BIN, "--version"], capture_output=True, text=True, timeout=10)
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"sluice \d+\.\d+\.\d+\n", run.stdout), run.stdout


def test_import_refuses_a_file_whose_stored_form_would_not_load(tmp_path):
    """A compact file just under the loader's 600,000-node limit stores, with every attribute
    written out, a document over it: `sluice run` could not start from the store, so import
    refuses it and stores nothing."""
    out = ["LoadBalancers:", "  - Name: big", "    Listeners:", "      - Protocol: HTTP",
           f"        Port: {free_port()}", "        BindAddress: 127.0.0.1",
           "        DefaultActions:", "          - Type: fixed-response",
           "            FixedResponseConfig: {StatusCode: \"404\"}", "        Rules:"]
    for i in range(13585):
        out += [f"          - Priority: {i + 1}", "            Conditions:",
                "              - Field: path-pattern",
                f"                PathPatternConfig: {{Values: [\"/r{i}/*\"]}}",
                "            Actions:", "              - Type: fixed-response",
                "                FixedResponseConfig: {StatusCode: \"200\"}"]
    out.append("TargetGroups:")
    for g in range(100):
        out += [f"  - Name: g{g}", "    Protocol: HTTP", "    Port: 8080",
                "    HealthCheckEnabled: false", "    Targets:"]
        out += [f"      - Id: 127.{10 + g}.{t // 250}.{t % 250 + 1}" for t in range(1000)]
    cfg = tmp_path / "big.yaml"
    cfg.write_text("\n".join(out) + "\n")
    r = subprocess.run([SLUICE_BIN, "validate", cfg], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and ": ok" in r.stdout, r.stdout + r.stderr
    db = tmp_path / "state.db"
    r = subprocess.run([SLUICE_BIN, "import", cfg, "--state", db], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "more than 600000 YAML nodes" in r.stderr
    assert "its stored form, with every attribute written out, would not load; nothing " \
           "imported" in r.stderr
    r = subprocess.run([SLUICE_BIN, "export", "--state", db], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "holds no config yet" in r.stderr, r.stderr
