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
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 4
# 2: staged rows carry their digest and a rowid; `seen` keeps only superseded versions.
# 3: tables name their collection by a small integer (`collections.cid`) instead of the ~70-character key, and `refs`
#    is one B-tree keyed by the referenced id (no second index). Raw SQLite time of 350 pages × 1,000 objects:
#    55.7 s → 32.3 s.
# 4: quarantine entries carry their reason code, the whole payload compressed (``payload_z``), its size and digest
#    (so a run that re-sees an object already quarantined says "still quarantined" instead of failing).

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS collections (cid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS cursors ("
    " collection TEXT PRIMARY KEY, added_after TEXT NOT NULL, updated_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pushed ("
    " cid INTEGER NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL, at REAL NOT NULL,"
    " PRIMARY KEY (cid, stix_id, version)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS published ("
    " cid INTEGER NOT NULL, event_uuid TEXT NOT NULL, timestamp INTEGER NOT NULL, objects INTEGER NOT NULL,"
    " at REAL NOT NULL, PRIMARY KEY (cid, event_uuid)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS seen ("
    " cid INTEGER NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL, digest TEXT NOT NULL,"
    " PRIMARY KEY (cid, stix_id, version)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS staged ("
    " row INTEGER PRIMARY KEY, cid INTEGER NOT NULL, stix_id TEXT NOT NULL, version TEXT NOT NULL,"
    " type TEXT NOT NULL, body TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS staged_by_id ON staged (cid, stix_id)",
    "CREATE TABLE IF NOT EXISTS refs ("
    " cid INTEGER NOT NULL, ref TEXT NOT NULL, container TEXT NOT NULL,"
    " PRIMARY KEY (cid, ref, container)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS containers ("
    " cid INTEGER NOT NULL, container TEXT NOT NULL, dirty INTEGER NOT NULL, event_uuid TEXT,"
    " converted_version TEXT, PRIMARY KEY (cid, container)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS containers_dirty ON containers (cid, dirty)",
    "CREATE TABLE IF NOT EXISTS loose ("
    " cid INTEGER NOT NULL, stix_id TEXT NOT NULL, PRIMARY KEY (cid, stix_id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS quarantine ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, stix_id TEXT, version TEXT,"
    " reason TEXT NOT NULL, payload TEXT, at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,"
    " resolved INTEGER NOT NULL DEFAULT 0, code TEXT, payload_z BLOB, size INTEGER, digest TEXT)",
    "CREATE INDEX IF NOT EXISTS quarantine_open ON quarantine (resolved, collection)",
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, started REAL NOT NULL, finished REAL,"
    " ok INTEGER, dry_run INTEGER NOT NULL DEFAULT 0, summary TEXT)",
)
# Version 2 tables whose `collection` text becomes `cid`, with their columns in version 3 order.
_V2_TABLES = {
    "pushed": ("stix_id", "version", "at"),
    "published": ("event_uuid", "timestamp", "objects", "at"),
    "seen": ("stix_id", "version", "digest"),
    "staged": ("stix_id", "version", "type", "body", "revoked", "digest"),
    "refs": ("ref", "container"),
    "containers": ("container", "dirty", "event_uuid", "converted_version"),
    "loose": ("stix_id",),
}
_V2_INDEXES = ("staged_by_id", "refs_by_ref", "containers_dirty")
_NO_CID = -1  # the cid of a collection never written: matches no row

QUARANTINE_MAX_BYTES = 16 * 1024 * 1024  # default cap of a quarantined payload (uncompressed bytes), kept whole
_WAL_PAGES = 10_000  # WAL pages before an automatic checkpoint (~40 MB on disk): fewer, larger checkpoints
_CACHE_KIB = 32 * 1024  # page cache: a pull's transactions span several pages, which then share index pages
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
    code: str = ""
    size: int | None = None  # bytes of the payload as received (also when it was over the cap and not kept)


@dataclass(frozen=True)
class Quarantined:
    """What :meth:`SyncState.quarantine_item` did: the entry id, and whether the same object (same id, version and
    content) was already waiting in the quarantine (``again``: nothing new, not a failure)."""

    id: int
    again: bool


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
        self.db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        self._depth = 0
        self._cids: dict[str, int] = {}
        self._migrate()
        self._create_tables()
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _migrate(self) -> None:
        """Bring a state file written by an older version up to :data:`SCHEMA_VERSION`, one version per
        transaction."""
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        steps = {1: self._migrate_1_to_2, 2: self._migrate_2_to_3, 3: self._migrate_3_to_4}
        while True:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None or int(row[0]) >= SCHEMA_VERSION:
                return
            step = steps.get(int(row[0]))
            if step is None:
                raise sqlite3.DatabaseError(f"{self.path}: unknown sync state schema version {row[0]}")
            with self.transaction():
                step()
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(int(row[0]) + 1),))

    def _create_tables(self) -> None:
        """The current schema's tables and indexes that do not exist yet (statement by statement: ``executescript``
        would commit a migration's open transaction)."""
        for statement in _SCHEMA:
            self.db.execute(statement)

    def _migrate_1_to_2(self) -> None:
        self.db.create_function("sha256_hex", 1, lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                deterministic=True)
        self.db.execute("ALTER TABLE staged RENAME TO staged_v1")
        self.db.execute("CREATE TABLE staged (row INTEGER PRIMARY KEY, collection TEXT NOT NULL, "
                        "stix_id TEXT NOT NULL, version TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, "
                        "revoked INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL)")
        self.db.execute("CREATE UNIQUE INDEX staged_by_id ON staged (collection, stix_id)")
        self.db.execute("INSERT INTO staged (collection, stix_id, version, type, body, revoked, digest) "
                        "SELECT collection, stix_id, version, type, body, revoked, sha256_hex(body) FROM staged_v1")
        self.db.execute("DROP TABLE staged_v1")

    def _migrate_2_to_3(self) -> None:
        present = [t for t in _V2_TABLES if self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (t,)).fetchone()]
        for index in _V2_INDEXES:
            self.db.execute(f"DROP INDEX IF EXISTS {index}")
        for table in present:
            self.db.execute(f"ALTER TABLE {table} RENAME TO {table}_v2")
        self._create_tables()
        for table in present:
            self.db.execute("INSERT OR IGNORE INTO collections (key) "  # noqa: S608 (names from _V2_TABLES)
                            f"SELECT DISTINCT collection FROM {table}_v2")
        for table in present:
            columns = ", ".join(_V2_TABLES[table])
            old_columns = ", ".join(f"o.{c}" for c in _V2_TABLES[table])
            self.db.execute(f"INSERT INTO {table} (cid, {columns}) SELECT c.cid, {old_columns} "  # noqa: S608
                            f"FROM {table}_v2 o JOIN collections c ON c.key = o.collection")
            self.db.execute(f"DROP TABLE {table}_v2")

    def _migrate_3_to_4(self) -> None:
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'quarantine'").fetchone():
            return
        present = {r[1] for r in self.db.execute("PRAGMA table_info(quarantine)")}
        for column in ("code TEXT", "payload_z BLOB", "size INTEGER", "digest TEXT"):
            if column.split()[0] not in present:
                self.db.execute(f"ALTER TABLE quarantine ADD COLUMN {column}")

    def _cid(self, collection: str, *, create: bool = False) -> int:
        """The small integer that names ``collection`` in the tables (made on the first write for it)."""
        cid = self._cids.get(collection)
        if cid is not None:
            return cid
        row = self.db.execute("SELECT cid FROM collections WHERE key = ?", (collection,)).fetchone()
        if row is None and not create:
            return _NO_CID
        if row is None:
            row = (self.db.execute("INSERT INTO collections (key) VALUES (?)", (collection,)).lastrowid,)
        self._cids[collection] = int(row[0])
        return int(row[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SyncState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception). A nested call is a savepoint: if it
        fails, only its own changes are undone and the outer transaction goes on (or fails in turn)."""
        if self._depth:
            name = f"nested_{self._depth}"
            self.db.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self.db
            except BaseException:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
                self._cids.clear()  # a collection row made in this savepoint is gone
                raise
            finally:
                self._depth -= 1
            self.db.execute(f"RELEASE {name}")
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            self._cids.clear()  # a collection row made in this transaction is gone
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
        wanted = set(keys)
        found = set()
        for row in self._select_in("SELECT stix_id, version FROM pushed WHERE cid = ? AND stix_id IN ({})",
                                   self._cid(collection), (stix_id for stix_id, _ in wanted)):
            if (row[0], row[1]) in wanted:
                found.add((row[0], row[1]))
        return found

    def record_pushed(self, collection: str, keys: Iterable[tuple[str, str]]) -> None:
        now, cid = time.time(), self._cid(collection, create=True)
        self.db.executemany("INSERT OR IGNORE INTO pushed VALUES (?, ?, ?, ?)",
                            [(cid, stix_id, version, now) for stix_id, version in keys])

    def published_timestamp(self, collection: str, event_uuid: str) -> int | None:
        row = self.db.execute("SELECT timestamp FROM published WHERE cid = ? AND event_uuid = ?",
                              (self._cid(collection), event_uuid)).fetchone()
        return row[0] if row else None

    def record_published(self, collection: str, event_uuid: str, timestamp: int, objects: int) -> None:
        self.db.execute("INSERT INTO published VALUES (?, ?, ?, ?, ?) ON CONFLICT(cid, event_uuid) DO UPDATE "
                        "SET timestamp = excluded.timestamp, objects = excluded.objects, at = excluded.at",
                        (self._cid(collection, create=True), event_uuid, timestamp, objects, time.time()))

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
            "SELECT stix_id, version, digest FROM seen WHERE cid = ? AND stix_id IN ({})", self._cid(collection),
            ids)}

    def record_seen_many(self, collection: str, rows: Iterable[tuple[str, str, str]]) -> None:
        """Record (id, version, digest) of versions that are not (or no longer) the staged one."""
        cid = self._cid(collection, create=True)
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", [(cid, *row) for row in rows])

    def staged_version(self, collection: str, stix_id: str) -> str | None:
        head = self.staged_heads(collection, [stix_id]).get(stix_id)
        return head[0] if head else None

    def staged_heads(self, collection: str, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """id → (version, digest) of the staged version."""
        return {r[0]: (r[1], r[2]) for r in self._select_in(
            "SELECT stix_id, version, digest FROM staged WHERE cid = ? AND stix_id IN ({})", self._cid(collection),
            ids)}

    def stage_many(self, collection: str, rows: Iterable[tuple[str, str, str, str, bool, str]]) -> None:
        """Stage (id, version, type, body, revoked, digest) rows; a later row for an id replaces an earlier one.
        The caller records the replaced version in ``seen`` (:meth:`record_seen_many`)."""
        cid = self._cid(collection, create=True)
        self.db.executemany("INSERT INTO staged (cid, stix_id, version, type, body, revoked, digest) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cid, stix_id) DO UPDATE "
                            "SET version = excluded.version, type = excluded.type, body = excluded.body, "
                            "revoked = excluded.revoked, digest = excluded.digest",
                            [(cid, i, v, t, b, int(r), d) for i, v, t, b, r, d in rows])

    def staged_objects(self, collection: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self._select_in(
            "SELECT stix_id, body FROM staged WHERE cid = ? AND stix_id IN ({})", self._cid(collection), ids)}

    def _select_in(self, query: str, cid: int, values: Iterable[str]) -> Iterator[sqlite3.Row]:
        """Run ``query`` (one ``IN ({})`` placeholder) over ``values`` in chunks that stay under SQLite's limit on
        bound parameters."""
        unique = list(dict.fromkeys(values))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start:start + _IN_CHUNK]
            yield from self.db.execute(query.format(",".join("?" * len(chunk))), (cid, *chunk))

    def set_refs(self, collection: str, container: str, refs: Iterable[str], *, previous: Iterable[str] = ()) -> None:
        """Record that ``container`` references ``refs``, replacing the references of its ``previous`` version
        (the table is keyed by the referenced id, so the caller names the old ones)."""
        cid, refs = self._cid(collection, create=True), set(refs)
        self.db.executemany("DELETE FROM refs WHERE cid = ? AND ref = ? AND container = ?",
                            [(cid, r, container) for r in set(previous) - refs])
        self.db.executemany("INSERT OR IGNORE INTO refs VALUES (?, ?, ?)", [(cid, r, container) for r in refs])

    def containers_referencing(self, collection: str, stix_id: str) -> list[str]:
        return sorted(self.containers_referencing_many(collection, [stix_id]).get(stix_id, ()))

    def containers_referencing_many(self, collection: str, ids: Iterable[str]) -> dict[str, set[str]]:
        """id → the containers whose refs name it."""
        found: dict[str, set[str]] = {}
        for ref, container in self._select_in("SELECT ref, container FROM refs WHERE cid = ? AND ref IN ({})",
                                              self._cid(collection), ids):
            found.setdefault(ref, set()).add(container)
        return found

    def is_referenced(self, collection: str, stix_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM refs WHERE cid = ? AND ref = ? LIMIT 1",
                               (self._cid(collection), stix_id)).fetchone() is not None

    def mark_dirty(self, collection: str, container: str) -> None:
        self.mark_dirty_many(collection, [container])

    def mark_dirty_many(self, collection: str, containers: Iterable[str]) -> None:
        cid = self._cid(collection, create=True)
        self.db.executemany("INSERT INTO containers (cid, container, dirty) VALUES (?, ?, 1) "
                            "ON CONFLICT(cid, container) DO UPDATE SET dirty = 1", [(cid, c) for c in containers])

    def dirty_containers(self, collection: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT container FROM containers WHERE cid = ? AND dirty = 1 "
                                              "ORDER BY container", (self._cid(collection),))]

    def mark_converted(self, collection: str, container: str, event_uuid: str | None, version: str | None) -> None:
        self.db.execute("UPDATE containers SET dirty = 0, event_uuid = ?, converted_version = ? "
                        "WHERE cid = ? AND container = ?", (event_uuid, version, self._cid(collection), container))

    def add_loose(self, collection: str, stix_id: str) -> None:
        self.add_loose_many(collection, [stix_id])

    def add_loose_many(self, collection: str, ids: Iterable[str]) -> None:
        cid = self._cid(collection, create=True)
        self.db.executemany("INSERT OR IGNORE INTO loose VALUES (?, ?)", [(cid, i) for i in ids])

    def take_loose(self, collection: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT stix_id FROM loose WHERE cid = ? ORDER BY stix_id",
                                              (self._cid(collection),))]

    def clear_loose(self, collection: str, ids: Iterable[str]) -> None:
        cid = self._cid(collection)
        self.db.executemany("DELETE FROM loose WHERE cid = ? AND stix_id = ?", [(cid, i) for i in ids])

    # ---- quarantine -----------------------------------------------------------------------------------------

    def quarantine(self, collection: str, reason: str, *, stix_id: str | None = None, version: str | None = None,
                   payload: str | None = None, code: str | None = None,
                   max_bytes: int = QUARANTINE_MAX_BYTES) -> int:
        """Record a refused object (or page) with its reason; returns the entry id (see :meth:`quarantine_item`)."""
        return self.quarantine_item(collection, reason, stix_id=stix_id, version=version, payload=payload,
                                    code=code, max_bytes=max_bytes).id

    def quarantine_item(self, collection: str, reason: str, *, stix_id: str | None = None,
                        version: str | None = None, payload: str | None = None, code: str | None = None,
                        max_bytes: int = QUARANTINE_MAX_BYTES) -> Quarantined:
        """Record a refused object (or page). The payload is kept whole, zlib-compressed, up to ``max_bytes``
        (uncompressed); a larger one is not kept and the entry says so (code ``payload-over-cap``, with the size),
        never a truncated copy that a retry would refuse again. An open entry for the same object (same id and
        version; for items without an id, the same content) is reused: ``again`` tells whether its content was the
        same as before."""
        from legion_misp.stix.reasons import Reason, code_of

        code = code or code_of(reason)
        data = payload.encode("utf-8", errors="surrogatepass") if payload is not None else None
        size = len(data) if data is not None else None
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        packed = None
        if data is not None and size is not None and size > max_bytes:
            reason = (f"{Reason.PAYLOAD_OVER_CAP}: {size} bytes, over sync.quarantine_max_bytes ({max_bytes}); "
                      f"not kept (refused as {reason[:200]})")
            code = str(Reason.PAYLOAD_OVER_CAP)
        elif data is not None:
            packed = zlib.compress(data, 6)
        if stix_id is not None:
            row = self.db.execute("SELECT id, digest FROM quarantine WHERE collection = ? AND stix_id = ? AND "
                                  "coalesce(version, '') = coalesce(?, '') AND resolved = 0",
                                  (collection, stix_id, version)).fetchone()
        else:
            row = self.db.execute("SELECT id, digest FROM quarantine WHERE collection = ? AND stix_id IS NULL AND "
                                  "digest = ? AND resolved = 0", (collection, digest)).fetchone() if digest else None
        if row:
            self.db.execute("UPDATE quarantine SET reason = ?, code = ?, payload = NULL, payload_z = ?, size = ?, "
                            "digest = ?, at = ?, attempts = attempts + 1 WHERE id = ?",
                            (reason, code, packed, size, digest, time.time(), row[0]))
            return Quarantined(int(row[0]), again=row[1] is not None and row[1] == digest)
        cursor = self.db.execute("INSERT INTO quarantine (collection, stix_id, version, reason, payload, at, code, "
                                 "payload_z, size, digest) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
                                 (collection, stix_id, version, reason, time.time(), code, packed, size, digest))
        return Quarantined(int(cursor.lastrowid), again=False)

    def quarantined(self, *, collection: str | None = None, include_resolved: bool = False) -> list[QuarantineEntry]:
        query = "SELECT * FROM quarantine WHERE 1=1"
        args: list[Any] = []
        if not include_resolved:
            query += " AND resolved = 0"
        if collection:
            query += " AND collection = ?"
            args.append(collection)
        return [QuarantineEntry(id=r["id"], collection=r["collection"], stix_id=r["stix_id"], version=r["version"],
                                reason=r["reason"], payload=_payload(r), at=r["at"], attempts=r["attempts"],
                                resolved=bool(r["resolved"]), code=r["code"] or code_of(r["reason"]),
                                size=r["size"])
                for r in self.db.execute(query + " ORDER BY id", args)]

    def open_quarantine_ids(self, collection: str) -> set[str]:
        """Ids of the objects of a collection waiting in the quarantine."""
        return {r[0] for r in self.db.execute("SELECT stix_id FROM quarantine WHERE collection = ? AND resolved = 0 "
                                              "AND stix_id IS NOT NULL", (collection,))}

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


def _payload(row: sqlite3.Row) -> str | None:
    """The payload of a quarantine row: decompressed (version 4 rows) or the text kept by older versions."""
    if row["payload_z"] is not None:
        return zlib.decompress(row["payload_z"]).decode("utf-8", errors="surrogatepass")
    return row["payload"]


def code_of(reason: str) -> str:
    from legion_misp.stix.reasons import code_of as code

    return code(reason)
