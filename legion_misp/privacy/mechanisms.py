"""Differentially private mechanisms for the numbers a sanitised event or a statistics release carries.

Every mechanism is a small object that states its privacy map: input domain, neighbouring relation, sensitivity,
noise distribution and scale, and (ε, δ). The ε of the discrete Laplace noise comes from OpenDP's own privacy map
(``opendp.measurements.make_laplace`` on integers, i.e. the discrete Laplace / two-sided geometric mechanism of
Ghosh, Roughgarden & Sundararajan 2009, sampled exactly as in Canonne, Kamath & Steinke 2020).

Noise comes from a :class:`NoiseSource`:

- :class:`SecureNoise` (the default): exact discrete Laplace sampling over the OS CSPRNG — OpenDP's algorithm
  (Canonne, Kamath & Steinke 2020) vectorised with numpy in :mod:`.sampling`, integer arithmetic only; OpenDP's own
  measurement for scales too wide for it. Samples are drawn in batches and kept in an in-memory pool; adding a
  pooled sample to a value is exactly what the measurement does, and the pool is never logged or written.
- :class:`SeededNoise`: a numpy ``Generator`` with a fixed seed. **For tests only; not private** (floating-point
  geometric sampling and a predictable seed).

Composition: :class:`PrivacyCost` adds (basic sequential composition) and takes maxima (parallel composition over
disjoint units); the per-release total goes to the :class:`~legion_misp.privacy.ledger.Ledger` before release.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .sampling import ExactDiscreteLaplace, supports

_POOL_CHUNK = 8192


@dataclass(frozen=True)
class PrivacyCost:
    """An (ε, δ) privacy loss. ``a + b`` is basic sequential composition; :meth:`parallel` is the maximum."""

    epsilon: float = 0.0
    delta: float = 0.0

    def __add__(self, other: PrivacyCost) -> PrivacyCost:
        return PrivacyCost(self.epsilon + other.epsilon, self.delta + other.delta)

    @staticmethod
    def parallel(costs: list[PrivacyCost]) -> PrivacyCost:
        """Parallel composition: each unit of privacy touches only one of the releases."""
        if not costs:
            return PrivacyCost()
        return PrivacyCost(max(c.epsilon for c in costs), max(c.delta for c in costs))

    def as_dict(self) -> dict[str, float]:
        return {"epsilon": self.epsilon, "delta": self.delta}


# ---- noise sources -----------------------------------------------------------------------------------------------

class NoiseSource(Protocol):
    """Draws i.i.d. discrete Laplace noise: ``P(Z = z) ∝ exp(-|z| / scale)`` on the integers."""

    secure: bool
    description: str

    def discrete_laplace(self, scale: float, size: int) -> np.ndarray:
        """``size`` independent samples (int64)."""


def opendp_discrete_laplace(scale: float, vector: bool = False) -> Any:
    """The OpenDP measurement: discrete Laplace noise on an i64 (or a vector of i64, L1 metric)."""
    import opendp.prelude as dp  # ~1.9 s to import: only when noise is drawn or a scale calibrated

    dp.enable_features("contrib")
    if vector:
        return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale)
    return dp.m.make_laplace(dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"), scale=scale)


class SecureNoise:
    """Exact discrete Laplace noise over the OS CSPRNG, pooled per scale (the default noise source).

    Samples come from :class:`~legion_misp.privacy.sampling.ExactDiscreteLaplace`: OpenDP's algorithm for
    ``make_laplace`` on integers (Canonne, Kamath & Steinke 2020; exact rational scale, integer arithmetic only)
    vectorised with numpy over ``os.urandom``, about 20x faster than calling the OpenDP measurement per batch. A
    scale whose exact form is too wide for it (numerator or denominator of 62 bits or more) is sampled by OpenDP's
    measurement instead. Samples are drawn in batches (512 at first, doubling up to ``chunk``) and kept in an
    in-memory pool that is never logged or written; each sample is used once.
    """

    secure = True
    description = ("exact discrete Laplace (Canonne-Kamath-Steinke, OpenDP's algorithm) vectorised over the OS "
                   "CSPRNG (os.urandom); OpenDP make_laplace on i64 for scales too wide for it")

    def __init__(self, chunk: int = _POOL_CHUNK):
        self.chunk = chunk
        self._samplers: dict[float, Callable[[int], np.ndarray]] = {}
        self._pools: dict[float, np.ndarray] = {}
        self._batch: dict[float, int] = {}  # per scale: 512 first, doubling up to ``chunk``

    def __repr__(self) -> str:
        return "SecureNoise()"

    def discrete_laplace(self, scale: float, size: int) -> np.ndarray:
        pool = self._pools.get(scale, np.empty(0, dtype=np.int64))
        while len(pool) < size:
            sampler = self._samplers.get(scale)
            if sampler is None:
                sampler = self._samplers[scale] = _secure_sampler(scale)
            batch = self._batch.get(scale, min(512, self.chunk))
            self._batch[scale] = min(2 * batch, self.chunk)
            pool = np.concatenate([pool, sampler(max(batch, size - len(pool)))])
        self._pools[scale] = pool[size:]
        return pool[:size].copy()


def _secure_sampler(scale: float) -> Callable[[int], np.ndarray]:
    """``size -> int64 samples`` of discrete Laplace noise of ``scale``: the vectorised exact sampler, or OpenDP's
    measurement on a zero vector when the scale is too wide for it (same distribution either way)."""
    if supports(scale):
        return ExactDiscreteLaplace(scale).sample
    measurement = opendp_discrete_laplace(scale, vector=True)
    return lambda size: np.asarray(measurement(np.zeros(size, dtype=np.int64)), dtype=np.int64)


class SeededNoise:
    """numpy ``Generator`` discrete Laplace (difference of two geometrics). Tests only, not private."""

    secure = False
    description = "numpy Generator with a fixed seed (tests only, not private)"

    def __init__(self, seed: int):
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"SeededNoise(seed={self.seed})"

    def discrete_laplace(self, scale: float, size: int) -> np.ndarray:
        p = -math.expm1(-1.0 / scale)  # 1 - exp(-1/scale)
        return (self._rng.geometric(p, size) - self._rng.geometric(p, size)).astype(np.int64)


def calibrate_scale(sensitivity: int, epsilon: float) -> float:
    """The smallest discrete Laplace scale whose OpenDP privacy map gives ε at ``sensitivity`` (≈ Δ / ε)."""
    scale = sensitivity / epsilon
    if opendp_discrete_laplace(scale).map(sensitivity) <= epsilon:
        return scale
    import opendp.prelude as dp

    return float(dp.binary_search_param(lambda s: opendp_discrete_laplace(s), d_in=sensitivity, d_out=epsilon,
                                        bounds=(scale, 2 * scale + 1)))


def geometric_tail(scale: float, m: int) -> float:
    """``P(Z >= m)`` for discrete Laplace noise Z of this scale and an integer ``m >= 1``."""
    alpha = math.exp(-1.0 / scale)
    return alpha ** m / (1.0 + alpha)


def truncated_end_delta(scale: float, sensitivity: int, window: int) -> float:
    """δ of discrete Laplace noise of ``scale`` truncated to ``[-window, window]``, for shifts ≤ ``sensitivity``:
    the mass of the ``sensitivity``-wide edge strip, ``α^(W-Δ+1) (1-α^Δ) / ((1+α) P(|Z| ≤ W))``."""
    alpha = math.exp(-1.0 / scale)
    inside = 1.0 - 2.0 * alpha ** (window + 1) / (1.0 + alpha)
    strip = alpha ** (window - sensitivity + 1) * (1.0 - alpha ** sensitivity)
    return strip / ((1.0 + alpha) * inside)


# ---- mechanisms --------------------------------------------------------------------------------------------------

class DiscreteLaplaceMechanism:
    """Integer query plus discrete Laplace noise calibrated to (``sensitivity``, ``epsilon``).

    Parameters
    ----------
    sensitivity : int
        Largest change of the query (L1 over the released vector) between neighbouring inputs.
    epsilon : float
        Target ε; the scale is ``sensitivity / epsilon`` (checked against OpenDP's privacy map).
    relation : str
        The neighbouring relation, in words (for reports).

    Privacy
    -------
    Pure ε-DP (δ = 0) for inputs at distance ≤ ``sensitivity``: the OpenDP privacy map of ``make_laplace`` on
    integers is ``d_in / scale``.
    """

    name = "discrete-laplace"

    def __init__(self, *, sensitivity: int, epsilon: float, relation: str):
        if sensitivity < 1:
            raise ValueError(f"sensitivity must be >= 1; got {sensitivity}")
        if not (epsilon > 0 and math.isfinite(epsilon)):
            raise ValueError(f"epsilon must be a finite number > 0; got {epsilon}")
        self.sensitivity = int(sensitivity)
        self.epsilon = float(epsilon)
        self.relation = relation
        self.scale_ = calibrate_scale(self.sensitivity, self.epsilon)
        self._measurement = opendp_discrete_laplace(self.scale_)
        self._maps: dict[int, float] = {}  # d_in -> ε from OpenDP's map (a pure function: asked once per d_in)

    def privacy_map(self, d_in: int | None = None) -> PrivacyCost:
        """(ε, δ) for neighbours at distance ``d_in`` (default: the sensitivity), from OpenDP's map."""
        d_in = self.sensitivity if d_in is None else d_in
        epsilon = self._maps.get(d_in)
        if epsilon is None:
            epsilon = self._maps[d_in] = float(self._measurement.map(d_in))
        return PrivacyCost(epsilon, 0.0)

    def check(self, d_in: int, cost: PrivacyCost) -> bool:
        """True if the mechanism is ``cost``-DP for neighbours at distance ``d_in``."""
        spent = self.privacy_map(d_in)
        return spent.epsilon <= cost.epsilon + 1e-12 and spent.delta <= cost.delta

    def release(self, values: np.ndarray, noise: NoiseSource) -> np.ndarray:
        """``values`` (int64) plus independent noise."""
        values = np.asarray(values, dtype=np.int64)
        return values + noise.discrete_laplace(self.scale_, values.size).reshape(values.shape)

    def describe(self) -> dict[str, Any]:
        return {"mechanism": self.name, "sensitivity": self.sensitivity, "scale": self.scale_,
                "relation": self.relation, **self.privacy_map().as_dict()}


class SightingCountMechanism(DiscreteLaplaceMechanism):
    """Noised sighting counts of the shared attributes of one release.

    Input: for every shared attribute, the number of sightings of each type (0 seen, 1 false positive).

    Privacy
    -------
    Neighbouring relation: one sighting added or removed. It changes exactly one count by 1, so the L1
    sensitivity of the whole count vector is 1 and the release is ``epsilon``-DP (δ = 0). Counts of all shared
    attributes are noised (zeros too); hiding small noisy counts afterwards is post-processing. What is protected:
    whether any one sighting happened. Not protected: the attribute values themselves (shared as-is).
    """

    name = "sighting-counts"

    def __init__(self, *, epsilon: float):
        super().__init__(sensitivity=1, epsilon=epsilon, relation="one sighting added or removed")

    def release(self, values: np.ndarray, noise: NoiseSource) -> np.ndarray:
        """Noisy counts, floored at 0 (post-processing)."""
        return np.maximum(super().release(values, noise), 0)


class ClampedNumericMechanism(DiscreteLaplaceMechanism):
    """A numeric attribute (``counter``, ``size-in-bytes``...) clamped to [lower, upper], then noised.

    Parameters
    ----------
    lower, upper : int
        Clamping bounds, fixed in the policy without looking at the data.
    sensitivity : int
        How much one unit of privacy may change the value (after clamping).
    epsilon : float
        ε per released value.

    Privacy
    -------
    Neighbouring relation: one value changed by at most ``sensitivity``. Clamping is 1-stable, so the released
    value is ``epsilon``-DP (δ = 0). Clamping the noisy value back into [lower, upper] is post-processing.
    Values of different attributes are disjoint units (parallel composition).
    """

    name = "clamped-numeric"

    def __init__(self, *, lower: int, upper: int, sensitivity: int, epsilon: float):
        if not lower < upper:
            raise ValueError(f"lower must be < upper; got {lower}, {upper}")
        if sensitivity > upper - lower:
            raise ValueError("sensitivity cannot exceed upper - lower")
        super().__init__(sensitivity=sensitivity, epsilon=epsilon,
                         relation=f"one value changed by at most {sensitivity}")
        self.lower = int(lower)
        self.upper = int(upper)

    def release(self, values: np.ndarray, noise: NoiseSource) -> np.ndarray:
        clamped = np.clip(np.asarray(values, dtype=np.int64), self.lower, self.upper)
        return np.clip(super().release(clamped, noise), self.lower, self.upper)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "lower": self.lower, "upper": self.upper}


