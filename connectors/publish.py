"""Publish: local store → sanitise hook → misp-stix → envelopes (capped in bytes and objects) → ``add_objects`` →
status → per-object outcome → the event is published only when every one of its objects was accepted.

Versions: an event is skipped when this collection already accepted it at the same MISP ``timestamp``; an event
whose timestamp changed is converted again and misp-stix gives its changed parts a new ``modified`` (a new STIX
version); objects whose (id, version) the collection already accepted are not sent again. After a crash the next
run resends only what was not confirmed; a server that answers "already there" for a resent object (medallion)
is checked and counted as accepted.

Signing (optional :class:`~legion_misp.trust.Signer`): every object misp-stix made is signed before envelopes
are built (Ed25519 is deterministic, so a resent object has the same bytes), and the signature extension's
``extension-definition`` (with the identity that defines it) is published to the collection once, unsigned, as a
protocol constant.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from legion_misp.stix.codec import ConversionError, MispToStix, StixObject
from legion_misp.stores.events import event_timestamp
from legion_misp.trust import SigningError, published_constants

from .datastore import ENVELOPE_OVERHEAD, StixSink, verify_failures
from .settings import SyncSettings
from .state import SyncState
from .transport import AddStatus

if TYPE_CHECKING:
    from legion_misp.trust import Signer

log = logging.getLogger(__name__)

SanitizeHook = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass
class PushStats:
    events: int = 0          # events read from the local store
    unchanged: int = 0       # already published at this timestamp
    withheld: int = 0        # the sanitiser returned nothing to share
    published: int = 0       # every object accepted
    failed: int = 0          # conversion failed or some object refused
    sent: int = 0            # objects POSTed
    accepted: int = 0        # objects the server accepted (incl. ones it already had)
    refused: int = 0         # objects the server refused
    envelopes: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "failures"} | {"failures": self.failures[:50]}


@dataclass
class _Pending:
    uuid: str
    timestamp: int
    missing: set[tuple[str, str]]
    total: int
    failed: bool = False


class Publisher:
    """Push events to one sink (collection), recording progress in ``state`` under ``collection_key``."""

    def __init__(self, sink: StixSink, state: SyncState, collection_key: str, settings: SyncSettings,
                 sanitize: SanitizeHook, *, converter: MispToStix | None = None, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None, signer: Signer | None = None):
        self.sink = sink
        self.state = state
        self.key = collection_key
        self.settings = settings
        self.sanitize = sanitize
        self.converter = converter or MispToStix()
        self.dry_run = dry_run
        self.progress = progress
        self.signer = signer
        limit = sink.max_envelope_bytes
        self.max_bytes = min(settings.envelope_max_bytes, limit) if limit else settings.envelope_max_bytes
        self.stats = PushStats()
        self._buffer: list[StixObject] = []
        self._buffer_bytes = ENVELOPE_OVERHEAD
        self._queued: set[tuple[str, str]] = set()
        self._waiting: dict[str, _Pending] = {}
        self._waiters: dict[tuple[str, str], list[str]] = {}
        self._sender: ThreadPoolExecutor | None = None
        self._sending: tuple[list[StixObject], Future[AddStatus]] | None = None  # the envelope in flight

    def publish(self, events: Iterable[dict[str, Any]]) -> PushStats:
        """Convert and send ``events``. An envelope is POSTed (and its status polled) by one background thread
        while the next events are converted; its outcome is recorded here, in this thread, before the next
        envelope goes out, so the state only ever records what the server confirmed."""
        try:
            if self.signer is not None:
                self._publish_constants()
            for event in events:
                self.stats.events += 1
                self._publish_one(event)
                if self.progress:
                    self.progress(1)
            self._flush()
            self._settle()
        finally:
            self._stop_sender()
        for pending in self._waiting.values():  # objects never confirmed (should not happen)
            self._fail(pending, "objects still pending on the server")
        self._waiting.clear()
        return self.stats

    def _publish_one(self, event: dict[str, Any]) -> None:
        uuid, stamp = event.get("uuid"), event_timestamp(event)
        done = self.state.published_timestamp(self.key, uuid)
        if done is not None and done >= stamp:
            self.stats.unchanged += 1
            return
        shared = self.sanitize(event)
        if shared is None:
            self.stats.withheld += 1
            return
        try:
            objects = self.converter.convert(shared)
            if self.signer is not None:
                objects = [self._sign(o) for o in objects]
        except ConversionError as exc:
            self.stats.failed += 1
            self.stats.failures.append(str(exc))
            log.warning("%s", exc)
            return
        keys = {o.key for o in objects}
        already = self.state.pushed_versions(self.key, keys)
        pending = _Pending(uuid=uuid, timestamp=stamp, missing=keys - already, total=len(keys))
        if self.dry_run:
            self.stats.sent += sum(1 for o in objects if o.key in pending.missing and o.key not in self._queued)
            self._queued.update(pending.missing)
            self.stats.published += 1
            return
        self._waiting[uuid] = pending
        for key in pending.missing:
            self._waiters.setdefault(key, []).append(uuid)
        for obj in objects:
            if obj.key in pending.missing and obj.key not in self._queued:
                self._queued.add(obj.key)
                self._enqueue(obj)
        if not pending.missing:
            self._complete(pending)

    def _sign(self, obj: StixObject) -> StixObject:
        assert self.signer is not None
        try:
            return StixObject(id=obj.id, version=obj.version, type=obj.type, data=self.signer.sign_json(obj.data))
        except SigningError as exc:
            raise ConversionError(f"cannot sign {obj.id}: {exc}") from exc

    def _publish_constants(self) -> None:
        """The signature extension's definition and its creator, once per collection (unsigned constants)."""
        for constant in published_constants():
            obj = StixObject(id=constant["id"], version=constant["modified"], type=constant["type"],
                             data=json.dumps(constant, separators=(",", ":")).encode("utf-8"))
            if self.dry_run or obj.key in self._queued or self.state.pushed_versions(self.key, [obj.key]):
                continue
            self._queued.add(obj.key)
            self._enqueue(obj)

    def _enqueue(self, obj: StixObject) -> None:
        size = len(obj.data) + 1
        if size + ENVELOPE_OVERHEAD > self.max_bytes:
            self._refuse({obj.key: f"object is {len(obj.data)} bytes, larger than the envelope cap "
                                   f"({self.max_bytes} bytes)"})
            return
        if self._buffer and (self._buffer_bytes + size > self.max_bytes
                             or len(self._buffer) >= self.settings.envelope_max_objects):
            self._flush()
        self._buffer.append(obj)
        self._buffer_bytes += size

    def _flush(self) -> None:
        """Send the buffer in the background, once the envelope before it is settled."""
        if not self._buffer:
            return
        self._settle()
        batch, self._buffer, self._buffer_bytes = self._buffer, [], ENVELOPE_OVERHEAD
        self.stats.envelopes += 1
        self.stats.sent += len(batch)
        if self._sender is None:
            self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taxii-post")
        self._sending = (batch, self._sender.submit(self.sink.add, batch))

    def _settle(self) -> None:
        """Wait for the envelope in flight and record its outcome (transport errors propagate from here: nothing
        unconfirmed is recorded)."""
        if self._sending is None:
            return
        (batch, future), self._sending = self._sending, None
        # once answered, the state knows what was accepted: forget the keys so memory does not grow with the run
        self._queued.difference_update(o.key for o in batch)
        self._record(batch, future.result())

    def _stop_sender(self) -> None:
        """After a failure elsewhere: let the envelope in flight finish and record it if it was answered."""
        if self._sending is not None:
            if self._sending[1].exception() is None:
                with contextlib.suppress(Exception):
                    self._settle()
            self._sending = None
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None

    def _record(self, batch: list[StixObject], status: AddStatus) -> None:
        sent = {o.id: o for o in batch}
        refused_ids = verify_failures(self.sink, status, sent)
        pending_ids = {object_id for object_id, _ in status.pendings}
        accepted, refused = [], {}
        for obj in batch:
            if obj.id in refused_ids:
                refused[obj.key] = refused_ids[obj.id]
            elif obj.id in pending_ids:
                refused[obj.key] = "still pending when the status poll timed out"
            else:
                accepted.append(obj.key)
        with self.state.transaction():
            self.state.record_pushed(self.key, accepted)
            self.stats.accepted += len(accepted)
            for key in accepted:
                for uuid in self._waiters.pop(key, []):
                    pending = self._waiting.get(uuid)
                    if pending is not None:
                        pending.missing.discard(key)
                        if not pending.missing and not pending.failed:
                            self._complete(pending)
            self._refuse(refused)

    def _refuse(self, refused: dict[tuple[str, str], str]) -> None:
        for key, reason in refused.items():
            self.stats.refused += 1
            for uuid in self._waiters.pop(key, []):
                pending = self._waiting.get(uuid)
                if pending is not None:
                    self._fail(pending, f"{key[0]}: {reason}")

    def _complete(self, pending: _Pending) -> None:
        self.state.record_published(self.key, pending.uuid, pending.timestamp, pending.total)
        self._waiting.pop(pending.uuid, None)
        self.stats.published += 1

    def _fail(self, pending: _Pending, reason: str) -> None:
        if pending.failed:
            return
        pending.failed = True
        self._waiting.pop(pending.uuid, None)
        self.stats.failed += 1
        self.stats.failures.append(f"event {pending.uuid} not published: {reason}")
        log.warning("event %s not published to %s: %s", pending.uuid, self.key, reason)
