"""``legion modules``: install legion-misp's MISP modules into a misp-modules custom root, and check they load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click

from ..errors import EXIT_ITEM_FAILURES
from ..mispmod.server import MODULE_TYPES, default_module_root, free_port, misp_modules_executable

_LOADED = re.compile(r"CUSTOM MISP module (\S+) \(type=(\S+)\) (imported|failed: .*)$")


def module_files(root: Path) -> list[Path]:
    return sorted(p for kind in MODULE_TYPES for p in (root / kind).glob("legion_*.py"))


@click.group()
def modules() -> None:
    """Install and check the MISP modules (classify, DP export, federation import, publish gate)."""


@modules.command("install")
@click.option("--target", type=click.Path(file_okay=False), default=None,
              help="An existing misp-modules custom root (the folder given to misp-modules -c). Required.")
@click.pass_context
def install(ctx: click.Context, target: str | None) -> None:
    """Copy the four module files into a misp-modules custom root.

    The misp-modules server must run in a Python environment where legion-misp is installed
    (pip install 'legion-misp[modules]'); the module files are thin shims over the installed package.
    Exit code 1 when no module file was installed.

    \b
    Example:
      legion modules install --target /var/www/MISP/misp-modules-custom
      sudo systemctl restart misp-modules
    """
    source = default_module_root()
    if target is None:
        raise click.UsageError("--target is required: the misp-modules custom root (the folder given to "
                               f"misp-modules -c). To load the modules in place instead: misp-modules -l 127.0.0.1 "
                               f"-c {source}")
    root = Path(target)
    if not root.is_dir():
        raise click.UsageError(f"{root} is not a folder; create the custom root first (misp-modules -c ROOT)")
    files = module_files(source)
    for path in files:
        destination = root / path.parent.name / path.name
        destination.parent.mkdir(exist_ok=True)
        shutil.copy2(path, destination)
        click.echo(f"installed {destination}")
    if not files:
        click.echo(f"Error: no module file (legion_*.py) found under {source}: nothing was installed. This "
                   "legion-misp installation is incomplete; reinstall it from a wheel or a source checkout.",
                   err=True)
        ctx.exit(EXIT_ITEM_FAILURES)
    click.echo(f"Installed {len(files)} module files. Restart misp-modules (-c {root}) to load them, then enable "
               "each in MISP's Plugin settings (docs/admin.md).")


@modules.command("check")
@click.option("--root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Custom root to test [default: legion-misp's own module root].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port for the test server [default: a free 127.0.0.1 port; never 6666, which the running "
                   "misp-modules service holds].")
@click.pass_context
def check(ctx: click.Context, root: str | None, port: int | None) -> None:
    """Run the server's own load test (misp-modules -t) and report each legion module.

    The test server listens on a free 127.0.0.1 port, so it works beside a running misp-modules service (6666).

    \b
    Example:
      legion modules check
    """
    module_root = Path(root) if root else default_module_root()
    expected = {p.stem for p in module_files(module_root)}
    if not expected:
        raise click.UsageError(f"no legion_*.py module files under {module_root}/{{{','.join(MODULE_TYPES)}}}")
    command = [misp_modules_executable(), "-t", "-l", "127.0.0.1", "-p", str(port or free_port()),
               "-c", str(module_root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    outcomes = {m.group(1): (m.group(2), m.group(3)) for line in output.splitlines()
                if (m := _LOADED.search(line)) and m.group(1).startswith("legion_")}
    failed = False
    for name in sorted(expected | set(outcomes)):
        kind, outcome = outcomes.get(name, ("?", "not loaded"))
        failed |= outcome != "imported"
        click.echo(f"{'ok  ' if outcome == 'imported' else 'FAIL'} {name:<28} {kind:<11} {outcome}")
    if result.returncode != 0:
        click.echo(f"misp-modules -t exited with code {result.returncode}. Its error:", err=True)
        click.echo(server_error(output), err=True)
        failed = True
    if failed:
        ctx.exit(EXIT_ITEM_FAILURES)


_ERROR_LINE = re.compile(r" - (ERROR|CRITICAL) - |^\s*[\w.]*(Error|Exception)\b.*:|^\s*error:", re.IGNORECASE)


def server_error(output: str, limit: int = 12) -> str:
    """The server's own words: its ERROR lines and the exceptions of its tracebacks (else the output's tail)."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    picked = list(dict.fromkeys(line for line in lines if _ERROR_LINE.search(line)))
    return "\n".join(f"  {line}" for line in (picked or lines)[-limit:]) or "  (no output)"
