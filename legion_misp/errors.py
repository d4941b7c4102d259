"""The one error hierarchy of legion-misp. Each error carries enough context to act on it: the file, event uuid, URL,
key path, collection or object it is about (never a secret or key material).

::

    LegionError
    ├── ConfigError ── SecretError, KeyFileError         configuration, secrets, key files (exit 2)
    ├── StoreError ── EventFormatError                   reading/writing MISP events (file, URL, event uuid)
    ├── TrustError ── SigningError                       signing and verification (object id)
    └── SyncError                                        TAXII sync (collection, HTTP status, object id)
        ├── TransportError, AuthenticationError, AccessDeniedError, SanitizerUnavailableError, LockedError
        └── ProtocolError ── InvalidPageError, NextExpiredError

Errors that belong to one subsystem are defined beside it and derive from these (``privacy.BudgetExceeded``,
``privacy.PolicyError``, ``learning.ModelFileError``, ``stix.codec.ConversionError``, ...); ``tests/test_layers.py``
checks that every exception class of the wheel does.

Exit codes used by the CLI: 0 everything succeeded, 1 some items failed, 2 usage or configuration error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_ITEM_FAILURES = 1
EXIT_USAGE = 2


def join_context(message: str, *context: str | None) -> str:
    """``message — context — context``, leaving out empty parts: how every located error reads."""
    return " — ".join([message, *(part for part in context if part)])


class LegionError(Exception):
    """Base class of every error legion-misp raises on purpose."""

    exit_code = EXIT_ITEM_FAILURES


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file, located by its key path (``federation.members[2].public_key``)."""

    key_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.key_path}: {self.message}"


class ConfigError(LegionError):
    """The configuration is missing, unreadable or invalid. Lists every problem found."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, problems: list[ConfigProblem] | None = None):
        self.problems = list(problems or [])
        detail = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(message + detail)


class SecretError(ConfigError):
    """A secret reference (``env:NAME`` / ``file:PATH``) cannot be resolved. Never contains the secret."""


class StoreError(LegionError):
    """Reading or writing MISP events failed. Names the location (file, URL) and the event uuid if known."""

    def __init__(self, message: str, *, location: str | None = None, event_uuid: str | None = None):
        self.location = location
        self.event_uuid = event_uuid
        super().__init__(join_context(message, event_uuid and f"event {event_uuid}", location and f"at {location}"))


class EventFormatError(StoreError):
    """An event is not valid MISP event JSON (malformed JSON, no ``Event``, no ``uuid``, wrong types)."""


# --- trust: key files and signing -------------------------------------------------------------------------------------


class KeyFileError(ConfigError):
    """A private key file is missing, unreadable, too widely readable, or would be overwritten.

    ``path`` names the file; the message never contains the key.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(join_context(message, None if path is None else str(path)))


class TrustError(LegionError):
    """Base class of the errors raised by :mod:`legion_misp.trust`."""


class SigningError(TrustError):
    """An object cannot be signed (not a STIX object, or not representable as RFC 8785 canonical JSON).

    ``object_id`` names the object when it has one.
    """

    def __init__(self, message: str, *, object_id: str | None = None):
        self.object_id = object_id
        super().__init__(join_context(message, object_id and f"object {object_id}"))


# --- connectors: TAXII sync -------------------------------------------------------------------------------------------
class SyncError(LegionError):
    """A sync step failed. ``collection`` is ``<api root>|<collection id>``; ``status`` the HTTP status if any."""

    def __init__(self, message: str, *, collection: str | None = None, status: int | None = None,
                 object_id: str | None = None):
        self.collection = collection
        self.status = status
        self.object_id = object_id
        super().__init__(join_context(message, object_id and f"object {object_id}",
                                      collection and f"collection {collection}"))


class TransportError(SyncError):
    """The server could not be reached (DNS, refused connection, TLS, timeout) after every retry."""


class AuthenticationError(SyncError):
    """The server refused the credentials (HTTP 401)."""


class AccessDeniedError(SyncError):
    """The account may not read or write this collection (403, or 404 from servers that hide collections)."""


class ProtocolError(SyncError):
    """The server answered something a TAXII 2.1 server should not (bad JSON, missing fields, unexpected status)."""


class InvalidPageError(ProtocolError):
    """A page that is not a TAXII envelope (not JSON, not an object). ``payload`` keeps its first bytes for the
    quarantine."""

    def __init__(self, message: str, *, payload: str = "", **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.payload = payload


class NextExpiredError(ProtocolError):
    """A ``next`` token was refused (expired, exhausted, or filters changed): resume from the cursor."""


class SanitizerUnavailableError(SyncError):
    """No sanitiser is installed and ``--no-sanitize`` was not given: nothing is published."""

    exit_code = 2


class LockedError(SyncError):
    """Another sync run holds the lock."""
