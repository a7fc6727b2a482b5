#!/usr/bin/python3
"""Writes the seed corpus of the upstream_response fuzz target (see fuzz.cc: a flags byte,
then the target's bytes). Deterministic.

Usage: tests/fuzz/upstream_response/make_corpus.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def flags(piece=32, head=False, http10=False, close_after=False):
    return bytes([(piece - 1) | (32 if head else 0) | (64 if http10 else 0)
                  | (128 if close_after else 0)])


SEEDS = {
    "length": flags() + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "length-pieces": flags(piece=1) + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": flags(piece=5) + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "chunked-to-http10": flags(http10=True) + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
    + b"\r\n3;ext=1\r\nabc\r\n0\r\n\r\n",
    "close-delimited": flags(close_after=True) + b"HTTP/1.1 200 OK\r\n\r\nuntil close",
    "head": flags(head=True) + b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
    "no-content": flags() + b"HTTP/1.1 204 No Content\r\n\r\n",
    "interim": flags() + b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "connection-close": flags() + b"HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: x\r\n"
    + b"Content-Length: 2\r\n\r\nok",
    "cl-and-chunked": flags() + b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
    + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "bad-chunk": flags(close_after=True) + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"zz\r\nhello\r\n",
    "truncated": flags(close_after=True) + b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
    "garbage": flags() + b"SSH-2.0-OpenSSH_9.2\r\n",
    "http10-status": flags() + b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "no-reason": flags() + b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
    "bare-lf": flags() + b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "folded": flags() + b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "upgrade": flags() + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    "silent-close": flags(close_after=True),
    "set-cookie": flags() + b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 0\r\n\r\n",
}

corpus = os.path.join(HERE, "corpus")
os.makedirs(corpus, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)
