"""Pure gate decisions: may this event, object or attribute leave, and if not, why.

Each function takes plain values and the :class:`~legion_misp.privacy.policy.Policy` and returns a reason string
(why it stays home) or None (it may leave). Nothing here mutates its input.
"""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from importlib import resources
from typing import Any

from .addresses import embedded_ipv4, value_networks
from .policy import Policy
from .scrub import ProtectedContent

DISTRIBUTION_NAMES = {0: "your organisation only", 1: "this community only", 2: "connected communities",
                      3: "all communities", 4: "sharing group", 5: "inherit"}
_IP_PART_TYPES = {"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"}


@cache
def describe_types() -> dict[str, Any]:
    """MISP's ``describeTypes.json`` (shipped with PyMISP): known types, categories and their defaults."""
    text = resources.files("pymisp").joinpath("data/describeTypes.json").read_text(encoding="utf-8")
    return json.loads(text)["result"]


def known_types() -> frozenset[str]:
    return frozenset(describe_types()["types"])


def default_category(attribute_type: str) -> str:
    return describe_types()["sane_defaults"].get(attribute_type, {}).get("default_category", "Other")


def parse_distribution(value: Any) -> int | None:
    """MISP distribution as int 0-5, or None if missing/invalid."""
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if 0 <= level <= 5 and str(value).strip() == str(level) else None


def sharing_group_ids(element: dict[str, Any]) -> list[str]:
    """Names and uuids identifying the element's sharing group (from its ``SharingGroup`` block)."""
    group = element.get("SharingGroup")
    if not isinstance(group, dict):
        return []
    return [str(group[k]) for k in ("uuid", "name") if group.get(k)]


def distribution_gate(element: dict[str, Any], level: int, policy: Policy) -> str | None:
    """Why an element at this (explicit, non-inherit) distribution level may not leave, or None."""
    if level == 5:
        return None
    if level == 0:
        return "distribution 0 (your organisation only)"
    if level == 4:
        ids = sharing_group_ids(element)
        if not ids:
            return "sharing-group data without an identifiable sharing group"
        if not any(policy.federation in policy.sharing_groups.get(i, ()) for i in ids):
            return f"sharing group not mapped to federation {policy.federation!r} in privacy.sharing_groups"
        return None
    if level < policy.min_distribution:
        return f"distribution {level} ({DISTRIBUTION_NAMES[level]}) below privacy.min_distribution"
    return None


def tag_names(element: dict[str, Any]) -> list[str]:
    tags = element.get("Tag") or []
    return [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]


def blocked_tag(element: dict[str, Any], policy: Policy) -> str | None:
    for name in tag_names(element):
        if policy.is_blocked_tag(name):
            return f"blocked tag {name.strip().lower()}"
    return None


def attribute_type_gate(attribute_type: str, category: str, policy: Policy) -> str | None:
    if category in policy.drop_categories:
        return f"category {category!r} never leaves"
    if attribute_type in policy.drop_types:
        return f"type {attribute_type!r} never leaves"
    return None


def network_overlap(attribute_type: str, value: str, protected: ProtectedContent) -> str | None:
    """For IP-bearing types: a part that is (or is a network overlapping) an internal or own public network."""
    if attribute_type not in _IP_PART_TYPES:
        return None
    organisation = protected.organisation
    networks = (*organisation.internal_networks, *organisation.public_networks)
    for part in value.split("|"):
        candidates = []
        try:
            candidates.append(ipaddress.ip_network(part.strip().strip("[]"), strict=False))
        except ValueError:
            if not (part.strip().isdigit() and len(part.strip()) <= 5):  # a port
                candidates.extend(value_networks(part))  # any other notation: 0xa000001, ::ffff:a00:1, [fd00::1]:443
        if any(c.version == n.version and c.overlaps(n) for c in candidates for n in networks):
            return "protected-ip"
        if any(isinstance(c, ipaddress.IPv6Network) and c.num_addresses == 1 and
               any(a in n for a in embedded_ipv4(c.network_address) for n in networks if n.version == 4)
               for c in candidates):
            return "protected-ip"
    return None


def value_gate(attribute_type: str, value: str, protected: ProtectedContent) -> str | None:
    """Why an indicator value may not leave: it is, or contains, protected content (also defanged/encoded)."""
    kind = network_overlap(attribute_type, value, protected) or protected.contains(value)
    return f"value contains {kind}" if kind else None


def is_deleted(element: dict[str, Any]) -> bool:
    value = element.get("deleted")
    return value is True or value == 1 or (isinstance(value, str) and value.strip().lower() in ("1", "true"))
