"""A sanitised feed written by FeedStore (``legion sanitize --out``), subscribed to by a real MISP 2.5.1 as a local
feed and as a network feed served on 127.0.0.1, fetched, cached (hashes.csv), and fetched again after an update."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
import urllib.request

import pytest
from pymisp import MISPFeed

from legion_misp.cli import main as legion_main
from legion_misp.stores import FeedStore
from tests.helpers import EXAMPLE_EVENTS
from tests.privacy.conftest import write_config
from tests.support.misp_kit import free_port

PSEUDONYM = "member-7f3a"


@pytest.fixture(scope="module")
def shared_feed(tmp_path_factory):
    """The examples sanitised by ``legion sanitize --out`` (seeded noise): what a member shares."""
    root = tmp_path_factory.mktemp("feeds")
    config = write_config(root / "conf")
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as done:
        patch.setenv("LEGION_ALLOW_TEST_SEED", "1")  # --seed outside --dry-run: tests only
        legion_main(["--config", str(config), "sanitize", "--in", str(EXAMPLE_EVENTS), "--out",
                     str(root / "shared"), "--seed", "1"])
    assert done.value.code in (0, None)
    store = FeedStore(root / "shared", create=False)
    events = list(store.query())
    assert 10 <= len(events) < 24  # some events stay home (TLP:RED, drafts)
    return root, store


def _add_feed(misp, name: str, url: str, source: str):
    feed = MISPFeed()
    feed.name, feed.provider, feed.url = name, "legion-misp test", url
    feed.source_format, feed.input_source = "misp", source
    feed.enabled, feed.caching_enabled, feed.distribution = True, True, 3
    feed.default, feed.lookup_visible, feed.delta_merge, feed.publish, feed.override_ids = (
        False, True, False, False, False)
    added = misp.add_feed(feed, pythonify=True)
    assert not isinstance(added, dict), added
    return added


def _assert_in_misp(misp, events):
    for event in events:
        stored = misp.get_event(event["uuid"], pythonify=True)
        assert not isinstance(stored, dict), (event["uuid"], stored)
        assert stored.info == event["info"]
        assert stored.Orgc.name == PSEUDONYM  # the pseudonymised organisation, never the real name
        assert {a.uuid for a in stored.attributes} == {a["uuid"] for a in event.get("Attribute", [])}
        assert {o.uuid for o in stored.objects} == {o["uuid"] for o in event.get("Object", [])}
        assert {t.name for t in stored.tags} >= {t["name"] for t in event.get("Tag", [])}
    found = misp.search(org=PSEUDONYM, pythonify=True)
    assert "Example Energy" not in str([e.to_json() for e in found])


def _fetch(misp, feed_id):
    answer = misp.fetch_feed(feed_id)
    assert "errors" not in answer, answer


def test_local_feed_fetched_then_updated_and_cached(misp, shared_feed):
    root, store = shared_feed
    events = list(store.query())
    feed = _add_feed(misp, "legion local", str(root / "shared"), "local")
    _fetch(misp, feed.id)
    _assert_in_misp(misp, events)

    target = next(e for e in events if e.get("Attribute"))
    revised = copy.deepcopy(target)
    revised["info"] += " (update 2)"
    revised["timestamp"] = str(int(target["timestamp"]) + 60)
    revised["Attribute"].append({"uuid": "5d2e51b4-9b6e-4d57-8a3e-3c1f00000001", "type": "domain",
                                 "category": "Network activity", "value": "update2.example.net", "to_ids": True,
                                 "timestamp": revised["timestamp"], "distribution": "5"})
    store.upsert(revised)
    _fetch(misp, feed.id)
    _assert_in_misp(misp, [revised] + [e for e in events if e["uuid"] != target["uuid"]])
    assert len(misp.search(uuid=target["uuid"])) == 1

    cached = misp.cache_feed(feed.id)
    assert "errors" not in cached, cached
    hits = misp.direct_call("feeds/searchCaches", {"value": "update2.example.net"})
    assert any(str(hit.get("Feed", hit).get("id")) == str(feed.id) for hit in _cache_hits(hits)), hits


def _cache_hits(answer):
    return answer if isinstance(answer, list) else answer.get("response", []) if isinstance(answer, dict) else []


@pytest.fixture
def feed_server(shared_feed):
    root, _ = shared_feed
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/shared"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/manifest.json", timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_network_feed_over_loopback(misp, misp_fresh, shared_feed, feed_server):
    misp_fresh.reset()  # the local-feed test already imported these events
    _, store = shared_feed
    feed = _add_feed(misp, "legion network", feed_server, "network")
    _fetch(misp, feed.id)
    _assert_in_misp(misp, list(store.query()))
