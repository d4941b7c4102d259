"""Persistent trust state in SQLite: the latest accepted version (and first signer) of every id, who published
which indicator when (sightings), and which local event holds which indicator (to update events when more members
confirm later).

:class:`TrustState` works on a connection it is given (the sync state database, so a page's objects, its cursor
and these rows commit in one transaction) or opens its own file (:meth:`TrustState.open`, e.g. for the MISP import
module). It never begins or commits a transaction itself; a connection it opened is in autocommit mode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ..timeutil import UTC, parse_time
from .corroboration import Sighting
from .verify import AcceptedVersion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trust_accepted (
    stix_id TEXT PRIMARY KEY, version TEXT NOT NULL, signer TEXT, collection TEXT, at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trust_sightings (
    key TEXT NOT NULL, member TEXT NOT NULL, stix_id TEXT NOT NULL, key_id TEXT, published TEXT NOT NULL,
    received REAL NOT NULL, collection TEXT, PRIMARY KEY (stix_id, member)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trust_sightings_key ON trust_sightings (key);
CREATE TABLE IF NOT EXISTS trust_event_refs (
    event_uuid TEXT NOT NULL, ref_uuid TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (event_uuid, ref_uuid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trust_event_refs_key ON trust_event_refs (key);
"""


class TrustState:
    """Trust tables on an SQLite connection (created if missing)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self._owned = False
        for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT the caller's transaction
            if statement.strip():
                self.db.execute(statement)

    @classmethod
    def open(cls, path: str | Path) -> TrustState:
        """Open (or create) a database file of its own, in autocommit mode with WAL journaling."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        state = cls(db)
        state._owned = True
        return state

    def close(self) -> None:
        if self._owned:
            self.db.close()

    def __enter__(self) -> TrustState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- accepted versions (replay and signer-change protection) --------------------------------------------

    def accepted(self, stix_id: str) -> AcceptedVersion | None:
        row = self.db.execute("SELECT version, signer FROM trust_accepted WHERE stix_id = ?", (stix_id,)).fetchone()
        return AcceptedVersion(version=row[0], signer=row[1]) if row else None

    def get(self, stix_id: str, default: AcceptedVersion | None = None) -> AcceptedVersion | None:
        """Mapping-style access, so a :class:`TrustState` can be passed as ``history`` to ``verify_bundle``."""
        found = self.accepted(stix_id)
        return default if found is None else found

    def record_accepted(self, stix_id: str, entry: AcceptedVersion, *, collection: str | None, at: float) -> None:
        self.db.execute("INSERT INTO trust_accepted VALUES (?, ?, ?, ?, ?) ON CONFLICT(stix_id) DO UPDATE SET "
                        "version = excluded.version, signer = excluded.signer, at = excluded.at",
                        (stix_id, entry.version, entry.signer, collection, at))

    # ---- sightings --------------------------------------------------------------------------------------------

    def record_sighting(self, sighting: Sighting, *, received: float, collection: str | None) -> set[str]:
        """Record that ``sighting.member`` now asserts ``sighting.key`` through ``sighting.stix_id`` (replacing
        what the same indicator asserted before). Returns the keys whose set of publishers changed."""
        row = self.db.execute("SELECT key FROM trust_sightings WHERE stix_id = ? AND member = ?",
                              (sighting.stix_id, sighting.member)).fetchone()
        if row is not None and row[0] == sighting.key:
            return set()
        before = {k: self._publishers(k) for k in {sighting.key, *(r for r in (row[0] if row else None,) if r)}}
        self.db.execute("INSERT INTO trust_sightings VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(stix_id, member) DO "
                        "UPDATE SET key = excluded.key, key_id = excluded.key_id, published = excluded.published, "
                        "received = excluded.received, collection = excluded.collection",
                        (sighting.key, sighting.member, sighting.stix_id, sighting.key_id,
                         sighting.at.astimezone(UTC).isoformat(), received, collection))
        return {k for k, members in before.items() if self._publishers(k) != members}

    def withdraw_sighting(self, stix_id: str, member: str) -> set[str]:
        """The member revoked the indicator: it no longer counts. Returns the keys whose publishers changed."""
        row = self.db.execute("SELECT key FROM trust_sightings WHERE stix_id = ? AND member = ?",
                              (stix_id, member)).fetchone()
        if row is None:
            return set()
        before = self._publishers(row[0])
        self.db.execute("DELETE FROM trust_sightings WHERE stix_id = ? AND member = ?", (stix_id, member))
        return {row[0]} if self._publishers(row[0]) != before else set()

    def sightings(self, keys: Iterable[str]) -> list[Sighting]:
        out: list[Sighting] = []
        for key in set(keys):
            for member, stix_id, key_id, published in self.db.execute(
                    "SELECT member, stix_id, key_id, published FROM trust_sightings WHERE key = ?", (key,)):
                out.append(Sighting(key=key, member=member, stix_id=stix_id, at=parse_time(published),
                                    key_id=key_id))
        return out

    def _publishers(self, key: str) -> frozenset[str]:
        return frozenset(r[0] for r in self.db.execute("SELECT DISTINCT member FROM trust_sightings WHERE key = ?",
                                                       (key,)))

    # ---- which local event holds which indicator ------------------------------------------------------------

    def set_event_refs(self, event_uuid: str, refs: dict[str, str]) -> None:
        self.db.execute("DELETE FROM trust_event_refs WHERE event_uuid = ?", (event_uuid,))
        self.db.executemany("INSERT OR REPLACE INTO trust_event_refs VALUES (?, ?, ?)",
                            [(event_uuid, ref, key) for ref, key in refs.items()])

    def event_refs(self, event_uuid: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT ref_uuid, key FROM trust_event_refs WHERE event_uuid = ?",
                                                    (event_uuid,))}

    def events_with(self, keys: Iterable[str]) -> list[str]:
        found: set[str] = set()
        for key in set(keys):
            found.update(r[0] for r in self.db.execute("SELECT event_uuid FROM trust_event_refs WHERE key = ?",
                                                       (key,)))
        return sorted(found)

    def counts(self) -> dict[str, int]:
        return {table: int(self.db.execute(f"SELECT count(*) FROM trust_{table}").fetchone()[0])  # noqa: S608
                for table in ("accepted", "sightings", "event_refs")}
