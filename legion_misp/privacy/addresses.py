"""IP addresses in every notation a resolver, a browser or an analyst uses, found in the ``plain`` view of a text.

:func:`find_addresses` returns the spans of written addresses and networks together with every address they denote:

- IPv4 as ``inet_aton`` reads it: dotted quads, decimal integers (``167772161``), hex (``0xa000001``,
  ``0x0a.0.0.1``), octal (``012.0.0.1``), short forms (``10.1``, ``10.0.1``) and leading zeros — a form with leading
  zeros is read both ways (octal as ``inet_aton`` does, decimal as a person does) and protected if either is;
  short forms and bare integers count in a host context (after ``://``, ``@``, ``\\\\``, a network command) or when
  they are unambiguous (hex, at least 8 digits);
- IPv6 (also bracketed with a port, with a zone ``%eth0``, mixed ``::ffff:10.0.0.1``) and the IPv4 addresses it
  embeds: IPv4-mapped and -compatible, 6to4 (2002::/16), NAT64 (64:ff9b::/96, 64:ff9b:1::/48), Teredo (server and
  client);
- reverse-DNS names (``1.0.0.10.in-addr.arpa``, nibble ``ip6.arpa``; partial names denote networks);
- addresses written into host names (``ip-10-0-0-1.ec2.internal``, ``10_0_0_1``);
- CIDR networks (``10.20.0.0/16``): protected when they overlap a protected network and are at least a /8 (IPv4) or
  /16 (IPv6), so ``0.0.0.0/0`` is not a finding.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4_PART = r"(?:0x[0-9a-f]++|[0-9]++)"
_V4 = re.compile(r"(?<![0-9a-z.])(" + _V4_PART + r"(?:\." + _V4_PART + r"){0,3})(?:/([0-9]{1,2}))?(?![0-9a-z])")
_V6 = re.compile(r"(?<![0-9a-z:.])\[?((?:[0-9a-f]{0,4}:){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f]{1,4})?)"
                 r"(?:%[0-9a-z_.\-]{1,32})?\]?(?:/([0-9]{1,3}))?(?![0-9a-z:])")
_REVERSE_V4 = re.compile(r"(?<![0-9a-z])((?:[0-9]{1,3}\.){1,4})in-addr\.arpa\b")
_REVERSE_V6 = re.compile(r"(?<![0-9a-z])((?:[0-9a-f]\.){1,32})ip6\.arpa\b")
_IN_HOSTNAME = re.compile(r"(?<![0-9])([0-9]{1,3})([-_x])([0-9]{1,3})\2([0-9]{1,3})\2([0-9]{1,3})(?![0-9])")
_HOST_CONTEXT = re.compile(r"(?:://|@|\\\\|//|\b(?:ping|ssh|telnet|curl|wget|nc|ncat|nmap|rdp|smb|host|server|ip|"
                           r"addr|address|connect(?:ed)? to|to|from)[\s:=]+)\[?$")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


@dataclass(frozen=True)
class Found:
    """An address notation at ``start:end`` of the plain view, the addresses/networks it denotes."""

    start: int
    end: int
    networks: tuple[Network, ...]


def _part_value(part: str, *, octal: bool) -> int | None:
    if part.startswith("0x"):
        return int(part, 16) if len(part) > 2 else 0
    if octal and len(part) > 1 and part.startswith("0"):
        return int(part, 8) if all(c in "01234567" for c in part) else None
    return int(part)


def inet_aton_readings(text: str) -> set[ipaddress.IPv4Address]:
    """Every IPv4 address ``text`` (``a``, ``a.b``, ``a.b.c`` or ``a.b.c.d``) denotes: inet_aton's reading and the
    decimal reading of leading zeros."""
    parts = text.split(".")
    readings = set()
    for octal in (True, False):
        values = [_part_value(p, octal=octal) for p in parts]
        if any(v is None for v in values):
            continue
        *head, last = values
        if any(v > 255 for v in head) or last >= 1 << (8 * (5 - len(parts))):
            continue
        number = last
        for index, value in enumerate(head):
            number |= value << (24 - 8 * index)
        readings.add(ipaddress.IPv4Address(number))
    return readings


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo server and client)."""
    out = []
    if address.ipv4_mapped:
        out.append(address.ipv4_mapped)
    value = int(address)
    if value >> 32 == 0 and value > 0xFFFF:
        out.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address.sixtofour:
        out.append(address.sixtofour)
    if address.teredo:
        out.extend(address.teredo)
    if any(address in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return out


def _networks_of_v6(address: ipaddress.IPv6Address) -> tuple[Network, ...]:
    return (ipaddress.ip_network(address), *(ipaddress.ip_network(a) for a in embedded_ipv4(address)))


def _host_context(text: str, start: int) -> bool:
    return bool(_HOST_CONTEXT.search(text[max(0, start - 24):start]))


def _v4_found(text: str) -> Iterator[Found]:
    for match in _V4.finditer(text):
        written, prefix = match.group(1), match.group(2)
        parts = written.split(".")
        unusual = any(p.startswith("0x") or (len(p) > 1 and p.startswith("0")) for p in parts)
        if len(parts) < 4:
            long_integer = len(parts) == 1 and (len(written) >= 8 if not written.startswith("0x") else
                                                len(written) >= 9)
            if not (long_integer or (unusual and len(parts) > 1) or _host_context(text, match.start())):
                continue
        readings = inet_aton_readings(written)
        if not readings:
            continue
        if prefix is not None and len(parts) == 4 and int(prefix) <= 32:
            networks = tuple(ipaddress.ip_network(f"{r}/{prefix}", strict=False) for r in readings)
            yield Found(match.start(), match.end(), networks)
        else:
            yield Found(match.start(1), match.end(1), tuple(ipaddress.ip_network(r) for r in readings))


def _v6_found(text: str) -> Iterator[Found]:
    for match in _V6.finditer(text):
        written, prefix = match.group(1), match.group(2)
        if written.count(":") < 2 or "::::" in written:
            continue
        try:
            address = ipaddress.IPv6Address(written)
        except ValueError:
            continue
        networks = _networks_of_v6(address)
        if prefix is not None and int(prefix) <= 128:
            networks = (ipaddress.ip_network(f"{address}/{prefix}", strict=False), *networks[1:])
        yield Found(match.start(), match.end(), networks)


def _reverse_found(text: str) -> Iterator[Found]:
    for match in _REVERSE_V4.finditer(text):
        octets = [o for o in match.group(1).split(".") if o][::-1]
        if all(int(o) <= 255 for o in octets):
            padded = octets + ["0"] * (4 - len(octets))
            yield Found(match.start(), match.end(),
                        (ipaddress.ip_network(f"{'.'.join(padded)}/{8 * len(octets)}", strict=False),))
    for match in _REVERSE_V6.finditer(text):
        nibbles = [n for n in match.group(1).split(".") if n][::-1]
        value = int("".join(nibbles).ljust(32, "0"), 16)
        yield Found(match.start(), match.end(),
                    (ipaddress.ip_network(f"{ipaddress.IPv6Address(value)}/{4 * len(nibbles)}", strict=False),))


def _hostname_found(text: str) -> Iterator[Found]:
    for match in _IN_HOSTNAME.finditer(text):
        octets = [match.group(i) for i in (1, 3, 4, 5)]
        if match.group(2) == "x" or not all(int(o) <= 255 for o in octets):
            continue
        yield Found(match.start(), match.end(), (ipaddress.ip_network(".".join(str(int(o)) for o in octets)),))


def find_addresses(text: str) -> list[Found]:
    """Every address or network notation in ``text`` (expected: the lower-cased ``plain`` view)."""
    found: list[Found] = []
    if any(c.isdigit() for c in text):
        found += _v4_found(text)
        found += _hostname_found(text)
        if "arpa" in text:
            found += _reverse_found(text)
    if text.count(":") >= 2:
        found += _v6_found(text)
    return found


def is_protected_network(network: Network, protected: tuple[Network, ...]) -> bool:
    """A single address inside, or a network of at least /8 (/16 for IPv6) overlapping, a protected network."""
    minimum = 8 if network.version == 4 else 16
    for candidate in protected:
        if candidate.version != network.version:
            continue
        if network.num_addresses == 1:
            if network.network_address in candidate:
                return True
        elif network.prefixlen >= minimum and network.overlaps(candidate):
            return True
    return False


def protected_addresses(text: str, protected: tuple[Network, ...]) -> list[tuple[int, int]]:
    """Spans of ``text`` that write (in any notation) an address or network inside the protected networks."""
    return [(f.start, f.end) for f in find_addresses(text)
            if any(is_protected_network(n, protected) for n in f.networks)]


def value_networks(value: str) -> list[Network]:
    """Networks an indicator value part denotes (``10.0.0.1``, ``[fd00::1]:443``, ``0xa000001``...), any notation."""
    text = value.strip().lower()
    networks: list[Network] = []
    for found in find_addresses(text):
        networks.extend(found.networks)
    if not networks:
        stripped = text.strip("[]")
        if re.fullmatch(_V4_PART + r"(?:\." + _V4_PART + r"){0,3}", stripped):
            networks.extend(ipaddress.ip_network(r) for r in inet_aton_readings(stripped))
    return networks


ProtectedCheck = Callable[[Network], bool]
