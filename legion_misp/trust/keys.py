"""Ed25519 signing keys on disk.

- The private key file holds one PKCS#8 PEM key (``openssl pkey -in FILE -pubout`` reads it). It is created
  atomically with mode 0600: the key is written to a temporary file opened ``O_CREAT | O_EXCL`` with mode 0600 in
  the same folder, flushed and fsynced, then linked into place (``link`` fails if the target exists, so a key is
  never overwritten by accident) or, for a rotation, renamed over the old one after the old one was archived.
- Loading refuses a key file that the group or others may read or write (like ``ssh`` does), naming the path and
  the mode. The key text goes through :class:`~legion_misp.secrets.Secret`, so it is redacted from every log line.
- Public keys are shown as base64 of the 32 raw bytes (what ``[[federation.members]] public_key`` holds).

Nothing in this module logs or prints a private key; errors name files, never contents.
"""

from __future__ import annotations

import base64
import datetime as dt
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import KeyFileError, SecretError
from ..secrets import SECRET_FILE_MODE, Secret, write_secret_file
from .roster import key_id

KEY_FILE_MODE = SECRET_FILE_MODE


def public_key_text(public_key: Ed25519PublicKey | bytes) -> str:
    """Base64 (standard alphabet) of the 32 raw public key bytes."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_key(public_key)
    return base64.b64encode(raw).decode("ascii")


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key pair: the public key and its id (never the private key)."""

    public_key: str
    key_id: str

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> KeyInfo:
        raw = raw_public_key(private_key.public_key())
        return cls(public_key=public_key_text(raw), key_id=key_id(raw))


def generate_key_file(path: Path) -> KeyInfo:
    """Create a new key pair in ``path`` (mode 0600). Raises :class:`KeyFileError` if ``path`` exists."""
    key = Ed25519PrivateKey.generate()
    _write_new(path, _pem(key), replace=False)
    return KeyInfo.of(key)


def rotate_key_file(path: Path, *, now: dt.datetime) -> tuple[KeyInfo, KeyInfo, Path]:
    """Replace the key in ``path`` by a new one; the old file is kept as ``<path>.retired-<UTC time>`` (mode 0600).

    Returns (old key, new key, archive path). The old public key is what peers list under ``previous_keys`` with
    ``retired_at = now``; they accept it for ``key_overlap`` more.
    """
    old = load_private_key(path)
    archive = path.with_name(f"{path.name}.retired-{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}")
    _write_new(archive, _pem(old), replace=False)
    new = Ed25519PrivateKey.generate()
    _write_new(path, _pem(new), replace=True)
    return KeyInfo.of(old), KeyInfo.of(new), archive


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a key file written by :func:`generate_key_file`.

    Raises
    ------
    KeyFileError
        The file is missing, not a regular file, readable or writable by group/others (mode is named), or does
        not hold an Ed25519 private key.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyFileError("private key file does not exist (create it with `legion keys generate`)",
                           path=path) from None
    except OSError as exc:
        raise KeyFileError(f"private key file cannot be read ({exc.strerror})", path=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError("private key path is not a regular file", path=path)
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(f"private key file has mode {mode:04o}: group or others may access it; run "
                           f"`chmod 600` on it (and consider the key exposed if others could read it)", path=path)
    try:
        text = Secret(f"file:{path}").reveal()  # registers the key text for log redaction
    except SecretError as exc:
        raise KeyFileError(f"private key file cannot be read: {exc}", path=path) from None
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise KeyFileError("file does not hold an unencrypted PKCS#8 PEM private key", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("file holds a private key that is not Ed25519", path=path)
    return key


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_new(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a key file with mode 0600, atomically (:func:`~legion_misp.secrets.write_secret_file`)."""
    try:
        write_secret_file(path, data, replace=replace)
    except FileExistsError:
        raise KeyFileError("refusing to overwrite an existing key file (use `legion keys rotate` to replace a "
                           "key)", path=path) from None
    except OSError as exc:
        raise KeyFileError(f"cannot create the key file ({exc.strerror})", path=path) from None
