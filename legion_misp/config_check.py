"""What ``legion config check`` resolves and what ``legion config init`` creates beyond the TOML itself.

A configuration can be valid TOML with valid values and still not run: a secret file that does not exist, an
environment variable that is not set, a pseudonym key too short, a folder that is missing. :func:`resolve_findings`
tries every secret and file the configuration names and returns one :class:`Finding` per problem, with the path and
the command that fixes it. :func:`prepare_files` creates the pseudonym key (from :mod:`secrets`, mode 0600) and the
data folders, or returns the exact shell commands that would.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import LegionError
from .privacy.ledger import open_ledger
from .secrets import Secret, write_secret_file

PSEUDONYM_KEY_FILE = "keys/pseudonym.key"
PSEUDONYM_KEY_BYTES = 32  # written as 64 hex characters; Pseudonymizer needs at least 16 bytes
KEY_COMMAND = "(umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > {path})"


@dataclass(frozen=True)
class Finding:
    """One thing that would stop a command: where (key path), what, and how to fix it."""

    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.problem}\n    fix: {self.fix}"


def resolve_findings(config: Config) -> list[Finding]:
    """Every secret and file of ``config`` that cannot be resolved, with its fix (empty: everything resolves)."""
    findings: list[Finding] = []
    findings += _pseudonym_key_findings(config)
    findings += _store_findings(config)
    findings += _signing_key_findings(config)
    for index, collection in enumerate(config.section("federation")["collections"]):
        where = f"federation.collections[{index}]"
        for name in ("password", "api_key", "client_key"):
            findings += _secret_findings(config, f"{where}.{name}", collection.get(name))
        for name in ("ca_bundle", "client_cert"):
            findings += _file_findings(config, f"{where}.{name}", collection.get(name))
    for key, folder in _data_folders(config).items():
        if not folder.is_dir() and not _creatable(folder):
            findings.append(Finding(key, f"folder {folder} does not exist and cannot be created here",
                                    f"mkdir -p {folder} (as the user that runs legion)"))
    return findings


def _pseudonym_key_findings(config: Config) -> list[Finding]:
    reference = config.section("federation")["pseudonym_key"]
    pseudonymised = config.section("privacy").get("pseudonymise_types") if "privacy" in config.sections else None
    if reference is None:
        if pseudonymised:
            return [Finding("federation.pseudonym_key", "not set, but privacy.pseudonymise_types "
                            f"({', '.join(pseudonymised)}) needs it",
                            f'{KEY_COMMAND.format(path=PSEUDONYM_KEY_FILE)}, then set pseudonym_key = '
                            f'"file:{PSEUDONYM_KEY_FILE}" in [federation] (or run `legion config init --files-only`)')]
        return []
    findings = _secret_findings(config, "federation.pseudonym_key", reference)
    if findings:
        return findings
    value = Secret(reference, config.base_dir).reveal()
    if len(value.encode("utf-8")) < 16:
        return [Finding("federation.pseudonym_key", f"the key is {len(value.encode('utf-8'))} bytes; at least 16 "
                        "are needed", "replace it with the federation's shared key, or for a new federation: "
                        + KEY_COMMAND.format(path=_reference_target(config, reference)))]
    return []


def _store_findings(config: Config) -> list[Finding]:
    store = config.section("store")
    if store["kind"] == "misp":
        return (_secret_findings(config, "store.api_key", store.get("api_key"))
                + _file_findings(config, "store.ca_bundle", store.get("ca_bundle")))
    return []


def _signing_key_findings(config: Config) -> list[Finding]:
    reference = config.section("federation").get("private_key")
    if not reference:
        return []
    path = config.resolve_path(reference.removeprefix("file:"))
    if not path.exists():
        return [Finding("federation.private_key", f"key file {path} does not exist", "legion keys generate")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [Finding("federation.private_key", f"key file {path} has mode {mode:04o} (group or others may read "
                        "it)", f"chmod 600 {path}")]
    return []


def _secret_findings(config: Config, key: str, reference: str | None) -> list[Finding]:
    if reference is None:
        return []
    kind, _, name = reference.partition(":")
    try:
        Secret(reference, config.base_dir).reveal()
    except LegionError as exc:
        if kind == "env":
            fix = f"export {name}=... in the environment that runs legion (systemd: Environment= or " \
                  f"EnvironmentFile=), or use file:PATH"
        else:
            path = config.resolve_path(name)
            fix = (KEY_COMMAND.format(path=path) + " (or copy the federation's shared key there)"
                   if key == "federation.pseudonym_key"
                   else f"(umask 077; cat > {path}) then paste the secret and press Ctrl-D (never on a command "
                        "line), or use env:NAME")
        return [Finding(key, str(exc), fix)]
    return []


def _file_findings(config: Config, key: str, value: str | None) -> list[Finding]:
    if not value:
        return []
    path = config.resolve_path(value.removeprefix("file:"))
    if not path.is_file():
        return [Finding(key, f"file {path} does not exist", f"copy the PEM file to {path} or fix the path")]
    return []


def _reference_target(config: Config, reference: str) -> str:
    kind, _, name = reference.partition(":")
    return str(config.resolve_path(name)) if kind == "file" else f"FILE  # and set {name} from it"


def _data_folders(config: Config) -> dict[str, Path]:
    folders = {"ledger.path": config.resolve_path(config.section("ledger")["path"]).parent}
    if config.section("store")["kind"] == "feed":
        folders["store.path"] = config.resolve_path(config.section("store")["path"])
    if "privacy" in config.sections:
        privacy = config.section("privacy")
        folders["privacy.out_path"] = config.resolve_path(privacy["out_path"])
        if config.section("store")["kind"] == "misp" and privacy["learn_hostnames_from_store"]:
            folders["privacy.learned_hostnames_path"] = config.resolve_path(privacy["learned_hostnames_path"]).parent
    if "sync" in config.sections:
        folders["sync.state_path"] = config.resolve_path(config.section("sync")["state_path"]).parent
    return folders


def _creatable(folder: Path) -> bool:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    return existing is not None and os.access(existing, os.W_OK | os.X_OK)


def prepare_files(config: Config, *, create: bool) -> list[str]:
    """Create the pseudonym key file (if the config names a missing ``file:``) and the data folders.

    Returns what was done (``create``) or the shell commands that would do it (not ``create``).
    """
    lines: list[str] = []
    reference = config.section("federation")["pseudonym_key"]
    if reference and reference.startswith("file:"):
        path = config.resolve_path(reference.removeprefix("file:"))
        if not path.exists():
            if create:
                write_new_key(path)
                lines.append(f"created {path} (mode 0600, {PSEUDONYM_KEY_BYTES} random bytes from Python's "
                             "secrets module)")
            else:
                lines += [f"install -d -m 700 {path.parent}", KEY_COMMAND.format(path=path)]
    folders = set(_data_folders(config).values())
    for folder in sorted(f for f in folders if not any(f in other.parents for other in folders)):
        if not folder.is_dir():
            if create:
                folder.mkdir(parents=True, exist_ok=True)
                lines.append(f"created folder {folder}")
            else:
                lines.append(f"mkdir -p {folder}")
    lines += _prepare_ledger(config, create=create)
    return lines


def _prepare_ledger(config: Config, *, create: bool) -> list[str]:
    """The privacy ledger must exist before a release (a missing one is an error, never a fresh budget):
    create it as ``legion budget init`` does, or name that command."""
    path = config.resolve_path(config.section("ledger")["path"])
    if path.exists():
        return []
    if not create:
        return [f"legion --config {config.path} budget init" if config.path else "legion budget init"]
    ledger = open_ledger(config, create=True)
    ledger.store_key()
    path.chmod(0o600)
    return [f"created the privacy ledger {path} (mode 0600; `legion budget show` reads it)"]


def write_new_key(path: Path) -> None:
    """A new random key, hex-encoded, in a file created with mode 0600 (never overwrites)."""
    write_secret_file(path, secrets.token_hex(PSEUDONYM_KEY_BYTES) + "\n")
