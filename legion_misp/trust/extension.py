"""The ``legion-misp object signature`` STIX 2.1 property extension: its id, JSON schema and definition object.

Every object a member publishes carries, under ``extensions``, one entry keyed by :data:`EXTENSION_ID`::

    "extensions": {
      "extension-definition--adc28265-c244-4716-bc4f-aec79844e178": {
        "extension_type": "property-extension",
        "signer": "member-7f3a",
        "algorithm": "Ed25519",
        "key_id": "3f5c0d0e4b1a9c7e2d6f8a0b1c2d3e4f",
        "signature": "<base64url, no padding, of the 64-byte Ed25519 signature>"
      }
    }

The signature covers the RFC 8785 canonical JSON of the object with only the ``signature`` member of this entry
removed (so the signer, algorithm and key id are signed too); see :mod:`.canonical`.

Constants: the extension-definition object and the identity it names as its creator are protocol constants. They
are published unsigned (every member publishes the same bytes, so a collection holds one copy), and a verifier
accepts them only when they equal these constants exactly. The same holds for the four STIX 2.1 TLP 1.0 marking
definitions, which every producer copies verbatim from the specification.
"""

from __future__ import annotations

import json
from typing import Any

EXTENSION_ID = "extension-definition--adc28265-c244-4716-bc4f-aec79844e178"
EXTENSION_VERSION = "1.0.0"
ALGORITHM = "Ed25519"
CREATOR_ID = "identity--9d7b2218-ed1e-4b3b-b9f9-1f8ed10e2fb3"
_DEFINED = "2026-01-01T00:00:00.000Z"

SIGNATURE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://legion-misp.invalid/schemas/object-signature/1.0.0",
    "title": "legion-misp object signature",
    "description": (
        "An Ed25519 signature by a federation member over the RFC 8785 (JCS) canonical JSON of the STIX object "
        "that carries it, computed with this extension entry present but without its 'signature' member. The "
        "member and key are looked up in the verifier's roster by 'signer' and 'key_id'."),
    "type": "object",
    "properties": {
        "extension_type": {"const": "property-extension"},
        "signer": {"type": "string", "minLength": 1, "maxLength": 200,
                   "description": "The member's federation pseudonym, as in the roster."},
        "algorithm": {"const": ALGORITHM, "description": "Ed25519 (RFC 8032), pure, no pre-hash."},
        "key_id": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                   "description": "First 16 bytes of SHA-256 over the 32 raw public key bytes, in hex."},
        "signature": {"type": "string", "pattern": "^[A-Za-z0-9_-]{86}$",
                      "description": "The 64-byte signature, base64url without padding."},
    },
    "required": ["extension_type", "signer", "algorithm", "key_id", "signature"],
    "additionalProperties": False,
}


def creator_identity() -> dict[str, Any]:
    """The identity named as the extension's creator (a constant, published unsigned)."""
    return {
        "type": "identity", "spec_version": "2.1", "id": CREATOR_ID, "created": _DEFINED, "modified": _DEFINED,
        "name": "legion-misp", "identity_class": "system",
        "description": "The legion-misp federation software; defines the object signature extension.",
    }


def extension_definition() -> dict[str, Any]:
    """The ``extension-definition`` object (a constant, published unsigned, once per collection)."""
    return {
        "type": "extension-definition", "spec_version": "2.1", "id": EXTENSION_ID, "created_by_ref": CREATOR_ID,
        "created": _DEFINED, "modified": _DEFINED, "name": "legion-misp object signature",
        "description": "Ed25519 signature of a federation member over the object's RFC 8785 canonical JSON.",
        "schema": json.dumps(SIGNATURE_SCHEMA, sort_keys=True, separators=(",", ":")),
        "version": EXTENSION_VERSION, "extension_types": ["property-extension"],
    }


def _tlp(uuid: str, colour: str) -> dict[str, Any]:
    return {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uuid}",
            "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": f"TLP:{colour.upper()}",
            "definition": {"tlp": colour}}


TLP_MARKINGS: tuple[dict[str, Any], ...] = (
    _tlp("613f2e26-407d-48c7-9eca-b8e91df99dc9", "white"),
    _tlp("34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"),
    _tlp("f88d31f6-486f-44da-b317-01333bde0b82", "amber"),
    _tlp("5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"),
)


def constant_objects() -> dict[str, dict[str, Any]]:
    """Objects every member publishes identically and unsigned, by id."""
    objects = [creator_identity(), extension_definition(), *TLP_MARKINGS]
    return {o["id"]: o for o in objects}


def published_constants() -> list[dict[str, Any]]:
    """What a signing publisher adds to a collection once: the creator identity and the extension definition."""
    return [creator_identity(), extension_definition()]
