"""The summary figures decision records quote, on hand-worked inputs
(fixtures/results-small.json; the arithmetic is in the comments)."""

import json
from pathlib import Path

import pytest

from sluicebench import stats

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results-small.json"


@pytest.fixture(scope="module")
def measurements():
    return json.loads(FIXTURE.read_text())["measurements"]


@pytest.fixture(scope="module")
def summary(measurements):
    return stats.summarize(measurements, {"A/ka-13b": 25.0})


def chain(summary, workload, phase, name):
    rows = [r for r in summary["chains"]
            if (r["workload"], r["phase"], r["chain"]) == (workload, phase, name)]
    assert len(rows) == 1
    return rows[0]


def comparison(summary, workload, ours, other):
    rows = [r for r in summary["ratios"]
            if (r["workload"], r["ours"], r["other"]) == (workload, ours, other)]
    assert len(rows) <= 1
    return rows[0] if rows else None


# ---- med and ratio ---------------------------------------------------------------------------

def test_med_skips_missing_values():
    assert stats.med([3, None, 1, 2]) == 2
    assert stats.med([4, 1, 3, 2]) == 2.5  # even count: mean of the middle two
    assert stats.med([None, None]) is None
    assert stats.med([]) is None


def test_ratio_uses_rounds_where_both_sides_have_a_nonzero_figure():
    ours = {1: 2.0, 2: 0, 3: 4.0, 5: 6.0, 4: 3.0}
    other = {1: 1.0, 2: 5.0, 4: 2.0, 5: None, 6: 7.0}
    # Round 2: ours is 0; round 3: no other; round 5: other missing; round 6: no ours.
    r = stats.ratio(ours, other, higher_is_better=True)
    assert r == {"median": 1.75, "worst": 1.5, "rounds": 2, "per_round": [2.0, 1.5]}


def test_ratio_worst_round_depends_on_direction():
    ours, other = {1: 1.0, 2: 3.0, 3: 2.0}, {1: 2.0, 2: 2.0, 3: 2.0}
    assert stats.ratio(ours, other, True)["worst"] == 0.5   # req/s: the lowest
    assert stats.ratio(ours, other, False)["worst"] == 1.5  # CPU, latency: the highest
    assert stats.ratio(ours, other, False)["median"] == 1.0


def test_ratio_without_a_common_round_is_none():
    assert stats.ratio({}, {}, True) is None
    assert stats.ratio({1: 5.0}, {2: 5.0}, True) is None
    assert stats.ratio({1: None}, {1: 5.0}, False) is None


def test_ratio_per_round_is_rounded_to_4_digits_but_median_is_not():
    r = stats.ratio({1: 1.0, 2: 2.0}, {1: 3.0, 2: 3.0}, True)
    assert r["per_round"] == [0.3333, 0.6667]
    assert r["median"] == pytest.approx(0.5)


# ---- per-chain rows --------------------------------------------------------------------------

def test_chain_row_median_min_max_over_rounds(summary):
    s = chain(summary, "ka-13b", "capacity", "sluice")
    assert s["rounds"] == 3 and s["errors"] == 0 and s["problems"] == 0
    assert s["rps"] == {"median": 100, "min": 90, "max": 120}
    # Round 3's CPU figure is missing (None): the median is of rounds 1 and 2.
    assert s["cpu_us_per_req"] == {"median": 11.0, "min": 10, "max": 12}
    assert "proxy_cpu_pct" not in s  # no round has it


def test_chain_row_counts_a_died_measurement_as_an_error_not_a_figure(summary):
    s = chain(summary, "ka-13b", "capacity", "nginx")
    assert s["rounds"] == 3 and s["errors"] == 1 and s["problems"] == 1
    assert s["rps"] == {"median": 70.0, "min": 60, "max": 80}
    assert s["cpu_us_per_req"] == {"median": 15.5, "min": 15, "max": 16}


