"""Find and replace what identifies the organisation in free text, also when it is defanged or encoded.

:class:`ProtectedContent` knows what must never leave (from :class:`~legion_misp.config.Organisation`): internal and
own public IP addresses, host names and e-mail addresses under the internal domains, the organisation's name (with
and without its legal suffix), sensitive terms and matches of sensitive patterns. :meth:`ProtectedContent.find`
locates them in a text:

- as written (case-insensitive; multi-word terms also with ``_``, ``-``, ``.`` or no separator between words);
- defanged: ``10[.]0[.]0[.]1``, ``corp(.)example``, ``alice[at]corp[dot]example``, ``hxxp://``, ``[:]``, ``\\.``;
- percent-encoded (``%31%30%2E...``, also double-encoded) and base64-encoded (standard or URL-safe alphabet,
  nested once): an encoded token that decodes to protected content is replaced as a whole.

Spans found in the defanged-to-plain view are mapped back to the original text. Nothing here logs or returns the
protected values themselves: callers get kinds and positions.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from ..config import Organisation

_LEGAL_SUFFIX = re.compile(r"[\s,]+(ltd\.?|limited|inc\.?|gmbh|plc|s\.?a\.?|llc|ag|b\.?v\.?|corp\.?|co\.?|sarl|"
                           r"s\.?p\.?a\.?|oy|ab|as)$", re.IGNORECASE)
_DEFANG = re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\s+dot\s+|\[:\]|\[://\]|\[at\]|\(at\)|\{at\}"
                     r"|\[@\]|\(@\)|\s+at\s+|hxxp|fxp|\\\.", re.IGNORECASE)
_DEFANG_HINT = re.compile(r"[\[({\\]|hxxp|fxp|\sdot\s|\sat\s", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?!\.?\d)")
_IPV6 = re.compile(r"(?<![\w:])((?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%\w+)?)(?![\w:])", re.IGNORECASE)
_PERCENT_TOKEN = re.compile(r"[^\s\"'<>]*%[0-9a-fA-F]{2}[^\s\"'<>]*")
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]+")
_MAX_DEPTH = 2


@dataclass(frozen=True)
class Span:
    """Protected content at ``text[start:end]``; ``kind`` says what it is (never the value)."""

    start: int
    end: int
    kind: str


def _defang_replacement(token: str) -> str:
    lowered = token.strip().lower()
    if lowered in ("[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", "dot", "\\."):
        return "."
    if lowered in ("[at]", "(at)", "{at}", "[@]", "(@)", "at"):
        return "@"
    if lowered == "[:]":
        return ":"
    if lowered == "[://]":
        return "://"
    if lowered == "hxxp":
        return "http"
    if lowered == "fxp":
        return "ftp"
    return token


def refang(text: str) -> tuple[str, list[int], list[int]]:
    """The text with defanging undone, and for each character its ``(start, end)`` in the original."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for match in _DEFANG.finditer(text):
        for index in range(position, match.start()):
            out.append(text[index])
            starts.append(index)
            ends.append(index + 1)
        replacement = _defang_replacement(match.group(0))
        for char in replacement:
            out.append(char)
            starts.append(match.start())
            ends.append(match.end())
        position = match.end()
    for index in range(position, len(text)):
        out.append(text[index])
        starts.append(index)
        ends.append(index + 1)
    return "".join(out), starts, ends


def _term_pattern(term: str) -> str:
    words = [re.escape(w) for w in re.split(r"[\s_\-.]+", term.strip()) if w]
    return r"[\s_\-.]*".join(words)


def _name_variants(name: str) -> list[str]:
    variants = [name]
    stripped = _LEGAL_SUFFIX.sub("", name).strip()
    if stripped and stripped.lower() != name.lower() and len(stripped) >= 4:
        variants.append(stripped)
    return variants


