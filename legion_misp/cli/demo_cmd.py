"""``legion demo``: run the whole system on one machine, on embedded defaults."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from ..demo import DemoContext, default_events_dir, format_summary, run_demo
from ..demo.stages import STAGES
from ..errors import EXIT_ITEM_FAILURES


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="demo-output", show_default=True,
              help="Folder for everything the demo writes (re-runs reuse it).")
@click.option("--events", "events_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Feed directory of events to start from [default: the shipped examples/events].")
@click.option("--misp", "misp", default=None, is_flag=False, flag_value="auto", metavar="[URL|auto]",
              help="Member-7f3a pulls the federation into a real MISP: a URL (API key in $LEGION_DEMO_MISP_KEY), "
                   "or 'auto' (alone: $MISP_URL/$MISP_KEY, else start the ../shared/misp test kit). "
                   "Default: every member uses feed folders.")
@click.pass_context
def demo(ctx: click.Context, out_dir: str, events_dir: str | None, misp: str | None) -> None:
    """Run the demo federation end to end and print a summary table.

    \b
    Examples:
      legion demo --out /tmp/legion-demo
      legion demo --misp          # member-7f3a's received events go into a real MISP
    """
    events = Path(events_dir) if events_dir else default_events_dir()
    if not events.is_dir():
        raise click.UsageError(f"example events not found at {events}; pass --events DIR")
    context = DemoContext(out_dir=Path(out_dir), events_dir=events, echo=click.echo)
    context.out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if misp is not None:
            from ..demo.misp import misp_store

            context.data["misp_store"] = stack.enter_context(misp_store(misp, echo=click.echo))
        results = run_demo(context, STAGES)
    click.echo(format_summary(results))
    click.echo(f"Report: {context.report_path}")
    if not all(r.ok for r in results):
        ctx.exit(EXIT_ITEM_FAILURES)
