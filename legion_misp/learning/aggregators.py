"""Aggregation rules behind one interface: given the members' updates, what is the global update?

Updates are model deltas ``w_member − w_global`` of shape (n_members, n_params). Every rule is a small object
over a pure numpy function; none knows about transport (the in-process simulation and the Flower ServerApp
call the same objects). With record-level DP inside each member the updates are already DP, so a robust rule
can read them in the clear without weakening the privacy guarantee (post-processing).

Conditions: the coordinate median needs f < n/2; trimmed mean drops ``trim`` values per side; Multi-Krum needs
n ≥ 2f + 3; FLTrust needs a small clean root data set held by the server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .dpsgd import dp_sgd


class Aggregator(ABC):
    """Combine member updates into one global update."""

    name: str = "aggregator"

    @abstractmethod
    def aggregate(
        self, updates: np.ndarray, weights: np.ndarray, *, global_weights: np.ndarray | None = None
    ) -> np.ndarray:
        """Return the global update of shape (n_params,).

        Parameters
        ----------
        updates : ndarray of shape (n_members, n_params)
        weights : ndarray of shape (n_members,)
            Declared number of training examples per member (used by weighted rules).
        global_weights : ndarray of shape (n_params,), optional
            The current global model (needed by FLTrust).
        """

    def describe(self) -> dict[str, object]:
        """Rule name and parameters, for reports."""
        return {"name": self.name}


def validate_updates(updates: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and finiteness; raise ``ValueError`` naming the offending member index."""
    updates = np.asarray(updates, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if updates.ndim != 2 or len(updates) == 0:
        raise ValueError(f"updates must have shape (n_members, n_params), got {updates.shape}")
    if weights.shape != (len(updates),):
        raise ValueError(f"weights must have shape ({len(updates)},), got {weights.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(updates), axis=1) | ~np.isfinite(weights) | (weights < 0))
    if bad.size:
        raise ValueError(f"non-finite update or invalid weight from member index {int(bad[0])}")
    return updates, weights


@dataclass(frozen=True)
class FedAvg(Aggregator):
    """Mean weighted by the declared number of examples (McMahan et al. 2017)."""

    name: str = "fedavg"

    def aggregate(self, updates, weights, *, global_weights=None):
        updates, weights = validate_updates(updates, weights)
        if weights.sum() <= 0:
            return updates.mean(axis=0)
        return np.average(updates, axis=0, weights=weights)


@dataclass(frozen=True)
class CoordinateMedian(Aggregator):
    """Coordinate-wise median (Yin et al. 2018). Tolerates f < n/2 Byzantine members."""

    name: str = "median"

    def aggregate(self, updates, weights, *, global_weights=None):
        updates, _ = validate_updates(updates, weights)
        return np.median(updates, axis=0)


@dataclass(frozen=True)
class TrimmedMean(Aggregator):
    """Coordinate-wise trimmed mean: drop the ``trim`` largest and smallest values per coordinate."""

    trim: int = 1
    name: str = "trimmed-mean"

    def aggregate(self, updates, weights, *, global_weights=None):
        updates, _ = validate_updates(updates, weights)
        n = len(updates)
        if n - 2 * self.trim < 1:
            raise ValueError(
                f"trimmed mean with trim={self.trim} needs more than {2 * self.trim} members, got {n}"
            )
        ordered = np.sort(updates, axis=0)
        return ordered[self.trim : n - self.trim].mean(axis=0)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "trim": self.trim}


def krum_scores(updates: np.ndarray, f: int) -> np.ndarray:
    """Krum score of each update: sum of squared distances to its ``n − f − 2`` nearest neighbours."""
    n = len(updates)
    sq = np.sum(updates**2, axis=1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * updates @ updates.T, 0.0)
    np.fill_diagonal(dist, np.inf)
    k = max(1, n - f - 2)
    return np.sort(dist, axis=1)[:, :k].sum(axis=1)


@dataclass(frozen=True)
class MultiKrum(Aggregator):
    """Multi-Krum (Blanchard et al. 2017): average the ``n − f`` updates with the lowest Krum scores.

    Needs n ≥ 2f + 3 for Krum's guarantee; with fewer members it still runs but the guarantee does not hold.
    """

    f: int = 1
    name: str = "multi-krum"

    def aggregate(self, updates, weights, *, global_weights=None):
        updates, _ = validate_updates(updates, weights)
        keep = max(1, len(updates) - self.f)
        chosen = np.argsort(krum_scores(updates, self.f), kind="stable")[:keep]
        return updates[chosen].mean(axis=0)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "f": self.f}


