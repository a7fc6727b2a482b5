"""Target groups of ProtocolVersion HTTP2 and GRPC (reference §2.2, §4.1, §4.6, §5.2), end to
end: the real binary, HTTP/2 clients (python-h2 over TLS with ALPN h2, and cleartext with prior
knowledge on an HTTP listener of a load balancer with sluice.routing.http2.cleartext.enabled),
grpcio clients, and HTTP/2 targets written here: a threaded python-h2 server (cleartext h2c, or
TLS offering h2 by ALPN) that records what it received, and a grpcio server with a generic
handler (bytes in and out, no protobuf code generation).

Covered:
  - config: an HTTP listener without the cleartext attribute cannot forward to a GRPC or HTTP2
    group (`sluice validate` names the group); with the attribute, or on an HTTPS listener,
    the same group is accepted
  - forwarding over HTTP/2, from an HTTPS listener (h2 by ALPN) and from the cleartext listener
    (h2c prior knowledge): the target sees the method, :path with its query, the client's
    :authority as sent (with and without a port), X-Forwarded-For/Proto/Port and
    X-Amzn-Trace-Id (lower-case), the client's own fields; a 1 MiB upload is streamed (the
    target has most of the first half before the client sends the second), an upload with
    content-length arrives whole, a 1 MiB response arrives whole; the target's status, response
    fields and trailers (a trailing HEADERS frame) reach the client, so does a 103 Early Hints
    (a non-final HEADERS frame) before them
  - multiplexing: 50 concurrent streams from 5 client connections reach the target over at
    most 2 connections per worker, several streams open on one connection; a target with
    SETTINGS_MAX_CONCURRENT_STREAMS 2 never sees more than 2 open streams on a connection and
    every one of the 50 requests is answered; so is every one when the target refuses streams
    over its limit (REFUSED_STREAM)
  - the 464 table: HTTP/1.1 (over TLS and cleartext) to an HTTP2 or GRPC group, gRPC to an
    HTTP1 group, a non-POST HTTP/2 request to a GRPC group; none reaches a target. A POST to a
    GRPC group and an ordinary HTTP/2 request to an HTTP1 group are forwarded
  - gRPC with grpcio, through the cleartext and the HTTPS listener: unary (metadata both ways,
    trailing metadata), server streaming (100 messages), client streaming, bidirectional
    streaming with each answer received before the next message is sent, an error status
    (trailers-only and after messages) with its code and details, grpc-timeout reaching the
    server
  - failures: the target resets the stream before answering (502), closes the connection with
    the request outstanding or its body on the way (502), the group's port refuses connections
    (502), the target never answers within the load balancer's idle timeout of 1 s (504)
  - access logs: type h2 for an HTTP/2 request over TLS, grpcs for a gRPC call over TLS
  - HTTPS groups of version HTTP2: a TLS target selecting h2 by ALPN is served over HTTP/2
    (its self-signed certificate is not checked); a TLS target that selects only http/1.1
    gets no bytes after the handshake (no HTTP/1.1 fallback, no HTTP/2 preface) and the
    client a 502

Nothing is marked xfail. Health checks are off for every group here (HealthCheckEnabled false,
as everywhere in these tests): HTTP/2 health checks are tested elsewhere.

Run with Debian's /usr/bin/python3 (it has h2, hyperframe, hpack and grpcio).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
import hashlib
import http.client as httpclient
import json
import queue
import random
import re
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import (LOCAL, SLUICE_BIN, ControlledBackend, dump_config, fixed, forward, free_port,
                      launch_sluice, path_is, rule, target_group, wait_until)

h2 = pytest.importorskip("h2")
grpc = pytest.importorskip("grpc")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.errors  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402

SNI = "h2.test"
WORKERS = 2
GRPC_SERVICE = "test.Echo"
MiB = 1 << 20


# ---- certificates ---------------------------------------------------------------------------

def make_cert(d, name: str) -> tuple:
    """A self-signed P-256 certificate for DNS:h2.test, DNS:*.h2.test and IP:127.0.0.1."""
    crt, key = d / f"{name}.crt", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-subj", f"/CN={SNI}", "-days", "30",
                    "-addext", f"subjectAltName=DNS:{SNI},DNS:*.{SNI},IP:{LOCAL}"],
                   check=True, capture_output=True, timeout=60)
    return crt, key


def server_tls(cert, alpn) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def client_tls(alpn=("h2",)) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    return ctx


_PATTERNS: dict = {}


def pattern(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes (a misplaced or repeated piece shows)."""
    key = (size, seed)
    if key not in _PATTERNS:
        _PATTERNS[key] = random.Random(seed).randbytes(size)
    return _PATTERNS[key]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- the HTTP/2 target (python-h2, threaded) ------------------------------------------------

class _LenientH2(h2.connection.H2Connection):
    """python-h2 refuses a stream beyond the SETTINGS_MAX_CONCURRENT_STREAMS it advertised with
    a connection error. The target counts open streams itself, so that a peer going over the
    limit is recorded (and answered) rather than torn down with a confusing 502."""

    def _receive_headers_frame(self, frame):
        values = self.local_settings._settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
        if not values:
            return super()._receive_headers_frame(frame)
        saved = values[0]
        values[0] = 2 ** 31 - 1
        try:
            return super()._receive_headers_frame(frame)
        finally:
            values[0] = saved


class _H2Conn:
    def __init__(self, cid: int, sock):
        self.id = cid
        self.sock = sock
        self.conn = None
        self.active: set[int] = set()      # request received, our answer not finished
        self.peak = 0                      # most streams open at once
        self.peak_after_ack = 0            # the same, counted once the peer ACKed our SETTINGS
        self.settings_acked = False
        self.streams: dict[int, dict] = {}
        self.pending: dict[int, list] = {}   # sid -> [memoryview body, offset, trailers]
        self.timers: list[tuple[float, int]] = []
        self.close_after_send = False     # act=goaway: GOAWAY and FIN right after an answer


