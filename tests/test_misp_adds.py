"""The rules that keep MISP's parallel adds race-free (legion_misp.stores.misp_adds), on a recording add function.

The real MISP runs the same queue in tests/misp/test_store_real.py; here the order of adds is observed exactly."""

from __future__ import annotations

import threading
import time

import pytest

from legion_misp.errors import StoreError
from legion_misp.stores.misp_adds import (
    ANY_IP,
    AddQueue,
    CorrelationSettings,
    correlating_values,
    created_by_add,
)
from tests.support.events import make_event


class _Recorder:
    """An add that takes ``delay`` seconds and records which events were in flight together."""

    def __init__(self, delay: float = 0.05, fail: frozenset[str] = frozenset()):
        self.delay, self.fail = delay, fail
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.overlaps: set[frozenset[str]] = set()
        self.done: list[str] = []

    def __call__(self, event):
        with self.lock:
            for other in self.running:
                self.overlaps.add(frozenset({other, event["info"]}))
            self.running.add(event["info"])
        time.sleep(self.delay)
        with self.lock:
            self.running.discard(event["info"])
            self.done.append(event["info"])
        if event["info"] in self.fail:
            raise StoreError("MISP answered HTTP 500 (test)", event_uuid=event["uuid"])


def _event(name: str, index: int, *, tags=("tlp:green",), org: str = "OrgA") -> dict:
    return make_event(index, 4, org=org, tags=tags, info=name)


PLAIN = CorrelationSettings(limit=20, advanced=False)


def _run(events, recorder, *, writers=3, settings=PLAIN):
    queue = AddQueue(recorder, writers=writers, location="test", correlation=settings)
    for event in events:
        queue.submit(event)
    return queue.close()


def test_the_first_event_naming_new_tags_goes_alone_then_the_rest_in_parallel():
    recorder = _Recorder()
    events = [_event(f"e{i}", i) for i in range(5)]
    assert _run(events, recorder) == []
    assert sorted(recorder.done) == [f"e{i}" for i in range(5)]
    assert not any("e0" in pair for pair in recorder.overlaps)  # it created tlp:green and OrgA
    assert recorder.overlaps  # the others did run together


def test_a_new_organisation_or_tag_waits_for_the_adds_in_flight():
    recorder = _Recorder()
    events = [_event("a0", 0), _event("a1", 1), _event("a2", 2), _event("b", 3, org="OrgB"), _event("c", 4)]
    events.append(_event("t", 5, tags=("tlp:amber",)))
    _run(events, recorder)
    names = [e["info"] for e in events]
    for newcomer in ("b", "t"):  # never in flight with an event submitted before it (later ones create nothing)
        earlier = set(names[:names.index(newcomer)])
        assert not any(newcomer in pair and pair & earlier for pair in recorder.overlaps), newcomer


def test_events_sharing_a_correlating_value_never_overlap_until_it_over_correlates():
    recorder = _Recorder()
    events = [_event(f"e{i}", i) for i in range(30)]
    for event in events:
        event["Attribute"][1]["value"] = "Shared.Example"  # case-folded like MariaDB compares
        event["Attribute"][1]["type"] = "domain"
    events[7]["Attribute"][1]["value"] = "shared.example"
    _run(events, recorder, settings=CorrelationSettings(limit=5, advanced=False))
    assert recorder.done[:6] == [f"e{i}" for i in range(6)]
    early = set(recorder.done[:6])  # until six other attributes hold it, MISP (limit 5) still correlates it
    assert not any(pair & early for pair in recorder.overlaps)
    assert recorder.overlaps  # over-correlating afterwards: MISP inserts nothing for it, adds go in parallel


def test_without_a_known_limit_a_shared_value_keeps_adds_sequential():
    recorder = _Recorder(delay=0.01)
    events = [_event(f"e{i}", i) for i in range(8)]
    for event in events:
        event["Attribute"][0]["value"] = "same.example"
        event["Attribute"][0]["type"] = "domain"
    _run(events, recorder, settings=CorrelationSettings(limit=None))
    assert recorder.overlaps == set()


