"""Trust stores through the API (issue 13, reference §7.4 and §9.6): CreateTrustStore reads
the CA bundle from an S3-compatible store (s3rver, the config's S3 section) as ALB reads it
from S3, a listener verifies client certificates against it at once and after a restart,
ModifyTrustStore swaps the bundle, revocation lists refuse revoked clients, the bundle and the
lists download from the presigned URLs the Get* calls answer, and what cannot be a trust store
is refused with AWS's codes and changes nothing. The calls are signed raw queries: Debian 12's botocore predates them."""

from __future__ import annotations

import html
import json
import re
import ssl
import subprocess
import time

import requests
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import LOCAL, fixed, free_port, lb_config, loopback_certificate
from test_api import ApiSluice
from test_api_certificates import mutual_of, signed
from test_https import client_ctx, handshake, openssl_cert
from test_mtls import Ca
from test_s3_upload import (BUCKET, credentials_file, s3rver,  # noqa: F401 (fixtures)
                            verifying_store)


def client_of(cert):
    """A TLS client context that presents `cert` (a test_mtls.Cert)."""
    ctx = client_ctx()
    ctx.load_cert_chain(str(cert.chain), str(cert.key))
    return ctx


def make_ca(tmp_path, name):
    """A CA certificate and a client certificate it signed: (ca.pem, client context)."""
    ca = Ca(tmp_path, name, f"/CN={name} CA")
    return ca.crt, client_of(ca.issue(tmp_path, name, f"/CN={name} client", 0x52))


def https_config(tmp_path, s3_endpoint, credentials, https_listener=True):
    """One load balancer whose listener (HTTPS for site.example unless not asked) answers 200,
    and an S3 section naming the store."""
    cfg = lb_config(free_port(), fixed("200", "ok"))
    cfg["S3"] = {"Endpoint": s3_endpoint, "CredentialsFile": str(credentials)}
    if https_listener:
        cert, key = openssl_cert(tmp_path, "site", ["site.example"])
        cfg["Certificates"] = [{"Name": "site", "CertificateFile": str(cert),
                                "PrivateKeyFile": str(key)}]
        listener = cfg["LoadBalancers"][0]["Listeners"][0]
        listener["Protocol"] = "HTTPS"
        listener["Certificates"] = ["site"]
    return cfg


def get(port, ctx=None) -> bytes:
    """One request over TLS: the response's first bytes, or b"" when the handshake failed."""
    try:
        with handshake(port, "site.example", ctx) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: site.example\r\n\r\n")
            s.settimeout(5)
            return s.recv(65536)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return b""


def create_store(api, name: str, key: str) -> str:
    """CreateTrustStore from the bundle at `key` of the bucket: the store's ARN."""
    status, body = signed(api, {"Action": "CreateTrustStore", "Name": name,
                                "CaCertificatesBundleS3Bucket": BUCKET,
                                "CaCertificatesBundleS3Key": key})
    assert status == 200, body
    return re.search(r"<TrustStoreArn>([^<]+)</TrustStoreArn>", body).group(1)


def error_code(body: str) -> str:
    m = re.search(r"<Code>([^<]+)</Code>", body)
    return m.group(1) if m else ""


