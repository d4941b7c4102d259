"""Strict checks on one untrusted STIX 2.1 object, before anything converts it: what the pull and the MISP import
module both run (one path, same verdicts).

:func:`check_object` raises :class:`~.reasons.ObjectRefused` with a stable code, or returns the object's canonical
JSON and version. It checks, in order: shape and JSON-safety (NaN, huge numbers, lone surrogates), nesting depth and
size, ``type``/``id``/``spec_version``, control characters (NUL, C0/C1 anywhere; CR/LF, tabs and bidi overrides in
values), timestamps (RFC 3339 UTC, real dates, ``modified >= created``), reference and label types, SCO values per
type (a domain is at most 253 characters, an IPv4 parses...), and for indicators the ``pattern_type`` and the pattern:
it must parse, and it must be one observation of ``=`` comparisons joined by ``AND`` (anything else, converted by
misp-stix, drops or changes meaning: see :func:`pattern_comparisons`). The same value rules apply to the values a
pattern compares.

These are the checks of the OASIS ``stix2-validator`` that matter for what MISP stores, done in-process and per object
(the validator takes ~15 ms per small bundle; a pull sees hundreds of thousands of objects), plus the meaning rules
the validator does not have.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .reasons import ObjectRefused, Reason

ID_PATTERN = re.compile(r"^([a-z][a-z0-9-]{0,248}[a-z0-9]|[a-z])--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                        r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SCO_TYPES = frozenset({
    "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
    "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
    "user-account", "windows-registry-key", "x509-certificate"})
# pattern_type values misp-stix keeps verbatim (a yara/sigma/snort/suricata object holding the rule text)
RULE_PATTERN_TYPES = frozenset({"yara", "sigma", "snort", "suricata"})
TIMESTAMP_PROPERTIES = ("created", "modified", "valid_from", "valid_until", "first_seen", "last_seen",
                        "first_observed", "last_observed", "published", "start_time", "stop_time")
MAX_PATTERN_CHARS = 16_384      # ANTLR parse time grows with it; MISP-made patterns stay far below
MAX_VALUE_CHARS = 4_096         # any single value (SCO property, pattern constant) without a stricter rule
MAX_URL_CHARS = 8_192
MAX_DOMAIN_CHARS = 253          # RFC 1035
MAX_EMAIL_CHARS = 254           # RFC 5321 path limit
MAX_NAME_CHARS = 1_024          # name / pattern_type / labels of any object

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
# anywhere: controls (tab, LF, CR allowed in prose) and lone surrogates (text that is not Unicode)
# candidates in JSON text as json.dumps(ensure_ascii=False) writes it: C0 controls escaped (\b, \f, \u00XX), DEL/C1
# and surrogates as they are (an escaped backslash followed by "b" is a false candidate the walk then clears)
_BAD_BODY = re.compile(r"[\x7f-\x9f\ud800-\udfff]|\\(?:[bf]|u00(?:0[0-7be-f]|1[0-9a-f]))")
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_VALUE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # in values
_HASH_LENGTHS = {"MD5": 32, "SHA-1": 40, "SHA1": 40, "SHA-224": 56, "SHA-256": 64, "SHA256": 64, "SHA-384": 96,
                 "SHA-512": 128, "SHA512": 128, "SHA3-224": 56, "SHA3-256": 64, "SHA3-384": 96, "SHA3-512": 128}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_DOMAIN_LABEL = re.compile(r"^[^\s/\\@:]{1,63}$")
_ESCAPE = re.compile(r"\\(.)")


class _BadNumber:
    """A number the page carried that Python cannot hold faithfully (NaN, Infinity, overflow, > 4,000 digits).
    Not a ``str``: serialising an object that holds one fails, which :func:`check_object` reports."""

    __slots__ = ("literal",)

    def __init__(self, literal: str):
        self.literal = literal[:40]

    def __repr__(self) -> str:
        return f"<number {self.literal}>"


def loads_untrusted(text: str | bytes) -> Any:
    """``json.loads`` that never fails on numbers: NaN/Infinity, floats that overflow and integers too long for
    Python become :class:`_BadNumber` markers, which :func:`check_object` refuses (``invalid-json``) object by
    object instead of losing the whole page. Other JSON errors still raise ``ValueError``/``RecursionError``."""

    def parse_int(literal: str) -> Any:
        return int(literal) if len(literal) <= 4000 else _BadNumber(literal[:40])

    def parse_float(literal: str) -> Any:
        value = float(literal)
        return value if value not in (float("inf"), float("-inf")) else _BadNumber(literal[:40])

    return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=_BadNumber)


def nesting_depth(value: Any, limit: int) -> int:
    """Depth of nested dicts/lists; counting stops once ``limit`` is exceeded (iterative: no recursion)."""
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


def object_version(obj: dict[str, Any]) -> str:
    """The TAXII version of an object: ``modified``, else ``created``, else '' (immutable)."""
    return str(obj.get("modified") or obj.get("created") or "")


def check_object(obj: Any, *, max_bytes: int, max_nesting: int) -> tuple[str, str]:
    """Check one untrusted object; return its canonical JSON text and version. Raises :class:`ObjectRefused`."""
    if not isinstance(obj, dict):
        raise ObjectRefused(Reason.NOT_AN_OBJECT, f"not a JSON object (got {type(obj).__name__})")
    depth = nesting_depth(obj, max_nesting)
    if depth > max_nesting:
        raise ObjectRefused(Reason.TOO_DEEP, f"nested deeper than {max_nesting} levels")
    try:
        body = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError) as exc:
        if "_BadNumber" in str(exc):
            raise ObjectRefused(Reason.INVALID_JSON, "holds a number JSON cannot carry faithfully (NaN, "
                                                     "Infinity, an overflowing float or a huge integer)") from None
        raise ObjectRefused(Reason.INVALID_JSON, f"not valid JSON ({str(exc)[:80]})") from None
    if _BAD_BODY.search(body):  # one scan of the serialised text; the walk names the property
        _check_text(obj)
    size = len(body.encode("utf-8"))
    if size > max_bytes:
        raise ObjectRefused(Reason.TOO_LARGE, f"larger than {max_bytes} bytes ({size} bytes)")
    stix_type, stix_id = obj.get("type"), obj.get("id")
    if not isinstance(stix_type, str) or not isinstance(stix_id, str) or not ID_PATTERN.match(stix_id):
        raise ObjectRefused(Reason.MALFORMED_ID, "missing or malformed 'type'/'id'")
    if stix_id.split("--", 1)[0] != stix_type:
        raise ObjectRefused(Reason.MALFORMED_ID, f"'id' prefix does not match type {stix_type!r}")
    spec = obj.get("spec_version")
    if spec is None and stix_type not in SCO_TYPES and stix_type != "marking-definition":
        raise ObjectRefused(Reason.SPEC_VERSION, "missing spec_version (STIX 2.1 requires it)")
    if spec is not None and spec != "2.1":
        raise ObjectRefused(Reason.SPEC_VERSION, f"spec_version {str(spec)[:20]!r} is not 2.1")
    required = () if stix_type in SCO_TYPES else ("created",) if stix_type == "marking-definition" else (
        "created", "modified", *(("valid_from",) if stix_type == "indicator" else ()))
    missing = [key for key in required if key not in obj]
    if missing:
        raise ObjectRefused(Reason.INVALID_STIX, f"required propert{'ies' if len(missing) > 1 else 'y'} "
                                                 f"{', '.join(missing)} missing")
    _check_fields(obj)
    _check_timestamps(obj)
    _check_references(obj)
    if stix_type in SCO_TYPES:
        _check_sco(obj)
    elif stix_type == "indicator":
        check_indicator(obj)
    return body, object_version(obj)


# ---- text ---------------------------------------------------------------------------------------------------

def _strings(value: Any) -> Iterator[tuple[str, str]]:
    """(property name, string) for every string and key, at any depth (iterative)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, str):
            yield name, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield "key", str(key)
                stack.append((str(key), child))
        elif isinstance(item, list):
            stack.extend((name, child) for child in item)


