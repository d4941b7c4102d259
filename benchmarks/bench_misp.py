"""Real MISP 2.5.1 benchmark (needs ../shared/misp or $LEGION_MISP_SHARED, root/apt the first time).

Rows (``run(quick)``), all measured in the same run on the same MISP (database reset between passes):
- store import of N events × 10 attributes (what ``legion store import`` does: ``MispApiStore.upsert_many`` from a
  feed directory) against PyMISP's own ``add_event`` loop over the same events (target ≤ 1.2×), and the re-import
  (every event ``unchanged``);
- MISP-store pull: ``legion sync pull`` of the same N events from a TAXII server into the MISP store, against the
  same PyMISP loop;
- MISP's own sync against ours, 100 events × 20 attributes from MISP A to MISP B: native ``server_pull`` versus
  ``legion sync push`` from A's MISP store plus ``legion sync pull`` into B's MISP store through OpenTAXII
  (target: end to end within 2× of native), in 3 interleaved rounds (``quick``: 1), medians reported.

N = 1,000 (``quick``: 100). ``python -m benchmarks.bench_misp [--quick] [--sync-only]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

IMPORT_ATTRIBUTES = 10
SYNC_EVENTS, SYNC_ATTRIBUTES = 100, 20
SYNC_ROUNDS, SYNC_ROUNDS_QUICK = 3, 1  # interleaved native / legion rounds of the MISP A -> B comparison
NAME = "real MISP 2.5.1"


def _row(metric: str, value: float, unit: str, *, baseline: str = "", ratio: float | None = None,
         target: str = "info", met: bool | None = None) -> dict:
    return {"benchmark": NAME, "metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline,
            "ratio": None if ratio is None else round(ratio, 3), "target": target, "met": met}


def _store(instance: Any) -> Any:
    from legion_misp.secrets import Secret
    from legion_misp.stores.misp_api import MispApiStore

    os.environ["LEGION_BENCH_MISP_KEY"] = instance.key
    return MispApiStore(instance.url, Secret("env:LEGION_BENCH_MISP_KEY"), verify_tls=False, timeout=300)


def _events(count: int, attributes: int, org: str) -> list[dict]:
    from tests.support.events import make_event

    return [make_event(i, attributes, org=org) for i in range(count)]


def _pymisp_loop(instance: Any, events: list[dict]) -> float:
    misp = instance.pymisp(timeout=300)
    started = time.perf_counter()
    for event in events:
        answer = misp.add_event({"Event": event}, pythonify=False)
        if "errors" in answer:
            raise RuntimeError(f"PyMISP add_event failed: {answer['errors']}")
    return time.perf_counter() - started


def _sync_job(workdir: Path, server: Any, who: str, store: Any) -> Any:
    from connectors.job import SyncJob
    from connectors.settings import CollectionSettings, SyncSettings
    from legion_misp.secrets import Secret

    settings = SyncSettings(state_path=workdir / f"{who}.sqlite", lock_path=workdir / f"{who}.lock",
                            envelope_max_objects=1000, page_size=1000, status_poll_interval=0.05)
    collection = CollectionSettings(url=server.info.api_root, collection=server.info.collections["bench"],
                                    direction="both", username=who, password=Secret(f"env:BENCH_MISP_{who}"))
    return SyncJob(settings, [collection], store=store, no_sanitize=True)


def _taxii(workdir: Path) -> Any:
    from tests.support.servers import OpenTaxiiServer

    os.environ["BENCH_MISP_orgA"], os.environ["BENCH_MISP_orgB"] = "bench-a", "bench-b"
    server = OpenTaxiiServer(workdir / "opentaxii", accounts={"orgA": "bench-a", "orgB": "bench-b"},
                             collections={"bench": {}},
                             permissions={"orgA": {"bench": ["read", "write"]}, "orgB": {"bench": ["read"]}})
    server.start()
    return server


def _timed(job: Any, direction: str) -> float:
    started = time.perf_counter()
    summary = job.execute(direction)
    elapsed = time.perf_counter() - started
    if not summary.ok:
        raise RuntimeError(summary.format())
    return elapsed


def _upsert_chunk(store: Any, chunk: list[dict]) -> float:
    from legion_misp.stores import UpsertResult

    started = time.perf_counter()
    done = store.upsert_many(chunk)
    if done[UpsertResult.CREATED] != len(chunk):
        raise RuntimeError(f"store import: {dict(done)}")
    return time.perf_counter() - started


def _import_rows(a: Any, workdir: Path, count: int) -> list[dict]:
    """Ours and PyMISP's loop on two event sets of the same shape, interleaved in chunks of 100 (order
    alternating) so both see the same database size and the same machine load (the machine is shared)."""
    from legion_misp.stores import FeedStore, UpsertResult

    workdir.mkdir(parents=True, exist_ok=True)
    ours_events = _events(count, IMPORT_ATTRIBUTES, "OrgA")
    theirs_events = _events(count, IMPORT_ATTRIBUTES, "OrgP")
    a.reset()
    store, ours, baseline = _store(a), 0.0, 0.0
    for index, start in enumerate(range(0, count, 100)):
        chunk = ours_events[start:start + 100]
        if index % 2 == 0:
            ours += _upsert_chunk(store, chunk)
            baseline += _pymisp_loop(a, theirs_events[start:start + 100])
        else:
            baseline += _pymisp_loop(a, theirs_events[start:start + 100])
            ours += _upsert_chunk(store, chunk)
    started = time.perf_counter()
    again = store.upsert_many(ours_events)
    reimport = time.perf_counter() - started
    if again[UpsertResult.UNCHANGED] != count:
        raise RuntimeError(f"re-import: {dict(again)}")
    label = f"PyMISP add_event loop {baseline:.1f} s ({count / baseline:.1f} events/s)"
    rows = [_row(f"store import, {count} events x {IMPORT_ATTRIBUTES} attributes (MispApiStore.upsert_many)",
                 count / ours, "events/s", baseline=label, ratio=ours / baseline, target="<= 1.2x PyMISP",
                 met=ours / baseline <= 1.2),
            _row(f"store re-import, {count} events all unchanged", count / reimport, "events/s")]
    feed = FeedStore(workdir / "feed")
    with feed.batch():
        feed.upsert_many(ours_events)

    a.reset()
    _, pull_time = _push_then_pull(workdir, workdir, FeedStore(workdir / "feed", create=False), a, count)
    rows.append(_row(f"sync pull into the MISP store, {count} events", count / pull_time, "events/s",
                     baseline=label, ratio=pull_time / baseline, target="info"))
    return rows


def _native_pull(a: Any, b: Any) -> float:
    """MISP B pulls every event of MISP A (``add_server`` + ``server_pull``); B starts from its snapshot."""
    from pymisp import MISPServer

    b.reset()
    misp_b = b.pymisp(timeout=600)
    server = MISPServer()
    server.name, server.url, server.authkey = "bench A", a.url, a.key
    server.remote_org_id, server.pull, server.push, server.self_signed = 1, True, False, True
    try:
        misp_b.add_server(server)
    except Exception:  # MISP 2.5.1 saves the server, then answers 500: look it up by name
        pass
    server_id = next(s.id for s in misp_b.servers(pythonify=True) if s.name == "bench A")
    started = time.perf_counter()
    misp_b.server_pull(server_id)
    native = time.perf_counter() - started
    native_count = len(misp_b.search(controller="events", metadata=True, pythonify=False))
    if native_count != SYNC_EVENTS:
        raise RuntimeError(f"native pull brought {native_count} of {SYNC_EVENTS}")
    return native


def _legion_sync(a: Any, b: Any, workdir: Path) -> tuple[float, float]:
    """``legion sync push`` from A's MISP store into a fresh OpenTAXII, then ``legion sync pull`` into B's."""
    b.reset()
    workdir.mkdir(parents=True, exist_ok=True)
    return _push_then_pull(workdir, workdir / "opentaxii", _store(a), b, SYNC_EVENTS)


def _push_then_pull(workdir: Path, taxii_dir: Path, source: Any, target: Any, expected: int) -> tuple[float, float]:
    """Seconds of ``legion sync push`` from ``source`` into a fresh OpenTAXII and of ``legion sync pull`` from it
    into the ``target`` MISP's store, which must then hold ``expected`` events."""
    taxii = _taxii(taxii_dir)
    try:
        push = _timed(_sync_job(workdir, taxii, "orgA", source), "push")
        pull = _timed(_sync_job(workdir, taxii, "orgB", _store(target)), "pull")
    finally:
        taxii.stop()
    pulled = sum(1 for _ in _store(target).query())
    if pulled != expected:
        raise RuntimeError(f"legion pull stored {pulled} of {expected}")
    return push, pull


