"""HTTP/1.1 message framing through the proxy: pipelining, chunked bodies, large streamed
bodies in both directions, Expect: 100-continue, HEAD, 204/304, HTTP/1.0 clients."""

import os
import re
import time

import pytest

from conftest import HttpConn, forward, free_port, lb_config, parse_echo, run_curl, target_group


@pytest.fixture
def proxy(sluice, demo_targets):
    t = demo_targets("frame")
    port = free_port()
    return sluice(lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])]))


def test_pipelined_requests_answered_in_order(proxy):
    with HttpConn(proxy.port) as c:
        # The first request is slow: responses must still come back in request order.
        reqs = b"".join(
            f"GET /p{i}?delay_ms={300 if i == 0 else 0} HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
            .encode() for i in range(5))
        c.send(reqs)
        for i in range(5):
            r = c.read_response()
            assert r.status == 200
            assert parse_echo(r.text)["request_line"].startswith(f"GET /p{i}?"), (i, r.text)


def test_pipelined_mixed_methods_with_bodies(proxy):
    with HttpConn(proxy.port) as c:
        c.send(b"POST /a HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 3\r\n\r\nabc"
               b"HEAD /b HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
               b"POST /c HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"2\r\nxy\r\n0\r\n\r\n"
               b"GET /d HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        r = c.read_response("POST")
        assert "POST /a" in r.text and "body-bytes: 3" in r.text
        r = c.read_response("HEAD")
        assert r.status == 200 and r.body == b""
        r = c.read_response("POST")
        assert "POST /c" in r.text and "body-bytes: 2" in r.text
        r = c.read_response()
        assert "GET /d" in r.text


def test_chunked_request_body(proxy):
    chunks = [b"a" * 10, b"b" * 1000, b"c" * 70000]
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(x), x) for x in chunks) + b"0\r\n\r\n"
    with HttpConn(proxy.port) as c:
        c.send(b"POST /chunked HTTP/1.1\r\nHost: a.example.com\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
        # Dribble the body in pieces to exercise partial reads.
        for i in range(0, len(body), 4096):
            c.send(body[i:i + 4096])
        r = c.read_response("POST")
    assert r.status == 200
    info = parse_echo(r.text)
    assert info["body_bytes"] == sum(len(x) for x in chunks)


def test_large_streamed_response_50mb(proxy):
    n = 50 * 1024 * 1024
    res = run_curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                    f"http://127.0.0.1:{proxy.port}/big?bytes={n}"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode() == f"200 {n}"


def test_large_streamed_chunked_response(proxy):
    n = 8 * 1024 * 1024 + 7
    res = run_curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                    f"http://127.0.0.1:{proxy.port}/big?bytes={n}&chunked=1"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode() == f"200 {n}"


def test_large_upload_20mb(proxy, tmp_path):
    n = 20 * 1024 * 1024
    f = tmp_path / "upload.bin"
    with open(f, "wb") as fh:
        fh.write(os.urandom(1024 * 1024) * 20)
    res = run_curl(["--data-binary", f"@{f}", "-H", "Content-Type: application/octet-stream",
                    "-H", "Expect:", f"http://127.0.0.1:{proxy.port}/upload"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"body-bytes: {n}\n" in res.stdout.decode()


def test_large_chunked_upload(proxy, tmp_path):
    n = 5 * 1024 * 1024
    f = tmp_path / "upload.bin"
    f.write_bytes(b"z" * n)
    res = run_curl(["--data-binary", f"@{f}", "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
                    f"http://127.0.0.1:{proxy.port}/upload"], timeout=60)
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    assert f"body-bytes: {n}\n" in out
    assert "Transfer-Encoding: chunked" in out


def test_expect_100_continue_curl(proxy, tmp_path):
    f = tmp_path / "body.bin"
    f.write_bytes(b"q" * 300000)
    t0 = time.monotonic()
    res = run_curl(["-v", "--data-binary", f"@{f}", "-H", "Expect: 100-continue",
                    "--expect100-timeout", "5", f"http://127.0.0.1:{proxy.port}/expect"],
                   timeout=30)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert "body-bytes: 300000\n" in res.stdout.decode()
    assert b"HTTP/1.1 100 Continue" in res.stderr, res.stderr.decode()[-2000:]
    assert elapsed < 4, "curl waited for its expect timeout: no 100 Continue arrived"


def test_expect_100_continue_raw(proxy):
    with HttpConn(proxy.port) as c:
        c.send(b"PUT /e HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n"
               b"Expect: 100-continue\r\n\r\n")
        interim = c.read_head()
        assert interim.status == 100, interim
        c.send(b"hello")
        r = c.read_response("PUT")
        assert r.status == 200 and "body-bytes: 5" in r.text
        # Connection still usable.
        assert c.request("GET", "/after").status == 200


def test_head_has_no_body(proxy):
    with HttpConn(proxy.port) as c:
        c.send(b"HEAD /h?bytes=5000 HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
               b"GET /g HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        r = c.read_response("HEAD")
        assert r.status == 200
        assert r.header("Content-Length") == "5000"
        r2 = c.read_response()  # would fail to parse if the HEAD response carried a body
        assert r2.status == 200 and "GET /g" in r2.text


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(proxy, status):
    with HttpConn(proxy.port) as c:
        c.send(f"GET /s?status={status} HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
               "GET /next HTTP/1.1\r\nHost: a.example.com\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == status and r.body == b""
        assert r.header("Transfer-Encoding") is None
        r2 = c.read_response()
        assert r2.status == 200 and "GET /next" in r2.text


def test_http10_client_gets_dechunked_body(proxy):
    with HttpConn(proxy.port) as c:
        c.send(b"GET /ten?chunked=1 HTTP/1.0\r\nHost: a.example.com\r\n\r\n")
        r = c.read_response()
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert r.status == 200
        assert r.header("Transfer-Encoding") is None, r.header_list
        # Body is framed by Content-Length or by close; in both cases it is plain text.
        assert r.text.startswith("target: frame\n"), r.text[:200]
        assert re.search(r"body-bytes: 0\n$", r.text), r.text
        if r.header("Content-Length") is None:
            assert c.eof


def test_http10_large_chunked_body(proxy):
    n = 3 * 1024 * 1024 + 11
    res = run_curl(["--http1.0", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                    f"http://127.0.0.1:{proxy.port}/big?bytes={n}&chunked=1"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode() == f"200 {n}"


def test_http10_keep_alive(proxy):
    with HttpConn(proxy.port) as c:
        r = c.request("GET", "/one", version="HTTP/1.0", headers={"Connection": "keep-alive"})
        assert r.status == 200
        if (r.header("Connection") or "").lower() == "keep-alive":
            r = c.request("GET", "/two", version="HTTP/1.0", headers={"Connection": "keep-alive"})
            assert r.status == 200 and "GET /two" in r.text
        else:
            assert c.closed_by_peer(3)


def test_connection_close_honoured(proxy):
    with HttpConn(proxy.port) as c:
        r = c.request("GET", "/bye", headers={"Connection": "close"})
        assert r.status == 200
        assert c.closed_by_peer(3)
