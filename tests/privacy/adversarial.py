"""Generator of the adversarial sanitiser corpus: protected values in disguise, identifiers nobody listed, and every
field of an event, each case with a control value that must survive.

``python -m tests.privacy.adversarial`` prints the number of cases per family. :func:`corpus` returns
``[Case]``; each case is one MISP event in which ``secrets`` (the exact strings written, and their canonical form)
must not appear in the shared copy and ``controls`` (shareable indicators written next to them) must. Cases with
``expect == "withheld"`` must not be shared at all.

Families (issue 12):

- ``disguise-*``: configured terms, the organisation's name, staff names, internal domains and e-mail addresses,
  internal/own addresses and ticket patterns written with case changes, NFKC forms, zero-width and format characters,
  TR39 confusables, HTML entities and tags, hyphenated line breaks, Unicode dots, IDNA, defanging;
- ``address-*``: internal addresses in every notation (inet_aton forms, IPv6 embeddings, reverse DNS, host names,
  bracketed, zones, CIDR);
- ``encoded-*``: base64 (short, URL-safe, UTF-16), base32, hex, percent, quoted-printable, gzip/zlib, nested 3 deep;
- ``detector-*``: IBAN, cards, phones, VINs, national ids, user-profile paths, UNC hosts, SIDs, URL credentials,
  private keys, partner e-mails, learned and patterned host names;
- ``field-*``: every string field of an event (objects, references, relations, galaxy meta, tags, reports) and the
  structural rules (unknown fields withheld, galaxy clusters gated, pseudonymised values redacted elsewhere).
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import quopri
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

CONFIG = """
[organisation]
name = "Example Energy Ltd"
pseudonym = "member-7f3a"
internal_networks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"]
internal_domains = ["corp.example", "exampleenergy.example", "xn--bcher-intern-dlb.example"]
public_networks = ["192.0.2.224/27"]
sensitive_terms = ["Project Nightjar", "Substation Kestrel", "Margaret Holloway", "Straße der Einheit"]
sensitive_patterns = ['INC-\\d{7}']

[federation]
name = "energy-federation"
pseudonym_key = "file:federation.key"

[ledger]
path = "ledger.sqlite"
epsilon = 1000.0
delta = 1e-2
window = "30d"

