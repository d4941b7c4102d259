"""Byzantine member behaviours for robustness experiments (never used in production paths).

A behaviour may poison the labels a member trains on (label flip) and/or replace the update it sends. Update
attacks are *omniscient*: they see the honest members' updates of the round, the strongest usual threat model.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


class Behaviour:
    """Honest by default; subclasses override one or both hooks."""

    name: str = "honest"

    def poison_labels(self, y: np.ndarray) -> np.ndarray:
        """Labels the member trains on."""
        return y

    def poison_update(
        self, own_update: np.ndarray, honest_updates: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Update the member sends, given its own and the honest members' updates of this round."""
        return own_update

    def describe(self) -> dict[str, object]:
        """Name and parameters, for reports."""
        return {"name": self.name}


@dataclass(frozen=True)
class SignFlip(Behaviour):
    """Send ``−scale`` times the mean honest update (omniscient sign flip).

    The default 10 reverses a plain mean's direction when 1 of 5 members attacks (4·h − 10·h < 0).
    """

    scale: float = 10.0
    name: str = "sign-flip"

    def poison_update(self, own_update, honest_updates, rng):
        return -self.scale * np.mean(honest_updates, axis=0)


@dataclass(frozen=True)
class Scaling(Behaviour):
    """Send ``scale`` times the member's own update (model replacement / boosting)."""

    scale: float = 10.0
    name: str = "scaling"

    def poison_update(self, own_update, honest_updates, rng):
        return self.scale * own_update


@dataclass(frozen=True)
class GaussianNoise(Behaviour):
    """Send ``N(0, std²)`` per coordinate."""

    std: float = 10.0
    name: str = "gaussian"

    def poison_update(self, own_update, honest_updates, rng):
        return rng.normal(0.0, self.std, size=own_update.shape)


@dataclass(frozen=True)
class LabelFlip(Behaviour):
    """Train honestly (with DP if on) on flipped labels ``1 − y``."""

    name: str = "label-flip"

    def poison_labels(self, y):
        return 1 - np.asarray(y)


@dataclass(frozen=True)
class ALIE(Behaviour):
    """ "A Little Is Enough" (Baruch et al., NeurIPS 2019): honest mean − z · honest std, per coordinate.

    ``z=None`` uses the paper's z_max for ``n`` members of which ``f`` are Byzantine:
    ``s = floor(n/2 + 1) − f``, ``z = Φ⁻¹((n − s) / n)``.
    """

    z: float | None = None
    members: int = 5
    byzantine: int = 1
    name: str = "alie"

    def z_value(self) -> float:
        """The z used (given or z_max)."""
        if self.z is not None:
            return self.z
        supporters = int(np.floor(self.members / 2 + 1)) - self.byzantine
        return float(NormalDist().inv_cdf((self.members - supporters) / self.members))

    def poison_update(self, own_update, honest_updates, rng):
        mean = np.mean(honest_updates, axis=0)
        std = np.std(honest_updates, axis=0)
        return mean - self.z_value() * std

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "z": self.z_value()}


BEHAVIOUR_NAMES: tuple[str, ...] = ("sign-flip", "scaling", "gaussian", "label-flip", "alie")


def make_behaviour(name: str, *, members: int = 5, byzantine: int = 1) -> Behaviour:
    """Build a behaviour by name.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name == "sign-flip":
        return SignFlip()
    if name == "scaling":
        return Scaling()
    if name == "gaussian":
        return GaussianNoise()
    if name == "label-flip":
        return LabelFlip()
    if name == "alie":
        return ALIE(members=members, byzantine=byzantine)
    raise ValueError(f"unknown behaviour {name!r}; choose from {BEHAVIOUR_NAMES}")
