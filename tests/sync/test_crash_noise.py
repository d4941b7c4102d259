"""kill -9 of a sync push between recording the noise and sending, and between the server accepting objects and the
run recording them: the re-run republishes the same noisy values, nothing is orphaned on the (real, medallion)
TAXII server, and the ledger never shows less than what left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from legion_misp.privacy.ledger import Ledger, open_ledger
from legion_misp.privacy.noise_store import DryRunBook, PersistentBook
from legion_misp.privacy.sanitizer import Sanitizer
from legion_misp.sections import load_config
from legion_misp.stix.codec import MispToStix
from legion_misp.stores import FeedStore
from tests.helpers import REPO, load_example_events
from tests.privacy.conftest import write_config

from .helpers import server_objects

PUSH_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    from connectors.job import SyncJob
    from connectors.sanitize import SanitizerHook
    from legion_misp.sections import load_config
    from legion_misp.privacy.ledger import Ledger, open_ledger
    from legion_misp.privacy.sanitizer import Sanitizer
    from legion_misp.stores import FeedStore
    from tests.sync.conftest import collection_for, settings_for

    tmp, api_root, collection, crash_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    config = load_config(tmp / "conf" / "legion.toml")

    def killer(original, after_calls):
        calls = [0]
        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            calls[0] += 1
            if calls[0] == after_calls:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return wrapped

    if crash_at == "after-noise-recorded":   # noise and its spend committed, nothing sent yet
        Ledger.commit_release = killer(Ledger.commit_release, 3)
    elif crash_at == "after-server-accepted":  # the server holds the objects, the run has not recorded them
        from connectors.datastore import TaxiiCollectionSink
        TaxiiCollectionSink.add = killer(TaxiiCollectionSink.add, 1)
    hook = SanitizerHook(Sanitizer.from_config(config), open_ledger(config))
    job = SyncJob(settings_for(tmp, "orgA", envelope_max_objects=40),
                  [collection_for(api_root, collection, "orgA", direction="push")],
                  store=FeedStore(tmp / "feed"), sanitize=hook)
    summary = job.push()
    print(summary.reports[0].push.published if summary.reports[0].push else -1)
''')


def _push(tmp_path: Path, api_root: str, collection: str, crash_at: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", PUSH_SCRIPT, str(tmp_path), api_root, collection, crash_at],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", ["after-noise-recorded", "after-server-accepted"])
def test_kill_9_mid_push_then_rerun_republishes_the_same_values_and_orphans_nothing(tmp_path: Path, medallion,
                                                                                  crash_at: str) -> None:
    config = load_config(write_config(tmp_path / "conf"))
    feed = FeedStore(tmp_path / "feed")
    for event in load_example_events():
        feed.upsert(event)
    api_root, collection = medallion.info.api_root, medallion.info.collections["shared"]

    crashed = _push(tmp_path, api_root, collection, crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    ledger = open_ledger(config)
    spent_at_crash = ledger.spent()[0]
    assert spent_at_crash > 0  # the noise that may have left was paid before it could leave
    before = {(o["id"], o.get("modified")): o for o in server_objects(api_root, collection, "orgB", "orgB-pass")}
    if crash_at == "after-server-accepted":
        assert before  # objects of the interrupted release are on the server

    rerun = _push(tmp_path, api_root, collection, "never")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert int(rerun.stdout.split()[-1]) > 0
    assert ledger.spent()[0] >= spent_at_crash  # never below: a spend is never undone

    # what the server holds is exactly what the published events convert to, with the recorded noise
    sanitizer = Sanitizer.from_config(config)
    book = PersistentBook(ledger, what="check", scope="test")
    expected: dict[tuple[str, str | None], dict] = {}
    converter = MispToStix()
    for event in feed.query():
        shared, _ = sanitizer.sanitize(event, book=book)
        if shared is not None:
            for obj in converter.convert(shared):
                data = json.loads(obj.data)
                expected[(data["id"], data.get("modified"))] = data
    assert book.fresh == 0  # every value on the server was recorded (and paid) before it left
    # the ledger holds at least what one uninterrupted release of these events costs
    fresh_ledger = Ledger(tmp_path / "empty.sqlite", budget_epsilon=100.0)
    dry = DryRunBook(fresh_ledger)
    for event in feed.query():
        sanitizer.sanitize(event, book=dry)
    assert ledger.spent()[0] >= dry.would_spend.epsilon - 1e-9 > 0
    objects = server_objects(api_root, collection, "orgB", "orgB-pass")
    held = {(o["id"], o.get("modified")) for o in objects}
    assert len(held) == len(objects)  # one content per object version
    assert held == set(expected)  # nothing orphaned, nothing missing
    for key, obj in before.items():  # what left before the crash is what the re-run republished
        assert expected[key] == obj
