"""Federated training: the member's local DP-SGD update, its privacy plan and ledger debits, and an in-process
simulation loop over the same code the Flower deployment uses.

Privacy
-------
* Unit: one training message of one member (record-level DP per organisation; add/remove one record).
* Each member calibrates its own noise multiplier *before* training so that all ``rounds × local steps``
  DP-SGD steps together stay within the target (ε, δ) (:func:`plan_member`). Members hold disjoint data, so
  the federation's ε is the largest member ε (parallel composition).
* Sensitivity: the clip norm ``C`` of each per-example gradient.
* Accountant: ``dp-accounting`` PLD (default) or RDP; ``prv-accountant`` cross-checks in the tests.
* Everything after a member's noisy steps — its update, the aggregation (robust or not, honest or malicious
  server), the global model — is post-processing, so the guarantee holds against a malicious aggregator and
  other members.
* Not covered: properties of an organisation's data set as a whole (its size, spam share), and hyper-parameter
  / threshold choices made on validation data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .accounting import ACCOUNTANTS, DPSGDAccounting, calibrate_noise_multiplier
from .aggregators import Aggregator, make_aggregator
from .byzantine import Behaviour, make_behaviour
from .data import Dataset, Splits, partition_iid, partition_label_skew
from .dpsgd import dp_sgd, expit, logistic_loss
from .metrics import binary_metrics, choose_threshold, membership_advantage

if TYPE_CHECKING:  # the ledger lives in legion_misp.privacy; imported only where it is used
    from legion_misp.privacy.ledger import Ledger

LEDGER_SCOPE = "learning"
ROOT_SET_SIZE = 100  # validation rows FLTrust's server trains on
PARTITIONS = ("iid", "label-skew")


@dataclass(frozen=True)
class TrainingConfig:
    """Settings shared by every member of a federated run.

    Attributes
    ----------
    rounds : int
        Federated rounds.
    local_epochs : int
        Local passes per round; local steps per round = ``local_epochs · ceil(n_k / batch_size)``.
    batch_size : int
        Expected DP-SGD batch size ``b`` (sampling rate ``q = b / n_k``).
    learning_rate, momentum, l2 : float
        Local optimiser (momentum restarts every round).
    clip_norm : float
        Per-example gradient bound ``C`` (the sensitivity); used only with DP.
    epsilon : float or None
        Target ε per member over *all* rounds; ``None`` trains without DP (no clipping, no noise).
    delta : float
        Target δ per member.
    accountant : {"pld", "rdp"}
    size_bound : int
        Declared **public** bound on a member's number of training records. The DP-SGD schedule (sampling rate
        ``q = batch_size / size_bound``, steps, noise multiplier) and the update's denominator are derived from it,
        never from the exact private size, and the exact size is never sent (updates carry the bound).
    """

    rounds: int = 3
    local_epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 2.0
    momentum: float = 0.9
    clip_norm: float = 0.5
    l2: float = 1e-4
    epsilon: float | None = 1.64
    delta: float = 1e-5
    accountant: str = "pld"
    size_bound: int = 1024

    def __post_init__(self) -> None:
        checks = {
            "rounds": self.rounds >= 1,
            "local_epochs": self.local_epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "learning_rate": self.learning_rate > 0,
            "momentum": 0 <= self.momentum < 1,
            "clip_norm": self.clip_norm > 0,
            "l2": self.l2 >= 0,
            "epsilon": self.epsilon is None or self.epsilon > 0,
            "delta": 0 < self.delta < 1,
            "accountant": self.accountant in ACCOUNTANTS,
            "size_bound": self.size_bound >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"TrainingConfig.{name} is out of range: {getattr(self, name)!r}")

    @property
    def private(self) -> bool:
        """Whether DP is on."""
        return self.epsilon is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``TypeError``."""
        return cls(**dict(values))


LEARNING_DELTA_BUDGET = 1e-4  # most δ a member's learning ledger accepts per window (a run spends its δ once)
SECURE_NOISE_DESCRIPTION = "numpy PCG64 seeded from the OS CSPRNG (secrets.randbits(128))"


