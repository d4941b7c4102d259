"""Publish/pull logic without a server (MemoryStixCollection): envelope caps, sanitise hook, versions, revoked,
state transactions, object checks."""

from __future__ import annotations

import json

import pytest

from connectors.datastore import MemoryStixCollection
from connectors.publish import Publisher
from connectors.pull import REVOKED_TAG, Puller
from connectors.sanitize import SanitizerHook, resolve_sanitizer
from connectors.state import SCHEMA_VERSION, SyncState
from legion_misp.errors import SanitizerUnavailableError
from legion_misp.stix.codec import ObjectRejected, check_object, nesting_depth
from legion_misp.stores import FeedStore, MemoryEventStore
from tests.support.events import make_event

from .conftest import settings_for


class _Recording(MemoryStixCollection):
    def __init__(self):
        super().__init__()
        self.batches: list[tuple[int, int]] = []

    def add(self, objects):
        self.batches.append((len(objects), len(b'{"objects":[]}') + sum(len(o.data) + 1 for o in objects)))
        return super().add(objects)


def _publish(tmp_path, events, sink, *, sanitize=lambda e: e, **overrides):
    settings = settings_for(tmp_path, "a", **overrides)
    with SyncState(settings.state_path) as state:
        return Publisher(sink, state, "k", settings, sanitize).publish(events)


def _pull(tmp_path, source, store, **overrides):
    settings = settings_for(tmp_path, "b", **overrides)
    with SyncState(settings.state_path) as state:
        return Puller(source, state, "k", settings, store).pull()


def test_envelopes_respect_byte_and_object_caps(tmp_path):
    sink = _Recording()
    stats = _publish(tmp_path, [make_event(i, 10) for i in range(5)], sink, envelope_max_objects=30,
                     envelope_max_bytes=20_000)
    assert stats.published == 5 and stats.accepted == stats.sent == len(sink.objects)
    assert len(sink.batches) > 1
    assert all(count <= 30 and size <= 20_000 for count, size in sink.batches)


def test_oversized_object_fails_its_event_only(tmp_path):
    big = make_event(1, 2)
    big["Attribute"][0]["comment"] = "x" * 50_000
    big["Attribute"][0]["to_ids"] = True
    stats = _publish(tmp_path, [big, make_event(2, 2)], _Recording(), envelope_max_bytes=20_000)
    assert stats.published == 1 and stats.failed == 1
    assert any("larger than the envelope cap" in f for f in stats.failures)


def test_sanitise_hook_is_applied_and_can_withhold(tmp_path):
    def hook(event):
        if any(t["name"] == "tlp:red" for t in event["Tag"]):
            return None
        return dict(event, info="sanitised", Attribute=[a for a in event["Attribute"] if a["type"] != "email-src"])

    red = make_event(9, 5, tags=("tlp:red",))
    sink = MemoryStixCollection()
    stats = _publish(tmp_path, [make_event(1, 5), red], sink, sanitize=hook)
    assert stats.withheld == 1 and stats.published == 1
    text = json.dumps([o for _, o in sink.objects])
    assert "sanitised" in text and "@mail.example" not in text and red["uuid"] not in text


def test_no_sanitiser_means_no_push():
    with pytest.raises(SanitizerUnavailableError) as caught:
        resolve_sanitizer(None)
    assert "--no-sanitize" in str(caught.value) and caught.value.exit_code == 2
    assert resolve_sanitizer(None, no_sanitize=True)({"uuid": "x"}) == {"uuid": "x"}


def test_the_sanitiser_hook_returns_the_shared_copy_or_none_with_one_noise_book_per_release(tmp_path):
    """The hook hands each event to the sanitiser with the release's noise book (fresh noise is recorded and paid
    per event inside ``sanitize``: tests/privacy/test_dp_over_time.py); it returns the shared copy or None."""
    from legion_misp.privacy import Ledger, PersistentBook, PrivacyCost

    class Recording:
        def __init__(self):
            self.calls = []

        def release_cost(self):
            return PrivacyCost(0.5, 0.0)

        def sanitize(self, event, book=None):
            self.calls.append((event["uuid"], book))
            return (None if event.get("stay") else dict(event, info="shared")), object()

    sanitizer, ledger = Recording(), Ledger(tmp_path / "ledger.sqlite", budget_epsilon=1.0)
    hook = SanitizerHook(sanitizer, ledger, what="push test")
    assert hook({"uuid": "a"}) == {"uuid": "a", "info": "shared"} and hook({"uuid": "b", "stay": True}) is None
    assert [uuid for uuid, _ in sanitizer.calls] == ["a", "b"]
    assert isinstance(hook.book, PersistentBook) and all(book is hook.book for _, book in sanitizer.calls)
    assert ledger.entries() == []  # no fresh noise drawn: nothing spent (idle releases are free)
    with pytest.raises(SanitizerUnavailableError):
        SanitizerHook(Recording(), None)({"uuid": "c"})  # spends budget but has no ledger: refused


