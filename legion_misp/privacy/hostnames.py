"""Learn the organisation's own short host names from its data, so ``ws0123`` is redacted in a comment even though
only ``ws0123.corp.example`` was ever written down.

Sources (:func:`learn_hostnames`): first labels of internal FQDNs anywhere in an event's strings; host names in
``domain|ip`` pairs whose address is protected (the whole name and its first label); ``hostname|port`` and
``hostname``/``domain`` values under internal domains. Generic service labels (``www``, ``mail``, ``vpn``...) are
never learned: redacting them everywhere would cost far more than it protects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..stores.events import iter_attributes
from .addresses import is_protected_network, value_networks
from .normalize import plain

if TYPE_CHECKING:
    from ..config import Organisation

GENERIC_LABELS = frozenset("""
www www1 www2 mail smtp imap pop pop3 mx vpn remote portal intranet extranet webmail owa autodiscover login sso auth
api app apps dev test staging stage prod uat ns ns1 ns2 ns3 dns ftp sftp git gitlab github jira wiki confluence proxy
gateway gw ad ldap files file share shares backup db sql web cdn static assets mobile support help status crm erp
hr it docs cloud secure admin internal corp lan local office exchange sharepoint teams print printer scan nas monitor
grafana kibana splunk siem edr update updates time ntp log logs host server client router firewall fw switch
""".split())
_FQDN = re.compile(r"(?<![\w\-.])([a-z0-9][a-z0-9_\-]{1,62})((?:\.[a-z0-9_\-]{1,63})+)")


def is_learnable(label: str) -> bool:
    label = label.strip().lower()
    return len(label) >= 3 and label not in GENERIC_LABELS and not label.isdigit()


def _strings(event: dict[str, Any]) -> Iterator[str]:
    """The strings of an event where host names are written: info, values, comments, descriptions, reports."""
    yield str(event.get("info", ""))
    for attribute in iter_attributes(event):
        yield str(attribute.get("value", ""))
        if attribute.get("comment"):
            yield str(attribute["comment"])
    for obj in event.get("Object") or []:
        if isinstance(obj, dict):
            for key in ("description", "comment"):
                if obj.get(key):
                    yield str(obj[key])
    for report in event.get("EventReport") or []:
        if isinstance(report, dict) and report.get("content"):
            yield str(report["content"])


def learn_hostnames(event: dict[str, Any], organisation: Organisation) -> set[str]:
    """Short host names (lower case) of the organisation that ``event`` reveals."""
    domains = tuple(d.strip(".").lower() for d in organisation.internal_domains if d.strip("."))
    networks = (*organisation.internal_networks, *organisation.public_networks)
    learned: set[str] = set()
    hints = re.compile("|".join(re.escape(d.split(".")[-2] if d.count(".") else d) for d in domains),
                       re.IGNORECASE) if domains else None
    if hints is not None:
        for text in _strings(event):
            if text.isascii() and not hints.search(text):
                continue
            for match in _FQDN.finditer(plain(text)):
                suffix = match.group(2)[1:]
                if any(suffix == d or suffix.endswith("." + d) for d in domains) and is_learnable(match.group(1)):
                    learned.add(match.group(1))
    for attribute in iter_attributes(event):
        attribute_type, value = str(attribute.get("type", "")), str(attribute.get("value", ""))
        if attribute_type in ("domain|ip", "hostname|port", "ip-dst|port", "ip-src|port") and "|" in value:
            host, other = (part.strip().lower() for part in value.split("|", 1))
            address_part = other if attribute_type == "domain|ip" else host
            if any(is_protected_network(n, networks) for n in value_networks(address_part)) and \
                    attribute_type == "domain|ip":
                learned.add(host)
                if is_learnable(host.split(".")[0]):
                    learned.add(host.split(".")[0])
    return learned


def learn_from(events: Iterable[dict[str, Any]], organisation: Organisation) -> set[str]:
    learned: set[str] = set()
    for event in events:
        learned |= learn_hostnames(event, organisation)
    return learned
