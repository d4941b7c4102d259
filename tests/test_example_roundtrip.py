"""Every example event round-trips through the file and memory stores without loss (normalised JSON compared).
The MISP store round trip (import, re-import unchanged) runs against a real MISP in tests/misp/test_store_real.py."""

from __future__ import annotations

import pytest

from legion_misp.stores import FeedStore, MemoryEventStore
from legion_misp.stores.events import normalise_event
from tests.helpers import load_example_events


@pytest.fixture(scope="module")
def examples():
    events = load_example_events()
    assert len(events) >= 20
    return events


def _normalised(events):
    return {e["uuid"]: normalise_event(e) for e in events}


def test_feed_store_round_trip(tmp_path, examples):
    store = FeedStore(tmp_path / "feed")
    with store.batch():
        store.upsert_many(examples)
    assert _normalised(FeedStore(tmp_path / "feed", create=False).query()) == _normalised(examples)
    assert store.check() == []


def test_memory_store_round_trip(examples):
    assert _normalised(MemoryEventStore(examples).query()) == _normalised(examples)
