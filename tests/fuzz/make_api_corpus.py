#!/usr/bin/python3
"""Generates the seed corpora of the elbv2 API fuzz targets (api_query, api_request, api_sigv4,
api_policy).

The calls are made by botocore's elbv2 client (so the forms are what the SDKs send), signed by
botocore at the fuzz targets' fixed time (2026-01-15T12:00:00Z) with the key api_sigv4 knows,
and caught before they are sent. The ARNs are those of the model in tests/fuzz/api_request/
fuzz.cc, computed as src/config/arn.cc does (FNV-1a of "kind/name"). Seeds:
  api_query/corpus/    the form of each call (body or query string), plus edge cases;
  api_request/corpus/  each call as a whole HTTP request (POST and GET), plus malformed ones;
  api_sigv4/corpus/    each call in api_sigv4's line framing (method, path, query, headers, an
                       empty line, body), header-signed, plus presigned GETs;
  api_policy/corpus/   the built-in policies and realistic ones.
Deterministic: running it again rewrites the same files (seed-* files only; inputs libFuzzer
added are kept). Needs botocore.

Usage: tests/fuzz/make_api_corpus.py
"""

import datetime
import glob
import json
import os
import types

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session

HERE = os.path.dirname(os.path.abspath(__file__))

KEY_ID = "AKIDFUZZEXAMPLE00001"  # tests/fuzz/api_sigv4/fuzz.cc
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFUZZEXAMPLEKEY"
SIGNING_TIME = datetime.datetime(2026, 1, 15, 12, 0, 0)
ENDPOINT_HOST = "127.0.0.1:9443"
USER_AGENT = "Botocore/1.29.27 Python/3.11.7 Linux/6.1 aws-cli/2.13"

ACCOUNT = "123456789012"  # tests/fuzz/api_request/fuzz.cc's model
REGION = "eu-west-3"


def resource_id(kind, name):
    h = 14695981039346656037
    for b in (kind + "/" + name).encode():
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def prefix():
    return "arn:aws:elasticloadbalancing:%s:%s:" % (REGION, ACCOUNT)


def lb_arn(name):
    return prefix() + "loadbalancer/app/%s/%s" % (name, resource_id("loadbalancer", name))


def tg_arn(name):
    return prefix() + "targetgroup/%s/%s" % (name, resource_id("targetgroup", name))


def listener_id(lb, port):
    return resource_id("listener", "%s:%d" % (lb, port))


def listener_arn(lb, port):
    return prefix() + "listener/app/%s/%s/%s" % (
        lb, resource_id("loadbalancer", lb), listener_id(lb, port))


def rule_arn(lb, port, priority):
    lid = listener_id(lb, port)
    rid = resource_id("listener-rule", "%s:%s" % (lid, priority))
    return prefix() + "listener-rule/app/%s/%s/%s/%s" % (
        lb, resource_id("loadbalancer", lb), lid, rid)


BLUE, GREEN = tg_arn("blue"), tg_arn("green")
WEB = lb_arn("web")
LISTENER = listener_arn("web", 8080)
RULE10, RULE20 = rule_arn("web", 8080, 10), rule_arn("web", 8080, 20)
DEFAULT_RULE = rule_arn("web", 8080, "default")

