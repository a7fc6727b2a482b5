"""The check request over TLS (TLS workloads), against a tiny HTTPS server with the run's kind
of certificate."""

import socket
import ssl
import threading

import pytest

from sluicebench import chains, httpcheck

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!"


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 answering every request with a 13-byte body; it closes
    the connection (with close_notify) after a request carrying "Connection: close"."""
    files = chains.make_certificate(tmp_path_factory.mktemp("tls"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files.cert, files.key)
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(0.2)
    stop = threading.Event()

    def serve(conn):
        try:
            with ctx.wrap_socket(conn, server_side=True) as s:
                s.settimeout(5)
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        chunk = s.recv(4096)
                        if not chunk:
                            return
                        buf += chunk
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    s.sendall(RESPONSE)
                    if b"connection: close" in head.lower():
                        s.unwrap()
                        return
        except (OSError, ValueError):
            pass

    def accept():
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield lsock.getsockname()[1]
    stop.set()
    t.join()
    lsock.close()


@pytest.mark.parametrize("close", [False, True])
def test_check_over_tls(https_server, close):
    assert httpcheck.http_check("127.0.0.1", https_server, "/", 13, close, tls=True) is None


def test_check_over_tls_reports_a_wrong_body(https_server):
    err = httpcheck.http_check("127.0.0.1", https_server, "/", 1024, False, tls=True)
    assert err == "body 13 of 13 bytes, expected 1024"


def test_plain_check_against_tls_fails(https_server):
    assert httpcheck.http_check("127.0.0.1", https_server, "/", 13, False, timeout=2) is not None
