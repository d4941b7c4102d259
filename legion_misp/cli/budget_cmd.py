"""``legion budget``: the privacy-budget ledger and its noise store."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from ..privacy.ledger import Ledger, open_ledger
from .context import state


@click.group()
def budget() -> None:
    """Create and show the privacy-budget (ε, δ) ledger and its noise store."""


@budget.command("init")
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the configured ledger (a missing ledger is an error everywhere else, never a fresh budget).

    \b
    Example:
      legion budget init
    """
    config = state(ctx).config()
    path = config.resolve_path(config.section("ledger")["path"])
    if path.exists():
        raise click.ClickException(f"a ledger already exists at {path}; it is kept as it is")
    ledger = open_ledger(config, create=True)
    ledger.store_key()
    path.chmod(0o600)
    click.echo(f"created the privacy ledger {ledger.path} (ε {ledger.budget_epsilon:g} per "
               f"{ledger.window_days:g} days)")


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _document(ledger: Ledger, show_all: bool) -> dict[str, Any]:
    spent_epsilon, spent_delta = ledger.spent()
    left_epsilon, left_delta = ledger.remaining()
    return {
        "ledger": str(ledger.path), "window_days": ledger.window_days,
        "budget_epsilon": ledger.budget_epsilon, "budget_delta": ledger.budget_delta,
        "spent_epsilon": spent_epsilon, "spent_delta": spent_delta,
        "remaining_epsilon": left_epsilon, "remaining_delta": left_delta,
        "high_water_mark": ledger.high_water_mark(),
        "comes_back": [{"at": at, "epsilon": epsilon, "delta": delta} for at, epsilon, delta in ledger.comes_back()],
        "noise_store": ledger.noise_summary(),
        "entries": [e.__dict__ for e in ledger.entries(within_window=not show_all)]}


@budget.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="List every entry, not only those in the current window.")
@click.pass_context
def show(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """Print ε and δ spent in the window, what is left, when each amount comes back, and the noise store.

    \b
    Example:
      legion budget show
      legion budget show --json | jq .remaining_epsilon
    """
    ledger = open_ledger(state(ctx).config())
    doc = _document(ledger, show_all)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"Ledger {ledger.path} — window {ledger.window_days:g} days")
    click.echo(f"  ε spent {doc['spent_epsilon']:.4g} of {ledger.budget_epsilon:g} "
               f"(left {doc['remaining_epsilon']:.4g})")
    click.echo(f"  δ spent {doc['spent_delta']:.3g} of "
               f"{ledger.budget_delta if ledger.budget_delta is not None else '∞'}")
    if doc["high_water_mark"] is not None:
        click.echo(f"  latest spend {_when(doc['high_water_mark'])} (spends dated earlier are refused)")
    for back in doc["comes_back"]:
        click.echo(f"  comes back {_when(back['at'])}: ε {back['epsilon']:.4g}, δ {back['delta']:.3g}")
    _print_noise_store(doc["noise_store"])
    if not doc["entries"]:
        click.echo("  no releases recorded" + ("" if show_all else " in the window"))
    for entry in doc["entries"]:
        click.echo(f"  #{entry['id']} {_when(entry['at'])} {entry['scope']:<10} ε={entry['epsilon']:<8.4g} "
                   f"δ={entry['delta']:<8.3g} {entry['what']}")


def _print_noise_store(summary: dict[str, Any]) -> None:
    kinds = summary["kinds"]
    if not kinds:
        click.echo("  noise store: empty (nothing noised yet)")
        return
    click.echo("  noise store (each value noised once and republished as stored):")
    for kind, row in kinds.items():
        click.echo(f"    {kind:<22} {row['values']:>8} values, {row['redrawn']} re-drawn after a change; most "
                   f"draws of one value {row['max_draws']} (its lifetime ε ≤ {row['max_lifetime_epsilon']:.3g})")
    click.echo(f"    sighting-counter blocks paid: {summary['once_charges_paid']}")