def _check_text(obj: dict[str, Any]) -> None:
    """Refuse control characters and lone surrogates, naming the property that holds them."""
    for name, text in _strings(obj):
        found = _BAD_TEXT.search(text)
        if found is None:
            continue
        if "\ud800" <= found.group() <= "\udfff":
            raise ObjectRefused(Reason.BAD_UNICODE, f"property {name!r} is not valid Unicode (lone surrogate)")
        raise ObjectRefused(Reason.CONTROL_CHARACTER, f"property {name!r} holds control character "
                                                      f"U+{ord(found.group()):04X}")


def _check_fields(obj: dict[str, Any]) -> None:
    for key in ("name", "pattern_type", "value"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str | int):
            raise ObjectRefused(Reason.BAD_PROPERTY, f"{key!r} is not a string")
    labels = obj.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
        raise ObjectRefused(Reason.BAD_PROPERTY, "'labels' is not a list of strings")
    for key in ("name", "pattern_type", *(("labels",) if labels else ())):
        for text in (labels or []) if key == "labels" else [obj.get(key)]:
            if isinstance(text, str) and len(text) > MAX_NAME_CHARS:
                raise ObjectRefused(Reason.VALUE_TOO_LONG, f"{key!r} is longer than {MAX_NAME_CHARS} characters")


