"""How each chain is configured and started: one launcher per chain in CHAINS.

A launcher renders the chain's config (templates in bench/configs/, kept with each run) and
returns a Launch: the command line and the address the chain listens on. The driver starts it
pinned like the layout says and waits until it accepts connections.

A TLS workload (Workload.tls) gives every proxy the same certificate and key (TlsFiles) and
the same protocol versions, TLS 1.2 and 1.3: Sluice with ELBSecurityPolicy-TLS13-1-2-2021-06,
HAProxy and NGINX with their defaults for session tickets (stateless, on) and NGINX without a
session cache. The certificate's key is the workload's (Workload.tls_key, one of CERT_KEYS:
ECDSA P-256 by default, or RSA-2048); make_certificate makes one certificate per kind of key,
once per run, when a workload first needs it. Every worker of a proxy accepts every other
worker's tickets, which the resumed-handshake workload (tls-resume-13b) needs in layout B:
Sluice's workers are threads sharing the process's ticket keys (src/tls/ticket_keys.h),
HAProxy's are threads of one process, and NGINX's workers inherit the ticket keys OpenSSL made
for the SSL_CTX in the master before it forked them. On TLS 1.3 each of the three sends a new
ticket after a resumed handshake (clients use a TLS 1.3 ticket once).

A backend-TLS workload (Workload.backend_tls) has the proxies speak HTTPS to the backends: its
backends are one NGINX process (tls_backend_argv, bench/configs/nginx-tls-backend.conf.in)
serving TLS 1.3 with the workload's certificate on every backend address, and each proxy
connects to them over TLS without checking the certificate and without SNI (ALB's behaviour),
keeps the connections (keep-alive) and resumes sessions: Sluice with a `Protocol: HTTPS` target
group, HAProxy with `ssl verify none alpn http/1.1` on its servers, NGINX with
`proxy_pass https://`, `proxy_ssl_verify off` and `proxy_ssl_session_reuse on`. Otherwise the
proxies speak HTTP to the backends.

An access-log workload (Workload.access_log) has every proxy log each request to a local file
in the run's work directory (accesslog.py says where and how the driver checks it): Sluice
with access_logs.s3.enabled and sluice.access_logs.directory (its ALB gzip files), NGINX with
`access_log <file> combined buffer=64k flush=1s`, HAProxy with `log stdout format raw local0`
and `option httplog`, its stdout going to the file (Launch.stdout). Otherwise logging is off
(NGINX `access_log off`, no "log" line in HAProxy, no access-log attribute in Sluice).

A layer-4 workload (Workload.tcp, tcp-ka-13b) runs every proxy as a TCP forwarder: each
client connection is forwarded, as bytes, over one backend connection chosen when it is
accepted, for its life (connection-level balancing; no HTTP parsing, no added headers, no
backend connection reuse). Sluice with a `Type: network` load balancer, a TCP listener and a
TCP target group (sluice-tcp.yaml.in), HAProxy in `mode tcp` (haproxy-tcp.cfg.in), NGINX with
its stream module (nginx-tcp.conf.in; Debian's is the dynamic module of libnginx-mod-stream,
loaded by the config: nginx_stream_load). The floor and direct chains are as for HTTP.
A layer-4 workload over TLS (Workload.tcp and Workload.tls, tls-tcp-ka-13b) has the proxies
terminate the clients' TLS with the TLS workloads' certificate, versions and session settings
and forward the decrypted bytes to the same plain backends, each from a template of its own
(so tcp-ka-13b's configs stay as they were): Sluice a TLS listener (sluice-tls-tcp.yaml.in;
SslPolicy and Certificates as an HTTPS listener's, no AlpnPolicy, no listener attributes: a
TLS listener's idle timeout is fixed at 350 s), HAProxy `bind ... ssl crt` in mode tcp
(haproxy-tls-tcp.cfg.in, no ALPN), NGINX `listen ... ssl` with nginx.conf.in's ssl_* lines in
its stream server (nginx-tls-tcp.conf.in, needs the stream SSL module). The floor and direct
cannot serve it.

An HTTP/2 workload (Workload.h2: h2-13b, h2-1k, h2c-13b) has the clients speak HTTP/2 to the
proxy and the proxy HTTP/1.1 keep-alive to the usual plain backends. Over TLS (the TLS
workloads' certificate and protocol versions) each proxy offers ALPN h2 (and http/1.1): Sluice
by default on an HTTPS listener, HAProxy with `alpn h2,http/1.1` on its bind, NGINX with
`listen ... ssl http2`, h2o by default. In clear text (h2c-13b) the clients speak HTTP/2 by
prior knowledge: Sluice with the load balancer attribute sluice.routing.http2.cleartext.enabled
(beyond ALB, which has no h2c), HAProxy with `proto h2` on its bind, NGINX with `listen ...
http2` on a plain listener (prior knowledge only), h2o on a plain listener (it recognises the
HTTP/2 preface). Each proxy's own limits stay at their defaults (concurrent streams: Sluice 128
like ALB, NGINX 128, HAProxy and h2o 100; the workloads ask for 32), and the clients make at
most 10,000 requests per connection (workloads.H2_MAX_REQUESTS_PER_CONN, ALB's GOAWAY limit).

HTTP/2 to the backends (Workload.protocol_version HTTP2 or GRPC: h2h2-13b, grpc-13b): the
clients speak h2c to the proxy (as h2c-13b) and the proxy h2c (prior knowledge) to
bench/tools/h2-responder.c on every backend address, the streams of every client connection
multiplexed on few backend connections. Sluice with a target group of that ProtocolVersion and
`Protocol: HTTP` (h2c), its health checks on at their defaults but for a GRPC group's matcher,
GrpcCode 0 (the responder answers every gRPC call, the check's POST /AWS.ALB/healthcheck
included, with grpc-status 0; the default, 12, would find every target unhealthy); HAProxy
with `proto h2` on its servers and `http-reuse always` (with `safe`, its default, a backend
h2 connection carrying a stream is reserved to that client connection's streams, so it opens
about one backend connection per client stream in flight instead of sharing a few); NGINX with grpc_pass
(bench/configs/nginx-grpc.conf.in, gRPC only: NGINX cannot proxy plain HTTP/2 to a backend)
and upstream keep-alive, one stream per backend connection at a time (NGINX does not
multiplex upstream); h2o 2.2 cannot speak HTTP/2 to a backend and refuses these workloads.

A bulk workload (Workload.bulk: tcp-bulk-1g, tcp-bulk-up-1g) is a layer-4 workload of a few
long transfers, run by the peers' TCP launchers with each peer set up for bulk at its best, so
that "best peer" is the strongest honest configuration: HAProxy with kernel splicing both ways
with 1 MiB pipes (HAPROXY_BULK, haproxy-bulk-tcp.cfg.in), NGINX's stream module as it is (no
splicing; its default buffer: the comments there say why, with what other settings measured).
Sluice's TCP listener is as for tcp-ka-13b. The backends are bench/tools/bulk-server.c on the four
addresses. The floor forwarder refuses it (it would lose bytes: workloads.py, `bulk`).

A UDP workload (Workload.udp, udp-echo-64b) runs the proxies that forward UDP (UDP_CHAINS):
Sluice as a `Type: network` load balancer with a UDP listener and a UDP target group
(sluice-udp.yaml.in; every worker its own SO_REUSEPORT socket, each flow pinned to one target
by its 5-tuple's hash, docs/nlb.md), NGINX's stream module with `listen ... udp reuseport`
(nginx-udp.conf.in; one socket per worker, so the kernel keeps a client's datagrams on one
worker and so in one session). Both keep one upstream socket per client flow for the flow's
life: a flow ends only after 120 s without a datagram (NLB's fixed UDP idle timeout; NGINX's
proxy_timeout 120s, no proxy_requests or proxy_responses limit). The backends are
bench/tools/udp-echo.c on the usual four addresses and port. HAProxy has no UDP; the floor
and direct chains are TCP only.

h2o (Debian's h2o 2.2, the HTTP/2 specialist) runs in the HTTP/2 workloads only
(bench/configs/h2o.conf.in): `num-threads` workers, proxy.reverse.url to the backends with
upstream keep-alive (proxy.timeout.keepalive 60 s), the client's Host (proxy.preserve-host).
h2o 2.2 takes one upstream URL per path (lists of them came with 2.3), so the URL names a host,
H2O_BACKENDS, that resolves to the four backend addresses, and h2o picks one of them at random
for every new upstream connection (h2o_hostinfo_select_one) and pools the connections: the
name is in a hosts file of the run that h2o sees as /etc/hosts, bound over it in a mount
namespace of h2o's own (`unshare --mount`, private propagation: nothing changes for the rest of
the machine; needs root, as the other proxies' configs do in practice). The header profile:
h2o adds X-Forwarded-For and X-Forwarded-Proto itself (proxy.emit-x-forwarded-headers, the
default; it cannot add one without the other), and with the ALB profile sets X-Forwarded-Port
to the listener's port and an X-Amzn-Trace-Id of a real one's length but constant (h2o 2.2 has
no per-request value to put in a header short of an mruby handler, which would cost it far
more than the id does the others). No Via header, no access log, no compression (its
default), OCSP stapling off (a self-signed certificate has no responder).
"""