def test_a_trust_store_created_from_s3_verifies_clients(tmp_path, s3rver):  # noqa: F811
    store = s3rver()
    ca_a, client_a = make_ca(tmp_path, "alpha")
    ca_b, client_b = make_ca(tmp_path, "beta")
    store.client.put_object(Bucket=BUCKET, Key="cas/alpha.pem", Body=ca_a.read_bytes())
    store.client.put_object(Bucket=BUCKET, Key="cas/beta.pem", Body=ca_b.read_bytes())
    store.client.put_object(Bucket=BUCKET, Key="cas/junk.pem", Body=b"not a certificate\n")

    cfg = https_config(tmp_path, f"http://{LOCAL}:{store.port}", credentials_file(tmp_path))
    api = ApiSluice(tmp_path, cfg)
    try:
        def create(name, key):
            return signed(api, {"Action": "CreateTrustStore", "Name": name,
                                "CaCertificatesBundleS3Bucket": BUCKET,
                                "CaCertificatesBundleS3Key": key})

        status, body = create("partners", "cas/missing.pem")
        assert status == 400 and error_code(body) == "CaCertificatesBundleNotFound", body
        assert "NoSuchKey" in body, body
        status, body = create("partners", "cas/junk.pem")
        assert status == 400 and error_code(body) == "InvalidCaCertificatesBundle", body
        status, body = signed(api, {"Action": "DescribeTrustStores"})
        assert status == 200 and "<member>" not in body, body

        status, body = create("partners", "cas/alpha.pem")
        assert status == 200, body
        assert "<NumberOfCaCertificates>1</NumberOfCaCertificates>" in body, body
        store_arn = re.search(r"<TrustStoreArn>([^<]+)</TrustStoreArn>", body).group(1)
        assert re.fullmatch(r"arn:aws:elasticloadbalancing:[^:]+:\d{12}:truststore/partners/"
                            r"[0-9a-f]{16}", store_arn), store_arn

        c = api.client()
        lb_arn = c.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
        arn = c.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"][0]["ListenerArn"]
        status, body = signed(api, {"Action": "ModifyListener", "ListenerArn": arn,
                                    "MutualAuthentication.Mode": "verify",
                                    "MutualAuthentication.TrustStoreArn": store_arn})
        assert status == 200 and mutual_of(body)["TrustStoreArn"] == store_arn, body
        assert get(api.port) == b"", "verify mode let a client without a certificate in"
        assert get(api.port, client_a).startswith(b"HTTP/1.1 200")
        assert get(api.port, client_b) == b"", "a client of another CA was let in"

        status, body = signed(api, {"Action": "DeleteTrustStore", "TrustStoreArn": store_arn})
        assert status == 400 and error_code(body) == "TrustStoreInUse", body

        # The stored bundle is the state: it survives a restart.
        api.proc.stop(timeout=10)
        api.start()
        assert get(api.port, client_a).startswith(b"HTTP/1.1 200")
        assert get(api.port, client_b) == b""

        status, body = signed(api, {"Action": "ModifyTrustStore", "TrustStoreArn": store_arn,
                                    "CaCertificatesBundleS3Bucket": BUCKET,
                                    "CaCertificatesBundleS3Key": "cas/beta.pem"})
        assert status == 200, body
        assert get(api.port, client_b).startswith(b"HTTP/1.1 200")
        assert get(api.port, client_a) == b"", "the replaced CA's client was still let in"

        status, body = signed(api, {"Action": "DescribeTrustStoreAssociations",
                                    "TrustStoreArn": store_arn})
        assert status == 200 and f"<ResourceArn>{arn}</ResourceArn>" in body, body
        assert signed(api, {"Action": "ModifyListener", "ListenerArn": arn,
                            "MutualAuthentication.Mode": "off"})[0] == 200
        status, body = signed(api, {"Action": "DeleteTrustStore", "TrustStoreArn": store_arn})
        assert status == 200, body
        status, body = signed(api, {"Action": "DescribeTrustStores"})
        assert status == 200 and "<member>" not in body, body
        assert get(api.port).startswith(b"HTTP/1.1 200")
    finally:
        if api.proc:
            api.proc.stop(timeout=10)