class ProtectedContent:
    """Detects what identifies the organisation in text, and replaces it.

    Parameters
    ----------
    organisation : its networks, internal domains, name, sensitive terms and patterns.
    placeholder : what replaces protected content in :meth:`scrub`.
    """

    def __init__(self, organisation: Organisation, *, placeholder: str = "[REDACTED]"):
        self.organisation = organisation
        self.placeholder = placeholder
        self._words = self._compile_words(organisation)
        self._domains = self._compile_domains(organisation.internal_domains)
        self._patterns = tuple(organisation.sensitive_patterns)
        self._has_ipv6 = any(n.version == 6 for n in (*organisation.internal_networks,
                                                         *organisation.public_networks))

    @staticmethod
    def _compile_words(organisation: Organisation) -> re.Pattern[str] | None:
        terms = [*_name_variants(organisation.name), *organisation.sensitive_terms]
        parts = sorted({_term_pattern(t) for t in terms if t.strip()}, key=len, reverse=True)
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None

    @staticmethod
    def _compile_domains(domains: Iterable[str]) -> re.Pattern[str] | None:
        names = sorted({d.strip(".").lower() for d in domains if d.strip(".")}, key=len, reverse=True)
        if not names:
            return None
        suffix = "|".join(re.escape(d) for d in names)
        return re.compile(r"(?<![a-z0-9_\-])(?:[a-z0-9._%+\-]+@)?(?:[a-z0-9_\-]+\.)*(?:" + suffix +
                          r")(?![a-z0-9_\-]|\.[a-z0-9_\-])", re.IGNORECASE)

    # ---- detection ---------------------------------------------------------------------------------------------

    def find(self, text: str, *, _depth: int = 0) -> list[Span]:
        """Every protected span of ``text`` (merged, sorted), including defanged and encoded forms."""
        if not text:
            return []
        spans = self._find_plain(text)
        if _DEFANG_HINT.search(text):
            spans += self._find_defanged(text)
        if _depth < _MAX_DEPTH:
            spans += self._find_encoded(text, _depth)
        return _merge(spans)

    def contains(self, text: str) -> str | None:
        """The kind of the first protected content in ``text``, or None."""
        spans = self.find(text)
        return spans[0].kind if spans else None

    def _find_plain(self, text: str) -> list[Span]:
        spans: list[Span] = []
        if self._words is not None:
            spans += [Span(m.start(), m.end(), "sensitive-term") for m in self._words.finditer(text)]
        if self._domains is not None:
            spans += [Span(m.start(), m.end(), "internal-email" if "@" in m.group(0) else "internal-host")
                      for m in self._domains.finditer(text)]
        for match in _IPV4.finditer(text):
            if self.organisation.is_protected_ip(match.group(1)):
                spans.append(Span(match.start(1), match.end(1), "protected-ip"))
        if self._has_ipv6 and ":" in text:
            for match in _IPV6.finditer(text):
                if _is_ip(match.group(1)) and self.organisation.is_protected_ip(match.group(1).split("%")[0]):
                    spans.append(Span(match.start(1), match.end(1), "protected-ip"))
        for pattern in self._patterns:
            spans += [Span(m.start(), m.end(), "sensitive-pattern") for m in pattern.finditer(text)
                      if m.end() > m.start()]
        return spans

    def _find_defanged(self, text: str) -> list[Span]:
        plain, starts, ends = refang(text)
        if plain == text:
            return []
        return [Span(starts[s.start], ends[s.end - 1], s.kind) for s in self._find_plain(plain)]

    def _find_encoded(self, text: str, depth: int) -> list[Span]:
        spans: list[Span] = []
        if "%" in text:
            for match in _PERCENT_TOKEN.finditer(text):
                decoded = _percent_decode(match.group(0))
                if decoded != match.group(0) and self.find(decoded, _depth=depth + 1):
                    spans.append(Span(match.start(), match.end(), "encoded-protected"))
        for match in _BASE64_TOKEN.finditer(text):
            if _HEX_TOKEN.fullmatch(match.group(0)):
                continue  # hashes: hex digits decode to binary, never to text
            for decoded in _base64_candidates(match.group(0)):
                if self.find(decoded, _depth=depth + 1):
                    spans.append(Span(match.start(), match.end(), "encoded-protected"))
                    break
        return spans

    # ---- replacement -------------------------------------------------------------------------------------------

    def scrub(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every protected span replaced by the placeholder, and the kinds replaced."""
        spans = self.find(text)
        if not spans:
            return text, []
        pieces, position = [], 0
        for span in spans:
            pieces.append(text[position:span.start])
            pieces.append(self.placeholder)
            position = span.end
        pieces.append(text[position:])
        return "".join(pieces), sorted({s.kind for s in spans})


def _merge(spans: list[Span]) -> list[Span]:
    if len(spans) <= 1:
        return spans
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    merged = [spans[0]]
    for span in spans[1:]:
        last = merged[-1]
        if span.start <= last.end:
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.kind)
        else:
            merged.append(span)
    return merged


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True


def _percent_decode(token: str) -> str:
    decoded = token
    for _ in range(3):
        step = unquote(decoded.replace("+", " "))
        if step == decoded:
            break
        decoded = step
    return decoded


def _base64_candidates(token: str) -> list[str]:
    """Texts the token decodes to (standard or URL-safe alphabet, trailing junk of up to 3 characters trimmed)."""
    body = token.rstrip("=")
    found: list[str] = []
    for trim in range(4):
        chunk = body[: len(body) - trim] if trim else body
        if len(chunk) < 8:
            break
        if len(chunk) % 4 == 1:
            continue
        padded = chunk + "=" * (-len(chunk) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            continue
        text = _printable_text(raw)
        if text is not None:
            found.append(text)
            break
    return found


def _printable_text(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _utf16_ascii_text(raw)
    printable = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    return text if text and printable >= 0.85 * len(text) else _utf16_ascii_text(raw)


def _utf16_ascii_text(raw: bytes) -> str | None:
    """UTF-16LE text that is mostly ASCII (e.g. PowerShell ``-EncodedCommand``), else None."""
    if len(raw) % 2:
        return None
    try:
        text = raw.decode("utf-16-le")
    except UnicodeDecodeError:
        return None
    ascii_printable = sum(1 for c in text if " " <= c <= "~" or c in "\r\n\t")
    return text if text and ascii_printable >= 0.85 * len(text) else None
