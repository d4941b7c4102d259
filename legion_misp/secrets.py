"""Secret references: configuration never holds a secret literally.

A secret field takes ``env:NAME`` (read from the environment) or ``file:PATH`` (read from a file, relative paths
resolved against the configuration file's folder). Resolved values are registered with the log redaction filter
(:mod:`legion_misp.log`) and never appear in ``repr``, errors or logs. Every secret file legion-misp creates (keys,
the pseudonym key, passwords, certificates' private keys) is written by :func:`write_secret_file`.
"""

from __future__ import annotations

import contextlib
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


SECRET_FILE_MODE = 0o600
SECRET_DIR_MODE = 0o700


def write_secret_file(path: Path, data: bytes | str, *, replace: bool = False) -> Path:
    """Write a secret to ``path`` with mode 0600, atomically: never a partly written or world-readable file.

    The data goes to a temporary file created ``O_EXCL | O_NOFOLLOW`` with mode 0600 (whatever the umask) beside
    ``path``, is fsynced, then linked to ``path`` (``replace=False``: fails if ``path`` exists, even if it appeared
    meanwhile) or renamed over it (``replace=True``). A missing folder is created with mode 0700.

    Raises ``FileExistsError`` when ``path`` exists and ``replace`` is false, ``OSError`` when it cannot be written.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True, mode=SECRET_DIR_MODE)
    if not replace and path.exists():
        raise FileExistsError(f"{path} exists")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         SECRET_FILE_MODE)
    try:
        try:
            os.fchmod(descriptor, SECRET_FILE_MODE)
            os.write(descriptor, payload)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # raises FileExistsError if path appeared meanwhile: never overwrite
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
