"""Process lifecycle: SIGHUP reload under load (good and broken configs), keep-alive
connections across reloads, and graceful SIGTERM with requests in flight."""

import signal
import socket
import threading
import time
from collections import Counter

import pytest
import requests

from conftest import (HttpConn, IncompleteResponse, fixed, forward, free_port, lb_config,
                      path_is, rule, target_group, wait_until)


def make_session():
    s = requests.Session()
    s.trust_env = False
    return s


class LoadClients:
    """One sequential keep-alive client plus a few parallel ones (some keep-alive, some with
    a new connection per request), each running until stopped (bounded by `limit` seconds).
    Records every failure and, per path prefix, which target/body answered."""

    def __init__(self, s, paths, parallel: int = 3, limit: float = 20.0):
        self.s = s
        self.paths = paths
        self.stop = threading.Event()
        self.limit = limit
        self.failures: list = []
        self.ok = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i, True), daemon=True)
                        for i in range(1 + parallel)]
        # The last parallel client opens a new connection for every request.
        self.threads[-1] = threading.Thread(target=self._run, args=(parallel, False),
                                            daemon=True)

    def _run(self, idx, keep_alive):
        deadline = time.monotonic() + self.limit
        sess = make_session()
        i = 0
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                path = self.paths[(idx + i) % len(self.paths)]
                i += 1
                try:
                    if keep_alive:
                        r = sess.get(self.s.url(path), timeout=10)
                    else:
                        r = requests.get(self.s.url(path), timeout=10,
                                         headers={"Connection": "close"},
                                         proxies={"http": None})
                    if r.status_code != 200:
                        with self.lock:
                            self.failures.append((path, r.status_code, r.text[:200]))
                    else:
                        with self.lock:
                            self.ok += 1
                except Exception as e:  # noqa: BLE001
                    with self.lock:
                        self.failures.append((path, repr(e)))
        finally:
            sess.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(15)


def test_reload_under_load_zero_failures(sluice, demo_targets):
    a, b, c = demo_targets("a"), demo_targets("b"), demo_targets("c")
    port = free_port()
    tgs = [target_group("g1", [a.port, b.port]), target_group("g2", [c.port])]
    cfg0 = lb_config(port, forward("g1"), target_groups=tgs)
    s = sluice(cfg0)
    # Reload 1: a new rule. Reload 2: the default action moves to another target group.
    # Reload 3: the target group g2 changes its membership.
    cfg1 = lb_config(port, forward("g1"), rules=[rule(10, [path_is("/new/*")],
                                                      fixed("200", "new-rule"))],
                     target_groups=tgs)
    cfg2 = lb_config(port, forward("g2"), rules=[rule(10, [path_is("/new/*")],
                                                      fixed("200", "new-rule"))],
                     target_groups=tgs)
    tgs3 = [target_group("g1", [a.port, b.port]), target_group("g2", [c.port, a.port])]
    cfg3 = lb_config(port, forward("g2"), rules=[rule(10, [path_is("/new/*")],
                                                      fixed("200", "new-rule"))],
                     target_groups=tgs3)
    with LoadClients(s, ["/x", "/new/y", "/z?delay_ms=20"]) as load:
        time.sleep(1.0)
        s.reload(cfg1)
        time.sleep(1.3)
        s.reload(cfg2)
        time.sleep(1.3)
        s.reload(cfg3)
        time.sleep(1.3)
    assert load.ok > 100, load.ok
    assert load.failures == [], load.failures[:10]
    assert s.log().count("reload applied") == 3
    assert s.proc.alive()

    # The final config is in effect, also on an existing keep-alive connection.
    with make_session() as sess:
        r = sess.get(s.url("/new/thing"), timeout=10)
        assert (r.status_code, r.text) == (200, "new-rule")
        seen = Counter(sess.get(s.url("/d"), timeout=10).headers["X-Sluice-Target"]
                       for _ in range(20))
        assert set(seen) == {"c", "a"}, seen


