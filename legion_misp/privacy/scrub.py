"""Find and replace what identifies the organisation in text, also when it is disguised, defanged or encoded.

:class:`ProtectedContent` knows what must never leave (from :class:`~legion_misp.config.Organisation` and the
``[privacy]`` detectors): internal and own public IP addresses in any notation, host names and e-mail addresses under
the internal domains, the organisation's name (with and without its legal suffix), sensitive terms, matches of
sensitive patterns, and what the built-in detectors catch (bank and card numbers, phone numbers, user names in
profile paths, UNC hosts, learned short host names...). :meth:`ProtectedContent.find` locates them:

- on normalised views (:mod:`~legion_misp.privacy.normalize`): NFKC, case folding, zero-width and format characters
  removed, TR39 confusable skeletons, HTML entities and tags, hyphenated line breaks, Unicode dots, defanging;
- in every address notation (:mod:`~legion_misp.privacy.addresses`);
- inside encoded tokens (:mod:`~legion_misp.privacy.encodings`), nested up to :data:`MAX_DEPTH` levels: a token
  that decodes to protected content is replaced as a whole.

Spans found in a view are mapped back to the original text, which is what gets redacted. Nothing here logs or
returns the protected values themselves: callers get kinds and positions.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .addresses import protected_addresses
from .detectors import DetectorSet
from .encodings import find_encoded
from .normalize import DEFANG, View, defang, identity, rewrite, skeleton, views

if TYPE_CHECKING:
    from ..config import Organisation

_LEGAL_SUFFIX = re.compile(r"[\s,]+(ltd\.?|limited|inc\.?|gmbh|plc|s\.?a\.?|llc|ag|b\.?v\.?|corp\.?|co\.?|sarl|"
                           r"s\.?p\.?a\.?|oy|ab|as)$", re.IGNORECASE)
MAX_DEPTH = 4
_CACHE_LIMIT = 20_000
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Span:
    """Protected content at ``text[start:end]``; ``kind`` says what it is (never the value)."""

    start: int
    end: int
    kind: str


def refang(text: str) -> tuple[str, list[int], list[int]]:
    """The text with defanging undone, and for each character its ``(start, end)`` in the original."""
    view = rewrite(identity(text), DEFANG, defang)
    return view.text, list(view.starts), list(view.ends)


def _term_pattern(term: str) -> str:
    words = [re.escape(skeleton(w)) for w in re.split(r"[\s_\-.]+", term.strip()) if w]
    return r"[\s_\-.*`~]*".join(w for w in words if w)  # also Markdown emphasis between words


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
    detectors : the built-in detectors that run (default: all of them with their defaults).
    literals : further values redacted wherever they appear (e.g. values pseudonymised elsewhere in the event).
    hostnames : the organisation's short host names, matched as whole words.
    """

    def __init__(self, organisation: Organisation, *, placeholder: str = "[REDACTED]",
                 detectors: DetectorSet | None = None, literals: Iterable[str] = (), hostnames: Iterable[str] = ()):
        self.organisation = organisation
        self.placeholder = placeholder
        self.detectors = detectors if detectors is not None else DetectorSet()
        self._networks = (*organisation.internal_networks, *organisation.public_networks)
        self._words = self._compile_words(organisation)
        partners = self.detectors.partner_domains if "partner_email" in self.detectors.enabled else ()
        self._domains = _compile_domains(organisation.internal_domains, partners)
        self._patterns = tuple(organisation.sensitive_patterns)
        self._folded_patterns = tuple(re.compile(p.pattern, p.flags | re.IGNORECASE) for p in self._patterns)
        self.literals: frozenset[str] = frozenset()
        self.hostnames: frozenset[str] = frozenset()
        self._cache: dict[tuple[str, bool, int], tuple[Span, ...]] = {}  # shared by derived copies
        self._set_extra(literals, hostnames)

    def derive(self, *, literals: Iterable[str] = (), hostnames: Iterable[str] = ()) -> ProtectedContent:
        """A copy that also redacts ``literals`` and the short host names ``hostnames`` (per-event knowledge)."""
        clone = copy.copy(self)
        clone._set_extra([*self.literals, *literals], [*self.hostnames, *hostnames])
        return clone

    def _set_extra(self, literals: Iterable[str], hostnames: Iterable[str]) -> None:
        self.literals = frozenset(v for v in literals if len(v.strip()) >= 3)
        use_hosts = "learned_hosts" in self.detectors.enabled
        self.hostnames = frozenset(h for h in (*self.detectors.hostnames, *hostnames) if len(h) >= 3) \
            if use_hosts else frozenset()
        self._literal_skeletons = tuple(sorted({skeleton(v) for v in self.literals if skeleton(v).strip()}))
        self._host_skeletons = frozenset(skeleton(h) for h in self.hostnames if skeleton(h))
        self._host_first_words = frozenset(_WORD.match(h).group(0) for h in self._host_skeletons if _WORD.match(h))

    def _find_extra(self, view: View) -> list[Span]:
        """Per-event values (literal substrings) and learned host names (whole words; ``-``, ``_`` and ``.``
        separate words), without compiling a pattern per event."""
        spans = []
        text = view.text
        for literal in self._literal_skeletons:
            start = text.find(literal)
            while start >= 0:
                spans.append(_mapped(view, start, start + len(literal), "pseudonymised-value"))
                start = text.find(literal, start + 1)
        if self._host_skeletons:
            words = list(_WORD.finditer(text))
            for index, word in enumerate(words):
                if word.group(0) not in self._host_first_words:
                    continue
                for last in range(index, min(index + 8, len(words))):
                    if last > index and not _joined(text, words[last - 1], words[last]):
                        break
                    if text[word.start():words[last].end()] in self._host_skeletons:
                        spans.append(_mapped(view, word.start(), words[last].end(), "learned-host"))
        return spans

    @staticmethod
    def _compile_words(organisation: Organisation) -> re.Pattern[str] | None:
        terms = [*_name_variants(organisation.name), *organisation.sensitive_terms]
        parts = sorted({_term_pattern(t) for t in terms if t.strip()}, key=len, reverse=True)
        return re.compile("|".join(parts)) if parts else None

    # ---- detection ---------------------------------------------------------------------------------------------

    def find(self, text: str, *, indicator: bool = False, _depth: int = 0) -> list[Span]:
        """Every protected span of ``text`` (merged, sorted), also disguised, defanged and encoded forms.

        ``indicator`` is set for indicator values: the text-only detectors (numbers) are skipped there. What the
        organisation's configuration finds in a text is cached (values repeat across events); the per-event
        values and host names of :meth:`derive` are looked for on every call.
        """
        if not text:
            return []
        spans = self._base(text, indicator, _depth)
        if self._literal_skeletons or self._host_skeletons:
            return _merge([*spans, *self._extra_deep(text, _depth)])
        return list(spans)

    def _base(self, text: str, indicator: bool, depth: int) -> tuple[Span, ...]:
        key = (text, indicator, depth)
        found = self._cache.get(key)
        if found is None:
            spans = [Span(m.start(), m.end(), "sensitive-pattern") for p in self._patterns
                     for m in p.finditer(text) if m.end() > m.start()]
            for keep_tags in ((False, True) if "<" in text else (False,)):  # markup read with and without tags
                seen = views(text, keep_tags=keep_tags)
                spans += self._find_skeleton(seen.skeleton) + self._find_plain(seen.plain, indicator)
                if depth < MAX_DEPTH:
                    spans += self._find_encoded(seen.clean, depth, indicator)
            found = tuple(_merge(spans))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _extra_deep(self, text: str, depth: int) -> list[Span]:
        """Per-event values and host names in ``text``, also inside encoded tokens."""
        spans = []
        for keep_tags in ((False, True) if "<" in text else (False,)):
            seen = views(text, keep_tags=keep_tags)
            spans += self._find_extra(seen.skeleton)
            if depth < MAX_DEPTH:
                spans += [_mapped(seen.clean, start, end, "encoded-protected") for start, end in
                          find_encoded(seen.clean.text, lambda decoded: bool(self._extra_deep(decoded, depth + 1)))]
        return spans

    def contains(self, text: str, *, indicator: bool = False) -> str | None:
        """The kind of the first protected content in ``text``, or None."""
        spans = self.find(text, indicator=indicator)
        return spans[0].kind if spans else None

    def _find_skeleton(self, view: View) -> list[Span]:
        spans: list[Span] = []
        text = view.text
        if self._words is not None:
            spans += [_mapped(view, m.start(), m.end(), "sensitive-term") for m in self._words.finditer(text)]
        if self._domains is not None:
            for match in self._domains.finditer(text):
                kind = match.lastgroup or "internal-host"
                spans.append(_mapped(view, match.start(), match.end(), kind.replace("_", "-")))
        return spans

    def _find_plain(self, view: View, indicator: bool) -> list[Span]:
        text = view.text
        spans = [_mapped(view, start, end, "protected-ip") for start, end in protected_addresses(text, self._networks)]
        spans += [_mapped(view, m.start(), m.end(), "sensitive-pattern") for p in self._folded_patterns
                  for m in p.finditer(text) if m.end() > m.start()]
        spans += [_mapped(view, h.start, h.end, h.kind) for h in self.detectors.find(text, indicator=indicator)]
        return spans

    def _find_encoded(self, view: View, depth: int, indicator: bool) -> list[Span]:
        def holds_protected(decoded: str) -> bool:
            return bool(self._base(decoded, indicator, depth + 1))

        return [_mapped(view, start, end, "encoded-protected") for start, end in find_encoded(view.text,
                                                                                             holds_protected)]

    # ---- replacement -------------------------------------------------------------------------------------------

    def scrub(self, text: str, *, indicator: bool = False) -> tuple[str, list[str]]:
        """``text`` with every protected span replaced by the placeholder, and the kinds replaced."""
        spans = self.find(text, indicator=indicator)
        return replace_spans(text, spans, self.placeholder), sorted({s.kind for s in spans})


