"""Secret references: configuration never holds a secret literally.

A secret field takes ``env:NAME`` (read from the environment) or ``file:PATH`` (read from a file, relative paths
resolved against the configuration file's folder). Resolved values are registered with the log redaction filter
(:mod:`legion_misp.log`) and never appear in ``repr``, errors or logs.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import SecretError

_REVEALED: set[str] = set()


def revealed_values() -> frozenset[str]:
    """Secret values resolved in this process so far (for log redaction only)."""
    return frozenset(_REVEALED)


def is_secret_reference(text: object) -> bool:
    return isinstance(text, str) and (text.startswith("env:") or text.startswith("file:"))


class Secret:
    """A reference to a secret. ``reveal()`` returns the value; ``str``/``repr`` show only the reference."""

    __slots__ = ("_base_dir", "reference")

    def __init__(self, reference: str, base_dir: Path | None = None):
        if not is_secret_reference(reference):
            raise SecretError(
                "a secret must be given as 'env:NAME' or 'file:PATH', never literally in the configuration"
            )
        self.reference = reference
        self._base_dir = base_dir

    def __repr__(self) -> str:
        return f"Secret({self.reference!r})"

    __str__ = __repr__

    def reveal(self) -> str:
        """Resolve the reference. Raises :class:`SecretError` naming the reference, never the value."""
        kind, _, name = self.reference.partition(":")
        value = _read_env(name) if kind == "env" else _read_file(name, self._base_dir)
        if value:
            _REVEALED.add(value)
        return value


def _read_env(name: str) -> str:
    if not name:
        raise SecretError("secret reference 'env:' names no environment variable")
    value = os.environ.get(name)
    if value is None or value == "":
        raise SecretError(f"environment variable {name} (secret reference env:{name}) is not set")
    return value


def _read_file(name: str, base_dir: Path | None) -> str:
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise SecretError(f"secret file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"secret file {path} cannot be read: {type(exc).__name__}") from exc
    if not value:
        raise SecretError(f"secret file {path} is empty")
    return value
