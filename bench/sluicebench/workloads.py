"""Workloads and layouts, as data.

A new workload or layout is one more entry in WORKLOADS or LAYOUTS; the driver does not branch
on names. What a workload entry decides:

    body, close, path   what the clients ask for and what the backends answer
    tls                 the clients speak HTTPS to the chain (one certificate, made once per
                        run, for every proxy)
    tls_key             the kind of key of that certificate (and of the TLS backends'):
                        "ecdsa" (ECDSA P-256, the default) or "rsa" (RSA-2048); chains.CERT_KEYS
    backend_tls         the chain speaks HTTPS to the backends (TLS 1.3, keep-alive, session
                        resumption, no certificate check): the backends are then one NGINX
                        process serving TLS with that same certificate on every backend
                        address (chains.tls_backend_argv), the same processes for every chain;
                        otherwise the chain speaks HTTP to the plain responders
    access_log          every proxy writes one access-log entry per request to a local file in
                        the run's work directory (chains.access_log_path): Sluice its ALB gzip
                        files (access_logs.s3.enabled), NGINX `combined` with a 64 KiB buffer,
                        HAProxy `option httplog` lines on its stdout, which goes to a file; after
                        each capacity and latency measurement the driver counts the lines and
                        records a problem when fewer than 90 % of the requests the proxy
                        served were logged (accesslog.py, ACCESS_LOG_MIN)
    handshake           None: the capacity phase's client is wrk. "full" or "resumed": a TLS
                        workload with a new connection per request (tls and close) whose
                        client is bench/tools/tls-load.c, which offers each connection slot's
                        previous session when "resumed" (--resume) and never when "full"; the
                        driver fails the run when a chain resumed fewer than
                        RESUMED_MIN of the handshakes ("resumed") or any ("full")
    phases              which measurements run, in order (driver.Bench.PHASES):
                        "capacity" (wrk, closed loop), "latency" (open loop at a rate derived
                        from the capacity phase), "idle" (idle keep-alive connections, memory),
                        "bulk" (a bulk workload's transfers, its only phase)
    chains              the chains able to serve it (None: every chain selected)
    variants            chains run instead of a selected one (rules: sluice with 1 and with
                        1,000 rules, when sluice is selected)
    comparisons         the (ours, other) pairs of per-round ratios in results.md
    tcp                 a layer-4 workload: every proxy forwards the clients' connections as
                        bytes (Sluice a `Type: network` load balancer with a TCP listener and
                        a TCP target group, HAProxy `mode tcp`, NGINX `stream`; chains.py,
                        TCP_CHAINS), so each client connection is pinned to one backend for
                        its life; the client and backends are the HTTP workload's (plain HTTP,
                        keep-alive). With `tls` the clients speak HTTPS and every proxy
                        terminates TLS and forwards the decrypted bytes (Sluice a TLS
                        listener, HAProxy `bind ... ssl crt`, NGINX `listen ... ssl`); the
                        backends stay plain (no backend_tls)
    udp                 a UDP request/response workload: every flow (a UDP socket of the client,
                        so one source port, one 5-tuple) sends one datagram of `body` bytes and
                        waits for its echo before the next; the client is
                        bench/tools/udp-load.c (the layout's connections as flows, its wrk
                        threads as threads), the backends bench/tools/udp-echo.c. The proxies
                        forward datagrams: Sluice a `Type: network` load balancer with a UDP
                        listener and a UDP target group, NGINX `stream` with `listen ... udp`
                        (chains.py, UDP_CHAINS); HAProxy has no UDP and the floor and direct
                        chains are TCP only, so its chains are UDP_PEERS. Capacity only.
                        Figure: packets_per_cpu_s, the client's datagrams both ways (each
                        request up, its echo down: 2 per request) per proxy CPU second
    bulk                a bulk-transfer workload ("down" or "up"; None otherwise), layer-4
                        (needs tcp): each round, bulk_conns client connections at once, each
                        one transfer of `body` bytes (--bulk-mib overrides it; --smoke: 4 MiB)
                        through the proxy's TCP listener to bench/tools/bulk-server.c on the
                        backend addresses and closed; "down": the backend sends (GET), "up":
                        the client does (PUT). The client is bench/tools/bulk-load.c, which
                        checks the bytes (bench/tools/bulk-pattern.h) and counts a short, long
                        or corrupt transfer as an error (a problem of the round: its figure is
                        left out). Phase "bulk" only (driver.Bench.measure_bulk). Figures:
                        cpu_s_per_gib, the proxy's CPU seconds per GiB moved (lower is
                        better), and gbit_per_s, the payload's throughput over the round
                        (first connect to last transfer's end). Peers only (BULK_PEERS): the
                        floor forwarder writes each read once, non-blocking, and drops what a
                        full socket buffer does not take, so it loses bytes as soon as a
                        client falls behind (seen: 4 MiB of 64 MiB to a client pausing 1 s)
    bulk_conns          the connections of a bulk round (BULK_CONNS, the same in every layout)
    h2                  an HTTP/2 workload: the clients speak HTTP/2 to the chain, over TLS with
                        ALPN h2 when `tls`, else in clear text by prior knowledge (h2c); each
                        stream is forwarded to the same HTTP/1.1 keep-alive backends as the
                        other workloads. The client is h2load (nghttp2-client): h2_conns
                        connections per load-generator thread (the layout's wrk threads), each
                        with h2_streams streams in flight (-m), and at most
                        h2_requests_per_conn (10,000) requests per connection: ALB, and so
                        Sluice, sends GOAWAY after 10,000 requests on a connection, and h2load
                        does not reconnect after a GOAWAY, so the harness runs h2load again
                        (new connections) until the phase's duration has passed
                        (loadgen.h2load). Peers: HAProxy, NGINX and h2o (H2_PEERS; the floor
                        and the responder speak no HTTP/2); capacity only (openloop.c and the
                        idle client speak HTTP/1.1); "best peer" is the best of the three
    protocol_version    what the chain speaks to the backends in an HTTP/2 workload, named as
                        Sluice's (and ALB's) target group ProtocolVersion: "HTTP1" (the
                        default: HTTP/1.1 keep-alive to the usual responders), "HTTP2" or
                        "GRPC": HTTP/2 in clear text by prior knowledge (h2c) to
                        bench/tools/h2-responder.c, one on each backend address, multiplexing
                        the streams of every client connection on few backend connections.
                        "GRPC": the clients send gRPC requests (POST, content-type
                        application/grpc, te: trailers, one gRPC message of `body` bytes:
                        GRPC_PREFIX_BYTES + body, from a file of the run, grpc_message) and the
                        backends answer one message of `body` bytes and the trailers
                        grpc-status 0 and grpc-message; the check request must see them.
                        Needs h2 (Sluice answers HTTP/1.1 requests to such groups with 464)
    best_peer           the chains "best peer" is the best of (default: HAProxy and NGINX; in an
                        HTTP/2 workload h2o too); a workload some peers cannot serve names the
                        others
    smoke               run by `bench/run.py --smoke` when no --workloads are given (default
                        True; the HTTP/2 workloads but h2-13b are left out: CI time)

A TLS workload runs on the peers only (the floor forwarder and the responder speak no TLS) and
measures capacity only: bench/tools/openloop.c and the idle phase's client speak plain HTTP.
The handshake workloads (tls-full-13b, tls-resume-13b) measure the two kinds of handshake
with the same client, tls-load; tls-full-rsa-13b is tls-full-13b with an RSA-2048
certificate, whose signature dominates a full handshake (with ECDSA P-256 the key exchange and
protocol work do). tls-close-13b's client is wrk, which keeps each connection's SSL object
across reconnects (SSL_clear) and so offers, and on TLS 1.3 gets, the previous connection's
session: its handshakes are mostly resumed, not full, and it has no RSA twin.
The UDP workload (udp-echo-64b) is issue 15's "UDP request/response (small datagrams, many
flows): packets per CPU-second >= 1.2x NGINX stream UDP": Sluice against NGINX alone.
The bulk workloads (tcp-bulk-1g: downloads; tcp-bulk-up-1g: uploads) are issue 15's "1 GiB
bulk transfer through TCP: CPU per GiB <= 0.5x the best peer": Sluice's TCP listener against
HAProxy `mode tcp` with kernel splicing both ways (1 MiB pipes) and NGINX `stream` at its
defaults (chains.py says why those settings, and what others measured), BULK_CONNS
connections of 1 GiB each per round.
An access-log workload runs on the peers only (the floor and the responder write no logs).
A backend-TLS workload runs on the peers only too (the floor would forward plain bytes to a
TLS port; the direct chain's responder speaks no TLS) and measures capacity only.
The HTTP/2 workloads (h2-13b, h2-1k: TLS with ALPN h2; h2c-13b: prior knowledge in clear text,
which Sluice serves only with the load balancer attribute sluice.routing.http2.cleartext.enabled)
are issue 12's: many streams on few connections, compared with HAProxy, NGINX and h2o.
Issue 12's HTTP/2 to targets (h2h2-13b: plain HTTP/2 GETs; grpc-13b: gRPC unary calls) are h2c
from h2load to the proxy and h2c from the proxy to bench/tools/h2-responder.c: Sluice with a
target group of ProtocolVersion HTTP2 or GRPC, HAProxy with `proto h2` on its servers, NGINX
with grpc_pass (gRPC only: NGINX cannot proxy plain HTTP/2 to a backend, so h2h2-13b is
Sluice against HAProxy alone); h2o 2.2 speaks HTTP/1.1 to backends only, so it is in neither.
"""

