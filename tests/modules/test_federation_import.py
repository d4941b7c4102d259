"""legion_federation_import: STIX 2.1 bundles → MISP standard results, indicators untrusted until corroborated."""

from __future__ import annotations

import base64
import json

import pytest

from legion_misp.mispmod import federation_import
from tests.helpers import SHARED

STIX = SHARED / "fixtures" / "stix"


def _request(document, module="legion_federation_import"):
    data = base64.b64encode(json.dumps(document).encode()).decode()
    return {"module": module, "event_id": "625", "config": {"config_path": None}, "data": data,
            "filename": "bundle.json"}


def _attributes(results):
    return [*results.get("Attribute", []), *(a for o in results.get("Object", []) for a in o.get("Attribute", []))]


@pytest.mark.parametrize("name", ["misp-stix/test_event1_stix21.json", "oasis/indicator-for-c2-ip-address.json",
                                  "generated/misp_event.misp-stix.stix21.json"])
def test_bundles_import_with_to_ids_off_and_tagged(name):
    answer = federation_import.dict_handler(_request(json.loads((STIX / name).read_text())))
    assert "error" not in answer, answer
    attributes = _attributes(answer["results"])
    assert attributes, "nothing imported"
    assert all(a["to_ids"] is False for a in attributes)
    assert all({"name": federation_import.UNVERIFIED_TAG} in a["Tag"] for a in attributes)


def test_invalid_objects_are_refused_and_counted():
    bundle = json.loads((STIX / "oasis/indicator-for-c2-ip-address.json").read_text())
    bundle["objects"].append({"type": "indicator", "id": "indicator--bad", "spec_version": "2.0"})
    bundle["objects"].append({"type": "x", "id": "x--00000000-0000-4000-8000-000000000000", "spec_version": "2.1",
                              "deep": json.loads("[" * 30 + "]" * 30)})
    answer = federation_import.dict_handler(_request(bundle))
    assert {"name": 'legion:refused-objects="2"'} in answer["results"]["Tag"]


@pytest.mark.parametrize("data, message", [
    ("%%% not base64", "not base64"),
    (base64.b64encode(b"\xff\xfe garbage").decode(), "not base64 of UTF-8 JSON"),
    (base64.b64encode(b'{"type": "identity"}').decode(), "not a STIX bundle"),
    (base64.b64encode(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--x", "spec_version": "2.0"}]}).encode()).decode(), "no importable"),
])
def test_bad_uploads_get_clear_errors(data, message):
    answer = federation_import.dict_handler({"data": data})
    assert message in answer["error"] and answer.get("results") is None


@pytest.mark.slow
def test_import_through_the_real_server(module_server):
    listed = {m["name"]: m for m in module_server.get("/modules")}
    meta = listed["legion_federation_import"]
    assert meta["type"] == "import_mod" and meta["mispattributes"]["format"] == "misp_standard"
    assert set(meta["mispattributes"]["inputSource"]) == {"file", "paste"}
    body = json.loads((SHARED / "fixtures/misp_module_requests/derived/import.json").read_text())
    body["module"] = "legion_federation_import"
    body["data"] = base64.b64encode((STIX / "oasis/poisonivy.json").read_bytes()).decode()
    answer = module_server.query(body, timeout=60)
    assert "error" not in answer, answer
    assert all(a["to_ids"] is False for a in _attributes(answer["results"]))
    body["data"] = base64.b64encode(b"198.51.100.7\n").decode()  # the fixture's plain-text paste
    assert "not base64 of UTF-8 JSON" in module_server.query(body)["error"]
