"""MISP export module ``legion_dp_export``: a sanitised copy of the event, ready to leave the organisation.

Input: the events MISP sends to export modules (``data`` is a JSON list; with ``require_standard_format`` each is
``{"Event": {...}}`` with nested attributes; MISP's internal shape with top-level ``Attribute``/``Object``/``EventTag``
is accepted too). The same policy, noise store and privacy ledger as ``legion sanitize`` apply (always the
configuration's ledger; a request cannot choose another): data already noised is exported with its stored noisy
values and spends nothing; fresh noise is recorded and paid before anything is produced, and a full budget refuses
the export. An event that stays home spends nothing. Output (base64): a STIX 2.1 bundle (default) or
sanitised MISP JSON, chosen by the ``format`` setting.

MISP never shows an export module's error (the user gets an empty download), so a refused or empty export returns a
small JSON file that says why, alongside ``error`` for the server log.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from ..privacy.ledger import BudgetExceeded
from ..privacy.release import sanitize_events
from ..privacy.sanitizer import Sanitizer
from ..stix.codec import MispToStix
from ..stores import MemoryEventStore
from .common import ModuleInputError, bytes_handler, contain, module_config
from .settings import configured_ledger, legion_config, pseudonym_key

FORMATS = ("stix21", "misp")

mispattributes = {"responseType": "application/json", "outputFileExtension": "json"}
moduleinfo = {
    "version": "0.1.0",
    "author": "legion-misp",
    "module-type": ["export"],
    "name": "Legion DP export",
    "description": "Exports a sanitised copy of the event (policy gates, pseudonyms, text scrubbing, "
                   "differential-privacy noise, privacy-budget ledger) as STIX 2.1 or MISP JSON.",
    "logo": "",
    "requirements": ["legion-misp installed in the misp-modules environment"],
    "features": "Same policy and ledger as `legion sanitize`. Set `format` to stix21 (default) or misp.",
    "references": ["https://arxiv.org/abs/2512.14242"],
    "input": "A published MISP event.",
    "output": "A sanitised STIX 2.1 bundle or MISP event (JSON).",
    "require_standard_format": True,
}
moduleconfig = ["config_path", "format", "pseudonym_key"]


def standard_event(document: Any) -> dict[str, Any]:
    """The nested event dict from either export shape MISP sends."""
    if not isinstance(document, dict) or not isinstance(document.get("Event"), dict):
        raise ModuleInputError("each item of 'data' must be an object with an 'Event' member")
    event = dict(document["Event"])
    for key in ("Attribute", "Object", "EventReport", "Orgc", "Org"):
        if key not in event and key in document:
            event[key] = document[key]
    if "Tag" not in event and isinstance(document.get("EventTag"), list):
        event["Tag"] = [t["Tag"] for t in document["EventTag"] if isinstance(t, dict) and isinstance(t.get("Tag"),
                                                                                                   dict)]
    return event


def export(request: dict[str, Any]) -> dict[str, Any]:
    settings = module_config(request)
    output_format = settings.get("format", "stix21").lower()
    if output_format not in FORMATS:
        raise ModuleInputError(f"format must be one of {', '.join(FORMATS)}")
    data = request.get("data")
    if not isinstance(data, list) or not data:
        raise ModuleInputError("'data' must be a non-empty list of events")
    events = [standard_event(item) for item in data]
    config = legion_config(settings)
    sanitizer = Sanitizer.from_config(config, pseudonym_key=pseudonym_key(settings, config))
    source, sink = MemoryEventStore(), MemoryEventStore()
    for event in events:
        source.upsert(event)
    kept_home: list[str] = []
    try:
        summary = sanitize_events(source, sink, sanitizer, ledger=configured_ledger(settings, config),
                                  what=f"MISP export module: {len(events)} event(s)", scope="export",
                                  on_event=lambda report: kept_home.extend(_drop_reasons(report)))
    except BudgetExceeded as exc:
        return _explained("refused", str(exc))
    shared = list(sink.query())
    if not shared:
        return _explained("nothing exported", "; ".join(summary.errors + kept_home) or "no event to share")
    document = _stix_bundle(shared) if output_format == "stix21" else {"response": [{"Event": e} for e in shared]}
    return {"response": [], "data": _b64(document)}


def _drop_reasons(report: Any) -> list[str]:
    if report.outcome != "dropped":
        return []
    return [f"event {report.event_uuid} stays home: {a.reason}" for a in report.actions if a.target == "event"]


def _stix_bundle(events: list[dict[str, Any]]) -> dict[str, Any]:
    converter = MispToStix()
    objects = [json.loads(obj.data) for event in events for obj in converter.convert(event)]
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def _explained(status: str, reason: str) -> dict[str, Any]:
    note = {"legion_dp_export": status, "reason": reason}
    return {"response": [], "data": _b64(note), "error": f"legion_dp_export: {status}: {reason}"}


def _b64(document: Any) -> str:
    return base64.b64encode(json.dumps(document, ensure_ascii=False).encode("utf-8")).decode("ascii")


dict_handler = contain("legion_dp_export", export)
handler = bytes_handler(dict_handler)


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    return {**moduleinfo, "config": moduleconfig}
