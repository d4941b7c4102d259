"""The publish gate: what in an event about to be published would leave although the policy protects it.

MISP's ``event-publish`` workflow trigger is blocking; the legion publish-gate action module calls
:func:`publish_gate_findings` and blocks (or warns) when the list is not empty. A finding names where the problem
is (field path and attribute uuid) and its kind, never the protected value itself, so it is safe to log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from . import gates
from .policy import Policy
from .scrub import ProtectedContent

if TYPE_CHECKING:
    from ..config import Organisation


@dataclass(frozen=True)
class Finding:
    """A policy-protected element that would leave at distribution ≥ 1.

    Attributes
    ----------
    kind : ``protected-ip``, ``internal-host``, ``internal-email``, ``sensitive-term``, ``sensitive-pattern``,
        ``encoded-protected``, ``targeting-data``, ``victim-identifying-type``, ``blocked-tag``.
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
                          policy: Policy | None = None) -> list[Finding]:
    """Every policy-protected value in ``event`` that publishing would share (effective distribution ≥ 1).

    Parameters
    ----------
    event : the inner MISP event dict (``{"Event": {...}}`` is unwrapped too).
    organisation : the local organisation (networks, internal domains, terms, patterns).
    policy : the privacy policy (default: the default policy for ``organisation``).
    """
    event = event.get("Event", event) if isinstance(event, dict) else event
    policy = policy if policy is not None else Policy(organisation=organisation)
    protected = ProtectedContent(organisation, placeholder=policy.placeholder)
    if _level(event) == 0:
        return []
    findings: list[Finding] = []
    findings += _text_findings(protected, event.get("info"), "info", None)
    findings += _tag_findings(event, policy, "Tag", None)
    findings += _attribute_findings(event.get("Attribute") or [], "Attribute", policy, protected)
    for index, obj in enumerate(event.get("Object") or []):
        if isinstance(obj, dict) and _level(obj) != 0:
            findings += _text_findings(protected, obj.get("comment"), f"Object[{index}].comment", None)
            findings += _attribute_findings(obj.get("Attribute") or [], f"Object[{index}].Attribute", policy,
                                            protected)
    for index, report in enumerate(event.get("EventReport") or []):
        if isinstance(report, dict) and _level(report) != 0:
            findings += _text_findings(protected, report.get("content"), f"EventReport[{index}].content", None)
    return findings


def _level(element: dict[str, Any]) -> int | None:
    return gates.parse_distribution(element.get("distribution", 5))


def _text_findings(protected: ProtectedContent, text: Any, path: str, uuid: str | None) -> list[Finding]:
    if not isinstance(text, str) or not text:
        return []
    kinds = sorted({span.kind for span in protected.find(text)})
    return [Finding(kind, path, uuid, f"{path} contains {kind.replace('-', ' ')}") for kind in kinds]


def _tag_findings(element: dict[str, Any], policy: Policy, path: str, uuid: str | None) -> list[Finding]:
    reason = gates.blocked_tag(element, policy)
    return [Finding("blocked-tag", path, uuid, f"{path}: {reason} on data that would be shared")] if reason else []


def _attribute_findings(attributes: list[Any], path: str, policy: Policy,
                        protected: ProtectedContent) -> list[Finding]:
    findings: list[Finding] = []
    for index, attribute in enumerate(attributes):
        if not isinstance(attribute, dict) or _level(attribute) == 0 or gates.is_deleted(attribute):
            continue
        where = f"{path}[{index}]"
        uuid = attribute.get("uuid")
        attribute_type = str(attribute.get("type", ""))
        category = attribute.get("category") or gates.default_category(attribute_type)
        if category == "Targeting data":
            findings.append(Finding("targeting-data", where, uuid, f"{where} is targeting data ({attribute_type})"))
        elif attribute_type in policy.drop_types:
            findings.append(Finding("victim-identifying-type", where, uuid,
                                    f"{where} has type {attribute_type}, which identifies a victim or person"))
        value = str(attribute.get("value", ""))
        kind = gates.network_overlap(attribute_type, value, protected)
        if kind:
            findings.append(Finding(kind, f"{where}.value", uuid, f"{where}.value is inside a protected network"))
        else:
            findings += _text_findings(protected, value, f"{where}.value", uuid)
        findings += _text_findings(protected, attribute.get("comment"), f"{where}.comment", uuid)
        findings += _tag_findings(attribute, policy, f"{where}.Tag", uuid)
    return findings
