"""Feature extractors: e-mail messages → 57 Spambase features, CAN frames → 77 binary features.

Spambase features follow the UCI ``spambase.names`` documentation (Hopkins, Reeber, Forman, Suermondt 1999):

* 48 ``word_freq_WORD`` = 100 · (occurrences of WORD) / (number of words). A *word* is any maximal string of
  alphanumeric characters bounded by non-alphanumeric characters or the end of the string. Matching ignores
  case.
* 6 ``char_freq_CHAR`` = 100 · (occurrences of CHAR) / (number of characters).
* ``capital_run_length_average``, ``capital_run_length_longest``, ``capital_run_length_total``: mean length,
  longest length and total length of the uninterrupted runs of capital letters (A–Z).

The documentation gives ``[1, ...]`` as the range of the three capital-run statistics and the data set never
holds a value below 1, so a message without capitals gets 1 for each (the value the training data uses for
that case).

What counts as "the e-mail": the subject, a newline, then the body text. The Spambase words ``3d``, ``font``
and ``table`` show that the original bodies were read as transmitted (``=3D`` is quoted-printable for ``=`` in
HTML mail), so a raw RFC 5322 message keeps its quoted-printable and HTML text as is; only base64 text parts
are decoded (they would otherwise be noise). Non-text parts (attachments) are ignored.

CAN frames give the LegionITS PoC's 77 features (12 bits of the arbitration id, the DLC, 64 payload bits)
except that the DLC is kept as the integer 0–8; the PoC read the DLC's binary digit string back as a decimal
number (8 → 1000).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.message
import email.policy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: Version of the extractors; stored in every model file. Bump when a feature's definition changes.
FEATURE_EXTRACTOR_VERSION = "1"
SPAMBASE_EXTRACTOR = "spambase-57"
CAN_EXTRACTOR = "can-77"

SPAMBASE_WORDS: tuple[str, ...] = (
    "make",
    "address",
    "all",
    "3d",
    "our",
    "over",
    "remove",
    "internet",
    "order",
    "mail",
    "receive",
    "will",
    "people",
    "report",
    "addresses",
    "free",
    "business",
    "email",
    "you",
    "credit",
    "your",
    "font",
    "000",
    "money",
    "hp",
    "hpl",
    "george",
    "650",
    "lab",
    "labs",
    "telnet",
    "857",
    "data",
    "415",
    "85",
    "technology",
    "1999",
    "parts",
    "pm",
    "direct",
    "cs",
    "meeting",
    "original",
    "project",
    "re",
    "edu",
    "table",
    "conference",
)
SPAMBASE_CHARS: tuple[str, ...] = (";", "(", "[", "!", "$", "#")
SPAMBASE_FEATURE_NAMES: tuple[str, ...] = (
    *(f"word_freq_{w}" for w in SPAMBASE_WORDS),
    *(f"char_freq_{c}" for c in SPAMBASE_CHARS),
    "capital_run_length_average",
    "capital_run_length_longest",
    "capital_run_length_total",
)
N_SPAMBASE_FEATURES = 57

CAN_FEATURE_NAMES: tuple[str, ...] = (
    *(f"id_bit_{i}" for i in range(11, -1, -1)),
    "dlc",
    *(f"payload_bit_{i}" for i in range(64)),
)
N_CAN_FEATURES = 77

_WORD_RE = re.compile(r"[A-Za-z0-9]+")
_CAPITAL_RUN_RE = re.compile(r"[A-Z]+")
_WORD_INDEX = {w: i for i, w in enumerate(SPAMBASE_WORDS)}


def spambase_features(text: str) -> np.ndarray:
    """Return the 57 Spambase features of one message text.

    Parameters
    ----------
    text : str
        The message as one string (subject, newline, body; see the module docstring).

    Returns
    -------
    ndarray of shape (57,)
        Word frequencies and character frequencies in percent (0–100), then the three capital-run statistics.
    """
    out = np.zeros(N_SPAMBASE_FEATURES, dtype=float)
    words = _WORD_RE.findall(text)
    if words:
        counts = np.zeros(len(SPAMBASE_WORDS))
        for word in words:
            index = _WORD_INDEX.get(word.lower())
            if index is not None:
                counts[index] += 1
        out[:48] = 100.0 * counts / len(words)
    if text:
        out[48:54] = [100.0 * text.count(c) / len(text) for c in SPAMBASE_CHARS]
    runs = [len(r) for r in _CAPITAL_RUN_RE.findall(text)]
    if runs:
        out[54:57] = [sum(runs) / len(runs), max(runs), sum(runs)]
    else:
        out[54:57] = 1.0
    return out


def email_text(subject: str | None, body: str | None) -> str:
    """Join subject and body the way the extractor reads a message: ``subject + "\\n" + body``."""
    return f"{subject or ''}\n{body or ''}"


def email_text_from_rfc5322(raw: str | bytes) -> str:
    """Return subject + newline + text body of a raw RFC 5322 message.

    Text parts (``text/*``) are kept as transmitted, except base64 parts, which are decoded. Parts that are
    not text (attachments, images) are skipped.
    """
    parse = email.message_from_bytes if isinstance(raw, bytes) else email.message_from_string
    message = parse(raw, policy=email.policy.compat32)  # type: ignore[arg-type]
    subject = _decode_header(message.get("Subject", ""))
    bodies = [_part_text(part) for part in message.walk() if _is_text_leaf(part)]
    return email_text(subject, "\n".join(bodies))


def spambase_features_from_rfc5322(raw: str | bytes) -> np.ndarray:
    """57 Spambase features of a raw RFC 5322 message (see :func:`email_text_from_rfc5322`)."""
    return spambase_features(email_text_from_rfc5322(raw))


def email_text_from_misp(item: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """Return subject + newline + body from MISP data.

    Parameters
    ----------
    item : mapping or sequence of mappings
        A MISP ``email`` object in MISP JSON form (``{"name": "email", "Attribute": [...]}``, optionally
        wrapped as ``{"Object": {...}}``), a single ``email-body`` / ``email-subject`` attribute, or a list of
        attributes. An attribute is recognised by its ``type`` (``email-body``, ``email-subject``) or, inside
        an ``email`` object, by its ``object_relation`` (``email-body``, ``subject``).

    Raises
    ------
    ValueError
        If no subject or body attribute is present.
    """
    attributes = _misp_attributes(item)
    subjects, bodies = [], []
    for attribute in attributes:
        kind = attribute.get("type")
        relation = attribute.get("object_relation")
        value = str(attribute.get("value", ""))
        if kind == "email-subject" or relation == "subject":
            subjects.append(value)
        elif kind == "email-body" or relation == "email-body":
            bodies.append(value)
    if not subjects and not bodies:
        raise ValueError("no email-subject or email-body attribute found in the MISP data")
    return email_text(" ".join(subjects), "\n".join(bodies))


def spambase_features_from_misp(item: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> np.ndarray:
    """57 Spambase features of a MISP email object or email-body/email-subject attributes."""
    return spambase_features(email_text_from_misp(item))


def can_features(can_id: int | str, dlc: int, payload: bytes | str | Iterable[int]) -> np.ndarray:
    """Return the 77 features of one CAN frame: 12 id bits (MSB first), the DLC as an integer, 64 payload
    bits.

    Parameters
    ----------
    can_id : int or str
        Arbitration id, an integer or a hexadecimal string (``"0316"``, ``"0x316"``); must fit in 12 bits.
    dlc : int
        Data length code, 0–8.
    payload : bytes, str or iterable of int
        Payload bytes; a string is read as hexadecimal, optionally space-separated (``"05 21 68"``). Only the
        first ``dlc`` bytes are used; the rest of the 8 bytes are zero-filled.

    Raises
    ------
    ValueError
        If the id does not fit in 12 bits, the DLC is outside 0–8, or the payload has fewer than ``dlc``
        bytes.
    """
    ident = int(can_id, 16) if isinstance(can_id, str) else int(can_id)
    if not 0 <= ident < 1 << 12:
        raise ValueError(f"CAN id {can_id!r} does not fit in 12 bits")
    if not 0 <= int(dlc) <= 8:
        raise ValueError(f"DLC must be 0-8, got {dlc!r}")
    data = _payload_bytes(payload)
    if len(data) < dlc:
        raise ValueError(f"payload has {len(data)} bytes but DLC is {dlc}")
    frame = data[: int(dlc)].ljust(8, b"\x00")
    out = np.zeros(N_CAN_FEATURES, dtype=float)
    out[:12] = [(ident >> bit) & 1 for bit in range(11, -1, -1)]
    out[12] = int(dlc)
    out[13:] = np.unpackbits(np.frombuffer(frame, dtype=np.uint8))
    return out


def _payload_bytes(payload: bytes | str | Iterable[int]) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return bytes.fromhex(payload.replace(" ", ""))
    return bytes(int(b) for b in payload)


def _misp_attributes(item: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(item, Mapping):
        if "Object" in item and isinstance(item["Object"], Mapping):
            item = item["Object"]
        if "Attribute" in item:
            return list(item["Attribute"])
        return [item]
    return list(item)


def _decode_header(value: str) -> str:
    parts = email.header.decode_header(value)
    return "".join(
        chunk.decode(charset or "latin-1", errors="replace") if isinstance(chunk, bytes) else chunk
        for chunk, charset in parts
    )


def _is_text_leaf(part: email.message.Message) -> bool:
    return not part.is_multipart() and part.get_content_maintype() == "text" and not part.get_filename()


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return ""
    if part.get("Content-Transfer-Encoding", "").strip().lower() == "base64":
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return payload
        return data.decode(part.get_content_charset() or "latin-1", errors="replace")
    return payload
