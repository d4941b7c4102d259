"""A real MISP 2.5.1 (with misp-modules loading our custom root) started once per session.

Skipped, with the reason, where MISP cannot run: no ``../shared/misp`` (or ``$LEGION_MISP_SHARED``), or not root
and its Debian packages missing. Every test module starts from the same database (a dump reloaded in ~1 s).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from legion_misp.secrets import Secret
from legion_misp.stores.misp_api import MispApiStore
from tests.support.misp_kit import REPO, MispInstance, start_misp, unavailable_reason
from tests.support.misp_ui import MispBrowser

KEY_ENV = "LEGION_TEST_REAL_MISP_KEY"


@pytest.fixture(scope="session")
def misp_instance() -> Iterator[MispInstance]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    os.environ.setdefault("PYTHONPATH", str(REPO))  # misp-modules imports legion_misp from this checkout
    instance = start_misp(modules_root=REPO / "misp_modules", enrichment_modules=("legion_classify",))
    try:
        instance.snapshot()
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module", autouse=True)
def misp_fresh(misp_instance: MispInstance) -> MispInstance:
    """The session's MISP, reset to its freshly started database for this test module."""
    misp_instance.reset()
    return misp_instance


@pytest.fixture
def misp(misp_fresh: MispInstance):
    return misp_fresh.pymisp()


@pytest.fixture(scope="module")
def misp_browser(misp_fresh: MispInstance) -> MispBrowser:
    """The admin logged in to MISP's web interface, with a password set over the API (as a user would), for what
    MISP 2.5.1 offers only there (tests/support/misp_ui.py)."""
    misp = misp_fresh.pymisp()
    password = secrets.token_urlsafe(18) + "aA1!"
    answer = misp.change_user_password(password)
    assert "errors" not in answer, answer
    return MispBrowser(misp_fresh.url, misp.get_user(pythonify=True).email, password)


@pytest.fixture
def store_for(monkeypatch, misp_fresh: MispInstance):
    """``store_for(key=None, page_size=100)``: a MispApiStore on the real MISP (admin key by default)."""
    def make(key: str | None = None, page_size: int = 100) -> MispApiStore:
        monkeypatch.setenv(KEY_ENV, key or misp_fresh.key)
        return MispApiStore(misp_fresh.url, Secret(f"env:{KEY_ENV}"), verify_tls=False, timeout=120,
                            page_size=page_size)
    return make


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/misp/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.slow)  # real MISP: still run by `make test`