class BoundedTimestampPairMechanism:
    """A (first, last) pair of epoch-second timestamps, each moved by truncated discrete Laplace noise.

    Each end gets noise of scale ``2 * sensitivity / epsilon``, conditioned on ``|noise| <= window`` (rejection
    sampling), so no released time is more than ``window`` seconds from the true one. The noisy pair is then
    sorted, which keeps ``first <= last`` and the window bound (post-processing).

    Parameters
    ----------
    epsilon : float
        ε of the pair (each end ε/2).
    sensitivity : int
        Seconds one unit of privacy may shift a timestamp.
    window : int
        Largest shift of a released timestamp, in seconds (> sensitivity).

    Privacy
    -------
    Neighbouring relation: one timestamp of the pair shifted by at most ``sensitivity`` seconds (both ends may be
    the same observation, so both are charged). Per end, the truncated mechanism is (ε/2, δ₁)-DP with
    ``δ₁ = α^(W-Δ+1) (1-α^Δ) / ((1+α) N)``, α = exp(-1/scale), N = P(|Z| ≤ W): the likelihood ratio inside the
    common support is at most exp(Δ/scale), and δ₁ is the mass of the Δ-wide edge strip outside it. The pair is
    (ε, 2δ₁)-DP. Protects the exact timing of an observation, not whether it happened.
    """

    name = "bounded-timestamp-pair"

    def __init__(self, *, epsilon: float, sensitivity: int, window: int):
        if not window > sensitivity >= 1:
            raise ValueError(f"need window > sensitivity >= 1; got window={window}, sensitivity={sensitivity}")
        self.epsilon = float(epsilon)
        self.sensitivity = int(sensitivity)
        self.window = int(window)
        self.end_mechanism_ = DiscreteLaplaceMechanism(sensitivity=sensitivity, epsilon=epsilon / 2,
                                                       relation="one timestamp shifted")
        self.scale_ = self.end_mechanism_.scale_
        self.relation = f"one timestamp shifted by at most {sensitivity} s"

    def end_delta(self) -> float:
        """δ₁ of one truncated end (see the class docstring)."""
        return truncated_end_delta(self.scale_, self.sensitivity, self.window)

    def privacy_map(self, d_in: int | None = None) -> PrivacyCost:
        d_in = self.sensitivity if d_in is None else d_in
        if d_in > self.sensitivity:
            raise ValueError("the truncated mechanism is only analysed up to its sensitivity")
        return PrivacyCost(2 * self.end_mechanism_.privacy_map(d_in).epsilon, 2 * self.end_delta())

    def truncated_noise(self, noise: NoiseSource, size: int) -> np.ndarray:
        """``size`` samples of discrete Laplace noise conditioned on ``|z| <= window``."""
        out = np.empty(0, dtype=np.int64)
        while len(out) < size:
            draw = noise.discrete_laplace(self.scale_, max(size - len(out), 4))
            out = np.concatenate([out, draw[np.abs(draw) <= self.window]])
        return out[:size]

    def release(self, first: int, last: int, noise: NoiseSource) -> tuple[int, int]:
        """Noisy (first, last), sorted."""
        shift = self.truncated_noise(noise, 2)
        noisy = sorted((int(first) + int(shift[0]), int(last) + int(shift[1])))
        return noisy[0], noisy[1]

    def describe(self) -> dict[str, Any]:
        return {"mechanism": self.name, "sensitivity_seconds": self.sensitivity, "window_seconds": self.window,
                "scale": self.scale_, "relation": self.relation, **self.privacy_map().as_dict()}


