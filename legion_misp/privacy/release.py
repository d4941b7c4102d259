"""A sanitising release: stream events from a source through a :class:`Sanitizer` into a sink.

Order of work (the ledger is the only way to spend ε):

1. The release's (ε, δ), :meth:`Sanitizer.release_cost`, is computed from the policy before any event is read.
2. Unless this is a dry run, the ledger is debited (atomic check-and-record). If the budget would be exceeded,
   :class:`~legion_misp.privacy.ledger.BudgetExceeded` is raised and nothing is written.
3. Events are read one at a time; each is sanitised and written on its own (the feed store writes each file
   atomically), so a bad event fails alone: its error names the event uuid and file, the others go on, and no
   half-written file is left. An event that must now stay home has any previously shared copy removed from the sink.

A dry run writes and debits nothing, and reports per event what would be dropped, pseudonymised, scrubbed or
noised, and the ε it would cost.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError
from ..stores.base import EventSink, EventSource
from .ledger import Ledger
from .mechanisms import PrivacyCost
from .report import ACTIONS, EventReport
from .sanitizer import Sanitizer

log = logging.getLogger(__name__)

EventCallback = Callable[[EventReport], None]


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
                "ledger_entry": self.ledger_entry, "events_read": self.events_read, "shared": self.shared,
                "dropped": self.dropped, "failed": self.failed, "withdrawn": self.withdrawn,
                "actions": {name: self.actions.get(name, 0) for name in ACTIONS},
                "max_event_epsilon": self.max_event_cost.epsilon, "max_event_delta": self.max_event_cost.delta}


def sanitize_events(source: EventSource, sink: EventSink | None, sanitizer: Sanitizer, *,
                    ledger: Ledger | None, dry_run: bool = False, on_event: EventCallback | None = None,
                    what: str = "sanitize", scope: str = "sanitize") -> ReleaseSummary:
    """Run one release from ``source`` to ``sink``; see the module docstring for the order of work.

    Raises
    ------
    BudgetExceeded
        The release would overspend; nothing was read or written.
    ValueError
        A release that spends ε was asked for without a ledger, or without a sink.
    """
    cost = sanitizer.release_cost()
    summary = ReleaseSummary(dry_run=dry_run, cost=cost)
    if not dry_run:
        if sink is None:
            raise ValueError("a release needs a sink (or dry_run=True)")
        if cost.epsilon > 0 or cost.delta > 0:
            if ledger is None:
                raise ValueError("a release that spends privacy budget needs a ledger")
            summary.ledger_entry = ledger.spend(epsilon=cost.epsilon, delta=cost.delta, what=what, scope=scope)
    with _batch(sink if not dry_run else None):
        for report in _reports(source, sink, sanitizer, dry_run, summary):
            summary.record(report)
            if on_event is not None:
                on_event(report)
    return summary


def _reports(source: EventSource, sink: EventSink | None, sanitizer: Sanitizer, dry_run: bool,
             summary: ReleaseSummary) -> Iterator[EventReport]:
    read_errors: list[StoreError] = []
    for event in source.query(on_error=read_errors.append):
        for error in read_errors:
            if error.event_uuid == event["uuid"]:  # e.g. a stale manifest entry: the event itself was read
                log.warning("%s", error)
            else:
                yield _failed(error)
        read_errors.clear()
        location = _location(source, event)
        try:
            shared, report = sanitizer.sanitize(event, location=location)
        except StoreError as exc:
            yield _failed(exc)
            continue
        if not dry_run and sink is not None:
            try:
                _write(sink, shared, report, summary)
            except StoreError as exc:
                yield _failed(exc)
                continue
        yield report
    yield from (_failed(e) for e in read_errors)


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
