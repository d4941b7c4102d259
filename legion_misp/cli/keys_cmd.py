"""``legion keys``: this organisation's Ed25519 signing key and its roster entry.

The private key never appears on screen, in logs or in errors: commands print the public key, its key id and the
``[[federation.members]]`` snippet the other members add to their roster. Exit codes: 0 ok; 2 usage or
configuration error (no key configured, key file missing, too widely readable, or already existing).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from ..errors import ConfigError
from ..timeutil import format_time, parse_duration, utc_now
from ..trust import KeyInfo, generate_key_file, load_private_key, rotate_key_file
from .context import state


def _push_collections(config) -> list[str]:
    return [c["collection"] for c in config.section("federation")["collections"]
            if c["direction"] in ("push", "both")]


def _our_entry(config) -> dict | None:
    pseudonym = config.organisation.pseudonym
    return next((m for m in config.section("federation")["members"] if m["pseudonym"] == pseudonym), None)


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _toml_time(value) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def member_snippet(pseudonym: str, public_key: str, collections: list[str], *,
                   previous: list[tuple[str, str]] = (), revoked: list[dict] = ()) -> str:
    """The ``[[federation.members]]`` TOML table for one member (what peers paste into their roster)."""
    lines = ["[[federation.members]]", f"pseudonym = {_toml_string(pseudonym)}",
             f"public_key = {_toml_string(public_key)}",
             "collections = [" + ", ".join(_toml_string(c) for c in collections) + "]"
             + ("" if collections else "  # ids of the collections this member may publish to (\"*\": any)")]
    for key, retired_at in previous:
        lines += ["", "[[federation.members.previous_keys]]", f"public_key = {_toml_string(key)}",
                  f"retired_at = {retired_at}"]
    for entry in revoked:
        lines += ["", "[[federation.members.revoked_keys]]", f"public_key = {_toml_string(entry['public_key'])}",
                  f"revoked_at = {_toml_time(entry['revoked_at'])}"]
        if entry.get("reason"):
            lines.append(f"reason = {_toml_string(entry['reason'])}")
    return "\n".join(lines)


def _key_path(config) -> Path:
    reference = config.section("federation")["private_key"]
    if not reference:
        raise ConfigError("no signing key yet ([federation] private_key is not set): create one with "
                          "`legion keys generate`")
    return config.resolve_path(reference.removeprefix("file:"))


@click.group()
def keys() -> None:
    """Create, show and rotate this organisation's Ed25519 signing key.

    \b
    Every STIX object this organisation publishes is signed with it; the other members verify the signature
    against their roster ([[federation.members]]). The private key file has mode 0600 and is never printed.
    """


@keys.command("generate")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Where to create the key [default: [federation] private_key, else keys/<pseudonym>.ed25519.pem "
                   "next to the config file].")
@click.pass_context
def generate(ctx: click.Context, out_path: str | None) -> None:
    """Create a new key pair (refuses to overwrite an existing key file; see `rotate`).

    \b
    Example:
      legion keys generate
    """
    config = state(ctx).config()
    reference = config.section("federation")["private_key"]
    if out_path:
        path = Path(out_path)
    elif reference:
        path = config.resolve_path(reference.removeprefix("file:"))
    else:
        path = config.resolve_path(f"keys/{config.organisation.pseudonym}.ed25519.pem")
    info = generate_key_file(path)
    click.echo(f"Created {path} (mode 0600). Keep it private; back it up offline.")
    click.echo(f"Key id: {info.key_id}")
    configured = reference and config.resolve_path(reference.removeprefix("file:")).resolve() == path.resolve()
    if not configured:
        click.echo(f"\nAdd to [federation] in {config.path or 'legion.toml'}:\nprivate_key = "
                   f"{_toml_string('file:' + str(path))}")
    click.echo("\nSend this entry to the other members (and add it to your own roster):\n")
    click.echo(member_snippet(config.organisation.pseudonym, info.public_key, _push_collections(config)))


@keys.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the public key, its key id and this organisation's [[federation.members]] entry.

    \b
    Example:
      legion keys show
    """
    config = state(ctx).config()
    path = _key_path(config)
    info = KeyInfo.of(load_private_key(path))
    entry = _our_entry(config) or {}
    previous = [(k["public_key"], _toml_time(k["retired_at"])) for k in entry.get("previous_keys", [])]
    snippet = member_snippet(config.organisation.pseudonym, info.public_key, _push_collections(config),
                             previous=previous, revoked=entry.get("revoked_keys", []))
    in_roster = entry.get("public_key")
    if as_json:
        click.echo(json.dumps({"pseudonym": config.organisation.pseudonym, "public_key": info.public_key,
                               "key_id": info.key_id, "key_file": str(path),
                               "roster_matches": in_roster == info.public_key, "snippet": snippet}, indent=2))
        return
    click.echo(f"Pseudonym:  {config.organisation.pseudonym}")
    click.echo(f"Public key: {info.public_key}")
    click.echo(f"Key id:     {info.key_id}")
    click.echo(f"Key file:   {path}")
    if in_roster is None:
        click.echo("Note: this organisation is not in its own roster yet; add the entry below.")
    elif in_roster != info.public_key:
        click.echo("Warning: the roster lists another public key for this organisation; update its entry.")
    click.echo("")
    click.echo(snippet)


