"""HTTP/2 from clients on HTTPS listeners (reference §4.1, §5.2), end to end: the real binary,
real clients (curl --http2, nghttp, h2load; python-h2, or raw hyperframe/hpack frames, over TLS
sockets for the frame-level cases) and real HTTP/1.1 targets (an in-module echo target that
reports exactly what it received).

Covered:
  - ALPN: h2 chosen when offered and routing.http2.enabled (default); with it false the client
    gets http/1.1 (or no ALPN when it offered only h2) and is served over HTTP/1.1
  - the translation to HTTP/1.1: :authority → Host, cookie fields joined with "; ", names
    lower-case as received, X-Forwarded-For/Proto/Port and X-Amzn-Trace-Id added, a body with
    content-length keeps it, one without is sent chunked; the response comes back lower-case
    without connection-specific fields
  - rules (path, host, header), fixed-response, redirect, lb_cookie stickiness, 503 for a
    group without targets, as over HTTP/1.1
  - 100 concurrent streams on one connection; h2load, nghttp and curl
  - SETTINGS (128 streams, 65535 window, 65536 header list) and their enforcement, GOAWAY
    after 10,000 requests, oversized header field / header block (RST + GOAWAY
    ENHANCE_YOUR_CALM), CONTINUATION frames (8 served, more closed), rapid reset, PING and
    SETTINGS floods (each stopped while other clients keep being served), the idle timeout
    despite PINGs, a stalled upload (408)
  - flow control: a large response to a client with a small, slowly opened window, a large
    upload, a stream cancelled mid-response beside streams that complete
  - SIGTERM: GOAWAY, and the in-flight response still completes
  - access-log entries of type h2 with "HTTP/2.0"
  - interim responses: a target's 103 Early Hints reaches HTTP/2 clients as a non-final HEADERS
    frame and HTTP/1.1 clients as a 103 head, both with its Link fields and without its
    connection's; an HTTP/2 client's Expect: 100-continue gets the target's 100 before it
    sends the body; a flood of 5,000 interim heads reaches either client as 4

Each test here once failed against a real bug or guards a behaviour; none is expected to fail.

Run with Debian's /usr/bin/python3 (it has h2, hyperframe and hpack).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client as httpclient
import json
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

from conftest import (LOCAL, HttpConn, fixed, forward, free_port, header_is, host_is,
                      launch_sluice, path_is, rule, run_curl, target_group, wait_until)

h2 = pytest.importorskip("h2")
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.errors  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402
import hpack  # noqa: E402
import hyperframe.frame as hf  # noqa: E402

ENHANCE_YOUR_CALM = 0xB
SNI = "h2.test"


# ---- certificates ---------------------------------------------------------------------------

def make_cert(d, name: str, sans) -> tuple:
    crt, key = d / f"{name}.crt", d / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-subj", f"/CN={sans[0]}", "-days", "30",
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{s}" for s in sans)],
                   check=True, capture_output=True, timeout=60)
    return crt, key


def cert_entry(name, crt, key) -> dict:
    return {"Name": name, "CertificateFile": str(crt), "PrivateKeyFile": str(key)}


def https_listener(port: int, action: dict, rules=(), cert: str = "h2") -> dict:
    listener = {"Protocol": "HTTPS", "Port": port, "BindAddress": LOCAL, "Certificates": [cert],
                "DefaultActions": [action]}
    if rules:
        listener["Rules"] = list(rules)
    return listener


def distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


# ---- the target: an HTTP/1.1 echo server that reports what it received ----------------------

_PATTERNS: dict = {}


def pattern(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes (a misplaced or repeated piece shows)."""
    key = (size, seed)
    if key not in _PATTERNS:
        _PATTERNS[key] = random.Random(seed).randbytes(size)
    return _PATTERNS[key]


