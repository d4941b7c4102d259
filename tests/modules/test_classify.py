"""legion_classify: verdicts on e-mails from the DP-trained model, unit and through the real misp-modules server."""

from __future__ import annotations

import json
import uuid

import pytest
from pymisp import MISPObject

from legion_misp.mispmod import classify
from tests.helpers import FIXTURES, REPO, train_model_file

TEMPLATE = REPO / "legion_misp" / "data" / "objects" / "legion-verdict"
SPAM = ("URGENT!!! You have WON $1,000,000 FREE money. Click here to claim your prize now, credit card required. "
        "Order now, 100% free, remove yourself from our mailing list. $$$ !!! BUSINESS OPPORTUNITY")
HAM = ("Hi George, the meeting about the project data and the report for the lab is moved to Tuesday; "
       "see the attached telnet logs from 857 and the technology conference schedule. Thanks, edu team")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return train_model_file(tmp_path_factory.mktemp("model") / "model.json")


def _attribute(kind, value):
    return {"type": kind, "value": value, "uuid": str(uuid.uuid4())}


def _verdict(answer):
    obj = answer["results"]["Object"][0]
    return {a["object_relation"]: a["value"] for a in obj["Attribute"]}, obj


def test_spam_and_ham_get_opposite_verdicts(model_path):
    config = {"model_path": str(model_path)}
    spam, spam_obj = _verdict(classify.dict_handler({"attribute": _attribute("email-body", SPAM), "config": config}))
    ham, _ = _verdict(classify.dict_handler({"attribute": _attribute("email-body", HAM), "config": config}))
    assert spam["verdict"] == "compromised" and ham["verdict"] == "clean"
    assert spam["score"] > 0.5 > ham["score"]
    assert 0 < spam["epsilon"] <= 1.64 + 1e-6 and spam["delta"] == 1e-5
    assert len(spam["model-id"]) == 64
    assert spam_obj["ObjectReference"][0]["relationship_type"] == "annotates"


def test_verdict_only_never_the_message_again(model_path):
    """No echo of the input: MISP 2.5.1 saves an echoed attribute as a duplicate (refused, with an error on the
    result page) and the hover popover would show the whole message again. The tag sits on the verdict."""
    config = {"model_path": str(model_path)}
    attribute = _attribute("email-body", SPAM)
    for request in ({"attribute": attribute, "event_id": "7", "config": config},  # enrichment
                    {"attribute": attribute, "config": config}):  # hover (hoverEnrichment sends no event_id)
        answer = classify.dict_handler(request)
        assert list(answer["results"]) == ["Object"] and SPAM[:30] not in json.dumps(answer)
        values, obj = _verdict(answer)
        assert values["verdict"] == "compromised"
        assert obj["Attribute"][0]["Tag"] == [{"name": 'legion:verdict="compromised"'}]
        assert obj["ObjectReference"] == [{"referenced_uuid": attribute["uuid"], "relationship_type": "annotates"}]


def test_verdict_object_matches_its_template(model_path):
    template = json.loads((TEMPLATE / "definition.json").read_text())
    values, obj = _verdict(classify.dict_handler({"attribute": _attribute("text", SPAM),
                                                  "config": {"model_path": str(model_path)}}))
    misp_object = MISPObject("legion-verdict", misp_objects_template_custom=template)
    for attribute in obj["Attribute"]:
        misp_object.add_attribute(attribute["object_relation"], value=attribute["value"])
    assert set(template["required"]) <= set(values)
    assert misp_object.to_dict()["template_uuid"] == obj["template_uuid"]


def test_email_object_enrichment_and_tag(model_path):
    fixture = json.loads((FIXTURES / "misp_module_requests/derived/object_enrichment_standard.json").read_text())
    email_object = {"name": "email", "uuid": str(uuid.uuid4()), "Attribute": [
        {"type": "email-subject", "object_relation": "subject", "value": "FREE money!!! claim now"},
        {"type": "email-body", "object_relation": "email-body", "value": SPAM}]}
    request = {**fixture, "module": "legion_classify", "object": email_object,
               "config": {"model_path": str(model_path)}}
    answer = classify.dict_handler(request)
    values, obj = _verdict(answer)
    assert values["verdict"] == "compromised"
    assert obj["ObjectReference"][0]["referenced_uuid"] == email_object["uuid"]
    assert {"name": 'legion:verdict="compromised"'} in obj["Attribute"][0]["Tag"]
    # every attribute has its own uuid (MISP's result page keys rows by it); the comment MISP stores is ours,
    # never its default (the enriched value: the whole message on the API path)
    uuids = [a["uuid"] for a in obj["Attribute"]]
    assert len(set(uuids)) == len(uuids) == len(obj["Attribute"]) and all(uuid.UUID(u) for u in uuids)
    assert obj["comment"].startswith("legion_classify: compromised") and SPAM[:20] not in obj["comment"]
    assert answer["comment"] == obj["comment"]


def test_bad_inputs_and_settings(model_path, tmp_path):
    assert "model_path" in classify.dict_handler({"attribute": _attribute("text", HAM), "config": None})["error"]
    answer = classify.dict_handler({"attribute": _attribute("ip-dst", "198.51.100.1"),
                                    "config": {"model_path": str(model_path)}})
    assert "unsupported attribute type" in answer["error"] and answer["results"] == {}
    tampered = tmp_path / "tampered.json"
    document = json.loads(model_path.read_text())
    document["model"]["threshold"] = 0.01
    tampered.write_text(json.dumps(document))
    answer = classify.dict_handler({"attribute": _attribute("text", HAM), "config": {"model_path": str(tampered)}})
    assert "sha256 mismatch" in answer["error"]


def test_model_is_loaded_once_and_reloaded_on_change(model_path, tmp_path, monkeypatch):
    import legion_misp.learning.model_io as model_io

    calls = []
    original = model_io.load_model
    monkeypatch.setattr(model_io, "load_model", lambda p: calls.append(p) or original(p))
    copy = tmp_path / "model.json"
    copy.write_bytes(model_path.read_bytes())
    for _ in range(3):
        classify.dict_handler({"attribute": _attribute("text", HAM), "config": {"model_path": str(copy)}})
    assert len(calls) == 1
    train_model_file(tmp_path / "other.json", seed=1)
    copy.write_bytes((tmp_path / "other.json").read_bytes())
    import os
    os.utime(copy, (1, 1))
    classify.dict_handler({"attribute": _attribute("text", HAM), "config": {"model_path": str(copy)}})
    assert len(calls) == 2


@pytest.mark.slow
def test_classify_through_the_real_server(module_server, model_path):
    listed = {m["name"]: m for m in module_server.get("/modules")}
    meta = listed["legion_classify"]
    assert meta["type"] == "expansion" and set(meta["meta"]["module-type"]) == {"expansion", "hover"}
    assert meta["mispattributes"]["format"] == "misp_standard" and "email" in meta["mispattributes"]["input"]
    for name in ("enrichment_standard.json", "hover_standard.json", "bulk_enrichment_standard.json"):
        body = json.loads((FIXTURES / "misp_module_requests/derived" / name).read_text())
        body.update(module="legion_classify", config={"model_path": str(model_path)})
        body["attribute"] = {**body["attribute"], "type": "email-body", "value": SPAM}
        answer = module_server.query(body)
        assert _verdict(answer)[0]["verdict"] == "compromised", name
    body["attribute"]["type"] = "domain"
    answer = module_server.query(body)
    assert "error" in answer and answer["results"] == {}
