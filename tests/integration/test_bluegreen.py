"""Blue/green by weighted forward and reload (reference §1.5 forward): traffic shifts
100/0 → 90/10 → 0/100 under steady keep-alive load without a single failed request, each phase
splitting by its weights; with target-group stickiness, clients stuck to blue stay there when
the weights change."""

import http.cookiejar
import threading
import time
from collections import Counter

import requests

from conftest import free_port, lb_config, target_group

PER_PHASE = 1500   # requests judged per phase (binomial sd at 10 %: under 0.8 %)
SETTLE = 0.3       # seconds after "reload applied" before a phase's requests count


def weighted(blue: int, green: int, sticky: bool = False) -> dict:
    fc = {"TargetGroups": [{"TargetGroupName": "blue", "Weight": blue},
                           {"TargetGroupName": "green", "Weight": green}]}
    if sticky:
        fc["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": 3600}
    return {"Type": "forward", "ForwardConfig": fc}


def config(port, blue_port, green_port, weights, sticky=False):
    return lb_config(port, weighted(*weights, sticky=sticky), target_groups=[
        target_group("blue", [blue_port]), target_group("green", [green_port])])


def session():
    s = requests.Session()
    s.trust_env = False
    s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return s


class Load:
    """`threads` keep-alive clients sending GETs back to back until stopped (at most `limit`
    seconds). Records (t_sent, target) of every success and every failure."""

    def __init__(self, s, threads=3, limit=90.0):
        self.s = s
        self.stop_event = threading.Event()
        self.limit = limit
        self.lock = threading.Lock()
        self.done: list[tuple[float, str]] = []
        self.failures: list = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        deadline = time.monotonic() + self.limit
        sess = session()
        try:
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                t = time.monotonic()
                try:
                    r = sess.get(self.s.url("/app"), timeout=10)
                    if r.status_code == 200:
                        with self.lock:
                            self.done.append((t, r.headers.get("X-Sluice-Target")))
                    else:
                        with self.lock:
                            self.failures.append((t, r.status_code, r.text[:100]))
                except Exception as e:  # noqa: BLE001
                    with self.lock:
                        self.failures.append((t, "exception", repr(e)))
        finally:
            sess.close()

    def count_since(self, t0: float) -> int:
        with self.lock:
            return sum(1 for t, _ in self.done if t >= t0)

    def split(self, t0: float, t1: float) -> Counter:
        with self.lock:
            return Counter(name for t, name in self.done if t0 <= t < t1)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(15)


def test_blue_green_shift_under_load(sluice, demo_targets):
    blue, green = demo_targets("blue"), demo_targets("green")
    port = free_port()
    phases = [(100, 0), (90, 10), (0, 100)]
    s = sluice(config(port, blue.port, green.port, phases[0]))
    load = Load(s)
    windows = []
    try:
        start = time.monotonic()
        for i, weights in enumerate(phases):
            if i:
                s.reload(config(port, blue.port, green.port, weights))
                start = time.monotonic() + SETTLE
            deadline = time.monotonic() + 40
            while load.count_since(start) < PER_PHASE and time.monotonic() < deadline:
                time.sleep(0.05)
                assert all(t.is_alive() for t in load.threads), "a load thread ended early"
            windows.append((weights, load.split(start, time.monotonic())))
    finally:
        load.stop()
    assert load.failures == [], f"{len(load.failures)} failed requests: {load.failures[:5]}"
    for weights, split in windows:
        n = sum(split.values())
        assert n >= PER_PHASE, (weights, split)
        assert set(split) <= {"blue", "green"}, split
        green_share = split["green"] / n
        expected = weights[1] / 100
        if expected in (0.0, 1.0):
            assert green_share == expected, (weights, split)
        else:
            assert abs(green_share - expected) <= 0.03, (weights, split)


def sticky_get(s, jar: dict) -> str:
    """One GET sending the AWSALBTG cookie from `jar` (if any); keeps the new value."""
    headers = {"Connection": "close"}
    if "AWSALBTG" in jar:
        headers["Cookie"] = f"AWSALBTG={jar['AWSALBTG']}"
    with session() as sess:
        r = sess.get(s.url("/app"), headers=headers, timeout=10)
    assert r.status_code == 200, r.status_code
    for line in r.raw.headers.getlist("Set-Cookie"):
        name, _, rest = line.partition("=")
        if name == "AWSALBTG":
            jar["AWSALBTG"] = rest.split(";")[0]
    return r.headers["X-Sluice-Target"]


def test_sticky_clients_stay_on_their_group_after_shift(sluice, demo_targets):
    blue, green = demo_targets("blue"), demo_targets("green")
    port = free_port()
    s = sluice(config(port, blue.port, green.port, (100, 0), sticky=True))
    jars = [{} for _ in range(25)]
    assert [sticky_get(s, j) for j in jars] == ["blue"] * 25
    assert all("AWSALBTG" in j for j in jars)
    s.reload(config(port, blue.port, green.port, (90, 10), sticky=True))
    time.sleep(SETTLE)
    stuck = Counter(sticky_get(s, j) for j in jars for _ in range(10))
    assert stuck == Counter({"blue": 250}), stuck
    # New clients follow the new weights, and stick too.
    fresh = []
    for _ in range(400):
        j = {}
        fresh.append((sticky_get(s, j), j))
    share = sum(1 for name, _ in fresh if name == "green") / len(fresh)
    assert 0.05 <= share <= 0.16, share
    for name, j in [f for f in fresh if f[0] == "green"][:10]:
        assert [sticky_get(s, j) for _ in range(5)] == ["green"] * 5