class ThresholdHistogramMechanism(DiscreteLaplaceMechanism):
    """Counts per key, each event contributing to at most ``max_keys`` keys, noised, then thresholded.

    Parameters
    ----------
    max_keys : int
        Contribution bound: keys one event may count towards (L1 sensitivity).
    epsilon : float
        ε of this histogram.
    threshold : int
        Noisy counts below this are suppressed.
    public_keys : bool
        True when the key set is fixed and public (MISP categories and types): every key is noised, zeros
        included, so thresholding is post-processing and δ = 0. False when keys come from the data (tags,
        techniques): only present keys are noised and the threshold must hide keys one event alone adds.

    Privacy
    -------
    Unit: one MISP event added or removed. L1 sensitivity ``max_keys``, so the counts are ε-DP. With data-derived
    keys (Korolova et al. 2009; Wilson et al. 2020) a key present only because of one event is released with
    probability ``P(1 + Z >= threshold)``; over its ``max_keys`` keys that gives
    ``δ = max_keys * α^(threshold-1) / (1+α)``.
    """

    name = "threshold-histogram"

    def __init__(self, *, max_keys: int, epsilon: float, threshold: int, public_keys: bool):
        super().__init__(sensitivity=max_keys, epsilon=epsilon,
                         relation=f"one event added or removed (at most {max_keys} keys per event)")
        self.threshold = int(threshold)
        self.public_keys = public_keys

    @staticmethod
    def threshold_for(*, max_keys: int, epsilon: float, delta: float) -> int:
        """Smallest threshold with δ ≤ ``delta`` for data-derived keys."""
        scale = max_keys / epsilon
        alpha = math.exp(-1.0 / scale)
        # max_keys * alpha**(t-1) / (1+alpha) <= delta
        needed = math.log(delta * (1.0 + alpha) / max_keys) / math.log(alpha)
        return max(2, math.ceil(needed) + 1)

    def privacy_map(self, d_in: int | None = None) -> PrivacyCost:
        epsilon = super().privacy_map(d_in).epsilon
        if self.public_keys:
            return PrivacyCost(epsilon, 0.0)
        return PrivacyCost(epsilon, self.sensitivity * geometric_tail(self.scale_, self.threshold - 1))

    def release_counts(self, counts: dict[str, int], noise: NoiseSource) -> dict[str, int]:
        """Noisy counts of the keys that reach the threshold (sorted by key)."""
        keys = sorted(counts)
        noisy = super().release(np.array([counts[k] for k in keys], dtype=np.int64), noise) if keys else []
        return {k: int(v) for k, v in zip(keys, noisy, strict=True) if v >= self.threshold}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "threshold": self.threshold, "public_keys": self.public_keys}
