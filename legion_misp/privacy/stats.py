"""DP statistics: the only place organisation-level volumes leave (``legion sanitize stats --window 30d``).

Over the events whose ``timestamp`` falls inside the window (all of them, including those that never leave), count
per dimension how many events have at least one attribute (or tag) with each key:

============  =====================================================  ==============================
dimension     keys                                                   key set
============  =====================================================  ==============================
total         ``events``                                             fixed
category      MISP attribute categories                              fixed (MISP describeTypes)
type          MISP attribute types                                   fixed (MISP describeTypes)
tag           event and attribute tags of ``stats_tag_namespaces``   from the data
technique     ATT&CK technique ids (``T1566``, ``T1566.001``) in tags  from the data
============  =====================================================  ==============================

Each event counts towards at most ``stats_max_keys`` keys per dimension (the first in sorted order), so one event
moves each histogram by at most that much in L1. Every histogram gets discrete Laplace noise (OpenDP) with
``stats_epsilon / 5`` each; keys of the fixed sets are all noised (zeros included) and counts below
``stats_threshold`` are suppressed afterwards (post-processing, δ = 0; the threshold is raised so that on average
fewer than half a key is released from noise alone). Keys from the data need a threshold high
enough that a key only one event brings is released with probability below δ; it is raised automatically so that
the two data-keyed histograms together spend at most ``stats_delta``.

The release is one MISP event with a ``legion-dp-statistics`` object (window, ε, δ, unit of privacy, mechanism,
thresholds) and one ``legion-dp-count`` object (dimension, key, count) per released count.
"""

from __future__ import annotations

import math
import re
import time
import uuid as uuid_module
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError
from ..stores.base import EventSink, EventSource
from ..stores.events import iter_attributes
from . import gates
from .ledger import Ledger
from .mechanisms import NoiseSource, PrivacyCost, SecureNoise, ThresholdHistogramMechanism
from .policy import Policy
from .sanitizer import _epoch_int as _int
from .sanitizer import _iso, pseudonym_organisation
from .scrub import ProtectedContent

DIMENSIONS = ("total", "category", "type", "tag", "technique")
_PUBLIC_DIMENSIONS = {"total", "category", "type"}
_TECHNIQUE = re.compile(r"\bT\d{4}(?:\.\d{3})?\b")
_ATTACK_TAG = re.compile(r"^(misp-galaxy:mitre-|mitre-attack)", re.IGNORECASE)
UNIT_OF_PRIVACY = "one MISP event of the organisation (added or removed) within the window"
STATS_OBJECT = "legion-dp-statistics"
COUNT_OBJECT = "legion-dp-count"


@dataclass
class StatisticsResult:
    """Released (noisy, thresholded) counts per dimension, the window and what it cost."""

    counts: dict[str, dict[str, int]]
    window_start: int
    window_end: int
    events_in_window: int
    cost: PrivacyCost

    def as_dict(self) -> dict[str, Any]:
        return {"window_start": self.window_start, "window_end": self.window_end, "counts": self.counts,
                "epsilon": self.cost.epsilon, "delta": self.cost.delta}


