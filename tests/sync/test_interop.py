"""Org A publishes, org B pulls, through real medallion 3.0.0 and OpenTAXII 0.10.0b1 servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from legion_misp.stores import MemoryEventStore
from tests.support.events import make_event

from .conftest import PASSWORDS, load_fixture, make_job
from .helpers import assert_each_once, normalised, post_raw, server_objects


def _events(count: int = 6, attributes: int = 8) -> list[dict]:
    events = [make_event(i, attributes) for i in range(count)]
    fixture = load_fixture("generated/misp_event.json")  # objects, galaxy tag, comment on a to_ids attribute
    fixture = fixture.get("Event", fixture)
    fixture.update({"timestamp": "1790000100", "publish_timestamp": "1790000200", "published": True})
    return [*events, fixture]


@pytest.fixture(params=["medallion", "opentaxii"])
def server(request):
    if request.param == "medallion":
        medallion = request.getfixturevalue("medallion")
        return medallion.info.api_root, medallion.info.collections["shared"]
    opentaxii = request.getfixturevalue("opentaxii")
    return opentaxii.info.api_root, request.getfixturevalue("ot_collection")


def test_org_a_publishes_org_b_pulls_same_events(tmp_path, server):
    api_root, collection = server
    local_a = MemoryEventStore(_events())
    push = make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push", envelope_max_objects=40).push()
    assert push.ok, push.format()
    totals = push.totals()
    assert totals["events_published"] == len(local_a) and totals["accepted"] == totals["sent"] > 0

    local_b = MemoryEventStore()
    pull = make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull", peer="member-a",
                    page_size=7).pull()
    assert pull.ok, pull.format()
    assert pull.totals()["new"] == len(local_a)
    for event in local_a.query():
        received = local_b.get(event["uuid"])
        assert received is not None, event["info"]
        assert normalised(received) == normalised(event)
        assert 'legion:peer="member-a"' in {t["name"] for t in received["Tag"]}
    assert_each_once(server_objects(api_root, collection, "orgB", PASSWORDS["orgB"]))

    again = make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull", peer="member-a",
                     page_size=7).pull()
    assert again.totals()["new"] == 0 and again.totals()["updated"] == 0
    assert len(local_b) == len(local_a)


def test_changed_event_is_republished_as_new_version(tmp_path, server):
    api_root, collection = server
    event = make_event(1, 4)
    local_a = MemoryEventStore([event])
    assert make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push").push().ok
    first = make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push").push()
    assert first.totals()["sent"] == 0  # unchanged: nothing resent

    changed = dict(event, timestamp="1790009999", publish_timestamp="1790010000", info="renamed")
    changed["Attribute"] = [*event["Attribute"], {"uuid": "0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11", "type": "domain",
                                                  "category": "Network activity", "value": "new.example",
                                                  "to_ids": True, "timestamp": "1790009999"}]
    local_a.upsert(changed)
    second = make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push").push()
    assert second.ok and second.totals()["events_published"] == 1
    assert 0 < second.totals()["sent"] < first.totals()["sent"] + 20  # only what changed

    versions = [o for o in server_objects(api_root, collection, "orgB", PASSWORDS["orgB"])
                if o["id"] == f"report--{event['uuid']}"]
    assert len(versions) == 2 and len({o["modified"] for o in versions}) == 2
    local_b = MemoryEventStore()
    assert make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull").pull().ok
    assert normalised(local_b.get(event["uuid"])) == normalised(changed)


@pytest.mark.parametrize("name", ["oasis/poisonivy.json", "oasis/indicators-for-C2-with-COA.json",
                                  "misp-stix/test_event1_stix21.json"])
def test_pull_third_party_bundles(tmp_path, opentaxii, ot_collection, name):
    """Content a non-legion producer posted (OASIS examples, misp-stix test bundles) is converted and stored."""
    bundle = load_fixture(name)
    answer = post_raw(opentaxii.info.api_root, ot_collection, "orgC", PASSWORDS["orgC"], bundle["objects"])
    assert answer.status_code == 202, answer.text
    local_b = MemoryEventStore()
    summary = make_job(tmp_path, "orgB", opentaxii.info.api_root, ot_collection, local_b, direction="pull").pull()
    assert summary.ok, summary.format()
    assert summary.totals()["pulled"] == len(bundle["objects"])
    assert len(local_b) >= 1
    attributes = sum(len(e.get("Attribute", [])) + len(e.get("Object", [])) for e in local_b.query())
    assert attributes > 0
