"""The Debian package: built, installed on this machine, run as its systemd unit runs it, removed.

The .deb comes from $SLUICE_DEB when set, else CPack packages the sluice of $SLUICE_BIN's
build directory (test.sh's build/: nothing is compiled again) into a temporary directory.
It is installed with `dpkg -i`; the test checks the files, the conffile, the `sluice` system
user and its directories. The container has no running systemd, so the test starts
/usr/bin/sluice the way sluice.service does: as user sluice, in /var/lib/sluice, with
NOTIFY_SOCKET naming a datagram socket the test reads (SO_PASSCRED: each message says which
process sent it, as systemd's NotifyAccess=main checks). It must hear READY=1 (and then the
example's fixed response), RELOADING=1 then READY=1 after SIGHUP (also when the new config
is refused), STOPPING=1 after SIGTERM and exit 0. The installed example config listens on
fixed ports (8080, admin 9901), so the process serves a copy moved to free ports; the
installed file itself is checked with `sluice validate`. The unit file is checked with
`systemd-analyze verify`, and the .deb with `lintian` (no error or warning), when they are
installed. Then `dpkg --purge sluice` must leave nothing behind: files, user, group,
directories, the unit's enablement symlinks; the user and group databases and systemd's unit
directories must be as they were before.

Root and dpkg are needed (skipped otherwise). So as not to change or destroy what is there,
the test is also skipped when sluice is already installed, or a `sluice` user or its
directories exist without the package.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest
import yaml

from conftest import SLUICE_BIN, free_port, one_response, wait_until

UNIT = pathlib.Path("/lib/systemd/system/sluice.service")
CONFIG = pathlib.Path("/etc/sluice/sluice.yaml")
INSTALLED_FILES = [
    pathlib.Path("/usr/bin/sluice"),
    UNIT,
    CONFIG,
    pathlib.Path("/usr/share/man/man1/sluice.1.gz"),
    pathlib.Path("/usr/share/doc/sluice/copyright"),
    pathlib.Path("/usr/share/doc/sluice/changelog.Debian.gz"),
]
SERVICE_DIRS = [pathlib.Path("/var/lib/sluice"), pathlib.Path("/var/log/sluice")]
# Written by deb-systemd-helper when postinst enables the unit (also without a running systemd).
ENABLED_LINK = pathlib.Path("/etc/systemd/system/multi-user.target.wants/sluice.service")
LEFTOVERS = [*INSTALLED_FILES, *SERVICE_DIRS, pathlib.Path("/etc/sluice"),
             pathlib.Path("/usr/share/doc/sluice"), ENABLED_LINK,
             pathlib.Path("/var/lib/systemd/deb-systemd-helper-enabled/sluice.service.dsh-also"),
             pathlib.Path("/var/lib/systemd/deb-systemd-helper-masked/sluice.service")]
# Compared before the install and after the purge: what installing may change.
ACCOUNT_FILES = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"]
UNIT_DIRS = ["/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
             "/var/lib/systemd/deb-systemd-helper-masked"]


def machine_state() -> dict:
    state = {}
    for f in ACCOUNT_FILES:
        with contextlib.suppress(OSError):
            state[f] = pathlib.Path(f).read_bytes()
    for d in UNIT_DIRS:
        root = pathlib.Path(d)
        if root.exists():
            state[d] = sorted(str(p) for p in root.rglob("*"))
    return state


def run(args, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def package_installed() -> bool:
    res = run(["dpkg-query", "-W", "-f=${Status}", "sluice"], timeout=30)
    return res.returncode == 0 and "installed" in res.stdout and "not-installed" not in res.stdout


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def why_skip() -> str | None:
    if os.geteuid() != 0:
        return "needs root: installs a .deb with dpkg -i and runs sluice as the sluice user"
    for tool in ("dpkg", "dpkg-deb", "dpkg-query", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (not a Debian-style machine)"
    if package_installed():
        return ("the sluice package is installed on this machine; the test would replace and "
                "purge it")
    if user_exists("sluice") or group_exists("sluice"):
        return "a sluice user or group exists without the package; purging would delete it"
    for d in (*SERVICE_DIRS, pathlib.Path("/etc/sluice")):
        if d.exists():
            return f"{d} exists without the package; purging would delete it"
    return None


def build_deb(out_dir: pathlib.Path) -> pathlib.Path:
    """$SLUICE_DEB, or the .deb CPack makes from $SLUICE_BIN's build directory (no compile)."""
    given = os.environ.get("SLUICE_DEB")
    if given:
        return pathlib.Path(given).resolve()
    build_dir = pathlib.Path(SLUICE_BIN).resolve().parent
    config = build_dir / "CPackConfig.cmake"
    assert config.exists(), (
        f"{config} missing: $SLUICE_BIN must be a normal CMake build's sluice (not a sanitizer, "
        f"TSan or fuzz build), or set $SLUICE_DEB to a .deb (scripts/package.sh makes one)")
    assert shutil.which("cpack"), "cpack (cmake) is not installed"
    res = run(["cpack", "-G", "DEB", "--config", str(config), "-B", str(out_dir)], timeout=300)
    assert res.returncode == 0, f"cpack failed:\n{res.stdout}\n{res.stderr}"
    debs = sorted(out_dir.glob("sluice_*.deb"))
    assert len(debs) == 1, f"cpack made {debs}:\n{res.stdout}"
    return debs[0]


