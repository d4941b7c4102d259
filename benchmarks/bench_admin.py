"""Benchmark: what the admin-facing feedback costs on a long sanitize run.

In the same run, on the same 1,000 synthetic events (50 attributes each, from ``bench_sanitize``) written as a
folder of MISP JSON exports with arbitrary file names:

- reading the folder (every ``*.json``, whatever its name) vs reading the same events as a ``<uuid>.json`` feed;
- a release through :func:`~legion_misp.privacy.release.sanitize_events` with a live tqdm progress bar (rendered
  into a discarded text stream, as on a terminal) vs with no bar.

Targets: reading exports costs at most 1.10x the feed; the bar costs at most 2 % of the release.

Run: ``python -m benchmarks.bench_admin [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_sanitize import generate, make_sanitizer


def _write_exports(events: list[dict[str, Any]], folder: Path) -> None:
    for index, event in enumerate(events):
        (folder / f"misp.event.{index}.export.json").write_text(json.dumps({"Event": event}), encoding="utf-8")


def _read_seconds(store: Any) -> tuple[float, int]:
    started = time.perf_counter()
    count = sum(1 for _ in store.query())
    return time.perf_counter() - started, count


def _release_seconds(events: list[dict[str, Any]], *, bar: bool) -> float:
    from tqdm import tqdm

    from legion_misp.privacy.release import sanitize_events
    from legion_misp.stores import MemoryEventStore

    source = MemoryEventStore()
    for event in events:
        source.upsert(event)
    sanitizer = make_sanitizer()
    sanitizer.sanitize(events[0])  # warm-up
    progress = tqdm(total=len(events), file=io.StringIO(), unit="event", mininterval=0.1) if bar else None
    started = time.perf_counter()
    sanitize_events(source, None, sanitizer, ledger=None, dry_run=True,
                    on_event=(lambda _report: progress.update(1)) if progress else None)
    seconds = time.perf_counter() - started
    if progress is not None:
        progress.close()
    return seconds


def run(quick: bool = False) -> list[dict[str, Any]]:
    from legion_misp.stores import FeedStore

    count = 200 if quick else 1000
    events = list(generate(count, seed=3))
    with tempfile.TemporaryDirectory() as scratch:
        exports, feed_dir = Path(scratch) / "exports", Path(scratch) / "feed"
        exports.mkdir()
        _write_exports(events, exports)
        feed = FeedStore(feed_dir)
        with feed.batch():
            feed.upsert_many(iter(events))
        _read_seconds(FeedStore(exports, create=False))  # warm the page cache for both
        _read_seconds(feed)
        export_seconds, read = _read_seconds(FeedStore(exports, create=False))
        feed_seconds, _ = _read_seconds(feed)
    assert read == count
    plain = min(_release_seconds(events, bar=False) for _ in range(2))
    with_bar = min(_release_seconds(events, bar=True) for _ in range(2))
    read_ratio, bar_ratio = export_seconds / feed_seconds, with_bar / plain
    return [
        _row(f"read a folder of {count} MISP exports (any names)", count / export_seconds, "events/s",
             baseline=count / feed_seconds, ratio=read_ratio,
             target="<= 1.10x the time of the same events as a <uuid>.json feed", met=read_ratio <= 1.10),
        _row(f"sanitize {count} events with a progress bar", count / with_bar, "events/s", baseline=count / plain,
             ratio=bar_ratio, target="the bar costs <= 2% of the release", met=bar_ratio <= 1.02),
    ]


def _row(metric: str, value: float, unit: str, baseline: float | None = None, ratio: float | None = None,
         target: str | None = None, met: bool | None = None) -> dict[str, Any]:
    return {"benchmark": "admin", "metric": metric, "value": round(value, 3), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3),
            "ratio": None if ratio is None else round(ratio, 4), "target": target, "met": met}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 events")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