def _native_vs_legion(a: Any, b: Any, workdir: Path, rounds: int) -> list[dict]:
    """``rounds`` rounds, each one native pull and one legion push + pull (which goes first alternates), so both
    see the same machine load (the machine is shared); the rows are the medians, and the ratio is the median of
    the per-round ratios."""
    from legion_misp.stores import UpsertResult

    workdir.mkdir(parents=True, exist_ok=True)
    events = _events(SYNC_EVENTS, SYNC_ATTRIBUTES, "OrgA")
    a.reset()
    if _store(a).upsert_many(events)[UpsertResult.CREATED] != SYNC_EVENTS:
        raise RuntimeError("seeding MISP A failed")
    natives, pushes, pulls = [], [], []
    for round_number in range(rounds):
        if round_number % 2 == 0:
            natives.append(_native_pull(a, b))
            push, pull = _legion_sync(a, b, workdir / f"round{round_number}")
        else:
            push, pull = _legion_sync(a, b, workdir / f"round{round_number}")
            natives.append(_native_pull(a, b))
        pushes.append(push)
        pulls.append(pull)
    ratios = [(push + pull) / native for push, pull, native in zip(pushes, pulls, natives, strict=True)]
    ends = [push + pull for push, pull in zip(pushes, pulls, strict=True)]
    ratio = statistics.median(ratios)
    each = ", ".join(f"{r:.2f}" for r in ratios)
    label = (f"MISP server_pull {statistics.median(natives):.1f} s (median of {rounds} interleaved rounds; "
             f"ratio per round {each}; load {os.getloadavg()[0]:.1f})")
    size = f"{SYNC_EVENTS} events x {SYNC_ATTRIBUTES} attributes, MISP A -> MISP B"
    return [_row(f"native MISP server_pull, {size}", statistics.median(natives), "s"),
            _row(f"legion push (A's MISP store -> OpenTAXII), {size}", statistics.median(pushes), "s"),
            _row(f"legion pull (OpenTAXII -> B's MISP store), {size}", statistics.median(pulls), "s"),
            _row(f"legion push + pull end to end, {size}", statistics.median(ends), "s", baseline=label,
                 ratio=ratio, target="<= 2x native", met=ratio <= 2)]


def run(quick: bool = False, sync_only: bool = False) -> list[dict]:
    from tests.support.misp_kit import start_misp, unavailable_reason

    reason = unavailable_reason()
    if reason:
        raise RuntimeError(f"cannot start MISP here: {reason}")
    count = 100 if quick else 1000
    workdir = Path(tempfile.mkdtemp(prefix="legion-bench-misp-", dir="/tmp"))
    a = start_misp(workdir / "misp-a")
    b = None
    try:
        a.snapshot()
        rows = [] if sync_only else _import_rows(a, workdir / "import", count)
        b = start_misp(workdir / "misp-b")
        b.snapshot()
        rows += _native_vs_legion(a, b, workdir / "sync", rounds=SYNC_ROUNDS_QUICK if quick else SYNC_ROUNDS)
        return rows
    finally:
        a.stop()
        if b is not None:
            b.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> None:
    for row in run(quick="--quick" in argv, sync_only="--sync-only" in argv):
        print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
