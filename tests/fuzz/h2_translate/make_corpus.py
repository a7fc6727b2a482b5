#!/usr/bin/python3
"""Writes the seed corpus of the h2_translate fuzz target (see fuzz.cc for the layout: a flags
byte, then either request header fields, one "name\\tvalue" per line, or the bytes of an
HTTP/1.1 response). Deterministic.

The corpus also keeps files the fuzzer found (fuzz-*: the inputs of a 6-minute run that added
the most coverage); this script leaves them alone.

Usage: tests/fuzz/h2_translate/make_corpus.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def req(fields, end_stream=True):
    return bytes([2 if end_stream else 0]) + b"\n".join(n + b"\t" + v for n, v in fields)


def resp(data, head_request=False, seed=0):
    return bytes([1 | (2 if head_request else 0) | (seed << 2)]) + data


GET = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.com"),
       (b":path", b"/a?b=1")]

SEEDS = {
    "req-get": req(GET + [(b"accept", b"*/*"), (b"user-agent", b"fuzz/1")]),
    "req-host-and-authority": req(GET + [(b"host", b"other.test")]),
    "req-host-only": req([(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"),
                          (b"host", b"h.test")]),
    "req-cookies": req(GET + [(b"cookie", b"a=1"), (b"x-y", b"z"), (b"cookie", b"b=2")]),
    "req-post-length": req([(b":method", b"POST"), (b":path", b"/up"), (b":authority", b"a"),
                            (b"content-length", b"5")], end_stream=False),
    "req-post-chunked": req([(b":method", b"POST"), (b":path", b"/up"), (b":authority", b"a")],
                            end_stream=False),
    "req-duplicate-pseudo": req(GET + [(b":path", b"/again")]),
    "req-late-pseudo": req([(b":method", b"GET"), (b"x", b"1"), (b":path", b"/")]),
    # "*<c>": the value repeated to (c & 0x7f) * 128 bytes.
    "req-field-over-8k": req(GET + [(b"*\x41x-big", b"v")]),
    "req-block-over-64k": req(GET + [(b"*\x3ex-f%d" % i, b"ab") for i in range(10)]),
    "req-cookie-crumbs-large": req(GET + [(b"*\x36cookie", b"c=v") for i in range(3)]),
    "req-many-fields": req(GET + [(b"x-%d" % i, b"1") for i in range(260)]),
    "req-connect": req([(b":method", b"CONNECT"), (b":authority", b"example.com:443")],
                       end_stream=False),
    "req-te-trailers": req(GET + [(b"te", b"trailers")]),
    "req-websocket": req([(b":method", b"CONNECT"), (b":protocol", b"websocket"),
                          (b":scheme", b"https"), (b":path", b"/chat"),
                          (b":authority", b"example.com"), (b"sec-websocket-version", b"13"),
                          (b"sec-websocket-key", b"dropped"), (b"cookie", b"a=1")],
                         end_stream=False),
    "resp-length": resp(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
                        b"\r\n0123456789", seed=3),
    "resp-chunked": resp(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                         b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", seed=7),
    "resp-until-close": resp(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nbody until the end", seed=11),
    "resp-head": resp(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head_request=True),
    "resp-204": resp(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", seed=2),
    "resp-304": resp(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", seed=5),
    "resp-interim": resp(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                         b"Link: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                         seed=13),
    "resp-connection-fields": resp(
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n"
        b"Proxy-Connection: keep-alive\r\nUpgrade: foo\r\nX-Hop: 1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: Text/HTML\r\nSet-Cookie: A=B\r\n\r\n0\r\n\r\n", seed=17),
    "resp-bad-status": resp(b"HTTP/1.1 2xx Nope\r\n\r\n"),
    "resp-bad-chunk": resp(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    "resp-truncated": resp(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", seed=19),
    "resp-cl-and-chunked": resp(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", seed=23),
    "resp-http10": resp(b"HTTP/1.0 200 OK\r\n\r\nold", seed=29),
    # WebSocket over HTTP/2 (flags bit 7): the 101 and the tunnel's bytes; a 200 instead.
    "resp-websocket": bytes([0x81]) + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
                      b"\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n\x81\x02hi",
    "resp-websocket-200": bytes([0x85]) + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    # A 101, an interim head over 8 KiB, then six more than the four given out.
    "resp-interim-limits": resp(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: <" + b"x" * 8200 + b">\r\n\r\n"
        + b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nConnection: x\r\nX: 1\r\n"
          b"Content-Length: 0\r\n\r\n" * 6
        + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", seed=31),
}

corpus = os.path.join(HERE, "corpus")
os.makedirs(corpus, exist_ok=True)
for name, payload in SEEDS.items():
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(payload)