class H2Target:
    """A threaded HTTP/2 server on 127.0.0.1:<ephemeral>, cleartext (prior knowledge) or TLS
    (`tls`: a server SSLContext; a connection that did not select h2 by ALPN is served as
    HTTP/1.1 instead and recorded in `h1_requests`, so a wrong fallback shows).

    Every request is recorded (`records`) as a dict: conn, stream, method, path, authority,
    scheme, headers [(name, value)] without pseudo-headers, body_len, body_sha256, reset (the
    peer reset the stream), open_at_arrival. `connections` counts accepted connections;
    `conns` keeps each connection's peak of concurrently open streams (`peak`, and
    `peak_after_ack` once our SETTINGS were acknowledged). Answers, by query parameter:
      act=reset       RST_STREAM (INTERNAL_ERROR) as soon as the request head arrives
      act=close       close the TCP connection as soon as the request head arrives
      act=hang        never answer
      delay_ms=N      answer N ms after the request ended
      status=N        the :status (default 200)
      size=N&seed=S   N pattern bytes as the body (else the JSON of the record)
      trailers=1      trailers after the body: x-body-sha256, x-trailer: last
      hints=1         a 103 Early Hints (link: </h2.css>; rel=preload) once the request
                      ended, before the delay_ms wait
      act=goaway      answer, then GOAWAY and close the connection in the same write
    Response fields: content-type, x-h2-target: <name>, x-h2-stream: <stream id>.
    refuse_over_limit: a stream beyond max_concurrent_streams is reset with REFUSED_STREAM at
    once (as Go's net/http server does while its SETTINGS are unacknowledged) and counted in
    `refused`; it is still recorded (refused: True)."""

    def __init__(self, name: str, tls: ssl.SSLContext | None = None,
                 max_concurrent_streams: int | None = None, refuse_over_limit: bool = False):
        self.name = name
        self.tls = tls
        self.max_concurrent_streams = max_concurrent_streams
        self.refuse_over_limit = refuse_over_limit
        self.refused = 0
        self.records: list[dict] = []
        self.h1_requests: list[bytes] = []
        self.alpn: list = []
        self.errors: list[str] = []
        self.connections = 0
        self.conns: list[_H2Conn] = []
        self.progress: dict[str, int] = {}   # path -> request body bytes received so far
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks: list = []
        self._threads: list[threading.Thread] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOCAL, 0))
        self.listener.listen(256)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True, name=f"h2-target-{name}")
        t.start()
        self._threads.append(t)

    # -- views --
    def find(self, prefix: str) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.records if r["path"].startswith(prefix)]

    def received(self, path: str) -> int:
        with self._lock:
            return self.progress.get(path, 0)

    def peaks(self) -> list[tuple[int, int, int]]:
        """(connection id, peak open streams, peak after our SETTINGS were ACKed)."""
        with self._lock:
            return [(c.id, c.peak, c.peak_after_ack) for c in self.conns]

    # -- lifecycle --
    def stop(self):
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(s, socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=3)
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                cid = self.connections
                self._socks.append(raw)
                t = threading.Thread(target=self._guarded, args=(raw, cid), daemon=True)
                self._threads.append(t)
            t.start()

    def _guarded(self, raw, cid: int):
        try:
            self._serve(raw, cid)
        except Exception as e:  # noqa: BLE001  (recorded: a test can show it)
            if not self._stop.is_set():
                with self._lock:
                    self.errors.append(repr(e))
        finally:
            with contextlib.suppress(OSError):
                raw.close()

    # -- one connection --
    def _serve(self, raw, cid: int):
        sock = raw
        if self.tls is not None:
            raw.settimeout(5)
            try:
                sock = self.tls.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with self._lock:
                    self.errors.append(f"handshake: {e!r}")
                return
            with self._lock:
                self._socks.append(sock)
                self.alpn.append(sock.selected_alpn_protocol())
            if sock.selected_alpn_protocol() != "h2":
                self._serve_http11(sock)
                return
        c = _H2Conn(cid, sock)
        with self._lock:
            self.conns.append(c)
        settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 4 * MiB,
                    h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536}
        if self.max_concurrent_streams is not None:
            settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = \
                self.max_concurrent_streams
        c.conn = _LenientH2(h2.config.H2Configuration(client_side=False,
                                                      header_encoding="utf-8"))
        c.conn.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        c.conn.initiate_connection()
        c.conn.increment_flow_control_window(64 * MiB)
        self._send(c)
        sock.settimeout(0)
        while not self._stop.is_set():
            now = time.monotonic()
            wait = 0.05
            if c.timers:
                wait = max(0.0, min(wait, min(t for t, _ in c.timers) - now))
            pending_tls = isinstance(sock, ssl.SSLSocket) and sock.pending()
            if not pending_tls:
                readable, _, _ = select.select([sock], [], [], wait)
            else:
                readable = [sock]
            if readable:
                try:
                    data = sock.recv(1 << 20)
                except (ssl.SSLWantReadError, BlockingIOError):
                    data = None
                except (ConnectionResetError, ssl.SSLError, OSError):
                    data = b""
                if data == b"":
                    return
                if data:
                    try:
                        events = c.conn.receive_data(data)
                    except h2.exceptions.ProtocolError as e:
                        with self._lock:
                            self.errors.append(f"conn {cid}: {e!r}")
                        self._send(c)
                        return
                    for ev in events:
                        if self._on(c, ev) == "close":
                            with contextlib.suppress(OSError):
                                socket.socket.shutdown(sock, socket.SHUT_RDWR)
                            return
            now = time.monotonic()
            due = [sid for t, sid in c.timers if t <= now]
            c.timers = [(t, sid) for t, sid in c.timers if t > now]
            for sid in due:
                self._respond(c, sid)
            self._flush_bodies(c)
            if not self._send(c):
                return
            if c.close_after_send:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                return

    def _send(self, c: _H2Conn) -> bool:
        data = c.conn.data_to_send()
        if not data:
            return True
        c.sock.settimeout(10)
        try:
            c.sock.sendall(data)
        except OSError:
            return False
        finally:
            c.sock.settimeout(0)
        return True

    def _on(self, c: _H2Conn, ev):
        E = h2.events
        if isinstance(ev, E.RequestReceived):
            sid = ev.stream_id
            pseudo = {k: v for k, v in ev.headers if k.startswith(":")}
            c.active.add(sid)
            with self._lock:
                c.peak = max(c.peak, len(c.active))
                if c.settings_acked:
                    c.peak_after_ack = max(c.peak_after_ack, len(c.active))
            rec = {"conn": c.id, "stream": sid, "method": pseudo.get(":method"),
                   "path": pseudo.get(":path"), "authority": pseudo.get(":authority"),
                   "scheme": pseudo.get(":scheme"),
                   "headers": [(k, v) for k, v in ev.headers if not k.startswith(":")],
                   "body_len": 0, "body_sha256": None, "reset": False, "ended": False,
                   "refused": False,
                   "open_at_arrival": len(c.active), "acked_at_arrival": c.settings_acked}
            c.streams[sid] = {"rec": rec, "digest": hashlib.sha256()}
            with self._lock:
                self.records.append(rec)
            q = self._query(rec["path"])
            act = q.get("act")
            if self.refuse_over_limit and len(c.active) > (self.max_concurrent_streams or 0):
                c.conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
                c.active.discard(sid)
                with self._lock:
                    rec["refused"] = True
                    self.refused += 1
            elif act == "reset":
                c.conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
                c.active.discard(sid)
            elif act == "close":
                return "close"
        elif isinstance(ev, E.DataReceived):
            c.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            st = c.streams.get(ev.stream_id)
            if st is not None:
                st["digest"].update(ev.data)
                with self._lock:
                    st["rec"]["body_len"] += len(ev.data)
                    path = st["rec"]["path"]
                    self.progress[path] = self.progress.get(path, 0) + len(ev.data)
        elif isinstance(ev, E.StreamEnded):
            self._ended(c, ev.stream_id)
        elif isinstance(ev, E.StreamReset):
            c.active.discard(ev.stream_id)
            c.pending.pop(ev.stream_id, None)
            st = c.streams.get(ev.stream_id)
            if st is not None:
                with self._lock:
                    st["rec"]["reset"] = True
        elif isinstance(ev, E.SettingsAcknowledged):
            c.settings_acked = True
        return None

    @staticmethod
    def _query(path: str) -> dict:
        return {k: v[0] for k, v in urllib.parse.parse_qs(
            urllib.parse.urlsplit(path or "").query).items()}

    def _ended(self, c: _H2Conn, sid: int):
        st = c.streams.get(sid)
        if st is None or st["rec"]["ended"]:
            return
        with self._lock:
            st["rec"]["ended"] = True
            st["rec"]["body_sha256"] = st["digest"].hexdigest()
        q = self._query(st["rec"]["path"])
        if q.get("act") in ("reset", "hang", "close"):
            return
        if q.get("hints") == "1":  # a 103 Early Hints at once, the response after delay_ms
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                c.conn.send_headers(sid, [(":status", "103"), ("link", "</h2.css>; rel=preload")])
        c.timers.append((time.monotonic() + int(q.get("delay_ms", "0")) / 1000.0, sid))

    def _respond(self, c: _H2Conn, sid: int):
        st = c.streams.get(sid)
        if st is None or sid not in c.active:
            return
        rec = st["rec"]
        q = self._query(rec["path"])
        if "size" in q:
            body, ctype = pattern(int(q["size"]), int(q.get("seed", "0"))), \
                "application/octet-stream"
        else:
            with self._lock:
                body, ctype = json.dumps(rec).encode(), "application/json"
        headers = [(":status", q.get("status", "200")), ("content-type", ctype),
                   ("x-h2-target", self.name), ("x-h2-stream", str(sid))]
        trailers = None
        if q.get("trailers") == "1":
            trailers = [("x-body-sha256", sha(body)), ("x-trailer", "last")]
        try:
            if not body and trailers is None:
                c.conn.send_headers(sid, headers, end_stream=True)
                c.active.discard(sid)
                return
            c.conn.send_headers(sid, headers)
            c.pending[sid] = [memoryview(body), 0, trailers]
        except h2.exceptions.StreamClosedError:
            c.active.discard(sid)

    def _flush_bodies(self, c: _H2Conn):
        for sid in list(c.pending):
            view, off, trailers = c.pending[sid]
            try:
                while off < len(view):
                    room = min(c.conn.local_flow_control_window(sid),
                               c.conn.max_outbound_frame_size, len(view) - off)
                    if room <= 0:
                        break
                    c.conn.send_data(sid, bytes(view[off:off + room]))
                    off += room
                c.pending[sid][1] = off
                if off >= len(view):
                    if trailers is not None:
                        c.conn.send_headers(sid, trailers, end_stream=True)
                    else:
                        c.conn.end_stream(sid)
                    del c.pending[sid]
                    c.active.discard(sid)
                    if self._query(c.streams[sid]["rec"]["path"]).get("act") == "goaway":
                        c.conn.close_connection()
                        c.close_after_send = True
            except (h2.exceptions.StreamClosedError, h2.exceptions.FlowControlError):
                c.pending.pop(sid, None)
                c.active.discard(sid)

    def _serve_http11(self, sock):
        """ALPN did not select h2: behave as an HTTP/1.1 server (200 to a request, 400 to an
        HTTP/2 preface), recording what arrived."""
        sock.settimeout(5)
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            try:
                chunk = sock.recv(65536)
            except (OSError, ssl.SSLError):
                break
            if not chunk:
                break
            buf += chunk
        with self._lock:
            self.h1_requests.append(buf)
        if not buf:
            return
        if buf.startswith(b"PRI * HTTP/2.0"):
            out = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        else:
            body = b"served over http/1.1\n"
            out = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        with contextlib.suppress(OSError, ssl.SSLError):
            sock.sendall(out)


