"""Helpers for MISP event dicts: the inner object of MISP's ``{"Event": {...}}`` JSON.

Stores exchange plain dicts (fast, lossless); :func:`check_event` validates the minimum every store relies on.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from collections.abc import Iterator
from typing import Any

from ..errors import EventFormatError

MAX_EVENT_BYTES = 64 * 1024 * 1024


def unwrap_event(document: Any, *, location: str | None = None) -> dict[str, Any]:
    """Return the event dict from ``{"Event": {...}}`` (or a bare event dict that has ``uuid``), checked."""
    if isinstance(document, dict) and isinstance(document.get("Event"), dict):
        event = document["Event"]
    elif isinstance(document, dict) and "uuid" in document and "Event" not in document:
        event = document
    else:
        raise EventFormatError("not a MISP event: expected an object with an 'Event' member", location=location)
    check_event(event, location=location)
    return event


def wrap_event(event: dict[str, Any]) -> dict[str, Any]:
    return {"Event": event}


def check_event(event: Any, *, location: str | None = None) -> None:
    """Raise :class:`EventFormatError` unless ``event`` has a valid uuid and well-typed lists."""
    if not isinstance(event, dict):
        raise EventFormatError("'Event' must be an object", location=location)
    event_uuid = event.get("uuid")
    if not is_uuid(event_uuid):
        raise EventFormatError(f"event has no valid 'uuid' (got {_short(event_uuid)})", location=location)
    for key in ("Attribute", "Object", "Tag", "EventReport"):
        if key in event and not isinstance(event[key], list):
            raise EventFormatError(f"'{key}' must be a list", location=location, event_uuid=event_uuid)
    for obj in event.get("Object", []):
        if not isinstance(obj, dict) or not isinstance(obj.get("Attribute", []), list):
            raise EventFormatError("each Object must be an object with an 'Attribute' list",
                                   location=location, event_uuid=event_uuid)
    for attribute in iter_attributes(event):
        if not isinstance(attribute, dict) or "type" not in attribute or "value" not in attribute:
            raise EventFormatError("each Attribute must be an object with 'type' and 'value'",
                                   location=location, event_uuid=event_uuid)


def parse_event_bytes(data: bytes, *, location: str | None = None) -> dict[str, Any]:
    """Decode UTF-8 JSON bytes into a checked event dict; errors name the location, never dump the content."""
    return unwrap_event(_parse_json_bytes(data, location), location=location)


def parse_export_bytes(data: bytes, *, location: str | None = None) -> list[dict[str, Any]]:
    """The checked events of a MISP JSON export, whatever MISP produced it with.

    Accepted: one event (``{"Event": {...}}`` or a bare event with ``uuid``), a list of those, or a REST search
    answer ``{"response": [...]}``. Anything else raises :class:`EventFormatError` saying what the file is instead.
    """
    document = _parse_json_bytes(data, location)
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        document = document["response"]
    if isinstance(document, list):
        if not document:
            raise EventFormatError("not a MISP event: an empty JSON list", location=location)
        return [unwrap_event(item, location=f"{location}[{index}]") for index, item in enumerate(document)]
    if isinstance(document, dict) and not isinstance(document.get("Event"), dict) and "uuid" not in document:
        keys = ", ".join(sorted(map(str, document))[:6]) or "none"
        raise EventFormatError(f"not a MISP event: a JSON object without 'Event' or 'uuid' (keys: {keys})",
                               location=location)
    if not isinstance(document, dict):
        raise EventFormatError(f"not a MISP event: a JSON {type(document).__name__}", location=location)
    return [unwrap_event(document, location=location)]


def _parse_json_bytes(data: bytes, location: str | None) -> Any:
    if len(data) > MAX_EVENT_BYTES:
        raise EventFormatError(f"event file is larger than {MAX_EVENT_BYTES} bytes", location=location)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventFormatError(f"not UTF-8 (byte {exc.start})", location=location) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventFormatError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                               location=location) from exc
    except RecursionError as exc:
        raise EventFormatError("JSON is nested too deeply", location=location) from exc
    return document


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid_module.UUID(value)
    except ValueError:
        return False
    return True


def iter_attributes(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every attribute of the event: top-level ones, then those inside objects (entries that are not JSON objects,
    and missing or null lists, are skipped: this also walks events that have not been validated yet)."""
    yield from (a for a in event.get("Attribute") or [] if isinstance(a, dict))
    for obj in event.get("Object") or []:
        if isinstance(obj, dict):
            yield from (a for a in obj.get("Attribute") or [] if isinstance(a, dict))


def event_timestamp(event: dict[str, Any]) -> int:
    try:
        return int(event.get("timestamp") or 0)
    except (TypeError, ValueError):
        return 0


def event_tag_names(event: dict[str, Any]) -> list[str]:
    tags = event.get("Tag") or []
    if not tags and isinstance(event.get("EventTag"), list):  # MISP's internal fetchEvent shape
        tags = [t.get("Tag", {}) for t in event["EventTag"] if isinstance(t, dict)]
    return [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]


def is_published(event: dict[str, Any]) -> bool:
    value = event.get("published")
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


def matches(event: dict[str, Any], *, since: int | None = None, tags: list[str] | None = None,
            published: bool | None = None) -> bool:
    """The filter every store applies: timestamp ≥ since, all ``tags`` present, published state."""
    if since is not None and event_timestamp(event) < since:
        return False
    if tags and not set(tags) <= set(event_tag_names(event)):
        return False
    return published is None or is_published(event) == published


def normalise_event(event: dict[str, Any]) -> str:
    """Canonical JSON text of an event (sorted keys), for loss-free comparisons."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
