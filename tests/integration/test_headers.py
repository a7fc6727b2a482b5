"""Request headers as seen by the target: X-Forwarded-For/Proto/Port, X-Amzn-Trace-Id, Host."""

import re
import time

import pytest

from conftest import HttpConn, echo_header, forward, free_port, lb_config, parse_echo, target_group

TRACE_ID = r"1-([0-9a-f]{8})-[0-9a-f]{24}"


@pytest.fixture
def proxied(sluice, demo_targets):
    """proxied(attributes=None) -> (Sluice, listener port) forwarding everything to one echo
    target."""

    def start(attributes=None):
        t = demo_targets("echo")
        port = free_port()
        cfg = lb_config(port, forward("tg"), target_groups=[target_group("tg", [t.port])],
                        attributes=attributes)
        return sluice(cfg)

    return start


def echo(s, headers=None, path="/h", version="HTTP/1.1", host="app.example.com"):
    """Sends one request on a fresh raw connection; returns (echo info, client port)."""
    with HttpConn(s.port) as c:
        client_port = c.sock.getsockname()[1]
        hdrs = {}
        if host is not None:
            hdrs["Host"] = host
        hdrs.update(headers or {})
        head = f"GET {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        c.send(head.encode() + b"\r\n")
        r = c.read_response()
        assert r.status == 200, r
        return parse_echo(r.text), client_port


# ---- X-Forwarded-For ------------------------------------------------------------------------

def test_xff_append_default(proxied):
    s = proxied()
    info, _ = echo(s)
    assert echo_header(info, "X-Forwarded-For") == ["127.0.0.1"]
    info, _ = echo(s, {"X-Forwarded-For": "203.0.113.4"})
    assert echo_header(info, "X-Forwarded-For") == ["203.0.113.4, 127.0.0.1"]
    info, _ = echo(s, {"X-Forwarded-For": "203.0.113.4, 198.51.100.8"})
    assert echo_header(info, "X-Forwarded-For") == ["203.0.113.4, 198.51.100.8, 127.0.0.1"]


def test_xff_append_with_client_port(proxied):
    s = proxied({"routing.http.xff_client_port.enabled": True})
    info, client_port = echo(s, {"X-Forwarded-For": "203.0.113.4"})
    assert echo_header(info, "X-Forwarded-For") == [f"203.0.113.4, 127.0.0.1:{client_port}"]
    info, client_port = echo(s)
    assert echo_header(info, "X-Forwarded-For") == [f"127.0.0.1:{client_port}"]


def test_xff_preserve(proxied):
    s = proxied({"routing.http.xff_header_processing.mode": "preserve"})
    info, _ = echo(s)
    assert echo_header(info, "X-Forwarded-For") == []
    info, _ = echo(s, {"X-Forwarded-For": "203.0.113.4, 198.51.100.8"})
    assert echo_header(info, "X-Forwarded-For") == ["203.0.113.4, 198.51.100.8"]


def test_xff_preserve_ignores_client_port(proxied):
    s = proxied({"routing.http.xff_header_processing.mode": "preserve",
                 "routing.http.xff_client_port.enabled": True})
    info, _ = echo(s, {"X-Forwarded-For": "203.0.113.4"})
    assert echo_header(info, "X-Forwarded-For") == ["203.0.113.4"]


def test_xff_remove(proxied):
    s = proxied({"routing.http.xff_header_processing.mode": "remove"})
    info, _ = echo(s)
    assert echo_header(info, "X-Forwarded-For") == []
    info, _ = echo(s, {"X-Forwarded-For": "203.0.113.4"})
    assert echo_header(info, "X-Forwarded-For") == []


# ---- X-Forwarded-Proto / Port ---------------------------------------------------------------

def test_x_forwarded_proto_and_port(proxied):
    s = proxied()
    info, _ = echo(s)
    assert echo_header(info, "X-Forwarded-Proto") == ["http"]
    assert echo_header(info, "X-Forwarded-Port") == [str(s.port)]


