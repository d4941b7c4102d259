"""Configuration: ``legion.toml`` read with :mod:`tomllib`, validated section by section.

The ``organisation`` and ``store`` sections are defined here; other subsystems add theirs with
:func:`register_section` (or extend one with :func:`register_keys`). :func:`load_config` reports *every* problem with
its key path in one :class:`~legion_misp.errors.ConfigError`.
"""

from __future__ import annotations

import base64
import importlib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConfigProblem
from .schema import (
    Key,
    each,
    in_range,
    is_domain,
    is_network,
    is_regex,
    is_url,
    non_empty_str,
    one_of,
    validate_table,
)
from .secrets import Secret
from .timeutil import is_duration

DEFAULT_CONFIG_NAME = "legion.toml"
CONFIG_ENV = "LEGION_CONFIG"
EXAMPLE_CONFIG_RESOURCE = "legion.example.toml"

_PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"]


def _is_file_reference(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("file:") and len(value) > 5:
        return None
    return "must be 'file:PATH'"


ORGANISATION_KEYS: tuple[Key, ...] = (
    Key("name", str, doc="The organisation's real name. Never shared; scrubbed from shared text.",
        check=non_empty_str),
    Key("pseudonym", str, doc="How the federation sees this organisation (replaces the name in shared data).",
        check=non_empty_str),
    Key("internal_networks", list, list(_PRIVATE_NETWORKS), "Internal IP ranges (CIDR); values inside never leave.",
        check=each(is_network)),
    Key("internal_domains", list, [], "Internal DNS suffixes; domains, hostnames, URLs and e-mail addresses under "
        "them never leave.", check=each(is_domain)),
    Key("public_networks", list, [], "The organisation's own public addresses (CIDR): they identify it, so they "
        "never leave.", check=each(is_network)),
    Key("sensitive_terms", list, [], "Words or names that must never leave (case-insensitive)."),
    Key("sensitive_terms_file", str, None, "'file:PATH' with one sensitive term per line ('#' starts a comment).",
        check=_is_file_reference),
    Key("sensitive_patterns", list, [], "Regular expressions whose matches never leave (e.g. 'INC-\\d{7}').",
        check=each(is_regex)),
)

STORE_KEYS: tuple[Key, ...] = (
    Key("kind", str, "feed", "'feed' (a MISP feed directory) or 'misp' (a MISP instance through its REST API).",
        check=one_of("feed", "misp")),
    Key("path", str, "data/feed", "Feed directory for kind = 'feed' (relative to the config file)."),
    Key("url", str, None, "MISP base URL for kind = 'misp'.", check=is_url),
    Key("api_key", str, None, "MISP API key for kind = 'misp', as 'env:NAME' or 'file:PATH'.", secret=True),
    Key("verify_tls", bool, True, "Verify the MISP server's TLS certificate. Turn off only for a lab."),
    Key("ca_bundle", str, None, "Path to a CA bundle (PEM) for a MISP server with a private CA."),
    Key("timeout", float, 30.0, "Seconds to wait for each MISP API request."),
    Key("page_size", int, 100, "Events per MISP restSearch page.", check=lambda v: None if v > 0 else "must be > 0"),
)


def is_ed25519_public_key(value: Any) -> str | None:
    """Check a base64 (standard or URL-safe) raw 32-byte Ed25519 public key, optionally prefixed ``ed25519:``."""
    try:
        decode_ed25519_public_key(value)
    except ValueError:
        return "not a valid Ed25519 key (expected base64 of the 32-byte raw public key)"
    return None


def decode_ed25519_public_key(value: Any) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(value, str):
        raise ValueError("not a string")
    text = value.removeprefix("ed25519:").strip()
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except Exception as exc:
        raise ValueError("invalid Ed25519 public key") from exc
    return raw


MEMBER_KEYS: tuple[Key, ...] = (
    Key("pseudonym", str, doc="The member's federation pseudonym.", check=non_empty_str),
    Key("public_key", str, doc="The member's Ed25519 public key (base64 of the 32 raw bytes).",
        check=is_ed25519_public_key),
    Key("collections", list, [], "Ids of the TAXII collections this member may publish to."),
)

COLLECTION_KEYS: tuple[Key, ...] = (
    Key("url", str, doc="TAXII 2.1 API root URL.", check=is_url),
    Key("collection", str, doc="Collection id (or alias, where the server supports it).", check=non_empty_str),
    Key("direction", str, "both", "'push', 'pull' or 'both'.", check=one_of("push", "pull", "both")),
    Key("peer", str, None, "For pulls: the pseudonym of the member publishing there (optional)."),
    Key("username", str, None, "HTTP basic-auth user name."),
    Key("password", str, None, "HTTP basic-auth password, as 'env:NAME' or 'file:PATH'.", secret=True),
    Key("api_key", str, None, "API key sent as a bearer token, as 'env:NAME' or 'file:PATH'.", secret=True),
    Key("verify_tls", bool, True, "Verify the server's TLS certificate."),
    Key("ca_bundle", str, None, "CA bundle (PEM) for a server with a private CA."),
    Key("client_cert", str, None, "Client certificate (PEM) for mutual TLS."),
    Key("client_key", str, None, "Client private key (PEM) for mutual TLS, as 'file:PATH'.", secret=True),
)

FEDERATION_KEYS: tuple[Key, ...] = (
    Key("name", str, "legion-federation", "The federation's name."),
    Key("pseudonym_key", str, None, "Federation-wide HMAC key for keyed pseudonyms, as 'env:NAME' or 'file:PATH': "
        "hex of at least 32 random bytes (`legion keys pseudonym` creates it). Every member holds it, so members can "
        "brute-force low-entropy values.", secret=True),
    Key("pseudonym_epoch", str, "1", "Label of the pseudonym key's epoch: mixed into every pseudonym and tagged "
        "legion:pseudonym-epoch on pseudonymised attributes. Rotate the key and change the label (e.g. each "
        "quarter) to bound how long pseudonyms stay linkable."),
    Key("members", list, [], "The member roster ([[federation.members]] tables).", item_schema=MEMBER_KEYS),
    Key("collections", list, [], "TAXII collections to sync ([[federation.collections]] tables).",
        item_schema=COLLECTION_KEYS),
)

LEDGER_KEYS: tuple[Key, ...] = (
    Key("path", str, "data/privacy-ledger.sqlite", "SQLite file of the privacy-budget ledger."),
    Key("epsilon", float, 10.0, "Most ε all DP releases may spend together within one window.",
        check=in_range(0, None, low_open=True)),
    Key("delta", float, 1e-4, "Most δ all DP releases may spend together within one window.",
        check=in_range(0, 1)),
    Key("window", str, "30d", "Sliding window of the budget, e.g. '30d'.", check=is_duration),
)

_SECTIONS: dict[str, tuple[Key, ...]] = {
    "organisation": ORGANISATION_KEYS,
    "store": STORE_KEYS,
    "federation": FEDERATION_KEYS,
    "ledger": LEDGER_KEYS,
}
_REQUIRED_SECTIONS = {"organisation"}
# Modules that register their own sections when imported; imported before a configuration is validated.
SECTION_MODULES: tuple[str, ...] = ("legion_misp.privacy.policy", "connectors.settings",
                                     "legion_misp.trust.settings")


def _import_section_modules() -> None:
    for module_name in SECTION_MODULES:
        importlib.import_module(module_name)


def register_section(name: str, keys: tuple[Key, ...]) -> None:
    """Declare a configuration section (``[name]``) and its keys. Re-registering replaces the keys."""
    _SECTIONS[name] = tuple(keys)


def register_keys(section: str, keys: tuple[Key, ...]) -> None:
    """Add keys to an existing section (a subsystem extending e.g. ``[federation]``)."""
    existing = {k.name: k for k in _SECTIONS.get(section, ())}
    existing.update({k.name: k for k in keys})
    _SECTIONS[section] = tuple(existing.values())


def registered_sections() -> dict[str, tuple[Key, ...]]:
    """All known sections and their keys (for documentation and ``legion config reference``)."""
    _import_section_modules()
    core = ("organisation", "store", "federation", "ledger")
    order = [*core, *sorted(name for name in _SECTIONS if name not in core)]  # independent of import order
    return {name: _SECTIONS[name] for name in order}


@dataclass(frozen=True)
class Organisation:
    """The local organisation: its identity and what identifies it (never shared)."""

    name: str
    pseudonym: str
    internal_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    internal_domains: tuple[str, ...] = ()
    public_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    sensitive_terms: tuple[str, ...] = ()
    sensitive_patterns: tuple[re.Pattern[str], ...] = ()

    def is_protected_ip(self, text: str) -> bool:
        """True if ``text`` is an IP address inside an internal or the organisation's own public network."""
        try:
            address = ipaddress.ip_address(text.strip().strip("[]"))
        except ValueError:
            return False
        return any(address in net for net in (*self.internal_networks, *self.public_networks))

    def is_internal_domain(self, text: str) -> bool:
        """True if the domain/host name ``text`` equals or ends with an internal domain (case-insensitive)."""
        host = text.strip().rstrip(".").lower()
        return any(host == d or host.endswith("." + d) for d in self.internal_domains)


@dataclass(frozen=True)
class Config:
    """A validated configuration. ``section(name)`` returns a section's values with defaults filled."""

    path: Path | None
    base_dir: Path
    sections: dict[str, Any]
    organisation: Organisation
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        if name in self.sections:
            return self.sections[name]
        keys = _SECTIONS.get(name)
        if keys is None:
            raise KeyError(f"unknown configuration section {name!r}")
        values, _ = validate_table({}, keys, name)
        return values

    def secret(self, reference: str | None) -> Secret | None:
        """A :class:`Secret` for an ``env:``/``file:`` reference (``file:`` relative to the config file)."""
        return None if reference is None else Secret(reference, self.base_dir)

    def resolve_path(self, path: str | os.PathLike[str]) -> Path:
        """A path from the config, relative to the config file's folder unless absolute."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


def default_config_path() -> Path:
    """``$LEGION_CONFIG`` if set, else ``./legion.toml``."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME)


def example_config_text() -> str:
    """The commented example configuration shipped with the package (what ``legion config init`` writes)."""
    return resources.files("legion_misp.data").joinpath(EXAMPLE_CONFIG_RESOURCE).read_text(encoding="utf-8")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a configuration file. Raises :class:`ConfigError` listing every problem."""
    config_path = Path(path) if path is not None else default_config_path()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {config_path} not found (create one with 'legion config init')") \
            from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {config_path} cannot be read: {exc}") from exc
    return parse_config(text, base_dir=config_path.resolve().parent, path=config_path)


def load_default_config(base_dir: Path | None = None) -> Config:
    """The embedded example configuration, with relative paths under ``base_dir`` (default: cwd)."""
    return parse_config(example_config_text(), base_dir=base_dir or Path.cwd(), path=None)


def parse_config(text: str, *, base_dir: Path, path: Path | None = None) -> Config:
    _import_section_modules()
    where = str(path) if path else "<embedded default>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration {where} is not valid TOML: {exc}") from exc
    sections, problems = _validate_sections(raw)
    organisation = None
    if not problems:
        organisation, org_problems = _build_organisation(sections["organisation"], base_dir)
        problems.extend(org_problems)
    problems.extend(_cross_section_problems(sections))
    if problems:
        raise ConfigError(f"configuration {where} has {len(problems)} problem(s):", problems)
    return Config(path=path, base_dir=base_dir, sections=sections, organisation=organisation, raw=raw)


def _validate_sections(raw: dict[str, Any]) -> tuple[dict[str, Any], list[ConfigProblem]]:
    problems: list[ConfigProblem] = []
    sections: dict[str, Any] = {}
    for name in raw:
        if name not in _SECTIONS:
            problems.append(ConfigProblem(name, f"unknown section (known: {', '.join(sorted(_SECTIONS))})"))
    for name, keys in _SECTIONS.items():
        if name not in raw and name in _REQUIRED_SECTIONS:
            problems.append(ConfigProblem(name, "section is required"))
            continue
        values, section_problems = validate_table(raw.get(name, {}), keys, name)
        sections[name] = values
        problems.extend(section_problems)
    return sections, problems


def _cross_section_problems(sections: dict[str, Any]) -> list[ConfigProblem]:
    store = sections.get("store", {})
    problems = []
    if store.get("kind") == "misp":
        for key in ("url", "api_key"):
            if not store.get(key):
                problems.append(ConfigProblem(f"store.{key}", "is required when store.kind = 'misp'"))
    members = sections.get("federation", {}).get("members", [])
    seen: dict[str, int] = {}
    for index, member in enumerate(members):
        name = member.get("pseudonym")
        if name in seen:
            problems.append(ConfigProblem(f"federation.members[{index}].pseudonym",
                                          f"duplicate of federation.members[{seen[name]}]"))
        seen.setdefault(name, index)
    return problems


def _build_organisation(values: dict[str, Any], base_dir: Path) -> tuple[Organisation | None, list[ConfigProblem]]:
    terms = [t for t in values["sensitive_terms"] if isinstance(t, str) and t.strip()]
    problems: list[ConfigProblem] = []
    if values["sensitive_terms_file"]:
        try:
            terms.extend(read_terms_file(values["sensitive_terms_file"].removeprefix("file:"), base_dir))
        except OSError as exc:
            problems.append(ConfigProblem("organisation.sensitive_terms_file", f"cannot be read: {exc.strerror}"))
    organisation = Organisation(
        name=values["name"],
        pseudonym=values["pseudonym"],
        internal_networks=tuple(ipaddress.ip_network(n, strict=False) for n in values["internal_networks"]),
        internal_domains=tuple(d.strip(".").lower() for d in values["internal_domains"]),
        public_networks=tuple(ipaddress.ip_network(n, strict=False) for n in values["public_networks"]),
        sensitive_terms=tuple(dict.fromkeys(t.strip() for t in terms)),
        sensitive_patterns=tuple(re.compile(p) for p in values["sensitive_patterns"]),
    )
    return organisation, problems


def read_terms_file(name: str, base_dir: Path) -> list[str]:
    """One term per line; blank lines and lines starting with '#' are ignored."""
    path = Path(name).expanduser()
    path = path if path.is_absolute() else base_dir / path
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
