"""New events added to MISP by a few background writers, without the races MISP 2.5.1 has between parallel adds.

MISP saves one ``POST /events/add`` in ~100 ms on two cores, most of it waiting between PHP, MariaDB and Redis, so
two or three adds at once finish in about half the time (measured: 112 ms/event alone, 60-72 ms with two writers).
But two adds in flight race inside MISP where both create the same row:

- a tag, an organisation, a sharing group or a galaxy cluster neither of them finds (``Tag::captureTag``,
  ``Organisation::captureOrg``…: find, then insert into a unique index; the loser answers HTTP 500);
- a correlation between two attributes of the same value: ``Correlation::afterSaveCorrelation`` runs after each
  attribute insert, outside any transaction, so two adds in flight either both miss the pair (measured: 972 of
  1,000 correlations made by four writers) or both insert it (a duplicate of ``default_correlations``'s unique key).

So an event goes out in parallel only when (1) everything it names that MISP would create was created by an add
that already finished in this batch, and (2) it shares no value MISP still correlates with an add in flight
(case-folded: MariaDB compares them case-insensitively; each part of a composite ``a|b`` value; with advanced
correlations on, any IP with any IP or CIDR). A value MISP no longer correlates does not count: types in
``NON_CORRELATING_TYPES``, ``disable_correlation``, correlation switched off, and over-correlating values (more
than ``MISP.correlation_limit`` attributes of finished adds hold it: MISP then blocks the value and inserts nothing;
when the limit cannot be read, no value is taken as over-correlating; or MISP lists it as blocked, having blocked it
during this batch). Otherwise the event waits for the adds in
flight that stand in its way; the first event naming a new tag or organisation is added alone. A failed add is
kept and reported when the queue closes (:meth:`AddQueue.close`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError
from .events import iter_attributes

_ORG_KEYS = frozenset({"Org", "Orgc", "Organisation"})
_GALAXY_KEYS = frozenset({"Galaxy", "GalaxyCluster"})


def created_by_add(event: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """What MISP would create on an add of ``event`` if it did not have it yet: tags (anywhere: event, attributes,
    objects, galaxy clusters), organisations (creator, owner, sightings'), sharing groups, galaxies and clusters."""
    found: set[tuple[str, str]] = set()
    _collect(event, "Event", found)
    return frozenset(found)


def _collect(node: Any, key: str, found: set[tuple[str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, key, found)
        return
    if not isinstance(node, dict):
        return
    if key == "Tag" and node.get("name"):
        found.add(("tag", str(node["name"])))
    elif key in _ORG_KEYS and (node.get("uuid") or node.get("name")):
        found.add(("org", str(node.get("uuid") or node.get("name"))))
    elif key == "SharingGroup" and (node.get("uuid") or node.get("name")):
        found.add(("sharing-group", str(node.get("uuid") or node.get("name"))))
    elif key in _GALAXY_KEYS and (node.get("uuid") or node.get("tag_name") or node.get("type")):
        found.add((key, str(node.get("uuid") or node.get("tag_name") or node.get("type"))))
    for child_key, child in node.items():
        if isinstance(child, (dict, list)):
            _collect(child, child_key, found)


# MISP 2.5.1 MispAttribute::NON_CORRELATING_TYPES and PRIMARY_ONLY_CORRELATING_TYPES
NON_CORRELATING_TYPES = frozenset({"comment", "http-method", "aba-rtn", "gender", "counter", "integer", "float",
                                   "port", "nationality", "cortex", "boolean", "anonymised"})
PRIMARY_ONLY_TYPES = frozenset({"ip-src|port", "ip-dst|port", "hostname|port"})
ANY_IP = "\x00any ip or CIDR"  # with advanced correlations an IP correlates with the CIDRs holding it


@dataclass(frozen=True)
class CorrelationSettings:
    """What MISP's correlation engine does (``MISP.completely_disable_correlation``, ``MISP.correlation_limit``,
    ``MISP.enable_advanced_correlations``). ``limit=None``: unknown, so no value is taken as over-correlating."""

    disabled: bool = False
    limit: int | None = None
    advanced: bool = True


def correlating_values(event: dict[str, Any], settings: CorrelationSettings = CorrelationSettings()
                       ) -> Counter[str]:
    """How many attributes of ``event`` hold each value MISP correlates on (case-folded; both parts of a composite
    value, the first only for ``ip|port`` types)."""
    values: Counter[str] = Counter()
    if settings.disabled or _flag(event.get("disable_correlation")):
        return values
    for attribute in iter_attributes(event):
        value, kind = attribute.get("value"), str(attribute.get("type") or "")
        if (not isinstance(value, str) or not value or kind in NON_CORRELATING_TYPES
                or _flag(attribute.get("disable_correlation")) or _flag(attribute.get("deleted"))):
            continue
        folded = value.casefold()
        parts = folded.split("|", 1) if "|" in kind and "|" in folded else [folded]
        values.update(dict.fromkeys(parts[:1] if kind in PRIMARY_ONLY_TYPES else parts, 1))
        if settings.advanced and (kind.startswith("ip-") or kind == "domain|ip"):
            values[ANY_IP] += 1
    return values


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


@dataclass
class _Add:
    future: Future[Any]
    values: Counter[str]


class AddQueue:
    """Adds ``add(event)`` calls on ``writers`` threads, in submission order, with the rules of the module doc.

    At most ``max_waiting`` adds are queued or in flight (memory stays flat on a long pull)."""

    def __init__(self, add: Callable[[dict[str, Any]], Any], *, writers: int, location: str,
                 correlation: CorrelationSettings = CorrelationSettings(), max_waiting: int = 8,
                 over_correlating: Callable[[], set[str] | None] | None = None, refresh_every: int = 5):
        self._add = add
        self.correlation = correlation
        # MISP's list of blocked (over-correlating) values, case-folded, or None when it cannot be read. A value
        # blocked already when the batch starts may be a stale entry (its attributes deleted since, MISP would
        # correlate it again); one blocked during the batch has more holders than MISP's limit right now.
        self._over_correlating = over_correlating
        self._refresh_every = refresh_every
        self._blocked_before = over_correlating() if over_correlating else None
        self._blocked_now: set[str] = set()
        self._finished = 0  # adds finished in this batch
        self._refreshed_at = 0  # ... when the list was last read
        self._holders: Counter[str] = Counter()  # attributes per value in adds that finished in this batch
        self.location = location
        self.max_waiting = max(max_waiting, writers)
        self._pool = ThreadPoolExecutor(max_workers=max(1, writers), thread_name_prefix="misp-add")
        self._adds: dict[str, _Add] = {}  # uuid -> add queued or in flight (or finished, not yet collected)
        self._created: set[tuple[str, str]] = set()  # made by adds that finished in this batch
        self._lock = threading.Lock()
        self.failures: list[StoreError] = []

    def submit(self, event: dict[str, Any]) -> None:
        needs = created_by_add(event)
        values = correlating_values(event, self.correlation)
        while self._adds:
            self._collect_finished()
            with self._lock:
                ready = needs <= self._created
                blocking = [a for a in self._adds.values() if not ready or self._shares_live_value(a.values, values)]
            if not blocking and len(self._adds) < self.max_waiting:
                break
            if blocking and ready and self._refresh_blocked():
                continue  # MISP may have blocked the shared value meanwhile: look again
            self._wait(blocking[0] if blocking else next(iter(self._adds.values())))
        self._adds[event["uuid"]] = _Add(self._pool.submit(self._run, event, needs, values), values)

    def _shares_live_value(self, theirs: Counter[str], ours: Counter[str]) -> bool:
        """A value both hold that MISP still correlates: not over-correlating (MISP stops correlating a value once
        more than ``MISP.correlation_limit`` other attributes hold it, and then inserts nothing for it)."""
        limit = self.correlation.limit
        return any(value == ANY_IP or ((limit is None or self._holders[value] <= limit)
                                       and value not in self._blocked_now)
                   for value in theirs.keys() & ours.keys())

    def _refresh_blocked(self) -> bool:
        """Read MISP's over-correlating values again (at most once every ``refresh_every`` finished adds); True
        when a value became blocked since the last reading."""
        if self._over_correlating is None or self._blocked_before is None:
            return False
        with self._lock:
            due = self._finished - self._refreshed_at >= self._refresh_every
            if due:
                self._refreshed_at = self._finished
        if not due:
            return False
        listed = self._over_correlating()
        if listed is None:
            self._over_correlating = None  # not readable with this key: the limit rule alone from now on
            return False
        newly = (listed - self._blocked_before) - self._blocked_now
        with self._lock:
            self._blocked_now |= newly
        return bool(newly)

    def _run(self, event: dict[str, Any], needs: frozenset[tuple[str, str]], values: Counter[str]) -> Any:
        result = self._add(event)
        with self._lock:
            self._created |= needs
            self._holders.update(values)
            self._finished += 1
        return result

    def wait_for(self, event_uuid: str) -> None:
        """The same uuid again in this batch: its add must land before MISP's copy is compared (raises its error)."""
        pending = self._adds.pop(event_uuid, None)
        if pending is not None:
            error = pending.future.exception()
            if error is not None:
                raise _as_store_error(error, self.location)

    def _wait(self, pending: _Add) -> None:
        pending.future.exception()  # blocks until it finished, raises nothing
        self._collect_finished()

    def _collect_finished(self) -> None:
        for event_uuid, pending in list(self._adds.items()):
            if pending.future.done():
                del self._adds[event_uuid]
                error = pending.future.exception()
                if error is not None:
                    self.failures.append(_as_store_error(error, self.location))

    def close(self) -> list[StoreError]:
        """Wait for every add; the failures of the whole batch, in submission order of discovery."""
        for pending in self._adds.values():
            pending.future.exception()
        self._collect_finished()
        self._pool.shutdown(wait=True)
        return self.failures


def _as_store_error(error: BaseException, location: str) -> StoreError:
    if isinstance(error, StoreError):
        return error
    return StoreError(f"add failed: {type(error).__name__}: {error}", location=location)