def default_size_bound(splits: Splits, members: int) -> int:
    """The declared public size bound when none is given: an even share of the public training split (never a
    member's exact size)."""
    return -(-len(splits.train.y) // members)


def secure_training_rng(test_seed: int | None = None) -> np.random.Generator:
    """The generator of DP-SGD sampling and noise: numpy PCG64 seeded with 128 bits from the OS CSPRNG, or (tests
    only, NOT private) a fixed seed."""
    import secrets

    return np.random.default_rng(secrets.randbits(128) if test_seed is None else [test_seed, 1])


def noise_provenance(test_seed: int | None) -> dict[str, Any]:
    """What a model file says about its training noise: private (CSPRNG-seeded) or a fixed test seed."""
    return {"noise": SECURE_NOISE_DESCRIPTION if test_seed is None
            else f"FIXED TEST SEED {test_seed}: NOT PRIVATE (tests only)", "noise_private": test_seed is None}


def member_ledgers(folder: str | Path, budget_epsilon: float) -> Callable[[str], Ledger]:
    """One SQLite learning ledger per member in ``folder`` (ε ``budget_epsilon``, δ :data:`LEARNING_DELTA_BUDGET`),
    for :func:`build_federation`'s ``ledger_for``."""
    from legion_misp.privacy.ledger import Ledger

    return lambda member: Ledger(Path(folder) / f"{member}.sqlite", budget_epsilon=budget_epsilon,
                                 budget_delta=LEARNING_DELTA_BUDGET)


@dataclass(frozen=True)
class MemberPlan:
    """One member's DP-SGD schedule and privacy cost, fixed before training.

    Attributes
    ----------
    size_bound : int
        The declared public size bound the schedule is built on (not the member's exact size).
    sampling_rate : float
        ``q = min(1, batch_size / size_bound)``.
    steps_per_round : int
    noise_multiplier : float
        ``z`` (0.0 without DP).
    rounds : int
    delta : float
    accountant : str
    epsilons : tuple of float
        ε after rounds 1, 2, …, ``rounds`` (empty without DP), computed by the accountant at planning time.
    """

    size_bound: int
    sampling_rate: float
    steps_per_round: int
    noise_multiplier: float
    rounds: int
    delta: float
    accountant: str
    epsilons: tuple[float, ...] = ()

    def epsilon_after(self, rounds_done: int) -> float | None:
        """ε spent after ``rounds_done`` rounds (``None`` without DP, 0.0 before the first round)."""
        if self.noise_multiplier <= 0:
            return None
        if rounds_done <= 0:
            return 0.0
        return self.epsilons[min(rounds_done, self.rounds) - 1]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        values = asdict(self)
        values["epsilons"] = list(self.epsilons)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MemberPlan:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**values, "epsilons": tuple(values.get("epsilons", ()))})


def plan_member(n_examples: int, config: TrainingConfig) -> MemberPlan:
    """Calibrate a member's noise multiplier for ``config.epsilon`` over all rounds × local steps.

    Runs before training; also computes the ε after each round (for ledger debits and reports). The schedule
    depends only on public values (``config.size_bound``, batch size, epochs, rounds): ``n_examples`` is only
    checked to be positive.

    Raises
    ------
    ValueError
        If the member has no examples or the target ε is unreachable.
    """
    if n_examples < 1:
        raise ValueError("a member needs at least one training example")
    bound = config.size_bound
    rate = min(1.0, config.batch_size / bound)
    steps = config.local_epochs * math.ceil(bound / config.batch_size)
    if config.epsilon is None:
        return MemberPlan(bound, rate, steps, 0.0, config.rounds, config.delta, config.accountant)
    accountant = config.accountant  # validated by TrainingConfig
    z = calibrate_noise_multiplier(config.epsilon, config.delta, rate, steps * config.rounds, accountant)  # type: ignore[arg-type]
    epsilons = tuple(
        DPSGDAccounting(z, rate, r * steps).epsilon(config.delta, accountant)  # type: ignore[arg-type]
        for r in range(1, config.rounds + 1)
    )
    return MemberPlan(bound, rate, steps, z, config.rounds, config.delta, accountant, epsilons)


