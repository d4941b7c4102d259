"""``legion sync``: exchange sanitised events with the federation as STIX 2.1 over TAXII 2.1.

Exit codes: 0 everything synced; 1 some collection or item failed (the others were processed; see the summary);
2 usage or configuration error, including a push without a sanitiser and without ``--no-sanitize``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable

import click

from connectors.job import SyncJob
from connectors.quarantine import retry_configured
from connectors.settings import CollectionSettings, SyncSettings
from connectors.state import SyncState
from legion_misp.errors import LockedError

from ..errors import EXIT_ITEM_FAILURES, EXIT_USAGE
from ..timeutil import parse_duration
from .context import state


def _progress_factory() -> Callable[[str], Callable[[int], None]] | None:
    """A one-line counter on stderr, only when stderr is a terminal (never in cron or journald logs)."""
    if not sys.stderr.isatty():
        return None

    def factory(label: str) -> Callable[[int], None]:
        count = [0]

        def advance(n: int) -> None:
            count[0] += n
            click.echo(f"\r{label}: {count[0]}", err=True, nl=False)

        return advance

    return factory


def _schedule_options(func: Callable) -> Callable:
    func = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")(func)
    func = click.option("--dry-run", is_flag=True, help="Read and convert, but send and store nothing (cursors, "
                        "published versions and quarantine unchanged).")(func)
    func = click.option("--every", metavar="DURATION", default=None, is_flag=False, flag_value="config",
                        help="Run again every DURATION (e.g. 15m, 1h; alone: sync.every) until interrupted.")(func)
    func = click.option("--once", is_flag=True, help="Run once and exit (default; for cron or a systemd timer).")(func)
    return func


def _run(ctx: click.Context, kind: str, once: bool, every: str | None, dry_run: bool, as_json: bool,
         no_sanitize: bool = False) -> None:
    if once and every:
        raise click.UsageError("--once and --every exclude each other")
    interval = None
    config = state(ctx).config()
    if every == "config":
        interval = parse_duration(config.section("sync")["every"])
    elif every:
        try:
            interval = parse_duration(every)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    code = 0
    while True:
        started = time.monotonic()
        job = SyncJob.from_config(config, no_sanitize=no_sanitize, dry_run=dry_run, progress=_progress_factory())
        try:
            summary = job.execute(kind)
        except LockedError as exc:
            if interval is None:
                raise
            click.echo(f"skipped: {exc}", err=True)  # a long previous run: try again at the next tick
            summary = None
        if summary is not None:
            if sys.stderr.isatty():
                click.echo("", err=True)
            click.echo(json.dumps(summary.as_dict(), indent=2) if as_json else summary.format())
            code = summary.exit_code
        if interval is None:
            break
        pause = max(0.0, interval - (time.monotonic() - started))
        click.echo(f"next run in {pause:.0f} s", err=True)
        time.sleep(pause)
    if code:
        ctx.exit(code)


@click.group()
def sync() -> None:
    """Push and pull sanitised events to and from the federation's TAXII 2.1 collections.

    \b
    Collections come from [[federation.collections]], behaviour from [sync] (see `legion config reference`).
    Exit codes: 0 ok, 1 some collection or item failed (others processed), 2 usage/configuration error.
    """


@sync.command("push")
@_schedule_options
@click.option("--no-sanitize", is_flag=True,
              help="Publish events exactly as stored. Only for data that may be shared as it is.")
@click.pass_context
def push(ctx: click.Context, once: bool, every: str | None, dry_run: bool, as_json: bool, no_sanitize: bool) -> None:
    """Publish local events (sanitised) to every push collection.

    \b
    Example:
      legion sync push --once
      legion sync push --dry-run          # how many objects would be sent
    """
    _run(ctx, "push", once, every, dry_run, as_json, no_sanitize)


@sync.command("pull")
@_schedule_options
@click.pass_context
def pull(ctx: click.Context, once: bool, every: str | None, dry_run: bool, as_json: bool) -> None:
    """Fetch new objects from every pull collection into the local store.

    \b
    Example:
      legion sync pull --once
    """
    _run(ctx, "pull", once, every, dry_run, as_json)


@sync.command("run")
@_schedule_options
@click.option("--no-sanitize", is_flag=True,
              help="Publish events exactly as stored. Only for data that may be shared as it is.")
@click.pass_context
def run(ctx: click.Context, once: bool, every: str | None, dry_run: bool, as_json: bool, no_sanitize: bool) -> None:
    """Push, then pull: the job cron or a systemd timer runs.

    \b
    Example:
      legion sync run --once                 # from cron: */15 * * * *
      legion sync run --every 15m            # as a long-running service
    """
    _run(ctx, "run", once, every, dry_run, as_json, no_sanitize)


@sync.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show cursors, the last runs and the quarantine size.

    \b
    Example:
      legion sync status
    """
    config = state(ctx).config()
    settings = SyncSettings.from_config(config)
    collections = CollectionSettings.from_config(config)
    with SyncState(settings.state_path) as db:
        cursors = db.cursors()
        runs = db.last_runs(5)
        info = {"state": str(settings.state_path), "quarantine": db.quarantine_size(), "counts": db.counts(),
                "collections": [{"collection": c.key, "direction": c.direction,
                                 "cursor": (cursors.get(c.key) or (None,))[0]} for c in collections],
                "runs": runs}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"State {info['state']}")
    for item in info["collections"]:
        click.echo(f"  {item['direction']:<5} {item['collection']}  cursor {item['cursor'] or '(none)'}")
    counts = info["counts"]
    click.echo(f"  pushed objects {counts['pushed']}, published events {counts['published']}, "
               f"pulled objects {counts['staged']}, quarantine {info['quarantine']}")
    for entry in runs:
        when = dt.datetime.fromtimestamp(entry["started"], dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        result = "running" if entry["ok"] is None else "ok" if entry["ok"] else "FAILED"
        totals = (entry["summary"] or {}).get("totals", {})
        brief = ", ".join(f"{k} {v}" for k, v in totals.items() if v)
        click.echo(f"  run #{entry['id']} {when} {entry['kind']}{' (dry run)' if entry['dry_run'] else ''}: "
                   f"{result}{' — ' + brief if brief else ''}")


@sync.group("quarantine")
def quarantine() -> None:
    """Inspect and retry objects refused during pulls."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (includes payloads).")
@click.option("--all", "show_all", is_flag=True, help="Include resolved entries.")
@click.pass_context
def quarantine_list(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """List quarantined objects with their reasons.

    \b
    Example:
      legion sync quarantine list
    """
    settings = SyncSettings.from_config(state(ctx).config())
    with SyncState(settings.state_path) as db:
        entries = db.quarantined(include_resolved=show_all)
    if as_json:
        click.echo(json.dumps([e.__dict__ for e in entries], indent=2))
        return
    if not entries:
        click.echo("quarantine is empty")
    for e in entries:
        when = dt.datetime.fromtimestamp(e.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        click.echo(f"#{e.id} {when} {e.stix_id or '(no id)'}{' [resolved]' if e.resolved else ''} "
                   f"(x{e.attempts}): {e.reason}")


@quarantine.command("retry")
@click.argument("entry_ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every open entry.")
@click.pass_context
def quarantine_retry(ctx: click.Context, entry_ids: tuple[int, ...], retry_all: bool) -> None:
    """Process quarantined objects again (e.g. after raising sync.max_object_bytes or fixing the store).

    \b
    Example:
      legion sync quarantine retry 12 13
      legion sync quarantine retry --all
    """
    if not entry_ids and not retry_all:
        raise click.UsageError("give entry ids or --all")
    resolved, still = retry_configured(state(ctx).config(), None if retry_all else list(entry_ids))
    click.echo(f"{resolved} resolved, {still} still quarantined")
    if still:
        ctx.exit(EXIT_ITEM_FAILURES)


__all__ = ["EXIT_USAGE", "sync"]
