"""Certificates and the elbv2 API, driven by boto3. A listener's certificate list (§7.3):
AddListenerCertificates puts a certificate among the SNI candidates of a running HTTPS
listener, DescribeListenerCertificates shows the default first, RemoveListenerCertificates
takes it out again and refuses the default, ModifyListener replaces the default. Each change
is checked on the wire: the certificate a TLS client with that SNI name receives. And the API
endpoint itself over HTTPS (Api.Certificate)."""

from __future__ import annotations

import re
import ssl
import subprocess

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import LOCAL, fixed, free_port, lb_config, loopback_certificate
from test_api import ApiSluice
from test_https import client_ctx, der_of, handshake, openssl_cert


@pytest.fixture
def https_api(tmp_path):
    certs = {n: openssl_cert(tmp_path, n, [f"{n}.example"]) for n in ("site", "shop", "blog")}
    port = free_port()
    cfg = lb_config(port, fixed("200", "ok"))
    cfg["Certificates"] = [{"Name": n, "CertificateFile": str(c), "PrivateKeyFile": str(k)}
                           for n, (c, k) in certs.items()]
    listener = cfg["LoadBalancers"][0]["Listeners"][0]
    listener["Protocol"] = "HTTPS"
    listener["Certificates"] = ["site"]
    s = ApiSluice(tmp_path, cfg)
    s.certs = certs
    yield s
    if s.proc:
        s.proc.stop(timeout=10)


def served(port: int, sni: str) -> bytes:
    with handshake(port, sni) as tls:
        return tls.getpeercert(binary_form=True)


def test_the_certificate_list_follows_the_api(https_api):
    api, certs = https_api, https_api.certs
    c = api.client()
    listener = c.describe_listeners(
        LoadBalancerArn=c.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
    )["Listeners"][0]
    arn = listener["ListenerArn"]
    cert_arn = {n: listener["Certificates"][0]["CertificateArn"].replace("site", n)
                for n in certs}
    assert served(api.port, "shop.example") == der_of(certs["site"][0])  # only the default

    added = c.add_listener_certificates(ListenerArn=arn,
                                        Certificates=[{"CertificateArn": cert_arn["shop"]}])
    assert added["Certificates"] == [{"CertificateArn": cert_arn["shop"], "IsDefault": False}]
    listed = c.describe_listener_certificates(ListenerArn=arn)["Certificates"]
    assert listed == [{"CertificateArn": cert_arn["site"], "IsDefault": True},
                      {"CertificateArn": cert_arn["shop"], "IsDefault": False}]
    assert served(api.port, "shop.example") == der_of(certs["shop"][0])
    assert served(api.port, "other.example") == der_of(certs["site"][0])

    with pytest.raises(ClientError) as e:
        c.remove_listener_certificates(ListenerArn=arn,
                                       Certificates=[{"CertificateArn": cert_arn["site"]}])
    assert e.value.response["Error"]["Code"] == "OperationNotPermitted"

    c.modify_listener(ListenerArn=arn, Certificates=[{"CertificateArn": cert_arn["blog"]}])
    listed = c.describe_listener_certificates(ListenerArn=arn)["Certificates"]
    assert [x["CertificateArn"] for x in listed] == [cert_arn["blog"], cert_arn["shop"]]
    assert served(api.port, "no-sni-match.example") == der_of(certs["blog"][0])
    assert served(api.port, "shop.example") == der_of(certs["shop"][0])

    c.remove_listener_certificates(ListenerArn=arn,
                                   Certificates=[{"CertificateArn": cert_arn["shop"]}])
    assert served(api.port, "shop.example") == der_of(certs["blog"][0])
    # The audit log recorded the three kinds of call.
    audit = api.audit.read_text()
    for op in ("AddListenerCertificates", "DescribeListenerCertificates",
               "RemoveListenerCertificates"):
        assert f'"eventName":"{op}"' in audit, op


def test_the_api_over_https(tmp_path):
    cert, key = loopback_certificate(tmp_path, "api")
    port = free_port()
    cfg = lb_config(port, fixed("200", "ok"))
    cfg["Certificates"] = [{"Name": "api", "CertificateFile": str(cert),
                            "PrivateKeyFile": str(key)}]
    cfg["Api"] = {"Certificate": "api"}
    api = ApiSluice(tmp_path, cfg)
    try:
        assert "elbv2 API on https://" in api.proc.stderr()
        c = boto3.client("elbv2", endpoint_url=f"https://{LOCAL}:{api.api_port}",
                         region_name="us-east-1", aws_access_key_id=api.key_id,
                         aws_secret_access_key=api.secret, verify=str(cert),
                         config=BotoConfig(retries={"max_attempts": 1}))
        lbs = c.describe_load_balancers()["LoadBalancers"]
        assert [lb["LoadBalancerName"] for lb in lbs] == ["it"]
        # Plain HTTP to the TLS port gets no answer; a client that does not trust the
        # certificate refuses it.
        with pytest.raises(Exception):
            api.client().describe_load_balancers()
        untrusting = boto3.client("elbv2", endpoint_url=f"https://{LOCAL}:{api.api_port}",
                                  region_name="us-east-1", aws_access_key_id=api.key_id,
                                  aws_secret_access_key=api.secret,
                                  config=BotoConfig(retries={"max_attempts": 1}))
        with pytest.raises(botocore.exceptions.SSLError):
            untrusting.describe_load_balancers()
        assert c.describe_load_balancers()["LoadBalancers"], "the endpoint still serves"
    finally:
        api.proc.stop(timeout=10)


