"""Hostile config files against `sluice validate`, `sluice run` and a SIGHUP reload: what
Sluice writes about them is bounded and escaped, loading them is bounded in memory, and only
regular files are read (a FIFO must not block)."""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import SLUICE_BIN, fixed, free_port, lb_config, wait_until

MiB = 1024 * 1024
MAX_STDERR = 64 * 1024
MAX_RSS_MB = 100
ERROR_LINE = re.compile(r"^(?P<file>[^:]+)(?::(?P<line>\d+):(?P<col>\d+))?: (?P<rest>.+)$")


def alias_bomb(value_bytes: int, aliases: int = 199) -> str:
    """One long scalar, referenced by `aliases` target group names: each reference is an
    invalid name (and all but the first a duplicate), so each is an error quoting the value."""
    lines = ["a: &x " + "a" * value_bytes, "TargetGroups:"]
    lines += ["  - {Name: *x, Protocol: HTTP, Port: 80}"] * aliases
    return "\n".join(lines) + "\n"


def run_measured(args, tmp_path, timeout: float = 60.0):
    """Runs `args` with stderr to a file; returns (exit status, stderr bytes, max RSS in MB).
    The process is killed if it outlives `timeout`.

    The peak RSS comes from GNU time, which forks the command from its own small process: the
    ru_maxrss that wait4 reports for a child of this (pytest) process counts the pages the
    child shared with pytest between fork and exec, so it was pytest's size, not Sluice's,
    whenever pytest had grown past the limit (boto3's models do that)."""
    err_path = tmp_path / "measured.err"
    rss_path = tmp_path / "measured.rss"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(["/usr/bin/time", "-o", str(rss_path), "-f", "%M",
                                 *[str(a) for a in args]],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"{args} still running after {timeout}s")
    max_rss_kb = int(rss_path.read_text().split()[-1])
    return proc.returncode, err_path.read_bytes(), max_rss_kb / 1024


def check_error_lines(stderr: bytes, path):
    """Every line is `file:line:column: field: message` or `file: message`, for `path`."""
    text = stderr.decode("utf-8")  # strict: invalid UTF-8 must have been escaped
    lines = text.splitlines()
    assert lines, "no errors printed"
    for line in lines:
        m = ERROR_LINE.match(line)
        assert m and m["file"] == str(path), line[:300]
    return lines


def test_validate_alias_bomb_output_and_memory_are_bounded(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(1 * MiB))
    rc, stderr, max_rss = run_measured([SLUICE_BIN, "validate", bomb], tmp_path)
    assert rc == 1
    assert len(stderr) < MAX_STDERR, f"{len(stderr)} bytes of errors"
    assert max_rss < MAX_RSS_MB, f"max RSS {max_rss:.0f} MB"
    lines = check_error_lines(stderr, bomb)
    assert len(lines) <= 52  # 50 errors, "and N more error(s)", "N error(s)"
    assert "(1048576 bytes)" in stderr.decode()
    assert "a" * 65 not in stderr.decode()
    assert re.search(r": and \d+ more error\(s\)$", lines[-2]), lines[-2]


def test_validate_lists_at_most_50_errors_then_counts_the_rest(tmp_path):
    # Small values: under every memory limit, so every reference is an error.
    bomb = tmp_path / "many.yaml"
    bomb.write_text(alias_bomb(1000, aliases=100))
    rc, stderr, _ = run_measured([SLUICE_BIN, "validate", bomb], tmp_path)
    assert rc == 1
    lines = check_error_lines(stderr, bomb)
    # 1 unknown field 'a', 100 invalid names, 99 duplicate names.
    assert len(lines) == 52, lines
    assert lines[-2] == f"{bomb}: and 150 more error(s)"
    assert lines[-1] == f"{bomb}: 200 error(s)"
    assert "' (1000 bytes) is invalid" in lines[1]


def test_run_refuses_alias_bomb_with_bounded_output(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(1 * MiB))
    rc, stderr, max_rss = run_measured([SLUICE_BIN, "run", "--config", bomb, "--workers", "1"],
                                       tmp_path)
    assert rc == 1
    assert b"ready:" not in stderr
    assert len(stderr) < MAX_STDERR, f"{len(stderr)} bytes of log"
    assert max_rss < MAX_RSS_MB, f"max RSS {max_rss:.0f} MB"


