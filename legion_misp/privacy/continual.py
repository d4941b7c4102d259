"""Continual release of growing counts (sightings): the binary-tree (hierarchical) counter.

The counter of Dwork, Naor, Pitassi & Rothblum (STOC 2010) and Chan, Shi & Song (TISSEC 2011). Time is cut into
steps (``sightings_step``, default one day) and the steps into calendar-aligned blocks of ``H = 2^k`` steps
(``sightings_horizon``, default 32). Inside a block, every dyadic interval of steps is a tree node; a node's value
is the number of sightings (of one attribute and one type) dated in its interval, noised **once** with discrete
Laplace noise of scale ``L / ε`` where ``L = k + 1`` is the number of levels. The count released at a time is the
sum of the noisy nodes that tile the completed steps since the start of the previous block (or of the block holding
the event's date, if later): the sightings of the last ``H`` to ``2H`` steps, as at most ``L + 1`` nodes. A summary is
released only when a noisy count reaches ``max(sightings_threshold, 2 σ)`` where σ is the (public) noise standard
deviation of that sum.

Privacy (unit: one sighting added or removed): a sighting is dated in one step, so it lies in exactly one node per
level of one block of one attribute's tree: ``L`` nodes, each ``ε/L``-DP, so **every count ever released from that
block, at every time, is ε-DP together** — the cost is O(log H), not O(H). Blocks hold disjoint sightings, so the
ledger charges ε once per calendar block (the first release that draws a node of it), and nothing for later
releases. A node whose true value changes afterwards (a sighting recorded late, or deleted) is re-drawn; a release
that re-draws any node is charged ε once more (a sighting lies in at most one re-drawn node per level).

Only completed steps are counted: a sighting dated today appears in tomorrow's count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def levels(horizon: int) -> int:
    """Number of tree levels ``L = log2(H) + 1`` for a power-of-two horizon ``H``."""
    if horizon < 1 or horizon & (horizon - 1):
        raise ValueError(f"the horizon must be a power of two; got {horizon}")
    return int(math.log2(horizon)) + 1


def dyadic_nodes(start: int, end: int, horizon: int) -> list[tuple[int, int]]:
    """The tree nodes ``(level, index)`` tiling steps ``[start, end)``; ``start`` must begin a block.

    Each node covers steps ``[index * 2^level, (index + 1) * 2^level)`` and never crosses a block boundary.
    """
    if start % horizon:
        raise ValueError("the count must start at the beginning of a block")
    top = levels(horizon) - 1
    nodes = []
    cursor = start
    while cursor < end:
        level = top
        while level > 0 and (cursor % (1 << level) or cursor + (1 << level) > end):
            level -= 1
        nodes.append((level, cursor >> level))
        cursor += 1 << level
    return nodes


def node_block(level: int, index: int, horizon: int) -> int:
    """The calendar block a node lies in."""
    return (index << level) // horizon


def node_count(steps: Iterable[int], level: int, index: int) -> int:
    """True value of a node: how many of ``steps`` (one per sighting) fall in its interval."""
    low, high = index << level, (index + 1) << level
    return sum(1 for s in steps if low <= s < high)


class LazyNoise:
    """Node noise for one event, drawn as one vector and only when a first node is actually drawn (so a dry run or
    a release that republishes every node samples nothing). Each :meth:`noisy` call uses a sample of its own."""

    def __init__(self, noise, scale: float, size: int):
        self._noise = noise
        self._scale = scale
        self._size = max(int(size), 1)
        self._values: list[int] = []

    def noisy(self, count: int) -> int:
        """``count`` plus a fresh, never used noise sample."""
        if not self._values:
            self._values = self._noise.discrete_laplace(self._scale, self._size).tolist()  # Python ints: fast
            self._values.reverse()
        return int(count) + self._values.pop()


class ContinualCountMechanism:
    """The binary-tree counter's privacy map (see the module docstring).

    Parameters
    ----------
    epsilon : ε of every count ever released from one block (unit: one sighting added or removed).
    horizon : steps per block (a power of two).
    step : seconds per step.
    """

    name = "continual-sighting-counts"

    def __init__(self, *, epsilon: float, horizon: int, step: int):
        from .mechanisms import DiscreteLaplaceMechanism

        self.epsilon = float(epsilon)
        self.horizon = int(horizon)
        self.step = int(step)
        self.levels = levels(horizon)
        self.node_epsilon = self.epsilon / self.levels
        self.node_mechanism = DiscreteLaplaceMechanism(sensitivity=1, epsilon=self.node_epsilon,
                                                       relation="one sighting added or removed (one node)")
        self.scale_ = self.node_mechanism.scale_

    def noise_std(self, nodes: int) -> float:
        """Standard deviation of a count that sums ``nodes`` noisy nodes (public: depends on time only)."""
        alpha = math.exp(-1.0 / self.scale_)
        return math.sqrt(nodes * 2 * alpha / (1 - alpha) ** 2)

    def threshold_floor(self, nodes: int) -> int:
        """A summary is released only when a noisy count reaches twice its noise std (post-processing), so an
        attribute never sighted rarely gets one."""
        return math.ceil(2 * self.noise_std(nodes))

    def draw_node(self, count: int, noise) -> int:
        """A fresh noisy value of one node."""
        return int(count) + int(noise.discrete_laplace(self.scale_, 1)[0])

    def privacy_map(self):
        """(ε, 0) of all counts released from one block: ``levels`` nodes per sighting, each ``ε / levels``."""
        from .mechanisms import PrivacyCost

        return PrivacyCost(self.levels * self.node_mechanism.privacy_map().epsilon, 0.0)

    def describe(self) -> dict:
        return {"mechanism": self.name, "horizon_steps": self.horizon, "step_seconds": self.step,
                "levels": self.levels, "node_scale": self.scale_, "relation": "one sighting added or removed",
                "charged": "once per calendar block of horizon steps (plus once per release that re-draws a node)",
                **self.privacy_map().as_dict()}
