"""Accountants: reference values, calibration before training, cross-check with prv-accountant."""

from __future__ import annotations

import pytest

from legion_misp.learning.accounting import calibrate_noise_multiplier, compute_epsilon, prv_epsilon
from legion_misp.learning.simulation import TrainingConfig, plan_member

DELTA = 1e-5


@pytest.mark.parametrize(("z", "q", "steps", "pld"), [
    (1.0, 1.0, 1, 4.377), (5.0, 1.0, 50, 6.573), (1.0, 0.1, 100, 7.047), (1.1, 0.01, 1000, 1.516),
])
def test_pld_matches_reference_values(z: float, q: float, steps: int, pld: float) -> None:
    eps = compute_epsilon(z, q, steps, DELTA, "pld")
    assert eps == pytest.approx(pld, rel=0.01)
    assert compute_epsilon(z, q, steps, DELTA, "rdp") >= eps  # RDP is the looser bound


@pytest.mark.parametrize(("z", "q", "steps"), [(1.0, 0.1, 100), (0.8, 0.2, 50), (6.24, 0.19, 180)])
def test_dp_accounting_and_prv_accountant_agree_within_10_percent(z: float, q: float, steps: int) -> None:
    pld = compute_epsilon(z, q, steps, DELTA, "pld")
    rdp = compute_epsilon(z, q, steps, DELTA, "rdp")
    low, estimate, high = prv_epsilon(z, q, steps, DELTA)
    assert low <= estimate <= high
    assert abs(pld - high) / high < 0.10
    assert abs(rdp - high) / high < 0.15  # RDP is a few per cent looser than PLD/PRV


@pytest.mark.parametrize("accountant", ["pld", "rdp"])
def test_calibration_meets_target_and_is_tight(accountant: str) -> None:
    q, steps, target = 0.19, 180, 1.64
    z = calibrate_noise_multiplier(target, DELTA, q, steps, accountant)
    assert compute_epsilon(z, q, steps, DELTA, accountant) <= target
    assert compute_epsilon(z * 0.98, q, steps, DELTA, accountant) > target  # not much more noise than needed


def test_paper_plan_covers_all_rounds_and_cross_checks() -> None:
    # The paper preset: one member of four holds 670 training messages; 3 rounds x 10 local epochs.
    plan = plan_member(670, TrainingConfig(epsilon=1.64, rounds=3, local_epochs=10, batch_size=128, size_bound=670))
    total_steps = plan.rounds * plan.steps_per_round
    assert total_steps == 3 * 10 * 6
    assert plan.epsilon_after(3) == pytest.approx(1.64, abs=1e-3) and plan.epsilon_after(3) <= 1.64
    assert plan.epsilon_after(1) < plan.epsilon_after(2) < plan.epsilon_after(3)
    _, _, prv_high = prv_epsilon(plan.noise_multiplier, plan.sampling_rate, total_steps, DELTA)
    assert abs(prv_high - plan.epsilon_after(3)) / plan.epsilon_after(3) < 0.10
    # The PoC's mistake: ε of one round alone is much smaller than the composed ε.
    assert plan.epsilon_after(1) < 0.6 * plan.epsilon_after(3)


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="sampling_rate"):
        compute_epsilon(1.0, 0.0, 10, DELTA)
    with pytest.raises(ValueError, match="target_epsilon"):
        calibrate_noise_multiplier(0.0, DELTA, 0.1, 10)
    with pytest.raises(ValueError, match="accountant"):
        compute_epsilon(1.0, 0.1, 10, DELTA, "moments")  # type: ignore[arg-type]
