"""Privacy accounting for DP-SGD: Poisson-subsampled Gaussian mechanism composed over every step of every
round.

Mechanism: each step samples every record of a member independently with probability ``q`` (Poisson sampling),
clips each per-example gradient to L2 norm ``C`` and adds ``N(0, (z·C)² I)`` to the sum. One training run of
one member is ``T = rounds × local steps per round`` such steps; the accountant composes all ``T`` of them.

* Neighbouring relation: add or remove one training record (one message) of one member
  (``ADD_OR_REMOVE_ONE``).
* Primary accountant: ``dp-accounting`` PLD (privacy-loss distributions, pessimistic discretisation, interval
  1e-3) or RDP (integer and fractional orders).
* Cross-check: Microsoft's ``prv-accountant`` (PRV), an independent implementation.

Calibration happens *before* training: :func:`calibrate_noise_multiplier` returns the smallest ``z`` (within a
tolerance, always on the safe side) whose ε over all ``T`` steps is at most the target.

Results are memoised (pure functions of their arguments).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Accountant = Literal["pld", "rdp"]
ACCOUNTANTS: tuple[str, ...] = ("pld", "rdp")
PLD_DISCRETIZATION = 1e-3
RDP_ORDERS: tuple[float, ...] = (
    *[1 + x / 10.0 for x in range(1, 10)],
    *range(2, 129),
    160.0,
    192.0,
    256.0,
    512.0,
)
_Z_MIN, _Z_MAX = 0.3, 1000.0


@dataclass(frozen=True)
class DPSGDAccounting:
    """The parameters that determine DP-SGD's privacy loss for one member.

    Attributes
    ----------
    noise_multiplier : float
        ``z``: the noise standard deviation divided by the clip norm.
    sampling_rate : float
        ``q``: probability that a record is in a step's batch.
    steps : int
        ``T``: number of noisy steps composed.
    """

    noise_multiplier: float
    sampling_rate: float
    steps: int

    def epsilon(self, delta: float, accountant: Accountant = "pld") -> float:
        """ε at ``delta`` for all ``steps`` steps."""
        return compute_epsilon(self.noise_multiplier, self.sampling_rate, self.steps, delta, accountant)


def _rdp_epsilon(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    import dp_accounting as dpa  # imported when used: it costs seconds, and Flower spawns a process per round

    step = dpa.GaussianDpEvent(noise_multiplier)
    if sampling_rate < 1.0:
        step = dpa.PoissonSampledDpEvent(sampling_rate, step)
    account = dpa.rdp.RdpAccountant(list(RDP_ORDERS))
    account.compose(dpa.SelfComposedDpEvent(step, steps))
    return float(account.get_epsilon(delta))


def _pld_epsilon(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    import dp_accounting as dpa
    from dp_accounting.pld import privacy_loss_distribution as pld_lib

    # dp-accounting's PLD library directly (what PLDAccountant does for this event), pessimistic
    # discretisation, so the value is an upper bound on the true ε of the discretised mechanism.
    single = pld_lib.from_gaussian_mechanism(
        standard_deviation=noise_multiplier,
        sensitivity=1.0,
        pessimistic_estimate=True,
        value_discretization_interval=PLD_DISCRETIZATION,
        sampling_prob=sampling_rate,
        neighboring_relation=dpa.NeighboringRelation.ADD_OR_REMOVE_ONE,
    )
    return float(single.self_compose(steps).get_epsilon_for_delta(delta))


def _check(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> None:
    if not 0.0 < sampling_rate <= 1.0:
        raise ValueError(f"sampling_rate must be in (0, 1], got {sampling_rate}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if noise_multiplier <= 0.0:
        raise ValueError(f"noise_multiplier must be > 0, got {noise_multiplier}")


@functools.lru_cache(maxsize=4096)
def compute_epsilon(
    noise_multiplier: float, sampling_rate: float, steps: int, delta: float, accountant: Accountant = "pld"
) -> float:
    """ε of ``steps`` compositions of the Poisson-subsampled Gaussian mechanism at ``delta``.

    Parameters
    ----------
    noise_multiplier : float
        ``z`` (> 0).
    sampling_rate : float
        ``q`` in (0, 1]; 1 means the full data set in every step (no amplification).
    steps : int
        Number of steps ``T`` (≥ 1).
    delta : float
        Target δ in (0, 1).
    accountant : {"pld", "rdp"}, default="pld"
        ``dp-accounting`` accountant: privacy-loss distributions or Rényi DP.
    """
    _check(noise_multiplier, sampling_rate, steps, delta)
    if accountant == "pld":
        return _pld_epsilon(noise_multiplier, sampling_rate, steps, delta)
    if accountant == "rdp":
        with _quiet_absl():
            return _rdp_epsilon(noise_multiplier, sampling_rate, steps, delta)
    raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")


@functools.lru_cache(maxsize=1024)
def calibrate_noise_multiplier(
    target_epsilon: float, delta: float, sampling_rate: float, steps: int, accountant: Accountant = "pld"
) -> float:
    """Smallest noise multiplier ``z`` (to a relative tolerance of 1e-3, rounded up) with ε ≤
    ``target_epsilon``.

    ε is monotone decreasing in ``z``; the root of ε(z) = target is bracketed by doubling/halving from z = 1
    and found with Brent's method; the returned value is checked to meet the target (never the unsafe side).
    If even ``z = 0.3`` meets the target, 0.3 is returned (more noise than needed, still within budget).

    Raises
    ------
    ValueError
        If the target needs ``z`` above 1000 or a parameter is out of range.
    """
    if target_epsilon <= 0:
        raise ValueError(f"target_epsilon must be > 0, got {target_epsilon}")
    _check(1.0, sampling_rate, steps, delta)

    def gap(z: float) -> float:
        return compute_epsilon(z, sampling_rate, steps, delta, accountant) - target_epsilon

    low, high = 1.0, 1.0
    while gap(high) > 0:
        low, high = high, high * 2.0
        if high > _Z_MAX:
            raise ValueError(f"ε={target_epsilon} at δ={delta} needs a noise multiplier above {_Z_MAX}")
    if low == high:
        while low > _Z_MIN and gap(low) <= 0:
            low, high = max(_Z_MIN, low / 2.0), low
        if gap(low) <= 0:
            return low
    from scipy import optimize  # learning extra, slow to import: only when calibrating

    z = float(optimize.brentq(gap, low, high, xtol=1e-3 * low, rtol=1e-6))
    while gap(z) > 0:  # brentq's answer lies within xtol of the root, possibly on the unsafe side
        z *= 1.0005
    return z


def prv_epsilon(
    noise_multiplier: float, sampling_rate: float, steps: int, delta: float, *, eps_error: float = 0.01
) -> tuple[float, float, float]:
    """ε (lower bound, estimate, upper bound) from Microsoft's ``prv-accountant``, for cross-checking."""
    _check(noise_multiplier, sampling_rate, steps, delta)
    from prv_accountant import PRVAccountant  # learning extra: only for the cross-check
    from prv_accountant.privacy_random_variables import PoissonSubsampledGaussianMechanism

    prv = PoissonSubsampledGaussianMechanism(
        noise_multiplier=noise_multiplier, sampling_probability=sampling_rate
    )
    account = PRVAccountant(
        prvs=prv, max_self_compositions=steps, eps_error=eps_error, delta_error=delta / 1000
    )
    low, estimate, high = account.compute_epsilon(delta=delta, num_self_compositions=steps)
    return float(low), float(estimate), float(high)


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Silence dp-accounting's absl convergence warnings for fractional RDP orders."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
