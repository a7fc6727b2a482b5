"""Slow start (reference §2.6): a target that becomes healthy while another target of its
group is already in service gets a linearly growing share of new requests over
slow_start.duration_seconds (the minimum, 30 s, so this test takes about 35 s)."""
import time
from collections import Counter

from conftest import fast_health, forward, free_port, lb_config, target_group, wait_until

DURATION = 30


def _share_of(http, url, name, n):
    picks = Counter(http.get(url, timeout=10).headers["X-Sluice-Target"] for _ in range(n))
    return picks[name] / n


def test_newly_healthy_target_ramps_linearly(sluice, demo_targets, http):
    a, b = demo_targets("a"), demo_targets("b")
    port = free_port()
    attrs = {"slow_start.duration_seconds": DURATION}

    def cfg(ports):
        return lb_config(port, forward("tg"), target_groups=[
            target_group("tg", ports, health=True, attributes=attrs, **fast_health())])

    s = sluice(cfg([a.port]))
    url = s.url("/x")
    wait_until(lambda: http.get(url, timeout=5).status_code == 200, 10, what="a in service")
    s.reload(cfg([a.port, b.port]))
    t0 = time.monotonic()
    # b passes its first check at once; wait until it gets any traffic at all.
    wait_until(lambda: _share_of(http, url, "b", 20) > 0, 10, what="b to enter service")

    shares = []
    for at in (3, 13, 25):
        while time.monotonic() - t0 < at:
            time.sleep(0.05)
        shares.append(_share_of(http, url, "b", 400))
    while time.monotonic() - t0 < DURATION + 2:
        time.sleep(0.1)
    after = _share_of(http, url, "b", 400)

    # Round robin over two targets gives b half once the ramp is over; during the ramp its
    # share follows the linear factor (about f / (1 + f) with admission probability f).
    assert shares[0] < shares[1] < shares[2], shares
    assert shares[0] < 0.2, shares
    assert 0.15 < shares[1] < 0.45, shares
    assert shares[2] > 0.35, shares
    assert 0.42 < after < 0.58, (shares, after)
