"""WebSocket through HTTP and HTTPS listeners (reference §4.1, §2.6, §5.2), with
python3-websockets as client and target, and raw sockets where a test needs to control bytes.

Covered:
  - echo of text and binary messages, a 4 MiB message, many messages, both ways at once; the
    target sees the upgrade request with X-Forwarded-For/-Proto and the client gets the 101
    with Connection: Upgrade and the target's Sec-WebSocket-Accept
  - wss on an HTTPS listener
  - rules route the upgrade request (path pattern) and the WebSocket stays on that target
  - a target that refuses the upgrade: its response is relayed as any other
  - an Upgrade other than websocket (h2c) is not forwarded; a 101 the client did not ask for
    is still a 502
  - half-close in both directions (raw sockets)
  - the load balancer's idle timeout closes a silent WebSocket
  - draining: an open WebSocket outlives a reload that deregisters its target until
    deregistration_delay ends, then it is closed
  - the access log has one `ws` entry per WebSocket, written at close, with both byte counts
"""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from http import HTTPStatus

import pytest

from conftest import (LOCAL, forward, free_port, lb_config, path_is, rule, target_group,
                      wait_until)

websockets = pytest.importorskip("websockets")


# ---- targets --------------------------------------------------------------------------------

class WsTarget:
    """A python3-websockets echo server on its own thread and event loop. Messages: "whoami"
    answers the target's name, "headers" the upgrade request's headers (one per line),
    "close" closes from the target's side; anything else is echoed. Path /refuse answers 403
    instead of switching; /health answers 200."""

    def __init__(self, name: str):
        self.name = name
        self.requests: list = []
        self.closed = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10), "websocket target did not start"

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)

        async def process_request(path, headers):
            if path == "/health":
                return HTTPStatus.OK, [("Content-Type", "text/plain")], b"ok"
            if path == "/refuse":
                return HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")], b"no upgrade for you"
            return None

        async def handler(ws, path=None):
            self.requests.append(ws.request_headers)
            try:
                async for msg in ws:
                    if msg == "whoami":
                        await ws.send(self.name)
                    elif msg == "headers":
                        await ws.send("\n".join(f"{k}: {v}" for k, v in ws.request_headers.raw_items()))
                    elif msg == "close":
                        await ws.close()
                    else:
                        await ws.send(msg)
            finally:
                self.closed += 1

        async def start():
            self.server = await websockets.serve(handler, LOCAL, 0, max_size=None,
                                                 process_request=process_request,
                                                 ping_interval=None)
            self.port = self.server.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    def stop(self):
        async def shut():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def ws_targets():
    started: list[WsTarget] = []

    def start(name):
        t = WsTarget(name)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_config(port, groups, default, rules=(), attributes=None, extra_listeners=()):
    return lb_config(port, forward(default), rules=rules, target_groups=groups,
                     attributes=attributes, extra_listeners=extra_listeners)


# ---- raw-socket helpers ---------------------------------------------------------------------

