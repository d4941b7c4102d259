"""Progress bars on stderr for long runs: shown only on a terminal and never with ``legion --quiet``.

Cron, systemd and pipes get no bar (nothing but the summary lands in logs). Bars use tqdm.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import click

T = TypeVar("T")


def progress_enabled(ctx: click.Context | None = None) -> bool:
    """True when stderr is a terminal and --quiet was not given."""
    ctx = ctx or click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    quiet = bool(getattr(root.obj, "quiet", False)) if root is not None else False
    return not quiet and sys.stderr.isatty()


class Bar:
    """A progress bar (tqdm on stderr) or nothing; ``advance(n)`` either way."""

    def __init__(self, label: str, total: int | None = None, *, enabled: bool, unit: str = "event"):
        self._bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # a broken install: run without a bar rather than fail
                return
            self._bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def echo(self, message: str, *, err: bool = False) -> None:
        """Print a line without breaking the bar."""
        if self._bar is None:
            click.echo(message, err=err)
        else:
            self._bar.write(message, file=sys.stderr if err else sys.stdout)

    @property
    def shown(self) -> bool:
        return self._bar is not None


@contextlib.contextmanager
def progress_bar(label: str, total: int | None = None, *, unit: str = "event",
                 ctx: click.Context | None = None) -> Iterator[Bar]:
    bar = Bar(label, total, enabled=progress_enabled(ctx), unit=unit)
    try:
        yield bar
    finally:
        bar.close()


def counted(items: Iterable[T], bar: Bar) -> Iterator[T]:
    """Yield ``items``, advancing ``bar`` once per item."""
    for item in items:
        yield item
        bar.advance()


def bar_factory(ctx: click.Context | None = None) -> Callable[[str], Callable[[int], None]] | None:
    """For code that takes ``progress(label) -> advance(n)`` (the sync job): one bar per label, or None."""
    if not progress_enabled(ctx):
        return None
    bars: dict[str, Bar] = {}

    def factory(label: str) -> Callable[[int], None]:
        for open_bar in bars.values():
            open_bar.close()
        bars[label] = Bar(label, enabled=True, unit="object")
        return bars[label].advance

    def close_all() -> None:
        for open_bar in bars.values():
            open_bar.close()

    factory.close_all = close_all  # type: ignore[attr-defined]
    return factory
