"""The demo's federation stage: four member organisations on one embedded TAXII 2.1 server, on the real example
events.

Every member has its own folder ``<out>/members/<pseudonym>/`` (wiped at the start of each run):

- ``legion.toml``: its configuration (``[organisation]``, ``[federation]`` with the shared roster of all four
  Ed25519 public keys, the shared pseudonym key and its own key file (mode 0600), ``[privacy]``, ``[ledger]``,
  ``[sync]``);
- ``feed/``: its own MISP feed. ``member-7f3a`` (Example Energy Ltd, us) holds every example event; the two other
  honest members hold a deterministic subset re-owned by them (their own organisation name and uuid, new event,
  object and attribute uuids, later timestamps), so some external C2 indicators are published by two or three
  members and others by only one;
- ``feed-shared/``: what its sanitiser let out (debited in ``privacy-ledger.sqlite``); this is what it publishes,
  signed, to the shared collection;
- ``feed-received/``: what it pulled from the federation, verified against the roster, ``to_ids`` decided by
  corroboration (f = 1: at least two distinct members). With ``legion demo --misp``, member-7f3a pulls into a real
  MISP instead (``ctx.data["misp_store"]``).

``member-m`` is malicious: it publishes a flood of invented indicators (properly signed, so accepted, but never
``to_ids``) and performs every attack of :data:`~legion_misp.demo.attacks.ATTACKS`. ``members/taxii-objects.json``
keeps a copy of everything the server held at the end, and ``members/federation-result.json`` the figures the
report shows (read by the end-to-end test).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
import secrets
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from connectors.job import SyncJob
from connectors.sanitize import identity
from connectors.settings import CollectionSettings, SyncSettings
from connectors.state import SyncState
from connectors.transport import TaxiiClient
from legion_misp.demo.taxii_server import EmbeddedTaxiiServer

from ..privacy.ledger import open_ledger
from ..privacy.release import sanitize_events
from ..privacy.sanitizer import Sanitizer
from ..secrets import write_secret_file
from ..sections import load_config
from ..stores import FeedStore, MemoryEventStore, open_store
from ..stores.events import iter_attributes
from ..trust import EXTENSION_ID, Signer, generate_key_file, load_private_key, signing_payload
from ..trust.corroboration import TAG_PREFIX
from ..trust.signing import b64url
from . import DemoContext, StageResult
from .attacks import ATTACKS, SimMember, ip_indicator, misp_event, serialise, tampered

FEDERATION = "energy-federation"
OUR_ORG = ("member-7f3a", "Example Energy Ltd")
OUR_ORG_UUID = "df79edc8-012e-4803-92aa-7184c09c10ba"
MALICIOUS = "member-m"
BUDGET_EPSILON = 10.0
NAMESPACE = uuid.UUID("5d1f7c0e-2b8a-4e55-9c31-8f6a0d2e4b17")

# The other honest members: name, and the example events (uuid prefixes) they observed too, re-owned by them.
# 7aa04523 (Cobalt Strike C2) is reported by all three, e42cd938 and 55a3f553 by us and member-19c2, e4b08206 and
# ea6c4155 by us and member-5be0; everything else only by us.
DERIVED: dict[str, tuple[str, tuple[str, ...], int]] = {
    "member-19c2": ("Northwind Grid AS", ("7aa04523", "e42cd938", "55a3f553"), 2 * 3600),
    "member-5be0": ("Harbour Water plc", ("7aa04523", "e4b08206", "ea6c4155"), 5 * 3600),
}
HONEST = [OUR_ORG[0], *DERIVED]
ORG_NAMES = {OUR_ORG[0]: OUR_ORG[1], **{p: name for p, (name, _, _) in DERIVED.items()}, MALICIOUS: "Mallory Ltd"}

ATTACK_DESCRIPTIONS = {
    "forge": "an indicator signed with member-m's key but claiming member-7f3a's key id",
    "tamper": "member-7f3a's indicator with its pattern changed after signing",
    "replay": "an older version of member-7f3a's indicator, after member-7f3a published a newer one",
    "hijack": "member-7f3a's indicator re-published under member-m's signature",
    "trespass": "an object sent to the restricted collection member-m may not publish to",
    "impostor": "an object signed by member-x, who is not on the roster",
    "stolen-key": "an object signed with member-5be0's old key, revoked the day before",
    "unsigned": "an object without a signature",
}


# ---- the members' feeds ---------------------------------------------------------------------------------------

def _uuids(node: Any, skip: bool = False) -> set[str]:
    """Every ``uuid`` value in an event, except those of organisations and sharing groups (kept as they are)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            inner_skip = skip or key in ("Orgc", "Org", "Organisation", "SharingGroup", "Organisations")
            if key == "uuid" and isinstance(value, str) and not skip:
                found.add(value)
            else:
                found |= _uuids(value, inner_skip)
    elif isinstance(node, list):
        for item in node:
            found |= _uuids(item, skip)
    return found