# (seed name, operation, parameters) for botocore's client.
CALLS = [
    ("describe-load-balancers", "describe_load_balancers", {}),
    ("describe-load-balancers-arn", "describe_load_balancers", {"LoadBalancerArns": [WEB]}),
    ("describe-load-balancers-names-page", "describe_load_balancers",
     {"Names": ["web"], "PageSize": 1}),
    ("describe-listeners", "describe_listeners", {"LoadBalancerArn": WEB}),
    ("describe-listeners-arns", "describe_listeners",
     {"ListenerArns": [LISTENER], "Marker": "0", "PageSize": 5}),
    ("describe-rules", "describe_rules", {"ListenerArn": LISTENER}),
    ("describe-rules-arns", "describe_rules", {"RuleArns": [RULE10, DEFAULT_RULE]}),
    ("describe-target-groups", "describe_target_groups", {}),
    ("describe-target-groups-names", "describe_target_groups", {"Names": ["blue", "green"]}),
    ("describe-target-groups-arns", "describe_target_groups",
     {"TargetGroupArns": [GREEN], "PageSize": 1, "Marker": "0"}),
    ("describe-target-groups-lb", "describe_target_groups", {"LoadBalancerArn": WEB}),
    ("describe-target-health", "describe_target_health", {"TargetGroupArn": BLUE}),
    ("describe-target-health-targets", "describe_target_health",
     {"TargetGroupArn": BLUE,
      "Targets": [{"Id": "127.0.0.2", "Port": 8002}, {"Id": "192.0.2.9"}]}),
    ("describe-account-limits", "describe_account_limits", {}),
    ("add-tags", "add_tags", {"ResourceArns": [WEB, BLUE, LISTENER, RULE10],
                              "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team"}]}),
    ("remove-tags", "remove_tags", {"ResourceArns": [BLUE], "TagKeys": ["env", "x"]}),
    ("describe-tags", "describe_tags", {"ResourceArns": [WEB, GREEN, DEFAULT_RULE]}),
    ("describe-lb-attributes", "describe_load_balancer_attributes", {"LoadBalancerArn": WEB}),
    ("modify-lb-attributes", "modify_load_balancer_attributes",
     {"LoadBalancerArn": WEB, "Attributes": [
         {"Key": "idle_timeout.timeout_seconds", "Value": "30"},
         {"Key": "access_logs.s3.prefix", "Value": "a\"b"},
         {"Key": "deletion_protection.enabled", "Value": "true"}]}),
    ("modify-tg-attributes", "modify_target_group_attributes",
     {"TargetGroupArn": BLUE, "Attributes": [
         {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
         {"Key": "stickiness.enabled", "Value": "true"}]}),
    ("create-load-balancer", "create_load_balancer",
     {"Name": "edge", "Type": "application", "Tags": [{"Key": "k", "Value": "v"}],
      "SubnetMappings": [{"SubnetId": "s", "PrivateIPv4Address": "127.0.0.5"}]}),
    ("create-listener", "create_listener",
     {"LoadBalancerArn": WEB, "Protocol": "HTTP", "Port": 9090,
      "DefaultActions": [{"Type": "fixed-response",
                          "FixedResponseConfig": {"StatusCode": "204"}}]}),
    ("delete-listener", "delete_listener", {"ListenerArn": LISTENER}),
    ("delete-load-balancer", "delete_load_balancer", {"LoadBalancerArn": WEB}),
    ("describe-ssl-policies", "describe_ssl_policies",
     {"Names": ["ELBSecurityPolicy-TLS13-1-2-2021-06"]}),
    ("register-targets", "register_targets",
     {"TargetGroupArn": BLUE,
      "Targets": [{"Id": "127.0.0.3", "Port": 8003}, {"Id": "::1", "Port": 8004},
                  {"Id": "127.0.0.1"}]}),
    ("deregister-targets", "deregister_targets",
     {"TargetGroupArn": BLUE, "Targets": [{"Id": "127.0.0.2", "Port": 8002}]}),
    ("create-target-group", "create_target_group",
     {"Name": "orange", "Protocol": "HTTP", "Port": 7001, "ProtocolVersion": "HTTP1",
      "TargetType": "ip", "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
      "HealthCheckPath": "/healthz", "HealthCheckEnabled": True,
      "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 5,
      "HealthyThresholdCount": 3, "UnhealthyThresholdCount": 2,
      "Matcher": {"HttpCode": "200-299"}}),
    ("create-target-group-existing", "create_target_group",
     {"Name": "blue", "Protocol": "HTTP", "Port": 8001, "HealthCheckPath": "/health"}),
    ("delete-target-group-in-use", "delete_target_group", {"TargetGroupArn": GREEN}),
    ("delete-target-group-gone", "delete_target_group", {"TargetGroupArn": tg_arn("gone")}),
    ("modify-target-group", "modify_target_group",
     {"TargetGroupArn": GREEN, "HealthCheckPath": "/ping", "HealthCheckIntervalSeconds": 30,
      "Matcher": {"HttpCode": "200,301"}, "HealthCheckEnabled": False}),
    ("modify-listener-weighted", "modify_listener",
     {"ListenerArn": LISTENER, "Port": 8081,
      "DefaultActions": [{"Type": "forward", "ForwardConfig": {
          "TargetGroups": [{"TargetGroupArn": BLUE, "Weight": 80},
                           {"TargetGroupArn": GREEN, "Weight": 20}],
          "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600}}}]}),
    ("modify-listener-redirect", "modify_listener",
     {"ListenerArn": LISTENER, "Protocol": "HTTP",
      "DefaultActions": [{"Type": "redirect", "Order": 1, "RedirectConfig": {
          "Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}",
          "Query": "#{query}", "StatusCode": "HTTP_301"}}]}),
    ("modify-listener-fixed", "modify_listener",
     {"ListenerArn": LISTENER,
      "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {
          "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no route & <none>"}}]}),
    ("create-rule", "create_rule",
     {"ListenerArn": LISTENER, "Priority": 5,
      "Conditions": [
          {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v2/*", "/v3/*"]}},
          {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}},
          {"Field": "http-header", "HttpHeaderConfig": {
              "HttpHeaderName": "X-Canary", "Values": ["on"]}},
          {"Field": "query-string", "QueryStringConfig": {
              "Values": [{"Key": "version", "Value": "2"}, {"Value": "beta"}]}},
          {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8", "2001:db8::/32"]}},
          {"Field": "http-request-method",
           "HttpRequestMethodConfig": {"Values": ["GET", "HEAD"]}}],
      "Actions": [{"Type": "forward", "TargetGroupArn": GREEN}]}),
    ("create-rule-weighted", "create_rule",
     {"ListenerArn": LISTENER, "Priority": 30,
      "Conditions": [{"Field": "path-pattern", "Values": ["/legacy/*"]}],
      "Actions": [{"Type": "forward", "ForwardConfig": {
          "TargetGroups": [{"TargetGroupArn": BLUE, "Weight": 1},
                           {"TargetGroupArn": GREEN, "Weight": 3}]}}]}),
    ("create-rule-priority-in-use", "create_rule",
     {"ListenerArn": LISTENER, "Priority": 10,
      "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x"]}}],
      "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]}),
    ("modify-rule", "modify_rule",
     {"RuleArn": RULE10,
      "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/v1/*"]}}],
      "Actions": [{"Type": "forward", "TargetGroupArn": BLUE}]}),
    ("modify-rule-default", "modify_rule",
     {"RuleArn": DEFAULT_RULE,
      "Actions": [{"Type": "forward", "TargetGroupArn": GREEN}]}),
    ("delete-rule", "delete_rule", {"RuleArn": RULE20}),
    ("delete-rule-default", "delete_rule", {"RuleArn": DEFAULT_RULE}),
    ("set-rule-priorities", "set_rule_priorities",
     {"RulePriorities": [{"RuleArn": RULE10, "Priority": 20},
                         {"RuleArn": RULE20, "Priority": 10}]}),
    ("set-rule-priorities-clash", "set_rule_priorities",
     {"RulePriorities": [{"RuleArn": RULE10, "Priority": 20}]}),
]

# Forms botocore would not send (botocore's own checks refuse them), for the Query decoder and
# the operations' validation.
RAW_FORMS = [
    ("raw-transforms",
     "Action=CreateRule&Version=2015-12-01&ListenerArn=" + LISTENER + "&Priority=7"
     "&Conditions.member.1.Field=path-pattern"
     "&Conditions.member.1.PathPatternConfig.Values.member.1=%2Fold%2F%2A"
     "&Actions.member.1.Type=forward&Actions.member.1.TargetGroupArn=" + BLUE +
     "&Transforms.member.1.Type=url-rewrite"
     "&Transforms.member.1.UrlRewriteConfig.Rewrites.member.1.Regex=%5E%2Fold%2F%28.%2A%29%24"
     "&Transforms.member.1.UrlRewriteConfig.Rewrites.member.1.Replace=%2Fnew%2F%241"
     "&Transforms.member.2.Type=host-header-rewrite"
     "&Transforms.member.2.HostHeaderRewriteConfig.Rewrites.member.1.Regex=.%2A"
     "&Transforms.member.2.HostHeaderRewriteConfig.Rewrites.member.1.Replace=new.example.com"),
    ("raw-modify-rule-reset", "Action=ModifyRule&Version=2015-12-01&RuleArn=" + RULE10 +
     "&ResetTransforms=true&Actions="),
    ("raw-empty-list", "Action=DescribeTargetGroups&Version=2015-12-01&Names=&PageSize=400"),
    ("raw-escapes", "Action=Describe%54argetGroups&Version=2015-12-01&Names.member.1=a+b%2Bc"
     "&Names.member.2=%C3%A9t%C3%A9&Names.member.10=x&Names.member.01=y"),
    ("raw-repeated", "Action=DescribeLoadBalancers&Action=DescribeTargetGroups"
     "&Version=2012-06-01&Version=2015-12-01&&novalue&flag="),
    ("raw-unknown-action", "Action=CreateLoadBalancer&Version=2015-12-01&Name=new"),
    ("raw-no-version", "Action=DescribeLoadBalancers"),
    ("raw-bad-escape", "Action=DescribeLoadBalancers&Version=2015-12-01&Marker=%G1"),
    ("raw-bad-integers", "Action=DescribeRules&Version=2015-12-01&ListenerArn=" + LISTENER +
     "&PageSize=0&Marker=-1"),
    ("raw-secret-parameters", "Action=DescribeTargetGroups&Version=2015-12-01"
     "&ClientSecret=hunter2&X-Amz-Security-Token=abc&Password=p&SessionToken=t"),
    # Bytes that are not UTF-8 reach error messages (the U+FFFD fix in src/api/xml.cc).
    ("raw-control-characters", "Action=DescribeLoadBalancers&Version=2015-12-01"
     "&Names.member.1=%00%01%0D%0A%1B%5B31m%3C%2Fx%3E%26%22%27%7F%FF%FE"),
    ("raw-struct-members", "Action=ModifyTargetGroup&Version=2015-12-01&TargetGroupArn=" + BLUE +
     "&Matcher.HttpCode=200&Matcher.GrpcCode=12&Matcher=&HealthCheckEnabled=maybe"),
    # A name sorting between "Conditions" and "Conditions." (the HasAny fix in src/api/query.cc).
    ("raw-has-any", "Action=ModifyRule&Version=2015-12-01&RuleArn=" + DEFAULT_RULE +
     "&Conditions-x=1&Conditions.member.1.Field=path-pattern"),
]

# Policies for api_policy.
POLICIES = {
    "single-statement-object": {"Statement": {
        "Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}},
    "register-one-group": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow",
         "Action": ["elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets"],
         "Resource": BLUE},
        {"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}]},
    "source-ip": {"Version": "2012-10-17", "Statement": [
        {"Sid": "FromOffice", "Effect": "Allow", "Action": "elasticloadbalancing:*",
         "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}},
        {"Sid": "NotFromElsewhere", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "10.0.0.0/8"]}}}]},
    "expires": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:CurrentTime": "2026-06-30T23:59:59Z"},
                       "DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01"}}}]},
    "epoch": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*",
         "Condition": {"NumericLessThan": {"aws:EpochTime": 1800000000},
                       "DateLessThanEquals": {"aws:EpochTime": "1790000000"}}}]},
    "resource-tag": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*",
         "Resource": "arn:aws:elasticloadbalancing:*:123456789012:targetgroup/*",
         "Condition": {"StringLike": {"aws:ResourceTag/team": ["pay*", "ops-?"]},
                       "StringEquals": {"elasticloadbalancing:ResourceTag/env": "prod"}}}]},
    "not-action": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow",
         "NotAction": ["elasticloadbalancing:Delete*", "elasticloadbalancing:Create*"],
         "Resource": "*"}]},
    "not-resource": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*",
         "NotResource": ["arn:aws:elasticloadbalancing:*:*:loadbalancer/app/prod-*",
                         "arn:aws:elasticloadbalancing:*:*:listener/app/prod-*"]}]},
    "deny-wins": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "elasticloadbalancing:Modify*",
         "Resource": "arn:aws:elasticloadbalancing:eu-west-3:123456789012:listener/*"}]},
    "if-exists-null": {"Version": "2008-10-17", "Id": "tags", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*",
         "Condition": {"StringEqualsIfExists": {"aws:ResourceTag/env": "dev"},
                       "Null": {"aws:ResourceTag/locked": "true"}}}]},
    "string-families": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*",
         "Condition": {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/Stage": ["PROD", "prod"]},
                       "StringNotLike": {"aws:ResourceTag/owner": "*-bot"},
                       "Bool": {"aws:SecureTransport": "true"},
                       "NumericGreaterThanEquals": {"aws:ResourceTag/cost": ["1e3", "-2.5"]}}}]},
    "ipv6-if-exists": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "elasticloadbalancing:*", "Resource": "*",
         "Condition": {"IpAddressIfExists": {"aws:SourceIp": ["::1", "2001:db8::/32"]}}}]},
    "wildcards": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["elasticloadbalancing:*Target*", "elasticloadbalancing:?et*"],
         "Resource": ["arn:aws:elasticloadbalancing:eu-west-3:123456789012:*/blue/*",
                      "arn:aws:elasticloadbalancing:*:*:listener-rule/app/web/*/*/*"]},
        {"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*",
         "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2025-12-31T23:59:59.5+02:00"}}}]},
    "many-conditions": {"Version": "2012-10-17", "Statement": [
        {"Sid": "A1", "Effect": "Allow", "Action": "elasticloadbalancing:RegisterTargets",
         "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": ["prod", "staging"],
                                        "aws:ResourceTag/team": "payments"},
                       "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                       "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                       "NumericNotEquals": {"aws:EpochTime": 0}}},
        {"Sid": "A2", "Effect": "Deny", "NotAction": "elasticloadbalancing:Describe*",
         "NotResource": BLUE,
         "Condition": {"DateEquals": {"aws:CurrentTime": "1970-01-01T00:00:00Z"}}}]},
}

# Documents the parser must refuse (each for a different reason).
BAD_POLICIES = {
    "bad-principal": '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*",'
                     '"Resource":"*"}]}',
    "bad-duplicate-key": '{"Statement":[{"Effect":"Allow","Effect":"Deny","Action":"*",'
                         '"Resource":"*"}]}',
    "bad-for-any-value": '{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
                         '"Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}}]}',
    "bad-date": '{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
                '"Condition":{"DateLessThan":{"aws:CurrentTime":"2026-02-30"}}}]}',
}


def write(target, name, data):
    d = os.path.join(HERE, target, "corpus")
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


class Caught(Exception):
    pass


def capture_calls():
    """Each CALLS entry as botocore sends it: (name, method, path, query, headers, body)."""
    session = botocore.session.get_session()
    client = session.create_client(
        "elbv2", region_name="us-east-1", endpoint_url="http://" + ENDPOINT_HOST,
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    caught = []

    def before_send(request, **kwargs):
        caught.append(request)
        raise Caught()

    client.meta.events.register("before-send", before_send)
    out = []
    for name, op, params in CALLS:
        try:
            getattr(client, op)(**params)
        except Caught:
            pass
        r = caught.pop()
        body = r.body if isinstance(r.body, bytes) else (r.body or "").encode()
        headers = []
        if not any(k.lower() == "host" for k in r.headers.keys()):
            headers.append(("Host", ENDPOINT_HOST))  # added by the HTTP library when sent
        for k, v in r.headers.items():
            v = v.decode() if isinstance(v, bytes) else str(v)
            if k.lower() == "user-agent":
                v = USER_AGENT
            if k.lower() == "amz-sdk-invocation-id":
                v = "00000000-0000-4000-8000-%012d" % len(out)
            headers.append((k, v))
        out.append((name, r.method, "/", "", headers, body))
    return out


def presigned(name, query):
    """A GET with `query`, presigned by botocore (header form needs no Authorization)."""
    request = botocore.awsrequest.AWSRequest(
        method="GET", url="http://%s/?%s" % (ENDPOINT_HOST, query), headers={})
    creds = botocore.credentials.Credentials(KEY_ID, SECRET)
    botocore.auth.SigV4QueryAuth(creds, "elasticloadbalancing", "us-east-1", expires=900) \
        .add_auth(request)
    prepared = request.prepare()
    path, _, q = prepared.url.split(ENDPOINT_HOST, 1)[1].partition("?")
    return (name, "GET", path, q, [("Host", ENDPOINT_HOST)], b"")


def http_request(method, target, headers, body):
    head = "%s %s HTTP/1.1\r\n" % (method, target)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + body


def sigv4_framing(method, path, query, headers, body):
    lines = [method, path, query] + ["%s: %s" % (k, v) for k, v in headers]
    return ("\n".join(lines) + "\n\n").encode() + body


def freeze_signing_time():
    """Makes botocore sign at SIGNING_TIME (older botocore: datetime.datetime.utcnow() in
    botocore.auth; newer: botocore.auth.get_current_datetime())."""

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return SIGNING_TIME

    botocore.auth.datetime = types.SimpleNamespace(datetime=Fixed)
    botocore.auth.get_current_datetime = lambda: SIGNING_TIME
    # With awscrt installed botocore signs with the CRT signer and its own clock: use the
    # Python one.
    botocore.auth.AUTH_TYPE_MAPS["v4"] = botocore.auth.SigV4Auth


def main():
    freeze_signing_time()
    for target in ("api_query", "api_request", "api_sigv4", "api_policy"):
        for old in glob.glob(os.path.join(HERE, target, "corpus", "seed-*")):
            os.remove(old)

    calls = capture_calls()
    for name, method, path, query, headers, body in calls:
        write("api_query", name, body)
        write("api_request", name, http_request(method, path, headers, body))
        write("api_sigv4", name, sigv4_framing(method, path, query, headers, body))

    for name, form in RAW_FORMS:
        write("api_query", name, form)
        write("api_request", name, http_request("POST", "/", [
            ("Host", ENDPOINT_HOST),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Content-Length", str(len(form.encode())))], form.encode()))

    # GET forms: the query string is the form; a POST with both (the body wins).
    gets = [
        ("get-describe-target-groups", "Action=DescribeTargetGroups&Version=2015-12-01"),
        ("get-describe-rules", "Action=DescribeRules&Version=2015-12-01&ListenerArn=" +
         LISTENER.replace(":", "%3A").replace("/", "%2F")),
        ("get-describe-target-health", "Action=DescribeTargetHealth&Version=2015-12-01"
         "&TargetGroupArn=" + BLUE + "&Targets.member.1.Id=127.0.0.1&Targets.member.1.Port=8001"),
    ]
    for name, query in gets:
        write("api_query", name, query)
        write("api_request", name, http_request("GET", "/?" + query, [
            ("Host", ENDPOINT_HOST), ("User-Agent", USER_AGENT)], b""))
    form = b"Action=DescribeTargetGroups"
    write("api_request", "post-query-and-body", http_request(
        "POST", "/?Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=1",
        [("Host", ENDPOINT_HOST), ("Content-Length", str(len(form)))], form))
    write("api_request", "chunked", http_request(
        "POST", "/", [("Host", ENDPOINT_HOST), ("Transfer-Encoding", "chunked")],
        b"1c\r\nAction=DescribeLoadBalancers\r\n0\r\n\r\n"))
    write("api_request", "put", http_request("PUT", "/", [("Host", ENDPOINT_HOST),
                                                          ("Content-Length", "0")], b""))
    write("api_request", "not-http", b"GET / HTTP/1.1\r\nHost\r\n\r\n")

    # SigV4: header-signed calls (above) and presigned GETs.
    for name, query in gets[:2]:
        write("api_sigv4", "presigned-" + name[4:], sigv4_framing(*presigned(name, query)[1:]))
    write("api_sigv4", "unsigned", sigv4_framing("POST", "/", "", [
        ("Host", ENDPOINT_HOST)], b"Action=DescribeLoadBalancers&Version=2015-12-01"))

    # The built-in policies exactly as Policy::AdminJson() and ReadOnlyJson() spell them.
    write("api_policy", "builtin-admin",
          '{"Version":"2012-10-17","Statement":[{"Sid":"SluiceAdmin","Effect":"Allow",'
          '"Action":"elasticloadbalancing:*","Resource":"*"}]}')
    write("api_policy", "builtin-read-only",
          '{"Version":"2012-10-17","Statement":[{"Sid":"SluiceReadOnly","Effect":"Allow",'
          '"Action":"elasticloadbalancing:Describe*","Resource":"*"}]}')
    for name, doc in POLICIES.items():
        write("api_policy", name, json.dumps(doc, indent=2 if len(name) % 2 else None))
    for name, text in BAD_POLICIES.items():
        write("api_policy", name, text)


if __name__ == "__main__":
    main()
