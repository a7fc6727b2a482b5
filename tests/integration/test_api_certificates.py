"""Certificates and the elbv2 API, driven by boto3. A listener's certificate list (§7.3):
AddListenerCertificates puts a certificate among the SNI candidates of a running HTTPS
listener, DescribeListenerCertificates shows the default first, RemoveListenerCertificates
takes it out again and refuses the default, ModifyListener replaces the default. Each change
is checked on the wire: the certificate a TLS client with that SNI name receives. And the API
endpoint itself over HTTPS (Api.Certificate)."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from conftest import LOCAL, fixed, free_port, lb_config, loopback_certificate
from test_api import ApiSluice
from test_https import der_of, handshake, openssl_cert


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