def test_versions_dedup_and_revocation(tmp_path):
    collection = MemoryStixCollection()
    event = make_event(1, 4)
    _publish(tmp_path, [event], collection)
    store = FeedStore(tmp_path / "feed")
    first = _pull(tmp_path, collection, store)
    assert first.events_new == 1 and first.duplicates == 0
    again = _pull(tmp_path, collection, store)
    assert again.new == 0 and again.events_new == 0 and again.duplicates >= 1

    report = next(o for _, o in collection.objects if o["type"] == "report")
    revoked = dict(report, modified="2030-01-01T00:00:00.000Z", revoked=True)
    collection.objects.append(("2030-01-02T00:00:00.000000Z", revoked))
    tagged = _pull(tmp_path, collection, store)
    assert tagged.events_revoked == 1
    assert REVOKED_TAG in {t["name"] for t in store.get(event["uuid"])["Tag"]}

    collection2 = MemoryStixCollection()
    _publish(tmp_path / "x", [event], collection2)
    store2 = FeedStore(tmp_path / "feed2")
    _pull(tmp_path / "y", collection2, store2)
    report2 = next(o for _, o in collection2.objects if o["type"] == "report")
    collection2.objects.append(("2030-01-02T00:00:00.000000Z", dict(report2, modified="2030-01-01T00:00:00.000Z",
                                                                    revoked=True)))
    deleted = _pull(tmp_path / "y", collection2, store2, revoked="delete")
    assert deleted.events_revoked == 1 and store2.get(event["uuid"]) is None


def test_state_transaction_rolls_back(tmp_path):
    with SyncState(tmp_path / "s.sqlite") as state:
        state.set_cursor("k", "2026-01-01T00:00:00.000Z")
        with pytest.raises(RuntimeError), state.transaction():
            state.set_cursor("k", "2027-01-01T00:00:00.000Z")
            state.record_pushed("k", [("indicator--x", "v")])
            raise RuntimeError("crash between the two writes")
        assert state.cursor("k") == "2026-01-01T00:00:00.000Z"
        assert state.pushed_versions("k", [("indicator--x", "v")]) == set()


