"""Sync state in SQLite: cursors, pushed object versions, published events, the pull staging area and dedup index,
the quarantine and the run history.

Every change that must be atomic (a page of pulled objects plus the cursor past it; an envelope's accepted objects
plus the events they complete) happens inside one :meth:`SyncState.transaction` (``BEGIN IMMEDIATE``). The database
uses WAL journaling, so ``legion sync status`` can read while a run writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2  # 2: staged rows carry their digest and a rowid; `seen` keeps only superseded versions

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (
    collection TEXT PRIMARY KEY, added_after TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pushed (
    collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (collection, stix_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS published (
    collection TEXT NOT NULL, event_uuid TEXT NOT NULL, timestamp INTEGER NOT NULL, objects INTEGER NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (collection, event_uuid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (collection, stix_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS staged (
    row INTEGER PRIMARY KEY, collection TEXT NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL,
    type TEXT NOT NULL, body TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS staged_by_id ON staged (collection, stix_id);
CREATE TABLE IF NOT EXISTS refs (
    collection TEXT NOT NULL, container TEXT NOT NULL, ref TEXT NOT NULL,
    PRIMARY KEY (collection, container, ref)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_by_ref ON refs (collection, ref);
CREATE TABLE IF NOT EXISTS containers (
    collection TEXT NOT NULL, container TEXT NOT NULL, dirty INTEGER NOT NULL, event_uuid TEXT,
    converted_version TEXT, PRIMARY KEY (collection, container)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS containers_dirty ON containers (collection, dirty);
CREATE TABLE IF NOT EXISTS loose (
    collection TEXT NOT NULL, stix_id TEXT NOT NULL, PRIMARY KEY (collection, stix_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, stix_id TEXT, version TEXT,
    reason TEXT NOT NULL, payload TEXT, at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,
    resolved INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS quarantine_open ON quarantine (resolved, collection);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, started REAL NOT NULL, finished REAL,
    ok INTEGER, dry_run INTEGER NOT NULL DEFAULT 0, summary TEXT);
"""

PAYLOAD_CAP = 64 * 1024  # bytes of a quarantined payload kept for inspection
_WAL_PAGES = 10_000  # WAL pages before an automatic checkpoint (~40 MB on disk): fewer, larger checkpoints
_IN_CHUNK = 500  # values per "IN (...)" query (SQLite allows 32,766 bound parameters; older builds 999)


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    collection: str
    stix_id: str | None
    version: str | None
    reason: str
    payload: str | None
    at: float
    attempts: int
    resolved: bool