# ---- the gRPC target (grpcio, generic handlers, bytes in and out) ---------------------------

class GrpcTarget:
    """grpc.server on an insecure (h2c) port. Methods of test.Echo:
      Unary         b"echo:" + request; initial metadata x-initial: i1, trailing x-trailing: t1
      ServerStream  request b"N": N messages b"msg-<i>"
      ClientStream  b"<count> <total bytes> <sha256 of the concatenation>"
      Bidi          each message answered at once with its reverse
      Fail          NOT_FOUND "no such widget: 42" before any message (trailers-only)
      StreamFail    3 messages, then RESOURCE_EXHAUSTED "stopped after 3"
      Deadline      repr(context.time_remaining())
    Every call's (method, invocation metadata, time_remaining) is kept in `calls`."""

    def __init__(self):
        self.calls: list[tuple[str, dict, object]] = []
        self._lock = threading.Lock()
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=32),
                                  options=[("grpc.so_reuseport", 0)])
        u, us = grpc.unary_unary_rpc_method_handler, grpc.unary_stream_rpc_method_handler
        su, ss = grpc.stream_unary_rpc_method_handler, grpc.stream_stream_rpc_method_handler
        handlers = {"Unary": u(self.unary), "ServerStream": us(self.server_stream),
                    "ClientStream": su(self.client_stream), "Bidi": ss(self.bidi),
                    "Fail": u(self.fail), "StreamFail": us(self.stream_fail),
                    "Deadline": u(self.deadline)}
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(GRPC_SERVICE, handlers),))
        self.port = self.server.add_insecure_port(f"{LOCAL}:0")
        self.server.start()

    def stop(self):
        self.server.stop(0).wait(5)

    def _note(self, method, context):
        with self._lock:
            self.calls.append((method, dict(context.invocation_metadata()),
                               context.time_remaining()))

    def calls_of(self, method) -> list:
        with self._lock:
            return [c for c in self.calls if c[0] == method]

    def unary(self, request, context):
        self._note("Unary", context)
        context.send_initial_metadata((("x-initial", "i1"),))
        context.set_trailing_metadata((("x-trailing", "t1"),))
        return b"echo:" + request

    def server_stream(self, request, context):
        self._note("ServerStream", context)
        for i in range(int(request)):
            yield b"msg-%d" % i

    def client_stream(self, request_iterator, context):
        self._note("ClientStream", context)
        n, total, digest = 0, 0, hashlib.sha256()
        for m in request_iterator:
            n, total = n + 1, total + len(m)
            digest.update(m)
        return b"%d %d %s" % (n, total, digest.hexdigest().encode())

    def bidi(self, request_iterator, context):
        self._note("Bidi", context)
        for m in request_iterator:
            yield m[::-1]

    def fail(self, request, context):
        self._note("Fail", context)
        context.abort(grpc.StatusCode.NOT_FOUND, "no such widget: 42")

    def stream_fail(self, request, context):
        self._note("StreamFail", context)
        for i in range(3):
            yield b"part-%d" % i
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "stopped after 3")

    def deadline(self, request, context):
        self._note("Deadline", context)
        return repr(context.time_remaining()).encode()


# ---- an HTTP/2 client (python-h2; TLS with ALPN h2, or cleartext prior knowledge) ------------

class Stream:
    def __init__(self):
        self.headers: list = []
        self.interims: list = []  # the headers of each interim (1xx) response, in order
        self.trailers: list = []
        self.data = bytearray()
        self.ended = False
        self.reset = None

    @property
    def status(self):
        return next((int(v) for k, v in self.headers if k == ":status"), None)

    def header(self, name):
        return next((v for k, v in self.headers if k == name), None)

    def json(self):
        return json.loads(bytes(self.data))

    def __repr__(self):
        return (f"<Stream status={self.status} headers={self.headers} trailers={self.trailers} "
                f"ended={self.ended} reset={self.reset} data={bytes(self.data[:300])!r}>")


