"""Scikit-learn-style estimator: logistic regression trained centrally by DP-SGD (record-level DP).

Privacy
-------
Unit: one training row (add/remove). Sensitivity: ``clip_norm`` per example. Noise ``N(0, (z·clip_norm)²)`` on
the clipped gradient sum of each Poisson-sampled step; ``z`` is calibrated before training so that all steps
together meet (``epsilon``, ``delta``) under the chosen ``dp-accounting`` accountant (PLD by default).
Hyper-parameter choices made on validation data are not covered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .accounting import Accountant, DPSGDAccounting, calibrate_noise_multiplier
from .dpsgd import augment, dp_sgd, expit


@dataclass(frozen=True)
class PrivacySpent:
    """(ε, δ) spent by a DP-SGD run, with what produced it.

    Attributes
    ----------
    epsilon, delta : float
    accountant : str
        ``"pld"`` or ``"rdp"`` (``dp-accounting``).
    noise_multiplier, sampling_rate : float
    steps : int
        Steps composed.
    """

    epsilon: float
    delta: float
    accountant: str
    noise_multiplier: float
    sampling_rate: float
    steps: int


class DPLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression trained by DP-SGD (record-level differential privacy).

    Parameters
    ----------
    epsilon : float or None, default=1.0
        Target ε over the whole training run. ``None`` trains without DP (no clipping, no noise).
    delta : float, default=1e-5
        Target δ.
    clip_norm : float, default=0.5
        ``C``: L2 bound on each per-example gradient (the sensitivity of the gradient sum).
    batch_size : int, default=128
        Expected batch size ``b``; the sampling rate is ``q = min(1, b / n)``.
    epochs : int, default=10
        Number of passes; steps = ``epochs · ceil(n / b)``.
    learning_rate : float, default=2.0
    momentum : float, default=0.9
    l2 : float, default=1e-4
        L2 penalty on the weights.
    accountant : {"pld", "rdp"}, default="pld"
    rng : None, int or numpy.random.Generator, default=None
        Source of sampling and noise; ``None`` seeds from the operating system.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    noise_multiplier_ : float
        ``z`` calibrated before training (0.0 without DP).
    privacy_spent_ : PrivacySpent or None
        ε, δ over all steps (``None`` without DP).
    n_iter_ : int
        Steps run.

    Privacy
    -------
    Unit: one training row. Sensitivity: ``clip_norm``. ε, δ as targeted, over all steps, from ``accountant``
    (``dp-accounting``). Hyper-parameter choices made on validation data are not covered.
    """

    def __init__(
        self,
        *,
        epsilon: float | None = 1.0,
        delta: float = 1e-5,
        clip_norm: float = 0.5,
        batch_size: int = 128,
        epochs: int = 10,
        learning_rate: float = 2.0,
        momentum: float = 0.9,
        l2: float = 1e-4,
        accountant: Accountant = "pld",
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.l2 = l2
        self.accountant = accountant
        self.rng = rng

    def fit(self, X: np.ndarray, y: np.ndarray) -> DPLogisticRegression:
        """Calibrate the noise to (``epsilon``, ``delta``) for all steps, then train. Returns ``self``.

        Raises
        ------
        ValueError
            If ``y`` does not have exactly two classes or a parameter is out of range.
        """
        X = np.asarray(X, dtype=float)
        classes, y01 = np.unique(np.asarray(y), return_inverse=True)
        if len(classes) != 2:
            raise ValueError(f"DPLogisticRegression is binary; got {len(classes)} classes")
        n = len(y01)
        rate = min(1.0, self.batch_size / n)
        steps = self.epochs * math.ceil(n / self.batch_size)
        rng = np.random.default_rng(self.rng)
        if self.epsilon is None:
            z, clip, spent = 0.0, None, None
        else:
            z = calibrate_noise_multiplier(float(self.epsilon), self.delta, rate, steps, self.accountant)
            clip = self.clip_norm
            spent = PrivacySpent(
                DPSGDAccounting(z, rate, steps).epsilon(self.delta, self.accountant),
                self.delta,
                self.accountant,
                z,
                rate,
                steps,
            )
        w = dp_sgd(
            np.zeros(X.shape[1] + 1),
            augment(X),
            y01.astype(float),
            steps=steps,
            sampling_rate=rate,
            noise_multiplier=z,
            clip_norm=clip,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            l2=self.l2,
            rng=rng,
        )
        self.classes_ = classes
        self.coef_ = w[None, :-1]
        self.intercept_ = w[-1:]
        self.noise_multiplier_ = z
        self.privacy_spent_ = spent
        self.n_iter_ = steps
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logit of the second class."""
        check_is_fitted(self)
        return np.asarray(X, dtype=float) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels at probability threshold 0.5."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
