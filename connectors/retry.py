"""``legion sync quarantine retry``: run quarantined items through the pull path again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from legion_misp.stores import EventStore

from .datastore import StixSource
from .pull import Puller
from .settings import SyncSettings
from .state import SyncState
from .transport import Page


class _Nothing(StixSource):
    def pages(self, cursor, *, page_size: int) -> Iterator[Page]:  # type: ignore[override]
        return iter(())


def retry_quarantine(state: SyncState, store: EventStore, settings: SyncSettings,
                     entry_ids: list[int] | None) -> tuple[int, int]:
    """Retry the given open entries (all when None). Returns (resolved, still quarantined)."""
    entries = [e for e in state.quarantined() if entry_ids is None or e.id in entry_ids]
    started = time.time()
    by_collection: dict[str, Puller] = {}
    for entry in entries:
        puller = by_collection.setdefault(entry.collection, Puller(_Nothing(), state, entry.collection, settings,
                                                                   store))
        try:
            payload = json.loads(entry.payload) if entry.payload else None
        except ValueError:
            payload = None
        with state.transaction():
            state.resolve_quarantine(entry.id)
            if isinstance(payload, list) and entry.stix_id and state.staged_version(entry.collection, entry.stix_id):
                state.mark_dirty(entry.collection, entry.stix_id)  # a group that failed conversion
            elif isinstance(payload, dict):
                puller._take_object(payload)
            else:
                state.quarantine(entry.collection, entry.reason, stix_id=entry.stix_id, version=entry.version,
                                 payload=entry.payload)
    for puller in by_collection.values():
        puller._convert(final=True)
    retried_ids = {e.stix_id for e in entries if e.stix_id}
    open_after = [e for e in state.quarantined()
                  if e.id in {x.id for x in entries} or (e.stix_id in retried_ids and e.at >= started)]
    still = min(len(entries), len({e.stix_id or e.id for e in open_after}))
    return len(entries) - still, still
