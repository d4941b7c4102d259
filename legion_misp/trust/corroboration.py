"""Corroboration: an indicator is trusted for detection (``to_ids``) only when at least f+1 distinct members
published it, so f lying members alone can never make one trusted.

Pure functions:

- :func:`indicator_key` normalises an indicator into the value it asserts (a STIX pattern reduced to its sorted
  comparisons, with IP addresses, domain names, hashes and URL hosts in one canonical spelling), so the same
  indicator published by different members under different ids, or with different whitespace, gives one key;
- :func:`corroborating_members` finds the largest set of distinct members whose publications of one key fit in a
  window of the configured length;
- :func:`corroborate` turns that into a :class:`Corroboration` (``k`` of ``n`` members, trusted iff k ≥ f+1);
- :func:`apply_corroboration` returns a copy of a MISP event with ``to_ids`` and the tag
  ``legion:corroboration="k-of-n"`` set on every attribute that came from an indicator; any other attribute
  pulled from the federation gets ``to_ids = false`` (fail closed).
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..timeutil import parse_time

TAG_PREFIX = "legion:corroboration="
SIGNER_TAG_PREFIX = "legion:signed-by="

_COMPARISON = re.compile(
    r"(?P<path>[A-Za-z0-9_-]+:(?:[A-Za-z0-9_\-*\[\].]|'[^']*')+)\s*"
    r"(?P<op>!=|<=|>=|=|<|>|(?:NOT\s+)?(?:LIKE|MATCHES|IN|ISSUBSET|ISSUPERSET))\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\([^)]*\)|[^\s\]]+)", re.IGNORECASE)
_QUALIFIER = re.compile(r"\b(WITHIN|REPEATS|START|STOP|FOLLOWEDBY)\b")


@dataclass(frozen=True)
class Sighting:
    """Member ``member`` published indicator ``stix_id`` asserting ``key`` at ``at`` (its signed ``modified``,
    never later than when we received it), signed with key ``key_id``."""

    key: str
    member: str
    stix_id: str
    at: dt.datetime
    key_id: str | None = None


@dataclass(frozen=True)
class Corroboration:
    """``k`` distinct members (``members``) of the ``n`` in the roster published ``key`` within the window."""

    key: str
    k: int
    n: int
    f: int
    members: tuple[str, ...] = ()

    @property
    def trusted(self) -> bool:
        """True when at least f+1 distinct members agree: more than f liars could not do this alone."""
        return self.k >= self.f + 1

    @property
    def tag(self) -> str:
        return f'{TAG_PREFIX}"{self.k}-of-{self.n}"'


# ---- normalisation ------------------------------------------------------------------------------------------

def indicator_key(obj: dict[str, Any]) -> str | None:
    """The normalised assertion of a STIX indicator, or None for anything else (or an indicator without pattern).

    ``[ipv4-addr:value = '198.51.100.7']`` and ``[ ipv4-addr:value='198.51.100.007' ]`` give the same key;
    comparisons joined only by AND (or only by OR) in one observation are sorted. Patterns with qualifiers or
    several observations are kept whole with whitespace outside quotes collapsed. Other pattern languages (snort,
    yara, sigma...) are keyed by their type and whitespace-collapsed text.
    """
    if not isinstance(obj, dict) or obj.get("type") != "indicator":
        return None
    pattern = obj.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        return None
    language = str(obj.get("pattern_type") or "stix").lower()
    if language != "stix":
        return f"{language}:{_collapse(pattern)}"
    return "stix:" + normalise_pattern(pattern)


def normalise_pattern(pattern: str) -> str:
    text = pattern.strip()
    body = text[1:-1] if text.startswith("[") and text.endswith("]") else None
    if body is None or "[" in body or "]" in _strip_quoted(body) or _QUALIFIER.search(_strip_quoted(body)) \
            or "(" in _strip_quoted(body):
        return "raw:" + _collapse(text)
    comparisons = list(_COMPARISON.finditer(body))
    if not comparisons:
        return "raw:" + _collapse(text)
    joins = _between(body, comparisons)
    if any(j not in ("AND", "OR") for j in joins) or len(set(joins)) > 1:
        return "raw:" + _collapse(text)
    atoms = sorted(_atom(m) for m in comparisons)
    if len(atoms) == 1:
        return atoms[0]
    return f"{joins[0]}(" + "|".join(atoms) + ")"


def _between(body: str, matches: list[re.Match[str]]) -> list[str]:
    out = []
    for first, second in itertools.pairwise(matches):
        out.append(body[first.end():second.start()].strip().upper())
    if body[:matches[0].start()].strip() or body[matches[-1].end():].strip():
        out.append("?")  # text the comparisons do not cover: not a simple pattern
    return out


def _atom(match: re.Match[str]) -> str:
    path = _normalise_path(match.group("path"))
    op = " ".join(match.group("op").upper().split())
    value = match.group("value")
    if value.startswith("'") and value.endswith("'"):
        value = _normalise_value(path, value[1:-1].replace("\\'", "'").replace("\\\\", "\\"))
    return f"{path}{op}{value}"


def _normalise_path(path: str) -> str:
    object_type, _, rest = path.partition(":")
    rest = re.sub(r"'([^']*)'", r"\1", rest)
    hashes = re.match(r"^(.*\bhashes\.)(.+)$", rest)
    if hashes:
        rest = hashes.group(1) + re.sub(r"[^A-Za-z0-9]", "", hashes.group(2)).upper()
    return f"{object_type.lower()}:{rest}"


def _normalise_value(path: str, value: str) -> str:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if "/" in value and re.fullmatch(r"[0-9a-fA-F:.]+/\d{1,3}", value):
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            pass
    if ".hashes." in f".{path.split(':', 1)[1]}" or "hashes." in path:
        return value.lower()
    if path.startswith(("domain-name:", "email-addr:")) or path.endswith(("_ref.value", "from_ref.value")):
        return value.lower().rstrip(".")
    if path.startswith("url:"):
        match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)$", value)
        if match:
            return match.group(1).lower() + match.group(2).lower().rstrip(".") + match.group(3)
    return value


def _strip_quoted(text: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", text)


def _collapse(text: str) -> str:
    parts = re.split(r"('(?:[^'\\]|\\.)*')", text.strip())
    return "".join(p if i % 2 else " ".join(p.split()) for i, p in enumerate(parts))


def indicator_refs(objects: Iterable[dict[str, Any]]) -> dict[str, str]:
    """uuid → key for every (non-revoked) indicator among ``objects``: misp-stix gives the MISP attribute or object
    made from ``indicator--<uuid>`` that same uuid, so this maps a converted event's attributes to their keys."""
    refs: dict[str, str] = {}
    for obj in objects:
        key = indicator_key(obj) if isinstance(obj, dict) and not obj.get("revoked") else None
        if key is not None and isinstance(obj.get("id"), str):
            refs[obj["id"].split("--", 1)[-1]] = key
    return refs