import functools
import os
import re
import shutil
import subprocess
from typing import NamedTuple

from . import accesslog
from .common import BACKEND_ADDRS, BENCH, DIRECT_ADDR, PROXY_ADDR, HarnessError

# The backends: the shared responder serves 13 B; the sized one any body size.
# A backend-TLS workload's backends are NGINX (TLS_BACKEND).
TLS_BACKEND = "nginx-tls-backend"
BACKEND_SOURCES = {"responder": "shared/bench/responder.c",
                   "sized-responder": "bench/tools/sized-responder.c",
                   TLS_BACKEND: "nginx 13-byte HTTPS backend, "
                                "bench/configs/nginx-tls-backend.conf.in",
                   "ws-echo": "bench/tools/ws-echo.c (WebSocket echo)",
                   "h2-responder": "bench/tools/h2-responder.c (HTTP/2 h2c, gRPC)",
                   "udp-echo": "bench/tools/udp-echo.c (UDP echo)",
                   "bulk-server": "bench/tools/bulk-server.c (bulk transfers)"}
# The body the TLS backend answers, like the responder's.
TLS_BACKEND_BODY = "Hello, world!"

SLUICE_RULES = {"sluice": 0, "sluice-1rule": 1, "sluice-1000rules": 1000}


class HeaderProfile(NamedTuple):
    """The request headers HAProxy, NGINX and h2o add (Sluice always adds ALB's four)."""
    note: str  # for the layout's description; "" for the default
    haproxy: str  # lines of the frontend section
    nginx: str  # lines of the location block
    h2o: str = ""  # lines of the path block (@PROXY_PORT@: the listener's port)


