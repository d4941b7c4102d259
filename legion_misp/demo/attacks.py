"""A small federation with honest members and one malicious member, on a real TAXII 2.1 server (127.0.0.1).

Its helpers (attacks, indicators, events) are used by the ``legion demo`` federation stage
(:mod:`legion_misp.demo.sharing_stage`, on the real example events); :func:`run_scenario` is the same attack set
on synthetic indicators, for the trust tests. Honest members publish through the real sync
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
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.job import SyncJob
from connectors.settings import CollectionSettings, SyncSettings
from connectors.state import SyncState
from connectors.transport import TaxiiClient
from legion_misp.demo.taxii_server import EmbeddedTaxiiServer

from ..secrets import Secret, write_secret_file
from ..stores import MemoryEventStore
from ..stores.events import iter_attributes
from ..timeutil import format_time
from ..trust import EXTENSION_ID, Roster, Signer, TrustPolicy, TrustSettings, public_key_text, signing_payload
from ..trust.corroboration import TAG_PREFIX
from ..trust.signing import b64url

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
    """A STIX 2.1 indicator for an IPv4 address, as a non-MISP producer writes it."""
    stamp = format_time(created)
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid5(NAMESPACE, value + stamp)}",
        "created": stamp, "modified": format_time(modified or created), "name": name or f"C2 address {value}",
        "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": stamp, "indicator_types": ["malicious-activity"],
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
        path = write_secret_file(folder / f"{user}.password", password, replace=True)
        references[user] = f"file:{path}"
    return references


@dataclass
class ScenarioResult:
    """What the malicious-member scenario produced, for the demo table and its test."""

    rejected: dict[str, int]                    # code → count, at member-c
    reasons: list[tuple[str, str]]              # (attack, quarantine reason) in attack order
    trusted: list[str]                          # values with to_ids at member-c
    untrusted: dict[str, str]                   # value → corroboration tag, to_ids false
    flood: int                                  # invented indicators member-m published
    flood_trusted: int                          # of those, how many got to_ids (must be 0)
    corroborated_later: int                     # stored events updated when member-b confirmed
    seconds: float = 0.0


def run_scenario(workdir: Path) -> ScenarioResult:
    """Run the federation of :data:`ATTACKS` on the embedded TAXII server (medallion in this process, 127.0.0.1)
    and return what member-c kept.

    Members a, b, c publish honestly (b confirms two of a's addresses later); member-m floods and attacks;
    member-c pulls with the roster, f = 1, after each step.
    """
    started = time.perf_counter()
    if workdir.exists():
        shutil.rmtree(workdir)
    accounts = {f"org{x}": f"demo-{x}-{uuid.uuid4().hex[:8]}" for x in "ABCM"}
    references = write_password_files(workdir / "secrets", accounts)
    server = EmbeddedTaxiiServer(workdir / "taxii-server", users=accounts,
                                 collections={"shared": {}, "restricted": {}}, max_page_size=200)
    server.start()
    try:
        ids = server.collection_ids
        api_root = server.api_root
        members = {k: SimMember(f"member-{k}") for k in ("a", "b", "c", "m")}
        stolen, stranger = SimMember("member-c"), SimMember("member-x")
        now = dt.datetime.now(dt.UTC)
        roster = build_roster(members, {"a": [ids["shared"], ids["restricted"]],
                                        "b": [ids["shared"], ids["restricted"]],
                                        "c": [ids["shared"], ids["restricted"]], "m": [ids["shared"]]},
                              revoked={"c": [(stolen, now - dt.timedelta(days=1))]})
        sync = SyncSettings(state_path=workdir / "state.sqlite", lock_path=workdir / "sync.lock", retries=1,
                            backoff=0.05, status_poll_interval=0.05, page_size=200)

        def where(title: str, user: str, direction: str) -> CollectionSettings:
            return CollectionSettings(url=api_root, collection=ids[title], direction=direction, username=user,
                                      password=Secret(references[user]))

        def publish(who: str, user: str, events: list[dict[str, Any]]) -> None:
            settings = SyncSettings(state_path=workdir / f"{who}.sqlite", lock_path=workdir / f"{who}.lock",
                                    retries=1, status_poll_interval=0.05)
            SyncJob(settings, [where("shared", user, "push")], store=MemoryEventStore(events),
                    sanitize=lambda event: event,  # synthetic events, made to be shared as they are
                    signer=members[who].signer).push()

        def post(objects: list[dict[str, Any]], title: str = "shared") -> None:
            with TaxiiClient(where(title, "orgM", "push"), sync) as client:
                client.add_objects(serialise(objects))

        local = MemoryEventStore()
        policy = TrustPolicy(roster, TrustSettings(pseudonym="member-c", corroboration_f=1))

        def pull() -> Any:
            return SyncJob(sync, [where("shared", "orgC", "pull"), where("restricted", "orgC", "pull")],
                           store=local, trust=policy).pull()

        stamp = int(now.timestamp()) - 3600
        publish("a", "orgA", [misp_event("a: phishing wave", ["198.51.100.10", "198.51.100.11", "198.51.100.12"],
                                         timestamp=stamp, org="member-a")])
        invented = [f"203.0.113.{i}" for i in range(1, 26)]
        publish("m", "orgM", [misp_event("m: very important campaign", invented, timestamp=stamp, org="member-m")])
        pull()
        publish("b", "orgB", [misp_event("b: same wave", ["198.51.100.10", "198.51.100.11", "192.0.2.200"],
                                         timestamp=stamp + 60, org="member-b")])
        corroborated = pull().totals()["corroborated"]

        with TaxiiClient(where("shared", "orgC", "pull"), sync) as client:
            genuine = sorted((o for o in client.get_page(limit=200).objects if o.get("type") == "indicator"
                              and o["extensions"][EXTENSION_ID]["signer"] == "member-a"), key=lambda o: o["pattern"])
        later = now - dt.timedelta(minutes=5)
        attacks = {
            "forge": forged(ip_indicator("192.0.2.66", created=later), claimed=members["a"], actual=members["m"]),
            "tamper": tampered(genuine[0], pattern_ip="192.0.2.77", at=later),
            "hijack": members["m"].signer.sign(tampered(genuine[1], pattern_ip="198.51.100.11", at=later)),
            "impostor": stranger.signer.sign(ip_indicator("192.0.2.88", created=later)),
            "stolen-key": stolen.signer.sign(ip_indicator("192.0.2.99", created=later)),
            "unsigned": ip_indicator("192.0.2.111", created=later),
        }
        post(list(attacks.values()))
        attacks["trespass"] = members["m"].signer.sign(ip_indicator("192.0.2.122", created=later))
        post([attacks["trespass"]], "restricted")
        # the replay: member-a updates its event; member-m re-serves the older, genuinely signed version
        attacks["replay"] = genuine[2]
        publish("a", "orgA", [misp_event("a: phishing wave", ["198.51.100.10", "198.51.100.11", "198.51.100.12",
                                                              "198.51.100.13"], timestamp=stamp + 120,
                                         org="member-a")])
        pull()
        post([attacks["replay"]], "restricted")
        pull()

        with SyncState(sync.state_path) as state:
            entries = state.quarantined()
        by_key = {(e.stix_id, e.version): e.reason for e in entries}
        reasons = [(name, by_key.get((obj["id"], obj.get("modified")), "(accepted)")) for name, obj in attacks.items()]
        rejected: dict[str, int] = {}
        for entry in entries:
            code = entry.reason.split(":")[1].strip() if entry.reason.startswith("trust:") else "other"
            rejected[code] = rejected.get(code, 0) + 1
        trusted, untrusted = set(), {}
        for event in local.query():
            for attribute in iter_attributes(event):
                value = str(attribute.get("value"))
                if attribute.get("to_ids"):
                    trusted.add(value)
                else:
                    tag = next((t["name"] for t in attribute.get("Tag", []) if t["name"].startswith(TAG_PREFIX)), "")
                    untrusted[value] = tag
        return ScenarioResult(rejected=rejected, reasons=reasons, trusted=sorted(trusted), untrusted=untrusted,
                              flood=len(invented), flood_trusted=len(trusted & set(invented)),
                              corroborated_later=corroborated, seconds=time.perf_counter() - started)
    finally:
        server.close()
