"""A small federation with honest members and one malicious member, on a real TAXII 2.1 server (127.0.0.1).

Used by the ``legion demo`` trust stage and by the trust tests. Honest members publish through the real sync
path (misp-stix, signing, envelopes); the malicious member posts hand-made objects straight to the server, the
way a compromised member would. Nothing here is needed in production.

What the malicious member ``member-m`` tries (see :data:`ATTACKS`):

============== =====================================================================================
attack         what it posts                                               expected verdict
============== =====================================================================================
flood          25 invented indicators, properly signed by itself            accepted, never to_ids
forge          an indicator claiming to be member-a (member-a's key id)     bad-signature
tamper         member-a's indicator with the pattern changed (new version)  bad-signature
replay         member-a's older indicator version, to the other collection  replay
hijack         member-a's indicator re-signed by member-m (newer version)   signer-changed
trespass       its own indicator on the collection it may not publish to    not-allowed
impostor       an indicator signed by member-x, not in the roster           unknown-member
stolen-key     an indicator signed with member-c's revoked key              revoked-key
unsigned       an indicator without signature                               unsigned
============== =====================================================================================
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..trust import EXTENSION_ID, Roster, Signer, public_key_text, signing_payload
from ..trust.signing import b64url
from ..trust.timeutil import format_time

NAMESPACE = uuid.UUID("0d7c4a5e-93b1-4f4e-9a63-5b0f2d1c7e42")

ATTACKS: dict[str, str] = {
    "forge": "bad-signature", "tamper": "bad-signature", "replay": "replay", "hijack": "signer-changed",
    "trespass": "not-allowed", "impostor": "unknown-member", "stolen-key": "revoked-key", "unsigned": "unsigned",
}


@dataclass
class SimMember:
    """A simulated member: pseudonym and key pair (kept in memory)."""

    pseudonym: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate, repr=False)

    @property
    def signer(self) -> Signer:
        return Signer(self.pseudonym, self.key)

    @property
    def public_key(self) -> str:
        return public_key_text(self.key.public_key())


def roster_entries(members: dict[str, SimMember], collections: dict[str, list[str]],
                   revoked: dict[str, list[tuple[SimMember, dt.datetime]]] | None = None) -> list[dict[str, Any]]:
    """``[[federation.members]]``-shaped entries: each member's current key, collections, revoked keys."""
    entries = []
    for name, member in members.items():
        entry: dict[str, Any] = {"pseudonym": member.pseudonym, "public_key": member.public_key,
                                 "collections": collections.get(name, [])}
        if revoked and name in revoked:
            entry["revoked_keys"] = [{"public_key": old.public_key, "revoked_at": format_time(when),
                                      "reason": "key stolen"} for old, when in revoked[name]]
        entries.append(entry)
    return entries


def build_roster(*args: Any, **kwargs: Any) -> Roster:
    return Roster.from_entries(roster_entries(*args, **kwargs))


def ip_indicator(value: str, *, created: dt.datetime, stix_id: str | None = None,
                 modified: dt.datetime | None = None, name: str | None = None) -> dict[str, Any]:
    """A STIX 2.1 indicator for a destination IPv4 address, shaped as misp-stix makes them."""
    stamp = format_time(created)
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid5(NAMESPACE, value + stamp)}",
        "created": stamp, "modified": format_time(modified or created), "name": name or f"C2 address {value}",
        "pattern": f"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '{value}']",
        "pattern_type": "stix", "pattern_version": "2.1", "valid_from": stamp,
        "labels": ["misp:type=\"ip-dst\"", "misp:category=\"Network activity\"", "misp:to_ids=\"True\""],
    }


def report(name: str, refs: list[str], *, created: dt.datetime) -> dict[str, Any]:
    """A STIX report grouping ``refs`` (what a MISP event becomes)."""
    stamp = format_time(created)
    return {"type": "report", "spec_version": "2.1", "id": f"report--{uuid.uuid5(NAMESPACE, name + stamp)}",
            "created": stamp, "modified": stamp, "name": name, "published": stamp, "report_types": ["threat-report"],
            "object_refs": refs}


def misp_event(name: str, ips: list[str], *, timestamp: int, org: str) -> dict[str, Any]:
    """A published MISP event with one ``ip-dst`` (to_ids) attribute per address; stable uuids."""
    def uid(*parts: object) -> str:
        return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))

    return {
        "uuid": uid("event", org, name), "info": name, "date": "2026-11-01", "timestamp": str(timestamp),
        "publish_timestamp": str(timestamp + 1), "published": True, "threat_level_id": "2", "analysis": "2",
        "distribution": "3", "Orgc": {"name": org, "uuid": uid("org", org)},
        "Org": {"name": org, "uuid": uid("org", org)},
        "Tag": [{"name": "tlp:green"}],
        "Attribute": [{"uuid": uid("attr", org, name, ip), "type": "ip-dst", "category": "Network activity",
                       "value": ip, "to_ids": True, "timestamp": str(timestamp), "comment": ""} for ip in ips],
        "Object": [],
    }


def tampered(obj: dict[str, Any], *, pattern_ip: str, at: dt.datetime) -> dict[str, Any]:
    """``obj`` with another address in its pattern and a newer ``modified``, its original signature kept."""
    changed = copy.deepcopy(obj)
    changed["pattern"] = (f"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = "
                          f"'{pattern_ip}']")
    changed["modified"] = format_time(at)
    return changed


def forged(obj: dict[str, Any], *, claimed: SimMember, actual: SimMember) -> dict[str, Any]:
    """``obj`` carrying a well-formed signature entry that claims ``claimed`` (pseudonym and key id), computed
    over the correct payload but with ``actual``'s key: what a member forging another's signature can do."""
    signed = copy.deepcopy(obj)
    entry = {"extension_type": "property-extension", "signer": claimed.pseudonym, "algorithm": "Ed25519",
             "key_id": claimed.signer.key_id}
    signed["extensions"] = {**signed.get("extensions", {}), EXTENSION_ID: entry}
    entry["signature"] = b64url(actual.key.sign(signing_payload(signed)))
    return signed


def serialise(objects: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(o, separators=(",", ":")).encode("utf-8") for o in objects]


def write_password_files(folder: Path, passwords: dict[str, str]) -> dict[str, str]:
    """Password files (mode 0600) for ``file:`` secret references; returns user → reference."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    references = {}
    for user, password in passwords.items():
        path = folder / f"{user}.password"
        path.write_text(password, encoding="utf-8")
        path.chmod(0o600)
        references[user] = f"file:{path}"
    return references
