// Drives Sluice's elbv2 API with the unchanged AWS SDK for JavaScript v3: the classic set-up of
// a blue/green cut-over, entirely through the SDK's commands, waiters and paginator.
//
// Environment:
//   SLUICE_API_ENDPOINT    the API's URL, e.g. http://127.0.0.1:9443
//   AWS_ACCESS_KEY_ID      a key made by `sluice api-keys create` (policy admin)
//   AWS_SECRET_ACCESS_KEY  its secret
//   AWS_REGION             e.g. us-east-1
//   SLUICE_TARGET_PORTS    two ports on 127.0.0.1, comma separated: the first is registered in
//                          group sdk-one, the second in sdk-two
//   SLUICE_LB_NAME         the load balancer to work on (default: it)
//
// Steps: find the load balancer and its listener (whose default action forwards to the "old"
// group), create sdk-one twice (same ARN: idempotent) and sdk-two, register a target in each,
// add a path rule (/sdk/*) forwarding to sdk-one, switch the listener's default action to a
// weighted forward over both new groups, check the rule order, wait for both targets in
// service, walk DescribeTargetGroups one group per page with the paginator, check an error's
// shape (LoadBalancerNotFound), and retire the old group's targets (DeregisterTargets + the TargetDeregistered waiter).
// The old group needs a short deregistration delay (its targets drain for that long).
//
// Prints one JSON line of results on success; on any failure prints "FAIL: <step>: <why>" to
// stderr and exits 1. Uses only node:assert (no test framework).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";

import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  LoadBalancerNotFoundException,
  ModifyListenerCommand,
  RegisterTargetsCommand,
  paginateDescribeTargetGroups,
  waitUntilTargetDeregistered,
  waitUntilTargetInService,
} from "@aws-sdk/client-elastic-load-balancing-v2";

const HOST = "127.0.0.1";
const RULE_PATH = "/sdk/*";
const RULE_PRIORITY = 10;
const WEIGHTS = [50, 50];
// minDelay 1 / maxWaitTime 60 as asked; maxDelay 2 keeps the poll close to the health checks
// (interval 5 s) instead of backing off to the SDK's default 120 s.
const WAITER = { minDelay: 1, maxDelay: 2, maxWaitTime: 60 };

let step = "start";
let lastRaw = null; // the last raw HTTP answer, printed when a step fails
const calls = {}; // answers received, by command

// Keeps a copy of each raw answer (status, headers, XML) before the SDK parses it, so that a
// failure can show exactly what Sluice sent. SLUICE_SDK_TRACE=1 prints every one to stderr.
function captureRawResponses(client) {
  client.middlewareStack.add((next, context) => async (args) => {
    const result = await next(args);
    const res = result.response;
    const chunks = [];
    for await (const c of res.body) chunks.push(Buffer.from(c));
    const body = Buffer.concat(chunks);
    res.body = Readable.from([body]);
    calls[context.commandName] = (calls[context.commandName] ?? 0) + 1;
    lastRaw = { operation: context.commandName, status: res.statusCode, headers: res.headers,
                body: body.toString("utf8") };
    if (process.env.SLUICE_SDK_TRACE === "1") {
      process.stderr.write(`${JSON.stringify(lastRaw)}\n`);
    }
    return result;
  }, { step: "deserialize", priority: "low", name: "sluiceCaptureRawResponse" });
}

function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") throw new Error(`environment variable ${name} is not set`);
  return v;
}

