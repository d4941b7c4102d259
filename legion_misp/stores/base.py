"""One small interface over every place MISP events live (feed directory, MISP API, memory).

In the spirit of python-stix2's DataSource/DataSink: backends implement a few primitives (``query``, ``get``,
``upsert``, ``add_sighting``); derived operations (``sightings_of``, ``events_with_value``, ``find_attribute``) are
written once here from those primitives.

Events are plain dicts: the inner object of MISP's ``{"Event": {...}}`` JSON.
"""

from __future__ import annotations

import copy
import time
import uuid as uuid_module
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import Any

from ..errors import StoreError
from .events import event_timestamp, iter_attributes, normalise_event

ErrorHandler = Callable[[StoreError], None]


class UpsertResult(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"  # the stored copy is newer (higher timestamp): nothing written


class EventSource(ABC):
    """Read access to MISP events."""

    @abstractmethod
    def query(self, *, since: int | None = None, tags: list[str] | None = None, published: bool | None = None,
              on_error: ErrorHandler | None = None) -> Iterator[dict[str, Any]]:
        """Stream events with timestamp ≥ ``since`` (epoch seconds), carrying all ``tags``, in the ``published``
        state. A broken event raises :class:`StoreError`, or, with ``on_error``, is reported there and skipped."""

    @abstractmethod
    def get(self, event_uuid: str) -> dict[str, Any] | None:
        """The event with this uuid, or None."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.query()

    def find_attribute(self, attribute_uuid: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(event, attribute)`` holding the attribute with this uuid (top level or inside an object)."""
        for event in self.query():
            for attribute in iter_attributes(event):
                if attribute.get("uuid") == attribute_uuid:
                    return event, attribute
        return None

    def sightings_of(self, attribute_uuid: str) -> list[dict[str, Any]]:
        found = self.find_attribute(attribute_uuid)
        return list(found[1].get("Sighting", [])) if found else []

    def events_with_value(self, value: str) -> Iterator[dict[str, Any]]:
        """Events having an attribute with exactly this value (or this value as one side of a composite)."""
        for event in self.query():
            if any(value == a.get("value") or value in str(a.get("value", "")).split("|")
                   for a in iter_attributes(event)):
                yield event


class EventSink(ABC):
    """Write access to MISP events."""

    @abstractmethod
    def upsert(self, event: dict[str, Any], *, force: bool = False) -> UpsertResult:
        """Create or replace the event with this uuid. A stored copy with a higher timestamp is kept
        (``STALE``) unless ``force``. Never creates a second event with the same uuid."""

    @abstractmethod
    def add_sighting(self, attribute_uuid: str, sighting: dict[str, Any], *,
                     event_uuid: str | None = None) -> None:
        """Attach a sighting (MISP shape: ``type``, ``date_sighting``, ``source``...) to an attribute."""

    def upsert_many(self, events: Iterable[dict[str, Any]], *, on_error: ErrorHandler | None = None
                    ) -> dict[UpsertResult, int]:
        """Upsert a stream of events; count results. Errors go to ``on_error`` (else raise)."""
        counts = dict.fromkeys(UpsertResult, 0)
        for event in events:
            try:
                counts[self.upsert(event)] += 1
            except StoreError as exc:
                if on_error is None:
                    raise
                on_error(exc)
        return counts


class EventStore(EventSource, EventSink, ABC):
    """A source and a sink over the same backend."""


def decide_upsert(existing: dict[str, Any] | None, incoming: dict[str, Any], force: bool) -> UpsertResult:
    """The upsert rule shared by all backends."""
    if existing is None:
        return UpsertResult.CREATED
    if normalise_event(existing) == normalise_event(incoming):
        return UpsertResult.UNCHANGED
    if not force and event_timestamp(existing) > event_timestamp(incoming):
        return UpsertResult.STALE
    return UpsertResult.UPDATED


def new_sighting(source: str | None = None, *, sighting_type: str = "0", when: int | None = None) -> dict[str, Any]:
    """A sighting dict in MISP's shape (type 0 = seen, 1 = false positive, 2 = expiration)."""
    sighting = {"uuid": str(uuid_module.uuid4()), "type": sighting_type,
                "date_sighting": str(int(when if when is not None else time.time()))}
    if source:
        sighting["source"] = source
    return sighting


def attach_sighting(event: dict[str, Any], attribute_uuid: str, sighting: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` with the sighting appended to the attribute; raises KeyError if absent."""
    updated = copy.deepcopy(event)
    for attribute in iter_attributes(updated):
        if attribute.get("uuid") == attribute_uuid:
            attribute.setdefault("Sighting", []).append(dict(sighting))
            return updated
    raise KeyError(attribute_uuid)
