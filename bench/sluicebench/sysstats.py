"""/proc readers (CPU ticks, memory, TCP counters and sockets) and free ports."""

import socket

from .common import BACKEND_ADDRS, CLK_TCK, HarnessError


def cpu_ticks(pids):
    """utime+stime of every process (all its threads) in pids, in clock ticks."""
    total = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total[p] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total


def cpu_delta_seconds(before, after):
    return sum(after[p] - before.get(p, 0) for p in after) / CLK_TCK


def memory_kib(pids):
    """(RSS, PSS) in KiB summed over pids, from smaps_rollup."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def tcp_counters():
    """Selected system-wide TCP counters from /proc/net/snmp."""
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Tcp:")]
    d = dict(zip(lines[0][1:], (int(x) for x in lines[1][1:])))
    return {"active_opens": d["ActiveOpens"], "retrans_segs": d["RetransSegs"]}


def cpu_times():
    """Aggregate (busy, steal, total) jiffies from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    total = sum(v[:8])
    return (total - idle - iowait - steal, steal, total)


def pct(a, b, field):
    dt = b[2] - a[2]
    return 100.0 * (b[field] - a[field]) / dt if dt > 0 else 0.0


def _hex_addr(ip, port):
    a = socket.inet_aton(ip)[::-1].hex().upper()
    return f"{a}:{port:04X}"


def tcp_sockets():
    """(local, remote, state) hex strings of every IPv4 TCP socket."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            out.append((parts[1], parts[2], parts[3]))
    return out


def listening(ip, port):
    """True when something listens on ip:port or on 0.0.0.0:port."""
    targets = {_hex_addr(ip, port), _hex_addr("0.0.0.0", port)}
    return any(st == "0A" and loc in targets for loc, _, st in tcp_sockets())


def free_port_run(addrs_for_offset, count, start=18080, stop=60000, step=7):
    """The first port p from `start` such that p + i is free on every address of
    addrs_for_offset(i) for i < count (nothing listens there and a bind succeeds). Ports are
    chosen at run time, so that a port some other process holds never fails a run."""
    for base in range(start, stop - count, step):
        if all(_can_bind(ip, base + i) for i in range(count) for ip in addrs_for_offset(i)):
            return base
    raise HarnessError(f"no {count} consecutive free ports between {start} and {stop}")


def _can_bind(ip, port):
    if listening(ip, port):
        return False
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def established_to(ip, port):
    local = _hex_addr(ip, port)
    return sum(1 for loc, _, st in tcp_sockets() if st == "01" and loc == local)


def upstream_conns(backend_port):
    """Local ports of established proxy->backend connections."""
    remotes = {_hex_addr(a, backend_port) for a in BACKEND_ADDRS}
    return {loc for loc, rem, st in tcp_sockets() if st == "01" and rem in remotes}