class StatisticsRelease:
    """Noisy thresholded histograms of the window's events.

    Parameters
    ----------
    policy : Policy
        ``stats_*`` keys: ε, δ, threshold, contribution bound, tag namespaces, distribution.
    noise : NoiseSource or None, default=None
        None means the secure exact sampler (:class:`SecureNoise`).

    Attributes
    ----------
    mechanisms_ : dict of ThresholdHistogramMechanism
        One per dimension.

    Privacy
    -------
    Unit: one MISP event added or removed. Each histogram is (ε/5, δᵢ)-DP with δᵢ = 0 for the fixed key sets; the
    release is (``stats_epsilon``, Σδᵢ ≤ ``stats_delta``)-DP by basic composition. What is protected: whether any
    one event existed and what it contained. Not protected: trends large enough to rise above the noise — which
    is the purpose of the release.
    """

    def __init__(self, policy: Policy, *, noise: NoiseSource | None = None):
        self.policy = policy
        self.noise = noise if noise is not None else SecureNoise()
        self.protected_ = ProtectedContent(policy.organisation, placeholder=policy.placeholder,
                                           detectors=policy.detector_set())
        self.mechanisms_ = self._build(policy)

    @staticmethod
    def _build(policy: Policy) -> dict[str, ThresholdHistogramMechanism]:
        epsilon = policy.stats_epsilon / len(DIMENSIONS)
        data_keyed = [d for d in DIMENSIONS if d not in _PUBLIC_DIMENSIONS]
        data_threshold = ThresholdHistogramMechanism.threshold_for(
            max_keys=policy.stats_max_keys, epsilon=epsilon, delta=policy.stats_delta / len(data_keyed))
        mechanisms = {}
        for dimension in DIMENSIONS:
            public = dimension in _PUBLIC_DIMENSIONS
            max_keys = 1 if dimension == "total" else policy.stats_max_keys
            if public:
                threshold = max(policy.stats_threshold, _noise_only_threshold(
                    max_keys=max_keys, epsilon=epsilon, keys=len(_public_keys(dimension))))
            else:
                threshold = max(policy.stats_threshold, data_threshold)
            mechanisms[dimension] = ThresholdHistogramMechanism(max_keys=max_keys, epsilon=epsilon,
                                                                threshold=threshold, public_keys=public)
        return mechanisms

    def cost(self) -> PrivacyCost:
        """(ε, δ) of one release: basic composition over the five histograms."""
        total = PrivacyCost()
        for mechanism in self.mechanisms_.values():
            total = total + mechanism.privacy_map()
        return total

    def event_keys(self, event: dict[str, Any]) -> dict[str, list[str]]:
        """The keys one event counts towards, per dimension, bounded to ``stats_max_keys`` (sorted order)."""
        attributes = [a for a in iter_attributes(event) if not gates.is_deleted(a)]
        categories = {str(a.get("category") or gates.default_category(str(a.get("type")))) for a in attributes}
        types = {str(a.get("type")) for a in attributes}
        tag_names = set(gates.tag_names(event))
        for attribute in attributes:
            tag_names.update(gates.tag_names(attribute))
        namespaces = {n.lower() for n in self.policy.stats_tag_namespaces}
        tags = {t for t in tag_names if _namespace(t) in namespaces and not self.protected_.contains(t)}
        techniques = {m for t in tag_names if _ATTACK_TAG.match(t) for m in _TECHNIQUE.findall(t)}
        limit = self.policy.stats_max_keys
        public_types, public_categories = gates.known_types(), set(gates.describe_types()["categories"])
        return {"total": ["events"],
                "category": sorted(categories & public_categories)[:limit],
                "type": sorted(types & public_types)[:limit],
                "tag": sorted(tags)[:limit],
                "technique": sorted(techniques)[:limit]}

    def release(self, events: Iterable[dict[str, Any]], *, window_start: int, window_end: int) -> StatisticsResult:
        """Count the events with ``window_start < timestamp <= window_end``, noise and threshold."""
        counters = {d: Counter() for d in DIMENSIONS}
        in_window = 0
        for event in events:
            timestamp = _int(event.get("timestamp"))
            if timestamp is None or not window_start < timestamp <= window_end:
                continue
            in_window += 1
            for dimension, keys in self.event_keys(event).items():
                counters[dimension].update(keys)
        released = {}
        for dimension, mechanism in self.mechanisms_.items():
            counts = dict(counters[dimension])
            if dimension in _PUBLIC_DIMENSIONS:
                counts = {k: counts.get(k, 0) for k in _public_keys(dimension)}
            released[dimension] = mechanism.release_counts(counts, self.noise)
        return StatisticsResult(released, window_start, window_end, in_window, self.cost())

    def to_event(self, result: StatisticsResult, *, now: int) -> dict[str, Any]:
        """The MISP event carrying the release (one header object, one count object per released count)."""
        organisation = pseudonym_organisation(self.policy.organisation.pseudonym)
        start, end = _iso(result.window_start), _iso(result.window_end)
        event_uuid = str(uuid_module.uuid4())
        objects = [self._header_object(result, event_uuid, now)]
        for dimension in DIMENSIONS:
            for key, count in sorted(result.counts[dimension].items()):
                objects.append(_object(COUNT_OBJECT, event_uuid, f"{dimension}/{key}", now, [
                    ("dimension", "text", dimension), ("key", "text", key), ("count", "counter", str(count))]))
        return {"uuid": event_uuid, "info": f"DP statistics of {organisation['name']}, {start[:10]} to {end[:10]}",
                "date": end[:10], "threat_level_id": "4", "analysis": "2", "published": False,
                "distribution": str(self.policy.stats_distribution), "timestamp": str(now),
                "Orgc": organisation, "Org": dict(organisation), "Tag": [{"name": "legion:dp-statistics"}],
                "Object": objects}

    def _header_object(self, result: StatisticsResult, event_uuid: str, now: int) -> dict[str, Any]:
        thresholds = {d: m.threshold for d, m in self.mechanisms_.items()}
        return _object(STATS_OBJECT, event_uuid, "header", now, [
            ("window-start", "datetime", _iso(result.window_start)),
            ("window-end", "datetime", _iso(result.window_end)),
            ("epsilon", "float", f"{result.cost.epsilon:g}"),
            ("delta", "float", f"{result.cost.delta:.3g}"),
            ("unit-of-privacy", "text", UNIT_OF_PRIVACY),
            ("mechanism", "text", "discrete Laplace (OpenDP make_laplace) per histogram, ε split evenly over "
                                  f"{', '.join(DIMENSIONS)}; counts below the threshold suppressed after noise"),
            ("contribution-bound", "counter", str(self.policy.stats_max_keys)),
            ("threshold-fixed-keys", "counter", str(thresholds["category"])),
            ("threshold-data-keys", "counter", str(thresholds["tag"])),
            ("noise", "text", self.noise.description),
        ])