def check_value_text(name: str, text: str, limit: int = MAX_VALUE_CHARS) -> None:
    """A single-line value (SCO property, pattern constant): no control, zero-width or bidi characters."""
    if len(text) > limit:
        raise ObjectRefused(Reason.VALUE_TOO_LONG, f"{name} is {len(text)} characters (at most {limit})")
    found = _VALUE_CONTROL.search(text)
    if found:
        raise ObjectRefused(Reason.CONTROL_CHARACTER, f"{name} holds U+{ord(found.group()):04X} (control, "
                                                      "zero-width or bidi character)")


# ---- timestamps and references ------------------------------------------------------------------------------

def parse_stix_timestamp(text: Any, name: str) -> dt.datetime:
    if not isinstance(text, str) or not _TIMESTAMP.match(text):
        raise ObjectRefused(Reason.BAD_TIMESTAMP, f"{name!r} is not an RFC 3339 UTC timestamp "
                                                  "(YYYY-MM-DDTHH:MM:SS[.s]Z)")
    try:  # the regex fixed every digit's place: the constructor checks the ranges (month 13, February 30...)
        return dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                           int(text[17:19]), tzinfo=dt.UTC)
    except ValueError:
        raise ObjectRefused(Reason.BAD_TIMESTAMP, f"{name!r} is not a real date and time") from None


def _check_timestamps(obj: dict[str, Any]) -> None:
    parsed = {key: parse_stix_timestamp(obj[key], key) for key in TIMESTAMP_PROPERTIES if key in obj}
    created, modified = obj.get("created"), obj.get("modified")
    if "created" in parsed and "modified" in parsed and (parsed["modified"], modified) < (parsed["created"], created):
        raise ObjectRefused(Reason.BAD_TIMESTAMP, "'modified' is earlier than 'created'")
    if "valid_from" in parsed and "valid_until" in parsed and parsed["valid_until"] <= parsed["valid_from"]:
        raise ObjectRefused(Reason.BAD_TIMESTAMP, "'valid_until' is not later than 'valid_from'")