def test_chain_rows_are_sorted_and_keep_only_the_phase_fields(summary):
    keys = [(r["layout"], r["workload"], r["phase"], r["chain"]) for r in summary["chains"]]
    assert keys == sorted(keys)
    assert len(keys) == 4 + 3 + 2 + 3  # ka-13b capacity, latency; rules; idle
    idle = chain(summary, "idle", "idle", "haproxy")
    assert idle["rss_bytes_per_conn"] == {"median": 1600, "min": 1600, "max": 1600}
    assert set(idle) - {"layout", "workload", "phase", "chain", "rounds", "errors",
                        "problems"} == set(stats.SUMMARY_FIELDS["idle"])


def test_summary_counts_a_missing_errors_key_as_zero():
    ms = [{"layout": "A", "workload": "ka-1k", "phase": "capacity", "round": 1,
           "chain": "sluice", "rps": 5}]
    assert stats.summarize(ms, {})["chains"][0]["errors"] == 0


# ---- comparisons -----------------------------------------------------------------------------

def test_sluice_over_haproxy(summary):
    r = comparison(summary, "ka-13b", "sluice", "haproxy")
    # req/s per round: 100/50, 120/100, 90/100
    assert r["rps"] == {"median": 1.2, "worst": 0.9, "rounds": 3, "per_round": [2.0, 1.2, 0.9]}
    # CPU: 10/20, 12/10; round 3 has no Sluice figure
    assert r["cpu_us_per_req"]["per_round"] == [0.5, 1.2]
    assert r["cpu_us_per_req"]["median"] == pytest.approx(0.85)
    assert r["cpu_us_per_req"]["worst"] == 1.2
    # p99: 1000/2000, 3000/1500; p50: 300/400, 310/300
    assert r["p99_us"] == {"median": 1.25, "worst": 2.0, "rounds": 2, "per_round": [0.5, 2.0]}
    assert r["p50_us"]["median"] == pytest.approx((0.75 + 310 / 300) / 2)
    assert r["p50_us"]["worst"] == pytest.approx(310 / 300)
    assert r["rss_bytes_per_conn"] is None


def test_sluice_over_a_peer_that_died_uses_the_other_rounds(summary):
    r = comparison(summary, "ka-13b", "sluice", "nginx")
    # Round 3: nginx died, no figure. req/s: 100/80, 120/60.
    assert r["rps"] == {"median": 1.625, "worst": 1.25, "rounds": 2, "per_round": [1.25, 2.0]}
    assert r["cpu_us_per_req"]["per_round"] == [0.625, 0.8]
    assert r["p99_us"]["per_round"] == [2.0, 0.5]
    assert r["p99_us"]["worst"] == 2.0


def test_best_peer_is_the_better_peer_of_each_round_and_figure(summary):
    r = comparison(summary, "ka-13b", "sluice", "best peer")
    # req/s: max(50, 80) = 80 in round 1, max(100, 60) = 100 in round 2; round 3 lacks nginx.
    assert r["rps"]["per_round"] == [1.25, 1.2]
    assert r["rps"]["median"] == pytest.approx(1.225)
    assert r["rps"]["worst"] == 1.2
    # CPU: min(20, 16) = 16, min(10, 15) = 10.
    assert r["cpu_us_per_req"]["per_round"] == [0.625, 1.2]
    assert r["cpu_us_per_req"]["worst"] == 1.2
    # p99: min(2000, 500) = 500, min(1500, 6000) = 1500; p50: min(400, 350), min(300, 320).
    assert r["p99_us"]["per_round"] == [2.0, 2.0]
    assert r["p50_us"]["per_round"] == [round(300 / 350, 4), round(310 / 300, 4)]


def test_floor_is_compared_where_it_ran_and_absent_chains_are_not(summary):
    r = comparison(summary, "ka-13b", "sluice", "floor")
    assert r["rps"]["per_round"] == [0.5]          # round 1 only: 100/200
    assert r["cpu_us_per_req"]["per_round"] == [1.25]  # 10/8
    assert r["p99_us"] is None                      # the floor has no latency figure here
    assert comparison(summary, "ka-13b", "sluice", "direct") is None  # never ran


