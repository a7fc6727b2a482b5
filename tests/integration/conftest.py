"""Shared fixtures for Sluice's end-to-end tests.

Everything runs on 127.0.0.1. Processes started here (sluice, demo-targets) and threads
(faulty Python back ends) are stopped in fixture finalizers, also when a test fails. Every wait
loop is bounded in time.

The binary comes from $SLUICE_BIN (relative paths are resolved against the current directory,
then the repository root), defaulting to <repo>/build/sluice.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
LOCAL = "127.0.0.1"


def _resolve_binary() -> str:
    raw = os.environ.get("SLUICE_BIN")
    if not raw:
        return str(REPO / "build" / "sluice")
    if os.path.isabs(raw):
        return raw
    for base in (pathlib.Path.cwd(), REPO):
        cand = (base / raw).resolve()
        if cand.exists():
            return str(cand)
    return str((REPO / raw).resolve())


SLUICE_BIN = _resolve_binary()


@pytest.fixture(scope="session", autouse=True)
def _check_binary():
    if not os.access(SLUICE_BIN, os.X_OK):
        pytest.exit(f"sluice binary not found or not executable: {SLUICE_BIN} "
                    f"(build it, or set SLUICE_BIN)", returncode=2)


# ---------------------------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------------------------

def loopback_certificate(directory: pathlib.Path, name: str):
    """A self-signed certificate for 127.0.0.1 (its own CA: put it in SSL_CERT_FILE to trust
    it) and its key, made by the openssl CLI: (cert path, key path)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def free_port() -> int:
    """A port that was free a moment ago (bind port 0 on 127.0.0.1, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOCAL, port), timeout=0.5):
            return True
    except OSError:
        return False


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection((LOCAL, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class HttpResponse:
    def __init__(self, status: int, reason: str, version: str, headers: list, body: bytes,
                 raw_head: bytes):
        self.status = status
        self.reason = reason
        self.version = version
        self.header_list = headers  # [(name, value)] in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name: str, default=None):
        for k, v in self.header_list:
            if k.lower() == name.lower():
                return v
        return default

    def headers_named(self, name: str) -> list:
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("latin-1")

    def __repr__(self):
        return f"<HttpResponse {self.status} {self.header_list!r} body={self.body[:200]!r}>"


class IncompleteResponse(Exception):
    """The peer closed (or reset) before a complete response arrived."""

    def __init__(self, message, partial: bytes = b"", head: HttpResponse | None = None):
        super().__init__(message)
        self.partial = partial
        self.head = head


class HttpConn:
    """A raw HTTP/1.x client connection with an input buffer, for byte-exact tests
    (pipelining, malformed input, keep-alive across reloads)."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = connect(port, timeout)
        self.buf = b""
        self.eof = False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(262144)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > 1 << 20:
                raise IncompleteResponse("line too long")
            if not self._fill():
                raise IncompleteResponse("closed while reading a line", self.buf)

    def _read_exact(self, n: int, partial_into: list) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                partial_into.append(self.buf)
                raise IncompleteResponse(f"closed with {n - len(self.buf)} of {n} bytes missing",
                                         self.buf)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self) -> HttpResponse:
        lines = []
        while True:
            line = self._read_line()
            if line == b"" and lines:
                break
            if line == b"" and not lines:
                continue
            lines.append(line)
        status_line = lines[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for raw in lines[1:]:
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        return HttpResponse(status, reason, version, headers, b"", b"\r\n".join(lines))

    def read_response(self, method: str = "GET", skip_interim: bool = True) -> HttpResponse:
        """Reads one response (skipping 1xx unless told not to), framed per RFC 9112."""
        while True:
            resp = self.read_head()
            if skip_interim and 100 <= resp.status < 200 and resp.status != 101:
                continue
            break
        if method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        partial: list = []
        if "chunked" in te:
            body = bytearray()
            while True:
                try:
                    size_line = self._read_line()
                except IncompleteResponse as e:
                    raise IncompleteResponse("closed inside chunked body", bytes(body), resp) from e
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_line() != b"":
                        pass
                    break
                try:
                    body += self._read_exact(size, partial)
                    self._read_line()
                except IncompleteResponse as e:
                    raise IncompleteResponse("closed inside chunk", bytes(body) + e.partial,
                                             resp) from e
            resp.body = bytes(body)
        elif cl is not None:
            try:
                resp.body = self._read_exact(int(cl), partial)
            except IncompleteResponse as e:
                raise IncompleteResponse(e.args[0], e.partial, resp) from e
        else:
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, method: str = "GET", path: str = "/", headers: dict | None = None,
                body: bytes = b"", version: str = "HTTP/1.1") -> HttpResponse:
        hdrs = {"Host": "example.com"}
        hdrs.update(headers or {})
        if body and "Content-Length" not in hdrs and "Transfer-Encoding" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        self.send(head.encode("latin-1") + b"\r\n" + body)
        return self.read_response(method)

    def closed_by_peer(self, timeout: float = 3.0) -> bool:
        """True when the peer closes (EOF or reset) within `timeout` without sending more."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if data:
            self.buf += data
            return False
        return True


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends `data`, half-closes nothing, reads until the peer closes or `timeout` passes."""
    with connect(port, timeout) as s:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def one_response(port: int, data: bytes, method: str = "GET", timeout: float = 10.0):
    """Sends raw bytes and parses exactly one response."""
    with HttpConn(port, timeout) as c:
        c.send(data)
        return c.read_response(method)


