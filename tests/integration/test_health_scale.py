"""The health checker's descriptor budget (issue 9): with `ulimit -n 256` and 300 targets whose
checks hang, the checker keeps at most a quarter of the limit (64) as probe sockets open, so
the workers still have descriptors for client and upstream connections; the checks that do
not fit wait for a free slot."""

import contextlib
import os
import socket
import time

import pytest

from conftest import (LOCAL, SLUICE_BIN, Proc, Sluice, dump_config, fast_health, forward,
                      free_port, lb_config, path_is, port_accepts, rule, target_group,
                      wait_health, wait_until)

NOFILE = 256
BUDGET = NOFILE // 4  # ProbeSocketBudget: a quarter of the soft limit
HANGING = 300


@pytest.fixture
def silent_targets():
    """HANGING listeners on 127.0.0.2.. one port that never accept: checks connect (into the
    backlog, or not at all once it is full) and never get an answer."""
    port = free_port()
    socks = []
    try:
        for i in range(HANGING):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((f"127.0.{2 + i // 250}.{1 + i % 250}", port))
            s.listen(8)
            socks.append(s)
        yield [(s.getsockname()[0], port) for s in socks]
    finally:
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_probe_sockets_stay_within_a_quarter_of_the_fd_limit(tmp_path, controlled, http,
                                                            silent_targets):
    web = controlled("web")
    port, admin = free_port(), free_port()
    hanging = target_group("hanging", [], health=True, **fast_health())
    hanging["Targets"] = [{"Id": ip, "Port": p} for ip, p in silent_targets]
    cfg = lb_config(port, forward("web"), rules=[rule(5, [path_is("/h/*")], forward("hanging"))],
                    target_groups=[target_group("web", [web.port], health=True, **fast_health()),
                                   hanging])
    cfg["Admin"] = {"Address": LOCAL, "Port": admin}
    path = tmp_path / "sluice.yaml"
    path.write_text(dump_config(cfg))
    proc = Proc(["/bin/sh", "-c", f'ulimit -n {NOFILE} && exec "$@"', "sh", SLUICE_BIN, "run",
                 "--config", path, "--workers", "2"], tmp_path, "sluice")
    s = Sluice(proc, path, port)
    try:
        wait_until(lambda: "ready:" in proc.stderr() or not proc.alive(), 20, what="ready")
        assert proc.alive(), proc.stderr()
        wait_until(lambda: port_accepts(port), 10, what="listener")
        with open(f"/proc/{proc.pid}/limits") as f:
            assert any(line.startswith("Max open files") and f" {NOFILE} " in line
                       for line in f), "the ulimit did not reach sluice"
        wait_health(admin, "web", web.port, "healthy", 10)
        # Through more than one check interval plus a timeout (every hanging target is checked
        # at least once), count sluice's descriptors and serve traffic.
        most, statuses = 0, []
        deadline = time.monotonic() + 5 + 2 + 1
        while time.monotonic() < deadline:
            most = max(most, open_fds(proc.pid))
            statuses.append(http.get(s.url("/x"), timeout=10).status_code)
            time.sleep(0.02)
        # Probe sockets at most BUDGET; the rest: stdio, epoll and event fds, listening
        # sockets, admin, pooled upstream connections (well under 40).
        assert most <= BUDGET + 40, f"{most} descriptors open (budget {BUDGET} probes)"
        assert most >= BUDGET, f"only {most} descriptors: the hanging checks did not run"
        assert statuses and set(statuses) == {200}, statuses
        assert "Too many open files" not in proc.stderr(), proc.stderr()[-2000:]
    finally:
        proc.stop(timeout=10)
