"""``legion sync pull`` into the real MISP 2.5.1 through the pipelined store batch (background writers): a MISP
error mid-run loses nothing and a re-run completes without duplicates."""

from __future__ import annotations

import pytest

from connectors.datastore import MemoryStixCollection
from connectors.publish import Publisher
from connectors.pull import Puller
from connectors.state import SyncState
from legion_misp.errors import StoreError
from tests.support.events import make_event
from tests.sync.conftest import settings_for


@pytest.fixture(autouse=True)
def _fresh_database(misp_fresh):
    misp_fresh.reset()


def _pull(tmp_path, collection, store):
    with SyncState(settings_for(tmp_path, "b").state_path) as state:
        return Puller(collection, state, "k", settings_for(tmp_path, "b", page_size=40), store, peer="member-a").pull()


def _dirty(tmp_path):
    with SyncState(settings_for(tmp_path, "b").state_path) as state:
        return state.dirty_containers("k")


def test_a_misp_error_mid_pull_keeps_its_group_and_a_rerun_completes_without_duplicates(store_for, misp, tmp_path,
                                                                                        monkeypatch):
    events = [make_event(i, 6, org="OrgPeer") for i in range(10)]
    collection = MemoryStixCollection()
    with SyncState(settings_for(tmp_path, "a").state_path) as state:
        publisher = Publisher(collection, state, "k", settings_for(tmp_path, "a"), lambda e: e)
        assert publisher.publish(events).published == 10
    store = store_for()
    racing = events[6]
    # another client creates one of the events after the pull listed MISP's uuids: MISP refuses that add
    assert store.upsert(dict(racing, info="created meanwhile by another client")).value == "created"
    listed = store._all_uuids
    monkeypatch.setattr(store, "_all_uuids", lambda: listed() - {racing["uuid"]})
    assert store.parallel_adds == 2
    with pytest.raises(StoreError, match="1 new event") as failure:
        _pull(tmp_path, collection, store)
    assert racing["uuid"] in str(failure.value)
    assert f"report--{racing['uuid']}" in _dirty(tmp_path)  # its group was not recorded as converted
    uuids = [e["uuid"] for e in store.query()]
    assert sorted(uuids) == sorted(e["uuid"] for e in events)  # the others landed, once each
    assert store.get(racing["uuid"])["info"] == "created meanwhile by another client"

    monkeypatch.undo()
    again = _pull(tmp_path, collection, store)
    assert _dirty(tmp_path) == [] and again.store_failures == 0
    assert again.events_new == 0 and again.events_updated >= 1  # the racing one at least: compared, then edited
    stored = list(store.query())
    assert sorted(e["uuid"] for e in stored) == sorted(e["uuid"] for e in events)  # no duplicate
    assert len(misp.search(controller="events", metadata=True, pythonify=False)) == len(events)
    fixed = store.get(racing["uuid"])
    assert fixed["info"] == racing["info"]
    assert any(t["name"] == 'legion:peer="member-a"' for t in fixed.get("Tag", []))
