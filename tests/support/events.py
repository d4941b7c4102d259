"""Deterministic synthetic MISP events (inner ``Event`` dicts) for tests and benchmarks."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

_NS = uuid.UUID("5f1b1c3e-2d4a-4e6b-8c9d-0a1b2c3d4e5f")
_KINDS = ("ip-dst", "domain", "url", "sha256", "email-src")


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NS, "|".join(str(p) for p in parts)))


def _value(kind: str, seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    if kind == "ip-dst":
        return f"198.51.{int(h[:2], 16)}.{int(h[2:4], 16)}"
    if kind == "domain":
        return f"d{h[:10]}.example"
    if kind == "url":
        return f"https://u{h[:8]}.example/p/{h[8:16]}"
    if kind == "sha256":
        return h
    return f"x{h[:8]}@mail.example"


def make_event(index: int, attributes: int = 20, *, timestamp: int = 1_790_000_000, org: str = "OrgA",
               tags: tuple[str, ...] = ("tlp:green",), published: bool = True, info: str | None = None
               ) -> dict[str, Any]:
    """One published event with ``attributes`` attributes (half ``to_ids``), stable uuids and timestamps."""
    event_uuid = _uuid("event", org, index)
    attrs = []
    for n in range(attributes):
        kind = _KINDS[n % len(_KINDS)]
        attrs.append({"uuid": _uuid("attr", org, index, n), "type": kind,
                      "category": "Network activity" if kind in ("ip-dst", "domain", "url") else "Payload delivery",
                      "value": _value(kind, f"{org}-{index}-{n}"), "to_ids": n % 2 == 0,
                      "timestamp": str(timestamp), "comment": ""})
    return {
        "uuid": event_uuid, "info": info or f"{org} synthetic event {index}", "date": "2026-10-01",
        "timestamp": str(timestamp), "publish_timestamp": str(timestamp + 60), "published": published,
        "threat_level_id": "2", "analysis": "2", "distribution": "3",
        "Orgc": {"name": org, "uuid": _uuid("org", org)}, "Org": {"name": org, "uuid": _uuid("org", org)},
        "Tag": [{"name": t} for t in tags], "Attribute": attrs, "Object": [],
    }


def attribute_values(event: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, value) of every attribute, top level and inside objects: what must survive a round trip."""
    out = {(a.get("type"), str(a.get("value"))) for a in event.get("Attribute", [])}
    for obj in event.get("Object", []):
        name = obj.get("name")
        out |= {(f"{name}/{a.get('object_relation')}", str(a.get("value"))) for a in obj.get("Attribute", [])}
    return out
