"""The one conversion path for objects from peers (``legion sync pull`` and the MISP import module).

- :func:`first_copies`: the dedup rule inside one batch, as the pull applies it across pages: the first copy of an
  (id, version) wins and a later copy with other content is refused (``conflicting-content``); of several versions
  of an id only the newest is converted (the others are duplicates, as in the pull's staging area).
- :func:`convert_accepted`: converts a group with misp-stix and checks the result object by object:
  an indicator or observed-data that produced nothing is refused ``not-converted`` (never a silent loss); one whose
  MISP attribute or object does not say what its pattern or observables say (another value, another type, a part
  missing or added) is refused ``meaning-changed`` and its attribute/object is removed from the event (never a
  partial attribute). If misp-stix raises on the group, each object is tried alone and the ones that fail are
  refused ``conversion-failed``; the rest is converted.

Types that become no attribute by design (identities, markings, relationships, reports/groupings, galaxy-like SDOs
such as malware or threat-actor) are **context**: :data:`MUST_CONVERT` lists the ones that must produce something.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .reasons import ObjectRefused, Reason, Refusal
from .validate import RULE_PATTERN_TYPES, Comparison, object_version, pattern_comparisons

log = logging.getLogger(__name__)

MUST_CONVERT = frozenset({"indicator", "observed-data"})
_IP_TYPES = frozenset({"ip-dst", "ip-src"})
# MISP attribute types that faithfully hold the value at (STIX type, path); pairs not listed are checked by value only
ALLOWED_TYPES: dict[tuple[str, str], frozenset[str]] = {
    ("ipv4-addr", "value"): _IP_TYPES,
    ("ipv6-addr", "value"): _IP_TYPES,
    ("domain-name", "value"): frozenset({"domain", "hostname"}),
    ("url", "value"): frozenset({"url", "uri", "link"}),
    ("email-addr", "value"): frozenset({"email", "email-src", "email-dst"}),
    ("mac-addr", "value"): frozenset({"mac-address"}),
    ("mutex", "name"): frozenset({"mutex"}),
    ("file", "name"): frozenset({"filename"}),
    ("file", "hashes.MD5"): frozenset({"md5"}),
    ("file", "hashes.SHA-1"): frozenset({"sha1"}),
    ("file", "hashes.SHA-256"): frozenset({"sha256"}),
    ("file", "hashes.SHA-512"): frozenset({"sha512"}),
    ("autonomous-system", "number"): frozenset({"AS"}),
}


# (MISP object name, relation) misp-stix fills in when the pattern does not say it: removed, never asserted
INJECTED = frozenset({("network-traffic", "protocol")})


@dataclass
class Outcome:
    """The event converted from a group (None if nothing could be) and every object refused on the way."""

    event: dict[str, Any] | None
    refused: list[Refusal] = field(default_factory=list)


# ---- dedup inside one batch ---------------------------------------------------------------------------------

def first_copies(objects: Iterable[tuple[dict[str, Any], str]]) -> tuple[list[dict[str, Any]], list[Refusal], int]:
    """From (object, canonical body) pairs: the objects to convert, the refused copies, and how many were
    duplicates (identical copies, or versions older than one in the batch)."""
    seen: dict[tuple[str, str], str] = {}
    newest: dict[str, tuple[str, dict[str, Any]]] = {}
    refused: list[Refusal] = []
    duplicates = 0
    for obj, body in objects:
        key = (obj["id"], object_version(obj))
        if key in seen:
            if seen[key] != body:
                refused.append(Refusal(Reason.CONFLICTING_CONTENT, "the same (id, version) came before with other "
                                       "content; the first copy is kept", obj["id"], key[1]))
            else:
                duplicates += 1
            continue
        seen[key] = body
        held = newest.get(obj["id"])
        if held is None or _newer(key[1], held[0]):
            duplicates += held is not None
            newest[obj["id"]] = (key[1], obj)
        else:
            duplicates += 1
    return [obj for _, obj in newest.values()], refused, duplicates


def _newer(version: str, than: str) -> bool:
    return version > than  # RFC 3339 UTC with Z: same width compares as text; '' (immutable) is oldest


# ---- conversion with checks -------------------------------------------------------------------------------

Convert = Callable[[list[dict[str, Any]]], Any]  # objects -> object with .event (dict|None) and .invalid (id->str)


def convert_accepted(objects: list[dict[str, Any]], convert: Convert) -> Outcome:
    """Convert ``objects`` (already checked and verified) with ``convert`` (misp-stix, external parser), then check
    every object's result. See the module docstring."""
    refused: list[Refusal] = []
    try:
        converted = convert(objects)
    except Exception as exc:
        log.info("conversion of %d objects failed (%s); looking for the objects that break it", len(objects), exc)
        converted, objects, broken = _convert_without_breakers(objects, convert)
        refused.extend(broken)
        if converted is None:
            return Outcome(None, refused)
    by_id = {o["id"]: o for o in objects}
    for stix_id, reason in (converted.invalid or {}).items():
        obj = by_id.get(stix_id, {})
        refused.append(Refusal(Reason.INVALID_STIX, str(reason)[:300], stix_id, object_version(obj) if obj else None))
    event = converted.event
    if event is None:
        return Outcome(None, refused)
    invalid = set(converted.invalid or {})
    checked = check_conversion([o for o in objects if o["id"] not in invalid], event)
    if checked:
        strip_objects(event, [r.stix_id for r in checked if r.stix_id])
        refused.extend(checked)
    return Outcome(event, refused)


