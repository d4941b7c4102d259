"""Ctrl-C (SIGINT) at each stage of `legion demo` leaves no process behind: every process the demo started, at
any depth (the misp-modules server runs in its own session), is gone once the demo has exited."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from legion_misp.demo.stages import STAGES

pytestmark = pytest.mark.slow


def _children() -> dict[int, int]:
    """pid -> parent pid of every process on the machine (Linux /proc)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry.name)] = int(fields[1])
    return table


class DescendantWatch(threading.Thread):
    """Records every descendant of ``root`` seen while it runs (polled every 20 ms)."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.seen, self.stopped = root, set(), threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            parents = _children()
            family = {self.root}
            grew = True
            while grew:
                more = {pid for pid, parent in parents.items() if parent in family} - family
                family |= more
                grew = bool(more)
            self.seen |= family - {self.root}
            time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stage", range(1, len(STAGES) + 1))
def test_sigint_at_each_stage_leaves_no_process(stage, tmp_path):
    demo = subprocess.Popen([sys.executable, "-m", "legion_misp", "demo", "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # see each stage line as it starts
    watch = DescendantWatch(demo.pid)
    watch.start()
    output = []
    try:
        for line in demo.stdout:
            output.append(line)
            if re.match(rf"\[{stage}/\d+\] ", line):
                break
        else:
            pytest.fail(f"the demo ended before stage {stage}:\n{''.join(output)}")
        deadline = time.monotonic() + 20
        while stage == len(STAGES) - 1 and not watch.seen and time.monotonic() < deadline:
            time.sleep(0.05)  # the modules stage: interrupt once its server process exists
        time.sleep(0.3)
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        watch.stopped.set()
        watch.join()
    # 130 from legion's handler; rarely Python itself re-raises the signal at exit (-SIGINT): both are interrupted
    assert demo.returncode in (130, -signal.SIGINT), "".join(output) + rest
    assert "Aborted." in rest or "Interrupted." in rest
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in watch.seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in watch.seen if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left running after SIGINT at stage {stage}: {left}"
