"""In-process federation: DP vs non-DP, Byzantine members, privacy-ledger debits, membership inference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from legion_misp.learning.aggregators import FedAvg, MultiKrum
from legion_misp.learning.byzantine import Scaling
from legion_misp.learning.data import load_spambase, partition_iid
from legion_misp.learning.experiment import prepare_seed
from legion_misp.learning.simulation import (
    LEDGER_SCOPE,
    MemberPlan,
    Participant,
    TrainingConfig,
    attack_advantage,
    check_budget,
    plan_member,
    simulate,
)
from legion_misp.privacy.ledger import BudgetExceeded, Ledger

CONFIG = TrainingConfig(rounds=3, local_epochs=3, epsilon=3.0)


@pytest.fixture(scope="module")
def splits():
    return prepare_seed(load_spambase(), 0)


def members(splits, config: TrainingConfig, k: int, seed: int = 0, extra=None) -> list[Participant]:
    parts = partition_iid(splits.train, k, np.random.default_rng(seed))
    extra = extra or {}
    return [Participant(f"member-{i + 1}", p.X, p.y, plan_member(len(p), config), **extra.get(i, {}))
            for i, p in enumerate(parts)]


def run(splits, config, group, rule=None, seed=0):
    return simulate(group, config, rule or FedAvg(), validation=splits.validation, test=splits.test,
                    rng=np.random.default_rng(seed))


def test_dp_federation_learns_and_reports_epsilon_per_round(splits) -> None:
    result = run(splits, CONFIG, members(splits, CONFIG, 4))
    assert [r.round for r in result.rounds] == [1, 2, 3]
    epsilons = [r.epsilon for r in result.rounds]
    assert epsilons[0] < epsilons[1] < epsilons[2] <= 3.0
    assert epsilons[2] == pytest.approx(3.0, abs=0.01)
    final = result.rounds[-1].metrics
    assert final["accuracy"] > 0.88
    assert set(final) >= {"accuracy", "precision", "recall", "f1", "macro_f1", "confusion"}
    assert sum(map(sum, final["confusion"])) == len(splits.test)
    plain_config = replace(CONFIG, epsilon=None)
    plain = run(splits, plain_config, members(splits, plain_config, 4))
    assert plain.rounds[-1].epsilon is None
    assert plain.rounds[-1].metrics["accuracy"] > 0.90


def test_same_seed_same_model(splits) -> None:
    a = run(splits, CONFIG, members(splits, CONFIG, 4), seed=5)
    b = run(splits, CONFIG, members(splits, CONFIG, 4), seed=5)
    c = run(splits, CONFIG, members(splits, CONFIG, 4), seed=6)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.allclose(a.weights, c.weights)


def test_robust_rule_resists_a_scaling_member_with_dp_on(splits) -> None:
    attacked = {0: {"behaviour": Scaling(scale=50.0)}}
    mean = run(splits, CONFIG, members(splits, CONFIG, 5, extra=attacked))
    krum = run(splits, CONFIG, members(splits, CONFIG, 5, extra=attacked), rule=MultiKrum(f=1))
    assert krum.rounds[-1].metrics["accuracy"] > 0.85
    assert krum.rounds[-1].metrics["accuracy"] > mean.rounds[-1].metrics["accuracy"] + 0.03


def test_each_member_debits_its_ledger_every_round(splits, tmp_path: Path) -> None:
    ledgers = {i: {"ledger": Ledger(tmp_path / f"m{i}.sqlite", budget_epsilon=10.0)} for i in range(3)}
    group = members(splits, CONFIG, 3, extra=ledgers)
    run(splits, CONFIG, group)
    for i, member in enumerate(group):
        ledger = ledgers[i]["ledger"]
        spent_epsilon, spent_delta = ledger.spent(scope=LEDGER_SCOPE)
        assert spent_epsilon == pytest.approx(member.plan.epsilon_after(3), rel=1e-9)  # increments telescope
        assert spent_delta == pytest.approx(CONFIG.delta)  # δ once, with round 1
        entries = ledger.entries()
        assert len(entries) == 3 and all("fl-training member-" in e.what for e in entries)
        assert "round=3/3" in entries[-1].what


def test_a_run_that_would_overspend_is_refused_before_training(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "m.sqlite", budget_epsilon=2.0)
    plan = plan_member(600, CONFIG)  # 3.0 over all rounds
    with pytest.raises(BudgetExceeded):
        check_budget(ledger, plan)
    assert ledger.spent() == (0.0, 0.0)  # nothing written
    check_budget(Ledger(tmp_path / "ok.sqlite", budget_epsilon=5.0), plan)


def test_plan_serialises() -> None:
    plan = plan_member(600, CONFIG)
    assert MemberPlan.from_dict(plan.to_dict()) == plan
    assert plan.epsilon_after(0) == 0.0 and plan.epsilon_after(99) == plan.epsilon_after(3)
    assert plan_member(600, replace(CONFIG, epsilon=None)).epsilon_after(2) is None
    with pytest.raises(ValueError, match="momentum"):
        TrainingConfig(momentum=1.5)


def test_membership_inference_advantage_is_lower_with_strong_dp(splits) -> None:
    # Memorising setting: tiny members, many epochs, no regularisation; DP at ε = 0.5 should leak much less.
    small = splits.train.subset(np.arange(120))
    overfit = TrainingConfig(rounds=3, local_epochs=60, batch_size=20, learning_rate=4.0, l2=0.0, epsilon=None)
    parts = partition_iid(small, 2, np.random.default_rng(0))
    def advantage(config: TrainingConfig) -> float:
        group = [Participant(f"m{i}", p.X, p.y, plan_member(len(p), config)) for i, p in enumerate(parts)]
        result = run(splits, config, group)
        return attack_advantage(result.weights, parts, splits.test, np.random.default_rng(0))
    plain, private = advantage(overfit), advantage(replace(overfit, epsilon=0.5))
    assert 0.0 <= private < plain