MAX_LEAVE_ONE_OUT = 64  # conversions tried to find an object that breaks its group only in company


def _convert_without_breakers(objects: list[dict[str, Any]], convert: Convert
                              ) -> tuple[Any, list[dict[str, Any]], list[Refusal]]:
    """After misp-stix failed on a group: refuse the objects it fails on alone, then (for a failure that needs
    company, such as a relationship to an object not in the group) each object whose removal lets the rest
    convert; the rest is converted. Returns (converted or None, the objects converted, the refusals)."""
    refused = [_failed(o, exc) for o in objects if o.get("type") not in ("report", "grouping")
               and (exc := _failure(convert, [o])) is not None]
    bad = {r.stix_id for r in refused}
    rest = [o for o in objects if o["id"] not in bad]
    tries = 0
    while rest:
        error = None
        try:
            return convert(rest), rest, refused
        except Exception as exc:
            error = exc
        culprit = None
        for candidate in rest:
            if candidate.get("type") in ("report", "grouping") or tries >= MAX_LEAVE_ONE_OUT:
                continue
            tries += 1
            if _failure(convert, [o for o in rest if o is not candidate]) is None:
                culprit = candidate
                break
        if culprit is None:  # no single object to blame: every one refused, named
            refused.extend(Refusal(Reason.CONVERSION_FAILED, f"misp-stix failed on the group: "
                                   f"{type(error).__name__}: {str(error)[:150]}", o["id"], object_version(o))
                           for o in rest)
            return None, [], refused
        refused.append(_failed(culprit, error, alone=False))
        rest = [o for o in rest if o is not culprit]
    return None, [], refused


def _failure(convert: Convert, objects: list[dict[str, Any]]) -> Exception | None:
    try:
        convert(objects)
    except Exception as exc:
        return exc
    return None


def _failed(obj: dict[str, Any], exc: Exception, *, alone: bool = True) -> Refusal:
    where = "on this object" if alone else "on its group because of this object"
    return Refusal(Reason.CONVERSION_FAILED, f"misp-stix failed {where}: {type(exc).__name__}: {str(exc)[:150]}",
                   obj["id"], object_version(obj))


# ---- what the converter made of each object -----------------------------------------------------------------

def _uuid(stix_id: str) -> str:
    return stix_id.split("--", 1)[-1].lower()


