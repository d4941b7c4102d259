"""Host names learned from the whole store, feed path (fast; the MISP path is tested against a real MISP in
tests/misp/test_hostnames_real.py): one entry point for the sanitiser, the export module and the publish gate; the
learned-names cache file."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from legion_misp.mispmod import dp_export, publish_gate
from legion_misp.privacy.hostname_store import HostnameCache, Mark, store_hostnames
from legion_misp.privacy.ledger import open_ledger
from legion_misp.sections import load_config
from tests.helpers import REPO

from .conftest import attribute, event, write_feed

EXAMPLE_TOML = (REPO / "legion_misp" / "data" / "legion.example.toml").read_text()


def _config_with_store(tmp_path: Path, store: Path, *, learn: bool = True) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    key = tmp_path / "federation.key"
    key.write_text("9b2e4f61a8c03d75e1f9b6a2c4d8e07f3a5b1c9d2e6f4a8b0c7d3e5f1a9b2c4d", encoding="utf-8")
    key.chmod(0o600)
    text = EXAMPLE_TOML.replace('pseudonym_key = "file:keys/pseudonym.key"', 'pseudonym_key = "file:federation.key"')
    text = text.replace('path = "data/privacy-ledger.sqlite"', f'path = "{tmp_path / "ledger.sqlite"}"')
    text = text.replace("[privacy]", f"[privacy]\nlearn_hostnames_from_store = {str(learn).lower()}", 1)
    text = text.replace('path = "data/feed"', f'path = "{store}"')
    path = tmp_path / "legion.toml"
    path.write_text(text, encoding="utf-8")
    open_ledger(load_config(path), create=True)
    return path


def _inventory(tmp_path: Path) -> Path:
    return write_feed(tmp_path / "store", [event(attribute("domain|ip", "finsrv42.lab.invalid|10.20.30.40"),
                                                 attribute("url", "https://kiosk77.corp.example/portal"),
                                                 info="asset inventory")])


def _beacon() -> dict:
    return event(attribute("ip-dst", "8.8.4.4", comment="beacon from FINSRV42 and KIOSK77"), info="beacons")


def test_feed_store_names_reach_the_sanitiser_export_module_and_publish_gate(tmp_path: Path) -> None:
    config_path = _config_with_store(tmp_path / "on", _inventory(tmp_path))
    assert {"finsrv42", "kiosk77"} <= store_hostnames(load_config(config_path))

    request = {"module": "legion_dp_export", "data": [{"Event": _beacon()}],
               "config": {"config_path": str(config_path), "format": "misp"}}
    answer = dp_export.dict_handler(request)
    assert "error" not in answer, answer
    shared = base64.b64decode(answer["data"]).decode()
    assert "8.8.4.4" in shared and "FINSRV42" not in shared and "KIOSK77" not in shared

    blocked = publish_gate.dict_handler({"module": "legion_publish_gate", "data": {"Event": _beacon()},
                                         "params": {"config_path": str(config_path)}})
    assert "Attribute[0].comment contains learned host" in blocked.get("error", ""), blocked

    off = _config_with_store(tmp_path / "off", tmp_path / "store", learn=False)  # the control
    passed = publish_gate.dict_handler({"module": "legion_publish_gate", "data": {"Event": _beacon()},
                                        "params": {"config_path": str(off)}})
    assert passed == {"data": True}
    answer = dp_export.dict_handler({**request, "config": {"config_path": str(off), "format": "misp"}})
    assert "FINSRV42" in base64.b64decode(answer["data"]).decode()


def test_the_cache_is_private_keeps_names_and_never_moves_a_mark_back(tmp_path: Path) -> None:
    cache = HostnameCache(tmp_path / "state" / "hosts.sqlite")
    try:
        assert stat.S_IMODE((tmp_path / "state" / "hosts.sqlite").stat().st_mode) == 0o600
        cache.save("https://misp", "fp1", {"finsrv42"}, {"pairs": Mark(50, 1000)}, replace=True)
        cache.save("https://misp", "fp1", {"paysrv07"}, {"pairs": Mark(40, 900)}, replace=False)
        assert cache.load("https://misp", "fp1") == ({"finsrv42", "paysrv07"}, {"pairs": Mark(50, 1000)})
        assert cache.load("https://misp", "fp2") is None  # the organisation's networks or domains changed
        assert cache.load("https://other", "fp1") is None
        cache.save("https://misp", "fp2", {"hrsrv11"}, {"pairs": Mark(7, 5)}, replace=True)
        assert cache.load("https://misp", "fp2") == ({"hrsrv11"}, {"pairs": Mark(7, 5)})
    finally:
        cache.close()
    assert json.dumps(sorted(p.name for p in (tmp_path / "state").iterdir())) == '["hosts.sqlite"]'


def test_an_unusable_cache_file_falls_back_to_memory(tmp_path: Path) -> None:
    broken = tmp_path / "hosts.sqlite"
    broken.write_bytes(b"this is not a SQLite database" * 10)
    cache = HostnameCache.open_or_memory(broken)
    try:
        assert cache.path is None
        cache.save("https://misp", "fp", {"finsrv42"}, {"pairs": Mark(1, 1)}, replace=True)
        assert cache.load("https://misp", "fp") == ({"finsrv42"}, {"pairs": Mark(1, 1)})
    finally:
        cache.close()


def test_config_check_prepares_the_cache_folder_for_a_misp_store(tmp_path: Path) -> None:
    from legion_misp.config_check import prepare_files

    config_path = _config_with_store(tmp_path, tmp_path / "store")
    text = config_path.read_text(encoding="utf-8").replace(
        'kind = "feed"', 'kind = "misp"\nurl = "https://misp.example"\napi_key = "env:LEGION_TEST_UNUSED_KEY"', 1)
    text = text.replace("[privacy]", '[privacy]\nlearned_hostnames_path = "private/hosts.sqlite"', 1)
    config_path.write_text(text, encoding="utf-8")
    lines = prepare_files(load_config(config_path), create=False)
    assert f"mkdir -p {tmp_path / 'private'}" in lines
