#!/usr/bin/env python3
"""Generate the example MISP events used by the demo and the tests.

The events describe incidents seen by the fictional member "Example Energy Ltd" (see
examples/events/README.md). The scenario data lives in ``examples/scenario/``: ``organisation.toml``
(the member, its staff, hosts and secrets), ``vocabulary.toml`` (MISP types, templates) and
``events.toml`` (one ``[[event]]`` per incident). This script turns it into MISP JSON: each event is
written as ``examples/events/<event-uuid>.json`` in MISP's feed/event shape ``{"Event": {...}}``.

Sensitive values are planted on purpose: staff e-mails, internal hosts and addresses, ticket
numbers, project names, targeting data, TLP:RED and distribution-0 content, some of it
defanged, percent-encoded or base64-encoded. ``tests/fixtures/canaries.json`` lists each planted
value ("sensitive") and the external indicators that a correct sanitiser must keep
("shareable_indicators").

The output is deterministic: uuids are derived from sha256 of fixed labels, timestamps come from
a fixed base date and the few generated lists use a seeded ``random.Random``. Running the script
again rewrites every file byte for byte::

    python examples/make_events.py                      # rewrite the committed files
    python examples/make_events.py --out /tmp/ev --canaries /tmp/canaries.json

Only reserved names are used: example.com/.net/.org, ``*.example``, 192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24, RFC 1918 ranges, 2001:db8::/32 and AS64496-AS64511.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import random
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

SEED = 7_303_2025
NAMESPACE = "legion-misp/examples/v1"
HERE = Path(__file__).resolve().parent
DEFAULT_EVENTS_DIR = HERE / "events"
DEFAULT_CANARIES = HERE.parent / "tests" / "fixtures" / "canaries.json"
SCENARIO_DIR = HERE / "scenario"

# Day 0 of the scenario timeline; events happen over roughly two months.
BASE_TIME = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)


def det_uuid(*parts: str) -> str:
    """A uuid4-format uuid derived from fixed labels (RFC 4122 variant, version 4)."""
    digest = hashlib.sha256("\x1f".join((NAMESPACE, *parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def sha256_of(label: str) -> str:
    return hashlib.sha256(f"example-sample:{label}".encode()).hexdigest()


def sha1_of(label: str) -> str:
    return hashlib.sha1(f"example-sample:{label}".encode(), usedforsecurity=False).hexdigest()


def md5_of(label: str) -> str:
    return hashlib.md5(f"example-sample:{label}".encode(), usedforsecurity=False).hexdigest()


def epoch(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment on the scenario timeline (day 0 = 2025-03-03 07:00 UTC)."""
    return BASE_TIME + timedelta(days=day, hours=hour, minutes=minute)


# --------------------------------------------------------------------------------------------
# Organisation facts (must match the product's example config)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Organisation facts (examples/scenario/organisation.toml) and MISP vocabulary (vocabulary.toml)
# --------------------------------------------------------------------------------------------


