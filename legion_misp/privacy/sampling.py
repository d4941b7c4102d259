"""Exact discrete Laplace sampling over the OS CSPRNG, vectorised with numpy.

The algorithm is the one OpenDP runs for ``make_laplace`` on integers (Canonne, Kamath & Steinke, "The Discrete
Gaussian for Differential Privacy", NeurIPS 2020, Algorithms 1 and 2; OpenDP's ``sample_discrete_laplace``,
``sample_geometric_exp_fast``, ``sample_geometric_exp_slow``, ``sample_bernoulli_exp1``): the scale is taken as
the exact rational value of the float (``Fraction(scale) = t / s``, as OpenDP's ``RBig::try_from``), and every
step is integer arithmetic:

- ``uniform_below(n)``: uniform integers in ``[0, n)`` by rejection — random words masked to the bit length of
  ``n - 1`` and redrawn while ``>= n`` (no modulo bias, no floating point);
- ``Bernoulli(a / b)``: ``uniform_below(b) < a``; ``Bernoulli(u / (t k))`` as ``Bernoulli(u / t)`` and
  ``Bernoulli(1 / k)``, which are independent, so the product has exactly probability ``u / (t k)``;
- ``Bernoulli(exp(-γ))`` for rational ``γ <= 1``: count ``k`` while ``Bernoulli(γ / k)`` succeeds, return ``k``
  odd (von Neumann / CKS Algorithm 1);
- magnitude: ``U`` uniform in ``[0, t)`` kept with probability ``exp(-U / t)``, ``V`` the number of
  ``Bernoulli(exp(-1))`` successes before the first failure, ``(U + t V) // s``;
- sign: one random bit; a negative zero is rejected and the whole sample drawn again.

Vectorised: every lane (sample) runs the same loops on its own random words; a lane that is rejected or finished
leaves the loop, the others go on. Lanes never share random words, so the samples are independent and each has
exactly the discrete Laplace distribution ``P(Z = z) ∝ exp(-|z| / scale)`` (nothing is rounded, so there is none of
the floating-point leakage of textbook samplers, Mironov CCS 2012). Randomness comes from ``os.urandom`` (the
kernel CSPRNG); a different byte source can be injected **for tests only**.

Scales whose numerator or denominator does not fit in 62 bits (scales above 2^62, or below 2^-10 with long
mantissas) are not supported here; :class:`~legion_misp.privacy.mechanisms.SecureNoise` falls back to OpenDP's
sampler for them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from ..errors import LegionError

RandomBytes = Callable[[int], bytes]
_LIMIT = 1 << 62  # bounds and parts of the scale stay below this, so every sum fits in an int64
_INT64_MAX = (1 << 63) - 1


class UnsupportedScale(LegionError, ValueError):
    """The scale's exact rational form does not fit the vectorised sampler (use OpenDP's)."""


def scale_parts(scale: float | Fraction) -> tuple[int, int]:
    """``(t, s)`` with ``scale = t / s`` exactly (lowest terms), as OpenDP reads an f64 scale."""
    value = Fraction(scale)
    if value < 0:
        raise ValueError(f"the scale must not be negative; got {scale}")
    return value.numerator, value.denominator


def supports(scale: float | Fraction) -> bool:
    """True if :class:`ExactDiscreteLaplace` can sample at this scale."""
    try:
        t, s = scale_parts(scale)
    except (ValueError, OverflowError):
        return False
    return t < _LIMIT and s < _LIMIT


class UniformIntegers:
    """Uniform integers below a bound, by rejection over random words from ``random_bytes``."""

    def __init__(self, random_bytes: RandomBytes = os.urandom):
        self.random_bytes = random_bytes

    def words(self, bits: int, size: int) -> np.ndarray:
        """``size`` independent uniform integers in ``[0, 2^bits)`` (int64)."""
        width = 1 if bits <= 8 else 2 if bits <= 16 else 4 if bits <= 32 else 8
        raw = np.frombuffer(self.random_bytes(size * width), dtype=f"<u{width}")
        mask = (1 << bits) - 1
        return (raw & np.array(mask, dtype=raw.dtype)).astype(np.int64)

    def below(self, bound: int, size: int) -> np.ndarray:
        """``size`` independent uniform integers in ``[0, bound)`` (int64); ``1 <= bound < 2^62``."""
        if not 1 <= bound < _LIMIT:
            raise ValueError(f"bound out of range: {bound}")
        if bound == 1:
            return np.zeros(size, dtype=np.int64)
        bits = (bound - 1).bit_length()
        if bound == 1 << bits:
            return self.words(bits, size)
        return _first_accepted(size, bound / (1 << bits), lambda n: _kept(self.words(bits, n), bound))


def _kept(words: np.ndarray, bound: int) -> np.ndarray:
    return words[words < bound]


def _first_accepted(size: int, acceptance: float, draw: Callable[[int], np.ndarray]) -> np.ndarray:
    """The first ``size`` values ``draw`` keeps, drawing a few more than ``size / acceptance`` at a time.

    ``draw(n)`` runs ``n`` independent trials and returns the kept ones in order; each kept value has the target
    distribution whatever the others did, so the first ``size`` kept ones are ``size`` independent draws of it (the
    surplus is discarded unused). ``acceptance`` (the keep probability, from the public scale) only sets how many
    trials are run per round; a short round is followed by another.
    """
    parts: list[np.ndarray] = []
    missing = size
    while missing > 0:
        kept = draw(int(missing / acceptance * 1.1) + 16)[:missing]
        parts.append(kept)
        missing -= kept.size
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class ExactDiscreteLaplace:
    """Exact discrete Laplace noise of one scale (see the module docstring), drawn in vectors.

    Parameters
    ----------
    scale : float or Fraction
        ``P(Z = z) ∝ exp(-|z| / scale)``; a float is read exactly (its binary value).
    random_bytes : callable
        Source of uniform random bytes; ``os.urandom`` (the default) outside tests.
    """

    def __init__(self, scale: float | Fraction, random_bytes: RandomBytes = os.urandom):
        self.t, self.s = scale_parts(scale)
        if not (self.t < _LIMIT and self.s < _LIMIT):
            raise UnsupportedScale(f"scale {scale}: its exact form {self.t}/{self.s} needs more than 62 bits")
        self.uniform = UniformIntegers(random_bytes)
        # keep rates, only to size the rounds (public: they depend on the scale alone, never on the data)
        self._keep_u = -math.expm1(-1.0) / (self.t * -math.expm1(-1.0 / self.t)) if self.t else 1.0
        self._keep_signed = (1.0 + math.exp(-self.s / self.t)) / 2 if self.t else 1.0

    def sample(self, size: int) -> np.ndarray:
        """``size`` independent samples (int64)."""
        out = np.zeros(size, dtype=np.int64)
        if self.t == 0 or size == 0:
            return out
        return _first_accepted(size, self._keep_signed, self._signed)

    def _signed(self, size: int) -> np.ndarray:
        """Signed magnitudes of ``size`` trials, the negative zeros rejected (OpenDP: draw both again)."""
        positive = self.uniform.words(1, size).astype(bool)
        magnitude = self._magnitude(size)
        keep = positive | (magnitude != 0)
        return np.where(positive, magnitude, -magnitude)[keep]

    # ---- CKS Algorithm 2 (OpenDP sample_geometric_exp_fast with x = 1 / scale = s / t) ------------------------

    def _magnitude(self, size: int) -> np.ndarray:
        t, s = self.t, self.s
        u = _first_accepted(size, self._keep_u, self._accepted_u)
        v = self._geometric_exp_slow(size)
        if t * (int(v.max()) + 1) <= _INT64_MAX:
            return (u + t * v) // s
        exact = [min((int(a) + t * int(b)) // s, _INT64_MAX) for a, b in zip(u, v, strict=True)]
        return np.array(exact, dtype=np.int64)  # OpenDP saturates to i64 the same way

    def _accepted_u(self, size: int) -> np.ndarray:
        """``U`` uniform in ``[0, t)`` kept with probability ``exp(-U / t)`` (at least ``1 - 1/e`` on average)."""
        candidate = self.uniform.below(self.t, size)
        return candidate[self._bernoulli_exp(candidate, self.t)]

    def _geometric_exp_slow(self, size: int) -> np.ndarray:
        """Number of Bernoulli(exp(-1)) successes before the first failure, per lane."""
        count = np.zeros(size, dtype=np.int64)
        lanes = np.arange(size)
        while lanes.size:
            success = self._bernoulli_exp(np.ones(lanes.size, dtype=np.int64), 1)
            lanes = lanes[success]
            count[lanes] += 1
        return count

    def _bernoulli_exp(self, numerators: np.ndarray, denominator: int) -> np.ndarray:
        """Per lane, True with probability ``exp(-numerator / denominator)`` (every ratio in [0, 1]).

        CKS Algorithm 1: ``k = 1``; while ``Bernoulli(γ / k)`` succeeds, ``k += 1``; return ``k`` odd. All lanes
        still in the loop share ``k``, so ``Bernoulli(γ / k)`` is drawn as ``Bernoulli(γ)`` and
        ``Bernoulli(1 / k)`` (independent: their product has probability exactly ``γ / k``).
        """
        result = np.empty(numerators.size, dtype=bool)
        lanes = np.arange(numerators.size)
        k = 1
        while lanes.size:
            success = self.uniform.below(denominator, lanes.size) < numerators
            if k > 1:
                success &= self.uniform.below(k, lanes.size) == 0
            result[lanes[~success]] = bool(k & 1)
            lanes, numerators = lanes[success], numerators[success]
            k += 1
        return result
