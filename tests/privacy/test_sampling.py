"""The vectorised exact discrete Laplace sampler (:mod:`legion_misp.privacy.sampling`): exact uniform integers,
exact Bernoulli(exp(-γ)), the discrete Laplace pmf at integer, fractional, small and wide scales (fixed-seed byte
source), the same distribution as OpenDP's sampler, and the OpenDP fallback for scales too wide for it."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as scipy_stats

from legion_misp.privacy.mechanisms import SecureNoise, opendp_discrete_laplace
from legion_misp.privacy.sampling import ExactDiscreteLaplace, UniformIntegers, UnsupportedScale, scale_parts, supports
from tests.privacy.test_mechanisms import chi_square_pvalue


def seeded_bytes(seed: int):
    """A reproducible byte source (tests only)."""
    generator = np.random.default_rng(seed)
    return generator.bytes


def counting_bytes():
    """Bytes 0, 1, ..., 255, 0, 1, ... : every byte value equally often, in order."""
    state = {"next": 0}

    def read(n: int) -> bytes:
        start = state["next"]
        state["next"] = (start + n) % 256
        return bytes((start + i) % 256 for i in range(n))
    return read


def test_uniform_below_rejects_instead_of_folding_so_every_value_is_exactly_equally_likely() -> None:
    uniform = UniformIntegers(counting_bytes())
    values = uniform.below(6, 6 * 64)  # 3-bit words 0..7: 6 and 7 are redrawn, never folded onto 0 and 1
    assert values.min() == 0 and values.max() == 5
    counts = np.bincount(values, minlength=6)
    assert counts.tolist() == [64] * 6
    assert uniform.below(1, 5).tolist() == [0] * 5
    wide = UniformIntegers(seeded_bytes(1)).below((1 << 61) + 1, 20_000)
    assert wide.min() >= 0 and wide.max() <= 1 << 61
    assert abs(wide.mean() / (1 << 61) - 0.5) < 0.02
    with pytest.raises(ValueError):
        uniform.below(1 << 62, 1)


@pytest.mark.parametrize("numerator, denominator", [(0, 6), (1, 6), (5, 6), (1, 1), (3, 7)])
def test_bernoulli_exp_has_probability_exp_minus_gamma(numerator: int, denominator: int) -> None:
    sampler = ExactDiscreteLaplace(6.0, random_bytes=seeded_bytes(numerator * 10 + denominator))
    draws = 100_000
    hits = int(sampler._bernoulli_exp(np.full(draws, numerator, dtype=np.int64), denominator).sum())
    expected = math.exp(-numerator / denominator)
    if numerator == 0:
        assert hits == draws
    else:
        assert scipy_stats.binomtest(hits, draws, expected).pvalue > 1e-4


@pytest.mark.parametrize("scale", [6.0, 1 / (1 / 6), 1 / 0.3, 0.5, 2.0, 120 / 7, 14_400.0])
def test_samples_follow_the_exact_discrete_laplace_pmf(scale: float) -> None:
    """1 / (1 / 6) = 6.000000000000001 is the sighting tree's node scale (ε 1 over 6 levels)."""
    samples = ExactDiscreteLaplace(scale, random_bytes=seeded_bytes(int(scale * 1000))).sample(100_000)
    assert samples.dtype == np.int64
    assert chi_square_pvalue(samples, scale) > 1e-3
    alpha = math.exp(-1.0 / scale)
    variance = 2 * alpha / (1 - alpha) ** 2
    assert samples.var() == pytest.approx(variance, rel=0.05)
    assert abs(samples.mean()) < 5 * math.sqrt(variance / len(samples))


def test_any_batch_size_gets_exactly_that_many_independent_samples() -> None:
    sampler = ExactDiscreteLaplace(1 / (1 / 6), random_bytes=seeded_bytes(11))
    batches = [sampler.sample(n) for n in (1, 2, 3, 17, 100, 511, 4096) for _ in range(40)]
    assert [len(b) for b in batches] == [n for n in (1, 2, 3, 17, 100, 511, 4096) for _ in range(40)]
    samples = np.concatenate(batches)
    assert chi_square_pvalue(samples, 6.0) > 1e-3
    assert abs(np.corrcoef(samples[:-1], samples[1:])[0, 1]) < 0.02  # neighbours independent