def test_direct_has_no_cpu_ratio():
    ms = []
    for chain, rps, cpu in (("sluice", 100, 10), ("direct", 200, 5)):
        ms.append({"layout": "B", "workload": "ka-1k", "phase": "capacity", "round": 1,
                   "chain": chain, "rps": rps, "cpu_us_per_req": cpu, "errors": 0})
    (row,) = stats.summarize(ms, {})["ratios"]
    assert (row["ours"], row["other"]) == ("sluice", "direct")
    assert row["rps"]["median"] == 0.5
    assert row["cpu_us_per_req"] is None  # direct's CPU is the backend's


def test_rules_compares_only_1000_rules_with_1_rule(summary):
    rows = [r for r in summary["ratios"] if r["workload"] == "rules"]
    assert [(r["ours"], r["other"]) for r in rows] == [("sluice-1000rules", "sluice-1rule")]
    assert rows[0]["rps"] == {"median": 1.0, "worst": 0.95, "rounds": 2,
                              "per_round": [0.95, 1.05]}
    assert rows[0]["cpu_us_per_req"]["median"] == pytest.approx(1.0)
    assert rows[0]["cpu_us_per_req"]["worst"] == pytest.approx(1.1)


def test_idle_compares_bytes_per_connection(summary):
    rows = {r["other"]: r for r in summary["ratios"] if r["workload"] == "idle"}
    assert set(rows) == {"haproxy", "nginx", "best peer"}
    assert rows["haproxy"]["rss_bytes_per_conn"]["median"] == 0.5       # 800/1600
    assert rows["best peer"]["rss_bytes_per_conn"]["median"] == pytest.approx(800 / 600)
    assert rows["haproxy"]["rps"] is None


def test_best_peer_needs_both_peers():
    ms = [{"layout": "A", "workload": "ka-13b", "phase": "capacity", "round": 1,
           "chain": c, "rps": 100, "errors": 0} for c in ("sluice", "haproxy")]
    pairs = [(r["ours"], r["other"]) for r in stats.summarize(ms, {})["ratios"]]
    assert pairs == [("sluice", "haproxy")]


def test_a_comparison_without_any_ratio_is_dropped():
    # Both ran, but no round has a non-zero figure on both sides.
    ms = [{"layout": "A", "workload": "ka-13b", "phase": "capacity", "round": 1,
           "chain": "sluice", "rps": 0, "errors": 3},
          {"layout": "A", "workload": "ka-13b", "phase": "capacity", "round": 1,
           "chain": "haproxy", "rps": 100, "errors": 0}]
    assert stats.summarize(ms, {})["ratios"] == []


def test_summary_keeps_the_rates_given(summary):
    assert summary["rates"] == {"A/ka-13b": 25.0}
    assert list(summary) == ["chains", "ratios", "rates"]


# ---- the open-loop rate ----------------------------------------------------------------------

def cap(chain, rps, layout="A", workload="ka-13b", phase="capacity"):
    return {"layout": layout, "workload": workload, "phase": phase, "chain": chain, "rps": rps}


def test_openloop_rate_is_a_fraction_of_the_slowest_peers_median():
    ms = [cap("sluice", 100), cap("sluice", 300), cap("sluice", 200),  # median 200
          cap("haproxy", 150), cap("haproxy", 50),                      # median 100
          cap("floor", 10),                      # a reference, not a peer
          cap("nginx", 1, layout="B"), cap("nginx", 2, workload="ka-1k"),
          cap("nginx", 3, phase="latency"), cap("nginx", 0), cap("nginx", None)]
    assert stats.openloop_rate(ms, "A", "ka-13b", 0.5) == (50.0, 100)


def test_openloop_rate_has_a_floor_of_10_and_needs_a_figure():
    assert stats.openloop_rate([cap("nginx", 4)], "A", "ka-13b", 0.5) == (10.0, 4)
    assert stats.openloop_rate([cap("floor", 400)], "A", "ka-13b", 0.5) is None
    assert stats.openloop_rate([], "A", "ka-13b", 0.5) is None