def local_update(
    global_weights: np.ndarray,
    Xa: np.ndarray,
    y: np.ndarray,
    plan: MemberPlan,
    config: TrainingConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """One round of local DP-SGD from the global model; returns the update ``w_local − w_global``.

    ``Xa`` holds the member's preprocessed rows with the bias input appended; ``y`` labels in {0, 1}.
    """
    private = plan.noise_multiplier > 0
    w = dp_sgd(
        global_weights,
        Xa,
        np.asarray(y, dtype=float),
        steps=plan.steps_per_round,
        sampling_rate=plan.sampling_rate,
        noise_multiplier=plan.noise_multiplier,
        clip_norm=config.clip_norm if private else None,
        learning_rate=config.learning_rate,
        momentum=config.momentum,
        l2=config.l2,
        rng=rng,
        expected_batch=plan.sampling_rate * plan.size_bound,
    )
    return w - global_weights


def check_budget(ledger: Ledger, plan: MemberPlan) -> None:
    """Refuse (``BudgetExceeded``) to start a run whose whole (ε, δ) does not fit the member's ledger."""
    total = plan.epsilon_after(plan.rounds)
    if total is not None:
        ledger.check(total, plan.delta)


def debit_round(ledger: Ledger, plan: MemberPlan, member: str, round_number: int) -> int | None:
    """Debit the ε this round adds (ε after r rounds − ε after r−1 rounds) before the update leaves the
    member.

    The increments telescope, so the ledger's sum equals the composed ε of the rounds run so far; δ is debited
    once, with the first round. Returns the ledger entry id (``None`` without DP). Raises ``BudgetExceeded``.
    """
    after = plan.epsilon_after(round_number)
    before = plan.epsilon_after(round_number - 1)
    if after is None or before is None:
        return None
    what = (
        f"fl-training {member} round={round_number}/{plan.rounds} z={plan.noise_multiplier:.4g} "
        f"q={plan.sampling_rate:.4g} steps={plan.steps_per_round} accountant={plan.accountant}"
    )
    return ledger.spend(
        epsilon=max(0.0, after - before),
        delta=plan.delta if round_number == 1 else 0.0,
        what=what,
        scope=LEDGER_SCOPE,
    )


@dataclass
class Participant:
    """One organisation taking part in a simulated federated run: its data (preprocessed, bias appended), plan,
    optional Byzantine behaviour and optional privacy ledger."""

    name: str
    Xa: np.ndarray
    y: np.ndarray
    plan: MemberPlan
    behaviour: Behaviour | None = None
    ledger: Ledger | None = None

    def honest_update(
        self, global_weights: np.ndarray, config: TrainingConfig, round_number: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Train one round (on poisoned labels for a label-flipping member) and debit the ledger."""
        labels = self.behaviour.poison_labels(self.y) if self.behaviour else self.y
        update = local_update(global_weights, self.Xa, labels, self.plan, config, rng)
        if self.ledger is not None:
            debit_round(self.ledger, self.plan, self.name, round_number)
        return update


@dataclass(frozen=True)
class RoundResult:
    """Test metrics of the global model after one round (threshold chosen on validation data)."""

    round: int
    threshold: float
    metrics: dict[str, Any]
    epsilon: float | None
    weights: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))


@dataclass
class SimulationResult:
    """Final weights (bias last), threshold, per-round results and member plans."""

    weights: np.ndarray
    threshold: float
    rounds: list[RoundResult] = field(default_factory=list)
    plans: list[MemberPlan] = field(default_factory=list)


def evaluate(weights: np.ndarray, validation: Dataset, test: Dataset) -> tuple[float, dict[str, Any]]:
    """Choose the threshold on ``validation`` (rows with bias) and return it with the metrics on ``test``."""

    threshold = choose_threshold(validation.y, expit(validation.X @ weights))
    return threshold, binary_metrics(test.y, expit(test.X @ weights), threshold)


def attack_advantage(
    weights: np.ndarray, members: Sequence[Dataset], test: Dataset, rng: np.random.Generator
) -> float:
    """Loss-threshold membership-inference advantage: training rows of all members vs equally many test
    rows."""
    train_X = np.vstack([m.X for m in members])
    train_y = np.concatenate([m.y for m in members])
    k = min(len(train_y), len(test.y))
    pick_in = rng.choice(len(train_y), size=k, replace=False)
    pick_out = rng.choice(len(test.y), size=k, replace=False)
    return membership_advantage(
        logistic_loss(weights, train_X[pick_in], train_y[pick_in]),
        logistic_loss(weights, test.X[pick_out], test.y[pick_out]),
    )


def simulate(
    members: Sequence[Participant],
    config: TrainingConfig,
    aggregator: Aggregator,
    *,
    validation: Dataset,
    test: Dataset,
    rng: np.random.Generator,
    on_round: Callable[[RoundResult], None] | None = None,
) -> SimulationResult:
    """Run ``config.rounds`` rounds in-process: local updates, Byzantine replacements, aggregation,
    evaluation.

    ``validation`` and ``test`` hold preprocessed rows with the bias input appended. Members with a behaviour
    that replaces updates see the honest updates of the round (omniscient attacker).
    """
    n_params = members[0].Xa.shape[1]
    weights = np.zeros(n_params)
    result = SimulationResult(weights, 0.5, plans=[m.plan for m in members])
    for round_number in range(1, config.rounds + 1):
        updates = np.stack([m.honest_update(weights, config, round_number, rng) for m in members])
        updates = _apply_behaviours(members, updates, rng)
        sizes = np.array([m.plan.size_bound for m in members], dtype=float)  # public bounds, not exact sizes
        weights = weights + aggregator.aggregate(updates, sizes, global_weights=weights)
        threshold, metrics = evaluate(weights, validation, test)
        epsilons = [m.plan.epsilon_after(round_number) for m in members]
        spent = None if any(e is None for e in epsilons) else max(epsilons)  # type: ignore[type-var]
        round_result = RoundResult(round_number, threshold, metrics, spent, weights.copy())
        result.rounds.append(round_result)
        if on_round is not None:
            on_round(round_result)
    result.weights, result.threshold = weights, result.rounds[-1].threshold
    return result


def _apply_behaviours(members: Sequence[Participant], updates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    attackers = [i for i, m in enumerate(members) if m.behaviour is not None]
    if not attackers:
        return updates
    honest = updates[[i for i in range(len(members)) if i not in attackers]]
    out = updates.copy()
    for i in attackers:
        out[i] = members[i].behaviour.poison_update(updates[i], honest, rng)  # type: ignore[union-attr]
    return out


@dataclass
class Federation:
    """A simulated federation ready to train: its participants, each one's training part, and the aggregator."""

    participants: list[Participant]
    parts: list[Dataset]
    aggregator: Aggregator

    def train(self, config: TrainingConfig, splits: Splits, *, rng: np.random.Generator,
              on_round: Callable[[RoundResult], None] | None = None) -> SimulationResult:
        """:func:`simulate` this federation (threshold on ``splits.validation``, metrics on ``splits.test``)."""
        return simulate(self.participants, config, self.aggregator, validation=splits.validation, test=splits.test,
                        rng=rng, on_round=on_round)


def build_federation(splits: Splits, config: TrainingConfig, *, members: int, rng: np.random.Generator,
                     partition: str = "iid", label_skew_spread: float | None = None,
                     aggregator: str | Aggregator = "fedavg", behaviour: str | None = None, byzantine: int = 0,
                     ledger_for: Callable[[str], Ledger | None] | None = None) -> Federation:
    """Assemble a simulated federation: split ``splits.train`` among ``members`` (``partition`` "iid" or
    "label-skew", drawn from ``rng``), plan each member's DP-SGD for ``config``, give the first ``byzantine``
    members the ``behaviour``, attach each member's ledger (``ledger_for(name)``; the whole run's cost is checked
    against it before anything trains: ``BudgetExceeded``) and build the aggregator by name (its root set: the first
    validation rows).
    """
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}; got {partition!r}")
    if partition == "iid":
        parts = partition_iid(splits.train, members, rng)
    elif label_skew_spread is None:
        parts = partition_label_skew(splits.train, members, rng)
    else:
        parts = partition_label_skew(splits.train, members, rng, spread=label_skew_spread)
    participants = []
    for k, part in enumerate(parts, start=1):
        name = f"member-{k}"
        plan = plan_member(len(part), config)
        ledger = ledger_for(name) if ledger_for is not None else None
        if ledger is not None:
            check_budget(ledger, plan)
        bad = make_behaviour(behaviour, members=members, byzantine=byzantine) if behaviour and k <= byzantine \
            else None
        participants.append(Participant(name, part.X, part.y, plan, bad, ledger))
    if isinstance(aggregator, str):
        root = splits.validation.subset(np.arange(min(ROOT_SET_SIZE, len(splits.validation))))
        aggregator = make_aggregator(aggregator, byzantine=max(1, byzantine), root=(root.X, root.y))
    return Federation(participants, parts, aggregator)
