"""Summaries of the measurements: the figures results.md, docs/performance.md and the decision
records quote.

- Per chain (layout, workload, phase, chain): the median, min and max over rounds of each
  figure in SUMMARY_FIELDS; rounds, errors and problems are summed.
- Comparisons: for each round in which both chains have the figure, ours / other; the median
  of those per-round ratios and the worst round (the lowest for req/s, the highest for the
  figures where lower is better). "best peer" is, per round and per figure, the better of
  HAProxy and NGINX, in the rounds where both have it; in an HTTP/2 workload the best of
  HAProxy, NGINX and h2o, in the rounds where all three have it (workloads.best_peer_of).
  "chain@workload" is that chain's figure in another workload of the same layout and run,
  round by round (ka-13b-log's "sluice / sluice@ka-13b": the cost of the access log); those
  rounds ran minutes apart, not interleaved.
- WebSocket workloads add bytes_per_cpu_s (payload bytes both ways per proxy CPU second;
  higher is better) to the figures and the comparisons.
- UDP workloads (udp-load) add packets_per_cpu_s (the client's datagrams both ways per proxy
  CPU second; higher is better) to the figures and the comparisons, and the share of
  datagrams lost (lost_pct) to the figures.
- Bulk workloads (phase "bulk", bulk-load) have their own figures: cpu_s_per_gib (the proxy's
  CPU seconds per GiB moved; lower is better) and gbit_per_s (higher is better), compared
  like the others: per round, their median and worst round. A round with a failed transfer
  has neither, so it is left out of both.
- HTTP/2 workloads (h2load) add the request time's mean and max at saturation
  (sat_lat_mean_us, sat_lat_max_us; h2load prints no percentiles) to the figures.

A missing figure (None, or a measurement without the key: a proxy that died) is left out of
its chain's summary; a round where either side's figure is missing or 0 is left out of a
ratio. Errored measurements still count in "errors".
"""

import statistics

from .common import PEERS
from .workloads import best_peer_of, comparisons_for

SUMMARY_FIELDS = {
    "capacity": ["rps", "cpu_us_per_req", "proxy_cpu_pct", "loadgen_cpu_pct", "backend_cpu_pct",
                 "sat_lat_p50_us", "sat_lat_p99_us", "active_opens",
                 "upstream_conns_new_kept", "neighbour_busy_pct", "steal_pct",
                 "resumed_pct", "handshakes_per_cpu_s", "access_log_pct", "ws_mb_per_s",
                 "bytes_per_cpu_s", "sat_lat_mean_us", "sat_lat_max_us", "h2_conns",
                 "h2_streams", "packets_per_cpu_s", "lost_pct"],
    "latency": ["p50_us", "p99_us", "p999_us", "max_us", "cpu_us_per_req", "achieved_rps",
                "late_sends_over_1ms", "neighbour_busy_pct", "steal_pct", "access_log_pct"],
    "idle": ["baseline_rss_kib", "rss_bytes_per_conn", "pss_bytes_per_conn", "held_by_proxy"],
    "bulk": ["cpu_s_per_gib", "gbit_per_s", "proxy_cpu_s", "proxy_cpu_pct", "loadgen_cpu_pct",
             "backend_cpu_pct", "connections", "bytes_per_conn", "transfer_s",
             "neighbour_busy_pct", "steal_pct", "retrans_segs"],
}

# Lists in a measurement (what h2load negotiated) kept as their union over the rounds.
SET_FIELDS = ("h2_protocols", "tls_ciphers")

BEST_PEER = "best peer"

# The figures compared, in results.json's order: (figure, phase, higher is better).
RATIO_FIGURES = [("rps", "capacity", True), ("cpu_us_per_req", "capacity", False),
                 ("bytes_per_cpu_s", "capacity", True),
                 ("packets_per_cpu_s", "capacity", True),
                 ("cpu_s_per_gib", "bulk", False), ("gbit_per_s", "bulk", True),
                 ("p99_us", "latency", False), ("p50_us", "latency", False),
                 ("rss_bytes_per_conn", "idle", False)]
# A comparison row is kept when one of these has a ratio.
RATIO_KEEP = ("rps", "cpu_us_per_req", "p99_us", "rss_bytes_per_conn", "cpu_s_per_gib")
# The CPU figures: against "direct" (no proxy: its CPU is the backend's) they mean nothing.
CPU_FIGURES = ("cpu_us_per_req", "bytes_per_cpu_s", "packets_per_cpu_s", "cpu_s_per_gib")


