"""MISP events for "Example Energy Ltd" with planted canaries (in the shape of tests/fixtures/canaries.json).

``planted_events()`` returns ``(events, canaries)`` where ``canaries`` is ``{"sensitive": [{value, kind, event}],
"shareable_indicators": [{value, type, event}]}``. Every sensitive value is unique, so finding it anywhere in the
output is a leak.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from .conftest import attribute, event, new_uuid


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64_utf16(text: str) -> str:
    return base64.b64encode(text.encode("utf-16-le")).decode()


def planted_events() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, str]]]]:
    sensitive: list[dict[str, str]] = []
    shareable: list[dict[str, str]] = []
    events: list[dict[str, Any]] = []

    def secret(value: str, kind: str, owner: dict[str, Any]) -> str:
        sensitive.append({"value": value, "kind": kind, "event": owner["uuid"]})
        return value

    def share(attribute_type: str, value: str, owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
        shareable.append({"value": value, "type": attribute_type, "event": owner["uuid"]})
        return attribute(attribute_type, value, **extra)

    # 1. A phishing event full of internal detail, shared at "all communities".
    e1 = event(info="placeholder", distribution="3")
    e1["info"] = (f"Spear-phishing against {secret('Example Energy Ltd', 'org-name', e1)} staff "
                  f"({secret('Margaret Holloway', 'staff-name', e1)}), ticket {secret('INC-4711007', 'pattern', e1)}")
    e1["event_creator_email"] = secret("soc-analyst7@corp.example", "creator-email", e1)
    e1["Orgc"]["uuid"] = secret("0c5ee1a0-7777-4a1b-9c1d-00000000c0de", "org-uuid", e1)
    e1["Attribute"] = [
        share("email-src", "billing@invoice-portal.example", e1),
        share("ip-dst", "203.0.113.10", e1, Sighting=[
            {"type": "0", "source": secret("SENSOR-AMS-07", "sighting-source", e1),
             "Organisation": {"name": secret("Example Energy Ltd SOC Team", "sighting-org", e1)},
             "date_sighting": "1700000100"}] * 3),
        share("domain", "evil-update.example.net", e1),
        share("url", "http://evil-update.example.net/payload.bin", e1),
        share("md5", "9e107d9d372bb6826bd81d3542a419d6", e1),
        share("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", e1),
        share("filename", "invoice_2024.pdf.exe", e1),
        attribute("target-user", secret("m.holloway", "targeting-data", e1), category="Targeting data"),
        attribute("target-machine", secret("WS-FIN-0042", "targeting-data", e1), category="Targeting data"),
        attribute("email-dst", secret("margaret.holloway@corp.example", "internal-email", e1)),
        attribute("email-dst", secret("j.doe@partner-utility.example", "victim-email", e1)),
        attribute("ip-src", secret("10.20.30.40", "internal-ip", e1), category="Network activity"),
        attribute("comment", "Beacon seen from " + secret("jh01.corp.example", "internal-host", e1)
                  + " and " + secret("192.168.77.12", "internal-ip", e1)),
        attribute("text", "Analyst note: the lure named " + secret("Substation Kestrel", "sensitive-term", e1)),
    ]
    e1["Attribute"][1]["comment"] = "C2 contacted by " + secret("Dev Raghunathan", "staff-name", e1) + "'s laptop"
    events.append(e1)

    # 2. Hidden forms: defanged, percent-encoded, base64 (UTF-8 and PowerShell UTF-16LE).
    e2 = event(info="Loader with encoded configuration", distribution="2")
    hidden_ip = secret("10.44.0.7", "internal-ip", e2)
    hidden_host = secret("hr-portal.corp.example", "internal-host", e2)
    hidden_b64 = secret("10.9.8.7", "internal-ip", e2)
    hidden_ps = secret("Project Nightjar", "sensitive-term", e2)
    e2["Attribute"] = [
        share("ip-dst|port", "198.51.100.23|443", e2),
        share("hostname", "c2.badhost.example", e2),
        share("sha1", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", e2),
        attribute("text", f"Pivot from {hidden_ip.replace('.', '[.]')} via hxxps://"
                  f"{hidden_host.replace('.', '[.]')}/login"),
        attribute("url", "http://c2.badhost.example/r?next=" + quote(quote(f"https://{hidden_host}/x", safe=""),
                                                                        safe="")),
        attribute("text", "Decoded config blob: " + _b64(f"upstream={hidden_b64};team=soc")),
        attribute("other", "powershell -enc " + _b64_utf16(f"Write-Host '{hidden_ps}'")),
        attribute("ip-dst|port", secret("172.16.5.9", "internal-ip", e2) + "|3389"),
        attribute("ip-dst", secret("192.0.2.230", "own-public-ip", e2)),
        attribute("ip-src", secret("10.99.0.0/16", "internal-network", e2)),
    ]
    e2["Attribute"][0]["comment"] = "see INC-" + secret("4711008", "pattern", e2)
    events.append(e2)

    # 3. Blocked tags and distribution 0 inside a shareable event; objects; an event report; a galaxy.
    e3 = event(info="Ransomware precursor", distribution="3", Tag=[{"name": "tlp:amber"}])
    e3["Attribute"] = [
        share("ip-dst", "203.0.113.55", e3),
        attribute("ip-dst", secret("203.0.113.201", "tlp-red", e3), Tag=[{"name": "TLP:RED"}]),
        attribute("domain", secret("amber-strict-c2.example.org", "tlp-amber-strict", e3),
                  Tag=[{"name": "tlp:amber+strict"}]),
        attribute("domain", secret("pap-red.example.org", "pap-red", e3), Tag=[{"name": "PAP:RED"}]),
        attribute("ip-dst", secret("198.51.100.77", "distribution-0", e3), distribution="0"),
        attribute("domain", secret("sg-board-only.example.com", "unmapped-sharing-group", e3), distribution="4",
                  SharingGroup={"name": "board-only", "uuid": new_uuid()}),
        share("domain", "sg-isac.example.com", e3, distribution="4",
              SharingGroup={"name": "energy-isac", "uuid": new_uuid()}),
    ]
    e3["Object"] = [
        {"uuid": new_uuid(), "name": "file", "distribution": "5", "comment": "dropped on "
         + secret("fs-backup-02.exampleenergy.example", "internal-host", e3),
         "Attribute": [share("sha256", "a" * 64, e3, object_relation="sha256"),
                       share("filename", "svc_update.dll", e3, object_relation="filename"),
                       attribute("text", "path C:\\Users\\" + secret("dev.raghunathan", "staff-username", e3)
                                 .replace(".", "[.]") + "\\AppData", object_relation="path")]},
        {"uuid": new_uuid(), "name": "person", "distribution": "5",
         "Attribute": [attribute("full-name", secret("Helena Okonkwo-Birch", "person-object", e3),
                                 object_relation="full-name")]},
        {"uuid": new_uuid(), "name": "domain-ip", "distribution": "0",
         "Attribute": [attribute("domain", secret("object-dist0.example.net", "distribution-0", e3),
                                 object_relation="domain")]},
    ]
    e3["EventReport"] = [{"uuid": new_uuid(), "name": "Timeline", "distribution": "5",
                          "content": "Operators targeted " + secret("Substation Kestrel", "sensitive-term", e3)
                          + " from the " + secret("scada-hist01.corp.example", "internal-host", e3) + " segment."},
                         {"uuid": new_uuid(), "name": "Private", "distribution": "0",
                          "content": secret("Private report text: board briefing Q3", "distribution-0", e3)}]
    e3["Galaxy"] = [{"uuid": new_uuid(), "name": "Threat Actor", "type": "threat-actor", "GalaxyCluster": [
        {"uuid": new_uuid(), "type": "threat-actor", "value": "Custom actor", "tag_name":
         'misp-galaxy:threat-actor="Custom actor"', "description": "Tracked internally under "
         + secret("Project Nightjar", "sensitive-term", e3) + " by the SOC", "meta": {"refs": ["x"]}}]}]
    e3["Tag"].append({"name": "misp-galaxy:threat-actor=\"Custom actor\""})
    e3["Tag"].append({"name": secret("internal:case-substation-kestrel", "sensitive-tag", e3), "local": False})
    events.append(e3)

    # 4. Whole events that must stay home.
    red = event(info=secret("Red event alpha internal investigation", "tlp-red-event", {"uuid": ""}),
                distribution="3", Tag=[{"name": "tlp:red"}])
    sensitive[-1]["event"] = red["uuid"]
    red["Attribute"] = [attribute("domain", secret("red-only-c2.example.net", "tlp-red-event", red))]
    events.append(red)
    private = event(info="Org-only incident", distribution="0")
    private["Attribute"] = [attribute("domain", secret("private-c2.example.org", "distribution-0-event", private))]
    events.append(private)
    community = event(info="Community-only below the minimum", distribution="1")
    community["Attribute"] = [share("domain", "community-c2.example.org", community)]
    events.append(community)

    # 5. More plain shareable indicators, spread over events.
    for index in range(4):
        plain = event(info=f"Commodity malware wave {index}", distribution="3")
        plain["Attribute"] = [share("ip-dst", f"203.0.113.{100 + index}", plain),
                              share("domain", f"malware-{index}.example.net", plain),
                              share("sha256", f"{index:x}" * 64, plain),
                              share("user-agent", f"Mozilla/5.0 (BadBot {index})", plain)]
        events.append(plain)
    return events, {"sensitive": sensitive, "shareable_indicators": shareable}
