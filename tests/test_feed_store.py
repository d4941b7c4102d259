"""FeedStore: MISP's feed layout, lossless round trip, atomic writes, clear errors on bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from legion_misp.errors import EventFormatError, StoreError
from legion_misp.stores import FeedStore, MemoryEventStore, UpsertResult
from legion_misp.stores.events import normalise_event
from legion_misp.stores.feed import MANIFEST_KEYS, ManifestMismatchError
from tests.helpers import REPO, make_event


def test_layout_matches_misp_feed_format(tmp_path, events):
    store = FeedStore(tmp_path / "feed")
    with store.batch():
        for event in events:
            assert store.upsert(event) is UpsertResult.CREATED
    manifest = json.loads((tmp_path / "feed" / "manifest.json").read_text())
    assert set(manifest) == {e["uuid"] for e in events}
    for event in events:
        entry = manifest[event["uuid"]]
        assert set(entry) == set(MANIFEST_KEYS)
        assert entry["timestamp"] == int(event["timestamp"]) and isinstance(entry["timestamp"], int)
        assert entry["Orgc"] == {"name": "Example Energy Ltd", "uuid": event["Orgc"]["uuid"]}
        assert entry["Tag"] == [{"name": "tlp:green"}]
        document = json.loads((tmp_path / "feed" / f"{event['uuid']}.json").read_text())
        assert list(document) == ["Event"] and document["Event"]["uuid"] == event["uuid"]
    lines = (tmp_path / "feed" / "hashes.csv").read_text().splitlines()
    expected = {f"{hashlib.md5(v.encode()).hexdigest()},{events[0]['uuid']}"
                for v in ("198.51.100.1", "c2.example.net", "203.0.113.5", "443")}
    assert expected <= set(lines)
    assert all(len(line.split(",")[0]) == 32 for line in lines)


def test_pymisp_reads_our_feed_files(tmp_path, event):
    from pymisp import MISPEvent

    store = FeedStore(tmp_path)
    store.upsert(event)
    loaded = MISPEvent()
    loaded.load_file(str(tmp_path / f"{event['uuid']}.json"))
    assert loaded.uuid == event["uuid"] and len(loaded.attributes) == 3 and len(loaded.objects) == 1


def test_round_trip_is_lossless_and_query_filters(tmp_path, events):
    events[1]["Tag"].append({"name": "PAP:GREEN"})
    events[2]["published"] = False
    store = FeedStore(tmp_path)
    store.upsert_many(events)
    reread = {e["uuid"]: e for e in FeedStore(tmp_path, create=False).query()}
    assert {u: normalise_event(e) for u, e in reread.items()} == {e["uuid"]: normalise_event(e) for e in events}
    assert [e["uuid"] for e in store.query(since=1_700_000_003)] == [events[3]["uuid"], events[4]["uuid"]]
    assert [e["uuid"] for e in store.query(tags=["PAP:GREEN"])] == [events[1]["uuid"]]
    assert [e["uuid"] for e in store.query(published=False)] == [events[2]["uuid"]]


def test_upsert_never_duplicates_and_keeps_newer(tmp_path, event):
    store = FeedStore(tmp_path)
    assert store.upsert(event) is UpsertResult.CREATED
    assert store.upsert(event) is UpsertResult.UNCHANGED
    older = dict(event, timestamp="1600000000", info="older copy")
    assert store.upsert(older) is UpsertResult.STALE
    newer = dict(event, timestamp="1800000000", info="newer copy")
    assert store.upsert(newer) is UpsertResult.UPDATED
    assert len(list(store.query())) == 1 and store.get(event["uuid"])["info"] == "newer copy"
    assert store.manifest()[event["uuid"]]["timestamp"] == 1800000000


def test_sightings_and_delete(tmp_path, event):
    store = FeedStore(tmp_path)
    store.upsert(event)
    attribute_uuid = event["Object"][0]["Attribute"][0]["uuid"]
    store.add_sighting(attribute_uuid, {"type": "0", "date_sighting": "1700000100", "source": "sensor-1"})
    assert [s["source"] for s in store.sightings_of(attribute_uuid)] == ["sensor-1"]
    with pytest.raises(StoreError, match="no attribute"):
        store.add_sighting("00000000-0000-4000-8000-000000000000", {"type": "0"})
    assert store.delete(event["uuid"]) is True
    assert store.get(event["uuid"]) is None and store.manifest() == {}
    assert store.delete(event["uuid"]) is False


def test_bad_files_give_clear_errors_and_others_continue(tmp_path, events):
    store = FeedStore(tmp_path)
    store.upsert_many(events)
    broken = [events[0]["uuid"], events[1]["uuid"], events[2]["uuid"]]
    (tmp_path / f"{broken[0]}.json").write_text("{not json", encoding="utf-8")
    (tmp_path / f"{broken[1]}.json").write_bytes(b'{"Event": {"uuid": "' + broken[1].encode() + b'", "info": "\xff"}}')
    (tmp_path / f"{broken[2]}.json").unlink()
    errors: list[StoreError] = []
    good = list(store.query(on_error=errors.append))
    assert [e["uuid"] for e in good] == [events[3]["uuid"], events[4]["uuid"]]
    messages = {e.event_uuid or e.location: str(e) for e in errors}
    assert len(errors) == 3
    assert any("malformed JSON" in m and broken[0] in m for m in messages.values())
    assert any("not UTF-8" in m and broken[1] in m for m in messages.values())
    assert any(isinstance(e, ManifestMismatchError) and "missing" in str(e) for e in errors)
    with pytest.raises(StoreError):
        list(store.query())


def test_event_without_event_or_uuid_is_rejected(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    store = FeedStore(tmp_path)
    with pytest.raises(EventFormatError, match="no valid 'uuid'"):
        store.upsert({"info": "no uuid"})
    path = tmp_path / "0b6d1a4e-1c1f-4a0e-9a51-3f1f0c1b2a3d.json"
    path.write_text(json.dumps({"info": "bare, no Event"}))
    with pytest.raises(EventFormatError, match="'Event' member"):
        store.read_event_file(path)


def test_check_reports_manifest_disagreements(tmp_path, events):
    store = FeedStore(tmp_path)
    store.upsert_many(events[:2])
    manifest = store.manifest()
    manifest[events[0]["uuid"]]["timestamp"] = 1
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / f"{events[2]['uuid']}.json").write_text(json.dumps({"Event": events[2]}))
    problems = store.check()
    assert len(problems) == 2
    assert any("differs from the file" in str(p) for p in problems)
    assert any("not listed in the manifest" in str(p) for p in problems)


def test_memory_store_behaves_like_feed_store(events):
    store = MemoryEventStore(events)
    assert len(store) == 5
    assert [e["uuid"] for e in store.query(since=1_700_000_004)] == [events[4]["uuid"]]
    assert store.upsert(events[0]) is UpsertResult.UNCHANGED
    assert next(store.events_with_value("203.0.113.5"))["uuid"] == events[0]["uuid"]


def test_interrupted_writer_leaves_consistent_feed(tmp_path):
    """SIGKILL a writer in the middle of a bulk write: every manifest entry names a complete, parseable file."""
    feed = tmp_path / "feed"
    script = textwrap.dedent(f"""
        import sys, os
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from helpers import make_event
        from legion_misp.stores import FeedStore
        store = FeedStore({str(feed)!r})
        i = 0
        while True:
            store.upsert(make_event(f"e{{i}}", timestamp=1_700_000_000 + i, n_attributes=200))
            i += 1
            if i == 5:
                print("ready", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    store = FeedStore(feed)
    manifest = store.manifest()
    assert len(manifest) >= 5
    for event_uuid in manifest:
        assert store.get(event_uuid)["uuid"] == event_uuid
    assert not [p for p in store.check() if "missing" in str(p) or "JSON" in str(p)]
    assert store.upsert(make_event("after restart")) is UpsertResult.CREATED


def test_hashes_index_survives_reading_back_and_rewriting(tmp_path, events):
    FeedStore(tmp_path / "feed").upsert_many(events[:-1])
    before = set((tmp_path / "feed" / "hashes.csv").read_text().splitlines())
    FeedStore(tmp_path / "feed").upsert(events[-1])  # a new writer re-reads hashes.csv, then rewrites it
    after = set((tmp_path / "feed" / "hashes.csv").read_text().splitlines())
    added = {line for line in after if line.endswith(events[-1]["uuid"])}
    assert before and added and after == before | added
    assert all(len(line.split(",")[0]) == 32 for line in after)


def test_a_batch_is_made_durable_once_before_its_index_is_written(tmp_path, monkeypatch):
    from legion_misp.stores import feed

    calls: list[str] = []
    real_make_durable, real_atomic = feed.make_durable, feed.atomic_write_bytes

    def make_durable(folder, files):
        calls.append(f"durable {len(list(files))}")
        real_make_durable(folder, files)

    def atomic_write_bytes(path, data, *, durable=True):
        calls.append(f"{'index' if durable else 'event'} {path.name}")
        real_atomic(path, data, durable=durable)

    monkeypatch.setattr(feed, "make_durable", make_durable)
    monkeypatch.setattr(feed, "atomic_write_bytes", atomic_write_bytes)
    store = FeedStore(tmp_path / "feed")
    events = [make_event(i) for i in range(5)]
    with store.batch():
        for event in events:
            store.upsert(event)
    assert calls == [f"event {e['uuid']}.json" for e in events] + ["durable 5", "index manifest.json",
                                                                    "index hashes.csv"]


def test_when_flushing_to_disk_fails_the_index_does_not_announce_the_batch(tmp_path, monkeypatch):
    from legion_misp.stores import feed

    store = FeedStore(tmp_path / "feed")
    first, second = make_event(1), make_event(2)
    store.upsert(first)

    def failing(folder, files):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(feed, "make_durable", failing)
    with pytest.raises(OSError, match="Input/output"):
        store.upsert(second)
    assert set(json.loads((tmp_path / "feed" / "manifest.json").read_text())) == {first["uuid"]}
    monkeypatch.undo()
    assert store.upsert(second) is UpsertResult.UNCHANGED  # the file is there: announced now
    assert set(json.loads((tmp_path / "feed" / "manifest.json").read_text())) == {first["uuid"], second["uuid"]}


def test_make_durable_flushes_files_that_still_exist(tmp_path, monkeypatch):
    from legion_misp.stores import feed

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(feed, "_syncfs", lambda folder: False)  # the fallback: one fsync per file
    monkeypatch.setattr(feed.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    (tmp_path / "a.json").write_bytes(b"{}")
    feed.make_durable(tmp_path, [tmp_path / "a.json", tmp_path / "gone.json"])
    assert len(synced) == 2  # a.json and the folder; the missing file is skipped
    monkeypatch.undo()
    assert feed._syncfs(tmp_path) is sys.platform.startswith("linux")  # glibc and musl have syncfs