def parse_echo(text: str) -> dict:
    """Parses a demo-target echo body into a dict: target, addr, client, request_line,
    headers [(name, value)], body_bytes."""
    head, _, rest = text.partition("\n\n")
    info = {}
    for line in head.splitlines():
        k, _, v = line.partition(": ")
        info[k] = v
    lines = rest.splitlines()
    info["request_line"] = lines[0] if lines else ""
    headers = []
    body_bytes = None
    for line in lines[1:]:
        if line.startswith("body-bytes: "):
            body_bytes = int(line[len("body-bytes: "):])
            continue
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    info["headers"] = headers
    info["body_bytes"] = body_bytes
    return info


def echo_header(info: dict, name: str):
    vals = [v for k, v in info["headers"] if k.lower() == name.lower()]
    return vals


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

class Proc:
    """A child process whose stdout/stderr go to files (no pipe can fill up)."""

    def __init__(self, args, workdir: pathlib.Path, tag: str):
        self.args = [str(a) for a in args]
        self.out_path = workdir / f"{tag}.out"
        self.err_path = workdir / f"{tag}.err"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.popen = subprocess.Popen(self.args, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, cwd=str(workdir))

    @property
    def pid(self):
        return self.popen.pid

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 5.0):
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(5)
        for f in (self._out, self._err):
            with contextlib.suppress(Exception):
                f.close()


class DemoTarget:
    def __init__(self, proc: Proc, name: str, port: int):
        self.proc, self.name, self.port = proc, name, port

    def stop(self):
        self.proc.stop()


class Sluice:
    def __init__(self, proc: Proc, config_path: pathlib.Path, port: int):
        self.proc = proc
        self.config_path = config_path
        self.port = port

    def url(self, path: str = "/", port: int | None = None) -> str:
        return f"http://{LOCAL}:{port or self.port}{path}"

    def log(self) -> str:
        return self.proc.stderr()

    def write_config(self, config):
        text = config if isinstance(config, str) else dump_config(config)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)

    def reload(self, config, expect: str = "applied", timeout: float = 10.0):
        """Writes the config, sends SIGHUP and waits for `reload applied` / `reload refused`."""
        self.write_config(config)
        before = self.log().count(f"reload {expect}")
        other = "refused" if expect == "applied" else "applied"
        other_before = self.log().count(f"reload {other}")
        self.proc.signal(signal.SIGHUP)

        def done():
            text = self.log()
            if text.count(f"reload {other}") > other_before:
                raise AssertionError(f"expected reload {expect}, got reload {other}:\n{text}")
            return text.count(f"reload {expect}") > before

        wait_until(done, timeout, what=f"reload {expect}")


