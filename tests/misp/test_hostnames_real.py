"""Host names learned from the whole MISP store (store.kind = "misp") against a real MISP 2.5.1: a name whose
internal ``domain|ip`` pair sits in another event is redacted from a released event, and later releases ask MISP
only for what changed (new attribute ids, changed timestamps)."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest

from legion_misp.privacy import hostname_store
from legion_misp.privacy.hostname_store import HostnameCache, MispHostnameLearner
from legion_misp.privacy.sanitizer import Sanitizer
from legion_misp.sections import load_config
from legion_misp.stores import open_store

KEY_ENV = "LEGION_TEST_HOSTNAMES_MISP_KEY"
OLD = "1700000000"  # an imported event keeps its (old) timestamps in MISP


@pytest.fixture(autouse=True)
def _fresh_database(misp_fresh):
    misp_fresh.reset()


def _attribute(kind: str, value: str, **extra) -> dict:
    return {"uuid": str(uuid.uuid4()), "type": kind, "category": "Network activity" if kind != "text" else "Other",
            "value": value, "to_ids": False, "timestamp": OLD, **extra}


def _event(info: str, *attributes: dict) -> dict:
    return {"uuid": str(uuid.uuid4()), "info": info, "date": "2026-11-01", "timestamp": OLD, "published": True,
            "analysis": "2", "threat_level_id": "2", "distribution": "3",
            "Orgc": {"name": "ORGNAME", "uuid": str(uuid.uuid4())}, "Tag": [{"name": "tlp:green"}],
            "Attribute": list(attributes)}


def _config(tmp_path: Path, misp_fresh, *, learn: bool = True) -> object:
    os.environ[KEY_ENV] = misp_fresh.key
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "legion.toml"
    path.write_text(
        '[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-a"\ninternal_domains = ["corp.example"]\n'
        'internal_networks = ["10.0.0.0/8"]\n'
        f'[store]\nkind = "misp"\nurl = "{misp_fresh.url}"\napi_key = "env:{KEY_ENV}"\nverify_tls = false\n'
        f'[privacy]\nlearn_hostnames_from_store = {str(learn).lower()}\n'
        'learned_hostnames_path = "state/hosts.sqlite"\npseudonymise_types = []\n', encoding="utf-8")
    return load_config(path)


def _shared_text(config, event: dict) -> str:
    shared, report = Sanitizer.from_config(config, seed=1).sanitize(event)
    assert shared is not None, [a.reason for a in report.actions]
    return json.dumps(shared)


def _marks(tmp_path: Path, config) -> dict:
    store = open_store(config)
    cache = HostnameCache(tmp_path / "state" / "hosts.sqlite")
    try:
        learner = MispHostnameLearner(store, config.organisation, cache)
        loaded = cache.load(f"{store.url} user {store.user_id}", learner.fingerprint())
    finally:
        cache.close()
    assert loaded is not None
    return loaded[1]


def test_names_from_other_events_are_redacted_and_later_releases_are_incremental(misp_fresh, tmp_path, misp,
                                                                                 monkeypatch):
    monkeypatch.setattr(hostname_store, "ID_OVERLAP", 0)  # a tiny store: the id overlap would re-read everything
    config = _config(tmp_path, misp_fresh)
    store = open_store(config)
    pair = _event("asset inventory", _attribute("domain|ip", "finsrv42.lab.invalid|10.20.30.40"),
                  _attribute("url", "https://WS0451.corp.example/portal"))
    release = _event("beacons", _attribute("ip-dst", "8.8.4.4"),
                     _attribute("text", "beacon from FINSRV42 and ws0451 to 8.8.4.4", comment="seen on finsrv42"))
    for item in (pair, release):
        store.upsert(item)
    released = store.get(release["uuid"])

    alone = _shared_text(_config(tmp_path / "off", misp_fresh, learn=False), released)
    assert "FINSRV42" in alone and "ws0451" in alone  # the control: without the store both names leave

    text = _shared_text(config, released)  # only event B is released; the names come from event A
    assert "FINSRV42" not in text and "finsrv42" not in text and "ws0451" not in text and "8.8.4.4" in text
    cache_file = tmp_path / "state" / "hosts.sqlite"
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    first = _marks(tmp_path, config)
    assert set(first) == {"pairs", "internal-values"}

    # event C: a new internal pair with last year's timestamp (found only by its id, behind 40 newer attributes:
    # more than the first small page); an edit of an old
    # attribute of event A (same id: found only by MISP's timestamp filter)
    newer = _event("more inventory", _attribute("domain|ip", "paysrv07.lab.invalid|10.9.9.9"),  # oldest id
                   *(_attribute("domain|ip", f"c2-{n}.example.net|203.0.113.{n}") for n in range(40)))
    store.upsert(newer)
    url_attribute = next(a for a in store.get(pair["uuid"])["Attribute"] if a["type"] == "url")
    edited = misp.update_attribute({"value": "https://hrsrv11.corp.example/"}, url_attribute["uuid"], pythonify=True)
    assert getattr(edited, "value", None) == "https://hrsrv11.corp.example/"
    later = store.get(_upsert(store, _event("later", _attribute("text", "PAYSRV07, HRSRV11 and FINSRV42 seen"))))

    text = _shared_text(config, later)
    assert "PAYSRV07" not in text and "HRSRV11" not in text and "FINSRV42" not in text
    second = _marks(tmp_path, config)
    assert second["pairs"].max_id > first["pairs"].max_id  # event C's attribute id moved the mark
    assert second["internal-values"].since >= first["internal-values"].since

    learner = MispHostnameLearner(open_store(config), config.organisation, HostnameCache(tmp_path / "state" /
                                                                                           "hosts.sqlite"))
    try:
        run = learner.update()
    finally:
        learner.cache.close()
    # nothing changed: 4 small searches, plus one empty page after the edit still inside the 5-minute overlap
    assert not run.full and run.requests <= 5 and run.new_names == 0 and run.attributes <= 4
    assert {"finsrv42", "paysrv07", "hrsrv11", "ws0451"} <= run.names

    assert store.delete(pair["uuid"])  # names whose attributes leave the store are kept (safer)
    assert "FINSRV42" not in _shared_text(config, later)


def test_an_unreachable_misp_stops_the_release_rather_than_forgetting_names(misp_fresh, tmp_path):
    config = _config(tmp_path, misp_fresh)
    text = config.path.read_text(encoding="utf-8").replace(misp_fresh.url, "http://127.0.0.1:9")
    config.path.write_text(text, encoding="utf-8")
    from legion_misp.errors import StoreError

    with pytest.raises(StoreError, match="host names could not be learned from the MISP store"):
        Sanitizer.from_config(load_config(config.path), seed=1)


def _upsert(store, event: dict) -> str:
    store.upsert(event)
    return event["uuid"]


def test_legion_sanitize_cli_and_the_sync_push_hook_learn_from_the_misp_store(misp_fresh, tmp_path):
    """``legion sanitize --in FEED`` releases one event from a feed while the host names come from MISP; the
    ``legion sync push`` hook releases it from MISP."""
    import subprocess
    import sys

    from connectors.sanitize import sanitizer_from_config
    from legion_misp.stores import FeedStore
    from tests.helpers import REPO

    config = _config(tmp_path, misp_fresh)
    store = open_store(config)
    store.upsert(_event("asset inventory", _attribute("domain|ip", "finsrv42.lab.invalid|10.20.30.40")))
    beacon = _event("beacons", _attribute("ip-dst", "8.8.4.4", comment="beacon from FINSRV42"))
    store.upsert(beacon)
    FeedStore(tmp_path / "release").upsert(beacon)
    env = {**os.environ, KEY_ENV: misp_fresh.key}
    for args in (["budget", "init"], ["sanitize", "--in", str(tmp_path / "release"), "--out", str(tmp_path / "out")]):
        done = subprocess.run([sys.executable, "-m", "legion_misp", "--config", str(config.path), *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    shared = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.json"))
    assert "8.8.4.4" in shared and "FINSRV42" not in shared
    assert "FINSRV42" not in done.stdout + done.stderr and "finsrv42" not in done.stdout + done.stderr

    pushed = json.dumps(sanitizer_from_config(config).fresh("sync push test", dry_run=True)(store.get(beacon["uuid"])))
    assert "8.8.4.4" in pushed and "FINSRV42" not in pushed
