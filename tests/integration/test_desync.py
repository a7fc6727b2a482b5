"""routing.http.desync_mitigation_mode on the wire: what each mode does with Compliant,
Acceptable, Ambiguous and Severe requests (http_desync_guardian classification)."""

import pytest

from conftest import HttpConn, forward, free_port, lb_config, target_group

COMPLIANT = b"GET /c HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
# GET with Content-Length: 0 (GetHeadZeroContentLength)
ACCEPTABLE = b"GET /a HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 0\r\n\r\n"
# Both Content-Length and Transfer-Encoding (BothTeClPresent)
AMBIGUOUS = (b"POST /b HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
# Two different Content-Length values (MultipleContentLength)
SEVERE = (b"POST /s HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 3\r\n"
          b"Content-Length: 4\r\n\r\nabcd")
SEVERE_NUL = b"GET /n HTTP/1.1\r\nHost: a.example.com\r\nX-A: a\x00b\r\n\r\n"
SEVERE_TE = (b"POST /t HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked, chunked\r\n"
             b"\r\n0\r\n\r\n")


@pytest.fixture
def mode_proxy(sluice, demo_targets):
    def start(mode):
        t = demo_targets("d")
        port = free_port()
        return sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])],
                                attributes={"routing.http.desync_mitigation_mode": mode}))
    return start


def send(s, data, method="GET"):
    c = HttpConn(s.port, timeout=5)
    c.send(data)
    return c, c.read_response(method)


def is_forwarded(r):
    return r.status == 200 and r.header("X-Sluice-Target") == "d"


def is_blocked(r):
    return r.status == 400 and r.header("Server") == "awselb/2.0"


def test_defensive(mode_proxy):
    s = mode_proxy("defensive")
    c, r = send(s, COMPLIANT)
    with c:
        assert is_forwarded(r)
        assert not c.closed_by_peer(0.5)
    c, r = send(s, ACCEPTABLE)
    with c:
        assert is_forwarded(r)
        assert not c.closed_by_peer(0.5)
    c, r = send(s, AMBIGUOUS, "POST")
    with c:
        assert is_forwarded(r) and "body-bytes: 3" in r.text  # chunked wins over CL
        assert c.closed_by_peer(3)
    for severe in (SEVERE, SEVERE_NUL, SEVERE_TE):
        c, r = send(s, severe)
        with c:
            assert is_blocked(r), (severe, r)
            assert c.closed_by_peer(3)


def test_strictest(mode_proxy):
    s = mode_proxy("strictest")
    c, r = send(s, COMPLIANT)
    with c:
        assert is_forwarded(r)
    for data in (ACCEPTABLE, AMBIGUOUS, SEVERE, SEVERE_NUL):
        c, r = send(s, data)
        with c:
            assert is_blocked(r), (data, r)


def test_monitor_forwards_ambiguous_and_keeps_connection(mode_proxy):
    s = mode_proxy("monitor")
    c, r = send(s, ACCEPTABLE)
    with c:
        assert is_forwarded(r)
    c, r = send(s, AMBIGUOUS, "POST")
    with c:
        assert is_forwarded(r)
        # Monitor mode does not close the connection: a second request works.
        r2 = c.request("GET", "/after")
        assert is_forwarded(r2)


def test_severe_request_never_reaches_target(sluice, faulty):
    b = faulty("slow", delay=0)
    port = free_port()
    s = sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [b.port])]))
    c, r = send(s, SEVERE)
    with c:
        assert is_blocked(r)
    assert b.requests == []
