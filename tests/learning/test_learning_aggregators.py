"""Aggregators under Byzantine inputs, and the Byzantine behaviours themselves."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from legion_misp.learning.aggregators import (
    AGGREGATOR_NAMES,
    CoordinateMedian,
    FedAvg,
    FLTrust,
    MultiKrum,
    NormBoundedMean,
    TrimmedMean,
    krum_scores,
    make_aggregator,
)
from legion_misp.learning.byzantine import ALIE, BEHAVIOUR_NAMES, LabelFlip, SignFlip, make_behaviour
from legion_misp.learning.dpsgd import augment

TRUE = np.array([1.0, -2.0, 0.5, 0.0])


def honest(n: int, rng: np.random.Generator) -> np.ndarray:
    return TRUE + 0.05 * rng.normal(size=(n, TRUE.size))


def test_fedavg_weights_by_examples() -> None:
    updates = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(FedAvg().aggregate(updates, np.array([3.0, 1.0])), [0.75, 0.25])


@pytest.mark.parametrize(("rule", "tolerance"), [
    (CoordinateMedian(), 0.2), (TrimmedMean(trim=1), 0.2), (MultiKrum(f=1), 0.2),
    # clipping to the median norm bounds the attacker's pull to about 2 · ||TRUE|| / n, it does not remove it
    (NormBoundedMean(), 2 * np.linalg.norm(TRUE) / 5),
])
def test_robust_rules_resist_one_huge_update(rule, tolerance: float) -> None:
    rng = np.random.default_rng(0)
    updates = np.vstack([honest(4, rng), 1e3 * np.ones(TRUE.size)])
    weights = np.ones(5)
    robust = rule.aggregate(updates, weights)
    assert np.linalg.norm(robust - TRUE) < tolerance
    assert np.linalg.norm(FedAvg().aggregate(updates, weights) - TRUE) > 100  # the mean is dragged away


def test_multikrum_drops_the_outlier() -> None:
    rng = np.random.default_rng(1)
    updates = np.vstack([honest(5, rng), -10 * TRUE])
    scores = krum_scores(updates, f=1)
    assert np.argmax(scores) == 5
    np.testing.assert_allclose(MultiKrum(f=1).aggregate(updates, np.ones(6)), updates[:5].mean(axis=0))


def test_norm_bounded_mean_clips_to_bound() -> None:
    updates = np.array([[3.0, 4.0], [0.0, 1.0]])
    out = NormBoundedMean(max_norm=1.0).aggregate(updates, np.ones(2))
    np.testing.assert_allclose(out, [(0.6 + 0.0) / 2, (0.8 + 1.0) / 2])


def test_fltrust_ignores_updates_against_the_root_direction() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(float)
    root = FLTrust(root_X=augment(X), root_y=y)
    g0 = root.root_update(np.zeros(4))
    good, bad = g0 * 2.0, -g0 * 50.0
    out = root.aggregate(np.vstack([good, bad]), np.ones(2), global_weights=np.zeros(4))
    np.testing.assert_allclose(out, g0)  # rescaled to ||g0||, the opposing update has zero trust
    with pytest.raises(ValueError, match="global weights"):
        root.aggregate(np.vstack([good]), np.ones(1))


def test_invalid_updates_name_the_member() -> None:
    updates = np.ones((3, 2))
    updates[2, 1] = np.nan
    with pytest.raises(ValueError, match="member index 2"):
        FedAvg().aggregate(updates, np.ones(3))
    with pytest.raises(ValueError, match="needs more than 2"):
        TrimmedMean(trim=1).aggregate(np.ones((2, 2)), np.ones(2))


def test_factories() -> None:
    for name in AGGREGATOR_NAMES:
        if name != "fltrust":
            assert make_aggregator(name).describe()["name"] == name
    with pytest.raises(ValueError, match="root"):
        make_aggregator("fltrust")
    with pytest.raises(ValueError, match="unknown aggregator"):
        make_aggregator("bulyan")
    for name in BEHAVIOUR_NAMES:
        assert make_behaviour(name).describe()["name"] == name
    with pytest.raises(ValueError, match="unknown behaviour"):
        make_behaviour("nice")


def test_behaviours() -> None:
    rng = np.random.default_rng(3)
    h = honest(4, rng)
    np.testing.assert_allclose(SignFlip(scale=3).poison_update(h[0], h, rng), -3 * h.mean(axis=0))
    alie = ALIE(members=5, byzantine=1)
    assert alie.z_value() == pytest.approx(NormalDist().inv_cdf(3 / 5))  # s = floor(5/2 + 1) - 1 = 2
    np.testing.assert_allclose(alie.poison_update(h[0], h, rng), h.mean(axis=0) - alie.z_value() * h.std(axis=0))
    assert LabelFlip().poison_labels(np.array([0, 1, 1])).tolist() == [1, 0, 0]
    noise = make_behaviour("gaussian").poison_update(np.zeros(10_000), h, rng)
    assert noise.std() == pytest.approx(10.0, rel=0.05)