def test_revocation_lists_from_s3_refuse_revoked_clients(tmp_path, s3rver):  # noqa: F811
    """AddTrustStoreRevocations reads a CRL (here DER, as ALB takes either) from the store;
    the revoked client is refused at once, the other one of the same CA is not;
    DescribeTrustStoreRevocations counts the entries; RemoveTrustStoreRevocations lets the
    revoked client in again."""
    store = s3rver()
    ca = Ca(tmp_path, "root", "/CN=Revoking CA")
    revoked, kept = (ca.issue(tmp_path, n, f"/CN={n}", serial) for n, serial in
                     (("revoked", 0x7001), ("kept", 0x7002)))
    ca.revoke(revoked)
    store.client.put_object(Bucket=BUCKET, Key="ca.pem", Body=ca.crt.read_bytes())
    store.client.put_object(Bucket=BUCKET, Key="root.crl",
                            Body=ca.crl(tmp_path / "root.crl", der=True).read_bytes())
    contexts = {"revoked": client_of(revoked), "kept": client_of(kept)}

    cfg = https_config(tmp_path, f"http://{LOCAL}:{store.port}", credentials_file(tmp_path))
    api = ApiSluice(tmp_path, cfg)
    try:
        store_arn = create_store(api, "revoking", "ca.pem")
        c = api.client()
        lb_arn = c.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
        arn = c.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"][0]["ListenerArn"]
        assert signed(api, {"Action": "ModifyListener", "ListenerArn": arn,
                            "MutualAuthentication.Mode": "verify",
                            "MutualAuthentication.TrustStoreArn": store_arn})[0] == 200
        assert get(api.port, contexts["revoked"]).startswith(b"HTTP/1.1 200")

        status, body = signed(api, {"Action": "AddTrustStoreRevocations",
                                    "TrustStoreArn": store_arn,
                                    "RevocationContents.member.1.S3Bucket": BUCKET,
                                    "RevocationContents.member.1.S3Key": "root.crl",
                                    "RevocationContents.member.1.RevocationType": "CRL"})
        assert status == 200, body
        assert "<NumberOfRevokedEntries>1</NumberOfRevokedEntries>" in body, body
        revocation = re.search(r"<RevocationId>(\d+)</RevocationId>", body).group(1)
        assert get(api.port, contexts["revoked"]) == b"", "a revoked client was let in"
        assert get(api.port, contexts["kept"]).startswith(b"HTTP/1.1 200")
        status, body = signed(api, {"Action": "DescribeTrustStores"})
        assert "<TotalRevokedEntries>1</TotalRevokedEntries>" in body, body

        status, body = signed(api, {"Action": "RemoveTrustStoreRevocations",
                                    "TrustStoreArn": store_arn,
                                    "RevocationIds.member.1": revocation})
        assert status == 200, body
        assert get(api.port, contexts["revoked"]).startswith(b"HTTP/1.1 200")
        status, body = signed(api, {"Action": "DescribeTrustStoreRevocations",
                                    "TrustStoreArn": store_arn})
        assert status == 200 and "<member>" not in body, body
    finally:
        if api.proc:
            api.proc.stop(timeout=10)


def location_of(body: str) -> str:
    m = re.search(r"<Location>([^<]+)</Location>", body)
    assert m, body
    return html.unescape(m.group(1))


def download(url: str) -> tuple[int, str, bytes]:
    """GET `url` with no credentials (as `curl "$url"`): status, Content-Type, body."""
    r = requests.get(url, timeout=10)
    return r.status_code, r.headers.get("Content-Type", ""), r.content