def test_new_rule_applies_to_existing_keepalive_connection(sluice, demo_targets):
    t = demo_targets("t")
    port = free_port()
    tgs = [target_group("tg", [t.port])]
    s = sluice(lb_config(port, forward("tg"), target_groups=tgs))
    with HttpConn(s.port) as c:
        r = c.request("GET", "/feature")
        assert r.status == 200 and r.header("X-Sluice-Target") == "t"
        # The connection now sits idle while the config changes under it.
        s.reload(lb_config(port, forward("tg"), rules=[
            rule(5, [path_is("/feature")], fixed("200", "feature-flag"))], target_groups=tgs))

        def switched():
            r = c.request("GET", "/feature")
            assert r.status == 200
            return r.body == b"feature-flag"

        wait_until(switched, 3, interval=0.05, what="the new rule on the old connection")
        r = c.request("GET", "/other")
        assert r.status == 200 and r.header("X-Sluice-Target") == "t"


def test_idle_keepalive_connection_survives_reload(sluice, demo_targets):
    a, b = demo_targets("before"), demo_targets("after")
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [a.port])]))
    with HttpConn(s.port) as c:
        assert c.request("GET", "/1").header("X-Sluice-Target") == "before"
        s.reload(lb_config(port, forward("tg"), target_groups=[target_group("tg", [b.port])]))
        time.sleep(0.3)
        r = c.request("GET", "/2")  # same socket
        assert r.status == 200
        assert r.header("X-Sluice-Target") == "after"


def test_broken_config_reload_keeps_serving(sluice, demo_targets):
    t = demo_targets("steady")
    port = free_port()
    good = lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])])
    s = sluice(good)
    with LoadClients(s, ["/a", "/b"], parallel=2) as load:
        time.sleep(0.5)
        # Semantically broken: references a target group that does not exist.
        s.reload(lb_config(port, forward("nope"), target_groups=[target_group("tg", [t.port])]),
                 expect="refused")
        # Syntactically broken.
        s.reload("LoadBalancers: [\n  - Name: x\n", expect="refused")
        time.sleep(0.5)
    assert load.failures == [], load.failures[:10]
    assert load.ok > 20
    log = s.log()
    assert "reload refused" in log
    assert "nope" in log  # the error is reported
    # A good config is accepted again afterwards.
    s.reload(good)
    with make_session() as sess:
        assert sess.get(s.url("/"), timeout=10).headers["X-Sluice-Target"] == "steady"


def _start_slow_requests(s, n, delay_ms=1500):
    results = []
    lock = threading.Lock()

    def slow(i):
        try:
            r = requests.get(s.url(f"/slow{i}?delay_ms={delay_ms}"), timeout=15,
                             proxies={"http": None})
            with lock:
                results.append((r.status_code, f"GET /slow{i}?" in r.text))
        except Exception as e:  # noqa: BLE001
            with lock:
                results.append(repr(e))

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    return threads, results


