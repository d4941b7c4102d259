"""Shared fixtures. Tests may read ../shared (reference data); the product never does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import make_event


@pytest.fixture
def event() -> dict[str, Any]:
    return make_event()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return [make_event(f"Event {i}", timestamp=1_700_000_000 + i) for i in range(5)]