class H2Client:
    """One HTTP/2 connection to Sluice: over TLS (ALPN h2) when tls, else cleartext with prior
    knowledge. Windows are opened wide at the start; received data is acknowledged at once."""

    def __init__(self, port: int, tls: bool = True, timeout: float = 5.0):
        raw = socket.create_connection((LOCAL, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls = tls
        if tls:
            self.sock = client_tls().wrap_socket(raw, server_hostname=SNI)
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        else:
            self.sock = raw
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 8 * MiB})
        self.conn.increment_flow_control_window(64 * MiB)
        self.streams: dict[int, Stream] = {}
        self.closed = False
        self.goaway = None
        self.flush()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def flush(self):
        data = self.conn.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def pump(self, wait: float = 0.05) -> bool:
        if self.closed:
            return False
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self._on(ev)
        self.flush()
        return True

    def _on(self, ev):
        E = h2.events
        if isinstance(ev, E.InformationalResponseReceived):
            self.streams.setdefault(ev.stream_id, Stream()).interims.append(list(ev.headers))
        elif isinstance(ev, E.ResponseReceived):
            self.streams.setdefault(ev.stream_id, Stream()).headers.extend(ev.headers)
        elif isinstance(ev, E.TrailersReceived):
            self.streams.setdefault(ev.stream_id, Stream()).trailers.extend(ev.headers)
        elif isinstance(ev, E.DataReceived):
            self.streams.setdefault(ev.stream_id, Stream()).data += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, E.StreamEnded):
            self.streams.setdefault(ev.stream_id, Stream()).ended = True
        elif isinstance(ev, E.StreamReset):
            self.streams.setdefault(ev.stream_id, Stream()).reset = ev.error_code
        elif isinstance(ev, E.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id)

    def until(self, pred, timeout: float = 5.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() >= deadline or self.closed:
                raise AssertionError(f"{'closed' if self.closed else 'timed out'} waiting for "
                                     f"{what} ({timeout}s); goaway={self.goaway} "
                                     f"streams={self.streams}")
            self.pump(min(0.05, max(0.001, deadline - time.monotonic())))

    def start(self, path: str, method: str = "GET", headers=(), authority: str = SNI,
              end_stream: bool = True) -> int:
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https" if self.tls else "http"),
                (":authority", authority), (":path", path), *headers]
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        self.streams[sid] = Stream()
        self.flush()
        return sid

    def send_body(self, sid: int, body: bytes, end_stream: bool = True, timeout: float = 15.0):
        view, off = memoryview(body), 0
        deadline = time.monotonic() + timeout
        while off < len(body):
            if self.done(sid):
                return  # answered (or reset) before the whole body was sent
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size, len(body) - off)
            if room <= 0:
                assert time.monotonic() < deadline, "Sluice's window never reopened"
                assert not self.closed, f"closed during the upload (goaway={self.goaway})"
                self.pump(0.05)
                continue
            self.conn.send_data(sid, bytes(view[off:off + room]))
            off += room
            self.flush()
        if end_stream and not self.done(sid):
            self.conn.end_stream(sid)
            self.flush()

    def done(self, sid: int) -> bool:
        s = self.streams.get(sid)
        return s is not None and (s.ended or s.reset is not None)

    def wait(self, sid: int, timeout: float = 5.0) -> Stream:
        self.until(lambda: self.done(sid), timeout, what=f"stream {sid}")
        return self.streams[sid]

    def request(self, path: str, method: str = "GET", headers=(), body: bytes | None = None,
                timeout: float = 5.0, **kw) -> Stream:
        sid = self.start(path, method, headers, end_stream=body is None, **kw)
        if body is not None:
            self.send_body(sid, body)
        return self.wait(sid, timeout)


def h2_request(port: int, tls: bool, path: str, **kw) -> Stream:
    with H2Client(port, tls) as c:
        return c.request(path, **kw)


def all_streams(clients_and_sids, timeout: float) -> None:
    """Pumps every client until each of its streams is done."""
    deadline = time.monotonic() + timeout
    while True:
        pending = [(c, sid) for c, sid in clients_and_sids if not c.done(sid)]
        if not pending:
            return
        assert time.monotonic() < deadline, f"{len(pending)} streams unanswered after {timeout}s"
        for c in {id(c): c for c, _ in pending}.values():
            assert not c.closed, f"a client connection closed: goaway={c.goaway}"
            c.pump(0.01)


def https11(port: int, path: str, method: str = "GET", headers=None, body=None):
    """One HTTP/1.1 request over TLS (ALPN http/1.1): (status, {lower name: value}, body)."""
    c = httpclient.HTTPSConnection(LOCAL, port, context=client_tls(("http/1.1",)), timeout=5)
    try:
        c.request(method, path, body=body, headers={"Host": SNI, **(headers or {})})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def http11(port: int, path: str, method: str = "GET", headers=None, body=None):
    c = httpclient.HTTPConnection(LOCAL, port, timeout=5)
    try:
        c.request(method, path, body=body, headers={"Host": SNI, **(headers or {})})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def hv(rec: dict, name: str) -> list:
    return [v for k, v in rec["headers"] if k == name]


# ---- one shared Sluice ----------------------------------------------------------------------

class Site:
    pass


def lb_listeners(tls_port: int, clear_port: int | None, rules, default) -> list:
    out = [{"Protocol": "HTTPS", "Port": tls_port, "BindAddress": LOCAL, "Certificates": ["h2"],
            "DefaultActions": [default], "Rules": list(rules)}]
    if clear_port is not None:
        out.append({"Protocol": "HTTP", "Port": clear_port, "BindAddress": LOCAL,
                    "DefaultActions": [default], "Rules": list(rules)})
    return out


def h2_group(name: str, ports, version: str = "HTTP2", **extra) -> dict:
    return target_group(name, ports, ProtocolVersion=version, **extra)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """main: an HTTPS listener (site.tls) and a cleartext HTTP listener (site.clear) with the
    same rules; short: an HTTPS listener with a 1 s idle timeout. Groups by path:
      /h2/*        h2      HTTP2 → site.main (python-h2, h2c)
      /mux/*       mux     HTTP2 → site.mux (for the connection count)
      /mcs/*       mcs     HTTP2 → site.mcs (max_concurrent_streams 2)
      /strict/*    strict  HTTP2 → site.strict (the same, refusing streams over it)
      /fail/*      fail    HTTP2 → site.fail
      /refused/*   refused HTTP2 → a port nobody listens on
      /g/*         gmain   GRPC  → site.main
      /h1/*        h1      HTTP1 → site.h1 (HTTP/1.1)
      /test.Echo/* grpc    GRPC  → site.grpc (grpcio)
      /tlsh2/*     tlsh2   HTTPS HTTP2 → site.tls_h2 (TLS, ALPN h2)
      /tlsh11/*    tlsh11  HTTPS HTTP2 → site.tls_h11 (TLS, ALPN http/1.1 only)
    anything else: fixed 404 "no rule"."""
    d = tmp_path_factory.mktemp("h2-targets")
    st = Site()
    st.dir = d
    st.cert = make_cert(d, "h2")
    st.cert_pem = st.cert[0].read_bytes()
    started = []
    try:
        st.main = H2Target("main")
        st.mux = H2Target("mux")
        st.mcs = H2Target("mcs", max_concurrent_streams=2)
        st.strict = H2Target("strict", max_concurrent_streams=2, refuse_over_limit=True)
        st.fail = H2Target("fail")
        st.tls_h2 = H2Target("tls-h2", tls=server_tls(st.cert, ["h2"]))
        st.tls_h11 = H2Target("tls-h11", tls=server_tls(st.cert, ["http/1.1"]))
        started += [st.main, st.mux, st.mcs, st.strict, st.fail, st.tls_h2, st.tls_h11]
        st.h1 = ControlledBackend("h1")
        started.append(st.h1)
        st.grpc = GrpcTarget()
        started.append(st.grpc)
        st.refused_port = free_port()
        ports = set()
        while len(ports) < 3:
            p = free_port()
            if p != st.refused_port:
                ports.add(p)
        st.tls, st.clear, st.short = sorted(ports)
        rules = [
            rule(1, [path_is("/h2/*")], forward("h2")),
            rule(2, [path_is("/mux/*")], forward("mux")),
            rule(3, [path_is("/mcs/*")], forward("mcs")),
            rule(4, [path_is("/fail/*")], forward("fail")),
            rule(5, [path_is("/refused/*")], forward("refused")),
            rule(6, [path_is("/g/*")], forward("gmain")),
            rule(7, [path_is("/h1/*")], forward("h1")),
            rule(8, [path_is(f"/{GRPC_SERVICE}/*")], forward("grpc")),
            rule(9, [path_is("/tlsh2/*")], forward("tlsh2")),
            rule(10, [path_is("/tlsh11/*")], forward("tlsh11")),
            rule(11, [path_is("/strict/*")], forward("strict")),
        ]
        cfg = {
            "Certificates": [{"Name": "h2", "CertificateFile": str(st.cert[0]),
                              "PrivateKeyFile": str(st.cert[1])}],
            "LoadBalancers": [
                {"Name": "main", "Attributes": {"sluice.routing.http2.cleartext.enabled": True},
                 "Listeners": lb_listeners(st.tls, st.clear, rules, fixed("404", "no rule"))},
                {"Name": "short", "Attributes": {"idle_timeout.timeout_seconds": 1},
                 "Listeners": lb_listeners(st.short, None, [], forward("fail-short"))},
            ],
            "TargetGroups": [
                h2_group("h2", [st.main.port]),
                h2_group("mux", [st.mux.port]),
                h2_group("mcs", [st.mcs.port]),
                h2_group("strict", [st.strict.port]),
                h2_group("fail", [st.fail.port]),
                # The same target for the short load balancer: a group serves one load
                # balancer (TargetGroupAssociationLimit).
                h2_group("fail-short", [st.fail.port]),
                h2_group("refused", [st.refused_port]),
                h2_group("gmain", [st.main.port], "GRPC"),
                target_group("h1", [st.h1.port]),
                h2_group("grpc", [st.grpc.port], "GRPC"),
                h2_group("tlsh2", [st.tls_h2.port], Protocol="HTTPS"),
                h2_group("tlsh11", [st.tls_h11.port], Protocol="HTTPS"),
            ],
        }
        st.config = cfg
        st.sluice = launch_sluice(d, cfg, workers=WORKERS)
    except BaseException:
        for t in started:
            t.stop()
        raise
    yield st
    st.sluice.proc.stop(timeout=10)
    for t in started:
        t.stop()


