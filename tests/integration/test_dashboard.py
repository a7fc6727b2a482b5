"""The live dashboard on the admin endpoint, in a real browser (headless Chromium driven by
Selenium, both Debian packages that scripts/setup.sh installs; a missing install fails these
tests rather than skipping them): the page loads with no console error, shows the load
balancer, its rules in priority order and each target group's targets, draws its charts,
shows a target going unhealthy within one refresh, fits a phone's width, and a screenshot of
each is kept (build/test-artifacts/, or $SLUICE_ARTIFACTS). The admin token is checked over
plain HTTP: an endpoint beyond loopback refuses to start without one, and with one admits
only requests that carry it."""

from __future__ import annotations

import http.client
import os
import pathlib
import socket
import subprocess
import time

import pytest

from conftest import (SLUICE_BIN, admin_get, dump_config, fast_health, fixed, forward, free_port,
                      lb_config, path_is, raw_exchange, rule, target_group, wait_health,
                      wait_until)

ARTIFACTS = pathlib.Path(os.environ.get(
    "SLUICE_ARTIFACTS", pathlib.Path(__file__).resolve().parents[2] / "build" / "test-artifacts"))
TOKEN = "dashboard-test-token-0123456789"


@pytest.fixture
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        pytest.fail(f"python3-selenium is missing (bash scripts/setup.sh installs it): {e}")
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: bash scripts/setup.sh installs chromium and "
                        "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1400", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def start(sluice, demo_targets, admin_extra=None):
    a, b = demo_targets("a"), demo_targets("b")
    port, admin = free_port(), free_port()
    rules = [rule(20, [path_is("/b/*")], forward("tg-b")),
             rule(10, [path_is("/a/*")], forward("tg-a"))]
    cfg = lb_config(port, fixed("404", "no route"), rules=rules, name="web",
                    target_groups=[target_group("tg-a", [a.port], health=True, **fast_health()),
                                   target_group("tg-b", [b.port], health=True, **fast_health())])
    cfg["Admin"] = {"Port": admin, "MetricsResolutionSeconds": 1, **(admin_extra or {})}
    return sluice(cfg), port, admin, a, b


def refreshes(driver) -> int:
    return int(driver.execute_script("return document.body.dataset.refreshes || '0'"))


def console_errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def cell_texts(driver, selector: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent)",
        selector)


def target_state(driver, group: str, port: int) -> str | None:
    return driver.execute_script(
        "const r = document.querySelector(`[data-target-group='${arguments[0]}'] "
        "[data-target='127.0.0.1:${arguments[1]}'] .state`); return r && r.textContent",
        group, port)


def test_dashboard_shows_the_load_balancer_and_a_target_going_unhealthy(sluice, demo_targets,
                                                                         browser):
    lb, port, admin, a, b = start(sluice, demo_targets)
    wait_health(admin, "tg-a", a.port, "healthy", 20)
    wait_health(admin, "tg-b", b.port, "healthy", 20)
    for path in ["/a/1"] * 20 + ["/b/1"] * 10 + ["/none"] * 5:
        raw_exchange(port, f"GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode())
    browser.get(f"http://127.0.0.1:{admin}/dashboard?refresh=1")
    wait_until(lambda: refreshes(browser) >= 1, 15, 0.1, "the dashboard's first refresh")
    assert console_errors(browser) == []
    assert browser.title == "Sluice"
    # The load balancer, its listener, the rules by priority (not as written), the default last.
    assert cell_texts(browser, "[data-load-balancer] h3") == ["web"]
    assert cell_texts(browser, "[data-listener] h4") == [f"HTTP 127.0.0.1:{port}"]
    assert cell_texts(browser, "[data-rule] td:first-child") == ["10", "20", "default"]
    assert cell_texts(browser, "[data-rule='10'] td")[1:] == ["path-pattern /a/*",
                                                             "forward tg-a (weight 1)"]
    assert cell_texts(browser, "[data-target-group] h3") == ["tg-a", "tg-b"]
    assert target_state(browser, "tg-a", a.port) == "healthy"
    assert target_state(browser, "tg-b", b.port) == "healthy"
    # Every chart drawn: three for the load balancer, two per target group.
    wait_until(lambda: browser.execute_script(
        "return document.querySelectorAll('[data-chart] .uplot canvas').length") == 7, 10, 0.1,
        "seven charts")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    # Kill tg-b's only target: the page shows it unhealthy within one refresh (1 s here) of
    # the admin endpoint saying so.
    b.stop()
    wait_health(admin, "tg-b", b.port, "unhealthy", 30)
    seen = time.monotonic()
    wait_until(lambda: target_state(browser, "tg-b", b.port) == "unhealthy", 3, 0.05,
               "the dashboard to show tg-b's target unhealthy")
    assert time.monotonic() - seen < 2.5
    assert target_state(browser, "tg-a", a.port) == "healthy"
    reason = cell_texts(browser, f"[data-target='127.0.0.1:{b.port}'] td")[2]
    assert reason in ("Target.FailedHealthChecks", "Target.Timeout"), reason
    browser.save_screenshot(str(ARTIFACTS / "dashboard-unhealthy.png"))
    assert console_errors(browser) == []


def test_dashboard_charts_what_the_clients_did(sluice, demo_targets, browser):
    lb, port, admin, a, b = start(sluice, demo_targets)
    for path in ["/a/1"] * 30 + ["/none"] * 10:
        raw_exchange(port, f"GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode())
    browser.get(f"http://127.0.0.1:{admin}/dashboard?refresh=1")

    # The chart's data (uPlot keeps it on the plot object the page holds) sums to the
    # requests sent, per second of each 10 s point: 40 requests → 4.0 for the load balancer,
    # 30 → 3.0 for tg-a, once the sampler has closed the seconds they fell in.
    def total(chart_id):
        return browser.execute_script(
            "const v = window.sluiceDashboard && window.sluiceDashboard.data(arguments[0]);"
            "return v ? v[1].reduce((s, x) => s + (x || 0), 0) : null", chart_id)

    wait_until(lambda: total("lb-requests-web") == pytest.approx(4.0), 30, 0.2,
               "the load balancer's requests on its chart")
    wait_until(lambda: total("tg-requests-tg-a") == pytest.approx(3.0), 10, 0.2,
               "tg-a's requests on its chart")
    assert total("tg-requests-tg-b") == 0
    # The load balancer's latency is its groups' (TargetResponseTime per LoadBalancer): a
    # point where tg-a answered, none where nothing was forwarded.
    latency = browser.execute_script("return window.sluiceDashboard.data('lb-latency-web')")
    assert any(v is not None and v >= 0 for v in latency[1]), latency[1]
    assert console_errors(browser) == []


def test_dashboard_fits_a_phone(sluice, demo_targets, browser):
    lb, port, admin, a, b = start(sluice, demo_targets)
    browser.set_window_size(390, 844)
    browser.get(f"http://127.0.0.1:{admin}/dashboard?refresh=1")
    wait_until(lambda: refreshes(browser) >= 2, 15, 0.1, "two refreshes")
    width, inner = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window"
    chart_width = browser.execute_script(
        "return document.querySelector('[data-chart] canvas').getBoundingClientRect().width")
    assert 200 <= chart_width <= inner
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))
    assert console_errors(browser) == []


