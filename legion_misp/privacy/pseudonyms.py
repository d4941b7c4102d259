"""Keyed pseudonyms: ``HMAC-SHA256(federation key, normalised value)``.

Members holding the federation key get the same pseudonym for the same value, so they can correlate (the same
victim address targeted at two members) without the value being shared. Never an unkeyed hash: small value sets
such as IPv4 addresses or e-mail addresses of a known domain are enumerated in minutes. This is pseudonymisation,
not differential privacy: anyone holding the key can test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import unicodedata

from ..errors import ConfigError

MIN_KEY_BYTES = 16
_EMAIL_TYPES = {"email", "email-src", "email-dst", "email-reply-to", "target-email", "whois-registrant-email",
                "dns-soa-email"}
_HOST_TYPES = {"domain", "hostname", "target-machine"}
_IP_TYPES = {"ip-src", "ip-dst"}
PSEUDONYM_DOMAIN = "pseudonym.invalid"


class PseudonymKeyError(ConfigError, ValueError):
    """The federation key is missing or too short. Never contains the key."""


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
    key : the federation-wide HMAC key (at least 16 bytes). Kept private; never in ``repr``.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(f"the federation pseudonym key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(key=***)"

    def digest(self, value: str, attribute_type: str) -> str:
        """Hex HMAC-SHA256 of the normalised value, domain-separated by the attribute type's family."""
        family = "email" if attribute_type in _EMAIL_TYPES else "host" if attribute_type in _HOST_TYPES \
            else attribute_type
        message = f"legion-pseudonym/v1/{family}\x00{normalise(value, attribute_type)}".encode()
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