def org_uuid(pseudonym: str) -> str:
    return OUR_ORG_UUID if pseudonym == OUR_ORG[0] else str(uuid.uuid5(NAMESPACE, f"org/{pseudonym}"))


def derive_event(event: dict[str, Any], pseudonym: str) -> dict[str, Any]:
    """``event`` as member ``pseudonym`` reported it: its own organisation (name, uuid, name slug), new uuids for
    the event and everything in it (references follow), timestamps later by the member's offset. Deterministic."""
    name, _, offset = DERIVED[pseudonym]
    text = json.dumps(event)
    for old in sorted(_uuids(event)):
        text = text.replace(old, str(uuid.uuid5(NAMESPACE, f"{pseudonym}/{old}")))
    text = text.replace(OUR_ORG_UUID, org_uuid(pseudonym)).replace(OUR_ORG[1], name)
    text = text.replace(_slug(OUR_ORG[1]), _slug(name))
    derived = json.loads(text)
    for node in [derived, *derived.get("Attribute", []), *derived.get("Object", []),
                 *(a for o in derived.get("Object", []) for a in o.get("Attribute", []))]:
        if str(node.get("timestamp", "")).isdigit():
            node["timestamp"] = str(int(node["timestamp"]) + offset)
    for key in ("Orgc", "Org"):
        derived[key] = {**derived.get(key, {}), "name": name, "uuid": org_uuid(pseudonym)}
    return derived


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def seed_feeds(members_dir: Path, events_dir: Path) -> dict[str, FeedStore]:
    """Each honest member's own feed store, seeded from ``events_dir``."""
    source = [e for e in FeedStore(events_dir, create=False).query()]
    feeds = {}
    for pseudonym in HONEST:
        store = FeedStore(members_dir / pseudonym / "feed")
        if pseudonym == OUR_ORG[0]:
            events = source
        else:
            prefixes = DERIVED[pseudonym][1]
            events = [derive_event(e, pseudonym) for e in source if e["uuid"].startswith(prefixes)]
        with store.batch():
            store.upsert_many(events)
        feeds[pseudonym] = store
    return feeds


