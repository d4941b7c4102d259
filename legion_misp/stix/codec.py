"""MISP ↔ STIX 2.1 with misp-stix, plus the checks a pulled object must pass before it is staged.

- :class:`MispToStix`: one reusable ``MISPtoSTIX21Parser``; returns each object serialised once (bytes) with its
  (id, version) key, so envelopes are built by concatenation.
- :func:`check_object`: cheap structural checks on untrusted input (type, id, spec_version, size, nesting depth).
- :func:`stix_to_misp`: a group of STIX objects → one MISP event (``InternalSTIX2toMISPParser`` for MISP-made
  content, ``ExternalSTIX2toMISPParser`` otherwise); objects that stix2 refuses (invalid pattern, bad timestamps…)
  are returned separately with the validation message, so the rest is still converted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import LegionError

log = logging.getLogger(__name__)

CONTAINER_TYPES = frozenset({"report", "grouping"})
_ID = re.compile(r"^([a-z][a-z0-9-]{0,248}[a-z0-9]|[a-z])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                 r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SCO_TYPES = frozenset({
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
    "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
    "user-account", "windows-registry-key", "x509-certificate"})
NAMESPACE = uuid.UUID("8c5a3c56-6d0e-4c3f-9a51-6b1f3f1f9e01")  # uuid5 namespace for events legion makes up
PEER_TAG = 'legion:peer="{}"'


class ObjectRejected(LegionError, ValueError):
    """A pulled object fails a check; the message is the quarantine reason."""


def object_version(obj: dict[str, Any]) -> str:
    """The TAXII version of an object: ``modified``, else ``created``, else '' (immutable)."""
    return str(obj.get("modified") or obj.get("created") or "")


def digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def nesting_depth(value: Any, limit: int) -> int:
    """Depth of nested dicts/lists, counting stops once ``limit`` is exceeded (iterative: no recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def check_object(obj: Any, *, max_bytes: int, max_nesting: int) -> tuple[str, str]:
    """Check one untrusted object; return its canonical JSON text and version. Raises :class:`ObjectRejected`."""
    if not isinstance(obj, dict):
        raise ObjectRejected(f"not a JSON object (got {type(obj).__name__})")
    depth = nesting_depth(obj, max_nesting)
    if depth > max_nesting:
        raise ObjectRejected(f"nested deeper than {max_nesting} levels")
    try:
        body = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise ObjectRejected(f"not valid JSON ({exc})") from None
    if len(body.encode("utf-8")) > max_bytes:
        raise ObjectRejected(f"larger than {max_bytes} bytes ({len(body)} characters)")
    stix_type, stix_id = obj.get("type"), obj.get("id")
    if not isinstance(stix_type, str) or not isinstance(stix_id, str) or not _ID.match(stix_id):
        raise ObjectRejected("missing or malformed 'type'/'id'")
    if stix_id.split("--", 1)[0] != stix_type:
        raise ObjectRejected(f"'id' prefix does not match type {stix_type!r}")
    spec = obj.get("spec_version")
    if spec is None and stix_type not in _SCO_TYPES and stix_type != "marking-definition":
        raise ObjectRejected("missing spec_version (STIX 2.1 requires it)")
    if spec is not None and spec != "2.1":
        raise ObjectRejected(f"spec_version {str(spec)[:20]!r} is not 2.1")
    for key in ("created", "modified"):
        if key in obj and not isinstance(obj[key], str):
            raise ObjectRejected(f"'{key}' is not a timestamp string")
    return body, object_version(obj)


def references(obj: dict[str, Any]) -> set[str]:
    """Ids an object points to (``*_ref`` and ``*_refs`` at the top level)."""
    refs: set[str] = set()
    for key, value in obj.items():
        if key.endswith("_ref") and isinstance(value, str):
            refs.add(value)
        elif key.endswith("_refs") and isinstance(value, list):
            refs.update(v for v in value if isinstance(v, str))
    return refs


# ---- MISP → STIX --------------------------------------------------------------------------------------------

@dataclass
class StixObject:
    """One exported object: key (id, version), type and its JSON bytes."""

    id: str
    version: str
    type: str
    data: bytes

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)


class ConversionError(LegionError, ValueError):
    """misp-stix could not convert an event; names the event uuid."""


class MispToStix:
    """Reusable MISP → STIX 2.1 converter (one ``MISPtoSTIX21Parser``)."""

    def __init__(self) -> None:
        from misp_stix_converter import MISPtoSTIX21Parser  # ~0.9 s to import: only when converting

        self._parser = MISPtoSTIX21Parser()

    def convert(self, event: dict[str, Any]) -> list[StixObject]:
        """STIX objects of one event. Missing attribute timestamps take the event's, so two exports of an unchanged
        event give the same (id, modified) pairs (misp-stix would otherwise stamp 'now')."""
        prepared = with_timestamps(event)
        try:
            self._parser.parse_misp_event({"Event": prepared})
            bundle = self._parser.bundle
        except Exception as exc:  # misp-stix raises many types; the event is named, the cause kept
            raise ConversionError(f"misp-stix failed on event {event.get('uuid')}: {type(exc).__name__}: "
                                  f"{str(exc)[:200]}") from exc
        out = []
        for obj in bundle.objects:
            data = obj.serialize().encode("utf-8")
            out.append(StixObject(id=obj["id"], version=_version_of(obj), type=obj["type"], data=data))
        return out


