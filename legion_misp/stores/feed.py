"""A MISP feed directory, exactly as MISP's "Feeds" feature reads it.

Layout (the same as PyMISP's feed generator and MISP's ``Feed::getManifest``):

- ``manifest.json``: ``{event_uuid: {"Orgc": {...}, "Tag": [...], "info", "date", "analysis", "threat_level_id",
  "timestamp"}}``; MISP fetches an event when its uuid is new or its manifest timestamp is newer than its copy;
- ``<event_uuid>.json``: ``{"Event": {...}}``, one file per event;
- ``hashes.csv``: ``<md5 of an attribute value>,<event_uuid>`` per line (composite values hashed per part).

Every file is written to a temporary file in the same folder and renamed over the old one, so a reader (or MISP)
never sees a half-written file. An event file is written before the manifest that announces it: if a write is
interrupted, the manifest never names a missing or partial file. Writers take an exclusive lock on
``.legion-feed.lock``; :meth:`FeedStore.batch` defers the manifest and hashes rewrite to the end of a bulk write.

Durability is per batch (a single write is a batch of one): event files are not fsync'ed one by one; when the batch
ends, the event files written are flushed to disk (one ``syncfs`` of the folder's file system where Linux offers it,
else one fsync per file) and the folder is fsync'ed, and only then are the manifest and hashes written (fsync'ed,
renamed, folder fsync'ed). After a power cut the index therefore never announces an event file that did not reach the
disk. (One fsync per event file cost a pull of 5,000 events 8 s of its own 76 s.)
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import EventFormatError, StoreError
from .base import ErrorHandler, EventStore, UpsertResult, attach_sighting, decide_upsert
from .events import (
    check_event,
    event_tag_names,
    event_timestamp,
    iter_attributes,
    matches,
    parse_event_bytes,
    parse_export_bytes,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
HASHES = "hashes.csv"
_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")
LOCK = ".legion-feed.lock"
_EVENT_FILE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\.json$")
MANIFEST_KEYS = ("Orgc", "Tag", "info", "date", "analysis", "threat_level_id", "timestamp")


class ManifestMismatchError(StoreError):
    """``manifest.json`` disagrees with the event files (missing file, different timestamp, unlisted file)."""


def manifest_entry(event: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry MISP expects for an event."""
    orgc = event.get("Orgc") or {}
    return {
        "Orgc": {k: orgc[k] for k in ("name", "uuid") if k in orgc},
        "Tag": [{k: t[k] for k in ("name", "colour") if k in t} for t in event.get("Tag", []) if isinstance(t, dict)],
        "info": event.get("info", ""),
        "date": event.get("date", ""),
        "analysis": _as_int(event.get("analysis", 0)),
        "threat_level_id": _as_int(event.get("threat_level_id", 4)),
        "timestamp": event_timestamp(event),
    }


def value_hashes(event: dict[str, Any]) -> list[str]:
    """md5 of each attribute value (each part of a composite ``a|b`` value), as in MISP's ``hashes.csv``."""
    hashes = []
    for attribute in iter_attributes(event):
        value = str(attribute.get("value", ""))
        parts = value.split("|") if "|" in str(attribute.get("type", "")) else [value]
        hashes.extend(hashlib.md5(p.encode("utf-8"), usedforsecurity=False).hexdigest() for p in parts)
    return hashes


def _hash_lines(hashes: dict[str, bytes]) -> Iterator[bytes]:
    """``hashes.csv`` lines (``md5,event_uuid``), one event at a time, in uuid order."""
    for event_uuid in sorted(hashes):
        packed = hashes[event_uuid]
        suffix = f",{event_uuid}\n"
        yield "".join(packed[i:i + 16].hex() + suffix for i in range(0, len(packed), 16)).encode("ascii")


