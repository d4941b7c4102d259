"""An in-memory event store (tests, the demo's scratch space, composition)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from ..errors import StoreError
from .base import ErrorHandler, EventStore, UpsertResult, attach_sighting, decide_upsert
from .events import check_event, matches


class MemoryEventStore(EventStore):
    """Events kept in a dict by uuid. Stores and returns deep copies, like a real backend would."""

    def __init__(self, events: list[dict[str, Any]] | None = None):
        self._events: dict[str, dict[str, Any]] = {}
        for event in events or []:
            self.upsert(event)

    def __len__(self) -> int:
        return len(self._events)

    def query(self, *, since: int | None = None, tags: list[str] | None = None, published: bool | None = None,
              on_error: ErrorHandler | None = None) -> Iterator[dict[str, Any]]:
        for event in list(self._events.values()):
            if matches(event, since=since, tags=tags, published=published):
                yield copy.deepcopy(event)

    def get(self, event_uuid: str) -> dict[str, Any] | None:
        event = self._events.get(event_uuid)
        return copy.deepcopy(event) if event is not None else None

    def upsert(self, event: dict[str, Any], *, force: bool = False) -> UpsertResult:
        check_event(event, location="memory")
        result = decide_upsert(self._events.get(event["uuid"]), event, force)
        if result in (UpsertResult.CREATED, UpsertResult.UPDATED):
            self._events[event["uuid"]] = copy.deepcopy(event)
        return result

    def add_sighting(self, attribute_uuid: str, sighting: dict[str, Any], *,
                     event_uuid: str | None = None) -> None:
        candidates = [self._events[event_uuid]] if event_uuid in self._events else list(self._events.values())
        for event in candidates:
            try:
                self._events[event["uuid"]] = attach_sighting(event, attribute_uuid, sighting)
                return
            except KeyError:
                continue
        raise StoreError(f"no attribute {attribute_uuid} to attach the sighting to", location="memory",
                         event_uuid=event_uuid)
