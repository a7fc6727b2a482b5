"""ALB-generated error responses, each produced by a real fault or a real malformed request."""

import socket
import time

import pytest

from conftest import (HttpConn, IncompleteResponse, forward, free_port, lb_config, one_response,
                      raw_exchange, target_group)

SHORT_IDLE = {"idle_timeout.timeout_seconds": 2}


def start_proxy(sluice, ports, attributes=None):
    port = free_port()
    cfg = lb_config(port, forward("tg"), target_groups=[target_group("tg", ports)],
                    attributes=attributes)
    return sluice(cfg)


def assert_elb_error(r, status):
    assert r.status == status, r
    assert r.header("Server") == "awselb/2.0", r
    assert (r.header("Content-Type") or "").startswith("text/html"), r
    assert str(status).encode() in r.body, r


def get(port, path="/", extra=b"", version=b"HTTP/1.1"):
    return one_response(port, b"GET " + path.encode() + b" " + version +
                        b"\r\nHost: err.example.com\r\n" + extra + b"\r\n")


# ---- faults on the target side ---------------------------------------------------------------

def test_502_connection_refused(sluice):
    dead = free_port()  # nothing listens here
    s = start_proxy(sluice, [dead])
    t0 = time.monotonic()
    r = get(s.port)
    assert_elb_error(r, 502)
    assert time.monotonic() - t0 < 5


def test_504_target_hangs(sluice, faulty):
    b = faulty("hang")
    s = start_proxy(sluice, [b.port], SHORT_IDLE)
    t0 = time.monotonic()
    r = get(s.port, "/hang")
    elapsed = time.monotonic() - t0
    assert_elb_error(r, 504)
    assert 1.5 <= elapsed <= 6, elapsed
    assert b.requests and b.requests[0].startswith(b"GET /hang HTTP/1.1\r\n")


def test_slow_target_within_idle_timeout_is_fine(sluice, faulty):
    b = faulty("slow", delay=1.0)
    s = start_proxy(sluice, [b.port], SHORT_IDLE)
    r = get(s.port, "/slow")
    assert r.status == 200 and r.body == b"slow\n"


def test_502_reset_mid_response_truncates(sluice, faulty, demo_targets):
    b = faulty("reset_mid")
    s = start_proxy(sluice, [b.port])
    with HttpConn(s.port) as c:
        c.send(b"GET /big HTTP/1.1\r\nHost: x.example.com\r\n\r\n")
        with pytest.raises(IncompleteResponse) as exc:
            c.read_response()
    # The head had already been relayed: the client sees 200 and a short body, never a fake
    # completion.
    head = exc.value.head
    assert head is not None and head.status == 200
    assert head.header("Content-Length") == "100000"
    assert 0 < len(exc.value.partial) < 100000
    # The proxy is fine afterwards.
    t = demo_targets("after")
    s2 = start_proxy(sluice, [t.port])
    assert get(s2.port).status == 200


def test_502_target_closes_without_answer(sluice, faulty):
    b = faulty("close_early")
    s = start_proxy(sluice, [b.port])
    assert_elb_error(get(s.port), 502)


def test_502_malformed_response(sluice, faulty):
    b = faulty("malformed")
    s = start_proxy(sluice, [b.port])
    assert_elb_error(get(s.port), 502)


def test_502_response_headers_over_32k(sluice, faulty):
    b = faulty("big_headers")
    s = start_proxy(sluice, [b.port])
    assert_elb_error(get(s.port), 502)


def test_503_no_registered_targets(sluice):
    port = free_port()
    tg = target_group("empty", [])
    tg["Targets"] = []
    cfg = lb_config(port, forward("empty"), target_groups=[tg])
    s = sluice(cfg)
    with HttpConn(s.port) as c:
        r = c.request("GET", "/")
        assert_elb_error(r, 503)
        r = c.request("GET", "/again")  # keep-alive survives an ELB 503
        assert r.status == 503


def test_error_leaves_connection_usable(sluice, demo_targets):
    """A 502 for one request does not break the client's keep-alive connection."""
    t = demo_targets("ok")
    dead = free_port()
    port = free_port()
    cfg = lb_config(port, forward("good"), rules=[
        {"Priority": 1,
         "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/dead"]}}],
         "Actions": [forward("bad")]},
    ], target_groups=[target_group("good", [t.port]), target_group("bad", [dead])])
    s = sluice(cfg)
    with HttpConn(s.port) as c:
        assert c.request("GET", "/dead").status == 502
        r = c.request("GET", "/fine")
        assert r.status == 200 and r.header("X-Sluice-Target") == "ok"


# ---- malformed or refused requests ------------------------------------------------------------

@pytest.fixture
def echo_proxy(sluice, demo_targets):
    t = demo_targets("echo")
    return start_proxy(sluice, [t.port], SHORT_IDLE)


def test_405_trace(echo_proxy):
    r = one_response(echo_proxy.port, b"TRACE / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
    assert_elb_error(r, 405)


def test_414_request_line_too_long(echo_proxy):
    r = get(echo_proxy.port, "/" + "a" * (17 * 1024))
    assert_elb_error(r, 414)


def test_long_but_allowed_request_line(echo_proxy):
    r = get(echo_proxy.port, "/" + "a" * (15 * 1024))
    assert r.status == 200


def test_400_single_header_too_large(echo_proxy):
    r = get(echo_proxy.port, extra=b"X-Big: " + b"b" * (17 * 1024) + b"\r\n")
    assert_elb_error(r, 400)


def test_400_total_headers_too_large(echo_proxy):
    extra = b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 8000) for i in range(9))  # ~72 KiB
    r = get(echo_proxy.port, extra=extra)
    assert_elb_error(r, 400)


