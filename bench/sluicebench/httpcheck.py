"""A tiny HTTP client: one check request through a chain (over TLS for a TLS workload), one
WebSocket echo through a chain (a WebSocket workload), one HTTP/2 request through a chain (an
HTTP/2 workload, with nghttp from nghttp2-client), one UDP datagram echoed through a chain (a
UDP workload), one bulk transfer through a chain (a bulk workload), and idle keep-alive
connections."""

import base64
import hashlib
import os
import re
import selectors
import shutil
import socket
import ssl
import subprocess
import time

from .common import HarnessError


def parse_response(buf):
    """Returns (status, body_length_expected, head_len, close) once the head is complete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    try:
        status = int(head[0].split()[1])
    except (IndexError, ValueError):
        return (0, 0, end + 4, True)
    length, close = 0, False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            close = True
    return (status, length, end + 4, close)


def client_tls_context():
    """TLS for the check request: the run's self-signed certificate is not verified."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _connect(ip, port, timeout, tls):
    s = socket.create_connection((ip, port), timeout=timeout)
    if not tls:
        return s
    try:
        return client_tls_context().wrap_socket(s, server_hostname="localhost")
    except BaseException:
        s.close()
        raise


def http_check(ip, port, path, body, close, host=None, timeout=5.0, tls=False):
    """One request through the chain (over TLS with `tls`). Returns None when the response is
    what the backend sends (status 200, `body` bytes) and, with `close`, the chain closes the
    connection afterwards; else a description of what is wrong."""
    host = host or f"{ip}:{port}"
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sluice-bench-check\r\n"
    req += "Connection: close\r\n\r\n" if close else "\r\n"
    try:
        with _connect(ip, port, timeout, tls) as s:
            s.sendall(req.encode())
            buf = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                parsed = parse_response(buf)
                if parsed and len(buf) >= parsed[2] + parsed[1]:
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            parsed = parse_response(buf)
            if not parsed:
                return f"no complete response head ({len(buf)} bytes)"
            status, length, head_len, _ = parsed
            if status != 200:
                return f"status {status}"
            if length != body or len(buf) - head_len < body:
                return f"body {len(buf) - head_len} of {length} bytes, expected {body}"
            if close:
                s.settimeout(2.0)
                try:
                    rest = s.recv(1)
                except socket.timeout:
                    return "connection not closed after a 'Connection: close' request"
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    rest = b""  # TLS: closed without (or with) close_notify
                if rest:
                    return "bytes after the response"
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    return None

# RFC 6455 4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + this GUID)).
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept(key):
    """The Sec-WebSocket-Accept a server answers to Sec-WebSocket-Key `key`."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(payload, opcode=0x2, mask=None):
    """A client frame (FIN, `opcode`, masked with `mask`, 4 random bytes by default): the
    7-bit, 16-bit (126) or 64-bit (127) length form as the payload's size needs."""
    n = len(payload)
    mask = os.urandom(4) if mask is None else mask
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


def ws_parse_frame(buf):
    """(fin_opcode, masked, payload, frame length) of the first frame in buf, once it is
    whole; None before."""
    if len(buf) < 2:
        return None
    n, off = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, off = int.from_bytes(buf[2:10], "big"), 10
    masked = bool(buf[1] & 0x80)
    mask = buf[off:off + 4] if masked else b""
    off += len(mask)
    if len(buf) < off + n:
        return None
    payload = buf[off:off + n]
    if masked:
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return buf[0], masked, payload, off + n


def ws_check(ip, port, path, size, host=None, timeout=5.0):
    """One WebSocket echo through the chain: an upgrade request, which must get a 101 with
    the key's Sec-WebSocket-Accept, then one masked binary message of `size` bytes, whose
    echo must come back as one unmasked binary frame with the same payload. Returns None when
    all is so, else a description of what is wrong."""
    host = host or f"{ip}:{port}"
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sluice-bench-check\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: 13\r\n\r\n")
    payload = bytes((i * 131 + 7) & 0xFF for i in range(size))
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.sendall(req.encode())
            buf = b""
            deadline = time.monotonic() + timeout
            while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return f"no complete response head ({len(buf)} bytes)"
            head = buf[:end].decode("latin-1").split("\r\n")
            status = head[0].split()[1] if len(head[0].split()) > 1 else "?"
            if status != "101":
                return f"status {status}, not 101"
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in head[1:])}
            if headers.get("sec-websocket-accept") != ws_accept(key):
                return (f"Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}, "
                        f"expected {ws_accept(key)!r}")
            buf = buf[end + 4:]
            s.sendall(ws_frame(payload))
            frame = ws_parse_frame(buf)
            while frame is None and time.monotonic() < deadline:
                chunk = s.recv(1 << 20)
                if not chunk:
                    return f"connection closed after {len(buf)} bytes of the echo"
                buf += chunk
                frame = ws_parse_frame(buf)
            if frame is None:
                return f"no whole echo within {timeout} s ({len(buf)} bytes)"
            fin_op, masked, echoed, length = frame
            if fin_op != 0x82 or masked:
                return f"echo frame: first byte {fin_op:#x}, masked {masked}"
            if echoed != payload or length != len(buf):
                return f"echo of {len(echoed)} bytes (frame and {len(buf) - length} more), " \
                       f"expected {size} the same"
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    return None


