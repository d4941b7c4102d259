"""store.kind = "misp" against a real MISP 2.5.1: import, re-import, updates, queries, pages, sightings, rights."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest

from legion_misp.stores import UpsertResult
from legion_misp.stores.misp_api import MispPermissionError
from tests.helpers import EXAMPLE_EVENTS, REPO, load_example_events, make_event

ORG_ADMIN_KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def misp_event(info: str, **kwargs) -> dict:
    """tests.helpers.make_event with an object MISP keeps: MISP drops ("Object dropped due to validation") an object
    without template_uuid, and its domain-ip template wants ip-dst for 'ip'."""
    event = make_event(info, **kwargs)
    event["Object"][0].update(template_uuid="43b3b146-77eb-4931-b4cc-b66c60f28734", template_version="9")
    event["Object"][0]["Attribute"][1].update(type="ip-dst", value="203.0.113.5")
    return event


@pytest.fixture(autouse=True)
def _fresh_database(misp_fresh):
    misp_fresh.reset()  # each test starts from the freshly started MISP (~1 s)


def _legion(misp_fresh, tmp_path, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "legion.toml"
    config.write_text('[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-a"\n'
                      f'[store]\nkind = "misp"\nurl = "{misp_fresh.url}"\napi_key = "env:LEGION_TEST_MISP_CLI_KEY"\n'
                      'verify_tls = false\n')
    env = {**os.environ, "LEGION_TEST_MISP_CLI_KEY": misp_fresh.key}
    return subprocess.run([sys.executable, "-m", "legion_misp", "--config", str(config), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)


def test_cli_import_then_reimport_reports_unchanged_without_noise(misp_fresh, tmp_path):
    first = _legion(misp_fresh, tmp_path, "store", "import", str(EXAMPLE_EVENTS))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "24 created, 0 updated, 0 unchanged, 0 stale"
    second = _legion(misp_fresh, tmp_path, "store", "import", str(EXAMPLE_EVENTS))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "0 created, 0 updated, 24 unchanged, 0 stale"
    for run in (first, second):
        assert "Something went wrong" not in run.stderr and "404" not in run.stderr and "403" not in run.stderr
    listed = _legion(misp_fresh, tmp_path, "store", "list", "--tag", "tlp:amber")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == sum(
        1 for e in load_example_events() if {"name": "tlp:amber"} in e.get("Tag", []))


def test_changed_event_is_updated_in_place_and_then_unchanged(store_for, misp):
    store = store_for()
    original = next(e for e in load_example_events() if len(e.get("Attribute", [])) >= 3 and len(e.get("Tag", [])) >= 2)
    assert store.upsert(original) is UpsertResult.CREATED
    changed = copy.deepcopy(original)  # same timestamp: MISP alone would refuse the edit (not newer)
    changed["info"] += " (revised)"
    changed["Attribute"][0]["comment"] = "re-checked"
    dropped_attribute = changed["Attribute"].pop(1)
    dropped_tag = changed["Tag"].pop()["name"]
    changed["Attribute"].append({"uuid": "0f1e2d3c-4b5a-4968-8776-655443322110", "type": "domain",
                                 "category": "Network activity", "value": "new.example.org", "to_ids": True})
    assert store.upsert(changed) is UpsertResult.UPDATED
    stored = misp.get_event(original["uuid"], pythonify=True)
    assert stored.info == changed["info"]
    by_uuid = {a.uuid: a for a in stored.attributes}
    assert dropped_attribute["uuid"] not in by_uuid and by_uuid["0f1e2d3c-4b5a-4968-8776-655443322110"].to_ids
    assert by_uuid[changed["Attribute"][0]["uuid"]].comment == "re-checked"
    assert dropped_tag not in {t.name for t in stored.tags}
    assert len(misp.search(uuid=original["uuid"])) == 1
    assert store.upsert(changed) is UpsertResult.UNCHANGED
    older = copy.deepcopy(changed)
    older["info"] = "an older copy"
    older["timestamp"] = str(int(original["timestamp"]) - 3600)
    assert store.upsert(older) is UpsertResult.STALE
    assert store.upsert(older, force=True) is UpsertResult.UPDATED
    assert store.get(original["uuid"])["info"] == "an older copy"


def test_values_misp_rewrites_still_count_as_unchanged(store_for):
    store = store_for()
    event = misp_event("rewrites", n_attributes=0)
    event["Attribute"] = [
        {"uuid": f"1b0c8a52-6a39-4a8e-9f3c-0000000000{i:02d}", "type": kind, "category": category, "value": value}
        for i, (kind, category, value) in enumerate([
            ("md5", "Payload delivery", "D41D8CD98F00B204E9800998ECF8427E"),
            ("domain", "Network activity", "Evil.Example.COM."),
            ("ip-dst", "Network activity", "2001:0db8:0000:0000:0000:0000:0000:0001"),
            ("AS", "Network activity", "AS64501"),
            ("datetime", "Other", "2025-03-09T08:12:00+00:00"),
            ("email-src", "Payload delivery", "Billing@Example.ORG"),
            ("vulnerability", "External analysis", "cve-2024-3094")])]
    assert store.upsert(event) is UpsertResult.CREATED
    assert store.upsert(event) is UpsertResult.UNCHANGED
    stored = {a["type"]: a["value"] for a in store.get(event["uuid"])["Attribute"]}
    assert stored["md5"] == "d41d8cd98f00b204e9800998ecf8427e" and stored["ip-dst"] == "2001:db8::1"
    assert stored["AS"] == "64501" and stored["vulnerability"] == "CVE-2024-3094"


def test_query_filters_and_pages(store_for):
    store = store_for(page_size=5)
    events = load_example_events()
    counts = store.upsert_many(events)
    assert counts[UpsertResult.CREATED] == len(events) == 24
    everything = list(store.query())
    assert sorted(e["uuid"] for e in everything) == sorted(e["uuid"] for e in events)  # 5 pages of 5
    timestamps = sorted(int(e["timestamp"]) for e in events)
    since = timestamps[len(timestamps) // 2]
    assert sorted(e["uuid"] for e in store.query(since=since)) == sorted(
        e["uuid"] for e in events if int(e["timestamp"]) >= since)
    wanted = {"tlp:green", "PAP:GREEN"}
    expected = [e["uuid"] for e in events if wanted <= {t["name"] for t in e.get("Tag", [])}]
    assert expected and sorted(e["uuid"] for e in store.query(tags=sorted(wanted))) == sorted(expected)
    published = sorted(e["uuid"] for e in events if e.get("published") is True)
    assert published and sorted(e["uuid"] for e in store.query(published=True)) == published
    assert sorted(e["uuid"] for e in store.query(published=False)) == sorted(
        e["uuid"] for e in events if e["uuid"] not in published)


def test_sightings_and_delete(store_for):
    store = store_for()
    event = misp_event("sighted")
    assert store.upsert(event) is UpsertResult.CREATED
    attribute_uuid = event["Attribute"][0]["uuid"]
    store.add_sighting(attribute_uuid, {"type": "0", "date_sighting": "1700000100", "source": "ids-sensor-3"})
    store.add_sighting(attribute_uuid, {"type": "1", "date_sighting": "1700000200", "source": "analyst"})
    sightings = store.sightings_of(attribute_uuid)
    assert sorted((s["type"], s["source"]) for s in sightings) == [("0", "ids-sensor-3"), ("1", "analyst")]
    assert store.upsert(event) is UpsertResult.UNCHANGED  # sightings are not content
    assert store.delete(event["uuid"]) is True
    assert store.get(event["uuid"]) is None and store.delete(event["uuid"]) is False


@pytest.fixture
def org_admin(misp, misp_fresh):
    """An Org Admin of the instance's own organisation (ORGNAME, id 1), with a known API key."""
    from pymisp import MISPUser

    user = MISPUser()
    user.email = "orgadmin@admin.test"
    user.org_id = 1
    user.role_id = 2  # Org Admin
    created = misp.add_user(user, pythonify=True)
    assert not isinstance(created, dict), created
    misp_fresh.cake("User", "change_authkey", "orgadmin@admin.test", ORG_ADMIN_KEY)
    return ORG_ADMIN_KEY


