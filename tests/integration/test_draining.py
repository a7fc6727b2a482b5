"""Deregistration by reload (reference §2.4 "Deregistration details"): a removed target drains
for deregistration_delay.timeout_seconds — no new requests, in-flight ones may finish, the ones
still open when the delay ends get 502 (or are cut if their response had started) — and the
admin endpoint shows it `draining` until then; re-registering it brings it back."""

import threading
import time
from collections import Counter

import pytest

from conftest import (LOCAL, HealthWatcher, HttpConn, IncompleteResponse, fast_health,
                      forward, free_port, lb_config, stream_body, target_group, target_health,
                      wait_health, wait_until)

DRAINING = {"State": "draining", "Reason": "Target.DeregistrationInProgress",
            "Description": "Target deregistration is in progress"}


def group(ports, delay, health=True):
    extra = fast_health() if health else {}
    return target_group("tg", ports, health=health,
                        attributes={"deregistration_delay.timeout_seconds": str(delay)}, **extra)


def config(port, admin, ports, delay, health=True):
    cfg = lb_config(port, forward("tg"), target_groups=[group(ports, delay, health)])
    cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    return cfg


def targets_of(http, s, n):
    return Counter(http.get(s.url("/new"), timeout=10).headers["X-Sluice-Target"]
                   for _ in range(n))


class Background:
    """Runs fn() on a thread; keeps its result or exception and when it ended."""

    def __init__(self, fn):
        self.result = None
        self.error = None
        self.ended = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn):
        try:
            self.result = fn()
        except BaseException as e:  # noqa: BLE001
            self.error = e
        self.ended = time.monotonic()

    def join(self, timeout):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background request did not end"


def test_streaming_download_finishes_while_its_target_drains(sluice, controlled, http):
    x, y = controlled("x"), controlled("y")
    port, admin = free_port(), free_port()
    s = sluice(config(port, admin, [x.port, y.port], delay=30))
    for b in (x, y):
        wait_health(admin, "tg", b.port, "healthy", 10)
    pieces, piece = 40, 16384  # 640 KiB over ~4 s

    def download():
        with HttpConn(port, timeout=20) as c:
            return c.request("GET", f"/stream?pieces={pieces}&piece={piece}&interval_ms=100")

    dl = Background(download)
    victim = wait_until(lambda: next((b for b in (x, y) if b.traffic()), None), 5,
                        what="the download to reach a target")
    other = y if victim is x else x
    s.reload(config(port, admin, [other.port], delay=30))
    t_reload = time.monotonic()
    assert target_health(admin, "tg", victim.port) == DRAINING
    # New requests go to the remaining target only.
    assert targets_of(http, s, 20) == Counter({other.name: 20})
    dl.join(20)
    assert dl.error is None, repr(dl.error)
    r = dl.result
    assert r.status == 200 and r.header("X-Sluice-Target") == victim.name, r
    assert len(r.body) == pieces * piece and r.body == stream_body(pieces, piece)
    assert dl.ended - t_reload > 1.0, "the download was not in flight during the reload"
    # Idle now, but still draining until the delay ends (ALB keeps the state).
    assert target_health(admin, "tg", victim.port) == DRAINING
    assert victim.traffic(t_reload) == []


