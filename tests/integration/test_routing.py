"""Listener rules end to end: every condition type, AND/OR semantics, priority order, and the
three terminal actions (forward, redirect, fixed-response)."""

from collections import Counter

import pytest

from conftest import (HttpConn, fixed, forward, free_port, header_is, host_is, lb_config,
                      method_is, parse_echo, path_is, query_is, rule, source_ip_is,
                      target_group, one_response)


def body_of(http, s, path, **kw):
    r = http.get(s.url(path), timeout=10, **kw)
    return r.status_code, r.text


def test_path_pattern(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [path_is("/auth/*")], fixed("200", "auth")),
        rule(20, [path_is("/img")], fixed("200", "img-exact")),
        rule(30, [path_is("/v?/item")], fixed("200", "versioned")),
        rule(40, [path_is("/Case/*")], fixed("200", "case")),
    ])
    s = sluice(cfg)
    assert body_of(http, s, "/auth/login") == (200, "auth")
    assert body_of(http, s, "/auth/a/b/c?x=1") == (200, "auth")
    assert body_of(http, s, "/auth/") == (200, "auth")
    assert body_of(http, s, "/authx") == (404, "default")
    assert body_of(http, s, "/img") == (200, "img-exact")
    assert body_of(http, s, "/img/a.png") == (404, "default")  # patterns are anchored
    assert body_of(http, s, "/v1/item") == (200, "versioned")
    assert body_of(http, s, "/v12/item") == (404, "default")  # '?' is exactly one character
    assert body_of(http, s, "/case/x") == (404, "default")  # path matching is case-sensitive
    assert body_of(http, s, "/Case/x") == (200, "case")
    # the query string is never part of the path match
    assert body_of(http, s, "/nothing?p=/auth/x") == (404, "default")


def test_host_header(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [host_is("api.example.com")], fixed("200", "api")),
        rule(20, [host_is("*.example.org", "www.example.net")], fixed("200", "wild")),
    ])
    s = sluice(cfg)

    def get(host):
        return body_of(http, s, "/", headers={"Host": host})

    assert get("api.example.com") == (200, "api")
    assert get("API.Example.COM") == (200, "api")  # case-insensitive
    assert get("other.example.com") == (404, "default")
    assert get("a.example.org") == (200, "wild")
    assert get("a.b.example.org") == (200, "wild")
    assert get("example.org") == (404, "default")  # '*.' needs the dot
    assert get("www.example.net") == (200, "wild")  # values are OR-ed


def test_http_header(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [header_is("X-Env", "prod", "stage-*")], fixed("200", "env")),
    ])
    s = sluice(cfg)

    def get(headers):
        return body_of(http, s, "/", headers=headers)

    assert get({"X-Env": "prod"}) == (200, "env")
    assert get({"x-env": "PROD"}) == (200, "env")  # name and value case-insensitive
    assert get({"X-Env": "stage-42"}) == (200, "env")
    assert get({"X-Env": "dev"}) == (404, "default")
    assert get({}) == (404, "default")
    assert get({"X-Other": "prod"}) == (404, "default")


def test_http_header_repeated_occurrences(sluice):
    """If a header occurs several times, each occurrence is tested until one matches."""
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [header_is("X-Env", "prod")], fixed("200", "env")),
    ])
    s = sluice(cfg)
    r = one_response(s.port, b"GET / HTTP/1.1\r\nHost: a.example.com\r\n"
                             b"X-Env: dev\r\nX-Env: prod\r\n\r\n")
    assert (r.status, r.text) == (200, "env")


def test_http_request_method(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [method_is("POST", "PUT")], fixed("200", "write")),
        rule(20, [method_is("GET")], fixed("200", "read")),
    ])
    s = sluice(cfg)
    assert (http.post(s.url("/"), data=b"x", timeout=10).text) == "write"
    assert (http.put(s.url("/"), data=b"x", timeout=10).text) == "write"
    assert (http.get(s.url("/"), timeout=10).text) == "read"
    r = http.delete(s.url("/"), timeout=10)
    assert (r.status_code, r.text) == (404, "default")


def test_query_string(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [query_is(("version", "v1"), ("version", "v2"))], fixed("200", "kv")),
        rule(20, [query_is((None, "magic"))], fixed("200", "any-key")),
        rule(30, [query_is(("lang", "en-*"))], fixed("200", "wild")),
    ])
    s = sluice(cfg)
    assert body_of(http, s, "/?version=v1") == (200, "kv")
    assert body_of(http, s, "/?a=b&version=v2") == (200, "kv")  # pairs are OR-ed
    assert body_of(http, s, "/?VERSION=V1") == (200, "kv")  # case-insensitive
    assert body_of(http, s, "/?version=v3") == (404, "default")
    assert body_of(http, s, "/?whatever=magic") == (200, "any-key")
    assert body_of(http, s, "/?lang=en-GB") == (200, "wild")
    assert body_of(http, s, "/?lang=fr-FR") == (404, "default")
    assert body_of(http, s, "/") == (404, "default")