def test_org_admin_may_edit_own_events_only_and_says_so_per_event(store_for, org_admin, misp):
    admin_store = store_for()
    foreign = misp_event("created by the site admin for another organisation")  # Orgc Example Energy Ltd
    assert admin_store.upsert(foreign) is UpsertResult.CREATED
    store = store_for(key=org_admin)
    assert store.upsert(foreign) is UpsertResult.UNCHANGED  # reading and comparing is allowed
    edited = dict(foreign, info="edited by the org admin")
    with pytest.raises(MispPermissionError) as refused:
        store.upsert(edited)
    message = str(refused.value)
    assert "org admin of the creator organisation (Example Energy Ltd)" in message and foreign["uuid"] in message
    assert misp.get_event(foreign["uuid"], pythonify=True).info == foreign["info"]
    new_foreign = misp_event("another organisation's event")
    with pytest.raises(MispPermissionError, match="sync user"):
        store.upsert(new_foreign)
    own = misp_event("our own")
    own["Orgc"] = {"name": "ORGNAME", "uuid": misp.organisations(pythonify=True)[0].uuid}
    assert store.upsert(own) is UpsertResult.CREATED
    assert store.upsert(dict(own, info="our own, edited")) is UpsertResult.UPDATED
    errors = []
    own_again = dict(own, info="our own, edited twice", timestamp="1800000000")
    counts = store.upsert_many([edited, own_again, new_foreign], on_error=errors.append)
    assert counts[UpsertResult.UPDATED] == 1 and len(errors) == 2
    assert {e.event_uuid for e in errors} == {foreign["uuid"], new_foreign["uuid"]}


def test_batch_adds_new_events_without_probing_and_still_compares_known_ones(store_for):
    store = store_for(page_size=5)
    events = [misp_event(f"batched {i}") for i in range(3)]
    assert store.upsert(events[0]) is UpsertResult.CREATED
    with store.batch():
        assert store._known == {events[0]["uuid"]}
        results = [store.upsert(e) for e in events]
        assert store.upsert(events[1]) is UpsertResult.UNCHANGED  # added in this batch: compared, not re-added
    assert results == [UpsertResult.UNCHANGED, UpsertResult.CREATED, UpsertResult.CREATED]
    assert sorted(e["uuid"] for e in store.query()) == sorted(e["uuid"] for e in events)
