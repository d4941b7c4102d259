"""The publish gate: what in an event about to be published would leave although the policy protects it.

MISP's ``event-publish`` workflow trigger is blocking; the legion publish-gate action module calls
:func:`publish_gate_findings` and blocks (or warns) when the list is not empty. A finding names where the problem
is (field path and attribute uuid) and its kind, never the protected value itself, so it is safe to log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from . import fields, gates
from .hostnames import learn_hostnames
from .policy import Policy
from .scrub import ProtectedContent

if TYPE_CHECKING:
    from ..config import Organisation


@dataclass(frozen=True)
class Finding:
    """A policy-protected element that would leave at distribution ≥ 1.

    Attributes
    ----------
    kind : a detection kind (``protected-ip``, ``internal-host``, ``internal-email``, ``sensitive-term``,
        ``sensitive-pattern``, ``encoded-protected``, a built-in detector's kind such as ``iban`` or ``user-path``),
        or ``targeting-data``, ``victim-identifying-type``, ``blocked-tag``, ``sighting-identity``.
    path : where in the event (``info``, ``Attribute[3].value``, ``Object[0].Attribute[1].comment``...).
    attribute_uuid : the attribute's uuid when the finding is in an attribute.
    message : one line for the analyst.
    """

    kind: str
    path: str
    attribute_uuid: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def publish_gate_findings(event: dict[str, Any], organisation: Organisation,
                          policy: Policy | None = None, *, hostnames: Iterable[str] = ()) -> list[Finding]:
    """Every policy-protected value in ``event`` that publishing would share (effective distribution ≥ 1).

    The detection is the sanitiser's own (:class:`ProtectedContent` with the policy's detectors and the host names
    the event reveals), run over the same strings the sanitiser scrubs, so a finding is exactly something that
    would leave if MISP synchronised the event as it is.

    Parameters
    ----------
    event : the inner MISP event dict (``{"Event": {...}}`` is unwrapped too).
    organisation : the local organisation (networks, internal domains, terms, patterns).
    policy : the privacy policy (default: the default policy for ``organisation``).
    hostnames : short host names learned from the whole store
        (:func:`~legion_misp.privacy.hostname_store.store_hostnames`), as the sanitiser uses them.
    """
    event = event.get("Event", event) if isinstance(event, dict) else event
    policy = policy if policy is not None else Policy(organisation=organisation)
    if _level(event) == 0:
        return []
    protected = ProtectedContent(organisation, placeholder=policy.placeholder, detectors=policy.detector_set())
    protected = protected.derive(hostnames=[*hostnames, *learn_hostnames(event, organisation)])
    scan = _Scan(protected, policy)
    scan.text(event.get("info"), "info", None)
    scan.tags(event, "Tag", None)
    scan.galaxies(event, "Galaxy", None)
    scan.attributes(event.get("Attribute") or [], "Attribute")
    for index, obj in enumerate(event.get("Object") or []):
        if not isinstance(obj, dict) or _level(obj) == 0 or gates.is_deleted(obj):
            continue
        where = f"Object[{index}]"
        if obj.get("name") not in fields.object_templates():
            scan.text(obj.get("name"), f"{where}.name", None)
        for key in ("description", "comment"):
            scan.text(obj.get(key), f"{where}.{key}", None)
        scan.attributes(obj.get("Attribute") or [], f"{where}.Attribute")
        for ref_index, reference in enumerate(obj.get("ObjectReference") or []):
            if isinstance(reference, dict):
                scan.text(reference.get("comment"), f"{where}.ObjectReference[{ref_index}].comment", None)
                if reference.get("relationship_type") not in fields.relationship_types():
                    scan.text(reference.get("relationship_type"),
                              f"{where}.ObjectReference[{ref_index}].relationship_type", None)
    for index, report in enumerate(event.get("EventReport") or []):
        if isinstance(report, dict) and _level(report) != 0 and not gates.is_deleted(report):
            scan.text(report.get("name"), f"EventReport[{index}].name", None)
            scan.text(report.get("content"), f"EventReport[{index}].content", None)
    return scan.findings


def _level(element: dict[str, Any]) -> int | None:
    return gates.parse_distribution(element.get("distribution", 5))


class _Scan:
    """Collects findings over the strings of one event."""

    def __init__(self, protected: ProtectedContent, policy: Policy):
        self.protected = protected
        self.policy = policy
        self.findings: list[Finding] = []

    def text(self, text: Any, path: str, uuid: str | None, *, indicator: bool = False) -> None:
        if not isinstance(text, str) or not text:
            return
        kinds = sorted({span.kind for span in self.protected.find(text, indicator=indicator)})
        self.findings += [Finding(kind, path, uuid, f"{path} contains {kind.replace('-', ' ')}") for kind in kinds]

    def tags(self, element: dict[str, Any], path: str, uuid: str | None) -> None:
        reason = gates.blocked_tag(element, self.policy)
        if reason:
            self.findings.append(Finding("blocked-tag", path, uuid, f"{path}: {reason} on data that would be shared"))
        for index, name in enumerate(gates.tag_names(element)):
            self.text(name, f"{path}[{index}].name", uuid)

    def galaxies(self, element: dict[str, Any], path: str, uuid: str | None) -> None:
        for index, galaxy in enumerate(element.get("Galaxy") or []):
            if not isinstance(galaxy, dict):
                continue
            for cluster_index, cluster in enumerate(galaxy.get("GalaxyCluster") or []):
                if isinstance(cluster, dict) and _level(cluster) != 0:
                    where = f"{path}[{index}].GalaxyCluster[{cluster_index}]"
                    for key in ("value", "description", "meta"):
                        value = cluster.get(key)
                        texts = [value] if isinstance(value, str) else \
                            [json.dumps(value, ensure_ascii=False)] if value else []
                        for text in texts:
                            self.text(text, f"{where}.{key}", uuid)

    def attributes(self, attributes: list[Any], path: str) -> None:
        for index, attribute in enumerate(attributes):
            if not isinstance(attribute, dict) or _level(attribute) == 0 or gates.is_deleted(attribute):
                continue
            where = f"{path}[{index}]"
            uuid = attribute.get("uuid")
            attribute_type = str(attribute.get("type", ""))
            category = attribute.get("category") or gates.default_category(attribute_type)
            if category == "Targeting data":
                self.findings.append(Finding("targeting-data", where, uuid,
                                             f"{where} is targeting data ({attribute_type})"))
            elif attribute_type in self.policy.drop_types:
                self.findings.append(Finding("victim-identifying-type", where, uuid,
                                             f"{where} has type {attribute_type}, which identifies a victim or person"))
            value = str(attribute.get("value", ""))
            kind = gates.network_overlap(attribute_type, value, self.protected)
            if kind:
                self.findings.append(Finding(kind, f"{where}.value", uuid, f"{where}.value is inside a protected "
                                             "network"))
            else:
                self.text(value, f"{where}.value", uuid, indicator=attribute_type not in self.policy.text_types)
            self.text(attribute.get("comment"), f"{where}.comment", uuid)
            if any(isinstance(s, dict) and (s.get("Organisation") or s.get("source"))
                   for s in attribute.get("Sighting") or []):
                self.findings.append(Finding("sighting-identity", f"{where}.Sighting", uuid,
                                             f"{where} has sightings naming their organisation or source (MISP "
                                             "shares them unless Plugin.Sightings_anonymise is on)"))
            self.tags(attribute, f"{where}.Tag", uuid)
            self.galaxies(attribute, f"{where}.Galaxy", uuid)
