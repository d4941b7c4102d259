"""Configuration: ``legion.toml`` read with :mod:`tomllib`, validated section by section.

This module knows the ``[organisation]`` section (who we are; every subsystem needs it) and how to validate a file
against a list of :class:`Section` s. It knows no subsystem: each subsystem declares its own keys (``stores``,
``privacy``, ``trust``, ``connectors``) and the app layer composes them, explicitly and in one place, in
:mod:`legion_misp.sections`. :func:`parse_config` reports *every* problem with its key path in one
:class:`~legion_misp.errors.ConfigError`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConfigProblem
from .schema import Key, each, is_domain, is_network, is_regex, non_empty_str, validate_table
from .secrets import Secret

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

ORGANISATION = "organisation"


@dataclass(frozen=True)
class Section:
    """One ``[name]`` table of ``legion.toml``: its keys, whether it must be present, and an optional check across
    its keys (``check(values)`` returns the problems, located by key path)."""

    name: str
    keys: tuple[Key, ...]
    required: bool = False
    check: Callable[[dict[str, Any]], list[ConfigProblem]] | None = None


def _schema(sections: Sequence[Section]) -> dict[str, Section]:
    """``[organisation]`` first, then the given sections in their order."""
    return {ORGANISATION: Section(ORGANISATION, ORGANISATION_KEYS, required=True),
            **{section.name: section for section in sections}}


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
        if name not in self.sections:
            raise KeyError(f"unknown configuration section {name!r}")
        return self.sections[name]

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


def load_config(path: str | os.PathLike[str] | None, *, sections: Sequence[Section]) -> Config:
    """Read and validate a configuration file against ``sections`` (the app's schema, see
    :mod:`legion_misp.sections`). Raises :class:`ConfigError` listing every problem."""
    config_path = Path(path) if path is not None else default_config_path()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {config_path} not found (create one with 'legion config init')") \
            from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {config_path} cannot be read: {exc}") from exc
    return parse_config(text, base_dir=config_path.resolve().parent, path=config_path, sections=sections)


def parse_config(text: str, *, base_dir: Path, path: Path | None = None, sections: Sequence[Section]) -> Config:
    """Validate configuration text against ``[organisation]`` and ``sections``; relative paths resolve under
    ``base_dir``."""
    schema = _schema(sections)
    where = str(path) if path else "<embedded default>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration {where} is not valid TOML: {exc}") from exc
    values, problems = _validate_sections(raw, schema)
    organisation = None
    if not problems:
        organisation, org_problems = _build_organisation(values[ORGANISATION], base_dir)
        problems.extend(org_problems)
    for name, section in schema.items():
        if section.check is not None and name in values:
            problems.extend(section.check(values[name]))
    if problems:
        raise ConfigError(f"configuration {where} has {len(problems)} problem(s):", problems)
    return Config(path=path, base_dir=base_dir, sections=values, organisation=organisation, raw=raw)


def _validate_sections(raw: dict[str, Any], schema: dict[str, Section]) -> tuple[dict[str, Any], list[ConfigProblem]]:
    problems: list[ConfigProblem] = []
    values: dict[str, Any] = {}
    for name in raw:
        if name not in schema:
            problems.append(ConfigProblem(name, f"unknown section (known: {', '.join(sorted(schema))})"))
    for name, section in schema.items():
        if name not in raw and section.required:
            problems.append(ConfigProblem(name, "section is required"))
            continue
        values[name], section_problems = validate_table(raw.get(name, {}), section.keys, name)
        problems.extend(section_problems)
    return values, problems


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