def _version_of(obj: Any) -> str:
    modified = obj.get("modified") or obj.get("created")
    if modified is None:
        return ""
    text = str(modified)
    if not isinstance(modified, str):  # a STIXdatetime: format as stix2 serialises it
        from stix2.utils import format_datetime  # stix2: ~0.4 s to import, only for STIX datetimes

        text = format_datetime(modified)
    return text


def with_timestamps(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event where every attribute and object has a timestamp (defaulting to the event's)."""
    prepared = copy.deepcopy(event)
    stamp = str(prepared.get("timestamp") or "")
    if not stamp:
        return prepared
    for attribute in prepared.get("Attribute", []):
        attribute.setdefault("timestamp", stamp)
    for obj in prepared.get("Object", []):
        obj.setdefault("timestamp", stamp)
        for attribute in obj.get("Attribute", []):
            attribute.setdefault("timestamp", obj["timestamp"])
    return prepared


# ---- STIX → MISP --------------------------------------------------------------------------------------------

@dataclass
class Converted:
    """The event made from a group of objects, and the objects stix2 refused (id → reason)."""

    event: dict[str, Any] | None
    invalid: dict[str, str] = field(default_factory=dict)
    from_misp: bool = False


def stix_to_misp(objects: list[dict[str, Any]], *, event_uuid: str | None = None, peer: str | None = None
                 ) -> Converted:
    """Convert a group of STIX 2.1 objects into one MISP event dict (the inner ``Event`` object).

    ``event_uuid`` overrides the uuid the parser picks (used for groups without a container, so re-conversions
    upsert the same event). Raises :class:`ConversionError` if misp-stix fails on the whole group.
    """
    from misp_stix_converter import ExternalSTIX2toMISPParser, InternalSTIX2toMISPParser  # ~0.9 s: when used
    from misp_stix_converter.tools import load_stix2_content
    from misp_stix_converter.tools.stix2_to_misp_helpers import is_stix2_from_misp

    invalid_objects: dict[str, Any] = {}
    bundle_id = f"bundle--{uuid.uuid5(NAMESPACE, '|'.join(sorted(str(o.get('id')) for o in objects)))}"
    try:
        bundle = load_stix2_content({"type": "bundle", "id": bundle_id, "objects": objects},
                                    invalid_objects=invalid_objects)
    except Exception as exc:
        raise ConversionError(f"STIX content cannot be loaded: {type(exc).__name__}: {str(exc)[:200]}") from exc
    invalid = {str(k): _invalid_reason(v) for k, v in invalid_objects.items()}
    valid = [o for o in objects if o.get("id") not in invalid]
    if not valid:
        return Converted(event=None, invalid=invalid)
    from_misp = _quietly(is_stix2_from_misp, valid)
    parser = InternalSTIX2toMISPParser() if from_misp else ExternalSTIX2toMISPParser()
    try:
        if invalid:  # rebuild the bundle without the refused objects
            bundle = load_stix2_content({"type": "bundle", "id": bundle_id, "objects": valid})
        parser.load_stix_bundle(bundle)
        parser.parse_stix_bundle(single_event=True)
        event = json.loads(parser.misp_event.to_json())
    except Exception as exc:
        raise ConversionError(f"misp-stix could not convert the objects: {type(exc).__name__}: "
                              f"{str(exc)[:200]}") from exc
    event = event.get("Event", event)
    if event_uuid:
        event["uuid"] = event_uuid
    if not isinstance(event.get("Orgc"), dict) or not event["Orgc"].get("name"):
        creator = _creator_identity(valid)
        if creator is not None:  # misp-stix leaves Orgc out; MISP would then credit the receiving organisation
            event["Orgc"] = creator
    if peer:
        tags = event.setdefault("Tag", [])
        name = PEER_TAG.format(peer)
        if not any(t.get("name") == name for t in tags):
            tags.append({"name": name})
    return Converted(event=event, invalid=invalid, from_misp=from_misp)


def _creator_identity(objects: list[dict[str, Any]]) -> dict[str, str] | None:
    """``{"name", "uuid"}`` of the identity that created the group's container (else of its first object)."""
    identities = {o.get("id"): o for o in objects if o.get("type") == "identity"}
    ordered = sorted(objects, key=lambda o: o.get("type") not in CONTAINER_TYPES)
    for obj in ordered:
        identity = identities.get(obj.get("created_by_ref"))
        if identity is not None and identity.get("name"):
            return {"name": str(identity["name"]), "uuid": str(identity["id"]).split("--", 1)[1]}
    return None


def _quietly(func: Any, *args: Any) -> Any:
    logger = logging.getLogger("misp_stix_converter")
    previous = logger.level
    logger.setLevel(logging.ERROR)  # "MISP tool label found" is logged for every MISP-made group
    try:
        return func(*args)
    finally:
        logger.setLevel(previous)


def _invalid_reason(obj: Any) -> str:
    import stix2  # ~0.4 s to import: only when an object is validated

    try:
        stix2.parse(obj, allow_custom=True, version="2.1")
    except Exception as exc:
        return f"invalid STIX 2.1: {type(exc).__name__}: {str(exc)[:300]}"
    return "invalid STIX 2.1 (refused by misp-stix)"


def container_event_uuid(container_id: str) -> str:
    """The MISP event uuid for a report/grouping: its own uuid part (misp-stix keeps it)."""
    return container_id.split("--", 1)[1]


def loose_event_uuid(collection: str, ids: list[str]) -> str:
    """A stable uuid for objects pulled without a container: the same set always maps to the same event."""
    return str(uuid.uuid5(NAMESPACE, collection + "|" + "|".join(sorted(ids))))