def test_negative_zero_is_rejected_so_zero_has_its_exact_mass() -> None:
    scale = 0.5  # P(0) = (1 - α) / (1 + α) ≈ 0.76; keeping a negative zero would put (1 - α) there instead
    samples = ExactDiscreteLaplace(scale, random_bytes=seeded_bytes(3)).sample(200_000)
    alpha = math.exp(-1.0 / scale)
    zero = int(np.sum(samples == 0))
    assert scipy_stats.binomtest(zero, len(samples), (1 - alpha) / (1 + alpha)).pvalue > 1e-4
    assert int(np.sum(samples > 0)) == pytest.approx(int(np.sum(samples < 0)), rel=0.05)


@pytest.mark.parametrize("scale", [6.0, 1 / 0.3])
def test_same_distribution_as_opendps_sampler(scale: float) -> None:
    draws = 40_000
    ours = ExactDiscreteLaplace(scale, random_bytes=seeded_bytes(7)).sample(draws)
    theirs = np.asarray(opendp_discrete_laplace(scale, vector=True)(np.zeros(draws, dtype=np.int64)))
    edge = int(3 * scale)
    bins = np.arange(-edge, edge + 2)

    def histogram(x: np.ndarray) -> np.ndarray:
        return np.histogram(np.clip(x, -edge, edge + 1), bins=np.append(bins, edge + 2) - 0.5)[0]
    table = np.vstack([histogram(ours), histogram(theirs)])
    table = table[:, table.sum(axis=0) > 0]
    # OpenDP's sampler cannot be seeded: a false alarm has probability < 1e-6
    assert scipy_stats.chi2_contingency(table).pvalue > 1e-6


def test_scale_is_read_exactly_as_opendp_reads_an_f64() -> None:
    assert scale_parts(6.0) == (6, 1)
    assert scale_parts(1 / 0.3) == (Fraction(1 / 0.3).numerator, 2 ** 51)
    assert scale_parts(0.0) == (0, 1)
    assert ExactDiscreteLaplace(0.0).sample(10).tolist() == [0] * 10
    with pytest.raises(ValueError):
        ExactDiscreteLaplace(-1.0)


def test_very_wide_values_saturate_to_int64_like_opendp() -> None:
    scale = 2.0 ** 60  # U + t V no longer fits an int64 once V >= 8: the exact Python-integer path is taken
    samples = ExactDiscreteLaplace(scale, random_bytes=seeded_bytes(5)).sample(30_000)
    ratio = np.abs(samples.astype(np.float64)) / scale
    assert np.abs(samples).max() == 2 ** 63 - 1  # |Z| >= 8 scale happens (probability e^-8 each) and saturates
    assert np.mean(ratio > 1.0) == pytest.approx(math.exp(-1.0), abs=0.02)  # P(|Z| > scale) at a wide scale


def test_scales_too_wide_for_the_vectorised_sampler_use_opendp() -> None:
    wide = 2.0 ** 63
    assert not supports(wide) and supports(6.0)
    with pytest.raises(UnsupportedScale):
        ExactDiscreteLaplace(wide)
    samples = SecureNoise().discrete_laplace(wide, 200)
    assert samples.dtype == np.int64 and len(np.unique(samples)) > 100


def test_secure_noise_pools_per_scale_and_never_reuses_a_sample() -> None:
    noise = SecureNoise(chunk=2048)
    first = noise.discrete_laplace(1e6, 300)
    second = noise.discrete_laplace(1e6, 3000)
    assert len(first) == 300 and len(second) == 3000
    assert len(np.unique(np.concatenate([first, second]))) > 3250  # scale 1e6: repeats are rare, reuse would not be
    assert chi_square_pvalue(noise.discrete_laplace(6.0, 20_000), 6.0) > 1e-6  # unseeded: false alarm < 1e-6
