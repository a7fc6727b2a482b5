"""Paths, addresses and chain names shared by every module, and the two exception types."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
SHARED_BENCH = (ROOT / ".." / "shared" / "bench").resolve()
CLK_TCK = os.sysconf("SC_CLK_TCK")

PROXY_ADDR = "127.0.0.1"  # the floor forwarder can only listen here
BACKEND_ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]
DIRECT_ADDR = "127.0.0.15"  # the "direct" chain's own responder
PEERS = ("sluice", "haproxy", "nginx")  # the proxies compared; floor/direct are references
# h2o (Debian's h2o 2.2, the HTTP/2 specialist) is a peer of the HTTP/2 workloads only: a
# workload without its own chain list (Workload.chains None) never runs it.
H2_ONLY_CHAINS = ("h2o",)
H2_PEERS = PEERS + H2_ONLY_CHAINS  # the proxies an HTTP/2 workload compares
HTTP_CHAINS = ("sluice", "haproxy", "nginx", "floor", "direct")  # every workload's, by default
ALL_CHAINS = HTTP_CHAINS + H2_ONLY_CHAINS
RULES_CHAINS = ("sluice-1rule", "sluice-1000rules")


class HarnessError(Exception):
    """The harness could not do its job (as opposed to a proxy failing requests)."""


class ProxyDied(Exception):
    """The proxy under test exited during a measurement: an error of that proxy, recorded as
    such; the run goes on with the next measurement."""