def test_object_checks():
    ok = {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11",
          "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
          "pattern": "[ipv4-addr:value = '192.0.2.1']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}
    body, version = check_object(ok, max_bytes=10_000, max_nesting=8)
    assert version == "2026-01-02T00:00:00.000Z" and json.loads(body) == ok
    for bad, reason in [([1], "not a JSON object"), (dict(ok, id="malware--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11"),
                                                        "does not match"),
                        (dict(ok, spec_version="2.0"), "is not 2.1"), (dict(ok, x=float("nan")), "not valid JSON"),
                        (dict(ok, x="y" * 20_000), "larger than")]:
        with pytest.raises(ObjectRejected, match=reason):
            check_object(bad, max_bytes=10_000, max_nesting=8)
    deep: dict = {}
    for _ in range(100_000):  # far deeper than the recursion limit: the check is iterative
        deep = {"d": deep}
    assert nesting_depth(deep, 10) > 10
    sco = {"type": "ipv4-addr", "id": "ipv4-addr--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11", "value": "192.0.2.1"}
    assert check_object(sco, max_bytes=1000, max_nesting=8)[1] == ""  # SCOs may omit spec_version


def test_pull_into_memory_never_duplicates(tmp_path):
    collection = MemoryStixCollection()
    events = [make_event(i, 3) for i in range(3)]
    _publish(tmp_path, events, collection)
    store = MemoryEventStore()
    _pull(tmp_path, collection, store, page_size=4)
    _pull(tmp_path / "fresh-state", collection, store, page_size=4)  # state lost: re-converted, upserted by uuid
    assert len(store) == 3


def _dirty(tmp_path, name="b"):
    with SyncState(settings_for(tmp_path, name).state_path) as state:
        return state.dirty_containers("k")


def test_groups_are_recorded_converted_only_after_the_index_announces_them(tmp_path, monkeypatch):
    import connectors.pull as pull_module

    monkeypatch.setattr(pull_module, "CHECKPOINT_EVENTS", 2)
    collection = MemoryStixCollection()
    events = [make_event(i, 3) for i in range(7)]
    _publish(tmp_path, events, collection)
    store = FeedStore(tmp_path / "feed")
    flushes, unannounced = [], []
    real_flush, real_mark = FeedStore._flush_index, SyncState.mark_converted

    def flush(self):
        real_flush(self)
        flushes.append(set(json.loads((self.path / "manifest.json").read_text())))

    def mark(self, collection_key, container, event_uuid, version):
        if not flushes or event_uuid not in flushes[-1]:
            unannounced.append(event_uuid)
        real_mark(self, collection_key, container, event_uuid, version)

    monkeypatch.setattr(FeedStore, "_flush_index", flush)
    monkeypatch.setattr(SyncState, "mark_converted", mark)
    stats = _pull(tmp_path, collection, store, page_size=5)
    assert stats.events_new == 7 and unannounced == []
    assert 1 < len(flushes) < stats.pages  # checkpoints, not one index rewrite per page
    assert flushes[-1] == {e["uuid"] for e in events} and _dirty(tmp_path) == []


def test_a_group_changed_before_the_checkpoint_is_converted_again(tmp_path):
    collection = MemoryStixCollection()
    event = make_event(1, 4)
    _publish(tmp_path, [event, make_event(2, 4), make_event(3, 4)], collection)
    _publish(tmp_path, [dict(event, timestamp="1790009999", info="renamed")], collection)  # a new report version
    store = FeedStore(tmp_path / "feed")
    stats = _pull(tmp_path, collection, store, page_size=3)  # v2 arrives pages after v1 was converted
    assert stats.events_new == 3 and stats.events_updated == 1  # converted once, then again before the checkpoint
    assert store.get(event["uuid"])["info"] == "renamed" and _dirty(tmp_path) == []


def test_an_index_write_failure_leaves_the_groups_to_convert_again(tmp_path, monkeypatch):
    collection = MemoryStixCollection()
    events = [make_event(i, 3) for i in range(3)]
    _publish(tmp_path, events, collection)
    store = FeedStore(tmp_path / "feed")
    real_flush = FeedStore._flush_index

    def failing(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FeedStore, "_flush_index", failing)
    with pytest.raises(OSError, match="No space"):
        _pull(tmp_path, collection, store, page_size=50)
    assert len(_dirty(tmp_path)) == 3  # nothing recorded as converted: the index never announced them
    monkeypatch.setattr(FeedStore, "_flush_index", real_flush)
    again = _pull(tmp_path, collection, store, page_size=50)
    assert _dirty(tmp_path) == [] and {e["uuid"] for e in store.query()} == {e["uuid"] for e in events}
    assert again.events_new + again.events_unchanged == 3


def test_a_version_1_state_file_is_migrated_with_its_staged_objects(tmp_path):
    import hashlib
    import sqlite3

    path = tmp_path / "old.sqlite"
    body = json.dumps({"type": "indicator", "id": "indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11"})
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE seen (collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL,
            digest TEXT NOT NULL, PRIMARY KEY (collection, stix_id, version)) WITHOUT ROWID;
        CREATE TABLE staged (collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL,
            type TEXT NOT NULL, body TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (collection, stix_id)) WITHOUT ROWID;""")
    old.execute("INSERT INTO staged VALUES ('k', 'indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11', 'v2', "
                "'indicator', ?, 0)", (body,))
    old.execute("INSERT INTO seen VALUES ('k', 'indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11', 'v1', 'd1')")
    old.commit()
    old.close()
    with SyncState(path) as state:
        stix_id = "indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11"
        assert state.staged_heads("k", [stix_id]) == {stix_id: ("v2", hashlib.sha256(body.encode()).hexdigest())}
        assert state.seen_digest("k", stix_id, "v1") == "d1"
        assert state.staged_objects("k", [stix_id])[stix_id]["type"] == "indicator"
        version = state.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == str(SCHEMA_VERSION)
    with SyncState(path) as state:  # opening again is a no-op
        assert state.staged_version("k", stix_id) == "v2"


KEY = "https://taxii.example.org/api1/|91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def test_a_version_2_state_file_is_migrated_to_integer_collection_ids(tmp_path):
    import sqlite3

    path = tmp_path / "v2.sqlite"
    ref, report = "indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e7a11", "report--5e7a0c4f-2c0e-4d5b-8f3e-2a1b3c4d5e6f"
    old = sqlite3.connect(path)
    old.executescript(f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE cursors (collection TEXT PRIMARY KEY, added_after TEXT NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE pushed (collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL, at REAL NOT NULL,
            PRIMARY KEY (collection, stix_id, version)) WITHOUT ROWID;
        CREATE TABLE published (collection TEXT NOT NULL, event_uuid TEXT NOT NULL, timestamp INTEGER NOT NULL,
            objects INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (collection, event_uuid)) WITHOUT ROWID;
        CREATE TABLE seen (collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL,
            digest TEXT NOT NULL, PRIMARY KEY (collection, stix_id, version)) WITHOUT ROWID;
        CREATE TABLE staged (row INTEGER PRIMARY KEY, collection TEXT NOT NULL, stix_id TEXT NOT NULL,
            version TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
            digest TEXT NOT NULL);
        CREATE UNIQUE INDEX staged_by_id ON staged (collection, stix_id);
        CREATE TABLE refs (collection TEXT NOT NULL, container TEXT NOT NULL, ref TEXT NOT NULL,
            PRIMARY KEY (collection, container, ref)) WITHOUT ROWID;
        CREATE INDEX refs_by_ref ON refs (collection, ref);
        CREATE TABLE containers (collection TEXT NOT NULL, container TEXT NOT NULL, dirty INTEGER NOT NULL,
            event_uuid TEXT, converted_version TEXT, PRIMARY KEY (collection, container)) WITHOUT ROWID;
        CREATE INDEX containers_dirty ON containers (collection, dirty);
        CREATE TABLE loose (collection TEXT NOT NULL, stix_id TEXT NOT NULL,
            PRIMARY KEY (collection, stix_id)) WITHOUT ROWID;
        INSERT INTO cursors VALUES ('{KEY}', '2026-01-01T00:00:00.000000Z', 0);
        INSERT INTO pushed VALUES ('{KEY}', '{ref}', 'v1', 0), ('other', '{ref}', 'v9', 0);
        INSERT INTO published VALUES ('{KEY}', 'e1', 17, 3, 0);
        INSERT INTO seen VALUES ('{KEY}', '{ref}', 'v1', 'd1');
        INSERT INTO staged (collection, stix_id, version, type, body, revoked, digest)
            VALUES ('{KEY}', '{ref}', 'v2', 'indicator', '{{"id": "{ref}"}}', 0, 'd2');
        INSERT INTO refs VALUES ('{KEY}', '{report}', '{ref}');
        INSERT INTO containers VALUES ('{KEY}', '{report}', 1, NULL, NULL);
        INSERT INTO loose VALUES ('{KEY}', 'identity--x');""")
    old.commit()
    old.close()
    with SyncState(path) as state:
        version = state.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == str(SCHEMA_VERSION)
        assert state.cursor(KEY) == "2026-01-01T00:00:00.000000Z"
        assert state.pushed_versions(KEY, [(ref, "v1"), (ref, "v9")]) == {(ref, "v1")}
        assert state.pushed_versions("other", [(ref, "v9")]) == {(ref, "v9")}
        assert state.published_timestamp(KEY, "e1") == 17
        assert state.seen_digests(KEY, [ref]) == {(ref, "v1"): "d1", (ref, "v2"): "d2"}
        assert state.staged_objects(KEY, [ref]) == {ref: {"id": ref}}
        assert state.containers_referencing_many(KEY, [ref]) == {ref: {report}}
        assert state.dirty_containers(KEY) == [report] and state.take_loose(KEY) == ["identity--x"]
        assert state.counts() == {"pushed": 2, "published": 1, "seen": 1, "staged": 1, "containers": 1}
        names = {r[0] for r in state.db.execute("SELECT name FROM sqlite_master")}
        assert not any(name.endswith("_v2") for name in names) and "refs_by_ref" not in names
    with SyncState(path) as state:  # opening again is a no-op
        assert state.staged_version(KEY, ref) == "v2"


