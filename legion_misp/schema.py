"""A small declarative schema for TOML configuration tables.

Each section of ``legion.toml`` is described by :class:`Key` entries. :func:`validate_table` checks a table against
its keys, fills defaults, and returns every problem with its full key path, so ``legion config check`` can report all
of them at once. Sections of other subsystems (privacy, sync, learning, ...) register their own keys with
:func:`legion_misp.config.sections`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigProblem
from .secrets import is_secret_reference
from .timeutil import is_duration as is_duration  # durations live in timeutil; re-exported for existing callers
from .timeutil import parse_duration as parse_duration

Check = Callable[[Any], str | None]


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Key:
    """One configuration key: its TOML type(s), default, an optional value check, and its documentation."""

    name: str
    kind: type | tuple[type, ...]
    default: Any = REQUIRED
    doc: str = ""
    check: Check | None = None
    secret: bool = False
    item_schema: tuple[Key, ...] | None = field(default=None)  # for arrays of tables

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "an array", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _has_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, kinds)


def validate_table(table: Any, keys: tuple[Key, ...], path: str) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """Validate ``table`` against ``keys``; return values with defaults filled, and all problems found."""
    if not isinstance(table, dict):
        return {}, [ConfigProblem(path, "must be a table")]
    problems: list[ConfigProblem] = []
    known = {k.name for k in keys}
    for name in table:
        if name not in known:
            problems.append(ConfigProblem(_join(path, name), f"unknown key (known: {', '.join(sorted(known))})"))
    values: dict[str, Any] = {}
    for key in keys:
        value, key_problems = _validate_key(table, key, _join(path, key.name))
        problems.extend(key_problems)
        values[key.name] = value
    return values, problems


def _validate_key(table: dict, key: Key, path: str) -> tuple[Any, list[ConfigProblem]]:
    if key.name not in table:
        if key.required:
            return None, [ConfigProblem(path, "is required")]
        return key.default, []
    value = table[key.name]
    if not _has_kind(value, key.kind):
        return key.default, [ConfigProblem(path, f"must be {_type_name(key.kind)}, got {type(value).__name__}")]
    if key.secret and not is_secret_reference(value):
        return None, [ConfigProblem(path, "is a secret: write 'env:NAME' or 'file:PATH', never the value itself")]
    if key.item_schema is not None:
        return _validate_items(value, key.item_schema, path)
    if key.check is not None:
        message = key.check(value)
        if message:
            return key.default, [ConfigProblem(path, message)]
    return value, []


def _validate_items(items: list, schema: tuple[Key, ...], path: str) -> tuple[list, list[ConfigProblem]]:
    values, problems = [], []
    for index, item in enumerate(items):
        item_values, item_problems = validate_table(item, schema, f"{path}[{index}]")
        values.append(item_values)
        problems.extend(item_problems)
    return values, problems


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---- reusable value checks -------------------------------------------------------------------------------------

def each(check: Check) -> Check:
    """Apply ``check`` to every item of a list; report the first failing item by index."""

    def _check(values: list) -> str | None:
        for index, value in enumerate(values):
            message = check(value)
            if message:
                return f"item {index}: {message}"
        return None

    return _check


def is_network(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string such as '10.0.0.0/8'"
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"{value!r} is not an IP network (CIDR)"
    return None


def is_domain(value: Any) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"(?i)[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?", value.strip(".")):
        return f"{value!r} is not a domain name"
    return None


def is_regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    try:
        re.compile(value)
    except re.error as exc:
        return f"{value!r} is not a valid regular expression: {exc}"
    return None


def non_empty_str(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must not be empty"


def one_of(*options: str) -> Check:
    def _check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}; got {value!r}"

    return _check


def in_range(low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Check:
    def _check(value: Any) -> str | None:
        if low is not None and (value <= low if low_open else value < low):
            return f"must be {'>' if low_open else '>='} {low}; got {value}"
        if high is not None and value > high:
            return f"must be <= {high}; got {value}"
        return None

    return _check


def is_url(value: Any) -> str | None:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        return f"{value!r} is not an http(s) URL"
    return None
