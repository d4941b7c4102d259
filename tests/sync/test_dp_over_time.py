"""Honest DP over time in the sync job: 30 simulated days at ``every = 15m`` never run out of budget, idle runs
spend nothing, and every republished datum keeps its noisy value (real medallion server, real ledger, fake clock).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import uuid
from pathlib import Path

import pytest

from connectors.job import SyncJob
from connectors.sanitize import SanitizerHook
from legion_misp.privacy.ledger import open_ledger
from legion_misp.privacy.sanitizer import Sanitizer
from legion_misp.sections import load_config
from legion_misp.stores import FeedStore
from tests.helpers import load_example_events
from tests.privacy.conftest import write_config

from .conftest import collection_for, settings_for
from .helpers import server_objects

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp()
EVERY = 15 * 60
DAYS = 30


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _edit(event: dict, rng: random.Random, now: float, kind: str) -> dict:
    """A few real-looking edits: a new indicator, a changed comment, a sighting, a new observed time."""
    edited = copy.deepcopy(event)
    attributes = edited.setdefault("Attribute", [])
    if kind == "new-indicator" or not attributes:
        attributes.append({"uuid": str(uuid.uuid4()), "type": "ip-dst", "category": "Network activity",
                           "value": f"198.51.100.{rng.randrange(1, 254)}", "to_ids": True,
                           "distribution": "5", "timestamp": str(int(now))})
    elif kind == "comment":
        rng.choice(attributes)["comment"] = f"seen again {rng.randrange(10**6)}"
    elif kind == "sighting":
        rng.choice(attributes).setdefault("Sighting", []).append(
            {"type": "0", "date_sighting": str(int(now) - rng.randrange(3600)), "source": "sensor"})
    elif kind == "observed-time":
        attributes.append({"uuid": str(uuid.uuid4()), "type": "domain", "category": "Network activity",
                           "value": f"c2-{rng.randrange(10**6)}.example.net", "to_ids": True, "distribution": "5",
                           "timestamp": str(int(now)),
                           "first_seen": dt.datetime.fromtimestamp(now - 7200, dt.UTC).isoformat()})
    edited["timestamp"] = str(int(now))
    return edited


@pytest.mark.slow
def test_thirty_days_at_every_15m_with_edits_never_run_out_of_budget(tmp_path: Path, medallion) -> None:
    config = load_config(write_config(tmp_path / "conf"))  # ε 10 per 30 days, the defaults otherwise
    clock = FakeClock(START)
    ledger = open_ledger(config, clock=clock)
    hook = SanitizerHook(Sanitizer.from_config(config), ledger)
    store = FeedStore(tmp_path / "feed")
    events = {e["uuid"]: e for e in load_example_events()}
    for event in events.values():
        store.upsert(event)
    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]
    job = SyncJob(settings_for(tmp_path, "orgA"), [collection_for(api_root, collection, "orgA", direction="push")],
                  store=store, sanitize=hook)
    shareable = sorted(u for u, e in events.items() if hook.sanitizer.sanitize(e)[0] is not None)
    assert len(shareable) >= 10
    rng = random.Random(13)
    # per day: a new indicator, a comment, a sighting; every third day an attribute with a new observed time
    schedule: dict[int, list[str]] = {}
    for day in range(DAYS):
        kinds = ["new-indicator", "comment", "sighting"] + (["observed-time"] if day % 3 == 0 else [])
        for kind in kinds:
            schedule.setdefault(day * 96 + rng.randrange(96), []).append(kind)
    runs = idle_runs = published = 0
    edited: set[tuple[int, str]] = set()
    spent_by_idle = 0.0
    for tick in range(DAYS * 96):
        clock.now = START + tick * EVERY
        for kind in schedule.get(tick, []):
            target = rng.choice(shareable)
            edited.add((tick, target))
            events[target] = _edit(events[target], rng, clock.now, kind)
            store.upsert(events[target], force=True)
        before = ledger.spent()[0]
        summary = job.push()
        runs += 1
        report = summary.reports[0]
        assert report.error is None, (tick, report.error)  # never refused: the budget never runs out
        sent = report.push.published if report.push else 0
        published += sent
        if sent == 0:
            idle_runs += 1
            spent_by_idle += ledger.spent()[0] - before
        assert ledger.spent()[0] <= ledger.budget_epsilon + 1e-9
    assert runs == DAYS * 96 and idle_runs > 2500
    assert spent_by_idle == 0.0  # a run that publishes nothing spends nothing
    assert published >= len(shareable) + len(edited) - 3  # the first release and every edit went out
    assert ledger.remaining()[0] > 0
    # every datum kept one noisy value: no object id was ever published with two different noisy times
    objects = server_objects(api_root, collection, "orgA", "orgA-pass")
    assert objects
    seen_times: dict[str, set[str]] = {}
    for obj in objects:
        if obj.get("type") == "indicator" and "valid_from" in obj:
            seen_times.setdefault(obj["id"], set()).add(obj["valid_from"])
    assert all(len(values) == 1 for values in seen_times.values()), json.dumps(
        {k: sorted(v) for k, v in seen_times.items() if len(v) > 1})[:500]
