"""Every field of a MISP event the sanitiser knows, and how each is treated: shared after scrubbing, shared after
validation against MISP's enumerations, or removed (local bookkeeping, identity).

A field not listed here cannot be judged, so the event is withheld with a reason (:func:`unknown_fields`), never
shared with the field silently removed or copied. Validation data comes from what PyMISP ships: attribute categories
(``describeTypes.json``), object templates and their ``meta-category`` values, and the relationship types of
misp-objects' ``relationships.json``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Fields removed on the way out: local ids, identity of the reporting organisation and users, local state.
_LOCAL_EVENT = {"id", "orgc_id", "org_id", "user_id", "Org", "Orgc", "event_creator_email", "sharing_group_id",
                "SharingGroup", "attribute_count", "proposal_email_lock", "locked", "disable_correlation", "protected",
                "ShadowAttribute", "RelatedEvent", "CryptographicKey", "Sighting", "sighting_timestamp", "Note",
                "Opinion", "Relationship", "EventTag", "Feed", "User", "cryptographic_key"}
_SHARED_EVENT = {"uuid", "info", "date", "threat_level_id", "analysis", "timestamp", "publish_timestamp", "published",
                 "extends_uuid", "distribution", "Attribute", "Object", "EventReport", "Tag", "Galaxy"}
_LOCAL_ATTRIBUTE = {"id", "event_id", "object_id", "sharing_group_id", "SharingGroup", "deleted", "Sighting",
                    "ShadowAttribute", "RelatedAttribute", "value1", "value2", "decay_score", "Event", "Object",
                    "AttributeTag", "Note", "Opinion", "Relationship", "data", "Correlation", "Feed",
                    "event_uuid", "object_uuid"}
_SHARED_ATTRIBUTE = {"uuid", "type", "category", "value", "to_ids", "comment", "timestamp", "object_relation",
                     "disable_correlation", "first_seen", "last_seen", "distribution", "Tag", "Galaxy"}
_LOCAL_OBJECT = {"id", "event_id", "sharing_group_id", "SharingGroup", "deleted", "Event", "Note", "Opinion",
                 "Relationship", "ObjectReferenceReverse"}
_SHARED_OBJECT = {"uuid", "name", "meta-category", "description", "template_uuid", "template_version", "comment",
                  "timestamp", "first_seen", "last_seen", "distribution", "Attribute", "ObjectReference"}
_LOCAL_REFERENCE = {"id", "object_id", "referenced_id", "referenced_type", "deleted", "event_id", "source_uuid",
                    "Attribute", "Object", "ReferencedObject", "event_uuid"}
_SHARED_REFERENCE = {"uuid", "referenced_uuid", "relationship_type", "comment", "timestamp", "object_uuid"}
_LOCAL_REPORT = {"id", "event_id", "sharing_group_id", "SharingGroup", "deleted", "Event", "Note", "Opinion",
                 "Relationship"}
_SHARED_REPORT = {"uuid", "name", "content", "timestamp", "distribution"}
_LOCAL_TAG = {"id", "exportable", "org_id", "user_id", "hide_tag", "numerical_value", "is_galaxy",
              "is_custom_galaxy", "local", "local_only", "inherited", "attribute_count", "count", "favourite",
              "relationship_type", "EventTag", "AttributeTag"}
_SHARED_TAG = {"name", "colour"}
_LOCAL_GALAXY = {"id", "enabled", "local_only", "created", "modified", "org_id", "orgc_id", "default",
                 "distribution", "Org", "Orgc"}
_SHARED_GALAXY = {"uuid", "name", "type", "description", "version", "namespace", "kill_chain_order", "icon",
                  "GalaxyCluster"}
_LOCAL_CLUSTER = {"id", "collection_uuid", "galaxy_id", "sharing_group_id", "SharingGroup", "org_id", "orgc_id",
                  "default", "locked", "extends_uuid", "extends_version", "published", "deleted", "tag_id", "local",
                  "relationship_type", "GalaxyClusterRelation", "TargetingClusterRelation", "Org", "Orgc",
                  "GalaxyElement", "Galaxy", "attribute_tag_id", "event_tag_id", "local_only", "tag_count",
                  "distribution"}
_SHARED_CLUSTER = {"uuid", "type", "value", "tag_name", "description", "source", "authors", "version", "meta"}

KNOWN = {"event": (_SHARED_EVENT, _LOCAL_EVENT), "attribute": (_SHARED_ATTRIBUTE, _LOCAL_ATTRIBUTE),
         "object": (_SHARED_OBJECT, _LOCAL_OBJECT), "object reference": (_SHARED_REFERENCE, _LOCAL_REFERENCE),
         "event report": (_SHARED_REPORT, _LOCAL_REPORT), "tag": (_SHARED_TAG, _LOCAL_TAG),
         "galaxy": (_SHARED_GALAXY, _LOCAL_GALAXY), "galaxy cluster": (_SHARED_CLUSTER, _LOCAL_CLUSTER)}


def unknown_in(kind: str, element: dict[str, Any]) -> list[str]:
    shared, local = KNOWN[kind]
    return [k for k in element if k not in shared and k not in local]


def unknown_fields(event: dict[str, Any]) -> list[str]:
    """``where.field`` of every field the sanitiser does not know, anywhere in the event (empty: all known)."""
    found = [f"event.{k}" for k in unknown_in("event", event)]

    def walk_tags(element: dict[str, Any], where: str) -> None:
        for tag in element.get("Tag") or []:
            if isinstance(tag, dict):
                found.extend(f"{where} tag.{k}" for k in unknown_in("tag", tag))

    def walk_galaxies(element: dict[str, Any], where: str) -> None:
        for galaxy in element.get("Galaxy") or []:
            if not isinstance(galaxy, dict):
                continue
            found.extend(f"{where} galaxy.{k}" for k in unknown_in("galaxy", galaxy))
            for cluster in galaxy.get("GalaxyCluster") or []:
                if isinstance(cluster, dict):
                    found.extend(f"{where} galaxy cluster.{k}" for k in unknown_in("galaxy cluster", cluster))

    def walk_attributes(attributes: Any, where: str) -> None:
        for attribute in attributes or []:
            if isinstance(attribute, dict):
                found.extend(f"{where}.{k}" for k in unknown_in("attribute", attribute))
                walk_tags(attribute, where)
                walk_galaxies(attribute, where)

    walk_tags(event, "event")
    walk_galaxies(event, "event")
    walk_attributes(event.get("Attribute"), "attribute")
    for obj in event.get("Object") or []:
        if isinstance(obj, dict):
            found.extend(f"object.{k}" for k in unknown_in("object", obj))
            walk_attributes(obj.get("Attribute"), "object attribute")
            for reference in obj.get("ObjectReference") or []:
                if isinstance(reference, dict):
                    found.extend(f"object reference.{k}" for k in unknown_in("object reference", reference))
    for report in event.get("EventReport") or []:
        if isinstance(report, dict):
            found.extend(f"event report.{k}" for k in unknown_in("event report", report))
    return sorted(set(found))


# ---- enumerations ----------------------------------------------------------------------------------------------

def _pymisp_data() -> Path:
    return Path(str(resources.files("pymisp").joinpath("data")))


@cache
def relationship_types() -> frozenset[str]:
    """Relationship types of misp-objects' ``relationships.json`` (as shipped by PyMISP)."""
    path = _pymisp_data() / "misp-objects" / "relationships" / "definition.json"
    return frozenset(v["name"] for v in json.loads(path.read_text(encoding="utf-8"))["values"])


@cache
def object_templates() -> dict[str, dict[str, Any]]:
    """Object template name -> definition (PyMISP's misp-objects and legion's own templates)."""
    templates: dict[str, dict[str, Any]] = {}
    roots = [_pymisp_data() / "misp-objects" / "objects",
             Path(str(resources.files("legion_misp").joinpath("data/objects")))]
    for root in roots:
        for path in root.glob("*/definition.json"):
            try:
                definition = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            templates[definition.get("name", path.parent.name)] = definition
    return templates


@cache
def meta_categories() -> frozenset[str]:
    return frozenset(t["meta-category"] for t in object_templates().values() if isinstance(t.get("meta-category"),
                                                                                           str))


@cache
def categories() -> frozenset[str]:
    text = resources.files("pymisp").joinpath("data/describeTypes.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["result"]["categories"])


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.fullmatch(value.strip()))


def is_epoch(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or \
        (isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12)


def is_known_relation(object_name: str, relation: Any) -> bool:
    template = object_templates().get(object_name)
    return isinstance(relation, str) and template is not None and relation in template.get("attributes", {})


ENUMERATED = {"threat_level_id": {"1", "2", "3", "4"}, "analysis": {"0", "1", "2"}}
