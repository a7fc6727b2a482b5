"""A tiny HTTP client: one check request through a chain (over TLS for a TLS workload), and
idle keep-alive connections."""

import selectors
import socket
import ssl
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

