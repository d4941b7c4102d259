"""Keyed pseudonyms: ``HMAC-SHA256(federation key, normalised value)``.

Members holding the federation key get the same pseudonym for the same value, so they can correlate (the same
victim address targeted at two members) without the value being shared. Never an unkeyed hash: small value sets
such as IPv4 addresses or e-mail addresses of a known domain are enumerated in minutes. This is pseudonymisation,
not differential privacy: anyone holding the key can test guesses.

**Every member holds the key, so every member can brute-force low-entropy values**: hashing a list of guesses (a
company's e-mail naming scheme, a 48k-word name list, all IPv4 addresses of a /16) and comparing is a matter of
seconds. Pseudonyms only stop outsiders without the key, and members from reading values they cannot guess.

Key material: at least 32 bytes from a secure generator, written as hex (``legion keys pseudonym`` creates one,
mode 0600); shorter, non-hex (passphrases) or visibly low-entropy keys are refused. Keys rotate per **epoch**: the
``[federation] pseudonym_epoch`` label is mixed into every pseudonym and tagged on pseudonymised attributes, so a
new epoch with a new key makes new pseudonyms unlinkable to the old ones for anyone without the old key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import unicodedata

from ..errors import ConfigError

MIN_KEY_BYTES = 32
MIN_DISTINCT_BYTES = 12  # 32 random bytes almost always have ~30 distinct values
_EMAIL_TYPES = {"email", "email-src", "email-dst", "email-reply-to", "target-email", "whois-registrant-email",
                "dns-soa-email"}
_HOST_TYPES = {"domain", "hostname", "target-machine"}
_IP_TYPES = {"ip-src", "ip-dst"}
PSEUDONYM_DOMAIN = "pseudonym.invalid"


class PseudonymKeyError(ConfigError, ValueError):
    """The federation key is missing, too short or not from a secure generator. Never contains the key."""


def key_from_text(text: str) -> bytes:
    """The key bytes of a key file or variable: hex of at least 32 bytes (what ``legion keys pseudonym`` writes)."""
    cleaned = text.strip()
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise PseudonymKeyError("the federation pseudonym key must be hex-encoded random bytes (a passphrase is "
                                "refused: members could guess it); create one with `legion keys pseudonym`") from None
    check_key(key)
    return key


def check_key(key: bytes) -> None:
    """Refuse keys shorter than 32 bytes or visibly not random."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"the federation pseudonym key must be at least {MIN_KEY_BYTES} bytes from a secure "
                                "generator; create one with `legion keys pseudonym`")
    if len(set(key)) < MIN_DISTINCT_BYTES:
        raise PseudonymKeyError("the federation pseudonym key is not random (too few distinct bytes); create one "
                                "with `legion keys pseudonym`")


def normalise(value: str, attribute_type: str) -> str:
    """The canonical form that is hashed: Unicode NFC, trimmed, lower-case for addresses and names."""
    text = unicodedata.normalize("NFC", value).strip()
    if attribute_type in _EMAIL_TYPES or attribute_type in _HOST_TYPES:
        return text.rstrip(".").lower()
    if attribute_type in _IP_TYPES:
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text.lower()
    return text.casefold()


class Pseudonymizer:
    """Keyed pseudonyms for attribute values.

    Parameters
    ----------
    key : the federation-wide HMAC key (at least 32 random bytes). Kept private; never in ``repr``.
    epoch : the key's epoch label (``[federation] pseudonym_epoch``), mixed into every pseudonym.
    """

    __slots__ = ("_key", "epoch")

    def __init__(self, key: bytes, *, epoch: str = "1"):
        check_key(key)
        self._key = key
        self.epoch = epoch

    def __repr__(self) -> str:
        return "Pseudonymizer(key=***)"

    def digest(self, value: str, attribute_type: str) -> str:
        """Hex HMAC-SHA256 of the normalised value, domain-separated by the attribute type's family."""
        family = "email" if attribute_type in _EMAIL_TYPES else "host" if attribute_type in _HOST_TYPES \
            else attribute_type
        message = f"legion-pseudonym/v2/{self.epoch}/{family}\x00{normalise(value, attribute_type)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def pseudonym(self, value: str, attribute_type: str) -> str:
        """A pseudonym that still parses as the type: ``<hex>@pseudonym.invalid`` for e-mail addresses,
        ``h<hex>.pseudonym.invalid`` for host names, ``hmac-sha256:<hex>`` otherwise."""
        digest = self.digest(value, attribute_type)
        if attribute_type in _EMAIL_TYPES:
            return f"{digest}@{PSEUDONYM_DOMAIN}"
        if attribute_type in _HOST_TYPES:
            return f"h{digest[:62]}.{PSEUDONYM_DOMAIN}"
        return f"hmac-sha256:{digest}"
