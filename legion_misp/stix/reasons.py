"""Stable reason codes for objects a pull or an import does not accept whole.

Every object a peer sends ends in exactly one of three ways: **converted** (its meaning preserved in the MISP
event), **context** (a type that by design becomes no attribute: identities, markings, relationships, galaxy-like
SDOs), or **refused** with a :class:`Refusal`: a code from :class:`Reason` (stable, for scripts, tags and the
``legion sync quarantine`` listing) and a human message (for the admin). Trust rejections keep their own codes
(:class:`legion_misp.trust.verify.Code`); they are refusals too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..errors import LegionError


class Reason(StrEnum):
    """Why an object (or a page) was refused. The values are part of the interface: never rename one."""

    NOT_AN_OBJECT = "not-an-object"            # a page item that is not a JSON object
    INVALID_JSON = "invalid-json"              # NaN/Infinity, a number Python's JSON parser refuses, odd values
    BAD_UNICODE = "bad-unicode"                # lone surrogates: text that is not valid Unicode
    MALFORMED_ID = "malformed-id"              # missing/malformed type or id, or an id of another type
    SPEC_VERSION = "spec-version"              # spec_version missing (SDO/SRO) or not "2.1"
    TOO_LARGE = "too-large"                    # serialised object over sync.max_object_bytes
    TOO_DEEP = "too-deep"                      # nested deeper than sync.max_nesting
    BAD_PROPERTY = "bad-property"              # a property of the wrong JSON type (refs, labels, names...)
    BAD_TIMESTAMP = "bad-timestamp"            # not an RFC 3339 UTC timestamp, impossible date, modified < created
    CONTROL_CHARACTER = "control-character"    # NUL/C0/C1 controls anywhere, CR/LF/bidi overrides in values
    VALUE_TOO_LONG = "value-too-long"          # a value longer than its type allows (a domain is <= 253)
    INVALID_VALUE = "invalid-value"            # a value that is not what its type says (an IPv4 that is not one)
    UNSUPPORTED_PATTERN_TYPE = "unsupported-pattern-type"  # pattern_type outside stix/yara/sigma/snort/suricata
    INVALID_PATTERN = "invalid-pattern"        # a STIX pattern that does not parse
    UNSUPPORTED_PATTERN = "unsupported-pattern"  # would lose or change meaning in MISP (OR, !=, qualifiers...)
    INVALID_STIX = "invalid-stix"              # refused by the stix2 library (required property missing...)
    CONFLICTING_CONTENT = "conflicting-content"  # same (id, version) as an earlier copy, other content
    NOT_CONVERTED = "not-converted"            # the converter produced nothing for it (would be a silent loss)
    MEANING_CHANGED = "meaning-changed"        # the converter's output does not say what the object says
    CONVERSION_FAILED = "conversion-failed"    # the converter raised on this object
    PAYLOAD_OVER_CAP = "payload-over-cap"      # larger than sync.quarantine_max_bytes: refused, id recorded
    UNPARSEABLE_PAGE = "unparseable-page"      # a TAXII page that is not an envelope (kept whole, once)
    INTERNAL_ERROR = "internal-error"          # an unexpected exception while handling this one object


@dataclass(frozen=True)
class Refusal:
    """One refused object: where it was (``stix_id`` or ``objects[i]``), the stable ``code`` and a message."""

    code: str
    message: str
    stix_id: str | None = None
    version: str | None = None

    @property
    def reason(self) -> str:
        """``"<code>: <message>"``: the text stored in the quarantine (the code is always the first word)."""
        return f"{self.code}: {self.message}"


class ObjectRefused(LegionError, ValueError):
    """An object fails a check. ``code`` is a :class:`Reason` value; ``str()`` is ``"<code>: <message>"``."""

    def __init__(self, code: Reason | str, message: str):
        self.code = str(code)
        self.message = message
        super().__init__(f"{self.code}: {message}")


def code_of(reason: str) -> str:
    """The code of a stored reason (``"<code>: <message>"``; trust reasons are ``"trust: <code>: ..."``)."""
    head, _, rest = reason.partition(":")
    if head == "trust":
        return rest.strip().partition(":")[0] or head
    return head.strip()
