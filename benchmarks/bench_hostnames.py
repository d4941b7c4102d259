"""Host names learned from a MISP store (store.kind = "misp"): what the incremental learner costs per release.

Needs a real MISP 2.5.1 (../shared/misp or $LEGION_MISP_SHARED). N events × 20 attributes are added (one in ten
also holds an internal ``domain|ip`` pair and a URL under the internal domain), then, all in the same run:

- at two store sizes, the first learn (every page of the two attribute searches) against the baseline it replaces:
  pulling every event of the store (``MispApiStore.query``) and learning from it, as the feed store path does; and
  an incremental run with nothing new (what each later release costs: it must not grow with the store), also in
  MISP round trips (a ``getVersion`` request timed next to each run), which cancels the load of a shared machine;
- the per-release cost through ``store_hostnames`` (the sanitiser's entry point; one MISP connection per process,
  whose start-up is its own row), and an incremental run after a new event with a new pair.

Sizes 200 and 2,000 events (``quick``: 100 and 300). ``python -m benchmarks.bench_hostnames [--quick]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NAME = "host names from MISP"
ATTRIBUTES = 20
QUIET_RUNS = 9


def _row(metric: str, value: float, unit: str, *, baseline: str = "", ratio: float | None = None,
         target: str = "info", met: bool | None = None) -> dict:
    return {"benchmark": NAME, "metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline,
            "ratio": None if ratio is None else round(ratio, 4), "target": target, "met": met}


def _events(count: int) -> list[dict]:
    from tests.support.events import make_event

    events = []
    for index in range(count):
        event = make_event(index, ATTRIBUTES, org="OrgA")
        if index % 10 == 0:
            host = f"srv{index:05d}"
            event["Attribute"] += [
                {"uuid": _uuid(index, "pair"), "type": "domain|ip", "category": "Network activity",
                 "value": f"{host}.lab.invalid|10.{index % 250}.{index // 250}.7", "timestamp": event["timestamp"]},
                {"uuid": _uuid(index, "url"), "type": "url", "category": "Network activity",
                 "value": f"https://ws{index:05d}.corp.example/login", "timestamp": event["timestamp"]}]
        events.append(event)
    return events


def _uuid(index: int, kind: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.UUID("8d2f7c3a-1b4e-4c6d-9e0f-1a2b3c4d5e6f"), f"{index}-{kind}"))


def _organisation() -> Any:
    import ipaddress

    from legion_misp.config import Organisation

    return Organisation(name="Example Energy Ltd", pseudonym="member-a",
                        internal_networks=(ipaddress.ip_network("10.0.0.0/8"),),
                        internal_domains=("corp.example",))


def _store(instance: Any) -> Any:
    from legion_misp.secrets import Secret
    from legion_misp.stores.misp_api import MispApiStore

    os.environ["LEGION_BENCH_HOSTS_KEY"] = instance.key
    return MispApiStore(instance.url, Secret("env:LEGION_BENCH_HOSTS_KEY"), verify_tls=False, timeout=300,
                        page_size=100)


def _learn(store: Any, cache_path: Path) -> tuple[float, Any]:
    from legion_misp.privacy.hostname_store import HostnameCache, MispHostnameLearner

    cache = HostnameCache(cache_path)
    try:
        started = time.perf_counter()
        run = MispHostnameLearner(store, _organisation(), cache).update()
        return time.perf_counter() - started, run
    finally:
        cache.close()


def _full_pull(store: Any) -> tuple[float, int]:
    from legion_misp.privacy.hostnames import learn_from

    started = time.perf_counter()
    names = learn_from(store.query(), _organisation())
    return time.perf_counter() - started, len(names)


def _config(workdir: Path, instance: Any) -> Any:
    from legion_misp.sections import load_config

    path = workdir / "legion.toml"
    path.write_text('[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-a"\n'
                    'internal_domains = ["corp.example"]\ninternal_networks = ["10.0.0.0/8"]\n'
                    f'[store]\nkind = "misp"\nurl = "{instance.url}"\napi_key = "env:LEGION_BENCH_HOSTS_KEY"\n'
                    'verify_tls = false\n[privacy]\nlearned_hostnames_path = "hosts-e2e.sqlite"\n', encoding="utf-8")
    return load_config(path)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _measure(store: Any, cache_path: Path, count: int) -> dict[str, Any]:
    pull, pulled_names = _full_pull(store)
    first, first_run = _learn(store, cache_path)
    if len(first_run.names) != pulled_names:
        raise RuntimeError(f"learners disagree: {len(first_run.names)} vs {pulled_names} names")
    quiet, trips = [], []
    for _ in range(QUIET_RUNS):  # each incremental run next to one plain MISP round trip (same load)
        quiet.append(_learn(store, cache_path))
        trips.append(_round_trip(store))
    return {"count": count, "pull": pull, "first": first, "first_run": first_run,
            "quiet": _median([t for t, _ in quiet]), "quiet_requests": quiet[0][1].requests,
            "trip": _median(trips)}


def _round_trip(store: Any) -> float:
    """One ``GET /servers/getVersion``: MISP's fixed cost per request under the load of the moment."""
    started = time.perf_counter()
    store._misp._prepare_request("GET", "servers/getVersion")
    return time.perf_counter() - started