def test_large_headers_within_limits(echo_proxy):
    extra = b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 8000) for i in range(6))  # ~48 KiB
    r = get(echo_proxy.port, extra=extra)
    assert r.status == 200


def test_463_too_many_xff_addresses(echo_proxy):
    xff = ", ".join(f"10.0.0.{i}" for i in range(31)).encode()
    r = get(echo_proxy.port, extra=b"X-Forwarded-For: " + xff + b"\r\n")
    assert_elb_error(r, 463)
    xff30 = ", ".join(f"10.0.0.{i}" for i in range(30)).encode()
    assert get(echo_proxy.port, extra=b"X-Forwarded-For: " + xff30 + b"\r\n").status == 200


def test_501_unsupported_transfer_encoding(echo_proxy):
    r = one_response(echo_proxy.port, b"POST / HTTP/1.1\r\nHost: a.example.com\r\n"
                                      b"Transfer-Encoding: gzip\r\n\r\n")
    assert_elb_error(r, 501)


def test_505_http2_request_line(echo_proxy):
    r = one_response(echo_proxy.port, b"GET / HTTP/2.0\r\nHost: a.example.com\r\n\r\n")
    assert_elb_error(r, 505)


def test_408_slow_request_head(echo_proxy):
    with HttpConn(echo_proxy.port) as c:
        c.send(b"GET /slowloris HTTP/1.1\r\nHost: a.example.com\r\nX-Partial: ")
        t0 = time.monotonic()
        c.sock.settimeout(10)
        r = c.read_response()
        elapsed = time.monotonic() - t0
        assert_elb_error(r, 408)
        assert 1.5 <= elapsed <= 6, elapsed
        assert c.closed_by_peer(3)


def test_400_severe_desync_conflicting_content_length(echo_proxy):
    data = (b"POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n"
            b"Content-Length: 6\r\n\r\nhello!")
    with HttpConn(echo_proxy.port) as c:
        c.send(data)
        r = c.read_response()
        assert_elb_error(r, 400)
        assert c.closed_by_peer(3), "defensive mode closes the client connection after Severe"


def test_400_garbage_request(echo_proxy):
    out = raw_exchange(echo_proxy.port, b"\x16\x03\x01\x02\x00garbage-not-http\r\n\r\n", 5)
    assert out.startswith(b"HTTP/1.1 400 "), out[:200]


def test_ambiguous_request_forwarded_then_closed(echo_proxy):
    """Both Content-Length and Transfer-Encoding: Ambiguous -> forwarded, then the
    connection is closed (defensive mode)."""
    data = (b"POST /amb HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    with HttpConn(echo_proxy.port) as c:
        c.send(data)
        r = c.read_response("POST")
        assert r.status == 200, r
        assert b"body-bytes: 3" in r.body
        assert c.closed_by_peer(3)


def test_client_gone_does_not_hurt_others(echo_proxy):
    """A client that disconnects mid-request leaves the proxy serving."""
    s = socket.create_connection(("127.0.0.1", echo_proxy.port), timeout=5)
    s.sendall(b"POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 1000\r\n\r\nabc")
    s.close()
    assert get(echo_proxy.port).status == 200


def canned_proxy(sluice, faulty, data, attributes=None):
    b = faulty("canned")
    b.canned = data
    return start_proxy(sluice, [b.port], attributes)


@pytest.mark.parametrize("name,data", [
    ("bad content-length", b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nabc"),
    ("conflicting content-length",
     b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
    ("unknown transfer-coding", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
    ("not http", b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
])
def test_502_invalid_response_framing(sluice, faulty, name, data):
    s = canned_proxy(sluice, faulty, data)
    assert_elb_error(get(s.port), 502)


def test_close_delimited_response_relayed(sluice, faulty):
    s = canned_proxy(sluice, faulty,
                     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body")
    with HttpConn(s.port) as c:
        r = c.request("GET", "/")
        assert r.status == 200 and r.body == b"close-delimited body"
        # Without a length the only valid framing to a 1.1 client is chunked or close.
        if r.header("Transfer-Encoding") is None and r.header("Content-Length") is None:
            assert c.eof


def test_response_with_both_cl_and_te(sluice, faulty):
    s = canned_proxy(sluice, faulty, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    r = get(s.port)
    if r.status == 502:
        return
    assert r.status == 200
    assert r.header("Content-Length") is None, r.header_list
    assert r.body == b"abc"


# A response head in canonical form that needs no change is relayed from the upstream buffer
# without being rebuilt (decision 0004); anything else is rebuilt. Either way the client must
# see the same normalised bytes it would get from the rebuild.
KEEP_ALIVE_GET = b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"


@pytest.mark.parametrize("name,sent,relayed", [
    ("canonical head, unchanged",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Odd-Case: a  b\r\n\r\nhi",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Odd-Case: a  b\r\n\r\nhi"),
    ("no space after colon",
     b"HTTP/1.1 200 OK\r\nContent-Length:2\r\nX-A:b\r\n\r\nhi",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi"),
    ("trailing whitespace in a value",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b \t\r\n\r\nhi",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi"),
    ("bare LF line ends",
     b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nhi",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi"),
    ("hop-by-hop field removed",
     b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nhi",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    ("HTTP/1.0 status line rewritten",
     b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
])
def test_response_head_relayed_in_canonical_form(sluice, faulty, name, sent, relayed):
    s = canned_proxy(sluice, faulty, sent)
    assert raw_exchange(s.port, KEEP_ALIVE_GET, timeout=1.0) == relayed
