"""Real TAXII servers on 127.0.0.1 for the sync tests, started and stopped (by PID) here.

OpenTAXII takes ~10 s to configure (each CLI call imports the server), so one instance serves the session and each
test takes its own collection from a pool. medallion starts in ~0.5 s and is started per test.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from connectors.job import SyncJob
from connectors.settings import CollectionSettings, SyncSettings
from legion_misp.secrets import Secret
from tests.support.servers import MedallionServer, OpenTaxiiServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stix"  # public fixtures, licences there
PASSWORDS = {"orgA": "orgA-pass", "orgB": "orgB-pass", "orgC": "orgC-pass"}
POOL = [f"c{i}" for i in range(10)]


@pytest.fixture(autouse=True)
def _passwords(monkeypatch):
    for user, password in PASSWORDS.items():
        monkeypatch.setenv(f"TEST_TAXII_{user.upper()}", password)
    monkeypatch.setenv("TEST_TAXII_WRONG", "not-the-password")


@pytest.fixture(scope="session")
def opentaxii(tmp_path_factory):
    """OpenTAXII 0.10.0b1: pool collections c0..c9 (orgA read+write, orgB read), 'pub' (public read-only)."""
    server = OpenTaxiiServer(
        tmp_path_factory.mktemp("opentaxii"), accounts=PASSWORDS,
        collections={**{c: {} for c in POOL}, "pub": {"public": True}},
        permissions={"orgA": {c: ["read", "write"] for c in POOL}, "orgB": {c: ["read"] for c in POOL},
                     "orgC": {c: ["read", "write"] for c in POOL}})
    server.start()
    yield server
    server.stop()


_pool = itertools.count()


@pytest.fixture
def ot_collection(opentaxii):
    """A fresh OpenTAXII collection id for this test."""
    index = next(_pool)
    if index >= len(POOL):
        pytest.fail("OpenTAXII collection pool exhausted: add names to POOL")
    return opentaxii.info.collections[POOL[index]]


@pytest.fixture
def medallion(tmp_path):
    """medallion 3.0.0: 'shared' (read+write for everyone), 'readonly' (can_write false); 5 objects a page."""
    server = MedallionServer(tmp_path / "medallion", users=PASSWORDS,
                             collections={"shared": {}, "readonly": {"can_write": False}}, max_page_size=5,
                             session_timeout=30)
    server.start()
    yield server
    server.stop()


def settings_for(tmp_path: Path, who: str, **overrides) -> SyncSettings:
    values = {"retries": 1, "backoff": 0.05, "backoff_max": 0.2, "page_size": 50, "status_poll_interval": 0.05,
              "connect_timeout": 3.0, "read_timeout": 60.0}
    values.update(overrides)
    return SyncSettings(state_path=tmp_path / f"{who}-state.sqlite", lock_path=tmp_path / f"{who}.lock", **values)


def collection_for(api_root: str, collection: str, who: str, *, direction: str = "both", peer: str | None = None,
                   password_env: str | None = None) -> CollectionSettings:
    return CollectionSettings(url=api_root, collection=collection, direction=direction, username=who,
                              password=Secret(f"env:{password_env or 'TEST_TAXII_' + who.upper()}"), peer=peer)


def make_job(tmp_path: Path, who: str, api_root: str, collection: str, store, *, direction: str = "both",
             peer: str | None = None, password_env: str | None = None, progress=None, **overrides) -> SyncJob:
    return SyncJob(settings_for(tmp_path, who, **overrides),
                   [collection_for(api_root, collection, who, direction=direction, peer=peer,
                                   password_env=password_env)],
                   store=store, no_sanitize=True, progress=progress)


def load_fixture(relative: str) -> dict:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} not found under {FIXTURES}")
    return json.loads(path.read_text(encoding="utf-8"))


def env_password(who: str) -> str:
    return os.environ[f"TEST_TAXII_{who.upper()}"]