class NotifySocket:
    """systemd's side of sd_notify: a datagram socket that records who sent what."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        os.chmod(path, 0o666)  # the sluice user must be able to send to it
        self.messages: list[tuple[str, int, int]] = []  # (text, pid, uid)

    def next(self, timeout: float) -> tuple[str, int, int]:
        """The next message; fails after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except socket.timeout:
            raise AssertionError(f"no sd_notify message within {timeout}s "
                                 f"(so far: {self.messages})") from None
        pid = uid = -1
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("3i", payload[:struct.calcsize("3i")])
        msg = (data.decode(), pid, uid)
        self.messages.append(msg)
        return msg

    def expect(self, field: str, timeout: float = 20.0) -> tuple[str, int, int]:
        """Reads messages until one has the assignment `field` (e.g. READY=1)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.1, deadline - time.monotonic()))
            if field in msg[0].split("\n"):
                return msg

    def close(self):
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def served_copy(workdir: pathlib.Path) -> tuple[pathlib.Path, int, int, dict]:
    """The installed example config with its listener and admin ports moved to free ones."""
    cfg = yaml.safe_load(CONFIG.read_text())
    listener = cfg["LoadBalancers"][0]["Listeners"][0]
    port, admin = free_port(), free_port()
    listener["Port"] = port
    cfg["Admin"]["Port"] = admin
    path = workdir / "sluice.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o644)
    return path, port, admin, listener["DefaultActions"][0]["FixedResponseConfig"]


def dpkg_log(title: str, res: subprocess.CompletedProcess) -> str:
    text = f"--- {title}: exit {res.returncode}\n{res.stdout}{res.stderr}"
    print(text)
    return text


def stop_process(proc: subprocess.Popen, main_pid: int | None):
    if proc.poll() is not None:
        return
    for pid in (main_pid, proc.pid):
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def test_deb_installs_runs_as_a_notify_service_reloads_and_purges():
    reason = why_skip()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="sluice-package-"))
    proc = None
    main_pid = None
    notify = None
    lintian = None
    before = machine_state()
    try:
        deb = build_deb(tmp / "deb")
        fields = run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"]).stdout
        print(f"--- {deb.name}\n{fields}")
        version = re.search(r"^Version: (\S+)$", fields, re.M).group(1)
        if shutil.which("lintian"):
            # In the background: it reads only the .deb, and takes as long as the rest.
            lintian = subprocess.Popen(["lintian", "--fail-on", "error,warning", str(deb)],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        res = run(["dpkg", "-i", str(deb)], timeout=180)
        dpkg_log("dpkg -i", res)
        assert res.returncode == 0, "dpkg -i failed"
        assert package_installed()

        # What the package put where.
        for path in INSTALLED_FILES:
            assert path.is_file(), f"{path} not installed"
        assert os.access("/usr/bin/sluice", os.X_OK)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "sluice"]).stdout
        assert str(CONFIG) in conffiles, conffiles
        unit = UNIT.read_text()
        for line in ("Type=notify", "User=sluice", "ExecReload=/bin/kill -HUP $MAINPID",
                     "ExecStart=/usr/bin/sluice run --config /etc/sluice/sluice.yaml"):
            assert line in unit.splitlines(), f"{line!r} not in the unit"
        user = pwd.getpwnam("sluice")
        assert user.pw_uid < 1000, "not a system user"
        assert user.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"), user.pw_shell
        assert grp.getgrgid(user.pw_gid).gr_name == "sluice"
        for d in SERVICE_DIRS:
            st = d.stat()
            assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid), f"{d} not owned by sluice"
            assert st.st_mode & 0o7777 == 0o750, f"{d}: mode {oct(st.st_mode)}"
        assert ENABLED_LINK.is_symlink(), "postinst did not enable the unit"

        upstream = version.split("-")[0]
        res = run(["/usr/bin/sluice", "--version"])
        assert (res.returncode, res.stdout) == (0, f"sluice {upstream}\n"), res
        # The service user can read and validate the installed example (ExecReload does).
        res = run(["runuser", "-u", "sluice", "--", "/usr/bin/sluice", "validate", str(CONFIG)])
        assert res.returncode == 0, res.stdout + res.stderr
        assert ": ok (" in res.stdout, res.stdout

        if shutil.which("systemd-analyze"):
            res = run(["systemd-analyze", "verify", str(UNIT)], timeout=60)
            assert res.returncode == 0, f"systemd-analyze verify:\n{res.stdout}{res.stderr}"
            assert "sluice.service" not in res.stdout + res.stderr, res.stdout + res.stderr
            print("--- systemd-analyze verify: ok")

        # Run as the unit would: user sluice, WorkingDirectory=/var/lib/sluice, NOTIFY_SOCKET.
        run_dir = tmp / "run"
        run_dir.mkdir(mode=0o755)
        tmp.chmod(0o755)
        config, port, admin, fixed = served_copy(run_dir)
        notify = NotifySocket(run_dir / "notify.sock")
        log = (run_dir / "sluice.log").open("w")
        proc = subprocess.Popen(
            ["runuser", "-u", "sluice", "--", "/usr/bin/sluice", "run", "--config", str(config),
             "--workers", "2"],
            cwd="/var/lib/sluice", stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "NOTIFY_SOCKET": str(notify.path)})
        log.close()
        logtext = lambda: (run_dir / "sluice.log").read_text()  # noqa: E731

        try:
            text, main_pid, uid = notify.expect("READY=1", timeout=20)
        except AssertionError as e:  # say why: exited (how), or still starting (its log)
            state = "running" if proc.poll() is None else f"exited with {proc.returncode}"
            raise AssertionError(f"{e}; sluice {state}; its log:\n{logtext()}") from None
        assert uid == user.pw_uid, f"READY=1 came from uid {uid}, not sluice's"
        assert os.readlink(f"/proc/{main_pid}/exe") == "/usr/bin/sluice"
        assert "STATUS=ready: 2 workers" in text, text
        assert "ready:" in logtext(), "READY=1 arrived, but the log has no ready: line"
        res = one_response(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert res.status == int(fixed["StatusCode"]), res
        assert res.text == fixed["MessageBody"], res
        res = one_response(admin, b"GET /targets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert res.status == 200, res

        os.kill(main_pid, signal.SIGHUP)
        text, pid, _ = notify.expect("RELOADING=1", timeout=10)
        assert pid == main_pid
        assert re.search(r"^MONOTONIC_USEC=\d+$", text, re.M), text
        text, pid, _ = notify.expect("READY=1", timeout=10)
        assert pid == main_pid and "STATUS=reload applied" in text, text
        wait_until(lambda: "reload applied" in logtext(), 5, what="reload applied in the log")
        res = one_response(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert res.status == int(fixed["StatusCode"]), res
        # A refused reload also ends with READY=1: the old config still serves.
        good = config.read_text()
        config.write_text(good + "Bogus: 1\n")
        os.kill(main_pid, signal.SIGHUP)
        notify.expect("RELOADING=1", timeout=10)
        text, _, _ = notify.expect("READY=1", timeout=10)
        assert "STATUS=reload refused; still serving generation 2" in text, text
        config.write_text(good)
        res = one_response(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert res.status == int(fixed["StatusCode"]), res

        os.kill(main_pid, signal.SIGTERM)
        text, pid, _ = notify.expect("STOPPING=1", timeout=10)
        assert pid == main_pid
        assert proc.wait(timeout=20) == 0, logtext()
        print(f"--- sd_notify messages: {[m[0] for m in notify.messages]}")
        print(f"--- sluice's log:\n{logtext()}")

        if lintian is not None:
            out, _ = lintian.communicate(timeout=180)
            out = out.replace("running with root privileges is not recommended!\n", "")
            print(f"--- lintian: exit {lintian.returncode}\n{out}")
            assert lintian.returncode == 0, f"lintian:\n{out}"
    finally:
        if lintian is not None and lintian.poll() is None:
            lintian.kill()
            lintian.wait()
        if proc is not None:
            stop_process(proc, main_pid)
        if notify is not None:
            notify.close()
        purge = run(["dpkg", "--purge", "sluice"], timeout=180) if package_installed() else None
        shutil.rmtree(tmp, ignore_errors=True)
    assert purge is not None
    dpkg_log("dpkg --purge", purge)
    assert purge.returncode == 0, "dpkg --purge failed"
    assert not package_installed()
    left = [str(p) for p in LEFTOVERS if p.exists() or p.is_symlink()]
    assert not left, f"left behind after purge: {left}"
    assert not user_exists("sluice"), "the sluice user is still there"
    assert not group_exists("sluice"), "the sluice group is still there"
    after = machine_state()
    changed = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
    assert not changed, f"changed by install + purge: {changed}"
    print(f"--- package test took {time.monotonic() - started:.1f}s")


def subcommands(args) -> list[str]:
    """The subcommands `sluice ARGS --help` lists."""
    res = run([SLUICE_BIN, *args, "--help"], timeout=10)
    assert res.returncode == 0, res.stderr
    listed = res.stdout.partition("Subcommands:")[2]
    return re.findall(r"^  (\S+)", listed, re.M)


def test_every_subcommand_has_help_and_a_man_page_entry():
    """`--help` works and exits 0 at every level; packaging/sluice.1 describes each command."""
    man = (pathlib.Path(__file__).resolve().parents[2] / "packaging" / "sluice.1").read_text()
    man = man.replace("\\-", "-")
    top = subcommands([])
    assert {"run", "validate", "import", "export", "api-keys", "targets", "cert", "demo",
            "demo-target"} <= set(top), top
    checked = []
    for name in top:
        for sub in [[]] + [[s] for s in subcommands([name])]:
            args = [name, *sub]
            res = run([SLUICE_BIN, *args, "--help"], timeout=10)
            assert res.returncode == 0, f"sluice {' '.join(args)} --help: {res.stderr}"
            assert res.stdout.startswith("Usage:") or "Usage:" in res.stdout, res.stdout
            assert re.search(rf"^\.(TP|B|BR|BI)\b.*\b{re.escape(' '.join(args))}\b", man, re.M), \
                f"packaging/sluice.1 has no entry for `sluice {' '.join(args)}`"
            checked.append(" ".join(args))
    assert "api-keys create" in checked and "cert self-signed" in checked, checked
    res = run([SLUICE_BIN, "--version"], timeout=10)
    assert res.returncode == 0 and res.stdout.startswith("sluice "), res
