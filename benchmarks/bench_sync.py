"""Sync benchmark: events × 20 attributes pushed and pulled through OpenTAXII 0.10.0b1 (SQLite) on 127.0.0.1.

Rows (``run(quick)``):
- push and pull throughput (events/s each way) at the large size;
- our layer's own time against misp-stix conversion time measured in the same run, per direction: total wall time
  minus time inside misp-stix minus time waiting on the server, over the misp-stix time (target ≤ 25 %);
- peak RSS of a whole push+pull run at the small and the large size, each in its own process (target: growth
  ≤ 20 %, i.e. memory does not grow with the backlog); the two sizes run side by side (see ``_measure``);
- events pulled intact: every attribute's (type, value) as pushed, looked up by uuid.

Sizes: 1,000 and 5,000 events (``quick``: 100 and 400). Runnable as ``python -m benchmarks.bench_sync [--quick]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.memory import peak_rss_mib

ATTRIBUTES = 20
SIZES = {False: (1000, 5000), True: (100, 400)}
OVERHEAD_TARGET = 0.25
RSS_GROWTH_TARGET = 0.20


def _worker(events: int, workdir: Path) -> dict:
    """One full push + pull of ``events`` events in this process; returns timings and peak RSS."""
    import connectors.pull as pull_module
    import connectors.transport as transport
    import legion_misp.stix.codec as convert
    from connectors.job import SyncJob
    from connectors.settings import CollectionSettings, SyncSettings
    from legion_misp.secrets import Secret
    from legion_misp.stores import FeedStore
    from tests.support.events import make_event
    from tests.support.servers import OpenTaxiiServer

    timers = {"convert": 0.0, "server": 0.0}

    def timed(name, func):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - started
        return wrapper

    convert.MispToStix.convert = timed("convert", convert.MispToStix.convert)
    pull_module.stix_to_misp = timed("convert", pull_module.stix_to_misp)
    transport.TaxiiClient._send = timed("server", transport.TaxiiClient._send)
    transport.Status.refresh = timed("server", transport.Status.refresh)

    server = OpenTaxiiServer(workdir / "opentaxii", accounts={"orgA": "bench-a", "orgB": "bench-b"},
                             collections={"bench": {}},
                             permissions={"orgA": {"bench": ["read", "write"]}, "orgB": {"bench": ["read"]}})
    server.start()
    try:
        local_a = FeedStore(workdir / "feed-a")
        with local_a.batch():
            for index in range(events):
                local_a.upsert(make_event(index, ATTRIBUTES))
        os.environ["BENCH_A"], os.environ["BENCH_B"] = "bench-a", "bench-b"

        def job(who: str, store, direction: str) -> SyncJob:
            settings = SyncSettings(state_path=workdir / f"{who}.sqlite", lock_path=workdir / f"{who}.lock",
                                    envelope_max_objects=1000, page_size=1000, status_poll_interval=0.05)
            collection = CollectionSettings(url=server.info.api_root, collection=server.info.collections["bench"],
                                            direction=direction, username=who,
                                            password=Secret(f"env:BENCH_{who[-1]}"))
            return SyncJob(settings, [collection], store=store, no_sanitize=True)

        out: dict = {"events": events}
        for direction, who, store in (("push", "orgA", local_a), ("pull", "orgB", FeedStore(workdir / "feed-b"))):
            timers.update(convert=0.0, server=0.0)
            started = time.perf_counter()
            summary = job(who, store, direction).execute(direction)
            wall = time.perf_counter() - started
            if not summary.ok:
                raise RuntimeError(summary.format())
            out[direction] = {"wall": wall, "convert": timers["convert"], "server": timers["server"],
                              "totals": summary.totals()}
        out["pulled_events"] = sum(1 for _ in FeedStore(workdir / "feed-b").query())
        out["intact_events"] = _intact(events, FeedStore(workdir / "feed-b"))
    finally:
        server.stop()
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def _intact(events: int, pulled_store) -> int:
    """Pulled events whose (type, value) of every attribute equals what was pushed (looked up by uuid)."""
    from tests.support.events import attribute_values, make_event

    intact = 0
    for index in range(events):
        pushed = make_event(index, ATTRIBUTES)
        pulled = pulled_store.get(pushed["uuid"])
        intact += pulled is not None and attribute_values(pulled) == attribute_values(pushed)
    return intact


def _measure(sizes: tuple[int, ...]) -> list[dict]:
    """Run one worker process per size, side by side (each with its own OpenTAXII and temporary folder), so the
    full run stays near an hour on 2 cores. Each worker reports its own timings and its own peak RSS; throughput
    is therefore measured while the other size runs too (ratios are within one process, so both sides of each
    ratio share the same load)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="legion-bench-sync-") as tmp:
        workers = []
        for events in sizes:
            folder = Path(tmp) / str(events)
            folder.mkdir()
            workers.append(subprocess.Popen([sys.executable, "-m", "benchmarks.bench_sync", "--worker", str(events),
                                             str(folder)], cwd=root, env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))
        results = []
        for worker in workers:
            out, err = worker.communicate()
            if worker.returncode != 0:
                raise RuntimeError(f"bench worker failed:\n{err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results


def _row(metric: str, value: float, unit: str, *, baseline: str = "", ratio: float | None = None,
         target: str = "", met: bool | None = None) -> dict:
    return {"benchmark": "sync", "metric": metric, "value": round(value, 3), "unit": unit, "baseline": baseline,
            "ratio": None if ratio is None else round(ratio, 3), "target": target, "met": met}


def run(quick: bool = False) -> list[dict]:
    small, large = SIZES[quick]
    low, high = _measure((small, large))
    rows = []
    for direction in ("push", "pull"):
        part = high[direction]
        rows.append(_row(f"{direction} throughput ({large} events × {ATTRIBUTES} attributes, OpenTAXII)",
                         large / part["wall"], "events/s"))
        ours = max(0.0, part["wall"] - part["convert"] - part["server"])
        rows.append(_row(f"{direction}: our layer's time (excl. misp-stix and server)", ours, "s",
                         baseline=f"misp-stix conversion alone {part['convert']:.1f} s, server {part['server']:.1f} s",
                         ratio=ours / part["convert"] if part["convert"] else None, target="≤ 0.25 of misp-stix",
                         met=part["convert"] > 0 and ours / part["convert"] <= OVERHEAD_TARGET))
    rows.append(_row(f"objects pushed ({large} events)", high["push"]["totals"]["accepted"], "objects"))
    rows.append(_row(f"events pulled intact ({large} events; every attribute's type and value as pushed)",
                     high["intact_events"], "events", baseline=f"{large} pushed, {high['pulled_events']} pulled",
                     ratio=high["intact_events"] / large, target="= 1", met=high["intact_events"] == large))
    growth = high["peak_rss_mib"] / low["peak_rss_mib"] - 1
    rows.append(_row(f"peak RSS, push+pull of {large} events", high["peak_rss_mib"], "MiB",
                     baseline=f"{small} events: {low['peak_rss_mib']:.0f} MiB", ratio=1 + growth,
                     target="growth ≤ 20 %", met=growth <= RSS_GROWTH_TARGET))
    return rows


def main(argv: list[str]) -> None:
    if argv[:1] == ["--worker"]:
        print(json.dumps(_worker(int(argv[1]), Path(argv[2]))))
        return
    for row in run(quick="--quick" in argv):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
