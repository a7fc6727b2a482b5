"""WebSocket over HTTP/2 (RFC 8441), beyond ALB: a load balancer with
sluice.routing.http2.websocket.enabled advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on its HTTP/2
connections and turns an extended CONNECT (:protocol websocket) into the HTTP/1.1 upgrade
request of RFC 6455 for its target; after the target's 101 the stream's DATA frames carry the
WebSocket's bytes both ways. The real binary, python-h2 over TLS as the client (WebSocket frames
built here), python3-websockets as the target.

Covered:
  - the setting is advertised only where the attribute is on
  - echo of text and a 200 KiB binary message; the client gets :status 200 without
    Sec-WebSocket-Accept; the target sees GET with Upgrade/Connection, a valid
    Sec-WebSocket-Key, Sec-WebSocket-Version 13, X-Forwarded-Proto https
  - two WebSockets and an ordinary request at once on one HTTP/2 connection
  - a target that ignores the upgrade and answers 200: the stream is reset (a 2xx would tell the
    client the WebSocket is open)
  - a target that refuses the upgrade: its 403 and body reach the client, the stream ends
    (then RST_STREAM NO_ERROR, as any response that ends before its request)
  - the client's END_STREAM (right after the 101, or before it) reaches the target as the end
    of its connection, and the target's bytes after that still reach the client
  - DATA sent early on a refused upgrade are not read as a further request
  - an extended CONNECT with a content-length, or ending the stream at once, is reset
    (PROTOCOL_ERROR) and the connection serves on
  - the target closing the WebSocket (closing handshake, then its TCP close) ends the stream;
    the client's close frame with END_STREAM gets the target's close frame and the end of the
    stream
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time

import pytest

from conftest import forward, launch_sluice, path_is, rule, target_group
from test_http2 import (SNI, EchoTarget, H2Client, cert_entry, distinct_ports, https_listener,
                        make_cert)

h2 = pytest.importorskip("h2")
websockets = pytest.importorskip("websockets")
from test_websocket import SWITCH, WsTarget, read_to_eof, read_until  # noqa: E402

ENABLE_CONNECT_PROTOCOL = 0x8


class Site:
    pass


class HalfCloseTarget:
    """One raw WebSocket connection: reads the upgrade request, waits `delay` s, answers 101
    and b"early", reads the client's bytes until its end of stream (kept in `got`), then
    answers b"after-eof" and closes."""

    def __init__(self, delay: float):
        self.delay, self.got, self.error = delay, None, None
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
            with conn:
                read_until(conn, b"\r\n\r\n")
                time.sleep(self.delay)
                conn.sendall(SWITCH + b"early")
                self.got = read_to_eof(conn)
                conn.sendall(b"after-eof")
                conn.shutdown(socket.SHUT_WR)
        except BaseException as e:  # noqa: BLE001
            self.error = e
        finally:
            self.listener.close()
            self.done.set()

    def stop(self):
        self.listener.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """ws: an HTTPS listener of a load balancer with the attribute on; plain: one without it.
    Both forward to one python3-websockets echo target, but /h1/* on ws goes to an HTTP/1.1
    echo target that ignores Upgrade."""
    d = tmp_path_factory.mktemp("ws-h2")
    st = Site()
    st.target = WsTarget("a")
    st.h1 = EchoTarget("h1")
    st.halfclose = {"now": HalfCloseTarget(0), "late": HalfCloseTarget(0.5)}
    try:
        crt, key = make_cert(d, "h2", [SNI])
        st.ws, st.plain = distinct_ports(2)
        cfg = {
            "Certificates": [cert_entry("h2", crt, key)],
            "LoadBalancers": [
                {"Name": "ws", "Attributes": {"sluice.routing.http2.websocket.enabled": True},
                 "Listeners": [https_listener(st.ws, forward("ws-a"), [
                     rule(1, [path_is("/h1/*")], forward("h1")),
                     rule(2, [path_is("/halfclose-now")], forward("hc-now")),
                     rule(3, [path_is("/halfclose-late")], forward("hc-late"))])]},
                {"Name": "plain", "Listeners": [https_listener(st.plain, forward("plain-a"))]},
            ],
            "TargetGroups": [target_group("ws-a", [st.target.port]),
                             target_group("plain-a", [st.target.port]),
                             target_group("h1", [st.h1.port]),
                             target_group("hc-now", [st.halfclose["now"].port]),
                             target_group("hc-late", [st.halfclose["late"].port])],
        }
        st.sluice = launch_sluice(d, cfg, workers=2)
    except BaseException:
        st.target.stop()
        st.h1.stop()
        for t in st.halfclose.values():
            t.stop()
        raise
    yield st
    st.sluice.proc.stop(timeout=10)
    st.target.stop()
    st.h1.stop()
    for t in st.halfclose.values():
        t.stop()


# ---- WebSocket frames (RFC 6455 §5.2) -------------------------------------------------------

def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def messages(data: bytes) -> list[tuple[int, bytes]]:
    """The complete unmasked server frames at the start of `data`, as (opcode, payload)."""
    out, at = [], 0
    while at + 2 <= len(data):
        b0, b1 = data[at], data[at + 1]
        n, at2 = b1 & 0x7F, at + 2
        if n == 126:
            if at2 + 2 > len(data):
                break
            n, at2 = struct.unpack("!H", data[at2:at2 + 2])[0], at2 + 2
        elif n == 127:
            if at2 + 8 > len(data):
                break
            n, at2 = struct.unpack("!Q", data[at2:at2 + 8])[0], at2 + 8
        if at2 + n > len(data):
            break
        out.append((b0 & 0x0F, bytes(data[at2:at2 + n])))
        at = at2 + n
    return out


def open_ws(c: H2Client, path: str = "/chat") -> int:
    sid = c.start(path, method="CONNECT", end_stream=False,
                  headers=[(":protocol", "websocket"), ("sec-websocket-version", "13")])
    c.until(lambda: c.streams[sid].status is not None or c.done(sid), what="the answer")
    return sid


def exchange(c: H2Client, sid: int, payload: bytes, opcode: int = 0x1,
             timeout: float = 10) -> tuple[int, bytes]:
    """Sends one message and returns the next message received on the stream."""
    before = len(messages(bytes(c.streams[sid].data)))
    c.send_body(sid, frame(payload, opcode), end_stream=False)
    got = c.until(lambda: messages(bytes(c.streams[sid].data))[before:], timeout=timeout,
                  what="the echo")
    return got[0]


# ---- tests ----------------------------------------------------------------------------------

def test_extended_connect_is_advertised_only_where_enabled(site):
    with H2Client(site.ws) as c:
        c.until(lambda: c.server_settings, what="SETTINGS")
        assert c.server_settings.get(ENABLE_CONNECT_PROTOCOL) == 1, c.server_settings
    with H2Client(site.plain) as c:
        c.until(lambda: c.server_settings, what="SETTINGS")
        assert c.server_settings.get(ENABLE_CONNECT_PROTOCOL, 0) == 0, c.server_settings


def test_websocket_over_http2_echoes_both_ways(site):
    with H2Client(site.ws) as c:
        sid = open_ws(c)
        s = c.streams[sid]
        assert s.status == 200 and not s.ended and s.reset is None, s
        assert s.header("sec-websocket-accept") is None, s.headers
        assert exchange(c, sid, b"hello") == (0x1, b"hello")
        assert exchange(c, sid, b"whoami") == (0x1, b"a")
        big = os.urandom(200 * 1024)
        assert exchange(c, sid, big, opcode=0x2) == (0x2, big)


def test_the_target_sees_an_http11_upgrade(site):
    with H2Client(site.ws) as c:
        sid = open_ws(c, "/seen?x=1")
        opcode, text = exchange(c, sid, b"headers")
    assert opcode == 0x1
    fields = {}
    for line in text.decode().split("\n"):
        name, _, value = line.partition(": ")
        fields[name.lower()] = value
    assert fields["upgrade"] == "websocket" and fields["connection"].lower() == "upgrade", fields
    assert fields["sec-websocket-version"] == "13"
    assert len(base64.b64decode(fields["sec-websocket-key"], validate=True)) == 16
    assert fields["x-forwarded-proto"] == "https"
    assert fields["host"].split(":")[0] == SNI
    request = site.target.requests[-1]
    assert request["Upgrade"] == "websocket"


def test_websockets_and_a_request_share_one_connection(site):
    with H2Client(site.ws) as c:
        one, two = open_ws(c, "/one"), open_ws(c, "/two")
        get = c.start("/plain", end_stream=True)
        assert exchange(c, one, b"first") == (0x1, b"first")
        assert exchange(c, two, b"second") == (0x1, b"second")
        assert exchange(c, one, b"third") == (0x1, b"third")
        # The target is a WebSocket server: a plain GET gets its refusal of a non-upgrade.
        s = c.wait(get)
        assert s.status is not None and s.ended, s
        assert not c.streams[one].ended and not c.streams[two].ended


def test_a_refused_upgrade_is_relayed(site):
    with H2Client(site.ws) as c:
        sid = open_ws(c, "/refuse")
        s = c.wait(sid)
    # The response ended before the request: RST_STREAM NO_ERROR closes the client's half
    # (RFC 9113 §8.1), as for any early response.
    assert s.status == 403 and s.ended and s.reset in (None, 0), s
    assert bytes(s.data) == b"no upgrade for you"


def test_the_target_closing_ends_the_stream(site):
    with H2Client(site.ws) as c:
        sid = open_ws(c)
        # "close": the target starts the closing handshake; once the client answers its close
        # frame, the target closes the connection, which ends the stream.
        op, _ = exchange(c, sid, b"close")
        assert op == 0x8
        c.send_body(sid, frame(struct.pack("!H", 1000), opcode=0x8), end_stream=False)
        s = c.wait(sid, timeout=5)
    # END_STREAM, then RST_STREAM NO_ERROR for the client's half it had not closed.
    assert s.ended and s.reset in (None, 0), s
    assert [m[0] for m in messages(bytes(s.data))] == [0x8], bytes(s.data)


def test_the_clients_close_with_end_stream_is_answered(site):
    with H2Client(site.ws) as c:
        sid = open_ws(c)
        assert exchange(c, sid, b"before") == (0x1, b"before")
        c.send_body(sid, frame(struct.pack("!H", 1000), opcode=0x8), end_stream=True)
        s = c.wait(sid, timeout=10)
    assert s.ended and s.reset is None, s
    got = messages(bytes(s.data))
    assert got[0] == (0x1, b"before") and got[-1][0] == 0x8, got


def test_a_target_that_ignores_the_upgrade_gets_the_stream_reset(site):
    # Its 200 would tell the client the WebSocket is open (RFC 8441 §5) and its body would be
    # read as frames: the stream is reset instead. The same target serves plain requests.
    with H2Client(site.ws) as c:
        sid = open_ws(c, "/h1/ignored")
        s = c.wait(sid)
        assert s.reset is not None and s.status is None, s
        plain = c.get("/h1/plain")
    assert plain.status == 200 and plain.json()["target"] == "/h1/plain", plain
    assert site.h1.find("/h1/ignored"), "the upgrade request never reached the target"


@pytest.mark.parametrize("when", ["now", "late"])
def test_the_clients_end_stream_reaches_the_target_as_its_end(site, when):
    # now: the client's bytes and END_STREAM arrive after the 101, in one read; late: before
    # it (the target answers 0.5 s after the request). Either way the target reads the bytes,
    # then the end of its connection, and what it sends after that still reaches the client.
    target = site.halfclose[when]
    with H2Client(site.ws) as c:
        sid = c.start(f"/halfclose-{when}", method="CONNECT", end_stream=False,
                      headers=[(":protocol", "websocket"), ("sec-websocket-version", "13")])
        if when == "now":
            c.until(lambda: c.streams[sid].status is not None, what="the 200")
        c.send_body(sid, b"client-bytes", end_stream=True)
        s = c.wait(sid, timeout=10)
    assert target.done.wait(10) and target.error is None, target.error
    assert target.got == b"client-bytes"
    assert s.status == 200 and s.ended and s.reset is None, s
    assert bytes(s.data) == b"earlyafter-eof"


def test_bytes_after_a_refused_upgrade_are_not_requests(site):
    # Early DATA on a WebSocket stream whose upgrade is refused must not be read as one more
    # request on that stream.
    smuggled = b"GET /h1/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with H2Client(site.ws) as c:
        sid = c.start("/refuse", method="CONNECT", end_stream=False,
                      headers=[(":protocol", "websocket"), ("sec-websocket-version", "13")])
        c.send_body(sid, smuggled, end_stream=False)
        s = c.wait(sid)
        assert s.status == 403, s
        after = c.get("/h1/after")
    assert after.status == 200, after
    assert site.h1.find("/h1/after") and not site.h1.find("/h1/smuggled")


@pytest.mark.parametrize("extra, end_stream", [([("content-length", "5")], False),
                                                ([], True)])
def test_a_websocket_with_a_body_or_ended_at_once_is_refused(site, extra, end_stream):
    with H2Client(site.ws) as c:
        sid = c.start("/chat", method="CONNECT", end_stream=end_stream,
                      headers=[(":protocol", "websocket"), ("sec-websocket-version", "13"),
                               *extra])
        s = c.wait(sid)
        assert s.reset == h2.errors.ErrorCodes.PROTOCOL_ERROR and s.status is None, s
        assert c.get("/h1/still").status == 200  # the connection serves on
