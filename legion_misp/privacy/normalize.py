"""Normalised views of a text, each mapped back to the original characters, for matching disguised values.

A browser, a resolver or a reader sees ``ｃｏｒｐ．ｅｘａｍｐｌｅ``, ``corp&#46;example``, ``CORP.EXAMPLE``,
``cоrp.example`` (Cyrillic о), ``corp\\u200b.example`` and ``corp-\\nexample`` (a hyphenated line break) as the same
value. Matching therefore runs on normalised views, and every match is mapped back to the original span so that the
original text is redacted (the same way refanging works).

:func:`views` builds three views of a text:

``clean``
    HTML/XML entities decoded (also double-encoded), tags removed, Unicode NFKC (full-width forms, ligatures,
    compatibility digits), format and zero-width characters removed (ZWJ, ZWNJ, ZWSP, soft hyphen, BOM, bidi
    controls, variation selectors). Case is kept: encoded tokens (base64, base32) are read here.
``plain``
    ``clean``, fully case-folded (``Straße`` -> ``strasse``), Unicode dots (``。`` ``．`` ``｡`` ``․``) folded to
    ``.``, hyphenated line breaks joined, defanging undone (``[.]``, ``(dot)``, ``hxxp``, ``[at]``...). Addresses,
    patterns and detectors are read here.
``skeleton``
    ``plain`` with punycode labels decoded, combining marks removed and every character folded to its Unicode TR39
    confusable prototype (data from the maintained ``confusable-homoglyphs`` package, which ships Unicode's
    ``confusables.txt``), then case-folded again. Terms, names and domains are matched here; the needles go
    through the same function (:func:`skeleton`), so ``c0rp.exampIe`` matches ``corp.example``.

Nothing here returns or logs the protected values themselves.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

# Characters folded to "." although NFKC keeps them (ideographic and other full stops a resolver reads as dots).
UNICODE_DOTS = "\u3002\uff0e\uff61\u2024\ufe52\u0701\u0702\ua60e\u06d4\u2e3c\u2e33"
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:_-]{0,40}(?:\s[^<>]{0,2000})?/?>|<!--.{0,2000}?-->", re.DOTALL)
_HYPHEN_BREAK = re.compile(r"(?<=\w)[-\u2010\u2011\u00ad][ \t]*\r?\n[ \t]*(?=\w)")
DEFANG = re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\s+dot\s+|\[:\]|\[://\]|\[at\]|\(at\)|\{at\}"
                     r"|\[@\]|\(@\)|\s+at\s+|hxxp|fxp|\\\.", re.IGNORECASE)
_PUNYCODE_LABEL = re.compile(r"xn--[a-z0-9-]{1,59}", re.IGNORECASE)
# TR39 prototypes among ASCII (0->O, 1/I->l, m->rn; "|" is kept: it is MISP's value separator), applied after case
# folding; "i" joins the "l" class because folding happens first (``NIGHTJAR`` and ``N1ghtjar`` must meet ``Nightjar``).
_ASCII_PROTOTYPES = {"0": "o", "1": "l", "i": "l", "`": "'"}
_ASCII_SKELETON = str.maketrans(_ASCII_PROTOTYPES)
# TR39 folds "m" to "rn"; folding "rn" to "m" instead gives the same classes and keeps ASCII text 1:1 (fast).
_RN = re.compile("rn")
_BLOCK_TAGS = re.compile(r"</?(?:p|div|br|hr|td|th|tr|li|ul|ol|table|h[1-6]|pre|blockquote|section|article|header|"
                         r"footer|tbody|thead|dl|dt|dd)\b", re.IGNORECASE)
_NEEDS_CLEAN = re.compile(r"[&<]|[^\x00-\x7f]")


@dataclass(frozen=True)
class View:
    """A transformed text; ``starts[i]``/``ends[i]`` are the original span character ``i`` came from."""

    text: str
    starts: Sequence[int]
    ends: Sequence[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``(start, end)`` covering view characters ``start..end`` (end exclusive, end > start)."""
        return self.starts[start], self.ends[end - 1]


@dataclass(frozen=True)
class Views:
    original: str
    clean: View
    plain: View
    skeleton: View


def identity(text: str) -> View:
    return View(text, range(len(text)), range(1, len(text) + 1))


