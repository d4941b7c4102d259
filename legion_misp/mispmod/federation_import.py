"""MISP import module ``legion_federation_import``: a STIX 2.1 bundle from the federation, made into MISP data.

Input: ``data`` is the base64 of an uploaded (or pasted) STIX 2.1 bundle. Each object is checked (size, nesting,
STIX 2.1 validity) as the connector's pull does; the bundle is converted with misp-stix (the internal parser for
MISP-made bundles, the external one otherwise) and returned in the ``misp_standard`` shape (``Attribute``, ``Object``,
``Tag``). Signature verification and corroboration across members are not wired into this module yet: every
indicator comes back with ``to_ids`` false and the tag ``legion:corroboration="unverified"``, so nothing imported here
feeds IDS exports until it is confirmed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .common import ModuleInputError, bytes_handler, contain

MAX_BUNDLE_BYTES = 20 * 1024 * 1024
MAX_OBJECT_BYTES = 1024 * 1024
MAX_OBJECT_NESTING = 20
UNVERIFIED_TAG = 'legion:corroboration="unverified"'

mispattributes = {"inputSource": ["file", "paste"], "output": ["MISP attributes", "MISP objects"],
                  "format": "misp_standard"}
moduleinfo = {
    "version": "0.1.0",
    "author": "legion-misp",
    "module-type": ["import"],
    "name": "Legion federation import",
    "description": "Imports a STIX 2.1 bundle shared in the federation; indicators arrive with to_ids off and a "
                   "corroboration tag until confirmed.",
    "logo": "",
    "requirements": ["legion-misp installed in the misp-modules environment"],
    "features": "Validates each STIX object, converts with misp-stix, returns MISP standard results.",
    "references": ["https://arxiv.org/abs/2512.14242"],
    "input": "A STIX 2.1 bundle (JSON file or pasted text).",
    "output": "MISP attributes and objects (to_ids false, tagged).",
}
moduleconfig = ["config_path"]


def decode_bundle(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, str) or not data:
        raise ModuleInputError("'data' must be the base64 of a STIX 2.1 bundle")
    if len(data) > MAX_BUNDLE_BYTES * 4 // 3 + 4:
        raise ModuleInputError(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MB")
    try:
        raw = base64.b64decode(data, validate=True)
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise ModuleInputError("'data' is not base64 of UTF-8 JSON") from None
    except RecursionError:
        raise ModuleInputError("the bundle is nested too deeply") from None
    if not isinstance(document, dict) or document.get("type") != "bundle" or not isinstance(
            document.get("objects"), list):
        raise ModuleInputError("not a STIX bundle (expected type 'bundle' with an 'objects' list)")
    return document["objects"]


def checked_objects(objects: list[Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Objects that pass the connector's checks, and the refused ones (id → reason)."""
    from connectors.convert import ObjectRejected, check_object

    good, refused = [], {}
    for index, obj in enumerate(objects):
        try:
            check_object(obj, max_bytes=MAX_OBJECT_BYTES, max_nesting=MAX_OBJECT_NESTING)
            good.append(obj)
        except ObjectRejected as exc:
            refused[str(obj.get("id")) if isinstance(obj, dict) else f"objects[{index}]"] = str(exc)
    return good, refused


def mark_unverified(event: dict[str, Any]) -> dict[str, Any]:
    """to_ids off and the corroboration tag on every attribute (top level and in objects)."""
    attributes = list(event.get("Attribute", [])) + [a for o in event.get("Object", []) for a in o.get("Attribute", [])]
    for attribute in attributes:
        attribute["to_ids"] = False
        tags = attribute.setdefault("Tag", [])
        if not any(t.get("name") == UNVERIFIED_TAG for t in tags):
            tags.append({"name": UNVERIFIED_TAG})
    return event


def import_bundle(request: dict[str, Any]) -> dict[str, Any]:
    from connectors.convert import ConversionError, stix_to_misp

    good, refused = checked_objects(decode_bundle(request.get("data")))
    if not good:
        raise ModuleInputError(f"no importable STIX object ({len(refused)} refused)")
    try:
        converted = stix_to_misp(good)
    except ConversionError as exc:
        raise ModuleInputError(f"conversion failed: {str(exc)[:200]}") from exc
    refused.update(converted.invalid)
    if converted.event is None:
        raise ModuleInputError(f"no importable STIX object ({len(refused)} refused)")
    event = mark_unverified(converted.event)
    results: dict[str, Any] = {key: event.get(key, []) for key in ("Attribute", "Object", "Tag")}
    if refused:
        results["Tag"] = [*results["Tag"], {"name": f'legion:refused-objects="{len(refused)}"'}]
    return {"results": results}


dict_handler = contain("legion_federation_import", import_bundle)
handler = bytes_handler(dict_handler)


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    return {**moduleinfo, "config": moduleconfig}