PEER_HEADERS = {
    # The peers add what Sluice (like ALB) adds.
    "alb": HeaderProfile(
        "",
        "    # ALB-equivalent header profile\n"
        "    option forwardfor\n"
        "    http-request set-header X-Forwarded-Proto @SCHEME@\n"
        "    http-request set-header X-Forwarded-Port %[dst_port]\n"
        "    http-request set-header X-Amzn-Trace-Id Root=1-%[date,hex,bytes(8,8)]-"
        "%[rand,hex,bytes(8,8)]%[rand,hex,bytes(8,8)]%[rand,hex,bytes(8,8)]",
        "            # ALB-equivalent header profile\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;\n"
        "            proxy_set_header X-Forwarded-Port $server_port;\n"
        "            proxy_set_header X-Amzn-Trace-Id \"Root=1-$request_id\";",
        "        # ALB-equivalent header profile: X-Forwarded-For and X-Forwarded-Proto are\n"
        "        # h2o's own (proxy.emit-x-forwarded-headers); the port is the listener's; the\n"
        "        # trace id has a real one's length but is constant (see chains.py)\n"
        "        proxy.header.set: \"X-Forwarded-Port: @PROXY_PORT@\"\n"
        "        proxy.header.set: \"X-Amzn-Trace-Id: Root=1-00000000-"
        "000000000000000000000000\""),
    # The peers add X-Forwarded-For only.
    "xff": HeaderProfile(
        "HAProxy and NGINX add only X-Forwarded-For",
        "    # header profile \"xff\": X-Forwarded-For only\n"
        "    option forwardfor",
        "            # header profile \"xff\": X-Forwarded-For only\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        # header profile \"xff\": h2o's X-Forwarded-For, and the X-Forwarded-Proto\n"
        "        # proxy.emit-x-forwarded-headers adds with it"),
}


def h2o_headers(profile, port):
    """The h2o lines of a header profile for a listener on `port`."""
    return PEER_HEADERS[profile].h2o.replace("@PROXY_PORT@", str(port))


def haproxy_headers(profile, scheme):
    """The HAProxy lines of a header profile for clients speaking `scheme` (NGINX's lines use
    $scheme)."""
    return PEER_HEADERS[profile].haproxy.replace("@SCHEME@", scheme)


# Sluice's listener policy for TLS workloads: TLS 1.2 and 1.3, like the peers' settings.
SLUICE_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


class CertKey(NamedTuple):
    """A kind of certificate key: what it is called and openssl req's -newkey arguments."""
    title: str
    newkey: tuple


# The kinds of key a TLS workload's certificate can have (Workload.tls_key). With ECDSA P-256
# a TLS 1.3 handshake is dominated by the key exchange and protocol work; with RSA-2048 the
# server's signature dominates.
CERT_KEYS = {
    "ecdsa": CertKey("ECDSA P-256", ("ec", "-pkeyopt", "ec_paramgen_curve:P-256")),
    "rsa": CertKey("RSA-2048", ("rsa:2048",)),
}
DEFAULT_CERT_KEY = "ecdsa"


class TlsFiles(NamedTuple):
    """A certificate of a run, in the forms the proxies read (absolute paths), and its kind of
    key (a CERT_KEYS name)."""
    cert: object  # PEM certificate
    key: object  # PEM private key
    combined: object  # certificate then key (HAProxy's crt)
    kind: str = DEFAULT_CERT_KEY


