"""The benchmarks' peak-memory probe reports the measuring process alone, not a large parent's peak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


GROW_IN_A_FRESH_PROCESS = """
import json
from benchmarks.memory import current_rss_mib, peak_rss_mib
before = peak_rss_mib()
block = bytearray(64 * 1024 * 1024)
for offset in range(0, len(block), 4096):  # touch every page so it is resident
    block[offset] = 1
print(json.dumps({"before": before, "current": current_rss_mib(), "after": peak_rss_mib()}))
"""


def test_peak_is_at_least_current_and_grows_with_allocation() -> None:
    # A fresh process: in the test process itself an earlier test may already have set a peak above what a
    # 64 MiB block adds to the current size, so the peak would rightly not move.
    done = subprocess.run(
        [sys.executable, "-c", GROW_IN_A_FRESH_PROCESS], cwd=REPO, capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["after"] >= seen["current"] > 0
    assert seen["after"] >= seen["before"] + 60


def test_child_of_a_large_parent_reports_its_own_peak() -> None:
    block = bytearray(256 * 1024 * 1024)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    code = "import json; from benchmarks.memory import peak_rss_mib; print(json.dumps(peak_rss_mib()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    child_peak = json.loads(done.stdout)
    assert child_peak < 128, f"child reports {child_peak:.0f} MiB: the parent's 256 MiB leaked into its peak"
    del block
