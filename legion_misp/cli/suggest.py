"""Near-miss suggestions for mistyped commands (``legion sanitise`` -> ``Did you mean 'sanitize'?``)."""

from __future__ import annotations

import difflib
from typing import Any

import click


class SuggestingGroup(click.Group):
    """A click group whose "No such command" error names the closest commands (difflib)."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Any, ...]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            name = args[0] if args else ""
            near = difflib.get_close_matches(name, self.list_commands(ctx), n=2, cutoff=0.6)
            if near and "No such command" in exc.message:
                exc.message += f" Did you mean {' or '.join(repr(n) for n in near)}?"
            raise


def suggest_everywhere(group: click.Group) -> None:
    """Make ``group`` and every group below it suggest near misses."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            if type(command) is click.Group:
                command.__class__ = SuggestingGroup
            suggest_everywhere(command)