def test_x_forwarded_proto_and_port_not_spoofable(proxied):
    s = proxied()
    info, _ = echo(s, {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"})
    assert echo_header(info, "X-Forwarded-Proto") == ["http"]
    assert echo_header(info, "X-Forwarded-Port") == [str(s.port)]


# ---- X-Amzn-Trace-Id ------------------------------------------------------------------------

def test_trace_id_added(proxied):
    s = proxied()
    info, _ = echo(s)
    values = echo_header(info, "X-Amzn-Trace-Id")
    assert len(values) == 1, values
    m = re.fullmatch(r"Root=" + TRACE_ID, values[0])
    assert m, values
    assert abs(int(m.group(1), 16) - time.time()) < 300  # epoch seconds in hex
    info2, _ = echo(s)
    assert echo_header(info2, "X-Amzn-Trace-Id") != values  # random part differs


def test_trace_id_self_inserted_before_root(proxied):
    s = proxied()
    root = "Root=1-63441c4a-abcdef012345678912345678"
    info, _ = echo(s, {"X-Amzn-Trace-Id": f"{root};CalledFrom=app"})
    values = echo_header(info, "X-Amzn-Trace-Id")
    assert len(values) == 1, values
    assert re.fullmatch(r"Self=" + TRACE_ID + ";" + re.escape(root) + ";CalledFrom=app",
                        values[0]), values


def test_trace_id_existing_self_overwritten(proxied):
    s = proxied()
    old_self = "Self=1-11111111-222222222222222222222222"
    root = "Root=1-63441c4a-abcdef012345678912345678"
    info, _ = echo(s, {"X-Amzn-Trace-Id": f"{old_self};{root}"})
    values = echo_header(info, "X-Amzn-Trace-Id")
    assert len(values) == 1, values
    m = re.fullmatch(r"Self=(" + TRACE_ID + ");" + re.escape(root), values[0])
    assert m, values
    assert "Self=" + m.group(1) != old_self


# ---- Host -----------------------------------------------------------------------------------

def test_host_gets_listener_port_appended(proxied):
    s = proxied()
    info, _ = echo(s, host="app.example.com")
    assert echo_header(info, "Host") == [f"app.example.com:{s.port}"]
    # A Host that already has a port is passed through.
    info, _ = echo(s, host=f"app.example.com:{s.port}")
    assert echo_header(info, "Host") == [f"app.example.com:{s.port}"]


def test_host_preserved_when_enabled(proxied):
    s = proxied({"routing.http.preserve_host_header.enabled": True})
    info, _ = echo(s, host="app.example.com")
    assert echo_header(info, "Host") == ["app.example.com"]


def test_absolute_form_uri_authority_wins(proxied):
    s = proxied()
    with HttpConn(s.port) as c:
        c.send(b"GET http://uri.example.com/abs?q=1 HTTP/1.1\r\nHost: header.example.com\r\n\r\n")
        r = c.read_response()
    assert r.status == 200
    info = parse_echo(r.text)
    hosts = echo_header(info, "Host")
    assert len(hosts) == 1 and hosts[0].split(":")[0] == "uri.example.com", hosts


def test_http10_without_host_gets_one(proxied):
    s = proxied()
    info, _ = echo(s, version="HTTP/1.0", host=None)
    hosts = echo_header(info, "Host")
    assert len(hosts) == 1 and hosts[0], hosts


def test_end_to_end_headers_and_hop_by_hop(proxied):
    s = proxied()
    info, _ = echo(s, {"X-Custom": "Value With  Spaces", "Connection": "keep-alive, X-Drop",
                       "X-Drop": "secret", "Keep-Alive": "timeout=5"})
    assert echo_header(info, "X-Custom") == ["Value With  Spaces"]
    assert echo_header(info, "X-Drop") == []  # named in Connection: hop-by-hop
    assert echo_header(info, "Keep-Alive") == []


def test_trace_id_reset_when_headers_exceed_7k(proxied):
    s = proxied()
    big = {f"X-Pad-{i}": "p" * 1000 for i in range(8)}
    big["X-Amzn-Trace-Id"] = "Root=1-63441c4a-abcdef012345678912345678;Foo=bar"
    info, _ = echo(s, big)
    values = echo_header(info, "X-Amzn-Trace-Id")
    assert len(values) == 1 and re.fullmatch(r"Root=" + TRACE_ID, values[0]), values
    assert "63441c4a" not in values[0]