def invented_indicators(events_dir: Path, count: int = 25) -> list[str]:
    """``count`` addresses of 203.0.113.0/24 that no example event mentions: member-m's invention."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(events_dir.glob("*.json")))
    mentioned = set(re.findall(r"203\.0\.113\.\d{1,3}", text))
    return [ip for ip in (f"203.0.113.{i}" for i in range(1, 255)) if ip not in mentioned][:count]


# ---- configuration --------------------------------------------------------------------------------------------

def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def member_config_text(pseudonym: str, *, roster: list[dict[str, Any]], collections: list[dict[str, Any]],
                       pseudonym_key: Path, staff_file: Path | None) -> str:
    """The member's ``legion.toml`` (paths relative to its folder). The honest members' [organisation] lists the
    internal networks, domains and staff directory that appear in their feeds (copies of the same fictional
    incidents), with each member's own name."""
    organisation: dict[str, Any] = {
        "name": ORG_NAMES[pseudonym], "pseudonym": pseudonym,
        "internal_networks": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        "internal_domains": ["corp.example", "exampleenergy.example"], "public_networks": ["192.0.2.224/27"],
        "sensitive_terms": ["Project Nightjar", "Substation Kestrel"], "sensitive_patterns": [r"INC-\d{7}"],
    }
    if staff_file is not None and staff_file.exists():
        organisation["sensitive_terms_file"] = f"file:{staff_file}"
    lines = ["# written by `legion demo`: one member of the demo federation", "[organisation]"]
    lines += [f"{k} = {_toml(v)}" for k, v in organisation.items()]
    lines += ["", "[store]", 'kind = "feed"', 'path = "feed"', "",
              "[sync]", 'state_path = "sync-state.sqlite"', "push_only_published = false", "retries = 2",
              "backoff = 0.1", "status_poll_interval = 0.05", "page_size = 1000", "",
              "[privacy]", 'out_path = "feed-shared"', "min_distribution = 1",
              f"sharing_groups = {_toml({'Energy-ISAC Federation': [FEDERATION]})}", "",
              "[ledger]", 'path = "privacy-ledger.sqlite"', f"epsilon = {BUDGET_EPSILON!r}", "delta = 1e-4",
              'window = "30d"', "",
              "[federation]", f"name = {_toml(FEDERATION)}", f"pseudonym_key = {_toml(f'file:{pseudonym_key}')}",
              f'private_key = "file:keys/{pseudonym}.ed25519.pem"', "require_signatures = true",
              "corroboration_f = 1", 'corroboration_window = "30d"']
    for entry in roster:
        lines += ["", "[[federation.members]]"]
        lines += [f"{k} = {_toml(v)}" for k, v in entry.items() if k != "revoked_keys"]
        for revoked in entry.get("revoked_keys", []):
            lines += ["[[federation.members.revoked_keys]]"] + [f"{k} = {_toml(v)}" for k, v in revoked.items()]
    for entry in collections:
        lines += ["", "[[federation.collections]]"] + [f"{k} = {_toml(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


# ---- the stage --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class MemberResult:
    pseudonym: str
    name: str
    events: int = 0
    shared: int = 0
    kept_home: int = 0
    epsilon: float = 0.0
    budget: float = BUDGET_EPSILON
    sent: int = 0
    accepted: int = 0
    pulled: int = 0
    rejected: dict[str, int] = dataclasses.field(default_factory=dict)  # trust rejections by code
    refused: dict[str, int] = dataclasses.field(default_factory=dict)  # other quarantined objects by reason code
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # attack -> quarantine reason
    trusted: list[str] = dataclasses.field(default_factory=list)    # indicator values with to_ids
    untrusted: int = 0                                               # values with to_ids false
    flood_seen: int = 0
    flood_trusted: int = 0
    tags: dict[str, int] = dataclasses.field(default_factory=dict)  # corroboration tag -> values


def federation_stage(ctx: DemoContext) -> StageResult:
    """Four members on one loopback TAXII server: each honest member sanitises, signs and publishes its feed,
    member-m floods and attacks, and each honest member pulls, verifies and corroborates into its own feed."""
    members_dir = ctx.out_dir / "members"
    if members_dir.is_dir() and not members_dir.is_symlink():
        shutil.rmtree(members_dir)  # every run starts a fresh federation (keys, ledgers, feeds)
    members_dir.mkdir(parents=True)
    ctx.echo("      seeding the members' feeds from the example events ...")
    seed_feeds(members_dir, ctx.events_dir)
    invented = invented_indicators(ctx.events_dir)

    keys = {p: generate_key_file(members_dir / p / "keys" / f"{p}.ed25519.pem") for p in [*HONEST, MALICIOUS]}
    stolen = SimMember("member-5be0")  # an old key of member-5be0, stolen and revoked yesterday
    stranger = SimMember("member-x")   # not on the roster
    pseudonym_key = write_secret_file(members_dir / "federation-pseudonym.key", secrets.token_hex(32), replace=True)
    passwords = {p: write_secret_file(members_dir / p / "secrets" / "taxii.password", secrets.token_urlsafe(16),
                                   replace=True)
                 for p in [*HONEST, MALICIOUS]}
    staff = ctx.events_dir.parent / "staff-directory.txt"

    server = EmbeddedTaxiiServer(members_dir / "taxii-server",
                                 users={p: path.read_text(encoding="utf-8") for p, path in passwords.items()},
                                 collections={"federation": {}, "restricted": {}}, max_page_size=1000)
    server.start()
    try:
        ctx.echo(f"      TAXII 2.1 server (medallion) on {server.api_root}")
        ids = server.collection_ids
        now = dt.datetime.now(dt.UTC)
        roster = []
        for p in [*HONEST, MALICIOUS]:
            entry: dict[str, Any] = {"pseudonym": p, "public_key": keys[p].public_key,
                                     "collections": [ids["federation"]] if p == MALICIOUS
                                     else [ids["federation"], ids["restricted"]]}
            if p == stolen.pseudonym:
                entry["revoked_keys"] = [{"public_key": stolen.public_key, "reason": "key stolen",
                                          "revoked_at": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}]
            roster.append(entry)
        configs = {}

        for p in [*HONEST, MALICIOUS]:
            collections = [{"url": server.api_root, "collection": ids["federation"], "direction": "both",
                            "username": p, "password": f"file:{passwords[p]}"},
                           {"url": server.api_root, "collection": ids["restricted"], "direction": "pull",
                            "username": p, "password": f"file:{passwords[p]}"}]
            path = members_dir / p / "legion.toml"
            path.write_text(member_config_text(p, roster=roster, collections=collections,
                                               pseudonym_key=pseudonym_key, staff_file=staff), encoding="utf-8")
            configs[p] = load_config(path)
        return _run_federation(ctx, members_dir, configs, invented, ids, stolen, stranger,
                               key_ids={p: k.key_id for p, k in keys.items()})
    finally:
        server.close()
        ctx.echo("      TAXII server stopped")


def _run_federation(ctx: DemoContext, members_dir: Path, configs: dict[str, Any], invented: list[str],
                    ids: dict[str, str], stolen: Any, stranger: Any, *, key_ids: dict[str, str]) -> StageResult:
    results = {p: MemberResult(p, ORG_NAMES[p]) for p in HONEST}
    shared_stores: dict[str, FeedStore] = {}
    received: dict[str, Any] = {p: FeedStore(members_dir / p / "feed-received") for p in HONEST}
    if ctx.data.get("misp_store") is not None:  # legion demo --misp: we pull into a real MISP
        received[OUR_ORG[0]] = ctx.data["misp_store"]
    problems: list[str] = []

    # 1. every honest member sanitises its own feed (its ledger is debited) and publishes it, signed
    for p in HONEST:
        config, r = configs[p], results[p]
        ledger = open_ledger(config, create=True)  # the demo sets each member up, as `legion budget init` would
        shared = FeedStore(config.resolve_path(config.section("privacy")["out_path"]))
        reports: list[Any] = []
        summary = sanitize_events(open_store(config), shared, Sanitizer.from_config(config), ledger=ledger,
                                  on_event=reports.append, what="demo federation release")
        shared_stores[p] = shared
        r.events, r.shared, r.kept_home = summary.events_read, summary.shared, summary.dropped
        r.epsilon, r.budget = ledger.spent()[0], ledger.budget_epsilon
        if summary.failed:
            problems.append(f"{p}: {summary.failed} events failed to sanitise")
        if p == OUR_ORG[0]:
            ctx.data.update(shared_store=shared, sanitize_summary=summary, sanitize_reports=reports,
                            privacy_ledger=ledger)
        push = SyncJob.from_config(config, store=shared, sanitize=identity).push()  # already sanitised
        totals = push.totals()
        r.sent, r.accepted = totals["sent"], totals["accepted"]
        problems += [f"{p} push: {x.error}" for x in push.reports if x.error]
        ctx.echo(f"      {p}: {r.shared} of {r.events} events shared (ε {r.epsilon:g}), "
                 f"{r.accepted}/{r.sent} signed STIX objects published")

    # 2. member-m floods the shared collection with invented indicators, properly signed (accepted, never trusted)
    stamp = int(dt.datetime.now(dt.UTC).timestamp()) - 3600
    flood = misp_event("m: very important campaign", invented, timestamp=stamp, org=MALICIOUS)
    flood_push = SyncJob.from_config(configs[MALICIOUS], store=MemoryEventStore([flood]), sanitize=identity).push()
    problems += [f"{MALICIOUS} push: {x.error}" for x in flood_push.reports if x.error]
    ctx.echo(f"      {MALICIOUS}: flooded {len(invented)} invented indicators, signed")

    def pull_all() -> None:
        for q in HONEST:
            summary = SyncJob.from_config(configs[q], store=received[q]).pull()
            results[q].pulled += summary.totals()["pulled"]
            problems.extend(f"{q} pull: {x.error}" for x in summary.reports if x.error)

    pull_all()
    ctx.echo("      every honest member pulled, verified and corroborated")

    # 3. member-m attacks, with genuine objects of member-7f3a taken from the server
    m_config = configs[MALICIOUS]
    sync = SyncSettings.from_config(m_config)
    where = {c.collection: c for c in CollectionSettings.from_config(m_config)}

    def post(objects: list[dict[str, Any]], title: str = "federation") -> None:
        target = dataclasses.replace(where[ids[title]], direction="push")
        with TaxiiClient(target, sync) as client:
            client.add_objects(serialise(objects))

    server_objects = _all_objects(where[ids["federation"]], sync)
    ours = sorted((o for o in server_objects if o.get("type") == "indicator" and "ipv4-addr" in o.get("pattern", "")
                   and o.get("extensions", {}).get(EXTENSION_ID, {}).get("signer") == OUR_ORG[0]),
                  key=lambda o: o["pattern"])
    replay_target = _revisable(ours, shared_stores[OUR_ORG[0]])
    genuine = [o for o in ours if o is not replay_target][:2]
    if replay_target is None or len(genuine) < 2:
        problems.append("member-7f3a published too few IPv4 indicators for the attacks")
        return _finish(ctx, members_dir, results, invented, problems, attacks_ok=False)
    later = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    m_key = load_private_key(m_config.resolve_path(f"keys/{MALICIOUS}.ed25519.pem"))  # member-m's own key
    m_signer = Signer(MALICIOUS, m_key)
    ours_id = key_ids[OUR_ORG[0]]  # the key id member-m claims: public, from the roster
    attacks = {
        "forge": _forged(ip_indicator("192.0.2.66", created=later), OUR_ORG[0], ours_id, m_key),
        "tamper": tampered(genuine[0], pattern_ip="192.0.2.77", at=later),
        "hijack": m_signer.sign(tampered(genuine[1], pattern_ip=_ip_of(genuine[1]), at=later)),
        "impostor": stranger.signer.sign(ip_indicator("192.0.2.88", created=later)),
        "stolen-key": stolen.signer.sign(ip_indicator("192.0.2.99", created=later)),
        "unsigned": ip_indicator("192.0.2.111", created=later),
    }
    post(list(attacks.values()))
    attacks["trespass"] = m_signer.sign(ip_indicator("192.0.2.122", created=later))
    post([attacks["trespass"]], "restricted")
    # member-7f3a revises one event (an analyst re-confirms an indicator) and publishes the revision ...
    _revise(shared_stores[OUR_ORG[0]], replay_target)
    revision = SyncJob.from_config(configs[OUR_ORG[0]], store=shared_stores[OUR_ORG[0]], sanitize=identity).push()
    problems += [f"{OUR_ORG[0]} revision push: {x.error}" for x in revision.reports if x.error]
    pull_all()
    # ... and member-m re-serves the older, genuinely signed version
    attacks["replay"] = replay_target
    post([replay_target], "restricted")
    pull_all()
    ctx.echo("      member-m attacked; every honest member pulled again")

    # 4. what each honest member kept
    attacks_ok = True
    for p in HONEST:
        r = results[p]
        with SyncState(SyncSettings.from_config(configs[p]).state_path) as state:
            entries = state.quarantined()
        by_key = {(e.stix_id, e.version): e.reason for e in entries}
        for entry in entries:
            counts = r.rejected if entry.reason.startswith("trust:") else r.refused
            counts[entry.code] = counts.get(entry.code, 0) + 1
        for name, obj in attacks.items():
            r.reasons[name] = by_key.get((obj["id"], obj.get("modified")), "(accepted)")
            attacks_ok = attacks_ok and _code(r.reasons[name]) == ATTACKS[name]
        values: dict[str, bool] = {}
        tags: dict[str, str] = {}
        for event in received[p].query():
            for attribute in iter_attributes(event):
                tag = next((t["name"] for t in attribute.get("Tag", []) if t["name"].startswith(TAG_PREFIX)), None)
                if tag is None:
                    continue
                value = str(attribute.get("value"))
                values[value] = values.get(value, False) or bool(attribute.get("to_ids"))
                tags[value] = tag
        r.trusted = sorted(v for v, trusted in values.items() if trusted)
        r.untrusted = sum(1 for trusted in values.values() if not trusted)
        r.flood_seen = sum(1 for v in invented if v in values)
        r.flood_trusted = sum(1 for v in invented if values.get(v))
        r.tags = dict(Counter(tags.values()))
    _dump_objects(members_dir, where, ids, sync)
    return _finish(ctx, members_dir, results, invented, problems, attacks_ok=attacks_ok,
                   attacks=[(name, results[OUR_ORG[0]].reasons[name]) for name in attacks])


def _forged(obj: dict[str, Any], claimed: str, claimed_key_id: str, actual_key: Any) -> dict[str, Any]:
    """``obj`` with a well-formed signature entry naming member ``claimed`` and its key id, but made with
    ``actual_key`` (like :func:`~legion_misp.demo.attacks.forged`, without the victim's key at hand)."""
    signed = copy.deepcopy(obj)
    entry = {"extension_type": "property-extension", "signer": claimed, "algorithm": "Ed25519",
             "key_id": claimed_key_id}
    signed["extensions"] = {**signed.get("extensions", {}), EXTENSION_ID: entry}
    entry["signature"] = b64url(actual_key.sign(signing_payload(signed)))
    return signed


def _code(reason: str) -> str:
    """``bad-signature`` of ``trust: bad-signature: ...``; ``accepted`` when nothing was quarantined."""
    return reason.split(":")[1].strip() if reason.startswith("trust:") else "accepted"


def _ip_of(indicator: dict[str, Any]) -> str:
    found = re.search(r"'([0-9.]+)'", indicator.get("pattern", ""))
    return found.group(1) if found else "192.0.2.55"


def _attribute_uuid(indicator: dict[str, Any]) -> str:
    return indicator["id"].split("--", 1)[1]


def _revisable(indicators: list[dict[str, Any]], store: FeedStore) -> dict[str, Any] | None:
    """The last of our indicators that is a top-level attribute of an event in our shared feed."""
    top_level = {a.get("uuid") for e in store.query() for a in e.get("Attribute", [])}
    return next((o for o in reversed(indicators) if _attribute_uuid(o) in top_level), None)


def _revise(store: FeedStore, indicator: dict[str, Any]) -> None:
    """A later revision of the event holding ``indicator``'s attribute: its timestamps move on (nothing else)."""
    wanted = _attribute_uuid(indicator)
    at = str(int(dt.datetime.now(dt.UTC).timestamp()) - 120)
    for event in store.query():
        for attribute in event.get("Attribute", []):
            if attribute.get("uuid") == wanted:
                revised = copy.deepcopy(event)
                for a in revised["Attribute"]:
                    if a.get("uuid") == wanted:
                        a["timestamp"] = at
                revised["timestamp"] = at
                store.upsert(revised)
                return


def _all_objects(collection: Any, sync: Any) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    with TaxiiClient(dataclasses.replace(collection, direction="pull"), sync) as client:
        page = client.get_page(limit=1000)
        objects += page.objects
        while page.more and page.next:
            page = client.get_page(next_token=page.next, limit=1000)
            objects += page.objects
    return [o for o in objects if isinstance(o, dict)]


def _dump_objects(members_dir: Path, where: dict[str, Any], ids: dict[str, str], sync: Any) -> None:
    """A copy of every STIX object the server holds (what went over the wire), for inspection and the tests."""
    dump = {title: _all_objects(where[ids[title]], sync) for title in ids}
    (members_dir / "taxii-objects.json").write_text(json.dumps(dump, indent=1), encoding="utf-8")


def _finish(ctx: DemoContext, members_dir: Path, results: dict[str, MemberResult], invented: list[str],
            problems: list[str], *, attacks_ok: bool, attacks: list[tuple[str, str]] | None = None) -> StageResult:
    attacks = attacks or []
    for problem in problems:
        ctx.echo(f"      error: {problem}")
    for name, reason in attacks:
        ctx.echo(f"      {name}: {reason}")
    members = list(results.values())
    corroborated = sorted(set().union(*(set(r.trusted) for r in members)))
    flood_trusted = sum(r.flood_trusted for r in members)
    within = all(r.epsilon <= r.budget + 1e-9 for r in members)
    (members_dir / "federation-result.json").write_text(json.dumps({
        "invented": invented, "attacks": dict(attacks), "problems": problems,
        "members": {r.pseudonym: dataclasses.asdict(r) for r in members}}, indent=1), encoding="utf-8")
    ctx.data["member_ledgers"] = {p: members_dir / p / "privacy-ledger.sqlite" for p in results}
    ctx.data["federation_results"] = results

    rows = [("roster", f"{', '.join(HONEST)} (honest), {MALICIOUS} (malicious); f = 1; one shared collection "
                       "on medallion, 127.0.0.1 (stopped)")]
    for r in members:
        rejected = ", ".join(f"{c} {n}" for c, n in sorted(r.rejected.items())) or "none"
        rows += [(f"{r.pseudonym}", f"{r.shared} events shared / {r.kept_home} kept home, ε {r.epsilon:.3g} of "
                                    f"{r.budget:g}, {r.accepted}/{r.sent} objects published"),
                 (f"{r.pseudonym} pulled", f"{r.pulled} objects; indicators: {len(r.trusted)} to_ids, "
                                           f"{r.untrusted} to_ids false"),
                 (f"{r.pseudonym} rejected", rejected)]
        if r.refused:  # objects MISP could not hold without changing their meaning, quarantined with a code
            rows.append((f"{r.pseudonym} quarantined", ", ".join(f"{c} {n}" for c, n in sorted(r.refused.items()))))
    for name, reason in attacks:
        rows.append((f"rejected: {name}", _code(reason)))
    rows += [(f"{MALICIOUS} flooded", f"{len(invented)} invented indicators, signed: accepted, {flood_trusted} with "
                                      "to_ids at any honest member"),
             ("to_ids (≥ 2 members)", f"{len(corroborated)} values, e.g. {', '.join(corroborated[:4])}")]
    _report(ctx, results, invented, attacks, corroborated, flood_trusted)
    ok = (not problems and attacks_ok and flood_trusted == 0 and bool(corroborated) and within
          and all(r.flood_seen == len(invented) for r in members))
    return StageResult("federation", rows, ok=ok)


def _report(ctx: DemoContext, results: dict[str, MemberResult], invented: list[str],
            attacks: list[tuple[str, str]], corroborated: list[str], flood_trusted: int) -> None:
    from .stages import _report_sanitize  # stages imports this module: a module-level import would be a cycle

    members = list(results.values())
    section = ctx.report.section("The federation: four members on one TAXII 2.1 server")
    ctx.report.paragraph(section, "Four member organisations share over one embedded TAXII 2.1 server (medallion on "
                                  "127.0.0.1). Each has its own feed under members/<pseudonym>/, its own "
                                  "configuration, Ed25519 key (mode 0600) and privacy ledger; all share the roster "
                                  "of the four public keys and the federation's pseudonym key. member-7f3a (us, "
                                  "Example Energy Ltd) holds every example event; member-19c2 and member-5be0 "
                                  "reported some of the same incidents under their own names; member-m is "
                                  "malicious. Each honest member sanitises its feed, publishes it signed, then "
                                  "pulls, verifies every object against the roster and sets to_ids only on "
                                  "indicators that at least f + 1 = 2 distinct members published.")
    ctx.report.table(section, ["member", "events shared / kept home", "ε spent / budget", "objects published",
                               "objects pulled", "rejected (by code)", "indicators to_ids",
                               "indicators to_ids false", "member-m's flood with to_ids"],
                     [[f"{r.pseudonym} ({r.name})", f"{r.shared} / {r.kept_home}", f"{r.epsilon:.3g} / {r.budget:g}",
                       f"{r.accepted} / {r.sent}", r.pulled,
                       ", ".join(f"{c}: {n}" for c, n in sorted(r.rejected.items())) or "none", len(r.trusted),
                       r.untrusted, f"{r.flood_trusted} of {r.flood_seen}"] for r in members])
    tags = sorted({t for r in members for t in r.tags})
    ctx.report.table(section, ["member", *[f"indicators tagged {t.split('=', 1)[1]}" for t in tags]],
                     [[r.pseudonym, *[r.tags.get(t, 0) for t in tags]] for r in members])
    ctx.report.paragraph(section, f"Indicators published by at least two members, so trusted for detection (to_ids): "
                                  f"{len(corroborated)}, e.g. {', '.join(corroborated[:8])}.")
    section = ctx.report.section("A malicious member: what was rejected, and why")
    ctx.report.paragraph(section, "member-m signs its own objects with its roster key, so what it publishes under "
                                  "its own name is accepted and stored; everything else it tries is refused on pull "
                                  "and quarantined, at every honest member, for the reason below.")
    first, rest = members[0], members[1:]
    ctx.report.table(section, ["attack by member-m", "what it sent", f"verdict at {first.pseudonym}",
                               *[f"at {r.pseudonym}" for r in rest]],
                     [[name, ATTACK_DESCRIPTIONS.get(name, ""), first.reasons.get(name, ""),
                       *[_code(r.reasons.get(name, "")) for r in rest]] for name, _ in attacks])
    ctx.report.paragraph(section, f"member-m also flooded {len(invented)} invented indicators with valid signatures: "
                                  f"they were stored, but {flood_trusted} got to_ids at any honest member (each is "
                                  "tagged legion:corroboration=\"1-of-4\"): member-m's flood never reached to_ids.",
                         "good" if flood_trusted == 0 else "bad")
    summary, reports = ctx.data.get("sanitize_summary"), ctx.data.get("sanitize_reports")
    if summary is not None:
        _report_sanitize(ctx, summary, reports or [])
