"""legion_federation_import: STIX 2.1 bundles → MISP standard results, verified against the roster and
corroborated (f + 1 members) before an indicator gets to_ids; unit and through the real misp-modules server."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from legion_misp.demo.attacks import SimMember, ip_indicator, report
from legion_misp.mispmod import federation_import
from tests.helpers import FIXTURES

STIX = FIXTURES / "stix"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SHARED_IP, LIE = "198.51.100.7", "203.0.113.66"


@pytest.fixture(scope="module")
def members():
    return {name: SimMember(f"member-{name}") for name in ("a", "b", "m", "x")}


@pytest.fixture
def config_path(tmp_path, members):
    roster = "".join(f'[[federation.members]]\npseudonym = "{m.pseudonym}"\npublic_key = "{m.public_key}"\n'
                     f'collections = ["*"]\n' for name, m in members.items() if name != "x")
    path = tmp_path / "legion.toml"
    path.write_text('[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-c"\n'
                    f'[sync]\nstate_path = "{tmp_path / "sync-state.sqlite"}"\n'
                    f'[federation]\nname = "energy-federation"\n{roster}', encoding="utf-8")
    return path


def _request(document, config_path):
    data = base64.b64encode(json.dumps(document).encode()).decode()
    return {"module": "legion_federation_import", "event_id": "625", "data": data, "filename": "bundle.json",
            "config": {"config_path": str(config_path) if config_path else None}}


def _bundle(objects):
    return {"type": "bundle", "id": "bundle--6f1c0e5e-4b7a-4c47-9a43-1d2e3f4a5b6c", "objects": objects}


def _decisions(results):
    attributes = [*results.get("Attribute", []), *(a for o in results.get("Object", []) for a in o["Attribute"])]
    return {a["value"]: (a["to_ids"], [t["name"] for t in a.get("Tag", []) if t["name"].startswith("legion:corr")])
            for a in attributes}


def _federation_bundle(members):
    a, b, m, x = (members[k] for k in "abmx")
    from_a = a.signer.sign(ip_indicator(SHARED_IP, created=NOW - dt.timedelta(hours=2)))
    from_b = b.signer.sign(ip_indicator(SHARED_IP, created=NOW - dt.timedelta(hours=1)))
    from_m = m.signer.sign(ip_indicator(LIE, created=NOW - dt.timedelta(hours=2)))
    from_x = x.signer.sign(ip_indicator(LIE, created=NOW - dt.timedelta(hours=1)))  # not on the roster
    container = a.signer.sign(report("a's report", [from_a["id"], from_m["id"]], created=NOW - dt.timedelta(hours=2)))
    return _bundle([container, from_a, from_b, from_m, from_x])


def test_corroborated_indicators_get_to_ids_and_liars_do_not(config_path, members):
    answer = federation_import.dict_handler(_request(_federation_bundle(members), config_path))
    assert "error" not in answer, answer
    decided = _decisions(answer["results"])
    assert decided[SHARED_IP] == (True, ['legion:corroboration="2-of-3"'])
    assert decided[LIE] == (False, ['legion:corroboration="1-of-3"'])
    tags = {t["name"] for t in answer["results"]["Tag"]}
    assert 'legion:rejected-objects="1"' in tags and 'legion:rejected="unknown-member"' in tags


def test_tampered_and_unsigned_objects_are_rejected(config_path, members):
    bundle = _federation_bundle(members)
    bundle["objects"][1]["pattern"] = "[ipv4-addr:value = '192.0.2.99']"  # tampered after signing
    answer = federation_import.dict_handler(_request(bundle, config_path))
    assert 'legion:rejected="bad-signature"' in {t["name"] for t in answer["results"]["Tag"]}
    unsigned = json.loads((STIX / "oasis/indicator-for-c2-ip-address.json").read_text())
    answer = federation_import.dict_handler(_request(unsigned, config_path))
    assert "no object passed the checks" in answer["error"] and "unsigned" in answer["error"]


def test_misp_made_bundle_signed_by_one_member_is_untrusted(config_path, members):
    bundle = json.loads((STIX / "misp-stix/test_event1_stix21.json").read_text())
    bundle["objects"] = [members["a"].signer.sign(o) for o in bundle["objects"]]
    answer = federation_import.dict_handler(_request(bundle, config_path))
    assert "error" not in answer, answer
    decided = _decisions(answer["results"])
    assert decided and all(to_ids is False for to_ids, _ in decided.values())


@pytest.mark.parametrize("data, message", [
    ("%%% not base64", "not base64"),
    (base64.b64encode(b"\xff\xfe garbage").decode(), "not base64 of UTF-8 JSON"),
    (base64.b64encode(b'{"type": "identity"}').decode(), "not a STIX bundle"),
])
def test_bad_uploads_get_clear_errors(data, message, config_path):
    answer = federation_import.dict_handler({"data": data, "config": {"config_path": str(config_path)}})
    assert message in answer["error"] and answer.get("results") is None


def test_a_roster_is_required(members):
    answer = federation_import.dict_handler(_request(_federation_bundle(members), None))
    assert "config_path" in answer["error"]


@pytest.mark.slow
def test_import_through_the_real_server(module_server, config_path, members):
    listed = {m["name"]: m for m in module_server.get("/modules")}
    meta = listed["legion_federation_import"]
    assert meta["type"] == "import_mod" and meta["mispattributes"]["format"] == "misp_standard"
    assert set(meta["mispattributes"]["inputSource"]) == {"file", "paste"}
    body = json.loads((FIXTURES / "misp_module_requests/derived/import.json").read_text())
    body.update(module="legion_federation_import", config={"config_path": str(config_path)})
    body["data"] = _request(_federation_bundle(members), config_path)["data"]
    answer = module_server.query(body, timeout=60)
    assert _decisions(answer["results"])[SHARED_IP][0] is True
    body["data"] = base64.b64encode(b"198.51.100.7\n").decode()  # the fixture's plain-text paste
    assert "not base64 of UTF-8 JSON" in module_server.query(body)["error"]
