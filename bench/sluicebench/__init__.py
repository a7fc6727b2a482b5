"""The side-by-side benchmark harness behind bench/run.py (see docs/performance.md).

Modules, from the bottom up:

    common     paths, addresses, chain names, the harness's two exception types
    procs      starting, stopping and finding the processes the harness runs
    sysstats   /proc readers (CPU ticks, memory, TCP counters and sockets) and free ports
    httpcheck  a tiny HTTP client: check requests (HTTP/2 ones with nghttp) and idle
               keep-alive connections
    workloads  the workloads and layouts, as data
    chains     how each chain (sluice, haproxy, nginx, floor, direct; h2o for HTTP/2) is
               configured and started
    setup      building Sluice and the instruments, checking the environment, versions
    loadgen    wrk, tls-load, ws-load and h2load (closed loop) and bench/tools/openloop.c
               (open loop)
    driver     the Bench class: measurements and their rounds
    stats      summaries and per-round ratios, the figures decision records quote
    report     results.md, chart.png, results.json, --resummarize
    cli        arguments and the top-level run

Standard library only; python3-matplotlib is optional (chart.png).
"""
