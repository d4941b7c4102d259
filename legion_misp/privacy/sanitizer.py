"""Turn one MISP event into the copy that may leave the organisation (or None), with a report of every change.

:meth:`Sanitizer.sanitize` is pure apart from drawing noise: it never mutates its input, reads no clock or file and
writes nothing (``Sanitizer.from_config`` learns host names from the configured store once: the whole feed
directory, or an incremental attribute search of MISP). The order of work
for an event:

1. **Input check**: structure, known attribute types, distribution present (:class:`SanitizeInputError` otherwise);
   an event with a field the sanitiser does not know (:mod:`~legion_misp.privacy.fields`) is **withheld** with the
   field named, never shared with it removed or copied.
2. **Gates** (event, object, attribute, galaxy cluster): distribution 0 or below the minimum, sharing groups not
   mapped to this federation, blocked tags, dropped categories/types/object templates, deleted items, and indicator
   values that are or contain protected content (:class:`~legion_misp.privacy.scrub.ProtectedContent`: internal or
   own addresses in any notation, internal host names or e-mail addresses, sensitive terms and patterns, detector
   findings — also disguised or encoded). User names in profile paths, UNC hosts and learned host names are
   replaced inside an indicator value, which is kept.
3. **Identity**: ``Orgc``/``Org`` become the federation pseudonym; creator e-mails, sightings' sources and
   organisations, local ids, proposals, related events are removed (allow-lists). Event, object and attribute uuids
   are kept.
4. **Every string scrubbed or validated**: keyed pseudonyms for ``pseudonymise_types`` (their clear values are then
   redacted everywhere else in the event); scrubbing of info, comments, text-like attributes, object names,
   descriptions and relations, reference comments and custom relationship types, tags, galaxy text and ``meta``,
   event reports; MISP enumerations (categories, meta-categories, templates, relationship types), uuids, dates and
   timestamps validated, and dropped when invalid.
5. **Noise** (OpenDP): sighting counts, clamped numeric attributes, first_seen/last_seen pairs. The event's (ε, δ)
   is the basic composition of the mechanisms that noised something in it.

Sightings are never shared one by one: each shared attribute gets a noisy count of "seen" and "false positive"
sightings, and a ``legion-sighting-summary`` object is added when a noisy count reaches ``sightings_threshold``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, EventFormatError
from ..stores.events import check_event, is_published, iter_attributes
from ..timeutil import is_date, parse_time
from . import continual, fields, gates
from .continual import ContinualCountMechanism
from .detectors import SEGMENT_KINDS
from .hostname_store import store_hostnames
from .hostnames import learn_from, learn_hostnames
from .ledger import Charge
from .mechanisms import (
    BoundedTimestampPairMechanism,
    ClampedNumericMechanism,
    NoiseSource,
    PrivacyCost,
    SecureNoise,
    SeededNoise,
)
from .noise_store import NoiseRequest, TransientBook
from .policy import Policy
from .pseudonyms import Pseudonymizer, PseudonymKeyError, key_from_text
from .report import EventReport
from .residual import residual_tokens
from .scrub import ProtectedContent, replace_spans

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger(__name__)
LEGION_NAMESPACE = uuid_module.UUID("5b0c1f3e-9a8d-4e52-b1c7-3f6d2a9e8c41")
SIGHTING_SUMMARY_OBJECT = "legion-sighting-summary"
# MISP drops an object without a template uuid ("Object dropped due to validation"); same naming rule as
# legion-verdict's (uuid5 of "object-template/<name>" in the legion namespace).
SIGHTING_SUMMARY_TEMPLATE_UUID = str(uuid_module.uuid5(LEGION_NAMESPACE, f"object-template/{SIGHTING_SUMMARY_OBJECT}"))
TAG_PSEUDONYMISED = "legion:pseudonymised"
TAG_NOISED = "legion:dp-noised"
TAG_PSEUDONYM_EPOCH = "legion:pseudonym-epoch"

_EVENT_KEYS = ("uuid", "info", "date", "threat_level_id", "analysis", "timestamp", "publish_timestamp", "published",
               "extends_uuid")
_ATTRIBUTE_KEYS = ("uuid", "type", "category", "value", "to_ids", "comment", "timestamp", "object_relation",
                   "disable_correlation", "first_seen", "last_seen")
_OBJECT_KEYS = ("uuid", "name", "meta-category", "description", "template_uuid", "template_version", "comment",
                "timestamp", "first_seen", "last_seen")
_REFERENCE_KEYS = ("uuid", "referenced_uuid", "relationship_type", "comment", "timestamp", "object_uuid")
_REPORT_KEYS = ("uuid", "name", "content", "timestamp")
_GALAXY_KEYS = ("uuid", "name", "type", "description", "version", "namespace", "kill_chain_order", "icon")
_CLUSTER_KEYS = ("uuid", "type", "value", "tag_name", "description", "source", "authors", "version", "meta")
_SEEN_TYPES = {"0": 0, "1": 1}


class SanitizeInputError(EventFormatError):
    """The event cannot be sanitised safely (unknown type, missing field, wrong value type). Names the event."""


@dataclass
class _Work:
    """Per-event scratch state: noise requests gathered while walking, the report, uuids dropped."""

    report: EventReport
    timestamp: str
    protected: ProtectedContent
    dropped_uuids: set[str] = field(default_factory=set)
    shared_attributes: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    numeric: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    time_pairs: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    summary_times: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    origin: int = 0
    dry_run: bool = False
    sighting_threshold: int = 0


class Sanitizer:
    """Sanitises MISP events under a :class:`Policy`.

    Parameters
    ----------
    policy : Policy
        What may leave and how released numbers are noised.
    pseudonymizer : Pseudonymizer or None, default=None
        Keyed pseudonyms; required when ``policy.pseudonymise_types`` is not empty.
    noise : NoiseSource or None, default=None
        Where noise comes from; None means the secure exact sampler (:class:`SecureNoise`).

    Attributes
    ----------
    protected_ : ProtectedContent
        The detector of what identifies the organisation.
    mechanisms_ : dict
        The DP mechanisms the policy enables, by name.
    report_residual : bool
        When true, each report lists the tokens of the shared copy that still look like identifiers (the
        residual-risk report of ``legion sanitize --report``).
    """

    def __init__(self, policy: Policy, *, pseudonymizer: Pseudonymizer | None = None,
                 noise: NoiseSource | None = None):
        if policy.pseudonymise_types and pseudonymizer is None:
            raise ConfigError("privacy.pseudonymise_types needs the federation key ([federation] pseudonym_key)")
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.noise = noise if noise is not None else SecureNoise()
        self.protected_ = ProtectedContent(policy.organisation, placeholder=policy.placeholder,
                                           detectors=policy.detector_set())
        self.mechanisms_ = _build_mechanisms(policy)
        self.numeric_mechanisms_ = {
            name: ClampedNumericMechanism(lower=b.lower, upper=b.upper, sensitivity=b.sensitivity,
                                          epsilon=policy.numeric_epsilon)
            for name, b in policy.numeric_attributes.items()}
        self._known_types = gates.known_types()
        self.report_residual = False

    @classmethod
    def from_config(cls, config: Config, *, seed: int | None = None,
                    pseudonym_key: bytes | None = None) -> Sanitizer:
        """A sanitiser for ``[privacy]``; the key comes from ``[federation] pseudonym_key`` unless given.

        ``seed`` switches to :class:`SeededNoise` (tests only, not private).
        """
        policy = Policy.from_config(config)
        epoch = config.section("federation")["pseudonym_epoch"]
        try:
            key = pseudonym_key if pseudonym_key is not None else _pseudonym_key(config)
            pseudonymizer = Pseudonymizer(key, epoch=epoch) if key is not None else None
        except PseudonymKeyError as exc:
            raise ConfigError(f"[federation] pseudonym_key: {exc}") from exc
        sanitizer = cls(policy, pseudonymizer=pseudonymizer, noise=SeededNoise(seed) if seed is not None else None)
        if policy.learn_hostnames_from_store:
            sanitizer.protected_ = sanitizer.protected_.derive(hostnames=store_hostnames(config, policy.organisation))
        return sanitizer

    def learn_hostnames(self, events: Any) -> int:
        """Learn the organisation's short host names from ``events`` (e.g. its whole store) for every later event.

        Returns how many names are now known. ``Sanitizer.from_config`` learns from the configured store (feed or
        MISP, :func:`~legion_misp.privacy.hostname_store.store_hostnames`) when
        ``privacy.learn_hostnames_from_store`` is true.
        """
        learned = learn_from(events, self.policy.organisation)
        self.protected_ = self.protected_.derive(hostnames=learned)
        return len(self.protected_.hostnames)

    def params(self) -> dict[str, Any]:
        """Everything needed to rebuild this run (no key, no organisation details)."""
        return {"policy": self.policy.params(), "noise": self.noise.description, "secure_noise": self.noise.secure,
                "mechanisms": {k: m.describe() for k, m in self.mechanisms_.items()},
                "numeric_mechanisms": {k: m.describe() for k, m in self.numeric_mechanisms_.items()},
                "release_cost": self.release_cost().as_dict()}

    def fingerprint(self) -> dict[str, Any]:
        """What decides the output besides the event: policy, organisation details, key (a digest of it). Only
        ever hashed (HMAC), never written out."""
        key = self.pseudonymizer.digest("legion-release-fingerprint", "text") if self.pseudonymizer else None
        return {"params": self.params(), "organisation": repr(self.policy.organisation), "key": key}

    def release_cost(self) -> PrivacyCost:
        """The most (ε, δ) one release of any number of events can be charged (what it costs when everything in
        it is new): one sighting-tree block charge plus one re-draw charge, and each other mechanism kind once.

        Each unit of privacy (one sighting, one numeric value, one timestamp) belongs to one event and one datum,
        so events and datums compose in parallel; the mechanism kinds compose sequentially. Data already noised
        in an earlier release is republished from the noise store and charged nothing.
        """
        total = PrivacyCost()
        for name, mechanism in self.mechanisms_.items():
            cost = mechanism.privacy_map()
            total = total + cost + (cost if name == "sighting-counts" else PrivacyCost())
        if self.numeric_mechanisms_:
            total = total + PrivacyCost.parallel([m.privacy_map() for m in self.numeric_mechanisms_.values()])
        return total

    # ---- one event -----------------------------------------------------------------------------------------------

    def sanitize(self, event: dict[str, Any], *, location: str | None = None, book: Any = None
                 ) -> tuple[dict[str, Any] | None, EventReport]:
        """The shareable copy of ``event`` (None if it must stay home) and the report of what changed.

        ``book`` resolves noise (:mod:`.noise_store`): a :class:`PersistentBook` for real releases (each datum
        noised once, recorded and charged before it is returned), a :class:`DryRunBook` (no noise drawn, the
        noised fields left out), or by default a :class:`TransientBook` (fresh noise, nothing recorded).

        Raises
        ------
        SanitizeInputError
            The event is malformed (names the event uuid and ``location``).
        """
        self._check_input(event, location)
        report = EventReport(event_uuid=event["uuid"], location=location, info=str(event.get("info") or ""))
        event_level = gates.parse_distribution(event["distribution"])
        reason = gates.distribution_gate(event, event_level, self.policy) if event_level != 5 else \
            "event distribution 5 (inherit) is not valid for an event"
        reason = reason or gates.blocked_tag(event, self.policy)
        if not reason and self.policy.published_only and not is_published(event):
            reason = "event not published (privacy.published_only)"
        unknown = fields.unknown_fields(event)
        if not reason and unknown:
            reason = (f"withheld: {len(unknown)} field(s) the sanitiser does not know and cannot scrub safely: "
                      f"{', '.join(unknown[:6])}{' ...' if len(unknown) > 6 else ''}")
        if reason:
            report.outcome = "dropped"
            report.add("dropped", "event", reason)
            return None, report
        work = _Work(report=report, timestamp=str(event.get("timestamp", "")), protected=self._protected_for(event))
        out = self._event_shell(event, event_level, work)
        out["Attribute"] = self._attributes(event.get("Attribute", []), work, where="attribute")
        out["Object"] = self._objects(event.get("Object", []), work, event_level)
        out["EventReport"] = self._event_reports(event.get("EventReport", []), work, event_level)
        self._apply_noise(work, book if book is not None else TransientBook())
        out["Object"].extend(work.summaries)
        _drop_dangling_references(out["Object"], work.dropped_uuids)
        _remove_empty(out)
        if self.report_residual:
            report.residual = residual_tokens(out, placeholder=self.policy.placeholder,
                                              own_domains=tuple(self.policy.organisation.internal_domains))
        return out, report

    def _protected_for(self, event: dict[str, Any]) -> ProtectedContent:
        """The detector for one event: plus the host names it reveals and the values pseudonymised in it (a
        pseudonymised value must not appear in clear anywhere else in the event)."""
        literals = [str(a.get("value", "")) for a in iter_attributes(event)
                    if a.get("type") in self.policy.pseudonymise_types]
        local_parts = [v.split("@", 1)[0] for v in literals if "@" in v]
        literals += [p for p in local_parts if len(p) >= 4]
        return self.protected_.derive(literals=literals, hostnames=learn_hostnames(event, self.policy.organisation))

    def _check_input(self, event: Any, location: str | None) -> None:
        try:
            check_event(event, location=location)
        except EventFormatError as exc:
            raise SanitizeInputError(str(exc.args[0]).split(" — ")[0], location=location,
                                     event_uuid=exc.event_uuid) from exc
        uuid = event["uuid"]

        def fail(message: str) -> SanitizeInputError:
            return SanitizeInputError(message, location=location, event_uuid=uuid)

        if not isinstance(event.get("info"), str):
            raise fail("missing field: event 'info' (a string)")
        if "distribution" not in event:
            raise fail("missing field: event 'distribution' (needed to decide what may leave)")
        if gates.parse_distribution(event["distribution"]) is None:
            raise fail(f"invalid event distribution {str(event['distribution'])[:20]!r} (expected 0-4)")
        for obj in event.get("Object", []):
            if not isinstance(obj.get("name"), str):
                raise fail("missing field: object 'name'")
            self._check_attributes(obj.get("Attribute", []), fail)
        self._check_attributes(event.get("Attribute", []), fail)
        for report in event.get("EventReport", []):
            if not isinstance(report, dict) or not isinstance(report.get("content", ""), str):
                raise fail("each EventReport must be an object with a string 'content'")

    def _check_attributes(self, attributes: list[dict[str, Any]], fail: Any) -> None:
        for attribute in attributes:
            attribute_type = attribute.get("type")
            if attribute_type not in self._known_types:
                raise fail(f"unknown attribute type {str(attribute_type)[:40]!r} (attribute "
                           f"{attribute.get('uuid', '?')})")
            if not isinstance(attribute.get("value"), str | int | float) or isinstance(attribute.get("value"), bool):
                raise fail(f"attribute {attribute.get('uuid', '?')} value must be a string")
            if "distribution" in attribute and gates.parse_distribution(attribute["distribution"]) is None:
                raise fail(f"attribute {attribute.get('uuid', '?')} has an invalid distribution")
            if not isinstance(attribute.get("Sighting", []), list):
                raise fail(f"attribute {attribute.get('uuid', '?')} 'Sighting' must be a list")

    # ---- event-level parts ---------------------------------------------------------------------------------------

    def _event_shell(self, event: dict[str, Any], level: int, work: _Work) -> dict[str, Any]:
        out = _validated(event, _EVENT_KEYS, work, "event")
        out["info"] = self._scrub(event["info"], work, "event info")
        out["distribution"] = _shared_level(level)
        organisation = pseudonym_organisation(self.policy.organisation.pseudonym)
        out["Orgc"] = organisation
        out["Org"] = dict(organisation)
        removed = sorted(k for k in event if k not in _EVENT_KEYS and k not in
                         ("distribution", "Attribute", "Object", "EventReport", "Tag", "Galaxy", "info"))
        identity = [k for k in removed if k in ("Orgc", "Org", "event_creator_email", "orgc_id", "org_id", "user_id")]
        if identity:
            work.report.add("pseudonymised", "event identity", "reporting organisation replaced by the federation "
                            f"pseudonym; removed {', '.join(identity)}")
        other = [k for k in removed if k not in identity]
        if other:
            work.report.add("removed", "event fields", f"local or unknown fields removed: {', '.join(other)}")
        out["Tag"] = self._tags(event, work, "event")
        out["Galaxy"] = self._galaxies(event.get("Galaxy", []), work, "event")
        return out

    def _tags(self, element: dict[str, Any], work: _Work, where: str) -> list[dict[str, Any]]:
        kept = []
        for tag in element.get("Tag") or []:
            if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
                continue
            if _truthy(tag.get("local")):
                work.report.add("dropped", f"{where} tag", "local tag (never synchronised by MISP)")
                continue
            kind = work.protected.contains(tag["name"])
            if kind:
                work.report.add("dropped", f"{where} tag", f"tag name contains {kind}")
                continue
            clean = {"name": tag["name"]}
            if isinstance(tag.get("colour"), str) and _COLOUR.fullmatch(tag["colour"]):
                clean["colour"] = tag["colour"]
            kept.append(clean)
        return kept

    def _galaxies(self, galaxies: Any, work: _Work, where: str) -> list[dict[str, Any]]:
        kept = []
        for galaxy in galaxies if isinstance(galaxies, list) else []:
            if not isinstance(galaxy, dict):
                continue
            clusters = []
            for cluster in galaxy.get("GalaxyCluster") or []:
                if not isinstance(cluster, dict):
                    continue
                target = f"{where} galaxy cluster {str(cluster.get('uuid', '?'))[:40]}"
                reason = self._cluster_gate(cluster, work)
                if reason:
                    work.report.add("dropped", target, reason)
                    continue
                clean = _validated(cluster, ("uuid",), work, target)
                for key in ("type", "value", "tag_name", "description", "source", "authors", "version", "meta"):
                    if key in cluster:
                        clean[key] = self._scrub_tree(cluster[key], work, f"{target} {key}")
                clusters.append(clean)
            if clusters:
                shell = _validated(galaxy, ("uuid",), work, f"{where} galaxy")
                for key in ("name", "type", "description", "version", "namespace", "kill_chain_order", "icon"):
                    if key in galaxy:
                        shell[key] = self._scrub_tree(galaxy[key], work, f"{where} galaxy {key}")
                shell["GalaxyCluster"] = clusters
                kept.append(shell)
        return kept

    def _cluster_gate(self, cluster: dict[str, Any], work: _Work) -> str | None:
        """Galaxy clusters pass the same distribution and sharing-group gate as attributes."""
        if _truthy(cluster.get("deleted")):
            return "galaxy cluster deleted"
        level = gates.parse_distribution(cluster.get("distribution", 3))
        if level is None:
            return "galaxy cluster with an invalid distribution"
        reason = gates.distribution_gate(cluster, level, self.policy) if level != 5 else None
        if reason:
            return f"galaxy cluster: {reason}"
        if isinstance(cluster.get("tag_name"), str) and self.policy.is_blocked_tag(cluster["tag_name"]):
            return "galaxy cluster with a blocked tag"
        kind = work.protected.contains(str(cluster.get("value", ""))) or \
            work.protected.contains(str(cluster.get("tag_name", "")))
        return f"galaxy cluster name contains {kind}" if kind else None

    def _event_reports(self, reports: list[dict[str, Any]], work: _Work, event_level: int) -> list[dict[str, Any]]:
        kept = []
        for report in reports:
            target = f"event report {report.get('uuid', '?')}"
            level = gates.parse_distribution(report.get("distribution", 5))
            reason = "event report deleted" if _truthy(report.get("deleted")) else None
            reason = reason or (gates.distribution_gate(report, level, self.policy) if level is not None
                                else "invalid distribution")
            if reason:
                work.report.add("dropped", target, reason)
                continue
            clean = _validated(report, _REPORT_KEYS, work, target)
            clean["distribution"] = _shared_level(level)
            for key in ("name", "content"):
                if key in report:
                    clean[key] = self._scrub(str(report[key]), work, f"{target} {key}")
            kept.append(clean)
        return kept

    # ---- objects and attributes ------------------------------------------------------------------------------------

    def _objects(self, objects: list[dict[str, Any]], work: _Work, event_level: int) -> list[dict[str, Any]]:
        kept = []
        for obj in objects:
            target = f"object {obj.get('uuid', '?')} ({obj['name']})"
            level = gates.parse_distribution(obj.get("distribution", 5))
            reason = "object deleted" if _truthy(obj.get("deleted")) else None
            if not reason and obj["name"] in self.policy.drop_object_names:
                reason = f"object template {obj['name']!r} never leaves"
            reason = reason or (gates.distribution_gate(obj, level, self.policy) if level is not None
                                else "invalid distribution")
            if reason:
                work.report.add("dropped", target, reason)
                work.dropped_uuids.update(_uuids_of(obj))
                continue
            clean = _validated(obj, _OBJECT_KEYS, work, target)
            clean["distribution"] = _shared_level(level)
            self._object_text(obj, clean, work, target)
            clean["Attribute"] = self._attributes(obj.get("Attribute", []), work, where=f"{target} attribute",
                                                  object_name=obj["name"])
            if not clean["Attribute"]:
                work.report.add("dropped", target, "no attribute of the object may leave")
                work.dropped_uuids.add(str(obj.get("uuid")))
                continue
            clean["ObjectReference"] = [self._reference(r, work, f"{target} reference")
                                        for r in obj.get("ObjectReference") or [] if isinstance(r, dict)
                                        and not _truthy(r.get("deleted"))]
            self._queue_times(clean, work, target)
            kept.append(clean)
        return kept

    def _object_text(self, obj: dict[str, Any], clean: dict[str, Any], work: _Work, target: str) -> None:
        """Object name and meta-category kept when MISP knows them, scrubbed otherwise; description and comment
        scrubbed."""
        if obj["name"] not in fields.object_templates():
            clean["name"] = self._scrub(obj["name"], work, f"{target} name")
        if "meta-category" in obj and obj["meta-category"] not in fields.meta_categories():
            clean["meta-category"] = self._scrub(str(obj["meta-category"]), work, f"{target} meta-category")
        for key in ("description", "comment"):
            if key in obj:
                clean[key] = self._scrub(str(obj[key]), work, f"{target} {key}")

    def _reference(self, reference: dict[str, Any], work: _Work, target: str) -> dict[str, Any]:
        clean = _validated(reference, _REFERENCE_KEYS, work, target)
        relationship = reference.get("relationship_type")
        if isinstance(relationship, str) and relationship not in fields.relationship_types():
            clean["relationship_type"] = self._scrub(relationship, work, f"{target} relationship_type")
        if "comment" in reference:
            clean["comment"] = self._scrub(str(reference["comment"]), work, f"{target} comment")
        return clean

    def _attributes(self, attributes: list[dict[str, Any]], work: _Work, *, where: str,
                    object_name: str | None = None) -> list[dict[str, Any]]:
        kept = []
        for attribute in attributes:
            clean = self._attribute(attribute, work, f"{where} {attribute.get('uuid', '?')}", object_name)
            if clean is None:
                work.dropped_uuids.add(str(attribute.get("uuid")))
            else:
                kept.append(clean)
        return kept

    def _attribute_gate(self, attribute: dict[str, Any], level: int) -> str | None:
        if _truthy(attribute.get("deleted")):
            return "attribute deleted"
        reason = gates.distribution_gate(attribute, level, self.policy)
        reason = reason or gates.blocked_tag(attribute, self.policy)
        attribute_type = attribute["type"]
        category = attribute.get("category") or gates.default_category(attribute_type)
        reason = reason or gates.attribute_type_gate(attribute_type, category, self.policy)
        if reason or attribute_type in self.policy.text_types or attribute_type in self.policy.pseudonymise_types:
            return reason
        return gates.network_overlap(attribute_type, str(attribute["value"]), self.protected_) and \
            "value contains protected-ip"

    def _indicator_value(self, value: str, work: _Work, target: str,
                         attribute_type: str = "") -> tuple[str | None, str | None]:
        """The indicator value to share (private segments replaced) or None with the reason it stays home."""
        if _self_evident(attribute_type, value):
            return value, None  # a well-formed hash, address (already gated) or number cannot carry anything else
        spans = work.protected.find(value, indicator=True)
        if not spans:
            return value, None
        blocking = sorted({s.kind for s in spans if s.kind not in SEGMENT_KINDS})
        if blocking:
            return None, f"value contains {', '.join(blocking)}"
        replaced = replace_spans(value, spans, self.policy.placeholder)
        if not _keeps_indicator(replaced, self.policy.placeholder):
            return None, f"value is {', '.join(sorted({s.kind for s in spans}))}"
        work.report.add("scrubbed", f"{target} value", "replaced "
                        f"{', '.join(sorted({s.kind for s in spans}))} inside the indicator by the placeholder")
        return replaced, None

    def _attribute(self, attribute: dict[str, Any], work: _Work, target: str,
                   object_name: str | None = None) -> dict[str, Any] | None:
        level = gates.parse_distribution(attribute.get("distribution", 5))
        reason = self._attribute_gate(attribute, level)
        value: str | None = str(attribute["value"])
        attribute_type = attribute["type"]
        if not reason and attribute_type not in self.policy.text_types and \
                attribute_type not in self.policy.pseudonymise_types:
            value, reason = self._indicator_value(value, work, target, attribute_type)
        if reason:
            work.report.add("dropped", target, reason)
            return None
        clean = _validated(attribute, _ATTRIBUTE_KEYS, work, target)
        clean["type"] = attribute_type
        clean["value"] = value
        if clean.get("category") not in fields.categories():
            clean["category"] = gates.default_category(attribute_type)
        if "object_relation" in attribute and not (object_name and
                                                   fields.is_known_relation(object_name, attribute["object_relation"])):
            clean["object_relation"] = self._scrub(str(attribute["object_relation"]), work,
                                                   f"{target} object_relation")
        clean["distribution"] = _shared_level(level)
        if attribute_type in self.policy.text_types:
            clean["value"] = self._scrub(clean["value"], work, f"{target} value")
        elif attribute_type in self.policy.pseudonymise_types:
            clean["value"] = self.pseudonymizer.pseudonym(clean["value"], attribute_type)
            clean["to_ids"] = False
            work.report.add("pseudonymised", target, f"{attribute_type} replaced by HMAC-SHA256(federation key, "
                            "normalised value)")
        if "comment" in attribute:
            clean["comment"] = self._scrub(str(attribute["comment"]), work, f"{target} comment")
        clean["Tag"] = self._tags(attribute, work, target)
        if attribute_type in self.policy.pseudonymise_types:
            clean["Tag"] += [{"name": TAG_PSEUDONYMISED},
                             {"name": f'{TAG_PSEUDONYM_EPOCH}="{self.pseudonymizer.epoch}"'}]
        clean["Galaxy"] = self._galaxies(attribute.get("Galaxy", []), work, target)
        if attribute.get("Sighting"):
            work.report.add("removed", f"{target} sightings",
                            "individual sightings (sources, organisations, times) never leave")
        if attribute_type in self.policy.numeric_attributes and not self._queue_numeric(clean, work, target):
            return None
        self._queue_times(clean, work, target)
        work.shared_attributes.append((attribute, clean))
        for key in [k for k, v in clean.items() if v in ([], None)]:
            del clean[key]
        return clean

    def _queue_numeric(self, clean: dict[str, Any], work: _Work, target: str) -> bool:
        try:
            float_value = float(clean["value"])
        except ValueError:
            work.report.add("dropped", target, "numeric attribute whose value is not a number")
            return False
        if not np.isfinite(float_value):
            work.report.add("dropped", target, "numeric attribute whose value is not finite")
            return False
        work.numeric.append((clean, target))
        return True

    def _queue_times(self, clean: dict[str, Any], work: _Work, target: str) -> None:
        if self.policy.noise_times and (clean.get("first_seen") or clean.get("last_seen")):
            work.time_pairs.append((clean, target))

    # ---- text ------------------------------------------------------------------------------------------------------

    def _scrub(self, text: str, work: _Work, target: str) -> str:
        scrubbed, kinds = work.protected.scrub(text)
        if kinds:
            work.report.add("scrubbed", target, f"replaced {', '.join(kinds)} by the placeholder")
        return scrubbed

    def _scrub_tree(self, value: Any, work: _Work, target: str) -> Any:
        if isinstance(value, str):
            return self._scrub(value, work, target)
        if isinstance(value, list):
            return [self._scrub_tree(v, work, target) for v in value]
        if isinstance(value, dict):
            return {self._scrub(str(k), work, f"{target} key"): self._scrub_tree(v, work, target)
                    for k, v in value.items() if k not in ("id", "org_id", "orgc_id", "Org", "Orgc", "collection_uuid")}
        if value is None or isinstance(value, bool | int | float):
            return value
        return self._scrub(str(value), work, target)

    # ---- noise -----------------------------------------------------------------------------------------------------

    def _apply_noise(self, work: _Work, book: Any) -> None:
        """Noise through ``book`` (persistent, transient or dry run): counts, numerics and times first, then the
        sighting times of the summaries that the noisy counts let out."""
        groups: list[tuple[list[NoiseRequest], Callable[[list[int]], None]]] = []
        if self.policy.sightings == "noise" and work.shared_attributes:
            groups.append(self._sighting_requests(work, book.now))
        if work.numeric:
            groups.append(self._numeric_requests(work))
        if work.time_pairs:
            groups.append(self._time_requests(work, work.time_pairs, "time", "bounded-timestamp-pair"))
        self._resolve(groups, work, book)
        if work.summary_times:
            self._resolve([self._time_requests(work, work.summary_times, "sighting-time", "sighting-times")],
                          work, book)

    def _resolve(self, groups: list[tuple[list[NoiseRequest], Callable[[list[int]], None]]], work: _Work,
                 book: Any) -> None:
        requests = [r for group, _ in groups for r in group]
        if not requests:
            return
        resolution = book.resolve(requests)
        work.report.cost = work.report.cost + resolution.cost
        work.report.fresh += resolution.fresh
        work.report.reused += resolution.reused
        work.dry_run = resolution.dry_run
        at = 0
        for group, apply in groups:
            apply(resolution.values[at:at + len(group)])
            at += len(group)

    def _sighting_requests(self, work: _Work, now: float) -> tuple[list[NoiseRequest], Callable[[list[int]], None]]:
        tree = self.mechanisms_["sighting-counts"]
        step = self.policy.sightings_step
        horizon = self.policy.sightings_horizon
        end_step = int(now) // step  # steps before this one are complete
        recent = max(0, (end_step - 1) // horizon - 1) * horizon  # start of the previous block
        event_block = (_event_origin(work) // step) // horizon * horizon
        origin_step = max(recent, event_block)
        nodes = continual.dyadic_nodes(origin_step, end_step, horizon) if end_step > origin_step else []
        work.sighting_threshold = max(self.policy.sightings_threshold, tree.threshold_floor(len(nodes)))
        requests: list[NoiseRequest] = []
        charges = {block: Charge(f"sighting-tree block {block}", tree.epsilon, once=True, group="sighting-tree")
                   for block in {continual.node_block(level, index, horizon) for level, index in nodes}}
        redraw = Charge("sighting-tree re-draw", tree.epsilon)
        lazy = continual.LazyNoise(self.noise, tree.scale_, 2 * len(nodes) * len(work.shared_attributes))
        node_charges = [charges[continual.node_block(level, index, horizon)] for level, index in nodes]
        node_ranges = [(index << level, (index + 1) << level) for level, index in nodes]
        # per kind: (identity suffix, range, charge) of every node, built once per event, not per attribute
        kind_nodes = [[(f"/{kind_index}/{level}/{index}", bounds, charge)
                       for (level, index), bounds, charge in zip(nodes, node_ranges, node_charges, strict=True)]
                      for kind_index in (0, 1)]
        append, draw, epsilon = requests.append, lazy.noisy, tree.epsilon
        unsighted = [(suffix, charge) for suffixes in kind_nodes for suffix, _, charge in suffixes]
        for original, clean in work.shared_attributes:
            prefix = str(clean.get("uuid"))
            if not original.get("Sighting"):  # every node counts 0 (most attributes): no step arithmetic
                requests += [NoiseRequest("sighting-node", prefix + suffix, 0, draw, charge, epsilon, redraw)
                             for suffix, charge in unsighted]
                continue
            steps = _sighting_steps(original, step, event_block, origin_step, end_step, work.timestamp)
            for kind_steps, suffixes in zip(steps, kind_nodes, strict=True):
                for suffix, (low, high), charge in suffixes:
                    count = sum(1 for at in kind_steps if low <= at < high) if kind_steps else 0
                    append(NoiseRequest("sighting-node", prefix + suffix, count, draw, charge, epsilon, redraw))
        per_attribute = 2 * len(nodes)
        work.report.mechanisms.append("sighting-counts")

        def apply(values: list[int]) -> None:
            for number, (original, clean) in enumerate(work.shared_attributes):
                mine = values[number * per_attribute:(number + 1) * per_attribute]
                seen, false_positive = max(0, sum(mine[:len(nodes)])), max(0, sum(mine[len(nodes):]))
                self._sighting_outcome(original, clean, work, seen, false_positive)
        return requests, apply

    def _sighting_outcome(self, original: dict[str, Any], clean: dict[str, Any], work: _Work, seen: int,
                          false_positive: int) -> None:
        if not work.dry_run and max(seen, false_positive) < work.sighting_threshold:
            return  # most attributes: nothing to release, nothing to report
        target = f"sightings of attribute {clean.get('uuid', '?')}"
        if work.dry_run:
            work.report.add("noised", target, "would be released as continual noisy counts (the threshold is "
                            "decided on the noisy count, which a dry run never draws)")
            return
        summary = self._sighting_summary(clean, seen, false_positive, clean.get("timestamp") or work.timestamp)
        work.summaries.append(summary)
        if self.policy.sighting_times:
            work.summary_times.append((summary, original))
        tree = self.mechanisms_["sighting-counts"]
        work.report.add("noised", target, f"released as continual noisy counts (binary-tree counter, node scale "
                        f"{tree.node_mechanism.scale_:g})")

    def _numeric_requests(self, work: _Work) -> tuple[list[NoiseRequest], Callable[[list[int]], None]]:
        requests = []
        for clean, _target in work.numeric:
            bounds = self.policy.numeric_attributes[clean["type"]]
            mechanism = self.numeric_mechanisms_[clean["type"]]
            value = int(np.clip(round(float(clean["value"])), bounds.lower, bounds.upper))
            requests.append(NoiseRequest(
                kind=f"numeric:{clean['type']}", identity=str(clean.get("uuid")), value=value,
                draw=partial(_draw_numeric, mechanism, self.noise), epsilon=mechanism.epsilon,
                charge=Charge("clamped-numeric", self.policy.numeric_epsilon)))
        work.report.mechanisms.append("clamped-numeric")

        def apply(values: list[int]) -> None:
            for (clean, target), noisy in zip(work.numeric, values, strict=True):
                bounds = self.policy.numeric_attributes[clean["type"]]
                mechanism = self.numeric_mechanisms_[clean["type"]]
                if work.dry_run:
                    clean["value"] = self.policy.placeholder
                    work.report.add("noised", target, f"{clean['type']} would be clamped and noised")
                    continue
                clean["value"] = str(int(noisy))
                clean.setdefault("Tag", []).append({"name": TAG_NOISED})
                work.report.add("noised", target, f"{clean['type']} clamped to [{bounds.lower}, {bounds.upper}] "
                                f"and noised once (discrete Laplace, scale {mechanism.scale_:g}); later "
                                "releases republish the same noisy value")
        return requests, apply

    def _time_requests(self, work: _Work, pairs: list[tuple[dict[str, Any], Any]], kind: str, name: str
                       ) -> tuple[list[NoiseRequest], Callable[[list[int]], None]]:
        """Each distinct time of the event is one datum: equal times are noised once and reused."""
        mechanism: BoundedTimestampPairMechanism = self.mechanisms_[name]
        cost = mechanism.privacy_map()
        charge = Charge(name, cost.epsilon, cost.delta)
        ends: list[tuple[int | None, int | None]] = [self._time_ends(clean, extra, kind) for clean, extra in pairs]
        requests = [NoiseRequest(kind=kind, identity=f"{work.report.event_uuid}/{moment}", value=moment,
                                 draw=partial(_draw_time, mechanism, self.noise),
                                 epsilon=cost.epsilon / 2, charge=charge)
                    for first, last in ends for moment in (first, last) if moment is not None]
        work.report.mechanisms.append(name)

        def apply(values: list[int]) -> None:
            noisy = iter(values)
            for (clean, extra), (first, last) in zip(pairs, ends, strict=True):
                shifted = [next(noisy) if moment is not None else None for moment in (first, last)]
                self._set_time_ends(clean, extra, kind, first, last, shifted, work, mechanism)
        return requests, apply

    def _time_ends(self, clean: dict[str, Any], extra: Any, kind: str) -> tuple[int | None, int | None]:
        if kind == "sighting-time":
            times = [_epoch_int(s.get("date_sighting")) for s in extra.get("Sighting", []) if isinstance(s, dict)]
            times = [t for t in times if t is not None]
            base = _epoch_int(clean.get("timestamp")) or 0
            return (min(times), max(times)) if times else (base, base)
        return _epoch(clean.get("first_seen")), _epoch(clean.get("last_seen"))

    def _set_time_ends(self, clean: dict[str, Any], extra: Any, kind: str, first: int | None, last: int | None,
                       shifted: list[int | None], work: _Work, mechanism: BoundedTimestampPairMechanism) -> None:
        if first is None and last is None:
            clean.pop("first_seen", None)
            clean.pop("last_seen", None)
            work.report.add("dropped", f"{extra} first_seen/last_seen", "not a parseable time")
            return
        if work.dry_run:
            for key in ("first_seen", "last_seen") if kind == "time" else ():
                clean.pop(key, None)
            work.report.add("noised", f"{extra if kind == 'time' else clean.get('uuid')} times",
                            "would be shifted by truncated discrete Laplace noise (never drawn in a dry run)")
            return
        present = sorted(v for v in shifted if v is not None)
        noisy_first, noisy_last = present[0], present[-1]
        if kind == "sighting-time":
            clean["Attribute"] += [self._summary_attribute(clean, "first-sighting", "datetime", _iso(noisy_first)),
                                   self._summary_attribute(clean, "last-sighting", "datetime", _iso(noisy_last))]
            return
        if first is not None:
            clean["first_seen"] = _iso(noisy_first)
        if last is not None:
            clean["last_seen"] = _iso(noisy_last)
        work.report.add("noised", f"{extra} first_seen/last_seen", "shifted by truncated discrete Laplace noise "
                        f"(at most {mechanism.window} s; each distinct time of the event noised once), order kept")

    def _sighting_summary(self, clean: dict[str, Any], seen: int, false_positive: int,
                          timestamp: str) -> dict[str, Any]:
        attribute_uuid = str(clean.get("uuid", ""))
        base = uuid_module.uuid5(LEGION_NAMESPACE, f"{attribute_uuid}/{SIGHTING_SUMMARY_OBJECT}")
        tree = self.mechanisms_["sighting-counts"]
        summary = {"uuid": str(base), "name": SIGHTING_SUMMARY_OBJECT, "meta-category": "misc", "distribution": 5,
                   "template_uuid": SIGHTING_SUMMARY_TEMPLATE_UUID, "template_version": "1",
                   "description": "Differentially private sighting counts of one attribute (legion-misp).",
                   "comment": "continual noisy counts (binary-tree counter); see docs/privacy.md",
                   "timestamp": timestamp, "Attribute": [],
                   "ObjectReference": [{"uuid": str(uuid_module.uuid5(base, "reference")),
                                        "referenced_uuid": attribute_uuid, "relationship_type": "annotates"}]}
        summary["Attribute"] = [self._summary_attribute(summary, "attribute-uuid", "text", attribute_uuid),
                                self._summary_attribute(summary, "seen", "counter", str(seen)),
                                self._summary_attribute(summary, "false-positive", "counter", str(false_positive)),
                                self._summary_attribute(summary, "epsilon", "float", f"{tree.epsilon:g}")]
        return summary

    @staticmethod
    def _summary_attribute(summary: dict[str, Any], relation: str, attribute_type: str, value: str
                           ) -> dict[str, Any]:
        base = uuid_module.UUID(summary["uuid"])
        return {"uuid": str(uuid_module.uuid5(base, relation)), "type": attribute_type, "category": "Other",
                "object_relation": relation, "value": value, "to_ids": False, "distribution": 5,
                "disable_correlation": True, "timestamp": summary["timestamp"]}


# ---- helpers -------------------------------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-fA-F]{16,128}")
_NUMBER = re.compile(r"-?\d{1,20}(?:\.\d{1,20})?")
_HASH_TYPES = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512/224", "sha512/256",
                         "sha3-224", "sha3-256", "sha3-384", "sha3-512", "imphash", "pehash", "authentihash",
                         "cdhash", "telfhash", "ja3-fingerprint-md5", "jarm-fingerprint", "hassh-md5",
                         "hasshserver-md5", "x509-fingerprint-md5", "x509-fingerprint-sha1",
                         "x509-fingerprint-sha256", "vhash", "tlsh"})
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")
_VALIDATORS = {
    "uuid": fields.is_uuid, "extends_uuid": fields.is_uuid, "template_uuid": fields.is_uuid,
    "referenced_uuid": fields.is_uuid, "object_uuid": fields.is_uuid,
    "timestamp": fields.is_epoch, "publish_timestamp": fields.is_epoch, "date": is_date,
    "template_version": lambda v: str(v).strip().isdigit(),
    "threat_level_id": lambda v: str(v).strip() in fields.ENUMERATED["threat_level_id"],
    "analysis": lambda v: str(v).strip() in fields.ENUMERATED["analysis"],
    "published": lambda v: v in (True, False, 0, 1, "0", "1"),
    "to_ids": lambda v: v in (True, False, 0, 1, "0", "1"),
    "disable_correlation": lambda v: v in (True, False, 0, 1, "0", "1"),
    "first_seen": lambda v: _epoch(v) is not None, "last_seen": lambda v: _epoch(v) is not None,
    "category": lambda v: v in fields.categories(),
    "meta-category": lambda v: isinstance(v, str), "relationship_type": lambda v: isinstance(v, str),
}


def _validated(element: dict[str, Any], keys: tuple[str, ...], work: _Work, target: str) -> dict[str, Any]:
    """The element's fields among ``keys`` that pass their validator (strings to scrub are handled by callers);
    a field that fails is left out and reported. Keys without a validator are copied only if they are scrubbed
    afterwards by the caller."""
    out: dict[str, Any] = {}
    for key in keys:
        if key not in element or element[key] in (None, ""):
            continue
        check = _VALIDATORS.get(key)
        if check is None:
            out[key] = element[key]
        elif check(element[key]):
            out[key] = element[key]
        else:
            work.report.add("removed", f"{target} {key}", "not a valid value for this field")
    return out


def _self_evident(attribute_type: str, value: str) -> bool:
    """A value whose form leaves no room for anything but itself: a hex hash, a canonical IP address (the network
    gate has judged it), ``ip|port``, a plain number."""
    if attribute_type in _HASH_TYPES:
        return bool(_HEX.fullmatch(value))
    if attribute_type in ("ip-src", "ip-dst", "ip-src|port", "ip-dst|port"):
        address, _, port = value.partition("|")
        if port and not port.strip().isdigit():
            return False
        try:
            return str(ipaddress.ip_address(address.strip())) == address.strip().lower()
        except ValueError:
            return False
    if attribute_type in ("counter", "size-in-bytes", "float", "port"):
        return bool(_NUMBER.fullmatch(value.strip()))
    return False


def _keeps_indicator(value: str, placeholder: str) -> bool:
    """After replacing private segments, is there still an indicator (not only the placeholder and separators)?"""
    rest = value.replace(placeholder, "")
    return sum(c.isalnum() for c in rest) >= 3


def _build_mechanisms(policy: Policy) -> dict[str, Any]:
    mechanisms: dict[str, Any] = {}
    if policy.sightings == "noise":
        mechanisms["sighting-counts"] = ContinualCountMechanism(epsilon=policy.sightings_epsilon,
                                                                horizon=policy.sightings_horizon,
                                                                step=policy.sightings_step)
    if policy.noise_times:
        mechanisms["bounded-timestamp-pair"] = BoundedTimestampPairMechanism(
            epsilon=policy.time_epsilon, sensitivity=policy.time_sensitivity, window=policy.time_window)
    if policy.sightings == "noise" and policy.sighting_times:
        mechanisms["sighting-times"] = BoundedTimestampPairMechanism(
            epsilon=policy.time_epsilon, sensitivity=policy.time_sensitivity, window=policy.time_window)
    return mechanisms


def _origin_time(event: dict[str, Any]) -> int:
    """Where an event's sighting counter starts: its (shared) ``date``, else its timestamp."""
    date = str(event.get("date", ""))[:10]
    if is_date(date):
        return int(parse_time(date, assume_utc=True, allow_date=True).timestamp())
    return _epoch_int(event.get("timestamp")) or 0


