"""Active health checks: target states, reason codes and descriptions as the admin endpoint
shows them (reference §2.3-§2.4), thresholds, fail-open, routing only to healthy targets, TCP
checks, the checker's request, `sluice targets`, and a target added by reload.

Most scenarios need real check intervals (the fastest the config allows is every 5 s with two
results either way), so they run side by side in one sluice process (`scenario`, module
scope): one target group per scenario, routed by path prefix, the whole timeline recorded by
a poller of /targets and by the back ends. The tests then judge the recording."""

import json
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests

from conftest import (LOCAL, SLUICE_BIN, ControlledBackend, HealthWatcher, admin_get,
                      admin_port_of, fast_health, fixed, forward, free_port, launch_sluice,
                      lb_config, path_is, rule, target_group, target_health, wait_health)

INTERVAL = 5.0  # HealthCheckIntervalSeconds used throughout
TIMEOUT = 2.0   # HealthCheckTimeoutSeconds


def session():
    s = requests.Session()
    s.trust_env = False
    return s


class Scenario:
    """What the shared run recorded."""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("health")
    sc = Scenario()
    names = ["healthy", "killed", "hang", "code503", "flapok", "flapbad", "recover", "disabled",
             "ta", "tb", "fa", "fb", "tcpok", "matcher"]
    b = {n: ControlledBackend(n) for n in names}
    sc.b = b
    sc.tcp_closed_port = free_port()  # nothing listens here
    b["fa"].set_health("status", 503)  # the fail-open group is unhealthy from the start
    b["fb"].set_health("status", 503)
    b["matcher"].set_health("status", 202)
    b["tcpok"].set_health("status", 503)  # an HTTP check would fail; a TCP check must not

    groups = [
        ("healthy", ["healthy"], {}),
        ("killed", ["killed"], {}),
        ("hang", ["hang"], {}),
        ("code503", ["code503"], {"Matcher": {"HttpCode": "200-299"}}),
        ("flapok", ["flapok"], {}),
        ("flapbad", ["flapbad"], {}),
        ("recover", ["recover"], {}),
        ("traffic", ["ta", "tb"], {}),
        ("failopen", ["fa", "fb"], {}),
        ("matcher", ["matcher"], {"Matcher": {"HttpCode": "200,202"}}),
    ]
    tgs = []
    for gname, members, extra in groups:
        tgs.append(target_group(gname, [b[m].port for m in members], health=True,
                                **fast_health(**extra)))
    tgs.append(target_group("disabled", [b["disabled"].port], health=False))
    for gname, port in (("tcpok", b["tcpok"].port), ("tcpbad", sc.tcp_closed_port)):
        tg = target_group(gname, [port], health=True,
                          **fast_health(HealthCheckProtocol="TCP"))
        del tg["HealthCheckPath"]  # not used by TCP checks (the loader rejects it)
        tgs.append(tg)
    rules = [rule(10 + i, [path_is(f"/g/{tg['Name']}/*")], forward(tg["Name"]))
             for i, tg in enumerate(tgs)]
    port = free_port()
    sc.admin = free_port()
    cfg = lb_config(port, fixed("404", "no route"), rules=rules, target_groups=tgs)
    cfg["Admin"] = {"Address": LOCAL, "Port": sc.admin}
    s = launch_sluice(workdir, cfg, tag="health-scenario")
    sc.s = s
    watcher = HealthWatcher(sc.admin)
    sc.watcher = watcher
    stop_traffic = threading.Event()
    sc.traffic = []  # (t_sent, status, target)
    sc.traffic_errors = []

    def traffic():
        sess = session()
        deadline = time.monotonic() + 90
        while not stop_traffic.is_set() and time.monotonic() < deadline:
            t = time.monotonic()
            try:
                r = sess.get(s.url("/g/traffic/x"), headers={"X-Sent": f"{t:.6f}"}, timeout=10)
                sc.traffic.append((t, r.status_code, r.headers.get("X-Sluice-Target")))
            except Exception as e:  # noqa: BLE001
                sc.traffic_errors.append(repr(e))
            time.sleep(0.01)
        sess.close()

    tthread = threading.Thread(target=traffic, daemon=True)
    try:
        # Everything that starts healthy is healthy after its first (immediate) check.
        for n in ("healthy", "killed", "hang", "code503", "flapok", "flapbad", "recover",
                  "matcher"):
            wait_health(sc.admin, n, b[n].port, "healthy", 10)
        for n in ("ta", "tb"):
            wait_health(sc.admin, "traffic", b[n].port, "healthy", 10)
        wait_health(sc.admin, "tcpok", b["tcpok"].port, "healthy", 10)
        tthread.start()
        time.sleep(1.0)  # some traffic reaches both traffic targets first

        sc.t0 = time.monotonic()
        b["killed"].kill()
        b["hang"].set_health("hang")
        b["code503"].set_health("status", 503)
        b["flapok"].set_health("alternate", first=503)
        b["flapbad"].set_health("status", 503)
        b["recover"].set_health("status", 503)
        b["tb"].set_health("status", 503)
        sc.t_flapbad_switch = None
        sc.t_recover_switch = None
        deadline = sc.t0 + 40

        def unhealthy(group, name_or_port):
            p = name_or_port if isinstance(name_or_port, int) else b[name_or_port].port
            th = watcher.latest(group, p)
            return th is not None and th.get("State") == "unhealthy"

        while time.monotonic() < deadline:
            now = time.monotonic()
            if sc.t_flapbad_switch is None and unhealthy("flapbad", "flapbad"):
                b["flapbad"].set_health("alternate", first=200)
                sc.t_flapbad_switch = time.monotonic()
            if sc.t_recover_switch is None and unhealthy("recover", "recover"):
                b["recover"].set_health("ok")
                sc.t_recover_switch = time.monotonic()
            recovered = (sc.t_recover_switch is not None and
                         (watcher.latest("recover", b["recover"].port) or {}).get("State")
                         == "healthy")
            flapbad_done = (sc.t_flapbad_switch is not None and
                            len([c for c in b["flapbad"].checks(sc.t_flapbad_switch)
                                 if c.status]) >= 3)
            flapok_done = len([c for c in b["flapok"].checks(sc.t0) if c.status]) >= 3
            if (all(unhealthy(g, n) for g, n in (("killed", "killed"), ("hang", "hang"),
                                                  ("code503", "code503"), ("traffic", "tb"),
                                                  ("failopen", "fa"), ("failopen", "fb")))
                    and unhealthy("tcpbad", sc.tcp_closed_port) and recovered and flapbad_done
                    and flapok_done and now - sc.t0 > 2):
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the last check's verdict reaches the watcher
        stop_traffic.set()
        tthread.join(15)
        sc.t_end = time.monotonic()

        # Fail-open, checks disabled, TCP-checked group: does traffic get through?
        with session() as sess:
            sc.failopen = [(r.status_code, r.headers.get("X-Sluice-Target"))
                           for r in (sess.get(s.url("/g/failopen/x"), timeout=10)
                                     for _ in range(30))]
            sc.disabled = [(r.status_code, r.headers.get("X-Sluice-Target"))
                           for r in (sess.get(s.url("/g/disabled/x"), timeout=10)
                                     for _ in range(5))]
            sc.tcpok = [(r.status_code, r.headers.get("X-Sluice-Target"))
                        for r in (sess.get(s.url("/g/tcpok/x"), timeout=10) for _ in range(3))]

        # The admin endpoint and the CLI, while the states are settled.
        sc.all = admin_get(sc.admin, "/targets")
        sc.one = {g: admin_get(sc.admin, f"/targets/{g}")
                  for g in ("healthy", "code503", "disabled", "failopen")}
        sc.cli_table = subprocess.run([SLUICE_BIN, "targets", "--admin", f"{LOCAL}:{sc.admin}"],
                                      capture_output=True, text=True, timeout=20)
        sc.cli_json = subprocess.run(
            [SLUICE_BIN, "targets", "--admin", f"{LOCAL}:{sc.admin}", "--json"],
            capture_output=True, text=True, timeout=20)
        sc.all_after_cli = admin_get(sc.admin, "/targets")
        yield sc
    finally:
        stop_traffic.set()
        watcher.stop()
        s.proc.stop(timeout=10)
        for x in b.values():
            x.kill()


