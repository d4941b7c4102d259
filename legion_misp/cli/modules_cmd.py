"""``legion modules``: install legion-misp's MISP modules into a misp-modules custom root, and check they load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click

from ..errors import EXIT_ITEM_FAILURES
from ..mispmod.server import MODULE_TYPES, default_module_root, misp_modules_executable

_LOADED = re.compile(r"CUSTOM MISP module (\S+) \(type=(\S+)\) (imported|failed: .*)$")


def module_files(root: Path) -> list[Path]:
    return sorted(p for kind in MODULE_TYPES for p in (root / kind).glob("legion_*.py"))


@click.group()
def modules() -> None:
    """Install and check the MISP modules (classify, DP export, federation import, publish gate)."""


@modules.command("install")
@click.option("--target", type=click.Path(file_okay=False), default=None,
              help="An existing misp-modules custom root (the folder given to misp-modules -c).")
def install(target: str | None) -> None:
    """Copy the module files into a custom root, or print the misp-modules command that loads them in place.

    The misp-modules server must run in a Python environment where legion-misp is installed
    (pip install 'legion-misp[modules]'); the module files are thin shims over the installed package.

    \b
    Example:
      legion modules install --target /var/www/MISP/misp-modules-custom
      sudo systemctl restart misp-modules
    """
    source = default_module_root()
    files = module_files(source)
    if target is None:
        click.echo("Start the server with legion-misp's module root:")
        click.echo(f"  misp-modules -l 127.0.0.1 -p 6666 -c {source}")
        click.echo(f"or copy the {len(files)} module files into your own root: legion modules install --target DIR")
        return
    root = Path(target)
    if not root.is_dir():
        raise click.UsageError(f"{root} is not a folder; create the custom root first (misp-modules -c ROOT)")
    for path in files:
        destination = root / path.parent.name / path.name
        destination.parent.mkdir(exist_ok=True)
        shutil.copy2(path, destination)
        click.echo(f"installed {destination}")
    click.echo(f"Restart misp-modules (-c {root}) to load them, then enable each in MISP's Plugin settings.")


@modules.command("check")
@click.option("--root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Custom root to test [default: legion-misp's misp_modules/].")
@click.pass_context
def check(ctx: click.Context, root: str | None) -> None:
    """Run the server's own load test (misp-modules -t -c ROOT) and report each legion module.

    \b
    Example:
      legion modules check
    """
    module_root = Path(root) if root else default_module_root()
    result = subprocess.run([misp_modules_executable(), "-t", "-c", str(module_root)], capture_output=True,
                            text=True, timeout=300)
    outcomes = {m.group(1): (m.group(2), m.group(3)) for line in (result.stdout + result.stderr).splitlines()
                if (m := _LOADED.search(line)) and m.group(1).startswith("legion_")}
    expected = {p.stem for p in module_files(module_root)}
    if not expected:
        raise click.UsageError(f"no legion_*.py module files under {module_root}/{{{','.join(MODULE_TYPES)}}}")
    failed = False
    for name in sorted(expected | set(outcomes)):
        kind, outcome = outcomes.get(name, ("?", "not loaded"))
        failed |= outcome != "imported"
        click.echo(f"{'ok  ' if outcome == 'imported' else 'FAIL'} {name:<28} {kind:<11} {outcome}")
    if result.returncode != 0:
        click.echo(f"misp-modules -t exited with code {result.returncode}", err=True)
        failed = True
    if failed:
        ctx.exit(EXIT_ITEM_FAILURES)
