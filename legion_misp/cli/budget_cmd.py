"""``legion budget``: the privacy-budget ledger."""

from __future__ import annotations

import datetime as dt
import json

import click

from ..privacy.ledger import open_ledger
from .context import state


@click.group()
def budget() -> None:
    """Show the privacy-budget (ε, δ) ledger."""


@budget.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="List every entry, not only those in the current window.")
@click.pass_context
def show(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """Print ε and δ spent in the current window, what is left, and each release.

    \b
    Example:
      legion budget show
      legion budget show --json | jq .remaining_epsilon
    """
    ledger = open_ledger(state(ctx).config())
    spent_epsilon, spent_delta = ledger.spent()
    left_epsilon, left_delta = ledger.remaining()
    entries = ledger.entries(within_window=not show_all)
    if as_json:
        click.echo(json.dumps({
            "ledger": str(ledger.path), "window_days": ledger.window_days,
            "budget_epsilon": ledger.budget_epsilon, "budget_delta": ledger.budget_delta,
            "spent_epsilon": spent_epsilon, "spent_delta": spent_delta,
            "remaining_epsilon": left_epsilon, "remaining_delta": left_delta,
            "entries": [e.__dict__ for e in entries]}, indent=2))
        return
    click.echo(f"Ledger {ledger.path} — window {ledger.window_days:g} days")
    click.echo(f"  ε spent {spent_epsilon:.4g} of {ledger.budget_epsilon:g} (left {left_epsilon:.4g})")
    click.echo(f"  δ spent {spent_delta:.3g} of {ledger.budget_delta if ledger.budget_delta is not None else '∞'}")
    if not entries:
        click.echo("  no releases recorded" + ("" if show_all else " in the window"))
    for entry in entries:
        when = dt.datetime.fromtimestamp(entry.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        click.echo(f"  #{entry.id} {when} {entry.scope:<10} ε={entry.epsilon:<8.4g} δ={entry.delta:<8.3g} {entry.what}")