def _check_references(obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if key.endswith("_ref") and (not isinstance(value, str) or not ID_PATTERN.match(value)):
            raise ObjectRefused(Reason.BAD_PROPERTY, f"{key!r} is not a STIX id")
        if key.endswith("_refs") and (not isinstance(value, list) or not all(
                isinstance(v, str) and ID_PATTERN.match(v) for v in value)):
            raise ObjectRefused(Reason.BAD_PROPERTY, f"{key!r} is not a list of STIX ids")


# ---- values -------------------------------------------------------------------------------------------------

def check_value(stix_type: str, path: str, value: Any) -> None:
    """The rule for one value of an SCO type at ``path`` (``value``, ``hashes.SHA-256``, ``name``...)."""
    where = f"{stix_type}:{path}"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return
    if not isinstance(value, str):
        return
    if path == "value" and stix_type in ("ipv4-addr", "ipv6-addr"):
        check_value_text(where, value, 64)
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} {value[:64]!r} is not an IP address") from None
        if network.version != (4 if stix_type == "ipv4-addr" else 6):
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} holds an IPv{network.version} address")
    elif path == "value" and stix_type == "domain-name":
        check_value_text(where, value, MAX_DOMAIN_CHARS)
        if not all(_DOMAIN_LABEL.match(label) for label in value.rstrip(".").split(".")):
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} is not a domain name (empty or over-long label, "
                                                      "space or URL character)")
    elif path == "value" and stix_type == "url":
        check_value_text(where, value, MAX_URL_CHARS)
        if any(c.isspace() for c in value):
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} holds whitespace")
    elif path == "value" and stix_type == "email-addr":
        check_value_text(where, value, MAX_EMAIL_CHARS)
        if "@" not in value or any(c.isspace() for c in value):
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} is not an e-mail address")
    elif path == "value" and stix_type == "mac-addr":
        if not _MAC.match(value):
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} is not a lower-case colon-separated MAC address")
    elif path.startswith("hashes.") and path.split(".", 1)[1].upper() in _HASH_LENGTHS:
        expected = _HASH_LENGTHS[path.split(".", 1)[1].upper()]
        if len(value) != expected or not _HEX.match(value):
            raise ObjectRefused(Reason.INVALID_VALUE, f"{where} is not {expected} hexadecimal digits")
    else:
        check_value_text(where, value)


def _check_sco(obj: dict[str, Any]) -> None:
    """The identifying values of an observable: ``value``, ``name`` and ``hashes`` (other properties, custom ones
    such as an e-mail body included, only pass the control-character check of the whole object)."""
    stix_type = obj["type"]
    for key in ("value", "name"):
        if isinstance(obj.get(key), str):
            check_value(stix_type, key, obj[key])
    if isinstance(obj.get("hashes"), dict):
        for algorithm, digest_value in obj["hashes"].items():
            check_value(stix_type, f"hashes.{algorithm}", digest_value)


# ---- indicators and patterns --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """One ``<type>:<path> = <value>`` of a pattern (``path`` with list steps as ``[*]``)."""

    stix_type: str
    path: str
    value: str


def check_indicator(obj: dict[str, Any]) -> list[Comparison]:
    """``pattern_type`` and ``pattern`` of an indicator; the comparisons of a ``stix`` pattern."""
    pattern_type, pattern = obj.get("pattern_type"), obj.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise ObjectRefused(Reason.BAD_PROPERTY, "'pattern' is missing or not a string")
    if not isinstance(pattern_type, str):
        raise ObjectRefused(Reason.BAD_PROPERTY, "'pattern_type' is missing or not a string")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ObjectRefused(Reason.VALUE_TOO_LONG, f"'pattern' is {len(pattern)} characters (at most "
                                                   f"{MAX_PATTERN_CHARS})")
    if pattern_type in RULE_PATTERN_TYPES:
        return []
    if pattern_type != "stix":
        raise ObjectRefused(Reason.UNSUPPORTED_PATTERN_TYPE, f"pattern_type {pattern_type[:40]!r} is not one of "
                                                             f"stix, {', '.join(sorted(RULE_PATTERN_TYPES))}")
    return pattern_comparisons(pattern)


def pattern_comparisons(pattern: str) -> list[Comparison]:
    """See :func:`_pattern_comparisons` (memoised: the pull checks a pattern before and after conversion)."""
    return list(_pattern_comparisons(pattern))


@functools.lru_cache(maxsize=4096)
def _pattern_comparisons(pattern: str) -> tuple[Comparison, ...]:
    comparisons = simple_comparisons(pattern)
    if comparisons is None:
        comparisons = _parsed_comparisons(pattern)
    for comparison in comparisons:
        check_value(comparison.stix_type, comparison.path, comparison.value)
    return comparisons


_STEP = r"(?:[A-Za-z_][A-Za-z0-9_-]*|'[^'\\]+')(?:\[(?:\*|\d+)\])?"
_ONE = (r"([a-z][a-z0-9-]*[a-z0-9]|[a-z]):(" + _STEP + r"(?:\." + _STEP + r")*)\s*=\s*"
        r"'((?:[^'\\]|\\['\\])*)'")