def make_certificate(directory, kind=DEFAULT_CERT_KEY):
    """Makes a self-signed certificate for localhost and 127.0.0.1 with a key of `kind`
    (CERT_KEYS: ECDSA P-256 by default, or RSA-2048) in `directory` (with openssl(1));
    returns its TlsFiles."""
    if kind not in CERT_KEYS:
        raise HarnessError(f"unknown certificate key {kind!r} ({', '.join(CERT_KEYS)})")
    openssl = shutil.which("openssl")
    if not openssl:
        raise HarnessError("openssl not found (apt-get install -y openssl): TLS workloads "
                           "need it to make their certificate")
    d = directory.resolve()
    d.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(d / "cert.pem", d / "key.pem", d / "combined.pem", kind)
    r = subprocess.run([openssl, "req", "-x509", "-newkey", *CERT_KEYS[kind].newkey,
                        "-nodes", "-days", "30", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(files.key), "-out", str(files.cert)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise HarnessError(f"making the TLS certificate failed: {r.stderr[-500:]}")
    files.combined.write_text(files.cert.read_text() + files.key.read_text())
    return files


class ChainEnv(NamedTuple):
    """What launching a chain needs from the run."""
    tools: dict  # name -> executable (bench-tools and sluice)
    cfg_dir: object  # where rendered configs go
    work: object  # scratch directory (nginx's temp paths)
    backend_port: int
    sized_backend_only: bool
    tls: object = None  # TlsFiles of the workload's kind of key, for a TLS workload


class Launch(NamedTuple):
    argv: list
    ip: str  # where the chain accepts connections
    port: int
    what: str  # for error messages
    settle: bool  # give every worker a moment to reach its event loop
    stdout: object = None  # a file for the process's stdout (None: its log, with stderr)
    access_log: object = None  # where its access log goes (accesslog.py), None without


def backend_tool(body, sized_only, backend_tls=False, websocket=False, h2=False, udp=False,
                 bulk=False):
    """The backends' program; `h2`: the chain speaks HTTP/2 (h2c) to them; `udp`: UDP echo;
    `bulk`: bulk transfers."""
    if bulk:
        return "bulk-server"
    if udp:
        return "udp-echo"
    if h2:
        return "h2-responder"
    if websocket:
        return "ws-echo"
    if backend_tls:
        return TLS_BACKEND
    return "responder" if body == 13 and not sized_only else "sized-responder"


def backend_argv(tools, tool, port, addr, body):
    return [tools[tool], port, addr] + ([] if tool in ("responder", "ws-echo", "udp-echo",
                                                    "bulk-server") else [body])


def tls_backend_argv(env, workload, access_log=None):
    """The backends of a backend-TLS workload: one NGINX process (master and one worker)
    terminating TLS 1.3 with the run's certificate on every backend address, answering 13
    bytes. access_log: a path to log every request with its connection number, the requests
    on that connection and whether the TLS session was resumed (a check of the chains'
    connection reuse; it costs the backend CPU, so measured runs leave it off)."""
    if not workload.backend_tls:
        raise HarnessError(f"workload {workload.name} has plain-HTTP backends")
    if env.tls is None:
        raise HarnessError(f"backend-TLS workload {workload.name} without a certificate")
    _check_kind(env.tls, workload)
    if workload.body != len(TLS_BACKEND_BODY):
        raise HarnessError(f"the TLS backend answers {len(TLS_BACKEND_BODY)} bytes, not "
                           f"{workload.body}")
    wd = env.work / "nginx-tls-backend"
    wd.mkdir(exist_ok=True)
    text = render("nginx-tls-backend.conf.in", {
        "WORKDIR": wd, "CERT": env.tls.cert, "KEY": env.tls.key,
        "ACCESS_LOG": f"{access_log} tlsreuse" if access_log else "off",
        "LISTEN": "\n".join(f"        listen {b}:{env.backend_port} ssl backlog=4096;"
                            for b in BACKEND_ADDRS)})
    cfg = env.cfg_dir / "nginx-tls-backend.conf"
    cfg.write_text(text)
    return ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]


def render(template, values):
    text = (BENCH / "configs" / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    left = re.search(r"@[A-Z_]+@", code)
    if left:
        raise HarnessError(f"{template}: placeholder {left.group(0)} not filled")
    return text


def sluice_rules(n):
    if n == 0:
        return ""
    lines = ["        Rules:"]
    for i in range(n):
        # With one rule it is the last one of the 1,000-rule list, so both match the same way.
        k = i if n > 1 else 999
        lines += [f"          - Priority: {i + 1}",
                  "            Conditions:",
                  "              - Field: path-pattern",
                  f"                PathPatternConfig: {{Values: [\"/r{k}/*\"]}}",
                  "            Actions:",
                  "              - Type: forward",
                  "                TargetGroupName: be"]
    return "\n".join(lines)


def _tls_files(env, chain, workload):
    """The certificate for a TLS workload; None for plain HTTP."""
    if not workload.tls:
        return None
    if env.tls is None:
        raise HarnessError(f"{chain}: TLS workload {workload.name} without a certificate")
    _check_kind(env.tls, workload)
    return env.tls


def _check_kind(tls, workload):
    """A certificate with another kind of key than the workload names is a harness bug: the
    figures would be another key's."""
    if tls.kind != workload.tls_key:
        raise HarnessError(f"workload {workload.name} needs a certificate whose key is "
                           f"{CERT_KEYS[workload.tls_key].title}, given "
                           f"{CERT_KEYS[tls.kind].title}")


# HAProxy's lines (defaults section) for an access-log workload: ALB-like HTTP log lines, one
# write() each to stdout (fd 1, a file of the run: Launch.stdout), without syslog framing.
HAPROXY_ACCESS_LOG = ("\n    log stdout format raw local0"
                      "\n    option httplog")

# HAProxy's defaults line for a WebSocket workload: the idle timeout of an upgraded connection.
HAPROXY_TUNNEL = "\n    timeout tunnel 60s"

# NGINX's location lines about Connection: upstream keep-alive (the default), or a WebSocket
# workload's upgrade (the Upgrade header passed on, "Connection: upgrade" sent).
NGINX_KEEPALIVE = 'proxy_set_header Connection "";   # required: do not forward "Connection: close"'
NGINX_WEBSOCKET = ('proxy_set_header Upgrade $http_upgrade;   # WebSocket: pass the upgrade on'
                   '\n            proxy_set_header Connection "upgrade";')

# NGINX's access_log arguments for an access-log workload: the default format, buffered.
NGINX_ACCESS_LOG = "combined buffer=64k flush=1s"


# Sluice's load balancer attribute for an h2c workload: HTTP/2 by prior knowledge on its HTTP
# listeners (beyond ALB; off by default). Over TLS, ALPN h2 is on by default (ALB's
# routing.http2.enabled).
SLUICE_H2C = "\n      sluice.routing.http2.cleartext.enabled: true"


def sluice_target_group(workload):
    """The target group's lines for HTTP/2 to the targets: its ProtocolVersion and, for a GRPC
    group, the health checks' GrpcCode 0 (what h2-responder answers); "" for HTTP/1.1."""
    if not workload.h2_backends:
        return ""
    text = f"\n    ProtocolVersion: {workload.protocol_version}"
    if workload.grpc:
        text += "\n    Matcher:\n      GrpcCode: \"0\""
    return text


def sluice_listener_tls(tls):
    """The lines of an HTTPS (or, in a layer-4 workload, TLS) listener that make it terminate
    TLS: SLUICE_SSL_POLICY and the certificate's name; "" without TLS."""
    if not tls:
        return ""
    return (f"\n        SslPolicy: {SLUICE_SSL_POLICY}"
            "\n        Certificates: [bench]")


def sluice_certificates(tls):
    """The certificate store: the run's certificate as "bench"; "" without TLS."""
    if not tls:
        return ""
    return ("\nCertificates:\n  - Name: bench"
            f"\n    CertificateFile: {tls.cert}"
            f"\n    PrivateKeyFile: {tls.key}")


def _sluice(env, chain, layout, workload, port):
    tls = _tls_files(env, chain, workload)
    logs = accesslog.log_path(env.work, chain, layout.name, directory=True) \
        if workload.access_log else None
    text = render("sluice.yaml.in", {
        "ACCESS_LOG": "\n      access_logs.s3.enabled: true"
                      f"\n      sluice.access_logs.directory: {logs}" if logs else "",
        "H2C": SLUICE_H2C if workload.h2 and not tls else "",
        "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port, "BACKEND_PORT": env.backend_port,
        "PROTOCOL": "HTTPS" if tls else "HTTP",
        "TARGET_PROTOCOL": "HTTPS" if workload.backend_tls else "HTTP",
        "TARGET_GROUP": sluice_target_group(workload),
        "LISTENER_TLS": sluice_listener_tls(tls),
        "RULES": sluice_rules(SLUICE_RULES[chain]),
        "TARGETS": "\n".join(f"      - Id: {b}" for b in BACKEND_ADDRS),
        "CERTIFICATES": sluice_certificates(tls)})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.yaml"
    cfg.write_text(text)
    argv = [env.tools["sluice"], "run", "--config", cfg, "--workers", layout.workers,
            "--shutdown-timeout", "0"]
    return Launch(argv, PROXY_ADDR, port, chain, True, access_log=logs)


# HAProxy's servers for a backend-TLS workload: TLS without a certificate check, no SNI (no
# "sni" keyword), ALPN http/1.1 as Sluice offers; sessions are resumed by default.
HAPROXY_SERVER_TLS = " ssl verify none alpn http/1.1"

# NGINX's location lines for a backend-TLS workload (1.22 offers TLS 1.3 upstream only when
# told to; no SNI and no verification are its defaults, stated for clarity).
NGINX_UPSTREAM_TLS = ("\n            proxy_ssl_protocols TLSv1.2 TLSv1.3;"
                      "\n            proxy_ssl_verify off;"
                      "\n            proxy_ssl_server_name off;"
                      "\n            proxy_ssl_session_reuse on;")


def haproxy_bind(tls, h2):
    """What follows HAProxy's bind address: TLS with the certificate (ALPN h2 and http/1.1 for
    an HTTP/2 workload, http/1.1 otherwise), `proto h2` for h2c (prior knowledge), or
    nothing."""
    if tls:
        alpn = "h2,http/1.1" if h2 else "http/1.1"
        return f" ssl crt {tls.combined} alpn {alpn} ssl-min-ver TLSv1.2"
    return " proto h2" if h2 else ""


# HAProxy's servers for HTTP/2 to the backends: h2c by prior knowledge.
HAPROXY_SERVER_H2 = " proto h2"
# HAProxy's connection reuse: "safe" (its default: idle server connections are pooled and
# reused, a request that is a connection's first goes over a connection of its own), and for
# HTTP/2 to the backends REUSE_H2.
HAPROXY_REUSE = "safe"
HAPROXY_REUSE_H2 = "always"


def _haproxy(env, chain, layout, workload, port):
    tls = _tls_files(env, chain, workload)
    server_tls = HAPROXY_SERVER_TLS if workload.backend_tls else ""
    if workload.h2_backends:
        server_tls += HAPROXY_SERVER_H2
    log = accesslog.log_path(env.work, chain, layout.name) if workload.access_log else None
    text = render("haproxy.cfg.in", {
        "ACCESS_LOG": HAPROXY_ACCESS_LOG if log else "",
        "TUNNEL": HAPROXY_TUNNEL if workload.websocket else "",
        "HTTP_REUSE": HAPROXY_REUSE_H2 if workload.h2_backends else HAPROXY_REUSE,
        "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
        "BIND_TLS": haproxy_bind(tls, workload.h2),
        "PEER_HEADERS": haproxy_headers(layout.peer_headers, workload.scheme),
        "SERVERS": "\n".join(f"    server b{i + 1} {b}:{env.backend_port}{server_tls}"
                             for i, b in enumerate(BACKEND_ADDRS))})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.cfg"
    cfg.write_text(text)
    return Launch(["haproxy", "-f", cfg, "-db"], PROXY_ADDR, port, chain, True, stdout=log,
                  access_log=log)


def nginx_server_tls(tls):
    """A server block's ssl_* lines for a TLS listener (http, and stream in a layer-4
    workload): the certificate, TLS 1.2 and 1.3, session tickets on, no session cache; ""
    without TLS."""
    if not tls:
        return ""
    return (f"\n        ssl_certificate {tls.cert};"
            f"\n        ssl_certificate_key {tls.key};"
            "\n        ssl_protocols TLSv1.2 TLSv1.3;"
            "\n        ssl_session_tickets on;"
            "\n        ssl_session_cache off;")


def _nginx(env, chain, layout, workload, port):
    if workload.h2_backends:
        return _nginx_grpc(env, chain, layout, workload, port)
    wd = env.work / f"nginx-{layout.name}"
    wd.mkdir(exist_ok=True)
    tls = _tls_files(env, chain, workload)
    log = accesslog.log_path(env.work, chain, layout.name) if workload.access_log else None
    text = render("nginx.conf.in", {
        "ACCESS_LOG": f"{log} {NGINX_ACCESS_LOG}" if log else "off",
        "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
        "LISTEN_TLS": (" ssl" if tls else "") + (" http2" if workload.h2 else ""),
        "SERVER_TLS": nginx_server_tls(tls),
        "UPSTREAM_SCHEME": "https" if workload.backend_tls else "http",
        "UPSTREAM_TLS": NGINX_UPSTREAM_TLS if workload.backend_tls else "",
        "UPSTREAM_CONNECTION": NGINX_WEBSOCKET if workload.websocket else NGINX_KEEPALIVE,
        "WORKDIR": wd, "PEER_HEADERS": PEER_HEADERS[layout.peer_headers].nginx,
        "SERVERS": "\n".join(f"        server {b}:{env.backend_port};" for b in BACKEND_ADDRS)})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.conf"
    cfg.write_text(text)
    argv = ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]
    return Launch(argv, PROXY_ADDR, port, chain, True, access_log=log)


def nginx_grpc_headers(profile):
    """The header profile's NGINX lines for grpc_pass: grpc_set_header for proxy_set_header."""
    return PEER_HEADERS[profile].nginx.replace("proxy_set_header ", "grpc_set_header ")


def _nginx_grpc(env, chain, layout, workload, port):
    """NGINX for a gRPC workload: an HTTP/2 listener (h2c by prior knowledge, or TLS with
    ALPN h2) and grpc_pass to the backends over h2c with upstream keep-alive."""
    if not workload.grpc:
        raise HarnessError(f"{chain} cannot proxy plain HTTP/2 to the backends (workload "
                           f"{workload.name}): NGINX speaks HTTP/2 upstream for gRPC only")
    if workload.access_log:
        raise HarnessError(f"{chain}: gRPC workload {workload.name} with an access log")
    wd = env.work / f"nginx-{layout.name}"
    wd.mkdir(exist_ok=True)
    tls = _tls_files(env, chain, workload)
    text = render("nginx-grpc.conf.in", {
        "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
        "LISTEN_TLS": " ssl http2" if tls else " http2",
        "SERVER_TLS": nginx_server_tls(tls),
        "WORKDIR": wd, "PEER_HEADERS": nginx_grpc_headers(layout.peer_headers),
        "SERVERS": "\n".join(f"        server {b}:{env.backend_port};" for b in BACKEND_ADDRS)})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.conf"
    cfg.write_text(text)
    argv = ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


# Where Debian's libnginx-mod-stream puts the stream module (nginx -V: --with-stream=dynamic).
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


@functools.lru_cache(maxsize=None)
def _nginx_configure_args():
    try:
        r = subprocess.run(["nginx", "-V"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HarnessError(f"nginx -V failed: {e}") from None
    return r.stdout + r.stderr


def nginx_stream_load(configure_args=None, module=NGINX_STREAM_MODULE, ssl=False):
    """The line nginx-tcp.conf.in needs to have the stream module: "" when nginx has it built
    in (--with-stream), a load_module line when it is a dynamic module (--with-stream=dynamic,
    Debian's, packaged as libnginx-mod-stream). A HarnessError when nginx has no stream module
    or the dynamic module's file is missing, or, with `ssl` (nginx-tls-tcp.conf.in), when it
    was built without the stream SSL module (--with-stream_ssl_module, which Debian builds
    into the dynamic stream module). configure_args: `nginx -V`'s output (default: run it,
    once)."""
    text = _nginx_configure_args() if configure_args is None else configure_args
    flags = text.split()
    if ssl and "--with-stream_ssl_module" not in flags:
        raise HarnessError("nginx was built without the stream SSL module "
                           "(--with-stream_ssl_module): the layer-4 TLS workloads need it")
    if "--with-stream" in flags:
        return ""
    if "--with-stream=dynamic" in flags:
        if not os.path.exists(module):
            raise HarnessError(f"nginx's stream module is dynamic and {module} is missing "
                               f"(apt-get install -y libnginx-mod-stream)")
        return f"load_module {module};"
    raise HarnessError("nginx was built without the stream module (--with-stream): the "
                       "layer-4 workloads need it")


def _check_tcp(chain, workload):
    if not workload.tcp:
        raise HarnessError(f"{chain}: workload {workload.name} is not a layer-4 workload")


def _targets_yaml():
    return "\n".join(f"      - Id: {b}" for b in BACKEND_ADDRS)


def _tcp_name(chain, layout, tls, bulk=None):
    """A layer-4 chain's config name: <chain>-tcp-<layout>, <chain>-tls-tcp-<layout> over
    TLS, <chain>-bulk-tcp-<layout> for a bulk workload's own config (HAProxy's)."""
    return f"{chain}-{'tls-' if tls else ''}{'bulk-' if bulk else ''}tcp-{layout.name}"


def _sluice_tcp(env, chain, layout, workload, port):
    """Sluice as an NLB: Type network, a TCP listener (a TLS one, terminating TLS, in a TLS
    workload: sluice-tls-tcp.yaml.in), a TCP target group."""
    _check_tcp(chain, workload)
    tls = _tls_files(env, chain, workload)
    values = {"PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port, "BACKEND_PORT": env.backend_port,
              "TARGETS": _targets_yaml()}
    if tls:
        values.update(LISTENER_TLS=sluice_listener_tls(tls),
                      CERTIFICATES=sluice_certificates(tls))
    text = render("sluice-tls-tcp.yaml.in" if tls else "sluice-tcp.yaml.in", values)
    cfg = env.cfg_dir / f"{_tcp_name(chain, layout, tls)}.yaml"
    cfg.write_text(text)
    argv = [env.tools["sluice"], "run", "--config", cfg, "--workers", layout.workers,
            "--shutdown-timeout", "0"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def haproxy_tcp_bind(tls):
    """What follows the bind address of HAProxy in mode tcp for a TLS workload: haproxy_bind's
    TLS without ALPN (as Sluice's AlpnPolicy None and NGINX's stream listener)."""
    return f" ssl crt {tls.combined} ssl-min-ver TLSv1.2"


# HAProxy for a bulk workload (haproxy-bulk-tcp.cfg.in): kernel splicing (splice(2) through
# a pipe, so the bytes never enter its buffers) in both directions from the first byte, with
# pipes of HAPROXY_BULK_PIPE_BYTES. Splicing is off by default (haproxy-tcp.cfg.in, as
# tcp-ka-13b runs it, copies through 16 KiB buffers); it is HAProxy's own feature for bulk
# forwarding, so the "best peer" of a bulk workload has it, and pipes as large as the kernel
# gives an unprivileged process (fs.pipe-max-size, 1 MiB), the size Sluice's own pipes ask for
# (src/net/splice_pipe.cc): the same room per splice for both, and HAProxy at its strongest.
# Measured here (layout A, tcp-bulk-1g, 4 x 1 GiB, proxy CPU s/GiB, 2-4 rounds each; some
# beside another session's compile): no splicing 1.13-1.20; `option splice-auto` 0.98-1.21
# (its heuristics hardly splice a TCP tunnel); splice-request + splice-response with the
# kernel's 64 KiB pipes 0.49-0.73, with tune.pipesize 256 KiB 0.30-0.32 (quiet rounds), 1 MiB
# 0.22-0.24 (quiet), 0.33-0.34 (busy); no splicing with tune.bufsize 256 KiB 0.60.
HAPROXY_BULK = ("\n    option splice-request    # kernel splicing both ways (a bulk workload)"
                "\n    option splice-response")
HAPROXY_BULK_PIPE_BYTES = 1 << 20


def _haproxy_tcp(env, chain, layout, workload, port):
    """HAProxy in mode tcp, balance roundrobin; its bind terminates TLS in a TLS workload
    (haproxy-tls-tcp.cfg.in); with kernel splicing in a bulk workload (HAPROXY_BULK)."""
    _check_tcp(chain, workload)
    tls = _tls_files(env, chain, workload)
    values = {"WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
              "SERVERS": "\n".join(f"    server b{i + 1} {b}:{env.backend_port}"
                                   for i, b in enumerate(BACKEND_ADDRS))}
    if tls:
        values["BIND_TLS"] = haproxy_tcp_bind(tls)
        template = "haproxy-tls-tcp.cfg.in"
    elif workload.bulk:
        values.update(SPLICE=HAPROXY_BULK, PIPE_BYTES=HAPROXY_BULK_PIPE_BYTES)
        template = "haproxy-bulk-tcp.cfg.in"
    else:
        template = "haproxy-tcp.cfg.in"
    text = render(template, values)
    cfg = env.cfg_dir / f"{_tcp_name(chain, layout, tls, workload.bulk)}.cfg"
    cfg.write_text(text)
    return Launch(["haproxy", "-f", cfg, "-db"], PROXY_ADDR, port, chain, True)


# A bulk workload's NGINX is nginx-tcp.conf.in as it is: the stream module has no splicing,
# and its one relay setting, proxy_buffer_size (one buffer each way, allocated per session, 16
# KiB by default), stays at its default: nginx.org documents no bulk setting for it. Larger
# ones lower NGINX's CPU per GiB (measured as HAPROXY_BULK's: 16k 1.07-1.24, 64k 0.79-0.90,
# 128k 0.72-0.83, 256k 0.54-0.72, 512k 0.45-0.51, 1m 0.37-0.41: fewer, larger reads and writes
# per GiB), but even at 1m it stays behind HAProxy's splicing with 1 MiB pipes, so the best
# peer of the bulk workloads is the same either way; only "sluice / nginx" would change.
def _nginx_tcp(env, chain, layout, workload, port):
    """NGINX's stream module: upstream (round robin) and proxy_pass; the listener terminates
    TLS in a TLS workload (nginx-tls-tcp.conf.in)."""
    _check_tcp(chain, workload)
    tls = _tls_files(env, chain, workload)
    wd = env.work / _tcp_name("nginx", layout, tls)
    wd.mkdir(exist_ok=True)
    values = {"LOAD_MODULE": nginx_stream_load(ssl=bool(tls)),
              "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
              "WORKDIR": wd,
              "SERVERS": "\n".join(f"        server {b}:{env.backend_port};"
                                   for b in BACKEND_ADDRS)}
    if tls:
        values["SERVER_TLS"] = nginx_server_tls(tls)
    text = render("nginx-tls-tcp.conf.in" if tls else "nginx-tcp.conf.in", values)
    cfg = env.cfg_dir / f"{_tcp_name(chain, layout, tls)}.conf"
    cfg.write_text(text)
    argv = ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def _check_udp(chain, workload):
    if not workload.udp:
        raise HarnessError(f"{chain}: workload {workload.name} is not a UDP workload")


def _sluice_udp(env, chain, layout, workload, port):
    """Sluice as an NLB for datagrams: Type network, a UDP listener, a UDP target group of
    the backends without health checks (udp-echo answers no TCP)."""
    _check_udp(chain, workload)
    text = render("sluice-udp.yaml.in", {
        "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port, "BACKEND_PORT": env.backend_port,
        "TARGETS": _targets_yaml()})
    cfg = env.cfg_dir / f"{chain}-udp-{layout.name}.yaml"
    cfg.write_text(text)
    argv = [env.tools["sluice"], "run", "--config", cfg, "--workers", layout.workers,
            "--shutdown-timeout", "0"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def _nginx_udp(env, chain, layout, workload, port):
    """NGINX's stream module with a UDP listener (reuseport: one socket per worker) and
    proxy_pass to a round-robin upstream of the backends."""
    _check_udp(chain, workload)
    wd = env.work / f"nginx-udp-{layout.name}"
    wd.mkdir(exist_ok=True)
    text = render("nginx-udp.conf.in", {
        "LOAD_MODULE": nginx_stream_load(), "WORKERS": layout.workers,
        "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port, "WORKDIR": wd,
        "SERVERS": "\n".join(f"        server {b}:{env.backend_port};" for b in BACKEND_ADDRS)})
    cfg = env.cfg_dir / f"nginx-udp-{layout.name}.conf"
    cfg.write_text(text)
    argv = ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


# The host name h2o's proxy.reverse.url names: it resolves to every backend address in the
# hosts file h2o sees (h2o_hosts_file), and h2o picks one at random per new connection.
H2O_BACKENDS = "sluice-bench-backends"
# h2o runs in a mount namespace of its own where the run's hosts file is /etc/hosts: the
# command before h2o's (the file's path is the shell's $0, h2o's command line its "$@").
H2O_NAMESPACE = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount --bind "$0" /etc/hosts && exec "$@"']


def h2o_hosts_file():
    """The hosts file h2o sees: localhost, and H2O_BACKENDS at each backend address."""
    return "".join(["127.0.0.1 localhost\n"] +
                   [f"{b} {H2O_BACKENDS}\n" for b in BACKEND_ADDRS])


def h2o_listen_tls(tls):
    """The ssl block of h2o's listener: the certificate, TLS 1.2 and 1.3 (as the others), no
    OCSP stapling (a self-signed certificate has no responder to ask)."""
    if not tls:
        return ""
    return ("\n  ssl:"
            f"\n    certificate-file: {tls.cert}"
            f"\n    key-file: {tls.key}"
            "\n    minimum-version: TLSv1.2"
            "\n    ocsp-update-interval: 0")


def _h2o(env, chain, layout, workload, port):
    """h2o 2.2 for an HTTP/2 workload: a listener with TLS (ALPN h2) or plain (prior
    knowledge), proxying to H2O_BACKENDS in a mount namespace whose /etc/hosts is the run's."""
    if not workload.h2:
        raise HarnessError(f"h2o runs in the HTTP/2 workloads only, not {workload.name}")
    if workload.h2_backends:
        raise HarnessError(f"h2o 2.2 speaks HTTP/1.1 to backends only, not HTTP/2 "
                           f"(workload {workload.name})")
    tls = _tls_files(env, chain, workload)
    # Kept with the run's configs: what h2o resolved its backends with.
    hosts = (env.cfg_dir / f"{chain}-{layout.name}.hosts").resolve()
    hosts.write_text(h2o_hosts_file())
    text = render("h2o.conf.in", {
        "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
        "LISTEN_TLS": h2o_listen_tls(tls), "BACKENDS": H2O_BACKENDS,
        "BACKEND_PORT": env.backend_port,
        "PEER_HEADERS": h2o_headers(layout.peer_headers, port)})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.conf"
    cfg.write_text(text)
    return Launch(H2O_NAMESPACE + [hosts, "h2o", "-c", cfg], PROXY_ADDR, port, chain, True)


def _no_tls(chain, workload):
    """The references speak no TLS and no HTTP/2, and write no access log."""
    if workload.tls or workload.backend_tls:
        raise HarnessError(f"{chain} cannot serve TLS workload {workload.name}")
    if workload.access_log:
        raise HarnessError(f"{chain} cannot write the access log of workload {workload.name}")
    if workload.h2:
        raise HarnessError(f"{chain} cannot serve HTTP/2 workload {workload.name}")


def _floor(env, chain, layout, workload, port):
    _no_tls(chain, workload)
    if workload.bulk:
        raise HarnessError(f"{chain} cannot serve bulk workload {workload.name}: it writes each "
                           f"read once, non-blocking, and drops what a full socket buffer "
                           f"does not take")
    argv = [env.tools["floor-forwarder"], port] + \
           [f"{b}:{env.backend_port}" for b in BACKEND_ADDRS]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def _direct(env, chain, layout, workload, port):
    """No proxy: one backend where the proxy would run, on its own address."""
    _no_tls(chain, workload)
    tool = backend_tool(workload.body, env.sized_backend_only, websocket=workload.websocket,
                        h2=workload.h2_backends)
    argv = backend_argv(env.tools, tool, env.backend_port, DIRECT_ADDR, workload.body)
    return Launch(argv, DIRECT_ADDR, env.backend_port, "direct responder", False)


CHAINS = {"sluice": _sluice, "sluice-1rule": _sluice, "sluice-1000rules": _sluice,
          "haproxy": _haproxy, "nginx": _nginx, "floor": _floor, "direct": _direct,
          "h2o": _h2o}
# A layer-4 workload's launchers: the peers in TCP mode; the floor (a byte forwarder already)
# and direct as for HTTP; no rules variants (a TCP listener has no rules).
TCP_CHAINS = {"sluice": _sluice_tcp, "haproxy": _haproxy_tcp, "nginx": _nginx_tcp,
              "floor": _floor, "direct": _direct}


# A UDP workload's launchers: the proxies that forward UDP (HAProxy cannot; the floor and
# direct are TCP only).
UDP_CHAINS = {"sluice": _sluice_udp, "nginx": _nginx_udp}


def launch(env, chain, layout, workload, port):
    table = UDP_CHAINS if workload.udp else TCP_CHAINS if workload.tcp else CHAINS
    fn = table.get(chain)
    if fn is None:
        kind = "UDP" if workload.udp else "layer-4" if workload.tcp else None
        raise HarnessError(f"unknown chain {chain}" + (f" for {kind} workload {workload.name}"
                                                       if kind and chain in CHAINS else ""))
    return fn(env, chain, layout, workload, port)
