"""Start-up time of the ``legion`` command: what each command pays before it does any work.

The CLI loads a subcommand's module only when that command runs (click's lazy-loading group), and ``legion --help``
lists commands without importing them. Measured as the wall time of a fresh ``python -m legion_misp ...`` process
(median of N runs); baseline: a bare ``python -c pass`` measured in the same run.

    python -m benchmarks.bench_cli [--quick]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = (("--version",), ("--help",), ("sync", "--help"), ("learn", "--help"), ("demo", "--help"))


def _wall(argv: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=REPO, capture_output=True, check=True, timeout=120)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool = False) -> list[dict]:
    runs = 3 if quick else 9
    baseline = _wall([sys.executable, "-c", "pass"], runs)
    rows = []
    for args in COMMANDS:
        seconds = _wall([sys.executable, "-m", "legion_misp", *args], runs)
        rows.append({"benchmark": "cli start-up", "metric": f"legion {' '.join(args)}", "value": seconds * 1000,
                     "unit": "ms", "baseline": f"python -c pass: {baseline * 1000:.0f} ms",
                     "ratio": seconds / baseline, "target": None, "met": None})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
