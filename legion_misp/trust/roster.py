"""The federation roster: who may sign, with which keys, on which collections.

A :class:`Roster` is a value: built once from ``[[federation.members]]`` (or from entries in the same shape, for
the MISP import module) and never changed. Keys are looked up by their key id (:func:`key_id`), which every
signature names.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import ConfigError, ConfigProblem
from ..timeutil import parse_time

if TYPE_CHECKING:
    from ..config import Config

ANY_COLLECTION = "*"


def key_id(public_key: bytes) -> str:
    """The id of a raw 32-byte Ed25519 public key: the first 16 bytes of its SHA-256, in hex (32 characters)."""
    return hashlib.sha256(public_key).hexdigest()[:32]


def is_ed25519_public_key(value: Any) -> str | None:
    """Check a base64 (standard or URL-safe) raw 32-byte Ed25519 public key, optionally prefixed ``ed25519:``."""
    try:
        decode_ed25519_public_key(value)
    except ValueError:
        return "not a valid Ed25519 key (expected base64 of the 32-byte raw public key)"
    return None


def decode_ed25519_public_key(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a string")
    text = value.removeprefix("ed25519:").strip()
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except Exception as exc:
        raise ValueError("invalid Ed25519 public key") from exc
    return raw


class KeyStatus(StrEnum):
    CURRENT = "current"      # the member signs with it now
    PREVIOUS = "previous"    # rotated out at `since`; valid for the key overlap after that
    REVOKED = "revoked"      # never valid from `since` on


@dataclass(frozen=True)
class MemberKey:
    """One public key of a member. ``since`` is ``retired_at`` (previous) or ``revoked_at`` (revoked)."""

    public_key: bytes = field(repr=False)
    status: KeyStatus = KeyStatus.CURRENT
    since: dt.datetime | None = None
    reason: str = ""

    @property
    def id(self) -> str:
        return key_id(self.public_key)


@dataclass(frozen=True)
class Member:
    """A federation member: its pseudonym, its keys and the collections it may publish to."""

    pseudonym: str
    keys: tuple[MemberKey, ...]
    collections: frozenset[str] = frozenset()

    @property
    def current_key(self) -> MemberKey:
        return next(k for k in self.keys if k.status is KeyStatus.CURRENT)

    def key(self, wanted_id: str) -> MemberKey | None:
        return next((k for k in self.keys if k.id == wanted_id), None)

    def may_publish_to(self, collection: str) -> bool:
        return ANY_COLLECTION in self.collections or collection in self.collections


@dataclass(frozen=True)
class Roster:
    """All members. Pseudonyms and public keys are unique across the roster (checked when built)."""

    members: tuple[Member, ...] = ()

    def __post_init__(self) -> None:
        problems = _roster_problems(self.members)
        if problems:
            raise ConfigError(f"the federation roster has {len(problems)} problem(s):", problems)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, pseudonym: object) -> bool:
        return self.get(pseudonym) is not None  # type: ignore[arg-type]

    def get(self, pseudonym: str) -> Member | None:
        return next((m for m in self.members if m.pseudonym == pseudonym), None)

    def owner_of(self, wanted_id: str) -> tuple[Member, MemberKey] | None:
        """The member holding a key id (any status), or None."""
        for member in self.members:
            found = member.key(wanted_id)
            if found is not None:
                return member, found
        return None

    @property
    def pseudonyms(self) -> tuple[str, ...]:
        return tuple(m.pseudonym for m in self.members)

    @classmethod
    def from_config(cls, config: Config) -> Roster:
        """The roster of ``[[federation.members]]``. Raises :class:`ConfigError` naming each bad entry."""
        return cls.from_entries(config.section("federation")["members"])

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]]) -> Roster:
        """Build from dicts shaped like ``[[federation.members]]`` (``pseudonym``, ``public_key``, optional
        ``collections``, ``previous_keys``, ``revoked_keys``). Raises :class:`ConfigError` listing every problem."""
        members: list[Member] = []
        problems: list[ConfigProblem] = []
        for index, entry in enumerate(entries):
            where = f"federation.members[{index}]"
            try:
                members.append(_member(entry, where))
            except _EntryError as exc:
                problems.append(ConfigProblem(exc.where, exc.message))
        if problems:
            raise ConfigError(f"the federation roster has {len(problems)} problem(s):", problems)
        return cls(tuple(members))


class _EntryError(ValueError):
    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where, self.message = where, message


def _decode(value: Any, where: str) -> bytes:
    try:
        return decode_ed25519_public_key(value)
    except ValueError:
        raise _EntryError(where, "not a valid Ed25519 key (expected base64 of the 32-byte raw public key)") from None


def _time(value: Any, where: str) -> dt.datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise _EntryError(where, str(exc)) from None


def _member(entry: Mapping[str, Any], where: str) -> Member:
    if not isinstance(entry, Mapping):
        raise _EntryError(where, "must be a table")
    pseudonym = entry.get("pseudonym")
    if not isinstance(pseudonym, str) or not pseudonym.strip():
        raise _EntryError(f"{where}.pseudonym", "must not be empty")
    keys = [MemberKey(_decode(entry.get("public_key"), f"{where}.public_key"))]
    for index, item in enumerate(entry.get("previous_keys") or []):
        path = f"{where}.previous_keys[{index}]"
        keys.append(MemberKey(_decode(item.get("public_key"), f"{path}.public_key"), KeyStatus.PREVIOUS,
                              _time(item.get("retired_at"), f"{path}.retired_at")))
    for index, item in enumerate(entry.get("revoked_keys") or []):
        path = f"{where}.revoked_keys[{index}]"
        keys.append(MemberKey(_decode(item.get("public_key"), f"{path}.public_key"), KeyStatus.REVOKED,
                              _time(item.get("revoked_at"), f"{path}.revoked_at"), str(item.get("reason") or "")))
    collections = entry.get("collections") or []
    if isinstance(collections, str) or not all(isinstance(c, str) for c in collections):
        raise _EntryError(f"{where}.collections", "must be an array of collection ids")
    return Member(pseudonym=pseudonym, keys=tuple(keys), collections=frozenset(collections))


def _roster_problems(members: tuple[Member, ...]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    names: dict[str, int] = {}
    holders: dict[str, tuple[int, str]] = {}
    for index, member in enumerate(members):
        where = f"federation.members[{index}]"
        if member.pseudonym in names:
            problems.append(ConfigProblem(f"{where}.pseudonym", f"duplicate of federation.members"
                                                                f"[{names[member.pseudonym]}]"))
        names.setdefault(member.pseudonym, index)
        if sum(1 for k in member.keys if k.status is KeyStatus.CURRENT) != 1:
            problems.append(ConfigProblem(f"{where}.public_key", "a member needs exactly one current key"))
        for key in member.keys:
            held = holders.get(key.id)
            if held is None:
                holders[key.id] = (index, key.status.value)
            elif held[0] == index:
                problems.append(ConfigProblem(where, f"key {key.id} is listed twice for this member "
                                                     f"({held[1]} and {key.status.value})"))
            else:
                problems.append(ConfigProblem(where, f"key {key.id} is also listed for federation.members"
                                                     f"[{held[0]}]: a key belongs to one member only"))
    return problems
