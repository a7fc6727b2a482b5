#!/usr/bin/python3
"""Side-by-side benchmark: Sluice vs HAProxy and NGINX (and the byte-forwarding floor).

    bench/run.py            full run (about 1.5 h on the 2-vCPU bench VM)
    bench/run.py --smoke    one short round of everything (about a minute; CI)

Method, figures and caveats: docs/performance.md. Results go to bench/results/<timestamp>/
(results.md, results.json, chart.png, the rendered configs and the logs).

Exit status: 0 when every measurement finished with 0 errors; 1 when any request failed
(a connect/read/write error, a timeout, or a non-2xx status) or a proxy returned a wrong
response; 2 when the harness itself broke (missing tool, port in use, a process that did not
start). Performance numbers never change the exit status.

Standard library only; python3-matplotlib (Debian) is optional, for chart.png. The harness
itself is the package bench/sluicebench/ (its __init__.py lists the modules); this file is
only the entry point, so that it runs from any directory.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sluicebench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
