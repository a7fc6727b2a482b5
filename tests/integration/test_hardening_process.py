"""Issue 9 (hardening), the process: start-up that cannot serve must fail loudly (out of file
descriptors), and a port another process listens on must never be shared silently (at start-up
or by a reload)."""

from __future__ import annotations

import resource
import signal
import socket
import subprocess

import pytest

from conftest import (LOCAL, SLUICE_BIN, HttpConn, dump_config, fixed, free_port, lb_config,
                      port_accepts, wait_until)


def run_with_fd_limit(tmp_path, config: dict, limit: int, timeout: float = 20):
    path = tmp_path / "lb.yaml"
    path.write_text(dump_config(config))

    def limit_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--workers", "2",
                           "--shutdown-timeout", "1"], preexec_fn=limit_fds,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("limit", [8, 9, 12, 40])
def test_too_few_file_descriptors_fails_start_up(tmp_path, limit):
    # Before the fix: with 8 the log said "ready", nothing answered, a core spun in
    # epoll_wait and SIGTERM was ignored (the run below then hit its timeout).
    port = free_port()
    r = run_with_fd_limit(tmp_path, lb_config(port, fixed("200", "hi")), limit)
    assert r.returncode == 1, r.stderr
    assert "ready:" not in r.stderr
    assert "cannot start" in r.stderr or "Too many open files" in r.stderr, r.stderr
    assert not port_accepts(port)


def test_enough_file_descriptors_serves(tmp_path):
    port = free_port()
    path = tmp_path / "lb.yaml"
    path.write_text(dump_config(lb_config(port, fixed("200", "hi"))))

    def limit_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    p = subprocess.Popen([SLUICE_BIN, "run", "--config", str(path), "--workers", "2"],
                         preexec_fn=limit_fds, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: port_accepts(port), 10, what="sluice to listen")
        with HttpConn(port) as c:
            assert c.request("GET", "/").text == "hi"
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)


def test_second_process_on_the_same_port_is_refused(sluice, tmp_path):
    port = free_port()
    config = lb_config(port, fixed("200", "first"))
    first = sluice(config)
    path = tmp_path / "second.yaml"
    path.write_text(dump_config(lb_config(port, fixed("200", "second"))))
    r = subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--workers", "2"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r.stderr
    assert "already in use" in r.stderr, r.stderr
    assert "ready:" not in r.stderr
    # Every request still reaches the first process.
    for _ in range(20):
        with HttpConn(first.port) as c:
            assert c.request("GET", "/").text == "first"


def test_reload_onto_a_port_another_process_holds_is_refused(sluice):
    port = free_port()
    s = sluice(lb_config(port, fixed("200", "mine")))
    # Another process's listener that allows port sharing, as a second Sluice's would.
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind((LOCAL, 0))
    other.listen(16)
    taken = other.getsockname()[1]
    try:
        moved = lb_config(taken, fixed("200", "moved"))
        s.reload(moved, expect="refused")
        assert "already in use" in s.log()
        with HttpConn(port) as c:
            assert c.request("GET", "/").text == "mine"
    finally:
        other.close()
    # Sluice's own reloads keep working: the same listener, a new answer; then a move to a
    # port nobody holds.
    s.reload(lb_config(port, fixed("200", "again")))
    with HttpConn(port) as c:
        assert c.request("GET", "/").text == "again"
    fresh = free_port()
    s.reload(lb_config(fresh, fixed("200", "fresh")))
    with HttpConn(fresh) as c:
        assert c.request("GET", "/").text == "fresh"
