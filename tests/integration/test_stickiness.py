"""Sticky sessions (reference §2.7 and §1.5 forward): duration-based AWSALB/AWSALBCORS cookies,
application-based AWSALBAPP-0 cookies, and target-group stickiness (AWSALBTG/AWSALBTGCORS) on a
weighted forward. Cookie values are opaque; the tests only check where requests go, which
cookies come back, and that anything forged or altered is ignored without an error."""

import email.utils
import http.cookiejar
import time
import urllib.parse
from collections import Counter

import requests

from conftest import (LOCAL, fast_health, forward, free_port, lb_config, path_is, rule,
                      target_group, wait_health)

WEEK = 7 * 86400


def lb_sticky(duration=None):
    attrs = {"stickiness.enabled": "true", "stickiness.type": "lb_cookie"}
    if duration is not None:
        attrs["stickiness.lb_cookie.duration_seconds"] = str(duration)
    return attrs


def app_sticky(name="SESSION"):
    return {"stickiness.enabled": "true", "stickiness.type": "app_cookie",
            "stickiness.app_cookie.cookie_name": name}


def set_cookies(r) -> list[str]:
    """Every Set-Cookie header of a requests response, unmerged."""
    return r.raw.headers.getlist("Set-Cookie")


def parse_set_cookie(line: str):
    """('NAME', 'value', {'expires': ..., 'path': ..., 'samesite': ..., 'secure': True})"""
    first, *attrs = [p.strip() for p in line.split(";")]
    name, _, value = first.partition("=")
    out = {}
    for a in attrs:
        k, eq, v = a.partition("=")
        out[k.lower()] = v if eq else True
    return name, value, out


class Client:
    """A browser-like client over plain HTTP: keeps the cookies it is given (not the Secure
    ones, unless `secure`), sends them back, and records where each request went."""

    def __init__(self, s, secure=False):
        self.s = s
        self.secure = secure
        self.http = requests.Session()
        self.http.trust_env = False
        # requests' own jar would send cookies behind our back; this client is the jar.
        self.http.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self.jar: dict[str, str] = {}
        self.seen: list[str] = []
        self.last = None

    def get(self, path="/x", extra_cookies: dict | None = None, keep=True, **kw):
        jar = dict(self.jar)
        jar.update(extra_cookies or {})
        headers = kw.pop("headers", {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        r = self.http.get(self.s.url(path), headers=headers, timeout=10, **kw)
        assert r.status_code == 200, (r.status_code, r.text[:200])
        if keep:
            for line in set_cookies(r):
                name, value, attrs = parse_set_cookie(line)
                if attrs.get("secure") and not self.secure:
                    continue
                self.jar[name] = value
        self.seen.append(r.headers.get("X-Sluice-Target"))
        self.last = r
        return r

    def close(self):
        self.http.close()


def clients_until(s, want_distinct: int, limit: int = 30, **kw):
    """Fresh clients, one request each, until `want_distinct` targets were seen."""
    out = {}
    for _ in range(limit):
        c = Client(s, **kw)
        c.get()
        out.setdefault(c.seen[-1], c)
        if len(out) >= want_distinct:
            break
    return out


def alter(value: str) -> str:
    """Changes one character in the middle of a cookie value (stays cookie-safe)."""
    i = len(value) // 2
    return value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1:]


# ---------------------------------------------------------------------------------------------
# lb_cookie


def test_lb_cookie_keeps_a_client_on_one_target(sluice, demo_targets):
    ts = [demo_targets(f"t{i}") for i in range(3)]
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [t.port for t in ts], algorithm="round_robin",
                     attributes=lb_sticky())]))
    c = Client(s)
    for _ in range(100):
        c.get()
    assert len(set(c.seen)) == 1, Counter(c.seen)
    assert "AWSALB" in c.jar
    # Also on new connections: stickiness is in the cookie, not the connection.
    for _ in range(10):
        c.get(headers={"Connection": "close"})
    assert len(set(c.seen)) == 1, Counter(c.seen)
    # Other clients are spread by the algorithm and stick to their own targets.
    others = clients_until(s, 3)
    assert set(others) == {"t0", "t1", "t2"}, list(others)
    for name, o in others.items():
        for _ in range(20):
            o.get()
        assert set(o.seen) == {name}, Counter(o.seen)
    # Without cookies round robin continues as usual.
    plain = Client(s)
    for _ in range(30):
        plain.get(keep=False)
    assert Counter(plain.seen) == Counter({"t0": 10, "t1": 10, "t2": 10}), Counter(plain.seen)


