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
ALL_CHAINS = ("sluice", "haproxy", "nginx", "floor", "direct")
RULES_CHAINS = ("sluice-1rule", "sluice-1000rules")


class HarnessError(Exception):
    """The harness could not do its job (as opposed to a proxy failing requests)."""


class ProxyDied(Exception):
    """The proxy under test exited during a measurement: an error of that proxy, recorded as
    such; the run goes on with the next measurement."""
