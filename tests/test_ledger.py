"""Ledger basics: windowed budget, refusal before debit, persistence across instances."""

from __future__ import annotations

import pytest

from legion_misp.privacy.ledger import BudgetExceeded, Ledger


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_spend_within_budget_then_refuse_without_debit(tmp_path):
    clock = FakeClock()
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=1.0, budget_delta=1e-5, clock=clock)
    ledger.spend(epsilon=0.6, delta=5e-6, what="release 1")
    with pytest.raises(BudgetExceeded, match=r"only 0\.4"):
        ledger.spend(epsilon=0.5, what="release 2")
    with pytest.raises(BudgetExceeded, match="δ"):
        ledger.check(0.1, 6e-6)
    assert ledger.spent() == pytest.approx((0.6, 5e-6))
    assert [e.what for e in ledger.entries()] == ["release 1"]


def test_window_slides_and_state_persists(tmp_path):
    clock = FakeClock()
    path = tmp_path / "l.sqlite"
    Ledger(path, budget_epsilon=1.0, window_days=30, clock=clock).spend(epsilon=1.0, what="old", scope="sanitize")
    clock.now += 31 * 86400
    reopened = Ledger(path, budget_epsilon=1.0, window_days=30, clock=clock)
    assert reopened.spent() == (0.0, 0.0) and reopened.remaining()[0] == 1.0
    reopened.spend(epsilon=0.25, what="new", scope="learning")
    assert reopened.spent(scope="learning")[0] == 0.25 and reopened.spent(scope="sanitize")[0] == 0.0
    assert len(reopened.entries()) == 2 and len(reopened.entries(within_window=True)) == 1


@pytest.mark.parametrize("epsilon, delta", [(-0.1, 0.0), (float("nan"), 0.0), (float("inf"), 0.0), (0.1, 1.0)])
def test_invalid_costs_are_rejected(tmp_path, epsilon, delta):
    ledger = Ledger(tmp_path / "l.sqlite", budget_epsilon=1.0)
    with pytest.raises(ValueError):
        ledger.spend(epsilon=epsilon, delta=delta, what="bad")
    assert ledger.entries() == []