UPGRADE_REQUEST = (b"GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   b"Sec-WebSocket-Version: 13\r\n\r\n")


def read_until(sock, marker: bytes, limit: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while marker not in data:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}: {data!r}")
        data += chunk
    return data


def read_to_eof(sock, limit: float = 10.0) -> bytes:
    data = b""
    sock.settimeout(limit)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


class RawUpgradeTarget:
    """A one-connection raw target: reads the upgrade request, answers `answer`, then runs
    `after(conn)`. Keeps the request head it got."""

    def __init__(self, answer: bytes, after=None):
        self.answer = answer
        self.after = after
        self.head = b""
        self.error = None
        self.listener = socket.socket()
        self.listener.bind((LOCAL, 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
            with conn:
                self.head = read_until(conn, b"\r\n\r\n")
                conn.sendall(self.answer)
                if self.after:
                    self.after(conn)
        except BaseException as e:  # noqa: BLE001
            self.error = e
        finally:
            self.listener.close()

    def join(self):
        self.thread.join(15)
        assert not self.thread.is_alive(), "raw target did not finish"
        if self.error:
            raise self.error


SWITCH = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


# ---- tests ----------------------------------------------------------------------------------

def test_echo_of_text_binary_and_large_messages(sluice, ws_targets):
    t = ws_targets("a")
    port = free_port()
    sluice(ws_config(port, [target_group("ws", [t.port])], "ws"))

    async def go():
        async with websockets.connect(f"ws://{LOCAL}:{port}/chat", max_size=None,
                                      ping_interval=None) as ws:
            assert ws.response_headers["Connection"].lower() == "upgrade"
            assert ws.response_headers["Upgrade"].lower() == "websocket"
            await ws.send("whoami")
            assert await ws.recv() == "a"
            big = os.urandom(4 * 1024 * 1024)
            await ws.send(big)
            assert await ws.recv() == big
            for i in range(200):
                await ws.send(f"m{i}")
            got = [await ws.recv() for _ in range(200)]
            assert got == [f"m{i}" for i in range(200)]
            await ws.send("headers")
            return await ws.recv()

    headers = run(go())
    lines = {line.split(": ", 1)[0].lower(): line.split(": ", 1)[1] for line in headers.split("\n")}
    assert lines["x-forwarded-for"] == LOCAL
    assert lines["x-forwarded-proto"] == "http"
    assert lines["upgrade"] == "websocket"
    assert lines["connection"] == "Upgrade"
    assert "x-amzn-trace-id" in lines
    wait_until(lambda: t.closed == 1, 5, what="the target to see the close")


def test_wss_on_an_https_listener(sluice, ws_targets, tmp_path):
    crt, key = tmp_path / "ws.crt", tmp_path / "ws.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-subj", "/CN=ws.test", "-days", "2", "-addext", "subjectAltName=DNS:ws.test"],
                   check=True, capture_output=True, timeout=60)
    t = ws_targets("secure")
    port = free_port()
    listener = {"Protocol": "HTTPS", "Port": port, "BindAddress": LOCAL,
                "Certificates": ["ws"], "DefaultActions": [forward("ws")]}
    cfg = {"Certificates": [{"Name": "ws", "CertificateFile": str(crt),
                             "PrivateKeyFile": str(key)}],
           "LoadBalancers": [{"Name": "sec", "Listeners": [listener]}],
           "TargetGroups": [target_group("ws", [t.port])]}
    sluice(cfg)
    ctx = ssl.create_default_context(cafile=str(crt))

    async def go():
        async with websockets.connect(f"wss://ws.test:{port}/", ssl=ctx, max_size=None,
                                      ping_interval=None, host=LOCAL, port=port,
                                      server_hostname="ws.test") as ws:
            await ws.send("headers")
            headers = await ws.recv()
            payload = os.urandom(256 * 1024)
            await ws.send(payload)
            assert await ws.recv() == payload
            return headers

    headers = run(go())
    assert "X-Forwarded-Proto: https" in headers


def test_rules_route_the_upgrade_and_the_socket_stays_on_its_target(sluice, ws_targets):
    a, b = ws_targets("a"), ws_targets("b")
    port = free_port()
    sluice(ws_config(port, [target_group("ga", [a.port]), target_group("gb", [b.port])], "ga",
                     rules=[rule(10, [path_is("/b/*")], forward("gb"))]))

    async def ask(path):
        async with websockets.connect(f"ws://{LOCAL}:{port}{path}", ping_interval=None) as ws:
            names = set()
            for _ in range(20):
                await ws.send("whoami")
                names.add(await ws.recv())
            return names

    assert run(ask("/b/room")) == {"b"}
    assert run(ask("/other")) == {"a"}


def test_a_refused_upgrade_is_relayed_as_a_response(sluice, ws_targets):
    t = ws_targets("a")
    port = free_port()
    sluice(ws_config(port, [target_group("ws", [t.port])], "ws"))
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        s.sendall(UPGRADE_REQUEST.replace(b"/chat", b"/refuse"))
        data = read_until(s, b"no upgrade for you")
    assert data.startswith(b"HTTP/1.1 403 "), data


def test_other_upgrades_are_not_forwarded_and_an_unasked_101_is_a_502(sluice):
    # h2c: the target gets neither Upgrade nor the upgrade token in Connection.
    seen = RawUpgradeTarget(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    port = free_port()
    lb = sluice(ws_config(port, [target_group("t", [seen.port])], "t"))
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
        assert read_until(s, b"ok").startswith(b"HTTP/1.1 200 ")
    seen.join()
    head = seen.head.lower()
    assert b"upgrade" not in head and b"http2-settings" not in head, seen.head

    # A 101 to a request that did not ask for an upgrade: the target is wrong, 502.
    rogue = RawUpgradeTarget(SWITCH)
    cfg = ws_config(port, [target_group("t", [rogue.port])], "t")
    lb.reload(cfg)
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 502 ")
    rogue.join()


def test_half_close_in_both_directions(sluice):
    def after(conn):
        # The client's frames, then its end of stream, then ours.
        got = read_to_eof(conn)
        assert got == b"client-bytes", got
        conn.sendall(b"target-bytes-after-client-eof")
        conn.shutdown(socket.SHUT_WR)

    target = RawUpgradeTarget(SWITCH + b"early", after)
    port = free_port()
    sluice(ws_config(port, [target_group("t", [target.port])], "t"))
    with socket.create_connection((LOCAL, port), timeout=10) as s:
        s.sendall(UPGRADE_REQUEST)
        head = read_until(s, b"early")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
        assert b"\r\nConnection: Upgrade\r\n" in head
        s.sendall(b"client-bytes")
        s.shutdown(socket.SHUT_WR)
        rest = read_to_eof(s)
    assert rest == b"target-bytes-after-client-eof"
    target.join()
    assert b"\r\nupgrade: websocket\r\n" in target.head.lower()


def test_idle_timeout_closes_a_silent_websocket(sluice, ws_targets):
    t = ws_targets("a")
    port = free_port()
    sluice(ws_config(port, [target_group("ws", [t.port])], "ws",
                     attributes={"idle_timeout.timeout_seconds": "1"}))

    async def go():
        async with websockets.connect(f"ws://{LOCAL}:{port}/", ping_interval=None) as ws:
            await ws.send("whoami")
            assert await ws.recv() == "a"
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return time.monotonic() - started

    waited = run(go())
    assert 0.8 <= waited < 5, waited


def test_draining_keeps_a_websocket_until_the_delay_ends(sluice, ws_targets):
    a, b = ws_targets("a"), ws_targets("b")
    port = free_port()

    def cfg(ports):
        return ws_config(port, [target_group("ws", ports, attributes={
            "deregistration_delay.timeout_seconds": "3"})], "ws")

    lb = sluice(cfg([a.port]))

    async def go():
        async with websockets.connect(f"ws://{LOCAL}:{port}/", ping_interval=None) as ws:
            await ws.send("whoami")
            assert await ws.recv() == "a"
            lb.reload(cfg([b.port]))  # a drains
            deregistered = time.monotonic()
            await ws.send("whoami")
            assert await ws.recv() == "a"  # still open, still pinned
            async with websockets.connect(f"ws://{LOCAL}:{port}/", ping_interval=None) as new:
                await new.send("whoami")
                assert await new.recv() == "b"
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.send("whoami")
                    await asyncio.wait_for(ws.recv(), 10)
                    await asyncio.sleep(0.1)
            return time.monotonic() - deregistered

    lasted = run(go())
    assert 2.0 <= lasted < 8, lasted


def test_access_log_has_one_ws_entry_written_at_close(sluice, ws_targets, tmp_path):
    t = ws_targets("a")
    port = free_port()
    logs = tmp_path / "logs"
    lb = sluice(ws_config(port, [target_group("ws", [t.port])], "ws", attributes={
        "access_logs.s3.enabled": True, "sluice.access_logs.directory": str(logs)}))

    async def go():
        async with websockets.connect(f"ws://{LOCAL}:{port}/live", ping_interval=None,
                                      compression=None) as ws:
            await ws.send("x" * 5000)
            assert len(await ws.recv()) == 5000
            await asyncio.sleep(0.3)

    run(go())
    lb.proc.signal(signal.SIGTERM)
    lb.proc.popen.wait(15)
    lines = []
    for f in sorted(logs.rglob("*.log.gz")):
        with gzip.open(f, "rt", encoding="ascii") as fh:
            lines.extend(fh.read().splitlines())
    assert len(lines) == 1, lines
    fields = lines[0].split(" ")
    assert fields[0] == "ws"
    assert fields[8:10] == ["101", "101"], fields[:12]
    received, sent = int(fields[10]), int(fields[11])
    assert received > 5000 and sent > 5000, (received, sent)  # frames both ways, heads included
    assert f'"GET http://{LOCAL}:{port}/live HTTP/1.1"' in lines[0]