def udp_check(ip, port, size, timeout=2.0):
    """One datagram of `size` random bytes to ip:port from a socket of its own (a new flow);
    None when the same bytes come back within `timeout` seconds, else what is wrong."""
    payload = os.urandom(size)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
            s.send(payload)
            echo = s.recv(65536)
        except ConnectionRefusedError:
            return f"refused (ICMP port unreachable from {ip}:{port})"
        except socket.timeout:
            return f"no echo within {timeout:g} s"
        except OSError as e:
            return f"UDP error: {e}"
    if len(echo) != size:
        return f"echo of {len(echo)} bytes for a {size}-byte datagram"
    if echo != payload:
        return "echo differs from the datagram sent"
    return None


# bench/tools/bulk-pattern.h's bytes: blocks of BULK_BLOCK bytes, each starting with its word
# (bulk_word, little-endian), the rest filler (byte i of a block is i & 0xff).
BULK_BLOCK = 1024
_BULK_FILLER = bytes(range(256)) * (BULK_BLOCK // 256)


def bulk_word(seed, block):
    return seed ^ ((block * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)


def bulk_pattern(seed, nbytes):
    """The first `nbytes` bytes of the bulk pattern of `seed`."""
    blocks = -(-nbytes // BULK_BLOCK)
    return b"".join(bulk_word(seed, b).to_bytes(8, "little") + _BULK_FILLER[8:]
                    for b in range(blocks))[:nbytes]


def bulk_check(ip, port, nbytes, upload=False, timeout=5.0):
    """One bulk transfer of `nbytes` bytes to ip:port (bench/tools/bulk-server.c, directly or
    through a chain) with a random seed: a download (GET) whose bytes must be the pattern's,
    every one of them, up to the end of the stream; or an upload (PUT) of the pattern that
    must be answered "OK <nbytes>". None when right, else what is wrong."""
    seed = int.from_bytes(os.urandom(8), "little")
    want = bulk_pattern(seed, nbytes)
    got = bytearray()
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.sendall(f"{'PUT' if upload else 'GET'} {nbytes} {seed:016x}\n".encode())
            if upload:
                s.sendall(want)
            while len(got) <= nbytes + 64:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
    except socket.timeout:
        return f"no end of stream within {timeout:g} s ({len(got)} bytes read)"
    except OSError as e:
        return f"bulk transfer error after {len(got)} bytes: {e}"
    if upload:
        ok = f"OK {nbytes}\n".encode()
        return None if got == ok else f"upload answered {bytes(got[:80])!r}, not {ok!r}"
    if len(got) != nbytes:
        return f"{len(got)} bytes for a {nbytes}-byte download"
    if got != want:
        at = next(i for i in range(nbytes) if got[i] != want[i])
        return f"download differs from the pattern at offset {at}"
    return None


def nghttp_argv(ip, port, path, tls, timeout=5.0, data=None, headers=()):
    """nghttp's command line for one HTTP/2 GET: over TLS (ALPN h2; the certificate is not
    checked) or in clear text by prior knowledge (nghttp's default for http:// without -u);
    frames printed (-v), the body discarded (-n). With `data` (a file) a POST of its bytes;
    `headers`: (name, value) pairs added (-H)."""
    scheme = "https" if tls else "http"
    argv = ["nghttp", "-v", "-n", "-t", f"{timeout:g}"]
    if data is not None:
        argv += ["-d", str(data)]
    for name, value in headers:
        argv += ["-H", f"{name}: {value}"]
    return argv + [f"{scheme}://{ip}:{port}{path}"]


def _grpc_problem(out):
    """What is wrong with the gRPC answer in nghttp's -v output (after the response head), or
    None: the content-type must be application/grpc, and the stream must end with trailers
    (a HEADERS frame after the DATA) carrying grpc-status 0."""
    rest = out.partition(":status:")[2]
    m = re.search(r"recv \(stream_id=\d+\) content-type: (\S+)", rest)
    if not m or not m.group(1).startswith("application/grpc"):
        return f"content-type {m.group(1) if m else 'missing'}, not application/grpc"
    last_data = rest.rfind("recv DATA frame")
    trailers = rest[last_data:] if last_data >= 0 else ""
    st = re.findall(r"recv \(stream_id=\d+\) grpc-status: (\S*)", trailers)
    if not st:
        st_head = re.findall(r"recv \(stream_id=\d+\) grpc-status: (\S*)", rest)
        return ("no trailers after the message" + (f" (grpc-status {st_head[0]} in the head)"
                                                   if st_head else ": no grpc-status"))
    if st != ["0"]:
        return f"grpc-status {', '.join(st)}, not 0"
    if not re.search(r"recv HEADERS frame <[^>]*>\s*\n\s*; END_STREAM", trailers):
        return "the trailers did not end the stream"
    return None


def parse_nghttp(out, body, tls, grpc=False):
    """Whether nghttp's -v output shows one HTTP/2 response with status 200 and exactly `body`
    bytes of DATA ending the stream (over TLS: with h2 negotiated by ALPN); with `grpc`, a gRPC
    answer: content-type application/grpc, the DATA (`body`: the message with its prefix),
    then trailers with grpc-status 0 ending the stream. None when so, else what is wrong.
    (nghttp's exit status is 0 even when the request was not processed.)"""
    if tls and not re.search(r"^The negotiated protocol: h2$", out, re.M):
        m = re.search(r"^The negotiated protocol: (\S+)", out, re.M)
        return f"ALPN: {m.group(1) if m else 'no protocol'} negotiated, not h2"
    status = re.findall(r"recv \(stream_id=\d+\) :status: (\d+)", out)
    if not status:
        last = [l for l in out.splitlines() if l.strip()][-1:] or ["no output"]
        return f"no HTTP/2 response ({last[0].strip()[:200]})"
    if status != ["200"]:
        return f"status {', '.join(status)}"
    data = [int(n) for n in re.findall(r"recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, "
                                       r"stream_id=[1-9]\d*>", out)]
    if sum(data) != body:
        return f"body {sum(data)} bytes in {len(data)} DATA frames, expected {body}"
    if grpc:
        return _grpc_problem(out)
    if "; END_STREAM" not in out.split(":status:", 1)[1]:
        return "the response stream did not end"
    return None


def h2_check(ip, port, path, body, tls, timeout=5.0, data=None, headers=(), grpc=False):
    """One HTTP/2 request through the chain with nghttp (nghttp2-client, the package of
    h2load): None when the answer is a 200 with `body` bytes over HTTP/2 (with `grpc`: a gRPC
    answer whose trailers say grpc-status 0), else what is wrong. `data`, `headers`: a POST's
    body file and added headers (nghttp_argv)."""
    if not shutil.which("nghttp"):
        raise HarnessError("nghttp not found (apt-get install -y nghttp2-client): the HTTP/2 "
                           "workloads' check request needs it")
    try:
        r = subprocess.run(nghttp_argv(ip, port, path, tls, timeout, data, headers),
                           capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return f"nghttp did not finish within {timeout + 5:g} s"
    return parse_nghttp(r.stdout + r.stderr, body, tls, grpc)


def open_idle_connections(ip, port, n, path, batch=250, timeout=20.0):
    """Opens n connections that each make one request and then stay silent. Returns
    (sockets, errors)."""
    req = f"GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: sluice-bench-idle\r\n\r\n"
    req = req.encode()
    kept, errors = [], 0
    deadline = time.monotonic() + timeout
    for start in range(0, n, batch):
        sel = selectors.DefaultSelector()
        pending = 0
        for _ in range(min(batch, n - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((ip, port))
            if rc not in (0, 115):  # EINPROGRESS
                errors += 1
                s.close()
                continue
            sel.register(s, selectors.EVENT_WRITE, {"buf": b""})
            pending += 1
        while pending:
            if time.monotonic() > deadline:
                raise HarnessError(f"idle connections: no progress within {timeout} s")
            for key, ev in sel.select(timeout=1.0):
                s, st = key.fileobj, key.data
                if ev & selectors.EVENT_WRITE:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        errors += 1
                        sel.unregister(s)
                        s.close()
                        pending -= 1
                        continue
                    s.send(req)
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                st["buf"] += chunk
                parsed = parse_response(st["buf"])
                done = parsed and len(st["buf"]) >= parsed[2] + parsed[1]
                if not chunk or done:
                    sel.unregister(s)
                    pending -= 1
                    if done and parsed[0] == 200 and not parsed[3]:
                        kept.append(s)
                    else:
                        errors += 1
                        s.close()
        sel.close()
    return kept, errors

