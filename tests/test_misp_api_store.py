"""MispApiStore error paths against a MISP REST API *test double* (tests/misp_double.py): a malformed event in a
restSearch answer (a real MISP cannot be made to send one), a rejected key, an unreachable server. Import,
re-import, updates, queries, pages, sightings and rights are tested against a real MISP 2.5.1 in tests/misp/.
"""

from __future__ import annotations

import socket

import pytest

from legion_misp.errors import StoreError
from legion_misp.secrets import Secret
from legion_misp.stores.misp_api import MispApiStore
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
