"""Makes bench/sluicebench importable: /usr/bin/python3 -m pytest bench/tests, from any cwd."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
