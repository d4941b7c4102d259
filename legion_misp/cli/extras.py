"""Optional dependencies: a command that needs an extra says which one to install instead of a traceback."""

from __future__ import annotations

import importlib.util

import click

# extra -> the import names it provides (what a command needing it checks for)
EXTRAS: dict[str, tuple[str, ...]] = {
    "learning": ("sklearn", "scipy", "dp_accounting", "prv_accountant", "matplotlib"),
    "demo": ("sklearn", "scipy", "dp_accounting", "prv_accountant", "matplotlib", "medallion", "misp_modules"),
    "federated": ("flwr",),
}


def missing_modules(extra: str) -> list[str]:
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, command: str) -> None:
    """Raise a usage error (exit 2) naming the pip command when ``extra`` is not installed."""
    missing = missing_modules(extra)
    if missing:
        raise click.UsageError(f"`{command}` needs the [{extra}] extra (missing: {', '.join(missing)}): "
                               f"pip install 'legion-misp[{extra}]'")
