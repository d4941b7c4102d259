"""Persistent noise: every noised datum is noised once, and every later release republishes the same noisy value.

A *datum* is one noised number with a stable identity: the sighting count of one tree node of one attribute, the
clamped value of one numeric attribute, one distinct time of one event. :class:`NoiseRequest` names it by
``(kind, identity)`` and gives its true value. A book resolves requests to noisy values:

- :class:`PersistentBook` (every real release): looks the datum up in the noise store, which lives in the
  ledger's SQLite file (:meth:`Ledger.commit_release`). Stored with the same true value: the stored noisy value is
  republished, free. New, or its true value changed: fresh noise is drawn, and the fresh noise and its charge are
  recorded in **one transaction, before the value is returned** (so before it can be shared; a crash after it
  republishes the same value). Keys are HMAC-SHA256 under a random 32-byte key kept in the ledger file: neither
  identities nor true values are stored in clear.
- :class:`TransientBook` (library calls without a ledger, tests): fresh noise on every call, memoised within one
  event (equal datums of one event are noised once).
- :class:`DryRunBook` (dry runs): **draws no noise**; returns the true values only so that the walk can go on,
  marks which datums would be fresh and what they would cost. The sanitiser never lets a dry-run value or a
  decision taken on it (a threshold) into its output.

Charges: a fresh draw of a kind costs that kind's ε once per release (datums of one kind compose in parallel: each
unit of privacy belongs to one of them). Sighting tree nodes are charged once per calendar block instead (see
:mod:`.continual`), and a re-drawn node costs the tree's ε once per release.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .ledger import Charge, Ledger, NoiseRow
from .mechanisms import PrivacyCost


@dataclass(slots=True)
class NoiseRequest:
    """One datum to noise.

    kind : mechanism family ("time", "numeric:counter", "sighting-node"...).
    identity : stable identity of the datum within its kind (uuids, tree node, time value).
    value : true value (int, after clamping).
    draw : ``draw(value)`` returns a fresh noisy value for the true ``value`` (called at most once per datum and
        release; one callable can serve many requests, each call draws fresh noise).
    charge : what a first draw costs; ``redraw`` what a draw after a change costs (default: ``charge``).
    epsilon : ε of one draw of this datum (for the lifetime figure in ``legion budget show``).
    """

    kind: str
    identity: str
    value: int
    draw: Callable[[int], int]
    charge: Charge
    epsilon: float
    redraw: Charge | None = None


@dataclass
class Resolution:
    """Noisy values (aligned with the requests), what was fresh, and the cost this event needed."""

    values: list[int]
    fresh: int = 0
    reused: int = 0
    charges: list[Charge] = field(default_factory=list)
    dry_run: bool = False

    @property
    def cost(self) -> PrivacyCost:
        return charges_cost(self.charges)


def charges_cost(charges: list[Charge]) -> PrivacyCost:
    """(ε, δ) of paying ``charges`` together: maximum within a group (parallel), sum across groups."""
    groups: dict[str, PrivacyCost] = {}
    for charge in charges:
        name = charge.group or charge.key
        groups[name] = PrivacyCost.parallel([groups.get(name, PrivacyCost()),
                                             PrivacyCost(charge.epsilon, charge.delta)])
    total = PrivacyCost()
    for cost in groups.values():
        total = total + cost
    return total


def _unique_charges(charges: list[Charge]) -> list[Charge]:
    seen: dict[str, Charge] = {}
    for charge in charges:
        seen.setdefault(charge.key, charge)
    return list(seen.values())


class TransientBook:
    """Fresh noise for every call (no store); equal datums within one call share one draw."""

    dry_run = False

    def __init__(self, now: float | None = None):
        self.now = time.time() if now is None else now

    def resolve(self, requests: list[NoiseRequest]) -> Resolution:
        drawn: dict[tuple[str, str, int], int] = {}
        values = []
        for request in requests:
            key = (request.kind, request.identity, request.value)
            noisy = drawn.get(key)
            if noisy is None:
                noisy = drawn[key] = int(request.draw(request.value))
            values.append(noisy)
        return Resolution(values=values, fresh=len(drawn),
                          charges=_unique_charges([r.charge for r in requests]))


class _Keyed:
    def __init__(self, ledger: Ledger, *, create_key: bool = True):
        self.ledger = ledger
        self._key = ledger.store_key(create=create_key) or b""
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)  # copied per tag: the key is padded once

    def _tags(self, request: NoiseRequest) -> tuple[str, str]:
        """HMAC-SHA256(store key, "d", kind, identity) and (…, "v", kind, identity, value), NUL-separated, hex."""
        name = f"{request.kind}\x00{request.identity}"
        datum = self._keyed.copy()
        datum.update(b"d\x00" + name.encode())
        value = self._keyed.copy()
        value.update(f"v\x00{name}\x00{int(request.value)}".encode())
        return datum.hexdigest(), value.hexdigest()


class PersistentBook(_Keyed):
    """Noise kept in the ledger's noise store; fresh noise is recorded and charged before it is returned.

    Parameters
    ----------
    ledger : the ledger (its file holds the noise store).
    what, scope : how the spends are labelled in the ledger.
    now : the release time (tree steps); default the ledger's clock.
    defer : keep fresh noise pending until :meth:`flush` (one transaction for many events). The caller must flush
        before anything noised through this book is shared, and re-sanitise when ``flush`` reports a conflict.
    """

    dry_run = False

    def __init__(self, ledger: Ledger, *, what: str, scope: str, now: float | None = None, defer: bool = False):
        super().__init__(ledger)
        self.what = what
        self.scope = scope
        self.now = ledger._clock() if now is None else now
        self.defer = defer
        self.paid_this_release: set[str] = set()
        self.spent = PrivacyCost()
        self.entries: list[int] = []
        self.fresh = 0
        self.reused = 0
        self._pending_rows: dict[str, NoiseRow] = {}
        self._pending_charges: list[Charge] = []
        self._reader: Any = None  # one read connection for the look-ups between two flushes

    def _lookup(self, datums: list[str]) -> dict[str, tuple[str, int]]:
        if not self.defer:
            return self.ledger.lookup_noise(datums)
        if self._reader is None:
            self._reader = self.ledger.reader()
        return self.ledger.lookup_noise(datums, reader=self._reader)

    def close(self) -> None:
        """Close the read connection (a deferred book keeps one open between flushes)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _within_release(self, charge: Charge) -> Charge:
        """A once-ever charge whose parallel group this release already paid is recorded at no extra cost."""
        if charge.once and charge.group is not None and charge.group in self.paid_this_release:
            return Charge(charge.key, 0.0, 0.0, once=True, group=charge.group)
        return charge

    def resolve(self, requests: list[NoiseRequest]) -> Resolution:
        tags = [self._tags(r) for r in requests]
        unknown = sorted({d for d, _ in tags if d not in self._pending_rows})
        stored = self._lookup(unknown) if unknown else {}
        pending = self._pending_rows
        stored.update({d: (pending[d].value_tag, pending[d].noisy) for d, _ in tags if d in pending})
        values: dict[str, int] = {}
        rows: dict[str, NoiseRow] = {}
        charges: list[Charge] = []
        reused = 0
        for request, (datum, value_tag) in zip(requests, tags, strict=True):
            if datum in values or datum in rows:
                continue
            found = stored.get(datum)
            if found is not None and found[0] == value_tag:
                values[datum] = found[1]
                reused += 1
                continue
            rows[datum] = NoiseRow(datum, value_tag, request.kind, int(request.draw(request.value)), request.epsilon)
            charges.append(request.charge if found is None else (request.redraw or request.charge))
        event_charges = _unique_charges(charges)
        self.fresh += len(rows)
        self.reused += reused
        if self.defer:
            self._pending_rows.update(rows)
            self._pending_charges.extend(event_charges)
            values.update({d: row.noisy for d, row in rows.items()})
        elif rows or event_charges:
            values.update(self._commit(list(rows.values()), event_charges))
        return Resolution(values=[values[d] for d, _ in tags], fresh=len(rows), reused=reused,
                          charges=event_charges)

    def _commit(self, rows: list[NoiseRow], charges: list[Charge]) -> dict[str, int]:
        due = [self._within_release(c) for c in _unique_charges(charges)
               if c.once or c.key not in self.paid_this_release]
        if not rows and not due:
            return {}
        entry, debited, committed = self.ledger.commit_release(charges=due, rows=rows, what=self.what,
                                                               scope=self.scope)
        self.paid_this_release.update(c.group or c.key for c in due if c.epsilon > 0 or c.delta > 0)
        self.paid_this_release.update(c.key for c in due if not c.once)
        self.spent = self.spent + PrivacyCost(*debited)
        if entry is not None:
            self.entries.append(entry)
        return committed

    def flush(self) -> bool:
        """Record and pay the pending noise (one transaction). Returns True when another process had recorded a
        different value for some datum first: the events resolved since the last flush must be sanitised again
        (they will now republish the stored values)."""
        self.close()
        rows, charges = list(self._pending_rows.values()), self._pending_charges
        self._pending_rows, self._pending_charges = {}, []
        committed = self._commit(rows, charges)
        return any(committed.get(row.datum, row.noisy) != row.noisy for row in rows)


