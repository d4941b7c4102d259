"""The ``legion`` command line.

Exit codes: 0 everything succeeded; 1 some items failed (the others were processed); 2 usage or configuration error.
Subcommands live in one module each (``<name>_cmd.py``) and are registered in :data:`COMMAND_MODULES`.
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

# (module, attribute): each attribute is a click command or group added to `legion`.
COMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("legion_misp.cli.config_cmd", "config"),
    ("legion_misp.cli.store_cmd", "store"),
    ("legion_misp.cli.budget_cmd", "budget"),
    ("legion_misp.cli.sanitize_cmd", "sanitize"),
    ("legion_misp.cli.learn_cmd", "learn"),
    ("legion_misp.cli.modules_cmd", "modules"),
    ("legion_misp.cli.demo_cmd", "demo"),
    ("legion_misp.cli.sync_cmd", "sync"),
    ("legion_misp.cli.keys_cmd", "keys"),
)

EPILOG = """\b
Exit codes: 0 ok, 1 some items failed (others processed), 2 usage or configuration error.
Secrets are never written in the config: use env:NAME or file:PATH.
"""


@click.group(cls=SuggestingGroup, epilog=EPILOG,
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


def _register_commands() -> None:
    for module_name, attribute in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        cli.add_command(getattr(module, attribute))


_register_commands()


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
