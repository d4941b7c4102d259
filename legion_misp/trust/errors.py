"""Typed trust errors. Each names the file, member or object it is about; none ever contains key material."""

from __future__ import annotations

from pathlib import Path

from ..errors import EXIT_USAGE, ConfigError, LegionError


class TrustError(LegionError):
    """Base class of the errors raised by :mod:`legion_misp.trust`."""


class KeyFileError(ConfigError):
    """A private key file is missing, unreadable, too widely readable, or would be overwritten.

    ``path`` names the file; the message never contains the key.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(message if path is None else f"{message} — {path}")


class SigningError(TrustError):
    """An object cannot be signed (not a STIX object, or not representable as RFC 8785 canonical JSON).

    ``object_id`` names the object when it has one.
    """

    def __init__(self, message: str, *, object_id: str | None = None):
        self.object_id = object_id
        super().__init__(message if object_id is None else f"{message} — object {object_id}")
