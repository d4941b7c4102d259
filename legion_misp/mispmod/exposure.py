"""Find policy-protected values an event would share (the publish gate's check).

An attribute is *shared* when its effective distribution is ≥ 1: the most restrictive of the event's, its object's
and its own distribution, where 5 means "inherit". A shared attribute is an exposure when its value (or any part of
a composite value, the host of a URL, the domain of an e-mail address, or any address, host or e-mail inside
free text) is inside the organisation's internal or public networks or under an internal domain, when it is
targeting data, or when it contains a sensitive term or pattern. Event info, comments and event reports are checked
for internal addresses, sensitive terms and patterns too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config import Organisation

INHERIT = 5
TARGETING_CATEGORY = "targeting data"
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}(?:\[?\.\]?|\(\.\))){3}\d{1,3}(?![\d.])")
_HOSTISH = re.compile(r"(?i)(?:[a-z0-9-]+(?:\[?\.\]?))+[a-z]{2,}")
_EMAIL = re.compile(r"(?i)[a-z0-9._%+-]+@([a-z0-9.-]+\.[a-z]{2,})")


@dataclass(frozen=True)
class Exposure:
    """One protected value that would be shared; ``where`` names the attribute/field, never the value."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _distribution(value: Any, default: int) -> int:
    try:
        level = int(value)
    except (TypeError, ValueError):
        return default
    return default if level == INHERIT else level


def shared_attributes(event: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Attributes whose effective distribution is ≥ 1, with a label naming where they sit."""
    event_level = _distribution(event.get("distribution"), 0)
    for attribute in event.get("Attribute", []) or []:
        if isinstance(attribute, dict) and min(event_level, _distribution(attribute.get("distribution"),
                                                                          event_level)) >= 1:
            yield attribute, f"attribute {attribute.get('uuid', '?')} ({attribute.get('type', '?')})"
    for obj in event.get("Object", []) or []:
        if not isinstance(obj, dict):
            continue
        object_level = min(event_level, _distribution(obj.get("distribution"), event_level))
        for attribute in obj.get("Attribute", []) or []:
            if isinstance(attribute, dict) and min(object_level, _distribution(attribute.get("distribution"),
                                                                               object_level)) >= 1:
                yield attribute, (f"object {obj.get('name', '?')} {obj.get('uuid', '?')} attribute "
                                  f"{attribute.get('object_relation') or attribute.get('type', '?')}")


def find_exposures(event: dict[str, Any], organisation: Organisation) -> list[Exposure]:
    """Every policy-protected value the event would share (empty if it shares nothing protected)."""
    if _distribution(event.get("distribution"), 0) < 1:
        return []
    found = [Exposure("event info", r) for r in text_reasons(str(event.get("info", "")), organisation)]
    for attribute, where in shared_attributes(event):
        reasons = attribute_reasons(attribute, organisation)
        reasons += [f"comment: {r}" for r in text_reasons(str(attribute.get("comment") or ""), organisation)]
        found += [Exposure(where, r) for r in dict.fromkeys(reasons)]
    for report in event.get("EventReport", []) or []:
        if isinstance(report, dict) and _distribution(report.get("distribution"), 1) >= 1:
            found += [Exposure(f"event report {report.get('uuid', '?')}", r)
                      for r in text_reasons(str(report.get("content", "")), organisation)]
    return found


def attribute_reasons(attribute: dict[str, Any], organisation: Organisation) -> list[str]:
    kind = str(attribute.get("type", ""))
    if str(attribute.get("category", "")).lower() == TARGETING_CATEGORY or kind.startswith("target-"):
        return ["targeting data (identifies a victim)"]
    value = str(attribute.get("value", ""))
    parts = value.split("|") if "|" in kind else [value]
    reasons = [r for part in parts for r in value_reasons(part, organisation)]
    return reasons or text_reasons(value, organisation)


def value_reasons(value: str, organisation: Organisation) -> list[str]:
    text = value.strip()
    if organisation.is_protected_ip(text):
        return ["internal or own public IP address"]
    host = _host_of(text)
    if host and organisation.is_protected_ip(host):
        return ["URL on an internal or own public IP address"]
    if host and organisation.is_internal_domain(host):
        return ["internal host name or domain"]
    return []


def _host_of(text: str) -> str | None:
    if "@" in text and " " not in text:
        return text.rsplit("@", 1)[1]
    if "://" in text:
        return urlsplit(text).hostname
    if re.fullmatch(r"[A-Za-z0-9.-]+", text):
        return text
    return None


def text_reasons(text: str, organisation: Organisation) -> list[str]:
    """Internal addresses, hosts, e-mails, sensitive terms and patterns inside free text (defanged forms too)."""
    if not text:
        return []
    reasons: list[str] = []
    refanged = text.replace("[.]", ".").replace("(.)", ".").replace("[@]", "@")
    if any(organisation.is_protected_ip(m.group(0)) for m in _IPV4.finditer(refanged)):
        reasons.append("internal or own public IP address in text")
    hosts = [m.group(1) for m in _EMAIL.finditer(refanged)] + [m.group(0) for m in _HOSTISH.finditer(refanged)]
    if any(organisation.is_internal_domain(h) for h in hosts):
        reasons.append("internal host, domain or e-mail address in text")
    lowered = text.lower()
    if any(term.lower() in lowered for term in organisation.sensitive_terms):
        reasons.append("sensitive term")
    if organisation.name and organisation.name.lower() in lowered:
        reasons.append("the organisation's real name")
    if any(pattern.search(text) for pattern in organisation.sensitive_patterns):
        reasons.append("matches a sensitive pattern")
    return reasons
