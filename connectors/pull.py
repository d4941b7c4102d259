"""Pull: pages from a source → checks → dedup by (id, version) → staging area + cursor in one transaction →
groups of objects → misp-stix → upsert into the local store by uuid.

- **Cursor**: the server's ``X-TAXII-Date-Added-Last`` of the last page, stored in the same transaction as the
  page's objects, so it only moves past objects that were staged or quarantined. Never the client clock.
- **Dedup**: (id, version) with a content digest. A repeated object is skipped; the *same* (id, version) with
  *different* content (a peer rewriting history) is quarantined.
- **Groups**: a ``report``/``grouping`` (what misp-stix makes of a MISP event) and everything it references,
  transitively; it is converted as soon as all its references are staged, or at the end of the run with what is
  there. Objects no container references are converted together at the end of the run into one event whose uuid
  is derived from their ids. A later version of any member re-converts its group (upsert, never a duplicate).
- **Revoked**: a revoked container tags its event ``legion:revoked`` or deletes it (``sync.revoked``); a revoked
  member is left out when its group is re-converted.
- **Quarantine**: checks that fail (not an object, wrong spec_version, too large, too deep, bad id), objects that
  stix2 refuses (invalid pattern…), and groups misp-stix cannot convert, each with its reason. The rest of the
  page goes on.
- **Trust** (optional :class:`~legion_misp.trust.PullGuard`): every object that is not an exact duplicate is
  verified (signature, roster, collection rights, revocation, replay, signer change) before it is staged; a
  rejected one is quarantined with ``trust: <code>: <reason>``. Accepted objects are recorded in the same
  transaction as the page. Converted events get ``to_ids`` by corroboration (:meth:`PullGuard.annotate`), and at
  the end of the run events holding indicators that more members now confirm are updated (:meth:`PullGuard.refresh`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from legion_misp.errors import StoreError
from legion_misp.stix.codec import (
    CONTAINER_TYPES,
    ConversionError,
    ObjectRejected,
    check_object,
    container_event_uuid,
    digest,
    loose_event_uuid,
    references,
    stix_to_misp,
)
from legion_misp.stores import EventStore, UpsertResult

from .datastore import StixSource
from .settings import SyncSettings
from .state import SyncState
from .transport import Page, parse_timestamp

if TYPE_CHECKING:
    from legion_misp.trust import PullGuard, Verdict

log = logging.getLogger(__name__)

REVOKED_TAG = "legion:revoked"
CHECKPOINT_EVENTS = 250  # events converted between two writes of the store's index (at least)
GROUP_OBJECTS = 8000  # objects received per state transaction (pages are committed in groups)
_LOOSE = "\x00loose"  # key of the objects-without-a-container group among the converted groups
_NOT_LOOSE = frozenset({"identity", "marking-definition", "extension-definition", "language-content"})


@dataclass
class PullStats:
    pages: int = 0
    pulled: int = 0          # objects received
    new: int = 0             # new objects or new versions staged
    duplicates: int = 0      # (id, version) already seen: skipped
    quarantined: int = 0
    events_new: int = 0
    events_updated: int = 0
    events_unchanged: int = 0
    events_stale: int = 0
    events_revoked: int = 0
    store_failures: int = 0
    restarts: int = 0
    pages_without_cursor: int = 0  # pages with objects but no X-TAXII-Date-Added-Last: the cursor cannot pass them
    rejected: dict[str, int] = field(default_factory=dict)  # trust rejections by code (also counted in quarantined)
    corroborated: int = 0    # stored events updated because more members confirmed one of their indicators
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "failures"} | {"failures": self.failures[:50]}


class Puller:
    """Pull one source (collection) into ``store``; progress in ``state`` under ``collection_key``."""

    def __init__(self, source: StixSource, state: SyncState, collection_key: str, settings: SyncSettings,
                 store: EventStore, *, peer: str | None = None, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None, trust: PullGuard | None = None):
        self.source = source
        self.state = state
        self.key = collection_key
        self.settings = settings
        self.store = store
        self.peer = peer
        self.dry_run = dry_run
        self.progress = progress
        self.trust = trust
        self.stats = PullStats()
        self._dry_cursor: str | None = None
        self._fresh: dict[str, dict[str, Any]] = {}  # objects staged since the last conversion, by id
        self._done: dict[str, Callable[[], None]] = {}  # converted groups waiting for a checkpoint, by container
        self._batch: contextlib.ExitStack | None = None  # the store batch open since the last checkpoint
        self._written = 0       # events written since the last checkpoint
        self._checkpointed = 0  # events written before it
        self._group: contextlib.ExitStack | None = None  # the transaction holding the pages since the last commit
        self._group_objects = 0

    def pull(self) -> PullStats:
        try:
            self._pull_pages()
            self.finish()
        finally:
            self._commit_group()  # the pages completed (also before a failure), with their cursor
            self.stats.restarts = getattr(self.source, "restarts", 0)
        return self.stats

    def _pull_pages(self) -> None:
        try:
            for page in self.source.pages(self._cursor, page_size=self.settings.page_size):
                self.stats.pages += 1
                self._open_group()
                self._take_page(page)
                if not self.dry_run:
                    self._convert(final=False)
                self._commit_group(when_full=True)
                if self.progress:
                    self.progress(len(page.objects))
        except BaseException:
            self._checkpoint(force=True)  # announce and record what was converted before the failure
            raise

    def _open_group(self) -> None:
        """Pages are committed in groups of about ``GROUP_OBJECTS`` objects: one page per transaction rewrote the
        same random-key index pages over and over (the pull path's largest cost at 5,000 events). Each page is a
        savepoint inside the group, so a failure undoes that page only."""
        if self._group is None and not self.dry_run:
            self._group = contextlib.ExitStack()
            self._group.enter_context(self.state.transaction())
            self._group_objects = 0

    def _commit_group(self, *, when_full: bool = False) -> None:
        if self._group is None or (when_full and self._group_objects < GROUP_OBJECTS):
            return
        group, self._group = self._group, None
        group.close()

    def finish(self) -> None:
        """Convert every group still dirty and the objects without a container; write the last checkpoint; update
        events whose indicators more members now confirm."""
        if self.dry_run:
            return
        self._convert(final=True)
        self.refresh_corroboration()

    def refresh_corroboration(self) -> None:
        """Update stored events holding indicators whose set of publishers changed during this run."""
        if self.trust is None:
            return
        try:
            with self.state.transaction():
                self.stats.corroborated += self.trust.refresh(self.store.get, self._save_refreshed)
        except StoreError as exc:  # retried at the next change of one of these indicators
            self.stats.store_failures += 1
            self.stats.failures.append(f"corroboration update: {exc}")
            log.warning("%s: could not update corroborated events: %s", self.key, exc)

    def _save_refreshed(self, event: dict[str, Any]) -> bool:
        return self.store.upsert(event, force=True) is UpsertResult.UPDATED

    def _cursor(self) -> str | None:
        if self.dry_run and self._dry_cursor is not None:
            return self._dry_cursor
        return self.state.cursor(self.key)

    # ---- staging ----------------------------------------------------------------------------------------------

    def _take_page(self, page: Page) -> None:
        if page.objects and not page.date_added_last:
            self.stats.pages_without_cursor += 1
            if self.stats.pages_without_cursor == 1:
                log.warning("%s: the server sent no X-TAXII-Date-Added-Last header, so the cursor cannot move past "
                            "these objects; the next run reads them again (duplicates are skipped)", self.key)
        if self.dry_run:
            self.stats.pulled += len(page.objects)
            for item in page.objects:
                try:
                    _, version = check_object(item, max_bytes=self.settings.max_object_bytes,
                                                 max_nesting=self.settings.max_nesting)
                except ObjectRejected:
                    self.stats.quarantined += 1
                    continue
                known = self.state.seen_digest(self.key, item["id"], version)
                if known is not None:
                    self.stats.duplicates += 1
                elif self.trust is not None and not self._verify(item, record=False).accepted:
                    self.stats.quarantined += 1
                else:
                    self.stats.new += 1
            self._dry_cursor = _later(self._dry_cursor or self.state.cursor(self.key), page.date_added_last)
            return
        with self.state.transaction():
            self.take(page.objects)
            cursor = _later(self.state.cursor(self.key), page.date_added_last)
            if cursor:
                self.state.set_cursor(self.key, cursor)
        self._group_objects += len(page.objects)

    def take(self, items: list[Any]) -> None:
        """Check, deduplicate, verify and stage ``items`` (in the caller's transaction, or one of its own)."""
        view = _StateView(self.state, self.key, items)
        with self.state.transaction():
            for item in items:
                self.stats.pulled += 1
                self._take_object(item, view)
            view.write()
        for container in view.dirty:
            self._done.pop(container, None)  # changed after its conversion: convert it again

    def _take_object(self, item: Any, view: _StateView) -> None:
        try:
            body, version = check_object(item, max_bytes=self.settings.max_object_bytes,
                                         max_nesting=self.settings.max_nesting)
        except ObjectRejected as exc:
            self._quarantine(str(exc), item)
            return
        stix_id, stix_type = item["id"], item["type"]
        content = digest(body)
        known = view.seen.get((stix_id, version))
        if known is not None and known == content:
            self.stats.duplicates += 1
            return
        if self.trust is not None:
            verdict = self._verify(item, record=True)
            if not verdict.accepted:
                self._quarantine(verdict.quarantine_reason, item, version=version, body=body)
                return
        if known is not None:
            self._quarantine("conflicting content: the same (id, version) was received before with different "
                             "content; the first copy is kept", item, version=version, body=body)
            return
        staged = view.staged_version(stix_id)
        if staged is not None and not _newer(version, staged):
            view.record_older(stix_id, version, content)
            self.stats.duplicates += 1  # an older version than the one staged
            return
        view.stage(stix_id, version, stix_type, body, bool(item.get("revoked")), content)
        self._fresh[stix_id] = item
        self.stats.new += 1
        if stix_type in CONTAINER_TYPES:
            view.stage_container(stix_id, references(item))
        else:
            view.stage_member(stix_id, loose=stix_type not in _NOT_LOOSE)

    def _verify(self, item: Any, *, record: bool) -> Verdict:
        """The trust verdict on an object (recorded as accepted when ``record``); rejections counted by code."""
        assert self.trust is not None
        verdict = self.trust.check(item, record=record)
        if not verdict.accepted:
            self.stats.rejected[verdict.code.value] = self.stats.rejected.get(verdict.code.value, 0) + 1
        return verdict

    def _quarantine(self, reason: str, item: Any, *, version: str | None = None, body: str | None = None) -> None:
        stix_id = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
        if body is None:
            try:
                body = json.dumps(item, ensure_ascii=False, default=str)[:70000]
            except (ValueError, TypeError, RecursionError):
                body = repr(item)[:70000]
        self.state.quarantine(self.key, reason, stix_id=stix_id[:300] if stix_id else None, version=version,
                              payload=body)
        self.stats.quarantined += 1
        log.info("%s: quarantined %s: %s", self.key, stix_id or "an item", reason)

    # ---- conversion -------------------------------------------------------------------------------------------
    # Groups are converted after every page, but the store's index (a feed directory's manifest.json and hashes.csv,
    # rewritten whole) is written at checkpoints only: every ``CHECKPOINT_EVENTS`` events, growing with the number
    # stored so far so the rewrites stay linear overall. A group is recorded as converted in the state only after the
    # checkpoint that announced its event; a group whose objects change before that is converted again.

    def _convert(self, *, final: bool) -> None:
        """Convert the groups that are ready (at ``final``, every dirty group and the objects without a container),
        then write a checkpoint when enough events are waiting for one (always at ``final``)."""
        try:
            for container in self.state.dirty_containers(self.key):
                if container in self._done:
                    continue  # converted, waiting for the next checkpoint
                group, missing = self._closure(container)
                if missing and not final:
                    continue
                if missing:
                    log.warning("%s: %s converted without %d referenced object(s) not received: %s", self.key,
                                container, len(missing), ", ".join(sorted(missing)[:5]))
                self._convert_group(container, group)
            if final:
                loose = self.state.take_loose(self.key)
                if loose:
                    self._convert_loose(loose)
        finally:
            self._fresh.clear()
            self._checkpoint(force=final)

    def _checkpoint(self, *, force: bool) -> None:
        """Close the store batch (writing its index), then record the converted groups in the state."""
        if not force and self._written < max(CHECKPOINT_EVENTS, self._checkpointed // 8):
            return
        if self._batch is not None:
            batch, self._batch = self._batch, None
            try:
                batch.close()
            except BaseException:  # the index may not announce them: these groups stay dirty, converted next run
                self._done.clear()
                self._written = 0
                raise
        with self.state.transaction():
            for done in self._done.values():
                done()
        self._checkpointed += self._written
        self._done.clear()
        self._written = 0

    def _write(self, event: dict[str, Any]) -> UpsertResult:
        """Upsert into the store inside its batch (opened on the first write after a checkpoint)."""
        if self._batch is None:
            self._batch = contextlib.ExitStack()
            batch = getattr(self.store, "batch", None)
            if callable(batch):
                self._batch.enter_context(batch())
        self._written += 1
        return self.store.upsert(event)

    def _closure(self, container: str) -> tuple[list[dict[str, Any]], set[str]]:
        """The container and everything it references transitively (revoked members left out), and the ids that
        are referenced but not staged. Objects staged since the last conversion are taken from memory."""
        found: dict[str, dict[str, Any]] = {}
        missing: set[str] = set()
        todo = [container]
        while todo:
            batch = [i for i in dict.fromkeys(todo) if i not in found and i not in missing]
            todo = []
            staged = {i: self._fresh[i] for i in batch if i in self._fresh}
            staged.update(self.state.staged_objects(self.key, [i for i in batch if i not in staged]))
            for stix_id in batch:
                obj = staged.get(stix_id)
                if obj is None:
                    missing.add(stix_id)
                    continue
                found[stix_id] = obj
                todo.extend(references(obj))
        group = [o for i, o in found.items() if i == container or not o.get("revoked")]
        return group, missing

    def _convert_group(self, container: str, group: list[dict[str, Any]]) -> None:
        head = next((o for o in group if o.get("id") == container), None)
        event_uuid = container_event_uuid(container)
        version = str(head.get("modified") or "") if head else None
        converted = partial(self.state.mark_converted, self.key, container, event_uuid, version)
        if head is not None and head.get("revoked"):
            self._revoke(event_uuid)
            self._done[container] = converted
            return
        self._convert_and_store(group, event_uuid, container, converted, label=container)

    def _convert_loose(self, ids: list[str]) -> None:
        found: dict[str, dict[str, Any]] = {}
        todo = list(ids)
        while todo:
            staged = self.state.staged_objects(self.key, [i for i in todo if i not in found])
            todo = []
            for stix_id, obj in staged.items():
                found[stix_id] = obj
                todo.extend(r for r in references(obj) if r not in found)
        group = [o for o in found.values() if not o.get("revoked")]
        event_uuid = loose_event_uuid(self.key, ids)
        self._convert_and_store(group, event_uuid, _LOOSE, partial(self.state.clear_loose, self.key, ids),
                                label=f"{len(ids)} objects without a container")

    def _convert_and_store(self, group: list[dict[str, Any]], event_uuid: str, key: str, done: Callable[[], None],
                           *, label: str) -> None:
        try:
            converted = stix_to_misp(group, event_uuid=event_uuid, peer=self.peer)
        except ConversionError as exc:
            with self.state.transaction():
                self.state.quarantine(self.key, f"conversion failed: {exc}", stix_id=label[:300],
                                      payload=json.dumps(group)[:70000])
                self.stats.quarantined += 1
            self._done[key] = done
            return
        by_id = {o.get("id"): o for o in group}
        with self.state.transaction():
            for stix_id, reason in converted.invalid.items():
                obj = by_id.get(stix_id, {})
                self.state.quarantine(self.key, reason, stix_id=stix_id, version=str(obj.get("modified") or ""),
                                      payload=json.dumps(obj)[:70000])
                self.stats.quarantined += 1
            if converted.event is None:
                self.state.quarantine(self.key, "nothing left to convert after refusing invalid objects",
                                      stix_id=label[:300])
                self.stats.quarantined += 1
                self._done[key] = done
                return
            event = converted.event
            if self.trust is not None:
                event = self.trust.annotate(event, [o for o in group if o.get("id") not in converted.invalid])
            try:
                result = self._write(event)
            except StoreError as exc:  # the group stays dirty and is tried again next run
                self.stats.store_failures += 1
                self.stats.failures.append(f"event {event_uuid}: {exc}")
                log.warning("%s: could not store event %s: %s", self.key, event_uuid, exc)
                return
            self._count(result)
            self._done[key] = done

    def _count(self, result: UpsertResult) -> None:
        if result is UpsertResult.CREATED:
            self.stats.events_new += 1
        elif result is UpsertResult.UPDATED:
            self.stats.events_updated += 1
        elif result is UpsertResult.UNCHANGED:
            self.stats.events_unchanged += 1
        else:
            self.stats.events_stale += 1

    def _revoke(self, event_uuid: str) -> None:
        try:
            existing = self.store.get(event_uuid)
            if existing is None:
                return
            if self.settings.revoked == "delete":
                delete = getattr(self.store, "delete", None)
                if delete is None:
                    raise StoreError("this store cannot delete events", event_uuid=event_uuid)
                delete(event_uuid)
            else:
                tags = existing.setdefault("Tag", [])
                if any(t.get("name") == REVOKED_TAG for t in tags):
                    return
                tags.append({"name": REVOKED_TAG})
                self.store.upsert(existing, force=True)
            self.stats.events_revoked += 1
        except StoreError as exc:
            self.stats.store_failures += 1
            self.stats.failures.append(f"revoke {event_uuid}: {exc}")


def _newer(version: str, than: str) -> bool:
    if not version or not than:
        return version > than
    try:
        return parse_timestamp(version) > parse_timestamp(than)
    except ValueError:
        return version > than


def _later(current: str | None, candidate: str | None) -> str | None:
    if not candidate:
        return current
    try:
        moment = parse_timestamp(candidate)
    except ValueError:
        log.warning("ignoring a malformed X-TAXII-Date-Added-Last header %r", candidate[:60])
        return current
    if not current:
        return candidate
    return candidate if moment > parse_timestamp(current) else current


class _StateView:
    """What the state knows about the ids of one page, read in a few queries and kept current while the page is
    staged; the writes are buffered and applied by :meth:`write` (in the caller's transaction)."""

    def __init__(self, state: SyncState, key: str, items: list[Any]):
        self.state, self.key = state, key
        ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]
        self.heads = state.staged_heads(key, ids)  # id → (version, digest) staged
        self.seen = state.other_versions(key, ids)
        self.seen.update(((i, v), d) for i, (v, d) in self.heads.items())
        self.referenced_by = state.containers_referencing_many(key, ids)
        staged_containers = [i["id"] for i in items if isinstance(i, dict) and i.get("type") in CONTAINER_TYPES
                             and i.get("id") in self.heads]
        self._refs = {c: references(o) for c, o in state.staged_objects(key, staged_containers).items()}
        self.dirty: set[str] = set()
        self._seen_rows: list[tuple[str, str, str]] = []
        self._staged_rows: list[tuple[str, str, str, str, bool, str]] = []
        self._loose: set[str] = set()

    def staged_version(self, stix_id: str) -> str | None:
        head = self.heads.get(stix_id)
        return head[0] if head else None

    def record_older(self, stix_id: str, version: str, content: str) -> None:
        """A version older than the staged one: only its digest is kept (for dedup)."""
        self.seen[(stix_id, version)] = content
        self._seen_rows.append((stix_id, version, content))

    def stage(self, stix_id: str, version: str, stix_type: str, body: str, revoked: bool, content: str) -> None:
        replaced = self.heads.get(stix_id)
        if replaced is not None:
            self._seen_rows.append((stix_id, *replaced))
        self.heads[stix_id] = (version, content)
        self.seen[(stix_id, version)] = content
        self._staged_rows.append((stix_id, version, stix_type, body, revoked, content))

    def stage_container(self, container: str, refs: set[str]) -> None:
        previous = self._refs.get(container, set())
        self.state.set_refs(self.key, container, refs, previous=previous)
        self._refs[container] = refs
        self.state.clear_loose(self.key, refs)
        self._loose -= refs
        for ref in previous - refs:
            self.referenced_by.get(ref, set()).discard(container)
        for ref in refs:
            self.referenced_by.setdefault(ref, set()).add(container)
        self.dirty.add(container)

    def stage_member(self, stix_id: str, *, loose: bool) -> None:
        containers = self.referenced_by.get(stix_id)
        if containers:
            self.dirty |= containers
        elif loose:
            self._loose.add(stix_id)

    def write(self) -> None:
        self.state.record_seen_many(self.key, self._seen_rows)
        self.state.stage_many(self.key, self._staged_rows)
        self.state.mark_dirty_many(self.key, sorted(self.dirty))
        self.state.add_loose_many(self.key, sorted(self._loose))
