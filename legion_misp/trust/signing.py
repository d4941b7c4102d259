"""Signing outgoing STIX objects with this organisation's key.

A :class:`Signer` holds the private key in memory only; ``repr`` shows the pseudonym and key id. Signing is
deterministic (Ed25519), so publishing the same object version twice gives the same bytes, and a TAXII server's
(id, version) deduplication keeps working.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import KeyFileError, SigningError
from .canonical import CanonicalizationError, signing_payload
from .extension import ALGORITHM, EXTENSION_ID, constant_objects
from .keys import KeyInfo, load_private_key

if TYPE_CHECKING:
    from ..config import Config


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Signs STIX objects as ``pseudonym`` with an Ed25519 private key.

    Parameters
    ----------
    pseudonym : the signer name peers look up in their roster (our ``organisation.pseudonym``).
    private_key : the key; kept in memory, never shown.
    """

    def __init__(self, pseudonym: str, private_key: Ed25519PrivateKey):
        self.pseudonym = pseudonym
        self._key = private_key
        self.info = KeyInfo.of(private_key)

    def __repr__(self) -> str:
        return f"Signer({self.pseudonym!r}, key_id={self.info.key_id!r})"

    @classmethod
    def from_file(cls, pseudonym: str, path: Path) -> Signer:
        """Load the key file (mode 0600 enforced). Raises :class:`~.errors.KeyFileError`."""
        return cls(pseudonym, load_private_key(path))

    @classmethod
    def from_config(cls, config: Config) -> Signer | None:
        """Our signer, or None when ``[federation] private_key`` is not set."""
        reference = config.section("federation")["private_key"]
        if not reference:
            return None
        return cls.from_file(config.organisation.pseudonym, config.resolve_path(reference.removeprefix("file:")))

    @property
    def key_id(self) -> str:
        return self.info.key_id

    def sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` carrying our signature (an existing signature entry is replaced).

        Protocol constants (the extension definition, its creator identity, the STIX TLP markings) are returned
        unchanged: every member publishes them identically and unsigned.

        Raises
        ------
        SigningError
            ``obj`` is not a STIX object (no string ``id``) or cannot be canonicalised (RFC 8785).
        """
        stix_id = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(stix_id, str):
            raise SigningError("not a STIX object (no string 'id')")
        if stix_id in constant_objects():
            return copy.deepcopy(obj)
        signed = copy.deepcopy(obj)
        extensions = signed.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise SigningError("'extensions' is not an object", object_id=stix_id)
        entry = {"extension_type": "property-extension", "signer": self.pseudonym, "algorithm": ALGORITHM,
                 "key_id": self.info.key_id}
        signed["extensions"] = {**(extensions or {}), EXTENSION_ID: entry}
        try:
            payload = signing_payload(signed)
        except CanonicalizationError as exc:
            raise SigningError(str(exc), object_id=stix_id) from None
        entry["signature"] = b64url(self._key.sign(payload))
        return signed

    def sign_json(self, data: bytes | str) -> bytes:
        """Sign one serialised STIX object; return it serialised again (compact JSON, UTF-8)."""
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise SigningError(f"not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise SigningError("not a JSON object")
        return json.dumps(self.sign(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def require_signer(config: Config) -> Signer:
    """Our signer; raises :class:`~.errors.KeyFileError` explaining how to create a key when none is set."""
    signer = Signer.from_config(config)
    if signer is None:
        raise KeyFileError("[federation] private_key is not set: create a key with `legion keys generate` and add "
                           "private_key = \"file:PATH\" to [federation]")
    return signer