TRANSPORTS = [pytest.param(True, id="tls"), pytest.param(False, id="h2c")]


def port_of(site, tls: bool) -> int:
    return site.tls if tls else site.clear


# ---- 1. config ------------------------------------------------------------------------------

def validate(tmp_path, cfg: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "check.yaml"
    path.write_text(dump_config(cfg))
    return subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                          timeout=30)


def http_lb(port: int, group: str, attributes=None) -> dict:
    lb = {"Name": "cfg", "Listeners": [{"Protocol": "HTTP", "Port": port, "BindAddress": LOCAL,
                                        "DefaultActions": [forward(group)]}]}
    if attributes:
        lb["Attributes"] = attributes
    return lb


@pytest.mark.parametrize("version", ["GRPC", "HTTP2"])
def test_config_http_listener_cannot_forward_to_http2_group(tmp_path, version):
    cfg = {"LoadBalancers": [http_lb(free_port(), "rpc-group")],
           "TargetGroups": [h2_group("rpc-group", [free_port()], version)]}
    res = validate(tmp_path, cfg)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "an HTTP listener cannot forward to target group" in out, out
    assert "rpc-group" in out.split("cannot forward to target group", 1)[1], out
    assert version in out, out


def test_config_cleartext_attribute_or_https_listener_accepts_grpc_group(tmp_path):
    crt = make_cert(tmp_path, "cfg")
    group = h2_group("g", [free_port()], "GRPC")
    clear = {"LoadBalancers": [http_lb(free_port(), "g", {
        "sluice.routing.http2.cleartext.enabled": True})], "TargetGroups": [group]}
    res = validate(tmp_path, clear)
    assert res.returncode == 0, res.stdout + res.stderr
    tls = {"Certificates": [{"Name": "c", "CertificateFile": str(crt[0]),
                             "PrivateKeyFile": str(crt[1])}],
           "LoadBalancers": [{"Name": "cfg", "Listeners": [{
               "Protocol": "HTTPS", "Port": free_port(), "BindAddress": LOCAL,
               "Certificates": ["c"], "DefaultActions": [forward("g")]}]}],
           "TargetGroups": [group]}
    res = validate(tmp_path, tls)
    assert res.returncode == 0, res.stdout + res.stderr


# ---- 2, 3. forwarding over HTTP/2 (HTTPS listener, cleartext listener) ----------------------

@pytest.mark.parametrize("tls", TRANSPORTS)
def test_get_reaches_the_target_over_http2_with_forwarded_headers(site, tls):
    port = port_of(site, tls)
    path = f"/h2/get/{'tls' if tls else 'h2c'}?a=1&b=two%20words&c"
    s = h2_request(port, tls, path, headers=[("user-agent", "h2-test/1"),
                                             ("x-custom-field", "Some Value"),
                                             ("x-forwarded-for", "203.0.113.9")])
    assert s.status == 200 and s.ended and s.reset is None, s
    assert s.header("x-h2-target") == "main", s.headers
    rec = s.json()
    recs = site.main.find(path)
    assert len(recs) == 1, recs
    assert (rec["method"], rec["path"]) == ("GET", path), rec
    assert rec["scheme"] in ("http", "https"), rec
    assert hv(rec, "x-custom-field") == ["Some Value"] and hv(rec, "user-agent") == ["h2-test/1"]
    assert hv(rec, "x-forwarded-for") == ["203.0.113.9, 127.0.0.1"], rec["headers"]
    assert hv(rec, "x-forwarded-proto") == ["https" if tls else "http"], rec["headers"]
    assert hv(rec, "x-forwarded-port") == [str(port)], rec["headers"]
    trace = hv(rec, "x-amzn-trace-id")
    assert len(trace) == 1 and re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", trace[0]), rec["headers"]
    names = [k for k, _ in rec["headers"]]
    assert all(n == n.lower() for n in names), names
    assert rec["body_len"] == 0 and not hv(rec, "content-length"), rec
    # python-h2 validates what it receives (no connection-specific fields, lower-case names,
    # pseudo-headers first): any violation would be listed here.
    assert not site.main.errors, site.main.errors