def test_source_ip(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [source_ip_is("10.0.0.0/8", "192.168.0.0/16")], fixed("200", "private")),
        rule(20, [source_ip_is("127.0.0.1/32")], fixed("200", "loopback")),
    ])
    s = sluice(cfg)
    # The tested address is the TCP peer, never X-Forwarded-For.
    assert body_of(http, s, "/", headers={"X-Forwarded-For": "10.1.2.3"}) == (200, "loopback")

    cfg2 = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [source_ip_is("10.0.0.0/8")], fixed("200", "private")),
    ])
    s.reload(cfg2)
    assert body_of(http, s, "/") == (404, "default")


def test_conditions_are_anded_values_ored(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [path_is("/api/*"), method_is("POST"), header_is("X-Env", "prod", "stage")],
             fixed("200", "all-three")),
        # Two conditions on the same header: both must match (AND across conditions).
        rule(20, [header_is("X-Tag", "a*"), header_is("X-Tag", "*z")], fixed("200", "a-and-z")),
    ])
    s = sluice(cfg)
    assert http.post(s.url("/api/x"), headers={"X-Env": "stage"}, timeout=10).text == "all-three"
    assert http.post(s.url("/api/x"), headers={"X-Env": "prod"}, timeout=10).text == "all-three"
    assert http.get(s.url("/api/x"), headers={"X-Env": "prod"}, timeout=10).status_code == 404
    assert http.post(s.url("/other"), headers={"X-Env": "prod"}, timeout=10).status_code == 404
    assert http.post(s.url("/api/x"), headers={"X-Env": "dev"}, timeout=10).status_code == 404
    assert http.get(s.url("/"), headers={"X-Tag": "abz"}, timeout=10).text == "a-and-z"
    assert http.get(s.url("/"), headers={"X-Tag": "abc"}, timeout=10).status_code == 404


def test_priority_order_lowest_wins(sluice, http):
    port = free_port()
    # Listed out of order on purpose: evaluation must follow Priority, not file order.
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(300, [path_is("/*")], fixed("200", "p300")),
        rule(5, [path_is("/a/b/*")], fixed("200", "p5")),
        rule(100, [path_is("/a/*")], fixed("200", "p100")),
    ])
    s = sluice(cfg)
    assert body_of(http, s, "/a/b/c") == (200, "p5")
    assert body_of(http, s, "/a/x") == (200, "p100")
    assert body_of(http, s, "/zzz") == (200, "p300")


def test_default_action_when_nothing_matches(sluice, demo_targets, http):
    t = demo_targets("fallback")
    port = free_port()
    cfg = lb_config(port, forward("tg"), rules=[rule(1, [path_is("/x")], fixed("200", "x"))],
                    target_groups=[target_group("tg", [t.port])])
    s = sluice(cfg)
    r = http.get(s.url("/not-x"), timeout=10)
    assert r.status_code == 200
    assert r.headers["X-Sluice-Target"] == "fallback"


# ---- actions --------------------------------------------------------------------------------

def test_forward_single_target_group_per_rule(sluice, demo_targets, http):
    a, b = demo_targets("alpha"), demo_targets("beta")
    port = free_port()
    cfg = lb_config(port, fixed("404", "none"), rules=[
        rule(10, [path_is("/a/*")], forward("ga")),
        rule(20, [path_is("/b/*")], forward("gb")),
    ], target_groups=[target_group("ga", [a.port]), target_group("gb", [b.port])])
    s = sluice(cfg)
    r = http.get(s.url("/a/hello?q=1"), timeout=10)
    assert r.status_code == 200 and r.headers["X-Sluice-Target"] == "alpha"
    info = parse_echo(r.text)
    assert info["target"] == "alpha"
    assert info["request_line"] == "GET /a/hello?q=1 HTTP/1.1"  # path and query unchanged
    r = http.get(s.url("/b/x"), timeout=10)
    assert r.headers["X-Sluice-Target"] == "beta"
    assert http.get(s.url("/c"), timeout=10).status_code == 404


def test_forward_weighted_split(sluice, demo_targets, http):
    a, b, c = demo_targets("heavy"), demo_targets("light"), demo_targets("zero")
    port = free_port()
    action = {"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupName": "ga", "Weight": 75},
        {"TargetGroupName": "gb", "Weight": 25},
        {"TargetGroupName": "gc", "Weight": 0},
    ]}}
    cfg = lb_config(port, action, target_groups=[
        target_group("ga", [a.port]), target_group("gb", [b.port]), target_group("gc", [c.port])])
    s = sluice(cfg)
    n = 1000
    counts = Counter()
    for _ in range(n):
        r = http.get(s.url("/w"), timeout=10)
        assert r.status_code == 200
        counts[r.headers["X-Sluice-Target"]] += 1
    # Binomial(1000, 0.75): sd ~13.7; allow ~5 sd.
    assert 680 <= counts["heavy"] <= 820, counts
    assert counts["heavy"] + counts["light"] == n, counts
    assert counts["zero"] == 0, counts


