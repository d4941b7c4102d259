"""The benchmarks' peak-memory probe reports the measuring process alone, not a large parent's peak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.memory import current_rss_mib, peak_rss_mib

REPO = Path(__file__).resolve().parents[1]


def test_peak_is_at_least_current_and_grows_with_allocation() -> None:
    before = peak_rss_mib()
    block = bytearray(64 * 1024 * 1024)
    for offset in range(0, len(block), 4096):  # touch every page so it is resident
        block[offset] = 1
    assert peak_rss_mib() >= current_rss_mib() > 0
    assert peak_rss_mib() >= before + 60
    del block


def test_child_of_a_large_parent_reports_its_own_peak() -> None:
    block = bytearray(256 * 1024 * 1024)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    code = "import json; from benchmarks.memory import peak_rss_mib; print(json.dumps(peak_rss_mib()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    child_peak = json.loads(done.stdout)
    assert child_peak < 128, f"child reports {child_peak:.0f} MiB: the parent's 256 MiB leaked into its peak"
    del block
