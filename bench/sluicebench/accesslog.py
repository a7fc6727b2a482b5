"""Access logs of an access-log workload (Workload.access_log): where each chain writes its
log, how many entries it holds, and the check after a measurement that the proxy logged the
requests it served.

Each chain's log is in the run's work directory, under access-logs/, named after the chain
and the layout (the interleaved open-loop phase runs every chain at once, each with its own):

    sluice    a directory: sluice.access_logs.directory, where Sluice's writer thread leaves
              ALB-named gzip files (one per 5-minute interval, completed when Sluice stops on
              SIGTERM; .sluice-partial/ holds a file while its interval runs)
    nginx     a file: `access_log <file> combined buffer=64k flush=1s` (the workers flush their
              buffer when they exit)
    haproxy   a file: HAProxy writes no files itself; `log stdout format raw local0` with
              `option httplog` writes one line per request (one write() each) to its stdout,
              which the harness points at this file instead of the process's log

The driver empties the path before it starts the chain, counts the entries once the proxy has
stopped (procs.Procs.stop: SIGTERM, so every buffer is flushed and every gzip file completed),
records the count with the measurement and removes the log (a 10 s run at 100,000 req/s
leaves some 200 MB of text).
"""

import gzip
import shutil
from pathlib import Path

# The least share of the requests a proxy served (check request, warm-up and measured) that
# its log must hold; fewer is a problem of the measurement (a proxy that drops entries would
# otherwise be measured doing less work than logging every request).
ACCESS_LOG_MIN = 0.9

# Where a Sluice writer keeps the file of the interval still running.
SLUICE_PARTIAL = ".sluice-partial"


def log_path(work, chain, layout_name, directory=False):
    """The path of `chain`'s access log in layout `layout_name` under the run's work
    directory: a directory (Sluice's gzip files) or a file. The parent exists; the path
    itself does not (a directory is made empty)."""
    base = Path(work).resolve() / "access-logs"
    base.mkdir(parents=True, exist_ok=True)
    path = base / (f"{chain}-{layout_name}" if directory else f"{chain}-{layout_name}.log")
    remove(path)
    if directory:
        path.mkdir()
    return path


def remove(path):
    """Removes a log (a file or a directory of files); nothing when there is none."""
    p = Path(path)
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()


def _count_newlines(f):
    n = 0
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            return n
        n += chunk.count(b"\n")


def count_entries(path):
    """Lines in a log: a plain file, or every completed *.log.gz file under a directory.
    Returns (lines, leftover), leftover being the files still under .sluice-partial/ (a
    writer that did not complete its interval). A missing log has 0 lines."""
    p = Path(path)
    if not p.exists():
        return 0, 0
    if p.is_file():
        with open(p, "rb") as f:
            return _count_newlines(f), 0
    lines = leftover = 0
    for f in sorted(p.rglob("*")):
        if not f.is_file():
            continue
        if SLUICE_PARTIAL in f.relative_to(p).parts:
            leftover += 1
        elif f.name.endswith(".log.gz"):
            with gzip.open(f, "rb") as g:
                lines += _count_newlines(g)
    return lines, leftover


def shortfall(lines, served, leftover=0, minimum=ACCESS_LOG_MIN):
    """Why a log of `lines` entries is not the log of `served` requests, or None."""
    if leftover:
        return f"{leftover} access-log file(s) left incomplete (not renamed into place)"
    if served and lines < minimum * served:
        return (f"access log holds {lines} entries for {served} requests served "
                f"({lines / served:.1%}; at least {minimum:.0%} needed)")
    return None