@keys.command("rotate")
@click.pass_context
def rotate(ctx: click.Context) -> None:
    """Replace the signing key; the old public key stays valid for [federation] key_overlap.

    \b
    The old key file is kept as <key file>.retired-<time> (mode 0600). Send the printed entry to every member
    before the overlap ends: until they update their roster, objects signed with the new key are quarantined at
    their end as 'unknown-key' (`legion sync quarantine retry --all` accepts them once the roster is updated).
    Example:
      legion keys rotate
    """
    config = state(ctx).config()
    path = _key_path(config)
    now = utc_now()
    old, new, archive = rotate_key_file(path, now=now)
    overlap = parse_duration(config.section("federation")["key_overlap"])
    until = now + dt.timedelta(seconds=overlap)
    entry = _our_entry(config) or {}
    previous = [(k["public_key"], _toml_time(k["retired_at"])) for k in entry.get("previous_keys", [])
                if k["public_key"] != old.public_key]
    previous.append((old.public_key, format_time(now)))
    click.echo(f"New key written to {path} (mode 0600); the old one is kept as {archive}.")
    click.echo(f"Old key id: {old.key_id}  (accepted by members until {format_time(until)})")
    click.echo(f"New key id: {new.key_id}")
    click.echo("\nSend this entry to every member (and update your own roster):\n")
    click.echo(member_snippet(config.organisation.pseudonym, new.public_key, _push_collections(config),
                              previous=previous, revoked=entry.get("revoked_keys", [])))


@keys.command("pseudonym")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Where to create the key [default: [federation] pseudonym_key if it is a file: reference, else "
                   "keys/federation-pseudonym.key next to the config file].")
@click.pass_context
def pseudonym(ctx: click.Context, out_path: str | None) -> None:
    """Create the federation's pseudonym HMAC key: 32 random bytes (OS CSPRNG), hex, mode 0600, never printed.

    \b
    One member creates it and hands it to every other member out of band; all members must use the same key and
    the same [federation] pseudonym_epoch. To rotate: create a new key, give it to every member and change
    pseudonym_epoch everywhere at the same time. Every member holds the key and can therefore test guesses of
    low-entropy values (e-mail addresses of a known naming scheme, names from a list): pseudonyms hide values only
    from outsiders and from members who cannot guess them.
    Example:
      legion keys pseudonym
    """
    import os
    import secrets

    config = state(ctx).config()
    reference = config.section("federation")["pseudonym_key"]
    if out_path:
        path = Path(out_path)
    elif reference and reference.startswith("file:"):
        path = config.resolve_path(reference.removeprefix("file:"))
    else:
        path = config.resolve_path("keys/federation-pseudonym.key")
    if path.exists():
        raise click.UsageError(f"{path} already exists; it is kept (remove it first to replace the key, and change "
                               "[federation] pseudonym_epoch on every member)")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    click.echo(f"Created {path} (mode 0600): 32 random bytes, hex. Give it to every member out of band.")
    configured = reference and reference.startswith("file:") and \
        config.resolve_path(reference.removeprefix("file:")).resolve() == path.resolve()
    if not configured:
        click.echo(f"\nAdd to [federation] in {config.path or 'legion.toml'}:\npseudonym_key = "
                   f"{_toml_string('file:' + str(path))}")
    epoch = config.section("federation")["pseudonym_epoch"]
    click.echo(f"Current pseudonym_epoch: {epoch!r} (change it on every member when this key replaces another)")