[privacy]
sharing_groups = { "energy-isac" = ["energy-federation"] }
partner_domains = ["partner-utility.example"]
internal_hostname_patterns = ['ws\\d{4}', 'srv-[a-z]+\\d{2}']
learn_hostnames_from_store = false
"""

FEDERATION_KEY = "5c1e9a7b3d0f2a4c6e8b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a2c4e6b8d0f1a3c"
ZW = "\u200b"
SHY = "\u00ad"
ZWJ = "\u200d"
BOM = "\ufeff"
CYRILLIC = str.maketrans({"o": "\u043e", "a": "\u0430", "e": "\u0435", "c": "\u0441", "p": "\u0440"})


@dataclass
class Case:
    family: str
    name: str
    event: dict[str, Any]
    secrets: list[str]
    controls: list[str] = field(default_factory=list)
    expect: str = "shared"


def _uuid() -> str:
    return str(uuid.uuid4())


def _attribute(attribute_type: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"uuid": _uuid(), "type": attribute_type, "value": value, "timestamp": "1700000000", "to_ids": True,
            "distribution": "5", **extra}


def _event(info: str = "Phishing wave against the sector", *attributes: dict[str, Any], **extra: Any
           ) -> dict[str, Any]:
    return {"uuid": _uuid(), "info": info, "distribution": "3", "date": "2024-03-01", "threat_level_id": "2",
            "analysis": "1", "timestamp": "1700000000", "published": True,
            "Orgc": {"id": "1", "name": "Example Energy Ltd", "uuid": _uuid()},
            "Attribute": [_attribute("ip-dst", "203.0.113.5"), *attributes], **extra}


def _control(index: int) -> str:
    return f"198.51.{100 + index // 250}.{index % 250 + 1}"


# ---- disguises of a text ----------------------------------------------------------------------------------------

def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _interleave(text: str, mark: str) -> str:
    return mark.join(text)


def _entities(text: str) -> str:
    return "".join(f"&#{ord(c)};" if c.isalpha() and i % 2 else c for i, c in enumerate(text))


def _hex_entities(text: str) -> str:
    return "".join(f"&#x{ord(c):x};" if c in ".@" or i % 3 == 0 else c for i, c in enumerate(text))


def _tags(text: str) -> str:
    middle = len(text) // 2
    return f"<b>{text[:middle]}</b><i>{text[middle:]}</i>"


def _hyphen_break(text: str) -> str:
    middle = len(text) // 2
    while middle < len(text) - 1 and not (text[middle - 1].isalnum() and text[middle].isalnum()):
        middle += 1
    return f"{text[:middle]}-\n{text[middle:]}"


def _combining(text: str) -> str:
    return "".join(c + "\u0301" if c in "aeiou" else c for c in text)


def _leet(text: str) -> str:
    return text.replace("o", "0").replace("i", "1").replace("l", "1")


def _alternate_case(text: str) -> str:
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


TEXT_DISGUISES = {
    "as-is": lambda t: t,
    "upper": str.upper,
    "alternate-case": _alternate_case,
    "fullwidth": _fullwidth,
    "zero-width-space": lambda t: _interleave(t, ZW),
    "soft-hyphen": lambda t: _interleave(t, SHY),
    "zwj": lambda t: _interleave(t, ZWJ),
    "bom": lambda t: BOM + _interleave(t, BOM),
    "cyrillic-confusables": lambda t: t.translate(CYRILLIC),
    "entities": _entities,
    "hex-entities": _hex_entities,
    "tags": _tags,
    "hyphenated-line-break": _hyphen_break,
    "combining-marks": _combining,
    "leet": _leet,
    "math-bold": lambda t: "".join(chr(0x1D41A + ord(c) - 97) if "a" <= c <= "z" else c for c in t),
}
DOMAIN_DISGUISES = {
    **{k: v for k, v in TEXT_DISGUISES.items() if k not in ("hyphenated-line-break", "combining-marks")},
    "ideographic-dot": lambda t: t.replace(".", "\u3002"),
    "fullwidth-dot": lambda t: t.replace(".", "\uff0e"),
    "halfwidth-dot": lambda t: t.replace(".", "\uff61"),
    "one-dot-leader": lambda t: t.replace(".", "\u2024"),
    "defanged": lambda t: t.replace(".", "[.]"),
    "defanged-dot-word": lambda t: t.replace(".", "(dot)"),
    "trailing-dot": lambda t: t + ".",
    "backslash-dot": lambda t: t.replace(".", "\\."),
}


def _placements(text: str, control: str) -> list[tuple[str, dict[str, Any]]]:
    """The same text in five places of an event; the control is written next to it."""
    sentence = f"Beacon {control} seen; note: {text} (analyst)"
    html = f"<p>Beacon <code>{control}</code> seen.</p><p>Note: {text}</p>"
    return [
        ("info", _event(sentence)),
        ("comment", _event("Phishing wave", _attribute("ip-dst", control, comment=f"note: {text}"))),
        ("text-attribute", _event("Phishing wave", _attribute("text", sentence))),
        ("event-report", _event("Phishing wave", EventReport=[{"uuid": _uuid(), "name": "Report",
                                                                  "content": html, "distribution": "5"}])),
        ("object-description", _event("Phishing wave", Object=[{
            "uuid": _uuid(), "name": "network-connection", "meta-category": "network", "distribution": "5",
            "description": f"note: {text}", "comment": f"seen {control}",
            "Attribute": [_attribute("ip-dst", control, object_relation="ip-dst")]}])),
    ]


def _disguise_cases() -> list[Case]:
    cases: list[Case] = []
    index = 0
    needles = {"term": "Project Nightjar", "org-name": "Example Energy", "staff-name": "Margaret Holloway",
               "casefold-term": "Straße der Einheit"}
    for family, needle in needles.items():
        for name, disguise in TEXT_DISGUISES.items():
            written = disguise(needle)
            places = _placements(written, _control(index))
            place, event = places[index % len(places)]
            cases.append(Case(f"disguise-{family}", f"{name}/{place}", event, [written, needle], [_control(index)]))
            index += 1
    cases.append(Case("disguise-casefold-term", "STRASSE", _event(f"Seen {_control(index)} near STRASSE DER "
                                                                   "EINHEIT"), ["STRASSE DER EINHEIT"],
                      [_control(index)]))
    index += 1
    for needle in ("vpn.corp.example", "alice.b@corp.example", "hr.exampleenergy.example"):
        for name, disguise in DOMAIN_DISGUISES.items():
            written = disguise(needle)
            for place, event in _placements(written, _control(index))[index % 2::3]:
                cases.append(Case("disguise-domain", f"{needle}/{name}/{place}", event, [written, needle],
                                  [_control(index)]))
            index += 1
    idna = "bücher-intern.example"
    for written in ("files.xn--bcher-intern-dlb.example", "files.BÜCHER-INTERN.example",
                    "files.bücher-intern。example", "backup_corp.example", "vpn.corp.example.attacker.test",
                    "payroll-export_corp.example.zip", "vpn.corp.example:8443", "https://corp.example@evil.test/",
                    "c" + "\u043e" + "rp.example", "xn--" + "c\u043erp".encode("punycode").decode() + ".example",
                    "corp.exampIe", "c0rp.example", '<a href="https://vpn.corp.example/login">portal</a>',
                    "<!-- vpn.corp.example -->", '<img alt="Project Nightjar" src="x.png">',
                    '<span title="10.0.0.1">gateway</span>'):
        cases.append(Case("disguise-domain", written, _event(f"Lure {_control(index)} then {written}"),
                          [written], [_control(index)]))
        index += 1
    cases.append(Case("disguise-domain", "idna-unicode", _event(f"{_control(index)} {idna}"), [idna],
                      [_control(index)]))
    index += 1
    for written in ("INC-1234567", "inc-1234567", "ＩＮＣ-１２３４５６７", "INC\u200b-1234567", "INC-１２３４５６７",
                    "I&#78;C-1234567"):
        cases.append(Case("disguise-pattern", written, _event(f"Ticket {written} for {_control(index)}"),
                          [written, "1234567"], [_control(index)]))
        index += 1
    return cases


# ---- addresses ----------------------------------------------------------------------------------------------------

def _address_forms() -> dict[str, str]:
    return {
        "dotted": "10.1.2.3", "decimal-integer": "167838211", "hex-integer": "0xa010203",
        "hex-dotted": "0x0a.0x01.0x02.0x03", "octal-dotted": "012.01.02.03", "leading-zeros": "010.001.002.003",
        "short-a.b": "http://10.66051/", "short-a.b.c": "http://10.1.515/", "mixed": "0xa.1.0x2.03",
        "fullwidth": "１０．１．２．３", "ideographic-dots": "10。1。2。3", "defanged": "10[.]1[.]2[.]3",
        "in-url": "http://10.1.2.3:8080/admin", "ipv4-mapped": "::ffff:10.1.2.3", "ipv4-mapped-hex": "::ffff:a01:203",
        "ipv4-compatible": "::10.1.2.3", "6to4": "2002:a01:203::1", "nat64": "64:ff9b::a01:203",
        "nat64-local": "64:ff9b:1::a01:203",
        "teredo": str(ipaddress.IPv6Address((0x20010000 << 96) | (0x41364d4d << 64) | (0xffff ^ 0) << 32 |
                                            (0xffffffff ^ int(ipaddress.IPv4Address("10.1.2.3"))))),
        "reverse-dns": "3.2.1.10.in-addr.arpa", "reverse-dns-partial": "1.10.in-addr.arpa",
        "ip-in-hostname": "ip-10-1-2-3.ec2.internal", "ip-in-hostname-underscore": "host_10_1_2_3_lan",
        "ip-dotted-in-hostname": "10.1.2.3.nip.io", "cidr": "10.20.0.0/16", "cidr-private-172": "172.16.4.0/24",
        "own-public": "192.0.2.230", "own-public-int": str(int(ipaddress.IPv4Address("192.0.2.230"))),
        "ula": "fd12:3456::10", "ula-bracketed-port": "[fd12:3456::10]:8443", "ula-zone": "fd12:3456::10%eth0",
        "link-local-zone": "fe80::1ff:fe23:4567:890a%eth2", "fc00": "fc00::beef",
        "ip6-arpa": ".".join(reversed(ipaddress.IPv6Address("fd12:3456::10").exploded.replace(":", ""))) +
                    ".ip6.arpa",
        "percent-encoded": "http://%31%30.%31.%32.%33/", "ping-short": "ping 10.1.515",
        "ipv6-uppercase": "FD12:3456::10", "ipv4-mapped-full": "0:0:0:0:0:ffff:0a01:0203",
    }


def _address_cases(start: int) -> list[Case]:
    cases = []
    index = start
    for name, written in _address_forms().items():
        for place, event in _placements(written, _control(index))[index % 2::2]:
            cases.append(Case("address", f"{name}/{place}", event, [written], [_control(index)]))
        index += 1
    indicator_forms = {"ip-dst": "0xa010203", "ip-src": "::ffff:a01:203", "ip-dst|port": "[fd12:3456::10]|443",
                       "domain|ip": "evil.test|::ffff:10.1.2.3", "url": "http://167838211/x",
                       "hostname": "ip-10-1-2-3.ec2.internal", "ip-src|port": "010.001.002.003|80"}
    for attribute_type, value in indicator_forms.items():
        event = _event(f"Indicators {_control(index)}", _attribute(attribute_type, value),
                       _attribute("ip-dst", _control(index)))
        cases.append(Case("address-indicator", attribute_type, event, [value], [_control(index)]))
        index += 1
    return cases


# ---- encodings ----------------------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "base64": _b64(raw), "base64-in-word": f"k{_b64(raw)}" if len(raw) % 3 == 0 else _b64(b"k=" + raw),
        "base64url": base64.urlsafe_b64encode(raw + b"??>").decode().rstrip("="),
        "base64-utf16": _b64(secret.encode("utf-16-le")), "base32": base64.b32encode(raw).decode(),
        "hex": raw.hex(), "hex-0x": "0x" + raw.hex(), "hex-escapes": "".join(f"\\x{b:02x}" for b in raw),
        "percent": "".join(f"%{b:02X}" for b in raw), "percent-double": quote(quote(secret, safe=""), safe=""),
        "quoted-printable": quopri.encodestring(raw, quotetabs=True).decode().replace(".", "=2E"),
        "gzip-base64": _b64(gzip.compress(raw)), "zlib-base64": _b64(zlib.compress(raw)),
        "nested-3-base64": _b64(_b64(_b64(raw).encode()).encode()),
        "nested-base64-hex-base64": _b64(_b64(raw).encode().hex().encode()),
        "nested-percent-base64-gzip": quote(_b64(gzip.compress(_b64(raw).encode())), safe=""),
        "unicode-escapes": "".join(f"\\u{ord(c):04x}" for c in secret),
    }


def _encoded_cases(start: int) -> list[Case]:
    cases = []
    index = start
    for secret in ("10.1.2.3", "vpn.corp.example", "Project Nightjar", "INC-7654321", "alice@corp.example",
                   "10.0.0.1", "corp.example"):
        for name, written in _encodings(secret).items():
            place, event = _placements(f"cmd {written} end", _control(index))[index % 5]
            cases.append(Case("encoded", f"{secret}/{name}/{place}", event, [written], [_control(index)]))
            index += 1
    return cases


# ---- detectors ----------------------------------------------------------------------------------------------------

DETECTOR_SAMPLES = {
    "iban": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR14 2004 1010 0505 0001 3M02 606",
             "NL91ABNA0417164300", "ES9121000418450200051332"],
    "payment-card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "6011000000000004",
                     "4012888888881881"],
    "phone": ["+44 20 7946 0958", "+1 (202) 555-0143", "020 7946 0958", "+49 30 901820", "+33 1 42 68 53 00",
              "(202) 555-0173"],
    "vin": ["1M8GDM9AXKP042788", "1HGCM82633A004352", "5YJ3E1EA2KF317000"],
    "national-id": ["DE136695976", "ATU13585627", "NL004495445B01", "12345678Z", "RCCMNL83S18D969H"],
    "windows-sid": ["S-1-5-21-3623811015-3361044348-30300820-1013"],
    "private-key": ["-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
                    "\n-----END RSA PRIVATE KEY-----"],
    "partner-email": ["j.smith@partner-utility.example", "SOC@Partner-Utility.Example"],
}
PATH_SAMPLES = {
    "user-path": [("C:\\Users\\alice.smith\\AppData\\Roaming\\{c}.exe", "alice.smith"),
                  ("C:\\\\Users\\\\bwayne\\\\Downloads\\\\{c}.zip", "bwayne"),
                  ("/home/jdoe42/.cache/{c}.sh", "jdoe42"), ("/Users/mkowalski/Library/{c}.plist", "mkowalski"),
                  ("C:/Users/rpatel/Desktop/{c}.lnk", "rpatel"),
                  ("C:\\Documents and Settings\\hklein\\{c}.tmp", "hklein")],
    "unc-host": [("\\\\FILESRV07\\finance$\\{c}.xlsm", "FILESRV07"), ("\\\\nas-bkp3\\share\\{c}.dll", "nas-bkp3"),
                 ("file://hrapp02/drop/{c}.hta", "hrapp02")],
    "url-credentials": [("https://svc_backup:Winter2024!@files.evil.test/{c}", "svc_backup:Winter2024!")],
    "hostname-pattern": [("lateral move to WS0417 then {c}", "WS0417"), ("from srv-sql07 to {c}", "srv-sql07")],
}


def _detector_cases(start: int) -> list[Case]:
    cases = []
    index = start
    for kind, samples in DETECTOR_SAMPLES.items():
        for sample in samples:
            place, event = _placements(f"ref {sample} ok", _control(index))[index % 5]
            cases.append(Case(f"detector-{kind}", f"{sample[:24]}/{place}", event, [sample], [_control(index)]))
            index += 1
    for kind, samples in PATH_SAMPLES.items():
        for template, secret in samples:
            control = f"evilpayload{index}"
            text = template.format(c=control)
            place, event = _placements(text, _control(index))[index % 5]
            cases.append(Case(f"detector-{kind}", f"{secret}/{place}", event, [secret], [_control(index), control]))
            index += 1
            if kind in ("user-path", "unc-host"):
                value = template.format(c=control)
                attribute_type = "filename" if kind == "user-path" else "text"
                event = _event("Dropper", _attribute(attribute_type, value), _attribute("ip-dst", _control(index)))
                cases.append(Case(f"detector-{kind}", f"{secret}/indicator", event, [secret],
                                  [_control(index), control]))
                index += 1
    for short in ("fin-ws0231", "dbprod07", "kestrel-scada1"):
        event = _event(f"Pivot via {short.upper()} to {_control(index)}",
                       _attribute("hostname", f"{short}.corp.example", to_ids=False),
                       _attribute("ip-dst", _control(index)))
        cases.append(Case("detector-learned-host", short, event, [short], [_control(index)]))
        index += 1
    event = _event(f"Pivot via JUMPBOX9 to {_control(index)}", _attribute("domain|ip", "jumpbox9.lan.test|10.9.9.9"),
                   _attribute("ip-dst", _control(index)))
    cases.append(Case("detector-learned-host", "domain|ip-internal", event, ["jumpbox9"], [_control(index)]))
    return cases


# ---- fields ---------------------------------------------------------------------------------------------------------

def _field_cases(start: int) -> list[Case]:
    cases = []
    index = start
    secret = "Project Nightjar"

    def add(name: str, event: dict[str, Any], secrets: list[str] | None = None, expect: str = "shared") -> None:
        nonlocal index
        if expect == "shared":
            event["Attribute"].append(_attribute("ip-dst", _control(index)))
        cases.append(Case("field", name, event, secrets or [secret], [_control(index)] if expect == "shared" else [],
                          expect))
        index += 1

    def obj(**extra: Any) -> dict[str, Any]:
        return {"uuid": _uuid(), "name": "network-connection", "meta-category": "network", "distribution": "5",
                "Attribute": [_attribute("ip-dst", _control(index), object_relation="ip-dst")], **extra}

    add("object-name", _event("x", Object=[obj(name=f"{secret} tracker")]))
    add("object-meta-category", _event("x", Object=[obj(**{"meta-category": secret})]))
    add("object-description", _event("x", Object=[obj(description=f"about {secret}")]))
    add("object-comment", _event("x", Object=[obj(comment=f"about {secret}")]))
    reference = {"uuid": _uuid(), "referenced_uuid": _uuid(), "relationship_type": "related-to",
                 "comment": f"links {secret}"}
    add("reference-comment", _event("x", Object=[obj(ObjectReference=[reference])]))
    add("reference-relationship", _event("x", Object=[obj(ObjectReference=[{**reference, "comment": "",
                                                                             "relationship_type": secret}])]))
    custom = obj()
    custom["Attribute"] = [_attribute("ip-dst", _control(index), object_relation=f"{secret}-ip")]
    add("object-relation", _event("x", Object=[custom]))
    galaxy = {"uuid": _uuid(), "name": "Threat Actor", "type": "threat-actor",
              "GalaxyCluster": [{"uuid": _uuid(), "type": "threat-actor", "value": "APT-X",
                                 "tag_name": 'misp-galaxy:threat-actor="APT-X"', "distribution": "3",
                                 "description": "an actor", "meta": {"refs": [f"https://{_control(index)}/"],
                                                                      f"note {secret}": ["x"],
                                                                      "victims": [f"{secret} ops"]}}]}
    add("galaxy-meta", _event("x", Galaxy=[galaxy]))
    cluster_zero = {"uuid": _uuid(), "type": "threat-actor", "value": "Kestrel Crew", "distribution": "0",
                    "description": f"our {secret} incident"}
    add("galaxy-cluster-distribution-0", _event("x", Galaxy=[{**galaxy, "GalaxyCluster": [cluster_zero]}]))
    cluster_group = {**cluster_zero, "uuid": _uuid(), "distribution": "4",
                     "SharingGroup": {"name": "internal-only", "uuid": _uuid()}}
    add("galaxy-cluster-unmapped-group", _event("x", Galaxy=[{**galaxy, "GalaxyCluster": [cluster_group]}]))
    cluster_bad = {**cluster_zero, "uuid": _uuid(), "distribution": "nine"}
    add("galaxy-cluster-invalid-distribution", _event("x", Galaxy=[{**galaxy, "GalaxyCluster": [cluster_bad]}]))
    add("galaxy-description", _event("x", Galaxy=[{**galaxy, "description": f"{secret} view"}]))
    add("tag", _event("x", Tag=[{"name": f"customer:{secret}"}, {"name": "tlp:green"}]))
    add("attribute-tag", _event("x", _attribute("ip-dst", _control(index), Tag=[{"name": f"case:{secret}"}])))
    add("sighting-source", _event("x", _attribute("ip-dst", _control(index), Sighting=[
        {"uuid": _uuid(), "type": "0", "source": f"{secret} sensor", "date_sighting": "1700000000"}])))
    add("extends-uuid", _event("x", extends_uuid=f"{secret}"))
    add("first-seen-unparseable", _event("x", _attribute("ip-dst", _control(index), first_seen=f"{secret}")))
    add("event-report-name", _event("x", EventReport=[{"uuid": _uuid(), "name": f"{secret} report",
                                                        "content": "short", "distribution": "5"}]))
    add("event-report-markdown", _event("x", EventReport=[{"uuid": _uuid(), "name": "r", "distribution": "5",
                                                            "content": "# Notes\n\n**Project** _Nightjar_ and "
                                                                       "`Project Nightjar`"}]),
        [secret, "**Project** _Nightjar_"])
    add("unknown-event-field", _event("x", customer_notes=f"{secret}"), expect="withheld")
    add("unknown-attribute-field", _event("x", _attribute("ip-dst", "203.0.113.9", x_internal=f"{secret}")),
        expect="withheld")
    add("unknown-object-field", _event("x", Object=[obj(owner=f"{secret}")]), expect="withheld")
    victim = "ceo.office@victim-bank.example"
    add("pseudonymised-elsewhere", _event(f"Phish sent to {victim}", _attribute("email-dst", victim),
                                          _attribute("ip-dst", _control(index), comment=f"to {victim.upper()}")),
        [victim])
    add("pseudonymised-local-part", _event("Phish to ceo.office, see x", _attribute("email-dst", victim)),
        ["ceo.office"])
    return cases


def corpus() -> list[Case]:
    """Every case, generated deterministically apart from uuids."""
    cases = _disguise_cases()
    cases += _address_cases(len(cases))
    cases += _encoded_cases(len(cases))
    cases += _detector_cases(len(cases))
    cases += _field_cases(len(cases))
    return cases


if __name__ == "__main__":
    from collections import Counter

    counted = Counter(c.family for c in corpus())
    for family, count in sorted(counted.items()):
        print(f"{family:32s} {count}")
    print(f"{'total':32s} {sum(counted.values())}")