class SyncState:
    """The state database. One connection per instance; not shared between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")
        self._depth = 0
        self._migrate()
        self.db.executescript(_SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _migrate(self) -> None:
        """Bring a state file written by an older version up to :data:`SCHEMA_VERSION` (in one transaction)."""
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) >= SCHEMA_VERSION:
            return
        if int(row[0]) != 1:
            raise sqlite3.DatabaseError(f"{self.path}: unknown sync state schema version {row[0]}")
        self.db.create_function("sha256_hex", 1, lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                deterministic=True)
        with self.transaction():
            self.db.execute("ALTER TABLE staged RENAME TO staged_v1")
            self.db.execute("CREATE TABLE staged (row INTEGER PRIMARY KEY, collection TEXT NOT NULL, "
                            "stix_id TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, "
                            "revoked INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL)")
            self.db.execute("CREATE UNIQUE INDEX staged_by_id ON staged (collection, stix_id)")
            self.db.execute("INSERT INTO staged (collection, stix_id, version, type, body, revoked, digest) "
                            "SELECT collection, stix_id, version, type, body, revoked, sha256_hex(body) "
                            "FROM staged_v1")
            self.db.execute("DROP TABLE staged_v1")
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SyncState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception). Nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    # ---- cursors --------------------------------------------------------------------------------------------

    def cursor(self, collection: str) -> str | None:
        row = self.db.execute("SELECT added_after FROM cursors WHERE collection = ?", (collection,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, collection: str, added_after: str) -> None:
        self.db.execute("INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT(collection) DO UPDATE SET "
                        "added_after = excluded.added_after, updated_at = excluded.updated_at",
                        (collection, added_after, time.time()))

    def cursors(self) -> dict[str, tuple[str, float]]:
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT collection, added_after, updated_at FROM cursors")}

    # ---- push -----------------------------------------------------------------------------------------------

    def pushed_versions(self, collection: str, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The subset of ``keys`` ((id, version)) already accepted by the collection."""
        found = set()
        for stix_id, version in keys:
            if self.db.execute("SELECT 1 FROM pushed WHERE collection = ? AND stix_id = ? AND version = ?",
                               (collection, stix_id, version)).fetchone():
                found.add((stix_id, version))
        return found

    def record_pushed(self, collection: str, keys: Iterable[tuple[str, str]]) -> None:
        now = time.time()
        self.db.executemany("INSERT OR IGNORE INTO pushed VALUES (?, ?, ?, ?)",
                            [(collection, stix_id, version, now) for stix_id, version in keys])

    def published_timestamp(self, collection: str, event_uuid: str) -> int | None:
        row = self.db.execute("SELECT timestamp FROM published WHERE collection = ? AND event_uuid = ?",
                              (collection, event_uuid)).fetchone()
        return row[0] if row else None

    def record_published(self, collection: str, event_uuid: str, timestamp: int, objects: int) -> None:
        self.db.execute("INSERT INTO published VALUES (?, ?, ?, ?, ?) ON CONFLICT(collection, event_uuid) DO UPDATE "
                        "SET timestamp = excluded.timestamp, objects = excluded.objects, at = excluded.at",
                        (collection, event_uuid, timestamp, objects, time.time()))

    # ---- pull: dedup index and staging area -----------------------------------------------------------------
    # An object's latest version lives in ``staged`` with its content digest; ``seen`` holds the digests of the
    # other versions received (superseded or older ones), so the dedup index costs no extra row per new object.
    # The plural methods take or return many rows at once: a pulled page is looked up in a few queries and written
    # with ``executemany`` (one query per object made SQLite the largest part of the pull path's own time).

    def seen_digest(self, collection: str, stix_id: str, version: str) -> str | None:
        return self.seen_digests(collection, [stix_id]).get((stix_id, version))

    def seen_digests(self, collection: str, ids: Iterable[str]) -> dict[tuple[str, str], str]:
        """(id, version) → content digest for every version received of these ids."""
        ids = list(ids)
        found = self.other_versions(collection, ids)
        found.update(((i, v), d) for i, (v, d) in self.staged_heads(collection, ids).items())
        return found

    def other_versions(self, collection: str, ids: Iterable[str]) -> dict[tuple[str, str], str]:
        """(id, version) → digest of the versions received that are not the staged one."""
        return {(r[0], r[1]): r[2] for r in self._select_in(
            "SELECT stix_id, version, digest FROM seen WHERE collection = ? AND stix_id IN ({})", collection, ids)}

    def record_seen_many(self, collection: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """Record (id, version, digest) of versions that are not (or no longer) the staged one."""
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)",
                            [(collection, *row) for row in rows])

    def staged_version(self, collection: str, stix_id: str) -> str | None:
        head = self.staged_heads(collection, [stix_id]).get(stix_id)
        return head[0] if head else None

    def staged_heads(self, collection: str, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """id → (version, digest) of the staged version."""
        return {r[0]: (r[1], r[2]) for r in self._select_in(
            "SELECT stix_id, version, digest FROM staged WHERE collection = ? AND stix_id IN ({})", collection, ids)}

    def stage_many(self, collection: str, rows: Iterable[tuple[str, str, str, str, bool, str]]) -> None:
        """Stage (id, version, type, body, revoked, digest) rows; a later row for an id replaces an earlier one.
        The caller records the replaced version in ``seen`` (:meth:`record_seen_many`)."""
        self.db.executemany("INSERT INTO staged (collection, stix_id, version, type, body, revoked, digest) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(collection, stix_id) DO UPDATE "
                            "SET version = excluded.version, type = excluded.type, body = excluded.body, "
                            "revoked = excluded.revoked, digest = excluded.digest",
                            [(collection, i, v, t, b, int(r), d) for i, v, t, b, r, d in rows])

    def staged_objects(self, collection: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self._select_in(
            "SELECT stix_id, body FROM staged WHERE collection = ? AND stix_id IN ({})", collection, ids)}

    def _select_in(self, query: str, collection: str, values: Iterable[str]) -> Iterator[sqlite3.Row]:
        """Run ``query`` (one ``IN ({})`` placeholder) over ``values`` in chunks that stay under SQLite's limit on
        bound parameters."""
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            yield from self.db.execute(query.format(",".join("?" * len(chunk))), (collection, *chunk))

    def set_refs(self, collection: str, container: str, refs: Iterable[str]) -> None:
        self.db.execute("DELETE FROM refs WHERE collection = ? AND container = ?", (collection, container))
        self.db.executemany("INSERT OR IGNORE INTO refs VALUES (?, ?, ?)", [(collection, container, r) for r in refs])

    def containers_referencing(self, collection: str, stix_id: str) -> list[str]:
        return sorted(self.containers_referencing_many(collection, [stix_id]).get(stix_id, ()))

    def containers_referencing_many(self, collection: str, ids: Iterable[str]) -> dict[str, set[str]]:
        """id → the containers whose refs name it."""
        found: dict[str, set[str]] = {}
        for ref, container in self._select_in("SELECT ref, container FROM refs WHERE collection = ? AND ref IN ({})",
                                              collection, ids):
            found.setdefault(ref, set()).add(container)
        return found

    def is_referenced(self, collection: str, stix_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM refs WHERE collection = ? AND ref = ? LIMIT 1",
                               (collection, stix_id)).fetchone() is not None

    def mark_dirty(self, collection: str, container: str) -> None:
        self.mark_dirty_many(collection, [container])

    def mark_dirty_many(self, collection: str, containers: Iterable[str]) -> None:
        self.db.executemany("INSERT INTO containers (collection, container, dirty) VALUES (?, ?, 1) "
                            "ON CONFLICT(collection, container) DO UPDATE SET dirty = 1",
                            [(collection, c) for c in containers])

    def dirty_containers(self, collection: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT container FROM containers WHERE collection = ? AND dirty = 1 "
                                              "ORDER BY container", (collection,))]

    def mark_converted(self, collection: str, container: str, event_uuid: str | None, version: str | None) -> None:
        self.db.execute("UPDATE containers SET dirty = 0, event_uuid = ?, converted_version = ? "
                        "WHERE collection = ? AND container = ?", (event_uuid, version, collection, container))

    def add_loose(self, collection: str, stix_id: str) -> None:
        self.add_loose_many(collection, [stix_id])

    def add_loose_many(self, collection: str, ids: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO loose VALUES (?, ?)", [(collection, i) for i in ids])

    def take_loose(self, collection: str) -> list[str]:
        ids = [r[0] for r in self.db.execute("SELECT stix_id FROM loose WHERE collection = ? ORDER BY stix_id",
                                             (collection,))]
        return ids

    def clear_loose(self, collection: str, ids: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM loose WHERE collection = ? AND stix_id = ?", [(collection, i) for i in ids])

    # ---- quarantine -----------------------------------------------------------------------------------------

    def quarantine(self, collection: str, reason: str, *, stix_id: str | None = None, version: str | None = None,
                   payload: str | None = None) -> int:
        """Record a refused object (or page) with its reason; an open entry for the same object is reused."""
        if payload is not None and len(payload) > PAYLOAD_CAP:
            payload = payload[:PAYLOAD_CAP] + f"…[truncated, {len(payload)} characters]"
        if stix_id is not None:
            row = self.db.execute("SELECT id FROM quarantine WHERE collection = ? AND stix_id = ? AND "
                                  "coalesce(version, '') = coalesce(?, '') AND resolved = 0",
                                  (collection, stix_id, version)).fetchone()
            if row:
                self.db.execute("UPDATE quarantine SET reason = ?, payload = ?, at = ?, attempts = attempts + 1 "
                                "WHERE id = ?", (reason, payload, time.time(), row[0]))
                return int(row[0])
        cursor = self.db.execute("INSERT INTO quarantine (collection, stix_id, version, reason, payload, at) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (collection, stix_id, version, reason, payload,
                                                               time.time()))
        return int(cursor.lastrowid)

    def quarantined(self, *, collection: str | None = None, include_resolved: bool = False) -> list[QuarantineEntry]:
        query = "SELECT * FROM quarantine WHERE 1=1"
        args: list[Any] = []
        if not include_resolved:
            query += " AND resolved = 0"
        if collection:
            query += " AND collection = ?"
            args.append(collection)
        return [QuarantineEntry(id=r["id"], collection=r["collection"], stix_id=r["stix_id"], version=r["version"],
                                reason=r["reason"], payload=r["payload"], at=r["at"], attempts=r["attempts"],
                                resolved=bool(r["resolved"]))
                for r in self.db.execute(query + " ORDER BY id", args)]

    def resolve_quarantine(self, entry_id: int) -> None:
        self.db.execute("UPDATE quarantine SET resolved = 1 WHERE id = ?", (entry_id,))

    def quarantine_size(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM quarantine WHERE resolved = 0").fetchone()[0])

    # ---- runs -----------------------------------------------------------------------------------------------

    def start_run(self, kind: str, dry_run: bool) -> int:
        cursor = self.db.execute("INSERT INTO runs (kind, started, dry_run) VALUES (?, ?, ?)",
                                 (kind, time.time(), int(dry_run)))
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, ok: bool, summary: dict[str, Any]) -> None:
        self.db.execute("UPDATE runs SET finished = ?, ok = ?, summary = ? WHERE id = ?",
                        (time.time(), int(ok), json.dumps(summary, sort_keys=True), run_id))

    def last_runs(self, limit: int = 5) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"id": r["id"], "kind": r["kind"], "started": r["started"], "finished": r["finished"],
                 "ok": None if r["ok"] is None else bool(r["ok"]), "dry_run": bool(r["dry_run"]),
                 "summary": json.loads(r["summary"]) if r["summary"] else None} for r in rows]

    def counts(self) -> dict[str, int]:
        tables = ("pushed", "published", "seen", "staged", "containers")
        return {t: int(self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # noqa: S608