def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def group(measurements):
    """(layout, workload, phase, chain) -> [measurement, ...], in measurement order."""
    groups = {}
    for m in measurements:
        groups.setdefault((m["layout"], m["workload"], m["phase"], m["chain"]), []).append(m)
    return groups


def chain_row(key, ms):
    layout, wl, phase, chain = key
    row = {"layout": layout, "workload": wl, "phase": phase, "chain": chain,
           "rounds": len(ms), "errors": sum(m.get("errors", 0) for m in ms),
           "problems": sum(len(m.get("problems", [])) for m in ms)}
    for f in SUMMARY_FIELDS[phase]:
        vals = [m.get(f) for m in ms if m.get(f) is not None]
        if vals:
            row[f] = {"median": med(vals), "min": min(vals), "max": max(vals)}
    for f in SET_FIELDS:
        vals = sorted({x for m in ms for x in (m.get(f) or [])})
        if vals:
            row[f] = vals
    return row


def in_workload(chain, wl):
    """(chain, workload) of a comparison's side: "chain@other" names another workload."""
    name, _, other = chain.partition("@")
    return name, other or wl


def per_round(groups, layout, wl, phase, chain, field, higher_is_better):
    """round -> the chain's figure (None when missing); for "best peer", the best of the
    workload's best_peer_of (HAProxy's and NGINX's; in an HTTP/2 workload h2o's too) in each
    round where all have it; for "chain@workload", the chain's in that workload."""
    chain, wl = in_workload(chain, wl)
    if chain != BEST_PEER:
        return {m["round"]: m.get(field) for m in groups.get((layout, wl, phase, chain), [])}
    each = [per_round(groups, layout, wl, phase, c, field, higher_is_better)
            for c in best_peer_of(wl)]
    pick = max if higher_is_better else min
    return {r: pick(e[r] for e in each) for r in each[0]
            if all(e.get(r) for e in each)}


def ratio(ours, other, higher_is_better):
    """Per-round ratios ours / other (round -> figure each) over the rounds where both are
    non-zero, in round order: their median, the worst, and each. None without a round."""
    per = [ours[r] / other[r] for r in sorted(ours) if r in other and ours[r] and other[r]]
    if not per:
        return None
    worst = min(per) if higher_is_better else max(per)
    return {"median": statistics.median(per), "worst": worst, "rounds": len(per),
            "per_round": [round(x, 4) for x in per]}


def _has(groups, layout, wl, chain):
    chain, wl = in_workload(chain, wl)
    return any((layout, wl, phase, chain) in groups for phase in ("capacity", "idle", "bulk"))


def comparison_row(groups, layout, wl, ours, other):
    row = {"layout": layout, "workload": wl, "ours": ours, "other": other}
    for field, phase, higher in RATIO_FIGURES:
        # Against "direct" only req/s and latency mean something (proxied / direct); its CPU
        # figure is the backend's.
        if field in CPU_FIGURES and other == "direct":
            row[field] = None
            continue
        row[field] = ratio(per_round(groups, layout, wl, phase, ours, field, higher),
                           per_round(groups, layout, wl, phase, other, field, higher), higher)
    return row


def comparisons(groups, measurements):
    out = []
    for layout, wl in sorted({(m["layout"], m["workload"]) for m in measurements}):
        for ours, other in comparisons_for(wl):
            if not _has(groups, layout, wl, ours):
                continue
            if other == BEST_PEER and not all(_has(groups, layout, wl, c)
                                              for c in best_peer_of(wl)):
                continue
            row = comparison_row(groups, layout, wl, ours, other)
            if any(row[k] for k in RATIO_KEEP):
                out.append(row)
    return out


def summarize(measurements, rates):
    groups = group(measurements)
    return {"chains": [chain_row(k, ms) for k, ms in sorted(groups.items())],
            "ratios": comparisons(groups, measurements), "rates": rates}


def openloop_rate(measurements, layout, workload, fraction):
    """The open-loop phase's rate: `fraction` of the median capacity (req/s) of the slowest
    peer (sluice, haproxy, nginx) in this layout and workload, at least 10 req/s. Returns
    (rate, that median), or None without any peer's capacity figure."""
    per_chain = {}
    for m in measurements:
        if m["layout"] == layout and m["workload"] == workload and \
                m["phase"] == "capacity" and m["chain"] in PEERS and m.get("rps"):
            per_chain.setdefault(m["chain"], []).append(m["rps"])
    if not per_chain:
        return None
    slowest = min(statistics.median(v) for v in per_chain.values())
    return max(10.0, fraction * slowest), slowest
