"""Benchmark: releasing 10,000 unchanged events a second time, against a plain JSON copy of the same events.

Setup (reported, not the target): a feed of 10,000 synthetic events × 10 attributes (indicators, one with
sightings and first/last seen, a counter), a fresh ledger, and a first real release through
:func:`legion_misp.privacy.release.sanitize_events` with persistent noise (the secure exact sampler).

Measured in the same run:

- the second release of the unchanged feed (same policy, same day): every event is read and recognised as
  already released; nothing is sanitised, written or spent;
- the baseline: reading each event file as JSON and writing it to another folder (a plain JSON copy).

Targets: the second release takes at most 2× the plain copy, and spends ε 0.

Run: ``python -m benchmarks.bench_release [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_KEY = bytes.fromhex("8c2f5a1e9d3b7c04e6a1f2d8b5c9e3a7f0d4b8c2e6a9f1d3b5c7e0a2f4d6b8c1")


def make_event(index: int, rng: random.Random) -> dict[str, Any]:
    def new_uuid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    attributes = [{"uuid": new_uuid(), "type": "ip-dst", "category": "Network activity", "to_ids": True,
                   "value": f"203.0.113.{rng.randrange(1, 255)}", "timestamp": "1760000000", "distribution": "5",
                   "first_seen": "2025-10-01T10:00:00.000000+00:00", "last_seen": "2025-10-03T10:00:00.000000+00:00",
                   "Sighting": [{"type": "0", "date_sighting": str(1760000000 + 3600 * k)} for k in range(3)]}]
    attributes += [{"uuid": new_uuid(), "type": "domain", "category": "Network activity", "to_ids": True,
                    "value": f"c2-{index}-{k}.example.net", "timestamp": "1760000000", "distribution": "5"}
                   for k in range(8)]
    attributes.append({"uuid": new_uuid(), "type": "counter", "category": "Other", "to_ids": False,
                       "value": str(rng.randrange(100)), "timestamp": "1760000000", "distribution": "5"})
    return {"uuid": new_uuid(), "info": f"Campaign {index}", "date": "2025-10-01", "distribution": "3",
            "threat_level_id": "2", "analysis": "2", "timestamp": "1760000000", "published": True,
            "Orgc": {"name": "Example Energy Ltd", "uuid": "df79edc8-012e-4803-92aa-7184c09c10ba"},
            "Tag": [{"name": "tlp:green"}], "Attribute": attributes}


def plain_copy(source: Path, target: Path) -> float:
    target.mkdir()
    started = time.perf_counter()
    for path in sorted(source.glob("*.json")):
        if path.name == "manifest.json":
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        (target / path.name).write_text(json.dumps(document), encoding="utf-8")
    return time.perf_counter() - started


def _row(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"benchmark": "release", "metric": metric, "value": round(value, 4), "unit": unit, "baseline": None,
            "ratio": None, "target": None, "met": None, **extra}


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure and return the result rows (see the module docstring)."""
    from legion_misp.privacy.ledger import Ledger
    from legion_misp.privacy.release import sanitize_events
    from legion_misp.privacy.sanitizer import Sanitizer
    from legion_misp.sections import load_default_config
    from legion_misp.stores import FeedStore

    count = 1000 if quick else 10_000
    rng = random.Random(5)
    work = Path(tempfile.mkdtemp(prefix="legion-bench-release-"))
    try:
        source = FeedStore(work / "feed")
        with source.batch():
            for index in range(count):
                source.upsert(make_event(index, rng))
        sanitizer = Sanitizer.from_config(load_default_config(base_dir=REPO), pseudonym_key=BENCH_KEY)
        ledger = Ledger(work / "ledger.sqlite", budget_epsilon=10.0, budget_delta=1e-4)
        sink = FeedStore(work / "shared")
        started = time.perf_counter()
        first = sanitize_events(source, sink, sanitizer, ledger=ledger, what="bench first release")
        first_seconds = time.perf_counter() - started
        spent_first = ledger.spent()[0]
        copy_seconds = plain_copy(work / "feed", work / "copy")
        started = time.perf_counter()
        second = sanitize_events(FeedStore(work / "feed"), FeedStore(work / "shared"), sanitizer, ledger=ledger,
                                 what="bench second release")
        second_seconds = time.perf_counter() - started
        spent_second = ledger.spent()[0] - spent_first
        noise_rows = sum(k["values"] for k in ledger.noise_summary()["kinds"].values())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = second_seconds / copy_seconds
    return [
        _row(f"second release of {count} unchanged events (x 10 attributes)", second_seconds, "s",
             baseline=f"plain JSON copy of the same events: {copy_seconds:.2f} s", ratio=round(ratio, 3),
             target="<= 2x the plain JSON copy", met=ratio <= 2.0),
        _row("ε spent by the second release", spent_second, "ε", baseline=f"first release: ε {spent_first:g}",
             target="0", met=spent_second == 0.0 and second.unchanged == count),
        _row(f"first release of {count} events (fresh noise recorded in batches before the events are written)",
             first_seconds, "s", baseline=f"{first.shared} shared, {noise_rows} noised values stored",
             target="info"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 events")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