def test_content_urls_download_the_bundle_and_the_list(tmp_path, s3rver):  # noqa: F811
    """GetTrustStoreCaCertificatesBundle and GetTrustStoreRevocationContent answer a presigned
    URL of the API endpoint (decision 0035) that any HTTP client downloads without credentials:
    the bundle's certificate and the CRL come back as PEM; a URL changed in any parameter, or
    named for an unknown revocation id, is refused."""
    store = s3rver()
    ca = Ca(tmp_path, "root", "/CN=Content CA")
    ca.revoke(ca.issue(tmp_path, "gone", "/CN=gone", 0x7001))
    store.client.put_object(Bucket=BUCKET, Key="ca.pem", Body=ca.crt.read_bytes())
    store.client.put_object(Bucket=BUCKET, Key="root.crl",
                            Body=ca.crl(tmp_path / "root.crl").read_bytes())
    cfg = https_config(tmp_path, f"http://{LOCAL}:{store.port}", credentials_file(tmp_path),
                       https_listener=False)
    api = ApiSluice(tmp_path, cfg)
    try:
        store_arn = create_store(api, "content", "ca.pem")
        status, body = signed(api, {"Action": "AddTrustStoreRevocations",
                                    "TrustStoreArn": store_arn,
                                    "RevocationContents.member.1.S3Bucket": BUCKET,
                                    "RevocationContents.member.1.S3Key": "root.crl"})
        assert status == 200, body

        status, body = signed(api, {"Action": "GetTrustStoreCaCertificatesBundle",
                                    "TrustStoreArn": store_arn})
        assert status == 200, body
        url = location_of(body)
        assert url.startswith(f"http://{LOCAL}:{api.api_port}/trust-store-content?"), url
        assert "X-Amz-Expires=600" in url and "X-Amz-Signature=" in url, url
        status, ctype, pem = download(url)
        assert status == 200 and ctype == "application/x-pem-file", (status, pem)
        assert (ssl.PEM_cert_to_DER_cert(pem.decode()) ==
                ssl.PEM_cert_to_DER_cert(ca.crt.read_text())), pem

        # Every parameter is signed: another store, or a longer life, breaks the signature.
        for tampered in (url.replace("content%2F", "other%2F"),
                         url.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")):
            status, _, answer = download(tampered)
            assert status == 403 and b"SignatureDoesNotMatch" in answer, answer

        status, body = signed(api, {"Action": "GetTrustStoreRevocationContent",
                                    "TrustStoreArn": store_arn, "RevocationId": "1"})
        assert status == 200, body
        status, _, crl = download(location_of(body))
        assert status == 200 and crl.startswith(b"-----BEGIN X509 CRL-----"), crl
        text = subprocess.run(["openssl", "crl", "-noout", "-text"], input=crl,
                              capture_output=True, check=True, timeout=30).stdout
        assert b"Serial Number: 7001" in text, text
        status, body = signed(api, {"Action": "GetTrustStoreRevocationContent",
                                    "TrustStoreArn": store_arn, "RevocationId": "2"})
        assert status == 400 and error_code(body) == "RevocationIdNotFound", body

        # A download is authorized as the elbv2 action it names, whatever Version it carries: a
        # key that may only read CloudWatch gets nothing, even from a URL it signed itself.
        policy = tmp_path / "watcher.json"
        policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "cloudwatch:*", "Resource": "*"}]}))
        watcher = api.new_key("watcher", f"@{policy}")
        for version in ("2010-08-01", "2015-12-01"):
            req = AWSRequest(method="GET", url=f"http://{LOCAL}:{api.api_port}/trust-store-content",
                             params={"Action": "GetTrustStoreCaCertificatesBundle",
                                     "TrustStoreArn": store_arn, "Version": version})
            SigV4QueryAuth(Credentials(*watcher), "elasticloadbalancing", "us-east-1",
                           expires=600).add_auth(req)
            status, _, answer = download(req.prepare().url)
            assert status == 403 and b"AccessDenied" in answer, (version, answer)

        lb_arn = api.client().describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
        status, body = signed(api, {"Action": "DeleteSharedTrustStoreAssociation",
                                    "TrustStoreArn": store_arn, "ResourceArn": lb_arn})
        assert status == 400 and error_code(body) == "DeleteAssociationSameAccount", body
    finally:
        if api.proc:
            api.proc.stop(timeout=10)


