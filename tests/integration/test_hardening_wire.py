"""Issue 9 (hardening), the request path: what an attacker sends must either be refused or reach
the target framed exactly as Sluice framed it. A byte-recording back end keeps every byte the
target receives, so the tests judge the wire, not Sluice's own account of it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from conftest import (LOCAL, HttpConn, fixed, forward, free_port, host_is, lb_config, rule,
                      target_group, wait_until)


class RecordingBackend:
    """An HTTP/1.1 target on 127.0.0.1 that records the raw bytes of every request it frames
    (head, then a Content-Length or chunked body read the lenient way: any field whose name
    merely contains 'content-length' or 'transfer-encoding' counts, as a careless target
    would) and answers each with 200 "ok", keeping the connection open. `eofs` counts
    connections that Sluice closed."""

    def __init__(self):
        self.requests: list[bytes] = []
        self.raw: list[bytes] = []  # all bytes per connection, in arrival order
        self.eofs = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOCAL, 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.raw.append(b"")
                index = len(self.raw) - 1
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _recv(self, conn, index) -> bytes:
        data = conn.recv(65536)
        with self._lock:
            self.raw[index] += data
            if not data:
                self.eofs += 1
        return data

    def _serve(self, conn, index):
        buf = b""
        try:
            conn.settimeout(30)
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = self._recv(conn, index)
                    if not data:
                        return
                    buf += data
                end = buf.index(b"\r\n\r\n") + 4
                head, buf = buf[:end], buf[end:]
                lower = head.lower()
                if b"transfer-encoding" in lower:
                    while (stop := self._chunked_end(buf)) < 0:
                        data = self._recv(conn, index)
                        if not data:
                            return
                        buf += data
                    body, buf = buf[:stop], buf[stop:]
                else:
                    length = 0
                    for line in lower.split(b"\r\n"):
                        if b"content-length" in line and b":" in line:
                            with contextlib.suppress(ValueError):
                                length = int(line.split(b":", 1)[1].strip())
                    while len(buf) < length:
                        data = self._recv(conn, index)
                        if not data:
                            return
                        buf += data
                    body, buf = buf[:length], buf[length:]
                with self._lock:
                    self.requests.append(head + body)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (OSError, ValueError):
            return

    @staticmethod
    def _chunked_end(buf: bytes) -> int:
        """End of a chunked body at the front of buf (last chunk, trailers, CRLF), or -1."""
        start = 0 if buf.startswith(b"0\r\n") else buf.find(b"\r\n0\r\n")
        if start < 0:
            return -1
        end = buf.find(b"\r\n\r\n", start)
        return -1 if end < 0 else end + 4

    def stop(self):
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            for c in self._conns:
                with contextlib.suppress(OSError):
                    c.close()


@pytest.fixture
def recorder():
    backends = []

    def start():
        b = RecordingBackend()
        backends.append(b)
        return b

    yield start
    for b in backends:
        b.stop()


@pytest.fixture
def wire_proxy(sluice, recorder):
    """wire_proxy(mode, idle=None, rules=()) -> (Sluice, RecordingBackend)."""

    def start(mode="defensive", idle=None, rules=(), default=None):
        b = recorder()
        attrs = {"routing.http.desync_mitigation_mode": mode}
        if idle is not None:
            attrs["idle_timeout.timeout_seconds"] = str(idle)
        port = free_port()
        s = sluice(lb_config(port, default or forward("tg"), rules=rules,
                             target_groups=[target_group("tg", [b.port])], attributes=attrs))
        return s, b

    return start


def exchange(port, data: bytes, method="GET"):
    c = HttpConn(port, timeout=10)
    c.send(data)
    return c, c.read_response(method)


SMUGGLE_BODY = b"0\r\n\r\nGET /SMUGGLED-admin HTTP/1.1\r\nHost: a\r\n\r\n"
assert len(SMUGGLE_BODY) == 46
OBFUSCATED_TE = (b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n"
                 b"Content-Length: 46\r\n\r\n" + SMUGGLE_BODY)
SPACED_CL = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length : 40\r\n\r\n"


def assert_refused(port, data, backend, status=400):
    c, r = exchange(port, data, "POST" if data.startswith(b"POST") else "GET")
    with c:
        assert r.status == status, (data, r)
        assert r.header("Server") == "awselb/2.0"
        assert c.closed_by_peer(3)
    assert backend.requests == [], backend.requests


@pytest.mark.parametrize("mode", ["defensive", "strictest"])
def test_whitespace_before_colon_is_400(wire_proxy, mode):
    s, b = wire_proxy(mode)
    assert_refused(s.port, OBFUSCATED_TE, b)
    assert_refused(s.port, SPACED_CL + b"x" * 40, b)
    assert_refused(s.port, b"GET / HTTP/1.1\r\nHost: a\r\nX-Anything : 1\r\n\r\n", b)


def test_monitor_forwards_only_the_framing_sluice_chose(wire_proxy):
    s, b = wire_proxy("monitor")
    c, r = exchange(s.port, OBFUSCATED_TE, "POST")
    with c:
        assert r.status == 200 and r.body == b"ok"
    wait_until(lambda: len(b.requests) >= 1, 5, what="the request at the target")
    forwarded = b"".join(b.raw)
    assert b"ransfer" not in forwarded.lower().replace(b"\r\n", b"\n"), forwarded
    assert forwarded.count(b"Content-Length: 46\r\n") == 1, forwarded
    assert b"Content-Length :" not in forwarded
    # The target framed the 46 body bytes as a body: it saw one request, not two.
    assert len(b.requests) == 1 and b.requests[0].endswith(SMUGGLE_BODY)

    c, r = exchange(s.port, SPACED_CL, "POST")
    with c:
        assert r.status == 200
    wait_until(lambda: len(b.requests) >= 2, 5, what="the second request at the target")
    assert b"content-length" not in b.requests[1].lower(), b.requests[1]


@pytest.mark.parametrize("host", [b"good.example@evil.example", b"evil.example good.example",
                                  b"good.example:80:80"])
def test_invalid_host_is_400(wire_proxy, host):
    s, b = wire_proxy("defensive")
    assert_refused(s.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", b)


def test_absolute_form_with_userinfo_is_400(wire_proxy):
    s, b = wire_proxy("defensive")
    assert_refused(s.port, b"GET http://good.example@evil.example/ HTTP/1.1\r\n"
                           b"Host: good.example\r\n\r\n", b)


def test_host_rules_never_see_an_invalid_host(wire_proxy):
    s, b = wire_proxy("monitor", rules=[rule(1, [host_is("*.example")], fixed("200", "matched"))],
                      default=fixed("404", "default"))
    with HttpConn(s.port) as c:
        assert c.request("GET", "/", headers={"Host": "good.example"}).text == "matched"
    for host in (b"good.example@evil.example", b"evil.example good.example"):
        c, r = exchange(s.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        with c:
            assert (r.status, r.text) == (404, "default"), host
    c, r = exchange(s.port, b"GET http://good.example@evil.example/ HTTP/1.1\r\n"
                            b"Host: good.example\r\n\r\n")
    with c:
        assert (r.status, r.text) == (404, "default")


def test_second_version_on_request_line_is_400(wire_proxy):
    s, b = wire_proxy("defensive")
    with HttpConn(s.port, timeout=10) as c:
        assert c.request("GET", "/first").status == 200  # a keep-alive connection
        c.send(b"GET /a HTTP/1.1 HTTP/1.1\r\nHost: a\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert c.closed_by_peer(3)
    assert all(b"HTTP/1.1 HTTP/1.1" not in req for req in b.requests)
    assert len(b.requests) == 1


def test_space_in_target_reaches_target_percent_encoded(wire_proxy):
    s, b = wire_proxy("defensive")
    c, r = exchange(s.port, b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n")
    with c:
        assert r.status == 200
    wait_until(lambda: b.requests, 5, what="the request at the target")
    assert b.requests[0].startswith(b"GET /a%20b HTTP/1.1\r\n"), b.requests[0]


def test_request_body_stalled_past_idle_timeout_is_408(wire_proxy):
    s, b = wire_proxy("defensive", idle=1)
    c = HttpConn(s.port, timeout=10)
    with c:
        c.send(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        started = time.monotonic()
        r = c.read_response("POST")
        assert r.status == 408, r
        assert time.monotonic() - started < 5
        assert c.closed_by_peer(3)
    # The target connection is closed too, not returned to the pool half-fed.
    wait_until(lambda: b.eofs >= 1, 5, what="the target connection to be closed")


@pytest.mark.parametrize("size_line", [b"5 ", b"5\t", b"5 x"])
def test_chunk_size_with_trailing_whitespace_is_400(wire_proxy, size_line):
    s, b = wire_proxy("monitor")
    c = HttpConn(s.port, timeout=10)
    with c:
        c.send(b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line +
               b"\r\nhello\r\n0\r\n\r\n")
        r = c.read_response("POST")
        assert r.status == 400
        assert c.closed_by_peer(3)
    assert b.requests == []  # the head may have gone up, but never a complete request


def test_chunk_size_with_leading_zeros_is_accepted(wire_proxy):
    s, b = wire_proxy("defensive")
    c, r = exchange(s.port, b"POST /z HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + b"0" * 30 + b"5\r\nhello\r\n0\r\n\r\n", "POST")
    with c:
        assert r.status == 200


def test_trailer_fields_never_reach_the_target(wire_proxy):
    s, b = wire_proxy("defensive")
    c, r = exchange(s.port, b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"5\r\nhello\r\n0\r\nContent-Length: 40\r\nHost: evil.example\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n", "POST")
    with c:
        assert r.status == 200
        # The connection stays usable: the trailer section was consumed, not left behind.
        assert c.request("GET", "/after").status == 200
    wait_until(lambda: len(b.requests) >= 2, 5, what="both requests at the target")
    assert b.requests[0].endswith(b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), b.requests[0]
    assert b"evil" not in b"".join(b.raw)
