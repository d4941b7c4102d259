"""``legion store``: look at and load the configured event store."""

from __future__ import annotations

import click

from ..errors import EXIT_ITEM_FAILURES, StoreError
from ..stores import FeedStore, UpsertResult, open_store
from .context import state


@click.group()
def store() -> None:
    """Inspect and load the configured MISP event store (feed directory or MISP instance)."""


@store.command("list")
@click.option("--since", type=int, default=None, help="Only events with timestamp >= this epoch second.")
@click.option("--tag", "tags", multiple=True, help="Only events carrying this tag (repeatable: all required).")
@click.option("--published/--unpublished", default=None, help="Only published (or unpublished) events.")
@click.pass_context
def list_events(ctx: click.Context, since: int | None, tags: tuple[str, ...], published: bool | None) -> None:
    """List events: uuid, timestamp, attribute count, info.

    \b
    Example:
      legion store list --tag tlp:green --published
    """
    errors: list[StoreError] = []
    for event in open_store(state(ctx).config()).query(since=since, tags=list(tags) or None, published=published,
                                                       on_error=errors.append):
        count = len(event.get("Attribute", [])) + sum(len(o.get("Attribute", [])) for o in event.get("Object", []))
        click.echo(f"{event['uuid']}  {event.get('timestamp', ''):>10}  {count:>4}  {event.get('info', '')}")
    _report_errors(ctx, errors)


@store.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.pass_context
def import_feed(ctx: click.Context, source: str) -> None:
    """Copy every event of a MISP feed directory SOURCE into the configured store (upsert by uuid).

    \b
    Example:
      legion store import examples/events
    """
    errors: list[StoreError] = []
    target = open_store(state(ctx).config())
    counts = target.upsert_many(FeedStore(source, create=False).query(on_error=errors.append),
                                on_error=errors.append)
    click.echo(", ".join(f"{counts[r]} {r.value}" for r in UpsertResult))
    _report_errors(ctx, errors)


@store.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check a feed store: manifest vs files, unreadable or malformed events.

    \b
    Example:
      legion store check
    """
    target = open_store(state(ctx).config())
    if not isinstance(target, FeedStore):
        raise click.UsageError("store check applies to feed stores (store.kind = 'feed')")
    problems = target.check()
    if not problems:
        click.echo(f"{target.path}: OK")
    _report_errors(ctx, problems)


def _report_errors(ctx: click.Context, errors: list[StoreError]) -> None:
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        click.echo(f"{len(errors)} item(s) failed", err=True)
        ctx.exit(EXIT_ITEM_FAILURES)
