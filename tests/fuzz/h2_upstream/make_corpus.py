#!/usr/bin/python3
"""Writes the seed corpus of the h2_upstream fuzz target (see fuzz.cc for the layout: a flags
byte, then either the bytes of an HTTP/1.1 request, or a script for the response writer, one
step per line: F<name>\\t<value>, R<c><name>\\t<value>, H<e><r>, D<data>, Z<c>, E).
Deterministic.

Usage: tests/fuzz/h2_upstream/make_corpus.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def req(data, http=False, seed=0):
    return bytes([(2 if http else 0) | (seed << 2)]) + data


def resp(steps, head_request=False):
    return bytes([1 | (2 if head_request else 0)]) + b"\n".join(steps)


def f(name, value):
    return b"F" + name + b"\t" + value


SEEDS = {
    "req-get": req(b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz/1\r\n"
                   b"Accept: */*\r\n\r\n"),
    "req-connection-fields": req(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: 5\r\n"
        b"Proxy-Connection: x\r\nUpgrade: h2c\r\nTE: gzip\r\nX-Hop: 1\r\nX-Kept: 2\r\n\r\n", seed=3),
    "req-no-host": req(b"OPTIONS * HTTP/1.1\r\nAccept: x\r\n\r\n", http=True),
    "req-content-length": req(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"
                              b"0123456789", seed=7),
    "req-content-length-zero": req(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nX"),
    "req-chunked": req(b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nextra",
                       seed=11),
    "req-bad-chunk": req(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"zz\r\n", seed=13),
    "req-bad-head": req(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
    "req-bare-lf": req(b"GET / HTTP/1.1\nHost: a\n\n", seed=17),
    "resp-length": resp([f(b":status", b"200"), f(b"content-type", b"text/plain"),
                         f(b"content-length", b"11"), b"H0\x00", b"Dhello ", b"Dworld", b"E"]),
    "resp-chunked": resp([f(b":status", b"200"), f(b"x-a", b"1"), b"H0\x03", b"Dhello",
                          b"Z\x05", b"E"]),
    "resp-grpc-trailers": resp([f(b":status", b"200"), f(b"content-type", b"application/grpc"),
                                f(b"content-length", b"7"), b"H0\x00", b"Dabcdefg",
                                f(b"grpc-status", b"0"), f(b"grpc-message", b"ok"), b"E"]),
    "resp-end-stream": resp([f(b":status", b"404"), f(b"x-a", b"1"), b"H1\x02"]),
    "resp-head": resp([f(b":status", b"200"), f(b"content-length", b"10"), b"H0\x00", b"E"],
                      head_request=True),
    "resp-204": resp([f(b":status", b"204"), f(b"etag", b"\"x\""), b"H0\x00", b"E"]),
    "resp-interim": resp([f(b":status", b"100"), b"H0\x00", f(b":status", b"103"),
                          f(b"link", b"</s.css>"), b"H0\x00", f(b":status", b"201"),
                          b"H0\x00", b"Dok", b"E"]),
    "resp-connection-fields": resp([f(b":status", b"200"), f(b"connection", b"close"),
                                    f(b"transfer-encoding", b"gzip"), f(b"upgrade", b"x"),
                                    f(b"te", b"trailers"), f(b"keep-alive", b"1"),
                                    f(b"x-kept", b"1"), b"H0\x00", b"Dx", b"E"]),
    "resp-bad-status": resp([f(b":status", b"20x"), b"H0\x00"]),
    "resp-large-field": resp([f(b":status", b"200"), b"R\x40x-big\tv", b"R\x40x-big2\tw",
                              b"H0\x00", b"E"]),
    "resp-large-trailer": resp([f(b":status", b"200"), b"H0\x00", b"Da",
                                b"R\x70x-t\tabc", b"E"]),
    # An interim head over 8 KiB, then six more than the four written.
    "resp-interim-limits": resp([f(b":status", b"103"), b"R\x44link\tx", b"H0\x00"]
                                + [f(b":status", b"103"), f(b"link", b"</a>"),
                                   f(b"content-length", b"0"), b"H0\x00"] * 6
                                + [f(b":status", b"200"), b"H0\x00", b"Dok", b"E"]),
}

corpus = os.path.join(HERE, "corpus")
os.makedirs(corpus, exist_ok=True)
for name, payload in SEEDS.items():
    with open(os.path.join(corpus, name), "wb") as out:
        out.write(payload)
