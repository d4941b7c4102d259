"""Data-independent feature scaling with bounds fixed from public knowledge of the feature ranges.

Nothing here looks at training data: every constant comes from the feature definitions, so the preprocessing
costs no privacy budget. After scaling, every row is divided by its L2 norm (a per-row operation), so ‖x‖ ≤ 1
and, with the bias input 1, every per-example logistic-loss gradient has norm ≤ √2 before clipping.

Spambase (``spambase-v1``):

* word and character frequencies are percentages (documented range 0–100); natural-language text rarely gives
  one word or symbol more than 10 % of the words or characters, so they map to ``min(1, sqrt(x / 10))``;
* the capital-run statistics are ≥ 1 and bounded by the message length; they map to
  ``log1p(min(x, 1e4)) / log1p(1e4)`` (saturating at 10,000 characters).

CAN (``can-v1``): id and payload bits stay 0/1; the DLC (0–8) is divided by 8.

The choice among a few such fixed transforms was made on a validation split (hyper-parameter search on
validation data is not covered by the training ε).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .features import N_CAN_FEATURES, N_SPAMBASE_FEATURES

WORD_SCALE_PERCENT = 10.0
CAPITAL_RUN_CAP = 1e4


@dataclass(frozen=True)
class Preprocessor:
    """A named, fixed feature transform followed by projection of each row onto the unit sphere.

    Attributes
    ----------
    name : str
        Identifier stored in model files (``spambase-v1``, ``can-v1``).
    n_features : int
        Number of raw input features expected.
    """

    name: str
    n_features: int
    _scale: Callable[[np.ndarray], np.ndarray]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale raw features and normalise each row to L2 norm 1 (an all-zero row stays zero).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_features,)

        Returns
        -------
        ndarray of shape (n_samples, n_features), rows of norm ≤ 1.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.n_features:
            raise ValueError(f"{self.name} expects {self.n_features} features, got {X.shape[1]}")
        if not np.all(np.isfinite(X)):
            raise ValueError("features must be finite")
        Z = self._scale(X)
        norms = np.linalg.norm(Z, axis=1, keepdims=True)
        return Z / np.maximum(norms, 1e-12)

    def describe(self) -> dict[str, object]:
        """Name and feature count, for reports and model files."""
        return {"name": self.name, "n_features": self.n_features}


def _scale_spambase(X: np.ndarray) -> np.ndarray:
    Z = np.empty_like(X)
    Z[:, :54] = np.minimum(1.0, np.sqrt(np.maximum(X[:, :54], 0.0) / WORD_SCALE_PERCENT))
    Z[:, 54:] = np.log1p(np.clip(X[:, 54:], 0.0, CAPITAL_RUN_CAP)) / np.log1p(CAPITAL_RUN_CAP)
    return Z


def _scale_can(X: np.ndarray) -> np.ndarray:
    Z = np.clip(X, 0.0, 1.0)
    Z[:, 12] = np.clip(X[:, 12], 0.0, 8.0) / 8.0
    return Z


PREPROCESSORS: Mapping[str, Preprocessor] = MappingProxyType(
    {
        "spambase-v1": Preprocessor("spambase-v1", N_SPAMBASE_FEATURES, _scale_spambase),
        "can-v1": Preprocessor("can-v1", N_CAN_FEATURES, _scale_can),
    }
)


def get_preprocessor(name: str) -> Preprocessor:
    """Look up a preprocessor by name.

    Raises
    ------
    KeyError
        If the name is unknown (the message lists the known names).
    """
    try:
        return PREPROCESSORS[name]
    except KeyError:
        raise KeyError(f"unknown preprocessor {name!r}; known: {sorted(PREPROCESSORS)}") from None
