"""Processes: every process the harness starts is registered and killed on the way out."""

import datetime
import os
import resource
import signal
import socket
import subprocess
import time

from .common import HarnessError


class Procs:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.live = {}  # pid -> (name, Popen, log file)

    def start(self, name, argv, cpus=None, env=None, stdout=None):
        """Starts a process, its stdout and stderr appended to logs/<name>.log; with `stdout`
        (a path), its stdout is appended to that file instead (HAProxy's access log)."""
        if cpus is not None:
            argv = ["taskset", "-c", cpus] + list(argv)
        log = open(self.log_dir / f"{name}.log", "ab")
        log.write(f"--- {datetime.datetime.now().isoformat()} {' '.join(map(str, argv))}\n".encode())
        log.flush()
        if stdout is None:
            return self._spawn(name, argv, log, env, log, subprocess.STDOUT)
        with open(stdout, "ab") as f:  # the child keeps its own descriptor
            return self._spawn(name, argv, log, env, f, log)

    def _spawn(self, name, argv, log, env, out, err):
        # restore_signals=False keeps Python's SIG_IGN for SIGPIPE in the child: the shared
        # floor forwarder does not ignore it itself, and a client closing while it writes a
        # 64 KiB body would kill it (seen in CI), which is an instrument fault, not a finding.
        p = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                             restore_signals=False)
        self.live[p.pid] = (name, p, log)
        return p

    def stop(self, p, sig=signal.SIGTERM, grace=5.0):
        entry = self.live.pop(p.pid, None)
        for s, wait in ((sig, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(p.pid, s)  # the whole group: nginx workers, etc.
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Leftover group members (a worker whose master died first).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if entry:
            entry[2].close()

    def stop_all(self):
        for pid in list(self.live):
            self.stop(self.live[pid][1], grace=2.0)

    def run(self, name, argv, cpus=None, timeout=60.0):
        """Runs a short-lived process to completion (killed on timeout). Returns
        (returncode, stdout, cpu_seconds)."""
        if cpus is not None:
            argv = ["taskset", "-c", cpus] + list(argv)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.live[p.pid] = (name, p, open(os.devnull, "wb"))
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(p, signal.SIGKILL)
            raise HarnessError(f"{name} did not finish within {timeout:.0f} s")
        except BaseException:  # Ctrl-C, SIGTERM: take the child down with us
            self.stop(p, signal.SIGKILL)
            raise
        if p.pid in self.live:
            self.live.pop(p.pid)[2].close()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            log.write(f"--- {' '.join(map(str, argv))}\n".encode() + out + err)
        return p.returncode, out.decode(errors="replace"), cpu


def descendants(pid):
    """pid and all its descendants (processes, not threads)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def wait_udp_bound(ip, port, proc, what, timeout=10.0):
    """As wait_listening, for a UDP socket: until one is bound to ip:port (sysstats.udp_bound;
    a datagram sent from then on waits in its buffer until the process reads it)."""
    from .sysstats import udp_bound
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"{what} exited with status {proc.returncode} during start-up "
                               f"(see its log)")
        if udp_bound(ip, port):
            return
        time.sleep(0.05)
    raise HarnessError(f"{what} has no UDP socket bound to {ip}:{port} after {timeout} s")


def wait_listening(ip, port, proc, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"{what} exited with status {proc.returncode} during start-up "
                               f"(see its log)")
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise HarnessError(f"{what} is not accepting connections on {ip}:{port} after {timeout} s")
