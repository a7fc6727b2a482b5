"""The elbv2 API driven by the unchanged AWS SDK for JavaScript v3
(@aws-sdk/client-elastic-load-balancing-v2, pinned in tests/js/package.json and its lock file):
tests/js/elbv2_sdk.mjs runs the classic set-up through the SDK's commands, waiters and
paginator against a Sluice serving a state store, and this test checks its results and then
the traffic. The SDK is installed by `npm ci --prefix tests/js` (scripts/setup.sh runs it); a
missing install fails the test rather than skipping it."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import (LOCAL, REPO, SLUICE_BIN, Proc, dump_config, free_port, lb_config,
                      port_accepts, target_group, wait_until)

JS_DIR = REPO / "tests" / "js"
SCRIPT = JS_DIR / "elbv2_sdk.mjs"
SDK_PACKAGE = "@aws-sdk/client-elastic-load-balancing-v2"
INSTALL_HINT = "run `npm ci --prefix tests/js` (scripts/setup.sh does)"
# What the script calls; each must reach Sluice from the JS SDK (seen in the audit log).
SDK_OPERATIONS = {"DescribeLoadBalancers", "DescribeListeners", "CreateTargetGroup",
                  "RegisterTargets", "CreateRule", "ModifyListener", "DescribeRules",
                  "DescribeTargetHealth", "DescribeTargetGroups", "DeregisterTargets"}


def sdk_ready() -> tuple[str, str]:
    """Returns (node, pinned SDK version), or fails the test saying how to install."""
    node = shutil.which("node") or "/usr/bin/node"
    if not os.access(node, os.X_OK):
        pytest.fail("node is not installed (scripts/setup.sh installs nodejs and npm)")
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True,
                                  timeout=30).stdout.strip()
    major = re.match(r"v(\d+)\.", node_version)
    if not major or int(major.group(1)) < 20:
        pytest.fail(f"node {node_version} is too old: the SDK needs node >= 20")
    pinned = json.loads((JS_DIR / "package.json").read_text())["dependencies"][SDK_PACKAGE]
    installed = JS_DIR / "node_modules" / SDK_PACKAGE / "package.json"
    if not installed.exists():
        pytest.fail(f"tests/js/node_modules is missing {SDK_PACKAGE}: {INSTALL_HINT}")
    version = json.loads(installed.read_text())["version"]
    if version != pinned:
        pytest.fail(f"tests/js/node_modules has {SDK_PACKAGE} {version}, package.json pins "
                    f"{pinned}: {INSTALL_HINT}")
    return node, pinned


class StoreSluice:
    """`sluice import` of a config into a state store, an admin key, `sluice run --state`."""

    def __init__(self, tmp: pathlib.Path, config: dict):
        self.tmp = tmp
        self.db = tmp / "state.db"
        self.audit = tmp / "audit.jsonl"
        self.api_port = free_port()
        self.port = config["LoadBalancers"][0]["Listeners"][0]["Port"]
        cfg = tmp / "initial.yaml"
        cfg.write_text(dump_config(config))
        assert "generation 1" in self.cli("import", cfg, "--state", self.db)
        out = self.cli("api-keys", "create", "--user", "js-sdk", "--policy", "admin",
                       "--state", self.db)
        self.key_id = re.search(r"AccessKeyId:\s+(\S+)", out).group(1)
        self.secret = re.search(r"SecretAccessKey:\s+(\S+)", out).group(1)
        self.proc = Proc([SLUICE_BIN, "run", "--state", self.db, "--workers", "2", "--api",
                          f"{LOCAL}:{self.api_port}", "--api-audit-log", self.audit],
                         tmp, "sluice-js")

        def ready():
            if not self.proc.alive():
                raise AssertionError(f"sluice exited: {self.proc.stderr()}")
            return "elbv2 API on" in self.proc.stderr()

        wait_until(ready, 15, what="API ready")
        wait_until(lambda: port_accepts(self.port), 10, what="listener")

    def cli(self, *args) -> str:
        r = subprocess.run([SLUICE_BIN, *[str(a) for a in args]], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout + r.stderr

    def target_of(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{LOCAL}:{self.port}{path}", timeout=5) as r:
            assert r.status == 200
            return re.search(r"^target: (\S+)$", r.read().decode(), re.M).group(1)


@pytest.fixture
def store_sluice(tmp_path, demo_targets):
    old, one, two = demo_targets("old"), demo_targets("one"), demo_targets("two")
    base = target_group("base", [old.port], health=True)
    base.update(HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                HealthyThresholdCount=2)
    # The script retires base's target at the end: it drains for this long (default 300 s).
    base["Attributes"] = {"deregistration_delay.timeout_seconds": 1}
    cfg = lb_config(free_port(), {"Type": "forward", "TargetGroupName": "base"},
                    target_groups=[base])
    s = StoreSluice(tmp_path, cfg)
    s.old, s.one, s.two = old, one, two
    yield s
    s.proc.stop(timeout=10)


def test_js_sdk_drives_the_api_unchanged(store_sluice, tmp_path):
    node, version = sdk_ready()
    s = store_sluice
    assert s.target_of("/") == "old"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),  # no ~/.aws of the machine's
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "SLUICE_API_ENDPOINT": f"http://{LOCAL}:{s.api_port}",
        "AWS_ACCESS_KEY_ID": s.key_id,
        "AWS_SECRET_ACCESS_KEY": s.secret,
        "AWS_REGION": "us-east-1",
        "SLUICE_TARGET_PORTS": f"{s.one.port},{s.two.port}",
        "SLUICE_LB_NAME": "it",
        # The pinned SDK supports node 20 but warns that releases after January 2027 need 22.
        "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
    }
    started = time.monotonic()
    r = subprocess.run([node, str(SCRIPT)], capture_output=True, text=True, env=env,
                       cwd=str(JS_DIR), timeout=180)
    took = time.monotonic() - started
    assert r.returncode == 0, (f"elbv2_sdk.mjs failed after {took:.1f}s:\n{r.stderr}\n"
                               f"sluice log:\n{s.proc.stderr()[-3000:]}")
    lines = r.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{r.stderr}"
    out = json.loads(lines[-1])

    assert out["sdkVersion"] == version
    groups = out["targetGroupArns"]
    assert set(groups) == {"sdk-one", "sdk-two"} and out["idempotentCreate"] is True
    assert out["rules"] == ["10", "default"]
    assert out["weights"] == {"sdk-one": 50, "sdk-two": 50}
    assert out["healthAfterRule"] in ("initial", "healthy")
    assert out["pagedGroups"] == ["base", "sdk-one", "sdk-two"] and out["pages"] == 3
    assert out["error"]["name"] == "LoadBalancerNotFoundException"  # the SDK's class name
    assert out["error"]["code"] == "LoadBalancerNotFound"  # the XML's <Code>
    assert out["error"]["httpStatusCode"] == 400
    assert out["deregistered"] == [f"{LOCAL}:{s.old.port}"]
    assert out["listenerPort"] == s.port

    # Every call really came from the JS SDK, signed with the key (audit log, userAgent; the
    # version in the SDK's user agent may lag the package's by one release, so not compared).
    records = [json.loads(line) for line in s.audit.read_text().splitlines()]
    js = [x for x in records if re.match(r"aws-sdk-js/3\.\S* .*api/elastic-load-balancing-v2#",
                                         x.get("userAgent") or "")]
    assert len(js) == len(records), [x.get("userAgent") for x in records]
    assert {x["eventName"] for x in js} >= SDK_OPERATIONS, {x["eventName"] for x in js}
    assert all(x["userIdentity"]["accessKeyId"] == s.key_id for x in js)
    assert [x["errorCode"] for x in js if x.get("errorCode")] == ["LoadBalancerNotFound"]

    # What the SDK set up is in force: the rule's path reaches sdk-one's target, the weighted
    # default action spreads over both new groups, and the retired target gets nothing.
    for path in ("/sdk/x", "/sdk/a/b?c=d"):
        assert s.target_of(path) == "one", path
    seen = [s.target_of(f"/page{i}") for i in range(40)]
    assert set(seen) == {"one", "two"}, seen
    print(f"\n{lines[-1]}\njs sdk {version}: script {took:.1f}s, in service after "
          f"{out['inServiceAfterSeconds']}s")