@dataclass
class StatisticsReport:
    """What one :func:`release_statistics` did: its cost, the mechanisms, and (unless a dry run) the ledger entry,
    the released counts, the event written and the events that could not be read."""

    cost: PrivacyCost
    mechanisms: dict[str, Any]
    dry_run: bool
    ledger_entry: int | None = None
    result: StatisticsResult | None = None
    event: dict[str, Any] | None = None
    errors: list[StoreError] = field(default_factory=list)

    @property
    def released(self) -> int:
        """How many noisy counts were released."""
        return 0 if self.result is None else sum(len(v) for v in self.result.counts.values())

    def as_dict(self) -> dict[str, Any]:
        if self.dry_run or self.result is None or self.event is None:
            return {"dry_run": True, **self.cost.as_dict(), "mechanisms": self.mechanisms}
        return {"ledger_entry": self.ledger_entry, **self.result.as_dict(), "event_uuid": self.event["uuid"],
                "mechanisms": self.mechanisms}


def release_statistics(source: EventSource | None, sink: EventSink | None, policy: Policy, *, ledger: Ledger | None,
                       window_seconds: float, dry_run: bool = False, noise: NoiseSource | None = None,
                       now: int | None = None, what: str = "stats") -> StatisticsReport:
    """Release the DP statistics of the events of the last ``window_seconds`` as one MISP event in ``sink``.

    The release's (ε, δ) is debited from ``ledger`` (scope ``stats``) before any event is read; a full budget raises
    :class:`~legion_misp.privacy.ledger.BudgetExceeded` and nothing is read or written. A dry run computes the cost
    only. Events that cannot be read are skipped and listed in the report's ``errors``.
    """
    release = StatisticsRelease(policy, noise=noise)
    cost = release.cost()
    report = StatisticsReport(cost, {d: m.describe() for d, m in release.mechanisms_.items()}, dry_run=dry_run)
    if dry_run:
        return report
    if source is None or sink is None or ledger is None:
        raise ValueError("a statistics release needs a source, a sink and a ledger (or dry_run=True)")
    end = int(time.time()) if now is None else now
    start = int(end - window_seconds)
    report.ledger_entry = ledger.spend(epsilon=cost.epsilon, delta=cost.delta, what=what, scope="stats")
    report.result = release.release(source.query(since=start, on_error=report.errors.append), window_start=start,
                                    window_end=end)
    report.event = release.to_event(report.result, now=end)
    sink.upsert(report.event)
    return report


def _object(name: str, event_uuid: str, seed: str, now: int, rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    base = uuid_module.uuid5(uuid_module.UUID(event_uuid), f"{name}/{seed}")
    return {"uuid": str(base), "name": name, "meta-category": "misc", "distribution": 5, "timestamp": str(now),
            "description": "legion-misp differentially private statistics (see 'What is shared and what is "
                           "protected')",
            "Attribute": [{"uuid": str(uuid_module.uuid5(base, relation)), "object_relation": relation,
                           "type": attribute_type, "category": "Other", "value": value, "to_ids": False,
                           "distribution": 5, "disable_correlation": True, "timestamp": str(now)}
                          for relation, attribute_type, value in rows]}


def _noise_only_threshold(*, max_keys: int, epsilon: float, keys: int) -> int:
    """Smallest threshold at which, on average, fewer than half a key of a fixed key set is released from noise
    alone (true count 0). Thresholding is post-processing: this costs no privacy, it only keeps the release useful."""
    alpha = math.exp(-epsilon / max_keys)
    return max(1, math.ceil(math.log(0.5 * (1 + alpha) / keys) / math.log(alpha)))


def _public_keys(dimension: str) -> list[str]:
    if dimension == "total":
        return ["events"]
    if dimension == "category":
        return list(gates.describe_types()["categories"])
    return sorted(gates.known_types())


def _namespace(tag: str) -> str:
    return re.split(r"[:=]", tag, maxsplit=1)[0].strip().lower()