def _event_origin(work: _Work) -> int:
    return work.origin


def _sighting_steps(attribute: dict[str, Any], step: int, event_block: int, origin_step: int, end_step: int,
                    fallback: str) -> tuple[list[int], list[int]]:
    """Steps of the attribute's sightings per type (0 seen, 1 false positive) in ``[origin_step, end_step)``;
    sightings dated before the event's block count from its start; those in steps not yet complete wait."""
    steps: tuple[list[int], list[int]] = ([], [])
    default = _epoch_int(attribute.get("timestamp")) or _epoch_int(fallback) or 0
    for sighting in attribute.get("Sighting") or []:
        if not isinstance(sighting, dict):
            continue
        index = _SEEN_TYPES.get(str(sighting.get("type", "0")))
        if index is None:
            continue
        when = _epoch_int(sighting.get("date_sighting"))
        at = max(event_block, (when if when is not None else default) // step)
        if origin_step <= at < end_step:
            steps[index].append(at)
    return steps


def _draw_numeric(mechanism: ClampedNumericMechanism, noise: NoiseSource, value: int) -> int:
    return int(mechanism.release(np.array([value]), noise)[0])


def _draw_time(mechanism: BoundedTimestampPairMechanism, noise: NoiseSource, moment: int) -> int:
    return int(moment) + int(mechanism.truncated_noise(noise, 1)[0])


def _pseudonym_key(config: Config) -> bytes | None:
    reference = config.section("federation")["pseudonym_key"]
    if reference is None:
        return None
    secret = config.secret(reference)
    return key_from_text(secret.reveal()) if secret is not None else None


def pseudonym_organisation(pseudonym: str) -> dict[str, str]:
    return {"name": pseudonym, "uuid": str(uuid_module.uuid5(LEGION_NAMESPACE, f"organisation/{pseudonym}"))}


def _shared_level(level: int | None) -> int:
    """Distribution carried by the shared copy: sharing-group data becomes 1 (the local group means nothing to
    peers); everything else keeps its level."""
    if level is None:
        return 5
    return 1 if level == 4 else level


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true")) or value == 1


def _uuids_of(obj: dict[str, Any]) -> set[str]:
    return {str(obj.get("uuid"))} | {str(a.get("uuid")) for a in obj.get("Attribute", []) if isinstance(a, dict)}


def _sighting_counts(attribute: dict[str, Any]) -> tuple[int, int]:
    counts = [0, 0]
    for sighting in attribute.get("Sighting") or []:
        if isinstance(sighting, dict):
            index = _SEEN_TYPES.get(str(sighting.get("type", "0")))
            if index is not None:
                counts[index] += 1
    return counts[0], counts[1]


def _drop_dangling_references(objects: list[dict[str, Any]], dropped: set[str]) -> None:
    for obj in objects:
        references = obj.get("ObjectReference")
        if references:
            obj["ObjectReference"] = [r for r in references if str(r.get("referenced_uuid")) not in dropped]


def _remove_empty(event: dict[str, Any]) -> None:
    for key in ("Attribute", "Object", "EventReport", "Tag", "Galaxy"):
        if not event.get(key):
            event.pop(key, None)
    for obj in event.get("Object", []):
        if not obj.get("ObjectReference"):
            obj.pop("ObjectReference", None)


def _epoch(value: Any) -> int | None:
    """Epoch seconds of a MISP ``first_seen``/``last_seen`` (ISO 8601) or epoch value."""
    if value in (None, ""):
        return None
    as_int = _epoch_int(value)
    if as_int is not None:
        return as_int
    try:
        return int(parse_time(str(value), assume_utc=True, allow_date=True).timestamp())
    except ValueError:
        return None


def _epoch_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000+00:00")
