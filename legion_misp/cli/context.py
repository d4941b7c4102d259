"""State shared by CLI commands: where the configuration is, loaded lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from ..config import Config


@dataclass
class CliState:
    config_path: str
    config_explicit: bool = False
    verbosity: int = 0
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        """The validated configuration (raises ConfigError, exit code 2, with every problem listed)."""
        if self._config is None:
            from ..sections import load_config  # the schema imports every subsystem: not for `legion --help`

            self._config = load_config(Path(self.config_path))
        return self._config


def state(ctx: click.Context) -> CliState:
    obj = ctx.find_object(CliState)
    if obj is None:  # a command invoked on its own (tests with CliRunner on a subgroup)
        obj = CliState(config_path="legion.toml")
        ctx.obj = obj
    return obj
