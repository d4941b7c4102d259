"""The demo's sync stage: two organisations on the embedded TAXII server (in-process medallion)."""

from __future__ import annotations

from connectors.testing.events import make_event
from legion_misp.demo import DemoContext
from legion_misp.demo.stages import sync_stage
from legion_misp.stores import FeedStore

from .helpers import normalised


def test_demo_sync_stage(tmp_path):
    local = FeedStore(tmp_path / "feed-local")
    events = [make_event(i, 5, published=i % 2 == 0) for i in range(4)]
    with local.batch():
        for event in events:
            local.upsert(event)
    ctx = DemoContext(out_dir=tmp_path / "out", events_dir=tmp_path, echo=lambda line: None,
                      data={"local_store": local})
    result = sync_stage(ctx)
    assert result.ok, result.rows
    received = ctx.data["member_b_store"]
    assert received.path == tmp_path / "out" / "feed-member-b"
    for event in events:
        assert normalised(received.get(event["uuid"]))["attributes"] == normalised(event)["attributes"]
    assert any("stopped" in value for _, value in result.rows)
