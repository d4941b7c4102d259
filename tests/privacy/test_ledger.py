"""The privacy ledger: overspend refused, kill -9 mid-release leaves it at or above what was released, and
concurrent processes never overspend together."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from legion_misp.privacy.ledger import BudgetExceeded, Ledger, open_ledger
from legion_misp.privacy.release import BATCH_EVENTS
from legion_misp.sections import load_config
from legion_misp.stores import FeedStore

from .conftest import attribute, event, write_config, write_feed

REPO = Path(__file__).resolve().parents[2]
RELEASE_EPSILON = 1.0  # default policy, events without first_seen/last_seen: one sighting-tree block charge


def legion(config_path: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "legion_misp", "--config", str(config_path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def event_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.json") if p.name != "manifest.json"] if folder.exists() else []


def test_overspend_is_refused_and_records_nothing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=1.0)
    ledger.spend(epsilon=0.75, what="first")
    with pytest.raises(BudgetExceeded, match=r"only 0\.25"):
        ledger.spend(epsilon=0.5, what="second")
    assert [e.what for e in ledger.entries()] == ["first"]
    ledger.spend(epsilon=0.25, what="exactly the rest")
    assert ledger.remaining()[0] == pytest.approx(0.0)


def test_spends_leave_the_window(tmp_path: Path) -> None:
    now = [1_000_000.0]
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=1.0, window_days=30, clock=lambda: now[0])
    ledger.spend(epsilon=1.0, what="old")
    with pytest.raises(BudgetExceeded):
        ledger.check(0.1)
    now[0] += 30 * 86400 + 1
    ledger.check(1.0)
    assert ledger.spent() == (0.0, 0.0)


def test_cli_refuses_an_overspending_release_before_writing(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "conf", budget=0.5)
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", "a.example.net"))])
    process = legion(config_path, "sanitize", "--in", str(feed), "--out", str(tmp_path / "out"))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "privacy budget exceeded" in stderr and "nothing was released" in stderr
    assert event_files(tmp_path / "out") == []
    assert open_ledger(load_config(config_path)).entries() == []


def test_kill_9_mid_release_then_restart_never_leaves_the_ledger_below_what_was_released(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "conf")
    total = BATCH_EVENTS + 12  # one batch is recorded and written before the release blocks on the last event
    events = [event(attribute("ip-dst", f"203.0.113.{i % 250}"), timestamp=str(1_700_000_000 + i))
              for i in range(total)]
    feed = write_feed(tmp_path / "feed", events)
    blocker = feed / f"{events[-1]['uuid']}.json"  # the last event in manifest order
    saved = blocker.read_bytes()
    blocker.unlink()
    os.mkfifo(blocker)  # reading it blocks: the release stops mid-way, after a batch of events is written
    out_dir = tmp_path / "out"
    process = legion(config_path, "sanitize", "--in", str(feed), "--out", str(out_dir))
    deadline = time.monotonic() + 120
    while len(event_files(out_dir)) < BATCH_EVENTS and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    time.sleep(0.5)  # the process is blocked on the last event's file
    released = event_files(out_dir)
    assert len(released) == BATCH_EVENTS
    for path in released:  # every released file is complete
        assert json.loads(path.read_text(encoding="utf-8"))["Event"]["uuid"] == path.stem
    assert not list(out_dir.glob(".*.tmp"))
    ledger = open_ledger(load_config(config_path))
    assert ledger.spent()[0] >= RELEASE_EPSILON - 1e-9

    before = {path.name: path.read_bytes() for path in released}
    blocker.unlink()
    blocker.write_bytes(saved)
    restart = legion(config_path, "sanitize", "--in", str(feed), "--out", str(out_dir))
    _, stderr = restart.communicate(timeout=120)
    assert restart.returncode == 0, stderr
    assert len(event_files(out_dir)) == total
    assert FeedStore(out_dir).check() == []
    # the re-run republishes the recorded noise: the written files are byte-identical and nothing more is spent
    assert {name: (out_dir / name).read_bytes() for name in before} == before
    assert ledger.spent()[0] == pytest.approx(RELEASE_EPSILON)
    assert len(ledger.entries()) == 1


def _spend_many(path: str, start: multiprocessing.Event, results: multiprocessing.Queue) -> None:
    ledger = Ledger(path, budget_epsilon=3.0)
    start.wait()
    granted = 0
    for _ in range(25):
        try:
            ledger.spend(epsilon=0.1, what=f"pid {os.getpid()}")
            granted += 1
        except BudgetExceeded:
            pass
    results.put(granted)


def test_concurrent_processes_stay_within_the_budget(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    Ledger(path, budget_epsilon=3.0)
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_spend_many, args=(path, start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    granted = sum(results.get(timeout=10) for _ in workers)
    spent = Ledger(path, budget_epsilon=3.0).spent()[0]
    assert granted == 30  # 100 attempts of 0.1 against 3.0: exactly 30 fit
    assert spent == pytest.approx(3.0) and spent <= 3.0 + 1e-9


def test_two_concurrent_releases_of_the_same_data_share_one_noise_and_pay_once(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "conf", budget=1.5 * RELEASE_EPSILON)
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", f"d{i}.example.net")) for i in range(5)])
    runs = [legion(config_path, "sanitize", "--in", str(feed), "--out", str(tmp_path / f"out{i}")) for i in (1, 2)]
    outcomes = [(run.wait(timeout=180), run.communicate()[1]) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    first, second = ({p.name: p.read_bytes() for p in event_files(tmp_path / f"out{i}")} for i in (1, 2))
    assert len(first) == 5 and first == second  # the loser of the race republished the winner's noise
    assert open_ledger(load_config(config_path)).spent()[0] == pytest.approx(RELEASE_EPSILON)


def test_a_second_overlapping_release_is_refused_only_for_its_fresh_noise(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "conf", budget=RELEASE_EPSILON)
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", "a.example.net"))])
    assert legion(config_path, "sanitize", "--in", str(feed), "--out", str(tmp_path / "out")).wait(120) == 0
    timed = event(attribute("domain", "b.example.net", first_seen="2024-01-01T00:00:00+00:00"))
    FeedStore(feed).upsert(timed)
    process = legion(config_path, "sanitize", "--in", str(feed), "--out", str(tmp_path / "out"))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "privacy budget exceeded" in stderr
    assert not (tmp_path / "out" / f"{timed['uuid']}.json").exists()
    assert open_ledger(load_config(config_path)).spent()[0] == pytest.approx(RELEASE_EPSILON)


def test_the_ledger_clock_only_moves_forward(tmp_path: Path) -> None:
    from legion_misp.privacy.ledger import Charge, LedgerClockError

    now = [2_000_000.0]
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=1.0, window_days=30, clock=lambda: now[0])
    ledger.spend(epsilon=1.0, what="spent at t")
    now[0] -= 31 * 86400  # the clock set back past the window would reopen the whole budget
    with pytest.raises(LedgerClockError, match="only moves forward"):
        ledger.spend(epsilon=0.5, what="replayed")
    with pytest.raises(LedgerClockError):
        ledger.commit_release(charges=[Charge("time", 0.5)], rows=[], what="noise", scope="t")
    assert [e.what for e in ledger.entries()] == ["spent at t"]
    now[0] += 62 * 86400
    ledger.spend(epsilon=1.0, what="a month later")
    assert ledger.high_water_mark() == now[0]


def test_budget_show_says_when_each_amount_comes_back(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=3.0, window_days=30, clock=lambda: now[0])
    ledger.spend(epsilon=1.0, what="first")
    now[0] += 10 * 86400
    ledger.spend(epsilon=0.5, delta=1e-9, what="second")
    assert ledger.comes_back() == [(1_800_000_000.0 + 30 * 86400, 1.0, 0.0),
                                   (1_800_000_000.0 + 40 * 86400, 0.5, 1e-9)]
    now[0] += 20 * 86400 + 1  # the first spend has left the window
    assert ledger.comes_back() == [(1_800_000_000.0 + 40 * 86400, 0.5, 1e-9)]
    assert ledger.remaining()[0] == pytest.approx(2.5)


def test_cli_budget_show_covers_the_noise_store_and_comes_back(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "conf")
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", "a.example.net",
                                                          first_seen="2024-01-01T00:00:00+00:00"))])
    assert legion(config_path, "sanitize", "--in", str(feed), "--out", str(tmp_path / "out")).wait(120) == 0
    shown = legion(config_path, "budget", "show")
    stdout, _ = shown.communicate(timeout=120)
    assert shown.returncode == 0
    assert "comes back" in stdout and "noise store" in stdout and "sighting-node" in stdout and "time" in stdout
    as_json = legion(config_path, "budget", "show", "--json")
    document = json.loads(as_json.communicate(timeout=120)[0])
    assert document["noise_store"]["kinds"]["time"]["values"] == 1
    assert document["comes_back"][0]["epsilon"] == pytest.approx(document["spent_epsilon"])


# ---- noise store keys and look-ups ---------------------------------------------------------------------------------

def _request(identity: str, value: int, draws: list[int]):
    from legion_misp.privacy.ledger import Charge
    from legion_misp.privacy.noise_store import NoiseRequest

    def draw(v: int) -> int:
        draws.append(v)
        return v + 1000 + len(draws)
    return NoiseRequest(kind="numeric:counter", identity=identity, value=value, draw=draw,
                        charge=Charge("clamped-numeric", 0.25), epsilon=0.25)


def test_datum_tags_stay_the_documented_hmacs(tmp_path: Path) -> None:
    """A store written by an earlier version must keep matching: the tags are HMAC-SHA256 under the store key of
    'd\\0kind\\0identity' and 'v\\0kind\\0identity\\0value', in hex."""
    import hashlib
    import hmac

    from legion_misp.privacy.noise_store import PersistentBook

    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=10.0)
    book = PersistentBook(ledger, what="t", scope="t")
    key = ledger.store_key()
    datum, value = book._tags(_request("attr-1", 42, []))
    assert datum == hmac.new(key, b"d\x00numeric:counter\x00attr-1", hashlib.sha256).hexdigest()
    assert value == hmac.new(key, b"v\x00numeric:counter\x00attr-1\x0042", hashlib.sha256).hexdigest()


def test_a_deferred_book_sees_noise_another_process_recorded_after_its_first_look_up(tmp_path: Path) -> None:
    """The deferred book keeps one read connection between flushes; each look-up still sees what was committed
    by then, so a datum another release recorded meanwhile is republished, not drawn again."""
    from legion_misp.privacy.noise_store import PersistentBook

    path = tmp_path / "l.sqlite"
    deferred = PersistentBook(Ledger(path, budget_epsilon=10.0), what="a", scope="a", defer=True)
    draws: list[int] = []
    deferred.resolve([_request("first", 1, draws)])  # opens the read connection
    other = PersistentBook(Ledger(path, budget_epsilon=10.0), what="b", scope="b")
    recorded = other.resolve([_request("shared", 7, [])]).values[0]
    assert deferred.resolve([_request("shared", 7, draws)]).values == [recorded]
    assert draws == [1]  # only "first" was drawn by the deferred book
    assert not deferred.flush()
    deferred.close()
