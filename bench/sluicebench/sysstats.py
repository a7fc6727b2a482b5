"""/proc readers (CPU ticks, memory, TCP and UDP counters and sockets) and free ports."""

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


# The system-wide UDP counters of /proc/net/snmp a UDP workload records (deltas over the
# measured interval): datagrams dropped for a full receive buffer (RcvbufErrors), a full
# send buffer (SndbufErrors), or any receive error (InErrors, which counts both receive
# kinds), and datagrams to a port nothing is bound to (NoPorts: the ICMP port unreachables;
# the echoes of the datagrams still in flight when udp-load exits, and closes its sockets,
# land there, so about udp-load's in_flight of them are normal).
UDP_COUNTERS = {"udp_in_errors": "InErrors", "udp_rcvbuf_errors": "RcvbufErrors",
                "udp_sndbuf_errors": "SndbufErrors", "udp_no_ports": "NoPorts"}


def udp_counters(path="/proc/net/snmp"):
    """UDP_COUNTERS from /proc/net/snmp (0 for one the kernel does not have)."""
    with open(path) as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    d = dict(zip(lines[0][1:], (int(x) for x in lines[1][1:])))
    return {k: d.get(v, 0) for k, v in UDP_COUNTERS.items()}


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


def udp_sockets(path="/proc/net/udp"):
    """(local, remote) hex strings of every IPv4 UDP socket."""
    out = []
    with open(path) as f:
        next(f)
        for line in f:
            parts = line.split()
            out.append((parts[1], parts[2]))
    return out


def udp_bound(ip, port):
    """True when a UDP socket is bound to ip:port or 0.0.0.0:port (a UDP listener, or a
    client socket whose own port it is)."""
    targets = {_hex_addr(ip, port), _hex_addr("0.0.0.0", port)}
    return any(loc in targets for loc, _ in udp_sockets())


def free_port_run(addrs_for_offset, count, start=18080, stop=60000, step=7):
    """The first port p from `start` such that p + i is free on every address of
    addrs_for_offset(i) for i < count (nothing listens there and a bind succeeds). Ports are
    chosen at run time, so that a port some other process holds never fails a run."""
    for base in range(start, stop - count, step):
        if all(_can_bind(ip, base + i) for i in range(count) for ip in addrs_for_offset(i)):
            return base
    raise HarnessError(f"no {count} consecutive free ports between {start} and {stop}")


def _can_bind(ip, port):
    """Free for TCP (nothing listens, a bind succeeds) and for UDP (nothing bound there, a bind
    without SO_REUSEADDR succeeds): the UDP workload's proxies and backends bind the same
    ports as the others' listeners."""
    if listening(ip, port) or udp_bound(ip, port):
        return False
    for kind, reuse in ((socket.SOCK_STREAM, True), (socket.SOCK_DGRAM, False)):
        s = socket.socket(socket.AF_INET, kind)
        try:
            if reuse:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def established_to(ip, port):
    local = _hex_addr(ip, port)
    return sum(1 for loc, _, st in tcp_sockets() if st == "01" and loc == local)


def upstream_conns(backend_port):
    """Local ports of established proxy->backend connections."""
    remotes = {_hex_addr(a, backend_port) for a in BACKEND_ADDRS}
    return {loc for loc, rem, st in tcp_sockets() if st == "01" and rem in remotes}
