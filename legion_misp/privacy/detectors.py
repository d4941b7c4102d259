"""Built-in detectors for identifying values nobody listed in the policy, each switchable in ``[privacy] detectors``.

Each detector reads the ``plain`` view of a text (see :mod:`legion_misp.privacy.normalize`) and returns spans with a
kind. Checksums come from maintained libraries (``python-stdnum``, ``phonenumbers``), never hand tables, except the
VIN check digit (ISO 3779, not in python-stdnum). Detectors marked *text only* are not run on indicator values
(a hash or a URL is full of long digit runs). Detectors marked *segment* replace only the private segment inside an
indicator value (``C:\\Users\\[REDACTED]\\AppData\\x.exe`` stays a usable file path); any other finding in an
indicator value withholds the attribute.

Microsoft Presidio was considered as the engine and not chosen: ``presidio-analyzer``'s ``AnalyzerEngine`` loads a
spaCy NLP engine (``en_core_web_lg``, downloaded separately) even when only pattern recognisers are wanted, and its
pattern recognisers for these identifiers are regexes plus the same checksums python-stdnum provides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.eu import vat as eu_vat
from stdnum.it import codicefiscale as it_codicefiscale
from stdnum.us import ssn as us_ssn

DETECTORS = ("iban", "payment_card", "phone", "partner_email", "vin", "national_id", "user_path", "unc_host",
             "windows_sid", "url_credentials", "private_key", "learned_hosts", "hostname_patterns")
TEXT_ONLY = frozenset({"payment_card", "phone", "vin", "national_id"})
SEGMENT_KINDS = frozenset({"user-path", "unc-host", "url-credentials", "learned-host", "hostname-pattern"})
DEFAULT_PHONE_REGIONS = ("GB", "US", "DE", "FR", "NL", "IT", "ES")
GENERIC_USERS = frozenset({"public", "default", "default user", "all users", "administrator", "admin", "user",
                           "username", "%username%", "%user%", "$user", "<user>", "<username>", "{user}", "*", ".",
                           "..", "guest", "defaultapppool", "system", "localservice", "networkservice", "root",
                           "shared", "runner", "ubuntu", "vagrant", "[redacted]", "xxx", "<name>", "name", "you",
                           "your_user", "youruser", "$env:username", "${user}", "~"})

_IBAN = re.compile(r"(?<![0-9a-z])[a-z]{2}[0-9]{2}(?:[ -]?[0-9a-z]){11,30}(?![0-9a-z])")
_CARD = re.compile(r"(?<![0-9a-z.\-])[0-9](?:[ \-]?[0-9]){12,18}(?![0-9a-z]|\.[0-9])")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|30|36|38|6011|64[4-9]|65|35|62")
_VIN = re.compile(r"(?<![0-9a-z])[a-hj-npr-z0-9]{17}(?![0-9a-z])")
_EU_VAT = re.compile(r"(?<![0-9a-z])(?:at|be|bg|cy|cz|de|dk|ee|el|es|fi|fr|hr|hu|ie|it|lt|lu|lv|mt|nl|pl|pt|ro|se|"
                     r"si|sk|xi)[ ]?[0-9a-z]{8,12}(?![0-9a-z])")
_SSN = re.compile(r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])")
_DNI_NIE = re.compile(r"(?<![0-9a-z])[xyz0-9][0-9]{7}-?[a-z](?![0-9a-z])")
_CODICE_FISCALE = re.compile(r"(?<![0-9a-z])[a-z]{6}[0-9lmnpqrstuv]{2}[a-z][0-9lmnpqrstuv]{2}[a-z][0-9lmnpqrstuv]{3}"
                             r"[a-z](?![0-9a-z])")
_USER_PATH = re.compile(r"(?:[a-z]:|%systemdrive%|\\\\[^\\/\s]+\\[a-z]\$|\$env:systemdrive)(?:\\{1,2}|/)"
                        r"(?:users|documents and settings)(?:\\{1,2}|/)([^\\/:*?\"<>|\r\n]{1,64}?)(?=\\|/|$|[\s\"'])"
                        r"|(?<![0-9a-z_.])/(?:home|users|export/home|var/home)/([^/\s:\"'<>|]{1,64})")
_UNC = re.compile(r"(?:(?<![^\s\"'=(,;>\[])\\{2,4}|(?:file|smb|cifs)://)([a-z0-9][a-z0-9_\-]{0,62})"
                  r"(?:@ssl)?(?:@[0-9]{1,5})?(?=\\|/)")
_SID = re.compile(r"(?<![0-9a-z])s-1-5-21(?:-[0-9]{1,10}){3}(?:-[0-9]{1,10})?(?![0-9a-z])")
_URL_CREDENTIALS = re.compile(r"(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{1,15}://([^/\s:@\[\]]{1,128}:[^/\s@]{1,128})@")
_PRIVATE_KEY = re.compile(r"-----begin [a-z0-9 ]{0,20}private key-----.*?"
                          r"(?:-----end [a-z0-9 ]{0,20}private key-----|$)", re.DOTALL)
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("abcdefgh", range(1, 9), strict=True)),
               **dict(zip("jklmn", range(1, 6), strict=True)), "p": 7, "r": 9,
               **dict(zip("stuvwxyz", range(2, 10), strict=True))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    kind: str


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _shorter(match: re.Match[str]) -> Iterator[tuple[int, str]]:
    """The match and each shorter prefix ending before a separator (the greedy pattern may take a following word)."""
    value = match.group(0)
    yield len(value), value
    for index in range(len(value) - 1, 0, -1):
        if value[index] in " -":
            yield index, value[:index]


def iban(text: str) -> Iterator[Hit]:
    for match in _IBAN.finditer(text):
        for length, candidate in _shorter(match):
            if stdnum_iban.is_valid(candidate):
                yield Hit(match.start(), match.start() + length, "iban")
                break


def payment_card(text: str) -> Iterator[Hit]:
    for match in _CARD.finditer(text):
        for length, candidate in _shorter(match):
            number = _digits(candidate)
            if 13 <= len(number) <= 19 and _CARD_PREFIX.match(number) and len(set(number)) > 1 and \
                    luhn.is_valid(number):
                yield Hit(match.start(), match.start() + length, "payment-card")
                break


def vin_check_digit_ok(vin: str) -> bool:
    """ISO 3779 / FMVSS 115 check digit (position 9) of a 17-character VIN."""
    vin = vin.lower()
    if len(vin) != 17 or any(c not in _VIN_VALUES for c in vin):
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    expected = total % 11
    return vin[8] == ("x" if expected == 10 else str(expected))


def vin(text: str) -> Iterator[Hit]:
    for match in _VIN.finditer(text):
        value = match.group(0)
        if sum(c.isdigit() for c in value) >= 4 and sum(c.isalpha() for c in value) >= 2 and \
                vin_check_digit_ok(value):
            yield Hit(match.start(), match.end(), "vin")


def national_id(text: str) -> Iterator[Hit]:
    checks: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
        (_EU_VAT, eu_vat.is_valid), (_SSN, us_ssn.is_valid),
        (_DNI_NIE, lambda v: es_dni.is_valid(v) or es_nie.is_valid(v)),
        (_CODICE_FISCALE, it_codicefiscale.is_valid))
    for pattern, valid in checks:
        for match in pattern.finditer(text):
            if valid(match.group(0)):
                yield Hit(match.start(), match.end(), "national-id")


_PHONE_CANDIDATE = re.compile(r"(?<![\w.:/=&?%#-])(?:\+|\(?0|\(\d)[\d\s().\-/]{5,24}\d(?![\w.:/-]*\w)|"
                              r"(?<![\w.:/=&?%#-])\d{2,5}[\s.\-/][\d\s().\-/]{4,22}\d(?![\w.:/]*\w)")


def phone(text: str, regions: Iterable[str]) -> Iterator[Hit]:
    """Phone numbers valid for one of ``regions`` (``+`` numbers for any region), read by ``phonenumbers`` in
    candidate stretches of digits and separators only (whole texts would be slow and noisy)."""
    if sum(c.isdigit() for c in text) < 7:
        return
    for candidate in _PHONE_CANDIDATE.finditer(text):
        stretch = candidate.group(0)
        if stretch.count(".") >= 2:
            continue  # dotted quads and version numbers
        found = False
        for region in regions:
            for match in phonenumbers.PhoneNumberMatcher(stretch, region, leniency=phonenumbers.Leniency.VALID):
                raw = match.raw_string
                if raw.count(".") >= 2 or (raw.isdigit() and not raw.startswith("0")):
                    continue  # dotted quads, bare digit runs (counts, epoch times, ids)
                yield Hit(candidate.start() + match.start, candidate.start() + match.end, "phone")
                found = True
            if found:
                break


def user_path(text: str) -> Iterator[Hit]:
    for match in _USER_PATH.finditer(text):
        group = 1 if match.group(1) is not None else 2
        name = match.group(group).strip()
        if name and name not in GENERIC_USERS and not name.startswith(("%", "$", "<", "{")):
            yield Hit(match.start(group), match.start(group) + len(match.group(group).rstrip()), "user-path")


def unc_host(text: str) -> Iterator[Hit]:
    for match in _UNC.finditer(text):
        host = match.group(1)
        if host not in ("localhost", "wsl$", "wsl", "tsclient") and not host.isdigit():
            yield Hit(match.start(1), match.end(1), "unc-host")


def windows_sid(text: str) -> Iterator[Hit]:
    for match in _SID.finditer(text):
        yield Hit(match.start(), match.end(), "windows-sid")


def url_credentials(text: str) -> Iterator[Hit]:
    for match in _URL_CREDENTIALS.finditer(text):
        yield Hit(match.start(1), match.end(1), "url-credentials")


def private_key(text: str) -> Iterator[Hit]:
    if "private key" in text:
        for match in _PRIVATE_KEY.finditer(text):
            yield Hit(match.start(), match.end(), "private-key")


def hostname_patterns(text: str, patterns: tuple[re.Pattern[str], ...]) -> Iterator[Hit]:
    for pattern in patterns:
        for match in pattern.finditer(text):
            if match.end() > match.start():
                yield Hit(match.start(), match.end(), "hostname-pattern")


def compile_hostname_pattern(pattern: str) -> re.Pattern[str]:
    """A naming convention (``ws\\d{4}``) matched as a whole word, case-insensitively."""
    return re.compile(r"(?<![0-9a-z_\-])(?:" + pattern + r")(?![0-9a-z_\-])", re.IGNORECASE)


@dataclass(frozen=True)
class DetectorSet:
    """Which built-in detectors run, and their settings (``[privacy] detectors``, ``phone_regions``,
    ``partner_domains``, ``internal_hostname_patterns``, ``internal_hostnames``)."""

    enabled: frozenset[str] = frozenset(DETECTORS)
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    partner_domains: tuple[str, ...] = ()
    hostname_patterns: tuple[re.Pattern[str], ...] = ()
    hostnames: tuple[str, ...] = field(default=())

    def find(self, text: str, *, indicator: bool = False) -> list[Hit]:
        """Every detector hit in ``text`` (the ``plain`` view); ``indicator`` skips the text-only detectors."""
        hits: list[Hit] = []
        for name, run in self._runners():
            if name in self.enabled and not (indicator and name in TEXT_ONLY):
                hits.extend(run(text))
        return hits

    def _runners(self) -> tuple[tuple[str, Callable[[str], Iterable[Hit]]], ...]:
        return (("iban", iban), ("payment_card", payment_card), ("phone", lambda t: phone(t, self.phone_regions)),
                ("vin", vin), ("national_id", national_id), ("user_path", user_path), ("unc_host", unc_host),
                ("windows_sid", windows_sid), ("url_credentials", url_credentials), ("private_key", private_key),
                ("hostname_patterns", lambda t: hostname_patterns(t, self.hostname_patterns)))