def dump_config(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------------------------------------
# Config builders
# ---------------------------------------------------------------------------------------------

def target_group(name: str, ports, algorithm: str | None = None, attributes: dict | None = None,
                 health: bool = False, **extra) -> dict:
    """A target group on 127.0.0.1. Health checks are off unless health=True: most tests use
    project-owned faulty backends that count every request they get, and a checker's probes
    would be counted too (the health tests turn them on explicitly)."""
    ports = list(ports)
    tg = {"Name": name, "Protocol": "HTTP", "Port": ports[0] if ports else 80,
          "HealthCheckPath": "/health", "HealthCheckEnabled": bool(health)}
    attrs = dict(attributes or {})
    if algorithm:
        attrs["load_balancing.algorithm.type"] = algorithm
    if attrs:
        tg["Attributes"] = attrs
    tg["Targets"] = [{"Id": LOCAL, "Port": p} for p in ports]
    tg.update(extra)
    return tg


def forward(tg_name: str) -> dict:
    return {"Type": "forward", "TargetGroupName": tg_name}


def fixed(status: str = "200", body: str = "", content_type: str | None = "text/plain") -> dict:
    cfg = {"StatusCode": str(status)}
    if content_type:
        cfg["ContentType"] = content_type
    cfg["MessageBody"] = body
    return {"Type": "fixed-response", "FixedResponseConfig": cfg}


def rule(priority: int, conditions: list, action: dict) -> dict:
    return {"Priority": priority, "Conditions": conditions, "Actions": [action]}


def path_is(*values):
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


def host_is(*values):
    return {"Field": "host-header", "HostHeaderConfig": {"Values": list(values)}}


def header_is(name, *values):
    return {"Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": name, "Values": list(values)}}