def test_redirect_templates(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "default"), rules=[
        rule(10, [path_is("/old/*")], {"Type": "redirect", "RedirectConfig": {
            "Host": "new.#{host}", "Path": "/new/#{path}", "Query": "#{query}&from=old",
            "StatusCode": "HTTP_302"}}),
        rule(20, [path_is("/moved")], {"Type": "redirect", "RedirectConfig": {
            "Protocol": "HTTP", "Host": "static.example.com", "Port": "8081",
            "Path": "/p/#{port}/x", "Query": "", "StatusCode": "HTTP_301"}}),
    ])
    s = sluice(cfg)
    r = http.get(s.url("/old/a/b?k=v"), headers={"Host": "example.com"}, allow_redirects=False,
                 timeout=10)
    assert r.status_code == 302
    # protocol and port keep the original values (#{protocol}, #{port} defaults)
    assert r.headers["Location"] == f"http://new.example.com:{port}/new/old/a/b?k=v&from=old"

    r = http.get(s.url("/moved?drop=me"), headers={"Host": "example.com"},
                 allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == f"http://static.example.com:8081/p/{port}/x"


def test_redirect_response_shape(sluice, http):
    port = free_port()
    cfg = lb_config(port, {"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "8443", "StatusCode": "HTTP_301"}})
    s = sluice(cfg)
    r = http.get(s.url("/a/b?c=d"), headers={"Host": "www.example.com"}, allow_redirects=False,
                 timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == "https://www.example.com:8443/a/b?c=d"
    assert r.headers.get("Server") == "awselb/2.0"
    assert r.headers.get("Content-Type", "").startswith("text/html")


def test_redirect_http_to_https_basic(sluice, http):
    port = free_port()
    cfg = lb_config(port, {"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}})
    s = sluice(cfg)
    r = http.get(s.url("/login?next=/home"), headers={"Host": "shop.example.com"},
                 allow_redirects=False, timeout=10)
    assert r.status_code == 301
    loc = r.headers["Location"]
    assert loc.startswith("https://shop.example.com") and loc.endswith("/login?next=/home"), loc


def test_redirect_http_to_https_443_location(sluice, http):
    """The classic HTTP->HTTPS redirect. A real ALB keeps the port in the Location:
    `Location: https://staging.example.com:443/` is what awselb/2.0 answers (seen in public
    curl transcripts, e.g. internetstandards/Internet.nl#1291 and
    kubernetes-sigs/aws-load-balancer-controller#487 "stop :443 from being prepended")."""
    port = free_port()
    cfg = lb_config(port, {"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}})
    s = sluice(cfg)
    r = http.get(s.url("/login?next=/home"), headers={"Host": "shop.example.com"},
                 allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == "https://shop.example.com:443/login?next=/home"


def test_fixed_response(sluice, http):
    port = free_port()
    cfg = lb_config(port, fixed("404", "not here\n"), rules=[
        rule(10, [path_is("/json")], fixed("200", '{"ok": true}', "application/json")),
        rule(20, [path_is("/teapot")], fixed("503", "<b>busy</b>", "text/html")),
        rule(30, [path_is("/empty")], fixed("204", "", None)),
    ])
    s = sluice(cfg)
    r = http.get(s.url("/json"), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.text == '{"ok": true}'
    assert r.headers["Content-Length"] == str(len('{"ok": true}'))
    r = http.get(s.url("/teapot"), timeout=10)
    assert (r.status_code, r.text) == (503, "<b>busy</b>")
    assert r.headers["Content-Type"].startswith("text/html")
    r = http.get(s.url("/anything"), timeout=10)
    assert (r.status_code, r.text) == (404, "not here\n")
    assert r.headers["Content-Type"].startswith("text/plain")
    # A 204 has no body; the connection stays usable.
    with HttpConn(s.port) as c:
        r = c.request("GET", "/empty")
        assert r.status == 204 and r.body == b""
        r = c.request("GET", "/json")
        assert r.status == 200 and r.body == b'{"ok": true}'


def test_host_header_match_ignores_port(sluice):
    port = free_port()
    s = sluice(lb_config(port, fixed("404", "default"), rules=[
        rule(10, [host_is("api.example.com")], fixed("200", "api"))]))
    r = one_response(s.port, b"GET / HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n")
    assert (r.status, r.text) == (200, "api")


def test_path_matched_after_normalisation(sluice):
    port = free_port()
    s = sluice(lb_config(port, fixed("404", "default"), rules=[
        rule(10, [path_is("/admin")], fixed("200", "admin"))]))
    for target in (b"/admin", b"/x/../admin", b"/./admin", b"/%61dmin"):
        r = one_response(s.port, b"GET " + target + b" HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        assert (r.status, r.text) == (200, "admin"), target


def test_redirect_http10_without_host_never_builds_empty_host(sluice):
    port = free_port()
    s = sluice(lb_config(port, {"Type": "redirect", "RedirectConfig": {
        "Path": "/new", "StatusCode": "HTTP_302"}}))
    r = one_response(s.port, b"GET /old HTTP/1.0\r\n\r\n")
    location = r.header("Location")
    if 300 <= r.status < 400:
        # A redirect is acceptable only with a real authority in the Location.
        assert location is not None
        assert not location.startswith("http://:"), location
    else:
        assert 400 <= r.status < 500, r