def test_the_bundle_comes_signed_over_https_without_waiting_for_the_close(
        tmp_path, verifying_store, monkeypatch):  # noqa: F811
    """The GET is signed as botocore signs it (the store checks every signature, the object
    version in the query included), goes over TLS with the store's certificate verified, and
    is read by its Content-Length: the store holds the connection open for 12 s, longer than
    Sluice's 10 s bound, and the call still answers at once."""
    store_cert, store_key = loopback_certificate(tmp_path, "store")
    store = verifying_store(tls=(store_cert, store_key))
    store.linger = 12.0
    monkeypatch.setenv("SSL_CERT_FILE", str(store_cert))  # OpenSSL's default CA store: this one
    ca, client = make_ca(tmp_path, "gamma")
    store.objects[f"/{BUCKET}/team cas/gamma.pem"] = ca.read_bytes()
    cfg = https_config(tmp_path, f"https://{LOCAL}:{store.port}", credentials_file(
        tmp_path, "AKIDSLUICETEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
    cfg["S3"]["Region"] = "eu-west-3"
    api = ApiSluice(tmp_path, cfg)
    try:
        began = time.monotonic()
        status, body = signed(api, {"Action": "CreateTrustStore", "Name": "gamma",
                                    "CaCertificatesBundleS3Bucket": BUCKET,
                                    "CaCertificatesBundleS3Key": "team cas/gamma.pem",
                                    "CaCertificatesBundleS3ObjectVersion": "3/x y"})
        took = time.monotonic() - began
        assert status == 200, body
        assert store.rejected == []
        assert store.fetched == [f"/{BUCKET}/team%20cas/gamma.pem?versionId=3%2Fx%20y"]
        assert took < 8, f"the call waited {took:.1f} s for the store to close"
        status, body = signed(api, {"Action": "CreateTrustStore", "Name": "delta",
                                    "CaCertificatesBundleS3Bucket": BUCKET,
                                    "CaCertificatesBundleS3Key": "missing.pem"})
        assert status == 400 and error_code(body) == "CaCertificatesBundleNotFound", body
        assert "404 NoSuchKey" in body, body
    finally:
        if api.proc:
            api.proc.stop(timeout=10)


def test_the_js_sdk_drives_the_trust_store_calls(tmp_path, s3rver):  # noqa: F811
    """The AWS SDK for JavaScript v3 (pinned in tests/js) parses every trust-store answer and
    names the missing object's error by its modelled exception."""
    from test_js_sdk import JS_DIR, sdk_ready
    node, _ = sdk_ready()
    store = s3rver()
    ca_a, _ = make_ca(tmp_path, "one")
    ca_b, _ = make_ca(tmp_path, "two")
    store.client.put_object(Bucket=BUCKET, Key="one.pem", Body=ca_a.read_bytes())
    store.client.put_object(Bucket=BUCKET, Key="both.pem",
                            Body=ca_a.read_bytes() + ca_b.read_bytes())
    cfg = https_config(tmp_path, f"http://{LOCAL}:{store.port}", credentials_file(tmp_path),
                       https_listener=False)
    api = ApiSluice(tmp_path, cfg)
    try:
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "SLUICE_API_ENDPOINT": f"http://{LOCAL}:{api.api_port}",
            "AWS_ACCESS_KEY_ID": api.key_id, "AWS_SECRET_ACCESS_KEY": api.secret,
            "AWS_REGION": "us-east-1", "SLUICE_BUCKET": BUCKET,
            "SLUICE_BUNDLE_KEY": "one.pem", "SLUICE_BUNDLE_KEY_2": "both.pem",
            "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
        }
        r = subprocess.run([node, str(JS_DIR / "elbv2_trust_stores.mjs")], capture_output=True,
                           text=True, env=env, cwd=str(JS_DIR), timeout=120)
        assert r.returncode == 0, f"{r.stderr}\nsluice log:\n{api.proc.stderr()[-3000:]}"
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["error"] == "CaCertificatesBundleNotFoundException"
        assert "truststore/sdk-store/" in out["arn"]
    finally:
        if api.proc:
            api.proc.stop(timeout=10)
