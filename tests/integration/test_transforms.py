"""Rule transforms end to end (reference §1.4): url-rewrite and host-header-rewrite change what
the target receives, never which rule matches; a rewrite that produces an invalid value is a
500 from the load balancer and nothing reaches a target."""

import pytest

from conftest import (HttpConn, echo_header, fixed, forward, free_port, lb_config, parse_echo,
                      path_is, rule, target_group, wait_until)


def url_rewrite(regex: str, replace: str) -> dict:
    return {"Type": "url-rewrite",
            "UrlRewriteConfig": {"Rewrites": [{"Regex": regex, "Replace": replace}]}}


def host_rewrite(regex: str, replace: str) -> dict:
    return {"Type": "host-header-rewrite",
            "HostHeaderRewriteConfig": {"Rewrites": [{"Regex": regex, "Replace": replace}]}}


def with_transforms(r: dict, *transforms) -> dict:
    r["Transforms"] = list(transforms)
    return r


def send(conn: HttpConn, path: str, host: str = "app.example.com", method: str = "GET"):
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"
    conn.send(head.encode("latin-1"))
    return conn.read_response(method)


def echoed(s, path: str, host: str = "app.example.com"):
    """The echo of one request (answered 200) on a fresh connection."""
    with HttpConn(s.port) as c:
        r = send(c, path, host)
    assert r.status == 200, r
    return parse_echo(r.text)


@pytest.fixture
def rewriting(sluice, demo_targets):
    """A listener whose rules rewrite, forwarding to echo targets "main" and "other"."""
    main, other = demo_targets("main"), demo_targets("other")
    port = free_port()
    cfg = lb_config(port, forward("tg-main"), rules=[
        with_transforms(rule(10, [path_is("/img/*")], forward("tg-main")),
                        url_rewrite("^/img/(.*)$", "/static/$1")),
        # Requests that the rule above rewrites to /static/... are still routed by rule 10:
        # this rule only sees requests that ask for /static/... themselves.
        rule(20, [path_is("/static/*")], forward("tg-other")),
        with_transforms(rule(30, [path_is("/dp/*")], forward("tg-main")),
                        url_rewrite("^/dp/([A-Za-z0-9]+)/?$", "/product.php?id=$1")),
        with_transforms(rule(40, [path_is("/h/*")], forward("tg-main")),
                        host_rewrite("^www\\.(.+)$", "internal.$1")),
        with_transforms(rule(50, [path_is("/both/*")], forward("tg-main")),
                        host_rewrite("^(.+)\\.old\\.example$", "$1.new.example"),
                        url_rewrite("^/both/v1/", "/both/v2/")),
        with_transforms(rule(60, [path_is("/gone/*")], fixed("200", "fixed")),
                        url_rewrite("^/gone/(.*)$", "/kept/$1")),
    ], target_groups=[target_group("tg-main", [main.port]),
                      target_group("tg-other", [other.port])])
    return sluice(cfg)


def test_url_rewrite_with_capture(rewriting):
    info = echoed(rewriting, "/img/cats/1.png")
    assert info["target"] == "main"
    assert info["request_line"] == "GET /static/cats/1.png HTTP/1.1"


def test_url_rewrite_keeps_the_query(rewriting):
    info = echoed(rewriting, "/img/a.png?size=2&v=%2F")
    assert info["request_line"] == "GET /static/a.png?size=2&v=%2F HTTP/1.1"


def test_url_rewrite_writes_a_query(rewriting):
    info = echoed(rewriting, "/dp/B09G3HRMW/")
    assert info["request_line"] == "GET /product.php?id=B09G3HRMW HTTP/1.1"


def test_non_matching_regex_leaves_the_request_unchanged(rewriting):
    # Rule 30 matches (/dp/*) but its regex does not: the original request is sent.
    info = echoed(rewriting, "/dp/a/b?x=1")
    assert info["target"] == "main"
    assert info["request_line"] == "GET /dp/a/b?x=1 HTTP/1.1"


def test_transforms_do_not_change_which_rule_matches(rewriting):
    # Rule 10 rewrites to /static/..., which rule 20 would route to "other": it does not.
    assert echoed(rewriting, "/img/x")["target"] == "main"
    # Asked for directly, /static/... is rule 20's, untouched.
    info = echoed(rewriting, "/static/x")
    assert info["target"] == "other"
    assert info["request_line"] == "GET /static/x HTTP/1.1"


def test_host_rewrite(rewriting):
    port = rewriting.port
    info = echoed(rewriting, "/h/page", host="www.example.com")
    assert echo_header(info, "Host") == [f"internal.example.com:{port}"]
    assert info["request_line"] == "GET /h/page HTTP/1.1"
    # The regex sees the host without its port; the port is kept.
    info = echoed(rewriting, "/h/page", host="www.example.com:9999")
    assert echo_header(info, "Host") == ["internal.example.com:9999"]
    # No match: the Host is sent as usual.
    info = echoed(rewriting, "/h/page", host="api.example.com")
    assert echo_header(info, "Host") == [f"api.example.com:{port}"]


def test_host_and_url_rewrite_together(rewriting):
    info = echoed(rewriting, "/both/v1/items?id=3", host="api.old.example:8443")
    assert info["request_line"] == "GET /both/v2/items?id=3 HTTP/1.1"
    assert echo_header(info, "Host") == ["api.new.example:8443"]


def test_rewrites_do_not_leak_into_the_next_request_on_the_connection(rewriting):
    port = rewriting.port
    with HttpConn(rewriting.port) as c:
        first = parse_echo(send(c, "/both/v1/x", host="a.old.example").text)
        assert echo_header(first, "Host") == [f"a.new.example:{port}"]
        second = parse_echo(send(c, "/static/y", host="a.old.example").text)
        assert second["request_line"] == "GET /static/y HTTP/1.1"
        assert echo_header(second, "Host") == [f"a.old.example:{port}"]


def test_transforms_do_not_apply_to_local_responses(rewriting):
    with HttpConn(rewriting.port) as c:
        r = send(c, "/gone/z")
    assert (r.status, r.text) == (200, "fixed")


@pytest.fixture
def failing(sluice, controlled):
    """Rules whose rewrites produce invalid values, forwarding to a recording back end."""
    backend = controlled("rec")
    port = free_port()
    cfg = lb_config(port, forward("tg"), rules=[
        # No leading '/': not a request target.
        with_transforms(rule(10, [path_is("/bad/*")], forward("tg")),
                        url_rewrite("^/bad/(.*)$", "$1")),
        # A port in the rewritten host.
        with_transforms(rule(20, [path_is("/badhost/*")], forward("tg")),
                        host_rewrite("^(.*)$", "$1:99")),
        with_transforms(rule(30, [path_is("/fine/*")], forward("tg")),
                        url_rewrite("^/fine/(.*)$", "/ok/$1")),
    ], target_groups=[target_group("tg", [backend.port])])
    return sluice(cfg), backend


def test_invalid_rewrite_is_500_and_nothing_reaches_the_target(failing):
    s, backend = failing
    with HttpConn(s.port) as c:
        r = send(c, "/bad/x")
        assert r.status == 500
        assert r.header("Server") == "awselb/2.0"
        r = send(c, "/badhost/x")
        assert r.status == 500
        # The connection stays usable, and a valid rewrite still goes through.
        r = send(c, "/fine/x?q=1")
        assert r.status == 200
    wait_until(lambda: len(backend.traffic()) >= 1, 5, what="the valid request at the target")
    assert [rec.path for rec in backend.traffic()] == ["/ok/x?q=1"]