def test_replaced_references_no_longer_point_at_the_container(tmp_path):
    with SyncState(tmp_path / "s.sqlite") as state:
        state.set_refs(KEY, "report--1", {"a", "b"})
        state.set_refs(KEY, "report--2", {"b"})
        state.set_refs(KEY, "report--1", {"b", "c"}, previous={"a", "b"})
        assert state.containers_referencing_many(KEY, ["a", "b", "c"]) == {"b": {"report--1", "report--2"},
                                                                           "c": {"report--1"}}


def test_a_new_container_version_that_drops_a_member_is_not_dirtied_by_it(tmp_path):
    collection = MemoryStixCollection()
    _publish(tmp_path / "x", [make_event(1, 3)], collection)
    store = MemoryEventStore()
    _pull(tmp_path, collection, store)
    report = next(o for _, o in collection.objects if o["type"] == "report")
    dropped = sorted(r for r in report["object_refs"] if r.startswith("indicator--"))[0]
    smaller = dict(report, modified="2030-01-01T00:00:00.000Z",
                   object_refs=[r for r in report["object_refs"] if r != dropped])
    collection.objects.append(("2030-01-02T00:00:00.000000Z", smaller))
    again = _pull(tmp_path, collection, store)
    assert again.events_updated == 1
    with SyncState(settings_for(tmp_path, "b").state_path) as state:
        assert state.containers_referencing("k", dropped) == []
    member = next(o for _, o in collection.objects if o["id"] == dropped)
    collection.objects.append(("2030-01-03T00:00:00.000000Z", dict(member, modified="2030-01-02T00:00:00.000Z")))
    third = _pull(tmp_path, collection, store)  # the dropped member changes: its old event is left alone
    assert third.new == 1 and third.events_updated == 0 and third.events_unchanged == 0


