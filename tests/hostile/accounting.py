"""What became of every corpus object, read back from a pull (state + store) or an import answer, and the check
against the corpus' expectations: 0 lost without a record, 0 meanings changed."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from legion_misp.stores.events import iter_attributes

from .corpus import Case

CONTEXT_TYPES = frozenset({"identity", "relationship", "marking-definition", "report", "grouping",
                           "extension-definition", "malware", "threat-actor", "intrusion-set", "campaign",
                           "attack-pattern", "tool", "vulnerability", "course-of-action", "location", "note",
                           "opinion", "sighting", "infrastructure"})


def pairs(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(MISP type, value) of every attribute, top level and inside objects."""
    return {(str(a.get("type")), str(a.get("value"))) for e in events for a in iter_attributes(e)}


def uuids(events: list[dict[str, Any]]) -> set[str]:
    found = set()
    for event in events:
        found |= {str(a.get("uuid")).lower() for a in event.get("Attribute", [])}
        found |= {str(o.get("uuid")).lower() for o in event.get("Object", [])}
    return found


def check_case(case: Case, *, refused: Counter, refused_ids: dict[str, str], converted: set[tuple[str, str]],
               made: set[str], served: set[str] | None = None) -> list[str]:
    """Problems with one case: an object whose outcome differs from the expected one, or an object with no
    outcome at all. ``refused`` counts refusals by code (objects without an id included), ``refused_ids`` maps
    ids to their code, ``converted`` the (type, value) pairs stored, ``made`` the uuids of attributes/objects,
    ``served`` the ids the server stored (None: all)."""
    problems = []
    for where, outcome in case.expected.items():
        if served is not None and where not in served:
            continue  # refused by the TAXII server itself: never reached us
        if outcome[0] == "converted":
            if (outcome[1], outcome[2]) not in converted:
                problems.append(f"{case.name}: {where} not converted to {outcome[1]} {outcome[2][:60]!r}"
                                f" (refused as {refused_ids.get(where)})")
        elif outcome[0] == "context":
            if where in refused_ids:
                problems.append(f"{case.name}: context object {where} refused as {refused_ids[where]}")
        elif where.startswith("objects["):
            if refused[outcome[0]] < 1:
                problems.append(f"{case.name}: {where} has no {outcome[0]} refusal")
        elif refused_ids.get(where) != outcome[0]:
            problems.append(f"{case.name}: {where} expected {outcome[0]}, got {refused_ids.get(where)}"
                            f"{' (an attribute was made of it)' if where.split('--')[-1] in made else ''}")
    for obj in case.objects:  # the safety net: every object has a record
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            continue
        if served is not None and obj["id"] not in served:
            continue
        recorded = (obj["id"] in refused_ids or obj.get("type") in CONTEXT_TYPES
                    or obj["id"].split("--")[-1] in made or case.expected.get(obj["id"], [""])[0] == "converted")
        if not recorded:
            problems.append(f"{case.name}: {obj['id']} lost without a record")
    return problems


def import_answer_outcome(answer: dict[str, Any]) -> tuple[Counter, set[tuple[str, str]], int]:
    """From an import module answer: codes (each once), (type, value) pairs, and the rejected-objects count."""
    results = answer.get("results", {})
    tags = [t["name"] for t in results.get("Tag", [])]
    codes = Counter(t.split('"')[1] for t in tags if t.startswith("legion:rejected="))
    count = next((int(t.split('"')[1]) for t in tags if t.startswith("legion:rejected-objects=")), 0)
    event = {"Attribute": results.get("Attribute", []), "Object": results.get("Object", [])}
    return codes, pairs([event]), count


def expected_refusals(case: Case) -> Counter:
    counts = Counter(o[0] for o in case.expected.values() if o[0] not in ("converted", "context"))
    counts.update(case.extra.get("also_refused", []))
    return counts


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
