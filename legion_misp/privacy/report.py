"""What the sanitiser did to each event, and why: plain data, JSON-ready, never holding a protected value."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .mechanisms import PrivacyCost

ACTIONS = ("dropped", "pseudonymised", "scrubbed", "noised", "removed")


@dataclass(frozen=True)
class Action:
    """One change: ``action`` (dropped, pseudonymised, scrubbed, noised, removed) on ``target``, ``reason``."""

    action: str
    target: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "target": self.target, "reason": self.reason}


@dataclass
class EventReport:
    """The sanitiser's record for one event.

    Attributes
    ----------
    event_uuid : the event's uuid (None if it could not be read).
    location : file or store the event came from.
    outcome : ``shared``, ``dropped`` (the whole event stays home) or ``failed`` (bad input; see ``error``).
    actions : every change, in order.
    cost : (ε, δ) the fresh noise of this event needs (composition over the kinds noised afresh; a release pays
        each kind once, so the release total is not the sum over events).
    fresh, reused : noised datums drawn afresh / republished from the noise store.
    mechanisms : names of the mechanisms that noised something in this event.
    residual : tokens of the shared copy that still look like identifiers (filled only when the sanitiser's
        ``report_residual`` is on; see :mod:`~legion_misp.privacy.residual`).
    """

    event_uuid: str | None
    location: str | None = None
    outcome: str = "shared"
    actions: list[Action] = field(default_factory=list)
    cost: PrivacyCost = field(default_factory=PrivacyCost)
    mechanisms: list[str] = field(default_factory=list)
    error: str | None = None
    fresh: int = 0
    reused: int = 0
    residual: list[dict[str, str]] = field(default_factory=list)
    # The original event's info, for the local dry-run listing only: never serialised (the JSON report may travel).
    info: str = field(default="", repr=False, compare=False)

    def add(self, action: str, target: str, reason: str) -> None:
        self.actions.append(Action(action, target, reason))

    def counts(self) -> dict[str, int]:
        counted = Counter(a.action for a in self.actions)
        return {name: counted.get(name, 0) for name in ACTIONS}

    def top_reasons(self, limit: int = 3) -> list[tuple[str, int]]:
        """The most frequent reasons for changes, with how many changes each explains."""
        return Counter(a.reason for a in self.actions).most_common(limit)

    def as_dict(self) -> dict[str, Any]:
        return {"event_uuid": self.event_uuid, "location": self.location, "outcome": self.outcome,
                "error": self.error, "epsilon": self.cost.epsilon, "delta": self.cost.delta,
                "mechanisms": list(self.mechanisms), "counts": self.counts(),
                "fresh_noise": self.fresh, "republished_noise": self.reused,
                "actions": [a.as_dict() for a in self.actions],
                **({"residual": list(self.residual)} if self.residual else {})}
