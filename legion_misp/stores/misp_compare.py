"""Compare an incoming event with the copy MISP holds, the way MISP stores it.

MISP answers with more than it was given (ids, ``Org``, tag colours, ``event_creator_email``...) and rewrites some
values on save (``AttributeValidationTool::modifyBeforeValidation``: hashes, hostnames and e-mail addresses in lower
case, domains without trailing dots, IPv6 addresses compressed, ``http-method``/``vulnerability`` in upper case,
``datetime`` reformatted, ``AS`` without its prefix).
A byte-for-byte comparison therefore calls every re-import a change, and MISP then refuses the edit (its copy is not
older). :func:`misp_view` projects both sides onto what an analyst can change: the fields the incoming event sets,
values normalised as MISP would, tags as sets, attributes and objects keyed by uuid. Timestamps are left out: MISP
keeps them verbatim, and :mod:`.misp_api` uses them only to decide ``stale`` and to make MISP accept an edit.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..timeutil import parse_time
from .events import event_tag_names

EVENT_FIELDS = ("info", "date", "threat_level_id", "analysis", "distribution", "published")
ATTRIBUTE_FIELDS = ("type", "category", "value", "to_ids", "comment", "distribution", "disable_correlation",
                    "object_relation", "first_seen", "last_seen")
OBJECT_FIELDS = ("name", "meta-category", "template_uuid", "comment", "distribution", "first_seen", "last_seen")
_BOOLEAN_FIELDS = {"to_ids", "published", "disable_correlation", "deleted"}
_SEEN_FIELDS = {"first_seen", "last_seen"}

_LOWER_TYPES = frozenset("""md5 sha1 sha224 sha256 sha384 sha512 sha512/224 sha512/256 sha3-224 sha3-256 sha3-384
sha3-512 ja3-fingerprint-md5 jarm-fingerprint hassh-md5 hasshserver-md5 hostname pehash authentihash vhash imphash
telfhash tlsh anonymised cdhash email email-src email-dst target-email whois-registrant-email dom-hash onion-address
hostname|port""".split())
_UPPER_TYPES = frozenset({"http-method", "hex", "vulnerability", "weakness"})


def misp_value(attribute_type: str, value: Any) -> str:
    """``value`` as MISP 2.5.1 stores it for ``attribute_type`` (the common rewrites; others unchanged)."""
    text = str(value)
    if attribute_type in _LOWER_TYPES:
        return text.lower()
    if attribute_type in _UPPER_TYPES:
        return text.upper()
    if attribute_type == "domain":
        return text.lower().strip(".")
    if attribute_type in ("ip-src", "ip-dst"):
        return _ip(text)
    if attribute_type == "domain|ip" and "|" in text:
        domain, address = text.lower().split("|", 1)
        return f"{domain.strip('.')}|{_ip(address)}"
    if attribute_type in ("ip-src|port", "ip-dst|port") and "|" in text:
        address, port = text.rsplit("|", 1)
        return f"{_ip(address)}|{port}"
    if attribute_type == "datetime":
        return str(_seen(text))
    if attribute_type == "AS":
        return text[2:] if text[:2].upper() == "AS" else text
    if attribute_type.startswith("x509-fingerprint-"):
        return text.replace(":", "").lower()
    if attribute_type.startswith("filename|") and "|" in text:
        name, digest = text.split("|", 1)
        return f"{name}|{digest.lower()}"
    return text


def _ip(text: str) -> str:
    address, slash, prefix = text.partition("/")
    try:
        return str(ipaddress.ip_address(address)) + slash + prefix
    except ValueError:
        return text


def _scalar(field: str, value: Any) -> Any:
    if field in _BOOLEAN_FIELDS:
        return value is True or (isinstance(value, (int, str)) and str(value).lower() in ("1", "true"))
    if field in _SEEN_FIELDS:
        return _seen(value)
    return "" if value is None else str(value)


def _seen(value: Any) -> Any:
    if value in (None, ""):
        return None
    try:
        return parse_time(str(value), assume_utc=True, allow_date=True).timestamp()
    except ValueError:
        return str(value)


def _tags(item: dict[str, Any]) -> list[str]:
    return sorted(set(event_tag_names(item)))


def _attribute_view(attribute: dict[str, Any], shape: dict[str, Any] | None) -> dict[str, Any]:
    fields = _fields(ATTRIBUTE_FIELDS, shape, attribute)
    view = {f: _scalar(f, attribute.get(f)) for f in fields if f != "value"}
    if "value" in fields:
        view["value"] = misp_value(str(attribute.get("type", "")), attribute.get("value", ""))
    view["Tag"] = _tags(attribute)
    return view


def _fields(names: tuple[str, ...], shape: dict[str, Any] | None, item: dict[str, Any]) -> tuple[str, ...]:
    """The fields the incoming copy of this item sets (a field it leaves out keeps MISP's default)."""
    return tuple(f for f in names if f in (shape if shape is not None else item))


def misp_view(event: dict[str, Any], like: dict[str, Any] | None = None) -> dict[str, Any]:
    """The comparable content of ``event``. With ``like`` (the incoming event) only the fields it sets count."""
    shape = like if like is not None else event
    view: dict[str, Any] = {f: _scalar(f, event.get(f)) for f in EVENT_FIELDS if f in shape}
    view["Tag"] = _tags(event)
    orgc = event.get("Orgc") or {}
    if isinstance(shape.get("Orgc"), dict):
        view["Orgc"] = orgc.get("uuid") if shape["Orgc"].get("uuid") else orgc.get("name")
    shape_attributes = _by_uuid(shape.get("Attribute", []))
    view["Attribute"] = {a.get("uuid"): _attribute_view(a, shape_attributes.get(a.get("uuid")))
                         for a in event.get("Attribute", []) if not _deleted(a)}
    shape_objects = _by_uuid(shape.get("Object", []))
    view["Object"] = {o.get("uuid"): _object_view(o, shape_objects.get(o.get("uuid")))
                      for o in event.get("Object", []) if not _deleted(o)}
    return view


def _by_uuid(items: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {item.get("uuid"): item for item in items if isinstance(item, dict)}


def _object_view(obj: dict[str, Any], shape: dict[str, Any] | None) -> dict[str, Any]:
    view: dict[str, Any] = {f: _scalar(f, obj.get(f)) for f in _fields(OBJECT_FIELDS, shape, obj)}
    shape_attributes = _by_uuid((shape if shape is not None else obj).get("Attribute", []))
    view["Attribute"] = {a.get("uuid"): _attribute_view(a, shape_attributes.get(a.get("uuid")))
                         for a in obj.get("Attribute", []) if not _deleted(a)}
    view["ObjectReference"] = sorted((str(r.get("referenced_uuid")), str(r.get("relationship_type")))
                                     for r in obj.get("ObjectReference", []) if not _deleted(r))
    return view


def _deleted(item: dict[str, Any]) -> bool:
    return _scalar("deleted", item.get("deleted"))


def same_content(existing: dict[str, Any], incoming: dict[str, Any]) -> bool:
    """True when MISP's copy already says what ``incoming`` says."""
    return misp_view(existing, like=incoming) == misp_view(incoming)
