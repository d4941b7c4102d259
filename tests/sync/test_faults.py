"""Kill the server (SIGKILL by PID) mid-push and mid-pull, restart it, run again: every object present exactly once
on both sides, nothing lost."""

from __future__ import annotations

import pytest

from legion_misp.stores import MemoryEventStore
from tests.support.events import make_event

from .conftest import PASSWORDS, make_job
from .helpers import assert_each_once, normalised, server_objects


@pytest.fixture(params=["medallion", "opentaxii"])
def live(request):
    """(server, api_root, collection) of a server that can be killed and restarted with its data."""
    if request.param == "medallion":
        server = request.getfixturevalue("medallion")
        return server, server.info.api_root, server.info.collections["shared"]
    server = request.getfixturevalue("opentaxii")
    return server, server.info.api_root, request.getfixturevalue("ot_collection")


def _killer(server, after: int):
    """A progress callback that SIGKILLs the server once ``after`` units were reported."""
    seen = [0]

    def factory(label):
        def advance(n):
            seen[0] += n
            if seen[0] >= after and server.process.process.poll() is None:
                server.kill()
        return advance

    return factory


def test_kill_mid_push_then_mid_pull(tmp_path, live):
    server, api_root, collection = live
    local_a = MemoryEventStore([make_event(i, 6) for i in range(8)])
    # push: envelopes of ~1 event; the server dies after the 3rd event has been handed over
    first = make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push", envelope_max_objects=25,
                     progress=_killer(server, 3)).push()
    assert not first.ok and "unreachable" in first.reports[0].error
    assert 0 < first.totals()["events_published"] < len(local_a)
    server.restart()
    second = make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push",
                      envelope_max_objects=25).push()
    assert second.ok, second.format()
    assert first.totals()["events_published"] + second.totals()["events_published"] == len(local_a)
    stored = server_objects(api_root, collection, "orgB", PASSWORDS["orgB"])
    assert_each_once(stored)
    report_ids = {o["id"] for o in stored if o["type"] == "report"}
    assert report_ids == {f"report--{e['uuid']}" for e in local_a.query()}

    # pull: small pages; the server dies after 60 objects
    local_b = MemoryEventStore()
    broken = make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull", page_size=20,
                      progress=_killer(server, 60)).pull()
    assert not broken.ok
    cursor = broken.reports[0].cursor_after
    server.restart()
    resumed = make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull", page_size=20).pull()
    assert resumed.ok, resumed.format()
    assert resumed.reports[0].cursor_before == cursor
    assert broken.totals()["pulled"] + resumed.totals()["pulled"] >= len(stored)
    assert len(local_b) == len(local_a)
    for event in local_a.query():
        received = local_b.get(event["uuid"])
        assert received is not None and normalised(received) == normalised(event)
        values = [(a["type"], a["value"]) for a in received["Attribute"]]
        assert len(values) == len(set(values))  # nothing twice inside an event either
    assert_each_once(server_objects(api_root, collection, "orgB", PASSWORDS["orgB"]))
