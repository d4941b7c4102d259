"""Start-up time of the ``legion`` command: what each command pays before it does any work.

The CLI loads a subcommand's module only when that command runs (click's lazy-loading group), and ``legion --help``
lists commands without importing them. Measured as the CPU time (user + system) of a fresh
``python -m legion_misp ...`` process, the least of N runs (wall time on a shared machine mostly measures the other
processes); baseline: a bare ``python -c pass`` measured the same way in the same run.

    python -m benchmarks.bench_cli [--quick]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = (("--version",), ("--help",), ("sync", "--help"), ("learn", "--help"), ("demo", "--help"),
            ("config", "reference"))


def _cpu(argv: list[str], runs: int) -> float:
    """Least CPU seconds (user + system) of ``runs`` fresh processes running ``argv``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, env=env, cwd=REPO, capture_output=True, check=True, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(times)


def run(quick: bool = False) -> list[dict]:
    runs = 3 if quick else 9
    baseline = _cpu([sys.executable, "-c", "pass"], runs)
    rows = []
    for args in COMMANDS:
        seconds = _cpu([sys.executable, "-m", "legion_misp", *args], runs)
        rows.append({"benchmark": "cli start-up", "metric": f"legion {' '.join(args)} (CPU)", "value": seconds * 1000,
                     "unit": "ms", "baseline": f"python -c pass: {baseline * 1000:.0f} ms",
                     "ratio": seconds / baseline, "target": None, "met": None})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
