"""``legion config``: write, check and document the configuration."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import example_config_text
from ..errors import EXIT_USAGE, ConfigError
from ..schema import Key
from ..sections import all_sections, load_config
from .context import state


@click.group()
def config() -> None:
    """Write, validate and document legion.toml."""


@config.command("init")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_context
def init(ctx: click.Context, path: str | None, force: bool) -> None:
    """Write a commented example configuration (to PATH, else to --config).

    \b
    Example:
      legion config init legion.toml && $EDITOR legion.toml && legion config check
    """
    target = Path(path or state(ctx).config_path)
    if target.exists() and not force:
        raise click.UsageError(f"{target} already exists; use --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example_config_text(), encoding="utf-8")
    click.echo(f"Wrote {target}. Edit it, then run: legion --config {target} config check")


@config.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def check(ctx: click.Context, path: str | None) -> None:
    """Validate a configuration and report every problem with its key path.

    \b
    Example:
      legion --config /etc/legion/legion.toml config check
      # federation.members[2].public_key: not a valid Ed25519 key (expected base64 ...)
    """
    target = Path(path or state(ctx).config_path)
    try:
        loaded = load_config(target)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        ctx.exit(EXIT_USAGE)
    organisation = loaded.organisation
    click.echo(f"{target}: OK")
    click.echo(f"  organisation: pseudonym {organisation.pseudonym}, {len(organisation.internal_networks)} internal "
               f"networks, {len(organisation.internal_domains)} internal domains, "
               f"{len(organisation.sensitive_terms)} sensitive terms, {len(organisation.sensitive_patterns)} patterns")
    store = loaded.section("store")
    click.echo(f"  store: {store['kind']} {store['path'] if store['kind'] == 'feed' else store['url']}")
    federation = loaded.section("federation")
    click.echo(f"  federation: {federation['name']}, {len(federation['members'])} members, "
               f"{len(federation['collections'])} collections")


@config.command("reference")
@click.option("--markdown", is_flag=True, help="Markdown tables (as in docs/configuration.md).")
def reference(markdown: bool) -> None:
    """Print every configuration key with its type, default and meaning.

    \b
    Example:
      legion config reference | less
      legion config reference --markdown   # the tables of docs/configuration.md (`make docs`)
    """
    for section, keys in all_sections().items():
        click.echo(_markdown_section(section, keys) if markdown else _text_section(section, keys))


def _default_text(key: Key) -> str:
    if key.required:
        return "required"
    return "secret: env:NAME or file:PATH" if key.secret and key.default is None else repr(key.default)


def _text_section(section: str, keys: tuple[Key, ...]) -> str:
    lines = [f"[{section}]"]
    for key in keys:
        lines.append(f"  {key.name}: {_default_text(key)}" + (" (secret: env:NAME or file:PATH)" if key.secret
                                                              and key.default is not None else ""))
        if key.doc:
            lines.append(f"      {key.doc}")
        for item in key.item_schema or ():
            lines.append(f"      {key.name}[].{item.name}: {_default_text(item)} — {item.doc}")
    return "\n".join(lines) + "\n"


def _markdown_section(section: str, keys: tuple[Key, ...]) -> str:
    lines = [f"#### `[{section}]`", "", "| key | default | meaning |", "|---|---|---|"]
    for key in keys:
        lines.append(f"| `{key.name}` | {_md(_default_text(key))} | {_md(key.doc)} |")
        for item in key.item_schema or ():
            lines.append(f"| `{key.name}[].{item.name}` | {_md(_default_text(item))} | {_md(item.doc)} |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
