"""legion-misp's object templates (legion_misp/data/objects/) in a real MISP 2.5.1: what an admin sees without them,
and the objects validated against them once installed as docs/admin.md says (copied into MISP's misp-objects folder,
then *Update objects*)."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
from pymisp import MISPObject

from legion_misp.mispmod.classify import VERDICT_TEMPLATE_UUID
from legion_misp.privacy import Policy, Sanitizer
from legion_misp.privacy.mechanisms import SeededNoise
from legion_misp.privacy.pseudonyms import Pseudonymizer
from legion_misp.privacy.sanitizer import SIGHTING_SUMMARY_TEMPLATE_UUID
from legion_misp.sections import load_config
from tests.helpers import REPO
from tests.privacy.conftest import FEDERATION_KEY, attribute, event, write_config
from tests.privacy.test_sanitizer import recent_sightings

TEMPLATES = REPO / "legion_misp" / "data" / "objects"
NAMES = ("legion-verdict", "legion-sighting-summary")
NO_TEMPLATE = "Object cannot be edited, no valid template found."


@pytest.fixture
def shared_event(tmp_path):
    """An event as the sanitiser shares it: a busy attribute gets a legion-sighting-summary object."""
    policy = Policy.from_config(load_config(write_config(tmp_path / "policy")))
    sanitizer = Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(11))
    shared, _ = sanitizer.sanitize(event(attribute("ip-dst", "203.0.113.7", Sighting=recent_sightings(200))))
    assert [o["name"] for o in shared["Object"]] == ["legion-sighting-summary"]
    return {"Event": {k: v for k, v in shared.items() if k not in ("Org", "Orgc")}}


def _verdict_object(target_uuid: str) -> MISPObject:
    verdict = MISPObject("legion-verdict", misp_objects_path_custom=str(TEMPLATES))
    for relation, value in (("verdict", "compromised"), ("score", "0.97"), ("threshold", "0.5"),
                            ("model-id", "ab" * 32), ("epsilon", "1.64"), ("delta", "1e-05")):
        verdict.add_attribute(relation, value=value)
    verdict.add_reference(target_uuid, "annotates")
    return verdict


def _add(misp, payload):
    created = misp.add_event(payload, pythonify=True)
    assert not isinstance(created, dict), created
    return created


def test_without_the_templates_misp_keeps_the_objects_but_will_not_edit_them(misp, misp_browser, shared_event):
    created = _add(misp, shared_event)
    verdict = _verdict_object(created.attributes[0].uuid)
    assert not isinstance(misp.add_object(created.id, verdict, pythonify=True), dict)  # no template: not checked
    stored = misp.get_event(created.id, pythonify=True)
    by_name = {o.name: o for o in stored.objects}
    assert by_name["legion-sighting-summary"].template_uuid == SIGHTING_SUMMARY_TEMPLATE_UUID
    assert by_name["legion-verdict"].template_uuid == VERDICT_TEMPLATE_UUID
    assert not [t for t in misp.object_templates() if t["ObjectTemplate"]["name"] in NAMES]
    for obj in by_name.values():  # what the analyst gets for *Edit* (ObjectsController::edit)
        where, flashes, _ = misp_browser.object_editor(obj.id)
        assert where == f"/events/view/{created.id}" and any(NO_TEMPLATE in f for f in flashes), flashes


def test_installed_templates_validate_the_objects(misp, misp_fresh, misp_browser, shared_event):
    objects_dir = misp_fresh.home / "MISP" / "app" / "files" / "misp-objects" / "objects"
    try:
        for name in NAMES:  # what docs/admin.md tells admins: copy, then Update objects
            shutil.copytree(TEMPLATES / name, objects_dir / name)
            response = misp._prepare_request("POST", f"objectTemplates/update/{name}")
            assert response.status_code == 200, response.text[:300]
        installed = {t["ObjectTemplate"]["name"]: t["ObjectTemplate"] for t in misp.object_templates()}
        for name, template_uuid in zip(NAMES, (VERDICT_TEMPLATE_UUID, SIGHTING_SUMMARY_TEMPLATE_UUID), strict=True):
            definition = json.loads((TEMPLATES / name / "definition.json").read_text())
            assert installed[name]["uuid"] == definition["uuid"] == template_uuid
            assert installed[name]["version"] == str(definition["version"])
        created = _add(misp, shared_event)
        summary = next(o for o in created.objects if o.name == "legion-sighting-summary")
        # objects/add runs ObjectTemplate::checkTemplateConformity for objects naming an installed template
        assert not isinstance(misp.add_object(created.id, _verdict_object(summary.uuid), pythonify=True), dict)
        copy = MISPObject("legion-sighting-summary", misp_objects_path_custom=str(TEMPLATES))
        for relation, value in ((a.object_relation, a.value) for a in summary.attributes):
            copy.add_attribute(relation, value=value)
        assert not isinstance(misp.add_object(created.id, copy, pythonify=True), dict)  # the sanitiser's shape
        incomplete = MISPObject("legion-sighting-summary", misp_objects_path_custom=str(TEMPLATES))
        incomplete.add_attribute("attribute-uuid", value=str(uuid.uuid4()))
        incomplete.add_attribute("seen", value="12")
        refused = misp.add_object(created.id, incomplete)
        assert "required attribute is not set (false-positive)" in json.dumps(refused), refused
        stored = misp.get_event(created.id, pythonify=True)
        assert sorted(o.name for o in stored.objects) == ["legion-sighting-summary", "legion-sighting-summary",
                                                           "legion-verdict"]
        for obj in stored.objects:  # *Edit* now opens MISP's form with the template's fields
            where, flashes, page = misp_browser.object_editor(obj.id)
            assert where == f"/objects/edit/{obj.id}" and not any(NO_TEMPLATE in f for f in flashes), flashes
            relations = {"legion-verdict": "model-id", "legion-sighting-summary": "false-positive"}
            assert relations[obj.name] in page.text()
    finally:
        for name in NAMES:
            shutil.rmtree(objects_dir / name, ignore_errors=True)
