"""Network load balancers through the elbv2 API (issue 15 item 1, reference §8.1, §9): boto3
creates a `Type=network` load balancer, TCP and UDP target groups and listeners, and the
listeners carry bytes and datagrams as soon as the calls return; the ARNs are `net/` ones;
protocols that do not go together are refused with AWS's error codes."""
from __future__ import annotations

import re
import socket
import socketserver

import pytest
import requests

from conftest import LOCAL, free_port, lb_config, target_group, wait_until
from test_api import ApiSluice
from test_nlb_tcp import Server, recv_line
from test_nlb_udp import UdpEcho, ask, client, free_udp_port

boto3 = pytest.importorskip("boto3")
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


@pytest.fixture
def api(tmp_path, demo_targets):
    a = demo_targets("a")
    port = free_port()
    cfg = lb_config(port, {"Type": "forward", "TargetGroupName": "web"},
                    target_groups=[target_group("web", [a.port])])
    s = ApiSluice(tmp_path, cfg)
    yield s
    if s.proc:
        s.proc.stop(timeout=10)


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def test_boto3_builds_a_network_load_balancer_that_carries_tcp_and_udp(api):
    tcp_target, udp_target = Server("t", _Greeter), UdpEcho("u")
    try:
        c = api.client()
        lb = c.create_load_balancer(Name="db", Type="network",
                                    SubnetMappings=[{"SubnetId": "subnet-1",
                                                     "PrivateIPv4Address": LOCAL}])["LoadBalancers"][0]
        assert lb["Type"] == "network"
        assert ":loadbalancer/net/db/" in lb["LoadBalancerArn"]
        tcp = c.create_target_group(Name="tcp", Protocol="TCP", Port=tcp_target.port,
                                    VpcId="vpc-1", TargetType="ip")["TargetGroups"][0]
        assert tcp["HealthCheckProtocol"] == "TCP"
        assert tcp["Matcher"]["HttpCode"] == "200-399"  # NLB's default (reference §8.7)
        assert tcp["HealthCheckTimeoutSeconds"] == 10
        # NLB's HTTP checks time out after 6 s unless told (§8.7); ALB's after 5.
        http_checked = c.create_target_group(
            Name="tcp-http", Protocol="TCP", Port=tcp_target.port, VpcId="vpc-1",
            TargetType="ip", HealthCheckProtocol="HTTP")["TargetGroups"][0]
        assert http_checked["HealthCheckTimeoutSeconds"] == 6
        told = c.create_target_group(
            Name="tcp-http-3", Protocol="TCP", Port=tcp_target.port, VpcId="vpc-1",
            TargetType="ip", HealthCheckProtocol="HTTP",
            HealthCheckTimeoutSeconds=3)["TargetGroups"][0]
        assert told["HealthCheckTimeoutSeconds"] == 3
        alb_group = c.create_target_group(Name="web-5", Protocol="HTTP", Port=tcp_target.port,
                                          VpcId="vpc-1", TargetType="ip")["TargetGroups"][0]
        assert alb_group["HealthCheckTimeoutSeconds"] == 5
        for g in (http_checked, told, alb_group):
            c.delete_target_group(TargetGroupArn=g["TargetGroupArn"])
        udp = c.create_target_group(Name="udp", Protocol="UDP", Port=udp_target.port,
                                    VpcId="vpc-1", TargetType="ip",
                                    HealthCheckProtocol="TCP",
                                    HealthCheckPort=str(tcp_target.port))["TargetGroups"][0]
        c.register_targets(TargetGroupArn=tcp["TargetGroupArn"],
                           Targets=[{"Id": LOCAL, "Port": tcp_target.port}])
        c.register_targets(TargetGroupArn=udp["TargetGroupArn"],
                           Targets=[{"Id": LOCAL, "Port": udp_target.port}])

        # A TCP listener cannot forward to a UDP group: AWS's IncompatibleProtocols.
        tcp_port, udp_port = free_port(), free_udp_port()
        with pytest.raises(ClientError) as e:
            c.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP",
                              Port=tcp_port, DefaultActions=[
                                  {"Type": "forward", "TargetGroupArn": udp["TargetGroupArn"]}])
        assert code(e.value) == "IncompatibleProtocols", e.value.response
        # An HTTP listener on a network load balancer does not exist.
        with pytest.raises(ClientError) as e:
            c.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                              Port=tcp_port, DefaultActions=[
                                  {"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}])
        assert code(e.value) == "UnsupportedProtocol"

        listener = c.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=tcp_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}]
        )["Listeners"][0]
        assert ":listener/net/db/" in listener["ListenerArn"]
        c.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="UDP", Port=udp_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": udp["TargetGroupArn"]}])
        # A group serves one load balancer: a second one's listener is refused with AWS's code.
        other = c.create_load_balancer(Name="db2", Type="network", SubnetMappings=[
            {"SubnetId": "subnet-1", "PrivateIPv4Address": LOCAL}])["LoadBalancers"][0]
        with pytest.raises(ClientError) as e:
            c.create_listener(LoadBalancerArn=other["LoadBalancerArn"], Protocol="TCP",
                              Port=free_port(), DefaultActions=[
                                  {"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}])
        assert code(e.value) == "TargetGroupAssociationLimit", e.value.response
        c.delete_load_balancer(LoadBalancerArn=other["LoadBalancerArn"])

        # In force when the calls return.
        with socket.create_connection((LOCAL, tcp_port), timeout=10) as s:
            assert recv_line(s) == b"t\n"
        u = client(udp_port)
        assert ask(u, b"ping") == b"u:ping"
        u.close()

        described = c.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]
        assert described["Protocol"] == "TCP" and described["Port"] == tcp_port
        assert c.describe_load_balancers(Names=["db"])["LoadBalancers"][0]["Type"] == "network"
        wait_until(lambda: c.describe_target_health(TargetGroupArn=tcp["TargetGroupArn"])[
            "TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy", 30, 0.5,
            "the TCP-checked target healthy")
        c.delete_listener(ListenerArn=listener["ListenerArn"])
        c.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    finally:
        tcp_target.stop()
        udp_target.stop()


def test_unknown_types_and_tls_listener_policies_are_refused_as_aws_does(api):
    c = api.client()
    with pytest.raises(ClientError) as e:
        c.create_load_balancer(Name="gw", Type="gateway")
    assert code(e.value) == "ValidationError"
    lb = c.create_load_balancer(Name="tls", Type="network")["LoadBalancers"][0]
    tg = c.create_target_group(Name="t", Protocol="TCP", Port=9, VpcId="vpc-1",
                               TargetType="ip")["TargetGroups"][0]
    with pytest.raises(ClientError) as e:
        c.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=free_port(),
                          AlpnPolicy=["HTTP3Only"], DefaultActions=[
                              {"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    assert code(e.value) == "ALPNPolicyNotFound"


class _Greeter(socketserver.BaseRequestHandler):
    """Says its name and closes."""

    def handle(self):
        self.request.sendall(self.server.name.encode() + b"\n")


def test_tcp_listener_and_network_group_attributes_through_the_api(api):
    c = api.client()
    lb = c.create_load_balancer(Name="db", Type="network", SubnetMappings=[
        {"SubnetId": "subnet-1", "PrivateIPv4Address": LOCAL}])["LoadBalancers"][0]
    tcp = c.create_target_group(Name="tcp", Protocol="TCP", Port=5432, VpcId="vpc-1",
                                TargetType="ip")["TargetGroups"][0]
    udp = c.create_target_group(Name="udp", Protocol="UDP", Port=53, VpcId="vpc-1",
                                TargetType="ip", HealthCheckProtocol="TCP")["TargetGroups"][0]
    listener = c.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tcp["TargetGroupArn"]}]
    )["Listeners"][0]
    dns = c.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="UDP", Port=free_udp_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": udp["TargetGroupArn"]}]
    )["Listeners"][0]

    # Debian 12's botocore predates the listener-attribute calls: sent as any SDK sends
    # them, a SigV4-signed query.
    def call(action, arn, pairs=()):
        params = {"Action": action, "Version": "2015-12-01", "ListenerArn": arn}
        for i, (k, v) in enumerate(pairs, 1):
            params[f"Attributes.member.{i}.Key"] = k
            params[f"Attributes.member.{i}.Value"] = v
        req = AWSRequest(method="POST", url=f"http://{LOCAL}:{api.api_port}/", data=params)
        SigV4Auth(Credentials(api.key_id, api.secret), "elasticloadbalancing",
                  "us-east-1").add_auth(req)
        p = req.prepare()
        r = requests.post(p.url, data=p.body, headers=dict(p.headers), timeout=10)
        return r.status_code, r.text

    def listener_attributes(arn):
        status, body = call("DescribeListenerAttributes", arn)
        assert status == 200, body
        return dict(re.findall(r"<Key>([^<]*)</Key>\s*<Value>([^<]*)</Value>", body))

    # A TCP listener's idle timeout (reference §8.5), as `aws elbv2 modify-listener-attributes`.
    assert listener_attributes(listener["ListenerArn"])["tcp.idle_timeout.seconds"] == "350"
    status, body = call("ModifyListenerAttributes", listener["ListenerArn"],
                        [("tcp.idle_timeout.seconds", "120"), ("sluice.max_connections", "1000")])
    assert status == 200, body
    got = listener_attributes(listener["ListenerArn"])
    assert got["tcp.idle_timeout.seconds"] == "120" and got["sluice.max_connections"] == "1000"
    status, body = call("ModifyListenerAttributes", listener["ListenerArn"],
                        [("tcp.idle_timeout.seconds", "59")])
    assert status == 400 and "<Code>ValidationError</Code>" in body, body
    assert "tcp.idle_timeout.seconds 59 is out of range 60..6000" in body
    # A UDP listener has none.
    status, body = call("ModifyListenerAttributes", dns["ListenerArn"],
                        [("tcp.idle_timeout.seconds", "120")])
    assert status == 400 and "<Code>ValidationError</Code>" in body, body
    assert "a UDP listener has none" in body

    # A network group lists preserve_client_ip.enabled (off, docs/alb-compatibility.md).
    def group_attributes(arn):
        return {a["Key"]: a["Value"] for a in
                c.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
    assert group_attributes(tcp["TargetGroupArn"])["preserve_client_ip.enabled"] == "false"
    assert group_attributes(udp["TargetGroupArn"])["preserve_client_ip.enabled"] == "false"

    # A network load balancer's own attributes only; ALB's are refused, naming what it takes.
    lb_attributes = {a["Key"] for a in c.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert lb_attributes == {"deletion_protection.enabled", "access_logs.s3.enabled",
                             "access_logs.s3.bucket", "access_logs.s3.prefix"}, lb_attributes
    with pytest.raises(ClientError) as e:
        c.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": "30"}])
    assert code(e.value) == "ValidationError"
    assert "is for application load balancers" in str(e.value)
    c.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    with pytest.raises(ClientError) as e:
        c.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert code(e.value) == "OperationNotPermitted"