def sighting_of(obj: dict[str, Any], *, signer: str | None, key_id: str | None, received: dt.datetime
                ) -> Sighting | None:
    """The sighting an accepted, signed indicator stands for (None for anything else). Its time is the signed
    ``modified`` (else ``created``), never later than ``received``."""
    key = indicator_key(obj) if not obj.get("revoked") else None
    if key is None or signer is None or not isinstance(obj.get("id"), str):
        return None

    try:
        published = min(parse_time(obj.get("modified") or obj.get("created")), received)
    except ValueError:
        published = received
    return Sighting(key=key, member=signer, stix_id=obj["id"], at=published, key_id=key_id)


# ---- counting -----------------------------------------------------------------------------------------------

def corroborating_members(sightings: Iterable[Sighting], window: float) -> frozenset[str]:
    """The largest set of distinct members whose sightings all fall within ``window`` seconds of each other."""
    points = sorted(((s.at, s.member) for s in sightings), key=lambda p: (p[0], p[1]))
    span = dt.timedelta(seconds=window)
    inside: Counter[str] = Counter()
    best: frozenset[str] = frozenset()
    start = 0
    for moment, member in points:
        inside[member] += 1
        while points[start][0] < moment - span:
            old = points[start][1]
            inside[old] -= 1
            if not inside[old]:
                del inside[old]
            start += 1
        if len(inside) > len(best):
            best = frozenset(inside)
    return best


