"""What a run leaves behind: results.md, results.json and chart.png, and --resummarize, which
rewrites them from an earlier run's own measurements."""

import json
from pathlib import Path

from .common import ALL_CHAINS, RULES_CHAINS
from .stats import summarize
from .workloads import BULK_WARMUP_BYTES, WORKLOADS, best_peer_of


def fmt_num(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def fmt_stat(s, digits=0):
    if not s:
        return "–"
    return f"{fmt_num(s['median'], digits)} ({fmt_num(s['min'], digits)}–{fmt_num(s['max'], digits)})"


def fmt_ratio(r):
    if not r:
        return "–"
    return f"{r['median']:.2f} ({r['worst']:.2f})"


def _median(row, field):
    return (row.get(field) or {}).get("median")


def _md_header(meta, problems):
    a = meta["args"]
    L = []
    kind = "SMOKE RUN: one short round, indicative only" if a["smoke"] else "full run"
    L.append(f"# Sluice side-by-side benchmark, {meta['started']} ({kind})\n")
    v = meta["versions"]
    L.append(f"- Sluice {v['sluice']}; {v['haproxy']} (deb {v['haproxy_deb']}); {v['nginx']} "
             f"(deb {v['nginx_deb']}); {v['wrk']} (deb {v['wrk_deb']})")
    if any(WORKLOADS[w].h2 for w in a.get("workloads", "").split(",") if w in WORKLOADS):
        # The HTTP/2 workloads' peer and client (runs before them have no such keys).
        L.append(f"- {v.get('h2o', 'h2o n/a')} (deb {v.get('h2o_deb', 'n/a')}); "
                 f"{v.get('h2load', 'h2load n/a')} (deb {v.get('h2load_deb', 'n/a')})")
    if a.get("sluice"):
        # --sluice: a binary built elsewhere, whose source the git line above may not be.
        L.append(f"- Sluice binary: {a['sluice']} (--sluice)")
    L.append(f"- Kernel {v['kernel']}; CPU {v['cpu']}; CPUs available {v['cpus_available']}")
    L.append(f"- {a['rounds']} round(s), shuffled order; closed loop: {a['warmup']} s warm-up + "
             f"{a['duration']} s measured; open loop: {a['latency_warmup']} s + "
             f"{a['latency_duration']} s at {a['load_fraction']:.0%} of the slowest peer's "
             f"capacity, " + ("one chain at a time" if a.get("latency_sequential") else
                              f"every chain at once, rotated in {a.get('slice_ms', 100):g} ms "
                              f"slices") + f"; idle: {a['idle_conns']} connections")
    bulk = [w for w in a.get("workloads", "").split(",")
            if w in WORKLOADS and WORKLOADS[w].bulk]
    if bulk:
        # The bulk workloads' size (runs before them have no bulk_mib).
        mib = a.get("bulk_mib")
        each = f"{mib} MiB (--bulk-mib)" if mib else "the workload's size (1 GiB)"
        warm = f", after a warm-up transfer of up to {BULK_WARMUP_BYTES >> 20} MiB each"
        L.append(f"- Bulk ({', '.join(bulk)}): per round and proxy, "
                 f"{WORKLOADS[bulk[0]].bulk_conns} connections at once, each one transfer of "
                 f"{each}" + (warm if a["warmup"] else ""))
    L.append(f"- Duration {meta['elapsed_s']:.0f} s. Errors: {meta['errors']}. "
             f"Problems: {len(problems)}.")
    for d in meta["layouts"]:
        L.append(f"- {d}")
    L.append("")
    return L


def _md_capacity(cap):
    L = ["### Capacity (closed loop, wrk; tls-load for tls-full/tls-resume; ws-load for ws-echo, "
         "where a request is a message echoed; udp-load for udp-echo, where a request is a "
         "datagram echoed) and proxy CPU per request\n",
         "Median over rounds (min–max). CPU: utime+stime of all the proxy's processes "
         "and threads over the measured interval, divided by requests completed.\n",
         "| workload | proxy | req/s | proxy CPU µs/req | proxy CPU % | client CPU % "
         "| backends CPU % | p99 at saturation µs | errors |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in cap:
        L.append(f"| {r['workload']} | {r['chain']} | {fmt_stat(r.get('rps'))} | "
                 f"{fmt_stat(r.get('cpu_us_per_req'), 1)} | "
                 f"{fmt_num(_median(r, 'proxy_cpu_pct'))} | "
                 f"{fmt_num(_median(r, 'loadgen_cpu_pct'))} | "
                 f"{fmt_num(_median(r, 'backend_cpu_pct'))} | "
                 f"{fmt_num(_median(r, 'sat_lat_p99_us'))} | "
                 f"{r['errors']} |")
    L.append("")
    return L


def _md_handshakes(rows):
    L = ["### TLS handshakes (tls-load)\n",
         "Every request on a new connection. Resumed: the share of the handshakes that resumed "
         "the slot's previous session. Per CPU second: handshakes completed / the proxy's CPU "
         "seconds (handshakes per second per core at full load).\n",
         "| workload | proxy | handshakes/s | resumed % | handshakes per proxy CPU second |",
         "|---|---|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['workload']} | {r['chain']} | {fmt_stat(r.get('rps'))} | "
                 f"{fmt_stat(r.get('resumed_pct'), 1)} | "
                 f"{fmt_stat(r.get('handshakes_per_cpu_s'))} |")
    L.append("")
    return L


def _md_websocket(rows):
    L = ["### WebSocket echo (ws-load)\n",
         "Each connection upgrades once, then sends a masked binary message and reads its echo "
         "before the next. Payload: bytes both ways (each message up, its echo down). Per proxy "
         "CPU second: payload bytes / the proxy's CPU seconds over the measured interval.\n",
         "| workload | proxy | messages/s | payload MB/s both ways | payload bytes per proxy "
         "CPU second | proxy CPU % |",
         "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['workload']} | {r['chain']} | {fmt_stat(r.get('rps'))} | "
                 f"{fmt_stat(r.get('ws_mb_per_s'), 1)} | "
                 f"{fmt_stat(r.get('bytes_per_cpu_s'))} | "
                 f"{fmt_num(_median(r, 'proxy_cpu_pct'))} |")
    L.append("")
    return L


def _md_udp(rows):
    L = ["### UDP request/response (udp-load)\n",
         "Every flow (a client socket of its own: one source port, one 5-tuple) sends a "
         "datagram and waits for its echo before the next; a datagram without its echo within "
         "0.2 s is lost (an error) and the flow sends the next. A request is one datagram "
         "echoed. Packets: the client's datagrams both ways (each request up, its echo down: "
         "2 per request). Per proxy CPU second: packets / the proxy's CPU seconds over the "
         "measured interval.\n",
         "| workload | proxy | requests/s | packets per proxy CPU second | proxy CPU µs/req | "
         "proxy CPU % | lost % |",
         "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['workload']} | {r['chain']} | {fmt_stat(r.get('rps'))} | "
                 f"{fmt_stat(r.get('packets_per_cpu_s'))} | "
                 f"{fmt_stat(r.get('cpu_us_per_req'), 1)} | "
                 f"{fmt_num(_median(r, 'proxy_cpu_pct'))} | "
                 f"{fmt_num(_median(r, 'lost_pct'), 3)} |")
    L.append("")
    return L


def _md_bulk(rows):
    L = ["### Bulk transfers (bulk-load)\n",
         "Each round: the connections at once, each one transfer of the size given through the "
         "proxy's TCP listener (downloads: the backend sends; uploads: the client does), every "
         "block of the bytes checked. CPU per GiB: utime+stime of all the proxy's processes "
         "and threads over the transfers, divided by the GiB moved. Gbit/s: the bytes moved over "
         "the client's time, first connect to the end of the last transfer. Median over rounds "
         "(min–max: the worst round is the highest CPU and the lowest Gbit/s); a round with a "
         "failed transfer has neither figure. HAProxy splices both ways (option splice-request "
         "and splice-response, tune.pipesize 1 MiB); NGINX's stream module has no splicing.\n",
         "| workload | proxy | connections × MiB | proxy CPU s/GiB | Gbit/s | proxy CPU % | "
         "client CPU % | backends CPU % | errors |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        mib = _median(r, "bytes_per_conn")
        shape = f"{fmt_num(_median(r, 'connections'))} × " + \
            (fmt_num(mib / 2 ** 20, 0 if mib % 2 ** 20 == 0 else 2) if mib else "–")
        L.append(f"| {r['workload']} | {r['chain']} | {shape} | "
                 f"{fmt_stat(r.get('cpu_s_per_gib'), 3)} | "
                 f"{fmt_stat(r.get('gbit_per_s'), 2)} | "
                 f"{fmt_num(_median(r, 'proxy_cpu_pct'))} | "
                 f"{fmt_num(_median(r, 'loadgen_cpu_pct'))} | "
                 f"{fmt_num(_median(r, 'backend_cpu_pct'))} | {r['errors']} |")
    L.append("")
    return L


def _md_h2(rows):
    L = ["### HTTP/2 (h2load)\n",
         "HTTP/2 from the client (over TLS with ALPN h2, or h2c by prior knowledge), HTTP/1.1 "
         "keep-alive to the backends (h2h2-*, grpc-*: HTTP/2 h2c to bench/tools/h2-responder.c; "
         "grpc-*: gRPC unary calls, 13-byte messages both ways, grpc-status 0 in the trailers). "
         "Connections × streams in flight on each; every "
         "connection makes at most 10,000 requests (ALB's GOAWAY limit), then h2load runs "
         "again on new connections. Request time at saturation: h2load's mean and max "
         "(it prints no percentiles); it is queueing, for reference only.\n",
         "| workload | proxy | req/s | proxy CPU µs/req | connections × streams | "
         "mean request time µs | max µs | protocol, TLS | errors |",
         "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        shape = f"{fmt_num(_median(r, 'h2_conns'))} × {fmt_num(_median(r, 'h2_streams'))}"
        proto = ", ".join(r.get("h2_protocols") or []) or "–"
        if r.get("tls_ciphers"):
            proto += "; " + ", ".join(r["tls_ciphers"])
        L.append(f"| {r['workload']} | {r['chain']} | {fmt_stat(r.get('rps'))} | "
                 f"{fmt_stat(r.get('cpu_us_per_req'), 1)} | {shape} | "
                 f"{fmt_stat(r.get('sat_lat_mean_us'))} | "
                 f"{fmt_num(_median(r, 'sat_lat_max_us'))} | {proto} | {r['errors']} |")
    L.append("")
    return L


def _md_access_logs(rows):
    L = ["### Access logs\n",
         "Entries in each proxy's access log after it stopped, per request it served (check "
         "request, warm-up and measured; a connection closed without a request may add one).\n",
         "| workload | phase | proxy | entries per request served % |",
         "|---|---|---|---:|"]
    for r in rows:
        L.append(f"| {r['workload']} | {r['phase']} | {r['chain']} | "
                 f"{fmt_stat(r.get('access_log_pct'), 1)} |")
    L.append("")
    return L


def _md_latency(lat, layout, rates):
    L = ["### Latency at a fixed open-loop rate\n",
         "Median over rounds of each round's percentile; latency counted from each "
         "request's scheduled send time (no coordinated omission).\n",
         "| workload | rate req/s | proxy | p50 µs | p99 µs | p99.9 µs | max µs | "
         "proxy CPU µs/req | errors |",
         "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in lat:
        rate = rates.get(f"{layout}/{r['workload']}")
        L.append(f"| {r['workload']} | {fmt_num(rate)} | {r['chain']} | "
                 f"{fmt_num(_median(r, 'p50_us'))} | "
                 f"{fmt_num(_median(r, 'p99_us'))} | "
                 f"{fmt_num(_median(r, 'p999_us'))} | "
                 f"{fmt_num(_median(r, 'max_us'))} | "
                 f"{fmt_num(_median(r, 'cpu_us_per_req'), 1)} | "
                 f"{r['errors']} |")
    L.append("")
    return L


def _md_idle(idle):
    L = ["### Memory: baseline and per idle keep-alive connection\n",
         "| proxy | baseline RSS KiB | RSS B/conn | PSS B/conn | connections held | "
         "errors |",
         "|---|---:|---:|---:|---:|---:|"]
    for r in idle:
        L.append(f"| {r['chain']} | {fmt_stat(r.get('baseline_rss_kib'))} | "
                 f"{fmt_stat(r.get('rss_bytes_per_conn'))} | "
                 f"{fmt_stat(r.get('pss_bytes_per_conn'))} | "
                 f"{fmt_num(_median(r, 'held_by_proxy'))} | "
                 f"{r['errors']} |")
    L.append("")
    return L


_CHAIN_TITLES = {"haproxy": "HAProxy", "nginx": "NGINX", "h2o": "h2o"}


def _own_best_peers(rat):
    """"; in w: the better of ..." for each workload compared with "best peer" whose best peer
    is chosen among other chains than HAProxy and NGINX or the three HTTP/2 peers (those
    some peers cannot serve: h2h2-13b's is HAProxy alone)."""
    usual = {("haproxy", "nginx"), ("haproxy", "nginx", "h2o")}
    out = []
    for wl in sorted({r["workload"] for r in rat if r["other"] == "best peer"}):
        peers = best_peer_of(wl)
        if tuple(peers) in usual:
            continue
        names = [_CHAIN_TITLES.get(c, c) for c in peers]
        which = names[0] if len(names) == 1 else \
            "the better of " + ", ".join(names[:-1]) + " and " + names[-1]
        out.append(f"in {wl}: {which}")
    return "; " + "; ".join(out) if out else ""


def _md_ratios(rat):
    # The bytes per CPU second column only when a WebSocket workload has the figure, the
    # packets per CPU second one only when a UDP workload has it.
    # The bulk workloads' two columns only when one has its CPU per GiB.
    ws = any(r.get("bytes_per_cpu_s") for r in rat)
    udp = any(r.get("packets_per_cpu_s") for r in rat)
    bulk = any(r.get("cpu_s_per_gib") for r in rat)
    more = [n for n, on in (("bytes/CPU-s", ws), ("packets/CPU-s", udp), ("Gbit/s", bulk))
            if on]
    cols = [n for n, on in (("bytes/CPU-s", ws), ("packets/CPU-s", udp)) if on] + \
        (["CPU s/GiB", "Gbit/s"] if bulk else [])
    L = ["### Comparisons: median of per-round ratios (worst round)\n",
         "Ratio = first / second. req/s" + "".join(f" and {n}" for n in more) +
         ": higher is better for the first; CPU/req, " + ("CPU s/GiB, " if bulk else "") +
         "p50, p99 and bytes/conn: lower is better. \"best peer\" is, in each "
         "round and for each figure, the better of HAProxy and NGINX" +
         (" (in the HTTP/2 workloads the best of HAProxy, NGINX and h2o)"
          if any(r["other"] == "h2o" for r in rat) else "") + _own_best_peers(rat) + ".\n",
         "| workload | comparison | req/s | CPU µs/req | " + "".join(f"{n} | " for n in cols) +
         "p50 | p99 | RSS B/conn |",
         "|---|---|---:|---:|" + "---:|" * len(cols) + "---:|---:|---:|"]
    for r in rat:
        L.append(f"| {r['workload']} | {r['ours']} / {r['other']} | {fmt_ratio(r['rps'])} | "
                 f"{fmt_ratio(r['cpu_us_per_req'])} | " +
                 (f"{fmt_ratio(r.get('bytes_per_cpu_s'))} | " if ws else "") +
                 (f"{fmt_ratio(r.get('packets_per_cpu_s'))} | " if udp else "") +
                 (f"{fmt_ratio(r.get('cpu_s_per_gib'))} | "
                  f"{fmt_ratio(r.get('gbit_per_s'))} | " if bulk else "") +
                 f"{fmt_ratio(r['p50_us'])} | "
                 f"{fmt_ratio(r['p99_us'])} | {fmt_ratio(r['rss_bytes_per_conn'])} |")
    L.append("")
    return L


def _md_layout(layout, summary):
    rows = [r for r in summary["chains"] if r["layout"] == layout]
    L = [f"## Layout {layout}\n"]
    cap = [r for r in rows if r["phase"] == "capacity"]
    if cap:
        L += _md_capacity(cap)
    hs = [r for r in cap if r.get("resumed_pct")]
    if hs:
        L += _md_handshakes(hs)
    ws = [r for r in cap if r.get("bytes_per_cpu_s")]
    if ws:
        L += _md_websocket(ws)
    udp = [r for r in cap if r.get("packets_per_cpu_s")]
    if udp:
        L += _md_udp(udp)
    h2 = [r for r in cap if r.get("h2_conns")]
    if h2:
        L += _md_h2(h2)
    bulk = [r for r in rows if r["phase"] == "bulk"]
    if bulk:
        L += _md_bulk(bulk)
    lat = [r for r in rows if r["phase"] == "latency"]
    if lat:
        L += _md_latency(lat, layout, summary["rates"])
    logs = [r for r in rows if r.get("access_log_pct")]
    if logs:
        L += _md_access_logs(logs)
    idle = [r for r in rows if r["phase"] == "idle"]
    if idle:
        L += _md_idle(idle)
    rat = [r for r in summary["ratios"] if r["layout"] == layout]
    if rat:
        L += _md_ratios(rat)
    return L


def markdown(meta, summary, problems):
    L = _md_header(meta, problems)
    rows = summary["chains"]
    for layout in sorted({r["layout"] for r in rows}):
        L += _md_layout(layout, summary)
    noise = [r for r in rows if r["phase"] in ("capacity", "latency", "bulk")]
    if noise:
        busiest = max((r.get("neighbour_busy_pct") or {}).get("max", 0) for r in noise)
        steal = max((r.get("steal_pct") or {}).get("max", 0) for r in noise)
        L.append(f"Noise: other load on the box before a measurement was up to {busiest:.0f} % "
                 f"(busy share of all CPUs while our proxy sat idle); steal up to {steal:.1f} %.\n")
    if problems:
        L.append("## Problems\n")
        L.extend(f"- {p}" for p in problems)
        L.append("")
    return "\n".join(L)


CHART_COLORS = {"sluice": "#1f77b4", "haproxy": "#ff7f0e", "nginx": "#2ca02c", "h2o": "#d62728",
                "floor": "#7f7f7f", "direct": "#bcbd22", "sluice-1rule": "#9ecae1",
                "sluice-1000rules": "#08519c"}
CHART_PANELS = [("capacity", "cpu_us_per_req", "proxy CPU µs per request (saturation)"),
                ("latency", "p99_us", "p99 latency µs at fixed open-loop rate")]


def _chart_panel(ax, rows, layout, phase, field, label):
    sel = [r for r in rows if r["layout"] == layout and r["phase"] == phase and r.get(field)]
    wls = [w for w in WORKLOADS if any(r["workload"] == w for r in sel)]
    chains = [c for c in ALL_CHAINS + RULES_CHAINS if any(r["chain"] == c for r in sel)]
    width = 0.8 / max(1, len(chains))
    for k, c in enumerate(chains):
        xs, ys, lo, hi = [], [], [], []
        for x, w in enumerate(wls):
            r = next((r for r in sel if r["workload"] == w and r["chain"] == c), None)
            if r:
                s = r[field]
                xs.append(x + (k - (len(chains) - 1) / 2) * width)
                ys.append(s["median"])
                lo.append(s["median"] - s["min"])
                hi.append(s["max"] - s["median"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=c,
               color=CHART_COLORS.get(c, None))
    ax.set_xticks(range(len(wls)))
    ax.set_xticklabels(wls)
    ax.set_title(f"layout {layout}: {label}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if sel:
        ax.legend(fontsize=8)


def chart(path, summary, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: python3-matplotlib not installed; no chart (apt-get install -y "
              "python3-matplotlib)", flush=True)
        return False
    rows = summary["chains"]
    layouts = sorted({r["layout"] for r in rows if r["phase"] in ("capacity", "latency")})
    if not layouts:
        return False
    fig, axes = plt.subplots(len(layouts), 2, figsize=(13, 4.2 * len(layouts)), squeeze=False)
    for i, layout in enumerate(layouts):
        for j, (phase, field, label) in enumerate(CHART_PANELS):
            _chart_panel(axes[i][j], rows, layout, phase, field, label)
    fig.suptitle(title + " (bars: median; whiskers: min–max over rounds)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_results(out, meta, measurements, rates):
    """Summarizes the measurements and writes results.json, results.md and chart.png into
    out. Returns the Markdown."""
    summary = summarize(measurements, rates)
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "measurements": measurements}, indent=1))
    md = markdown(meta, summary, meta.get("problems", []))
    (out / "results.md").write_text(md + "\n")
    smoke = meta["args"].get("smoke")
    chart(out / "chart.png", summary,
          f"Sluice vs peers, {meta['started']}" + (" (smoke)" if smoke else ""))
    return md


def resummarize(directory):
    """Rewrites results.json, results.md and chart.png of an earlier run from its own
    measurements, with the current summary code (nothing is re-measured)."""
    out = Path(directory)
    data = json.loads((out / "results.json").read_text())
    write_results(out, data["meta"], data["measurements"], data["summary"].get("rates", {}))
    print(f"rewritten: {out}/results.md, results.json, chart.png", flush=True)
    return 0