def test_correlating_values_follow_misps_rules():
    event = {"Attribute": [
        {"type": "ip-dst|port", "value": "198.51.100.1|443"},
        {"type": "domain|ip", "value": "A.example|198.51.100.2"},
        {"type": "port", "value": "443"},
        {"type": "text", "value": "TCP"},
        {"type": "text", "value": "x", "disable_correlation": True},
        {"type": "comment", "value": "note"},
    ], "Object": [{"Attribute": [{"type": "ip-src", "value": "203.0.113.9"}]}]}
    plain = correlating_values(event, CorrelationSettings(advanced=False))
    assert set(plain) == {"198.51.100.1", "a.example", "198.51.100.2", "tcp", "203.0.113.9"}
    assert correlating_values(event, CorrelationSettings(advanced=True))[ANY_IP] == 3
    assert not correlating_values(event, CorrelationSettings(disabled=True))
    assert not correlating_values(dict(event, disable_correlation=True))


def test_created_by_add_finds_tags_orgs_and_groups_everywhere():
    event = make_event(1, 2, tags=("tlp:green",))
    event["Attribute"][0]["Tag"] = [{"name": "kill-chain:delivery"}]
    event["Attribute"][1]["Sighting"] = [{"Organisation": {"uuid": "sighting-org"}}]
    event["SharingGroup"] = {"uuid": "sg-1", "name": "partners"}
    event["Galaxy"] = [{"uuid": "g-1", "GalaxyCluster": [{"uuid": "c-1", "tag_name": "misp-galaxy:x=\"y\""}]}]
    found = created_by_add(event)
    assert {("tag", "tlp:green"), ("tag", "kill-chain:delivery"), ("org", "sighting-org"),
            ("sharing-group", "sg-1"), ("Galaxy", "g-1"), ("GalaxyCluster", "c-1")} <= found
    assert ("org", event["Orgc"]["uuid"]) in found


def test_a_failed_add_is_reported_at_close_and_the_others_land():
    recorder = _Recorder(fail=frozenset({"e2"}))
    failures = _run([_event(f"e{i}", i) for i in range(5)], recorder)
    assert len(failures) == 1 and "HTTP 500" in str(failures[0])
    assert sorted(recorder.done) == [f"e{i}" for i in range(5)]


def test_waiting_for_the_same_uuid_raises_its_failure():
    recorder = _Recorder(fail=frozenset({"e0"}))
    queue = AddQueue(recorder, writers=2, location="test")
    event = _event("e0", 0)
    queue.submit(event)
    with pytest.raises(StoreError, match="HTTP 500"):
        queue.wait_for(event["uuid"])
    assert queue.close() == []  # reported once, to the caller who waited


def _sharing(count: int, value: str = "shared.example") -> list[dict]:
    events = [_event(f"e{i}", i) for i in range(count)]
    for event in events:
        event["Attribute"][1].update(value=value, type="domain")
    return events


def test_a_value_misp_blocks_during_the_batch_stops_holding_adds_back():
    recorder = _Recorder(delay=0.02)
    readings = []

    def over_correlating():  # MISP's list: the shared value is blocked once three adds finished
        readings.append(len(recorder.done))
        return {"shared.example"} if len(recorder.done) >= 3 else {"other.example"}

    queue = AddQueue(recorder, writers=3, location="test", correlation=CorrelationSettings(limit=100, advanced=False),
                     over_correlating=over_correlating, refresh_every=2)
    for event in _sharing(12):
        queue.submit(event)
    assert queue.close() == []
    assert recorder.overlaps  # parallel long before 100 holders
    assert len(readings) < 12  # read at batch start, then at most once every two finished adds


def test_a_value_blocked_before_the_batch_may_be_stale_and_still_holds_adds_back():
    recorder = _Recorder(delay=0.01)
    queue = AddQueue(recorder, writers=3, location="test", correlation=CorrelationSettings(limit=100, advanced=False),
                     over_correlating=lambda: {"shared.example"}, refresh_every=1)
    for event in _sharing(8):
        queue.submit(event)
    queue.close()
    assert recorder.overlaps == set()  # its attributes may have been deleted since: MISP could correlate it again
