"""legion_publish_gate: pure exposure checks, then the module through the real misp-modules server."""

from __future__ import annotations

import copy
import json

import pytest

from legion_misp.privacy.findings import publish_gate_findings
from legion_misp.privacy.policy import Policy
from legion_misp.sections import load_default_config
from tests.helpers import FIXTURES, REPO, load_example_events, make_event

CONFIG = REPO / "legion_misp" / "data" / "legion.example.toml"
CONFIG_OBJ = load_default_config()
ORG = CONFIG_OBJ.organisation


def find_exposures(event, organisation):
    return publish_gate_findings(event, organisation, Policy.from_config(CONFIG_OBJ))


def _with(event, **attribute):
    event = copy.deepcopy(event)
    event["Attribute"].append({"uuid": "0b6d1a4e-1c1f-4a0e-9a51-3f1f0c1b2a3d", "category": "Network activity",
                               "to_ids": False, **attribute})
    return event


@pytest.mark.parametrize("attribute, kind", [
    ({"type": "ip-src", "value": "10.20.30.40"}, "protected-ip"),
    ({"type": "ip-dst|port", "value": "192.0.2.230|443"}, "protected-ip"),
    ({"type": "url", "value": "https://scada-hmi-03.corp.example/login"}, "internal-host"),
    ({"type": "email-dst", "value": "jane.doe@corp.example"}, "internal-email"),
    ({"type": "target-user", "value": "jdoe", "category": "Targeting data"}, "targeting-data"),
    ({"type": "text", "value": "seen on 10[.]1[.]2[.]3 during Project Nightjar"}, "sensitive-term"),
    ({"type": "comment", "value": "see INC-1234567"}, "sensitive-pattern"),
])
def test_each_protected_kind_is_found(attribute, kind):
    exposures = find_exposures(_with(make_event(), **attribute), ORG)
    assert kind in {e.kind for e in exposures}, exposures
    assert all(attribute["value"] not in e.message for e in exposures)  # reasons never carry the value


def test_clean_event_and_unshared_values_pass():
    assert find_exposures(make_event(), ORG) == []
    internal_but_local = _with(make_event(), type="ip-src", value="10.1.1.1", distribution="0")
    assert find_exposures(internal_but_local, ORG) == []
    whole_event_local = dict(_with(make_event(), type="ip-src", value="10.1.1.1"), distribution="0")
    assert find_exposures(whole_event_local, ORG) == []


def test_example_events_with_planted_values_are_blocked():
    canaries = json.loads((REPO / "tests/fixtures/canaries.json").read_text())
    planted_events = {c["event"] for c in canaries["sensitive"] if c["kind"] in ("internal-ip", "internal-host")}
    events = {e["uuid"]: e for e in load_example_events()}
    shared = [u for u in planted_events if int(events[u].get("distribution", 0)) >= 1]
    assert shared
    blocked = [u for u in shared if find_exposures(events[u], ORG)]
    assert len(blocked) / len(shared) >= 0.9


def _body(event):
    return {"module": "legion_publish_gate", "data": {"Event": event}, "params": {"config_path": str(CONFIG)}}


@pytest.mark.slow
def test_gate_through_the_real_server(module_server):
    listed = {m["name"]: m for m in module_server.get("/modules")}
    gate = listed["legion_publish_gate"]
    assert gate["type"] == "action_mod" and gate["meta"]["module-type"] == ["action"]
    assert gate["mispattributes"]["config"]["blocking"] is True
    assert module_server.query(_body(make_event())) == {"data": True}
    answer = module_server.query(_body(_with(make_event(), type="ip-src", value="10.9.8.7")))
    assert answer["error"].startswith("Publishing blocked: 1 policy-protected value")
    assert "0b6d1a4e-1c1f-4a0e-9a51-3f1f0c1b2a3d" in answer["error"] and "10.9.8.7" not in answer["error"]


@pytest.mark.slow
def test_gate_on_the_shared_workflow_fixture(module_server):
    body = json.loads((FIXTURES / "misp_module_requests/derived/action_workflow.json").read_text())
    body["module"] = "legion_publish_gate"
    body["params"] = {"config_path": str(CONFIG)}
    # The fixture's event (tlp:white, distribution 3) holds google.com|127.0.0.1: loopback is not internal here.
    assert module_server.query(body) == {"data": True}
    body["data"]["Event"]["Attribute"][1]["value"] = "dc01.corp.example|10.0.0.5"
    assert "protected network" in module_server.query(body)["error"]
