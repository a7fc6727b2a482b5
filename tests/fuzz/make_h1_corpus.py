#!/usr/bin/python3
"""Generates the seed corpora of the h1_request and h1_response fuzz targets.

Each seed is: one flags byte (bits 0-2: number of piece sizes that follow; the other bits pick
fuzz-target options), the piece sizes (each byte = size - 1), then the raw HTTP/1 message.

Request seeds are built from the aws/http-desync-guardian YAML cases (one per file and
expected reason) plus hand-made requests; response seeds are hand-made. Deterministic: running
it again rewrites the same files. Needs python3-yaml.

Usage: tests/fuzz/make_h1_corpus.py [--shared-dir /work/shared]
"""

import argparse
import glob
import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def seed(message, flags=0, pieces=()):
    """Prefixes `message` (bytes) with the flags byte and piece sizes."""
    assert len(pieces) <= 7 and all(1 <= p <= 256 for p in pieces)
    return bytes([(flags & 0xF8) | len(pieces)] + [p - 1 for p in pieces]) + message


def crlf(*lines):
    return "".join(line + "\r\n" for line in lines).encode("latin-1")


def chunked(*chunks, trailers=(), ext=""):
    out = b""
    for c in chunks:
        out += b"%x%s\r\n%s\r\n" % (len(c), ext.encode(), c)
    out += b"0\r\n" + b"".join(t.encode() + b"\r\n" for t in trailers) + b"\r\n"
    return out


