"""The trust policy of this organisation and its pull-time guard.

:class:`TrustPolicy` is built once (roster, settings, clock). :meth:`TrustPolicy.guard` binds it to a state
database and the collection being pulled, giving a :class:`PullGuard` that the connector calls:

1. :meth:`PullGuard.check` for every pulled object, before it is staged: the :class:`~.verify.Verifier` decides;
   an accepted object updates the replay history and, for an indicator, the sightings; a rejected one is
   quarantined by the caller with ``verdict.quarantine_reason``;
2. :meth:`PullGuard.annotate` on every MISP event converted from a group of accepted objects: ``to_ids`` by
   corroboration, ``legion:corroboration="k-of-n"`` tags, ``legion:signed-by`` on the event;
3. :meth:`PullGuard.refresh` at the end of a pull: local events holding an indicator that more (or fewer) members
   now publish are re-annotated and handed back through the caller's ``load``/``save`` callbacks (trust never
   touches an event store itself).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..timeutil import utc_now
from .canonical import signature_entry
from .corroboration import (
    Corroboration,
    apply_corroboration,
    corroborate,
    indicator_refs,
    set_signer_tag,
    sighting_of,
)
from .roster import KeyStatus, Roster
from .settings import TrustSettings
from .state import TrustState
from .verify import Verdict, Verifier, remember

if TYPE_CHECKING:
    from ..config import Config

Clock = Callable[[], dt.datetime]
LoadEvent = Callable[[str], dict[str, Any] | None]  # event uuid -> the stored event, or None
SaveEvent = Callable[[dict[str, Any]], bool]  # store a re-annotated event; True when it was updated
CONTAINER_TYPES = frozenset({"report", "grouping"})


class TrustPolicy:
    """What this organisation accepts and how it decides ``to_ids``.

    Parameters
    ----------
    roster : the federation's members and keys.
    settings : :class:`~.settings.TrustSettings` (f, window, overlap, require_signatures).
    clock : returns the current aware UTC time; the receipt time of pulled objects (tests pass a fixed one).
    """

    def __init__(self, roster: Roster, settings: TrustSettings, *, clock: Clock = utc_now):
        self.roster = roster
        self.settings = settings
        self.clock = clock
        self.verifier = Verifier(roster, require_signatures=settings.require_signatures,
                                 key_overlap=settings.key_overlap)

    @classmethod
    def from_config(cls, config: Config, *, clock: Clock = utc_now) -> TrustPolicy:
        """Raises :class:`~legion_misp.errors.ConfigError` when the roster is inconsistent."""
        return cls(Roster.from_config(config), TrustSettings.from_config(config), clock=clock)

    def guard(self, db: sqlite3.Connection, *, collection: str | None) -> PullGuard:
        return PullGuard(self, TrustState(db), collection)

    def corroboration(self, state: TrustState, key: str) -> Corroboration:
        """How many current members corroborate ``key`` (sightings made with a now-revoked key do not count)."""
        revoked = {k.id for m in self.roster.members for k in m.keys if k.status is KeyStatus.REVOKED}
        sightings = [s for s in state.sightings([key]) if s.key_id not in revoked]
        return corroborate(key, sightings, f=self.settings.corroboration_f, n=len(self.roster),
                           window=self.settings.corroboration_window, members=self.roster.pseudonyms)


@dataclass
class GuardStats:
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    sightings: int = 0
    refreshed: int = 0


class PullGuard:
    """The trust checks of one pull from one collection. See the module docstring."""

    def __init__(self, policy: TrustPolicy, state: TrustState, collection: str | None):
        self.policy = policy
        self.state = state
        self.collection = collection
        self.stats = GuardStats()
        self._changed: set[str] = set()

    def check(self, obj: Any, *, record: bool = True) -> Verdict:
        """Verify one pulled object; when accepted and ``record``, remember its version and sighting."""
        now = self.policy.clock()
        stix_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        previous = self.state.accepted(stix_id) if stix_id else None
        verdict = self.policy.verifier.verify(obj, now=now, collection=self.collection, previous=previous)
        if not verdict.accepted:
            self.stats.rejected[verdict.code.value] = self.stats.rejected.get(verdict.code.value, 0) + 1
            return verdict
        self.stats.accepted += 1
        if record and stix_id:
            self.state.record_accepted(stix_id, remember(previous, verdict), collection=self.collection,
                                       at=now.timestamp())
            self._record_sighting(obj, verdict, now)
        return verdict

    def _record_sighting(self, obj: dict[str, Any], verdict: Verdict, now: dt.datetime) -> None:
        if verdict.signer is None or obj.get("type") != "indicator":
            return
        sighting = sighting_of(obj, signer=verdict.signer, key_id=verdict.key_id, received=now)
        if sighting is None:  # revoked, or no usable pattern any more: it no longer counts
            self._changed |= self.state.withdraw_sighting(obj["id"], verdict.signer)
            return
        changed = self.state.record_sighting(sighting, received=now.timestamp(), collection=self.collection)
        self.stats.sightings += 1
        self._changed |= changed

    def annotate(self, event: dict[str, Any], group: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """A copy of the event converted from ``group``, with ``to_ids`` decided by corroboration and the signer
        of its container as a tag. Remembers which indicators the event holds (for :meth:`refresh`)."""
        objects = list(group)
        refs = indicator_refs(objects)
        self.state.set_event_refs(event["uuid"], refs)
        decisions = {key: self.policy.corroboration(self.state, key) for key in set(refs.values())}
        annotated = apply_corroboration(event, refs, decisions)
        container = next((o for o in objects if o.get("type") in CONTAINER_TYPES), None)
        entry = signature_entry(container) if container else None
        return set_signer_tag(annotated, entry.get("signer") if isinstance(entry, dict) else None)

    def refresh(self, load: LoadEvent, save: SaveEvent) -> int:
        """Re-annotate stored events holding an indicator whose publishers changed in this pull: ``load`` fetches
        an event by uuid, ``save`` stores the re-annotated copy (``timestamp`` +1 s on the event and on each changed
        attribute). Returns how many events were updated."""
        changed, self._changed = self._changed, set()
        updated = 0
        for event_uuid in self.state.events_with(changed):
            event = load(event_uuid)
            if event is None:
                continue
            refs = self.state.event_refs(event_uuid)
            decisions = {key: self.policy.corroboration(self.state, key) for key in set(refs.values())}
            annotated = apply_corroboration(event, refs, decisions, bump=True)
            if annotated.get("timestamp") == event.get("timestamp"):
                continue  # nothing changed
            if save(annotated):
                updated += 1
        self.stats.refreshed += updated
        return updated