def _as_int(value: Any) -> int | Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def atomic_write_bytes(path: Path, data: bytes | Iterable[bytes], *, durable: bool = True) -> None:
    """Write ``data`` (bytes, or chunks of bytes written as they come) to ``path`` via a temporary file in the same
    folder and rename it; ``durable``: fsync the file before the rename and the folder after it."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if durable:
        fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (files created or renamed in it) durable."""
    _fsync_path(folder)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_durable(folder: Path, files: Iterable[Path]) -> None:
    """Flush ``files`` (written without fsync) and ``folder``'s entries to disk: one ``syncfs`` of the folder's file
    system on Linux, else one fsync per file."""
    if not _syncfs(folder):
        for path in files:
            with contextlib.suppress(FileNotFoundError):  # replaced or deleted since: nothing to flush
                _fsync_path(path)
    fsync_folder(folder)


def _syncfs(folder: Path) -> bool:
    """``syncfs(2)`` on the file system holding ``folder``; False where the C library has none."""
    libc_syncfs = _libc_syncfs()
    if libc_syncfs is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if libc_syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs failed: {os.strerror(error)}", str(folder))
    finally:
        os.close(fd)
    return True


@functools.cache
def _libc_syncfs() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


class FeedStore(EventStore):
    """Read and write a MISP feed directory.

    Parameters
    ----------
    path : folder of the feed. Created when ``create`` is true (the default), else it must exist.
    create : create the folder (and an empty manifest) if missing.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True):
        self.path = Path(path)
        if not self.path.is_dir():
            if not create:
                raise StoreError("feed directory does not exist", location=str(self.path))
            self.path.mkdir(parents=True, exist_ok=True)
        self._batch_depth = 0
        self._lock_handle: Any = None
        self._manifest: dict[str, dict[str, Any]] | None = None
        self._hashes: dict[str, bytes] | None = None  # event uuid → its value md5s, 16 raw bytes each
        self._unsynced: list[Path] = []  # event files written in this batch, flushed to disk before the index
        self._read_from: dict[str, Path] = {}  # event uuid -> the export file it was read from (no manifest)

    def __repr__(self) -> str:
        return f"FeedStore({str(self.path)!r})"

    # ---- reading --------------------------------------------------------------------------------------------

    def manifest(self) -> dict[str, dict[str, Any]]:
        """The parsed ``manifest.json`` (``{}`` for a new feed). Raises :class:`StoreError` if unreadable."""
        manifest_path = self.path / MANIFEST
        if not manifest_path.exists():
            return {}
        try:
            data = json.loads(manifest_path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"manifest is not valid JSON: {exc}", location=str(manifest_path)) from exc
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise StoreError("manifest must map event uuids to objects", location=str(manifest_path))
        return data

    def event_path(self, event_uuid: str) -> Path:
        return self.path / f"{event_uuid}.json"

    def event_location(self, event_uuid: str) -> Path:
        """The file an event was read from (an export may hold several, under any name); for reports only."""
        return self._read_from.get(event_uuid) or self.event_path(event_uuid)

    def read_event_file(self, path: Path) -> dict[str, Any]:
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise StoreError("event file is missing", location=str(path)) from exc
        event = parse_event_bytes(data, location=str(path))
        if f"{event['uuid']}.json".lower() != path.name.lower():
            raise EventFormatError(f"file name does not match the event uuid {event['uuid']}", location=str(path))
        return event

    def query(self, *, since: int | None = None, tags: list[str] | None = None, published: bool | None = None,
              on_error: ErrorHandler | None = None) -> Iterator[dict[str, Any]]:
        if not self.manifest():
            yield from self._query_loose_files(since, tags, published, on_error)
            return
        entries = self._entries_for_query()
        for event_uuid, entry in entries:
            if entry is not None and not _entry_may_match(entry, since, tags):
                continue
            event = self._load_checked(event_uuid, entry, on_error)
            if event is not None and matches(event, since=since, tags=tags, published=published):
                yield event

    def _entries_for_query(self) -> list[tuple[str, dict[str, Any] | None]]:
        manifest = self.manifest()
        if manifest:
            return sorted(manifest.items(), key=lambda item: (_as_int(item[1].get("timestamp", 0)), item[0]))
        # A feed without a manifest: read the event files directly (lenient reading of other producers' feeds).
        return [(p.stem, None) for p in sorted(self.path.glob("*.json")) if _EVENT_FILE.match(p.name)]

    def _query_loose_files(self, since: int | None, tags: list[str] | None, published: bool | None,
                           on_error: ErrorHandler | None) -> Iterator[dict[str, Any]]:
        """A folder without a manifest (MISP JSON exports, another producer's feed): every ``*.json`` file,
        whatever its name; a file that holds no event is reported with the reason."""
        for path in sorted(self.path.glob("*.json")):
            if path.name == MANIFEST:
                continue
            try:
                events = self.read_export_file(path)
            except StoreError as exc:
                _report(exc, on_error)
                continue
            for event in events:
                self._read_from[event["uuid"]] = path
                if matches(event, since=since, tags=tags, published=published):
                    yield event

    def read_export_file(self, path: Path) -> list[dict[str, Any]]:
        """The events of one MISP JSON export file; a ``<uuid>.json`` name must match its one event."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot be read: {exc.strerror}", location=str(path)) from exc
        events = parse_export_bytes(data, location=str(path))
        if _EVENT_FILE.match(path.name) and len(events) == 1 and \
                f"{events[0]['uuid']}.json".lower() != path.name.lower():
            raise EventFormatError(f"file name does not match the event uuid {events[0]['uuid']}",
                                   location=str(path))
        return events

    def _load_checked(self, event_uuid: str, entry: dict[str, Any] | None,
                      on_error: ErrorHandler | None) -> dict[str, Any] | None:
        path = self.event_path(event_uuid)
        try:
            if entry is not None and not path.exists():
                raise ManifestMismatchError("manifest lists this event but its file is missing",
                                            location=str(path), event_uuid=event_uuid)
            event = self.read_event_file(path)
        except StoreError as exc:
            _report(exc, on_error)
            return None
        if entry is not None and _as_int(entry.get("timestamp")) != event_timestamp(event):
            _report(ManifestMismatchError(
                f"manifest timestamp {entry.get('timestamp')} differs from the file's {event_timestamp(event)}; "
                "the file is used", location=str(path), event_uuid=event_uuid), on_error)
        return event

    def get(self, event_uuid: str) -> dict[str, Any] | None:
        path = self.event_path(event_uuid)
        return self.read_event_file(path) if path.exists() else None

    def check(self) -> list[StoreError]:
        """Every inconsistency between the manifest, the event files and their contents."""
        problems: list[StoreError] = []
        try:
            manifest = self.manifest()
        except StoreError as exc:
            return [exc]
        for event_uuid, entry in manifest.items():
            self._load_checked(event_uuid, entry, problems.append)
        for path in self.path.glob("*.json"):
            if _EVENT_FILE.match(path.name) and path.stem not in manifest:
                problems.append(ManifestMismatchError("event file is not listed in the manifest",
                                                      location=str(path), event_uuid=path.stem))
        return problems

    # ---- writing --------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[FeedStore]:
        """Hold the write lock and rewrite ``manifest.json``/``hashes.csv`` once at the end (also on error,
        so every event file written so far is announced)."""
        self._acquire()
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            try:
                if self._batch_depth == 0:
                    self._flush_index()
            finally:
                self._release()

    def upsert(self, event: dict[str, Any], *, force: bool = False) -> UpsertResult:
        check_event(event, location=str(self.path))
        with self.batch():
            path = self.event_path(event["uuid"])
            existing = self._existing_for_upsert(path)
            result = decide_upsert(existing, event, force)
            if result in (UpsertResult.CREATED, UpsertResult.UPDATED):
                self._write_event(event)
            elif existing is not None and event["uuid"] not in self._index()[0]:
                self._index_event(existing)  # a file left unannounced by an interrupted writer: announce it now
            return result

    def _existing_for_upsert(self, path: Path) -> dict[str, Any] | None:
        if not path.exists():
            return None
        try:
            return self.read_event_file(path)
        except StoreError:
            log.warning("replacing unreadable event file %s", path)
            return None

    def _write_event(self, event: dict[str, Any]) -> None:
        data = json.dumps({"Event": event}, ensure_ascii=False, indent=1).encode("utf-8")
        path = self.event_path(event["uuid"])
        atomic_write_bytes(path, data, durable=False)
        self._unsynced.append(path)
        self._index_event(event)

    def _index_event(self, event: dict[str, Any]) -> None:
        self._index()[0][event["uuid"]] = manifest_entry(event)
        self._index()[1][event["uuid"]] = b"".join(bytes.fromhex(h) for h in value_hashes(event))

    def delete(self, event_uuid: str) -> bool:
        """Remove an event (manifest entry first, then its file). Returns False if it was not there."""
        with self.batch():
            manifest, hashes = self._index()
            present = manifest.pop(event_uuid, None) is not None
            hashes.pop(event_uuid, None)
            self._flush_index()
            path = self.event_path(event_uuid)
            if path.exists():
                path.unlink()
                present = True
            return present

    def add_sighting(self, attribute_uuid: str, sighting: dict[str, Any], *,
                     event_uuid: str | None = None) -> None:
        with self.batch():
            event = self.get(event_uuid) if event_uuid else None
            if event is None:
                found = self.find_attribute(attribute_uuid)
                if found is None:
                    raise StoreError(f"no attribute {attribute_uuid} to attach the sighting to",
                                     location=str(self.path), event_uuid=event_uuid)
                event = found[0]
            try:
                self._write_event(attach_sighting(event, attribute_uuid, sighting))
            except KeyError as exc:
                raise StoreError(f"no attribute {attribute_uuid} in this event", location=str(self.path),
                                 event_uuid=event["uuid"]) from exc

    def _index(self) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
        if self._manifest is None or self._hashes is None:
            self._manifest = self.manifest()
            self._hashes = self._read_hashes()
        return self._manifest, self._hashes

    def _read_hashes(self) -> dict[str, bytes]:
        """``hashes.csv`` as event uuid → packed md5s (compact: the index of a large feed stays small in memory)."""
        packed: dict[str, bytearray] = {}
        path = self.path / HASHES
        if path.exists():
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    digest, _, event_uuid = line.strip().partition(",")
                    if event_uuid and _MD5_HEX.fullmatch(digest):
                        packed.setdefault(event_uuid, bytearray()).extend(bytes.fromhex(digest))
        return {event_uuid: bytes(digests) for event_uuid, digests in packed.items()}

    def _flush_index(self) -> None:
        if self._unsynced:
            make_durable(self.path, self._unsynced)
            self._unsynced = []
        if self._manifest is None or self._hashes is None:
            return
        manifest_bytes = json.dumps(self._manifest, ensure_ascii=False, sort_keys=True).encode("utf-8")
        atomic_write_bytes(self.path / MANIFEST, manifest_bytes)
        atomic_write_bytes(self.path / HASHES, _hash_lines(self._hashes))

    def _acquire(self) -> None:
        if self._lock_handle is None:
            self._lock_handle = open(self.path / LOCK, "a+b")  # held across calls; closed in _release
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX)
            self._manifest, self._hashes = None, None  # re-read under the lock: another writer may have run

    def _release(self) -> None:
        if self._batch_depth == 0 and self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
            self._manifest, self._hashes = None, None


def _entry_may_match(entry: dict[str, Any], since: int | None, tags: list[str] | None) -> bool:
    if since is not None and _as_int(entry.get("timestamp", 0)) < since:
        return False
    if tags:
        return set(tags) <= set(event_tag_names(entry))
    return True


def _report(error: StoreError, on_error: ErrorHandler | None) -> None:
    if on_error is None:
        raise error
    on_error(error)