def test_lb_cookie_attributes(sluice, demo_targets):
    ts = [demo_targets(f"t{i}") for i in range(2)]
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [t.port for t in ts], attributes=lb_sticky())]))
    c = Client(s)
    for _ in range(2):  # the first response and a refreshed one
        r = c.get()
        lines = set_cookies(r)
        assert len(lines) == 2, lines
        (n1, v1, a1), (n2, v2, a2) = (parse_set_cookie(x) for x in lines)
        assert (n1, n2) == ("AWSALB", "AWSALBCORS"), lines
        assert v1 and v2, lines
        assert set(a1) == {"expires", "path"}, lines  # Expires, never Max-Age
        assert set(a2) == {"expires", "path", "samesite", "secure"}, lines
        assert a1["path"] == a2["path"] == "/"
        assert a2["samesite"] == "None" and a2["secure"] is True
        assert a1["expires"] == a2["expires"]
        assert a1["expires"].endswith(" GMT") and len(a1["expires"]) == 29, a1["expires"]
        expires = email.utils.parsedate_to_datetime(a1["expires"]).timestamp()
        assert abs(expires - (time.time() + WEEK)) < 120, a1["expires"]


def test_cors_cookie_has_the_same_value(sluice, demo_targets):
    """§2.7: AWSALBCORS carries the value of AWSALB (and AWSALBTGCORS that of AWSALBTG)."""
    a, b = demo_targets("a"), demo_targets("b")
    port = free_port()
    s = sluice(lb_config(port, weighted_sticky([("ga", 1), ("gb", 1)]), target_groups=[
        target_group("ga", [a.port], attributes=lb_sticky()),
        target_group("gb", [b.port], attributes=lb_sticky())]))
    r = Client(s).get()
    values = {n: v for n, v, _ in map(parse_set_cookie, set_cookies(r))}
    assert set(values) == {"AWSALB", "AWSALBCORS", "AWSALBTG", "AWSALBTGCORS"}, values
    assert values["AWSALBCORS"] == values["AWSALB"] and \
        values["AWSALBTGCORS"] == values["AWSALBTG"], f"different values: {values}"


def test_lb_cookie_cors_variant_wins(sluice, demo_targets):
    ts = [demo_targets(f"t{i}") for i in range(3)]
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [t.port for t in ts], attributes=lb_sticky())]))
    stuck = clients_until(s, 2)
    (na, ca), (nb, cb) = list(stuck.items())[:2]
    va, vb = ca.jar["AWSALB"], cb.jar["AWSALB"]
    probe = Client(s)
    for cookies in ({"AWSALB": va, "AWSALBCORS": vb}, {"AWSALBCORS": vb, "AWSALB": va}):
        for _ in range(5):
            probe.get(extra_cookies=cookies, keep=False)
    assert set(probe.seen) == {nb}, (probe.seen, na, nb)
    # An invalid CORS cookie does not hide a valid AWSALB one.
    for _ in range(5):
        probe.get(extra_cookies={"AWSALBCORS": "garbage", "AWSALB": va}, keep=False)
    assert set(probe.seen[-5:]) == {na}, probe.seen


def test_forged_or_altered_cookie_is_ignored(sluice, demo_targets):
    ts = [demo_targets(f"t{i}") for i in range(3)]
    port = free_port()
    s = sluice(lb_config(port, forward("a"), rules=[
        rule(10, [path_is("/b/*")], forward("b"))], target_groups=[
        target_group("a", [t.port for t in ts], attributes=lb_sticky()),
        target_group("b", [t.port for t in ts], attributes=lb_sticky())]))
    c = Client(s)
    c.get()
    good = c.jar["AWSALB"]
    for _ in range(5):
        c.get(keep=False)
    assert len(set(c.seen)) == 1
    forged = {
        "altered": alter(good),
        "truncated": good[:-4],
        "extended": good + "AAAA",
        "garbage": "not-a-real-cookie",
        "empty": "",
        "long": "A" * 3000,
        "percent-encoded": urllib.parse.quote(good + "=", safe=""),
    }
    for label, value in forged.items():
        probe = Client(s)
        for _ in range(9):
            r = probe.get(extra_cookies={"AWSALB": value}, keep=False)
            names = [parse_set_cookie(x)[0] for x in set_cookies(r)]
            assert names == ["AWSALB", "AWSALBCORS"], (label, names)
            fresh = parse_set_cookie(set_cookies(r)[0])[1]
            assert fresh != value, label
        # Not honoured: the requests are spread as if there were no cookie...
        assert len(set(probe.seen)) > 1, (label, probe.seen)
        # ...and the new cookie the balancer handed out is honoured.
        stuck = Client(s)
        stuck.get(extra_cookies={"AWSALB": value})
        for _ in range(5):
            stuck.get()
        assert len(set(stuck.seen)) == 1, (label, stuck.seen)
    # A genuine cookie of target group "a" means nothing to group "b" (same target ports).
    probe = Client(s)
    for _ in range(9):
        probe.get("/b/x", extra_cookies={"AWSALB": good}, keep=False)
    assert len(set(probe.seen)) > 1, probe.seen


