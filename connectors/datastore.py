"""STIX sources and sinks in the python-stix2 spirit: a few abstract primitives, TAXII backends that build them.

- :class:`StixSource` reads pages of objects from a cursor (``pages``).
- :class:`StixSink` adds objects and reports per-object outcomes (``add``), and can tell which versions of an
  object it holds (``versions``).
- :class:`TaxiiCollectionSource` / :class:`TaxiiCollectionSink` implement them over :class:`~.transport.TaxiiClient`;
  server quirks stay inside them (``next`` expiry, non-advancing pages, medallion's "failure" for a duplicate).
- :class:`MemoryStixCollection` is both, in memory, for unit tests.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

from legion_misp.errors import AccessDeniedError, NextExpiredError, SyncError
from legion_misp.stix.codec import StixObject

from .transport import AddStatus, Page, TaxiiClient, parse_timestamp, rewind

log = logging.getLogger(__name__)

ENVELOPE_OVERHEAD = len(b'{"objects":[]}')


class StixSource(ABC):
    """Where STIX objects are read from."""

    @abstractmethod
    def pages(self, cursor: Callable[[], str | None], *, page_size: int) -> Iterator[Page]:
        """Pages of objects added after ``cursor()``. ``cursor`` is called again whenever the source must restart
        (the caller advances it as it stores pages)."""


class StixSink(ABC):
    """Where STIX objects are written to."""

    @property
    def max_envelope_bytes(self) -> int | None:
        """Largest request body the sink accepts, in bytes (None: no limit known)."""
        return None

    @abstractmethod
    def add(self, objects: list[StixObject]) -> AddStatus:
        """Add objects; report which (id, version) were accepted or refused."""

    @abstractmethod
    def versions(self, object_id: str) -> set[str | None]:
        """The versions of ``object_id`` the sink holds."""


class TaxiiCollectionSource(StixSource):
    """Pages of a TAXII 2.1 collection, following ``next`` with identical filters.

    Within one call of :meth:`pages`: the first request sends ``added_after`` = the cursor moved back 1 ms (so
    objects sharing the cursor's ``date_added`` are not lost; the caller's dedup skips what it saw); later requests
    repeat exactly that filter with ``next``. A refused ``next`` (400) restarts from the then-current cursor, at most
    ``max_restarts`` times without the cursor advancing; medallion's token dies ``session_timeout`` seconds after the
    first page whatever the pace, so after a refusal the source reads ahead (pages fetched back to back, up to
    ``read_ahead_bytes``, then handed over). The same page again, or a page that says ``more`` but holds nothing,
    ends the call (logged) instead of looping.
    """

    def __init__(self, client: TaxiiClient, *, max_restarts: int = 3, read_ahead_bytes: int = 64 * 1024 * 1024):
        self.client = client
        self.read_ahead_bytes = read_ahead_bytes
        self.max_restarts = max_restarts
        self.restarts = 0
        self.stalled = False

    def pages(self, cursor: Callable[[], str | None], *, page_size: int) -> Iterator[Page]:
        fruitless = 0
        ahead = False
        while True:
            start = cursor()
            added_after = rewind(start) if start else None
            token: str | None = None
            previous: tuple[Any, ...] | None = None
            buffer: list[Page] = []
            while True:
                try:
                    page = self.client.get_page(added_after=added_after, next_token=token, limit=page_size)
                except NextExpiredError:
                    yield from buffer
                    self.restarts += 1
                    fruitless = fruitless + 1 if cursor() == start else 0
                    if fruitless > self.max_restarts:
                        raise
                    log.info("%s: 'next' refused; resuming from the cursor %s and reading ahead", self.client.key,
                             cursor())
                    ahead = True  # the token outlives fast paging only: fetch pages back to back from now on
                    break
                signature = _signature(page) if page.objects else None
                stalled = page.more and page.next and (not page.objects or signature == previous)
                if ahead and not stalled:
                    buffer.append(page)
                    if sum(p.size for p in buffer) > self.read_ahead_bytes:
                        yield from buffer
                        buffer = []
                else:
                    yield page
                if not page.more or not page.next:
                    yield from buffer
                    return
                if stalled:
                    yield from buffer
                    log.warning("%s: the server's 'next' does not advance (empty page or the same page again); "
                                "stopping this run, the cursor is kept", self.client.key)
                    self.stalled = True
                    return
                previous = signature
                token = page.next  # medallion reuses one token for a whole result set; OpenTAXII changes it


def _signature(page: Page) -> tuple[Any, ...]:
    first, last = page.objects[0], page.objects[-1]
    ids = (first.get("id") if isinstance(first, dict) else None, last.get("id") if isinstance(last, dict) else None)
    return (*ids, len(page.objects), page.date_added_first, page.date_added_last, page.next)


class TaxiiCollectionSink(StixSink):
    """Adds objects to a TAXII 2.1 collection. Checks ``can_write`` when built (a clear error early)."""

    def __init__(self, client: TaxiiClient, *, check_access: bool = True):
        self.client = client
        if check_access:
            client.check_access(write=True)

    @property
    def max_envelope_bytes(self) -> int | None:
        return self.client.max_content_length

    def add(self, objects: list[StixObject]) -> AddStatus:
        return self.client.add_objects([o.data for o in objects])

    def versions(self, object_id: str) -> set[str | None]:
        return self.client.object_versions(object_id)


class MemoryStixCollection(StixSource, StixSink):
    """An in-memory collection with a TAXII-like cursor (``date_added`` strings), for unit tests."""

    def __init__(self) -> None:
        self.objects: list[tuple[str, dict[str, Any]]] = []  # (date_added, object)
        self._clock = 0

    def add(self, objects: list[StixObject]) -> AddStatus:
        status = AddStatus(status_id="memory", status="complete", total_count=len(objects))
        present = {(o["id"], o.get("modified")) for _, o in self.objects}
        for item in objects:
            obj = json.loads(item.data)
            key = (obj["id"], obj.get("modified"))
            if key in present:
                status.failures[(item.id, item.version)] = "already present"
                continue
            self._clock += 1
            self.objects.append((f"2030-01-01T00:00:00.{self._clock:06d}Z", obj))
            present.add(key)
            status.successes.add((item.id, item.version))
        status.success_count, status.failure_count = len(status.successes), len(status.failures)
        return status

    def versions(self, object_id: str) -> set[str | None]:
        return {o.get("modified") or o.get("created") for _, o in self.objects if o["id"] == object_id}

    def pages(self, cursor: Callable[[], str | None], *, page_size: int) -> Iterator[Page]:
        start = cursor()
        after = parse_timestamp(rewind(start)) if start else None
        items = [(d, o) for d, o in self.objects if after is None or parse_timestamp(d) > after]
        for index in range(0, max(len(items), 1), page_size):
            chunk = items[index:index + page_size]
            more = index + page_size < len(items)
            yield Page(objects=[o for _, o in chunk], more=more, next=str(index + page_size) if more else None,
                       date_added_first=chunk[0][0] if chunk else None,
                       date_added_last=chunk[-1][0] if chunk else None)


def verify_failures(sink: StixSink, status: AddStatus, sent: dict[str, StixObject]) -> dict[str, str]:
    """Failures that are real: medallion reports an object it already holds as a failure ("Unable to process
    object"); those are checked against the server's versions and counted as accepted. Returns id → reason."""
    real: dict[str, str] = {}
    for (object_id, _version), reason in status.failures.items():
        item = sent.get(object_id)
        if item is None:
            continue
        try:
            held = sink.versions(object_id)
        except (SyncError, AccessDeniedError):
            held = set()
        if (item.version and item.version in {_norm(v) for v in held if v}) or (not item.version and held):
            continue
        real[object_id] = reason or "refused by the server"
    return real


def _norm(version: str) -> str:
    return version
