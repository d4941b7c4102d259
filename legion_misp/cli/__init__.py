"""The ``legion`` command line.

Exit codes: 0 everything succeeded; 1 some items failed (the others were processed); 2 usage or configuration error.
Subcommands live in one module each (``<name>_cmd.py``), listed in :data:`COMMAND_MODULES` and imported only when
used (click's lazy-loading pattern), so ``legion sync run`` does not load the learning stack and vice versa.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import EXIT_USAGE, LegionError
from ..log import redact, setup_logging
from .context import CliState
from .suggest import SuggestingGroup

# (module, command, summary): each command is a click command or group added to `legion`. The summary (the first
# line of the command's help; tests/test_cli.py keeps them equal) lets `legion --help` list commands without
# importing them.
COMMAND_MODULES: tuple[tuple[str, str, str], ...] = (
    ("legion_misp.cli.budget_cmd", "budget", "Create and show the privacy-budget (ε, δ) ledger and its noise store."),
    ("legion_misp.cli.config_cmd", "config", "Write, validate and document legion.toml."),
    ("legion_misp.cli.demo_cmd", "demo", "Run the demo federation end to end and print a summary table."),
    ("legion_misp.cli.keys_cmd", "keys", "Create, show and rotate this organisation's Ed25519 signing key."),
    ("legion_misp.cli.learn_cmd", "learn", "Train and evaluate the compromised-message classifier with "
     "differentially private federated learning."),
    ("legion_misp.cli.modules_cmd", "modules", "Install and check the MISP modules (classify, DP export, "
     "federation import, publish gate)."),
    ("legion_misp.cli.sanitize_cmd", "sanitize", "Write the shareable copy of every event: gated, pseudonymised, "
     "scrubbed and DP-noised."),
    ("legion_misp.cli.store_cmd", "store", "Inspect and load the configured MISP event store (feed directory or "
     "MISP instance)."),
    ("legion_misp.cli.sync_cmd", "sync", "Push and pull sanitised events to and from the federation's TAXII 2.1 "
     "collections."),
)

EPILOG = """\b
Exit codes: 0 ok, 1 some items failed (others processed), 2 usage or configuration error.
Secrets are never written in the config: use env:NAME or file:PATH.
"""


class LazyGroup(SuggestingGroup):
    """A group whose subcommands are imported from :data:`COMMAND_MODULES` when first looked up (and whose "No such
    command" error names the near match)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(name for _, name, _ in COMMAND_MODULES)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            for module_name, attribute, _ in COMMAND_MODULES:
                if attribute == cmd_name:
                    self.add_command(getattr(importlib.import_module(module_name), attribute))
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``legion --help`` from the declared summaries (imports no command module)."""
        summaries = {name: summary for _, name, summary in COMMAND_MODULES}
        limit = formatter.width - 6 - max(len(name) for name in summaries)
        with formatter.section("Commands"):
            formatter.write_dl([(name, click.utils.make_default_short_help(summaries[name], limit))
                                for name in sorted(summaries)])


@click.group(cls=LazyGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="LEGION_CONFIG",
              default="legion.toml", show_default=True, show_envvar=True,
              help="Configuration file (TOML).")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (they are shown only on a terminal anyway).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log line format on stderr.")
@click.version_option(__version__, prog_name="legion")
@click.pass_context
def cli(ctx: click.Context, config_path: str, verbose: int, quiet: bool, log_format: str) -> None:
    """legion-misp: share MISP threat intelligence across a federation without giving away what must stay private.

    \b
    Sanitise events with differential privacy, sync them as STIX 2.1 over TAXII 2.1, verify and corroborate what
    peers send, and train a compromised-message classifier with DP federated learning.
    """
    setup_logging(verbose, log_format)
    ctx.obj = CliState(config_path=config_path, config_explicit=_config_given(ctx), verbosity=verbose, quiet=quiet)


def _config_given(ctx: click.Context) -> bool:
    source = ctx.get_parameter_source("config_path")
    return source is not None and source.name != "DEFAULT"


def subcommands(group: click.Group) -> dict[str, click.Command]:
    """Every subcommand of ``group`` by name (imports the lazy ones), for documentation and tests."""
    with click.Context(group) as ctx:
        return {name: command for name in group.list_commands(ctx)
                if (command := group.get_command(ctx, name)) is not None}


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turn LegionError into a one-line message and its exit code."""
    try:
        # In non-standalone mode click returns ctx.exit()'s code instead of raising Exit.
        code = cli.main(args=argv, prog_name="legion", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LegionError as exc:
        click.echo(f"Error: {redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except OSError as exc:
        click.echo(f"Error: {redact(str(exc))}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)
