"""Server quirks handled, checked on the real servers: fractional added_after, 403 vs 404, next expiry, limit=0,
non-JSON 401; plus the retry policy and unreachable servers / wrong passwords."""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.datastore import TaxiiCollectionSource
from connectors.transport import RetryingSession, TaxiiClient, format_timestamp, parse_timestamp, rewind
from legion_misp.errors import AccessDeniedError, AuthenticationError, TransportError
from legion_misp.stores import MemoryEventStore
from tests.support.events import make_event
from tests.support.servers import free_port

from .conftest import PASSWORDS, collection_for, make_job, settings_for
from .helpers import MEDIA


def test_added_after_always_has_a_fraction_and_opentaxii_needs_it(tmp_path, opentaxii, ot_collection):
    whole = format_timestamp(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert whole == "2026-01-01T00:00:00.000000Z"
    assert rewind("2026-01-01T00:00:00Z") == "2025-12-31T23:59:59.999000Z"
    assert parse_timestamp("2026-01-01T00:00:00.123456789Z") == dt.datetime(2026, 1, 1, 0, 0, 0, 123456,
                                                                            tzinfo=dt.UTC)
    url = f"{opentaxii.info.api_root}collections/{ot_collection}/objects/"
    auth = ("orgB", PASSWORDS["orgB"])
    raw = requests.get(url, params={"added_after": "2026-01-01T00:00:00Z", "limit": 5}, auth=auth,
                       headers={"Accept": MEDIA}, timeout=30)
    assert raw.status_code == 400  # the quirk is real
    ours = requests.get(url, params={"added_after": whole, "limit": 5}, auth=auth, headers={"Accept": MEDIA},
                        timeout=30)
    assert ours.status_code == 200
    client = TaxiiClient(collection_for(opentaxii.info.api_root, ot_collection, "orgB"), settings_for(tmp_path, "x"))
    with pytest.raises(ValueError):
        client.get_page(limit=0)


def test_denied_write_is_403_on_medallion_and_404_on_opentaxii(tmp_path, medallion, opentaxii, ot_collection):
    zero = requests.get(f"{medallion.info.api_root}collections/{medallion.info.collections['shared']}/objects/",
                        params={"limit": 0}, auth=("orgB", PASSWORDS["orgB"]), headers={"Accept": MEDIA}, timeout=30)
    assert zero.status_code == 400  # limit=0 (taxii2-client's as_pages default) is refused; we never send it
    local = MemoryEventStore([make_event(1, 2)])
    # medallion: the collection says can_write false: refused before anything is sent, with the collection named
    summary = make_job(tmp_path, "orgA", medallion.info.api_root, medallion.info.collections["readonly"], local,
                       direction="push").push()
    assert not summary.ok and "may not write" in summary.reports[0].error
    # and the server's own answer, from the client without the early check, maps to AccessDeniedError
    for api_root, collection, user, status in [
            (medallion.info.api_root, medallion.info.collections["readonly"], "orgA", 403),
            (opentaxii.info.api_root, ot_collection, "orgB", 404)]:
        client = TaxiiClient(collection_for(api_root, collection, user), settings_for(tmp_path, user))
        with pytest.raises(AccessDeniedError) as caught:
            client.add_objects([b'{"type":"identity","spec_version":"2.1","id":"identity--0b9f2f61-5a0c-4b8e-9f1f-'
                                b'0c2b8d9e7a11","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00'
                                b'.000Z","name":"x"}'])
        assert caught.value.status == status
    # OpenTAXII: orgB may only read: the early check refuses too
    summary = make_job(tmp_path, "orgB", opentaxii.info.api_root, ot_collection, local, direction="push").push()
    assert not summary.ok and summary.reports[0].error


def test_next_expiry_resumes_from_cursor(tmp_path):
    """medallion with a 1 s next-token lifetime; pages processed slowly → the token dies mid-run; the run resumes
    from its cursor and still gets everything."""
    from tests.support.servers import MedallionServer

    server = MedallionServer(tmp_path / "m", users=PASSWORDS, collections={"shared": {}}, max_page_size=4,
                             session_timeout=1, check_interval=1).start()
    try:
        api_root, collection = server.info.api_root, server.info.collections["shared"]
        local_a = MemoryEventStore([make_event(i, 3) for i in range(4)])
        assert make_job(tmp_path, "orgA", api_root, collection, local_a, direction="push",
                        envelope_max_objects=9).push().ok
        import time

        calls = []

        def slow(label):  # the first page is processed slower than the token lives
            # medallion's reaper drops a session on its next tick after session_timeout (1 s), ticking every
            # check_interval (1 s): after 3 s the token is gone whatever the phase of the reaper's timer.
            return lambda n: (calls.append(n), time.sleep(3.0 if len(calls) == 1 else 0))
        local_b = MemoryEventStore()
        job = make_job(tmp_path, "orgB", api_root, collection, local_b, direction="pull", page_size=4, progress=slow)
        summary = job.pull()
        assert summary.ok, summary.format()
        assert summary.reports[0].pull.restarts >= 1
        assert {e["uuid"] for e in local_b.query()} == {e["uuid"] for e in local_a.query()}
    finally:
        server.stop()


def test_wrong_password_and_unreachable_server_keep_the_cursor(tmp_path, medallion, opentaxii, ot_collection):
    local_a = MemoryEventStore([make_event(i, 2) for i in range(2)])
    assert make_job(tmp_path, "orgA", opentaxii.info.api_root, ot_collection, local_a, direction="push").push().ok
    local_b = MemoryEventStore()
    good = make_job(tmp_path, "orgB", opentaxii.info.api_root, ot_collection, local_b, direction="pull").pull()
    cursor = good.reports[0].cursor_after
    assert cursor

    for api_root in (opentaxii.info.api_root, medallion.info.api_root):
        bad = make_job(tmp_path, "orgB", api_root, ot_collection, local_b, direction="pull",
                       password_env="TEST_TAXII_WRONG").pull()
        assert not bad.ok and bad.exit_code == 1
        assert "401" in bad.reports[0].error and "credentials" in bad.reports[0].error
        assert "not-the-password" not in bad.format()

    dead = f"http://127.0.0.1:{free_port()}/taxii2/root/"
    summary = make_job(tmp_path, "orgB", dead, ot_collection, local_b, direction="pull").pull()
    assert not summary.ok and "unreachable" in summary.reports[0].error
    again = make_job(tmp_path, "orgB", opentaxii.info.api_root, ot_collection, local_b, direction="pull").pull()
    assert again.reports[0].cursor_before == cursor  # none of the failures moved it
    with pytest.raises(AuthenticationError):
        TaxiiClient(collection_for(medallion.info.api_root, medallion.info.collections["shared"], "orgB",
                                   password_env="TEST_TAXII_WRONG"), settings_for(tmp_path, "x")).check_access()


class _Flaky:
    """A loopback HTTP server answering a scripted list of (status, headers) before 200."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

        @Request.application
        def app(request):
            self.calls += 1
            if self.script:
                status, headers = self.script.pop(0)
                return Response("busy", status=status, headers=headers)
            return Response('{"objects": [], "more": false}', content_type=MEDIA)

        self.server = make_server("127.0.0.1", free_port(), app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_retries_honour_retry_after_and_back_off_with_jitter():
    flaky = _Flaky([(503, {}), (429, {"Retry-After": "7"}), (502, {})])
    sleeps: list[float] = []
    try:
        session = RetryingSession(retries=5, backoff=0.5, backoff_max=3.0, sleep=sleeps.append,
                                  rng=random.Random(1))
        answer = session.get(flaky.url)
        assert answer.status_code == 200 and flaky.calls == 4
        assert sleeps[1] == 7.0  # Retry-After wins
        assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[2] <= 2.0  # full jitter under backoff * 2**attempt
        # retries are bounded: the last answer is returned once they are used up
        flaky.script = [(503, {})] * 5
        limited = RetryingSession(retries=2, backoff=0.01, sleep=sleeps.append)
        assert limited.get(flaky.url).status_code == 503
    finally:
        flaky.close()
    dead = RetryingSession(retries=2, backoff=0.01, sleep=sleeps.append, timeout=(1, 1))
    with pytest.raises(requests.exceptions.ConnectionError):
        dead.get(f"http://127.0.0.1:{free_port()}/")
    assert dead.attempts == 3


def test_non_advancing_next_is_stopped(tmp_path):
    """A server whose 'next' returns the same page forever: the source stops instead of looping."""
    page = ('{"objects": [{"type": "identity", "spec_version": "2.1", "id": "identity--0b9f2f61-5a0c-4b8e-9f1f-'
            '0c2b8d9e7a11", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", '
            '"name": "loop"}], "more": true, "next": "again"}')
    calls = []

    @Request.application
    def app(request):
        calls.append(request.args.get("next"))
        if len(calls) > 20:
            return Response("stop", status=500)
        return Response(page, content_type=MEDIA, headers={"X-TAXII-Date-Added-Last": "2026-01-01T00:00:00.000Z"})

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = TaxiiClient(collection_for(f"http://127.0.0.1:{server.server_port}/root/", "c1", "orgB"),
                             settings_for(tmp_path, "x"))
        source = TaxiiCollectionSource(client)
        pages = list(source.pages(lambda: None, page_size=10))
        assert len(pages) == 2 and source.stalled and len(calls) == 2
    finally:
        server.shutdown()


def test_unreachable_error_names_collection(tmp_path):
    client = TaxiiClient(collection_for(f"http://127.0.0.1:{free_port()}/root/", "c9", "orgB"),
                         settings_for(tmp_path, "x"))
    with pytest.raises(TransportError) as caught:
        client.get_page(limit=5)
    assert "c9" in str(caught.value) and "unreachable" in str(caught.value)
