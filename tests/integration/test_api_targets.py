"""Registrations through the elbv2 API, driven by boto3, on their fast path (a change to one
group's targets is checked by the handler and applied without loading the whole document
again, decision 0026): the per-group limit answers AWS's TooManyTargets and changes nothing,
two spellings of one IPv6 address are one target, and what the fast path stored is a document
the config loader accepts, served again after a restart."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import fixed, free_port, lb_config, target_group
from test_api import ApiSluice


@pytest.fixture
def api(tmp_path):
    cfg = lb_config(free_port(), fixed("200", "ok"),
                    target_groups=[target_group("g", [], health=False)])
    s = ApiSluice(tmp_path, cfg)
    yield s
    if s.proc:
        s.proc.stop(timeout=10)


def registered(c, arn):
    """The registered targets (draining ones are still described, as on ALB: left out)."""
    return sorted((d["Target"]["Id"], d["Target"]["Port"])
                  for d in c.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
                  if d["TargetHealth"]["State"] != "draining")


def test_limit_canonical_addresses_and_restart(api):
    c = api.client()
    arn = c.describe_target_groups(Names=["g"])["TargetGroups"][0]["TargetGroupArn"]
    # IPv6 in two spellings: one target; deregistered by a third spelling.
    c.register_targets(TargetGroupArn=arn, Targets=[{"Id": "fd00::1", "Port": 81}])
    c.register_targets(TargetGroupArn=arn, Targets=[{"Id": "fd00:0::1", "Port": 81}])
    assert registered(c, arn) == [("fd00::1", 81)]
    c.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "fd00:0:0::1", "Port": 81}])
    assert registered(c, arn) == []
    # Up to the limit in calls of 200, then one more: TooManyTargets, nothing changed.
    for b in range(5):
        c.register_targets(TargetGroupArn=arn, Targets=[
            {"Id": f"10.0.{b}.{i + 1}", "Port": 80} for i in range(200)])
    assert len(registered(c, arn)) == 1000
    with pytest.raises(ClientError) as e:
        c.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.9.9.9", "Port": 80}])
    assert e.value.response["Error"]["Code"] == "TooManyTargets"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(registered(c, arn)) == 1000
    c.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.0.1", "Port": 80}])
    # What the fast path stored loads as a config file would, and is served after a restart.
    exported = api.tmp / "exported.yaml"
    exported.write_text(api.cli("export", "--state", api.db))
    assert ": ok (1 load balancers, 1 listeners, 0 rules, 1 target groups, 999 targets)" in \
        api.cli("validate", exported)
    api.proc.stop(timeout=10)
    api.start()
    c = api.client()
    after = registered(c, arn)
    assert len(after) == 999 and ("10.0.0.1", 80) not in after and ("10.0.4.200", 80) in after
