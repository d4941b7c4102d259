"""Every example event round-trips through every store without loss (normalised JSON compared)."""

from __future__ import annotations

import pytest

from legion_misp.secrets import Secret
from legion_misp.stores import FeedStore, MemoryEventStore
from legion_misp.stores.events import normalise_event
from legion_misp.stores.misp_api import MispApiStore
from tests.helpers import load_example_events
from tests.misp_double import RunningDouble


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


def test_misp_api_store_round_trip(examples, monkeypatch):
    monkeypatch.setenv("LEGION_TEST_MISP_KEY", "k" * 40)
    double = RunningDouble("k" * 40)
    try:
        store = MispApiStore(double.url, Secret("env:LEGION_TEST_MISP_KEY"), page_size=7, timeout=5)
        store.upsert_many(examples)
        assert _normalised(store.query()) == _normalised(examples)
    finally:
        double.stop()
