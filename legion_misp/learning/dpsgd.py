"""Logistic regression trained by DP-SGD in numpy, with vectorised per-example gradients.

Privacy
-------
* Unit: one training record (one message) of the data holder running :func:`dp_sgd` (add/remove neighbouring).
* Sensitivity: every per-example gradient of the logistic loss (bias included) is clipped to L2 norm
  ``clip_norm`` (``C``), so adding or removing one record moves the noisy sum by at most ``C``.
* Noise: ``N(0, (z·C)² I)`` added to the clipped sum in every step, Poisson sampling with rate ``q``.
* (ε, δ): from the accountant in :mod:`legion_misp.learning.accounting` over every step (PLD by default).
  ``z`` is calibrated before training. Momentum, the update and everything computed from the released weights
  are post-processing.
* Not covered: hyper-parameter and threshold choices made on validation data; floating-point noise sampling is
  the textbook Gaussian (numpy ``Generator``), not a discrete or snapping mechanism.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .accounting import Accountant, DPSGDAccounting, calibrate_noise_multiplier


def augment(X: np.ndarray) -> np.ndarray:
    """Append the bias input 1 to every row."""
    X = np.asarray(X, dtype=float)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def logistic_loss(weights: np.ndarray, Xa: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-example logistic loss of augmented rows ``Xa`` (bias last) for labels in {0, 1}."""
    margin = Xa @ weights
    return np.logaddexp(0.0, margin) - y * margin


def dp_sgd(
    weights: np.ndarray,
    Xa: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    sampling_rate: float,
    noise_multiplier: float,
    clip_norm: float | None,
    learning_rate: float,
    momentum: float = 0.0,
    l2: float = 0.0,
    rng: np.random.Generator,
) -> np.ndarray:
    """Run ``steps`` DP-SGD steps of logistic regression from ``weights`` and return the new weights.

    Each step Poisson-samples rows with probability ``sampling_rate``, computes all per-example gradients at
    once (``(σ(wᵀx) − y)·x``), scales each to norm ≤ ``clip_norm``, sums, adds ``N(0,
    (noise_multiplier·clip_norm)²)`` per coordinate, divides by the *expected* batch size ``q·n`` (a fixed,
    data-independent denominator) and takes a heavy-ball momentum step with L2 penalty ``l2``.

    With ``noise_multiplier=0`` and ``clip_norm=None`` this is plain (non-private) minibatch SGD.

    Parameters
    ----------
    weights : ndarray of shape (n_features + 1,)
        Starting weights, bias last. Not modified.
    Xa : ndarray of shape (n_samples, n_features + 1)
        Rows with the bias input appended (:func:`augment`).
    y : ndarray of shape (n_samples,), values in {0, 1}
    rng : numpy.random.Generator
        Source of the sampling and the noise.
    """
    n = len(y)
    w = np.array(weights, dtype=float)
    velocity = np.zeros_like(w)
    row_norms = np.linalg.norm(Xa, axis=1)
    expected_batch = sampling_rate * n
    noise_std = noise_multiplier * (clip_norm or 0.0)
    for _ in range(steps):
        batch = rng.random(n) < sampling_rate
        residual = expit(Xa[batch] @ w) - y[batch]
        if clip_norm is not None:
            grad_norms = np.abs(residual) * row_norms[batch]
            residual = residual * np.minimum(1.0, clip_norm / np.maximum(grad_norms, 1e-12))
        grad = Xa[batch].T @ residual
        if noise_std > 0.0:
            grad = grad + rng.normal(0.0, noise_std, size=w.shape)
        velocity = momentum * velocity + grad / expected_batch + l2 * w
        w = w - learning_rate * velocity
    return w


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