def _timeline_after(sc, group, port, t):
    """States (state, reason, description) shown at or after t, with the one in force at t."""
    tl = sc.watcher.timeline(group, port)
    out = []
    for i, (ts, *rest) in enumerate(tl):
        nxt = tl[i + 1][0] if i + 1 < len(tl) else float("inf")
        if nxt > t:
            out.append(tuple(rest))
    return out


def _first(sc, group, port, state, after):
    return sc.watcher.first_seen(group, port, state, after)


# ---------------------------------------------------------------------------------------------


def test_watcher_saw_the_run(scenario):
    sc = scenario
    assert not sc.watcher.errors[:3], sc.watcher.errors[:3]
    assert len(sc.watcher.snapshots()) > 50
    assert not sc.traffic_errors, sc.traffic_errors[:3]


def test_healthy_target_json_shape(scenario):
    sc = scenario
    status, _, doc = sc.one["healthy"]
    assert status == 200
    p = sc.b["healthy"].port
    assert doc == {"TargetHealthDescriptions": [{
        "Target": {"Id": LOCAL, "Port": p}, "HealthCheckPort": str(p),
        "TargetHealth": {"State": "healthy"}}]}, doc
    # It stayed healthy all along (after its first check).
    states = {s for s, _, _ in _timeline_after(sc, "healthy", p, sc.t0)}
    assert states == {"healthy"}, sc.watcher.timeline("healthy", p)