def method_is(*values):
    return {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": list(values)}}


def query_is(*pairs):
    vals = []
    for p in pairs:
        if isinstance(p, tuple):
            k, v = p
            vals.append({"Key": k, "Value": v} if k is not None else {"Value": v})
        else:
            vals.append({"Value": p})
    return {"Field": "query-string", "QueryStringConfig": {"Values": vals}}


def source_ip_is(*cidrs):
    return {"Field": "source-ip", "SourceIpConfig": {"Values": list(cidrs)}}


def lb_config(port: int, default_action: dict, rules=(), target_groups=(), attributes=None,
              name: str = "it", extra_listeners=()) -> dict:
    listener = {"Protocol": "HTTP", "Port": port, "BindAddress": LOCAL,
                "DefaultActions": [default_action]}
    if rules:
        listener["Rules"] = list(rules)
    lb = {"Name": name}
    if attributes:
        lb["Attributes"] = {k: v for k, v in attributes.items()}
    lb["Listeners"] = [listener, *extra_listeners]
    cfg = {"LoadBalancers": [lb]}
    if target_groups:
        cfg["TargetGroups"] = list(target_groups)
    return cfg


# ---------------------------------------------------------------------------------------------
# Fixtures: demo targets and sluice
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def workdir(tmp_path) -> pathlib.Path:
    return tmp_path


@pytest.fixture
def demo_targets(tmp_path):
    """Factory: demo_targets(name) starts `sluice demo-target` on an ephemeral port."""
    started: list[DemoTarget] = []
    counter = [0]

    def start(name: str) -> DemoTarget:
        counter[0] += 1
        proc = Proc([SLUICE_BIN, "demo-target", "--listen", f"{LOCAL}:0", "--name", name],
                    tmp_path, f"target-{counter[0]}-{name}")
        t = DemoTarget(proc, name, 0)
        started.append(t)

        def bound():
            if not proc.alive():
                raise AssertionError(f"demo-target {name} exited: {proc.stderr()}")
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", proc.stdout())
            return int(m.group(1)) if m else None

        t.port = wait_until(bound, 10, what=f"demo-target {name} to listen")
        return t

    yield start
    for t in started:
        t.stop()


@pytest.fixture
def sluice(tmp_path):
    """Factory: sluice(config_dict, workers=2, args=()) -> Sluice, ready to serve.
    The first listener's port is Sluice.port."""
    started: list[Sluice] = []
    counter = [0]

    def start(config, workers: int = 2, args=(), wait_ports=None) -> Sluice:
        counter[0] += 1
        path = tmp_path / f"sluice-{counter[0]}.yaml"
        path.write_text(config if isinstance(config, str) else dump_config(config))
        proc = Proc([SLUICE_BIN, "run", "--config", path, "--workers", str(workers), *args],
                    tmp_path, f"sluice-{counter[0]}")
        if isinstance(config, dict):
            port = config["LoadBalancers"][0]["Listeners"][0]["Port"]
            # UDP listeners accept no connection to wait for ("ready:" covers them).
            ports = [l["Port"] for lb in config["LoadBalancers"] for l in lb["Listeners"]
                     if l.get("Protocol") != "UDP"]
        else:
            port = wait_ports[0]
            ports = wait_ports
        s = Sluice(proc, path, port)
        started.append(s)

        def ready():
            if not proc.alive():
                raise AssertionError(f"sluice exited early (rc={proc.popen.returncode}):\n"
                                     f"{proc.stderr()}")
            return "ready:" in proc.stderr()

        wait_until(ready, 15, what="sluice ready")
        for p in ports:
            wait_until(lambda: port_accepts(p), 10, what=f"port {p} to accept")
        return s

    yield start
    for s in started:
        s.proc.stop(timeout=10)


# ---------------------------------------------------------------------------------------------
# Faulty back ends (project-owned, in-process threads)
# ---------------------------------------------------------------------------------------------

def _read_head(conn: socket.socket, limit: float = 10.0) -> bytes:
    conn.settimeout(limit)
    data = b""
    deadline = time.monotonic() + limit
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        try:
            chunk = conn.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


class FaultyBackend:
    """A TCP server on 127.0.0.1:<ephemeral> whose behaviour after reading a request head is
    chosen by `mode`:

      hang          accept and read the request, never answer (until stopped)
      reset_mid     send headers promising 100000 bytes, 5000 bytes of body, then RST
      malformed     answer with a garbage status line and close
      big_headers   answer with > 32 KiB of response headers
      slow          answer 200 after `delay` seconds
      close_early   close without answering (FIN)
      dribble       answer 200 with Content-Length 5, one body byte every `delay` seconds
      stall_body    answer 200 with Content-Length 10, send 3 body bytes, then go silent
      canned        send the bytes in `.canned` verbatim, then close
      keepalive     answer every request on the connection ("ka <n>\n", keep-alive), and
                    close the connection (FIN) once it has been idle for `delay` seconds
    """

    def __init__(self, mode: str, delay: float = 0.0):
        self.mode = mode
        self.delay = delay
        self.canned = b""
        self.stop_event = threading.Event()
        self.requests: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOCAL, 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True, name=f"faulty-{mode}")
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        while not self.stop_event.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            with self._lock:
                self._threads.append(t)

    def _serve(self, conn: socket.socket):
        try:
            head = _read_head(conn)
            if not head:
                return
            with self._lock:
                self.requests.append(head)
            getattr(self, "_do_" + self.mode)(conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _do_hang(self, conn):
        self.stop_event.wait(60)

    def _do_reset_mid(self, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 100000\r\n\r\n" + b"y" * 5000)
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _do_malformed(self, conn):
        conn.sendall(b"HTTP/1.1 OK-ish garbage\r\nthis is not a header line\r\n\r\n")
        time.sleep(0.1)

    def _do_big_headers(self, conn):
        filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(40))
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + filler + b"Content-Length: 2\r\n\r\nok")
        time.sleep(0.2)

    def _do_slow(self, conn):
        if self.stop_event.wait(self.delay):
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 5\r\nConnection: close\r\n\r\nslow\n")
        time.sleep(0.1)

    def _do_close_early(self, conn):
        pass

    def _do_canned(self, conn):
        """Sends `self.canned` (bytes) verbatim, then closes."""
        conn.sendall(self.canned)
        time.sleep(0.2)

    def _do_dribble(self, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 5\r\nConnection: close\r\n\r\n")
        for ch in b"abcde":
            if self.stop_event.wait(self.delay):
                return
            conn.sendall(bytes([ch]))
        time.sleep(0.1)

    def _do_stall_body(self, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 10\r\n\r\nabc")
        self.stop_event.wait(30)

    def _do_keepalive(self, conn):
        served = 0
        while True:
            served += 1
            body = b"ka %d\n" % served
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            # Wait for the next request; close once idle for `delay` seconds.
            head = _read_head(conn, limit=self.delay)
            if not head or self.stop_event.is_set():
                return
            with self._lock:
                self.requests.append(head)
            # Swallow a small Content-Length body, if any.
            h, _, rest = head.partition(b"\r\n\r\n")
            for line in h.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    need = int(value.strip()) - len(rest)
                    while need > 0:
                        got = conn.recv(need)
                        if not got:
                            return
                        need -= len(got)

    def stop(self):
        self.stop_event.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()
        for t in threads:
            t.join(timeout=2)


@pytest.fixture
def faulty():
    """Factory: faulty(mode, delay=0) -> FaultyBackend (see its docstring)."""
    started: list[FaultyBackend] = []

    def start(mode: str, delay: float = 0.0) -> FaultyBackend:
        b = FaultyBackend(mode, delay)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


def run_curl(args, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--noproxy", "*", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture
def http():
    """A requests.Session that ignores proxy environment variables; closed afterwards."""
    import requests
    s = requests.Session()
    s.trust_env = False
    yield s
    s.close()


# ---------------------------------------------------------------------------------------------
# Controllable HTTP back ends, the admin endpoint, and a sluice launcher for module fixtures
# (target health, draining, stickiness and blue/green tests)
# ---------------------------------------------------------------------------------------------

import http.client as _httpclient  # noqa: E402  (not `import http`: the fixture is `http`)
import http.server as _httpserver  # noqa: E402
import json  # noqa: E402
import socketserver  # noqa: E402
import urllib.parse  # noqa: E402


class RecordedRequest:
    def __init__(self, t: float, method: str, path: str, headers: list, peer):
        self.t = t              # time.monotonic() when the request head had been read
        self.method = method
        self.path = path        # request target as received (path and query)
        self.headers = headers  # [(name, value)] as received
        self.peer = peer
        self.status = None      # the status this back end answered (None: never answered)

    def header(self, name: str, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default


class _ControlledServer(socketserver.ThreadingMixIn, _httpserver.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, backend):
        self.backend = backend
        super().__init__(addr, _ControlledHandler)

    def process_request(self, request, client_address):
        with self.backend._lock:
            self.backend._conns.append(request)
            self.backend.connections += 1
        super().process_request(request, client_address)


class _ControlledHandler(_httpserver.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "controlled"
    sys_version = ""

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802
        b: ControlledBackend = self.server.backend
        rec = RecordedRequest(time.monotonic(), self.command, self.path,
                              list(self.headers.items()), self.client_address)
        split = urllib.parse.urlsplit(self.path)
        if split.path == b.health_path:
            with b._lock:
                b.health_log.append(rec)
            b._answer_health(self, rec)
        else:
            with b._lock:
                b.requests.append(rec)
            b._answer_traffic(self, rec, urllib.parse.parse_qs(split.query))

    do_HEAD = do_GET  # noqa: N815


class ControlledBackend:
    """A threaded HTTP/1.1 back end on 127.0.0.1 whose health endpoint can be switched at run
    time, and which records every request with its arrival time (time.monotonic()).

    Health (`health_path`, default /health), by `health_mode`:
      ok         answer `health_status` (200 unless changed)
      status     same as ok (set health_status = 503 etc.)
      hang       read the request, never answer (until the back end stops or the mode changes)
      delay      answer 200 after `health_delay` seconds
      alternate  answer 200 and 503 in turn (the next one is `alternate_next`)
    Other paths answer 200 "target: <name>\\n" with header X-Sluice-Target: <name>; query
    parameters: delay_ms=N (wait first), hang=1 (never answer), set_cookie=NAME=VALUE (adds a
    Set-Cookie header), pieces=N&piece=BYTES&interval_ms=M (Content-Length body sent in N
    pieces, M ms apart; piece i is BYTES copies of chr(65 + i % 26)).

    kill() closes the listener and every connection (the port then refuses); restart() binds
    the same port again."""

    def __init__(self, name: str, port: int = 0, health_path: str = "/health"):
        self.name = name
        self.health_path = health_path
        self.health_mode = "ok"
        self.health_status = 200
        self.health_delay = 0.0
        self.alternate_next = 200
        self.requests: list[RecordedRequest] = []
        self.health_log: list[RecordedRequest] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._conns: list = []
        self._release = threading.Event()  # set: hanging handlers give up
        self.server = None
        self.port = port
        self._thread = None
        self.start()

    # -- lifecycle --
    def start(self):
        self._release = threading.Event()
        self.server = _ControlledServer((LOCAL, self.port), self)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={
            "poll_interval": 0.05}, daemon=True, name=f"controlled-{self.name}")
        self._thread.start()

    def kill(self):
        """Stops listening and closes every open connection (clients see FIN/RST)."""
        if self.server is None:
            return
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            conns, self._conns = list(self._conns), []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(timeout=5)
        self.server = None

    def restart(self):
        self.start()

    stop = kill

    # -- views --
    def traffic(self, since: float = 0.0) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.t >= since]

    def checks(self, since: float = 0.0) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.health_log if r.t >= since]

    def set_health(self, mode: str, status: int = 200, delay: float = 0.0, first: int = 200):
        with self._lock:
            self.health_mode = mode
            self.health_status = status
            self.health_delay = delay
            self.alternate_next = first

    # -- handlers --
    def _send(self, h, status: int, body: bytes, extra=()):
        h.send_response(status)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("X-Sluice-Target", self.name)
        for k, v in extra:
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
        h.wfile.flush()

    def _answer_health(self, h, rec: RecordedRequest):
        with self._lock:
            mode = self.health_mode
            status = self.health_status
            delay = self.health_delay
            if mode == "alternate":
                status = self.alternate_next
                self.alternate_next = 503 if status == 200 else 200
        if mode == "hang":
            self._release.wait(60)
            h.close_connection = True
            return
        if mode == "delay" and self._release.wait(delay):
            h.close_connection = True
            return
        rec.status = status
        self._send(h, status, b"ok\n" if status == 200 else b"unhealthy\n")

    def _answer_traffic(self, h, rec: RecordedRequest, q: dict):
        def one(key, default=None):
            v = q.get(key)
            return v[0] if v else default

        if one("hang"):
            self._release.wait(60)
            h.close_connection = True
            return
        if one("delay_ms") and self._release.wait(int(one("delay_ms")) / 1000.0):
            h.close_connection = True
            return
        extra = []
        if one("set_cookie"):
            extra.append(("Set-Cookie", one("set_cookie")))
        pieces = int(one("pieces", "0"))
        if pieces:
            size = int(one("piece", "1024"))
            interval = int(one("interval_ms", "100")) / 1000.0
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(size * pieces))
            h.send_header("X-Sluice-Target", self.name)
            h.end_headers()
            h.wfile.flush()
            rec.status = 200
            for i in range(pieces):
                if i and self._release.wait(interval):
                    h.close_connection = True
                    return
                try:
                    h.wfile.write(bytes([65 + i % 26]) * size)
                    h.wfile.flush()
                except OSError:
                    h.close_connection = True
                    return
            return
        rec.status = 200
        self._send(h, 200, f"target: {self.name}\n".encode(), extra)


def stream_body(pieces: int, piece: int) -> bytes:
    """The body ControlledBackend sends for pieces=N&piece=BYTES."""
    return b"".join(bytes([65 + i % 26]) * piece for i in range(pieces))


@pytest.fixture
def controlled():
    """Factory: controlled(name, port=0) -> ControlledBackend; all are killed afterwards."""
    started: list[ControlledBackend] = []

    def start(name: str, port: int = 0, health_path: str = "/health") -> ControlledBackend:
        b = ControlledBackend(name, port, health_path)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()


def fast_health(**overrides) -> dict:
    """Target group fields for the fastest checks the config allows: every 5 s, 2 s timeout,
    two results either way. Pass to target_group(..., health=True, **fast_health())."""
    fields = {"HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
              "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}
    fields.update(overrides)
    return fields


def admin_get(port: int, path: str = "/targets", method: str = "GET", timeout: float = 3.0):
    """(status, body text, parsed JSON or None) from the admin endpoint."""
    c = _httpclient.HTTPConnection(LOCAL, port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        status, ctype = r.status, r.getheader("Content-Type", "")
    finally:
        c.close()
    doc = None
    if "json" in ctype:
        with contextlib.suppress(ValueError):
            doc = json.loads(body)
    return status, body, doc


def health_rows(doc: dict) -> dict:
    """{(group, id, port): TargetHealth dict} from a /targets document."""
    out = {}
    for g in doc.get("TargetGroups", []):
        for d in g.get("TargetHealthDescriptions", []):
            out[(g["TargetGroupName"], d["Target"]["Id"], d["Target"]["Port"])] = d["TargetHealth"]
    return out


def target_health(admin_port: int, group: str, port: int):
    """The TargetHealth dict of target 127.0.0.1:port in `group`, or None if not listed."""
    _, _, doc = admin_get(admin_port)
    return health_rows(doc or {}).get((group, LOCAL, port))


def wait_health(admin_port: int, group: str, port: int, state: str, timeout: float,
                reason: str | None = None) -> dict:
    """Waits until the target shows `state` (and `reason`, if given); returns TargetHealth."""
    def ok():
        th = target_health(admin_port, group, port)
        if th and th.get("State") == state and (reason is None or th.get("Reason") == reason):
            return th
        return None

    return wait_until(ok, timeout, interval=0.05,
                      what=f"{group}/{port} to be {state}{'/' + reason if reason else ''}")


class HealthWatcher:
    """Polls /targets every `interval` seconds on a thread and keeps every answer as
    (time.monotonic() after the answer arrived, {(group, id, port): TargetHealth})."""

    def __init__(self, admin_port: int, interval: float = 0.05):
        self.admin_port = admin_port
        self.interval = interval
        self.history: list[tuple[float, dict]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="health-watcher")
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                _, _, doc = admin_get(self.admin_port)
                rows = health_rows(doc or {})
                with self._lock:
                    self.history.append((time.monotonic(), rows))
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def snapshots(self):
        with self._lock:
            return list(self.history)

    def latest(self, group: str, port: int):
        snaps = self.snapshots()
        return snaps[-1][1].get((group, LOCAL, port)) if snaps else None

    def timeline(self, group: str, port: int) -> list[tuple[float, str, str | None, str | None]]:
        """Distinct consecutive (t_first_seen, State, Reason, Description) of one target."""
        out = []
        for t, rows in self.snapshots():
            th = rows.get((group, LOCAL, port))
            key = (th.get("State"), th.get("Reason"), th.get("Description")) if th else (
                None, None, None)
            if not out or out[-1][1:] != key:
                out.append((t, *key))
        return out

    def first_seen(self, group: str, port: int, state: str, after: float = 0.0):
        for t, rows in self.snapshots():
            th = rows.get((group, LOCAL, port))
            if t >= after and th and th.get("State") == state:
                return t
        return None


def launch_sluice(workdir: pathlib.Path, config, tag: str = "sluice", workers: int = 2,
                  args=()) -> Sluice:
    """Starts sluice like the `sluice` fixture does, for module-scoped fixtures; the caller
    stops it (s.proc.stop())."""
    path = workdir / f"{tag}.yaml"
    path.write_text(config if isinstance(config, str) else dump_config(config))
    proc = Proc([SLUICE_BIN, "run", "--config", path, "--workers", str(workers), *args],
                workdir, tag)
    ports = [l["Port"] for lb in config["LoadBalancers"] for l in lb["Listeners"]]
    s = Sluice(proc, path, ports[0])

    def ready():
        if not proc.alive():
            raise AssertionError(f"sluice exited early (rc={proc.popen.returncode}):\n"
                                 f"{proc.stderr()}")
        return "ready:" in proc.stderr()

    try:
        wait_until(ready, 15, what="sluice ready")
        for p in ports:
            wait_until(lambda: port_accepts(p), 10, what=f"port {p} to accept")
    except BaseException:
        proc.stop()
        raise
    return s


def admin_port_of(s: Sluice, timeout: float = 5.0) -> int:
    """The admin port sluice logged ("admin endpoint on http://127.0.0.1:N")."""
    def found():
        m = re.search(r"admin endpoint on http://127\.0\.0\.1:(\d+)", s.log())
        return int(m.group(1)) if m else None

    return wait_until(found, timeout, what="admin endpoint log line")
