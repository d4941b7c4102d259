"""MISP action module ``legion_publish_gate``: a blocking workflow action for the ``event-publish`` trigger.

It fails (which blocks publishing) with the reasons when the event would share policy-protected values at
distribution ≥ 1 (see :func:`legion_misp.privacy.findings.publish_gate_findings`: internal or own public IPs,
internal hosts/domains/e-mails — also defanged or encoded —, targeting data, victim-identifying types, sensitive terms
and patterns, blocked tags, the organisation's short host names learned from the event and from the whole configured
store as the sanitiser learns them); otherwise it passes (``{"data": true}``). Reasons name the field path and
attribute uuid, never the value. When host names cannot be learned from a MISP store, the gate fails (blocks).
"""

from __future__ import annotations

import os
from typing import Any

from ..config import Config
from ..privacy.findings import publish_gate_findings
from ..privacy.hostname_store import store_hostnames
from ..privacy.policy import Policy
from ..sections import load_config
from .common import ModuleInputError, bytes_handler, contain

MAX_REASONS_SHOWN = 8

mispattributes: dict[str, Any] = {}
moduleinfo = {
    "version": "0.1.0",
    "author": "legion-misp",
    "module-type": ["action"],
    "name": "Legion publish gate",
    "description": "Blocks publishing an event that would share internal addresses or hosts, targeting data, "
                   "sensitive terms or the organisation's name at distribution 1 or more.",
    "logo": "",
    "requirements": ["legion-misp installed in the misp-modules environment"],
    "features": "Blocking action for the event-publish workflow trigger; checks the event against the "
                "organisation policy of a legion.toml.",
    "references": ["https://arxiv.org/abs/2512.14242"],
    "input": "The event being published (MISP core format).",
    "output": "Passes, or fails with the list of protected values (by attribute uuid and type).",
}
moduleconfig = {
    "params": {
        "config_path": {"type": "string", "value": "",
                        "description": "Path to legion.toml (its [organisation] section is the policy). "
                                       "Empty: the LEGION_CONFIG environment variable of the misp-modules server."},
    },
    "blocking": True,
    "support_filters": False,
    "expect_misp_core_format": True,
}


def config_for(request: dict[str, Any]) -> Config:
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise ModuleInputError("'params' must be an object")
    path = params.get("config_path") or os.environ.get("LEGION_CONFIG")
    if not isinstance(path, str) or not path.strip():
        raise ModuleInputError("set the node's config_path parameter (path to legion.toml)")
    return load_config(path.strip())


def gate(request: dict[str, Any]) -> dict[str, Any]:
    data = request.get("data")
    event = data.get("Event") if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise ModuleInputError("no event in 'data' (expected {\"Event\": {...}} from the event-publish trigger)")
    config = config_for(request)
    policy = Policy.from_config(config)
    learned = store_hostnames(config, config.organisation) if policy.learn_hostnames_from_store else set()
    findings = publish_gate_findings(event, config.organisation, policy, hostnames=learned)
    if not findings:
        return {"data": True}
    shown = "; ".join(f.message + (f" (attribute {f.attribute_uuid})" if f.attribute_uuid else "")
                      for f in findings[:MAX_REASONS_SHOWN])
    more = f"; and {len(findings) - MAX_REASONS_SHOWN} more" if len(findings) > MAX_REASONS_SHOWN else ""
    return {"error": f"Publishing blocked: {len(findings)} policy-protected value(s) would be shared at "
                     f"distribution >= 1: {shown}{more}"}


dict_handler = contain("legion_publish_gate", gate, max_error_chars=2000)
handler = bytes_handler(dict_handler)


def introspection() -> dict[str, Any]:
    return {"config": moduleconfig}


def version() -> dict[str, Any]:
    return {**moduleinfo, "config": moduleconfig}
