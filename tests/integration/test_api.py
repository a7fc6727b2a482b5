"""The elbv2 API driven by unchanged AWS clients: boto3 and the aws CLI, signed with keys made
by `sluice api-keys create`, against a Sluice serving a state store (`sluice import`, then
`sluice run --state`). Every mutation must be in force when the call returns."""
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import (LOCAL, SLUICE_BIN, Proc, dump_config, fixed, free_port, lb_config,
                      port_accepts, target_group, wait_until)

boto3 = pytest.importorskip("boto3")
from botocore.config import Config as BotoConfig  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

AWS_CLI = "/usr/bin/aws"


class ApiSluice:
    def __init__(self, tmp: pathlib.Path, config: dict, extra_args=(), wait_listener=True):
        self.tmp = tmp
        self.db = tmp / "state.db"
        self.audit = tmp / "audit.jsonl"
        self.api_port = free_port()
        self.wait_listener = wait_listener
        self.port = config["LoadBalancers"][0]["Listeners"][0]["Port"] if wait_listener else 0
        cfg = tmp / "initial.yaml"
        cfg.write_text(dump_config(config))
        out = self.cli("import", cfg, "--state", self.db)
        assert "generation 1" in out, out
        self.key_id, self.secret = self.new_key("ci", "admin")
        self.extra_args = list(extra_args)
        self.proc = None
        self.starts = 0
        self.start()

    def cli(self, *args, check=True) -> str:
        r = subprocess.run([SLUICE_BIN, *[str(a) for a in args]], capture_output=True, text=True,
                           timeout=30)
        if check:
            assert r.returncode == 0, r.stderr
        return r.stdout + r.stderr

    def new_key(self, user, policy):
        out = self.cli("api-keys", "create", "--user", user, "--policy", policy, "--state", self.db)
        key = re.search(r"AccessKeyId:\s+(\S+)", out).group(1)
        secret = re.search(r"SecretAccessKey:\s+(\S+)", out).group(1)
        return key, secret

    def start(self):
        self.starts += 1
        self.proc = Proc([SLUICE_BIN, "run", "--state", self.db, "--workers", "2", "--api",
                          f"{LOCAL}:{self.api_port}", "--api-audit-log", self.audit,
                          *self.extra_args], self.tmp, f"sluice-api-{self.starts}")

        def ready():
            if not self.proc.alive():
                raise AssertionError(f"sluice exited: {self.proc.stderr()}")
            return "elbv2 API on" in self.proc.stderr()

        wait_until(ready, 15, what="API ready")
        if self.wait_listener:
            wait_until(lambda: port_accepts(self.port), 10, what="listener")

    def client(self, key=None, secret=None, region="us-east-1"):
        return boto3.client(
            "elbv2", endpoint_url=f"http://{LOCAL}:{self.api_port}", region_name=region,
            aws_access_key_id=key or self.key_id, aws_secret_access_key=secret or self.secret,
            config=BotoConfig(retries={"max_attempts": 1}))

    def get(self, path="/"):
        with urllib.request.urlopen(f"http://{LOCAL}:{self.port}{path}", timeout=5) as r:
            return r.status, r.read().decode()


@pytest.fixture
def api(tmp_path, demo_targets):
    blue = demo_targets("blue")
    green = demo_targets("green")
    port = free_port()
    cfg = lb_config(port, {"Type": "forward", "TargetGroupName": "blue"},
                    target_groups=[target_group("blue", [blue.port], health=True),
                                   target_group("green", [], health=True)])
    for tg in cfg["TargetGroups"]:
        tg["HealthCheckIntervalSeconds"] = 5
        tg["HealthCheckTimeoutSeconds"] = 2
        tg["HealthyThresholdCount"] = 2
        tg["Attributes"] = {"deregistration_delay.timeout_seconds": 1}
    s = ApiSluice(tmp_path, cfg)
    s.blue, s.green = blue, green
    yield s
    if s.proc:
        s.proc.stop(timeout=10)