def request(port: int, path: str, headers: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_admin_beyond_loopback_needs_its_token(sluice, demo_targets, browser, tmp_path):
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN + "\n")
    lb, port, admin, a, b = start(sluice, demo_targets,
                                  {"Address": "0.0.0.0", "TokenFile": str(token_file)})
    status, headers, body = request(admin, "/targets")
    assert status == 401 and b"Admin.TokenFile" in body
    assert headers["WWW-Authenticate"] == 'Bearer realm="sluice-admin"'
    assert request(admin, "/targets", {"Authorization": "Bearer nope-nope-nope-nope"})[0] == 401
    status, _, body = request(admin, "/targets", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and b"tg-a" in body
    # `sluice targets` sends it from the same file.
    out = subprocess.run([SLUICE_BIN, "targets", "--admin", f"127.0.0.1:{admin}",
                          "--token-file", str(token_file)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0 and "tg-a" in out.stdout, out.stderr
    refused = subprocess.run([SLUICE_BIN, "targets", "--admin", f"127.0.0.1:{admin}"],
                             capture_output=True, text=True, timeout=10)
    assert refused.returncode == 1 and "401" in refused.stderr
    # A browser opens /dashboard?token=...: the token becomes an HttpOnly cookie, leaves the
    # address, and the page's own requests carry it.
    browser.get(f"http://127.0.0.1:{admin}/dashboard?refresh=1&token={TOKEN}")
    wait_until(lambda: refreshes(browser) >= 1, 15, 0.1, "the dashboard's first refresh")
    assert "token" not in browser.current_url
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly
    assert cell_texts(browser, "[data-target-group] h3") == ["tg-a", "tg-b"]
    assert console_errors(browser) == []


def test_admin_beyond_loopback_without_a_token_does_not_start(tmp_path):
    port, admin = free_port(), free_port()
    cfg = lb_config(port, fixed("200", "ok"))
    cfg["Admin"] = {"Address": "0.0.0.0", "Port": admin}
    path = tmp_path / "lb.yaml"
    path.write_text(dump_config(cfg))
    out = subprocess.run([SLUICE_BIN, "run", "--config", str(path)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode != 0
    assert "Admin.Address: the admin endpoint on 0.0.0.0 is reachable beyond this host" in \
        out.stderr, out.stderr
    # --admin beyond loopback is refused the same way, and a bad token file is named.
    cfg["Admin"] = {"Port": 0}
    path.write_text(dump_config(cfg))
    out = subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--admin", f"0.0.0.0:{admin}"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and "reachable beyond this host" in out.stderr, out.stderr
    (tmp_path / "short.token").write_text("short\n")
    cfg["Admin"] = {"Address": "0.0.0.0", "Port": admin, "TokenFile": "short.token"}
    path.write_text(dump_config(cfg))
    out = subprocess.run([SLUICE_BIN, "run", "--config", str(path)], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode != 0
    assert f"Admin.TokenFile {tmp_path}/short.token: the token is 5 characters long" in \
        out.stderr, out.stderr
