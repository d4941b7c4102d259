"""``legion sync quarantine retry``: run quarantined items through the pull path again.

With a :class:`~legion_misp.trust.TrustPolicy`, retried objects are verified again exactly as during a pull (a
roster update, e.g. a member's new key, can make them acceptable); without one nothing is verified, so the CLI
always passes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from legion_misp.stores import EventStore, open_store
from legion_misp.trust import TrustPolicy

from .datastore import StixSource
from .job import run_lock
from .pull import Puller
from .settings import SyncSettings
from .state import SyncState
from .transport import Page

if TYPE_CHECKING:
    from legion_misp.config import Config


class _Nothing(StixSource):
    def pages(self, cursor, *, page_size: int) -> Iterator[Page]:  # type: ignore[override]
        return iter(())


def retry_quarantine(state: SyncState, store: EventStore, settings: SyncSettings,
                     entry_ids: list[int] | None, *, trust: TrustPolicy | None = None) -> tuple[int, int]:
    """Retry the given open entries (all when None), verified by ``trust`` when given. Returns (resolved, still
    quarantined)."""
    entries = [e for e in state.quarantined() if entry_ids is None or e.id in entry_ids]
    started = time.time()
    by_collection: dict[str, Puller] = {}
    for entry in entries:
        if entry.collection not in by_collection:
            guard = (trust.guard(state.db, collection=entry.collection.split("|", 1)[-1]) if trust is not None
                     else None)
            by_collection[entry.collection] = Puller(_Nothing(), state, entry.collection, settings, store,
                                                     trust=guard)
        puller = by_collection[entry.collection]
        try:
            payload = json.loads(entry.payload) if entry.payload else None
        except ValueError:
            payload = None
        with state.transaction():
            state.resolve_quarantine(entry.id)
            if isinstance(payload, list) and entry.stix_id and state.staged_version(entry.collection, entry.stix_id):
                state.mark_dirty(entry.collection, entry.stix_id)  # a group that failed conversion
            elif isinstance(payload, dict):
                puller.take([payload])
            else:
                state.quarantine(entry.collection, entry.reason, stix_id=entry.stix_id, version=entry.version,
                                 payload=entry.payload)
    for puller in by_collection.values():
        puller.finish()
    retried_ids = {e.stix_id for e in entries if e.stix_id}
    open_after = [e for e in state.quarantined()
                  if e.id in {x.id for x in entries} or (e.stix_id in retried_ids and e.at >= started)]
    still = min(len(entries), len({e.stix_id or e.id for e in open_after}))
    return len(entries) - still, still


def retry_configured(config: Config, entry_ids: list[int] | None) -> tuple[int, int]:
    """What ``legion sync quarantine retry`` runs: retry into the configured store, under the sync lock, every
    object verified again by the organisation's trust policy (never waved through). Returns (resolved, still
    quarantined)."""
    settings = SyncSettings.from_config(config)
    trust = TrustPolicy.from_config(config)
    with run_lock(settings.lock_path), SyncState(settings.state_path) as db:
        return retry_quarantine(db, open_store(config), settings, entry_ids, trust=trust)
