"""``legion demo``: run the whole system on one machine, on embedded defaults."""

from __future__ import annotations

import contextlib
import signal
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import click

from ..demo import DemoContext, default_events_dir, format_summary, run_demo
from ..demo.stages import STAGES
from ..errors import EXIT_ITEM_FAILURES
from .extras import require_extra


class _Interrupts:
    """Ctrl-C and SIGTERM (systemd, timeout, kill) unwind as KeyboardInterrupt, so every stage stops the servers
    it started. Python drops an exception raised while it runs a garbage-collector or weakref callback ("Exception
    ignored in ..."), so a signal landing there would be lost: :meth:`checkpoint` raises it again between stages."""

    def __init__(self) -> None:
        self.received: int | None = None

    def handle(self, signum: int, frame: object) -> None:
        self.received = signum
        raise KeyboardInterrupt

    def checkpoint(self) -> None:
        if self.received is not None:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.signal(number, self.handle) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


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
    require_extra("demo", "legion demo")
    events = Path(events_dir) if events_dir else default_events_dir()
    if not events.is_dir():
        raise click.UsageError(f"example events not found at {events}; pass --events DIR")
    interrupts = _Interrupts()
    context = DemoContext(out_dir=Path(out_dir), events_dir=events, echo=click.echo, checkpoint=interrupts.checkpoint)
    context.out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        stack.enter_context(interrupts.installed())
        if misp is not None:
            from ..demo.misp import misp_store

            context.data["misp_store"] = stack.enter_context(misp_store(misp, echo=click.echo))
        results = run_demo(context, STAGES)
    click.echo(format_summary(results))
    for sentence in context.data.get("what_happened", []):
        click.echo(textwrap.fill(sentence, width=110))
    click.echo(f"Report: {context.report_path}")
    if not all(r.ok for r in results):
        ctx.exit(EXIT_ITEM_FAILURES)