@pytest.mark.parametrize("tls", TRANSPORTS)
@pytest.mark.parametrize("with_port", [True, False], ids=["with-port", "without-port"])
def test_authority_is_the_clients(site, tls, with_port):
    """:authority reaches the target after ALB's Host rules, as Host does for an HTTP/1.1
    target (docs/alb-compatibility.md): as sent when it names the listener's port, with the
    listener's (non-default) port appended when it names none. No host field is sent."""
    port = port_of(site, tls)
    authority = f"app.{SNI}:{port}" if with_port else f"app.{SNI}"
    path = f"/h2/authority/{'tls' if tls else 'h2c'}/{with_port}"
    s = h2_request(port, tls, path, authority=authority)
    assert s.status == 200, s
    rec = s.json()
    assert rec["path"] == path and rec["authority"] == f"app.{SNI}:{port}", rec
    assert not hv(rec, "host"), rec["headers"]


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_upload_streams_and_large_response_arrives_whole(site, tls):
    port = port_of(site, tls)
    path = f"/h2/upload/{'tls' if tls else 'h2c'}?size={MiB}&seed=9"
    body = pattern(MiB, 7)
    half = MiB // 2
    with H2Client(port, tls) as c:
        sid = c.start(path, method="POST", end_stream=False,
                      headers=[("content-type", "application/octet-stream")])
        c.send_body(sid, body[:half], end_stream=False)
        # Streamed, not collected: most of the first half reaches the target before the
        # client sends the rest.
        c.until(lambda: site.main.received(path) >= half // 2 or c.done(sid), 5,
                what="the first half of the upload at the target")
        assert not c.done(sid), c.streams[sid]
        c.send_body(sid, body[half:], end_stream=True)
        s = c.wait(sid, 10)
    assert s.status == 200 and s.ended and s.reset is None, s
    assert s.header("content-type") == "application/octet-stream"
    assert len(s.data) == MiB and bytes(s.data) == pattern(MiB, 9)
    recs = site.main.find(path)
    assert len(recs) == 1, recs
    rec = recs[0]
    assert rec["method"] == "POST" and hv(rec, "content-type") == ["application/octet-stream"]
    assert (rec["body_len"], rec["body_sha256"]) == (MiB, sha(body)), rec


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_upload_with_content_length(site, tls):
    port = port_of(site, tls)
    path = f"/h2/upload-cl/{'tls' if tls else 'h2c'}"
    body = pattern(300_000, 3)
    s = h2_request(port, tls, path, method="PUT", body=body,
                   headers=[("content-length", str(len(body)))], timeout=10)
    assert s.status == 200, s
    rec = s.json()
    assert rec["method"] == "PUT" and (rec["body_len"], rec["body_sha256"]) == (
        len(body), sha(body)), rec
    assert hv(rec, "content-length") in ([], [str(len(body))]), rec["headers"]


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_trailers_are_relayed(site, tls):
    port = port_of(site, tls)
    path = f"/h2/trailers/{'tls' if tls else 'h2c'}?trailers=1&size=70000&seed=4"
    s = h2_request(port, tls, path)
    assert s.status == 200 and s.ended and s.reset is None, s
    assert bytes(s.data) == pattern(70000, 4)
    assert s.header("x-h2-target") == "main"
    assert dict(s.trailers) == {"x-body-sha256": sha(pattern(70000, 4)),
                                "x-trailer": "last"}, s
    assert s.header("x-trailer") is None, "a trailer arrived among the response fields"


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_early_hints_of_an_http2_target_are_relayed(site, tls):
    # The target sends the 103 at once and the response 3 s later: the hint must reach the
    # client on its own, before the response.
    path = f"/h2/hints/{'tls' if tls else 'h2c'}?hints=1&size=100&seed=5&delay_ms=3000"
    with H2Client(port_of(site, tls), tls=tls) as c:
        sid = c.start(path)
        c.until(lambda: c.streams[sid].interims, timeout=2.5, what="the 103 before the response")
        assert c.streams[sid].status is None, c.streams[sid]
        s = c.wait(sid)
    assert s.status == 200 and s.ended and s.reset is None, s
    assert s.interims == [[(":status", "103"), ("link", "</h2.css>; rel=preload")]], s.interims
    assert bytes(s.data) == pattern(100, 5)


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_target_status_and_empty_body_are_relayed(site, tls):
    s = h2_request(port_of(site, tls), tls, "/h2/status?status=404&size=0")
    assert s.status == 404 and s.ended and bytes(s.data) == b"", s
    assert s.header("x-h2-target") == "main"


# ---- 4. multiplexing ------------------------------------------------------------------------

def fifty_concurrent(port: int, prefix: str, delay_ms: int, timeout: float) -> list[Stream]:
    clients = [H2Client(port, True) for _ in range(5)]
    try:
        pairs = []
        for ci, c in enumerate(clients):
            for i in range(10):
                pairs.append((c, c.start(f"{prefix}/{ci}/{i}?delay_ms={delay_ms}")))
        all_streams(pairs, timeout)
        return [c.streams[sid] for c, sid in pairs]
    finally:
        for c in clients:
            c.close()


def test_streams_from_many_clients_share_target_connections(site):
    streams = fifty_concurrent(site.tls, "/mux/x", 400, 20)
    bad = [s for s in streams if s.status != 200 or not s.ended]
    assert not bad, bad[:3]
    assert len(site.mux.find("/mux/x/")) == 50
    assert {s.json()["path"] for s in streams} == {f"/mux/x/{ci}/{i}?delay_ms=400"
                                                  for ci in range(5) for i in range(10)}
    peaks = site.mux.peaks()
    # One HTTP/2 connection per worker is the aim; allow a second while the first is set up.
    assert site.mux.connections <= 2 * WORKERS, (site.mux.connections, peaks)
    assert max(p for _, p, _ in peaks) >= 5, peaks  # streams really shared a connection
    assert not site.mux.errors, site.mux.errors


def test_target_max_concurrent_streams_is_respected(site):
    streams = fifty_concurrent(site.tls, "/mcs/x", 100, 30)
    bad = [s for s in streams if s.status != 200 or not s.ended]
    assert not bad, (len(bad), bad[:3])
    assert len(site.mcs.find("/mcs/x/")) == 50
    peaks = site.mcs.peaks()
    over = [(r["conn"], r["stream"], r["open_at_arrival"], r["acked_at_arrival"])
            for r in site.mcs.find("/mcs/x/") if r["open_at_arrival"] > 2]
    # peaks: (connection, most open streams, most once Sluice had ACKed our SETTINGS); over:
    # (connection, stream, open streams with it, whether our SETTINGS were ACKed by then).
    # Streams over the limit before the ACK mean Sluice filled a new connection before it read
    # the target's SETTINGS (sent first, right after accept): a target that enforces its limit
    # (python-h2, Go's net/http) would refuse or reset them.
    assert all(p <= 2 for _, p, _ in peaks), f"peaks={peaks} over the limit: {over}"
    assert not site.mcs.errors, site.mcs.errors


def test_target_enforcing_its_stream_limit_still_answers_everything(site):
    """A target that refuses streams over its limit (REFUSED_STREAM: not processed, safe to
    retry, RFC 9113 §8.7) costs the clients nothing: Sluice stays within the limit or retries
    what was refused."""
    streams = fifty_concurrent(site.tls, "/strict/x", 100, 30)
    bad = [s for s in streams if s.status != 200 or not s.ended]
    assert not bad, (f"{len(bad)} of 50 failed; the target refused {site.strict.refused} "
                     f"streams", bad[:3])
    served = [r for r in site.strict.find("/strict/x/") if not r["refused"]]
    assert len(served) == 50, len(served)
    assert not site.strict.errors, site.strict.errors


# ---- 5. the 464 table -----------------------------------------------------------------------

def grpc_frame(payload: bytes) -> bytes:
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def test_http11_over_tls_to_http2_and_grpc_groups_is_464(site):
    for path in ("/h2/h11-tls", "/g/h11-tls"):
        status, headers, _ = https11(site.tls, path)
        assert status == 464, (path, status, headers)
        status, _, _ = https11(site.tls, path, method="POST", body=b"x" * 10,
                               headers={"Content-Type": "application/grpc"})
        assert status == 464, (path, status)
    assert not site.main.find("/h2/h11-tls") and not site.main.find("/g/h11-tls")


def test_http11_over_cleartext_to_http2_and_grpc_groups_is_464(site):
    for path in ("/h2/h11-clear", "/g/h11-clear"):
        status, headers, _ = http11(site.clear, path)
        assert status == 464, (path, status, headers)
    assert not site.main.find("/h2/h11-clear") and not site.main.find("/g/h11-clear")


