"""Shared fixtures. Test data lives in tests/fixtures (public copies with licences); the product reads none of it."""

from __future__ import annotations

import signal
from typing import Any, NoReturn

import pytest

from tests.helpers import make_event


def _interrupt(signum: int, _frame: Any) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """A SIGTERM (a CI timeout, `kill PID`) unwinds like Ctrl-C, so every fixture's teardown still stops the servers
    and the MISP it started instead of leaving them running."""
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture
def event() -> dict[str, Any]:
    return make_event()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return [make_event(f"Event {i}", timestamp=1_700_000_000 + i) for i in range(5)]
