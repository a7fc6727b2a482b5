"""Log files uploaded to an S3-compatible store (issue 14 item 1; config section `S3`).

Two stores, each checking what the other cannot:
* s3rver (npm, pinned in tests/js/package.json): a real S3 emulator. Objects land in the
  bucket at ALB's keys and read back through boto3's S3 client. s3rver checks the access key
  id but not SigV4 signatures.
* a store in this file that checks every signature with botocore's own S3 signer
  (S3SigV4Auth over the headers the request says it signed) and the payload hash against the
  body, answering 403 SignatureDoesNotMatch otherwise, as S3 does.
A file is removed locally only after the store took it; a store that is down costs nothing
but a delay (the file waits on disk and the retries deliver it).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest

from conftest import (LOCAL, REPO, SLUICE_BIN, Proc, fixed, free_port, lb_config,
                      loopback_certificate, port_accepts, raw_exchange, wait_until)

S3RVER = REPO / "tests" / "js" / "node_modules" / "s3rver" / "bin" / "s3rver.js"
BUCKET = "my-logs"
ACCOUNT = {"Id": "123456789012", "Region": "eu-west-3"}
KEY_RE = (r"team/web/AWSLogs/123456789012/elasticloadbalancing/eu-west-3/\d{4}/\d\d/\d\d/"
          r"123456789012_elasticloadbalancing_eu-west-3_app\.web\.[0-9a-f]{16}_\d{8}T\d{4}Z_"
          r"127\.0\.0\.1_[a-z0-9]{8}\.log\.gz")


def credentials_file(tmp_path, key_id="S3RVER", secret="S3RVER"):
    path = tmp_path / "s3-credentials"
    path.write_text(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    return path


def upload_config(port, logs, store_port, creds, logs_on=True):
    attributes = {"access_logs.s3.enabled": logs_on, "access_logs.s3.bucket": BUCKET,
                  "access_logs.s3.prefix": "team/web", "sluice.access_logs.directory": str(logs)}
    cfg = lb_config(port, fixed("200", "ok"), attributes=attributes, name="web")
    cfg["Account"] = ACCOUNT
    cfg["S3"] = {"Endpoint": f"http://{LOCAL}:{store_port}", "CredentialsFile": str(creds)}
    return cfg


def send_requests(port, n):
    for i in range(n):
        got = raw_exchange(port, f"GET /r{i} HTTP/1.1\r\nHost: shop.example\r\n"
                                 f"Connection: close\r\n\r\n".encode())
        assert got.startswith(b"HTTP/1.1 200"), got[:80]


def local_logs(logs):
    return sorted(p for p in logs.rglob("*.log.gz"))


class S3rver:
    def __init__(self, tmp_path, port):
        node = shutil.which("node")
        if node is None or not S3RVER.exists():
            pytest.fail("s3rver is not installed: run `npm ci --prefix tests/js` "
                        "(scripts/setup.sh does)")
        data = tmp_path / f"s3rver-{port}"
        data.mkdir()
        self.port = port
        self.proc = Proc([node, S3RVER, "-d", data, "-a", LOCAL, "-p", str(port), "--silent",
                          "--configure-bucket", BUCKET], tmp_path, f"s3rver-{port}")
        wait_until(lambda: port_accepts(port), 30, what="s3rver to listen")
        self.client = boto3.client(
            "s3", endpoint_url=f"http://{LOCAL}:{port}", region_name="eu-west-3",
            aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER",
            config=botocore.config.Config(s3={"addressing_style": "path"}))

    def keys(self):
        listed = self.client.list_objects_v2(Bucket=BUCKET)
        return [o["Key"] for o in listed.get("Contents", [])]

    def lines(self, key):
        body = self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return gzip.decompress(body).decode("ascii").splitlines()

    def stop(self):
        self.proc.stop()


@pytest.fixture
def s3rver(tmp_path):
    started = []

    def start(port=None):
        s = S3rver(tmp_path, port or free_port())
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_completed_files_land_in_the_bucket_and_leave_the_disk(sluice, s3rver, tmp_path):
    store = s3rver()
    port, logs = free_port(), tmp_path / "logs"
    creds = credentials_file(tmp_path)
    lb = sluice(upload_config(port, logs, store.port, creds))
    send_requests(port, 3)
    # Turning the log off completes the interval's file (as its end would) and uploads it.
    lb.reload(upload_config(port, logs, store.port, creds, logs_on=False))
    keys = wait_until(store.keys, 15, what="the log file in the bucket")
    assert len(keys) == 1 and re.fullmatch(KEY_RE, keys[0]), keys
    lines = store.lines(keys[0])
    assert len(lines) == 3, lines
    # Each worker has its own ring: lines come in per-worker order, not the clients'.
    paths = sorted(re.search(r"/(r\d) HTTP/1.1", line).group(1) for line in lines)
    assert paths == ["r0", "r1", "r2"], lines
    wait_until(lambda: not local_logs(logs), 10, what="the local copy to go")
    assert "upload" not in lb.log(), lb.log()  # no failure was logged


def test_a_store_that_is_down_delays_the_upload_and_loses_nothing(sluice, s3rver, tmp_path):
    store_port, port, logs = free_port(), free_port(), tmp_path / "logs"
    creds = credentials_file(tmp_path)
    lb = sluice(upload_config(port, logs, store_port, creds))
    send_requests(port, 2)
    lb.reload(upload_config(port, logs, store_port, creds, logs_on=False))
    wait_until(lambda: "failed (attempt 1)" in lb.log(), 15, what="the failed attempt logged")
    assert len(local_logs(logs)) == 1, "the file must wait on disk"
    store = s3rver(store_port)  # the retries (1, 2, 4, ... s apart) find it now
    keys = wait_until(store.keys, 30, what="the retried upload")
    assert len(store.lines(keys[0])) == 2
    wait_until(lambda: not local_logs(logs), 10, what="the local copy to go")
    assert re.search(r"uploaded \S+ to bucket my-logs after \d+ attempts", lb.log()), lb.log()


def test_files_completed_at_shutdown_are_uploaded_before_exit(sluice, s3rver, tmp_path):
    store = s3rver()
    port, logs = free_port(), tmp_path / "logs"
    cfg = upload_config(port, logs, store.port, credentials_file(tmp_path))
    cfg["S3"]["KeepLocalFiles"] = True
    lb = sluice(cfg)
    send_requests(port, 1)
    lb.proc.signal(signal.SIGTERM)
    assert lb.proc.popen.wait(20) == 0
    keys = store.keys()
    assert len(keys) == 1 and re.fullmatch(KEY_RE, keys[0]), keys
    assert len(local_logs(logs)) == 1, "KeepLocalFiles keeps the local copy"


# ---------------------------------------------------------------------------------------------
# A store that checks signatures with botocore
# ---------------------------------------------------------------------------------------------

class VerifyingStore(http.server.ThreadingHTTPServer):
    """Answers PUT /bucket/key with 200 when botocore computes the same SigV4 signature for
    the headers the request signed and the payload hash matches the body; 403 otherwise.
    GET /bucket/key[?versionId=...] (what CreateTrustStore sends) answers a stored object the
    same way, then holds the connection open for `linger` seconds (a client must see the
    response is complete by its Content-Length, not wait for the close)."""

    linger = 0.0
    daemon_threads = True  # a lingering GET never holds up the fixture's teardown

    def __init__(self, key_id, secret, region, tls=None):
        self.creds = botocore.credentials.Credentials(key_id, secret)
        self.region = region
        self.objects: dict[str, bytes] = {}
        self.rejected: list[str] = []
        self.fetched: list[str] = []
        super().__init__((LOCAL, 0), VerifyingHandler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def expected_authorization(self, method, path, headers, signed):
        request = botocore.awsrequest.AWSRequest(method=method, url=f"http://{headers['Host']}{path}")
        for name in signed:
            request.headers[name] = headers[name]
        request.context["timestamp"] = headers["x-amz-date"]
        auth = botocore.auth.S3SigV4Auth(self.creds, "s3", self.region)
        canonical = auth.canonical_request(request)
        signature = auth.signature(auth.string_to_sign(request, canonical), request)
        return signature


class VerifyingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def signature_problem(self, method: str, body: bytes):
        """Why the request's SigV4 signature (over `body`'s hash) is not what botocore computes,
        or None."""
        store: VerifyingStore = self.server
        auth = self.headers.get("Authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/s3/"
                         r"aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
        if not m:
            return f"malformed Authorization {auth!r}"
        if hashlib.sha256(body).hexdigest() != self.headers["x-amz-content-sha256"]:
            return "payload hash does not match the body"
        signed = m.group(4).split(";")
        want = store.expected_authorization(method, self.path, self.headers, signed)
        if want != m.group(5) or m.group(1) != store.creds.access_key:
            return "SignatureDoesNotMatch"
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(signed):
            return f"signed headers {signed} leave out what S3 requires"
        return None

    def answer(self, status: int, body: bytes):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):  # noqa: N802 (http.server's naming)
        store: VerifyingStore = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        problem = self.signature_problem("PUT", body)
        if problem:
            store.rejected.append(problem)
            self.answer(403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>"
                        + problem.encode() + b"</Message></Error>")
        else:
            store.objects[self.path] = body
            self.answer(200, b"")

    def do_GET(self):  # noqa: N802 (http.server's naming)
        store: VerifyingStore = self.server
        problem = self.signature_problem("GET", b"")
        path = urllib.parse.unquote(self.path.split("?")[0])
        if problem:
            store.rejected.append(problem)
            self.answer(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
        elif path not in store.objects:
            self.answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
        else:
            store.fetched.append(self.path)
            self.answer(200, store.objects[path])
        self.wfile.flush()
        time.sleep(store.linger)

    def log_message(self, *args):
        pass


@pytest.fixture
def verifying_store():
    stores = []

    def start(key_id="AKIDSLUICETEST", secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", tls=None):
        s = VerifyingStore(key_id, secret, "eu-west-3", tls)
        stores.append(s)
        return s

    yield start
    for s in stores:
        s.shutdown()
        s.server_close()


def test_botocore_accepts_every_signature_and_a_wrong_secret_is_refused(sluice, verifying_store,
                                                                        tmp_path):
    store = verifying_store()
    port, logs = free_port(), tmp_path / "logs"
    # A prefix with a space and a plus: the key is percent-encoded once, as S3 signs it.
    creds = credentials_file(tmp_path, "AKIDSLUICETEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    cfg = upload_config(port, logs, store.port, creds)
    cfg["LoadBalancers"][0]["Attributes"]["access_logs.s3.prefix"] = "team a+b"
    lb = sluice(cfg)
    send_requests(port, 2)
    cfg["LoadBalancers"][0]["Attributes"]["access_logs.s3.enabled"] = False
    lb.reload(cfg)
    wait_until(lambda: store.objects, 15, what="the verified upload")
    assert store.rejected == []
    (path, body), = store.objects.items()
    assert path.startswith(f"/{BUCKET}/team%20a%2Bb/AWSLogs/123456789012/"), path
    assert len(gzip.decompress(body).decode().splitlines()) == 2

    wrong = credentials_file(tmp_path, "AKIDSLUICETEST", "not-the-secret")
    cfg["S3"]["CredentialsFile"] = str(wrong)
    cfg["LoadBalancers"][0]["Attributes"]["access_logs.s3.enabled"] = True
    lb.reload(cfg)
    send_requests(port, 1)
    cfg["LoadBalancers"][0]["Attributes"]["access_logs.s3.enabled"] = False
    lb.reload(cfg)
    wait_until(lambda: store.rejected, 15, what="the refused upload")
    assert store.rejected[0] == "SignatureDoesNotMatch"
    wait_until(lambda: "HTTP 403 SignatureDoesNotMatch" in lb.log(), 10, what="the refusal logged")
    assert len(local_logs(logs)) == 1, "a refused file stays on disk"


def test_validate_names_the_credentials_line(tmp_path):
    cfg_path = tmp_path / "s3.yaml"
    cfg_path.write_text("S3:\n  Endpoint: http://127.0.0.1:9000\n"
                        "  CredentialsFile: missing-credentials\n")
    r = subprocess.run([SLUICE_BIN, "validate", str(cfg_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert re.search(r"s3\.yaml:3:\d+: S3\.CredentialsFile: credentials file \S*missing-credentials:"
                     r" cannot open", r.stderr), r.stderr
    (tmp_path / "missing-credentials").write_text("[default]\naws_access_key_id = A\n")
    r = subprocess.run([SLUICE_BIN, "validate", str(cfg_path)], capture_output=True,
                       text=True, timeout=30)
    assert "profile [default] has no aws_secret_access_key" in r.stderr, r.stderr


def test_files_an_earlier_run_left_are_uploaded_at_start(sluice, s3rver, tmp_path):
    port, logs = free_port(), tmp_path / "logs"
    creds = credentials_file(tmp_path)
    local_only = upload_config(port, logs, 1, creds)
    del local_only["S3"]  # the first run keeps its files: no store configured
    first = sluice(local_only)
    send_requests(port, 2)
    first.proc.signal(signal.SIGTERM)
    assert first.proc.popen.wait(20) == 0
    assert len(local_logs(logs)) == 1
    store = s3rver()
    second = sluice(upload_config(port, logs, store.port, creds))
    keys = wait_until(store.keys, 15, what="the earlier run's file in the bucket")
    assert len(keys) == 1 and re.fullmatch(KEY_RE, keys[0]), keys
    assert len(store.lines(keys[0])) == 2
    wait_until(lambda: not local_logs(logs), 10, what="the local copy to go")
    assert "failed" not in second.log()


def test_an_https_store_is_verified_and_the_upload_goes_over_tls(sluice, verifying_store, tmp_path,
                                                                monkeypatch):
    cert, key = loopback_certificate(tmp_path, "store")
    store = verifying_store(tls=(cert, key))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default CA store: this one
    port, logs = free_port(), tmp_path / "logs"
    creds = credentials_file(tmp_path, "AKIDSLUICETEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    cfg = upload_config(port, logs, store.port, creds)
    cfg["S3"]["Endpoint"] = f"https://{LOCAL}:{store.port}"
    lb = sluice(cfg)
    send_requests(port, 2)
    cfg["LoadBalancers"][0]["Attributes"]["access_logs.s3.enabled"] = False
    lb.reload(cfg)
    wait_until(lambda: store.objects, 15, what="the upload over https")
    assert store.rejected == []
    (body,) = store.objects.values()
    assert len(gzip.decompress(body).decode().splitlines()) == 2
    wait_until(lambda: not local_logs(logs), 10, what="the local copy to go")
