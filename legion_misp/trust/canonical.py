"""RFC 8785 (JSON Canonicalization Scheme) serialisation of STIX objects, and the bytes a signature covers.

:func:`signing_payload` is the whole signing contract: the object, with the signature extension entry present but
its ``signature`` member removed, serialised by the ``rfc8785`` package (sorted keys by UTF-16 code units, no
whitespace, ECMAScript number formatting, UTF-8). Integers beyond ±2^53 and non-finite numbers cannot be
canonicalised (I-JSON); such objects cannot be signed and are refused when verifying.
"""

from __future__ import annotations

import copy
from typing import Any

import rfc8785

from ..errors import TrustError
from .extension import EXTENSION_ID


class CanonicalizationError(TrustError, ValueError):
    """The value is not I-JSON (a huge integer, NaN/Infinity, a non-string key, an unpaired surrogate...)."""


def canonicalize(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON value. Raises :class:`CanonicalizationError`."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeEncodeError) as exc:
        raise CanonicalizationError(f"not canonicalisable as RFC 8785 JSON: {str(exc)[:200]}") from None


def signature_entry(obj: dict[str, Any]) -> Any:
    """The signature extension entry of an object (``None`` when absent; may be malformed)."""
    extensions = obj.get("extensions")
    return extensions.get(EXTENSION_ID) if isinstance(extensions, dict) else None


def signing_payload(obj: dict[str, Any]) -> bytes:
    """The bytes an Ed25519 signature covers: canonical JSON of ``obj`` without the entry's ``signature``."""
    unsigned = copy.copy(obj)
    extensions = dict(obj.get("extensions") or {})
    entry = dict(extensions.get(EXTENSION_ID) or {})
    entry.pop("signature", None)
    extensions[EXTENSION_ID] = entry
    unsigned["extensions"] = extensions
    return canonicalize(unsigned)


def without_signature(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without the signature extension entry (and without ``extensions`` if that empties it)."""
    stripped = copy.copy(obj)
    extensions = obj.get("extensions")
    if isinstance(extensions, dict) and EXTENSION_ID in extensions:
        rest = {k: v for k, v in extensions.items() if k != EXTENSION_ID}
        if rest:
            stripped["extensions"] = rest
        else:
            stripped.pop("extensions")
    return stripped
