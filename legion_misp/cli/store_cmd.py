"""``legion store``: look at and load the configured event store."""

from __future__ import annotations

import datetime as dt

import click

from ..errors import EXIT_ITEM_FAILURES, StoreError
from ..stores import FeedStore, UpsertResult, open_store
from .context import state
from .progress import counted, progress_bar


@click.group()
def store() -> None:
    """Inspect and load the configured MISP event store (feed directory or MISP instance)."""


@store.command("list")
@click.option("--since", type=int, default=None, help="Only events with timestamp >= this epoch second.")
@click.option("--tag", "tags", multiple=True, help="Only events carrying this tag (repeatable: all required).")
@click.option("--published/--unpublished", default=None, help="Only published (or unpublished) events.")
@click.pass_context
def list_events(ctx: click.Context, since: int | None, tags: tuple[str, ...], published: bool | None) -> None:
    """List events: uuid, last change (UTC, ISO 8601), attribute count, published, info.

    \b
    Example:
      legion store list --tag tlp:green --published
    """
    errors: list[StoreError] = []
    click.echo(f"{'UUID':<36}  {'CHANGED (UTC)':<20}  {'ATTRS':>5}  {'PUB':<3}  INFO")
    shown = 0
    for event in open_store(state(ctx).config()).query(since=since, tags=list(tags) or None, published=published,
                                                       on_error=errors.append):
        count = len(event.get("Attribute", [])) + sum(len(o.get("Attribute", [])) for o in event.get("Object", []))
        click.echo(f"{event['uuid']:<36}  {iso_time(event.get('timestamp')):<20}  {count:>5}  "
                   f"{'yes' if _truthy(event.get('published')) else 'no':<3}  {event.get('info', '')}")
        shown += 1
    click.echo(f"{shown} event(s)")
    _report_errors(ctx, errors)


def iso_time(timestamp: object) -> str:
    """A MISP epoch-second timestamp as ``2026-11-02T10:00:00Z`` ('-' when absent or not a number)."""
    try:
        moment = dt.datetime.fromtimestamp(int(str(timestamp)), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return "-"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _truthy(value: object) -> bool:
    return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("1", "true"))


@store.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.pass_context
def import_feed(ctx: click.Context, source: str) -> None:
    """Copy every event of SOURCE into the configured store (upsert by uuid).

    SOURCE is a MISP feed directory or a folder of MISP JSON exports (any file names; files that hold no event
    are listed with the reason and make the exit code 1).

    \b
    Example:
      legion store import examples/events
    """
    errors: list[StoreError] = []
    target = open_store(state(ctx).config())
    feed = FeedStore(source, create=False)
    with progress_bar("import", len(list(feed.path.glob("*.json"))) or None) as bar:
        counts = target.upsert_many(counted(feed.query(on_error=errors.append), bar), on_error=errors.append)
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
