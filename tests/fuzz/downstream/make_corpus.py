#!/usr/bin/python3
"""Writes the seed corpus of the downstream fuzz target (see fuzz.cc for the layout: a flags
byte, the client's bytes, optionally b"\\xff\\xfe" and the targets' answer). Deterministic.

Usage: tests/fuzz/downstream/make_corpus.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def flags(mode=0, close_after=False, piece=32):
    return bytes([mode | (4 if close_after else 0) | ((piece - 1) << 3)])


SEEDS = {
    "get": flags() + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    "get-small-pieces": flags(piece=1) + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined": flags() + b"GET /a1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a2 HTTP/1.1\r\nHost: x\r\n\r\n"
    + b"GET /zz HTTP/1.1\r\nHost: x\r\n\r\n",
    "post-chunked": flags(piece=7) + b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    + b"\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    "post-length": flags() + b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "expect-continue": flags() + b"PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
    + b"Content-Length: 3\r\n\r\nabc",
    "cl-te": flags() + b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
    "cl-te-strictest": flags(mode=2) + b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-header-monitor": flags(mode=1) + b"GET /a HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
    "http10": flags() + b"GET /a HTTP/1.0\r\n\r\n",
    "redirect": flags() + b"GET /r?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "partial-head": flags() + b"GET /a HTTP/1.1\r\nHo",
    "chunked-response": flags() + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe"
    + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "close-delimited": flags(close_after=True) + b"GET /a HTTP/1.0\r\n\r\n\xff\xfe"
    + b"HTTP/1.1 200 OK\r\n\r\nbody until close",
    "truncated": flags(close_after=True) + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe"
    + b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    "not-modified": flags() + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe"
    + b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "malformed-response": flags() + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfeHTTP/1.1 2xx\r\n\r\n",
    "upgrade": flags() + b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
    + b"Upgrade: websocket\r\n\r\n\xff\xfeHTTP/1.1 101 Switching Protocols\r\n\r\n",
    "interim": flags() + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\xff\xfe"
    + b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n" + OK,
}

corpus = os.path.join(HERE, "corpus")
os.makedirs(corpus, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)
