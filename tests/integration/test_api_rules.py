"""Rule mutations through the elbv2 API, driven by boto3, on their fast path (a change to one
listener's rules is checked on a document without the targets and the listener's other rules,
decision 0030): what the loader refuses is refused with the same codes, nothing half-applied;
what it accepts is in force when the call returns, stored as a document the loader accepts,
and served again after a restart."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import LOCAL, fixed, free_port, lb_config, path_is, rule, target_group
from test_api import ApiSluice


@pytest.fixture
def api(tmp_path):
    cfg = lb_config(free_port(), fixed("404", "none"),
                    rules=[rule(5, [path_is("/five/*")], fixed("200", "five")),
                           rule(10, [path_is("/ten/*")], fixed("200", "ten"))],
                    target_groups=[target_group("g", [], health=False),
                                   target_group("theirs", [], health=False),
                                   target_group("h2", [], health=False, ProtocolVersion="HTTP2")])
    # A second load balancer, which group "theirs" serves.
    cfg["LoadBalancers"].append(lb_config(free_port(), {"Type": "forward",
                                                        "TargetGroupName": "theirs"},
                                          name="other")["LoadBalancers"][0])
    s = ApiSluice(tmp_path, cfg)
    yield s
    if s.proc:
        s.proc.stop(timeout=10)


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://{LOCAL}:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def listener_of(c, name):
    lb = c.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    return c.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]


def priorities(c, listener_arn):
    return [r["Priority"] for r in c.describe_rules(ListenerArn=listener_arn)["Rules"]]


def group_arn(c, name):
    return c.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]


def fixed_action(status, body):
    return [{"Type": "fixed-response", "FixedResponseConfig": {
        "StatusCode": status, "ContentType": "text/plain", "MessageBody": body}}]


def test_refusals_keep_the_codes_and_change_nothing(api):
    c = api.client()
    listener = listener_of(c, "it")["ListenerArn"]
    # A group that serves another load balancer: AWS's own code.
    with pytest.raises(ClientError) as e:
        c.create_rule(ListenerArn=listener, Priority=20, Conditions=[path_is("/x/*")],
                      Actions=[{"Type": "forward", "TargetGroupArn": group_arn(c, "theirs")}])
    assert e.value.response["Error"]["Code"] == "TargetGroupAssociationLimit", e.value.response
    # An HTTP/2 group behind an HTTP listener, and a path pattern over 128 characters.
    with pytest.raises(ClientError) as e:
        c.create_rule(ListenerArn=listener, Priority=20, Conditions=[path_is("/x/*")],
                      Actions=[{"Type": "forward", "TargetGroupArn": group_arn(c, "h2")}])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "HTTP/2" in e.value.response["Error"]["Message"]
    # The second rule of the listener is named as such (the check's document holds only it).
    rule_arn = c.describe_rules(ListenerArn=listener)["Rules"][1]["RuleArn"]
    with pytest.raises(ClientError) as e:
        c.modify_rule(RuleArn=rule_arn, Conditions=[path_is("/" + "y" * 200)])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "Listeners[0].Rules[1].Conditions" in e.value.response["Error"]["Message"]
    assert priorities(c, listener) == ["5", "10", "default"]
    assert get(api.port, "/ten/a") == (200, "ten")


def test_changes_are_in_force_stored_and_served_after_restart(api):
    c = api.client()
    listener = listener_of(c, "it")["ListenerArn"]
    for p in (30, 20):
        c.create_rule(ListenerArn=listener, Priority=p, Conditions=[path_is(f"/r{p}/*")],
                      Actions=fixed_action("200", f"r{p}"))
    assert get(api.port, "/r20/a") == (200, "r20")
    rules = {r["Priority"]: r["RuleArn"] for r in c.describe_rules(ListenerArn=listener)["Rules"]}
    c.modify_rule(RuleArn=rules["20"], Actions=fixed_action("201", "changed"))
    assert get(api.port, "/r20/a") == (201, "changed")
    c.set_rule_priorities(RulePriorities=[{"RuleArn": rules["30"], "Priority": 1}])
    assert priorities(c, listener) == ["1", "5", "10", "20", "default"]
    # A priority another rule holds: refused, nothing moved.
    with pytest.raises(ClientError) as e:
        c.set_rule_priorities(RulePriorities=[{"RuleArn": rules["30"], "Priority": 10}])
    assert e.value.response["Error"]["Code"] == "PriorityInUse"
    c.delete_rule(RuleArn=rules["20"])
    assert get(api.port, "/r20/a") == (404, "none")
    c.modify_listener(ListenerArn=listener, DefaultActions=fixed_action("503", "default"))
    assert get(api.port, "/nothing") == (503, "default")
    assert priorities(c, listener) == ["1", "5", "10", "default"]
    exported = api.tmp / "exported.yaml"
    exported.write_text(api.cli("export", "--state", api.db))
    assert ": ok (2 load balancers, 2 listeners, 3 rules, 3 target groups, 0 targets)" in \
        api.cli("validate", exported)
    api.proc.stop(timeout=10)
    api.start()
    assert get(api.port, "/r30/a") == (200, "r30")
    assert get(api.port, "/nothing") == (503, "default")