def test_requests_still_open_when_the_delay_ends(sluice, controlled, http):
    """deregistration_delay 2 s: a request without a response gets 502 and a response in
    progress is cut, both about 2 s after the reload; the target then leaves /targets."""
    x, y = controlled("x"), controlled("y")
    port, admin = free_port(), free_port()
    s = sluice(config(port, admin, [x.port], delay=2))
    wait_health(admin, "tg", x.port, "healthy", 10)
    watcher = HealthWatcher(admin)
    try:
        hang = HttpConn(port, timeout=15)
        hang.send(b"GET /hang?hang=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        stream = HttpConn(port, timeout=15)
        stream.send(b"GET /stream?pieces=150&piece=1024&interval_ms=100 HTTP/1.1\r\n"
                    b"Host: example.com\r\n\r\n")
        head = stream.read_head()  # the response has started
        assert head.status == 200
        wait_until(lambda: len(x.traffic()) == 2, 5, what="both requests to reach x")
        t0 = time.monotonic()
        s.reload(config(port, admin, [y.port], delay=2))
        t1 = time.monotonic()

        def read_hang():
            return hang.read_response()

        def read_stream():
            stream.buf = stream.buf  # keep what arrived
            n = int(head.header("Content-Length"))
            got = b""
            while True:
                if not stream._fill():
                    return len(stream.buf) + len(got), n
                got += stream.buf
                stream.buf = b""

        bh, bs = Background(read_hang), Background(read_stream)
        # A new request goes to the registered target meanwhile.
        assert targets_of(http, s, 3) == Counter({"y": 3})
        bh.join(10)
        bs.join(10)
        assert bh.error is None, repr(bh.error)
        assert bh.result.status == 502, bh.result
        assert 1.5 <= bh.ended - t0 and bh.ended - t1 <= 3.5, (bh.ended - t0, bh.ended - t1)
        assert bs.error is None or isinstance(bs.error, (IncompleteResponse, OSError)), bs.error
        if bs.error is None:
            got, n = bs.result
            assert got < n, "the response was not cut"
        assert 1.5 <= bs.ended - t0 and bs.ended - t1 <= 3.5, (bs.ended - t0, bs.ended - t1)
        # /targets: draining during the delay, gone after it (checked about every second).
        wait_until(lambda: target_health(admin, "tg", x.port) is None, 6,
                   what="x to leave /targets")
        t_gone = time.monotonic()
        wait_until(lambda: watcher.latest("tg", x.port) is None, 3, what="the watcher to see it")
    finally:
        watcher.stop()
        hang.close()
        stream.close()
    tl = watcher.timeline("tg", x.port)
    states = [st for _, st, _, _ in tl]
    assert states[-2:] == ["draining", None], tl
    draining_since = tl[-2][0]
    assert draining_since <= t1 + 0.2, (draining_since - t1)
    gone_at = tl[-1][0]
    assert gone_at - t0 >= 1.8, f"x left /targets {gone_at - t0:.2f}s after the reload"
    assert t_gone - t1 <= 5.0
    assert target_health(admin, "tg", y.port) is not None


@pytest.mark.parametrize("health", [True, False], ids=["checks-on", "checks-off"])
def test_readding_a_draining_target_brings_it_back(sluice, controlled, http, health):
    x, y = controlled("x"), controlled("y")
    port, admin = free_port(), free_port()
    s = sluice(config(port, admin, [x.port, y.port], delay=60, health=health))
    in_service = "healthy" if health else "unavailable"
    for b in (x, y):
        wait_health(admin, "tg", b.port, in_service, 10)
    assert set(targets_of(http, s, 10)) == {"x", "y"}
    s.reload(config(port, admin, [y.port], delay=60, health=health))
    assert target_health(admin, "tg", x.port) == DRAINING
    assert targets_of(http, s, 10) == Counter({"y": 10})
    t_readd = time.monotonic()
    s.reload(config(port, admin, [x.port, y.port], delay=60, health=health))
    # Back in service: a passing check (every 5 s) for a checked target, at once otherwise.
    limit = 2 * 5 + 2 if health else 2
    th = None
    while time.monotonic() - t_readd < limit:
        th = target_health(admin, "tg", x.port)
        if th and th["State"] == in_service:
            break
        time.sleep(0.05)
    picks = targets_of(http, s, 20)
    waited = time.monotonic() - t_readd
    assert th and th["State"] == in_service and picks == Counter({"x": 10, "y": 10}), (
        f"{waited:.1f}s after x was re-registered it shows {th} (want {in_service}) and 20 new "
        f"requests went to {dict(picks)}")