def test_a_collection_id_made_in_a_rolled_back_transaction_is_not_reused(tmp_path):
    with SyncState(tmp_path / "s.sqlite") as state:
        with pytest.raises(RuntimeError), state.transaction():
            state.record_pushed("first", [("indicator--x", "v")])
            raise RuntimeError("rolled back")
        state.record_pushed("second", [("indicator--y", "v")])
        state.record_pushed("first", [("indicator--z", "v")])
        assert state.pushed_versions("second", [("indicator--y", "v"), ("indicator--z", "v")]) == {
            ("indicator--y", "v")}
        assert state.pushed_versions("first", [("indicator--y", "v"), ("indicator--z", "v")]) == {
            ("indicator--z", "v")}


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T05:30:00.250+05:30", "2026-01-01T00:00:00.250000Z"),
    ("2026-01-01T00:00:00.123456789-02:00", "2026-01-01T02:00:00.123456Z"),
    ("2026-01-01T00:00:00+01:00", "2025-12-31T23:00:00.000000Z"),
    ("2026-01-01T00:00:00.5z", "2026-01-01T00:00:00.500000Z"),
])
def test_timestamps_with_offsets_are_read_in_utc(text, expected):
    from connectors.transport import format_timestamp, parse_timestamp

    assert format_timestamp(parse_timestamp(text)) == expected


def test_a_failed_nested_transaction_undoes_only_its_own_changes(tmp_path):
    with SyncState(tmp_path / "s.sqlite") as state:
        with state.transaction():
            state.record_pushed("k", [("indicator--kept", "v")])
            with pytest.raises(RuntimeError), state.transaction():
                state.record_pushed("k", [("indicator--undone", "v")])
                raise RuntimeError("inner failure")
            state.set_cursor("k", "2026-01-01T00:00:00.000000Z")
        assert state.pushed_versions("k", [("indicator--kept", "v"), ("indicator--undone", "v")]) == {
            ("indicator--kept", "v")}
        assert state.cursor("k") == "2026-01-01T00:00:00.000000Z"


class _FailingAfter(MemoryStixCollection):
    """Serves its objects in pages of ``size`` and fails (connection lost) after ``pages`` of them."""

    def __init__(self, objects, size, pages):
        super().__init__()
        self.all, self.size, self.fail_after = objects, size, pages

    def pages(self, cursor, *, page_size):
        from connectors.transport import Page
        from legion_misp.errors import TransportError

        for number, start in enumerate(range(0, len(self.all), self.size)):
            if number == self.fail_after:
                raise TransportError("connection lost (test)")
            yield Page(objects=self.all[start:start + self.size], more=True, next="n", date_added_first=None,
                       date_added_last=f"2030-01-01T00:00:{number:02d}.000000Z")