def corroborate(key: str, sightings: Iterable[Sighting], *, f: int, n: int, window: float,
                members: Iterable[str] | None = None) -> Corroboration:
    """How many distinct members corroborate ``key``.

    Parameters
    ----------
    key : an :func:`indicator_key`.
    sightings : publications of ``key`` (others are ignored).
    f : lying members tolerated; trusted iff k ≥ f+1.
    n : members in the roster (the "of n" in the tag).
    window : seconds; publications farther apart do not corroborate each other.
    members : when given, only sightings by these pseudonyms count (e.g. the current roster).
    """
    allowed = None if members is None else set(members)
    relevant = [s for s in sightings if s.key == key and (allowed is None or s.member in allowed)]
    agreeing = corroborating_members(relevant, window)
    return Corroboration(key=key, k=len(agreeing), n=n, f=f, members=tuple(sorted(agreeing)))


# ---- applying to a MISP event -------------------------------------------------------------------------------

def apply_corroboration(event: dict[str, Any], refs: Mapping[str, str], corroborations: Mapping[str, Corroboration],
                        *, bump: bool = False) -> dict[str, Any]:
    """A copy of a pulled MISP event with detection decided by corroboration.

    ``refs`` maps the uuid of an attribute or MISP object made from an indicator (misp-stix keeps the indicator's
    uuid) to that indicator's key. Every attribute under such a uuid gets ``to_ids = k ≥ f+1`` and the tag
    ``legion:corroboration="k-of-n"`` (replacing an older one); every other attribute gets ``to_ids = false``.
    With ``bump``, attributes whose decision changed get their ``timestamp`` raised by one second (and the event's
    too), so MISP accepts the edit as newer.
    """
    updated = copy.deepcopy(event)
    changed = False

    def decide(attribute: dict[str, Any], ref: str | None) -> None:
        nonlocal changed
        decision = corroborations.get(refs[ref]) if ref in refs else None
        before = (bool(attribute.get("to_ids")), [t.get("name") for t in attribute.get("Tag", [])])
        tags = [t for t in attribute.get("Tag", []) if not str(t.get("name", "")).startswith(TAG_PREFIX)]
        if decision is None:
            attribute["to_ids"] = False
        else:
            attribute["to_ids"] = decision.trusted
            tags.append({"name": decision.tag})
        if tags or "Tag" in attribute:
            attribute["Tag"] = tags
        after = (bool(attribute.get("to_ids")), [t.get("name") for t in attribute.get("Tag", [])])
        if before != after:
            changed = True
            if bump:
                attribute["timestamp"] = str(_int(attribute.get("timestamp")) + 1)

    for attribute in updated.get("Attribute", []):
        decide(attribute, attribute.get("uuid") if attribute.get("uuid") in refs else None)
    for obj in updated.get("Object", []):
        for attribute in obj.get("Attribute", []):
            ref = attribute.get("uuid") if attribute.get("uuid") in refs else obj.get("uuid")
            decide(attribute, ref if ref in refs else None)
    if changed and bump:
        updated["timestamp"] = str(_int(updated.get("timestamp")) + 1)
    return updated


def set_signer_tag(event: dict[str, Any], signer: str | None) -> dict[str, Any]:
    """Tag the event ``legion:signed-by="<pseudonym>"`` (the member whose signature its container carried)."""
    tags = [t for t in event.get("Tag", []) if not str(t.get("name", "")).startswith(SIGNER_TAG_PREFIX)]
    if signer:
        tags.append({"name": f'{SIGNER_TAG_PREFIX}"{signer}"'})
    event["Tag"] = tags
    return event


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