def _load(name: str) -> dict:
    with (SCENARIO_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


_FACTS, _VOCABULARY = _load("organisation.toml"), _load("vocabulary.toml")

ORG_NAME = _FACTS["organisation"]["name"]
ORG = {"name": ORG_NAME, "uuid": det_uuid("organisation", ORG_NAME)}
INTERNAL_NETWORKS = tuple(_FACTS["organisation"]["internal_networks"])
INTERNAL_DOMAINS = tuple(_FACTS["organisation"]["internal_domains"])
PUBLIC_NETWORKS = tuple(_FACTS["organisation"]["public_networks"])
SENSITIVE_TERMS = tuple(_FACTS["organisation"]["sensitive_terms"])
PARTNERS = {name: {"name": name, "uuid": det_uuid("organisation", name)} for name in _FACTS["partners"]}
ORGANISATIONS = {ORG_NAME: ORG, **PARTNERS}  # sighting organisations by name
SHARING_GROUPS = {key: {"id": group["id"], "name": group["name"],
                        "uuid": det_uuid("sharing-group", group["name"]), "releasability": group["releasability"]}
                  for key, group in _FACTS["sharing_groups"].items()}


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    domain: str
    role: str

    @property
    def email(self) -> str:
        return f"{self.first.lower()}.{self.last.lower()}@{self.domain}"

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def account(self) -> str:
        """Windows logon name as it appears in logs: CORP\\ahartmann."""
        return f"CORP\\{self.first[0].lower()}{self.last.lower()}"


STAFF = {key: Person(**person) for key, person in _FACTS["staff"].items()}
CREATORS = tuple(_FACTS["creators"])
HOSTS = dict(_FACTS["hosts"])  # internal systems: hostname -> address
TICKETS = tuple(_FACTS["secrets"]["tickets"])
SERVICE_ACCOUNTS = tuple(_FACTS["secrets"]["service_accounts"])


@dataclass(frozen=True)
class Canary:
    value: str
    kind: str
    encoding: str | None = None  # defanged | percent | base64 | base64-utf16le
    decoded: str | None = None
    required: bool = True  # False: a known fact listed only if some event happens to contain it


def registered_canaries() -> list[Canary]:
    """Sensitive values planted in the events, with what they are.

    Every staff member and internal system is known, so that any of them appearing in an event is
    listed; only the values planted on purpose are required to appear.
    """
    canaries = [Canary(ORG_NAME, "org-name"), Canary("example-energy-ltd", "org-name"),
                Canary(ORG["uuid"], "org-uuid")]
    canaries += [Canary(p.email, "creator-email" if key in CREATORS else "staff-email", required=False)
                 for key, p in STAFF.items()]
    canaries += [Canary(p.name, "staff-name", required=False) for p in STAFF.values()]
    canaries += [Canary(p.account, "staff-account", required=False) for p in STAFF.values()]
    canaries += [Canary(a, "staff-account", required=False) for a in SERVICE_ACCOUNTS]
    for host, addr in HOSTS.items():
        canaries.append(Canary(host, "internal-host", required=False))
        public = ipaddress.ip_address(addr) in ipaddress.ip_network(PUBLIC_NETWORKS[0])
        canaries.append(Canary(addr, "org-public-ip" if public else "internal-ip", required=False))
    canaries += [Canary(t, "sensitive-term") for t in SENSITIVE_TERMS]
    canaries += [Canary("substation kestrel", "sensitive-term")]
    canaries += [Canary(t, "ticket") for t in TICKETS]
    canaries += [Canary(p["name"], "sighting-org") for p in PARTNERS.values()]
    canaries += [Canary(p["uuid"], "sighting-org") for p in PARTNERS.values()]
    # Hidden forms: the value is the literal text in the event, decoded is what it hides.
    canaries += [Canary(h["value"], h["kind"], h["encoding"], h["decoded"]) for h in _FACTS["hidden"]]
    return canaries


TYPE_DEFAULTS: dict[str, tuple[str, bool]] = {t: tuple(d) for t, d in _VOCABULARY["type_defaults"].items()}
TEMPLATES = {name: (t["uuid"], t["version"], t["meta_category"], t["description"])
             for name, t in _VOCABULARY["templates"].items()}
RELATION_CATEGORIES = {tuple(key.split(".", 1)): category
                       for key, category in _VOCABULARY["relation_categories"].items()}
DISTRIBUTION_NAMES = {int(n): text for n, text in _VOCABULARY["distributions"].items()}
THREAT_LEVELS = {int(n): text for n, text in _VOCABULARY["threat_levels"].items()}
NON_SHAREABLE_TAGS = dict(_VOCABULARY["non_shareable_tags"])
INDICATOR_TYPES = set(_VOCABULARY["types"]["indicators"])
NUMERIC_TYPES = set(_VOCABULARY["types"]["numeric"])




# --------------------------------------------------------------------------------------------
# Scenario building blocks
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sight:
    """A sighting: type "0" = seen, "1" = false positive."""

    org: dict
    source: str
    hours_after: int = 2
    type: str = "0"


@dataclass
class Attr:
    """An attribute, or an object attribute when relation is set."""

    type: str
    value: str
    comment: str = ""
    category: str | None = None
    to_ids: bool | None = None
    distribution: int = 5
    tags: tuple[str, ...] = ()
    sightings: tuple[Sight, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    disable_correlation: bool = False
    relation: str | None = None
    ref: str | None = None  # name used by event reports: @@ref@@


@dataclass
class Obj:
    """A MISP object built from a template."""

    name: str
    attributes: list[Attr]
    comment: str = ""
    distribution: int = 5
    ref: str | None = None
    references: tuple[tuple[str, str], ...] = ()  # (relationship_type, ref of the target)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass
class Report:
    """An event report (markdown). @@ref@@ becomes @[attribute](uuid) or @[object](uuid)."""

    name: str
    content: str
    distribution: int = 5


@dataclass
class Scenario:
    slug: str
    info: str
    day: int
    distribution: int
    tlp: str
    pap: str
    creator: str
    threat_level: int
    analysis: int
    exercises: str
    tags: tuple[str, ...] = ()
    published: bool = True
    sharing_group: str | None = None
    attributes: list[Attr] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)


def rel(relation: str, type_: str, value: str, **kwargs) -> Attr:
    return Attr(type_, value, relation=relation, **kwargs)


def file_object(label: str, filename: str, size: int, *, category: str = "Payload delivery",
                entropy: str | None = None, comment: str = "", ref: str | None = None,
                distribution: int = 5, references: tuple[tuple[str, str], ...] = ()) -> Obj:
    """A file object whose hashes are those of the fixed string ``label``."""
    attrs = [
        rel("filename", "filename", filename, category=category),
        rel("md5", "md5", md5_of(label), category=category),
        rel("sha1", "sha1", sha1_of(label), category=category),
        rel("sha256", "sha256", sha256_of(label), category=category),
        rel("size-in-bytes", "size-in-bytes", str(size), disable_correlation=True),
    ]
    if entropy is not None:
        attrs.append(rel("entropy", "float", entropy, disable_correlation=True))
    return Obj("file", attrs, comment=comment, ref=ref, distribution=distribution, references=references)


def email_object(*, sender: str, to: list[str], subject: str, body: str, message_id: str,
                 sent: datetime, display_name: str | None = None, reply_to: str | None = None,
                 attachments: tuple[str, ...] = (), x_mailer: str | None = None, comment: str = "",
                 to_names: tuple[str, ...] = (), received_by: str | None = None,
                 ref: str | None = None, to_distribution: int = 5,
                 references: tuple[tuple[str, str], ...] = ()) -> Obj:
    attrs = [rel("from", "email-src", sender, to_ids=True)]
    if display_name:
        attrs.append(rel("from-display-name", "email-src-display-name", display_name))
    attrs += [rel("to", "email-dst", addr, to_ids=False, distribution=to_distribution) for addr in to]
    attrs += [rel("to-display-name", "email-dst-display-name", name, distribution=to_distribution)
              for name in to_names]
    if reply_to:
        attrs.append(rel("reply-to", "email-reply-to", reply_to, to_ids=True))
    attrs += [
        rel("subject", "email-subject", subject),
        rel("message-id", "email-message-id", message_id),
        rel("send-date", "datetime", iso(sent), disable_correlation=True),
    ]
    attrs += [rel("attachment", "email-attachment", name) for name in attachments]
    if x_mailer:
        attrs.append(rel("x-mailer", "email-x-mailer", x_mailer))
    if received_by:
        attrs.append(rel("received-header-hostname", "hostname", received_by, to_ids=False))
    attrs.append(rel("email-body", "email-body", body, disable_correlation=True))
    return Obj("email", attrs, comment=comment, ref=ref, references=references)


def pick_hosts(rng: random.Random, network: str, first: int, last: int, count: int) -> list[str]:
    """``count`` distinct addresses of ``network`` with host numbers in [first, last], sorted."""
    base = ipaddress.ip_network(network).network_address
    numbers = sorted(rng.sample(range(first, last + 1), count))
    return [str(base + n) for n in numbers]


# --------------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# The scenarios (examples/scenario/events.toml)
# --------------------------------------------------------------------------------------------

def _sightings(entries: list[dict]) -> tuple[Sight, ...]:
    return tuple(Sight(ORGANISATIONS[s["org"]], s["source"], s.get("hours_after", 2), s.get("type", "0"))
                 for s in entries)


def _attributes(entries: list[dict], rng: random.Random) -> list[Attr]:
    """Attributes of one event or object; ``pick_hosts`` entries become one attribute per drawn address."""
    attributes = []
    for entry in entries:
        fields = dict(entry)
        fields["tags"] = tuple(fields.get("tags", ()))
        fields["sightings"] = _sightings(fields.get("sightings", []))
        if "sha256_of" in fields:
            fields["value"] = sha256_of(fields.pop("sha256_of"))
        picked = fields.pop("pick_hosts", None)
        if picked is None:
            attributes.append(Attr(**fields))
            continue
        hosts = pick_hosts(rng, picked["network"], picked["first"], picked["last"], picked["count"])
        attributes += [Attr(**fields, value=address) for address in hosts]
    return attributes


def _object(entry: dict, rng: random.Random) -> Obj:
    fields = dict(entry)
    fields["references"] = tuple(tuple(r) for r in fields.get("references", ()))
    helper = fields.pop("helper", None)
    if helper == "file":
        return file_object(**fields)
    if helper == "email":
        return email_object(**{k: tuple(v) if isinstance(v, list) and k != "to" else v for k, v in fields.items()})
    fields["attributes"] = _attributes(fields.get("attributes", []), rng)
    return Obj(**fields)


def scenarios(rng: random.Random) -> list[Scenario]:
    """The scenarios of events.toml, in file order (the seeded lists are drawn in that order)."""
    specs = []
    for entry in _load("events.toml")["event"]:
        fields = dict(entry)
        fields["tags"] = tuple(fields.get("tags", ()))
        fields["attributes"] = _attributes(fields.get("attributes", []), rng)
        fields["objects"] = [_object(o, rng) for o in fields.get("objects", [])]
        fields["reports"] = [Report(**r) for r in fields.get("reports", [])]
        specs.append(Scenario(**fields))
    return specs


# Building MISP JSON
# --------------------------------------------------------------------------------------------

class Builder:
    """Turns one scenario into MISP event JSON, assigning uuids and timestamps."""

    def __init__(self, spec: Scenario, rng: random.Random):
        self.spec = spec
        self.rng = rng
        self.event_uuid = det_uuid("event", spec.slug)
        self.created = at(spec.day, 2) + timedelta(minutes=rng.randrange(0, 50))
        self.clock = self.created
        self.refs: dict[str, tuple[str, str]] = {}  # ref -> ("attribute" | "object", uuid)
        self.counter = 0

    def tick(self) -> str:
        self.clock += timedelta(seconds=37 + self.rng.randrange(0, 60))
        return epoch(self.clock)

    def uid(self, kind: str) -> str:
        self.counter += 1
        return det_uuid("event", self.spec.slug, kind, str(self.counter))

    def sighting(self, s: Sight) -> dict:
        when = self.created + timedelta(hours=s.hours_after, minutes=self.rng.randrange(0, 60))
        return {
            "uuid": self.uid("sighting"),
            "type": s.type,
            "date_sighting": epoch(when),
            "source": s.source,
            "Organisation": {"name": s.org["name"], "uuid": s.org["uuid"]},
        }

    def attribute(self, a: Attr, object_name: str | None = None) -> dict:
        category, to_ids = TYPE_DEFAULTS[a.type]
        if object_name is not None:
            category = RELATION_CATEGORIES.get((object_name, a.relation), category)
        out: dict = {"uuid": self.uid("attribute"), "type": a.type}
        if a.relation is not None:
            out["object_relation"] = a.relation
        out |= {
            "category": a.category or category,
            "value": a.value,
            "to_ids": to_ids if a.to_ids is None else a.to_ids,
            "comment": a.comment,
            "timestamp": self.tick(),
            "distribution": str(a.distribution),
            "sharing_group_id": "0",
            "disable_correlation": a.disable_correlation,
        }
        if a.first_seen is not None:
            out["first_seen"] = iso(a.first_seen)
        if a.last_seen is not None:
            out["last_seen"] = iso(a.last_seen)
        if a.tags:
            out["Tag"] = [{"name": t} for t in a.tags]
        if a.sightings:
            out["Sighting"] = [self.sighting(s) for s in a.sightings]
        if a.ref:
            self.refs[a.ref] = ("attribute", out["uuid"])
        return out

    def object(self, o: Obj) -> dict:
        template_uuid, version, meta, description = TEMPLATES[o.name]
        out = {
            "uuid": self.uid("object"),
            "name": o.name,
            "meta-category": meta,
            "description": description,
            "template_uuid": template_uuid,
            "template_version": version,
            "comment": o.comment,
            "distribution": str(o.distribution),
            "sharing_group_id": "0",
            "timestamp": "",
        }
        if o.ref:
            self.refs[o.ref] = ("object", out["uuid"])
        out["Attribute"] = [self.attribute(a, o.name) for a in o.attributes]
        out["timestamp"] = max(a["timestamp"] for a in out["Attribute"])
        return out

    def build(self) -> dict:
        spec = self.spec
        attributes = [self.attribute(a) for a in spec.attributes]
        objects = [self.object(o) for o in spec.objects]
        # Object references need every uuid, so they are added once all objects exist.
        for spec_obj, obj in zip(spec.objects, objects, strict=True):
            if spec_obj.references:
                obj["ObjectReference"] = [{
                    "uuid": self.uid("reference"),
                    "object_uuid": obj["uuid"],
                    "referenced_uuid": self.refs[target][1],
                    "relationship_type": relationship,
                    "comment": "",
                    "timestamp": obj["timestamp"],
                } for relationship, target in spec_obj.references]
        reports = [{
            "uuid": self.uid("report"),
            "name": r.name,
            "content": self.resolve_refs(r.content),
            "distribution": str(r.distribution),
            "sharing_group_id": "0",
            "timestamp": self.tick(),
        } for r in spec.reports]

        timestamp = self.tick()
        event: dict = {
            "uuid": self.event_uuid,
            "info": spec.info,
            "date": at(spec.day).date().isoformat(),
            "timestamp": timestamp,
            "publish_timestamp": str(int(timestamp) + 300) if spec.published else "0",
            "published": spec.published,
            "threat_level_id": str(spec.threat_level),
            "analysis": str(spec.analysis),
            "distribution": str(spec.distribution),
            "sharing_group_id": SHARING_GROUPS[spec.sharing_group]["id"] if spec.sharing_group else "0",
        }
        if spec.sharing_group:
            sg = SHARING_GROUPS[spec.sharing_group]
            event["SharingGroup"] = {"name": sg["name"], "uuid": sg["uuid"],
                                     "releasability": sg["releasability"]}
        event |= {
            "event_creator_email": STAFF[spec.creator].email,
            "Orgc": dict(ORG),
            "Org": dict(ORG),
            "Tag": [{"name": t} for t in (spec.tlp, spec.pap, *spec.tags)],
            "Attribute": attributes,
            "Object": objects,
        }
        if reports:
            event["EventReport"] = reports
        return {"Event": event}

    def resolve_refs(self, content: str) -> str:
        for ref, (kind, ref_uuid) in self.refs.items():
            content = content.replace(f"@@{ref}@@", f"@[{kind}]({ref_uuid})")
        if "@@" in content:
            raise ValueError(f"{self.spec.slug}: unresolved report reference in {content!r}")
        return content


# --------------------------------------------------------------------------------------------
# Canaries and shareable indicators
# --------------------------------------------------------------------------------------------

def iter_strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from iter_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_strings(value)


def event_blocking_kind(event: dict) -> str | None:
    """Why a whole event may not be shared, as a canary kind, or None."""
    tags = {t["name"] for t in event.get("Tag", [])}
    for tag, kind in NON_SHAREABLE_TAGS.items():
        if tag in tags:
            return kind
    if event["distribution"] == "0":
        return "distribution-0"
    return None


def attribute_blocking_kind(attribute: dict, misp_object: dict | None) -> str | None:
    tags = {t["name"] for t in attribute.get("Tag", [])}
    for tag, kind in NON_SHAREABLE_TAGS.items():
        if tag in tags:
            return kind
    if attribute["distribution"] == "0" or (misp_object is not None and misp_object["distribution"] == "0"):
        return "distribution-0"
    return None


def iter_attributes(event: dict) -> Iterator[tuple[dict, dict | None]]:
    for attribute in event.get("Attribute", []):
        yield attribute, None
    for misp_object in event.get("Object", []):
        for attribute in misp_object["Attribute"]:
            yield attribute, misp_object


def is_internal(value: str) -> bool:
    """An address in the organisation's networks or a name under its domains."""
    for part in value.split("|"):
        try:
            address = ipaddress.ip_address(part)
        except ValueError:
            host = part.lower().rstrip(".")
            if any(host == d or host.endswith("." + d) for d in INTERNAL_DOMAINS):
                return True
            continue
        if any(address in ipaddress.ip_network(n) for n in (*INTERNAL_NETWORKS, *PUBLIC_NETWORKS)):
            return True
    return False


def build_canaries(events: list[dict]) -> dict:
    registered = registered_canaries()
    plain_values = [c.value for c in registered] + [c.decoded for c in registered if c.decoded]

    def events_containing(value: str) -> list[str]:
        return [e["Event"]["uuid"] for e in events if any(value in s for s in iter_strings(e))]

    sensitive: dict[str, dict] = {}
    missing: list[str] = []
    for canary in registered:
        found = events_containing(canary.value)
        if not found:
            if canary.required:
                missing.append(canary.value)
            continue
        entry = {"value": canary.value, "kind": canary.kind, "event": found[0], "events": found}
        if canary.encoding:
            entry |= {"encoding": canary.encoding, "decoded": canary.decoded}
        sensitive[canary.value] = entry

    if missing:
        raise ValueError(f"canaries not planted in any event: {missing}")

    def add_context(value: str, kind: str) -> None:
        if value in sensitive or len(value) < 6:
            return
        found = events_containing(value)
        sensitive[value] = {"value": value, "kind": kind, "event": found[0], "events": found}

    shareable: list[dict] = []
    for wrapped in events:
        event = wrapped["Event"]
        event_kind = event_blocking_kind(event)
        if event_kind:
            add_context(event["info"], event_kind)
        for attribute, misp_object in iter_attributes(event):
            value = attribute["value"]
            kind = event_kind or attribute_blocking_kind(attribute, misp_object)
            if kind and attribute["type"] not in NUMERIC_TYPES:
                add_context(value, kind)
            elif attribute["category"] == "Targeting data":
                add_context(value, "targeting")
            shareable_here = (
                kind is None and event["published"] and attribute["type"] in INDICATOR_TYPES
                and not is_internal(value)
                and not any(p in value or p in unquote(value) for p in plain_values)
            )
            if shareable_here:
                entry = {"value": value, "type": attribute["type"], "event": event["uuid"],
                         "to_ids": attribute["to_ids"]}
                if misp_object is not None:
                    entry["object"] = misp_object["name"]
                if entry not in shareable:
                    shareable.append(entry)
    return {
        "organisation": {
            "name": ORG_NAME, "uuid": ORG["uuid"], "internal_networks": list(INTERNAL_NETWORKS),
            "internal_domains": list(INTERNAL_DOMAINS), "public_networks": list(PUBLIC_NETWORKS),
        },
        "sensitive": list(sensitive.values()),
        "shareable_indicators": shareable,
    }


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------

def readme(specs: list[Scenario], events: list[dict], canaries: dict) -> str:
    lines = [
        "# Example MISP events",
        "",
        f"Generated by `examples/make_events.py` (do not edit by hand). {len(events)} events of the "
        f"fictional member **{ORG_NAME}** (org uuid `{ORG['uuid']}`), each in MISP's feed/event shape "
        '`{"Event": {...}}`, file name `<event uuid>.json`.',
        "",
        "Every planted sensitive value is listed in `tests/fixtures/canaries.json` (`sensitive`, "
        f"{len(canaries['sensitive'])} values), together with the external indicators a correct "
        f"sanitiser must keep (`shareable_indicators`, {len(canaries['shareable_indicators'])} values). "
        "Shareable means: published event, event and attribute/object distribution not 0, and no `tlp:red`, "
        "`tlp:amber+strict` or `PAP:RED` tag on the event or attribute.",
        "",
        "Only reserved names are used: example.com/.net/.org, `*.example`, 192.0.2.0/24, 198.51.100.0/24, "
        "203.0.113.0/24, RFC 1918, 2001:db8::/32, AS64496-AS64511. The organisation's own systems are "
        "under corp.example / exampleenergy.example, 10/8, 172.16/12, 192.168/16 and its public "
        "block 192.0.2.224/27.",
        "",
        "| uuid | info | distribution | TLP / PAP | published | exercises |",
        "|---|---|---|---|---|---|",
    ]
    for spec, wrapped in zip(specs, events, strict=True):
        event = wrapped["Event"]
        dist = f"{spec.distribution} {DISTRIBUTION_NAMES[spec.distribution]}"
        if spec.sharing_group:
            dist += f" ({SHARING_GROUPS[spec.sharing_group]['name']})"
        published = "yes" if spec.published else "no"
        info, exercises = (text.replace("|", "\\|") for text in (spec.info, spec.exercises))
        lines.append(f"| `{event['uuid'][:8]}` | {info} | {dist} | {spec.tlp} / {spec.pap} | "
                     f"{published} | {exercises} |")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

def build_events() -> tuple[list[Scenario], list[dict]]:
    rng = random.Random(SEED)
    specs = sorted(scenarios(rng), key=lambda s: s.day)
    return specs, [Builder(spec, rng).build() for spec in specs]


def dump(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def generate(events_dir: Path = DEFAULT_EVENTS_DIR, canaries_path: Path = DEFAULT_CANARIES) -> list[Path]:
    """Write the events, their README and the canaries file; return the written paths."""
    specs, events = build_events()
    canaries = build_canaries(events)
    events_dir.mkdir(parents=True, exist_ok=True)
    canaries_path.parent.mkdir(parents=True, exist_ok=True)
    wanted = {f"{e['Event']['uuid']}.json" for e in events}
    for stale in events_dir.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for event in events:
        path = events_dir / f"{event['Event']['uuid']}.json"
        path.write_text(dump(event), encoding="utf-8")
        written.append(path)
    (events_dir / "README.md").write_text(readme(specs, events, canaries), encoding="utf-8")
    canaries_path.write_text(dump(canaries), encoding="utf-8")
    return [*written, events_dir / "README.md", canaries_path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_EVENTS_DIR,
                        help="directory for the <uuid>.json files and README.md")
    parser.add_argument("--canaries", type=Path, default=DEFAULT_CANARIES, help="path of canaries.json")
    args = parser.parse_args(argv)
    written = generate(args.out, args.canaries)
    print(f"wrote {len(written) - 2} events, README.md and {args.canaries}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
