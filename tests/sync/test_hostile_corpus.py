"""The hostile corpus (tests/hostile/corpus.py) posted to real TAXII servers by a compromised member and pulled:
every object the server kept ends converted with its meaning, or quarantined with its code; none is lost without
a record; the neighbours of hostile objects are converted (one bad object never stops a run); a second run that
only re-sees quarantined objects is not a failure."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from connectors.state import SyncState
from legion_misp.stix.validate import loads_untrusted
from legion_misp.stores import MemoryEventStore
from tests.hostile.accounting import check_case, pairs, uuids
from tests.hostile.corpus import corpus

from .conftest import PASSWORDS, make_job, settings_for
from .helpers import MEDIA, post_raw

pytestmark = pytest.mark.slow


# Cases that break medallion 3.0.0 itself: it stores them, then answers every GET of the collection with a 500
# (items that are not objects; an impossible date such as month 13). A server-side denial of service that a
# member can cause: the pull reports that collection's error and goes on with the others
# (test_a_poisoned_collection_does_not_stop_the_others); the werkzeug peer of test_hostile.py and the import module
# get these items.
MEDALLION_BREAKERS = frozenset({"json-not-objects", "time-month-13"})


def _post_bundles(api_root: str, collection: str, *, one_by_one: bool, skip: frozenset[str] = frozenset()) -> None:
    for case in corpus():
        if case.name in skip:
            continue
        objects = [o for o in case.objects if isinstance(o, dict)]
        parts = [[o] for o in objects] if one_by_one else [objects]
        for objects in parts:
            post_raw(api_root, collection, "orgC", PASSWORDS["orgC"], [], body=case.envelope(objects))


def _served_ids(api_root: str, collection: str) -> set[str]:
    """Ids of what the server kept (read with a parser that accepts NaN and huge numbers, as the pull's does)."""
    url, ids = f"{api_root}collections/{collection}/objects/", set()
    params: dict = {"limit": 1000}
    while True:
        answer = requests.get(url, params=params, auth=("orgC", PASSWORDS["orgC"]), headers={"Accept": MEDIA},
                              timeout=60)
        answer.raise_for_status()
        body = loads_untrusted(answer.content)
        ids |= {o["id"] for o in body.get("objects", []) if isinstance(o, dict) and isinstance(o.get("id"), str)}
        if not body.get("more") or not body.get("next"):
            return ids
        params = {"limit": 1000, "next": body["next"]}


def _pull_and_account(tmp_path, api_root: str, collection: str) -> tuple[list[str], dict, object, object]:
    served = _served_ids(api_root, collection)
    store = MemoryEventStore()
    first = make_job(tmp_path, "orgB", api_root, collection, store, direction="pull", page_size=50).pull()
    again = make_job(tmp_path, "orgB", api_root, collection, store, direction="pull", page_size=50).pull()
    with SyncState(settings_for(tmp_path, "orgB").state_path) as state:
        entries = state.quarantined()
    refused_ids = {e.stix_id: e.code for e in entries if e.stix_id}
    codes = Counter(e.code for e in entries)
    events = list(store.query())
    problems, converted, made = [], pairs(events), uuids(events)
    for case in corpus():
        problems += check_case(case, refused=codes, refused_ids=refused_ids, converted=converted, made=made,
                               served=served)
    return problems, {"served": len(served), "quarantined": len(entries), "codes": codes}, first, again


def _assert_outcome(problems, figures, first, again):
    assert first.reports[0].error is None, first.format()
    assert not problems, first.format() + "\n" + "\n".join(problems)
    assert figures["served"] >= 60 and figures["quarantined"] >= 20, figures
    assert first.exit_code == 1  # new quarantine entries: the admin hears about them
    assert again.exit_code == 0 and again.totals()["quarantined"] == 0, again.format()


def test_hostile_corpus_pulled_from_medallion(tmp_path, medallion):
    """medallion stores what it can parse without validating it (NaN included; a 5,000-digit integer makes it
    refuse the whole POST): the hostile objects reach the pull, which must sort them."""
    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]
    _post_bundles(api_root, collection, one_by_one=False, skip=MEDALLION_BREAKERS)
    problems, figures, first, again = _pull_and_account(tmp_path, api_root, collection)
    _assert_outcome(problems, figures, first, again)
    assert figures["codes"]["unsupported-pattern"] >= 14 and figures["codes"]["control-character"] >= 3


def test_hostile_corpus_pulled_from_opentaxii(tmp_path, opentaxii):
    """OpenTAXII parses every object with stix2 and refuses what it cannot (posted one by one, so one refusal
    does not take the neighbours with it); what it keeps — meaning-changing patterns, python pattern_type, huge
    and deceptive values — reaches the pull."""
    api_root, collection = opentaxii.info.api_root, opentaxii.info.collections["hostile"]
    _post_bundles(api_root, collection, one_by_one=True)
    problems, figures, first, again = _pull_and_account(tmp_path, api_root, collection)
    _assert_outcome(problems, figures, first, again)
    assert figures["codes"]["unsupported-pattern"] >= 10


def test_a_poisoned_collection_does_not_stop_the_others(tmp_path):
    """A member poisons one medallion collection (an object dated month 13: every GET then fails with a 500); the
    job reports that collection's error, exit 1, and still pulls the other collection."""
    from tests.support.servers import MedallionServer

    from .conftest import collection_for

    server = MedallionServer(tmp_path / "medallion", users=PASSWORDS, collections={"poisoned": {}, "healthy": {}},
                             max_page_size=5, session_timeout=30)
    server.start()
    try:
        api_root = server.info.api_root
        poisoned, healthy = server.info.collections["poisoned"], server.info.collections["healthy"]
        bad = next(c for c in corpus() if c.name == "time-month-13")
        good = next(c for c in corpus() if c.name == "value-domain-253")
        post_raw(api_root, poisoned, "orgC", PASSWORDS["orgC"], [], body=bad.envelope())
        post_raw(api_root, healthy, "orgC", PASSWORDS["orgC"], [], body=good.envelope())
        store = MemoryEventStore()
        job = make_job(tmp_path, "orgB", api_root, poisoned, store, direction="pull")
        job.collections.append(collection_for(api_root, healthy, "orgB", direction="pull"))
        summary = job.pull()
    finally:
        server.stop()
    first, second = summary.reports
    assert first.error and poisoned in first.error, summary.format()
    assert second.error is None and second.pull.pulled == len(good.objects), summary.format()
    assert ("domain", good.expected[good.objects[0]["id"]][2]) in pairs(store.query())
    assert summary.exit_code == 1


def test_an_unexpected_exception_in_one_collection_does_not_stop_the_others(tmp_path, medallion, monkeypatch):
    """Not a SyncError: a bug or a library failure while pulling one collection. It is that collection's error;
    the job still pulls the next one."""
    from connectors.pull import Puller

    from .conftest import collection_for

    api_root = medallion.info.api_root
    broken, other = medallion.info.collections["shared"], medallion.info.collections["readonly"]
    real_pull = Puller.pull

    def pull(self):
        if self.key.endswith(broken):
            raise RuntimeError("a library failed")
        return real_pull(self)

    monkeypatch.setattr(Puller, "pull", pull)
    job = make_job(tmp_path, "orgB", api_root, broken, MemoryEventStore(), direction="pull")
    job.collections.append(collection_for(api_root, other, "orgB", direction="pull"))
    summary = job.pull()
    first, second = summary.reports
    assert first.error == "unexpected failure: RuntimeError: a library failed"
    assert second.error is None and second.pull is not None
    assert summary.exit_code == 1
