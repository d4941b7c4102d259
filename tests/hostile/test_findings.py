"""Each finding of the hostile-peers issue, reproduced through the pull path (in-memory TAXII-like source, real
SQLite state, real misp-stix): the object is never silently lost, never stored with another meaning."""

from __future__ import annotations

import json

import pytest

from connectors.datastore import MemoryStixCollection
from connectors.pull import Puller
from connectors.quarantine import retry_quarantine
from connectors.settings import SyncSettings
from connectors.state import SyncState
from legion_misp.stix.validate import loads_untrusted
from legion_misp.stores import MemoryEventStore

from .accounting import pairs
from .corpus import corpus, indicator


class RawCollection(MemoryStixCollection):
    """A collection that serves exactly what it is given (duplicates and hostile items included)."""

    def put(self, objects: list) -> None:
        for obj in objects:
            self._clock += 1
            self.objects.append((f"2030-01-01T00:00:00.{self._clock:06d}Z", obj))


def settings(tmp_path, **overrides) -> SyncSettings:
    return SyncSettings(state_path=tmp_path / "state.sqlite", lock_path=tmp_path / "lock", **overrides)


def pull(tmp_path, objects, **overrides):
    source = RawCollection()
    source.put(objects)
    store = MemoryEventStore()
    with SyncState(settings(tmp_path, **overrides).state_path) as state:
        stats = Puller(source, state, "k", settings(tmp_path, **overrides), store).pull()
        entries = state.quarantined()
    return stats, {e.stix_id: e for e in entries if e.stix_id}, list(store.query()), source, store


def case(name):
    found = next(c for c in corpus() if c.name == name)
    return found, loads_untrusted(found.text())["objects"]


@pytest.mark.parametrize("name, code", [("nul-in-pattern", "control-character"),
                                        ("crlf-in-pattern-value", "control-character"),
                                        ("match-all-or", "unsupported-pattern"),
                                        ("pattern-type-python", "unsupported-pattern-type"),
                                        ("domain-120000", "value-too-long")])
def test_findings_are_quarantined_with_their_code_and_the_rest_converted(tmp_path, name, code):
    found, objects = case(name)
    stats, entries, events, _, _ = pull(tmp_path, objects)
    hostile = objects[0]["id"]
    assert entries[hostile].code == code and entries[hostile].reason.startswith(f"{code}: ")
    values = {v for _, v in pairs(events)}
    assert "203.0.113.2" not in values and "203.0.113.1" not in values  # no partial attribute of the OR
    neighbour = found.objects[-1]["id"]
    assert found.expected[neighbour][2] in values
    assert stats.quarantined == 1 and stats.pulled == len(objects)


def test_a_match_all_or_never_becomes_a_plain_attribute(tmp_path):
    _, objects = case("match-all-or")
    _, _, events, _, _ = pull(tmp_path, objects)
    assert not [a for e in events for a in e.get("Attribute", []) if a["value"] == "203.0.113.2"]


def test_conflicting_copies_pull_verdict_matches_the_import(tmp_path):
    """The first copy is kept, the second (other content, revoked) refused: what the import module does too
    (tests/modules/test_hostile_import.py::test_conflicting_copies_get_the_pull_s_verdict)."""
    _, objects = case("conflicting-copies")
    _stats, entries, events, _, _ = pull(tmp_path, objects)
    assert entries[objects[0]["id"]].code == "conflicting-content"
    assert ("ip-dst", "203.0.113.3") in pairs(events) and ("ip-dst", "203.0.113.4") not in pairs(events)


def test_a_peer_cannot_pick_the_internal_parser_with_labels(tmp_path):
    """A report labelled misp:tool="MISP-STIX-Converter" and an IP indicator labelled misp:type="domain": the IP
    arrives as an IP (misp-stix's internal parser would have trusted the label and made a domain)."""
    _, objects = case("label-trick")
    _, entries, events, _, _ = pull(tmp_path, objects)
    assert ("ip-dst", "203.0.113.5") in pairs(events)
    assert ("domain", "203.0.113.5") not in pairs(events) and not entries


def test_a_large_object_is_kept_whole_and_accepted_after_the_limit_is_raised(tmp_path):
    """3 MB > max_object_bytes: quarantined with its whole payload (compressed), accepted by retry once the admin
    raises the limit (the payload used to be cut at 64 KB, so the retry refused it again)."""
    big = indicator("big", "[ipv4-addr:value = '203.0.113.60']", description="long text " * 300_000)
    _stats, entries, events, _, store = pull(tmp_path, [big])
    entry = entries[big["id"]]
    assert entry.code == "too-large" and entry.size > 3_000_000 and json.loads(entry.payload) == big
    assert not events
    relaxed = settings(tmp_path, max_object_bytes=8 * 1024 * 1024)
    with SyncState(relaxed.state_path) as state:
        compressed = state.db.execute("SELECT length(payload_z) FROM quarantine").fetchone()[0]
        resolved, still = retry_quarantine(state, store, relaxed, None)
        assert (resolved, still) == (1, 0) and state.quarantine_size() == 0
    assert compressed < 100_000  # zlib: repetitive text is stored small
    assert ("ip-dst", "203.0.113.60") in pairs(list(store.query()))


