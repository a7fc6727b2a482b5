"""Many clients closing at once while their responses are in flight.

Regression test: an upstream connection released by a closing client could get one more
event from the same epoll batch and be scheduled for deletion twice (a crash seen by the
benchmark harness at the end of wrk runs). Bounded: 20 bursts of 64 connections.
"""
import socket
import struct
import threading

from conftest import LOCAL, forward, free_port, lb_config, target_group


def _burst(port: int, n: int, path: bytes):
    socks = []
    for _ in range(n):
        s = socket.create_connection((LOCAL, port), timeout=5)
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        socks.append(s)
    for i, s in enumerate(socks):
        if i % 2 == 0:
            # RST instead of FIN: the proxy sees an error while it still has work queued.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def test_mass_client_close_with_responses_in_flight(sluice, demo_targets):
    a, b = demo_targets("s1"), demo_targets("s2")
    port = free_port()
    s = sluice(lb_config(port, forward("g"), target_groups=[target_group("g", [a.port, b.port])]),
               workers=1)
    threads = []
    for round_ in range(20):
        path = b"/x?bytes=200000" if round_ % 2 else b"/x"
        t = threading.Thread(target=_burst, args=(port, 64, path))
        t.start()
        threads.append(t)
        if len(threads) >= 2:
            threads.pop(0).join(10)
    for t in threads:
        t.join(10)
    assert s.proc.alive(), s.proc.stderr()
    # Still serving afterwards.
    with socket.create_connection((LOCAL, port), timeout=5) as c:
        c.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert s.proc.alive()