def test_unhealthy_row_json_shape(scenario):
    sc = scenario
    status, _, doc = sc.one["code503"]
    p = sc.b["code503"].port
    assert status == 200
    assert doc == {"TargetHealthDescriptions": [{
        "Target": {"Id": LOCAL, "Port": p}, "HealthCheckPort": str(p),
        "TargetHealth": {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                         "Description": "Health checks failed with these codes: [503]"}}]}, doc


def test_killed_target_failed_health_checks(scenario):
    sc = scenario
    p = sc.b["killed"].port
    tl = _timeline_after(sc, "killed", p, sc.t0)
    assert tl == [("healthy", None, None),
                  ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")], \
        sc.watcher.timeline("killed", p)
    t = _first(sc, "killed", p, "unhealthy", sc.t0)
    # Two failed checks, at most two intervals (plus scheduling slack) after the kill.
    assert t - sc.t0 <= 2 * INTERVAL + 3, t - sc.t0


def test_hanging_health_check_is_a_timeout(scenario):
    sc = scenario
    hb = sc.b["hang"]
    tl = _timeline_after(sc, "hang", hb.port, sc.t0)
    assert tl == [("healthy", None, None),
                  ("unhealthy", "Target.Timeout", "Request timed out")], \
        sc.watcher.timeline("hang", hb.port)
    t = _first(sc, "hang", hb.port, "unhealthy", sc.t0)
    hung = [c.t for c in hb.checks(sc.t0) if c.t < t]
    assert len(hung) >= 2, (hung, t)
    # The verdict came HealthCheckTimeoutSeconds after the second hanging check began.
    assert TIMEOUT - 0.3 <= t - hung[-1] <= TIMEOUT + 1.5, (t - hung[-1])


def test_wrong_status_is_response_code_mismatch(scenario):
    sc = scenario
    cb = sc.b["code503"]
    tl = _timeline_after(sc, "code503", cb.port, sc.t0)
    assert tl == [("healthy", None, None),
                  ("unhealthy", "Target.ResponseCodeMismatch",
                   "Health checks failed with these codes: [503]")], \
        sc.watcher.timeline("code503", cb.port)


def test_unhealthy_only_after_threshold_failures(scenario):
    """UnhealthyThresholdCount 2: one failed check leaves the target healthy."""
    sc = scenario
    for name, group in (("code503", "code503"), ("tb", "traffic"), ("recover", "recover")):
        be = sc.b[name]
        t = _first(sc, group, be.port, "unhealthy", sc.t0)
        assert t is not None, name
        failed = [c for c in be.checks(sc.t0) if c.t < t and c.status == 503]
        assert len(failed) >= 2, (name, [(c.t - sc.t0, c.status) for c in be.checks(sc.t0)])
        # And it was still shown healthy after the first failure had been answered.
        still = [ts for ts, rows in sc.watcher.snapshots()
                 if failed[0].t + 0.2 < ts < failed[1].t - 0.1]
        assert still, name
        for ts in still:
            th = dict(sc.watcher.snapshots())[ts].get((group, LOCAL, be.port))
            assert th["State"] == "healthy", (name, ts - sc.t0, th)


def test_recovery_after_healthy_threshold(scenario):
    """Unhealthy → healthy needs HealthyThresholdCount (2) consecutive successes, not one."""
    sc = scenario
    rb = sc.b["recover"]
    assert sc.t_recover_switch is not None, sc.watcher.timeline("recover", rb.port)
    t_healthy = _first(sc, "recover", rb.port, "healthy", sc.t_recover_switch)
    assert t_healthy is not None, sc.watcher.timeline("recover", rb.port)
    ok = [c for c in rb.checks(sc.t_recover_switch) if c.status == 200]
    before = [c for c in ok if c.t < t_healthy]
    assert len(before) >= 2, ([c.t - sc.t_recover_switch for c in ok],
                              t_healthy - sc.t_recover_switch)
    # ... and exactly at the second one: a third success was not needed.
    after_second = [c for c in ok if c.t > before[1].t]
    if after_second:
        assert t_healthy < after_second[0].t, sc.watcher.timeline("recover", rb.port)
    tl = _timeline_after(sc, "recover", rb.port, sc.t_recover_switch)
    assert tl[0][0] == "unhealthy" and tl[-1] == ("healthy", None, None), tl
    assert [s for s, _, _ in tl] == ["unhealthy", "healthy"], tl


def test_flapping_never_reaches_thresholds(scenario):
    sc = scenario
    fo, fb = sc.b["flapok"], sc.b["flapbad"]
    # Healthy target answering 503, 200, 503, ...: never two failures in a row.
    statuses = [c.status for c in fo.checks(sc.t0) if c.status]
    assert len(statuses) >= 3 and 503 in statuses and 200 in statuses, statuses
    tl = _timeline_after(sc, "flapok", fo.port, sc.t0)
    assert {s for s, _, _ in tl} == {"healthy"}, sc.watcher.timeline("flapok", fo.port)
    # Unhealthy target answering 200, 503, 200, ...: never two successes in a row.
    assert sc.t_flapbad_switch is not None, sc.watcher.timeline("flapbad", fb.port)
    statuses = [c.status for c in fb.checks(sc.t_flapbad_switch) if c.status]
    assert len(statuses) >= 3 and statuses.count(200) >= 2, statuses
    tl = _timeline_after(sc, "flapbad", fb.port, sc.t_flapbad_switch)
    assert {s for s, _, _ in tl} == {"unhealthy"}, sc.watcher.timeline("flapbad", fb.port)


def test_health_checks_disabled_unavailable_and_routed(scenario):
    sc = scenario
    db = sc.b["disabled"]
    status, _, doc = sc.one["disabled"]
    assert status == 200
    assert doc == {"TargetHealthDescriptions": [{
        "Target": {"Id": LOCAL, "Port": db.port}, "HealthCheckPort": str(db.port),
        "TargetHealth": {"State": "unavailable", "Reason": "Target.HealthCheckDisabled",
                         "Description": "Health checks are disabled"}}]}, doc
    assert sc.disabled == [(200, "disabled")] * 5, sc.disabled
    assert db.checks() == [], "a target with checks disabled was health-checked"


def test_all_unhealthy_fails_open(scenario):
    sc = scenario
    for n in ("fa", "fb"):
        # Failing from registration on: initial, then unhealthy after two failed checks.
        tl = [tuple(x[1:]) for x in sc.watcher.timeline("failopen", sc.b[n].port)]
        assert tl[-1] == ("unhealthy", "Target.ResponseCodeMismatch",
                          "Health checks failed with these codes: [503]"), tl
        assert {x[0] for x in tl[:-1]} <= {"initial"}, tl
        assert len([c for c in sc.b[n].checks() if c.status == 503]) >= 2
    assert all(st == 200 for st, _ in sc.failopen), sc.failopen
    assert Counter(t for _, t in sc.failopen) == Counter({"fa": 15, "fb": 15}), sc.failopen


def test_no_request_to_target_after_it_is_marked_unhealthy(scenario):
    """Every client request records when it was sent (X-Sent, this process's monotonic
    clock). None sent after the admin endpoint first showed tb unhealthy may reach tb."""
    sc = scenario
    ta, tb = sc.b["ta"], sc.b["tb"]
    t_unhealthy = _first(sc, "traffic", tb.port, "unhealthy", sc.t0)
    assert t_unhealthy is not None, sc.watcher.timeline("traffic", tb.port)
    assert all(st == 200 for _, st, _ in sc.traffic), Counter(st for _, st, _ in sc.traffic)
    sent_to_tb = [float(r.header("X-Sent")) for r in tb.traffic()]
    assert any(t < sc.t0 for t in sent_to_tb), "tb got no traffic while healthy"
    late = [t - t_unhealthy for t in sent_to_tb if t > t_unhealthy]
    assert late == [], f"{len(late)} requests sent after tb was unhealthy reached it: {late[:5]}"
    after = [t for t, _, _ in sc.traffic if t > t_unhealthy]
    assert len(after) >= 20, "too little traffic after the verdict to judge"
    assert len([r for r in ta.traffic() if float(r.header("X-Sent")) > t_unhealthy]) == \
        len(after)


def test_tcp_health_checks(scenario):
    sc = scenario
    tb = sc.b["tcpok"]
    assert sc.watcher.latest("tcpok", tb.port) == {"State": "healthy"}
    assert sc.tcpok == [(200, "tcpok")] * 3
    # A TCP check only connects: no HTTP request (its /health would have said 503).
    assert tb.checks() == [], [(c.method, c.path) for c in tb.checks()]
    assert tb.connections >= 2
    assert sc.watcher.latest("tcpbad", sc.tcp_closed_port) == {
        "State": "unhealthy", "Reason": "Target.FailedHealthChecks",
        "Description": "Health checks failed"}


def test_matcher_code_list(scenario):
    sc = scenario
    assert sc.watcher.latest("matcher", sc.b["matcher"].port) == {"State": "healthy"}
    assert {c.status for c in sc.b["matcher"].checks()} == {202}


def test_health_check_request(scenario):
    """GET <path> HTTP/1.1, User-Agent ELB-HealthChecker/2.0, Host = target ip:port, one
    connection per check, every HealthCheckIntervalSeconds."""
    sc = scenario
    hb = sc.b["healthy"]
    checks = hb.checks()
    assert len(checks) >= 3
    for c in checks:
        assert c.method == "GET" and c.path == "/health", (c.method, c.path)
        assert c.header("User-Agent") == "ELB-HealthChecker/2.0", c.headers
        assert c.header("Host") == f"{LOCAL}:{hb.port}", c.headers
    # One connection per check. Read after the checks were listed, the count may include the
    # next probe, connected but not yet read by the backend (seen once under a loaded CI).
    conns = hb.connections
    assert len(checks) <= conns <= len(checks) + 1, (conns, len(checks))
    gaps = [b.t - a.t for a, b in zip(checks[1:], checks[2:])]  # after the immediate first
    assert all(INTERVAL - 1.0 <= g <= INTERVAL + 1.5 for g in gaps), gaps


def test_sluice_targets_table(scenario):
    sc = scenario
    r = sc.cli_table
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["GROUP", "TARGET", "PORT", "STATE", "REASON", "DESCRIPTION"]
    rows = {}
    for line in lines[1:]:
        parts = line.split(None, 5)
        rows[(parts[0], int(parts[2]))] = parts
    b = sc.b
    assert rows[("healthy", b["healthy"].port)] == [
        "healthy", LOCAL, str(b["healthy"].port), "healthy", "-", "-"]
    assert rows[("code503", b["code503"].port)] == [
        "code503", LOCAL, str(b["code503"].port), "unhealthy", "Target.ResponseCodeMismatch",
        "Health checks failed with these codes: [503]"]
    assert rows[("disabled", b["disabled"].port)][3:] == [
        "unavailable", "Target.HealthCheckDisabled", "Health checks are disabled"]
    total = sum(len(g["TargetHealthDescriptions"]) for g in sc.all[2]["TargetGroups"])
    assert len(lines) == 1 + total
    # Columns line up: every row's STATE starts where the header's does.
    col = lines[0].index("STATE")
    assert all(line[col:].split()[0] in ("healthy", "unhealthy", "unavailable", "initial",
                                         "draining") for line in lines[1:]), lines
    # --json prints the endpoint's document.
    j = sc.cli_json
    assert j.returncode == 0, j.stderr
    assert json.loads(j.stdout) == sc.all_after_cli[2]


def test_sluice_targets_unreachable_admin():
    port = free_port()
    r = subprocess.run([SLUICE_BIN, "targets", "--admin", f"{LOCAL}:{port}"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert f"{LOCAL}:{port}" in r.stderr, r.stderr


def test_admin_endpoint_paths(scenario):
    sc = scenario
    status, _, doc = sc.all
    assert status == 200
    names = [g["TargetGroupName"] for g in doc["TargetGroups"]]
    assert names == ["healthy", "killed", "hang", "code503", "flapok", "flapbad", "recover",
                     "traffic", "failopen", "matcher", "disabled", "tcpok", "tcpbad"], names
    status, _, one = sc.one["failopen"]
    assert status == 200
    assert [d["Target"]["Port"] for d in one["TargetHealthDescriptions"]] == [
        sc.b["fa"].port, sc.b["fb"].port]
    status, body, err = admin_get(sc.admin, "/targets/no-such-group")
    assert status == 404, body
    assert err["Error"]["Code"] == "TargetGroupNotFound", body
    assert admin_get(sc.admin, "/ping")[:2] == (200, "ok\n")
    assert admin_get(sc.admin, "/targets", method="POST")[0] == 405
    assert admin_get(sc.admin, "/nothing-here")[0] == 404


# ---------------------------------------------------------------------------------------------


def test_new_target_by_reload_starts_initial(sluice, controlled, http):
    """A target registered by a reload is `initial` (no traffic) until its first check passes,
    then healthy after that ONE check (reference §2.3); the others are undisturbed."""
    a = controlled("a")
    n = controlled("n")
    n.set_health("delay", delay=1.5)  # its first check takes 1.5 s (timeout is 2 s)
    port = free_port()
    admin = free_port()
    cfg = lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [a.port], health=True, **fast_health())])
    s = sluice(cfg, args=("--admin", f"{LOCAL}:{admin}"))
    assert admin_port_of(s) == admin
    wait_health(admin, "tg", a.port, "healthy", 10)
    cfg2 = lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [a.port, n.port], health=True, **fast_health())])
    t_reload = time.monotonic()
    s.reload(cfg2)
    th = target_health(admin, "tg", n.port)
    assert th is not None and th["State"] == "initial", th
    assert (th["Reason"], th["Description"]) in (
        ("Elb.RegistrationInProgress", "Target registration is in progress"),
        ("Elb.InitialHealthChecking", "Initial health checks in progress")), th
    # While initial it gets no requests (the group has a healthy target).
    picks = Counter(http.get(s.url("/x"), timeout=10).headers["X-Sluice-Target"]
                    for _ in range(10))
    th_after = target_health(admin, "tg", n.port)
    assert th_after["State"] == "initial", "too slow to judge: the first check already ended"
    assert th_after["Reason"] == "Elb.InitialHealthChecking", th_after
    assert picks == Counter({"a": 10}), picks
    assert target_health(admin, "tg", a.port) == {"State": "healthy"}
    # One passing check makes it healthy.
    wait_health(admin, "tg", n.port, "healthy", 2 * INTERVAL)
    assert len(n.checks(t_reload)) == 1, [c.t - t_reload for c in n.checks(t_reload)]
    picks = Counter(http.get(s.url("/x"), timeout=10).headers["X-Sluice-Target"]
                    for _ in range(20))
    assert picks == Counter({"a": 10, "n": 10}), picks
