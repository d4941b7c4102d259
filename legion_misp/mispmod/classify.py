"""MISP expansion/hover module ``legion_classify``: flags compromised (spam/phishing) messages.

Input (``misp_standard``): an ``email`` object (object enrichment), or an ``email-body``, ``email-subject`` or
``text`` attribute. The message becomes the 57 Spambase features; the model trained by DP federated learning scores
it. Output: a ``legion-verdict`` object (verdict, score, threshold, model id, the model's ε and δ) referencing the
input, its ``verdict`` attribute tagged ``legion:verdict="compromised"`` or ``"clean"``.

The model file (JSON, sha256-checked, never pickle) is loaded once per process, lazily, and reloaded only when the
file changes; scoring one message takes well under a millisecond, inside MISP's 10 s (5 s hover) timeouts.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from ..learning import model_io
from ..learning.features import email_text, email_text_from_misp, spambase_features
from .common import ModuleInputError, bytes_handler, contain, module_config

INPUT_TYPES = ("email-body", "email-subject", "text")
OBJECT_TEMPLATES = ("email",)
VERDICT_TEMPLATE = "legion-verdict"
VERDICT_TEMPLATE_UUID = str(uuid.uuid5(uuid.UUID("5b0c1f3e-9a8d-4e52-b1c7-3f6d2a9e8c41"),
                                       "object-template/legion-verdict"))

mispattributes = {"input": [*INPUT_TYPES, *OBJECT_TEMPLATES], "output": [VERDICT_TEMPLATE, "tag"],
                  "format": "misp_standard"}
moduleinfo = {
    "version": "0.1.0",
    "author": "legion-misp",
    "module-type": ["expansion", "hover"],
    "name": "Legion message classifier",
    "description": "Scores an e-mail (object, body, subject or text) with the federation's differentially "
                   "private classifier and adds a legion-verdict object.",
    "logo": "",
    "requirements": ["legion-misp installed in the misp-modules environment", "a model file (legion learn export)"],
    "features": "Local inference only (nothing leaves the server). The verdict carries the model's (epsilon, "
                "delta) and id.",
    "references": ["https://arxiv.org/abs/2512.14242"],
    "input": "An email object, or an email-body, email-subject or text attribute.",
    "output": "A legion-verdict object and a legion:verdict tag.",
}
moduleconfig = ["model_path"]

_CACHE: dict[str, tuple[float, Any, str]] = {}
_CACHE_LOCK = threading.Lock()


def cached_model(path: Path) -> tuple[Any, str]:
    """The model at ``path`` and its id (sha256 of the file), loaded once and reloaded when the file changes."""
    key = str(path.resolve())
    mtime = path.stat().st_mtime
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1], cached[2]
        try:
            model = model_io.load_model(path)
        except (model_io.ModelFileError, OSError) as exc:
            raise ModuleInputError(f"the model file cannot be used: {str(exc).split(': ', 1)[-1][:200]}") from exc
        model_id = hashlib.sha256(path.read_bytes()).hexdigest()
        _CACHE[key] = (mtime, model, model_id)
        return model, model_id


def model_path(settings: dict[str, str]) -> Path:
    value = settings.get("model_path") or os.environ.get("LEGION_MODEL")
    if not value:
        raise ModuleInputError("set the module's model_path setting (a model file from 'legion learn export')")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ModuleInputError("model_path names a file that does not exist")
    return path


def message_text(request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The message (subject + newline + body) and the MISP element the verdict refers to."""
    obj = request.get("object")
    if obj is not None:
        if not isinstance(obj, dict) or obj.get("name") not in OBJECT_TEMPLATES or not isinstance(
                obj.get("Attribute"), list):
            raise ModuleInputError("object enrichment needs an 'email' object with its attributes")
        try:
            return email_text_from_misp(obj), obj
        except ValueError:
            raise ModuleInputError("the email object has no subject or body to classify") from None
    attribute = request.get("attribute")
    if not isinstance(attribute, dict) or not isinstance(attribute.get("value"), str) or not isinstance(
            attribute.get("type"), str):
        raise ModuleInputError("an attribute with 'type' and 'value' (strings) is required")
    if attribute["type"] not in INPUT_TYPES:
        raise ModuleInputError(f"unsupported attribute type; this module takes {', '.join(INPUT_TYPES)} and "
                               "email objects")
    if attribute["type"] == "email-subject":
        return email_text(attribute["value"], None), attribute
    return email_text(None, attribute["value"]), attribute


def verdict_comment(compromised: bool, score: float, model_id: str) -> str:
    """The verdict object's comment. Without one MISP writes its own default there, which is the enriched
    attribute's whole value (the e-mail body) on the API path (MispAttribute::enrichment) and a bare
    ": Enriched via ..." on the object path (EventsController::__queryObjectEnrichment reads an object 'value')."""
    return (f"legion_classify: {'compromised' if compromised else 'clean'} (score {score:.3f}, "
            f"model {model_id[:12]})")


def verdict_object(score: float, model: Any, model_id: str, target_uuid: str | None) -> dict[str, Any]:
    compromised = score >= model.threshold
    values = [("verdict", "text", "compromised" if compromised else "clean"), ("score", "float", round(score, 6)),
              ("threshold", "float", round(float(model.threshold), 6)), ("model-id", "text", model_id),
              ("privacy-unit", "text", model.privacy_unit),
              ("feature-extractor", "text", f"{model.extractor} v{model.extractor_version}")]
    if model.epsilon is not None:
        values += [("epsilon", "float", float(model.epsilon)), ("delta", "float", float(model.delta or 0.0))]
    obj: dict[str, Any] = {
        "name": VERDICT_TEMPLATE, "meta-category": "misc", "template_uuid": VERDICT_TEMPLATE_UUID,
        "template_version": "1", "uuid": str(uuid.uuid4()), "description": "legion-misp classifier verdict",
        "comment": verdict_comment(compromised, score, model_id),
        "Attribute": [{"object_relation": r, "type": t, "value": v, "to_ids": False, "disable_correlation": True,
                       "category": "Other", "uuid": str(uuid.uuid4())} for r, t, v in values],
    }
    if target_uuid:
        obj["ObjectReference"] = [{"referenced_uuid": target_uuid, "relationship_type": "annotates"}]
    return obj


def classify(request: dict[str, Any]) -> dict[str, Any]:
    model, model_id = cached_model(model_path(module_config(request)))
    text, target = message_text(request)
    score = float(model.predict_proba(spambase_features(text)[None, :])[0])
    verdict = verdict_object(score, model, model_id, target.get("uuid") if isinstance(target.get("uuid"), str)
                             else None)
    # The tag goes on the verdict attribute. Echoing the input attribute to tag it does not work in MISP 2.5.1: the
    # echo is saved as a new attribute, refused as a duplicate ("1 attribute could not be saved" on the result page,
    # silently over the API), and the tag is lost with it. The reference alone links the verdict to the input.
    label = "compromised" if score >= model.threshold else "clean"
    verdict["Attribute"][0]["Tag"] = [{"name": f'legion:verdict="{label}"'}]
    return {"results": {"Object": [verdict]}, "comment": verdict["comment"]}  # comment: import comment (UI)


dict_handler = contain("legion_classify", classify, expansion=True)
handler = bytes_handler(dict_handler)


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    return {**moduleinfo, "config": moduleconfig}