def test_lb_cookie_duration_is_enforced_inside_the_value(sluice, demo_targets):
    ts = [demo_targets(f"t{i}") for i in range(3)]
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [t.port for t in ts], attributes=lb_sticky(duration=2))]))
    c = Client(s)
    r = c.get()
    value = c.jar["AWSALB"]
    expires = parse_set_cookie(set_cookies(r)[0])[2]["expires"]
    # The cookie's Expires is still a week (the duration lives inside the value).
    assert abs(email.utils.parsedate_to_datetime(expires).timestamp() - time.time() - WEEK) < 120
    probe = Client(s)
    for _ in range(6):
        probe.get(extra_cookies={"AWSALB": value}, keep=False)
    assert set(probe.seen) == {c.seen[0]}, probe.seen
    time.sleep(3.2)
    probe.seen.clear()
    for _ in range(9):
        probe.get(extra_cookies={"AWSALB": value}, keep=False)
    assert len(set(probe.seen)) > 1, f"an expired stickiness value was still honoured: {probe.seen}"


def test_client_moves_when_its_target_dies_and_stays(sluice, controlled):
    bs = [controlled(f"b{i}") for i in range(3)]
    port, admin = free_port(), free_port()
    cfg = lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [b.port for b in bs], attributes=lb_sticky(), health=True,
                     **fast_health())])
    cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    s = sluice(cfg)
    for b in bs:
        wait_health(admin, "tg", b.port, "healthy", 10)
    c = Client(s)
    for _ in range(10):
        c.get()
    assert len(set(c.seen)) == 1
    dead = next(b for b in bs if b.name == c.seen[0])
    old_cookie = c.jar["AWSALB"]
    dead.kill()
    wait_health(admin, "tg", dead.port, "unhealthy", 15)
    c.seen.clear()
    r = c.get()
    assert c.jar["AWSALB"] != old_cookie, "no new cookie after the move"
    assert set_cookies(r), "no Set-Cookie after the move"
    for _ in range(30):
        c.get()
    assert len(set(c.seen)) == 1 and c.seen[0] != dead.name, Counter(c.seen)
    # When every target is unhealthy the group fails open, and stuck clients stay put.
    new_home = c.seen[0]
    for b in bs:
        if b is not dead:
            b.set_health("status", 503)
    for b in bs:
        if b is not dead:
            wait_health(admin, "tg", b.port, "unhealthy", 15)
    c.seen.clear()
    for _ in range(20):
        c.get()
    assert set(c.seen) == {new_home}, Counter(c.seen)


def test_cookie_for_a_deregistered_target_is_rewritten(sluice, demo_targets):
    ts = [demo_targets(f"t{i}") for i in range(3)]
    port = free_port()

    def cfg(members):
        return lb_config(port, forward("tg"), target_groups=[target_group(
            "tg", [t.port for t in members],
            attributes={**lb_sticky(), "deregistration_delay.timeout_seconds": "30"})])

    s = sluice(cfg(ts))
    c = Client(s)
    for _ in range(5):
        c.get()
    stuck = c.seen[0]
    assert set(c.seen) == {stuck}
    s.reload(cfg([t for t in ts if t.name != stuck]))  # stuck target now draining
    c.seen.clear()
    for _ in range(20):
        c.get()
    assert len(set(c.seen)) == 1 and c.seen[0] != stuck, Counter(c.seen)


# ---------------------------------------------------------------------------------------------
# app_cookie


def test_app_cookie_flow(sluice, controlled):
    bs = [controlled(f"b{i}") for i in range(3)]
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [b.port for b in bs], attributes=app_sticky())]))
    c = Client(s)
    # No application cookie yet: no stickiness cookie, round robin.
    for _ in range(6):
        r = c.get("/page")
        assert set_cookies(r) == [], set_cookies(r)
    assert len(set(c.seen)) == 3, c.seen
    # The target sets SESSION: passed through untouched, plus AWSALBAPP-0 naming the target.
    r = c.get("/login?set_cookie=SESSION%3Dabc123%3B%20Path%3D%2F%3B%20HttpOnly")
    owner = c.seen[-1]
    lines = set_cookies(r)
    assert "SESSION=abc123; Path=/; HttpOnly" in lines, lines
    app = [parse_set_cookie(x) for x in lines if x.startswith("AWSALBAPP-0=")]
    assert len(app) == 1, lines
    name, value, attrs = app[0]
    assert value and attrs.get("path") == "/", lines
    exp = email.utils.parsedate_to_datetime(attrs["expires"]).timestamp()
    assert abs(exp - time.time() - WEEK) < 120, attrs
    assert not any(x.startswith("AWSALB=") for x in lines), lines
    # Requests carrying the cookies go to that target; the LB cookie is refreshed each time.
    c.seen.clear()
    for _ in range(30):
        r = c.get("/page")
        assert any(x.startswith("AWSALBAPP-0=") for x in set_cookies(r)), set_cookies(r)
    assert set(c.seen) == {owner}, Counter(c.seen)
    # The application cookie alone does not stick; an altered AWSALBAPP-0 is ignored.
    probe = Client(s)
    for _ in range(6):
        probe.get("/page", extra_cookies={"SESSION": "abc123"}, keep=False)
    for _ in range(6):
        probe.get("/page", extra_cookies={"SESSION": "abc123",
                                          "AWSALBAPP-0": alter(c.jar["AWSALBAPP-0"])},
                  keep=False)
    assert len(set(probe.seen[:6])) > 1 and len(set(probe.seen[6:])) > 1, probe.seen