def run(quick: bool = False) -> list[dict]:
    from legion_misp.privacy.hostname_store import store_hostnames
    from legion_misp.stores import open_store
    from tests.support.misp_kit import start_misp, unavailable_reason

    reason = unavailable_reason()
    if reason:
        raise RuntimeError(f"cannot start MISP here: {reason}")
    sizes = (100, 300) if quick else (200, 2000)
    workdir = Path(tempfile.mkdtemp(prefix="legion-bench-hosts-", dir="/tmp"))
    instance = start_misp(workdir / "misp")
    try:
        store = _store(instance)
        events = _events(sizes[-1] + 1)
        store.upsert_many(events[:sizes[0]])
        small = _measure(store, workdir / "small.sqlite", sizes[0])
        store.upsert_many(events[sizes[0]:sizes[-1]])
        large = _measure(store, workdir / "large.sqlite", sizes[-1])
        config = _config(workdir, instance)
        connects = []
        for _ in range(3):
            started = time.perf_counter()
            open_store(config)
            connects.append(time.perf_counter() - started)
        store_hostnames(config)  # first learn through the entry point the sanitiser uses (connects once)
        end_to_end = []
        for _ in range(5):
            started = time.perf_counter()
            store_hostnames(config)
            end_to_end.append(time.perf_counter() - started)
        store.upsert(events[-1])  # index sizes[-1], a multiple of 10: a new pair and URL
        changed, changed_run = _learn(store, workdir / "large.sqlite")
        rows = []
        for m in (small, large):
            label = f"full event pull + learn: {m['pull']:.2f} s"
            size = f"{m['count']} events x {ATTRIBUTES}+ attributes"
            rows += [
                _row(f"first learn, {size} ({m['first_run'].requests} requests, {m['first_run'].attributes} "
                     "attributes read)", m["first"], "s", baseline=label, ratio=m["first"] / m["pull"]),
                _row(f"incremental, nothing new, {size} (median of {QUIET_RUNS}, {m['quiet_requests']} requests)",
                     m["quiet"] * 1000, "ms/release", baseline=label, ratio=m["quiet"] / m["pull"]),
                _row(f"incremental, nothing new, {size}, in MISP round trips", m["quiet"] / m["trip"], "round trips",
                     baseline=f"GET /servers/getVersion, median {m['trip'] * 1000:.0f} ms next to each run")]
        growth = (large["quiet"] / large["trip"]) / (small["quiet"] / small["trip"])
        rows += [
            _row(f"incremental cost in round trips at {sizes[-1]} / at {sizes[0]} events", growth, "x",
                 baseline=f"full pull grows {large['pull'] / small['pull']:.1f}x", ratio=growth,
                 target="constant in store size (<= 1.5x)", met=growth <= 1.5),
            _row(f"per release through store_hostnames, nothing new (median of 5), {sizes[-1]} events",
                 _median(end_to_end) * 1000, "ms/release", baseline=f"full event pull + learn: {large['pull']:.2f} s",
                 ratio=_median(end_to_end) / large["pull"]),
            _row("connecting to MISP (PyMISP start-up + users/view/me; once per process, median of 3)",
                 _median(connects) * 1000, "ms"),
            _row(f"incremental, one new event ({changed_run.requests} requests, {changed_run.new_names} new names)",
                 changed * 1000, "ms/release"),
        ]
        return rows
    finally:
        instance.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> None:
    for row in run(quick="--quick" in argv):
        print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