def _joined(text: str, before: re.Match[str], after: re.Match[str]) -> bool:
    """Two words separated by exactly one host-name separator (``-``, ``_``, ``.``)."""
    return after.start() - before.end() == 1 and text[before.end()] in "-_."


def replace_spans(text: str, spans: list[Span], placeholder: str) -> str:
    if not spans:
        return text
    pieces, position = [], 0
    for span in spans:
        pieces.append(text[position:span.start])
        pieces.append(placeholder)
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def _mapped(view: View, start: int, end: int, kind: str) -> Span:
    original_start, original_end = view.original_span(start, end)
    return Span(original_start, original_end, kind)


def _compile_domains(domains: Iterable[str], partner_domains: Iterable[str]) -> re.Pattern[str] | None:
    """Internal host names and e-mail addresses, and partner e-mail addresses, in the skeleton view."""
    internal = _domain_alternatives(domains)
    partners = _domain_alternatives(partner_domains)
    parts = []
    local = r"[\w.%+\-']{1,64}@"
    labels = r"(?:[\w\-]{1,63}\.)*"
    if internal:
        parts.append(r"(?P<internal_email>" + local + labels + "(?:" + internal + r"))(?![^\W_])")
        parts.append(r"(?P<internal_host>(?<![^\W_]|-)" + labels + "(?:" + internal + r"))(?![^\W_])")
    if partners:
        parts.append(r"(?P<partner_email>" + local + labels + "(?:" + partners + r"))(?![^\W_])")
    return re.compile("|".join(parts)) if parts else None


def _domain_alternatives(domains: Iterable[str]) -> str:
    forms = set()
    for domain in domains:
        name = domain.strip().strip(".")
        if not name:
            continue
        forms.add(skeleton(name))
        try:
            forms.add(skeleton(name.encode("idna").decode("ascii")))
            forms.add(skeleton(name.encode("ascii").decode("idna")))
        except (UnicodeError, ValueError):
            pass
    return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True) if f)


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


