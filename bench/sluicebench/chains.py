"""How each chain is configured and started: one launcher per chain in CHAINS.

A launcher renders the chain's config (templates in bench/configs/, kept with each run) and
returns a Launch: the command line and the address the chain listens on. The driver starts it
pinned like the layout says and waits until it accepts connections.
"""

import re
from typing import NamedTuple

from .common import BACKEND_ADDRS, BENCH, DIRECT_ADDR, PROXY_ADDR, HarnessError

# The backends: the shared responder serves 13 B; the sized one any body size.
BACKEND_SOURCES = {"responder": "shared/bench/responder.c",
                   "sized-responder": "bench/tools/sized-responder.c"}

SLUICE_RULES = {"sluice": 0, "sluice-1rule": 1, "sluice-1000rules": 1000}


class HeaderProfile(NamedTuple):
    """The request headers HAProxy and NGINX add (Sluice always adds ALB's four)."""
    note: str  # for the layout's description; "" for the default
    haproxy: str  # lines of the frontend section
    nginx: str  # lines of the location block


PEER_HEADERS = {
    # The peers add what Sluice (like ALB) adds.
    "alb": HeaderProfile(
        "",
        "    # ALB-equivalent header profile\n"
        "    option forwardfor\n"
        "    http-request set-header X-Forwarded-Proto http\n"
        "    http-request set-header X-Forwarded-Port %[dst_port]\n"
        "    http-request set-header X-Amzn-Trace-Id Root=1-%[date,hex,bytes(8,8)]-"
        "%[rand,hex,bytes(8,8)]%[rand,hex,bytes(8,8)]%[rand,hex,bytes(8,8)]",
        "            # ALB-equivalent header profile\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "            proxy_set_header X-Forwarded-Proto $scheme;\n"
        "            proxy_set_header X-Forwarded-Port $server_port;\n"
        "            proxy_set_header X-Amzn-Trace-Id \"Root=1-$request_id\";"),
    # The peers add X-Forwarded-For only.
    "xff": HeaderProfile(
        "HAProxy and NGINX add only X-Forwarded-For",
        "    # header profile \"xff\": X-Forwarded-For only\n"
        "    option forwardfor",
        "            # header profile \"xff\": X-Forwarded-For only\n"
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"),
}


class ChainEnv(NamedTuple):
    """What launching a chain needs from the run."""
    tools: dict  # name -> executable (bench-tools and sluice)
    cfg_dir: object  # where rendered configs go
    work: object  # scratch directory (nginx's temp paths)
    backend_port: int
    sized_backend_only: bool


class Launch(NamedTuple):
    argv: list
    ip: str  # where the chain accepts connections
    port: int
    what: str  # for error messages
    settle: bool  # give every worker a moment to reach its event loop


def backend_tool(body, sized_only):
    return "responder" if body == 13 and not sized_only else "sized-responder"


def backend_argv(tools, tool, port, addr, body):
    return [tools[tool], port, addr] + ([] if tool == "responder" else [body])


def render(template, values):
    text = (BENCH / "configs" / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    left = re.search(r"@[A-Z_]+@", code)
    if left:
        raise HarnessError(f"{template}: placeholder {left.group(0)} not filled")
    return text


def sluice_rules(n):
    if n == 0:
        return ""
    lines = ["        Rules:"]
    for i in range(n):
        # With one rule it is the last one of the 1,000-rule list, so both match the same way.
        k = i if n > 1 else 999
        lines += [f"          - Priority: {i + 1}",
                  "            Conditions:",
                  "              - Field: path-pattern",
                  f"                PathPatternConfig: {{Values: [\"/r{k}/*\"]}}",
                  "            Actions:",
                  "              - Type: forward",
                  "                TargetGroupName: be"]
    return "\n".join(lines)


def _sluice(env, chain, layout, workload, port):
    text = render("sluice.yaml.in", {
        "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port, "BACKEND_PORT": env.backend_port,
        "RULES": sluice_rules(SLUICE_RULES[chain]),
        "TARGETS": "\n".join(f"      - Id: {b}" for b in BACKEND_ADDRS)})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.yaml"
    cfg.write_text(text)
    argv = [env.tools["sluice"], "run", "--config", cfg, "--workers", layout.workers,
            "--shutdown-timeout", "0"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def _haproxy(env, chain, layout, workload, port):
    text = render("haproxy.cfg.in", {
        "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
        "PEER_HEADERS": PEER_HEADERS[layout.peer_headers].haproxy,
        "SERVERS": "\n".join(f"    server b{i + 1} {b}:{env.backend_port}"
                             for i, b in enumerate(BACKEND_ADDRS))})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.cfg"
    cfg.write_text(text)
    return Launch(["haproxy", "-f", cfg, "-db"], PROXY_ADDR, port, chain, True)


def _nginx(env, chain, layout, workload, port):
    wd = env.work / f"nginx-{layout.name}"
    wd.mkdir(exist_ok=True)
    text = render("nginx.conf.in", {
        "WORKERS": layout.workers, "PROXY_ADDR": PROXY_ADDR, "PROXY_PORT": port,
        "WORKDIR": wd, "PEER_HEADERS": PEER_HEADERS[layout.peer_headers].nginx,
        "SERVERS": "\n".join(f"        server {b}:{env.backend_port};" for b in BACKEND_ADDRS)})
    cfg = env.cfg_dir / f"{chain}-{layout.name}.conf"
    cfg.write_text(text)
    argv = ["nginx", "-c", cfg, "-e", wd / "nginx-error.log"]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def _floor(env, chain, layout, workload, port):
    argv = [env.tools["floor-forwarder"], port] + \
           [f"{b}:{env.backend_port}" for b in BACKEND_ADDRS]
    return Launch(argv, PROXY_ADDR, port, chain, True)


def _direct(env, chain, layout, workload, port):
    """No proxy: one backend where the proxy would run, on its own address."""
    tool = backend_tool(workload.body, env.sized_backend_only)
    argv = backend_argv(env.tools, tool, env.backend_port, DIRECT_ADDR, workload.body)
    return Launch(argv, DIRECT_ADDR, env.backend_port, "direct responder", False)


CHAINS = {"sluice": _sluice, "sluice-1rule": _sluice, "sluice-1000rules": _sluice,
          "haproxy": _haproxy, "nginx": _nginx, "floor": _floor, "direct": _direct}


def launch(env, chain, layout, workload, port):
    fn = CHAINS.get(chain)
    if fn is None:
        raise HarnessError(f"unknown chain {chain}")
    return fn(env, chain, layout, workload, port)