def arns(c):
    groups = {g["TargetGroupName"]: g["TargetGroupArn"]
              for g in c.describe_target_groups()["TargetGroups"]}
    lb = c.describe_load_balancers()["LoadBalancers"][0]
    listener = c.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    return groups, lb, listener


def test_describe_shapes(api):
    c = api.client()
    groups, lb, listener = arns(c)
    assert lb["LoadBalancerName"] == "it"
    assert lb["State"]["Code"] == "active"
    assert re.fullmatch(r"arn:aws:elasticloadbalancing:us-east-1:\d{12}:loadbalancer/app/it/"
                        r"[0-9a-f]{16}", lb["LoadBalancerArn"])
    assert set(groups) == {"blue", "green"}
    assert listener["Port"] == api.port and listener["Protocol"] == "HTTP"
    assert listener["DefaultActions"][0]["TargetGroupArn"] == groups["blue"]
    rules = c.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert rules[-1]["IsDefault"] is True and rules[-1]["Priority"] == "default"
    health = c.describe_target_health(TargetGroupArn=groups["blue"])
    assert health["TargetHealthDescriptions"][0]["Target"]["Port"] == api.blue.port
    blue_lbs = c.describe_target_groups(Names=["blue"])["TargetGroups"][0]["LoadBalancerArns"]
    assert blue_lbs == [lb["LoadBalancerArn"]]
    assert c.describe_target_groups(Names=["green"])["TargetGroups"][0]["LoadBalancerArns"] == []
    limits = {l["Name"]: l["Max"] for l in c.describe_account_limits()["Limits"]}
    assert "target-groups" in limits
    with pytest.raises(ClientError) as e:
        c.describe_load_balancers(Names=["nope"])
    assert e.value.response["Error"]["Code"] == "LoadBalancerNotFound"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_register_waiter_traffic_and_deregister(api):
    c = api.client()
    groups, lb, listener = arns(c)
    c.register_targets(TargetGroupArn=groups["green"],
                       Targets=[{"Id": LOCAL, "Port": api.green.port}])
    # No listener forwards to green yet: its target is not checked (as on ALB).
    h = c.describe_target_health(TargetGroupArn=groups["green"])["TargetHealthDescriptions"]
    assert [(d["TargetHealth"]["State"], d["TargetHealth"]["Reason"]) for d in h] == [
        ("unused", "Target.NotInUse")]
    # A rule created by API makes it used; it is checked, turns healthy, and takes traffic.
    rule = c.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/g/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": groups["green"]}])["Rules"][0]
    assert rule["Priority"] == "5" and rule["IsDefault"] is False
    h = c.describe_target_health(TargetGroupArn=groups["green"])["TargetHealthDescriptions"]
    assert [d["TargetHealth"]["State"] for d in h] in (["initial"], ["healthy"])
    c.get_waiter("target_in_service").wait(
        TargetGroupArn=groups["green"], Targets=[{"Id": LOCAL, "Port": api.green.port}],
        WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    status, body = api.get("/g/x")
    assert status == 200 and "green" in body, body
    c.deregister_targets(TargetGroupArn=groups["green"],
                         Targets=[{"Id": LOCAL, "Port": api.green.port}])
    c.get_waiter("target_deregistered").wait(
        TargetGroupArn=groups["green"], Targets=[{"Id": LOCAL, "Port": api.green.port}],
        WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def test_blue_green_weights_under_load_lose_nothing(api):
    c = api.client()
    groups, lb, listener = arns(c)

    def weights(blue_w, green_w):
        c.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[{
            "Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": groups["blue"], "Weight": blue_w},
                {"TargetGroupArn": groups["green"], "Weight": green_w}]}}])

    weights(100, 0)  # green is now used (checked) but gets no traffic
    c.register_targets(TargetGroupArn=groups["green"],
                       Targets=[{"Id": LOCAL, "Port": api.green.port}])
    c.get_waiter("target_in_service").wait(TargetGroupArn=groups["green"],
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    failures, seen, stop = [], {"blue": 0, "green": 0}, threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, body = api.get("/")
                if status != 200:
                    failures.append(status)
                for name in seen:
                    if f"{name}" in body:
                        seen[name] += 1
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for blue_w, green_w in ((90, 10), (50, 50), (0, 100)):
            weights(blue_w, green_w)
            time.sleep(0.3)
        before = seen["blue"]
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert seen["green"] > 0
    assert seen["blue"] - before <= 4  # at weight 0 only requests already in flight


def test_state_survives_restart_and_kill_9(api):
    c = api.client()
    groups, _, _ = arns(c)
    c.register_targets(TargetGroupArn=groups["green"], Targets=[{"Id": "127.0.0.7", "Port": 9}])
    api.proc.stop(timeout=10)
    api.start()
    c = api.client()
    ids = [d["Target"]["Id"] for d in c.describe_target_health(
        TargetGroupArn=groups["green"])["TargetHealthDescriptions"]]
    assert ids == ["127.0.0.7"]
    # A burst of mutations, killed in the middle: every acknowledged one is there afterwards.
    acked = []

    def burst():
        for i in range(200):
            try:
                c.register_targets(TargetGroupArn=groups["green"],
                                   Targets=[{"Id": f"127.0.1.{i % 250}", "Port": 1000 + i}])
                acked.append(1000 + i)
            except Exception:  # noqa: BLE001
                return

    t = threading.Thread(target=burst)
    t.start()
    wait_until(lambda: len(acked) >= 5, 20, what="some acknowledged mutations")
    os.kill(api.proc.pid, signal.SIGKILL)
    t.join(30)
    api.proc.stop()
    api.start()
    c = api.client()
    ports = {d["Target"]["Port"] for d in c.describe_target_health(
        TargetGroupArn=groups["green"])["TargetHealthDescriptions"]}
    assert set(acked) <= ports
    exported = api.cli("export", "--state", api.db)
    check = api.tmp / "exported.yaml"
    check.write_text(exported)
    assert ": ok (" in api.cli("validate", check)


def test_bad_signatures_and_policies(api):
    groups, _, _ = arns(api.client())
    url = f"http://{LOCAL}:{api.api_port}/?Action=DescribeLoadBalancers&Version=2015-12-01"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=5)
    assert e.value.code == 403
    body = e.value.read().decode()
    assert "<Code>MissingAuthenticationToken</Code>" in body
    assert e.value.headers["x-amzn-RequestId"]
    for key, secret, code in ((api.key_id, "wrong" * 8, "SignatureDoesNotMatch"),
                              ("AKIAAAAAAAAAAAAAAAAA", api.secret, "InvalidClientTokenId")):
        with pytest.raises(ClientError) as err:
            api.client(key, secret).describe_load_balancers()
        assert err.value.response["Error"]["Code"] == code
    ro_key, ro_secret = api.new_key("viewer", "read-only")
    ro = api.client(ro_key, ro_secret)
    assert ro.describe_target_groups()["TargetGroups"]
    with pytest.raises(ClientError) as err:
        ro.register_targets(TargetGroupArn=groups["green"], Targets=[{"Id": "127.0.0.8"}])
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    api.cli("api-keys", "revoke", ro_key, "--state", api.db)
    with pytest.raises(ClientError) as err:
        ro.describe_target_groups()
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # The audit log has every call, the caller's key, and never a secret.
    audit = api.audit.read_text()
    records = [json.loads(line) for line in audit.splitlines()]
    names = {(r["eventName"], r.get("errorCode")) for r in records}
    assert ("RegisterTargets", "AccessDenied") in names
    assert any(r["userIdentity"]["accessKeyId"] == ro_key for r in records)
    assert api.secret not in audit and ro_secret not in audit