function sdkVersion() {
  const url = new URL("./node_modules/@aws-sdk/client-elastic-load-balancing-v2/package.json",
                      import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")).version;
}

async function main() {
  const endpoint = env("SLUICE_API_ENDPOINT");
  const region = env("AWS_REGION");
  const lbName = env("SLUICE_LB_NAME", "it");
  const ports = env("SLUICE_TARGET_PORTS").split(",").map((p) => Number.parseInt(p, 10));
  assert.equal(ports.length, 2, "SLUICE_TARGET_PORTS must name two ports");
  assert.ok(ports.every((p) => p > 0 && p < 65536), `bad SLUICE_TARGET_PORTS ${ports}`);

  const client = new ElasticLoadBalancingV2Client({
    endpoint,
    region,
    credentials: {
      accessKeyId: env("AWS_ACCESS_KEY_ID"),
      secretAccessKey: env("AWS_SECRET_ACCESS_KEY"),
    },
    maxAttempts: 1, // an answer Sluice gets wrong must fail here, not be retried away
  });
  captureRawResponses(client);
  const out = { sdkVersion: sdkVersion() };

  step = "DescribeLoadBalancers";
  const lbs = (await client.send(new DescribeLoadBalancersCommand({}))).LoadBalancers;
  const lb = lbs.find((l) => l.LoadBalancerName === lbName);
  assert.ok(lb, `no load balancer named ${lbName} in ${JSON.stringify(lbs)}`);
  assert.equal(lb.Type, "application");
  assert.equal(lb.State?.Code, "active");
  assert.match(lb.LoadBalancerArn,
               /^arn:aws:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer\/app\//);
  const byName = await client.send(new DescribeLoadBalancersCommand({ Names: [lbName] }));
  assert.deepEqual(byName.LoadBalancers.map((l) => l.LoadBalancerArn), [lb.LoadBalancerArn]);
  out.loadBalancerArn = lb.LoadBalancerArn;

  step = "DescribeListeners";
  const listeners = (await client.send(
    new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).Listeners;
  assert.equal(listeners.length, 1, `expected one listener: ${JSON.stringify(listeners)}`);
  const listener = listeners[0];
  assert.equal(listener.Protocol, "HTTP");
  assert.equal(typeof listener.Port, "number");
  assert.equal(listener.LoadBalancerArn, lb.LoadBalancerArn);
  const oldArn = listener.DefaultActions?.[0]?.TargetGroupArn;
  assert.ok(oldArn, `listener's default action forwards to no group: ${JSON.stringify(listener)}`);
  out.listenerArn = listener.ListenerArn;
  out.listenerPort = listener.Port;

  step = "DescribeTargetHealth (old group)";
  const oldTargets = (await client.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: oldArn }))).TargetHealthDescriptions
    .map((d) => d.Target);
  assert.ok(oldTargets.length > 0, "the old group has no targets to retire");

  step = "CreateTargetGroup";
  const groupInput = (name, port) => ({
    Name: name, Protocol: "HTTP", Port: port, TargetType: "ip", VpcId: "vpc-sluice",
    HealthCheckEnabled: true, HealthCheckPath: "/health", HealthCheckIntervalSeconds: 5,
    HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2,
    Matcher: { HttpCode: "200" },
  });
  const one = (await client.send(
    new CreateTargetGroupCommand(groupInput("sdk-one", ports[0])))).TargetGroups[0];
  const again = (await client.send(
    new CreateTargetGroupCommand(groupInput("sdk-one", ports[0])))).TargetGroups[0];
  assert.equal(again.TargetGroupArn, one.TargetGroupArn, "CreateTargetGroup is not idempotent");
  const two = (await client.send(
    new CreateTargetGroupCommand(groupInput("sdk-two", ports[1])))).TargetGroups[0];
  assert.notEqual(two.TargetGroupArn, one.TargetGroupArn);
  for (const [g, name, port] of [[one, "sdk-one", ports[0]], [two, "sdk-two", ports[1]]]) {
    assert.equal(g.TargetGroupName, name);
    assert.equal(g.Port, port);
    assert.equal(g.Protocol, "HTTP");
    assert.equal(g.HealthCheckEnabled, true);
    assert.equal(g.HealthCheckIntervalSeconds, 5);
    assert.equal(g.HealthyThresholdCount, 2);
    assert.equal(g.Matcher?.HttpCode, "200");
    assert.match(g.TargetGroupArn,
                 new RegExp(`^arn:aws:elasticloadbalancing:.*:targetgroup/${name}/[0-9a-f]{16}$`));
  }
  out.targetGroupArns = { "sdk-one": one.TargetGroupArn, "sdk-two": two.TargetGroupArn };
  out.idempotentCreate = true;

  step = "RegisterTargets";
  const tOne = [{ Id: HOST, Port: ports[0] }];
  const tTwo = [{ Id: HOST, Port: ports[1] }];
  await client.send(new RegisterTargetsCommand({ TargetGroupArn: one.TargetGroupArn, Targets: tOne }));
  await client.send(new RegisterTargetsCommand({ TargetGroupArn: two.TargetGroupArn, Targets: tTwo }));

  step = "DescribeTargetHealth (before any listener uses the groups)";
  const unused = (await client.send(new DescribeTargetHealthCommand(
    { TargetGroupArn: one.TargetGroupArn }))).TargetHealthDescriptions;
  assert.deepEqual(unused.map((d) => [d.Target.Id, d.Target.Port, d.TargetHealth.State,
                                      d.TargetHealth.Reason]),
                   [[HOST, ports[0], "unused", "Target.NotInUse"]]);

  step = "CreateRule";
  const rule = (await client.send(new CreateRuleCommand({
    ListenerArn: listener.ListenerArn,
    Priority: RULE_PRIORITY,
    Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: [RULE_PATH] } }],
    Actions: [{ Type: "forward", TargetGroupArn: one.TargetGroupArn }],
  }))).Rules[0];
  assert.equal(rule.Priority, String(RULE_PRIORITY));
  assert.equal(rule.IsDefault, false);
  assert.deepEqual(rule.Conditions[0].PathPatternConfig?.Values, [RULE_PATH]);
  assert.equal(rule.Actions[0].TargetGroupArn, one.TargetGroupArn);
  out.ruleArn = rule.RuleArn;

  step = "ModifyListener (weighted forward)";
  const modified = (await client.send(new ModifyListenerCommand({
    ListenerArn: listener.ListenerArn,
    DefaultActions: [{
      Type: "forward",
      ForwardConfig: {
        TargetGroups: [{ TargetGroupArn: one.TargetGroupArn, Weight: WEIGHTS[0] },
                       { TargetGroupArn: two.TargetGroupArn, Weight: WEIGHTS[1] }],
      },
    }],
  }))).Listeners[0];
  const weightsOf = (l) => (l.DefaultActions[0].ForwardConfig?.TargetGroups ?? [])
    .map((t) => [t.TargetGroupArn, t.Weight]);
  const wanted = [[one.TargetGroupArn, WEIGHTS[0]], [two.TargetGroupArn, WEIGHTS[1]]];
  assert.deepEqual(weightsOf(modified), wanted);
  const described = (await client.send(
    new DescribeListenersCommand({ ListenerArns: [listener.ListenerArn] }))).Listeners[0];
  assert.deepEqual(weightsOf(described), wanted);
  out.weights = Object.fromEntries(wanted.map(([arn, w]) => [arn.split("/")[1], w]));

  step = "DescribeRules";
  const rules = (await client.send(
    new DescribeRulesCommand({ ListenerArn: listener.ListenerArn }))).Rules;
  assert.deepEqual(rules.map((r) => [r.Priority, r.IsDefault]),
                   [[String(RULE_PRIORITY), false], ["default", true]]);
  assert.equal(rules[0].RuleArn, rule.RuleArn);
  assert.deepEqual(weightsOf({ DefaultActions: rules[1].Actions }), wanted);
  out.rules = rules.map((r) => r.Priority);

  step = "DescribeTargetHealth (groups now used)";
  const fresh = (await client.send(new DescribeTargetHealthCommand(
    { TargetGroupArn: two.TargetGroupArn }))).TargetHealthDescriptions;
  assert.equal(fresh.length, 1);
  assert.ok(["initial", "healthy"].includes(fresh[0].TargetHealth.State),
            `sdk-two's target: ${JSON.stringify(fresh[0].TargetHealth)}`);
  out.healthAfterRule = fresh[0].TargetHealth.State;

  step = "waitUntilTargetInService";
  const started = Date.now();
  const pollsBefore = calls.DescribeTargetHealthCommand;
  for (const [g, targets] of [[one, tOne], [two, tTwo]]) {
    const r = await waitUntilTargetInService({ client, ...WAITER },
                                             { TargetGroupArn: g.TargetGroupArn, Targets: targets });
    assert.equal(r.state, "SUCCESS");
  }
  out.inServiceAfterSeconds = Math.round((Date.now() - started) / 100) / 10;
  out.inServicePolls = calls.DescribeTargetHealthCommand - pollsBefore;

  step = "paginateDescribeTargetGroups (PageSize 1)";
  const pages = [];
  let guard = 0;
  for await (const page of paginateDescribeTargetGroups(
    { client, stopOnSameToken: true }, { PageSize: 1 })) {
    assert.ok(++guard <= 50, "the paginator does not stop");
    assert.ok(page.TargetGroups.length <= 1, `a page of ${page.TargetGroups.length} groups`);
    pages.push({ names: page.TargetGroups.map((g) => g.TargetGroupName),
                 next: page.NextMarker ?? null });
  }
  const walked = pages.flatMap((p) => p.names);
  const all = (await client.send(new DescribeTargetGroupsCommand({}))).TargetGroups
    .map((g) => g.TargetGroupName);
  assert.deepEqual(walked, all, "the paginator did not walk every group once, in order");
  assert.ok(all.length >= 3 && all.includes("sdk-one") && all.includes("sdk-two"),
            `groups: ${all}`);
  assert.equal(pages.length, all.length);
  assert.equal(pages.at(-1).next, null, "the last page has a NextMarker");
  assert.ok(pages.slice(0, -1).every((p) => p.next), "a page before the last has no NextMarker");
  out.pages = pages.length;
  out.pagedGroups = walked;

  step = "error: DescribeLoadBalancers Names=[nope]";
  let caught;
  try {
    await client.send(new DescribeLoadBalancersCommand({ Names: ["nope"] }));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, "DescribeLoadBalancers for a missing name did not throw");
  // The SDK names a modelled error by its shape (LoadBalancerNotFoundException, as against
  // AWS itself); the AWS Query error code from the XML (<Code>) is on .Code and .Error.Code.
  assert.ok(caught instanceof LoadBalancerNotFoundException,
            `not a LoadBalancerNotFoundException: ${caught.name}: ${caught}`);
  assert.equal(caught.name, "LoadBalancerNotFoundException");
  assert.equal(caught.Code, "LoadBalancerNotFound");
  assert.equal(caught.Error?.Code, "LoadBalancerNotFound");
  assert.equal(caught.Type, "Sender");
  assert.equal(caught.$metadata?.httpStatusCode, 400);
  assert.equal(caught.$fault, "client");
  assert.ok(caught.$metadata?.requestId, "the error has no request id");
  assert.ok(caught.message && caught.message !== "Unknown", `error message: ${caught.message}`);
  out.error = { name: caught.name, code: caught.Code, type: caught.Type,
                httpStatusCode: caught.$metadata.httpStatusCode, message: caught.message };

  step = "DeregisterTargets (old group)";
  const oldKeys = oldTargets.map((t) => ({ Id: t.Id, Port: t.Port }));
  await client.send(new DeregisterTargetsCommand({ TargetGroupArn: oldArn, Targets: oldKeys }));

  step = "waitUntilTargetDeregistered";
  const deregPollsBefore = calls.DescribeTargetHealthCommand;
  const r = await waitUntilTargetDeregistered({ client, ...WAITER },
                                              { TargetGroupArn: oldArn, Targets: oldKeys });
  assert.equal(r.state, "SUCCESS");
  out.deregisteredPolls = calls.DescribeTargetHealthCommand - deregPollsBefore;
  const left = (await client.send(new DescribeTargetHealthCommand(
    { TargetGroupArn: oldArn }))).TargetHealthDescriptions;
  assert.deepEqual(left, [], `the old group still lists ${JSON.stringify(left)}`);
  out.deregistered = oldKeys.map((t) => `${t.Id}:${t.Port}`);

  step = "done";
  out.calls = calls;
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  const detail = e?.$metadata?.httpStatusCode
    ? ` [${e.name}, HTTP ${e.$metadata.httpStatusCode}, request ${e.$metadata.requestId}]`
    : "";
  process.stderr.write(`FAIL: ${step}: ${e?.stack ?? e}${detail}\n`);
  if (lastRaw) process.stderr.write(`last raw answer: ${JSON.stringify(lastRaw)}\n`);
  process.exit(1);
});
