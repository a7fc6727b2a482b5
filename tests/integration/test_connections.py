"""Connection management on both sides: idle timeouts, upstream reuse, targets that close
keep-alive connections, retries, slow readers and many concurrent clients."""

import time

import pytest

from conftest import (HttpConn, IncompleteResponse, fixed, forward, free_port, lb_config,
                      parse_echo, path_is, rule, target_group)

SHORT_IDLE = {"idle_timeout.timeout_seconds": 2}


def proxy_to(sluice, ports, attributes=None, workers=2):
    port = free_port()
    return sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", ports)],
                            attributes=attributes), workers=workers)


def test_idle_client_connection_closed_after_idle_timeout(sluice, demo_targets):
    t = demo_targets("idle")
    s = proxy_to(sluice, [t.port], SHORT_IDLE)
    with HttpConn(s.port) as c:
        assert c.request("GET", "/").status == 200
        t0 = time.monotonic()
        assert c.closed_by_peer(6), "idle connection was not closed"
        assert 1.5 <= time.monotonic() - t0 <= 4


def test_upstream_connections_are_reused(sluice, demo_targets):
    t = demo_targets("reuse")
    s = proxy_to(sluice, [t.port])
    with HttpConn(s.port) as c:
        peers = set()
        for i in range(10):
            r = c.request("GET", f"/r{i}")
            assert r.status == 200
            peers.add(parse_echo(r.text)["client"])
    assert len(peers) == 1, peers


def test_target_closing_with_connection_close_is_transparent(sluice, demo_targets):
    t = demo_targets("closer")
    s = proxy_to(sluice, [t.port])
    with HttpConn(s.port) as c:
        r = c.request("GET", "/a?close=1")  # the target answers and closes its side
        assert r.status == 200
        assert (r.header("Connection") or "").lower() != "close"  # hop-by-hop, not relayed
        r = c.request("POST", "/b", body=b"xyz")
        assert r.status == 200 and "body-bytes: 3" in r.text


def test_target_closing_idle_keepalive_connections(sluice, faulty):
    """The target closes pooled connections after 0.2 s idle; later requests (GET and POST)
    must not fail on a dead pooled connection."""
    b = faulty("keepalive", delay=0.2)
    s = proxy_to(sluice, [b.port], workers=1)
    with HttpConn(s.port) as c:
        for i in range(3):
            r = c.request("GET", f"/k{i}")
            assert r.status == 200, r
            time.sleep(0.5)
        for i in range(3):
            r = c.request("POST", f"/p{i}", body=b"hello")
            assert r.status == 200, r
            time.sleep(0.5)


def test_non_idempotent_request_never_sent_twice(sluice, faulty):
    b = faulty("close_early")
    s = proxy_to(sluice, [b.port])
    with HttpConn(s.port) as c:
        r = c.request("POST", "/pay", body=b"amount=1")
        assert r.status == 502
    time.sleep(0.3)
    assert len(b.requests) == 1, b.requests


def test_dribbled_response_longer_than_idle_timeout(sluice, faulty):
    """Bytes keep flowing (one every 0.6 s for 3 s): the idle timeout (2 s) never fires."""
    b = faulty("dribble", delay=0.6)
    s = proxy_to(sluice, [b.port], SHORT_IDLE)
    t0 = time.monotonic()
    with HttpConn(s.port) as c:
        r = c.request("GET", "/drip")
    assert r.status == 200 and r.body == b"abcde"
    assert time.monotonic() - t0 >= 2.5


def test_target_stalls_mid_body(sluice, faulty):
    b = faulty("stall_body")
    s = proxy_to(sluice, [b.port], SHORT_IDLE)
    t0 = time.monotonic()
    with HttpConn(s.port) as c:
        with pytest.raises(IncompleteResponse) as exc:
            c.request("GET", "/stall")
    assert exc.value.head is not None and exc.value.head.status == 200
    assert exc.value.partial == b"abc"
    assert 1.5 <= time.monotonic() - t0 <= 6


def rss_kb(pid) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_reader_memory_bounded(sluice, demo_targets):
    """A client that stops reading a 300 MB response must not make the proxy buffer it."""
    t = demo_targets("big")
    s = proxy_to(sluice, [t.port])
    before = rss_kb(s.proc.pid)
    with HttpConn(s.port) as c:
        c.send(b"GET /big?bytes=314572800 HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        got = 0
        while got < 2_000_000:
            chunk = c.sock.recv(65536)
            assert chunk
            got += len(chunk)
        time.sleep(1.5)  # the target keeps producing; the proxy must push back
        after = rss_kb(s.proc.pid)
    assert after - before < 64 * 1024, (before, after)
    # Still serving.
    with HttpConn(s.port) as c:
        assert c.request("GET", "/ok").status == 200


def test_many_concurrent_connections(sluice, demo_targets):
    t = demo_targets("many")
    s = proxy_to(sluice, [t.port])
    conns = []
    try:
        for _ in range(300):
            conns.append(HttpConn(s.port))
        for i, c in enumerate(conns):
            c.send(f"GET /m{i}?delay_ms=200 HTTP/1.1\r\nHost: a.example.com\r\n\r\n".encode())
        t0 = time.monotonic()
        for i, c in enumerate(conns):
            r = c.read_response()
            assert r.status == 200 and f"GET /m{i}?" in r.text
        assert time.monotonic() - t0 < 10
    finally:
        for c in conns:
            c.close()


def test_request_body_to_fixed_response_is_consumed(sluice):
    port = free_port()
    s = sluice(lb_config(port, fixed("200", "fixed-body")))
    with HttpConn(s.port) as c:
        c.send(b"POST /f HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 10\r\n\r\n0123456789"
               b"POST /f HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n0\r\n\r\n"
               b"GET /g HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        for _ in range(3):
            r = c.read_response()
            assert r.status == 200 and r.body == b"fixed-body"
        r = c.request("HEAD", "/h")
        assert r.status == 200 and r.body == b"" and r.header("Content-Length") == "10"
        assert c.request("GET", "/again").body == b"fixed-body"


def test_pipelined_requests_across_actions(sluice, demo_targets):
    """Responses stay in order when pipelined requests hit a target, a fixed response, an
    ALB error, and a target again."""
    t = demo_targets("mix")
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), rules=[
        rule(1, [path_is("/fixed")], fixed("202", "fixed")),
    ], target_groups=[target_group("tg", [t.port])]))
    with HttpConn(s.port) as c:
        c.send(b"GET /one?delay_ms=200 HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
               b"GET /fixed HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
               b"GET /three HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
    assert r1.status == 200 and "GET /one?" in r1.text
    assert r2.status == 202 and r2.body == b"fixed"
    assert r3.status == 200 and "GET /three" in r3.text