class DryRunBook(_Keyed):
    """Draws nothing and writes nothing: tells which datums would be fresh and what they would cost."""

    dry_run = True

    def __init__(self, ledger: Ledger | None = None, *, now: float | None = None):
        if ledger is not None and ledger.store_key(create=False) is None:
            ledger = None  # nothing was ever noised: everything would be fresh (and a dry run writes nothing)
        self.ledger = ledger
        if ledger is not None:
            super().__init__(ledger, create_key=False)
        self.now = time.time() if now is None else now
        self.would_charge: dict[str, Charge] = {}

    def resolve(self, requests: list[NoiseRequest]) -> Resolution:
        stored: dict[str, tuple[str, int]] = {}
        tags = [self._tags(r) for r in requests] if self.ledger is not None else [("", "")] * len(requests)
        if self.ledger is not None:
            stored = self.ledger.lookup_noise(sorted({d for d, _ in tags}))
        charges: list[Charge] = []
        fresh = reused = 0
        for request, (datum, value_tag) in zip(requests, tags, strict=True):
            found = stored.get(datum)
            if found is not None and found[0] == value_tag:
                reused += 1
                continue
            fresh += 1
            charges.append(request.charge if found is None else (request.redraw or request.charge))
        event_charges = _unique_charges(charges)
        paid = self.ledger.paid_charges([c.key for c in event_charges if c.once]) if self.ledger else set()
        event_charges = [c for c in event_charges if c.key not in paid]
        for charge in event_charges:
            self.would_charge.setdefault(charge.key, charge)
        return Resolution(values=[r.value for r in requests], fresh=fresh, reused=reused, charges=event_charges,
                          dry_run=True)

    @property
    def would_spend(self) -> PrivacyCost:
        return charges_cost(list(self.would_charge.values()))
