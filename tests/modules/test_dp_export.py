"""legion_dp_export: sanitised STIX 2.1 / MISP JSON export with the ledger debited, unit and via the real server."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
import stix2

from legion_misp.mispmod import dp_export
from legion_misp.privacy.ledger import open_ledger
from legion_misp.sections import load_config
from tests.helpers import FIXTURES, REPO, load_example_events

EXAMPLE_TOML = (REPO / "legion_misp" / "data" / "legion.example.toml").read_text()


@pytest.fixture
def config_path(tmp_path):
    key = tmp_path / "federation.key"
    key.write_text("9b2e4f61a8c03d75e1f9b6a2c4d8e07f3a5b1c9d2e6f4a8b0c7d3e5f1a9b2c4d", encoding="utf-8")
    key.chmod(0o600)
    # a file: reference, so the misp-modules server process (started once per session) can read it too
    text = EXAMPLE_TOML.replace('pseudonym_key = "file:keys/pseudonym.key"', 'pseudonym_key = "file:federation.key"')
    text = text.replace('path = "data/privacy-ledger.sqlite"', f'path = "{tmp_path / "ledger.sqlite"}"')
    path = tmp_path / "legion.toml"
    path.write_text(text, encoding="utf-8")
    open_ledger(load_config(path), create=True)  # `legion budget init`
    return path


def _decode(answer):
    return json.loads(base64.b64decode(answer["data"]))


def _ledger_rows(tmp_path):
    with sqlite3.connect(tmp_path / "ledger.sqlite") as connection:
        return connection.execute("SELECT scope, epsilon FROM spends").fetchall()


def _planted_event():
    canaries = json.loads((REPO / "tests/fixtures/canaries.json").read_text())
    events = {e["uuid"]: e for e in load_example_events()}
    by_event: dict[str, list[str]] = {}
    for canary in canaries["sensitive"]:
        by_event.setdefault(canary["event"], []).append(canary["value"])
    shared = [u for u in by_event if int(events[u].get("distribution", 0)) >= 1
              and not any(t["name"] in ("tlp:red", "PAP:RED") for t in events[u].get("Tag", []))]
    uuid = max(shared, key=lambda u: len(by_event[u]))
    return events[uuid], by_event[uuid]


def test_stix_export_is_valid_sanitised_and_debited(config_path, tmp_path):
    event, planted = _planted_event()
    answer = dp_export.dict_handler({"module": "legion_dp_export", "data": [{"Event": event}],
                                     "config": {"config_path": str(config_path), "format": None}})
    assert "error" not in answer, answer
    bundle = _decode(answer)
    parsed = stix2.parse(bundle, allow_custom=True)
    assert parsed.type == "bundle" and len(parsed.objects) > 3
    text = json.dumps(bundle).lower()
    assert [v for v in planted if v.lower() in text] == []
    assert "example energy ltd" not in text and "member-7f3a" in text
    rows = _ledger_rows(tmp_path)
    assert len(rows) == 1 and rows[0][0] == "export" and rows[0][1] > 0


def test_a_repeated_export_republishes_the_same_noise_and_spends_nothing(config_path, tmp_path):
    event, _ = _planted_event()
    request = {"data": [{"Event": event}], "config": {"config_path": str(config_path), "format": "misp"}}
    first = _decode(dp_export.dict_handler(request))
    spent = _ledger_rows(tmp_path)
    for _ in range(3):
        assert _decode(dp_export.dict_handler(request)) == first
    assert _ledger_rows(tmp_path) == spent and len(spent) == 1


def test_an_export_that_stays_home_spends_nothing(config_path, tmp_path):
    event, _ = _planted_event()
    event = dict(event, distribution="0")
    answer = dp_export.dict_handler({"data": [{"Event": event}], "config": {"config_path": str(config_path)}})
    assert _decode(answer)["legion_dp_export"] == "nothing exported"
    assert _ledger_rows(tmp_path) == []


def test_a_request_cannot_choose_another_ledger(config_path, tmp_path):
    event, _ = _planted_event()
    fresh = tmp_path / "fresh-budget.sqlite"
    answer = dp_export.dict_handler({"data": [{"Event": event}],
                                     "config": {"config_path": str(config_path), "ledger_path": str(fresh)}})
    assert "ledger_path is not accepted" in answer["error"] and not fresh.exists()
    (tmp_path / "ledger.sqlite").unlink()
    answer = dp_export.dict_handler({"data": [{"Event": event}], "config": {"config_path": str(config_path)}})
    assert "legion budget init" in answer["error"] and not (tmp_path / "ledger.sqlite").exists()


def test_misp_format_and_internal_shape(config_path):
    body = json.loads((FIXTURES / "misp_module_requests/export_threat_connect.json").read_text())
    body["config"] = {"config_path": str(config_path), "format": "misp"}
    unpublished = dp_export.dict_handler(body)
    assert "stays home" in unpublished["error"] and "publish" in unpublished["error"]
    body["data"][0]["Event"]["published"] = True  # MISP offers export modules on published events only
    answer = dp_export.dict_handler(body)
    assert "error" not in answer, answer
    shared = _decode(answer)["response"][0]["Event"]
    original = body["data"][0]
    assert shared["uuid"] == original["Event"]["uuid"]
    assert shared["Orgc"]["name"] == "member-7f3a"  # CIRCL's org replaced by our pseudonym
    assert len(shared["Attribute"]) >= 1


def test_full_budget_refuses_with_an_explanation(config_path, tmp_path):
    text = config_path.read_text().replace("epsilon = 10.0", "epsilon = 0.1")
    config_path.write_text(text)
    event, _ = _planted_event()
    answer = dp_export.dict_handler({"data": [{"Event": event}], "config": {"config_path": str(config_path)}})
    assert "budget" in answer["error"]
    assert _decode(answer)["legion_dp_export"] == "refused"
    assert _ledger_rows(tmp_path) == []


def test_bad_settings_are_clear(config_path):
    event, _ = _planted_event()
    assert "config_path" in dp_export.dict_handler({"data": [{"Event": event}], "config": None})["error"]
    answer = dp_export.dict_handler({"data": [{"Event": event}],
                                     "config": {"config_path": str(config_path), "format": "csv"}})
    assert "format must be one of" in answer["error"]
    answer = dp_export.dict_handler({"data": [{"Event": event}],
                                     "config": {"config_path": str(config_path), "pseudonym_key": "literal"}})
    assert "never the key itself" in answer["error"]


@pytest.mark.slow
def test_export_through_the_real_server(module_server, config_path):
    listed = {m["name"]: m for m in module_server.get("/modules")}
    meta = listed["legion_dp_export"]
    assert meta["type"] == "export_mod" and meta["meta"]["require_standard_format"] is True
    assert meta["mispattributes"]["outputFileExtension"] == "json"
    body = json.loads((FIXTURES / "misp_module_requests/derived/export_standard_format.json").read_text())
    body["module"] = "legion_dp_export"
    body["config"] = {"config_path": str(config_path)}
    body["data"][0]["Event"]["published"] = True  # MISP offers export modules on published events only
    answer = module_server.query(body)
    assert answer["response"] == [] and "error" not in answer, answer
    assert _decode(answer)["type"] == "bundle"
