"""A sanitising release: stream events from a source through a :class:`Sanitizer` into a sink.

Order of work (the ledger is the only way to spend ε):

1. Events are read one at a time. An event already released to the same output exactly as it is now (same
   content, policy and sighting-counter step; fingerprints are HMACs kept in the ledger file) is skipped: nothing is
   sanitised, written or spent.
2. Each other event is sanitised through a :class:`~.noise_store.PersistentBook`: a datum already noised
   republishes its stored noisy value; fresh noise (new or changed data) is recorded in the noise store and paid
   in the ledger in one transaction **before** the event is written. A release pays each mechanism kind at most
   once (parallel composition over datums), so a release with nothing new spends nothing.
3. Each event is written on its own (the feed store writes each file atomically), so a bad event fails alone: its
   error names the event uuid and file, the others go on. An event that must now stay home has any previously
   shared copy removed from the sink.

A dry run writes, draws and debits nothing (:class:`~.noise_store.DryRunBook`): it reports per event what would be
dropped, pseudonymised, scrubbed or noised, which noise would be fresh and the ε the release would cost.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..stores.base import EventSink, EventSource
from ..stores.events import iter_attributes
from .ledger import Ledger
from .mechanisms import PrivacyCost
from .noise_store import DryRunBook, PersistentBook, TransientBook
from .report import ACTIONS, EventReport
from .sanitizer import Sanitizer

log = logging.getLogger(__name__)

EventCallback = Callable[[EventReport], None]
BATCH_EVENTS = 200  # events whose fresh noise is recorded in one transaction before they are written


@dataclass
class ReleaseSummary:
    """Totals of one release (what ``legion sanitize`` prints and the demo tabulates)."""

    dry_run: bool
    cost: PrivacyCost
    ledger_entry: int | None = None
    events_read: int = 0
    shared: int = 0
    dropped: int = 0
    failed: int = 0
    withdrawn: int = 0
    actions: Counter = field(default_factory=Counter)
    max_event_cost: PrivacyCost = field(default_factory=PrivacyCost)
    errors: list[str] = field(default_factory=list)
    unchanged: int = 0
    ledger_entries: list[int] = field(default_factory=list)
    fresh_noise: int = 0
    republished_noise: int = 0

    def record(self, report: EventReport) -> None:
        self.events_read += 1
        if report.outcome == "shared":
            self.shared += 1
        elif report.outcome == "dropped":
            self.dropped += 1
        else:
            self.failed += 1
            self.errors.append(report.error or "failed")
        self.actions.update(report.counts())
        self.max_event_cost = PrivacyCost.parallel([self.max_event_cost, report.cost])

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "epsilon": self.cost.epsilon, "delta": self.cost.delta,
                "ledger_entry": self.ledger_entry, "ledger_entries": self.ledger_entries,
                "events_read": self.events_read + self.unchanged, "unchanged": self.unchanged,
                "fresh_noise": self.fresh_noise, "republished_noise": self.republished_noise,
                "shared": self.shared,
                "dropped": self.dropped, "failed": self.failed, "withdrawn": self.withdrawn,
                "actions": {name: self.actions.get(name, 0) for name in ACTIONS},
                "max_event_epsilon": self.max_event_cost.epsilon, "max_event_delta": self.max_event_cost.delta}


def sanitize_events(source: EventSource, sink: EventSink | None, sanitizer: Sanitizer, *,
                    ledger: Ledger | None, dry_run: bool = False, on_event: EventCallback | None = None,
                    what: str = "sanitize", scope: str = "sanitize", now: float | None = None) -> ReleaseSummary:
    """Run one release from ``source`` to ``sink``; see the module docstring for the order of work.

    Raises
    ------
    BudgetExceeded
        Fresh noise would overspend; events already written stay (their noise was recorded and paid), the rest
        of the release is not written.
    ValueError
        A release that may spend ε was asked for without a ledger, or without a sink.
    """
    summary = ReleaseSummary(dry_run=dry_run, cost=PrivacyCost())
    if dry_run:
        book: Any = DryRunBook(ledger, now=now)
    else:
        if sink is None:
            raise ValueError("a release needs a sink (or dry_run=True)")
        cost = sanitizer.release_cost()
        if ledger is None and (cost.epsilon > 0 or cost.delta > 0):
            raise ValueError("a release that spends privacy budget needs a ledger")
        book = PersistentBook(ledger, what=what, scope=scope, now=now, defer=True) if ledger is not None \
            else TransientBook(now)
    skip = _Unchanged(ledger, sink, sanitizer, book.now) if not dry_run and ledger is not None else None
    try:
        with _batch(sink if not dry_run else None):
            for report in _reports(source, sink, sanitizer, book, summary, skip):
                summary.record(report)
                if on_event is not None:
                    on_event(report)
    finally:
        if skip is not None:
            skip.save()
        if isinstance(book, PersistentBook):
            book.close()
        _settle(summary, book)
    return summary


def _settle(summary: ReleaseSummary, book: Any) -> None:
    if isinstance(book, DryRunBook):
        summary.cost = book.would_spend
    elif isinstance(book, PersistentBook):
        summary.cost = book.spent
        summary.ledger_entry = book.entries[0] if book.entries else None
        summary.ledger_entries = list(book.entries)
        summary.fresh_noise, summary.republished_noise = book.fresh, book.reused


class _Unchanged:
    """Which events were already released to this sink exactly as they are now (same content, policy and
    counter step): those are skipped, so a re-run of unchanged data reads them and writes nothing."""

    def __init__(self, ledger: Ledger, sink: EventSink | None, sanitizer: Sanitizer, now: float):
        self.ledger = ledger
        self.sink_name = _sink_name(sink)
        self.sink = sink
        self._key = ledger.store_key() if self.sink_name else b""
        self.known = ledger.released_fingerprints(self.sink_name) if self.sink_name else {}
        self.policy = json.dumps(sanitizer.fingerprint(), sort_keys=True, default=str)
        policy = sanitizer.policy
        self.step = int(now) // policy.sightings_step if policy.sightings == "noise" else 0
        self.pending: list[tuple[str, str]] = []

    def _tags(self, event: dict[str, Any]) -> tuple[str, str]:
        name = hmac.new(self._key, b"event\x00" + str(event.get("uuid")).encode(), hashlib.sha256).hexdigest()
        has_sightings = any(a.get("Sighting") for a in iter_attributes(event))
        content = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
        step = str(self.step) if has_sightings else "-"
        digest = hmac.new(self._key, f"{self.policy}\x00{step}\x00{content}".encode(), hashlib.sha256)
        return name, digest.hexdigest()

    def check(self, event: dict[str, Any]) -> tuple[bool, tuple[str, str] | None]:
        if not self.sink_name:
            return False, None
        tags = self._tags(event)
        known = self.known.get(tags[0], "")
        if known[:-2] != tags[1]:
            return False, tags
        event_path = getattr(self.sink, "event_path", None)
        if known.endswith(":s") and event_path is not None and not event_path(str(event.get("uuid"))).exists():
            return False, tags  # the shared copy was removed from the output: write it again
        return True, tags

    def done(self, tags: tuple[str, str] | None, shared: bool) -> None:
        if tags is not None:
            self.pending.append((tags[0], tags[1] + (":s" if shared else ":d")))

    def save(self) -> None:
        self.ledger.record_released(self.sink_name, self.pending)
        self.pending = []


def _sink_name(sink: EventSink | None) -> str:
    path = getattr(sink, "path", None)
    return f"feed:{Path(path).resolve()}" if path is not None else ""


def _reports(source: EventSource, sink: EventSink | None, sanitizer: Sanitizer, book: Any,
             summary: ReleaseSummary, skip: _Unchanged | None) -> Iterator[EventReport]:
    read_errors: list[StoreError] = []
    batch: list[_Pending] = []
    for event in source.query(on_error=read_errors.append):
        for error in read_errors:
            if error.event_uuid == event["uuid"]:  # e.g. a stale manifest entry: the event itself was read
                log.warning("%s", error)
            else:
                yield _failed(error)
        read_errors.clear()
        unchanged, tags = skip.check(event) if skip is not None else (False, None)
        if unchanged:
            summary.unchanged += 1
            continue
        location = _location(source, event)
        try:
            shared, report = sanitizer.sanitize(event, location=location, book=book)
        except StoreError as exc:
            yield _failed(exc)
            continue
        batch.append(_Pending(event, location, tags, shared, report))
        if len(batch) >= BATCH_EVENTS:
            yield from _settle_batch(batch, sink, sanitizer, book, summary, skip)
    yield from _settle_batch(batch, sink, sanitizer, book, summary, skip)
    yield from (_failed(e) for e in read_errors)


@dataclass
class _Pending:
    event: dict[str, Any]
    location: str | None
    tags: tuple[str, str] | None
    shared: dict[str, Any] | None
    report: EventReport


def _settle_batch(batch: list[_Pending], sink: EventSink | None, sanitizer: Sanitizer, book: Any,
                  summary: ReleaseSummary, skip: _Unchanged | None) -> Iterator[EventReport]:
    """Record and pay the batch's fresh noise (one transaction), then write its events: nothing noised is
    written before its noise is recorded. If another process recorded a datum first, the batch is sanitised
    again and republishes the stored values."""
    if not batch:
        return
    if isinstance(book, PersistentBook) and book.flush():
        for item in batch:
            item.shared, item.report = sanitizer.sanitize(item.event, location=item.location, book=book)
        book.flush()
    for item in batch:
        if not book.dry_run and sink is not None:
            try:
                _write(sink, item.shared, item.report, summary)
            except StoreError as exc:
                yield _failed(exc)
                continue
            if skip is not None and item.report.outcome != "failed":
                skip.done(item.tags, item.shared is not None)
        yield item.report
    batch.clear()


def _write(sink: EventSink, shared: dict[str, Any] | None, report: EventReport, summary: ReleaseSummary) -> None:
    if shared is not None:
        sink.upsert(shared, force=True)
        return
    delete = getattr(sink, "delete", None)
    if delete is not None and report.event_uuid and delete(report.event_uuid):
        summary.withdrawn += 1
        report.add("removed", "previously shared copy", "the event may no longer leave; its shared copy was "
                   "removed from the output")


def _failed(error: StoreError) -> EventReport:
    return EventReport(event_uuid=getattr(error, "event_uuid", None), location=getattr(error, "location", None),
                       outcome="failed", error=str(error))


def _location(source: EventSource, event: dict[str, Any]) -> str | None:
    located = getattr(source, "event_location", None) or getattr(source, "event_path", None)
    return str(located(event["uuid"])) if located is not None else None


@contextlib.contextmanager
def _batch(sink: EventSink | None) -> Iterator[None]:
    batch = getattr(sink, "batch", None)
    if batch is None:
        yield
        return
    with batch():
        yield
