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

import numpy as np


def expit(t: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, numerically stable (``0.5 · (1 + tanh(t / 2))``)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(t, dtype=float)))


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
    expected_batch: float | None = None,
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
    expected_batch : float, optional
        The denominator of the update. Pass ``q · size_bound`` (public) for DP: the default ``q · n`` would scale
        the released update by the private dataset size.
    """
    n = len(y)
    w = np.array(weights, dtype=float)
    velocity = np.zeros_like(w)
    row_norms = np.linalg.norm(Xa, axis=1)
    expected_batch = sampling_rate * n if expected_batch is None else expected_batch
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

