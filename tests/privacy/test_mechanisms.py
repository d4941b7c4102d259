"""Statistics of the DP mechanisms: noise matches the stated scale, clamping and windows hold, and an empirical
audit of the count mechanism on neighbouring inputs never finds more privacy loss than claimed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from legion_misp.privacy.mechanisms import (
    BoundedTimestampPairMechanism,
    ClampedNumericMechanism,
    DiscreteLaplaceMechanism,
    PrivacyCost,
    SecureNoise,
    SeededNoise,
    SightingCountMechanism,
    ThresholdHistogramMechanism,
    geometric_tail,
    truncated_end_delta,
)


def discrete_laplace_pmf(z: np.ndarray, scale: float) -> np.ndarray:
    alpha = math.exp(-1.0 / scale)
    return (1 - alpha) / (1 + alpha) * alpha ** np.abs(z)


def chi_square_pvalue(samples: np.ndarray, scale: float, *, truncate: int | None = None) -> float:
    """Goodness of fit of integer samples to discrete Laplace(scale) (optionally truncated to ±truncate)."""
    edge = int(min(4 * scale, truncate if truncate is not None else 4 * scale))
    support = np.arange(-edge, edge + 1)
    pmf = discrete_laplace_pmf(support, scale)
    if truncate is not None:
        pmf = pmf / discrete_laplace_pmf(np.arange(-truncate, truncate + 1), scale).sum()
    expected = np.append(pmf, 1 - pmf.sum()) * len(samples)
    observed = np.append([np.sum(samples == z) for z in support], np.sum(np.abs(samples) > edge))
    keep = expected > 5
    observed = np.append(observed[keep], observed[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    if expected[-1] < 1e-9:
        observed, expected = observed[:-1], expected[:-1]
    return float(scipy_stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue)


@pytest.mark.parametrize("mechanism, value", [
    (SightingCountMechanism(epsilon=0.5), 50),
    (ClampedNumericMechanism(lower=0, upper=1000, sensitivity=3, epsilon=0.25), 500),
    (ThresholdHistogramMechanism(max_keys=4, epsilon=0.2, threshold=10, public_keys=True), 300),
])
def test_noise_matches_the_stated_scale_seeded(mechanism: DiscreteLaplaceMechanism, value: int) -> None:
    assert mechanism.scale_ == pytest.approx(mechanism.sensitivity / mechanism.epsilon)
    released = mechanism.release(np.full(40_000, value), SeededNoise(20240601))
    assert chi_square_pvalue(released - value, mechanism.scale_) > 1e-3
    assert np.mean(released) == pytest.approx(value, abs=4 * mechanism.scale_ * math.sqrt(2 / 40_000) + 0.05)


def test_secure_opendp_noise_matches_the_stated_scale() -> None:
    noise = SecureNoise()
    samples = noise.discrete_laplace(2.0, 20_000)
    assert samples.dtype == np.int64 and len(np.unique(samples)) > 10
    assert chi_square_pvalue(samples, 2.0) > 1e-6  # unseeded: a false alarm has probability < 1e-6


def test_seeded_noise_is_reproducible_and_secure_noise_is_not_labelled_as_such() -> None:
    assert np.array_equal(SeededNoise(1).discrete_laplace(3.0, 50), SeededNoise(1).discrete_laplace(3.0, 50))
    assert not SeededNoise(1).secure and "not private" in SeededNoise(1).description
    assert SecureNoise().secure and "OpenDP" in SecureNoise().description and "os.urandom" in SecureNoise().description


def test_clamping_holds_for_values_far_outside_the_bounds() -> None:
    mechanism = ClampedNumericMechanism(lower=10, upper=20, sensitivity=1, epsilon=0.1)
    released = mechanism.release(np.array([-10**9, 15, 10**12] * 2000), SeededNoise(2))
    assert released.min() >= 10 and released.max() <= 20
    assert set(np.unique(released[2::3])) > {20}  # the clamped top value is noised, not passed through


def test_sighting_counts_are_never_negative() -> None:
    released = SightingCountMechanism(epsilon=0.1).release(np.zeros(5000, dtype=np.int64), SeededNoise(3))
    assert released.min() == 0 and released.max() > 0


def test_truncated_timestamp_noise_matches_its_distribution_and_window() -> None:
    mechanism = BoundedTimestampPairMechanism(epsilon=2.0, sensitivity=10, window=15)
    samples = mechanism.truncated_noise(SeededNoise(4), 40_000)
    assert np.abs(samples).max() <= 15
    assert chi_square_pvalue(samples, mechanism.scale_, truncate=15) > 1e-3
    pairs = [mechanism.release(1_000_000, 1_000_005, SeededNoise(s)) for s in range(300)]
    assert all(first <= last for first, last in pairs)
    assert all(abs(first - 1_000_000) <= 15 + 5 and abs(last - 1_000_005) <= 15 + 5 for first, last in pairs)


def test_truncation_delta_bounds_the_exact_hockey_stick_divergence() -> None:
    """Compute the exact distributions of the truncated mechanism on neighbours x and x + Δ and check that the
    claimed (ε, δ) holds: Σ max(0, P(y|x) - e^ε P(y|x+Δ)) ≤ δ₁, for every shift up to Δ."""
    for scale, sensitivity, window in [(20.0, 10, 60), (5.0, 3, 12), (100.0, 50, 400)]:
        epsilon = sensitivity / scale
        support = np.arange(-window, window + 1)
        pmf = discrete_laplace_pmf(support, scale)
        pmf = pmf / pmf.sum()
        claimed = truncated_end_delta(scale, sensitivity, window)
        for shift in range(1, sensitivity + 1):
            at_x = dict(zip(support.tolist(), pmf, strict=True))
            at_shifted = {y + shift: p for y, p in at_x.items()}
            outputs = set(at_x) | set(at_shifted)
            exact = max(sum(max(0.0, a.get(y, 0.0) - math.exp(epsilon) * b.get(y, 0.0)) for y in outputs)
                        for a, b in ((at_x, at_shifted), (at_shifted, at_x)))
            assert exact <= claimed * (1 + 1e-9) + 1e-15
        assert claimed > 0


def clopper_pearson(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    low = 0.0 if successes == 0 else scipy_stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    high = 1.0 if successes == trials else scipy_stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    return float(low), float(high)


def empirical_epsilon_lower_bound(first: np.ndarray, second: np.ndarray, *, alpha: float = 1e-6) -> float:
    """Largest ε any threshold test {output ≥ t} (and its complement) certifies at confidence 1 - alpha."""
    best = 0.0
    thresholds = np.unique(np.concatenate([first, second]))
    tests = len(thresholds) * 4
    for t in thresholds:
        for a, b in ((first, second), (second, first)):
            for above in (True, False):
                hits_a = int(np.sum(a >= t) if above else np.sum(a < t))
                hits_b = int(np.sum(b >= t) if above else np.sum(b < t))
                low_a, _ = clopper_pearson(hits_a, len(a), alpha / tests)
                _, high_b = clopper_pearson(hits_b, len(b), alpha / tests)
                if low_a > 0 and high_b > 0:
                    best = max(best, math.log(low_a / high_b))
    return best


def test_empirical_epsilon_audit_of_the_count_mechanism_seeded() -> None:
    mechanism = SightingCountMechanism(epsilon=0.5)
    draws = 400_000
    on_d = mechanism.release(np.full(draws, 10), SeededNoise(100))
    on_neighbour = mechanism.release(np.full(draws, 11), SeededNoise(101))
    bound = empirical_epsilon_lower_bound(on_d, on_neighbour)
    assert bound <= mechanism.epsilon
    assert bound >= 0.6 * mechanism.epsilon  # the audit has the power to see a real violation


def test_empirical_epsilon_audit_of_the_count_mechanism_with_opendp_noise() -> None:
    mechanism = SightingCountMechanism(epsilon=1.0)
    draws = 40_000
    noise = SecureNoise()
    on_d = mechanism.release(np.full(draws, 10), noise)
    on_neighbour = mechanism.release(np.full(draws, 11), noise)
    assert empirical_epsilon_lower_bound(on_d, on_neighbour) <= mechanism.epsilon


def test_the_audit_catches_a_mechanism_with_too_little_noise() -> None:
    honest = SightingCountMechanism(epsilon=0.5)
    draws = 200_000
    noise = SeededNoise(7)
    too_small = honest.scale_ / 3  # what a bug dividing the scale would release
    on_d = 10 + noise.discrete_laplace(too_small, draws)
    on_neighbour = 11 + noise.discrete_laplace(too_small, draws)
    assert empirical_epsilon_lower_bound(on_d, on_neighbour) > honest.epsilon


def test_privacy_maps_come_from_opendp_and_check_at_their_target() -> None:
    for epsilon in (0.1, 0.5, 1.0, 3.0):
        mechanism = DiscreteLaplaceMechanism(sensitivity=2, epsilon=epsilon, relation="test")
        assert mechanism.check(2, PrivacyCost(epsilon, 0.0))
        assert not mechanism.check(2, PrivacyCost(epsilon * 0.9, 0.0))
        assert mechanism.privacy_map(1).epsilon == pytest.approx(epsilon / 2)
    pair = BoundedTimestampPairMechanism(epsilon=0.5, sensitivity=3600, window=4 * 86400)
    assert pair.privacy_map().epsilon == pytest.approx(0.5)
    assert 0 < pair.privacy_map().delta < 1e-9


def test_histogram_threshold_for_data_keys_meets_the_target_delta() -> None:
    for max_keys, epsilon, delta in [(4, 0.2, 5e-7), (1, 1.0, 1e-9), (8, 0.05, 1e-6)]:
        threshold = ThresholdHistogramMechanism.threshold_for(max_keys=max_keys, epsilon=epsilon, delta=delta)
        mechanism = ThresholdHistogramMechanism(max_keys=max_keys, epsilon=epsilon, threshold=threshold,
                                                public_keys=False)
        assert mechanism.privacy_map().delta <= delta
        looser = max_keys * geometric_tail(mechanism.scale_, threshold - 2)
        assert looser > delta  # one lower would not do: the threshold is the smallest that works


def test_histogram_suppresses_small_noisy_counts() -> None:
    mechanism = ThresholdHistogramMechanism(max_keys=1, epsilon=1.0, threshold=20, public_keys=True)
    released = mechanism.release_counts({"big": 500, "small": 1, "zero": 0}, SeededNoise(9))
    assert set(released) == {"big"} and abs(released["big"] - 500) < 30