def _index(event: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    attributes = {str(a.get("uuid", "")).lower(): a for a in event.get("Attribute", [])}
    objects = {str(o.get("uuid", "")).lower(): o for o in event.get("Object", [])}
    return attributes, objects


def _values(attribute: dict[str, Any]) -> set[str]:
    value = str(attribute.get("value", ""))
    return set(value.split("|")) if "|" in str(attribute.get("type", "")) else {value}


def check_conversion(objects: list[dict[str, Any]], event: dict[str, Any]) -> list[Refusal]:
    """Refusals for the objects whose conversion lost or changed what they say (see the module docstring).

    The converter's result for an object is found by uuid (misp-stix keeps the STIX id's uuid), else by value:
    when two STIX objects share a uuid (a MISP-made indicator and its observed-data do), one of them gets a
    derived uuid."""
    view = _EventView(event)
    by_id = {o["id"]: o for o in objects}
    refused = []
    for obj in objects:
        try:
            problem = _problem(obj, view, by_id)
        except ObjectRefused as exc:
            problem = (exc.code, exc.message)
        if problem is not None:
            refused.append(Refusal(problem[0], problem[1], obj["id"], object_version(obj)))
    return refused


class _EventView:
    """The attributes and MISP objects of a converted event, by uuid and by value."""

    def __init__(self, event: dict[str, Any]):
        self.attributes, self.objects = _index(event)
        self.values: set[str] = set()
        for attribute in [*event.get("Attribute", []), *(a for o in event.get("Object", [])
                                                          for a in o.get("Attribute", []))]:
            self.values |= _values(attribute)

    def made_from(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The attribute or MISP object made from an indicator: by uuid, else the one holding its values."""
        uid = _uuid(obj["id"])
        made = self.attributes.get(uid) or self.objects.get(uid)
        if made is not None:
            return made
        if obj.get("pattern_type") != "stix":
            return next((o for o in self.objects.values() if obj.get("pattern") in
                         {str(a.get("value")) for a in o.get("Attribute", [])}), None)
        expected = required_values(pattern_comparisons(obj["pattern"]))
        for attribute in self.attributes.values():
            if _values(attribute) == expected:
                return attribute
        for misp_object in self.objects.values():
            if expected and expected <= set().union(*(_values(a) for a in misp_object.get("Attribute", [])), set()):
                return misp_object
        return None


def _observable_values(obj: dict[str, Any]) -> set[str]:
    values = {str(v) for k, v in obj.items() if k in ("value", "name", "path", "key", "number")
              and isinstance(v, str | int)}
    if isinstance(obj.get("hashes"), dict):
        values |= {str(v) for v in obj["hashes"].values()}
    return values


def _problem(obj: dict[str, Any], view: _EventView, by_id: dict[str, dict[str, Any]]) -> tuple[str, str] | None:
    stix_type, uid = obj.get("type"), _uuid(obj["id"])
    if stix_type == "indicator":
        made = view.made_from(obj)
        if made is None:
            return Reason.NOT_CONVERTED, "misp-stix made no attribute or object of this indicator"
        return _indicator_problem(obj, made)
    if stix_type == "observed-data":
        refs = [r for r in obj.get("object_refs", []) if isinstance(r, str)]
        if any(u in view.attributes or u in view.objects for u in {uid, *map(_uuid, refs)}):
            return None
        if any(_observable_values(by_id[r]) & view.values for r in refs if r in by_id):
            return None
        return Reason.NOT_CONVERTED, "misp-stix made no attribute or object of these observables (referenced " \
                                     "objects missing or unsupported)"
    attribute = view.attributes.get(uid)
    if attribute is not None and isinstance(obj.get("value"), str):  # an observable converted on its own
        return _single_problem(Comparison(str(stix_type), "value", obj["value"]), attribute)
    return None


def _indicator_problem(obj: dict[str, Any], made: dict[str, Any]) -> tuple[str, str] | None:
    pattern, pattern_type = obj.get("pattern"), obj.get("pattern_type")
    if "Attribute" in made:  # a MISP object
        values = {str(a.get("value", "")) for a in made["Attribute"]}
        if made.get("name") in (pattern_type, "stix2-pattern") and pattern in values:
            return None  # the rule or pattern kept verbatim
        if pattern_type in RULE_PATTERN_TYPES:
            return Reason.MEANING_CHANGED, f"the {pattern_type} rule is not kept verbatim"
        comparisons = pattern_comparisons(pattern)
        said = {c.value for c in comparisons}
        made["Attribute"] = [a for a in made["Attribute"] if str(a.get("value")) in said
                             or (made.get("name"), a.get("object_relation")) not in INJECTED]
        return _values_problem(comparisons, set().union(*(_values(a) for a in made["Attribute"])))
    if pattern_type != "stix":
        return Reason.MEANING_CHANGED, f"a {pattern_type} rule became a {made.get('type')} attribute"
    comparisons = pattern_comparisons(pattern)
    if len(comparisons) == 1:
        return _single_problem(comparisons[0], made)
    return _values_problem(comparisons, _values(made))


def required_values(comparisons: list[Comparison]) -> set[str]:
    """The values of a pattern its MISP result must hold: not the structural ``...type = 'ipv4-addr'`` ones, and
    not those of custom ``x_`` properties (misp-stix's external parser keeps no custom property; the result then
    matches more, never less, than the pattern: see docs/sync.md)."""
    return {c.value for c in comparisons
            if not c.path.endswith("type") and not any(step.startswith("x_") for step in c.path.split("."))}


def _values_problem(comparisons: list[Comparison], produced: set[str]) -> tuple[str, str] | None:
    """Every value the pattern requires is in the result. (The result may hold more: the observed-data that a
    MISP-made indicator is based on shares its uuid and adds what it observed, such as a file's size.)"""
    missing = required_values(comparisons) - produced
    if missing:
        return Reason.MEANING_CHANGED, f"the MISP result lacks {len(missing)} value(s) of the pattern " \
                                       f"(e.g. {sorted(missing)[0][:60]!r})"
    return None


def _single_problem(comparison: Comparison, attribute: dict[str, Any]) -> tuple[str, str] | None:
    allowed = ALLOWED_TYPES.get((comparison.stix_type, comparison.path))
    if allowed is not None and attribute.get("type") not in allowed:
        return Reason.MEANING_CHANGED, f"{comparison.stix_type}:{comparison.path} became a " \
                                       f"{attribute.get('type')!r} attribute"
    if str(attribute.get("value")) != comparison.value:
        return Reason.MEANING_CHANGED, f"the value became {str(attribute.get('value'))[:60]!r}"
    return None


def strip_objects(event: dict[str, Any], stix_ids: Iterable[str]) -> None:
    """Remove the attributes and MISP objects made from these STIX objects (a refused object leaves nothing)."""
    uids = {_uuid(i) for i in stix_ids}
    event["Attribute"] = [a for a in event.get("Attribute", []) if str(a.get("uuid", "")).lower() not in uids]
    event["Object"] = [o for o in event.get("Object", []) if str(o.get("uuid", "")).lower() not in uids]
