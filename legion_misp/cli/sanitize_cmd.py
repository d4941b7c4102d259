"""``legion sanitize``: make the shareable copy of MISP events; ``legion sanitize stats``: DP statistics."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import click

from ..errors import EXIT_ITEM_FAILURES
from ..privacy.ledger import open_ledger
from ..privacy.policy import Policy
from ..privacy.release import ReleaseSummary, sanitize_events
from ..privacy.report import EventReport
from ..privacy.sanitizer import Sanitizer
from ..privacy.stats import StatisticsRelease
from ..stores import FeedStore, open_store
from ..stores.base import EventSource
from ..timeutil import parse_duration
from .context import state

SEED_HELP = ("TESTS ONLY, NOT PRIVATE: draw noise from a seeded numpy generator instead of OpenDP's secure sampler. "
             "Refused unless --dry-run (which draws no noise anyway) or the test suite sets "
             "LEGION_ALLOW_TEST_SEED=1.")
TEST_SEED_VARIABLE = "LEGION_ALLOW_TEST_SEED"


class _JsonReport:
    """Streams a JSON report to a temporary file next to ``path`` and renames it into place at the end."""

    def __init__(self, path: Path | None, header: dict[str, Any]):
        self.path = path
        self._handle: IO[str] | None = None
        self._first = True
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self._handle = os.fdopen(fd, "w", encoding="utf-8")
        self._handle.write('{"run": ' + json.dumps(header, ensure_ascii=False) + ',\n "events": [')

    def add(self, report: EventReport) -> None:
        if self._handle is not None:
            self._handle.write(("\n  " if self._first else ",\n  ") + json.dumps(report.as_dict(), ensure_ascii=False))
            self._first = False

    def close(self, summary: dict[str, Any]) -> None:
        if self._handle is None or self.path is None:
            return
        self._handle.write('],\n "summary": ' + json.dumps(summary, ensure_ascii=False) + "}\n")
        self._handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            Path(self._tmp).unlink(missing_ok=True)


def _source(config_getter: Any, in_path: str | None) -> EventSource:
    return FeedStore(in_path, create=False) if in_path else open_store(config_getter())


def _same_place(source: EventSource, out_dir: Path) -> bool:
    source_path = getattr(source, "path", None)
    return source_path is not None and Path(source_path).resolve() == out_dir.resolve()


def _warn_if_seeded(seed: int | None, dry_run: bool) -> None:
    """A seed makes the noise predictable: refused for real releases (noise recorded with it would be
    republished forever), except in the test suite."""
    if seed is None:
        return
    if not dry_run and os.environ.get(TEST_SEED_VARIABLE) != "1":
        raise click.UsageError("--seed makes the noise predictable (NOT private) and is refused for a real "
                               "release; use it only with --dry-run (which draws no noise)")
    click.echo("Warning: --seed given: the noise is NOT private (tests only).", err=True)


@click.group(invoke_without_command=True, subcommand_metavar="[stats [OPTIONS]]")
@click.option("--in", "in_path", type=click.Path(exists=True, file_okay=False),
              help="Feed directory to read [default: the configured store].")
@click.option("--out", "out_path", type=click.Path(file_okay=False),
              help="Feed directory to write [default: privacy.out_path].")
@click.option("--dry-run", is_flag=True, help="Write nothing, debit nothing; report what would happen.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Write a JSON report: per event what was dropped, pseudonymised, scrubbed or noised, why, and ε.")
@click.option("--seed", type=int, default=None, help=SEED_HELP)
@click.pass_context
def sanitize(ctx: click.Context, in_path: str | None, out_path: str | None, dry_run: bool,
             report_path: str | None, seed: int | None) -> None:
    """Write the shareable copy of every event: gated, pseudonymised, scrubbed and DP-noised.

    The release's ε and δ are debited from the privacy ledger before anything is written; a release that would
    overspend is refused. Events are streamed one at a time; a bad event is reported (uuid and file) and skipped.

    \b
    Exit codes: 0 ok, 1 some events failed (the others were written), 2 usage or configuration error.

    \b
    Examples:
      legion sanitize --in data/feed --out data/feed-shared --report sanitize-report.json
      legion sanitize --in data/feed --dry-run --report what-would-happen.json
      legion sanitize stats --window 30d --out data/feed-shared
    """
    if ctx.invoked_subcommand is not None:
        return
    cli_state = state(ctx)
    config = cli_state.config()
    _warn_if_seeded(seed, dry_run)
    source = _source(cli_state.config, in_path)
    out_dir = Path(out_path) if out_path else config.resolve_path(config.section("privacy")["out_path"])
    if not dry_run and _same_place(source, out_dir):
        raise click.UsageError("--out must differ from --in: the shared copy would overwrite the originals")
    sanitizer = Sanitizer.from_config(config, seed=seed)
    ledger = None if dry_run else open_ledger(config)
    sink = None if dry_run else FeedStore(out_dir)
    report = _JsonReport(Path(report_path) if report_path else None,
                         {"command": "sanitize", "dry_run": dry_run, "out": None if dry_run else str(out_dir),
                          **sanitizer.params()})
    try:
        summary = sanitize_events(source, sink, sanitizer, ledger=ledger, dry_run=dry_run,
                                  on_event=lambda r: _on_event(r, report, dry_run),
                                  what=f"sanitize -> {out_dir}")
    except BaseException:
        report.abort()
        raise
    report.close(summary.as_dict())
    _print_summary(summary, out_dir, report_path)
    if summary.failed:
        ctx.exit(EXIT_ITEM_FAILURES)


def _on_event(report: EventReport, writer: _JsonReport, dry_run: bool) -> None:
    writer.add(report)
    if report.outcome == "failed":
        click.echo(f"error: {report.error}", err=True)
    elif dry_run:
        counts = ", ".join(f"{k} {v}" for k, v in report.counts().items() if v)
        click.echo(f"{report.event_uuid}: {report.outcome}"
                   + (f" ({counts})" if counts else "") + f", ε {report.cost.epsilon:g}")


def _print_summary(summary: ReleaseSummary, out_dir: Path, report_path: str | None) -> None:
    verb = "would share" if summary.dry_run else "shared"
    actions = ", ".join(f"{k} {v}" for k, v in summary.as_dict()["actions"].items())
    unchanged = f" ({summary.unchanged} unchanged since the last release: skipped)" if summary.unchanged else ""
    click.echo(f"{summary.events_read + summary.unchanged} events read{unchanged}: {verb} {summary.shared}, "
               f"dropped {summary.dropped}, failed {summary.failed}"
               + (f", withdrew {summary.withdrawn}" if summary.withdrawn else ""))
    click.echo(f"changes: {actions}")
    if not summary.dry_run:
        click.echo(f"noised values: {summary.fresh_noise} fresh (recorded before writing), "
                   f"{summary.republished_noise} republished from the noise store")
    cost = f"ε {summary.cost.epsilon:g}, δ {summary.cost.delta:.2g}"
    if summary.dry_run:
        click.echo(f"release cost (not debited, dry run): {cost}")
    else:
        entry = f" (ledger entry #{summary.ledger_entry})" if summary.ledger_entry else ""
        click.echo(f"release cost debited: {cost}{entry}; written to {out_dir}")
    if report_path:
        click.echo(f"report: {report_path}")


@sanitize.command("stats")
@click.option("--window", default="30d", show_default=True, help="Events whose timestamp is this recent.")
@click.option("--in", "in_path", type=click.Path(exists=True, file_okay=False),
              help="Feed directory to read [default: the configured store].")
@click.option("--out", "out_path", type=click.Path(file_okay=False),
              help="Feed directory to write the statistics event to [default: privacy.out_path].")
@click.option("--dry-run", is_flag=True, help="Compute the cost only; release, write and debit nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write a JSON report.")
@click.option("--seed", type=int, default=None, help=SEED_HELP)
@click.pass_context
def stats(ctx: click.Context, window: str, in_path: str | None, out_path: str | None, dry_run: bool,
          report_path: str | None, seed: int | None) -> None:
    """Release DP counts per category, type, tag and ATT&CK technique over the window, as one MISP event.

    \b
    Example:
      legion sanitize stats --window 30d --out data/feed-shared
    """
    try:
        window_seconds = parse_duration(window)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from exc
    cli_state = state(ctx)
    config = cli_state.config()
    _warn_if_seeded(seed, dry_run)
    from ..privacy.mechanisms import SeededNoise

    release = StatisticsRelease(Policy.from_config(config), noise=SeededNoise(seed) if seed is not None else None)
    cost = release.cost()
    click.echo(f"statistics release cost: ε {cost.epsilon:g}, δ {cost.delta:.2g}")
    if dry_run:
        _write_json(report_path, {"command": "sanitize stats", "dry_run": True, **cost.as_dict(),
                                  "mechanisms": {d: m.describe() for d, m in release.mechanisms_.items()}})
        click.echo("dry run: nothing released, nothing debited")
        return
    now = int(time.time())
    source = _source(cli_state.config, in_path)
    out_dir = Path(out_path) if out_path else config.resolve_path(config.section("privacy")["out_path"])
    entry = open_ledger(config).spend(epsilon=cost.epsilon, delta=cost.delta, what=f"stats window {window}",
                                      scope="stats")
    errors: list[Exception] = []
    result = release.release(source.query(since=int(now - window_seconds), on_error=errors.append),
                             window_start=int(now - window_seconds), window_end=now)
    event = release.to_event(result, now=now)
    FeedStore(out_dir).upsert(event)
    _write_json(report_path, {"command": "sanitize stats", "ledger_entry": entry, **result.as_dict(),
                              "event_uuid": event["uuid"],
                              "mechanisms": {d: m.describe() for d, m in release.mechanisms_.items()}})
    released = sum(len(v) for v in result.counts.values())
    click.echo(f"released {released} noisy counts as event {event['uuid']} in {out_dir} (ledger entry #{entry})")
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        ctx.exit(EXIT_ITEM_FAILURES)


def _write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
