"""Shared fixtures. Test data lives in tests/fixtures (public copies with licences); the product reads none of it."""

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