import os

from .chains import CERT_KEYS, DEFAULT_CERT_KEY, PEER_HEADERS
from .common import (BACKEND_ADDRS, H2_ONLY_CHAINS, H2_PEERS, PEERS, RULES_CHAINS,
                     HarnessError)

# Sluice against each peer, the better peer of each round, and the two references.
PEER_COMPARISONS = tuple(("sluice", o) for o in ("haproxy", "nginx", "best peer", "floor",
                                                 "direct"))
# Without the references (workloads they cannot serve).
PEERS_ONLY_COMPARISONS = tuple(("sluice", o) for o in ("haproxy", "nginx", "best peer"))

# An HTTP/2 workload: Sluice against each of its three peers and the best of them.
H2_COMPARISONS = tuple(("sluice", o) for o in ("haproxy", "nginx", "h2o", "best peer"))

# "best peer": per round and figure, the better of these (an HTTP/2 workload: H2_BEST_PEER_OF).
BEST_PEER_OF = ("haproxy", "nginx")
H2_BEST_PEER_OF = ("haproxy", "nginx", "h2o")

# ALB's (and so Sluice's) limit of requests on one HTTP/2 connection: GOAWAY after it.
H2_MAX_REQUESTS_PER_CONN = 10000

# What the chain speaks to the backends (Workload.protocol_version, Sluice's ProtocolVersion).
PROTOCOL_VERSIONS = ("HTTP1", "HTTP2", "GRPC")
# The peers able to speak HTTP/2 to backends: HAProxy (`proto h2` servers) for any request,
# NGINX (grpc_pass) for gRPC only; h2o 2.2 cannot.
H2_UPSTREAM_PEERS = {"HTTP2": ("haproxy",), "GRPC": ("haproxy", "nginx")}