_SIMPLE = re.compile(r"^\[\s*(\(\s*)?" + _ONE + r"((?:\s+AND\s+" + _ONE + r")*)\s*(\))?\s*\]$")
_ONE_RE = re.compile(_ONE)


def simple_comparisons(pattern: str) -> tuple[Comparison, ...] | None:
    """The comparisons of the pattern shape nearly every producer writes, ``[a:b = 'x' AND a:c = 'y']`` (string
    constants, one object type, optional parentheses), read without the ANTLR parser (~3 ms a pattern). None when
    the pattern has any other shape: :func:`_parsed_comparisons` decides then. A test checks both agree."""
    whole = _SIMPLE.match(pattern)
    if whole is None or bool(whole.group(1)) != bool(whole.groups()[-1]):
        return None
    found = [Comparison(stix_type=m.group(1), path=_plain_path(m.group(2)), value=_ESCAPE.sub(r"\1", m.group(3)))
             for m in _ONE_RE.finditer(pattern[whole.start(2):])]
    if len({c.stix_type for c in found}) != 1:
        return None
    return tuple(found)


def _plain_path(path: str) -> str:
    return ".".join(step.replace("'", "") for step in re.findall(_STEP, path))


def _parsed_comparisons(pattern: str) -> tuple[Comparison, ...]:
    """The comparisons of a STIX pattern that MISP can hold without changing its meaning: exactly one observation
    (no OR/AND/FOLLOWEDBY between observations, no WITHIN/REPEATS/START qualifiers), comparisons joined by AND only,
    each one ``=`` (not negated) against a constant. Anything else raises ``unsupported-pattern``: misp-stix would
    keep a part of it (``[A] OR [B]`` became ``A``) or turn an OR into an AND."""
    from stix2 import patterns as p
    from stix2.pattern_visitor import create_pattern_object

    try:
        tree = create_pattern_object(pattern, version="2.1")
    except Exception as exc:  # ParseException, ValueError (AND across types), RecursionError
        raise ObjectRefused(Reason.INVALID_PATTERN, f"the pattern does not parse: {type(exc).__name__}: "
                                                    f"{str(exc)[:150]}") from None
    if not isinstance(tree, p.ObservationExpression):
        raise ObjectRefused(Reason.UNSUPPORTED_PATTERN, "the pattern combines several observations or uses "
                                                        "qualifiers (OR/AND/FOLLOWEDBY, WITHIN, REPEATS, START)")
    comparisons: list[Comparison] = []
    todo = [tree.operand]
    while todo:
        node = todo.pop()
        if isinstance(node, p.ParentheticalExpression):
            todo.append(node.expression)
        elif isinstance(node, p.AndBooleanExpression):
            todo.extend(node.operands)
        elif isinstance(node, p.OrBooleanExpression):
            raise ObjectRefused(Reason.UNSUPPORTED_PATTERN, "the pattern joins comparisons with OR")
        elif isinstance(node, p.EqualityComparisonExpression) and node.operator == "=" and not node.negated:
            comparisons.append(_comparison(node))
        else:
            operator = getattr(node, "operator", type(node).__name__)
            negated = "NOT " if getattr(node, "negated", False) else ""
            raise ObjectRefused(Reason.UNSUPPORTED_PATTERN, f"the pattern uses the comparison {negated}{operator} "
                                                            "(only = is kept by MISP)")
    comparisons.reverse()
    return tuple(comparisons)


def _comparison(node: Any) -> Comparison:
    from stix2 import patterns as p

    steps = []
    for component in node.lhs.property_path:
        name = str(component.property_name).strip("'")
        steps.append(f"{name}[{component.index}]" if isinstance(component, p.ListObjectPathComponent) else name)
    constant = node.rhs
    value = getattr(constant, "value", constant)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = str(value)
    if isinstance(constant, p.StringConstant):
        text = _ESCAPE.sub(r"\1", text)  # the pattern's \\ and \' stand for \ and '
    return Comparison(stix_type=node.lhs.object_type_name, path=".".join(steps), value=text)