@dataclass(frozen=True)
class NormBoundedMean(Aggregator):
    """Mean of updates clipped to an L2 bound: ``max_norm``, or the median update norm when ``None``."""

    max_norm: float | None = None
    name: str = "norm-bounded-mean"

    def aggregate(self, updates, weights, *, global_weights=None):
        updates, _ = validate_updates(updates, weights)
        norms = np.linalg.norm(updates, axis=1)
        bound = float(np.median(norms)) if self.max_norm is None else self.max_norm
        scale = np.minimum(1.0, bound / np.maximum(norms, 1e-12))
        return (updates * scale[:, None]).mean(axis=0)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "max_norm": self.max_norm}


@dataclass(frozen=True, eq=False)
class FLTrust(Aggregator):
    """FLTrust (Cao et al., NDSS 2021) with a small clean root data set held by the server.

    The server computes its own update ``g0`` on the root set from the current global model (a few plain SGD
    steps), rescales every member update to ``‖g0‖`` and weights it by ``ReLU(cos(update, g0))``.

    Parameters
    ----------
    root_X : ndarray of shape (n_root, n_params)
        Root rows with the bias input appended.
    root_y : ndarray of shape (n_root,)
    steps, learning_rate, batch_size : SGD settings for ``g0``.
    seed : int
        Seed of the root-update sampling (the root set is public to the server; no privacy is involved).
    """

    root_X: np.ndarray = field(repr=False)
    root_y: np.ndarray = field(repr=False)
    steps: int = 10
    learning_rate: float = 2.0
    batch_size: int = 50
    seed: int = 0
    name: str = "fltrust"

    def aggregate(self, updates, weights, *, global_weights=None):
        updates, _ = validate_updates(updates, weights)
        if global_weights is None:
            raise ValueError("FLTrust needs the current global weights")
        root_update = self.root_update(global_weights)
        root_norm = float(np.linalg.norm(root_update))
        norms = np.linalg.norm(updates, axis=1)
        cos = updates @ root_update / np.maximum(norms * root_norm, 1e-12)
        trust = np.maximum(cos, 0.0)
        if trust.sum() <= 0:
            return np.zeros(updates.shape[1])
        rescaled = updates * (root_norm / np.maximum(norms, 1e-12))[:, None]
        return (trust[:, None] * rescaled).sum(axis=0) / trust.sum()

    def root_update(self, global_weights: np.ndarray) -> np.ndarray:
        """The server's own update on the root set (non-private; the root set is the server's)."""
        rate = min(1.0, self.batch_size / len(self.root_y))
        w = dp_sgd(
            global_weights,
            self.root_X,
            self.root_y,
            steps=self.steps,
            sampling_rate=rate,
            noise_multiplier=0.0,
            clip_norm=None,
            learning_rate=self.learning_rate,
            rng=np.random.default_rng(self.seed),
        )
        return w - global_weights

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "root_size": len(self.root_y), "steps": self.steps}


AGGREGATOR_NAMES: tuple[str, ...] = (
    "fedavg",
    "median",
    "trimmed-mean",
    "multi-krum",
    "norm-bounded-mean",
    "fltrust",
)


def make_aggregator(
    name: str, *, byzantine: int = 1, root: tuple[np.ndarray, np.ndarray] | None = None
) -> Aggregator:
    """Build an aggregator by name; ``byzantine`` sets Multi-Krum's f and the trimmed mean's trim (≥ 1).

    Raises
    ------
    ValueError
        For an unknown name, or FLTrust without a root set.
    """
    builders: dict[str, Callable[[], Aggregator]] = {
        "fedavg": FedAvg,
        "median": CoordinateMedian,
        "trimmed-mean": lambda: TrimmedMean(trim=max(1, byzantine)),
        "multi-krum": lambda: MultiKrum(f=max(1, byzantine)),
        "norm-bounded-mean": NormBoundedMean,
    }
    if name == "fltrust":
        if root is None:
            raise ValueError("fltrust needs a clean root data set (root=(X_with_bias, y))")
        return FLTrust(root_X=root[0], root_y=root[1])
    if name not in builders:
        raise ValueError(f"unknown aggregator {name!r}; choose from {AGGREGATOR_NAMES}")
    return builders[name]()
