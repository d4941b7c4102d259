"""Assertions shared by the sync tests."""

from __future__ import annotations

from collections import Counter

import requests

from tests.support.events import attribute_values

MEDIA = "application/taxii+json;version=2.1"


def normalised(event: dict) -> dict:
    """What must survive MISP → STIX → MISP: uuid, info, attribute (type, value) pairs, the original tags."""
    return {"uuid": event["uuid"], "info": event.get("info"), "attributes": attribute_values(event),
            "tags": {t["name"] for t in event.get("Tag", [])} - {"Threat-Report", 'misp:tool="MISP-STIX-Converter"'}
            - {t for t in (x["name"] for x in event.get("Tag", [])) if t.startswith(("legion:peer=",
                                                                                       "misp-galaxy:producer="))}}


def server_objects(api_root: str, collection: str, user: str, password: str) -> list[dict]:
    """Every version of every object in a collection, read with plain requests (limit > 0, next followed)."""
    url = f"{api_root}collections/{collection}/objects/"
    out: list[dict] = []
    params = {"limit": 1000, "match[version]": "all"}
    while True:
        answer = requests.get(url, params=params, auth=(user, password), headers={"Accept": MEDIA}, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        out.extend(body.get("objects", []))
        if not body.get("more") or not body.get("next"):
            return out
        params = {"limit": 1000, "match[version]": "all", "next": body["next"]}


def assert_each_once(objects: list[dict]) -> None:
    counts = Counter((o["id"], o.get("modified")) for o in objects)
    duplicated = {k: v for k, v in counts.items() if v > 1}
    assert not duplicated, f"objects stored more than once: {list(duplicated)[:5]}"


def post_raw(api_root: str, collection: str, user: str, password: str, objects: list, *, body: bytes | None = None
             ) -> requests.Response:
    return requests.post(f"{api_root}collections/{collection}/objects/",
                         data=body if body is not None else __import__("json").dumps({"objects": objects}),
                         auth=(user, password), headers={"Accept": MEDIA, "Content-Type": MEDIA}, timeout=60)
