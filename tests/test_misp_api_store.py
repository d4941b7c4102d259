"""MispApiStore through real PyMISP against a MISP REST API *test double* (tests/misp_double.py).

No MISP server can run on these machines (PHP/MySQL, not packaged), so the double answers the endpoints we use
with MISP's documented response shapes. Everything else (PyMISP, HTTP, pagination) is real.
"""

from __future__ import annotations

import socket

import pytest

from legion_misp.errors import StoreError
from legion_misp.secrets import Secret
from legion_misp.stores import UpsertResult
from legion_misp.stores.events import normalise_event
from legion_misp.stores.misp_api import MispApiStore
from tests.helpers import make_event
from tests.misp_double import RunningDouble

KEY = "a" * 40


@pytest.fixture
def misp(monkeypatch):
    monkeypatch.setenv("LEGION_TEST_MISP_KEY", KEY)
    double = RunningDouble(KEY)
    yield double
    double.stop()


def _store(misp, page_size: int = 2) -> MispApiStore:
    return MispApiStore(misp.url, Secret("env:LEGION_TEST_MISP_KEY"), page_size=page_size, timeout=5)


def test_round_trip_paginated_and_filtered(misp, events):
    store = _store(misp)
    events[3]["Tag"].append({"name": "PAP:GREEN"})
    counts = store.upsert_many(events)
    assert counts[UpsertResult.CREATED] == 5
    got = list(store.query())
    assert [normalise_event(e) for e in got] == [normalise_event(e) for e in events]
    pages = [path for method, path in misp.app.requests if path == "/events/restSearch"]
    assert len(pages) == 3  # 2 + 2 + 1 with page_size 2
    assert [e["uuid"] for e in store.query(since=1_700_000_004)] == [events[4]["uuid"]]
    assert [e["uuid"] for e in store.query(tags=["PAP:GREEN"])] == [events[3]["uuid"]]


def test_upsert_updates_by_uuid_and_sightings(misp, event):
    store = _store(misp)
    assert store.upsert(event) is UpsertResult.CREATED
    assert store.upsert(event) is UpsertResult.UNCHANGED
    assert store.upsert(dict(event, timestamp="1800000000", info="edited")) is UpsertResult.UPDATED
    assert len(misp.app.events) == 1 and store.get(event["uuid"])["info"] == "edited"
    attribute_uuid = event["Attribute"][0]["uuid"]
    store.add_sighting(attribute_uuid, {"type": "0", "date_sighting": "1700000001", "source": "ids"})
    assert misp.app.events[event["uuid"]]["Attribute"][0]["Sighting"][0]["source"] == "ids"
    assert store.get("0b6d1a4e-1c1f-4a0e-9a51-3f1f0c1b2a3d") is None
    assert store.delete(event["uuid"]) is True and not misp.app.events


def test_wrong_api_key_is_a_clear_error_without_the_key(misp, monkeypatch):
    monkeypatch.setenv("LEGION_TEST_MISP_BAD", "b" * 40)
    with pytest.raises(StoreError) as info:
        MispApiStore(misp.url, Secret("env:LEGION_TEST_MISP_BAD"), timeout=5)
    message = str(info.value)
    assert misp.url in message and "b" * 40 not in message and KEY not in message
    assert "api_key" in message or "Authentication" in message


def test_unreachable_misp_names_the_url(monkeypatch):
    monkeypatch.setenv("LEGION_TEST_MISP_KEY", KEY)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(StoreError) as info:
        MispApiStore(url, Secret("env:LEGION_TEST_MISP_KEY"), timeout=2)
    assert url in str(info.value) and KEY not in str(info.value)


def test_malformed_event_from_server_is_reported_and_others_continue(misp, events):
    store = _store(misp, page_size=10)
    store.upsert_many(events[:2])
    misp.app.events["broken"] = {"uuid": "not-a-uuid", "timestamp": "1700000000"}
    errors: list[StoreError] = []
    assert len(list(store.query(on_error=errors.append))) == 2
    assert len(errors) == 1 and "restSearch" in str(errors[0])


def test_new_event_helper_is_accepted(misp):
    store = _store(misp)
    assert store.upsert(make_event("x")) is UpsertResult.CREATED
