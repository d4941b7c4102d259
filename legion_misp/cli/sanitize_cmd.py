"""``legion sanitize``: make the shareable copy of MISP events; ``legion sanitize stats``: DP statistics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_ITEM_FAILURES, StoreError
from ..privacy.ledger import open_ledger
from ..privacy.mechanisms import SeededNoise
from ..privacy.policy import Policy
from ..privacy.release import ReleaseSummary, sanitize_events
from ..privacy.report import EventReport
from ..privacy.report_file import ReportFile
from ..privacy.sanitizer import Sanitizer
from ..privacy.stats import release_statistics
from ..stores import FeedStore, open_store
from ..stores.base import EventSource
from ..timeutil import parse_duration
from .context import state
from .progress import Bar, progress_bar

SEED_HELP = ("TESTS ONLY, NOT PRIVATE: draw noise from a seeded numpy generator instead of the secure exact sampler. "
             "Refused unless --dry-run (which draws no noise anyway) or the test suite sets "
             "LEGION_ALLOW_TEST_SEED=1.")
TEST_SEED_VARIABLE = "LEGION_ALLOW_TEST_SEED"


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
              help="Write a JSON report: per event what was dropped, pseudonymised, scrubbed or noised, why, and ε; "
                   "plus the residual risk: tokens of the shared copy that still look like identifiers.")
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
      legion sanitize --in data/feed --dry-run --report what-would-happen.json   # + residual-risk tokens
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
    sanitizer.report_residual = report_path is not None
    ledger = None if dry_run else open_ledger(config)
    sink = None if dry_run else FeedStore(out_dir)
    report = ReportFile(Path(report_path) if report_path else None,
                         {"command": "sanitize", "dry_run": dry_run, "out": None if dry_run else str(out_dir),
                          **sanitizer.params()})
    try:
        with progress_bar("sanitize", _event_total(source)) as bar:
            summary = sanitize_events(source, sink, sanitizer, ledger=ledger, dry_run=dry_run,
                                      on_event=lambda r: _on_event(r, report, dry_run, bar),
                                      what=f"sanitize -> {out_dir}")
    except BaseException:
        report.abort()
        raise
    residual = report.residual
    report.close({**summary.as_dict(), "residual_tokens": residual})
    _print_summary(summary, out_dir, report_path)
    if report_path and residual:
        click.echo(f"residual risk: {residual} token(s) in the shared copy still look like identifiers "
                   "(listed per event under 'residual' in the report; add them to the policy)")
    if summary.events_read == 0:
        where = getattr(source, "path", None)
        click.echo(f"warning: no event found{f' in {where}' if where else ''}: it holds no *.json file with a "
                   "MISP event (a feed's manifest.json, or MISP JSON exports under any name)", err=True)
    if summary.failed:
        ctx.exit(EXIT_ITEM_FAILURES)


def _event_total(source: EventSource) -> int | None:
    """How many events a bar should expect (a feed's manifest, else its JSON files), None when unknown."""
    if not isinstance(source, FeedStore):
        return None
    try:
        return len(source.manifest()) or len(list(source.path.glob("*.json"))) or None
    except StoreError:
        return None


def _on_event(report: EventReport, writer: ReportFile, dry_run: bool, bar: Bar) -> None:
    writer.add(report)
    bar.advance()
    if report.outcome == "failed":
        bar.echo(f"error: {report.error}", err=True)
    elif dry_run:
        bar.echo(dry_run_line(report))


def dry_run_line(report: EventReport, info_width: int = 48) -> str:
    """One event of a dry run: uuid, info, outcome with counts, ε, and the top reasons."""
    info = report.info if len(report.info) <= info_width else report.info[:info_width - 1] + "…"
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items() if v)
    reasons = "; ".join(f"{reason}" + (f" ×{n}" if n > 1 else "") for reason, n in report.top_reasons())
    return (f"{report.event_uuid}  {info!r}: {report.outcome}" + (f" ({counts})" if counts else "")
            + f", ε {report.cost.epsilon:g}" + (f"\n    why: {reasons}" if reasons else ""))


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
    out_dir = Path(out_path) if out_path else config.resolve_path(config.section("privacy")["out_path"])
    report = release_statistics(
        None if dry_run else _source(cli_state.config, in_path), None if dry_run else FeedStore(out_dir),
        Policy.from_config(config), ledger=None if dry_run else open_ledger(config), window_seconds=window_seconds,
        dry_run=dry_run, noise=SeededNoise(seed) if seed is not None else None, what=f"stats window {window}")
    click.echo(f"statistics release cost: ε {report.cost.epsilon:g}, δ {report.cost.delta:.2g}")
    _write_json(report_path, {"command": "sanitize stats", **report.as_dict()})
    if dry_run:
        click.echo("dry run: nothing released, nothing debited")
        return
    click.echo(f"released {report.released} noisy counts as event {report.event['uuid']} in {out_dir} "
               f"(ledger entry #{report.ledger_entry})")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        ctx.exit(EXIT_ITEM_FAILURES)


def _write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