def test_pages_completed_before_a_failure_are_committed_with_their_cursor(tmp_path):
    from legion_misp.errors import TransportError

    published = MemoryStixCollection()
    _publish(tmp_path / "x", [make_event(i, 5) for i in range(4)], published)
    objects = [o for _, o in published.objects]
    source = _FailingAfter(objects, size=10, pages=3)
    store = MemoryEventStore()
    with pytest.raises(TransportError):
        _pull(tmp_path, source, store)
    with SyncState(settings_for(tmp_path, "b").state_path) as state:
        assert state.cursor("k") == "2030-01-01T00:00:02.000000Z"
        assert state.counts()["staged"] == 30  # three pages of ten, in one uncommitted group when it failed
    source.fail_after = None
    again = _pull(tmp_path, source, store)
    assert again.duplicates == 30 and again.new == len(objects) - 30
    assert {e["uuid"] for e in store.query()} == {make_event(i, 5)["uuid"] for i in range(4)}


class _NoDateAddedHeader(MemoryStixCollection):
    """A server that sends no X-TAXII-Date-Added-Last header."""

    def __init__(self, objects, size):
        super().__init__()
        self.all, self.size = objects, size

    def pages(self, cursor, *, page_size):
        from connectors.transport import Page

        for start in range(0, len(self.all), self.size):
            yield Page(objects=self.all[start:start + self.size], more=start + self.size < len(self.all), next="n",
                       date_added_first=None, date_added_last=None)


def test_pages_without_a_date_added_header_are_reported_and_read_again_without_duplicates(tmp_path, caplog):
    from connectors.job import CollectionReport, RunSummary

    published = MemoryStixCollection()
    _publish(tmp_path / "x", [make_event(i, 3) for i in range(2)], published)
    objects = [o for _, o in published.objects]
    source, store = _NoDateAddedHeader(objects, size=10), MemoryEventStore()
    with caplog.at_level("WARNING", logger="connectors.pull"):
        first = _pull(tmp_path, source, store)
    assert first.pages_without_cursor == -(-len(objects) // 10) and first.events_new == 2
    assert sum("no X-TAXII-Date-Added-Last" in r.getMessage() for r in caplog.records) == 1  # once per run
    with SyncState(settings_for(tmp_path, "b").state_path) as state:
        assert state.cursor("k") is None
    second = _pull(tmp_path, source, store)
    assert second.duplicates == len(objects) and second.new == 0 and len(list(store.query())) == 2
    text = RunSummary("pull", False, [CollectionReport(key="k", kind="pull", pull=second)]).format()
    assert f"note [pull] k: {second.pages_without_cursor} page(s) came without X-TAXII-Date-Added-Last" in text


class _FailingEnvelope(MemoryStixCollection):
    """Accepts envelopes until the ``fail_at``-th, which is lost in transit (connection reset), on the background
    sender thread; records which thread sent each envelope."""

    def __init__(self, fail_at: int | None):
        super().__init__()
        self.fail_at, self.calls, self.threads = fail_at, 0, set()

    def add(self, objects):
        import threading

        from legion_misp.errors import TransportError

        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.calls == self.fail_at:
            raise TransportError("connection reset while posting (test)")
        return super().add(objects)


def test_a_lost_envelope_in_flight_records_nothing_of_it_and_the_rerun_sends_only_the_rest(tmp_path):
    from legion_misp.errors import TransportError

    events = [make_event(i, 6) for i in range(6)]
    sink = _FailingEnvelope(fail_at=3)
    with pytest.raises(TransportError, match="connection reset"):
        _publish(tmp_path, events, sink, envelope_max_objects=20)
    assert all(name.startswith("taxii-post") for name in sink.threads)  # sent while the next events converted
    stored = _keys(sink)
    settings = settings_for(tmp_path, "a")
    with SyncState(settings.state_path) as state:
        recorded = state.pushed_versions("k", stored | {("x", "y")})
        published = [e["uuid"] for e in events if state.published_timestamp("k", e["uuid"]) is not None]
    assert recorded == stored and len(stored) == 40  # the two envelopes answered, nothing of the lost one
    assert 0 < len(published) < len(events)
    sink.fail_at = None
    again = _publish(tmp_path, events, sink, envelope_max_objects=20)
    assert again.unchanged == len(published) and again.published == len(events) - len(published)
    assert again.failed == 0 and len(sink.objects) == len(_keys(sink))  # no object stored twice


def _keys(sink):
    return {(o["id"], o.get("modified") or o.get("created") or "") for _, o in sink.objects}
