"""DP-SGD core and the scikit-learn-style estimator (fixed seeds for the statistical checks)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from legion_misp.learning.data import load_spambase, stratified_split
from legion_misp.learning.dpsgd import augment, dp_sgd, expit
from legion_misp.learning.estimator import DPLogisticRegression
from legion_misp.learning.preprocessing import get_preprocessor


@pytest.fixture(scope="module")
def spambase():
    splits = stratified_split(load_spambase(), rng=np.random.default_rng(3))
    prep = get_preprocessor("spambase-v1")
    return (prep.transform(splits.train.X), splits.train.y, prep.transform(splits.test.X), splits.test.y)


def test_clipping_bounds_each_example() -> None:
    # One full-batch step without noise: the mean of clipped gradients has norm <= C, so ||Δw|| <= lr·C.
    rng = np.random.default_rng(0)
    Xa = augment(rng.normal(size=(200, 5)) * 10)
    y = rng.integers(0, 2, 200).astype(float)
    w = dp_sgd(np.zeros(6), Xa, y, steps=1, sampling_rate=1.0, noise_multiplier=0.0, clip_norm=0.1,
               learning_rate=1.0, rng=rng)
    assert np.linalg.norm(w) <= 0.1 + 1e-12
    unclipped = dp_sgd(np.zeros(6), Xa, y, steps=1, sampling_rate=1.0, noise_multiplier=0.0, clip_norm=None,
                       learning_rate=1.0, rng=rng)
    assert np.linalg.norm(unclipped) > 0.5


def test_noise_has_the_calibrated_scale() -> None:
    # All-zero rows give zero gradients, so one step's update is pure noise: std = lr·z·C / (q·n).
    n, d, z, clip, q = 1000, 4000, 2.0, 0.5, 0.1
    w = dp_sgd(np.zeros(d), np.zeros((n, d)), np.zeros(n), steps=1, sampling_rate=q, noise_multiplier=z,
               clip_norm=clip, learning_rate=1.0, rng=np.random.default_rng(1))
    assert np.std(w) == pytest.approx(z * clip / (q * n), rel=0.05)
    assert abs(np.mean(w)) < 3 * z * clip / (q * n) / np.sqrt(d)


def test_expit_is_stable() -> None:
    assert expit(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]


def test_estimator_api() -> None:
    est = DPLogisticRegression(epsilon=2.0, rng=0)
    with pytest.raises(NotFittedError):
        est.predict_proba(np.zeros((1, 3)))
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(ValueError, match="binary"):
        est.fit(np.zeros((3, 2)), np.array([0, 1, 2]))


def test_estimator_learns_privately(spambase) -> None:
    X, y, X_test, y_test = spambase
    est = DPLogisticRegression(epsilon=1.0, delta=1e-5, rng=7)
    assert est.fit(X, y) is est
    assert est.coef_.shape == (1, 57) and est.intercept_.shape == (1,)
    assert list(est.classes_) == [0, 1]
    spent = est.privacy_spent_
    assert spent.epsilon <= 1.0 and spent.epsilon == pytest.approx(1.0, abs=0.01)
    assert spent.delta == 1e-5 and spent.accountant == "pld" and spent.steps == est.n_iter_
    assert est.noise_multiplier_ == spent.noise_multiplier > 0
    assert est.epsilon == 1.0  # parameters are never overwritten
    proba = est.predict_proba(X_test)
    assert proba.shape == (len(y_test), 2) and np.allclose(proba.sum(axis=1), 1)
    assert est.score(X_test, y_test) > 0.85


def test_private_model_is_noisier_than_non_private(spambase) -> None:
    X, y, X_test, y_test = spambase
    plain = DPLogisticRegression(epsilon=None, rng=0).fit(X, y)
    assert plain.privacy_spent_ is None and plain.noise_multiplier_ == 0.0
    assert plain.score(X_test, y_test) > 0.90
    a = DPLogisticRegression(epsilon=0.1, rng=1).fit(X, y)
    b = DPLogisticRegression(epsilon=0.1, rng=2).fit(X, y)
    c = DPLogisticRegression(epsilon=0.1, rng=1).fit(X, y)
    np.testing.assert_array_equal(a.coef_, c.coef_)  # same seed, same model
    assert not np.allclose(a.coef_, b.coef_)  # different noise draws
    assert a.score(X_test, y_test) < plain.score(X_test, y_test)