def test_above_the_quarantine_cap_the_id_and_size_are_recorded_not_a_truncated_copy(tmp_path):
    big = indicator("huge", "[ipv4-addr:value = '203.0.113.61']", description="x" * 200_000)
    _, entries, _, _, _ = pull(tmp_path, [big], max_object_bytes=100_000, quarantine_max_bytes=150_000)
    entry = entries[big["id"]]
    assert entry.code == "payload-over-cap" and entry.payload is None and entry.size > 200_000
    assert "too-large" in entry.reason and "quarantine_max_bytes" in entry.reason


def test_re_seeing_quarantined_objects_is_not_new(tmp_path):
    """A source that serves the same refused objects again (no cursor progress, as after a last page that was
    all quarantined): they count as still quarantined, not as new refusals."""
    _, objects = case("pattern-within")
    source = RawCollection()
    source.put(objects)
    store = MemoryEventStore()
    with SyncState(settings(tmp_path).state_path) as state:
        first = Puller(source, state, "k", settings(tmp_path), store).pull()
        state.set_cursor("k", "2000-01-01T00:00:00.000000Z")  # the server makes us read it all again
        again = Puller(source, state, "k", settings(tmp_path), store).pull()
        assert len(state.quarantined()) == 1 and state.quarantined()[0].attempts == 2
    assert first.quarantined == 1 and again.quarantined == 0 and again.still_quarantined == 1


def test_an_exception_on_one_object_quarantines_it_and_the_run_goes_on(tmp_path, monkeypatch):
    import connectors.pull as pull_module

    real = pull_module.check_object

    def flaky(obj, **kwargs):
        if isinstance(obj, dict) and obj.get("name") == "boom 0":
            raise KeyError("unexpected library failure")
        return real(obj, **kwargs)

    monkeypatch.setattr(pull_module, "check_object", flaky)
    boom = indicator("boom", "[ipv4-addr:value = '203.0.113.62']", name="boom 0")
    fine = indicator("boom", "[ipv4-addr:value = '203.0.113.63']", n=1)
    _stats, entries, events, _, _ = pull(tmp_path, [boom, fine])
    assert entries[boom["id"]].code == "internal-error"
    assert ("ip-dst", "203.0.113.63") in pairs(events)


def test_a_group_misp_stix_fails_on_is_split_per_object(tmp_path, monkeypatch):
    """misp-stix raising on one object of a group: that object is refused (conversion-failed), the others of the
    group are converted."""
    import legion_misp.stix.codec as codec

    real = codec.stix_to_misp

    def fragile(objects, **kwargs):
        if any(o.get("name") == "poison 0" for o in objects):
            raise AttributeError("misp-stix choked")
        return real(objects, **kwargs)

    monkeypatch.setattr("connectors.pull.stix_to_misp", fragile)
    poison = indicator("poison", "[ipv4-addr:value = '203.0.113.64']", name="poison 0")
    fine = indicator("poison", "[ipv4-addr:value = '203.0.113.65']", n=1)
    _stats, entries, events, _, _ = pull(tmp_path, [poison, fine])
    assert entries[poison["id"]].code == "conversion-failed"
    assert ("ip-dst", "203.0.113.65") in pairs(events)


def test_an_object_refused_at_conversion_is_converted_by_retry(tmp_path, monkeypatch):
    """An object staged then refused when its group was converted (here: misp-stix failing on it) is converted
    again by `quarantine retry` once the cause is gone — not resolved without being converted."""
    import legion_misp.stix.codec as codec

    real = codec.stix_to_misp

    def fragile(objects, **kwargs):
        if any(o.get("name") == "flaky 0" for o in objects):
            raise AttributeError("misp-stix choked")
        return real(objects, **kwargs)

    flaky = indicator("flaky", "[ipv4-addr:value = '203.0.113.66']", name="flaky 0")
    monkeypatch.setattr("connectors.pull.stix_to_misp", fragile)
    _, entries, events, _, store = pull(tmp_path, [flaky])
    assert entries[flaky["id"]].code == "conversion-failed" and not events
    monkeypatch.setattr("connectors.pull.stix_to_misp", real)  # misp-stix fixed
    with SyncState(settings(tmp_path).state_path) as state:
        assert retry_quarantine(state, store, settings(tmp_path), None) == (1, 0)
    assert ("ip-dst", "203.0.113.66") in pairs(list(store.query()))
