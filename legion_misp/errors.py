"""Typed errors. Each carries enough context (file, event uuid, URL, key path) to act on it.

Exit codes used by the CLI: 0 everything succeeded, 1 some items failed, 2 usage or configuration error.
"""

from __future__ import annotations

from dataclasses import dataclass

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
