"""Target selection inside a target group: round robin and least outstanding requests."""

import threading
import time
from collections import Counter

import requests

from conftest import forward, free_port, lb_config, target_group


def test_round_robin_evenness(sluice, demo_targets, http):
    targets = [demo_targets(f"rr{i}") for i in range(3)]
    port = free_port()
    cfg = lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [t.port for t in targets], algorithm="round_robin")])
    s = sluice(cfg)
    counts = Counter()
    for _ in range(300):
        r = http.get(s.url("/rr"), timeout=10)  # one keep-alive connection
        assert r.status_code == 200
        counts[r.headers["X-Sluice-Target"]] += 1
    assert set(counts) == {"rr0", "rr1", "rr2"}, counts
    assert all(95 <= v <= 105 for v in counts.values()), counts

    # New connections (each may land on either worker) still spread evenly.
    counts = Counter()
    for _ in range(150):
        r = requests.get(s.url("/rr"), headers={"Connection": "close"}, timeout=10,
                         proxies={"http": None})
        counts[r.headers["X-Sluice-Target"]] += 1
    assert all(35 <= v <= 65 for v in counts.values()), counts


def test_least_outstanding_requests_prefers_idle_target(sluice, demo_targets, http):
    """Two slow requests in flight occupy two of three targets; every new request must go
    to the third (idle) one."""
    targets = [demo_targets(f"t{i}") for i in range(3)]
    port = free_port()
    cfg = lb_config(port, forward("lor"), target_groups=[
        target_group("lor", [t.port for t in targets], algorithm="least_outstanding_requests")])
    s = sluice(cfg)
    seen = Counter(http.get(s.url("/x"), timeout=10).headers["X-Sluice-Target"]
                   for _ in range(30))
    assert set(seen) == {"t0", "t1", "t2"}, seen

    slow_results = []
    errors = []

    def slow():
        try:
            r = requests.get(s.url("/slow?delay_ms=2500"), timeout=15, proxies={"http": None})
            slow_results.append((r.status_code, r.headers.get("X-Sluice-Target")))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    slow_threads = []
    for _ in range(2):
        t = threading.Thread(target=slow)
        t.start()
        slow_threads.append(t)
        time.sleep(0.3)  # the second slow request sees the first one outstanding
    picks = Counter()
    t_start = time.monotonic()
    for _ in range(40):
        r = http.get(s.url("/fast"), timeout=10)
        assert r.status_code == 200
        picks[r.headers["X-Sluice-Target"]] += 1
    fast_elapsed = time.monotonic() - t_start
    for t in slow_threads:
        t.join(20)
    assert not errors, errors
    assert len(slow_results) == 2 and all(st == 200 for st, _ in slow_results), slow_results
    busy = {name for _, name in slow_results}
    assert len(busy) == 2, f"both slow requests went to the same target: {slow_results}"
    idle = ({"t0", "t1", "t2"} - busy).pop()
    assert fast_elapsed < 2.0, "fast requests were queued behind slow ones"
    assert picks == Counter({idle: 40}), (picks, busy)



def test_weighted_random_spreads_over_targets(sluice, demo_targets, http):
    targets = [demo_targets(f"wr{i}") for i in range(3)]
    port = free_port()
    cfg = lb_config(port, forward("tg"), target_groups=[
        target_group("tg", [t.port for t in targets], algorithm="weighted_random")])
    s = sluice(cfg)
    counts = Counter()
    for _ in range(600):
        r = http.get(s.url("/wr"), timeout=10)
        assert r.status_code == 200
        counts[r.headers["X-Sluice-Target"]] += 1
    # Equal weights: ~200 each (binomial sd ~11.5).
    assert set(counts) == {"wr0", "wr1", "wr2"}, counts
    assert all(140 <= v <= 260 for v in counts.values()), counts