def test_aws_cli_unchanged(api):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=api.key_id, AWS_SECRET_ACCESS_KEY=api.secret,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    if not os.path.exists(AWS_CLI):
        pytest.skip("awscli is not installed")
    r = subprocess.run([AWS_CLI, "elbv2", "describe-target-groups", "--endpoint-url",
                        f"http://{LOCAL}:{api.api_port}", "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    names = [g["TargetGroupName"] for g in json.loads(r.stdout)["TargetGroups"]]
    assert sorted(names) == ["blue", "green"]
    r = subprocess.run([AWS_CLI, "elbv2", "describe-load-balancers", "--names", "missing",
                        "--endpoint-url", f"http://{LOCAL}:{api.api_port}"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode != 0 and "LoadBalancerNotFound" in r.stderr


def test_network_settings_as_terraform_sets_them(api):
    """SetSecurityGroups, SetIpAddressType and SetSubnets, which Terraform and CDK call after
    CreateLoadBalancer: accepted for what a one-host load balancer has, refused with AWS's code
    for what it cannot have, and nothing changes (the listener stays open)."""
    if not os.path.exists(AWS_CLI):
        pytest.skip("awscli is not installed")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=api.key_id, AWS_SECRET_ACCESS_KEY=api.secret,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    c = api.client()
    arn = c.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]

    def aws(*args):
        return subprocess.run([AWS_CLI, "elbv2", *args, "--load-balancer-arn", arn,
                               "--endpoint-url", f"http://{LOCAL}:{api.api_port}",
                               "--output", "json"],
                              capture_output=True, text=True, env=env, timeout=60)

    r = aws("set-security-groups", "--security-groups", "sg-5943793c")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout).get("SecurityGroupIds", []) == []
    r = aws("set-ip-address-type", "--ip-address-type", "ipv4")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["IpAddressType"] == "ipv4"
    r = aws("set-ip-address-type", "--ip-address-type", "dualstack")
    assert r.returncode != 0 and "InvalidConfigurationRequest" in r.stderr, r.stderr
    out = c.set_subnets(LoadBalancerArn=arn, Subnets=["subnet-a", "subnet-b"])
    assert out.get("AvailabilityZones", []) == [] and out["IpAddressType"] == "ipv4"
    lb = c.describe_load_balancers()["LoadBalancers"][0]
    assert lb["IpAddressType"] == "ipv4" and lb.get("SecurityGroups", []) == []
    assert port_accepts(api.port)


def test_file_managed_refuses_mutations(tmp_path, demo_targets, sluice):
    t = demo_targets("a")
    port = free_port()
    api_port = free_port()
    cfg = lb_config(port, {"Type": "forward", "TargetGroupName": "a"},
                    target_groups=[target_group("a", [t.port])])
    db = tmp_path / "keys.db"
    out = subprocess.run([SLUICE_BIN, "api-keys", "create", "--user", "ops", "--state", db],
                         capture_output=True, text=True, timeout=30).stdout
    key = re.search(r"AccessKeyId:\s+(\S+)", out).group(1)
    secret = re.search(r"SecretAccessKey:\s+(\S+)", out).group(1)
    s = sluice(cfg, args=("--state", db, "--api", f"{LOCAL}:{api_port}"))
    wait_until(lambda: "elbv2 API on" in s.log(), 10, what="API")
    c = boto3.client("elbv2", endpoint_url=f"http://{LOCAL}:{api_port}", region_name="us-east-1",
                     aws_access_key_id=key, aws_secret_access_key=secret)
    arn = c.describe_target_groups()["TargetGroups"][0]["TargetGroupArn"]
    with pytest.raises(ClientError) as err:
        c.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.9"}])
    assert err.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert str(s.config_path) in err.value.response["Error"]["Message"]


def test_invalid_change_is_refused_whole(api):
    c = api.client()
    groups, _, listener = arns(c)
    with pytest.raises(ClientError) as err:
        c.create_rule(ListenerArn=listener["ListenerArn"], Priority=7,
                      Conditions=[{"Field": "path-pattern",
                                   "PathPatternConfig": {"Values": ["/" + "x" * 200]}}],
                      Actions=[{"Type": "forward", "TargetGroupArn": groups["green"]}])
    assert err.value.response["Error"]["Code"] == "ValidationError"
    rules = c.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    assert [r["Priority"] for r in rules] == ["default"]


def test_group_tag_and_attribute_changes_are_checked_where_they_can_fail(api):
    """Decision 0032: these calls check a reduced document (or the handler checks them); a
    refusal still names the field of the whole model, and what is accepted loads again."""
    c = api.client()
    groups, lb, _ = arns(c)
    extra = c.create_target_group(Name="extra", Protocol="HTTP", Port=9000, VpcId="vpc-0",
                                  HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                  )["TargetGroups"][0]["TargetGroupArn"]
    with pytest.raises(ClientError) as err:  # the loader's check: timeout below the interval
        c.modify_target_group(TargetGroupArn=extra, HealthCheckTimeoutSeconds=10)
    e = err.value.response["Error"]
    assert e["Code"] == "ValidationError"
    assert e["Message"].startswith("TargetGroups[2].HealthCheckTimeoutSeconds: "), e
    assert "(line" not in e["Message"], e
    with pytest.raises(ClientError) as err:
        c.add_tags(ResourceArns=[extra], Tags=[{"Key": "k", "Value": "a\x00b"}])
    assert err.value.response["Error"]["Code"] == "ValidationError"
    c.add_tags(ResourceArns=[extra, lb["LoadBalancerArn"]], Tags=[{"Key": "team", "Value": "a"}])
    c.modify_target_group_attributes(TargetGroupArn=extra, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "7"}])
    c.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "120"}])
    c.delete_target_group(TargetGroupArn=groups["green"])  # nothing forwards to it
    api.proc.stop(timeout=10)
    api.start()
    c = api.client()
    assert {"Key": "team", "Value": "a"} in c.describe_tags(
        ResourceArns=[extra])["TagDescriptions"][0]["Tags"]
    attrs = {a["Key"]: a["Value"] for a in c.describe_target_group_attributes(
        TargetGroupArn=extra)["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "7"
    attrs = {a["Key"]: a["Value"] for a in c.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "120"
    names = [g["TargetGroupName"] for g in c.describe_target_groups()["TargetGroups"]]
    assert sorted(names) == ["blue", "extra"]
    check = api.tmp / "exported.yaml"
    check.write_text(api.cli("export", "--state", api.db))
    assert ": ok (" in api.cli("validate", check)


def test_four_services_set_up_entirely_by_api(tmp_path, demo_targets):
    """The classic microservices case, from an empty store, with nothing but API calls."""
    services = ["auth", "problems", "submissions", "evaluate"]
    backends = {name: demo_targets(name) for name in services}
    api = ApiSluice(tmp_path, {"Account": {"Id": "123456789012", "Region": "eu-west-3"}},
                    wait_listener=False)
    try:
        c = api.client(region="eu-west-3")
        lb = c.create_load_balancer(
            Name="classic", Type="application", Scheme="internal",
            SubnetMappings=[{"SubnetId": "subnet-local", "PrivateIPv4Address": LOCAL}],
        )["LoadBalancers"][0]
        assert lb["LoadBalancerArn"].startswith(
            "arn:aws:elasticloadbalancing:eu-west-3:123456789012:loadbalancer/app/classic/")
        c.get_waiter("load_balancer_available").wait(
            Names=["classic"], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        port = free_port()
        listener = c.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no route"}}],
        )["Listeners"][0]
        for priority, name in enumerate(services, start=1):
            tg = c.create_target_group(
                Name=name, Protocol="HTTP", Port=backends[name].port, VpcId="vpc-local",
                HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
            )["TargetGroups"][0]
            c.create_rule(
                ListenerArn=listener["ListenerArn"], Priority=priority * 10,
                Conditions=[{"Field": "path-pattern",
                             "PathPatternConfig": {"Values": [f"/{name}/*"]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
            c.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                               Targets=[{"Id": LOCAL, "Port": backends[name].port}])
            c.modify_target_group_attributes(
                TargetGroupArn=tg["TargetGroupArn"],
                Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
        for name in services:
            arn = c.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
            c.get_waiter("target_in_service").wait(
                TargetGroupArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        wait_until(lambda: port_accepts(port), 10, what="listener made by API")
        for name in services:
            with urllib.request.urlopen(f"http://{LOCAL}:{port}/{name}/x", timeout=5) as r:
                assert r.status == 200 and name in r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://{LOCAL}:{port}/other", timeout=5)
        assert e.value.code == 404 and e.value.read() == b"no route"
        rules = c.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        assert [r["Priority"] for r in rules] == ["10", "20", "30", "40", "default"]
        attrs = {a["Key"]: a["Value"] for a in c.describe_target_group_attributes(
            TargetGroupArn=c.describe_target_groups(Names=["auth"])["TargetGroups"][0][
                "TargetGroupArn"])["Attributes"]}
        assert attrs["deregistration_delay.timeout_seconds"] == "5"
        # Tear down: the listener's port stops accepting; the load balancer goes away.
        c.delete_listener(ListenerArn=listener["ListenerArn"])
        wait_until(lambda: not port_accepts(port), 10, what="deleted listener to close")
        c.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
        c.get_waiter("load_balancers_deleted").wait(
            LoadBalancerArns=[lb["LoadBalancerArn"]], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    finally:
        api.proc.stop(timeout=10)


def test_tags_and_a_tag_conditioned_policy(api):
    c = api.client()
    groups, lb, _ = arns(c)
    c.add_tags(ResourceArns=[groups["green"]], Tags=[{"Key": "env", "Value": "dev"}])
    tags = c.describe_tags(ResourceArns=[groups["green"], groups["blue"]])["TagDescriptions"]
    assert tags[0]["Tags"] == [{"Key": "env", "Value": "dev"}] and tags[1]["Tags"] == []
    policy = api.tmp / "dev-only.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:RegisterTargets",
                                       "elasticloadbalancing:DeregisterTargets"],
         "Resource": "*",
         "Condition": {"StringEquals": {"elasticloadbalancing:ResourceTag/env": "dev"}}}]}))
    key, secret = api.new_key("deployer", f"@{policy}")
    dev = api.client(key, secret)
    dev.register_targets(TargetGroupArn=groups["green"], Targets=[{"Id": "127.0.0.3"}])
    with pytest.raises(ClientError) as err:
        dev.register_targets(TargetGroupArn=groups["blue"], Targets=[{"Id": "127.0.0.3"}])
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert groups["blue"] in err.value.response["Error"]["Message"]
    # Tags live in the store: they survive a restart.
    api.proc.stop(timeout=10)
    api.start()
    tags = api.client().describe_tags(ResourceArns=[groups["green"]])["TagDescriptions"]
    assert tags[0]["Tags"] == [{"Key": "env", "Value": "dev"}]


def test_cloudwatch_through_boto3_and_the_aws_cli(api):
    """CloudWatch's GetMetricStatistics and ListMetrics on the same endpoint (Version
    2010-08-01, signed for the `monitoring` service), answered from the metric history:
    boto3's cloudwatch client and `aws cloudwatch` work unchanged, under the key's policy."""
    for _ in range(5):
        assert api.get("/")[0] == 200
    cw = boto3.client(
        "cloudwatch", endpoint_url=f"http://{LOCAL}:{api.api_port}", region_name="us-east-1",
        aws_access_key_id=api.key_id, aws_secret_access_key=api.secret,
        config=BotoConfig(retries={"max_attempts": 1}))

    def lb_dimension():
        for m in cw.list_metrics(Namespace="AWS/ApplicationELB",
                                 MetricName="RequestCount")["Metrics"]:
            for d in m["Dimensions"]:
                if d["Name"] == "LoadBalancer":
                    return d["Value"]
        return None

    dim = wait_until(lb_dimension, 20, 0.5, "ListMetrics to list RequestCount")
    assert re.fullmatch(r"app/web/[0-9a-f]{16}", dim) or dim.startswith("app/"), dim
    now = int(time.time())

    def total():
        out = cw.get_metric_statistics(
            Namespace="AWS/ApplicationELB", MetricName="RequestCount",
            Dimensions=[{"Name": "LoadBalancer", "Value": dim}], StartTime=now - 600,
            EndTime=now + 120, Period=60, Statistics=["Sum", "SampleCount"])
        assert out["Label"] == "RequestCount"
        return sum(p["Sum"] for p in out["Datapoints"])

    wait_until(lambda: total() == 5, 25, 0.5, "RequestCount to reach 5")
    with pytest.raises(ClientError) as e:
        cw.get_metric_statistics(Namespace="AWS/ApplicationELB", MetricName="RequestCount",
                                 StartTime=now - 600, EndTime=now, Period=7,
                                 Statistics=["Sum"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    records = [json.loads(line) for line in api.audit.read_text().splitlines()]
    sources = {r["eventSource"] for r in records if r["eventName"] == "GetMetricStatistics"}
    assert sources == {"monitoring.amazonaws.com"}, sources
    # A key whose policy grants only elasticloadbalancing:* may not read CloudWatch.
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*"}]})
    policy_file = api.tmp / "elb-only.json"
    policy_file.write_text(policy)
    key, secret = api.new_key("elb-only", f"@{policy_file}")
    limited = boto3.client(
        "cloudwatch", endpoint_url=f"http://{LOCAL}:{api.api_port}", region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=BotoConfig(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        limited.list_metrics(Namespace="AWS/ApplicationELB")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "cloudwatch:ListMetrics" in e.value.response["Error"]["Message"]
    if not os.path.exists(AWS_CLI):
        return
    env = dict(os.environ, AWS_ACCESS_KEY_ID=api.key_id, AWS_SECRET_ACCESS_KEY=api.secret,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    r = subprocess.run([AWS_CLI, "cloudwatch", "get-metric-statistics", "--endpoint-url",
                        f"http://{LOCAL}:{api.api_port}", "--namespace", "AWS/ApplicationELB",
                        "--metric-name", "RequestCount", "--dimensions",
                        f"Name=LoadBalancer,Value={dim}", "--start-time", str(now - 600),
                        "--end-time", str(now + 120), "--period", "60", "--statistics", "Sum",
                        "--output", "json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sum(p["Sum"] for p in json.loads(r.stdout)["Datapoints"]) == 5


def test_audit_log_rotates_by_size_and_reopens_on_sighup(tmp_path):
    port = free_port()
    cfg = lb_config(port, fixed("200", "ok"))
    api = ApiSluice(tmp_path, cfg, extra_args=["--api-audit-log-max-bytes", "4096",
                                               "--api-audit-log-keep", "50"])
    try:
        c = api.client()
        calls = 40
        for _ in range(calls):
            c.describe_load_balancers()
        files = sorted(tmp_path.glob("audit.jsonl*"))
        names = {f.name for f in files}
        assert {"audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"} <= names, names
        records = []
        for f in files:
            text = f.read_text()
            assert f.stat().st_size <= 4096 or text.count("\n") == 1, (f, f.stat().st_size)
            records += [json.loads(line) for line in text.splitlines()]  # every line whole
        assert sum(r["eventName"] == "DescribeLoadBalancers" for r in records) == calls
        # logrotate's way: move the file, SIGHUP; the next call goes to a new file.
        (tmp_path / "audit.jsonl").rename(tmp_path / "moved.jsonl")
        api.proc.signal(signal.SIGHUP)
        wait_until(lambda: "reload" in api.proc.stderr(), 10, what="the SIGHUP handled")
        c.describe_target_groups()
        wait_until(lambda: (tmp_path / "audit.jsonl").exists(), 5, what="a new audit log")
        fresh = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert [r["eventName"] for r in fresh] == ["DescribeTargetGroups"], fresh
        assert "DescribeTargetGroups" not in (tmp_path / "moved.jsonl").read_text()
    finally:
        api.proc.stop(timeout=10)