def yaml_requests(shared_dir):
    seeds = {}
    for path in sorted(glob.glob(os.path.join(shared_dir, "data/desync-guardian/*.yaml"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        seen = set()
        with open(path, encoding="utf-8") as f:
            cases = yaml.safe_load(f) or []
        for case in cases:
            reason = case["expected"]["reason"]
            if reason in seen:
                continue
            seen.add(reason)
            method, uri = str(case["method"]), str(case["uri"])
            version = "" if case.get("version") is None else str(case["version"])
            line = f"{method} {uri} {version}" if version else f"{method} {uri}"
            head = line + "\r\n"
            body = b""
            for h in case.get("headers") or []:
                name = str(h["name"])
                value = "" if h.get("value") is None else str(h["value"])
                sep = ":" if value[:1] in (" ", "\t") else ": "
                head += name + sep + value + "\r\n"
                lname = name.strip().lower()
                if lname.endswith("transfer-encoding") and "chunked" in value.lower():
                    body = chunked(b"hello", b" world")
                elif lname == "content-length" and value.strip().isdigit() and not body:
                    body = b"x" * min(int(value.strip()), 32)
            message = (head + "\r\n").encode("utf-8") + body
            n = len(seeds)
            pieces = [(n * 37 + j * 11) % 64 + 1 for j in range(n % 4)]
            name = "yaml-%s-%s" % (stem, re.sub(r"[^A-Za-z0-9]+", "_", reason))
            seeds[name] = seed(message, flags=(n * 0x28) & 0xF8, pieces=pieces)
    return seeds


def hand_requests():
    big_value = "v" * (16384 - len("X-Big: "))
    fill = [f"X-Fill-{i}: " + "a" * (13107 - 2 - len(f"X-Fill-{i}: ")) for i in range(5)]
    fill[0] += "a"  # 65536 bytes of header lines in total
    xff31 = ", ".join(f"10.0.0.{i}" for i in range(1, 32))
    s = {
        "simple-get": seed(crlf("GET /index.html?x=1 HTTP/1.1", "Host: example.com",
                                "User-Agent: curl/8.0", "Accept: */*", "")),
        "pipelined": seed(crlf("GET /1 HTTP/1.1", "Host: a", "") +
                          crlf("POST /2 HTTP/1.1", "Host: a", "Content-Length: 5", "") + b"hello" +
                          crlf("GET /3 HTTP/1.1", "Host: a", ""), pieces=[3, 17]),
        "chunked-trailers": seed(crlf("POST /upload HTTP/1.1", "Host: a",
                                      "Transfer-Encoding: chunked", "") +
                                 chunked(b"hello", b"\r\n\r\n", b"x" * 40, ext=";name=value",
                                         trailers=["X-Checksum: abc", "X-More: 1"]) +
                                 crlf("GET /next HTTP/1.1", "Host: a", ""), pieces=[5, 1, 9]),
        "chunked-bytewise": seed(crlf("PUT /u HTTP/1.1", "Host: a", "Transfer-Encoding: chunked",
                                      "") + chunked(b"abc", b"defgh"), pieces=[1]),
        "chunked-te-and-cl": seed(crlf("POST / HTTP/1.1", "Host: a",
                                       "Transfer-Encoding: identity, chunked",
                                       "Content-Length: 10", "") + chunked(b"0123456789")),
        "chunked-huge-size": seed(crlf("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked",
                                       "") + b"fffffffffffffff\r\nabc", pieces=[2]),
        "chunked-bad-crlf": seed(crlf("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked",
                                      "") + b"5\r\nhelloX\r\n0\r\n\r\n", pieces=[4, 4]),
        "te-gzip": seed(crlf("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked", "")),
        "bare-lf": seed(b"GET / HTTP/1.1\nHost: a\nX-A: b\n\n", pieces=[1, 2]),
        "mixed-line-ends": seed(b"GET / HTTP/1.1\r\nHost: a\n\r\n", pieces=[15, 1]),
        "obs-fold": seed(crlf("GET / HTTP/1.1", "Host: a", "X-Folded: one", " two", "\tthree",
                              ""), flags=0x08),
        "missing-colon": seed(crlf("GET / HTTP/1.1", "Host: a", "NoColonHere", "X: y", "")),
        "absolute-form": seed(crlf("GET http://dns_name/p?q#frag HTTP/1.1", "Host: example.com",
                                   "X-Forwarded-For: 1.1.1.1, 2.2.2.2",
                                   "x-forwarded-for: 3.3.3.3",
                                   "X-Amzn-Trace-Id: Self=1-1-1;Root=1-67891233-abc;Custom=x",
                                   "Connection: keep-alive, X-Secret", "X-Secret: s",
                                   "X_Bad.Name: v", ""), flags=0xE8),
        "http10-no-host": seed(crlf("GET / HTTP/1.0", "Connection: keep-alive", ""), flags=0x30),
        "options-star": seed(crlf("OPTIONS * HTTP/1.1", "Host: a", ""), flags=0x40),
        "http2-version": seed(crlf("GET / HTTP/2.0", "Host: a", "")),
        "xff-31": seed(crlf("GET / HTTP/1.1", "Host: a", "X-Forwarded-For: " + xff31, "")),
        "head-cl0": seed(crlf("HEAD / HTTP/1.1", "Host: a", "Content-Length: 0", "")),
        "header-line-16k": seed(crlf("GET / HTTP/1.1", "Host: a", "X-Big: " + big_value, ""),
                                pieces=[200, 255]),
        "request-line-16k-plus-1": seed(crlf("GET /" + "p" * (16385 - 14) + " HTTP/1.1",
                                             "Host: a", "")),
        "headers-64k": seed(crlf("GET / HTTP/1.1", *fill, ""), pieces=[255]),
        "257-headers": seed(crlf("GET / HTTP/1.1", *[f"H{i}: v" for i in range(257)], "")),
        # Issue 9: what an attacker sent that reached a target before.
        "te-space-before-colon": seed(crlf("POST /p HTTP/1.1", "Host: a",
                                           "Transfer-Encoding : chunked", "Content-Length: 46",
                                           "") + b"0\r\n\r\nGET /SMUGGLED-admin HTTP/1.1\r\n"
                                                 b"Host: a\r\n\r\n"),
        "cl-space-before-colon": seed(crlf("POST /p HTTP/1.1", "Host: a", "Content-Length : 40",
                                           "") + b"x" * 40),
        "host-userinfo": seed(crlf("GET / HTTP/1.1", "Host: good.example@evil.example", "")),
        "host-two-names": seed(crlf("GET / HTTP/1.1", "Host: evil.example good.example", "")),
        "absolute-form-userinfo": seed(crlf("GET http://good.example@evil.example/ HTTP/1.1",
                                            "Host: good.example", "")),
        "double-version": seed(crlf("GET /a HTTP/1.1 HTTP/1.1", "Host: a", "")),
        "chunk-size-trailing-space": seed(crlf("POST / HTTP/1.1", "Host: a",
                                               "Transfer-Encoding: chunked", "") +
                                          b"5 \r\nhello\r\n0\r\n\r\n", pieces=[1]),
        "chunk-size-leading-zeros": seed(crlf("POST / HTTP/1.1", "Host: a",
                                              "Transfer-Encoding: chunked", "") +
                                         b"0" * 40 + b"5\r\nhello\r\n0\r\n\r\n"),
        "framing-trailers": seed(crlf("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked",
                                      "") + chunked(b"hello", trailers=[
                                          "Content-Length: 40", "Host: evil.example",
                                          "Transfer-Encoding: chunked"]), pieces=[3, 1]),
    }
    return {"hand-" + k: v for k, v in s.items()}


def hand_responses():
    many = [f"H{i}: v" for i in range(256)]
    big = "X-Big: " + "b" * (32768 - len("HTTP/1.1 200 OK\r\nX-Big: ") - 4)
    trailer = "X-T: " + "t" * (8192 - 5)
    s = {
        "200-cl": (crlf("HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 5", "") +
                   b"hello", 0),
        "200-chunked-trailers": (crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "") +
                                 chunked(b"hello", b" world", ext=";a=b",
                                         trailers=["X-Trailer: 1"]), 0),
        "200-chunked-te-and-cl": (crlf("HTTP/1.1 200 OK", "Content-Length: 3",
                                       "Transfer-Encoding: chunked", "") + chunked(b"abc"), 0),
        "204": (crlf("HTTP/1.1 204 No Content", "Content-Length: 10", ""), 0),
        "304": (crlf("HTTP/1.1 304 Not Modified", "ETag: \"x\"", ""), 0),
        "100-then-200": (crlf("HTTP/1.1 100 Continue", "") +
                         crlf("HTTP/1.1 200 OK", "Content-Length: 2", "") + b"ok", 0),
        "101-upgrade": (crlf("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                             "Connection: Upgrade", ""), 0),
        "head-response": (crlf("HTTP/1.1 200 OK", "Content-Length: 100", ""), 0x08),
        "until-close": (crlf("HTTP/1.1 200 OK", "Content-Type: text/html", "") + b"<html>", 0),
        "http10-no-reason": (crlf("HTTP/1.0 200", "Content-Length: 0", ""), 0),
        "bare-lf": (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0),
        "bad-status": (crlf("HTTP/1.1 20 OK", ""), 0),
        "obs-fold": (crlf("HTTP/1.1 200 OK", "X-A: a", " b", ""), 0),
        "bad-header-name": (crlf("HTTP/1.1 200 OK", "X A: b", ""), 0),
        "te-gzip": (crlf("HTTP/1.1 200 OK", "Transfer-Encoding: gzip", ""), 0),
        "conflicting-cl": (crlf("HTTP/1.1 200 OK", "Content-Length: 1", "Content-Length: 2", ""),
                           0),
        "chunked-bad-hex": (crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "") +
                            b"zz\r\nhello\r\n0\r\n\r\n", 0),
        "chunked-huge-size": (crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "") +
                              b"fffffffffffffff\r\nabcdef", 0),
        "chunked-big-trailers": (crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "") +
                                 b"0\r\n" + crlf(trailer, trailer, ""), 0),
        "256-headers": (crlf("HTTP/1.1 200 OK", *many, ""), 0),
        "head-32k": (crlf("HTTP/1.1 200 OK", big, ""), 0),
    }
    out = {}
    for i, (name, (message, flags)) in enumerate(s.items()):
        out["hand-" + name] = seed(message, flags=flags)
        pieces = [(i * 13 + j * 7) % 32 + 1 for j in range(1 + i % 3)]
        out["hand-" + name + "-split"] = seed(message, flags=flags, pieces=pieces)
    return out


def write(directory, seeds):
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    total = sum(len(d) for d in seeds.values())
    print(f"{directory}: {len(seeds)} seeds, {total} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", default=os.path.join(HERE, "../../../shared"))
    args = parser.parse_args()
    requests = yaml_requests(args.shared_dir)
    requests.update(hand_requests())
    write(os.path.join(HERE, "h1_request/corpus"), requests)
    write(os.path.join(HERE, "h1_response/corpus"), hand_responses())


if __name__ == "__main__":
    main()
