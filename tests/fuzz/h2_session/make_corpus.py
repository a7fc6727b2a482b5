#!/usr/bin/python3
"""Writes the seed corpus of the h2_session fuzz target (see fuzz.cc for the layout: two flag
bytes, then the client's HTTP/2 frames; the 24-byte client preface is prepended by the target
unless flag bit 7 is set). Frames are made with hyperframe and hpack (Debian's
/usr/bin/python3 has them). Deterministic.

The corpus also keeps files the fuzzer found (fuzz-*: the inputs of a 28-minute run that
added the most coverage; slow-preface-408: a preface a byte a second, answered by the
HTTP/1.1 head timeout); this script leaves them alone.

Usage: /usr/bin/python3 tests/fuzz/h2_session/make_corpus.py
"""
import os

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame,
                              PingFrame, PriorityFrame, RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)

HERE = os.path.dirname(os.path.abspath(__file__))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

PIECES = [1, 9, 64, 512, 4096, 16384, 65536, None]  # index → bits 0-2
MODES = {"length": 0, "chunked": 1, "close": 2, "silent": 3}
BODIES = [2, 1000, 70000, 300000]


def flags(piece=None, mode="length", no_read=False, tick=False, raw=False, body=2,
          interim=False, close_after=False):
    f0 = PIECES.index(piece) | (MODES[mode] << 3) | (0x20 if no_read else 0) | \
        (0x40 if tick else 0) | (0x80 if raw else 0)
    f1 = BODIES.index(body) | (4 if interim else 0) | (8 if close_after else 0)
    return bytes([f0, f1])


def settings(**kv):
    f = SettingsFrame(0)
    for k, v in kv.items():
        f.settings[getattr(SettingsFrame, k)] = v
    return f.serialize()


def settings_ack():
    return SettingsFrame(0, flags=["ACK"]).serialize()


def block(fields):
    return hpack.Encoder().encode(fields)


def request(method, path, extra=(), authority="example.com"):
    return [(":method", method), (":scheme", "http"), (":authority", authority),
            (":path", path)] + list(extra)


def headers(stream, fields, end_stream=True, end_headers=True, encoder=None):
    data = (encoder or hpack.Encoder()).encode(fields)
    fl = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
    return HeadersFrame(stream, data=data, flags=fl).serialize()


def data(stream, payload, end_stream=False):
    return DataFrame(stream, data=payload, flags=["END_STREAM"] if end_stream else []).serialize()


START = settings() + settings_ack()


