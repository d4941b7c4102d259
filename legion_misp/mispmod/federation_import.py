"""MISP import module ``legion_federation_import``: a STIX 2.1 bundle from the federation, made into MISP data.

Input: ``data`` is the base64 of an uploaded (or pasted) STIX 2.1 bundle. Each object is checked (size, nesting,
STIX 2.1 validity) as the connector's pull does, then verified exactly as a pull verifies it (signature by a roster
member allowed on the collection, key not revoked or expired, no replay of an older version, no signer change:
:class:`~legion_misp.trust.PullGuard`, with the same SQLite trust state as ``legion sync``). Accepted objects are
converted with misp-stix and returned in the ``misp_standard`` shape (``Attribute``, ``Object``, ``Tag``). An indicator
gets ``to_ids`` true only when f+1 distinct members published it within the window (counting what earlier pulls and
imports saw); otherwise ``to_ids`` false and ``legion:corroboration="k-of-n"``. Rejected objects are counted in a
``legion:rejected-objects`` tag, with their reasons in ``legion:rejected`` tags.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..errors import ConfigError
from ..stix.codec import ConversionError, ObjectRejected, check_object, stix_to_misp
from ..trust import TrustPolicy, TrustState
from .common import ModuleInputError, bytes_handler, contain, module_config
from .settings import legion_config

MAX_BUNDLE_BYTES = 20 * 1024 * 1024
MAX_OBJECT_BYTES = 1024 * 1024
MAX_OBJECT_NESTING = 20

mispattributes = {"inputSource": ["file", "paste"], "output": ["MISP attributes", "MISP objects"],
                  "format": "misp_standard"}
moduleinfo = {
    "version": "0.1.0",
    "author": "legion-misp",
    "module-type": ["import"],
    "name": "Legion federation import",
    "description": "Imports a STIX 2.1 bundle shared in the federation: signatures verified against the roster, "
                   "indicators trusted (to_ids) only when f+1 members published them.",
    "logo": "",
    "requirements": ["legion-misp installed in the misp-modules environment"],
    "features": "Validates and verifies each STIX object (Ed25519 signature, roster, replay), converts with "
                "misp-stix, decides to_ids by corroboration, returns MISP standard results.",
    "references": ["https://arxiv.org/abs/2512.14242"],
    "input": "A STIX 2.1 bundle (JSON file or pasted text).",
    "output": "MISP attributes and objects, with corroboration and signer tags.",
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
    good, refused = [], {}
    for index, obj in enumerate(objects):
        try:
            check_object(obj, max_bytes=MAX_OBJECT_BYTES, max_nesting=MAX_OBJECT_NESTING)
            good.append(obj)
        except ObjectRejected as exc:
            refused[str(obj.get("id")) if isinstance(obj, dict) else f"objects[{index}]"] = str(exc)
    return good, refused


def open_guard(request: dict[str, Any]) -> Any:
    """The pull's trust checks, over the organisation's roster and the sync state database (``[sync] state_path``)."""
    config = legion_config(module_config(request))
    try:
        policy = TrustPolicy.from_config(config)
    except ConfigError as exc:
        raise ModuleInputError(f"the federation roster is not usable: {str(exc).splitlines()[0]}") from exc
    state = TrustState.open(config.resolve_path(config.section("sync")["state_path"]))
    return policy.guard(state.db, collection=None), state


def verified_objects(objects: list[dict[str, Any]], guard: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    accepted, rejected = [], {}
    for obj in objects:
        verdict = guard.check(obj)
        if verdict.accepted:
            accepted.append(obj)
        else:
            rejected[str(obj.get("id"))] = f"{verdict.code.value}: {verdict.reason}"
    return accepted, rejected


def import_bundle(request: dict[str, Any]) -> dict[str, Any]:
    good, refused = checked_objects(decode_bundle(request.get("data")))
    guard, state = open_guard(request)
    try:
        accepted, rejected = verified_objects(good, guard)
        refused.update(rejected)
        if not accepted:
            raise ModuleInputError(f"no object passed the checks: {_summary(refused)}")
        try:
            converted = stix_to_misp(accepted)
        except ConversionError as exc:
            raise ModuleInputError(f"conversion failed: {str(exc)[:200]}") from exc
        refused.update(converted.invalid)
        if converted.event is None:
            raise ModuleInputError(f"no importable STIX object: {_summary(refused)}")
        event = guard.annotate(converted.event, [o for o in accepted if o.get("id") not in converted.invalid])
    finally:
        state.close()
    results: dict[str, Any] = {key: event.get(key, []) for key in ("Attribute", "Object", "Tag")}
    if refused:
        results["Tag"] = [*results["Tag"], {"name": f'legion:rejected-objects="{len(refused)}"'},
                          *({"name": f'legion:rejected="{code}"'} for code in sorted(_codes(refused)))]
    return {"results": results}


def _codes(refused: dict[str, str]) -> set[str]:
    return {reason.split(":", 1)[0] for reason in refused.values()}


def _summary(refused: dict[str, str]) -> str:
    if not refused:
        return "the bundle holds no object"
    counts: dict[str, int] = {}
    for code in (reason.split(":", 1)[0] for reason in refused.values()):
        counts[code] = counts.get(code, 0) + 1
    return ", ".join(f"{n} {code}" for code, n in sorted(counts.items()))[:200]


dict_handler = contain("legion_federation_import", import_bundle)
handler = bytes_handler(dict_handler)


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    return {**moduleinfo, "config": moduleconfig}