@pytest.mark.parametrize("tls", TRANSPORTS)
@pytest.mark.parametrize("ctype", ["application/grpc", "application/grpc+proto"])
def test_grpc_request_to_http1_group_is_464(site, tls, ctype):
    path = f"/h1/grpc-{'tls' if tls else 'h2c'}-{ctype.replace('/', '_').replace('+', '_')}"
    before = len(site.h1.traffic())
    s = h2_request(port_of(site, tls), tls, path, method="POST",
                   headers=[("content-type", ctype), ("te", "trailers")],
                   body=grpc_frame(b"hello"))
    assert s.status == 464, s
    assert [r.path for r in site.h1.traffic()[before:]] == [], "the request reached the target"


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_plain_http2_request_to_http1_group_is_forwarded(site, tls):
    path = f"/h1/plain-{'tls' if tls else 'h2c'}"
    s = h2_request(port_of(site, tls), tls, path)
    assert s.status == 200 and bytes(s.data) == b"target: h1\n", s
    assert [r.path for r in site.h1.traffic() if r.path == path] == [path]


@pytest.mark.parametrize("tls", TRANSPORTS)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_non_post_http2_request_to_grpc_group_is_464(site, tls, method):
    path = f"/g/{method.lower()}-{'tls' if tls else 'h2c'}"
    s = h2_request(port_of(site, tls), tls, path, method=method,
                   body=b"payload" if method == "PUT" else None)
    assert s.status == 464, s
    assert not site.main.find(path), "the request reached the target"


@pytest.mark.parametrize("tls", TRANSPORTS)
@pytest.mark.parametrize("ctype", ["application/json", "application/grpc"])
def test_post_http2_request_to_grpc_group_is_forwarded(site, tls, ctype):
    path = f"/g/post-{'tls' if tls else 'h2c'}-{ctype.split('/')[1]}"
    body = grpc_frame(b"hello") if ctype == "application/grpc" else b'{"a":1}'
    s = h2_request(port_of(site, tls), tls, path, method="POST", body=body,
                   headers=[("content-type", ctype), ("te", "trailers")])
    assert s.status == 200 and s.header("x-h2-target") == "main", s
    rec = s.json()
    assert (rec["method"], rec["path"]) == ("POST", path), rec
    assert (rec["body_len"], rec["body_sha256"]) == (len(body), sha(body)), rec
    assert hv(rec, "content-type") == [ctype], rec["headers"]


# ---- 6. gRPC with grpcio --------------------------------------------------------------------

@contextlib.contextmanager
def grpc_channel(site, tls: bool):
    opts = [("grpc.enable_http_proxy", 0), ("grpc.enable_retries", 0)]
    if tls:
        creds = grpc.ssl_channel_credentials(root_certificates=site.cert_pem)
        ch = grpc.secure_channel(f"{LOCAL}:{site.tls}", creds,
                                 options=opts + [("grpc.ssl_target_name_override", SNI)])
    else:
        ch = grpc.insecure_channel(f"{LOCAL}:{site.clear}", options=opts)
    try:
        yield ch
    finally:
        ch.close()


def method(name: str) -> str:
    return f"/{GRPC_SERVICE}/{name}"


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_grpc_unary(site, tls):
    tag = f"unary-{'tls' if tls else 'h2c'}".encode()
    with grpc_channel(site, tls) as ch:
        resp, call = ch.unary_unary(method("Unary")).with_call(
            tag, timeout=10, metadata=[("x-client-meta", "m1")])
    assert resp == b"echo:" + tag
    assert call.code() == grpc.StatusCode.OK
    assert ("x-initial", "i1") in tuple(call.initial_metadata()), call.initial_metadata()
    assert ("x-trailing", "t1") in tuple(call.trailing_metadata()), call.trailing_metadata()
    md = site.grpc.calls_of("Unary")[-1][1]
    assert md.get("x-client-meta") == "m1", md
    assert md.get("x-forwarded-for") == "127.0.0.1", md
    assert md.get("x-forwarded-proto") == ("https" if tls else "http"), md
    assert md.get("x-forwarded-port") == str(port_of(site, tls)), md
    assert (md.get("x-amzn-trace-id") or "").startswith("Root=1-"), md


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_grpc_server_streaming(site, tls):
    with grpc_channel(site, tls) as ch:
        got = list(ch.unary_stream(method("ServerStream"))(b"100", timeout=10))
    assert got == [b"msg-%d" % i for i in range(100)]


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_grpc_client_streaming(site, tls):
    msgs = [pattern(10_000, i) for i in range(50)]
    with grpc_channel(site, tls) as ch:
        resp = ch.stream_unary(method("ClientStream"))(iter(msgs), timeout=10)
    assert resp == b"%d %d %s" % (50, 500_000, sha(b"".join(msgs)).encode())


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_grpc_bidirectional_streaming_interleaves(site, tls):
    """The next message is sent only after the answer to the previous one arrived: nothing
    along the way may wait for the end of the request stream."""
    outbox: queue.Queue = queue.Queue()

    def requests():
        while True:
            m = outbox.get(timeout=10)
            if m is None:
                return
            yield m

    with grpc_channel(site, tls) as ch:
        call = ch.stream_stream(method("Bidi"))(requests(), timeout=15)
        answers = []
        for i in range(20):
            msg = b"ping-%02d" % i
            outbox.put(msg)
            answers.append(next(call))
            assert answers[-1] == msg[::-1], answers
        outbox.put(None)
        assert list(call) == []
        assert call.code() == grpc.StatusCode.OK


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_grpc_error_status_reaches_the_client(site, tls):
    with grpc_channel(site, tls) as ch:
        with pytest.raises(grpc.RpcError) as exc:
            ch.unary_unary(method("Fail"))(b"x", timeout=10)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND, exc.value
        assert exc.value.details() == "no such widget: 42", exc.value
        got = []
        with pytest.raises(grpc.RpcError) as exc2:
            for m in ch.unary_stream(method("StreamFail"))(b"x", timeout=10):
                got.append(m)
        assert got == [b"part-0", b"part-1", b"part-2"]
        assert exc2.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc2.value
        assert exc2.value.details() == "stopped after 3", exc2.value


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_grpc_deadline_reaches_the_server(site, tls):
    with grpc_channel(site, tls) as ch:
        resp = ch.unary_unary(method("Deadline"))(b"x", timeout=7.3)
    remaining = float(resp)
    # Without grpc-timeout the server sees no deadline (about 9.2e18 s); grpc-timeout is rounded
    # up a little when encoded, hence the margin above 7.3.
    assert 5.0 < remaining < 7.5, remaining
    md = site.grpc.calls_of("Deadline")[-1][1]
    # grpc-timeout is consumed by the server library; the remaining time shows it arrived.
    assert "grpc-timeout" not in md, md


# ---- 7. failures ----------------------------------------------------------------------------

@pytest.mark.parametrize("tls", TRANSPORTS)
def test_target_resetting_the_stream_is_502(site, tls):
    path = f"/fail/reset-{'tls' if tls else 'h2c'}?act=reset"
    t0 = time.monotonic()
    s = h2_request(port_of(site, tls), tls, path, timeout=8)
    assert s.status == 502, s
    assert s.header("server") == "awselb/2.0", s.headers
    assert time.monotonic() - t0 < 5
    assert site.fail.find(path), "the request never reached the target"


