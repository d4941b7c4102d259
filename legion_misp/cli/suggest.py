"""Near-miss suggestions for mistyped commands (``legion sanitise`` -> ``Did you mean 'sanitize'?``)."""

from __future__ import annotations

import difflib
from typing import Any

import click


class SuggestingGroup(click.Group):
    """A click group whose "No such command" error names the closest command (difflib), and whose subgroups do the
    same (they are upgraded when looked up, so lazily loaded commands get it too)."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Any, ...]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            name = args[0] if args else ""
            near = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            if near and "No such command" in exc.message:
                exc.message += f" Did you mean {near[0]!r}?"
            raise

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if type(command) is click.Group:
            command.__class__ = SuggestingGroup
        return command