def signed(api, params: dict) -> tuple[int, str]:
    """A SigV4-signed query, as any SDK sends it (Debian 12's botocore predates mutual TLS and
    the trust-store calls)."""
    req = AWSRequest(method="POST", url=f"http://{LOCAL}:{api.api_port}/",
                     data={"Version": "2015-12-01", **params})
    SigV4Auth(Credentials(api.key_id, api.secret), "elasticloadbalancing",
              "us-east-1").add_auth(req)
    p = req.prepare()
    r = requests.post(p.url, data=p.body, headers=dict(p.headers), timeout=10)
    return r.status_code, r.text


def mutual_of(body: str) -> dict:
    """The MutualAuthentication of the one listener in a Listeners answer."""
    block = re.search(r"<MutualAuthentication>(.*?)</MutualAuthentication>", body, re.S)
    assert block, body
    return dict(re.findall(r"<(\w+)>([^<]*)</\1>", block.group(1)))


def test_mutual_tls_follows_the_api(tmp_path):
    """ModifyListener's MutualAuthentication (§7.4) on a running HTTPS listener: verify makes
    the handshake refuse a client without a certificate, off lets it in again;
    DescribeListeners shows the mode, the trust store and its options; a trust store the
    config lacks is TrustStoreNotFound and changes nothing."""
    ca = tmp_path / "ca.pem"

    def openssl(*args):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=Sluice API test CA", "-keyout", tmp_path / "ca.key", "-out", ca,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=api client",
            "-keyout", tmp_path / "client.key", "-out", tmp_path / "client.csr")
    ext = tmp_path / "client.ext"  # an X.509v3 client certificate, as ALB requires
    ext.write_text("basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                   "extendedKeyUsage = clientAuth\n")
    openssl("x509", "-req", "-in", tmp_path / "client.csr", "-CA", ca, "-CAkey",
            tmp_path / "ca.key", "-set_serial", "0x51", "-days", "1", "-sha256",
            "-extfile", ext, "-out", tmp_path / "client.pem")
    with_cert = client_ctx()
    with_cert.load_cert_chain(str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    cert, key = openssl_cert(tmp_path, "site", ["site.example"])
    port = free_port()
    cfg = lb_config(port, fixed("200", "ok"))
    cfg["Certificates"] = [{"Name": "site", "CertificateFile": str(cert),
                            "PrivateKeyFile": str(key)}]
    cfg["TrustStores"] = [{"Name": "clients", "CaCertificatesBundleFile": str(ca)}]
    listener = cfg["LoadBalancers"][0]["Listeners"][0]
    listener["Protocol"] = "HTTPS"
    listener["Certificates"] = ["site"]
    api = ApiSluice(tmp_path, cfg)
    try:
        c = api.client()
        lb_arn = c.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
        arn = c.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"][0]["ListenerArn"]
        status, body = signed(api, {"Action": "DescribeTrustStores"})
        assert status == 200, body
        store = re.search(r"<TrustStoreArn>([^<]+)</TrustStoreArn>", body).group(1)

        def get(ctx=None) -> bytes:
            """One request (without a client certificate unless ctx has one): the response's
            first bytes, or b"" when the listener refused the handshake (under TLS 1.3 seen at
            the first read)."""
            try:
                with handshake(api.port, "site.example", ctx) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: site.example\r\n\r\n")
                    s.settimeout(5)
                    return s.recv(65536)
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                return b""

        def modify(**mutual) -> tuple[int, str]:
            params = {"Action": "ModifyListener", "ListenerArn": arn}
            params.update({f"MutualAuthentication.{k}": v for k, v in mutual.items()})
            return signed(api, params)

        assert get().startswith(b"HTTP/1.1 200")
        status, body = modify(Mode="verify", TrustStoreArn=store + "0")
        assert status == 400 and "<Code>TrustStoreNotFound</Code>" in body, body
        assert get().startswith(b"HTTP/1.1 200")

        status, body = modify(Mode="verify", TrustStoreArn=store, AdvertiseTrustStoreCaNames="on")
        assert status == 200, body
        expected = {"Mode": "verify", "TrustStoreArn": store,
                    "IgnoreClientCertificateExpiry": "false",
                    "TrustStoreAssociationStatus": "active", "AdvertiseTrustStoreCaNames": "on"}
        assert mutual_of(body) == expected
        status, body = signed(api, {"Action": "DescribeListeners",
                                    "ListenerArns.member.1": arn})
        assert status == 200 and mutual_of(body) == expected, body
        assert get() == b"", "verify mode let a client without a certificate in"
        assert get(with_cert).startswith(b"HTTP/1.1 200"), "the CA's client was refused"

        status, body = modify(Mode="off")
        assert status == 200 and mutual_of(body) == {"Mode": "off"}, body
        assert get().startswith(b"HTTP/1.1 200")
    finally:
        if api.proc:
            api.proc.stop(timeout=10)
