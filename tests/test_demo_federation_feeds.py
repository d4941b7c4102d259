"""The demo federation's member feeds: derived deterministically from the example events, re-owned, overlapping."""

from __future__ import annotations

import json

from legion_misp.demo import default_events_dir
from legion_misp.demo.sharing_stage import DERIVED, OUR_ORG_UUID, invented_indicators, org_uuid, seed_feeds
from legion_misp.stores.events import iter_attributes
from tests.helpers import EXAMPLE_EVENTS


def _values(store) -> set[str]:
    return {str(a["value"]) for e in store.query() for a in iter_attributes(e)}


def test_member_feeds_are_re_owned_copies_with_new_uuids(tmp_path):
    feeds = seed_feeds(tmp_path / "a", default_events_dir())
    originals = {e["uuid"]: e for e in feeds["member-7f3a"].query()}
    assert len(originals) == len(list(EXAMPLE_EVENTS.glob("*.json")))
    original_uuids = {a["uuid"] for e in originals.values() for a in iter_attributes(e)} | set(originals)
    for member, (name, prefixes, _) in DERIVED.items():
        events = list(feeds[member].query())
        assert len(events) == len(prefixes)
        for event in events:
            text = json.dumps(event)
            assert event["Orgc"]["name"] == name and event["Orgc"]["uuid"] == org_uuid(member)
            assert "Example Energy Ltd" not in text and OUR_ORG_UUID not in text
            assert not {a["uuid"] for a in iter_attributes(event)} & original_uuids and event["uuid"] not in originals
            objects = {o["uuid"] for o in event.get("Object", [])}
            for obj in event.get("Object", []):  # object references follow the new uuids
                for reference in obj.get("ObjectReference", []):
                    assert reference["referenced_uuid"] in objects | {a["uuid"] for a in event.get("Attribute", [])}
    again = seed_feeds(tmp_path / "b", default_events_dir())
    for member in DERIVED:  # deterministic
        assert sorted(e["uuid"] for e in again[member].query()) == sorted(e["uuid"] for e in feeds[member].query())


def test_some_indicators_are_published_by_two_or_more_members_and_some_by_one(tmp_path):
    feeds = seed_feeds(tmp_path, default_events_dir())
    ours = _values(feeds["member-7f3a"])
    others = [_values(feeds[m]) for m in DERIVED]
    assert "198.51.100.14" in ours & others[0] & others[1]
    assert ours - others[0] - others[1]
    invented = set(invented_indicators(default_events_dir()))
    assert len(invented) == 25 and not invented & (ours | others[0] | others[1])
