"""Test helpers importable from every test module (`from helpers import ...`)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_EVENTS = REPO / "examples" / "events"
FIXTURES = REPO / "tests" / "fixtures"  # copies of the public fixtures, with their licences (README.md there)


def make_event(info: str = "Test event", *, timestamp: int = 1_700_000_000, n_attributes: int = 3,
               tags: list[str] | None = None, published: bool = True) -> dict[str, Any]:
    """A small, valid MISP event dict (inner object of {"Event": ...})."""
    return {
        "uuid": str(uuid.uuid4()), "info": info, "date": "2026-11-01", "timestamp": str(timestamp),
        "published": published, "analysis": "2", "threat_level_id": "2", "distribution": "3",
        "Orgc": {"name": "Example Energy Ltd", "uuid": "5f6d7a3c-0000-4000-8000-000000000001"},
        "Tag": [{"name": t} for t in (tags or ["tlp:green"])],
        "Attribute": [{"uuid": str(uuid.uuid4()), "type": "ip-dst", "category": "Network activity",
                       "value": f"198.51.100.{i + 1}", "to_ids": True, "timestamp": str(timestamp)}
                      for i in range(n_attributes)],
        "Object": [{"name": "domain-ip", "uuid": str(uuid.uuid4()), "meta-category": "network",
                    "Attribute": [{"uuid": str(uuid.uuid4()), "type": "domain", "category": "Network activity",
                                   "object_relation": "domain", "value": "c2.example.net"},
                                  {"uuid": str(uuid.uuid4()), "type": "ip-dst|port", "category": "Network activity",
                                   "object_relation": "ip", "value": "203.0.113.5|443"}]}],
    }


def load_example_events() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8"))["Event"] for p in sorted(EXAMPLE_EVENTS.glob("*.json"))]


def train_model_file(path: Path, *, epsilon: float = 1.64, seed: int = 0) -> Path:
    """A real model file: DP-SGD logistic regression on the bundled Spambase, saved as the classify module loads it."""
    from legion_misp.learning.data import load_spambase
    from legion_misp.learning.estimator import DPLogisticRegression
    from legion_misp.learning.model_io import ModelFile, save_model
    from legion_misp.learning.preprocessing import get_preprocessor

    data = load_spambase()
    classifier = DPLogisticRegression(epsilon=epsilon, rng=seed, epochs=3).fit(
        get_preprocessor("spambase-v1").transform(data.X), data.y)
    spent = classifier.privacy_spent_
    save_model(ModelFile(coef=classifier.coef_.ravel(), intercept=float(classifier.intercept_[0]), threshold=0.5,
                         epsilon=spent.epsilon, delta=spent.delta, accountant=spent.accountant,
                         data="Spambase (UCI, CC BY 4.0), deduplicated; centralised DP-SGD test model"), path)
    return path


def run_on_a_terminal(args: list[str], cwd) -> tuple[int, str, str]:
    """Run ``args`` with stderr on a 100-column pseudo-terminal: (exit code, stdout, what the terminal showed)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    try:
        process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL)
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's last writer closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = process.stdout.read().decode()
        process.wait(timeout=120)
    finally:
        os.close(controller)
    return process.returncode, stdout, b"".join(chunks).decode("utf-8", "replace")


def _process_parents() -> dict[int, int]:
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
            parents = _process_parents()
            family = {self.root}
            grew = True
            while grew:
                more = {pid for pid, parent in parents.items() if parent in family} - family
                family |= more
                grew = bool(more)
            self.seen |= family - {self.root}
            time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