def _probe_refused(port) -> bool | None:
    """True: connection refused. None: accepted, but nothing answered within 0.5 s."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
            probe.settimeout(0.5)
            probe.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = probe.recv(100)
            except (socket.timeout, ConnectionResetError):
                data = b""
            assert not data.startswith(b"HTTP/1.1 200"), "served a new request after SIGTERM"
            return None
    except ConnectionRefusedError:
        return True


def test_sigterm_drains_in_flight_requests(sluice, demo_targets):
    t = demo_targets("drain")
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])]))
    threads, results = _start_slow_requests(s, 4)
    time.sleep(0.5)  # all four are at the target now
    t_term = time.monotonic()
    s.proc.signal(signal.SIGTERM)
    for th in threads:
        th.join(10)
    assert results == [(200, True)] * 4, results
    rc = s.proc.popen.wait(5)
    assert rc == 0
    assert time.monotonic() - t_term < 4
    assert "stopped" in s.log()
    # Once stopped, nothing listens any more.
    assert _probe_refused(port) is True


def test_sigterm_refuses_new_connections(sluice, demo_targets):
    t = demo_targets("drain")
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])]))
    threads, results = _start_slow_requests(s, 2, delay_ms=2500)
    try:
        time.sleep(0.5)
        s.proc.signal(signal.SIGTERM)
        time.sleep(0.3)
        # In-flight requests are still running; a newcomer must be refused, not parked in a
        # backlog nobody accepts from.
        wait_until(lambda: _probe_refused(port), 1.0, interval=0.05,
                   what="new connections to be refused")
    finally:
        for th in threads:
            th.join(10)
    assert results == [(200, True)] * 2, results


def test_sigterm_idle_process_exits_quickly(sluice, demo_targets):
    t = demo_targets("idle")
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])]))
    with HttpConn(s.port) as c:
        assert c.request("GET", "/").status == 200
        t0 = time.monotonic()
        s.proc.signal(signal.SIGTERM)
        rc = s.proc.popen.wait(5)
        assert rc == 0
        assert time.monotonic() - t0 < 2, "an idle keep-alive connection delayed shutdown"
        assert c.closed_by_peer(2)


def test_sigint_also_stops(sluice):
    port = free_port()
    s = sluice(lb_config(port, fixed("200", "x")))
    s.proc.signal(signal.SIGINT)
    assert s.proc.popen.wait(5) == 0


def test_in_flight_requests_survive_reload_removing_their_group(sluice, demo_targets):
    a, b = demo_targets("a"), demo_targets("b")
    port = free_port()
    s = sluice(lb_config(port, forward("ga"), target_groups=[target_group("ga", [a.port])]))
    conns = [HttpConn(s.port) for _ in range(4)]
    try:
        for c in conns:
            c.send(b"POST /slow?delay_ms=1000 HTTP/1.1\r\nHost: x.example.com\r\n"
                   b"Content-Length: 3\r\n\r\nabc")
        # An upload that is half sent when the reload happens.
        up = HttpConn(s.port)
        conns.append(up)
        up.send(b"POST /up HTTP/1.1\r\nHost: x.example.com\r\nContent-Length: 2000000\r\n\r\n"
                + b"u" * 1000000)
        time.sleep(0.3)
        s.reload(lb_config(port, forward("gb"), target_groups=[target_group("gb", [b.port])]))
        up.send(b"u" * 1000000)
        for c in conns[:4]:
            r = c.read_response("POST")
            assert r.status == 200 and r.header("X-Sluice-Target") == "a"
            r = c.request("GET", "/next")  # the next request follows the new config
            assert r.status == 200 and r.header("X-Sluice-Target") == "b"
        r = up.read_response("POST")
        assert r.status == 200 and "body-bytes: 2000000" in r.text
    finally:
        for c in conns:
            c.close()


def test_reload_adds_and_removes_listeners(sluice):
    port1, port2 = free_port(), free_port()
    s = sluice(lb_config(port1, fixed("200", "first")))
    cfg = lb_config(port1, fixed("200", "first"), extra_listeners=[
        {"Protocol": "HTTP", "Port": port2, "BindAddress": "127.0.0.1",
         "DefaultActions": [fixed("200", "second")]}])
    s.reload(cfg)
    r = wait_until(lambda: _get_or_none(port2), 3, what="the new listener")
    assert r == b"second"
    s.reload(lb_config(port2, fixed("200", "second-only")))

    def first_gone():
        try:
            socket.create_connection(("127.0.0.1", port1), timeout=0.5).close()
            return False
        except ConnectionRefusedError:
            return True

    wait_until(first_gone, 3, what="the removed listener to close")
    assert wait_until(lambda: _get_or_none(port2) == b"second-only", 3, what="new body")


def _get_or_none(port):
    try:
        with HttpConn(port, timeout=2) as c:
            return c.request("GET", "/").body
    except OSError:
        return None


def test_reload_with_unbindable_listener_is_refused(sluice):
    port = free_port()
    s = sluice(lb_config(port, fixed("200", "original")))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        cfg = lb_config(port, fixed("200", "changed"), extra_listeners=[
            {"Protocol": "HTTP", "Port": taken, "BindAddress": "127.0.0.1",
             "DefaultActions": [fixed("200", "x")]}])
        s.reload(cfg, expect="refused")
    assert "Address already in use" in s.log()
    with HttpConn(s.port) as c:
        assert c.request("GET", "/").body == b"original"


def test_shutdown_timeout_bounds_the_drain(sluice, demo_targets):
    t = demo_targets("long")
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])]),
               args=["--shutdown-timeout", "1"])
    quick, slow = HttpConn(s.port), HttpConn(s.port)
    try:
        quick.send(b"GET /q?delay_ms=300 HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
        slow.send(b"GET /s?delay_ms=5000 HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
        time.sleep(0.2)
        t0 = time.monotonic()
        s.proc.signal(signal.SIGTERM)
        assert quick.read_response().status == 200  # finishes within the timeout
        assert quick.closed_by_peer(2)
        try:
            r = slow.read_response()
            raise AssertionError(f"a 5 s request completed despite --shutdown-timeout 1: {r}")
        except IncompleteResponse:
            pass
        assert s.proc.popen.wait(5) == 0
        assert time.monotonic() - t0 < 3
    finally:
        quick.close()
        slow.close()