def test_app_cookie_session_stays_on_new_target_after_failover(sluice, controlled):
    """§2.7: when the stuck target fails a new one is chosen, and the session stays on the new
    target even after the old one is back. Here the stuck target is deregistered (delay 0) and
    then registered again."""
    a, b = controlled("a"), controlled("b")
    port = free_port()

    def cfg(members):
        return lb_config(port, forward("tg"), target_groups=[target_group(
            "tg", [m.port for m in members],
            attributes={**app_sticky(), "deregistration_delay.timeout_seconds": "0"})])

    s = sluice(cfg([a, b]))
    c = Client(s)
    for _ in range(4):
        c.get("/login?set_cookie=SESSION%3Dxyz")
        if c.seen[-1] == "a":
            break
        c.jar.clear()
    assert c.seen[-1] == "a" and "AWSALBAPP-0" in c.jar, (c.seen, c.jar)
    s.reload(cfg([b]))
    for _ in range(3):
        c.get("/page")
    assert c.seen[-3:] == ["b"] * 3
    s.reload(cfg([a, b]))
    c.seen.clear()
    for _ in range(10):
        c.get("/page")
    assert set(c.seen) == {"b"}, (
        f"after failing over to b and a's return the session went to {Counter(c.seen)}; "
        f"cookies the client holds: {sorted(c.jar)}")


# ---------------------------------------------------------------------------------------------
# Target-group stickiness on a weighted forward


def weighted_sticky(groups, duration=3600):
    return {"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupName": g, "Weight": w} for g, w in groups],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": duration}}}


def test_target_group_stickiness_awsalbtg(sluice, demo_targets):
    a, b = demo_targets("ga-1"), demo_targets("gb-1")
    port = free_port()
    s = sluice(lb_config(port, weighted_sticky([("ga", 50), ("gb", 50)]), target_groups=[
        target_group("ga", [a.port]), target_group("gb", [b.port])]))
    c = Client(s)
    r = c.get()
    lines = set_cookies(r)
    assert len(lines) == 2, lines
    (n1, v1, a1), (n2, v2, a2) = (parse_set_cookie(x) for x in lines)
    assert (n1, n2) == ("AWSALBTG", "AWSALBTGCORS") and v1 and v2, lines
    assert set(a1) == {"expires", "path"} and a1["path"] == "/", lines
    assert a2.get("samesite") == "None" and a2.get("secure") is True, lines
    exp = email.utils.parsedate_to_datetime(a1["expires"]).timestamp()
    assert abs(exp - time.time() - WEEK) < 120, a1
    for _ in range(50):
        r = c.get()
        assert [parse_set_cookie(x)[0] for x in set_cookies(r)] == ["AWSALBTG", "AWSALBTGCORS"]
    assert len(set(c.seen)) == 1, Counter(c.seen)
    # Fresh clients are split by weight, and each sticks to its group.
    others = clients_until(s, 2, limit=40)
    assert set(others) == {"ga-1", "gb-1"}, list(others)
    for name, o in others.items():
        for _ in range(20):
            o.get()
        assert set(o.seen) == {name}, Counter(o.seen)
    # The CORS variant wins; an altered value is ignored.
    va, vb = others["ga-1"].jar["AWSALBTG"], others["gb-1"].jar["AWSALBTG"]
    probe = Client(s)
    for _ in range(5):
        probe.get(extra_cookies={"AWSALBTG": va, "AWSALBTGCORS": vb}, keep=False)
    assert set(probe.seen) == {"gb-1"}, probe.seen
    probe.seen.clear()
    for _ in range(16):
        probe.get(extra_cookies={"AWSALBTG": alter(va)}, keep=False)
    assert set(probe.seen) == {"ga-1", "gb-1"}, probe.seen