# A gRPC message on the wire: a compressed flag (0) and the length, 4 bytes big-endian, then
# the message (gRPC over HTTP/2, "Length-Prefixed-Message").
GRPC_PREFIX_BYTES = 5
# The filler of the bodies, as the responders': "Hello, world!" repeated.
FILLER = b"Hello, world!"


def grpc_message(size):
    """One uncompressed gRPC message of `size` bytes of filler, with its 5-byte prefix."""
    payload = (FILLER * (size // len(FILLER) + 1))[:size]
    return b"\x00" + size.to_bytes(4, "big") + payload

# The chains of a UDP workload: the proxies that forward UDP (HAProxy has none; the floor
# forwarder and the direct responder are TCP only), compared with each other alone.
UDP_PEERS = ("sluice", "nginx")
UDP_COMPARISONS = (("sluice", "nginx"),)
# What a UDP workload's figure counts per request: the datagram sent and its echo received
# (packets_per_cpu_s = UDP_PACKETS_PER_REQUEST * requests / proxy CPU seconds).
UDP_PACKETS_PER_REQUEST = 2

# A bulk workload (Workload.bulk): which way the bytes go, "down" (backend to client, GET) or
# "up" (client to backend, PUT).
BULK_DIRECTIONS = ("down", "up")
# Its connections per round: one per backend address (HAProxy and NGINX balance round robin,
# so each backend sends or receives one transfer; Sluice's flow hash may put two on one, which
# changes nothing for the proxy). Several, not one, so that the proxy relays a few flows at
# once as a real one does (each epoll_wait returns more than one event), and the client's and
# backends' work is spread over threads; few, so that each transfer is long (1 GiB: the
# connects, accepts and buffer set-up are far under 0.1 % of the CPU) and a round moves
# 4 GiB in seconds, long enough for CPU time counted in 10 ms ticks (under 1 % of a round's
# proxy CPU) and short enough for several rounds.
BULK_CONNS = 4
# Bytes per connection of the warm-up transfers before a measured round (the proxy's first
# buffers, pipes and connections; not recorded) and of the check transfer (one connection,
# checked byte for byte in Python) through every chain and to every backend.
BULK_WARMUP_BYTES = 16 << 20
BULK_CHECK_BYTES = 1 << 20
# The chains of a bulk workload: the peers; the floor loses bytes (see `bulk` above) and the
# direct chain has no proxy whose CPU a bulk figure could count.
BULK_PEERS = PEERS
GIB = 1 << 30

# The kinds of handshake a tls-load workload measures, and the least share of a "resumed"
# workload's handshakes that must have been resumed (the first connection of each slot is
# always a full handshake: 64 or 128 of several thousand).
HANDSHAKES = ("full", "resumed")
RESUMED_MIN = 0.9


class Workload:
    def __init__(self, name, title, body=13, close=False, path="/",
                 phases=("capacity", "latency"), chains=None, variants=None,
                 comparisons=PEER_COMPARISONS, tls=False, backend_tls=False, handshake=None,
                 tls_key=DEFAULT_CERT_KEY, access_log=False, websocket=False, depth=1,
                 tcp=False, h2=False, h2_conns=8, h2_streams=32,
                 h2_requests_per_conn=H2_MAX_REQUESTS_PER_CONN, protocol_version="HTTP1",
                 best_peer=None, smoke=True, udp=False, bulk=None, bulk_conns=BULK_CONNS):
        self.name, self.title, self.body, self.close = name, title, body, close
        self.smoke = smoke
        # HTTP/2 to the backends (HTTP2, GRPC): an HTTP/2 workload of h2c backends.
        if protocol_version not in PROTOCOL_VERSIONS:
            raise HarnessError(f"workload {name}: protocol_version={protocol_version!r} is not "
                               f"one of {', '.join(PROTOCOL_VERSIONS)}")
        if protocol_version != "HTTP1" and not h2:
            raise HarnessError(f"workload {name}: HTTP/2 to the backends "
                               f"({protocol_version}) needs HTTP/2 clients (h2): Sluice "
                               f"answers HTTP/1.1 requests to such groups with 464")
        self.protocol_version = protocol_version
        # An HTTP/2 workload: h2load, keep-alive, capacity only, plain backends (HTTP/1.1, or
        # h2c with protocol_version HTTP2/GRPC).
        self.h2, self.h2_conns, self.h2_streams = h2, h2_conns, h2_streams
        self.h2_requests_per_conn = h2_requests_per_conn
        if h2 and (close or backend_tls or access_log or handshake or websocket or tcp or
                   variants or tuple(phases) != ("capacity",)):
            raise HarnessError(f"workload {name}: an HTTP/2 workload keeps its connections, "
                               f"has plain backends (HTTP/1.1 or h2c), no logs or variants "
                               f"and the capacity phase only")
        if h2 and not (h2_conns >= 1 and h2_streams >= 1 and
                       1 <= h2_requests_per_conn <= H2_MAX_REQUESTS_PER_CONN):
            raise HarnessError(f"workload {name}: h2_conns and h2_streams must be >= 1 and "
                               f"h2_requests_per_conn 1..{H2_MAX_REQUESTS_PER_CONN}")
        # A layer-4 workload: HTTP keep-alive through proxies in TCP mode, over TLS from the
        # clients with `tls` (the proxies terminate it and forward the decrypted bytes).
        # Keep-alive only: in TCP mode no proxy closes per request (the responder decides);
        # plain backends: TLS to them would need TLS target groups, `ssl` servers and
        # proxy_ssl, which the TCP-mode templates do not have; no access logs either.
        self.tcp = tcp
        if tcp and (backend_tls or close or access_log or handshake or websocket or variants):
            raise HarnessError(f"workload {name}: a layer-4 workload is plain HTTP keep-alive "
                               f"through TCP forwarders (TLS from the clients only: tls), "
                               f"without backend TLS, logs or variants")
        # A WebSocket workload: ws-load upgrades every connection and echoes messages of
        # `body` bytes through the chain to ws-echo backends, `depth` outstanding per
        # connection; capacity phase only (no open-loop WebSocket generator).
        self.websocket, self.depth = websocket, depth
        if websocket and (tls or backend_tls or close or access_log or handshake or
                          tuple(phases) != ("capacity",)):
            raise HarnessError(f"workload {name}: a WebSocket workload is plain HTTP, keeps its "
                               f"connections and has the capacity phase only")
        # A UDP workload: udp-load's datagrams through UDP forwarders to udp-echo backends,
        # nothing of HTTP, TLS or TCP; capacity phase only (no open-loop UDP generator).
        self.udp = udp
        if udp and (tls or backend_tls or close or access_log or handshake or websocket or tcp
                    or h2 or variants or tuple(phases) != ("capacity",)):
            raise HarnessError(f"workload {name}: a UDP workload is datagrams only (no HTTP, "
                               f"TLS, TCP, logs or variants) and has the capacity phase only")
        if udp and not 16 <= body <= 65507:
            raise HarnessError(f"workload {name}: UDP datagrams of {body} bytes: 16..65507 "
                               f"(udp-load's header is 16 bytes)")
        if udp and (chains is None or not set(chains) <= set(UDP_PEERS)):
            raise HarnessError(f"workload {name}: a UDP workload's chains are among "
                               f"{', '.join(UDP_PEERS)}")
        # A bulk workload: a few long transfers through TCP forwarders to bulk-server
        # backends, nothing of HTTP or TLS; its own phase, "bulk".
        self.bulk, self.bulk_conns = bulk, bulk_conns
        if bulk is not None and bulk not in BULK_DIRECTIONS:
            raise HarnessError(f"workload {name}: bulk={bulk!r} is not one of "
                               f"{', '.join(BULK_DIRECTIONS)}")
        if bulk and (not tcp or tls or backend_tls or close or access_log or handshake or
                     websocket or h2 or udp or variants or tuple(phases) != ("bulk",)):
            raise HarnessError(f"workload {name}: a bulk workload is plain TCP (tcp, no TLS, "
                               f"HTTP, logs or variants) and has the bulk phase only")
        if "bulk" in phases and not bulk:
            raise HarnessError(f"workload {name}: the bulk phase needs a bulk workload")
        if bulk and (chains is None or not set(chains) <= set(BULK_PEERS)):
            raise HarnessError(f"workload {name}: a bulk workload's chains are among "
                               f"{', '.join(BULK_PEERS)}")
        if bulk and not (body >= 1 and 1 <= bulk_conns <= 1024):
            raise HarnessError(f"workload {name}: a bulk transfer needs body >= 1 byte and "
                               f"1..1024 connections")
        self.tls, self.backend_tls, self.access_log = tls, backend_tls, access_log
        if tls_key not in CERT_KEYS:
            raise HarnessError(f"workload {name}: tls_key={tls_key!r} is not one of "
                               f"{', '.join(CERT_KEYS)}")
        if tls_key != DEFAULT_CERT_KEY and not (tls or backend_tls):
            raise HarnessError(f"workload {name}: tls_key={tls_key!r} without TLS")
        self.tls_key = tls_key
        if handshake is not None and (handshake not in HANDSHAKES or not (tls and close)):
            raise HarnessError(f"workload {name}: handshake={handshake!r} needs tls, close "
                               f"and one of {', '.join(HANDSHAKES)}")
        self.handshake = handshake
        self.path, self.phases, self.chains = path, tuple(phases), chains
        self.variants, self.comparisons = variants or {}, tuple(comparisons)
        if best_peer is not None and chains is not None and not set(best_peer) <= set(chains):
            raise HarnessError(f"workload {name}: best_peer {', '.join(best_peer)} not all "
                               f"among its chains")
        self.best_peer = tuple(best_peer) if best_peer is not None else None

    def chains_for(self, selected):
        """The chains this workload runs, given the chains selected (--proxies). Without a
        chain list of its own, every selected chain but the HTTP/2-only ones (h2o)."""
        if self.variants:
            return [v for c, vs in self.variants.items() if c in selected for v in vs]
        if self.chains is None:
            return [c for c in selected if c not in H2_ONLY_CHAINS]
        return [c for c in selected if c in self.chains]

    @property
    def best_peer_of(self):
        """The chains whose better figure, round by round, is "best peer"."""
        if self.best_peer is not None:
            return self.best_peer
        return H2_BEST_PEER_OF if self.h2 else BEST_PEER_OF

    @property
    def h2_backends(self):
        """The chain speaks HTTP/2 (h2c) to the backends (ProtocolVersion HTTP2 or GRPC)."""
        return self.protocol_version != "HTTP1"

    @property
    def grpc(self):
        """The clients make gRPC calls (ProtocolVersion GRPC)."""
        return self.protocol_version == "GRPC"

    @property
    def request_body(self):
        """The bytes of a request's body (a gRPC workload's one message), or None (GET)."""
        return grpc_message(self.body) if self.grpc else None

    @property
    def request_headers(self):
        """The request's headers beyond the pseudo-headers (a gRPC call's two)."""
        return (("content-type", "application/grpc"), ("te", "trailers")) if self.grpc else ()

    @property
    def response_bytes(self):
        """The DATA (body) bytes of one response: `body`, or in a gRPC workload the one
        message with its prefix."""
        return self.body + (GRPC_PREFIX_BYTES if self.grpc else 0)

    @property
    def h2_protocol(self):
        """What h2load must report as the application protocol: "h2" over TLS (ALPN), "h2c"
        in clear text (prior knowledge); None for a workload that is not HTTP/2."""
        if not self.h2:
            return None
        return "h2" if self.tls else "h2c"

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def resume(self):
        """The client offers each slot's previous session (tls-load --resume)."""
        return self.handshake == "resumed"

    @property
    def client(self):
        """The capacity phase's load generator: "wrk", "tls-load", "ws-load", "h2load" or
        "udp-load"; a bulk workload's (bulk phase): "bulk-load"."""
        if self.bulk:
            return "bulk-load"
        if self.udp:
            return "udp-load"
        if self.websocket:
            return "ws-load"
        if self.h2:
            return "h2load"
        return "wrk" if self.handshake is None else "tls-load"


WORKLOADS = {w.name: w for w in (
    Workload("ka-13b", "keep-alive, 13 B response", body=13),
    # ka-13b with every proxy writing an access-log entry per request to a local file: the
    # cost of logging is this workload's CPU per request against ka-13b's, proxy by proxy
    # ("sluice / sluice@ka-13b": the same rounds' figures of the other workload).
    Workload("ka-13b-log", "keep-alive, 13 B response, access log on", body=13,
             access_log=True, chains=PEERS,
             comparisons=PEERS_ONLY_COMPARISONS + tuple((c, f"{c}@ka-13b") for c in PEERS)),
    Workload("ka-1k", "keep-alive, 1 KiB response", body=1024),
    Workload("ka-64k", "keep-alive, 64 KiB response", body=65536),
    # Neither instrument speaks HTTP: the floor forwards bytes and keeps the connection; the
    # responder ignores "Connection: close". Neither can serve this workload.
    Workload("close-13b", "new connection per request, 13 B", body=13, close=True,
             chains=PEERS),
    Workload("rules", "1,000 rules, request matches the last (vs 1 rule)", body=13,
             path="/r999/x", phases=("capacity",), variants={"sluice": RULES_CHAINS},
             comparisons=[("sluice-1000rules", "sluice-1rule")]),
    Workload("idle", "idle keep-alive connections", body=13, phases=("idle",), chains=PEERS),
    # HTTPS (TLS 1.2/1.3, ECDSA P-256 certificate; wrk negotiates TLS 1.3). ka: one handshake
    # per connection, then the record layer only. close: "Connection: close" on every request,
    # so every request pays a handshake and the close; wrk reuses each connection's SSL object
    # (SSL_clear), so all but its first connection per slot offer the previous session, which
    # a proxy with tickets resumes (NGINX: 878 of 882 handshakes in a 1 s check); the title's
    # "full" is its historical name.
    Workload("tls-ka-13b", "HTTPS keep-alive, 13 B response", body=13, tls=True,
             phases=("capacity",), chains=PEERS, comparisons=PEERS_ONLY_COMPARISONS),
    Workload("tls-close-13b", "HTTPS, new connection and full TLS handshake per request, 13 B",
             body=13, close=True, tls=True, phases=("capacity",), chains=PEERS,
             comparisons=PEERS_ONLY_COMPARISONS),
    # The same with bench/tools/tls-load.c as the client, which can resume: every request on a
    # new connection whose TLS 1.3 handshake resumes the session (ticket) of that connection
    # slot's previous connection (PSK with ECDHE: no certificate, no signature); and, as the
    # same client's control, every handshake full.
    Workload("tls-resume-13b",
             "HTTPS, new connection per request, resumed TLS 1.3 handshake, 13 B",
             body=13, close=True, tls=True, handshake="resumed", phases=("capacity",),
             chains=PEERS, comparisons=PEERS_ONLY_COMPARISONS),
    Workload("tls-full-13b",
             "HTTPS, new connection per request, full TLS 1.3 handshake (tls-load), 13 B",
             body=13, close=True, tls=True, handshake="full", phases=("capacity",),
             chains=PEERS, comparisons=PEERS_ONLY_COMPARISONS),
    # tls-full-13b with an RSA-2048 certificate (the same one for every proxy): the server's
    # RSA signature dominates a full handshake, so handshakes per proxy CPU second compare with
    # `openssl speed rsa2048`'s signatures per second. (No wrk twin: wrk resumes.)
    Workload("tls-full-rsa-13b",
             "HTTPS, new connection and full TLS 1.3 handshake per request, RSA-2048 "
             "certificate (tls-load), 13 B",
             body=13, close=True, tls=True, tls_key="rsa", handshake="full",
             phases=("capacity",), chains=PEERS, comparisons=PEERS_ONLY_COMPARISONS),
    # Plain HTTP keep-alive from the clients (as ka-13b); HTTPS keep-alive (TLS 1.3, the same
    # ECDSA P-256 certificate) from the proxy to NGINX backends answering 13 B: the proxy pays
    # the record layer both ways on the backend side, and a handshake (resumed when it can)
    # only per new backend connection.
    Workload("tls-upstream-ka-13b",
             "keep-alive, HTTPS (TLS 1.3) keep-alive from the proxy to the backends, 13 B",
             body=13, backend_tls=True, phases=("capacity",), chains=PEERS,
             comparisons=PEERS_ONLY_COMPARISONS),
    # WebSocket echo (bench/tools/ws-load.c against bench/tools/ws-echo.c backends): each
    # connection upgrades once (GET with Upgrade: websocket, 101), then sends masked binary
    # messages and reads each echo back before sending the next; the proxy forwards the bytes
    # both ways through its tunnel. Figure: payload bytes both ways per proxy CPU second
    # (bytes_per_cpu_s). The floor forwards the handshake like any bytes, so it serves these;
    # "direct" is ws-load against one echo backend.
    Workload("ws-echo-1k", "WebSocket echo, 1 KiB messages, one outstanding per connection",
             body=1024, websocket=True, phases=("capacity",)),
    Workload("ws-echo-64k", "WebSocket echo, 64 KiB messages, one outstanding per connection",
             body=65536, websocket=True, phases=("capacity",)),
    # ka-13b with every proxy in layer-4 mode (issue 15: CPU per request against the floor,
    # HAProxy `mode tcp` and NGINX `stream`): the same wrk keep-alive client and responders,
    # each client connection forwarded as bytes to one responder for its life. Besides the
    # usual comparisons, each proxy against itself in ka-13b (its L7 cost over L4; rounds
    # minutes apart, not interleaved) and the floor against itself (the noise between the two
    # workloads' rounds: the floor does the same work in both).
    Workload("tcp-ka-13b", "keep-alive, 13 B response, every proxy in TCP (layer-4) mode",
             body=13, tcp=True,
             comparisons=PEER_COMPARISONS + tuple((c, f"{c}@ka-13b")
                                                  for c in PEERS + ("floor",))),
    # tcp-ka-13b over HTTPS (tls-ka-13b's client, certificate and TLS versions): each proxy
    # terminates TLS in layer-4 mode (Sluice a TLS listener, HAProxy `mode tcp` with `bind ...
    # ssl crt`, NGINX `stream` with `listen ... ssl`) and forwards the decrypted bytes to the
    # plain responders: one handshake per connection, then the record layer and the relaying.
    # Peers only (the floor cannot terminate TLS) and capacity only (openloop speaks plain
    # HTTP).
    Workload("tls-tcp-ka-13b",
             "HTTPS keep-alive, 13 B response, every proxy terminating TLS in TCP (layer-4) "
             "mode",
             body=13, tcp=True, tls=True, phases=("capacity",), chains=PEERS,
             comparisons=PEERS_ONLY_COMPARISONS),
    # UDP request/response (issue 15: "packets per CPU-second >= 1.2x NGINX stream UDP"):
    # bench/tools/udp-load.c with the layout's connections as flows (64 in layout A, 128 over
    # 2 threads in B), each a socket of its own (its own source port: a flow, pinned by the
    # proxy to one backend), one 64-byte datagram outstanding per flow, echoed by
    # bench/tools/udp-echo.c on the four backend addresses. Figure: packets_per_cpu_s, the
    # client's datagrams both ways (request and echo) per proxy CPU second. Sluice (a UDP
    # listener and target group) against NGINX's stream module only: HAProxy has no UDP, the
    # floor and direct are TCP only.
    Workload("udp-echo-64b", "UDP request/response, 64 B datagrams, many flows",
             body=64, udp=True, phases=("capacity",), chains=UDP_PEERS,
             comparisons=UDP_COMPARISONS),
    # Bulk transfer (issue 15: "1 GiB bulk transfer through TCP: CPU per GiB <= 0.5x the best
    # peer"): each round BULK_CONNS (4) connections at once through the proxy's TCP listener,
    # each moving 1 GiB of bench/tools/bulk-pattern.h's bytes, checked as they arrive, then
    # closed by the sender. Figure: cpu_s_per_gib, the proxy's CPU seconds (utime+stime of all
    # its processes and threads over the round) per GiB moved; and gbit_per_s. Downloads are
    # the primary case (the backend sends; Sluice's client-side writes and target-side reads);
    # tcp-bulk-up-1g is the same upstream (the client sends, the backend checks and answers
    # OK). Peers only (BULK_PEERS). On loopback the kernel's receive work for a segment runs
    # mostly in the sender's system call, so a proxy's figure holds its share of the TCP
    # stack's work both ways as well as its own copies: the same for every proxy.
    Workload("tcp-bulk-1g", f"bulk download, {BULK_CONNS} connections x 1 GiB each, every "
             "proxy in TCP (layer-4) mode", body=GIB, tcp=True, bulk="down",
             phases=("bulk",), chains=BULK_PEERS, comparisons=PEERS_ONLY_COMPARISONS),
    Workload("tcp-bulk-up-1g", f"bulk upload, {BULK_CONNS} connections x 1 GiB each, every "
             "proxy in TCP (layer-4) mode", body=GIB, tcp=True, bulk="up",
             phases=("bulk",), chains=BULK_PEERS, comparisons=PEERS_ONLY_COMPARISONS),
    # HTTP/2 from the clients, HTTP/1.1 keep-alive to the same backends (issue 12): h2load
    # with few connections and many streams each (h2_conns per load-generator thread, 32
    # streams in flight on each: 8 x 32 = 256 requests in flight in layout A, against wrk's
    # 64 HTTP/1.1 connections), at most 10,000 requests per connection (ALB's GOAWAY limit).
    # Sluice against HAProxy, NGINX and h2o configured alike (chains.py). Over TLS with ALPN
    # h2 (the ECDSA P-256 certificate of the TLS workloads), and h2c-13b in clear text by
    # prior knowledge (Sluice: sluice.routing.http2.cleartext.enabled, beyond ALB).
    Workload("h2-13b", "HTTP/2 over TLS (ALPN h2), 32 streams per connection, 13 B response",
             body=13, tls=True, h2=True, phases=("capacity",), chains=H2_PEERS,
             comparisons=H2_COMPARISONS),
    Workload("h2-1k", "HTTP/2 over TLS (ALPN h2), 32 streams per connection, 1 KiB response",
             body=1024, tls=True, h2=True, phases=("capacity",), chains=H2_PEERS,
             comparisons=H2_COMPARISONS, smoke=False),
    Workload("h2c-13b",
             "HTTP/2 in clear text (prior knowledge), 32 streams per connection, 13 B response",
             body=13, h2=True, phases=("capacity",), chains=H2_PEERS,
             comparisons=H2_COMPARISONS, smoke=False),
    # HTTP/2 to the targets (issue 12): h2load in clear text (h2c, 8 connections x 32
    # streams, as h2c-13b) to the proxy, h2c from the proxy to bench/tools/h2-responder.c on
    # the four backend addresses, streams of every client connection multiplexed on few
    # backend connections. Sluice: a target group with ProtocolVersion HTTP2 / GRPC. Peers:
    # HAProxy (`proto h2` servers) in both; NGINX (grpc_pass) in grpc-13b only, as it cannot
    # proxy plain HTTP/2 to a backend; h2o 2.2 in neither (HTTP/1.1 backends only).
    Workload("h2h2-13b",
             "HTTP/2 h2c to the proxy and h2c to the backends (ProtocolVersion HTTP2), 32 "
             "streams per connection, 13 B response",
             body=13, h2=True, phases=("capacity",), protocol_version="HTTP2",
             chains=("sluice",) + H2_UPSTREAM_PEERS["HTTP2"],
             best_peer=H2_UPSTREAM_PEERS["HTTP2"],
             comparisons=(("sluice", "haproxy"), ("sluice", "best peer")), smoke=False),
    # gRPC unary calls: POST of one 13-byte message, answered by one 13-byte message and the
    # trailers grpc-status 0 (the issue's "gRPC unary round trips ... <= 0.8x the CPU per
    # request of the best peer that can proxy gRPC").
    Workload("grpc-13b",
             "gRPC unary calls, h2c to the proxy and to the backends (ProtocolVersion GRPC), "
             "32 streams per connection, 13 B messages both ways",
             body=13, h2=True, phases=("capacity",), protocol_version="GRPC",
             chains=("sluice",) + H2_UPSTREAM_PEERS["GRPC"],
             best_peer=H2_UPSTREAM_PEERS["GRPC"],
             comparisons=PEERS_ONLY_COMPARISONS, smoke=False),
)}

# What `bench/run.py --smoke` runs when no --workloads are given.
SMOKE_WORKLOADS = tuple(n for n, w in WORKLOADS.items() if w.smoke)


def comparisons_for(workload_name):
    """The comparison pairs of a workload; a workload no longer in the table (an old
    results.json) gets Sluice against the peers."""
    wl = WORKLOADS.get(workload_name)
    return wl.comparisons if wl else PEER_COMPARISONS


def best_peer_of(workload_name):
    """The chains "best peer" picks from in a workload (HAProxy and NGINX; in an HTTP/2
    workload h2o too); a workload no longer in the table gets HAProxy and NGINX."""
    wl = WORKLOADS.get(workload_name)
    return wl.best_peer_of if wl else BEST_PEER_OF


class LayoutSpec:
    """Where processes run, before CPUs are known. pinned: the proxy gets a core of its own
    (the second CPU available) and the load generator and backends share the first.
    peer_headers: the request headers HAProxy and NGINX add (chains.PEER_HEADERS)."""

    def __init__(self, name, workers, wrk_threads, conns, pinned, peer_headers="alb"):
        self.name, self.workers, self.pinned = name, workers, pinned
        self.wrk_threads, self.conns = wrk_threads, conns
        self.peer_headers = peer_headers


LAYOUTS = {s.name: s for s in (
    # A: the proxy alone on one core with 1 worker; load generator and backends on the other.
    LayoutSpec("A", workers=1, wrk_threads=1, conns=64, pinned=True),
    # B: 2 workers, nothing pinned (what a user of the box gets).
    LayoutSpec("B", workers=2, wrk_threads=2, conns=128, pinned=False),
    # A-xff: A with 32 connections, HAProxy and NGINX adding X-Forwarded-For only (Sluice adds
    # ALB's four headers, as always).
    LayoutSpec("A-xff", workers=1, wrk_threads=1, conns=32, pinned=True, peer_headers="xff"),
)}


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Layout:
    """A layout with its CPUs: proxy_cpus / load_cpus are taskset lists, or None (unpinned)."""

    def __init__(self, spec, proxy_cpus, load_cpus):
        self.spec, self.name, self.workers = spec, spec.name, spec.workers
        self.proxy_cpus, self.load_cpus = proxy_cpus, load_cpus
        self.wrk_threads, self.conns = spec.wrk_threads, spec.conns
        self.peer_headers = spec.peer_headers

    def describe(self):
        if self.spec.pinned:
            text = (f"layout {self.name}: proxy with {_plural(self.workers, 'worker')} pinned to "
                    f"CPU {self.proxy_cpus}; load generator ({_plural(self.wrk_threads, 'thread')}"
                    f", {self.conns} connections) and the {len(BACKEND_ADDRS)} backends on CPU "
                    f"{self.load_cpus}")
        else:
            text = (f"layout {self.name}: proxy with {_plural(self.workers, 'worker')}, nothing "
                    f"pinned; load generator with {_plural(self.wrk_threads, 'thread')} and "
                    f"{self.conns} connections")
        note = PEER_HEADERS[self.peer_headers].note
        return f"{text}; {note}" if note else text


def _names(keys):
    keys = list(keys)
    return keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + " or " + keys[-1]


def make_layouts(names, cpus=None):
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else sorted(cpus)
    out = []
    for n in names:
        spec = LAYOUTS.get(n)
        if spec is None:
            raise HarnessError(f"unknown layout {n!r} ({_names(LAYOUTS)})")
        if not spec.pinned:
            out.append(Layout(spec, None, None))
        elif len(cpus) < 2:
            print(f"warning: fewer than 2 CPUs available; layout {n} runs unpinned", flush=True)
            out.append(Layout(spec, None, None))
        else:
            out.append(Layout(spec, str(cpus[1]), str(cpus[0])))
    return out