@pytest.mark.parametrize("tls", TRANSPORTS)
@pytest.mark.parametrize("upload", [False, True], ids=["get", "post-mid-body"])
def test_target_closing_the_connection_is_502(site, tls, upload):
    """The target closes its connection as soon as the request head arrives: for a GET the
    request is outstanding, for a POST of 512 KiB the body is still on its way."""
    path = f"/fail/close-{'tls' if tls else 'h2c'}-{upload}?act=close"
    t0 = time.monotonic()
    s = h2_request(port_of(site, tls), tls, path, timeout=8, method="POST" if upload else "GET",
                   body=pattern(MiB // 2, 5) if upload else None)
    assert s.status == 502, s
    assert s.header("server") == "awselb/2.0", s.headers
    assert time.monotonic() - t0 < 5
    assert site.fail.find(path), "the request never reached the target"
    # The group keeps working on a new connection.
    after = f"/fail/after-close-{'tls' if tls else 'h2c'}-{upload}"
    ok = h2_request(port_of(site, tls), tls, after)
    assert ok.status == 200, ok


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_answer_then_goaway_and_close_arrives_whole(site, tls):
    """The target answers, then sends GOAWAY and closes its connection in the same write, as
    a server shutting down does: the response, its body and trailers, still reach the client.
    (Found by a reload that removed a target mid-stream: the connection closed with the last
    response unread, and the exchange saw a reset.)"""
    for i in range(3):
        path = f"/h2/goaway/{'tls' if tls else 'h2c'}/{i}?act=goaway&size=20000&seed={i}&trailers=1"
        s = h2_request(port_of(site, tls), tls, path, timeout=8)
        assert s.status == 200 and s.ended and s.reset is None, s
        assert bytes(s.data) == pattern(20000, i), len(s.data)
        assert dict(s.trailers).get("x-trailer") == "last", s


def test_refused_connection_is_502(site):
    t0 = time.monotonic()
    s = h2_request(site.tls, True, "/refused/x", timeout=8)
    assert s.status == 502, s
    assert s.header("server") == "awselb/2.0", s.headers
    assert time.monotonic() - t0 < 5


def test_target_that_never_answers_is_504_at_the_idle_timeout(site):
    t0 = time.monotonic()
    s = h2_request(site.short, True, "/fail/hang?act=hang", timeout=8)
    elapsed = time.monotonic() - t0
    assert s.status == 504, s
    assert s.header("server") == "awselb/2.0", s.headers
    assert 0.8 <= elapsed <= 5, elapsed
    assert site.fail.find("/fail/hang"), "the request never reached the target"


# ---- 8. access logs -------------------------------------------------------------------------

def log_fields(line: str) -> list[str]:
    """Space-separated access-log fields, a double-quoted one kept whole."""
    out, cur, quoted = [], "", False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == " " and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def test_access_log_types_h2_and_grpcs(site, sluice, tmp_path):
    logs = tmp_path / "logs"
    port = free_port()
    rules = [rule(1, [path_is(f"/{GRPC_SERVICE}/*")], forward("grpc")),
             rule(2, [path_is("/h2/*")], forward("h2"))]
    cfg = {"Certificates": site.config["Certificates"],
           "Account": {"Id": "123456789012", "Region": "eu-west-3"},
           "LoadBalancers": [{"Name": "logged", "Attributes": {
               "access_logs.s3.enabled": True, "sluice.access_logs.directory": str(logs)},
               "Listeners": lb_listeners(port, None, rules, fixed("404", "no rule"))}],
           "TargetGroups": [h2_group("h2", [site.main.port]),
                            h2_group("grpc", [site.grpc.port], "GRPC")]}
    lb = sluice(cfg)
    s = h2_request(port, True, "/h2/logged?x=1")
    assert s.status == 200, s
    creds = grpc.ssl_channel_credentials(root_certificates=site.cert_pem)
    with grpc.secure_channel(f"{LOCAL}:{port}", creds, options=[
            ("grpc.enable_http_proxy", 0), ("grpc.ssl_target_name_override", SNI)]) as ch:
        assert ch.unary_unary(method("Unary"))(b"logged", timeout=10) == b"echo:logged"
    lb.proc.signal(signal.SIGTERM)
    assert lb.proc.popen.wait(15) == 0
    rows = []
    for f in sorted(logs.rglob("*.log.gz")):
        with gzip.open(f, "rt", encoding="ascii") as fh:
            rows.extend(log_fields(line) for line in fh.read().splitlines())
    by_path = {}
    for f in rows:
        target = f[12].strip('"').split(" ")[1]
        by_path[urllib.parse.urlsplit(target).path] = f
    assert set(by_path) == {"/h2/logged", f"/{GRPC_SERVICE}/Unary"}, [f[12] for f in rows]
    web, rpc = by_path["/h2/logged"], by_path[f"/{GRPC_SERVICE}/Unary"]
    assert web[0] == "h2", web
    assert web[12] == f'"GET https://{SNI}:{port}/h2/logged?x=1 HTTP/2.0"', web[12]
    assert (web[8], web[9], web[4]) == ("200", "200", f"{LOCAL}:{site.main.port}"), web
    assert rpc[0] == "grpcs", rpc
    assert rpc[12].startswith('"POST https://') and rpc[12].endswith(
        f':{port}/{GRPC_SERVICE}/Unary HTTP/2.0"'), rpc[12]
    assert (rpc[8], rpc[9], rpc[4]) == ("200", "200", f"{LOCAL}:{site.grpc.port}"), rpc


# ---- 9. HTTPS target groups of version HTTP2 ------------------------------------------------

@pytest.mark.parametrize("tls", TRANSPORTS)
def test_https_group_speaks_h2_to_a_tls_target(site, tls):
    path = f"/tlsh2/x-{'tls' if tls else 'h2c'}?trailers=1&q=1"
    s = h2_request(port_of(site, tls), tls, path)
    assert s.status == 200 and s.ended and s.header("x-h2-target") == "tls-h2", s
    rec = s.json()
    assert (rec["method"], rec["path"]) == ("GET", path), rec
    assert hv(rec, "x-forwarded-proto") == ["https" if tls else "http"], rec["headers"]
    assert dict(s.trailers).get("x-trailer") == "last", s
    assert "h2" in site.tls_h2.alpn and not site.tls_h2.h1_requests, (site.tls_h2.alpn,
                                                                       site.tls_h2.h1_requests)


def test_https_group_to_a_target_without_h2_is_502(site):
    t0 = time.monotonic()
    s = h2_request(site.tls, True, "/tlsh11/x", timeout=8)
    assert s.status == 502, (s, site.tls_h11.alpn, site.tls_h11.h1_requests)
    assert time.monotonic() - t0 < 5
    t = site.tls_h11
    # The target's side of the handshake may finish after Sluice has answered; a handshake that
    # Sluice aborts (no_application_protocol) is fine too.
    wait_until(lambda: t.alpn or t.errors, 5, what="a TLS connection at the target")
    # Each completed handshake has its record once the target's read ends (Sluice closes).
    wait_until(lambda: len(t.h1_requests) >= len(t.alpn), 7, what="the target's read to end")
    assert "h2" not in t.alpn and not t.records, (t.alpn, t.records)
    # Without h2 selected by ALPN nothing is sent: neither an HTTP/1.1 request (a fallback) nor
    # an HTTP/2 preface (RFC 9113 §3.2: h2 over TLS only when ALPN chose it).
    assert all(b == b"" for b in t.h1_requests), (t.h1_requests, t.errors)
