"""MISP import module ``legion_federation_import``: a STIX 2.1 bundle from the federation, made into MISP data.

Input: ``data`` is the base64 of an uploaded (or pasted) STIX 2.1 bundle of at most 20 MB **decoded**
(:data:`MAX_BUNDLE_BYTES`; the base64 text may be 4/3 of that). Every object takes the pull's path, with the pull's
verdicts: the strict checks of :mod:`legion_misp.stix.validate`, the pull's dedup rule (the first copy of an
(id, version) wins; a later copy with other content is refused), trust verification exactly as a pull verifies
(:class:`~legion_misp.trust.PullGuard`, same SQLite trust state as ``legion sync``), conversion by misp-stix's
external-STIX parser and the meaning checks of :func:`legion_misp.stix.ingest.convert_accepted`. Accepted objects
are returned in the ``misp_standard`` shape (``Attribute``, ``Object``, ``Tag``). An indicator gets ``to_ids`` true
only when f+1 distinct members published it within the window (counting what earlier pulls and imports saw);
otherwise ``to_ids`` false and ``legion:corroboration="k-of-n"``. Refused objects are counted (objects, not ids) in a
``legion:rejected-objects`` tag, with one ``legion:rejected="<code>"`` tag per reason code (codes, never sentences).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import ConfigError
from ..stix.codec import stix_to_misp
from ..stix.ingest import convert_accepted, first_copies
from ..stix.reasons import ObjectRefused, Reason, Refusal
from ..stix.validate import check_object, loads_untrusted
from ..trust import TrustPolicy, TrustState
from .common import ModuleInputError, bytes_handler, contain, module_config
from .settings import legion_config

MAX_BUNDLE_BYTES = 20 * 1024 * 1024  # the decoded bundle
MAX_DATA_CHARS = 4 * -(-MAX_BUNDLE_BYTES // 3)  # its base64 text
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


def decode_bundle(data: Any) -> list[Any]:
    """The objects of the uploaded bundle. The size limit applies to the decoded bundle (bytes of JSON)."""
    if not isinstance(data, str) or not data:
        raise ModuleInputError("'data' must be the base64 of a STIX 2.1 bundle")
    if len(data) > MAX_DATA_CHARS:
        raise ModuleInputError(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MB")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ModuleInputError("'data' is not base64 of UTF-8 JSON") from None
    if len(raw) > MAX_BUNDLE_BYTES:
        raise ModuleInputError(f"the bundle is {len(raw)} bytes, larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MB "
                               f"({MAX_BUNDLE_BYTES} bytes)")
    try:
        document = loads_untrusted(raw.decode("utf-8"))
    except ValueError:
        raise ModuleInputError("'data' is not base64 of UTF-8 JSON") from None
    except RecursionError:
        raise ModuleInputError("the bundle is nested too deeply") from None
    if not isinstance(document, dict) or document.get("type") != "bundle" or not isinstance(
            document.get("objects"), list):
        raise ModuleInputError("not a STIX bundle (expected type 'bundle' with an 'objects' list)")
    return document["objects"]


def checked_objects(objects: list[Any]) -> tuple[list[tuple[dict[str, Any], str]], list[Refusal]]:
    """(object, canonical body) of the objects that pass the pull's checks, and a refusal for every other one."""
    good, refused = [], []
    for index, obj in enumerate(objects):
        where = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else f"objects[{index}]"
        try:
            body, _ = check_object(obj, max_bytes=MAX_OBJECT_BYTES, max_nesting=MAX_OBJECT_NESTING)
            good.append((obj, body))
        except ObjectRefused as exc:
            refused.append(Refusal(exc.code, exc.message, str(where)[:300]))
        except Exception as exc:  # one bad object never stops the import
            refused.append(Refusal(Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {str(exc)[:150]}",
                                   str(where)[:300]))
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


def verified_objects(objects: list[dict[str, Any]], guard: Any) -> tuple[list[dict[str, Any]], list[Refusal]]:
    accepted, rejected = [], []
    for obj in objects:
        try:
            verdict = guard.check(obj)
        except Exception as exc:  # one bad object never stops the import
            rejected.append(Refusal(Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {str(exc)[:150]}", obj["id"]))
            continue
        if verdict.accepted:
            accepted.append(obj)
        else:
            rejected.append(Refusal(verdict.code.value, verdict.reason, str(obj.get("id"))))
    return accepted, rejected


def import_bundle(request: dict[str, Any]) -> dict[str, Any]:
    good, refused = checked_objects(decode_bundle(request.get("data")))
    kept, conflicting, _duplicates = first_copies(good)
    refused.extend(conflicting)
    guard, state = open_guard(request)
    try:
        accepted, rejected = verified_objects(kept, guard)
        refused.extend(rejected)
        # as in the pull: a revoked object is left out (its revocation is what it says), a revoked container too
        current = [o for o in accepted if not o.get("revoked")]
        if not current:
            raise ModuleInputError(f"no object passed the checks: {_summary(refused)}")
        outcome = convert_accepted(current, stix_to_misp)
        refused.extend(outcome.refused)
        if outcome.event is None:
            raise ModuleInputError(f"no importable STIX object: {_summary(refused)}")
        bad = {r.stix_id for r in outcome.refused}
        event = guard.annotate(outcome.event, [o for o in current if o["id"] not in bad])
    finally:
        state.close()
    results: dict[str, Any] = {key: event.get(key, []) for key in ("Attribute", "Object", "Tag")}
    if len(current) < len(accepted):
        results["Tag"] = [*results["Tag"], {"name": f'legion:revoked-objects="{len(accepted) - len(current)}"'}]
    if refused:
        results["Tag"] = [*results["Tag"], {"name": f'legion:rejected-objects="{len(refused)}"'},
                          *({"name": f'legion:rejected="{code}"'} for code in sorted({r.code for r in refused}))]
    return {"results": results}


def _summary(refused: list[Refusal]) -> str:
    if not refused:
        return "the bundle holds no object"
    counts: dict[str, int] = {}
    for refusal in refused:
        counts[refusal.code] = counts.get(refusal.code, 0) + 1
    return ", ".join(f"{n} {code}" for code, n in sorted(counts.items()))[:200]


dict_handler = contain("legion_federation_import", import_bundle, long_fields={"data": MAX_DATA_CHARS})
handler = bytes_handler(dict_handler)


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    return {**moduleinfo, "config": moduleconfig}
