"""Encoded tokens: decode them and check the decoded text, so a token hiding protected content is redacted whole.

:func:`find_encoded` looks in the ``clean`` view (case kept) for tokens in these encodings and decodes them:
base64 (standard and URL-safe, any length that decodes to text, short tokens such as ``MTAuMC4wLjE=`` included),
base32, hex (``31302e...``, ``\\x31\\x30...``, ``0x...``), ``\\uXXXX`` escapes, percent-encoding (also
double-encoded), quoted-printable, and gzip/zlib compressed data inside base64. Decoded text is handed to the caller's
check, which decodes again (the caller limits the depth: at least 3 levels are followed). UTF-16LE text
(PowerShell ``-EncodedCommand``) is read too.

What it cannot see: encryption, custom alphabets, text split over several fields, images.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import quopri
import re
import zlib
from collections.abc import Callable, Iterator
from functools import lru_cache
from urllib.parse import unquote

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_=-])(?:[A-Za-z0-9+/_-]{6,}={0,2}|[A-Za-z0-9+/_-]{2,5}={1,2})"
                     r"(?![A-Za-z0-9+/_=-])")
_BASE32 = re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{8,}={0,6}(?![A-Za-z0-9=])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:0x)?(?:[0-9a-fA-F]{2}){4,}(?![0-9A-Za-z])")
_HEX_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2}){3,}")
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){3,}")
_PERCENT = re.compile(r"[^\s\"'<>]*%[0-9a-fA-F]{2}[^\s\"'<>]*")
_QUOTED_PRINTABLE = re.compile(r"[^\s=]*(?:=(?:[0-9A-F]{2}|\r?\n)[^\s=]*)+")
_HEX_ONLY = re.compile(r"[0-9a-fA-F]{16,}")
_MAX_DECOMPRESSED = 1 << 20
MIN_PRINTABLE = 0.9


def printable_text(raw: bytes) -> str | None:
    """``raw`` as text if it is (mostly) printable UTF-8 or ASCII-range UTF-16LE, else None. Very short results
    must be mostly letters and digits (protected content is never shorter than 4 characters)."""
    text = _printable(raw)
    if text is None or len(text.strip()) < 4:
        return None
    if len(text) < 8 and sum(c.isalnum() for c in text) < len(text) / 2:
        return None
    return text


def _printable(raw: bytes) -> str | None:
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
        if printable >= MIN_PRINTABLE * len(text):
            return text
    if len(raw) % 2 == 0 and len(raw) >= 4 and raw[1::2].count(0) >= 0.8 * (len(raw) // 2):
        try:
            wide = raw.decode("utf-16-le")
        except UnicodeDecodeError:
            return None
        if sum(1 for c in wide if " " <= c <= "~" or c in "\r\n\t") >= MIN_PRINTABLE * len(wide):
            return wide
    return None


def _decompressed(raw: bytes) -> bytes | None:
    try:
        if raw[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
                return handle.read(_MAX_DECOMPRESSED)
        if len(raw) > 2 and raw[0] == 0x78 and (raw[0] * 256 + raw[1]) % 31 == 0:
            return zlib.decompressobj().decompress(raw, _MAX_DECOMPRESSED)
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _bytes_to_texts(raw: bytes) -> list[str]:
    texts = []
    text = printable_text(raw)
    if text is not None:
        texts.append(text)
    inflated = _decompressed(raw)
    if inflated is not None:
        text = printable_text(inflated)
        if text is not None:
            texts.append(text)
    return texts


@lru_cache(maxsize=16384)
def base64_texts(token: str) -> tuple[str, ...]:
    """Texts a base64/base64url token decodes to; up to 3 junk characters before and 2 after are tolerated (a
    token glued to a word, or cut out of a longer one)."""
    body = token.rstrip("=")
    attempts = [(0, trim) for trim in range(3)]
    if len(body) >= 8:
        attempts += [(lead, 0) for lead in range(1, 4)]
    for lead, trim in attempts:
        chunk = body[lead: len(body) - trim]
        if len(chunk) < 2 or len(chunk) % 4 == 1:
            continue
        padded = chunk.replace("-", "+").replace("_", "/") + "=" * (-len(chunk) % 4)
        try:
            raw = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            continue
        texts = _bytes_to_texts(raw)
        if texts:
            return tuple(texts)
    return ()


@lru_cache(maxsize=16384)
def _base32_texts(token: str) -> tuple[str, ...]:
    body = token.rstrip("=")
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return ()
    return tuple(_bytes_to_texts(raw))


@lru_cache(maxsize=16384)
def _hex_texts(token: str) -> tuple[str, ...]:
    body = token[2:] if token[:2].lower() == "0x" else token
    try:
        return tuple(_bytes_to_texts(bytes.fromhex(body)))
    except ValueError:
        return ()


def _percent_text(token: str) -> list[str]:
    """Percent-decoded until stable (double encoding), read with and without ``+`` as a space."""
    texts = []
    for plus_is_space in (False, True):
        decoded = token
        for _ in range(4):
            step = unquote(decoded.replace("+", " ") if plus_is_space else decoded)
            if step == decoded:
                break
            decoded = step
        if decoded != token and decoded not in texts:
            texts.append(decoded)
    return texts


def _quoted_printable_text(token: str) -> list[str]:
    if token.count("=") < 2 and ("?" in token or "&" in token or "://" in token):
        return []  # a URL query (``?id=35...``), not quoted-printable
    raw = quopri.decodestring(token.encode("utf-8", errors="replace"))
    text = printable_text(raw)
    return [text] if text is not None and text != token else []


def _escapes_text(token: str) -> list[str]:
    try:
        text = token.encode("ascii").decode("unicode_escape")
    except (UnicodeError, ValueError):
        return []
    if token.startswith("\\x"):
        return _bytes_to_texts(text.encode("latin-1"))
    return [text]


def candidates(text: str) -> Iterator[tuple[int, int, tuple[str, ...] | list[str]]]:
    """``(start, end, decoded texts)`` for every token of ``text`` that decodes to text."""
    for trigger, pattern, decode in (("%", _PERCENT, _percent_text), ("=", _QUOTED_PRINTABLE, _quoted_printable_text),
                                     ("\\", _HEX_ESCAPES, _escapes_text), ("\\", _UNICODE_ESCAPES, _escapes_text)):
        if trigger not in text:
            continue
        for match in pattern.finditer(text):
            decoded = decode(match.group(0))
            if decoded:
                yield match.start(), match.end(), decoded
    for match in _HEX.finditer(text):
        decoded = _hex_texts(match.group(0))
        if decoded:
            yield match.start(), match.end(), decoded
    for match in _BASE32.finditer(text):
        decoded = _base32_texts(match.group(0))
        if decoded:
            yield match.start(), match.end(), decoded
    for match in _BASE64.finditer(text):
        token = match.group(0)
        if _HEX_ONLY.fullmatch(token) or ("=" not in token and (token.isupper() or
                                                                not any(c.isupper() for c in token))):
            continue  # hex (read as hex above), lower-case words and paths, upper-case words: base64 of text mixes
            # cases (every third byte of text below "h" gives an upper-case letter)
        decoded = base64_texts(token)
        if decoded:
            yield match.start(), match.end(), decoded


@lru_cache(maxsize=8192)
def decoded_tokens(text: str) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    """:func:`candidates` of ``text``, cached (values and their tokens repeat across events)."""
    return tuple((start, end, tuple(decoded)) for start, end, decoded in candidates(text))


def find_encoded(text: str, check: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Spans of tokens of ``text`` whose decoded text ``check`` says holds protected content."""
    spans = []
    for start, end, decoded in decoded_tokens(text):
        if any(check(d) for d in decoded if d):
            spans.append((start, end))
    return spans