def test_control_bidi_and_invalid_utf8_are_escaped(tmp_path):
    bad = tmp_path / "odd.yaml"
    # A SOH and an ESC sequence, a RIGHT-TO-LEFT OVERRIDE (as YAML escapes), and raw bytes that
    # are not UTF-8, in a value and in a key; a NUL in another value.
    bad.write_bytes(b'TargetGroups:\n'
                    b'  - Name: "tg\\x01\\e[2J\\u202Egpj.exe"\n'
                    b'    Protocol: HTTP\n'
                    b'    Port: 80\n'
                    b'    Targets: [{Id: "10.0.0.1\\0evil"}]\n'
                    b'    X\xff\xfe: 1\n')
    rc, stderr, _ = run_measured([SLUICE_BIN, "validate", bad], tmp_path)
    assert rc == 1
    for raw in (b"\x00", b"\x01", b"\x1b", "\u202e".encode(), b"\xff"):
        assert raw not in stderr, (raw, stderr)
    text = "\n".join(check_error_lines(stderr, bad))
    assert "name 'tg\\x01\\x1b[2J\\u202egpj.exe' is invalid" in text
    assert "value '10.0.0.1\\x00evil' contains a NUL character" in text
    assert "unknown field 'X\\xff\\xfe'" in text


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_non_regular_files_are_refused_without_blocking(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "config.yaml"
        os.mkfifo(path)
        what = "a FIFO"
    elif kind == "directory":
        path, what = tmp_path, "a directory"
    else:
        path, what = "/dev/zero", "a character device"
    # Before the fix a FIFO blocked forever in open(); the timeout turns that into a failure.
    res = subprocess.run([SLUICE_BIN, "validate", str(path)], capture_output=True, text=True,
                         timeout=10)
    assert res.returncode == 1
    assert f"{path}: cannot read: it is {what}, not a file" in res.stderr


def test_fifo_config_for_run_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    os.mkfifo(path)
    res = subprocess.run([SLUICE_BIN, "run", "--config", str(path), "--workers", "1"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1
    assert "it is a FIFO" in res.stderr


def test_file_over_16_mib_is_refused_with_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(17 * MiB)  # sparse
    rc, stderr, max_rss = run_measured([SLUICE_BIN, "validate", big], tmp_path)
    assert rc == 1
    assert f"{big}: file is {17 * MiB} bytes; the limit is 16 MiB".encode() in stderr
    assert max_rss < MAX_RSS_MB


def test_many_small_nodes_are_refused_before_building_them(tmp_path):
    # 16 MiB of "- 1" lines would be 4 million yaml-cpp nodes, gigabytes of memory.
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("TargetGroups:\n" + "- 1\n" * (4 * MiB - 10))
    rc, stderr, max_rss = run_measured([SLUICE_BIN, "validate", tiny], tmp_path)
    assert rc == 1
    assert b"more than 600000 YAML nodes" in stderr
    assert max_rss < MAX_RSS_MB, f"max RSS {max_rss:.0f} MB"


def proc_status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_refused_reload_of_alias_bomb_keeps_memory_and_log_bounded(sluice, http):
    s = sluice(lb_config(free_port(), fixed("200", "ok")), workers=1)
    rss_before = proc_status_kb(s.proc.pid, "VmRSS")
    log_before = s.proc.err_path.stat().st_size
    s.reload(alias_bomb(300 * 1024), expect="refused", timeout=30)
    grown = s.proc.err_path.stat().st_size - log_before
    assert grown < MAX_STDERR, f"log grew by {grown} bytes"
    rss_after = proc_status_kb(s.proc.pid, "VmRSS")
    peak = proc_status_kb(s.proc.pid, "VmHWM")
    assert rss_after - rss_before < 32 * 1024, (rss_before, rss_after)
    assert peak < MAX_RSS_MB * 1024, f"peak RSS {peak} kB"
    assert s.proc.alive()
    # Still serving the old config.
    assert http.get(s.url("/"), timeout=10).text == "ok"


def test_fifo_swapped_in_for_reload_is_refused(sluice):
    s = sluice(lb_config(free_port(), fixed("200", "ok")), workers=1)
    s.config_path.unlink()
    os.mkfifo(s.config_path)
    before = s.log().count("reload refused")
    s.proc.signal(signal.SIGHUP)
    wait_until(lambda: s.log().count("reload refused") > before, 10, what="reload refused")
    assert "it is a FIFO" in s.log()


def test_refused_reload_lists_50_errors_and_counts_all(sluice):
    s = sluice(lb_config(free_port(), fixed("200", "ok")), workers=1)
    s.reload(alias_bomb(1000, aliases=100), expect="refused")
    log = s.log()
    assert len(re.findall(r": TargetGroups\[\d+\]\.Name: ", log)) == 49, log  # + unknown 'a'
    assert re.search(r": and 150 more error\(s\)$", log, re.M), log
    assert re.search(r": 200 error\(s\); config not applied$", log, re.M), log
