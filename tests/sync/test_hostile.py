"""Hostile input from a peer: quarantined with a reason, no crash, the rest of the page processed."""

from __future__ import annotations

import copy
import json
import threading

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.state import SyncState
from legion_misp.stores import MemoryEventStore
from tests.support.servers import free_port

from .conftest import PASSWORDS, load_fixture, make_job, settings_for
from .helpers import MEDIA, post_raw


def _indicator(suffix: str, **changes) -> dict:
    obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e{suffix}",
           "created": "2026-11-20T12:00:00.000Z", "modified": "2026-11-20T12:00:00.000Z", "name": f"ind {suffix}",
           "pattern": "[ipv4-addr:value = '203.0.113.9']", "pattern_type": "stix",
           "valid_from": "2026-11-20T12:00:00Z"}
    obj.update(changes)
    return obj


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_hostile_objects_through_medallion_are_quarantined(tmp_path, medallion):
    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]
    good = load_fixture("oasis/indicators-for-C2-with-COA.json")["objects"]
    hostile = [
        _indicator("0001", spec_version="2.0"),
        _indicator("0002", description="A" * (3 * 1024 * 1024)),
        _indicator("0003", x_deep=_nested(200)),
        _indicator("0004", pattern="[ipv4-addr:value = '1.2.3.4'"),      # invalid pattern
        {"type": "indicator", "id": "not-an-id", "spec_version": "2.1"},   # malformed id
    ]
    mixed = good[:4] + hostile + good[4:]
    answer = post_raw(api_root, collection, "orgC", PASSWORDS["orgC"], mixed)
    assert answer.status_code == 202, answer.text  # medallion does no STIX validation: it stored all of it

    local_b = MemoryEventStore()
    summary = make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull", page_size=5,
                       max_object_bytes=1024 * 1024).pull()
    assert summary.reports[0].error is None
    assert summary.totals()["pulled"] == len(mixed)
    assert summary.totals()["quarantined"] == len(hostile)
    assert summary.exit_code == 1  # items were refused: the admin hears about it
    with SyncState(settings_for(tmp_path, "orgB").state_path) as state:
        reasons = {e.stix_id: e.reason for e in state.quarantined()}
    assert "spec_version '2.0' is not 2.1" in reasons[hostile[0]["id"]]
    assert "larger than" in reasons[hostile[1]["id"]]
    assert "nested deeper" in reasons[hostile[2]["id"]]
    assert "pattern" in reasons[hostile[3]["id"]].lower()
    assert "malformed" in reasons["not-an-id"]
    # the good objects around them were converted: their indicators' values are in the store
    assert len(local_b) == 1
    values = {a["value"] for e in local_b.query() for a in e.get("Attribute", [])}
    values |= {a["value"] for e in local_b.query() for o in e.get("Object", []) for a in o.get("Attribute", [])}
    assert values, "nothing of the valid content survived"


class _HostilePeer:
    """A TAXII-looking server whose first page mixes good objects with duplicates of conflicting content and
    non-objects, and whose second page is not JSON."""

    def __init__(self, first_page: list):
        self.first_page = first_page

        @Request.application
        def app(request: Request) -> Response:
            if request.path.endswith("/collections/c1/"):
                return Response(json.dumps({"id": "c1", "title": "hostile", "can_read": True, "can_write": False,
                                            "media_types": ["application/stix+json;version=2.1"]}),
                                content_type=MEDIA)
            if request.args.get("next") == "p2":
                return Response(b'{"objects": [{"type": "indicator", "id": ', content_type=MEDIA,
                                headers={"X-TAXII-Date-Added-Last": "2026-11-21T00:00:00.000Z"})
            return Response(json.dumps({"objects": self.first_page, "more": True, "next": "p2"}), content_type=MEDIA,
                            headers={"X-TAXII-Date-Added-First": "2026-11-20T00:00:00.000Z",
                                     "X-TAXII-Date-Added-Last": "2026-11-20T12:00:00.000Z"})

        self.server = make_server("127.0.0.1", free_port(), app, threaded=True)
        self.api_root = f"http://127.0.0.1:{self.server.server_port}/root/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_hostile_pages_duplicates_and_invalid_json(tmp_path):
    good = load_fixture("generated/small_bundle_stix21.json")["objects"]
    indicator = next(o for o in good if o["type"] == "indicator")
    conflicting = copy.deepcopy(indicator)
    conflicting["pattern"] = "[ipv4-addr:value = '192.0.2.66']"  # same id and modified, other content
    page = ["just a string", 42, None, *good, conflicting, copy.deepcopy(indicator)]
    peer = _HostilePeer(page)
    try:
        local_b = MemoryEventStore()
        summary = make_job(tmp_path, "orgB", peer.api_root, "c1", local_b, direction="pull").pull()
    finally:
        peer.close()
    report = summary.reports[0]
    assert not summary.ok and "not valid JSON" in report.error
    assert report.pull.pulled == len(page)
    assert report.pull.duplicates == 1  # the identical copy
    assert report.cursor_after == "2026-11-20T12:00:00.000Z"  # past page 1 (processed), not past page 2
    with SyncState(settings_for(tmp_path, "orgB").state_path) as state:
        entries = state.quarantined()
        kept = state.staged_objects(report.key, [indicator["id"]])[indicator["id"]]
    assert kept["pattern"] == indicator["pattern"]  # the first copy is kept, the conflicting one refused
    reasons = [e.reason for e in entries]
    assert sum("not a JSON object" in r for r in reasons) == 3
    assert any("conflicting content" in r for r in reasons)
    assert any(r.startswith("page refused") for r in reasons)
    page_entry = next(e for e in entries if e.reason.startswith("page refused"))
    assert page_entry.payload.startswith('{"objects"')
    assert len(local_b) == 0  # objects without a container wait for a run that reaches the end of the pages
