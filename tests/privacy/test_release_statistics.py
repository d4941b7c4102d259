"""``privacy.release_statistics``: the library call behind ``legion sanitize stats`` (ledger first, then read)."""

from __future__ import annotations

import pytest

from legion_misp.privacy import release_statistics
from legion_misp.privacy.ledger import BudgetExceeded, Ledger, open_ledger
from legion_misp.privacy.mechanisms import SeededNoise
from legion_misp.stores import MemoryEventStore

from .conftest import attribute, event

NOW = 1_800_000_000


class _CountingSource(MemoryEventStore):
    queries = 0

    def query(self, **kwargs):
        self.queries += 1
        return super().query(**kwargs)


def _source() -> _CountingSource:
    return _CountingSource([event(attribute("ip-dst", f"203.0.113.{i}"), timestamp=str(NOW - 60))
                            for i in range(50)])


def test_release_debits_then_writes_one_event(config, policy):
    source, sink, ledger = _source(), MemoryEventStore(), open_ledger(config)
    report = release_statistics(source, sink, policy, ledger=ledger, window_seconds=86400, noise=SeededNoise(3),
                                now=NOW, what="stats window 1d")
    [entry] = ledger.entries()
    assert (entry.scope, entry.epsilon, entry.what) == ("stats", report.cost.epsilon, "stats window 1d")
    assert report.ledger_entry == entry.id and report.result.events_in_window == 50
    assert [e["uuid"] for e in sink.query()] == [report.event["uuid"]]
    assert report.released == sum(len(v) for v in report.result.counts.values()) > 0
    assert report.as_dict()["event_uuid"] == report.event["uuid"] and not report.errors


def test_dry_run_reads_nothing_and_spends_nothing(config, policy):
    report = release_statistics(None, None, policy, ledger=None, window_seconds=86400, dry_run=True)
    assert report.dry_run and report.event is None and report.cost.epsilon == policy.stats_epsilon
    assert set(report.as_dict()["mechanisms"]) == {"total", "category", "type", "tag", "technique"}
    assert open_ledger(config).entries() == []


def test_a_full_budget_refuses_before_any_event_is_read(tmp_path, policy):
    source, sink = _source(), MemoryEventStore()
    ledger = Ledger(tmp_path / "small.sqlite", budget_epsilon=policy.stats_epsilon / 2)
    with pytest.raises(BudgetExceeded):
        release_statistics(source, sink, policy, ledger=ledger, window_seconds=86400, now=NOW)
    assert source.queries == 0 and len(sink) == 0 and ledger.entries() == []