def rewrite(view: View, pattern: re.Pattern[str], replace) -> View:
    """``view`` with each match of ``pattern`` replaced by ``replace(match)``; new characters map to the match."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    text = view.text
    for match in pattern.finditer(text):
        if match.end() == match.start():
            continue
        out.append(text[position:match.start()])
        starts.extend(view.starts[position:match.start()])
        ends.extend(view.ends[position:match.start()])
        replacement = replace(match)
        origin = (view.starts[match.start()], view.ends[match.end() - 1])
        out.append(replacement)
        starts.extend([origin[0]] * len(replacement))
        ends.extend([origin[1]] * len(replacement))
        position = match.end()
    if position == 0:
        return view
    out.append(text[position:])
    starts.extend(view.starts[position:])
    ends.extend(view.ends[position:])
    return View("".join(out), tuple(starts), tuple(ends))


def map_chars(view: View, fold) -> View:
    """``view`` with each character replaced by ``fold(char)`` (zero or more characters, same origin)."""
    text = view.text
    pieces = [fold(c) for c in text]
    folded = "".join(pieces)
    if folded == text:
        return view
    if len(folded) == len(text) and all(len(p) == 1 for p in pieces):
        return View(folded, view.starts, view.ends)
    starts = tuple(s for s, piece in zip(view.starts, pieces, strict=True) for _ in piece)
    ends = tuple(e for e, piece in zip(view.ends, pieces, strict=True) for _ in piece)
    return View(folded, starts, ends)


def _decode_entity(match: re.Match[str]) -> str:
    decoded = html.unescape(match.group(0))
    return decoded if decoded != match.group(0) else match.group(0)


@lru_cache(maxsize=8192)
def _clean_char(char: str) -> str:
    """NFKC of one character, without format (Cf) characters and variation selectors."""
    if char.isascii():
        return char
    out = []
    for c in unicodedata.normalize("NFKC", char):
        if unicodedata.category(c) == "Cf" or "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef":
            continue
        out.append(c)
    return "".join(out)


@lru_cache(maxsize=8192)
def _plain_char(char: str) -> str:
    if char in UNICODE_DOTS:
        return "."
    return char.casefold() if not char.isascii() else char.lower()


@cache
def _confusable_prototypes() -> dict[str, str]:
    """Character -> ASCII prototype, from Unicode's confusables.txt as shipped by ``confusable-homoglyphs``."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    prototypes: dict[str, str] = {}
    for key, glyphs in data.items():
        homoglyphs = [g["c"].strip("\u200e\u200f") for g in glyphs]
        if key.isascii():
            for glyph in homoglyphs:
                if len(glyph) == 1 and not glyph.isascii():
                    prototypes.setdefault(glyph, key)
        elif len(key) == 1:
            ascii_glyphs = [g for g in homoglyphs if g.isascii()]
            if ascii_glyphs:
                prototypes[key] = ascii_glyphs[0]
    return prototypes


@lru_cache(maxsize=16384)
def _skeleton_char(char: str) -> str:
    if char.isascii():
        return _ASCII_PROTOTYPES.get(char, char)
    out = []
    for c in unicodedata.normalize("NFD", char):
        if unicodedata.category(c) == "Mn":
            continue
        prototype = _confusable_prototypes().get(c, c)
        out.append("".join(_ASCII_PROTOTYPES.get(p, p) for p in prototype.casefold()))
    return "".join(out)


def defang(match: re.Match[str]) -> str:
    lowered = match.group(0).strip().lower()
    if lowered in ("[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", "dot", "\\."):
        return "."
    if lowered in ("[at]", "(at)", "{at}", "[@]", "(@)", "at"):
        return "@"
    return {"[:]": ":", "[://]": "://", "hxxp": "http", "fxp": "ftp"}.get(lowered, match.group(0))


def _punycode(match: re.Match[str]) -> str:
    try:
        return match.group(0)[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return match.group(0)


def clean_view(text: str, *, keep_tags: bool = False) -> View:
    view = identity(text)
    if not _NEEDS_CLEAN.search(text):
        return view
    for _ in range(3):  # &amp;#46; and similar double encodings
        if "&" not in view.text:
            break
        decoded = rewrite(view, _ENTITY, _decode_entity)
        if decoded.text == view.text:
            break
        view = decoded
    if "<" in view.text and not keep_tags:
        view = rewrite(view, _TAG, lambda m: " " if _BLOCK_TAGS.match(m.group(0)) else "")
    return view if view.text.isascii() else map_chars(view, _clean_char)


def plain_view(clean: View) -> View:
    if clean.text.isascii():
        lowered = clean.text.lower()
        view = clean if lowered == clean.text else View(lowered, clean.starts, clean.ends)
    else:
        view = map_chars(clean, _plain_char)
    if "\n" in view.text:
        view = rewrite(view, _HYPHEN_BREAK, lambda m: "")
    return rewrite(view, DEFANG, defang)


def skeleton_view(plain: View) -> View:
    view = plain
    if "xn--" in view.text:
        view = rewrite(view, _PUNYCODE_LABEL, _punycode)
    if view.text.isascii():
        folded = view.text.translate(_ASCII_SKELETON)
        view = view if folded == view.text else View(folded, view.starts, view.ends)
    else:
        view = map_chars(view, _skeleton_char)
    return rewrite(view, _RN, lambda m: "m") if "rn" in view.text else view


@lru_cache(maxsize=8192)
def views(text: str, *, keep_tags: bool = False) -> Views:
    """The three normalised views of ``text`` (see the module documentation). Markup is read both ways by callers:
    tags removed (``c<b>or</b>p``) and tags kept (``<a href="...">``, ``<!-- ... -->``: ``keep_tags``)."""
    clean = clean_view(text, keep_tags=keep_tags)
    plain = plain_view(clean)
    return Views(text, clean, plain, skeleton_view(plain))


@lru_cache(maxsize=65536)
def plain(text: str) -> str:
    """The ``plain`` form of a needle (what a configured term or domain is compared as)."""
    return plain_view(clean_view(text)).text


@lru_cache(maxsize=65536)
def skeleton(text: str) -> str:
    """The ``skeleton`` form of a needle: ``skeleton("CORP.EXAMPLE") == skeleton("cоrp．exampIe")``."""
    return views(text).skeleton.text