def seeds():
    s = {}
    s["get"] = flags() + START + headers(1, request("GET", "/a"))
    s["get-pieces-1"] = flags(piece=1) + START + headers(1, request("GET", "/a"))
    s["get-no-preface-pieces-9"] = flags(piece=9, raw=True) + PREFACE + START + headers(
        1, request("GET", "/a", [("accept", "*/*"), ("cookie", "a=1"), ("cookie", "b=2")]))
    s["head"] = flags(body=1000) + START + headers(1, request("HEAD", "/a"))
    s["fixed-and-redirect"] = flags() + START + headers(1, request("GET", "/f")) + headers(
        3, request("GET", "/r?q=1"))
    s["post-chunked"] = flags(mode="chunked") + START + headers(
        1, request("POST", "/a"), end_stream=False) + data(1, b"hello") + data(
        1, b" world") + data(1, b"", end_stream=True)
    s["post-length"] = flags() + START + headers(
        1, request("POST", "/a", [("content-length", "5")]), end_stream=False) + data(
        1, b"hello", end_stream=True)
    s["post-trailers"] = flags() + START + headers(
        1, request("POST", "/a"), end_stream=False) + data(1, b"abc") + headers(
        1, [("x-trailer", "t")], end_stream=True)
    s["post-upload-4k"] = flags(piece=512) + START + headers(
        1, request("PUT", "/a", [("content-length", "4000")]), end_stream=False) + b"".join(
        data(1, b"u" * 1000, end_stream=(i == 3)) for i in range(4))
    s["two-streams-big"] = flags(body=70000, mode="chunked") + START + headers(
        1, request("GET", "/a")) + headers(3, request("GET", "/b"))
    enc = hpack.Encoder()
    s["many-streams-one-encoder"] = flags(body=1000) + START + b"".join(
        headers(2 * i + 1, request("GET", "/a%d" % i), encoder=enc) for i in range(12))
    s["rst-mid-response"] = flags(body=300000) + START + headers(
        1, request("GET", "/a")) + headers(3, request("GET", "/b")) + RstStreamFrame(
        1, error_code=8).serialize()
    s["rapid-reset"] = flags(mode="silent") + START + b"".join(
        headers(2 * i + 1, request("GET", "/a")) + RstStreamFrame(2 * i + 1, error_code=8)
        .serialize() for i in range(20))
    s["pings"] = flags(tick=True) + START + PingFrame(0, opaque_data=b"12345678").serialize() * 3
    s["ping-only-idle"] = flags(tick=True, piece=9) + START + PingFrame(
        0, opaque_data=b"abcdefgh").serialize()
    s["window-zero"] = flags(body=1000) + settings(INITIAL_WINDOW_SIZE=0) + settings_ack() + \
        headers(1, request("GET", "/a")) + WindowUpdateFrame(1, window_increment=100).serialize() \
        + WindowUpdateFrame(0, window_increment=1000).serialize()
    s["window-small-big-body"] = flags(body=300000, piece=512) + settings(
        INITIAL_WINDOW_SIZE=1000, MAX_FRAME_SIZE=16384) + settings_ack() + headers(
        1, request("GET", "/a")) + b"".join(
        WindowUpdateFrame(sid, window_increment=30000).serialize() for sid in (0, 1, 0, 1))
    s["no-read-big"] = flags(no_read=True, body=300000) + START + headers(
        1, request("GET", "/a")) + headers(3, request("GET", "/b"))
    fields = block(request("GET", "/a", [("x-long", "v" * 300)]))
    s["continuation"] = flags() + START + HeadersFrame(
        1, data=fields[:40], flags=["END_STREAM"]).serialize() + ContinuationFrame(
        1, data=fields[40:100]).serialize() + ContinuationFrame(
        1, data=fields[100:], flags=["END_HEADERS"]).serialize()
    s["continuation-flood"] = flags() + START + HeadersFrame(
        1, data=fields[:10], flags=["END_STREAM"]).serialize() + b"".join(
        ContinuationFrame(1, data=fields[10 + i:11 + i]).serialize() for i in range(12))
    s["field-over-8k"] = flags() + START + headers(1, request("GET", "/a")) + headers(
        3, request("GET", "/a", [("x-big", "a" * 9000)]))
    s["block-over-64k"] = flags(piece=4096) + START + _big_block()
    s["priority-and-unknown"] = flags() + START + PriorityFrame(
        1, depends_on=0, stream_weight=16).serialize() + b"\x00\x00\x03\xfa\x00\x00\x00\x00\x01abc" \
        + headers(1, request("GET", "/a"))
    s["goaway-from-client"] = flags() + START + headers(1, request("GET", "/a")) + GoAwayFrame(
        0, last_stream_id=0, error_code=0).serialize()
    s["even-stream-id"] = flags() + START + headers(2, request("GET", "/a"))
    s["bad-pseudo"] = flags() + START + headers(1, [(":method", "GET"), (":path", "/a"),
                                                    (":path", "/b"), (":scheme", "http")])
    s["connect"] = flags() + START + headers(1, [(":method", "CONNECT"),
                                                 (":authority", "example.com:443")])
    s["expect-continue"] = flags(interim=True) + START + headers(
        1, request("POST", "/a", [("expect", "100-continue"), ("content-length", "3")]),
        end_stream=False) + data(1, b"abc", end_stream=True)
    s["until-close"] = flags(mode="close", body=1000) + START + headers(1, request("GET", "/a"))
    s["close-after-chunked"] = flags(mode="chunked", close_after=True, tick=True) + START + \
        headers(1, request("GET", "/a")) + headers(3, request("GET", "/f"))
    s["silent-target"] = flags(mode="silent") + START + headers(1, request("GET", "/a"))
    s["stalled-upload"] = flags(tick=True) + START + headers(
        1, request("POST", "/a", [("content-length", "100")]), end_stream=False) + data(1, b"x")
    s["http1-on-h2-listener"] = flags(raw=True) + b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    s["bad-magic"] = flags(raw=True) + b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + START
    return s


def _big_block():
    # A header block that decodes to about 73 KiB: one 2,000-byte field, then 35 references
    # to it in the dynamic table (one byte each).
    fields = block(request("GET", "/a", [("x-f", "a" * 2000)] * 36))
    return HeadersFrame(1, data=fields, flags=["END_STREAM", "END_HEADERS"]).serialize()


def main():
    corpus = os.path.join(HERE, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for name, payload in seeds().items():
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(payload)


if __name__ == "__main__":
    main()