class EchoTarget:
    """A threaded HTTP/1.1 target on 127.0.0.1 (keep-alive, Content-Length and chunked request
    bodies). Every request is recorded as a dict: method, target, version, headers [(name,
    value)] exactly as received, framing (content-length / chunked / none), body_len,
    body_sha256. Responses, by path and query:
      /health                     200 "ok"
      ?size=N&seed=S              N pattern bytes (Content-Length; chunked=1: chunked)
      ?delay_ms=N                 wait N ms first (then as below)
      ?hints=1                    a 103 Early Hints head first (Link, a field its Connection
                                  names, Content-Length: 0)
      ?interims=N                 N "100 Continue" heads first
      anything else               200 JSON of the record, plus X-Echo-Target, a mixed-case
                                  field, Connection/Keep-Alive (chunked=1: chunked framing;
                                  hop=1: Connection also names X-Hop-Secret, which is sent)
    A request with "Expect: 100-continue" gets a 100 Continue before its body is read.
    """

    def __init__(self, name: str):
        self.name = name
        self.records: list[dict] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOCAL, 0))
        self.listener.listen(256)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"echo-{name}")
        self._thread.start()

    def stop(self):
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(5)

    def find(self, path_prefix: str) -> list[dict]:
        with self._lock:
            return [r for r in self.records if r["target"].startswith(path_prefix)]

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    class _Reader:
        def __init__(self, conn):
            self.conn, self.buf = conn, b""

        def fill(self):
            data = self.conn.recv(262144)
            if not data:
                raise EOFError
            self.buf += data

        def line(self) -> bytes:
            while b"\r\n" not in self.buf:
                self.fill()
            i = self.buf.index(b"\r\n")
            out, self.buf = self.buf[:i], self.buf[i + 2:]
            return out

        def exact(self, n: int) -> bytes:
            while len(self.buf) < n:
                self.fill()
            out, self.buf = self.buf[:n], self.buf[n:]
            return out

    def _serve(self, conn):
        r = self._Reader(conn)
        conn.settimeout(60)
        try:
            while not self._stop.is_set():
                first = r.line()
                while first == b"":
                    first = r.line()
                method, target, version = first.decode("latin-1").split(" ", 2)
                headers = []
                while True:
                    line = r.line()
                    if line == b"":
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers.append((name, value.strip()))
                lower = {k.lower(): v for k, v in headers}
                if lower.get("expect", "").lower() == "100-continue":
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                digest, body_len = hashlib.sha256(), 0
                if "chunked" in lower.get("transfer-encoding", "").lower():
                    framing = "chunked"
                    while True:
                        size = int(r.line().split(b";")[0], 16)
                        if size == 0:
                            while r.line() != b"":
                                pass
                            break
                        piece = r.exact(size)
                        digest.update(piece)
                        body_len += size
                        r.exact(2)
                elif "content-length" in lower:
                    framing = "content-length"
                    need = int(lower["content-length"])
                    while need:
                        if not r.buf:
                            r.fill()
                        piece, r.buf = r.buf[:need], r.buf[need:]
                        digest.update(piece)
                        body_len += len(piece)
                        need -= len(piece)
                else:
                    framing = "none"
                rec = {"method": method, "target": target, "version": version,
                       "headers": headers, "framing": framing, "body_len": body_len,
                       "body_sha256": digest.hexdigest(), "target_name": self.name}
                with self._lock:
                    self.records.append(rec)
                self._respond(conn, rec)
                if lower.get("connection", "").lower() == "close":
                    return
        except (EOFError, OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _respond(self, conn, rec):
        split = urllib.parse.urlsplit(rec["target"])
        q = {k: v[0] for k, v in urllib.parse.parse_qs(split.query).items()}
        if "delay_ms" in q and self._stop.wait(int(q["delay_ms"]) / 1000.0):
            return
        chunked = q.get("chunked") == "1"
        interim = b"HTTP/1.1 100 Continue\r\n\r\n" * int(q.get("interims", "0"))
        if q.get("hints") == "1":
            interim += (b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n"
                        b"Connection: X-Hint-Hop\r\nX-Hint-Hop: secret\r\nContent-Length: 0\r\n"
                        b"Link: </app.js>; rel=preload\r\n\r\n")
        if interim:
            conn.sendall(interim)
        head = ["HTTP/1.1 200 OK", f"X-Echo-Target: {self.name}"]
        if split.path == "/health":
            body, ctype = b"ok\n", "text/plain"
        elif "size" in q:
            body = pattern(int(q["size"]), int(q.get("seed", "0")))
            ctype = "application/octet-stream"
        else:
            body, ctype = json.dumps(rec).encode(), "application/json"
            head += ["X-Mixed-Case-Field: Mixed Value", "Keep-Alive: timeout=30"]
            if q.get("hop") == "1":
                head += ["Connection: keep-alive, X-Hop-Secret", "X-Hop-Secret: per-connection"]
            else:
                head += ["Connection: keep-alive"]
        head.append(f"Content-Type: {ctype}")
        if rec["method"] == "HEAD":
            head.append(f"Content-Length: {len(body)}")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            return
        if chunked:
            head.append("Transfer-Encoding: chunked")
            out = ("\r\n".join(head) + "\r\n\r\n").encode()
            step = 100_000
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                out += b"%x\r\n%s\r\n" % (len(piece), piece)
            conn.sendall(out + b"0\r\n\r\n")
        else:
            head.append(f"Content-Length: {len(body)}")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def header_values(rec: dict, name: str) -> list[str]:
    return [v for k, v in rec["headers"] if k.lower() == name.lower()]


# ---- an HTTP/2 client over an ssl socket (python-h2) ----------------------------------------

def tls_ctx(alpn=("h2",)) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class Stream:
    def __init__(self):
        self.headers: list = []
        self.interims: list = []  # the headers of each interim (1xx) response, in order
        self.data = bytearray()
        self.ended = False
        self.reset = None  # error code of a RST_STREAM from the server

    @property
    def status(self):
        for k, v in self.headers:
            if k == ":status":
                return int(v)
        return None

    def header(self, name):
        vals = [v for k, v in self.headers if k == name]
        return vals[0] if vals else None

    def json(self):
        return json.loads(bytes(self.data))

    def __repr__(self):
        return (f"<Stream status={self.status} ended={self.ended} reset={self.reset} "
                f"data={bytes(self.data[:200])!r}>")


class H2Client:
    """One HTTP/2 connection. pump() reads what arrives and feeds python-h2; until() pumps until
    a predicate holds (bounded). Flow-control credit is given back at once unless
    auto_ack=False (then ack() gives it back)."""

    def __init__(self, port: int, sni: str = SNI, settings: dict | None = None,
                 auto_ack: bool = True, timeout: float = 5.0):
        raw = socket.create_connection((LOCAL, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls_ctx().wrap_socket(raw, server_hostname=sni)
        assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.auto_ack = auto_ack
        self.streams: dict[int, Stream] = {}
        self.goaway = None          # (error_code, last_stream_id)
        self.closed = False         # the server closed the connection
        self.server_settings: dict = {}
        self.settings_acked = 0
        self.ping_acks = 0
        self.unacked: dict[int, int] = {}
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
        """Reads once (waiting up to `wait`); False when nothing arrived."""
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
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            raise
        for ev in events:
            self._on(ev)
        self.flush()
        return True

    def _on(self, ev):
        if isinstance(ev, h2.events.InformationalResponseReceived):
            self.streams.setdefault(ev.stream_id, Stream()).interims.append(list(ev.headers))
        elif isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
            self.streams.setdefault(ev.stream_id, Stream()).headers.extend(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            self.streams.setdefault(ev.stream_id, Stream()).data += ev.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            else:
                self.unacked[ev.stream_id] = (self.unacked.get(ev.stream_id, 0)
                                              + ev.flow_controlled_length)
        elif isinstance(ev, h2.events.StreamEnded):
            self.streams.setdefault(ev.stream_id, Stream()).ended = True
        elif isinstance(ev, h2.events.StreamReset):
            self.streams.setdefault(ev.stream_id, Stream()).reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id)
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.server_settings[int(k)] = v.new_value
        elif isinstance(ev, h2.events.SettingsAcknowledged):
            self.settings_acked += 1
        elif isinstance(ev, h2.events.PingAckReceived):
            self.ping_acks += 1

    def ack(self, stream_id: int, limit: int | None = None):
        """Gives back (up to `limit` bytes of) the credit held for `stream_id`."""
        n = self.unacked.get(stream_id, 0)
        if limit is not None:
            n = min(n, limit)
        if n:
            self.unacked[stream_id] -= n
            self.conn.acknowledge_received_data(n, stream_id)
            self.flush()

    def until(self, pred, timeout: float = 5.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"goaway={self.goaway} closed={self.closed}")
            if self.closed:
                value = pred()
                if value:
                    return value
                raise AssertionError(f"connection closed while waiting for {what}; "
                                     f"goaway={self.goaway}")
            self.pump(min(0.05, max(0.001, deadline - time.monotonic())))

    def start(self, path: str = "/", method: str = "GET", headers=(), authority: str = SNI,
              end_stream: bool = True) -> int:
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https"), (":authority", authority),
                (":path", path), *headers]
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        self.streams[sid] = Stream()
        self.flush()
        return sid

    def send_body(self, sid: int, body: bytes, end_stream: bool = True, timeout: float = 10.0):
        """Sends `body` as the server's flow control allows."""
        view, off = memoryview(body), 0
        deadline = time.monotonic() + timeout
        while off < len(body):
            window = min(self.conn.local_flow_control_window(sid),
                         self.conn.max_outbound_frame_size, len(body) - off)
            if window <= 0:
                assert time.monotonic() < deadline, "the server's window never reopened"
                self.pump(0.05)
                assert not self.closed, f"closed during the upload (goaway={self.goaway})"
                continue
            self.conn.send_data(sid, bytes(view[off:off + window]))
            off += window
            self.flush()
        if end_stream:
            self.conn.end_stream(sid)
            self.flush()

    def done(self, sid: int) -> bool:
        s = self.streams.get(sid)
        return s is not None and (s.ended or s.reset is not None)

    def wait(self, sid: int, timeout: float = 5.0) -> Stream:
        self.until(lambda: self.done(sid), timeout, what=f"stream {sid}")
        return self.streams[sid]

    def get(self, path: str = "/", timeout: float = 5.0, **kw) -> Stream:
        return self.wait(self.start(path, **kw), timeout)


def h2_get(port: int, path: str = "/", **kw) -> Stream:
    with H2Client(port) as c:
        return c.get(path, **kw)


def still_serving(port: int, n: int = 3):
    """A fresh HTTP/2 connection on `port` gets n 200s from the echo target."""
    with H2Client(port) as c:
        for i in range(n):
            s = c.get(f"/bystander/{i}")
            assert s.status == 200 and s.ended, s
            assert s.json()["target"] == f"/bystander/{i}"


def curl_h2(url_path: str, port: int, *extra, host: str = SNI) -> subprocess.CompletedProcess:
    return run_curl(["-k", "--http2", "--resolve", f"{host}:{port}:{LOCAL}", "-o", "-",
                     "-w", "\n%{http_version} %{http_code}", *extra,
                     f"https://{host}:{port}{url_path}"], timeout=20)


# ---- a raw frame client (hyperframe + hpack), for frames python-h2 would not send -----------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class RawH2:
    """Sends frames as built; parses what arrives into hyperframe frames (HEADERS blocks
    decoded into .headers). SETTINGS from the server are acknowledged; the client's windows
    are opened to 1 GiB at the start (no WINDOW_UPDATE needed later). Unlike python-h2 it
    keeps reading streams after a GOAWAY."""

    def __init__(self, port: int, timeout: float = 5.0):
        raw = socket.create_connection((LOCAL, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls_ctx().wrap_socket(raw, server_hostname=SNI)
        assert self.sock.selected_alpn_protocol() == "h2"
        self.enc, self.dec = hpack.Encoder(), hpack.Decoder()
        self.buf = b""
        self.frames: list = []
        self.eof = False
        self.next_id = 1
        self.status_of: dict[int, str] = {}
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}
        self.data_of: dict[int, bytearray] = {}
        self.send_bytes(PREFACE + hf.SettingsFrame(0, settings={
            hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 30}).serialize()
            + hf.WindowUpdateFrame(0, window_increment=(1 << 30) - 65535).serialize())

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_bytes(self, data: bytes):
        self.sock.sendall(data)

    def send(self, *frames):
        self.send_bytes(b"".join(f.serialize() for f in frames))

    def block(self, path: str, extra=()) -> bytes:
        return self.enc.encode([(":method", "GET"), (":scheme", "https"), (":authority", SNI),
                                (":path", path), *extra])

    def stream_id(self) -> int:
        sid, self.next_id = self.next_id, self.next_id + 2
        return sid

    def pump(self, wait: float = 0.05) -> bool:
        if self.eof:
            return False
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        while len(self.buf) >= 9:
            frame, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                break
            frame.parse_body(memoryview(self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]
            if isinstance(frame, (hf.HeadersFrame, hf.ContinuationFrame)):
                frame.headers = None
                if "END_HEADERS" in frame.flags:
                    frame.headers = self.dec.decode(frame.data, raw=False)
                    status = dict(frame.headers).get(":status")
                    if status and frame.stream_id not in self.status_of:
                        self.status_of[frame.stream_id] = status
            if isinstance(frame, hf.DataFrame):
                self.data_of.setdefault(frame.stream_id, bytearray()).extend(frame.data)
            if isinstance(frame, (hf.HeadersFrame, hf.DataFrame)) and "END_STREAM" in frame.flags:
                self.ended.add(frame.stream_id)
            if isinstance(frame, hf.RstStreamFrame):
                self.resets[frame.stream_id] = frame.error_code
            if isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags:
                with contextlib.suppress(OSError):
                    self.send(hf.SettingsFrame(0, flags=["ACK"]))
            self.frames.append(frame)
        return True

    def until(self, pred, timeout: float = 5.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if self.eof or time.monotonic() >= deadline:
                raise AssertionError(f"{'closed' if self.eof else 'timed out'} waiting for "
                                     f"{what}; frames: {self.summary()}")
            self.pump(0.05)

    def wait_eof(self, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while not self.eof:
            assert time.monotonic() < deadline, (f"still open after {timeout}s; frames: "
                                                 f"{self.summary()}")
            self.pump(0.05)

    def of(self, kind, stream_id=None) -> list:
        return [f for f in self.frames if isinstance(f, kind)
                and (stream_id is None or f.stream_id == stream_id)]

    def goaways(self) -> list:
        return [(f.error_code, f.last_stream_id) for f in self.of(hf.GoAwayFrame)]

    def status(self, stream_id):
        return self.status_of.get(stream_id)

    def request(self, path: str, extra=()) -> int:
        sid = self.stream_id()
        self.send_bytes(headers_in_frames(sid, self.block(path, extra), 0))
        return sid

    def summary(self) -> str:
        kinds = {}
        for f in self.frames:
            kinds[type(f).__name__] = kinds.get(type(f).__name__, 0) + 1
        return f"{kinds} goaway={self.goaways()} eof={self.eof}"


def split_block(block: bytes, n: int) -> list[bytes]:
    """`block` in n non-empty pieces."""
    assert len(block) >= n, (len(block), n)
    cuts = [len(block) * i // n for i in range(n + 1)]
    return [block[cuts[i]:cuts[i + 1]] for i in range(n)]


def headers_in_frames(sid: int, block: bytes, continuations: int) -> bytes:
    """A request header block (END_STREAM) in HEADERS and `continuations` CONTINUATIONs."""
    pieces = split_block(block, continuations + 1)
    frames = [hf.HeadersFrame(sid, data=pieces[0],
                              flags=["END_STREAM"] + ([] if continuations else ["END_HEADERS"]))]
    for i, piece in enumerate(pieces[1:], 1):
        frames.append(hf.ContinuationFrame(
            sid, data=piece, flags=["END_HEADERS"] if i == continuations else []))
    return b"".join(f.serialize() for f in frames)


class BioH2:
    """HTTP/2 bytes over TLS done in memory (ssl.MemoryBIO) on a non-blocking TCP socket: the
    client can keep writing without ever reading, and no partial write corrupts a record."""

    def __init__(self, port: int):
        self.raw = socket.create_connection((LOCAL, port), timeout=5)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = tls_ctx().wrap_bio(self.inc, self.out, server_hostname=SNI)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.raw.sendall(self.out.read())
                data = self.raw.recv(65536)
                assert data, "closed during the handshake"
                self.inc.write(data)
        self.raw.sendall(self.out.read())
        assert self.tls.selected_alpn_protocol() == "h2"
        self.raw.setblocking(False)
        self.pending = bytearray()
        self.closed = False   # the server closed or reset the connection
        self.plain = bytearray()
        self.queue(PREFACE + hf.SettingsFrame(0).serialize())

    def close(self):
        with contextlib.suppress(OSError):
            self.raw.close()

    def queue(self, plaintext: bytes):
        self.tls.write(plaintext)
        self.pending += self.out.read()

    def push(self) -> int:
        """Writes what the socket takes now; returns the byte count."""
        sent = 0
        while self.pending and not self.closed:
            try:
                n = self.raw.send(self.pending[:262144])
            except BlockingIOError:
                break
            except OSError:
                self.closed = True
                break
            del self.pending[:n]
            sent += n
        return sent

    def read(self, wait: float = 0.05) -> int:
        """Reads and decrypts what arrived (waiting up to `wait`); returns plaintext bytes."""
        before = len(self.plain)
        if not self.closed and select.select([self.raw], [], [], wait)[0]:
            try:
                data = self.raw.recv(1 << 20)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                self.closed = True
            elif data:
                self.inc.write(data)
        while True:
            try:
                chunk = self.tls.read(1 << 20)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            except ssl.SSLError:
                self.closed = True
                break
            if not chunk:
                break
            self.plain += chunk
        return len(self.plain) - before

    def frames(self) -> list:
        out, buf, off = [], bytes(self.plain), 0
        while len(buf) - off >= 9:
            frame, length = hf.Frame.parse_frame_header(memoryview(buf[off:off + 9]))
            if len(buf) - off < 9 + length:
                break
            frame.parse_body(memoryview(buf[off + 9:off + 9 + length]))
            out.append(frame)
            off += 9 + length
        return out


# ---- one shared Sluice ----------------------------------------------------------------------

class Site:
    pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """main: HTTP/2 on (default), rules to targets a/b, fixed-response, redirect, stickiness, an
    empty group; noh2: routing.http2.enabled false; idle: idle timeout 1 s."""
    d = tmp_path_factory.mktemp("h2-site")
    st = Site()
    st.dir = d
    st.cert = make_cert(d, "h2", [SNI, "api.h2.test", "*.h2.test"])
    st.a, st.b = EchoTarget("a"), EchoTarget("b")
    st.main, st.noh2, st.idle = distinct_ports(3)
    rules = [
        rule(1, [path_is("/fixed")], fixed("418", "short and stout")),
        rule(2, [path_is("/redirect/*")], {"Type": "redirect", "RedirectConfig": {
            "Host": "elsewhere.test", "Path": "/moved", "StatusCode": "HTTP_301"}}),
        rule(3, [host_is("api.h2.test")], forward("b")),
        rule(4, [header_is("x-route", "beta")], forward("b")),
        rule(5, [path_is("/sticky/*")], forward("sticky")),
        rule(6, [path_is("/empty/*")], forward("empty")),
    ]
    cfg = {
        "Certificates": [cert_entry("h2", *st.cert)],
        "LoadBalancers": [
            {"Name": "main", "Listeners": [https_listener(st.main, forward("a"), rules)]},
            {"Name": "noh2", "Attributes": {"routing.http2.enabled": False},
             "Listeners": [https_listener(st.noh2, forward("a-noh2"))]},
            {"Name": "idle", "Attributes": {"idle_timeout.timeout_seconds": 1},
             "Listeners": [https_listener(st.idle, forward("a-idle"))]},
        ],
        # A group serves one load balancer (TargetGroupAssociationLimit): each has its own
        # group of the same target.
        "TargetGroups": [
            target_group("a", [st.a.port]),
            target_group("a-noh2", [st.a.port]),
            target_group("a-idle", [st.a.port]),
            target_group("b", [st.b.port]),
            target_group("sticky", [st.a.port, st.b.port], algorithm="round_robin",
                         attributes={"stickiness.enabled": "true",
                                     "stickiness.type": "lb_cookie"}),
            target_group("empty", []),
        ],
    }
    try:
        st.sluice = launch_sluice(d, cfg, workers=2)
    except BaseException:
        st.a.stop()
        st.b.stop()
        raise
    yield st
    st.sluice.proc.stop(timeout=10)
    st.a.stop()
    st.b.stop()



def https11(port: int, path: str, headers: dict | None = None, method: str = "GET",
            host: str = SNI) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 request over TLS (ALPN http/1.1): (status, {lower name: value}, body)."""
    c = httpclient.HTTPSConnection(LOCAL, port, context=tls_ctx(("http/1.1",)), timeout=5)
    try:
        c.request(method, path, headers={"Host": host, **(headers or {})})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


# ---- ALPN -----------------------------------------------------------------------------------

def test_curl_negotiates_http2_and_is_served(site):
    res = curl_h2("/curl/ok?q=1", site.main)
    assert res.returncode == 0, res.stderr
    body, _, tail = res.stdout.rpartition(b"\n")
    assert tail == b"2 200", (tail, res.stderr)
    doc = json.loads(body)
    assert (doc["method"], doc["target"], doc["version"]) == ("GET", "/curl/ok?q=1", "HTTP/1.1")
    assert doc["target_name"] == "a"


@pytest.mark.parametrize("offer,chosen", [(["h2", "http/1.1"], "h2"), (["http/1.1", "h2"], "h2"),
                                          (["h2"], "h2"), (["http/1.1"], "http/1.1")])
def test_alpn_offers_h2_when_enabled(site, offer, chosen):
    raw = socket.create_connection((LOCAL, site.main), timeout=5)
    with tls_ctx(offer).wrap_socket(raw, server_hostname=SNI) as s:
        assert s.selected_alpn_protocol() == chosen


@pytest.mark.parametrize("offer,chosen", [(["h2", "http/1.1"], "http/1.1"), (["h2"], None)])
def test_alpn_without_h2_when_http2_disabled(site, offer, chosen):
    raw = socket.create_connection((LOCAL, site.noh2), timeout=5)
    with tls_ctx(offer).wrap_socket(raw, server_hostname=SNI) as s:
        assert s.selected_alpn_protocol() == chosen
        # Whatever was (not) chosen, the connection speaks HTTP/1.1.
        s.sendall(f"GET /noh2/raw HTTP/1.1\r\nHost: {SNI}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 "), data[:200]


def test_curl_falls_back_to_http11_when_http2_disabled(site):
    res = curl_h2("/noh2/curl", site.noh2)
    assert res.returncode == 0, res.stderr
    body, _, tail = res.stdout.rpartition(b"\n")
    assert tail == b"1.1 200", (tail, res.stderr)
    assert json.loads(body)["target"] == "/noh2/curl"


def test_server_settings(site):
    with H2Client(site.main) as c:
        c.until(lambda: c.server_settings and c.settings_acked, what="server SETTINGS and ack")
        s = h2.settings.SettingCodes
        assert c.server_settings.get(s.MAX_CONCURRENT_STREAMS) == 128, c.server_settings
        assert c.server_settings.get(s.INITIAL_WINDOW_SIZE) == 65535, c.server_settings
        assert c.server_settings.get(s.MAX_HEADER_LIST_SIZE) == 65536, c.server_settings
        assert not c.server_settings.get(s.ENABLE_PUSH), c.server_settings  # servers never push


# ---- the request as the target sees it ------------------------------------------------------

def test_request_becomes_http11_with_forwarded_headers(site):
    with H2Client(site.main) as c:
        s = c.get("/xlate/one?a=1&b=two", headers=[
            ("cookie", "a=1"), ("user-agent", "h2-test/1"), ("cookie", "b=2"),
            ("x-custom-field", "Some Value"), ("cookie", "c=3"),
            ("x-forwarded-for", "203.0.113.9")])
    assert s.status == 200 and s.ended, s
    doc = s.json()
    assert (doc["method"], doc["target"], doc["version"]) == ("GET", "/xlate/one?a=1&b=two",
                                                              "HTTP/1.1")
    names = [k for k, _ in doc["headers"]]
    hv = lambda n: header_values(doc, n)  # noqa: E731
    # :authority is the Host (the listener port added, as for HTTP/1.1 on a non-443 port).
    assert hv("host") == [f"{SNI}:{site.main}"] and "Host" in names, doc["headers"]
    assert hv("cookie") == ["a=1; b=2; c=3"], doc["headers"]
    # Other names stay lower-case as received; the load balancer's own fields are re-cased.
    assert "x-custom-field" in names and "user-agent" in names, names
    assert hv("x-custom-field") == ["Some Value"] and hv("user-agent") == ["h2-test/1"]
    for name in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"):
        assert name in names, (name, names)
    assert hv("x-forwarded-for") == ["203.0.113.9, 127.0.0.1"], doc["headers"]
    assert hv("x-forwarded-proto") == ["https"]
    assert hv("x-forwarded-port") == [str(site.main)]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", hv("x-amzn-trace-id")[0])
    # No pseudo-header leaks, no body framing on a GET, nothing that would end keep-alive.
    assert not [n for n in names if n.startswith(":")], names
    assert doc["framing"] == "none" and not hv("content-length") and not hv("transfer-encoding")
    assert [v.lower() for v in hv("connection")] in ([], ["keep-alive"]), doc["headers"]


def test_trace_ids_differ_per_stream(site):
    with H2Client(site.main) as c:
        sids = [c.start(f"/trace/{i}") for i in range(5)]
        docs = [c.wait(sid).json() for sid in sids]
    ids = [header_values(d, "x-amzn-trace-id")[0] for d in docs]
    assert len(set(ids)) == 5, ids


@pytest.mark.parametrize("size", [5, 300_000])
def test_body_with_content_length_keeps_it(site, size):
    body = pattern(size, 7)
    with H2Client(site.main) as c:
        sid = c.start("/upload/cl", method="POST", end_stream=False,
                      headers=[("content-length", str(size)),
                               ("content-type", "application/x-test")])
        c.send_body(sid, body)
        s = c.wait(sid, 10)
    assert s.status == 200, s
    doc = s.json()
    assert doc["framing"] == "content-length", doc
    assert header_values(doc, "content-length") == [str(size)] and not header_values(
        doc, "transfer-encoding"), doc["headers"]
    assert (doc["body_len"], doc["body_sha256"]) == (size, hashlib.sha256(body).hexdigest())


def test_body_without_content_length_is_sent_chunked(site):
    body = pattern(200_000, 8)
    with H2Client(site.main) as c:
        sid = c.start("/upload/chunked", method="PUT", end_stream=False)
        for i in range(0, len(body), 50_000):  # several DATA frames, the last without data
            c.send_body(sid, body[i:i + 50_000], end_stream=False)
        c.conn.end_stream(sid)
        c.flush()
        s = c.wait(sid, 10)
    assert s.status == 200, s
    doc = s.json()
    assert doc["method"] == "PUT" and doc["framing"] == "chunked", doc
    assert [v.lower() for v in header_values(doc, "transfer-encoding")] == ["chunked"]
    assert not header_values(doc, "content-length"), doc["headers"]
    assert (doc["body_len"], doc["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


def test_empty_post_without_body(site):
    """HEADERS with END_STREAM on a POST: no body, no chunked framing."""
    with H2Client(site.main) as c:
        s = c.get("/upload/empty", method="POST")
    doc = s.json()
    assert s.status == 200 and doc["method"] == "POST" and doc["body_len"] == 0, doc
    assert not header_values(doc, "transfer-encoding"), doc["headers"]


# ---- the response as the client sees it -----------------------------------------------------

CONNECTION_SPECIFIC = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                       "upgrade"}


@pytest.mark.parametrize("chunked", [False, True])
def test_response_is_lower_case_without_connection_fields(site, chunked):
    path = "/resp/fields" + ("?chunked=1" if chunked else "")
    s = h2_get(site.main, path)
    assert s.status == 200 and s.ended, s
    names = [k for k, _ in s.headers]
    assert all(n == n.lower() for n in names), names
    assert not CONNECTION_SPECIFIC & set(names), names
    assert s.header("x-mixed-case-field") == "Mixed Value"
    assert s.header("x-echo-target") == "a"
    assert s.json()["target"] == path
    if chunked:
        assert s.header("content-length") is None
    else:
        assert s.header("content-length") == str(len(s.data))


def test_response_drops_fields_named_by_connection(site):
    s = h2_get(site.main, "/resp/hop?hop=1")
    assert s.status == 200 and s.json()["target"] == "/resp/hop?hop=1", s
    assert s.header("x-hop-secret") is None, s.headers


def test_head_request_has_no_body(site):
    with H2Client(site.main) as c:
        s = c.get("/resp/head", method="HEAD")
    assert s.status == 200 and s.ended and s.reset is None, s
    assert bytes(s.data) == b""
    assert int(s.header("content-length")) > 0  # the length a GET would have


def test_large_chunked_response_arrives_whole(site):
    size = 3 * 1024 * 1024 + 17
    s = h2_get(site.main, f"/resp/big?size={size}&seed=3&chunked=1", timeout=15)
    assert s.status == 200 and s.ended, s
    assert len(s.data) == size and bytes(s.data) == pattern(size, 3)
    assert s.header("transfer-encoding") is None


# ---- interim (1xx) responses ----------------------------------------------------------------

HINTS = [("link", "</style.css>; rel=preload"), ("link", "</app.js>; rel=preload")]


def test_early_hints_reach_http2_clients_before_the_response(site):
    s = h2_get(site.main, "/interim/hints?hints=1")
    assert s.status == 200 and s.ended and s.reset is None, s
    # One non-final HEADERS frame: the 103 with its Link fields, without the fields about the
    # target's connection (Connection, what it names) or a body (Content-Length).
    assert s.interims == [[(":status", "103"), *HINTS]], s.interims
    assert s.json()["target"] == "/interim/hints?hints=1"


def test_expect_100_continue_gets_the_targets_100_before_the_body(site):
    body = b"hello, after the 100"
    with H2Client(site.main) as c:
        sid = c.start("/interim/expect", method="POST", end_stream=False,
                      headers=[("expect", "100-continue"), ("content-length", str(len(body)))])
        # The target answers 100 before it reads the body: the client has it with no body sent.
        c.until(lambda: c.streams[sid].interims, timeout=5, what="the 100 Continue")
        assert c.streams[sid].interims == [[(":status", "100")]]
        assert c.streams[sid].status is None
        c.send_body(sid, body)
        s = c.wait(sid)
    assert s.status == 200 and s.ended, s
    rec = s.json()
    assert (rec["method"], rec["body_len"]) == ("POST", len(body)), rec
    assert ["expect", "100-continue"] in rec["headers"], rec["headers"]


def https11_conn(port: int) -> HttpConn:
    c = HttpConn(port)
    c.sock = tls_ctx(("http/1.1",)).wrap_socket(c.sock, server_hostname=SNI)
    return c


def test_early_hints_reach_http11_clients_with_their_fields(site):
    with https11_conn(site.main) as c:
        c.send(f"GET /interim/h1hints?hints=1 HTTP/1.1\r\nHost: {SNI}\r\n\r\n".encode())
        hint = c.read_head()
        final = c.read_response()
    assert (hint.status, hint.reason) == (103, "Early Hints"), hint
    assert [(k.lower(), v) for k, v in hint.header_list] == HINTS, hint.header_list
    assert final.status == 200 and json.loads(final.body)["target"] == "/interim/h1hints?hints=1"


@pytest.mark.parametrize("client", ["h2", "http/1.1"])
def test_a_flood_of_interim_heads_is_capped(site, client):
    # 5,000 "100 Continue" heads before the response: the client gets the first 4 (decision
    # 0037: a target cannot queue heads without bound for a client that does not read).
    path = f"/interim/flood-{client.replace('/', '')}?interims=5000"
    if client == "h2":
        s = h2_get(site.main, path, timeout=10)
        assert s.status == 200 and s.ended, s
        assert s.interims == [[(":status", "100")]] * 4, len(s.interims)
        return
    with https11_conn(site.main) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: {SNI}\r\n\r\n".encode())
        heads = []
        while True:
            r = c.read_response(skip_interim=False)
            if r.status >= 200:
                break
            heads.append(r.status)
    assert heads == [100] * 4, len(heads)
    assert r.status == 200 and json.loads(r.body)["target"] == path


# ---- rules and actions, as for HTTP/1.1 -----------------------------------------------------

@pytest.mark.parametrize("authority,headers,target", [
    (SNI, [], "a"),
    ("api.h2.test", [], "b"),
    ("API.H2.test", [], "b"),
    (SNI, [("x-route", "beta")], "b"),
    (SNI, [("x-route", "gamma")], "a"),
])
def test_rules_route_streams(site, authority, headers, target):
    with H2Client(site.main) as c:
        s = c.get("/route/x", authority=authority, headers=headers)
    assert s.status == 200, s
    assert s.json()["target_name"] == target and s.header("x-echo-target") == target


@pytest.mark.parametrize("path", ["/fixed", "/redirect/a/b?q=1", "/empty/none"])
def test_local_responses_match_http11(site, path):
    """fixed-response, redirect and the 503 of a group without targets: the same status,
    Location, type and body as an HTTP/1.1 client gets."""
    with H2Client(site.main) as c:
        s = c.get(path)
    status, headers, body = https11(site.main, path)
    assert s.status == status and bytes(s.data) == body, (s, status, body)
    assert s.header("location") == headers.get("location")
    assert s.header("content-type") == headers.get("content-type")
    assert s.header("server") == headers.get("server")
    expected = {"/fixed": 418, "/redirect/a/b?q=1": 301, "/empty/none": 503}[path]
    assert s.status == expected
    if expected == 301:
        assert s.header("location") == f"https://elsewhere.test:{site.main}/moved?q=1"
    if expected == 418:
        assert bytes(s.data) == b"short and stout"
    names = [k for k, _ in s.headers]
    assert not CONNECTION_SPECIFIC & set(names), names


def test_stickiness_cookie_pins_streams_to_a_target(site):
    # Without the cookie round robin reaches both targets.
    seen = set()
    with H2Client(site.main) as c:
        for i in range(4):
            seen.add(c.get(f"/sticky/free/{i}").json()["target_name"])
        first = c.get("/sticky/first")
    assert seen == {"a", "b"}, seen
    cookies = [v for k, v in first.headers if k == "set-cookie"]
    jar = dict(v.split(";", 1)[0].split("=", 1) for v in cookies)
    assert "AWSALB" in jar and "AWSALBCORS" in jar, cookies
    pinned = first.json()["target_name"]
    # The cookie sent back (as HTTP/2 clients often do: one field per cookie) keeps every
    # stream, on this and on new connections, on the same target.
    for _ in range(2):
        with H2Client(site.main) as c:
            sids = [c.start(f"/sticky/again/{i}", headers=[("cookie", "other=1"),
                                                           ("cookie", f"AWSALB={jar['AWSALB']}")])
                    for i in range(6)]
            names = {c.wait(sid).json()["target_name"] for sid in sids}
        assert names == {pinned}, names


# ---- many streams, real clients -------------------------------------------------------------

def test_hundred_concurrent_streams_each_answered(site):
    with H2Client(site.main) as c:
        c.until(lambda: c.server_settings, what="server SETTINGS")
        sids = {}
        for i in range(100):
            # Some answers are delayed so that many streams are open at the target at once.
            path = f"/many/{i}?delay_ms={(i % 5) * 40}"
            sids[c.start(path, headers=[("x-stream-index", str(i))])] = (i, path)
        c.until(lambda: all(c.done(sid) for sid in sids), 10, what="100 streams")
        for sid, (i, path) in sids.items():
            s = c.streams[sid]
            assert s.status == 200 and s.ended and s.reset is None, (i, s)
            doc = s.json()
            assert doc["target"] == path and header_values(doc, "x-stream-index") == [str(i)]
        # The connection goes on serving after the burst.
        assert c.get("/many/after").json()["target"] == "/many/after"


def test_h2load_volume(site):
    res = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "20", "-t", "2",
                          "-H", f":authority: {SNI}", f"https://{LOCAL}:{site.main}/load/h2"],
                         capture_output=True, text=True, timeout=60)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert "Application protocol: h2" in out, out
    assert re.search(r"requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, "
                     r"0 errored, 0 timeout", out), out
    assert re.search(r"status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx", out), out


def nghttp(*args, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["nghttp", "-y", "-v", "-n", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_nghttp_several_streams_on_one_connection(site):
    paths = [f"/nghttp/{i}?delay_ms={50 * (3 - i)}" for i in range(4)]
    res = nghttp("-H", f":authority: {SNI}", *[f"https://{LOCAL}:{site.main}{p}" for p in paths])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    statuses = re.findall(r"recv \(stream_id=(\d+)\) :status: (\d+)", res.stdout)
    # Four streams (nghttp numbers them after its priority anchors), all 200, one connection.
    assert len(dict(statuses)) == 4 and len(statuses) == 4, statuses
    assert {code for _, code in statuses} == {"200"}, statuses
    assert res.stdout.count("Connected") == 1, res.stdout[:2000]
    assert "negotiated protocol: h2" in res.stdout, res.stdout[:2000]
    for p in paths:
        assert len(site.a.find(p)) == 1, p


def test_nghttp_upload(site, tmp_path):
    data = pattern(1_500_000, 11)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    res = nghttp("-d", str(f), "-H", f":authority: {SNI}",
                 f"https://{LOCAL}:{site.main}/nghttp/upload")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    statuses = re.findall(r"recv \(stream_id=\d+\) :status: (\d+)", res.stdout)
    assert statuses == ["200"], res.stdout[-3000:]
    recs = site.a.find("/nghttp/upload")
    assert len(recs) == 1, recs
    assert recs[0]["method"] == "POST"
    assert (recs[0]["body_len"], recs[0]["body_sha256"]) == (len(data),
                                                             hashlib.sha256(data).hexdigest())


def test_curl_post_and_multiple_requests_reuse_the_connection(site):
    res = run_curl(["-k", "--http2", "--resolve", f"{SNI}:{site.main}:{LOCAL}",
                    "-w", "%{http_version} %{http_code} %{num_connects}\n", "-o", "/dev/null",
                    "--data-binary", "hello from curl",
                    f"https://{SNI}:{site.main}/curl/post",
                    "-o", "/dev/null", f"https://{SNI}:{site.main}/curl/second"], timeout=20)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.decode().split()
    # Two transfers, both HTTP/2 and 200, the second on the first one's connection.
    assert lines == ["2", "200", "1", "2", "200", "0"], lines
    rec = site.a.find("/curl/post")[-1]
    assert rec["method"] == "POST" and rec["body_len"] == len(b"hello from curl")
    assert header_values(rec, "content-length") == ["15"]


# ---- limits ---------------------------------------------------------------------------------

def test_goaway_after_10000_requests(site):
    """Reference §4.1: after 10,000 requests on a connection GOAWAY (NO_ERROR), the streams
    up to it are served, later ones are not, and the connection closes."""
    with RawH2(site.main, timeout=10) as r:
        r.until(lambda: r.of(hf.SettingsFrame), what="server SETTINGS")
        sent: list[int] = []
        while len(sent) < 9999:
            batch = []
            for _ in range(min(100, 9999 - len(sent))):
                sid = r.stream_id()
                batch.append(headers_in_frames(sid, r.block("/fixed"), 0))
                sent.append(sid)
            r.send_bytes(b"".join(batch))
            last = sent[-1]
            r.until(lambda: last in r.ended, 10, what=f"stream {last}")
        assert not r.goaways(), r.summary()  # none before the 10,000th request
        assert len(r.ended) == 9999 and {r.status_of[s] for s in sent} == {"418"}
        tenth_thousand = r.request("/fixed")
        r.until(lambda: r.goaways(), 5, what="GOAWAY")
        assert r.goaways() == [(0, tenth_thousand)], r.summary()
        # A stream begun after the GOAWAY arrived is not processed (nor answered).
        after = r.stream_id()
        with contextlib.suppress(OSError):  # the server may have closed already
            r.send_bytes(headers_in_frames(after, r.block("/goaway/after-limit"), 0))
        r.wait_eof(5)
        assert r.status(tenth_thousand) == "418" and tenth_thousand in r.ended
        assert r.status(after) is None, r.summary()
    assert site.a.find("/goaway/after-limit") == []
    still_serving(site.main)


def test_stream_sent_with_the_10000th_is_refused_not_served(site):
    """A stream that arrives in the same bytes as the 10,000th (before the client could see
    the GOAWAY naming the 10,000th as the last) is refused with REFUSED_STREAM, which tells the
    client it is safe to retry, and never reaches a target (nghttp2 alone would serve it)."""
    with RawH2(site.main, timeout=10) as r:
        r.until(lambda: r.of(hf.SettingsFrame), what="server SETTINGS")
        sent: list[int] = []
        while len(sent) < 9999:
            batch = []
            for _ in range(min(100, 9999 - len(sent))):
                sid = r.stream_id()
                batch.append(headers_in_frames(sid, r.block("/fixed"), 0))
                sent.append(sid)
            r.send_bytes(b"".join(batch))
            last = sent[-1]
            r.until(lambda: last in r.ended, 10, what=f"stream {last}")
        tenth_thousand, extra = r.stream_id(), r.stream_id()
        r.send_bytes(headers_in_frames(tenth_thousand, r.block("/fixed"), 0) +
                     headers_in_frames(extra, r.block("/goaway/raced"), 0))
        r.until(lambda: extra in r.resets and tenth_thousand in r.ended, 5,
                what="the refusal and the 10,000th answer")
        assert r.goaways() == [(0, tenth_thousand)], r.summary()
        assert r.resets[extra] == 0x7, r.summary()  # REFUSED_STREAM
        assert r.status(extra) is None
    assert site.a.find("/goaway/raced") == [], "a stream after the GOAWAY reached the target"
    still_serving(site.main)


@pytest.mark.parametrize("kind,fields", [
    ("field", [("x-big", "v" * (8192 - len("x-big") + 1))]),                # 8193 bytes
    ("block", [(f"x-f{i}", "w" * 7000) for i in range(10)]),                  # ~70 KiB
])
def test_oversized_headers_reset_stream_and_goaway(site, kind, fields):
    path = f"/limits/over-{kind}"
    with RawH2(site.main) as r:
        first = r.request("/limits/before")
        r.until(lambda: first in r.ended, what="the first stream")
        sid = r.stream_id()
        block = r.block(path, fields)
        r.send_bytes(headers_in_frames(sid, block, len(block) // 16000))
        r.wait_eof(5)
        assert r.goaways() == [(ENHANCE_YOUR_CALM, sid)], r.summary()
        assert sid in r.resets, r.summary()
        assert r.status(sid) is None
    assert site.a.find(path) == [], "the oversized request reached the target"
    still_serving(site.main)


@pytest.mark.parametrize("kind,fields", [
    ("field", [("x-big", "v" * (8192 - len("x-big")))]),                    # exactly 8 KiB
    ("block", [(f"x-f{i}", "w" * 8000) for i in range(7)]),                   # ~56 KiB
])
def test_headers_at_the_limits_are_served(site, kind, fields):
    path = f"/limits/at-{kind}"
    with H2Client(site.main) as c:
        s = c.get(path, headers=fields)
    assert s.status == 200 and s.ended, s
    doc = s.json()
    for name, value in fields:
        assert header_values(doc, name) == [value]
    assert c.goaway is None


@pytest.mark.parametrize("continuations", [1, 8])
def test_header_block_in_continuation_frames_is_served(site, continuations):
    with RawH2(site.main) as r:
        sid = r.stream_id()
        pads = [(f"x-pad-{i}", "p" * 40) for i in range(30)]
        path = f"/cont/ok-{continuations}"
        r.send_bytes(headers_in_frames(sid, r.block(path, pads), continuations))
        r.until(lambda: sid in r.ended, what="the response")
        assert r.status(sid) == "200" and not r.goaways()
        doc = json.loads(bytes(r.data_of[sid]))
    assert doc["target"] == path and header_values(doc, "x-pad-29") == ["p" * 40]


def test_continuation_flood_closes_the_connection(site):
    """More than 8 CONTINUATION frames in one header block (CVE-2024-28182): the connection
    is closed before the request goes anywhere; other clients are served meanwhile."""
    with H2Client(site.main) as bystander:
        assert bystander.get("/bystander/before").status == 200
        for continuations in (9, 200):
            with RawH2(site.main) as r:
                sid = r.stream_id()
                pads = [(f"x-pad-{i}", "p" * 40) for i in range(30)]
                block = r.block(f"/cont/flood-{continuations}", pads)
                r.send_bytes(headers_in_frames(sid, block, min(continuations, len(block))))
                r.wait_eof(5)
                assert r.status(sid) is None, r.summary()
        assert bystander.get("/bystander/after").status == 200
    assert [rec for rec in site.a.records if rec["target"].startswith("/cont/flood")] == []
    still_serving(site.main)


def test_continuation_flood_gets_goaway_before_close(site):
    with RawH2(site.main) as r:
        r.until(lambda: r.of(hf.SettingsFrame), what="server SETTINGS")
        sid = r.stream_id()
        pads = [(f"x-pad-{i}", "p" * 40) for i in range(30)]
        r.send_bytes(headers_in_frames(sid, r.block("/cont/flood-goaway", pads), 9))
        r.wait_eof(5)
        codes = [code for code, _ in r.goaways()]
        assert codes and codes[0] != 0, r.summary()


def rapid_reset(r: RawH2, n: int, path: str = "/fixed"):
    out = []
    for _ in range(n):
        sid = r.stream_id()
        out.append(headers_in_frames(sid, r.block(path), 0))
        out.append(hf.RstStreamFrame(sid, error_code=h2.errors.ErrorCodes.CANCEL).serialize())
    r.send_bytes(b"".join(out))


def test_rapid_reset_gets_goaway(site):
    """CVE-2023-44487: a burst of more than 1000 HEADERS + RST_STREAM(CANCEL) pairs ends in
    GOAWAY and a close; the connection next door keeps being served."""
    with H2Client(site.main) as bystander:
        assert bystander.get("/bystander/before").status == 200
        with RawH2(site.main) as r:
            r.until(lambda: r.of(hf.SettingsFrame), what="server SETTINGS")
            rapid_reset(r, 1500, "/rapid/reset")
            r.wait_eof(5)
            goaways = r.goaways()
            assert len(goaways) == 1 and goaways[0][0] != 0, r.summary()
            # The limit is reached after the 1000-reset burst, not at once.
            assert 1000 * 2 - 1 <= goaways[0][1] < 1500 * 2, goaways
        assert bystander.get("/bystander/after").status == 200
    still_serving(site.main)


def test_resets_below_the_limit_are_tolerated(site):
    """900 cancelled streams (a client that changes its mind a lot, under the burst): the
    connection stays open and serves the next request."""
    with RawH2(site.main) as r:
        r.until(lambda: r.of(hf.SettingsFrame), what="server SETTINGS")
        rapid_reset(r, 900)
        sid = r.request("/rapid/after-900")
        r.until(lambda: sid in r.ended, 5, what="the request after 900 resets")
        assert r.status(sid) == "200" and not r.goaways(), r.summary()


def flood_until_stalled(c: BioH2, frame: bytes, limit_s: float = 5.0) -> tuple[int, bool]:
    """Writes `frame` copies without reading until the server stops taking them (nothing
    taken for 0.5 s) or closes. Returns (frames fully written, stalled)."""
    batch = frame * 1000
    ends: list[int] = []  # ciphertext offset at which each queued batch ends
    queued_bytes = pushed = 0
    t0 = last = time.monotonic()
    stalled = False
    while not c.closed and time.monotonic() - t0 < limit_s:
        if len(c.pending) < 8 * len(batch):
            before = len(c.pending)
            c.queue(batch)
            queued_bytes += len(c.pending) - before
            ends.append(queued_bytes)
        n = c.push()
        pushed += n
        if n:
            last = time.monotonic()
        elif time.monotonic() - last > 0.5:
            stalled = True
            break
        else:
            time.sleep(0.002)
    return 1000 * sum(1 for e in ends if e <= pushed), stalled


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_ping_flood_is_stopped(site):
    """A client that sends PINGs and does not read the ACKs cannot make the server queue
    them without bound: the server either closes it (nghttp2's outbound-ack limit, GOAWAY
    ENHANCE_YOUR_CALM) or stops reading from it (the flooder's writes stall) with its memory
    flat, and serves other clients meanwhile. Which of the two happens depends on how the
    ACKs and the reads interleave (the limit trips only when more than 1000 ACKs wait inside
    nghttp2, and a 16 KiB read holds 963 PINGs), so both are accepted; once the flooder
    reads, the server answers or closes, and never hangs."""
    pid = site.sluice.proc.pid
    rss_before = rss_kib(pid)
    c = BioH2(site.main)
    try:
        ping = hf.PingFrame(0, opaque_data=b"floodme!").serialize()
        pings, stalled = flood_until_stalled(c, ping)
        assert stalled or c.closed, f"the server took {pings} PINGs in 5 s without stopping"
        if not c.closed:
            grown = rss_kib(pid) - rss_before
            assert grown < 32 * 1024, f"the server grew by {grown} KiB under {pings} PINGs"
            still_serving(site.main)  # while the flooder is stalled
        # The flooder now reads everything and sends the rest, then one PING of its own:
        # the server closes the connection or answers that PING too.
        last = hf.PingFrame(0, opaque_data=b"lastone!").serialize()
        ack = hf.PingFrame(0, flags=["ACK"], opaque_data=b"lastone!").serialize()
        deadline = time.monotonic() + 30
        queued_last = False
        while not c.closed and time.monotonic() < deadline:
            if not c.pending and not queued_last:
                c.queue(last)
                queued_last = True
            c.push()
            c.read(0.05)
            if queued_last and ack in c.plain:
                break
        assert c.closed or ack in c.plain, "the flooder was neither closed nor answered"
    finally:
        c.close()
    still_serving(site.main)


def test_settings_flood_is_stopped(site):
    c = BioH2(site.main)
    try:
        flood_until_stalled(c, hf.SettingsFrame(0).serialize())
        # (Each 16 KiB read holds over 1000 SETTINGS, so the limit trips at once.)
        deadline = time.monotonic() + 5
        while not c.closed and time.monotonic() < deadline:
            c.read(0.05)
        assert c.closed, "the flooding connection was not closed"
    finally:
        c.close()
    still_serving(site.main)


def test_idle_timeout_closes_connection_despite_pings(site):
    """idle_timeout.timeout_seconds = 1: PINGs (answered) do not count as activity."""
    with RawH2(site.idle) as r:
        sid = r.request("/idle/one")
        r.until(lambda: sid in r.ended, what="the response")
        assert r.status(sid) == "200"
        t_last = time.monotonic()
        pings = 0
        while not r.eof and time.monotonic() - t_last < 5:
            with contextlib.suppress(OSError):
                r.send(hf.PingFrame(0, opaque_data=b"%08d" % pings))
            pings += 1
            end = time.monotonic() + 0.1
            while time.monotonic() < end and not r.eof:
                r.pump(0.02)
        closed_after = time.monotonic() - t_last
        assert r.eof, "still open 5 s after the last stream"
        assert 0.8 <= closed_after <= 3.0, closed_after
        acks = [f for f in r.of(hf.PingFrame) if "ACK" in f.flags]
        assert len(acks) >= 3, r.summary()  # the PINGs were answered, just not counted
        assert [code for code, _ in r.goaways()] == [0], r.summary()  # GOAWAY, then close


def test_streams_keep_an_idle_listener_connection_open(site):
    """With a request every 0.25 s for 2 s the 1 s idle timeout never fires."""
    with H2Client(site.idle) as c:
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 2.0:
            s = c.get(f"/idle/busy/{n}")
            assert s.status == 200, s
            n += 1
            c.until(lambda: time.monotonic() - t0 >= 0.25 * n, 1, what="the next request time")
        assert not c.closed and c.goaway is None and n >= 7


# ---- stream limits and stalled requests -----------------------------------------------------

def test_more_than_128_concurrent_streams_is_refused(site):
    """The 129th concurrent stream (once the client acknowledged the SETTINGS) is refused:
    a stream error or, as nghttp2 does it, a connection error (GOAWAY PROTOCOL_ERROR). It
    never reaches a target, and other connections are served."""
    with RawH2(site.main) as r:
        r.until(lambda: any("ACK" in f.flags for f in r.of(hf.SettingsFrame)),
                what="SETTINGS ACK")
        held = b"".join(headers_in_frames(r.stream_id(), r.block(f"/conc/{i}?delay_ms=1500"),
                                          0) for i in range(128))
        r.send_bytes(held)
        wait_until(lambda: len(site.a.find("/conc/")) >= 128, 5,
                   what="128 streams at the target")
        extra = r.request("/conc-extra")
        r.until(lambda: extra in r.resets or r.goaways(), 5, what="the refusal")
        refused_stream = r.resets.get(extra) in (h2.errors.ErrorCodes.REFUSED_STREAM,
                                                 h2.errors.ErrorCodes.PROTOCOL_ERROR)
        refused_conn = any(code == h2.errors.ErrorCodes.PROTOCOL_ERROR and last < extra
                           for code, last in r.goaways())
        assert refused_stream or refused_conn, r.summary()
        assert r.status(extra) is None
    assert site.a.find("/conc-extra") == []
    still_serving(site.main)


def stalled_upload(r: RawH2, path: str) -> int:
    """A POST promising 10 bytes that sends 3 and then nothing."""
    sid = r.stream_id()
    block = r.enc.encode([(":method", "POST"), (":scheme", "https"), (":authority", SNI),
                          (":path", path), ("content-length", "10")])
    r.send(hf.HeadersFrame(sid, data=block, flags=["END_HEADERS"]), hf.DataFrame(sid, data=b"abc"))
    return sid


def test_stalled_upload_gets_408_at_the_idle_timeout(site):
    with RawH2(site.idle) as r:
        t0 = time.monotonic()
        sid = stalled_upload(r, "/stall/408")
        r.until(lambda: sid in r.ended, 4, what="the 408")
        assert 0.8 <= time.monotonic() - t0 <= 3.0
        assert r.status(sid) == "408", r.summary()
    assert site.a.find("/stall/408") == []  # the body never came: nothing was forwarded


def test_connection_idles_out_after_a_stalled_upload(site):
    with RawH2(site.idle) as r:
        sid = stalled_upload(r, "/stall/idle")
        r.until(lambda: sid in r.ended, 4, what="the 408")
        answered = time.monotonic()
        deadline = answered + 3  # idle timeout 1 s: closed ~1 s after the 408
        while not r.eof and time.monotonic() < deadline:
            r.pump(0.05)
        assert r.eof, f"still open {time.monotonic() - answered:.1f} s after the 408: {r.summary()}"


# ---- flow control ---------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True])
def test_large_response_to_a_small_window(site, chunked):
    size = 4 * 1024 * 1024 + 3
    window = 16384
    with H2Client(site.main, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window},
                  auto_ack=False) as c:
        c.until(lambda: c.settings_acked, what="our SETTINGS acknowledged")
        path = f"/flow/big?size={size}&seed=5" + ("&chunked=1" if chunked else "")
        sid = c.start(path)
        most_held = 0
        deadline = time.monotonic() + 20
        while not c.done(sid):
            assert time.monotonic() < deadline, f"{len(c.streams[sid].data)} of {size} bytes"
            assert not c.closed, c.goaway
            c.pump(0.05)
            held = c.unacked.get(sid, 0)
            most_held = max(most_held, held)
            c.ack(sid, 4096)  # open the window a little at a time
        s = c.streams[sid]
        assert s.status == 200 and s.ended and s.reset is None, s
        assert len(s.data) == size and bytes(s.data) == pattern(size, 5)
        assert most_held <= window, most_held  # python-h2 also fails on a window overrun


@pytest.mark.parametrize("with_length", [True, False])
def test_large_upload(site, with_length):
    size = 6 * 1024 * 1024 + 1
    body = pattern(size, 9)
    path = f"/flow/upload-{with_length}"
    with H2Client(site.main, timeout=20) as c:
        headers = [("content-length", str(size))] if with_length else []
        sid = c.start(path, method="POST", headers=headers, end_stream=False)
        c.send_body(sid, body, timeout=20)
        s = c.wait(sid, 20)
    assert s.status == 200, s
    doc = s.json()
    assert doc["framing"] == ("content-length" if with_length else "chunked"), doc
    assert (doc["body_len"], doc["body_sha256"]) == (size, hashlib.sha256(body).hexdigest())


def test_cancelled_stream_leaves_other_streams_working(site):
    window = 16384
    with H2Client(site.main, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window},
                  auto_ack=False) as c:
        c.conn.increment_flow_control_window(1 << 24)  # only the stream windows are small
        c.flush()
        c.until(lambda: c.settings_acked, what="our SETTINGS acknowledged")
        big = c.start("/cancel/big?size=8000000&seed=2")
        c.until(lambda: len(c.streams[big].data) >= window, 5, what="a full window of the big one")
        others = [c.start(f"/cancel/other/{i}?delay_ms=100") for i in range(3)]

        def others_done():
            for sid in others:
                c.ack(sid)
            return all(c.done(sid) for sid in others)

        c.until(others_done, 5, what="the other streams (the big one is stalled)")
        c.conn.reset_stream(big, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        for i, sid in enumerate(others):
            s = c.streams[sid]
            assert s.status == 200 and s.ended, s
            assert s.json()["target"] == f"/cancel/other/{i}?delay_ms=100"
        got = len(c.streams[big].data)
        assert window <= got < 8_000_000
        # The connection goes on: new streams after the cancel are served.
        after = [c.start(f"/cancel/after/{i}") for i in range(3)]

        def after_done():
            for sid in after:
                c.ack(sid)
            return all(c.done(sid) for sid in after)

        c.until(after_done, 5, what="streams after the cancel")
        assert [c.streams[sid].status for sid in after] == [200, 200, 200]
        assert c.goaway is None and not c.closed
        assert c.streams[big].reset is None  # the server did not reset the cancelled one itself


# ---- shutdown and access logs (a Sluice of their own) ---------------------------------------

@pytest.fixture
def own(tmp_path, sluice):
    """own(attributes=None, rules=()) -> (Sluice, port, EchoTarget): one HTTPS listener
    forwarding to a fresh echo target."""
    targets: list[EchoTarget] = []

    def start(attributes=None, rules=(), extra=None):
        crt = make_cert(tmp_path, "own", [SNI])
        t = EchoTarget("own")
        targets.append(t)
        port = free_port()
        lb = {"Name": "own", "Listeners": [https_listener(port, forward("tg"), rules)]}
        if attributes:
            lb["Attributes"] = attributes
        cfg = {"Certificates": [cert_entry("h2", *crt)], "LoadBalancers": [lb],
               "TargetGroups": [target_group("tg", [t.port])]}
        cfg.update(extra or {})
        return sluice(cfg), port, t

    yield start
    for t in targets:
        t.stop()


def test_sigterm_sends_goaway_and_finishes_the_in_flight_stream(own):
    lb, port, target = own()
    with RawH2(port) as r:
        warm = r.request("/term/warm")
        r.until(lambda: warm in r.ended, what="a first response")
        slow = r.request("/term/slow?delay_ms=1200")
        wait_until(lambda: target.find("/term/slow"), 3, what="the slow request at the target")
        lb.proc.signal(signal.SIGTERM)
        r.until(lambda: r.goaways(), 3, what="GOAWAY")
        assert slow not in r.ended, "the response was already complete: nothing was in flight"
        code, last = r.goaways()[0]
        assert code == 0 and last >= slow, r.goaways()
        r.until(lambda: slow in r.ended, 5, what="the in-flight response")
        assert r.status(slow) == "200" and slow not in r.resets, r.summary()
        assert json.loads(bytes(r.data_of[slow]))["target"] == "/term/slow?delay_ms=1200"
        r.wait_eof(5)
    assert lb.proc.popen.wait(10) == 0


def log_fields(line: str) -> list[str]:
    """Space-separated access-log fields, a double-quoted one kept whole (as in
    test_access_logs.py)."""
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


def read_access_logs(directory) -> list[list[str]]:
    rows = []
    for f in sorted(directory.rglob("*.log.gz")):
        with gzip.open(f, "rt", encoding="ascii") as fh:
            rows.extend(log_fields(line) for line in fh.read().splitlines())
    return rows


def test_access_log_entries_are_h2(own, tmp_path):
    logs = tmp_path / "logs"
    lb, port, target = own(
        attributes={"access_logs.s3.enabled": True, "sluice.access_logs.directory": str(logs)},
        rules=[rule(1, [path_is("/log/fixed")], fixed("404", "nope"))],
        extra={"Account": {"Id": "123456789012", "Region": "eu-west-3"}})
    with H2Client(port) as c:
        a = c.start("/log/h2?x=1", headers=[("user-agent", "h2-logger/1")])
        b = c.start("/log/fixed")
        assert c.wait(a).status == 200 and c.wait(b).status == 404
    assert https11(port, "/log/h1")[0] == 200
    lb.proc.signal(signal.SIGTERM)
    assert lb.proc.popen.wait(15) == 0
    rows = read_access_logs(logs)
    by_path = {f[12].split(" ")[1].split(f":{port}", 1)[1]: f for f in rows}
    assert set(by_path) == {"/log/h2?x=1", "/log/fixed", "/log/h1"}, [f[12] for f in rows]
    fwd, fix, h1 = by_path["/log/h2?x=1"], by_path["/log/fixed"], by_path["/log/h1"]
    assert fwd[0] == "h2" and fix[0] == "h2" and h1[0] == "https"
    assert fwd[12] == f'"GET https://{SNI}:{port}/log/h2?x=1 HTTP/2.0"', fwd[12]
    assert fix[12] == f'"GET https://{SNI}:{port}/log/fixed HTTP/2.0"', fix[12]
    assert h1[12].endswith(' HTTP/1.1"'), h1[12]
    assert (fwd[8], fwd[9], fwd[4]) == ("200", "200", f"127.0.0.1:{target.port}")
    assert (fix[8], fix[9], fix[4], fix[20], fix[22]) == ("404", "-", "-", "1", '"fixed-response"')
    assert fwd[13] == '"h2-logger/1"' and fwd[22] == '"forward"' and fwd[20] == "0"
    assert fwd[15] in ("TLSv1.2", "TLSv1.3") and fwd[14] != "-" and fwd[18] == f'"{SNI}"'
    # Both streams of one connection carry its connection trace id; the other connection not.
    assert re.fullmatch(r"TID_[0-9a-f]{32}", fwd[29]) and fwd[29] == fix[29] != h1[29]
    # The trace id logged is the one the target saw.
    seen = target.find("/log/h2")[0]
    assert fwd[17] == f'"{header_values(seen, "x-amzn-trace-id")[0]}"'
